// L2's control half: networks, their FDBs, static MACs, MAC learning and
// aging. The stage that reads it is dataplane/l2/.
#include <fmt/format.h>

#include <algorithm>

#include "control/controller_internal.h"
#include "inception/log.h"

namespace inception {

using controller_detail::check;
using controller_detail::free_index;

Controller::Network& Controller::network_or_throw(const std::string& name, const std::string& context) {
  auto it = networks_.find(name);
  if (it == networks_.end()) throw ControlError(fmt::format("{}network {} does not exist", context, name));
  return *it->second;
}

void Controller::publish_l2(Snapshot& snapshot) const {
  for (const auto& [name, network] : networks_) {
    NetworkView& view = snapshot.networks[network->index];
    view.fdb = network->fdb.get();
    view.vni = network->config.vni;
    for (const std::string& port_name : network->ports) view.local_ports.push_back(ports_.at(port_name)->index);
  }
}

void Controller::add_network(const NetworkConfig& config, bool from_cluster) {
  std::lock_guard lock(mutex_);
  check([&] { validate_network(config); });
  if (const auto it = networks_.find(config.name); it != networks_.end()) {
    Network& same = *it->second;
    bool& wanted = from_cluster ? same.cluster : same.manual;
    // One network, two sources that agree: adopted, so that neither source
    // deletes it while the other still wants it.
    if (!wanted && same.config.vni == config.vni) {
      wanted = true;
      log::info("network {}: typed here and a network of the cluster (VNI {})", config.name, config.vni);
      return;
    }
    if (!wanted)
      throw ControlError(fmt::format("network {} already exists here with VNI {} ({}); VNI {} refused", config.name,
                                     same.config.vni, same.manual ? "typed" : "from the cluster", config.vni));
    throw ControlError(fmt::format("network {} already exists", config.name));
  }
  std::vector<NetworkConfig> existing;
  for (const auto& [name, other] : networks_) existing.push_back(other->config);
  check([&] { validate_vni_unused(config, existing); });
  const auto index = free_index(network_at_);
  if (!index)
    throw ControlError(fmt::format("network {}: the switch has {} networks already", config.name, kMaxNetworks));
  auto network = std::make_unique<Network>();
  network->config = config;
  network->index = *index;
  network->manual = !from_cluster;
  network->cluster = from_cluster;
  try {
    network->fdb = std::make_unique<Fdb>(config.name, config.fdb_limit, dataplane_.worker_count(), dataplane_.rcu());
  } catch (const std::exception& e) {
    throw ControlError(e.what());
  }
  network->config.peers.clear();  // refilled by add_peer_locked
  Network& added = *network;
  network_at_[*index] = network.get();
  networks_.emplace(config.name, std::move(network));
  try {
    for (const Ipv4Address& peer : config.peers) add_peer_locked(added, peer);
    // A network added later reaches the cluster's members too.
    for (const auto& [ip, member] : cluster_peers_) add_peer_locked(added, ip, &member);
  } catch (...) {
    for (auto& [ip, peer] : added.peers) peer_at_[peer->index] = nullptr;
    network_at_[*index] = nullptr;
    networks_.erase(config.name);
    update_wanted_neighbors();
    throw;
  }
  publish();
  log::info({"network " + config.name, "added"}, "network {}: added (VNI {}, FDB limit {}){}", config.name, config.vni,
            config.fdb_limit, from_cluster ? " from the cluster" : "");
}

void Controller::del_network(const std::string& name, bool from_cluster) {
  std::lock_guard lock(mutex_);
  Network& network = network_or_throw(name, "");
  if (from_cluster ? !network.cluster : !network.manual)
    throw ControlError(
        from_cluster ? fmt::format("network {} is not a network of the cluster here", name)
                     : fmt::format("network {} comes from the cluster: `inceptionctl cluster network del {}` deletes "
                                   "it on every rVM",
                                   name, name));
  if (network.manual && network.cluster) {
    (from_cluster ? network.cluster : network.manual) = false;
    log::info("network {}: kept, as {}", name, from_cluster ? "typed here" : "the cluster's");
    return;
  }
  if (!network.ports.empty()) {
    std::string list;
    for (const auto& p : network.ports) list += (list.empty() ? "" : ", ") + p;
    throw ControlError(
        fmt::format("network {}: {} port(s) still attached ({}); delete them first", name, network.ports.size(), list));
  }
  check_routing_allows_network_del(name);
  auto owned = std::move(networks_.at(name));
  networks_.erase(name);
  network_at_[owned->index] = nullptr;
  routing_network_deleted(name);
  for (auto& [ip, peer] : owned->peers) peer_at_[peer->index] = nullptr;
  update_wanted_neighbors();
  publish();  // after this, no worker can reach the FDB freed with `owned`
  routing_forget_network(name, owned->index);
  log::info({"network " + name, "deleted"}, "network {}: deleted", name);
}

void Controller::add_static_mac(const std::string& network_name, const std::string& mac_text,
                                const std::string& port_name) {
  std::lock_guard lock(mutex_);
  Network& network = network_or_throw(network_name, fmt::format("fdb entry {}: ", mac_text));
  const auto mac = MacAddress::parse(mac_text);
  if (!mac) throw ControlError(fmt::format("'{}' is not a MAC address (expected aa:bb:cc:dd:ee:ff)", mac_text));
  check([&] { validate_static_mac_address(mac_text, *mac); });
  auto it = ports_.find(port_name);
  if (it == ports_.end()) throw ControlError(fmt::format("fdb entry {}: port {} does not exist", mac_text, port_name));
  if (it->second->network != network.index)
    throw ControlError(fmt::format("fdb entry {}: port {} is on network {}, not {}", mac_text, port_name,
                                   it->second->config.network, network_name));
  // A MAC that lives behind another port stays there: pointing it here
  // would silently black-hole that port's station. The operator deletes
  // the learned entry first if the station really moved.
  if (const auto entry = network.fdb->find(*mac, dataplane_.now_s()); entry && entry->port != it->second->index) {
    throw ControlError(fmt::format(
        "fdb entry {}: {} is {} on port {} (delete that entry first if it moved)", mac_text, mac->to_string(),
        entry->is_static ? "bound" : fmt::format("live ({} s ago)", entry->age_s), this->port_name(entry->port)));
  }
  try {
    network.fdb->add_static(*mac, it->second->index);
  } catch (const std::runtime_error& e) {
    throw ControlError(fmt::format("network {}: fdb entry {}: {}", network_name, mac_text, e.what()));
  }
}

void Controller::del_mac(const std::string& network_name, const std::string& mac_text) {
  std::lock_guard lock(mutex_);
  Network& network = network_or_throw(network_name, "");
  const auto mac = MacAddress::parse(mac_text);
  if (!mac) throw ControlError(fmt::format("'{}' is not a MAC address (expected aa:bb:cc:dd:ee:ff)", mac_text));
  if (!network.fdb->remove(*mac))
    throw ControlError(fmt::format("network {}: no FDB entry for {}", network_name, mac->to_string()));
}

NetworkStatus Controller::network_status(const Network& n) const {
  NetworkStatus s;
  s.config = n.config;
  s.manual = n.manual;
  s.cluster = n.cluster;
  s.ports = n.ports;
  s.fdb_dynamic = n.fdb->dynamic_count();
  s.fdb_static = n.fdb->static_count();
  s.fdb_limit_hits = n.fdb->limit_hits();
  s.fdb_port_limit_hits = n.fdb->port_limit_hits();
  s.fdb_moves = n.moves;
  s.index = n.index;
  routing_network_status(s);
  for (const auto& [ip, peer] : n.peers) s.peers.push_back(peer_status(n, *peer));
  return s;
}

std::vector<NetworkStatus> Controller::networks() {
  std::lock_guard lock(mutex_);
  std::vector<NetworkStatus> out;
  for (const auto& [name, n] : networks_) out.push_back(network_status(*n));
  return out;
}

NetworkStatus Controller::network(const std::string& name) {
  std::lock_guard lock(mutex_);
  return network_status(network_or_throw(name, ""));
}

std::vector<FdbRow> Controller::fdb(const std::optional<std::string>& network_name) {
  std::lock_guard lock(mutex_);
  std::vector<FdbRow> out;
  const uint32_t now = dataplane_.now_s();
  auto add = [&](const Network& network) {
    for (const FdbEntry& e : network.fdb->entries(now)) {
      std::optional<Ipv4Address> peer;
      if (peer_at_[e.port] != nullptr) peer = peer_at_[e.port]->ip;
      out.push_back({network.config.name, e.mac, port_name(e.port), peer, e.is_static, e.age_s});
    }
  };
  if (network_name) {
    add(network_or_throw(*network_name, ""));
  } else {
    for (const auto& [name, network] : networks_) add(*network);
  }
  std::sort(out.begin(), out.end(), [](const FdbRow& a, const FdbRow& b) {
    return std::tie(a.network, a.port, a.mac.bytes()) < std::tie(b.network, b.port, b.mac.bytes());
  });
  return out;
}

void Controller::running_l2_config(Config& c) const {
  c.networks.clear();
  c.static_macs.clear();
  for (const auto& [name, network] : networks_) {
    // The cluster's networks are etcd's to restore, not the file's.
    if (network->manual) c.networks.push_back(network->config);
    for (const FdbEntry& e : network->fdb->entries(0)) {
      if (!e.is_static) continue;
      if (port_at_[e.port]->origin.is_domain()) continue;
      const PortConfig& owner = port_at_[e.port]->config;
      const bool bound =
          owner.port_security_enabled() && std::find(owner.macs.begin(), owner.macs.end(), e.mac) != owner.macs.end();
      if (!bound) c.static_macs.push_back({name, e.mac, owner.name});  // [[port]] macs restores the rest
    }
  }
}

void Controller::handle_learn(const LearnRequest& request) {
  Network* network = network_at_[request.network];
  const Port* port = port_at_[request.port];
  const Peer* peer = peer_at_[request.port];
  // The port, peer or network may have gone since the worker asked.
  if (network == nullptr) return;
  if ((port == nullptr || port->network != request.network) && (peer == nullptr || peer->network != request.network))
    return;
  const MacAddress mac = MacAddress::from_key(request.mac_key);
  switch (network->fdb->learn(mac, request.port, dataplane_.now_s())) {
    case LearnResult::kMoved:
      ++network->moves;
      log::debug("network {}: {} moved to {}", network->config.name, mac.to_string(), port_name(request.port));
      break;
    case LearnResult::kLimitReached:
      log::debug("network {}: FDB full, {} on {} not learned", network->config.name, mac.to_string(),
                 port_name(request.port));
      break;
    case LearnResult::kPortLimitReached:
      log::debug("network {}: port {} holds its limit of MACs, {} not learned", network->config.name,
                 port_name(request.port), mac.to_string());
      break;
    default:
      break;
  }
}

size_t Controller::process_learn_requests() {
  std::lock_guard lock(mutex_);
  return dataplane_.drain_learn_requests([this](const LearnRequest& r) { handle_learn(r); });
}

size_t Controller::age_fdb() {
  std::lock_guard lock(mutex_);
  size_t aged = 0;
  const uint32_t now = dataplane_.now_s();
  for (const auto& [name, network] : networks_) aged += network->fdb->age(now, startup_.sw.mac_aging_s);
  expire_routing(now);
  return aged;
}

}  // namespace inception
