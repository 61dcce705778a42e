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

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "control/config.h"

namespace inception {

inline constexpr int kProtocolVersion = 1;

void to_json(nlohmann::json& j, const NetworkConfig& n);
void from_json(const nlohmann::json& j, NetworkConfig& n);
void to_json(nlohmann::json& j, const PortConfig& p);
void from_json(const nlohmann::json& j, PortConfig& p);

// Reads `j[key]` as a T: a JSON integer within T's range. Anything else
// (a float, an integer out of range) throws std::invalid_argument naming
// `context` and the key, where a plain get<T>() would truncate, wrap, or,
// for a float out of range, convert with undefined behaviour.
template <typename T>
T get_integer(const nlohmann::json& j, const char* key, const std::string& context) {
  const nlohmann::json& value = j.at(key);
  constexpr auto kMin = std::numeric_limits<T>::min();
  constexpr auto kMax = std::numeric_limits<T>::max();
  if (value.is_number_unsigned()) {
    if (value.get<uint64_t>() <= kMax) return static_cast<T>(value.get<uint64_t>());
  } else if (value.is_number_integer()) {
    const int64_t v = value.get<int64_t>();
    if (v >= 0 ? static_cast<uint64_t>(v) <= kMax : std::is_signed_v<T> && v >= static_cast<int64_t>(kMin))
      return static_cast<T>(v);
  }
  throw std::invalid_argument(context + ": " + key + " " + value.dump() + " is not an integer from " +
                              std::to_string(kMin) + " to " + std::to_string(kMax));
}

nlohmann::json make_request(const std::string& command, nlohmann::json args = nlohmann::json::object());
nlohmann::json make_ok(nlohmann::json result = nullptr);
nlohmann::json make_error(const std::string& message);

// Sends one request to the daemon at `socket_path` and returns its response.
// Throws std::runtime_error when the daemon cannot be reached.
nlohmann::json call_daemon(const std::string& socket_path, const nlohmann::json& request, int timeout_s = 30);

}  // namespace inception
