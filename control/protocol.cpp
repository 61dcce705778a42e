#include "control/protocol.h"

#include "inception/errors.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace inception {

void to_json(nlohmann::json& j, const NetworkConfig& n) {
  nlohmann::json peers = nlohmann::json::array();
  for (const Ipv4Address& p : n.peers) peers.push_back(p.to_string());
  j = {{"name", n.name}, {"vni", n.vni}, {"fdb_limit", n.fdb_limit},
       {"peers", peers}, {"hub", n.hub}, {"neighbor_limit", n.neighbor_limit}};
}

void from_json(const nlohmann::json& j, NetworkConfig& n) {
  n.name = j.at("name").get<std::string>();
  const std::string context = "network " + n.name;
  n.vni = get_integer<uint32_t>(j, "vni", context);
  if (j.contains("fdb_limit")) n.fdb_limit = get_integer<uint32_t>(j, "fdb_limit", context);
  if (j.contains("hub")) n.hub = j.at("hub").get<bool>();
  if (j.contains("neighbor_limit")) n.neighbor_limit = get_integer<uint32_t>(j, "neighbor_limit", context);
  if (j.contains("peers")) {
    for (const auto& p : j.at("peers")) {
      const std::string text = p.get<std::string>();
      const auto ip = Ipv4Address::parse(text);
      if (!ip) throw std::invalid_argument("network " + n.name + ": peer '" + text + "' is not an IPv4 address");
      n.peers.push_back(*ip);
    }
  }
}

void to_json(nlohmann::json& j, const PortConfig& p) {
  j = {{"name", p.name}, {"type", port_type_name(p.type)}, {"network", p.network}};
  if (p.type == PortType::kVhostUser) {
    j["socket"] = p.socket;
    j["mode"] = p.server ? "server" : "client";
    j["queues"] = p.queues;
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
  p.name = j.at("name").get<std::string>();
  const std::string type = j.at("type").get<std::string>();
  const auto parsed = parse_port_type(type);
  if (!parsed)
    throw std::invalid_argument("port " + p.name + ": type '" + type + "' is not one of: vhost-user, kernel");
  p.type = *parsed;
  p.network = j.at("network").get<std::string>();
  if (j.contains("socket")) p.socket = j.at("socket").get<std::string>();
  if (j.contains("mode")) {
    const std::string mode = j.at("mode").get<std::string>();
    if (mode != "client" && mode != "server")
      throw std::invalid_argument("port " + p.name + ": mode '" + mode + "' is not one of: client, server");
    p.server = mode == "server";
  }
  if (j.contains("queues")) p.queues = get_integer<uint16_t>(j, "queues", "port " + p.name);
  if (j.contains("macs")) {
    for (const auto& item : j.at("macs")) {
      const std::string text = item.get<std::string>();
      const auto mac = MacAddress::parse(text);
      if (!mac) throw std::invalid_argument("port " + p.name + ": '" + text + "' is not a MAC address");
      p.macs.push_back(*mac);
    }
  }
  if (j.contains("ips")) {
    for (const auto& item : j.at("ips")) {
      const std::string text = item.get<std::string>();
      const auto prefix = Ipv4Prefix::parse_address_or_prefix(text);
      if (!prefix)
        throw std::invalid_argument("port " + p.name + ": '" + text + "' is not an IPv4 address or ADDRESS/PREFIX");
      p.ips.push_back(*prefix);
    }
  }
  if (j.contains("port_security") && !j.at("port_security").is_null())
    p.port_security = j.at("port_security").get<bool>();
  if (j.contains("mac_limit")) p.mac_limit = get_integer<uint32_t>(j, "mac_limit", "port " + p.name);
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
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    std::string hint = (err == ENOENT || err == ECONNREFUSED) ? " (is inceptiond running?)" : "";
    throw std::runtime_error("cannot reach inceptiond at " + socket_path + ": " + errno_text(err) + hint);
  }
  timeval tv{timeout_s, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  const std::string line = request.dump() + "\n";
  for (size_t off = 0; off < line.size();) {
    const ssize_t n = send(fd, line.data() + off, line.size() - off, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error(std::string("sending to inceptiond: ") + errno_text(errno));
    off += static_cast<size_t>(n);
  }
  std::string response;
  char buffer[65536];
  for (;;) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("reading from inceptiond: ") +
                               (errno == EAGAIN ? "timed out" : errno_text(errno)));
    }
    if (n == 0) break;
    response.append(buffer, static_cast<size_t>(n));
  }
  if (response.empty()) throw std::runtime_error("inceptiond closed the connection without answering");
  try {
    return nlohmann::json::parse(response);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("inceptiond sent a malformed response: ") + e.what());
  }
}

}  // namespace inception
