// The TOML file as a whole: the switch's own sections ([dpdk], [switch],
// [control], [metrics], [libvirt]), the order sections are read in, the
// references between them, and printing a Config back. Each feature's
// sections are parsed in its folder (control/config_reader.h).
#include "control/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "control/config_reader.h"
#include "inception/counters.h"
#include "inception/errors.h"
#include "inception/log.h"
#include "inception/types.h"

namespace inception {

using namespace config_detail;

namespace {

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
  if (const toml::table* t = sub_table(r, "cluster")) {
    TableReader c(*t, "[cluster]", source_name);
    ClusterConfig& cluster = config.cluster;
    cluster.enabled = true;
    cluster.endpoints = c.strings("endpoints").value_or(std::vector<std::string>{});
    cluster.name = c.string("name").value_or("");
    if (auto v = c.integer("lease_ttl", kLeaseTtlRange.min, kLeaseTtlRange.max)) cluster.lease_ttl_s = *v;
    if (auto v = c.string("prefix")) cluster.prefix = *v;
    if (auto v = c.string("data_center")) cluster.data_center = *v;
    if (auto v = c.strings("roles")) cluster.roles = *v;
    if (auto v = c.string("gateway_hook")) cluster.gateway_hook = *v;
    if (auto v = c.string("public_vtep")) {
      cluster.public_vtep = Ipv4Address::parse(*v);
      if (!cluster.public_vtep)
        c.fail_at(*t->get("public_vtep"), fmt::format("[cluster] public_vtep '{}' is not an IPv4 address", *v));
    }
    c.finish();
    if (!t->contains("endpoints")) c.fail("missing required key 'endpoints'");
    if (!t->contains("name")) c.fail("missing required key 'name'");
    try {
      validate_cluster(cluster, config.underlay);
    } catch (const KeyConfigError& e) {
      c.check(e.key(), [&] { throw ConfigError(e.what()); });
    }
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
    config.gateway_mappings.push_back(parse_gateway_mapping(t, source_name, i, config));
  });
  each_array_table(
      r, "fip", [&](const toml::table& t, size_t i) { config.fips.push_back(parse_fip(t, source_name, i, config)); });
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
  for (auto n = config.networks.begin(); n != config.networks.end(); ++n) {
    if (!networks.insert(n->name).second)
      throw ConfigError(fmt::format("{}: network {} is defined twice", source_name, n->name));
    try {
      validate_vni_unused(*n, {config.networks.begin(), n});
    } catch (const ConfigError& e) {
      throw ConfigError(fmt::format("{}: {}", source_name, e.what()));
    }
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
  if (c.cluster.enabled)
    root.insert("cluster", toml::table{{"endpoints", string_array(c.cluster.endpoints)},
                                       {"name", c.cluster.name},
                                       {"lease_ttl", static_cast<int64_t>(c.cluster.lease_ttl_s)},
                                       {"prefix", c.cluster.prefix},
                                       {"data_center", c.cluster.data_center},
                                       {"roles", string_array(c.cluster.roles)}});
  if (c.cluster.enabled && !c.cluster.gateway_hook.empty())
    root["cluster"].as_table()->insert("gateway_hook", c.cluster.gateway_hook);
  if (c.cluster.enabled && c.cluster.public_vtep)
    root["cluster"].as_table()->insert("public_vtep", c.cluster.public_vtep->to_string());
  vxlan_to_toml(c, root);
  l2_to_toml(c, root);
  ports_to_toml(c, root);
  router_to_toml(c, root);
  std::ostringstream out;
  out << "# running configuration of inceptiond " INCEPTION_VERSION "\n" << root << "\n";
  return out.str();
}

}  // namespace inception
