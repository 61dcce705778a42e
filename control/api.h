// The control socket's request handler: JSON in, Controller call, JSON out.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "control/controller.h"

namespace inception {

// Commands of a module that keeps its own state beside the controller (the
// libvirt module's "libvirt.status"): name -> handler of the request's args.
// A handler throws ControlError or RequestError for a request it refuses.
using ModuleCommands = std::map<std::string, std::function<nlohmann::json(const nlohmann::json& args)>>;

// Never throws: every failure becomes {"ok": false, "error": "..."}.
nlohmann::json handle_request(Controller& controller, const nlohmann::json& request,
                              const ModuleCommands* modules = nullptr) noexcept;

// One request line from the control socket to one reply line (without the
// newline). Never throws, whatever the bytes: text that is not JSON, or not
// UTF-8, gets an error reply like any other bad request.
std::string handle_request_line(Controller& controller, std::string_view line,
                                const ModuleCommands* modules = nullptr) noexcept;

}  // namespace inception
