#include "control/config.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "inception/counters.h"
#include "inception/errors.h"
#include "inception/log.h"
#include "inception/types.h"

namespace inception {

namespace {

std::string where(const toml::source_region& source, const std::string& file) {
  return fmt::format("{}:{}:{}", file, source.begin.line, source.begin.column);
}

// Reads one TOML table strictly: every key must be consumed by a get(), and
// every value must have the expected type and range. Errors point at the
// offending key or value.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string context, const std::string& file)
      : table_(table), context_(std::move(context)), file_(file) {}

  [[noreturn]] void fail_at(const toml::node& node, const std::string& message) const {
    throw ConfigError(where(node.source(), file_) + ": " + message);
  }
  [[noreturn]] void fail(const std::string& message) const {
    throw ConfigError(where(table_.source(), file_) + ": " + context_ + ": " + message);
  }

  const toml::node* node(const std::string& key) {
    seen_.insert(key);
    return table_.get(key);
  }

  std::optional<std::string> string(const std::string& key) {
    const toml::node* n = node(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_string()) fail_at(*n, fmt::format("{}.{}: expected a string", context_, key));
    return n->as_string()->get();
  }

  std::optional<bool> boolean(const std::string& key) {
    const toml::node* n = node(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_boolean()) fail_at(*n, fmt::format("{}.{}: expected true or false", context_, key));
    return n->as_boolean()->get();
  }

  std::optional<uint32_t> integer(const std::string& key, int64_t min, int64_t max) {
    const toml::node* n = node(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_integer()) fail_at(*n, fmt::format("{}.{}: expected an integer", context_, key));
    const int64_t v = n->as_integer()->get();
    if (v < min || v > max)
      fail_at(*n, fmt::format("{}.{}: {}", context_, key, out_of_range_text(std::to_string(v), IntRange{min, max})));
    return static_cast<uint32_t>(v);
  }

  std::optional<std::vector<std::string>> strings(const std::string& key) {
    const toml::node* n = node(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_array()) fail_at(*n, fmt::format("{}.{}: expected an array of strings", context_, key));
    std::vector<std::string> out;
    for (const toml::node& item : *n->as_array()) {
      if (!item.is_string()) fail_at(item, fmt::format("{}.{}: expected an array of strings", context_, key));
      out.push_back(item.as_string()->get());
    }
    return out;
  }

  std::optional<std::vector<unsigned>> integers(const std::string& key, int64_t min, int64_t max) {
    const toml::node* n = node(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_array()) fail_at(*n, fmt::format("{}.{}: expected an array of integers", context_, key));
    std::vector<unsigned> out;
    for (const toml::node& item : *n->as_array()) {
      if (!item.is_integer()) fail_at(item, fmt::format("{}.{}: expected an array of integers", context_, key));
      const int64_t v = item.as_integer()->get();
      if (v < min || v > max)
        fail_at(item,
                fmt::format("{}.{}: {}", context_, key, out_of_range_text(std::to_string(v), IntRange{min, max})));
      out.push_back(static_cast<unsigned>(v));
    }
    return out;
  }

  std::string required_string(const std::string& key) {
    auto v = string(key);
    if (!v) fail(fmt::format("missing required key '{}'", key));
    return *v;
  }

  // Runs a validation rule; its error points at `key`'s value, or at the
  // table when the key was left out (the rule then judged a default).
  template <typename Fn>
  void check(const std::string& key, Fn&& fn) const {
    try {
      fn();
    } catch (const ConfigError& e) {
      const toml::node* n = table_.get(key);
      throw ConfigError(where(n != nullptr ? n->source() : table_.source(), file_) + ": " + e.what());
    }
  }

  // Rejects keys nobody asked for: a typo must not silently fall back to a
  // default.
  void finish() const {
    for (auto&& [key, value] : table_) {
      if (!seen_.contains(std::string(key.str())))
        throw ConfigError(fmt::format("{}: unknown key '{}' in {}", where(key.source(), file_), key.str(), context_));
    }
  }

  const std::string& file() const { return file_; }

 private:
  const toml::table& table_;
  std::string context_;
  const std::string& file_;
  std::set<std::string> seen_;
};

const toml::table* sub_table(TableReader& reader, const std::string& key) {
  const toml::node* n = reader.node(key);
  if (n == nullptr) return nullptr;
  if (!n->is_table()) reader.fail_at(*n, fmt::format("'{}' must be a table ([{}])", key, key));
  return n->as_table();
}

template <typename Fn>
void each_array_table(TableReader& reader, const std::string& key, Fn&& fn) {
  const toml::node* n = reader.node(key);
  if (n == nullptr) return;
  if (!n->is_array_of_tables()) reader.fail_at(*n, fmt::format("'{}' must be an array of tables ([[{}]])", key, key));
  size_t index = 0;
  for (const toml::node& item : *n->as_array()) fn(*item.as_table(), index++);
}

// Re-throws a validation error with the position of the table (or value)
// it came from.
template <typename Fn>
void at_table(const toml::node& table, const std::string& file, Fn&& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    throw ConfigError(where(table.source(), file) + ": " + e.what());
  }
}

