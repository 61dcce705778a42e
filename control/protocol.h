// The control protocol between inceptionctl and inceptiond.
//
// One request per connection on a unix stream socket, one JSON document per
// line each way:
//   request:  {"version": 1, "command": "port.add", "args": {...}}
//   response: {"ok": true, "result": ...}  or  {"ok": false, "error": "..."}
// The JSON forms of the config structs below are shared by both sides, so
// `port add` on the command line and [[port]] in the TOML file carry the
// same fields.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "control/config.h"

namespace inception {

inline constexpr int kProtocolVersion = 1;

void to_json(nlohmann::json& j, const NetworkConfig& n);
void from_json(const nlohmann::json& j, NetworkConfig& n);
void to_json(nlohmann::json& j, const PortConfig& p);
void from_json(const nlohmann::json& j, PortConfig& p);

nlohmann::json make_request(const std::string& command, nlohmann::json args = nlohmann::json::object());
nlohmann::json make_ok(nlohmann::json result = nullptr);
nlohmann::json make_error(const std::string& message);

// Sends one request to the daemon at `socket_path` and returns its response.
// Throws std::runtime_error when the daemon cannot be reached.
nlohmann::json call_daemon(const std::string& socket_path, const nlohmann::json& request, int timeout_s = 30);

}  // namespace inception
