#include "control/protocol.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include "inception/errors.h"

namespace inception {

void to_json(nlohmann::json& j, const NetworkConfig& n) {
  nlohmann::json peers = nlohmann::json::array();
  for (const Ipv4Address& p : n.peers) peers.push_back(p.to_string());
  j = {{"name", n.name}, {"vni", n.vni}, {"fdb_limit", n.fdb_limit},
       {"peers", peers}, {"hub", n.hub}, {"neighbor_limit", n.neighbor_limit}};
}

void from_json(const nlohmann::json& j, NetworkConfig& n) {
  const JsonReader r(j, "network");
  n.name = r.required_string("name");
  n.vni = static_cast<uint32_t>(r.required_integer("vni", kVniRange));
  if (auto v = r.integer("fdb_limit", kFdbLimitRange)) n.fdb_limit = static_cast<uint32_t>(*v);
  if (auto v = r.boolean("hub")) n.hub = *v;
  if (auto v = r.integer("neighbor_limit", kNeighborLimitRange)) n.neighbor_limit = static_cast<uint32_t>(*v);
  if (auto v = r.strings("peers")) {
    for (const std::string& text : *v) {
      try {
        n.peers.push_back(parse_peer_address(n.name, text));
      } catch (const ConfigError& e) {
        throw std::invalid_argument(e.what());
      }
    }
  }
  r.finish("network " + n.name);
}

void to_json(nlohmann::json& j, const PortConfig& p) {
  j = {{"name", p.name}, {"type", port_type_name(p.type)}, {"network", p.network}};
  if (p.type == PortType::kVhostUser) {
    j["socket"] = p.socket;
    j["mode"] = p.server ? "server" : "client";
    j["queues"] = p.queues;
    j["offloads"] = p.offloads;
    j["coalesce"] = p.coalesce;
  }
  nlohmann::json macs = nlohmann::json::array();
  for (const MacAddress& mac : p.macs) macs.push_back(mac.to_string());
  nlohmann::json ips = nlohmann::json::array();
  for (const Ipv4Prefix& ip : p.ips) ips.push_back(ip.to_string());
  j["macs"] = macs;
  j["ips"] = ips;
  j["port_security"] = p.port_security_enabled();
  j["mac_limit"] = p.mac_limit;
}

void from_json(const nlohmann::json& j, PortConfig& p) {
  const JsonReader r(j, "port");
  p.name = r.required_string("name");
  const std::string type = r.required_string("type");
  const auto parsed = parse_port_type(type);
  if (!parsed)
    throw std::invalid_argument("port " + p.name + ": type '" + type + "' is not one of: vhost-user, kernel");
  p.type = *parsed;
  p.network = r.required_string("network");
  if (auto v = r.string("socket")) p.socket = *v;
  if (auto v = r.string("mode")) {
    if (*v != "client" && *v != "server")
      throw std::invalid_argument("port " + p.name + ": mode '" + *v + "' is not one of: client, server");
    p.server = *v == "server";
  }
  if (auto v = r.integer("queues", kVhostQueuesRange)) p.queues = static_cast<uint16_t>(*v);
  if (auto v = r.boolean("offloads")) p.offloads = *v;
  if (auto v = r.boolean("coalesce")) p.coalesce = *v;
  if (auto v = r.strings("macs")) {
    for (const std::string& text : *v) {
      const auto mac = MacAddress::parse(text);
      if (!mac) throw RequestError(fmt::format("port {}: macs: '{}' is not a MAC address", p.name, text));
      p.macs.push_back(*mac);
    }
  }
  if (auto v = r.strings("ips")) {
    for (const std::string& text : *v) {
      const auto prefix = Ipv4Prefix::parse_address_or_prefix(text);
      if (!prefix)
        throw RequestError(fmt::format("port {}: ips: '{}' is not an IPv4 address or ADDRESS/PREFIX", p.name, text));
      p.ips.push_back(*prefix);
    }
  }
  // to_json writes the effective setting; only a departure from the
  // default (on with a MAC, off without) is the user's own choice.
  if (auto v = r.boolean("port_security"); v && *v != !p.macs.empty()) p.port_security = *v;
  if (auto v = r.integer("mac_limit", kMacLimitRange)) p.mac_limit = static_cast<uint32_t>(*v);
  try {
    validate_port_keys(p,
                       r.has("socket") || r.has("mode") || r.has("queues") || r.has("offloads") || r.has("coalesce"));
  } catch (const ConfigError& e) {
    throw RequestError(e.what());
  }
  r.finish("port " + p.name);
}

JsonReader::JsonReader(const nlohmann::json& object, std::string_view what) : object_(object) {
  if (!object.is_object()) throw RequestError(fmt::format("{}: expected an object, got {}", what, quote_value(object)));
}

const nlohmann::json* JsonReader::find(std::string_view key) const {
  seen_.emplace(key);
  const auto it = object_.find(std::string(key));
  return it == object_.end() ? nullptr : &*it;
}

void JsonReader::finish(std::string_view what) const {
  for (const auto& [key, value] : object_.items())
    if (!seen_.contains(key)) throw RequestError(fmt::format("{}: unknown field '{}'", what, key));
}

std::optional<int64_t> JsonReader::integer(std::string_view key, IntRange range) const {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return std::nullopt;
  // is_number_integer() holds for both of nlohmann's integer kinds, and not
  // for floats or booleans.
  if (!v->is_number_integer()) throw RequestError(fmt::format("{}: expected an integer, got {}", key, quote_value(*v)));
  // Non-negative numbers arrive unsigned, and may not fit an int64_t.
  const bool too_big = v->is_number_unsigned() && v->get<uint64_t>() > uint64_t{INT64_MAX};
  const bool fits = !too_big && range.contains(v->get<int64_t>());
  if (!fits) throw RequestError(fmt::format("{}: {}", key, out_of_range_text(quote_value(*v), range)));
  return v->get<int64_t>();
}

std::optional<std::string> JsonReader::string(std::string_view key) const {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) throw RequestError(fmt::format("{}: expected a string, got {}", key, quote_value(*v)));
  return v->get<std::string>();
}

