// The control socket's request handler: JSON in, Controller call, JSON out.
#pragma once

#include <nlohmann/json.hpp>

#include "control/controller.h"

namespace inception {

// Never throws: every failure becomes {"ok": false, "error": "..."}.
nlohmann::json handle_request(Controller& controller, const nlohmann::json& request) noexcept;

}  // namespace inception
