// The control socket's request handler: JSON in, Controller call, JSON out.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "control/controller.h"

namespace inception {

// Never throws: every failure becomes {"ok": false, "error": "..."}.
nlohmann::json handle_request(Controller& controller, const nlohmann::json& request) noexcept;

// The control socket's handler: one request line (without its newline) in,
// one response line (without its newline) out.
std::string handle_request_line(Controller& controller, const std::string& line);

}  // namespace inception