void parse_dpdk(const toml::table& table, const std::string& file, Config::Dpdk& dpdk) {
  TableReader r(table, "[dpdk]", file);
  if (auto v = r.integer("main_core", 0, 127)) dpdk.main_core = *v;
  if (auto v = r.integers("worker_cores", 0, 127)) dpdk.worker_cores = *v;
  if (auto v = r.integer("memory_mb", 64, 1 << 20)) dpdk.memory_mb = *v;
  if (auto v = r.boolean("hugepages")) dpdk.hugepages = *v;
  if (auto v = r.string("file_prefix")) dpdk.file_prefix = *v;
  if (auto v = r.integer("mbufs", 1024, 1 << 24)) dpdk.mbufs = *v;
  if (auto v = r.strings("pci_allow")) dpdk.pci_allow = *v;
  if (auto v = r.strings("extra_args")) dpdk.extra_args = *v;
  r.finish();
  if (dpdk.worker_cores.empty()) r.fail("worker_cores must list at least one core");
  if (dpdk.worker_cores.size() > kMaxWorkers) r.fail(fmt::format("at most {} worker cores", kMaxWorkers));
  std::set<unsigned> cores(dpdk.worker_cores.begin(), dpdk.worker_cores.end());
  if (cores.size() != dpdk.worker_cores.size()) r.fail("worker_cores lists a core twice");
  if (cores.contains(dpdk.main_core))
    r.fail(fmt::format("core {} is both main_core and a worker core", dpdk.main_core));
  r.check("file_prefix", [&] { validate_file_prefix(dpdk.file_prefix); });
}

void parse_switch(const toml::table& table, const std::string& file, Config::Switch& sw) {
  TableReader r(table, "[switch]", file);
  if (auto v = r.integer("mac_aging_s", 1, 1000000)) sw.mac_aging_s = *v;
  if (auto v = r.string("idle_policy")) sw.idle_policy = *v;
  if (auto v = r.integer("idle_sleep_max_us", 1, 100000)) sw.idle_sleep_max_us = *v;
  if (auto v = r.string("log_level")) sw.log_level = *v;
  if (auto v = r.integer("port_mac_limit", kMacLimitRange.min, kMacLimitRange.max)) sw.port_mac_limit = *v;
  for (auto [key, field] : {std::pair{"punt_pps_per_port", &sw.punt_pps_per_port},
                            std::pair{"punt_pps_per_network", &sw.punt_pps_per_network},
                            std::pair{"flood_pps_per_port", &sw.flood_pps_per_port},
                            std::pair{"flood_pps_per_network", &sw.flood_pps_per_network}})
    if (auto v = r.integer(key, kRateRange.min, kRateRange.max)) *field = *v;
  r.finish();
  if (sw.idle_policy != "adaptive" && sw.idle_policy != "poll")
    r.fail(fmt::format("idle_policy '{}' is not one of: adaptive, poll", sw.idle_policy));
  if (!log::parse_level(sw.log_level))
    r.fail(fmt::format("log_level '{}' is not one of: error, warning, info, debug", sw.log_level));
}

NetworkConfig parse_network(const toml::table& table, const std::string& file, size_t index,
                            const UnderlayConfig& underlay) {
  TableReader r(table, fmt::format("[[network]] #{}", index + 1), file);
  NetworkConfig n;
  n.name = r.required_string("name");
  const auto vni = r.integer("vni", kVniRange.min, kVniRange.max);
  if (!vni) r.fail("missing required key 'vni'");
  n.vni = *vni;
  if (auto v = r.integer("fdb_limit", kFdbLimitRange.min, kFdbLimitRange.max)) n.fdb_limit = *v;
  const std::optional<std::vector<std::string>> peers = r.strings("peers");
  if (auto v = r.boolean("hub")) n.hub = *v;
  if (auto v = r.integer("neighbor_limit", kNeighborLimitRange.min, kNeighborLimitRange.max)) n.neighbor_limit = *v;
  r.finish();
  at_table(table, file, [&] { validate_network(n); });
  if (peers) {
    const toml::array& items = *table.get("peers")->as_array();
    for (size_t i = 0; i < peers->size(); ++i) {
      const auto ip = Ipv4Address::parse((*peers)[i]);
      if (!ip) r.fail_at(items[i], fmt::format("network {}: peer '{}' is not an IPv4 address", n.name, (*peers)[i]));
      at_table(items[i], file, [&] { validate_peer(n.name, *ip, n.peers, underlay); });
      n.peers.push_back(*ip);
    }
  }
  return n;
}

