#include "control/config_reload.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <toml++/toml.h>
#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "inception/log.h"

namespace inception {

namespace {

std::string toml_value_text(const toml::node* node) {
  if (node == nullptr) return "(not set)";
  std::ostringstream out;
  if (const auto* s = node->as_string())
    out << "'" << s->get() << "'";
  else if (const auto* a = node->as_array())
    out << *a;
  else if (const auto* t = node->as_table())
    out << *t;
  else
    node->visit([&](const auto& v) { out << v; });
  return out.str();
}

// Key by key, what differs in `section` between the two documents.
// `skip`: keys the caller compares itself.
void restart_only(const toml::table& running, const toml::table& file, const std::string& section,
                  const std::set<std::string>& skip, std::vector<std::string>& out) {
  const toml::table* r = running[section].as_table();
  const toml::table* f = file[section].as_table();
  if (r == nullptr && f == nullptr) return;
  if (r == nullptr || f == nullptr) {
    out.push_back(fmt::format("[{}]: {} the file", section, r == nullptr ? "added in" : "removed from"));
    return;
  }
  std::set<std::string> keys;
  for (const auto& [key, value] : *r) keys.insert(std::string(key.str()));
  for (const auto& [key, value] : *f) keys.insert(std::string(key.str()));
  for (const std::string& key : keys) {
    if (skip.contains(key)) continue;
    const toml::node* a = r->get(key);
    const toml::node* b = f->get(key);
    const std::string before = toml_value_text(a), after = toml_value_text(b);
    if (before != after) out.push_back(fmt::format("[{}] {}: {} running, {} in the file", section, key, before, after));
  }
}

// The objects of one kind, by key, running and in the file.
template <typename T, typename Key>
struct Diff {
  std::map<Key, T> gone, added;  // `changed` ones are in both
};

template <typename T, typename KeyOf>
auto diff(const std::vector<T>& running, const std::vector<T>& file, KeyOf key_of) {
  using Key = decltype(key_of(running.front()));
  std::map<Key, T> before, after;
  for (const T& x : running) before.emplace(key_of(x), x);
  for (const T& x : file) after.emplace(key_of(x), x);
  Diff<T, Key> d;
  for (const auto& [k, x] : before) {
    const auto it = after.find(k);
    if (it == after.end() || !(it->second == x)) d.gone.emplace(k, x);
  }
  for (const auto& [k, x] : after) {
    const auto it = before.find(k);
    if (it == before.end() || !(it->second == x)) d.added.emplace(k, x);
  }
  return d;
}

std::string network_add_command(const NetworkConfig& n) {
  std::string out = fmt::format("network add {} --vni {} --fdb-limit {} --neighbor-limit {}", n.name, n.vni,
                                n.fdb_limit, n.neighbor_limit);
  for (const Ipv4Address& peer : n.peers) out += " --peer " + peer.to_string();
  if (n.hub) out += " --hub";
  return out;
}

std::string port_add_command(const PortConfig& p) {
  std::string out = fmt::format("port add {} --type {} --network {}", p.name,
                                p.type == PortType::kKernel ? "kernel" : "vhost-user", p.network);
  if (p.type == PortType::kVhostUser) {
    out += " --socket " + p.socket + (p.server ? " --server" : "") + fmt::format(" --queues {}", p.queues);
    if (!p.offloads) out += " --offloads off";
    if (!p.coalesce) out += " --coalesce off";
  }
  for (const MacAddress& mac : p.macs) out += " --mac " + mac.to_string();
  for (const Ipv4Prefix& ip : p.ips) out += " --ip " + ip.to_string();
  if (p.port_security == false) out += " --no-port-security";
  if (p.mac_limit != 0) out += fmt::format(" --mac-limit {}", p.mac_limit);
  return out;
}

bool same_snat(const NatConfig& a, const NatConfig& b) {
  return a.snat_address == b.snat_address && a.snat_port_min == b.snat_port_min && a.snat_port_max == b.snat_port_max &&
         a.max_sessions == b.max_sessions && a.max_sessions_per_network == b.max_sessions_per_network &&
         a.max_sessions_per_source == b.max_sessions_per_source &&
         a.tcp_established_timeout_s == b.tcp_established_timeout_s &&
         a.tcp_transitory_timeout_s == b.tcp_transitory_timeout_s && a.udp_timeout_s == b.udp_timeout_s &&
         a.icmp_timeout_s == b.icmp_timeout_s;
}

}  // namespace

ReloadPlan plan_reload(const Config& running, const Config& file) {
  ReloadPlan plan;
  const toml::table r = toml::parse(to_toml(running));
  const toml::table f = toml::parse(to_toml(file));
  for (const char* section : {"dpdk", "switch", "control", "metrics", "underlay", "libvirt", "cluster"})
    restart_only(r, f, section, {}, plan.needs_restart);
  // SNAT's settings and the gateway have live setters; the rest of [nat] not.
  std::set<std::string> live_nat = {"snat_address",
                                    "snat_ports",
                                    "max_sessions",
                                    "max_sessions_per_network",
                                    "max_sessions_per_source",
                                    "tcp_established_timeout_s",
                                    "tcp_transitory_timeout_s",
                                    "udp_timeout_s",
                                    "icmp_timeout_s"};
  const bool gateway_live = running.cluster.enabled || (file.nat.gateway.has_value() && running.nat.gateway);
  if (gateway_live) live_nat.insert("gateway");
  restart_only(r, f, "nat", live_nat, plan.needs_restart);
  if (!plan.needs_restart.empty()) return plan;

  auto step = [&plan](std::string command, std::function<void(Controller&)> apply) {
    plan.steps.push_back({std::move(command), std::move(apply)});
  };

  const auto networks = diff(running.networks, file.networks, [](const NetworkConfig& n) { return n.name; });
  // Only the peers differ: peer by peer. Anything else: the network again.
  std::set<std::string> recreated;
  std::map<std::string, std::pair<std::vector<Ipv4Address>, std::vector<Ipv4Address>>> peer_changes;
  for (const auto& [name, before] : networks.gone) {
    const auto it = networks.added.find(name);
    if (it == networks.added.end()) continue;
    NetworkConfig a = before, b = it->second;
    a.peers.clear();
    b.peers.clear();
    if (!(a == b)) {
      recreated.insert(name);
      continue;
    }
    auto& [del, add] = peer_changes[name];
    for (const Ipv4Address& p : before.peers)
      if (std::find(it->second.peers.begin(), it->second.peers.end(), p) == it->second.peers.end()) del.push_back(p);
    for (const Ipv4Address& p : it->second.peers)
      if (std::find(before.peers.begin(), before.peers.end(), p) == before.peers.end()) add.push_back(p);
  }
  const auto on_recreated = [&recreated](const std::string& network) { return recreated.contains(network); };

  // What lives on a network that goes and comes back goes and comes back too.
  auto with_recreated = [&](auto d, const auto& running_list, const auto& file_list, auto key_of, auto network_of) {
    for (const auto& x : running_list)
      if (on_recreated(network_of(x))) d.gone.emplace(key_of(x), x);
    for (const auto& x : file_list)
      if (on_recreated(network_of(x))) d.added.emplace(key_of(x), x);
    return d;
  };
  const auto fip_key = [](const FipConfig& x) { return x.public_ip; };
  const auto fips = with_recreated(diff(running.fips, file.fips, fip_key), running.fips, file.fips, fip_key,
                                   [](const FipConfig& x) { return x.network; });
  const auto router_key = [](const RouterConfig& x) { return x.network; };
  const auto routers = with_recreated(diff(running.routers, file.routers, router_key), running.routers, file.routers,
                                      router_key, [](const RouterConfig& x) { return x.network; });
  const auto mac_key = [](const StaticMacConfig& x) { return std::make_pair(x.network, x.mac.key()); };
  const auto macs = with_recreated(diff(running.static_macs, file.static_macs, mac_key), running.static_macs,
                                   file.static_macs, mac_key, [](const StaticMacConfig& x) { return x.network; });
  const auto port_key = [](const PortConfig& x) { return x.name; };
  const auto ports = with_recreated(diff(running.ports, file.ports, port_key), running.ports, file.ports, port_key,
                                    [](const PortConfig& x) { return x.network; });
  const auto mappings =
      diff(running.gateway_mappings, file.gateway_mappings, [](const GatewayMappingConfig& x) { return x.underlay; });
  const auto neighbors = diff(running.neighbors, file.neighbors, [](const NeighborConfig& x) { return x.ip; });
  const bool snat_changed = !same_snat(running.nat, file.nat);

  // Down, from what depends on the others to what they depend on.
  if (snat_changed && running.nat.snat_address && !file.nat.snat_address)
    step("nat snat off", [](Controller& c) { c.snat_off(); });
  for (const auto& [k, x] : fips.gone)
    step("fip del " + x.public_ip.to_string(), [ip = x.public_ip.to_string()](Controller& c) { c.del_fip(ip); });
  for (const auto& [k, x] : mappings.gone)
    step("gateway del " + x.underlay.to_string(),
         [u = x.underlay.to_string()](Controller& c) { c.del_gateway_mapping(u); });
  for (const auto& [k, x] : routers.gone)
    step("router del " + x.network, [n = x.network](Controller& c) { c.del_router(n); });
  for (const auto& [k, x] : macs.gone)
    step(fmt::format("fdb del {} {}", x.network, x.mac.to_string()),
         [x = x](Controller& c) { c.del_mac(x.network, x.mac.to_string()); });
  for (const auto& [k, x] : ports.gone) step("port del " + x.name, [n = x.name](Controller& c) { c.del_port(n); });
  for (const auto& [name, change] : peer_changes)
    for (const Ipv4Address& p : change.first)
      step(fmt::format("peer del {} {}", name, p.to_string()),
           [name = name, ip = p.to_string()](Controller& c) { c.del_peer(name, ip); });
  for (const auto& [name, x] : networks.gone)
    if (!networks.added.contains(name) || recreated.contains(name))
      step("network del " + name, [name = name](Controller& c) { c.del_network(name); });
  for (const auto& [k, x] : neighbors.gone)
    step("neigh del " + x.ip.to_string(), [ip = x.ip.to_string()](Controller& c) { c.del_neighbor(ip); });

  // And up again.
  for (const auto& [k, x] : neighbors.added)
    step(fmt::format("neigh add {} {}", x.ip.to_string(), x.mac.to_string()),
         [x = x](Controller& c) { c.add_neighbor(x.ip.to_string(), x.mac.to_string()); });
  for (const auto& [name, x] : networks.added)
    if (!networks.gone.contains(name) || recreated.contains(name))
      step(network_add_command(x), [x = x](Controller& c) { c.add_network(x); });
  for (const auto& [name, change] : peer_changes)
    for (const Ipv4Address& p : change.second)
      step(fmt::format("peer add {} {}", name, p.to_string()),
           [name = name, ip = p.to_string()](Controller& c) { c.add_peer(name, ip); });
  for (const auto& [k, x] : ports.added) step(port_add_command(x), [x = x](Controller& c) { c.add_port(x); });
  for (const auto& [k, x] : macs.added)
    step(fmt::format("fdb add {} {} {}", x.network, x.mac.to_string(), x.port),
         [x = x](Controller& c) { c.add_static_mac(x.network, x.mac.to_string(), x.port); });
  for (const auto& [k, x] : routers.added)
    step(fmt::format("router add {} {}", x.network, x.address.to_string()),
         [x = x](Controller& c) { c.add_router(x.network, x.address.to_string()); });
  for (const auto& [k, x] : mappings.added)
    step(fmt::format("gateway add {} --public {}", x.underlay.to_string(), x.public_ip.to_string()),
         [x = x](Controller& c) { c.add_gateway_mapping(x.underlay.to_string(), x.public_ip.to_string()); });
  if (!running.cluster.enabled && file.nat.gateway && running.nat.gateway != file.nat.gateway)
    step("nat gateway " + file.nat.gateway->to_string(),
         [g = *file.nat.gateway](Controller& c) { c.set_nat_gateway(g); });
  if (snat_changed && file.nat.snat_address) {
    const NatConfig& nat = file.nat;
    step(fmt::format("nat snat set {} --ports {}-{} --max-sessions {}", nat.snat_address->to_string(),
                     nat.snat_port_min, nat.snat_port_max, nat.max_sessions),
         [nat](Controller& c) { c.set_snat(nat); });
  }
  for (const auto& [k, x] : fips.added)
    step(fmt::format("fip add {} --fixed {} --network {}", x.public_ip.to_string(), x.fixed.to_string(), x.network),
         [x = x](Controller& c) { c.add_fip(x.public_ip.to_string(), x.fixed.to_string(), x.network); });
  return plan;
}

ModuleCommands reload_commands(Controller& controller, std::function<Config()> load, std::string source) {
  ModuleCommands commands;
  commands["config.reload"] = [&controller, load = std::move(load),
                               source = std::move(source)](const nlohmann::json& args) -> nlohmann::json {
    const bool dry_run = args.is_object() && args.value("dry_run", false);
    Config file;
    try {
      file = load();
    } catch (const ConfigError& e) {
      throw ControlError(fmt::format("config reload: {}; nothing applied", e.what()));
    }
    const ReloadPlan plan = plan_reload(controller.running_config(), file);
    if (!plan.needs_restart.empty())
      throw ControlError(fmt::format("config reload: {}: a restart is needed for (nothing applied):\n  {}", source,
                                     fmt::join(plan.needs_restart, "\n  ")));
    nlohmann::json steps = nlohmann::json::array();
    for (const ReloadStep& s : plan.steps) steps.push_back(s.command);
    if (!dry_run) {
      for (size_t i = 0; i < plan.steps.size(); ++i) {
        try {
          plan.steps[i].apply(controller);
        } catch (const std::exception& e) {
          std::vector<std::string> applied, left;
          for (size_t j = 0; j < plan.steps.size(); ++j) (j < i ? applied : left).push_back(plan.steps[j].command);
          left.erase(left.begin());
          throw ControlError(
              fmt::format("config reload: {}: '{}' refused: {}\n  applied before it: {}\n  not applied: {}", source,
                          plan.steps[i].command, e.what(),
                          applied.empty() ? "nothing" : fmt::format("{}", fmt::join(applied, "; ")),
                          left.empty() ? "nothing" : fmt::format("{}", fmt::join(left, "; "))));
        }
      }
      if (!plan.steps.empty())
        log::info("config reload: {}: {} change(s) applied: {}", source, plan.steps.size(), fmt::join(steps, "; "));
    }
    return {{"source", source}, {"dry_run", dry_run}, {"steps", steps}};
  };
  return commands;
}

}  // namespace inception
