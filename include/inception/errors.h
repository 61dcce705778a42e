// errno as text, safe from any thread (std::strerror is not).
#pragma once

#include <string>
#include <system_error>

namespace inception {

inline std::string errno_text(int err) {
  return std::generic_category().message(err);
}

}  // namespace inception