PortConfig parse_port(const toml::table& table, const std::string& file, size_t index, const Config& config) {
  TableReader r(table, fmt::format("[[port]] #{}", index + 1), file);
  PortConfig p;
  p.name = r.required_string("name");
  const std::string type = r.required_string("type");
  const auto parsed = parse_port_type(type);
  if (!parsed)
    r.fail_at(*table.get("type"), fmt::format("port {}: type '{}' is not one of: vhost-user, kernel", p.name, type));
  p.type = *parsed;
  p.network = r.required_string("network");
  if (auto v = r.string("socket")) p.socket = *v;
  if (auto v = r.string("mode")) {
    if (*v != "client" && *v != "server")
      r.fail_at(*table.get("mode"), fmt::format("port {}: mode '{}' is not one of: client, server", p.name, *v));
    p.server = *v == "server";
  }
  if (auto v = r.integer("queues", kVhostQueuesRange.min, kVhostQueuesRange.max)) p.queues = static_cast<uint16_t>(*v);
  if (auto v = r.strings("macs")) {
    for (const std::string& text : *v) {
      const auto mac = MacAddress::parse(text);
      if (!mac) r.fail_at(*table.get("macs"), fmt::format("port {}: '{}' is not a MAC address", p.name, text));
      p.macs.push_back(*mac);
    }
  }
  if (auto v = r.strings("ips")) {
    for (const std::string& text : *v) {
      const auto prefix = Ipv4Prefix::parse_address_or_prefix(text);
      if (!prefix)
        r.fail_at(*table.get("ips"),
                  fmt::format("port {}: '{}' is not an IPv4 address or ADDRESS/PREFIX", p.name, text));
      p.ips.push_back(*prefix);
    }
  }
  if (auto v = r.boolean("port_security")) p.port_security = *v;
  if (auto v = r.integer("mac_limit", kMacLimitRange.min, kMacLimitRange.max)) p.mac_limit = *v;
  r.finish();
  if (p.type == PortType::kKernel && (table.contains("socket") || table.contains("mode") || table.contains("queues")))
    r.fail(fmt::format("port {}: socket, mode and queues apply to vhost-user ports only", p.name));
  at_table(table, file, [&] { validate_port(p); });
  r.check("socket", [&] { validate_port_socket(p, config.ports, config.control.socket); });
  return p;
}

StaticMacConfig parse_static_mac(const toml::table& table, const std::string& file, size_t index) {
  TableReader r(table, fmt::format("[[fdb]] #{}", index + 1), file);
  StaticMacConfig s;
  s.network = r.required_string("network");
  const std::string mac = r.required_string("mac");
  s.port = r.required_string("port");
  r.finish();
  const auto parsed = MacAddress::parse(mac);
  if (!parsed) r.fail_at(*table.get("mac"), fmt::format("'{}' is not a MAC address (aa:bb:cc:dd:ee:ff)", mac));
  if (parsed->is_multicast()) r.fail_at(*table.get("mac"), fmt::format("{} is a multicast MAC address", mac));
  s.mac = *parsed;
  return s;
}

UnderlayConfig parse_underlay(const toml::table& table, const std::string& file) {
  TableReader r(table, "[underlay]", file);
  UnderlayConfig u;
  u.enabled = true;
  u.device = r.required_string("device");
  const std::string address = r.required_string("address");
  const auto prefix = Ipv4Prefix::parse(address);
  if (!prefix || prefix->address.is_unspecified())
    r.fail_at(*table.get("address"),
              fmt::format("[underlay].address: '{}' is not ADDRESS/PREFIX (e.g. 10.0.0.11/16)", address));
  u.address = *prefix;
  if (auto v = r.string("gateway")) {
    const auto gw = Ipv4Address::parse(*v);
    if (!gw) r.fail_at(*table.get("gateway"), fmt::format("[underlay].gateway: '{}' is not an IPv4 address", *v));
    u.gateway = *gw;
  }
  if (auto v = r.integer("mtu", 576, 9216)) u.mtu = static_cast<uint16_t>(*v);
  if (auto v = r.integer("vxlan_port", 1, 65535)) u.vxlan_port = static_cast<uint16_t>(*v);
  if (auto v = r.string("host_interface")) u.host_interface = *v;
  if (auto v = r.integer("neighbor_timeout_s", 1, 86400)) u.neighbor_timeout_s = *v;
  r.finish();
  at_table(table, file, [&] { validate_underlay(u); });
  return u;
}

