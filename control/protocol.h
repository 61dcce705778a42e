// The control protocol between inceptionctl and inceptiond.
//
// One request per connection on a unix stream socket, one JSON document per
// line each way:
//   request:  {"version": 1, "command": "port.add", "args": {...}}
//   response: {"ok": true, "result": ...}  or  {"ok": false, "error": "..."}
// The JSON forms of the config structs below are shared by both sides, so
// `port add` on the command line and [[port]] in the TOML file carry the
// same fields.
//
// The daemon bounds what a client may cost (time, size, connections): see
// control/control_server.h. A request field must have the JSON type and
// range its reader asks for (JsonReader below), and every message is
// serialised by to_wire, which cannot fail on its content.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "control/config.h"

namespace inception {

inline constexpr int kProtocolVersion = 1;

// `nat.sessions` lists at most this many sessions: up to a whole table.
inline constexpr IntRange kNatSessionListRange{1, kMaxNatSessions};

// A request field of the wrong type or range, or a missing one. The message
// is "FIELD: problem"; the request handler puts the command in front:
// "network.add: vni: 4294967297 is out of range (1..16777215)".
class RequestError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Reads the fields of one JSON object strictly, as the TOML loader reads a
// table: a value must have the JSON type asked for and lie in its range.
// Nothing is converted or narrowed (nlohmann's get<uint32_t>() takes
// 4294967297 as 1, 2.9 as 2 and true as 1). Errors name the field and quote
// the value as sent:
//   vni: 4294967297 is out of range (1..16777215)
//   vni: expected an integer, got 2.9
// All of them throw RequestError. An absent field reads as nullopt; a field
// that is present but null is of the wrong type.
class JsonReader {
 public:
  // `what` names the value in the error when it is not an object ("args").
  JsonReader(const nlohmann::json& object, std::string_view what);

  std::optional<int64_t> integer(std::string_view key, IntRange range) const;
  std::optional<std::string> string(std::string_view key) const;
  std::optional<bool> boolean(std::string_view key) const;
  std::optional<std::vector<std::string>> strings(std::string_view key) const;

  int64_t required_integer(std::string_view key, IntRange range) const;
  std::string required_string(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Refuses a field no getter asked for: a misspelt one must not fall back
  // to a default silently (the TOML loader's rule too).
  void finish(std::string_view what) const;

 private:
  const nlohmann::json* find(std::string_view key) const;
  const nlohmann::json& object_;
  mutable std::set<std::string, std::less<>> seen_;
};

// A JSON value as it was sent, for an error message: compact, and cut short
// after 64 bytes so that an error never echoes a megabyte back.
std::string quote_value(const nlohmann::json& value);

// One message as a line's worth of text (without the newline). Throws only
// std::bad_alloc: bytes that are not UTF-8 (a parser error quoting the
// invalid input it read, say) become U+FFFD instead of a type_error.
std::string to_wire(const nlohmann::json& message);

void to_json(nlohmann::json& j, const NetworkConfig& n);
void from_json(const nlohmann::json& j, NetworkConfig& n);
void to_json(nlohmann::json& j, const PortConfig& p);
void from_json(const nlohmann::json& j, PortConfig& p);

nlohmann::json make_request(const std::string& command, nlohmann::json args = nlohmann::json::object());
nlohmann::json make_ok(nlohmann::json result = nullptr);
nlohmann::json make_error(const std::string& message);

// Sends one request to the daemon at `socket_path` and returns its response:
// the first line it answers, read even if the daemon closed the connection
// before taking the whole request (as it does with an oversized one). The
// whole exchange, connect included, is bounded by `timeout_s`. Throws
// std::runtime_error when the daemon cannot be reached or does not answer.
nlohmann::json call_daemon(const std::string& socket_path, const nlohmann::json& request, int timeout_s = 30);

}  // namespace inception
