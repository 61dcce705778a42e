#include "control/controller.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>

#include "dataplane/arp.h"
#include "dataplane/vxlan/vxlan.h"
#include "dataplane/worker/rate_limit.h"
#include "inception/log.h"

namespace inception {

namespace {

std::string owned_by_domain(const Origin& origin) {
  return fmt::format(
      "plugged by libvirt for domain {} ({}); it goes when the domain stops or its interface is unplugged "
      "(--force removes it now, and the next libvirt resync plugs it again while the domain runs)",
      origin.domain, origin.uuid);
}

template <typename T, size_t N>
std::optional<uint16_t> free_index(const std::array<T*, N>& slots) {
  for (size_t i = 0; i < N; ++i)
    if (slots[i] == nullptr) return static_cast<uint16_t>(i);
  return std::nullopt;
}

uint64_t steady_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

// Every network shares one neighbor hash; each network's limit bounds its share.
constexpr uint32_t kOverlayNeighborCapacity = 65536;

// Destinations no routed packet may leave for, whatever the configuration
// adds (docs/security.md). The reality cloud's metadata services answer on
// link-local addresses (169.254.169.254 on AWS, GCP, Azure, OpenStack;
// 100.100.100.200 on Alibaba) with the rVM's own credentials.
std::vector<Ipv4Prefix> builtin_egress_deny() {
  std::vector<Ipv4Prefix> out;
  for (const char* text :
       {"0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "100.100.100.200/32", "224.0.0.0/4", "240.0.0.0/4"})
    out.push_back(*Ipv4Prefix::parse(text));
  return out;
}

// Runs a rule of config.h: the loader and inceptionctl refuse the same
// thing with the same words.
template <typename Rule>
void check(Rule&& rule) {
  try {
    rule();
  } catch (const ConfigError& e) {
    throw ControlError(e.what());
  }
}

PortTotals operator-(const PortTotals& a, const PortTotals& b) {
  PortTotals d;
  d.rx_packets = a.rx_packets - b.rx_packets;
  d.rx_bytes = a.rx_bytes - b.rx_bytes;
  d.tx_packets = a.tx_packets - b.tx_packets;
  d.tx_bytes = a.tx_bytes - b.tx_bytes;
  d.flood_packets = a.flood_packets - b.flood_packets;
  for (size_t r = 0; r < kDropReasonCount; ++r) d.drops[r] = a.drops[r] - b.drops[r];
  return d;
}

}  // namespace

Controller::Controller(const Config& startup, Dataplane& dataplane)
    : startup_(startup),
      dataplane_(dataplane),
      neighbors_(startup.underlay.neighbor_timeout_s),
      start_ms_(steady_ms()) {}

uint32_t Controller::now_ms() const {
  return static_cast<uint32_t>(steady_ms() - start_ms_);
}

std::optional<PortIndex> Controller::free_port_index() const {
  for (PortIndex i = 0; i < kMaxPorts; ++i)
    if (port_at_[i] == nullptr && peer_at_[i] == nullptr && i != underlay_index_ && i != host_index_) return i;
  return std::nullopt;
}

Controller::~Controller() {
  remove_all_ports();
}

void Controller::apply(const Config& config) {
  if (config.underlay.enabled) {
    std::lock_guard lock(mutex_);
    const UnderlayConfig& u = config.underlay;
    underlay_ =
        UnderlayPort::create(u.device, u.host_interface, u.mtu, dataplane_.worker_count(), dataplane_.mempool());
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
  for (const NetworkConfig& n : config.networks) add_network(n);
  for (const PortConfig& p : config.ports) add_port(p);
  for (const StaticMacConfig& s : config.static_macs) add_static_mac(s.network, s.mac.to_string(), s.port);
  {
    std::lock_guard lock(mutex_);
    for (const RouterConfig& r : config.routers) routers_[r.network] = r;
    if (underlay_) {
      const uint32_t vtep = startup_.underlay.address.address.value();
      router_mac_ = {0x02,
                     0x49,
                     0x4e,
                     static_cast<uint8_t>(vtep >> 16),
                     static_cast<uint8_t>(vtep >> 8),
                     static_cast<uint8_t>(vtep)};
    } else {
      router_mac_ = {0x02, 0x49, 0x4e, 0x00, 0x00, 0x01};
    }
    if (!routers_.empty() || !config.fips.empty())
      overlay_neighbors_ = std::make_unique<OverlayNeighbors>(kOverlayNeighborCapacity, dataplane_.rcu());
    egress_deny_ = builtin_egress_deny();
    if (underlay_) egress_deny_.push_back(startup_.underlay.address);
    egress_deny_.insert(egress_deny_.end(), config.nat.egress_deny.begin(), config.nat.egress_deny.end());
    if (config.nat.snat_address) {
      nat::SnatConfig snat;
      snat.address = config.nat.snat_address->network_order();
      snat.port_min = config.nat.snat_port_min;
      snat.port_max = config.nat.snat_port_max;
      snat.max_sessions = config.nat.max_sessions;
      snat.max_per_network = config.nat.max_sessions_per_network;
      snat.max_per_source = config.nat.max_sessions_per_source;
      snat.tcp_established_timeout_s = config.nat.tcp_established_timeout_s;
      snat.tcp_transitory_timeout_s = config.nat.tcp_transitory_timeout_s;
      snat.udp_timeout_s = config.nat.udp_timeout_s;
      snat.icmp_timeout_s = config.nat.icmp_timeout_s;
      snat_ = std::make_unique<nat::SnatTable>(snat, dataplane_.worker_count(), dataplane_.rcu());
      log::info("nat: SNAT on {} ports {}-{}, up to {} sessions", config.nat.snat_address->to_string(), snat.port_min,
                snat.port_max, snat.max_sessions);
    }
    update_wanted_neighbors();
    publish();
  }
  for (const GatewayMappingConfig& g : config.gateway_mappings)
    add_gateway_mapping(g.underlay.to_string(), g.public_ip.to_string());
  for (const FipConfig& f : config.fips) add_fip(f.public_ip.to_string(), f.fixed.to_string(), f.network);
}

Controller::Network& Controller::network_or_throw(const std::string& name, const std::string& context) {
  auto it = networks_.find(name);
  if (it == networks_.end()) throw ControlError(fmt::format("{}network {} does not exist", context, name));
  return *it->second;
}

// Builds the worker view of the current model and swaps it in.
void Controller::publish() {
  auto snapshot = std::make_unique<Snapshot>();
  const unsigned workers = dataplane_.worker_count();
  UnderlayView& u = snapshot->underlay;
  if (underlay_) {
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
    PortView& nic = snapshot->ports[underlay_index_];
    nic.present = true;
    nic.role = PortRole::kUnderlay;
    nic.kind = PortKind::kEthdev;
    nic.ethdev_id = underlay_->ethdev_id();
    for (uint16_t q = 0; q < underlay_->rx_queues(); ++q) snapshot->poll[q % workers].push_back({underlay_index_, q});
    if (const KernelPort* host = underlay_->host()) {
      PortView& view = snapshot->ports[host_index_];
      view.present = true;
      view.role = PortRole::kHost;
      view.kind = PortKind::kEthdev;
      view.ethdev_id = host->ethdev_id();
      for (uint16_t q = 0; q < host->queues(); ++q) snapshot->poll[q % workers].push_back({host_index_, q});
    }
  }
  for (const auto& [name, network] : networks_) {
    NetworkView& view = snapshot->networks[network->index];
    view.fdb = network->fdb.get();
    view.vni = network->config.vni;
    view.hub = network->config.hub;
    for (const std::string& port_name : network->ports) view.local_ports.push_back(ports_.at(port_name)->index);
    if (!underlay_) continue;
    u.network_of_vni.insert(network->config.vni, network->index);
    for (const auto& [ip, peer] : network->peers) {
      view.peer_ports.push_back(peer->index);
      u.peer_of.insert(UnderlayView::peer_key(network->config.vni, ip.value()), peer->index);
      PortView& pv = snapshot->ports[peer->index];
      pv.present = true;
      pv.kind = PortKind::kVxlanPeer;
      pv.role = PortRole::kSwitch;
      pv.is_peer = true;
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
  for (const auto& [name, port] : ports_) {
    PortView& view = snapshot->ports[port->index];
    view.present = true;
    view.network = port->network;
    if (port->config.port_security_enabled()) {
      PortSecurityView& security = view.security;
      security.enabled = true;
      for (const MacAddress& mac : port->config.macs) security.mac_keys[security.n_macs++] = mac.key();
      for (const Ipv4Prefix& prefix : port->config.ips)
        security.prefixes[security.n_prefixes++] = {prefix.address.network_order(),
                                                    Ipv4Address(prefix.mask()).network_order()};
    }
    if (port->vhost) {
      view.kind = PortKind::kVhost;
      view.vhost = &port->vhost->device();
      // Spread queue pairs over workers, starting at a different worker for
      // each port so that single-queue guests spread too.
      for (uint16_t q = 0; q < port->config.queues; ++q)
        snapshot->poll[(port->index + q) % workers].push_back({port->index, q});
    } else {
      view.kind = PortKind::kEthdev;
      view.ethdev_id = port->kernel->ethdev_id();
      for (uint16_t q = 0; q < port->kernel->queues(); ++q) snapshot->poll[q % workers].push_back({port->index, q});
    }
  }
  const uint64_t hz = dataplane_.tsc_hz();
  const Config::Switch& sw = startup_.sw;
  snapshot->limits.punt_port = make_rate_limit(sw.punt_pps_per_port, workers, hz);
  snapshot->limits.punt_network = make_rate_limit(sw.punt_pps_per_network, workers, hz);
  snapshot->limits.flood_port = make_rate_limit(sw.flood_pps_per_port, workers, hz);
  snapshot->limits.flood_network = make_rate_limit(sw.flood_pps_per_network, workers, hz);
  publish_nat(*snapshot);
  dataplane_.publish(std::move(snapshot));
}

void Controller::publish_nat(Snapshot& snapshot) const {
  NatView& view = snapshot.nat;
  view.enabled = !routers_.empty() || !fips_.empty() || !gateway_mappings_.empty() || snat_;
  if (!view.enabled) return;
  view.router_mac = router_mac_;
  view.neighbors = overlay_neighbors_.get();
  view.snat = snat_.get();
  if (snat_) view.snat_address = startup_.nat.snat_address->network_order();
  if (startup_.nat.gateway) view.gateway_ip = startup_.nat.gateway->network_order();
  if (auto it = networks_.find(startup_.nat.public_network); it != networks_.end())
    view.public_network = it->second->index;
  for (const auto& [name, router] : routers_) {
    auto it = networks_.find(name);
    if (it == networks_.end()) continue;
    NetworkView& n = snapshot.networks[it->second->index];
    n.router.enabled = true;
    n.router.ip = router.address.address.network_order();
    n.router.mask = Ipv4Address(router.address.mask()).network_order();
    view.routed_networks.push_back(it->second->index);
  }
  // Every network a router or a floating IP touches takes the router stage
  // for ARP and for frames to the router MAC.
  for (NetworkIndex n : view.routed_networks) snapshot.networks[n].l3 = true;
  if (view.public_network != kInvalidNetwork) snapshot.networks[view.public_network].l3 = true;
  for (const auto& [public_ip, fip] : fips_) {
    auto it = networks_.find(fip.config.network);
    if (it == networks_.end()) continue;
    const auto index = static_cast<uint16_t>(view.fips.size());
    view.fips.push_back(
        {public_ip.network_order(), fip.config.fixed.network_order(), it->second->index, fip.counter_slot, fip.active});
    view.fip_by_public.insert(public_ip.value(), index);
    view.fip_by_fixed.insert((uint64_t{it->second->index} << 32) | fip.config.fixed.value(), index);
    snapshot.networks[it->second->index].l3 = true;
  }
  for (const auto& [underlay_ip, public_ip] : gateway_mappings_) {
    const auto index = static_cast<uint16_t>(view.gateway_mappings.size());
    view.gateway_mappings.push_back({underlay_ip.network_order(), public_ip.network_order()});
    view.gateway_by_public.insert(public_ip.value(), index);
    view.gateway_by_underlay.insert(underlay_ip.value(), index);
    snapshot.underlay.nat_addresses.insert(underlay_ip.value(), 1);
  }
  if (snat_) snapshot.underlay.nat_addresses.insert(startup_.nat.snat_address->value(), 1);
  for (const Ipv4Prefix& prefix : egress_deny_) {
    if (view.n_egress_deny == NatView::kMaxEgressDeny) break;
    view.egress_deny[view.n_egress_deny++] = {prefix.address.network_order(),
                                              Ipv4Address(prefix.mask()).network_order()};
  }
  if (underlay_ && startup_.underlay.gateway) {
    if (const auto mac = neighbors_.lookup(*startup_.underlay.gateway)) {
      view.underlay_gateway_resolved = true;
      view.underlay_gateway_mac = mac->bytes();
    }
  }
}

FipCounters Controller::fip_totals(uint16_t slot) const {
  FipCounters t{};
  for (unsigned w = 0; w < dataplane_.worker_count(); ++w) {
    const FipCounters& c = dataplane_.counters(w).fips[slot];
    t.in_packets += counter_read(c.in_packets);
    t.in_bytes += counter_read(c.in_bytes);
    t.out_packets += counter_read(c.out_packets);
    t.out_bytes += counter_read(c.out_bytes);
  }
  return t;
}

// A gratuitous ARP for a floating IP on the public network, from this
// switch's router: the gateway (and anyone caching it) learns at once where
// the floating IP now lives.
void Controller::announce_fip(Ipv4Address public_ip) {
  auto it = networks_.find(startup_.nat.public_network);
  if (it == networks_.end()) return;
  rte_mbuf* garp = make_arp_request(dataplane_.mempool(), router_mac_, public_ip.value(), public_ip.value());
  if (garp == nullptr || !dataplane_.inject(it->second->index, garp))
    log::warning("nat: could not announce floating IP {}", public_ip.to_string());
}

// A gratuitous ARP for the router's address on a network, to this rVM's
// ports only (the router floods its own frames locally except on the public
// network, where every rVM's router has an address of its own): guests
// whose ARP cache holds another rVM's router MAC switch to this one.
void Controller::announce_router(const Network& network) {
  const auto router = routers_.find(network.config.name);
  if (router == routers_.end() || network.config.name == startup_.nat.public_network) return;
  const uint32_t ip = router->second.address.address.value();
  rte_mbuf* garp = make_arp_request(dataplane_.mempool(), router_mac_, ip, ip);
  if (garp == nullptr || !dataplane_.inject(network.index, garp))
    log::warning("router: could not announce {} on {}", router->second.address.address.to_string(),
                 network.config.name);
}

void Controller::add_fip(const std::string& public_text, const std::string& fixed_text, const std::string& network,
                         const Origin& origin, bool active) {
  std::lock_guard lock(mutex_);
  const auto public_ip = Ipv4Address::parse(public_text);
  if (!public_ip) throw ControlError(fmt::format("floating IP '{}' is not an IPv4 address", public_text));
  const auto fixed = Ipv4Address::parse(fixed_text);
  if (!fixed)
    throw ControlError(fmt::format("floating IP {}: fixed IP '{}' is not an IPv4 address", public_text, fixed_text));
  network_or_throw(network, fmt::format("floating IP {}: ", public_text));
  const FipConfig config{*public_ip, *fixed, network};
  std::vector<FipConfig> existing;
  for (const auto& [p, fip] : fips_) existing.push_back(fip.config);
  check([&] {
    validate_fip(config, existing);
    validate_public_network("floating IP " + public_ip->to_string(), startup_.nat,
                            networks_.contains(startup_.nat.public_network));
  });
  const auto slot = std::find(fip_slot_used_.begin(), fip_slot_used_.end(), false);
  if (slot == fip_slot_used_.end())
    throw ControlError(
        fmt::format("floating IP {}: the switch has {} floating IPs already", public_text, kMaxFloatingIps));
  *slot = true;
  Fip fip;
  fip.config = config;
  fip.origin = origin;
  fip.active = active;
  fip.counter_slot = static_cast<uint16_t>(slot - fip_slot_used_.begin());
  fip.baseline = fip_totals(fip.counter_slot);
  fips_[*public_ip] = fip;
  if (!overlay_neighbors_)
    overlay_neighbors_ = std::make_unique<OverlayNeighbors>(kOverlayNeighborCapacity, dataplane_.rcu());
  publish();
  if (active) announce_fip(*public_ip);
  log::info("nat: floating IP {} -> {} on {}{}{}", public_text, fixed_text, network,
            origin.is_domain() ? " for domain " + origin.domain : "", active ? "" : " (inactive)");
}

void Controller::activate_fip(const std::string& public_text, bool active) {
  std::lock_guard lock(mutex_);
  const auto public_ip = Ipv4Address::parse(public_text);
  auto it = public_ip ? fips_.find(*public_ip) : fips_.end();
  if (it == fips_.end()) throw ControlError(fmt::format("floating IP {} does not exist", public_text));
  if (it->second.active == active) return;
  it->second.active = active;
  publish();
  if (active) announce_fip(*public_ip);
  log::info("nat: floating IP {} {}", public_text,
            active ? "active: claimed on the public network" : "inactive: its guest does not run here");
}

void Controller::del_fip(const std::string& public_text, bool force) {
  std::lock_guard lock(mutex_);
  const auto public_ip = Ipv4Address::parse(public_text);
  auto it = public_ip ? fips_.find(*public_ip) : fips_.end();
  if (it == fips_.end()) throw ControlError(fmt::format("floating IP {} does not exist", public_text));
  if (it->second.origin.is_domain() && !force)
    throw ControlError(fmt::format("floating IP {}: {}", public_text, owned_by_domain(it->second.origin)));
  fip_slot_used_[it->second.counter_slot] = false;
  fips_.erase(it);
  publish();
  log::info("nat: floating IP {} removed", public_text);
}

void Controller::add_gateway_mapping(const std::string& underlay_text, const std::string& public_text) {
  std::lock_guard lock(mutex_);
  const auto underlay_ip = Ipv4Address::parse(underlay_text);
  const auto public_ip = Ipv4Address::parse(public_text);
  if (!underlay_ip || !public_ip)
    throw ControlError(
        fmt::format("gateway mapping {} -> {}: both must be IPv4 addresses", underlay_text, public_text));
  const GatewayMappingConfig mapping{*underlay_ip, *public_ip};
  std::vector<GatewayMappingConfig> existing;
  for (const auto& [u, p] : gateway_mappings_) existing.push_back({u, p});
  check([&] {
    validate_gateway_mapping(mapping, existing, startup_.nat, startup_.underlay);
    validate_public_network("gateway mapping " + underlay_ip->to_string(), startup_.nat,
                            networks_.contains(startup_.nat.public_network));
  });
  gateway_mappings_[*underlay_ip] = *public_ip;
  update_wanted_neighbors();
  publish();
  log::info("nat: gateway mapping {} <-> {}", underlay_text, public_text);
}

void Controller::del_gateway_mapping(const std::string& underlay_text) {
  std::lock_guard lock(mutex_);
  const auto underlay_ip = Ipv4Address::parse(underlay_text);
  if (!underlay_ip || gateway_mappings_.erase(*underlay_ip) == 0)
    throw ControlError(fmt::format("gateway mapping {} does not exist", underlay_text));
  update_wanted_neighbors();
  publish();
}

void Controller::add_router(const std::string& network, const std::string& address_text) {
  std::lock_guard lock(mutex_);
  const auto address = Ipv4Prefix::parse(address_text);
  if (!address)
    throw ControlError(fmt::format("router on network {}: address '{}' is not ADDRESS/PREFIX (e.g. 192.0.2.254/24)",
                                   network, address_text));
  Network& target = network_or_throw(network, "router: ");
  const RouterConfig router{network, *address};
  std::vector<RouterConfig> existing;
  for (const auto& [name, r] : routers_) existing.push_back(r);
  check([&] { validate_router(router, existing, startup_.underlay); });
  routers_[network] = router;
  if (!overlay_neighbors_)
    overlay_neighbors_ = std::make_unique<OverlayNeighbors>(kOverlayNeighborCapacity, dataplane_.rcu());
  publish();
  // Guests that asked for their gateway before it existed retry at their
  // own pace; tell them now.
  announce_router(target);
  log::info("router on network {}: {}", network, address->to_string());
}

void Controller::del_router(const std::string& network) {
  std::lock_guard lock(mutex_);
  if (!routers_.contains(network)) throw ControlError(fmt::format("network {} has no router", network));
  for (const auto& [public_ip, fip] : fips_)
    if (fip.config.network == network)
      throw ControlError(fmt::format("router on network {}: floating IP {} routes through it; delete it first", network,
                                     public_ip.to_string()));
  if (network == startup_.nat.public_network && (!gateway_mappings_.empty() || snat_ || !fips_.empty()))
    throw ControlError(fmt::format(
        "router on network {}: it is [nat] public_network, which gateway mappings and SNAT route through; it stays",
        network));
  routers_.erase(network);
  publish();  // after this, no worker routes on the network
  if (overlay_neighbors_) overlay_neighbors_->forget_network(networks_.at(network)->index);
  log::info("router on network {}: deleted", network);
}

NatStatus Controller::nat() {
  std::lock_guard lock(mutex_);
  return nat_status();
}

NatStatus Controller::nat_status() const {
  NatStatus s;
  s.router_mac = MacAddress(router_mac_);
  for (const auto& [name, router] : routers_) s.routers.push_back(router);
  for (const auto& [public_ip, fip] : fips_) {
    const FipCounters now = fip_totals(fip.counter_slot);
    FipCounters d{};
    d.in_packets = now.in_packets - fip.baseline.in_packets;
    d.in_bytes = now.in_bytes - fip.baseline.in_bytes;
    d.out_packets = now.out_packets - fip.baseline.out_packets;
    d.out_bytes = now.out_bytes - fip.baseline.out_bytes;
    s.fips.push_back({fip.config, fip.origin, fip.active, d});
  }
  for (const auto& [u, p] : gateway_mappings_) s.gateway_mappings.push_back({u, p});
  s.snat = snat_ != nullptr;
  if (snat_) {
    s.sessions_active = snat_->active();
    s.sessions_created = snat_->created();
    s.sessions_expired = snat_->expired();
  }
  for (unsigned w = 0; w < dataplane_.worker_count(); ++w)
    s.translations += counter_read(dataplane_.counters(w).nat_translations);
  return s;
}

std::vector<nat::SnatSession> Controller::nat_sessions(size_t limit) {
  std::lock_guard lock(mutex_);
  if (!snat_) throw ControlError("nat: this rVM does no SNAT ([nat] snat_address is not set)");
  return snat_->sessions(limit);
}

std::vector<OverlayNeighbor> Controller::overlay_neighbors() {
  std::lock_guard lock(mutex_);
  if (!overlay_neighbors_) return {};
  return overlay_neighbors_->entries(dataplane_.now_s());
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
  // NAT sends to the internet through the reality cloud's router.
  if ((snat_ || !gateway_mappings_.empty()) && startup_.underlay.gateway) hops.insert(*startup_.underlay.gateway);
  neighbors_.set_wanted(hops, now_ms());
}

void Controller::add_peer_locked(Network& network, Ipv4Address ip) {
  const std::string context = fmt::format("network {}: peer {}", network.config.name, ip.to_string());
  check([&] { validate_peer(network.config.name, ip, network.config.peers, startup_.underlay); });
  const auto index = free_port_index();
  if (!index) throw ControlError(fmt::format("{}: the switch has {} ports already", context, kMaxPorts));
  auto peer = std::make_unique<Peer>();
  peer->network = network.index;
  peer->ip = ip;
  peer->index = *index;
  peer->baseline = port_totals(*index);
  peer_at_[*index] = peer.get();
  network.peers.emplace(ip, std::move(peer));
  network.config.peers.push_back(ip);
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
  const auto ip = Ipv4Address::parse(ip_text);
  if (!ip) throw ControlError(fmt::format("network {}: peer '{}' is not an IPv4 address", network_name, ip_text));
  add_peer_locked(network, *ip);
  publish();
  log::info("network {}: peer {} added", network_name, ip->to_string());
}

void Controller::del_peer(const std::string& network_name, const std::string& ip_text) {
  std::lock_guard lock(mutex_);
  Network& network = network_or_throw(network_name, "");
  const auto ip = Ipv4Address::parse(ip_text);
  if (!ip || !network.peers.contains(*ip))
    throw ControlError(fmt::format("network {}: no peer {}", network_name, ip_text));
  remove_peer(network, *ip);
  log::info("network {}: peer {} deleted", network_name, ip->to_string());
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

void Controller::learn_overlay_neighbor(const PuntedFrame& frame, const ArpInfo& arp) {
  // Workers punt only ARP the port may send and only addresses it may
  // claim (router.cpp, may_teach_neighbor); what is left to check here is
  // that the network still exists and its share of the table.
  if (!overlay_neighbors_ || frame.network >= kMaxNetworks) return;
  const Network* network = network_at_[frame.network];
  if (network == nullptr) return;
  const MacAddress mac(arp.sender_mac);
  if (mac.is_multicast() || mac.is_zero() || arp.sender_ip == 0) return;
  const auto result =
      overlay_neighbors_->learn(frame.network, arp.sender_ip, mac, dataplane_.now_s(), network->config.neighbor_limit);
  if (result == OverlayNeighbors::LearnResult::kLimitReached || result == OverlayNeighbors::LearnResult::kTableFull)
    log::debug("network {}: neighbor {} not learned ({} of {} entries in use)", network->config.name,
               Ipv4Address(arp.sender_ip).to_string(), overlay_neighbors_->count(frame.network),
               network->config.neighbor_limit);
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

void Controller::add_network(const NetworkConfig& config) {
  std::lock_guard lock(mutex_);
  check([&] { validate_network(config); });
  if (networks_.contains(config.name)) throw ControlError(fmt::format("network {} already exists", config.name));
  for (const auto& [name, other] : networks_)
    if (other->config.vni == config.vni)
      throw ControlError(
          fmt::format("network {}: VNI {} is already used by network {}", config.name, config.vni, name));
  const auto index = free_index(network_at_);
  if (!index)
    throw ControlError(fmt::format("network {}: the switch has {} networks already", config.name, kMaxNetworks));
  auto network = std::make_unique<Network>();
  network->config = config;
  network->index = *index;
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
  } catch (...) {
    for (auto& [ip, peer] : added.peers) peer_at_[peer->index] = nullptr;
    network_at_[*index] = nullptr;
    networks_.erase(config.name);
    update_wanted_neighbors();
    throw;
  }
  publish();
  log::info("network {}: added (VNI {}, FDB limit {})", config.name, config.vni, config.fdb_limit);
}

void Controller::del_network(const std::string& name) {
  std::lock_guard lock(mutex_);
  Network& network = network_or_throw(name, "");
  if (!network.ports.empty()) {
    std::string list;
    for (const auto& p : network.ports) list += (list.empty() ? "" : ", ") + p;
    throw ControlError(
        fmt::format("network {}: {} port(s) still attached ({}); delete them first", name, network.ports.size(), list));
  }
  for (const auto& [public_ip, fip] : fips_)
    if (fip.config.network == name)
      throw ControlError(
          fmt::format("network {}: floating IP {} uses it; delete it first", name, public_ip.to_string()));
  // NAT routes through the public network: without it, floating IPs,
  // gateway mappings and SNAT would stop and `config show` would print a
  // file --check refuses.
  if (name == startup_.nat.public_network) {
    const bool other_routers =
        std::any_of(routers_.begin(), routers_.end(), [&](const auto& r) { return r.first != name; });
    const char* user = !fips_.empty()               ? "floating IPs"
                       : !gateway_mappings_.empty() ? "gateway mappings"
                       : snat_                      ? "SNAT"
                       : other_routers              ? "the routers of other networks"
                                                    : nullptr;
    if (user != nullptr)
      throw ControlError(
          fmt::format("network {}: it is [nat] public_network, which {} route through; it stays", name, user));
  }
  auto owned = std::move(networks_.at(name));
  networks_.erase(name);
  network_at_[owned->index] = nullptr;
  routers_.erase(name);
  for (auto& [ip, peer] : owned->peers) peer_at_[peer->index] = nullptr;
  update_wanted_neighbors();
  publish();  // after this, no worker can reach the FDB freed with `owned`
  // Nothing learned for this network may outlive it: its index names the
  // next network created, and a session or neighbor left behind would hand
  // that network the old one's replies.
  if (overlay_neighbors_) overlay_neighbors_->forget_network(owned->index);
  if (snat_) {
    if (const size_t ended = snat_->forget_network(owned->index); ended != 0)
      log::info("network {}: {} SNAT session(s) ended", name, ended);
  }
  log::info("network {}: deleted", name);
}

void Controller::add_port(const PortConfig& config, const Origin& origin, bool bind_macs) {
  std::lock_guard lock(mutex_);
  check([&] { validate_port(config); });
  if (ports_.contains(config.name)) throw ControlError(fmt::format("port {} already exists", config.name));
  Network& network = network_or_throw(config.network, fmt::format("port {}: ", config.name));
  std::vector<PortConfig> existing;
  for (const auto& [name, other] : ports_) existing.push_back(other->config);
  check([&] { validate_port_socket(config, existing, startup_.control.socket); });
  // Whether the interface name is free in this network namespace, and
  // whether a server socket's directory exists, only the running daemon can
  // tell: KernelPort::create and VhostPort::create check those.
  const auto index = free_port_index();
  if (!index) throw ControlError(fmt::format("port {}: the switch has {} ports already", config.name, kMaxPorts));
  // A MAC bound to a port by port security becomes a static FDB entry of
  // that port: nobody else can take it over by sending from it.
  if (config.port_security_enabled()) {
    for (const MacAddress& mac : config.macs) {
      const auto entry = network.fdb->find(mac, dataplane_.now_s());
      if (entry && entry->is_static)
        throw ControlError(fmt::format("port {}: MAC {} is already bound to port {} on network {}", config.name,
                                       mac.to_string(), port_name(entry->port), config.network));
    }
  }
  const uint32_t pinned = config.type == PortType::kKernel ? KernelPort::pinned_mbufs(dataplane_.worker_count()) : 0;
  if (pinned != 0) {
    const MempoolUsage pool = dataplane_.mempool_usage();
    const uint32_t committed = pinned_mbufs_ + dataplane_.reserved_mbufs();
    if (committed + pinned > pool.size)
      throw ControlError(fmt::format(
          "port {}: not enough packet buffers for a kernel port: its receive queues hold {} mbufs, and {} of the "
          "{} are already held by other ports' queues or reserved for frames in flight (raise [dpdk] mbufs)",
          config.name, pinned, committed, pool.size));
  }

  auto port = std::make_unique<Port>();
  port->config = config;
  port->origin = origin;
  port->index = *index;
  port->network = network.index;
  try {
    if (config.type == PortType::kVhostUser) {
      port->vhost = vhost::VhostPort::create(config.name, config.socket,
                                             config.server ? vhost::Mode::kServer : vhost::Mode::kClient, config.queues,
                                             dataplane_.worker_count(), dataplane_.rcu());
    } else {
      // A kernel port with a bound MAC gets it as its interface's address.
      port->kernel = KernelPort::create(config.name, static_cast<uint16_t>(dataplane_.worker_count()),
                                        dataplane_.mempool(), config.macs.empty() ? "" : config.macs[0].to_string());
    }
  } catch (const std::runtime_error& e) {
    throw ControlError(e.what());
  }
  port->baseline = port_totals(*index);
  network.fdb->set_port_limit(*index, config.mac_limit != 0 ? config.mac_limit : startup_.sw.port_mac_limit);
  if (config.port_security_enabled() && bind_macs) {
    try {
      for (const MacAddress& mac : config.macs) network.fdb->add_static(mac, *index);
    } catch (const std::runtime_error& e) {
      network.fdb->flush_port(*index);
      throw ControlError(fmt::format("port {}: {}", config.name, e.what()));
    }
    port->macs_bound = true;
  }
  pinned_mbufs_ += pinned;
  port_at_[*index] = port.get();
  network.ports.push_back(config.name);
  ports_.emplace(config.name, std::move(port));
  publish();
  log::info("port {}: added to network {}{}{}", config.name, config.network,
            config.port_security_enabled() ? " with port security" : "",
            origin.is_domain() ? " for domain " + origin.domain : "");
}

void Controller::remove_port(Port& port) {
  Network& network = *network_at_[port.network];
  std::erase(network.ports, port.config.name);
  port_at_[port.index] = nullptr;
  // 1. No worker polls or transmits to the port once publish returns.
  auto owned = std::move(ports_.at(port.config.name));
  ports_.erase(port.config.name);
  publish();
  // 2. Requests queued before that still name the port; handle them now so
  //    that none re-learns a MAC on it, then forget its MACs.
  dataplane_.drain_learn_requests([this](const LearnRequest& r) { handle_learn(r); });
  std::vector<MacAddress> macs;
  for (const FdbEntry& e : network.fdb->entries(0))
    if (e.port == owned->index) macs.push_back(e.mac);
  network.fdb->flush_port(owned->index);
  // The router's neighbor entries for the port's stations go too: a guest
  // that left (or moved to another rVM) is not answered for from here.
  if (overlay_neighbors_) overlay_neighbors_->forget_macs(network.index, macs);
  network.fdb->set_port_limit(owned->index, 0);
  // 3. Close the guest connection / kernel interface.
  if (owned->kernel) pinned_mbufs_ -= KernelPort::pinned_mbufs(dataplane_.worker_count());
  owned.reset();
}

void Controller::del_port(const std::string& name, bool force) {
  std::lock_guard lock(mutex_);
  auto it = ports_.find(name);
  if (it == ports_.end()) throw ControlError(fmt::format("port {} does not exist", name));
  if (it->second->origin.is_domain() && !force)
    throw ControlError(fmt::format("port {}: {}", name, owned_by_domain(it->second->origin)));
  remove_port(*it->second);
  log::info("port {}: deleted", name);
}

void Controller::bind_port_macs(const std::string& name, bool bound) {
  std::lock_guard lock(mutex_);
  auto it = ports_.find(name);
  if (it == ports_.end()) throw ControlError(fmt::format("port {} does not exist", name));
  Port& port = *it->second;
  if (!port.config.port_security_enabled() || port.macs_bound == bound) return;
  Network& network = *network_at_[port.network];
  const uint32_t now = dataplane_.now_s();
  if (bound) {
    for (const MacAddress& mac : port.config.macs) {
      const auto entry = network.fdb->find(mac, now);
      if (entry && entry->is_static && entry->port != port.index)
        throw ControlError(fmt::format("port {}: MAC {} is already bound to port {} on network {}", name,
                                       mac.to_string(), port_name(entry->port), port.config.network));
    }
    try {
      // Replaces what was learned elsewhere (the rVM the guest left).
      for (const MacAddress& mac : port.config.macs) network.fdb->add_static(mac, port.index);
    } catch (const std::runtime_error& e) {
      throw ControlError(fmt::format("port {}: {}", name, e.what()));
    }
  } else {
    for (const MacAddress& mac : port.config.macs)
      if (const auto entry = network.fdb->find(mac, now); entry && entry->port == port.index) network.fdb->remove(mac);
  }
  port.macs_bound = bound;
  if (bound) announce_router(network);
  std::vector<std::string> macs;
  for (const MacAddress& mac : port.config.macs) macs.push_back(mac.to_string());
  log::info("port {}: {} {}", name, fmt::join(macs, ", "),
            bound ? "bound to the port" : "released (the guest does not run here)");
}

void Controller::remove_all_ports() {
  std::lock_guard lock(mutex_);
  while (!ports_.empty()) remove_port(*ports_.begin()->second);
}

void Controller::add_static_mac(const std::string& network_name, const std::string& mac_text,
                                const std::string& port_name) {
  std::lock_guard lock(mutex_);
  Network& network = network_or_throw(network_name, fmt::format("fdb entry {}: ", mac_text));
  const auto mac = MacAddress::parse(mac_text);
  if (!mac) throw ControlError(fmt::format("'{}' is not a MAC address (expected aa:bb:cc:dd:ee:ff)", mac_text));
  if (mac->is_multicast() || mac->is_zero())
    throw ControlError(fmt::format("fdb entry {}: a static entry needs a unicast MAC address", mac_text));
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

std::string Controller::port_name(PortIndex index) const {
  if (port_at_[index] != nullptr) return port_at_[index]->config.name;
  if (peer_at_[index] != nullptr) return "peer:" + peer_at_[index]->ip.to_string();
  return "?";
}

PeerStatus Controller::peer_status(const Network& network, const Peer& peer) const {
  PeerStatus s;
  s.network = network.config.name;
  s.ip = peer.ip;
  const auto hop = next_hop(peer.ip);
  if (hop) s.next_hop = *hop;
  s.resolved = hop && neighbors_.lookup(*hop).has_value();
  s.totals = port_totals(peer.index) - peer.baseline;
  return s;
}

NetworkStatus Controller::network_status(const Network& n) const {
  NetworkStatus s;
  s.config = n.config;
  s.ports = n.ports;
  s.fdb_dynamic = n.fdb->dynamic_count();
  s.fdb_static = n.fdb->static_count();
  s.fdb_limit_hits = n.fdb->limit_hits();
  s.fdb_port_limit_hits = n.fdb->port_limit_hits();
  s.fdb_moves = n.moves;
  if (overlay_neighbors_) {
    s.neighbors = overlay_neighbors_->count(n.index);
    s.neighbor_limit_hits = overlay_neighbors_->refused(n.index);
  }
  if (snat_) s.snat_sessions = snat_->network_sessions(n.index);
  for (const auto& [ip, peer] : n.peers) s.peers.push_back(peer_status(n, *peer));
  s.index = n.index;
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

PortTotals Controller::port_totals(PortIndex index) const {
  PortTotals t;
  for (unsigned w = 0; w < dataplane_.worker_count(); ++w) {
    const PortCounters& c = dataplane_.counters(w).ports[index];
    t.rx_packets += counter_read(c.rx_packets);
    t.rx_bytes += counter_read(c.rx_bytes);
    t.tx_packets += counter_read(c.tx_packets);
    t.tx_bytes += counter_read(c.tx_bytes);
    t.flood_packets += counter_read(c.flood_packets);
    for (size_t r = 0; r < kDropReasonCount; ++r) t.drops[r] += counter_read(c.drops[r]);
  }
  return t;
}

PortStatus Controller::port_status(const Port& port) const {
  PortStatus s;
  s.config = port.config;
  s.origin = port.origin;
  s.macs_bound = port.macs_bound;
  if (port.vhost) {
    s.link_up = port.vhost->connected();
    s.active_queues = s.link_up ? port.vhost->rx_queue_pairs() : 0;
    s.guest_mtu = port.vhost->guest_mtu();
  } else {
    s.link_up = true;
    s.active_queues = port.kernel->queues();
  }
  s.totals = port_totals(port.index) - port.baseline;
  return s;
}

std::vector<PortStatus> Controller::ports() {
  std::lock_guard lock(mutex_);
  std::vector<PortStatus> out;
  for (const auto& [name, port] : ports_) out.push_back(port_status(*port));
  return out;
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

Stats Controller::stats() {
  std::lock_guard lock(mutex_);
  Stats s;
  s.tsc_hz = dataplane_.tsc_hz();
  s.mempool = dataplane_.mempool_usage();
  for (const auto& [name, port] : ports_) s.ports.push_back(port_status(*port));
  for (const auto& [name, network] : networks_) {
    s.networks.push_back(network_status(*network));
    s.peers.insert(s.peers.end(), s.networks.back().peers.begin(), s.networks.back().peers.end());
  }
  if (underlay_) {
    UnderlayStatus u;
    u.device = startup_.underlay.device;
    u.mac = MacAddress(underlay_->mac());
    u.host_interface = underlay_->host() ? startup_.underlay.host_interface : "";
    u.nic = port_totals(underlay_index_) - underlay_baseline_;
    if (underlay_->host()) u.host = port_totals(host_index_) - host_baseline_;
    s.underlay = u;
  }
  s.nat = nat_status();
  for (unsigned w = 0; w < dataplane_.worker_count(); ++w) {
    const WorkerCounters& c = dataplane_.counters(w);
    s.workers.push_back({w, dataplane_.options().worker_lcores[w], counter_read(c.busy_cycles),
                         counter_read(c.idle_cycles), counter_read(c.busy_packets), counter_read(c.learn_requests),
                         counter_read(c.learn_ring_full)});
  }
  return s;
}

Config Controller::running_config() {
  std::lock_guard lock(mutex_);
  Config c = startup_;
  c.networks.clear();
  c.ports.clear();
  c.static_macs.clear();
  c.neighbors.clear();
  c.routers.clear();
  for (const auto& [name, router] : routers_) c.routers.push_back(router);
  c.gateway_mappings.clear();
  for (const auto& [u, p] : gateway_mappings_) c.gateway_mappings.push_back({u, p});
  c.fips.clear();
  // What a domain plugged comes back from its XML, not from this file.
  for (const auto& [p, fip] : fips_)
    if (!fip.origin.is_domain()) c.fips.push_back(fip.config);
  for (const NeighborEntry& n : neighbors_.entries())
    if (n.is_static && n.mac) c.neighbors.push_back({n.ip, *n.mac});
  for (const auto& [name, network] : networks_) {
    c.networks.push_back(network->config);
    for (const FdbEntry& e : network->fdb->entries(0)) {
      if (!e.is_static) continue;
      if (port_at_[e.port]->origin.is_domain()) continue;
      const PortConfig& owner = port_at_[e.port]->config;
      const bool bound =
          owner.port_security_enabled() && std::find(owner.macs.begin(), owner.macs.end(), e.mac) != owner.macs.end();
      if (!bound) c.static_macs.push_back({name, e.mac, owner.name});  // [[port]] macs restores the rest
    }
  }
  for (const auto& [name, port] : ports_)
    if (!port->origin.is_domain()) c.ports.push_back(port->config);
  return c;
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
  if (snat_) snat_->expire(now);
  if (overlay_neighbors_) overlay_neighbors_->expire(now, startup_.underlay.neighbor_timeout_s);
  return aged;
}

}  // namespace inception