NeighborConfig parse_neighbor(const toml::table& table, const std::string& file, size_t index,
                              const UnderlayConfig& underlay) {
  TableReader r(table, fmt::format("[[neighbor]] #{}", index + 1), file);
  const std::string ip = r.required_string("ip");
  const std::string mac = r.required_string("mac");
  r.finish();
  NeighborConfig n;
  const auto parsed_ip = Ipv4Address::parse(ip);
  if (!parsed_ip) r.fail_at(*table.get("ip"), fmt::format("'{}' is not an IPv4 address", ip));
  const auto parsed_mac = MacAddress::parse(mac);
  if (!parsed_mac || parsed_mac->is_multicast())
    r.fail_at(*table.get("mac"), fmt::format("'{}' is not a unicast MAC address (aa:bb:cc:dd:ee:ff)", mac));
  n.ip = *parsed_ip;
  n.mac = *parsed_mac;
  r.check("ip", [&] { validate_neighbor(n, underlay); });
  return n;
}

Ipv4Address required_ip(TableReader& r, const toml::table& table, const std::string& key) {
  const std::string text = r.required_string(key);
  const auto ip = Ipv4Address::parse(text);
  if (!ip) r.fail_at(*table.get(key), fmt::format("{}: '{}' is not an IPv4 address", key, text));
  return *ip;
}

RouterConfig parse_router(const toml::table& table, const std::string& file, size_t index, const Config& config) {
  TableReader r(table, fmt::format("[[router]] #{}", index + 1), file);
  RouterConfig router;
  router.network = r.required_string("network");
  const std::string address = r.required_string("address");
  r.finish();
  const auto prefix = Ipv4Prefix::parse(address);
  if (!prefix)
    r.fail_at(*table.get("address"),
              fmt::format("router address '{}' is not ADDRESS/PREFIX (e.g. 192.0.2.254/24)", address));
  router.address = *prefix;
  r.check("address", [&] { validate_router(router, config.routers, config.underlay); });
  return router;
}

NatConfig parse_nat(const toml::table& table, const std::string& file, const UnderlayConfig& underlay) {
  TableReader r(table, "[nat]", file);
  NatConfig nat;
  if (auto v = r.string("public_network")) nat.public_network = *v;
  auto optional_ip = [&](const char* key) -> std::optional<Ipv4Address> {
    auto v = r.string(key);
    if (!v) return std::nullopt;
    const auto ip = Ipv4Address::parse(*v);
    if (!ip) r.fail_at(*table.get(key), fmt::format("[nat].{}: '{}' is not an IPv4 address", key, *v));
    return ip;
  };
  nat.gateway = optional_ip("gateway");
  nat.snat_address = optional_ip("snat_address");
  if (auto v = r.string("snat_ports")) {
    unsigned lo = 0, hi = 0;
    char dash = 0;
    std::istringstream in(*v);
    if (!(in >> lo >> dash >> hi) || dash != '-' || lo < 1024 || hi > 65535 || lo > hi || !in.eof())
      r.fail_at(*table.get("snat_ports"),
                fmt::format("[nat].snat_ports: '{}' is not a range LOW-HIGH within 1024-65535", *v));
    nat.snat_port_min = static_cast<uint16_t>(lo);
    nat.snat_port_max = static_cast<uint16_t>(hi);
  }
  if (auto v = r.integer("max_sessions", kNatMaxSessionsRange.min, kNatMaxSessionsRange.max)) nat.max_sessions = *v;
  if (auto v = r.integer("max_sessions_per_network", kNatSessionQuotaRange.min, kNatSessionQuotaRange.max))
    nat.max_sessions_per_network = *v;
  if (auto v = r.integer("max_sessions_per_source", kNatSessionQuotaRange.min, kNatSessionQuotaRange.max))
    nat.max_sessions_per_source = *v;
  if (auto v = r.strings("egress_deny")) {
    for (const std::string& text : *v) {
      const auto prefix = Ipv4Prefix::parse_address_or_prefix(text);
      if (!prefix)
        r.fail_at(*table.get("egress_deny"),
                  fmt::format("[nat].egress_deny: '{}' is not an IPv4 address or ADDRESS/PREFIX", text));
      nat.egress_deny.push_back(*prefix);
    }
  }
  if (auto v = r.integer("tcp_established_timeout_s", 1, 86400)) nat.tcp_established_timeout_s = *v;
  if (auto v = r.integer("tcp_transitory_timeout_s", 1, 86400)) nat.tcp_transitory_timeout_s = *v;
  if (auto v = r.integer("udp_timeout_s", 1, 86400)) nat.udp_timeout_s = *v;
  if (auto v = r.integer("icmp_timeout_s", 1, 86400)) nat.icmp_timeout_s = *v;
  r.finish();
  if (nat.snat_address)
    r.check("snat_address", [&] {
      validate_nat_address("[nat] snat_address " + nat.snat_address->to_string(), *nat.snat_address, underlay);
    });
  return nat;
}

}  // namespace

