// VXLAN's control half: the underlay (the rVM's NIC and its host
// interface), each network's peers, and the underlay neighbor table that
// resolves their next hops (docs/vxlan.md). The stages that read it are
// dataplane/vxlan/ and dataplane/underlay/.
#include <fmt/format.h>

#include <set>

#include "control/controller_internal.h"
#include "dataplane/arp.h"
#include "dataplane/vxlan/vxlan.h"
#include "inception/log.h"

namespace inception {

using controller_detail::check;

void Controller::apply_underlay(const Config& config) {
  if (!config.underlay.enabled) return;
  std::lock_guard lock(mutex_);
  const UnderlayConfig& u = config.underlay;
  underlay_ = UnderlayPort::create(u.device, u.host_interface, u.mtu, dataplane_.worker_count(), dataplane_.mempool());
  underlay_index_ = 0;
  underlay_baseline_ = port_totals(underlay_index_);
  if (underlay_->host() != nullptr) {
    host_index_ = 1;
    host_baseline_ = port_totals(host_index_);
    pinned_mbufs_ += KernelPort::pinned_mbufs(dataplane_.worker_count());
  }
  for (const NeighborConfig& n : config.neighbors) neighbors_.add_static(n.ip, n.mac);
  publish();
  log::info("underlay: VTEP {} on {}, overlay MTU {}", u.address.to_string(), u.device, u.mtu - kVxlanOverhead);
}

void Controller::publish_underlay(Snapshot& snapshot) const {
  if (!underlay_) return;
  const unsigned workers = dataplane_.worker_count();
  UnderlayView& u = snapshot.underlay;
  const UnderlayConfig& config = startup_.underlay;
  u.enabled = true;
  u.port = underlay_index_;
  u.host = host_index_;
  u.local_ip = config.address.address.network_order();
  u.vxlan_port = rte_cpu_to_be_16(config.vxlan_port);
  u.mac = underlay_->mac();
  u.mtu = config.mtu;
  u.overlay_mtu = static_cast<uint16_t>(config.mtu - kVxlanOverhead);
  for (const NeighborEntry& neighbor : neighbors_.entries()) u.wanted_neighbors.insert(neighbor.ip.value(), 1);
  PortView& nic = snapshot.ports[underlay_index_];
  nic.present = true;
  nic.role = PortRole::kUnderlay;
  nic.kind = PortKind::kEthdev;
  nic.ethdev_id = underlay_->ethdev_id();
  for (uint16_t q = 0; q < underlay_->rx_queues(); ++q) snapshot.poll[q % workers].push_back({underlay_index_, q});
  if (const KernelPort* host = underlay_->host()) {
    PortView& view = snapshot.ports[host_index_];
    view.present = true;
    view.role = PortRole::kHost;
    view.kind = PortKind::kEthdev;
    view.ethdev_id = host->ethdev_id();
    for (uint16_t q = 0; q < host->queues(); ++q) snapshot.poll[q % workers].push_back({host_index_, q});
  }
  for (const auto& [name, network] : networks_) {
    u.network_of_vni.insert(network->config.vni, network->index);
    NetworkView& view = snapshot.networks[network->index];
    for (const auto& [ip, peer] : network->peers) {
      view.peer_ports.push_back(peer->index);
      u.peer_of.insert(UnderlayView::peer_key(network->config.vni, ip.value()), peer->index);
      PortView& pv = snapshot.ports[peer->index];
      pv.present = true;
      pv.kind = PortKind::kVxlanPeer;
      pv.role = PortRole::kSwitch;
      pv.is_peer = true;
      pv.horizon = horizon_of(*network, *peer);
      pv.network = network->index;
      pv.ethdev_id = underlay_->ethdev_id();
      const auto hop = next_hop(ip);
      const auto mac = hop ? neighbors_.lookup(*hop) : std::nullopt;
      pv.resolved = mac.has_value();
      if (mac)
        pv.tunnel = make_vxlan_template(underlay_->mac(), mac->bytes(), startup_.underlay.address.address.value(),
                                        ip.value(), startup_.underlay.vxlan_port, network->config.vni);
    }
  }
}

uint8_t Controller::horizon_of(const Network& network, const Peer& peer) {
  // Another data center's gateway is a group of its own on a typed hub
  // network too: the hub relays to it, and it only ever sends what its side
  // needs.
  // The cluster's star puts its hub's peers in none.
  if (peer.cluster && peer.member.horizon != kMeshHorizon) return peer.member.horizon;
  return network.config.hub ? kNoHorizon : kMeshHorizon;
}

std::optional<Ipv4Address> Controller::next_hop(Ipv4Address peer) const {
  if (startup_.underlay.address.contains(peer)) return peer;
  return startup_.underlay.gateway;
}

void Controller::update_wanted_neighbors() {
  std::set<Ipv4Address> hops;
  for (const auto& [name, network] : networks_)
    for (const auto& [ip, peer] : network->peers)
      if (const auto hop = next_hop(ip)) hops.insert(*hop);
  if (nat_needs_underlay_gateway() && startup_.underlay.gateway) hops.insert(*startup_.underlay.gateway);
  neighbors_.set_wanted(hops, now_ms());
}

void Controller::add_peer_locked(Network& network, Ipv4Address ip, const ClusterPeer* member) {
  const std::string context = fmt::format("network {}: peer {}", network.config.name, ip.to_string());
  const bool manual = member == nullptr;
  if (const auto it = network.peers.find(ip); it != network.peers.end()) {
    Peer& peer = *it->second;
    // Typed twice: validate_peer says so, in its words.
    if (manual && peer.manual)
      check([&] { validate_peer(network.config.name, ip, network.config.peers, startup_.underlay); });
    if (manual) {
      peer.manual = true;
      network.config.peers.push_back(ip);
    } else {
      peer.cluster = true;
      peer.member = *member;
    }
    return;
  }
  check([&] { validate_peer(network.config.name, ip, network.config.peers, startup_.underlay); });
  const auto index = free_port_index();
  if (!index) throw ControlError(fmt::format("{}: the switch has {} ports already", context, kMaxPorts));
  auto peer = std::make_unique<Peer>();
  peer->network = network.index;
  peer->ip = ip;
  peer->index = *index;
  peer->baseline = port_totals(*index);
  peer->manual = manual;
  peer->cluster = !manual;
  if (member) peer->member = *member;
  peer_at_[*index] = peer.get();
  network.peers.emplace(ip, std::move(peer));
  if (manual) network.config.peers.push_back(ip);
  update_wanted_neighbors();
}

void Controller::remove_peer(Network& network, Ipv4Address ip) {
  auto owned = std::move(network.peers.at(ip));
  network.peers.erase(ip);
  std::erase(network.config.peers, ip);
  peer_at_[owned->index] = nullptr;
  update_wanted_neighbors();
  publish();
  dataplane_.drain_learn_requests([this](const LearnRequest& r) { handle_learn(r); });
  network.fdb->flush_port(owned->index);
}

void Controller::add_peer(const std::string& network_name, const std::string& ip_text) {
  std::lock_guard lock(mutex_);
  Network& network = network_or_throw(network_name, "");
  Ipv4Address ip;
  check([&] { ip = parse_peer_address(network_name, ip_text); });
  add_peer_locked(network, ip);
  publish();
  log::info({"peer " + ip.to_string(), "added"}, "network {}: peer {} added", network_name, ip.to_string());
}

void Controller::del_peer(const std::string& network_name, const std::string& ip_text) {
  std::lock_guard lock(mutex_);
  Network& network = network_or_throw(network_name, "");
  const auto ip = Ipv4Address::parse(ip_text);
  if (!ip || !network.peers.contains(*ip))
    throw ControlError(fmt::format("network {}: no peer {}", network_name, ip_text));
  Peer& peer = *network.peers.at(*ip);
  if (!peer.manual)
    throw ControlError(fmt::format("network {}: peer {} comes from the cluster: it goes when its member leaves",
                                   network_name, ip->to_string()));
  if (peer.cluster) {
    peer.manual = false;
    std::erase(network.config.peers, *ip);
    log::info("network {}: peer {} is no longer typed; it stays as a cluster member's", network_name, ip->to_string());
    return;
  }
  remove_peer(network, *ip);
  log::info({"peer " + ip->to_string(), "deleted"}, "network {}: peer {} deleted", network_name, ip->to_string());
}

std::map<Ipv4Address, std::string> Controller::set_cluster_peers(const std::map<Ipv4Address, ClusterPeer>& wanted) {
  std::lock_guard lock(mutex_);
  std::map<Ipv4Address, std::string> refused;
  std::map<Ipv4Address, ClusterPeer> accepted;
  for (const auto& [ip, member] : wanted) {
    // The rule is the same for every network but names it: judged once,
    // with an empty list (a typed peer of the same address is no conflict).
    try {
      validate_peer("*", ip, {}, startup_.underlay);
      accepted.emplace(ip, member);
    } catch (const ConfigError& e) {
      refused.emplace(ip, e.what());
    }
  }
  for (auto& [name, network] : networks_) {
    for (const auto& [ip, member] : accepted) {
      try {
        add_peer_locked(*network, ip, &member);
      } catch (const ControlError& e) {
        refused.emplace(ip, e.what());  // out of port indices
      }
    }
    for (const auto& [ip, member] : cluster_peers_) {
      if (accepted.contains(ip)) continue;
      const auto it = network->peers.find(ip);
      if (it == network->peers.end()) continue;
      if (it->second->manual) {
        it->second->cluster = false;
      } else {
        remove_peer(*network, ip);
      }
    }
  }
  auto describe = [](Ipv4Address ip, const ClusterPeer& p) {
    if (p.data_center.empty()) return ip.to_string();
    return fmt::format("{} (gateway {} of data center {}, VTEP {} there)", ip.to_string(), p.member, p.data_center,
                       p.vtep.to_string());
  };
  for (const auto& [ip, member] : accepted)
    if (!cluster_peers_.contains(ip)) log::info("cluster: peer {} added to every network", describe(ip, member));
  for (const auto& [ip, member] : cluster_peers_)
    if (!accepted.contains(ip)) log::info("cluster: peer {} removed from every network", describe(ip, member));
  cluster_peers_ = std::move(accepted);
  publish();
  return refused;
}

void Controller::add_neighbor(const std::string& ip_text, const std::string& mac_text) {
  std::lock_guard lock(mutex_);
  const auto ip = Ipv4Address::parse(ip_text);
  if (!ip) throw ControlError(fmt::format("neighbor '{}' is not an IPv4 address", ip_text));
  const auto mac = MacAddress::parse(mac_text);
  if (!mac || mac->is_multicast() || mac->is_zero())
    throw ControlError(fmt::format("neighbor {}: '{}' is not a unicast MAC address", ip_text, mac_text));
  check([&] { validate_neighbor({*ip, *mac}, startup_.underlay); });
  neighbors_.add_static(*ip, *mac);
  publish();
}

void Controller::del_neighbor(const std::string& ip_text) {
  std::lock_guard lock(mutex_);
  const auto ip = Ipv4Address::parse(ip_text);
  if (!ip || !neighbors_.remove_static(*ip)) throw ControlError(fmt::format("neighbor {}: no static entry", ip_text));
  update_wanted_neighbors();
  publish();
}

std::vector<NeighborEntry> Controller::neighbors() {
  std::lock_guard lock(mutex_);
  return neighbors_.entries();
}

void Controller::tick_underlay() {
  std::lock_guard lock(mutex_);
  const uint32_t now = now_ms();
  bool changed = false;
  dataplane_.drain_punted([&](const PuntedFrame& frame) {
    const auto arp = parse_arp(frame.m);
    if (!arp) return;
    if (frame.network != kInvalidNetwork) return learn_overlay_neighbor(frame, *arp);
    // Underlay ARP: only for next hops the switch resolves (workers punt
    // nothing else), never into an overlay table.
    const MacAddress mac(arp->sender_mac);
    if (!underlay_ || mac.is_multicast() || mac.is_zero() || arp->sender_ip == 0) return;
    changed |= neighbors_.learn(Ipv4Address(arp->sender_ip), mac, now);
  });
  if (!underlay_) return;
  changed |= neighbors_.expire(now);
  for (const Ipv4Address& ip : neighbors_.due_requests(now)) {
    rte_mbuf* request =
        make_arp_request(dataplane_.mempool(), underlay_->mac(), startup_.underlay.address.address.value(), ip.value());
    if (request == nullptr || !underlay_->control_tx(request))
      log::warning("underlay: could not send an ARP request for {}", ip.to_string());
  }
  if (changed) {
    publish();
    for (const NeighborEntry& e : neighbors_.entries())
      log::debug("neighbor {} is {}", e.ip.to_string(), e.mac ? e.mac->to_string() : "unresolved");
  }
}

PeerStatus Controller::peer_status(const Network& network, const Peer& peer) const {
  PeerStatus s;
  s.network = network.config.name;
  s.ip = peer.ip;
  s.manual = peer.manual;
  s.cluster = peer.cluster;
  s.member = peer.member;
  const auto hop = next_hop(peer.ip);
  if (hop) s.next_hop = *hop;
  s.resolved = hop && neighbors_.lookup(*hop).has_value();
  s.totals = port_totals(peer.index) - peer.baseline;
  return s;
}

std::optional<UnderlayStatus> Controller::underlay_status() const {
  if (!underlay_) return std::nullopt;
  UnderlayStatus u;
  u.device = startup_.underlay.device;
  u.mac = MacAddress(underlay_->mac());
  u.host_interface = underlay_->host() ? startup_.underlay.host_interface : "";
  u.nic = port_totals(underlay_index_) - underlay_baseline_;
  if (underlay_->host()) u.host = port_totals(host_index_) - host_baseline_;
  return u;
}

}  // namespace inception
