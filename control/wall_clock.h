// Wall-clock time for what operators read (refusal and resync times in
// `libvirt status`, gateway takeover times): not for intervals, which use
// steady clocks.
#pragma once

#include <chrono>
#include <cstdint>

namespace inception {

// Milliseconds since the Unix epoch.
inline int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace inception