std::string_view port_type_name(PortType type) noexcept {
  return type == PortType::kVhostUser ? "vhost-user" : "kernel";
}

std::optional<PortType> parse_port_type(std::string_view name) noexcept {
  if (name == "vhost-user") return PortType::kVhostUser;
  if (name == "kernel") return PortType::kKernel;
  return std::nullopt;
}

std::string out_of_range_text(std::string_view value, IntRange range) {
  return fmt::format("{} is out of range ({}..{})", value, range.min, range.max);
}

bool valid_object_name(std::string_view name, size_t max_length) noexcept {
  if (name.empty() || name.size() > max_length) return false;
  for (const char c : name) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return name != "." && name != "..";
}

void validate_network(const NetworkConfig& n) {
  if (!valid_object_name(n.name, kMaxNetworkNameLength))
    throw ConfigError(
        fmt::format("network '{}': a name is 1-{} characters of A-Z a-z 0-9 . _ -", n.name, kMaxNetworkNameLength));
  if (!kVniRange.contains(n.vni))
    throw ConfigError(fmt::format("network {}: vni: {}", n.name, out_of_range_text(std::to_string(n.vni), kVniRange)));
  if (!kFdbLimitRange.contains(n.fdb_limit))
    throw ConfigError(fmt::format("network {}: fdb_limit: {}", n.name,
                                  out_of_range_text(std::to_string(n.fdb_limit), kFdbLimitRange)));
  if (!kNeighborLimitRange.contains(n.neighbor_limit))
    throw ConfigError(fmt::format("network {}: neighbor_limit: {}", n.name,
                                  out_of_range_text(std::to_string(n.neighbor_limit), kNeighborLimitRange)));
}

void validate_port(const PortConfig& p) {
  if (!valid_object_name(p.name, kMaxPortNameLength))
    throw ConfigError(
        fmt::format("port '{}': a name is 1-{} characters of A-Z a-z 0-9 . _ -", p.name, kMaxPortNameLength));
  if (p.network.empty()) throw ConfigError(fmt::format("port {}: no network given", p.name));
  if (p.type == PortType::kVhostUser) {
    if (p.socket.empty()) throw ConfigError(fmt::format("port {}: a vhost-user port needs a socket path", p.name));
    if (p.socket[0] != '/')
      throw ConfigError(fmt::format("port {}: socket path '{}' must be absolute", p.name, p.socket));
    if (p.socket.size() > 107)
      throw ConfigError(fmt::format("port {}: socket path '{}' is longer than 107 bytes", p.name, p.socket));
    if (!kVhostQueuesRange.contains(p.queues))
      throw ConfigError(
          fmt::format("port {}: queues: {}", p.name, out_of_range_text(std::to_string(p.queues), kVhostQueuesRange)));
  } else if (!p.socket.empty() || p.server) {
    throw ConfigError(fmt::format("port {}: socket and server mode apply to vhost-user ports only", p.name));
  }
  if (p.macs.size() > kMaxPortMacs)
    throw ConfigError(fmt::format("port {}: at most {} MAC addresses", p.name, kMaxPortMacs));
  std::set<MacAddress, decltype([](const MacAddress& a, const MacAddress& b) { return a.key() < b.key(); })> macs;
  for (const MacAddress& mac : p.macs) {
    if (mac.is_multicast() || mac.is_zero())
      throw ConfigError(fmt::format("port {}: {} is not a unicast MAC address", p.name, mac.to_string()));
    if (!macs.insert(mac).second)
      throw ConfigError(fmt::format("port {}: MAC {} is listed twice", p.name, mac.to_string()));
  }
  if (p.ips.size() > kMaxPortPrefixes)
    throw ConfigError(fmt::format("port {}: at most {} IP addresses or prefixes", p.name, kMaxPortPrefixes));
  for (const Ipv4Prefix& ip : p.ips)
    if (ip.address.is_unspecified() || ip.length == 0)
      throw ConfigError(fmt::format("port {}: {} would allow every address", p.name, ip.to_string()));
  if (p.port_security_enabled() && p.macs.empty())
    throw ConfigError(fmt::format("port {}: port security needs the MAC address(es) of the port's guest", p.name));
  if (!p.ips.empty() && !p.port_security_enabled())
    throw ConfigError(
        fmt::format("port {}: IP addresses are enforced by port security, which is off for this port", p.name));
}

