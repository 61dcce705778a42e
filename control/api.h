// The control socket's request handler: JSON in, Controller call, JSON out.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "control/controller.h"

namespace inception {

// Never throws: every failure becomes {"ok": false, "error": "..."}.
nlohmann::json handle_request(Controller& controller, const nlohmann::json& request) noexcept;

// One request line from the control socket to one reply line (without the
// newline). Never throws, whatever the bytes: text that is not JSON, or not
// UTF-8, gets an error reply like any other bad request.
std::string handle_request_line(Controller& controller, std::string_view line) noexcept;

}  // namespace inception