std::optional<bool> JsonReader::boolean(std::string_view key) const {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_boolean()) throw RequestError(fmt::format("{}: expected true or false, got {}", key, quote_value(*v)));
  return v->get<bool>();
}

std::optional<std::vector<std::string>> JsonReader::strings(std::string_view key) const {
  const nlohmann::json* v = find(key);
  if (v == nullptr) return std::nullopt;
  const bool all_strings =
      v->is_array() && std::all_of(v->begin(), v->end(), [](const nlohmann::json& e) { return e.is_string(); });
  if (!all_strings) throw RequestError(fmt::format("{}: expected an array of strings, got {}", key, quote_value(*v)));
  return v->get<std::vector<std::string>>();
}

int64_t JsonReader::required_integer(std::string_view key, IntRange range) const {
  const auto v = integer(key, range);
  if (!v) throw RequestError(fmt::format("missing argument '{}'", key));
  return *v;
}

std::string JsonReader::required_string(std::string_view key) const {
  auto v = string(key);
  if (!v) throw RequestError(fmt::format("missing argument '{}'", key));
  return std::move(*v);
}

std::string quote_value(const nlohmann::json& value) {
  constexpr size_t kMaxQuoted = 64;
  std::string text = to_wire(value);
  if (text.size() <= kMaxQuoted) return text;
  size_t cut = kMaxQuoted - 3;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) --cut;  // not inside a UTF-8 sequence
  text.resize(cut);
  return text + "...";
}

std::string to_wire(const nlohmann::json& message) {
  return message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json make_request(const std::string& command, nlohmann::json args) {
  return {{"version", kProtocolVersion}, {"command", command}, {"args", std::move(args)}};
}

nlohmann::json make_ok(nlohmann::json result) {
  return {{"ok", true}, {"result", std::move(result)}};
}

nlohmann::json make_error(const std::string& message) {
  return {{"ok", false}, {"error", message}};
}

nlohmann::json call_daemon(const std::string& socket_path, const nlohmann::json& request, int timeout_s) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + errno_text(errno));
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(addr.sun_path))
    throw std::runtime_error("control socket path " + socket_path + " is too long");
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  // A unix connect() waits while the daemon's backlog is full; the send
  // timeout bounds that wait.
  timeval tv{timeout_s, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    std::string hint = (err == ENOENT || err == ECONNREFUSED) ? " (is inceptiond running?)" : "";
    if (err == EAGAIN) hint = " (timed out: the daemon is not accepting connections)";
    throw std::runtime_error("cannot reach inceptiond at " + socket_path + ": " + errno_text(err) + hint);
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);

  // Send and receive together: the daemon may answer (and close) before it
  // has read the whole request, and its answer says why.
  const std::string line = to_wire(request) + "\n";
  size_t sent = 0;
  bool sending = true;
  std::string response;
  char buffer[65536];
  while (response.find('\n') == std::string::npos) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) throw std::runtime_error(fmt::format("inceptiond did not answer within {} s", timeout_s));
    pollfd p{fd, static_cast<short>(POLLIN | (sending ? POLLOUT : 0)), 0};
    if (poll(&p, 1, static_cast<int>(left)) < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("poll: ") + errno_text(errno));
    }
    if (sending && (p.revents & POLLOUT) != 0) {
      const ssize_t n = send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<size_t>(n);
        sending = sent < line.size();
      } else if (errno == EPIPE || errno == ECONNRESET) {
        sending = false;  // closed by the daemon: read what it said
      } else if (errno != EAGAIN && errno != EINTR) {
        throw std::runtime_error(std::string("sending to inceptiond: ") + errno_text(errno));
      }
    }
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n > 0) {
        response.append(buffer, static_cast<size_t>(n));
      } else if (n == 0) {
        break;
      } else if (errno != EAGAIN && errno != EINTR) {
        throw std::runtime_error(std::string("reading from inceptiond: ") + errno_text(errno));
      }
    }
  }
  if (response.empty()) throw std::runtime_error("inceptiond closed the connection without answering");
  try {
    return nlohmann::json::parse(response.substr(0, response.find('\n')));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("inceptiond sent a malformed response: ") + e.what());
  }
}

}  // namespace inception