Config parse_config(std::string_view text, const std::string& source_name) {
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    throw ConfigError(fmt::format("{}: {}", where(e.source(), source_name), e.description()));
  }
  Config config;
  TableReader r(root, "the top level", source_name);
  if (const toml::table* t = sub_table(r, "dpdk")) parse_dpdk(*t, source_name, config.dpdk);
  if (const toml::table* t = sub_table(r, "switch")) parse_switch(*t, source_name, config.sw);
  if (const toml::table* t = sub_table(r, "control")) {
    TableReader c(*t, "[control]", source_name);
    if (auto v = c.string("socket")) config.control.socket = *v;
    c.finish();
    if (config.control.socket.empty() || config.control.socket[0] != '/' || config.control.socket.size() > 107)
      c.fail("socket must be an absolute path of at most 107 bytes");
  }
  if (const toml::table* t = sub_table(r, "metrics")) {
    TableReader m(*t, "[metrics]", source_name);
    if (auto v = m.boolean("enabled")) config.metrics.enabled = *v;
    if (auto v = m.string("listen")) config.metrics.listen = *v;
    m.finish();
    m.check("listen", [&] { validate_listen_address(config.metrics.listen); });
  }
  if (const toml::table* t = sub_table(r, "underlay")) config.underlay = parse_underlay(*t, source_name);
  if (const toml::table* t = sub_table(r, "libvirt")) {
    TableReader l(*t, "[libvirt]", source_name);
    config.libvirt.enabled = true;
    if (auto v = l.string("uri")) config.libvirt.uri = *v;
    if (auto v = l.string("socket_dir")) config.libvirt.socket_dir = *v;
    l.finish();
    if (config.libvirt.uri.empty()) l.fail("uri must not be empty (default: qemu:///system)");
    l.check("socket_dir", [&] { validate_socket_dir(config.libvirt.socket_dir); });
  }
  // Tables are read in this order whatever their order in the file: the
  // rules of a later one may look at an earlier one (peers at the underlay).
  each_array_table(r, "neighbor", [&](const toml::table& t, size_t i) {
    config.neighbors.push_back(parse_neighbor(t, source_name, i, config.underlay));
  });
  each_array_table(r, "router", [&](const toml::table& t, size_t i) {
    config.routers.push_back(parse_router(t, source_name, i, config));
  });
  if (const toml::table* t = sub_table(r, "nat")) config.nat = parse_nat(*t, source_name, config.underlay);
  each_array_table(r, "gateway_mapping", [&](const toml::table& t, size_t i) {
    TableReader g(t, fmt::format("[[gateway_mapping]] #{}", i + 1), source_name);
    GatewayMappingConfig mapping{required_ip(g, t, "underlay"), required_ip(g, t, "public")};
    g.finish();
    g.check("underlay",
            [&] { validate_gateway_mapping(mapping, config.gateway_mappings, config.nat, config.underlay); });
    config.gateway_mappings.push_back(mapping);
  });
  each_array_table(r, "fip", [&](const toml::table& t, size_t i) {
    TableReader f(t, fmt::format("[[fip]] #{}", i + 1), source_name);
    FipConfig fip{required_ip(f, t, "public"), required_ip(f, t, "fixed"), f.required_string("network")};
    f.finish();
    f.check("public", [&] { validate_fip(fip, config.fips); });
    config.fips.push_back(fip);
  });
  each_array_table(r, "network", [&](const toml::table& t, size_t i) {
    config.networks.push_back(parse_network(t, source_name, i, config.underlay));
  });
  each_array_table(r, "port", [&](const toml::table& t, size_t i) {
    config.ports.push_back(parse_port(t, source_name, i, config));
  });
  each_array_table(r, "fdb", [&](const toml::table& t, size_t i) {
    config.static_macs.push_back(parse_static_mac(t, source_name, i));
  });
  r.finish();

  // Cross-references: checked here so that a bad file fails before DPDK starts.
  std::set<std::string> networks;
  std::set<uint32_t> vnis;
  for (const NetworkConfig& n : config.networks) {
    if (!networks.insert(n.name).second)
      throw ConfigError(fmt::format("{}: network {} is defined twice", source_name, n.name));
    if (!vnis.insert(n.vni).second)
      throw ConfigError(
          fmt::format("{}: network {}: VNI {} is already used by another network", source_name, n.name, n.vni));
  }
  std::set<std::string> ports;
  if (config.underlay.enabled && !config.underlay.host_interface.empty()) ports.insert(config.underlay.host_interface);
  for (const PortConfig& p : config.ports) {
    if (!ports.insert(p.name).second)
      throw ConfigError(fmt::format("{}: port {} is defined twice", source_name, p.name));
    if (!networks.contains(p.network))
      throw ConfigError(fmt::format("{}: port {}: network {} is not defined", source_name, p.name, p.network));
  }
  for (const StaticMacConfig& s : config.static_macs) {
    if (!networks.contains(s.network))
      throw ConfigError(
          fmt::format("{}: fdb entry {}: network {} is not defined", source_name, s.mac.to_string(), s.network));
    const auto port =
        std::find_if(config.ports.begin(), config.ports.end(), [&](const PortConfig& p) { return p.name == s.port; });
    if (port == config.ports.end())
      throw ConfigError(
          fmt::format("{}: fdb entry {}: port {} is not defined", source_name, s.mac.to_string(), s.port));
    if (port->network != s.network)
      throw ConfigError(fmt::format("{}: fdb entry {}: port {} is on network {}, not {}", source_name,
                                    s.mac.to_string(), s.port, port->network, s.network));
  }
  for (const RouterConfig& router : config.routers) {
    if (!networks.contains(router.network))
      throw ConfigError(
          fmt::format("{}: router on network {}: the network is not defined", source_name, router.network));
  }
  try {
    validate_capacity(config);
    validate_nat(config);
  } catch (const ConfigError& e) {
    throw ConfigError(fmt::format("{}: {}", source_name, e.what()));
  }
  return config;
}

Config load_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(fmt::format("{}: cannot open: {}", path, errno_text(errno)));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parse_config(buffer.str(), path);
}

std::string to_toml(const Config& c) {
  auto int_array = [](const std::vector<unsigned>& v) {
    toml::array a;
    for (unsigned x : v) a.push_back(static_cast<int64_t>(x));
    return a;
  };
  auto string_array = [](const std::vector<std::string>& v) {
    toml::array a;
    for (const auto& x : v) a.push_back(x);
    return a;
  };
  toml::table root;
  root.insert("dpdk", toml::table{{"main_core", static_cast<int64_t>(c.dpdk.main_core)},
                                  {"worker_cores", int_array(c.dpdk.worker_cores)},
                                  {"memory_mb", static_cast<int64_t>(c.dpdk.memory_mb)},
                                  {"hugepages", c.dpdk.hugepages},
                                  {"file_prefix", c.dpdk.file_prefix},
                                  {"mbufs", static_cast<int64_t>(c.dpdk.mbufs)},
                                  {"pci_allow", string_array(c.dpdk.pci_allow)},
                                  {"extra_args", string_array(c.dpdk.extra_args)}});
  root.insert("switch", toml::table{{"mac_aging_s", static_cast<int64_t>(c.sw.mac_aging_s)},
                                    {"idle_policy", c.sw.idle_policy},
                                    {"idle_sleep_max_us", static_cast<int64_t>(c.sw.idle_sleep_max_us)},
                                    {"log_level", c.sw.log_level},
                                    {"port_mac_limit", static_cast<int64_t>(c.sw.port_mac_limit)},
                                    {"punt_pps_per_port", static_cast<int64_t>(c.sw.punt_pps_per_port)},
                                    {"punt_pps_per_network", static_cast<int64_t>(c.sw.punt_pps_per_network)},
                                    {"flood_pps_per_port", static_cast<int64_t>(c.sw.flood_pps_per_port)},
                                    {"flood_pps_per_network", static_cast<int64_t>(c.sw.flood_pps_per_network)}});
  root.insert("control", toml::table{{"socket", c.control.socket}});
  root.insert("metrics", toml::table{{"enabled", c.metrics.enabled}, {"listen", c.metrics.listen}});
  if (c.libvirt.enabled)
    root.insert("libvirt", toml::table{{"uri", c.libvirt.uri}, {"socket_dir", c.libvirt.socket_dir}});
  if (c.underlay.enabled) {
    toml::table u{{"device", c.underlay.device},
                  {"address", c.underlay.address.to_string()},
                  {"mtu", static_cast<int64_t>(c.underlay.mtu)},
                  {"vxlan_port", static_cast<int64_t>(c.underlay.vxlan_port)},
                  {"host_interface", c.underlay.host_interface},
                  {"neighbor_timeout_s", static_cast<int64_t>(c.underlay.neighbor_timeout_s)}};
    if (c.underlay.gateway) u.insert("gateway", c.underlay.gateway->to_string());
    root.insert("underlay", std::move(u));
  }
  toml::array neighbors;
  for (const NeighborConfig& n : c.neighbors)
    neighbors.push_back(toml::table{{"ip", n.ip.to_string()}, {"mac", n.mac.to_string()}});
  if (!neighbors.empty()) root.insert("neighbor", std::move(neighbors));
  toml::array networks;
  for (const NetworkConfig& n : c.networks) {
    toml::array peers;
    for (const Ipv4Address& p : n.peers) peers.push_back(p.to_string());
    networks.push_back(toml::table{{"name", n.name},
                                   {"vni", static_cast<int64_t>(n.vni)},
                                   {"fdb_limit", static_cast<int64_t>(n.fdb_limit)},
                                   {"peers", std::move(peers)},
                                   {"hub", n.hub},
                                   {"neighbor_limit", static_cast<int64_t>(n.neighbor_limit)}});
  }
  if (!networks.empty()) root.insert("network", std::move(networks));
  toml::array ports;
  for (const PortConfig& p : c.ports) {
    toml::table t{{"name", p.name}, {"type", std::string(port_type_name(p.type))}, {"network", p.network}};
    if (p.type == PortType::kVhostUser) {
      t.insert("socket", p.socket);
      t.insert("mode", p.server ? "server" : "client");
      t.insert("queues", static_cast<int64_t>(p.queues));
    }
    if (!p.macs.empty()) {
      toml::array macs;
      for (const MacAddress& mac : p.macs) macs.push_back(mac.to_string());
      t.insert("macs", std::move(macs));
    }
    if (!p.ips.empty()) {
      toml::array ips;
      for (const Ipv4Prefix& ip : p.ips) ips.push_back(ip.to_string());
      t.insert("ips", std::move(ips));
    }
    if (p.port_security) t.insert("port_security", *p.port_security);
    if (p.mac_limit != 0) t.insert("mac_limit", static_cast<int64_t>(p.mac_limit));
    ports.push_back(std::move(t));
  }
  if (!ports.empty()) root.insert("port", std::move(ports));
  toml::array macs;
  for (const StaticMacConfig& s : c.static_macs)
    macs.push_back(toml::table{{"network", s.network}, {"mac", s.mac.to_string()}, {"port", s.port}});
  if (!macs.empty()) root.insert("fdb", std::move(macs));
  toml::array routers;
  for (const RouterConfig& r : c.routers)
    routers.push_back(toml::table{{"network", r.network}, {"address", r.address.to_string()}});
  if (!routers.empty()) root.insert("router", std::move(routers));
  toml::table nat{{"public_network", c.nat.public_network},
                  {"snat_ports", fmt::format("{}-{}", c.nat.snat_port_min, c.nat.snat_port_max)},
                  {"max_sessions", static_cast<int64_t>(c.nat.max_sessions)},
                  {"max_sessions_per_network", static_cast<int64_t>(c.nat.max_sessions_per_network)},
                  {"max_sessions_per_source", static_cast<int64_t>(c.nat.max_sessions_per_source)},
                  {"tcp_established_timeout_s", static_cast<int64_t>(c.nat.tcp_established_timeout_s)},
                  {"tcp_transitory_timeout_s", static_cast<int64_t>(c.nat.tcp_transitory_timeout_s)},
                  {"udp_timeout_s", static_cast<int64_t>(c.nat.udp_timeout_s)},
                  {"icmp_timeout_s", static_cast<int64_t>(c.nat.icmp_timeout_s)}};
  if (c.nat.gateway) nat.insert("gateway", c.nat.gateway->to_string());
  if (c.nat.snat_address) nat.insert("snat_address", c.nat.snat_address->to_string());
  if (!c.nat.egress_deny.empty()) {
    toml::array deny;
    for (const Ipv4Prefix& prefix : c.nat.egress_deny) deny.push_back(prefix.to_string());
    nat.insert("egress_deny", std::move(deny));
  }
  root.insert("nat", std::move(nat));
  toml::array mappings;
  for (const GatewayMappingConfig& g : c.gateway_mappings)
    mappings.push_back(toml::table{{"underlay", g.underlay.to_string()}, {"public", g.public_ip.to_string()}});
  if (!mappings.empty()) root.insert("gateway_mapping", std::move(mappings));
  toml::array fips;
  for (const FipConfig& f : c.fips)
    fips.push_back(
        toml::table{{"public", f.public_ip.to_string()}, {"fixed", f.fixed.to_string()}, {"network", f.network}});
  if (!fips.empty()) root.insert("fip", std::move(fips));
  std::ostringstream out;
  out << "# running configuration of inceptiond " INCEPTION_VERSION "\n" << root << "\n";
  return out.str();
}

}  // namespace inception
