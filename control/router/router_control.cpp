// The router's and NAT's control half (docs/nat.md): routers, floating IPs,
// gateway mappings, SNAT, the overlay neighbor table, and their part of the
// snapshot. The stage that reads it is dataplane/router/.
#include <fmt/format.h>

#include <algorithm>
#include <tuple>

#include "control/controller_internal.h"
#include "dataplane/arp.h"
#include "inception/log.h"

namespace inception {

using controller_detail::check;
using controller_detail::owned_by_domain;

namespace {

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

}  // namespace

std::unique_ptr<nat::SnatTable> Controller::make_snat_table(const NatConfig& config) const {
  nat::SnatConfig snat;
  snat.address = config.snat_address->network_order();
  snat.port_min = config.snat_port_min;
  snat.port_max = config.snat_port_max;
  snat.max_sessions = config.max_sessions;
  snat.max_per_network = config.max_sessions_per_network;
  snat.max_per_source = config.max_sessions_per_source;
  snat.tcp_established_timeout_s = config.tcp_established_timeout_s;
  snat.tcp_transitory_timeout_s = config.tcp_transitory_timeout_s;
  snat.udp_timeout_s = config.udp_timeout_s;
  snat.icmp_timeout_s = config.icmp_timeout_s;
  auto table = std::make_unique<nat::SnatTable>(snat, dataplane_.worker_count(), dataplane_.rcu());
  log::info("nat: SNAT on {} ports {}-{}, up to {} sessions", config.snat_address->to_string(), snat.port_min,
            snat.port_max, snat.max_sessions);
  return table;
}

uint32_t Controller::set_snat(const SnatSettings& settings) {
  std::lock_guard lock(mutex_);
  NatConfig nat = startup_.nat;
  const auto address = Ipv4Address::parse(settings.address);
  if (!address) throw ControlError(fmt::format("nat snat: '{}' is not an IPv4 address", settings.address));
  nat.snat_address = address;
  if (settings.ports)
    check(
        [&] { std::tie(nat.snat_port_min, nat.snat_port_max) = parse_snat_ports("nat snat: ports", *settings.ports); });
  const auto set = [](const std::optional<uint32_t>& value, uint32_t& field) {
    if (value) field = *value;
  };
  set(settings.max_sessions, nat.max_sessions);
  set(settings.max_per_network, nat.max_sessions_per_network);
  set(settings.max_per_source, nat.max_sessions_per_source);
  set(settings.tcp_established_timeout_s, nat.tcp_established_timeout_s);
  set(settings.tcp_transitory_timeout_s, nat.tcp_transitory_timeout_s);
  set(settings.udp_timeout_s, nat.udp_timeout_s);
  set(settings.icmp_timeout_s, nat.icmp_timeout_s);
  return install_snat_locked(std::move(nat));
}

uint32_t Controller::set_snat(const NatConfig& nat) {
  std::lock_guard lock(mutex_);
  if (!nat.snat_address) throw ControlError("nat snat: no snat_address to translate to");
  NatConfig running = nat;
  running.gateway = startup_.nat.gateway;  // set on its own, and in cluster mode the leader's
  return install_snat_locked(std::move(running));
}

uint32_t Controller::install_snat_locked(NatConfig nat) {
  const Ipv4Address address = *nat.snat_address;
  std::vector<GatewayMappingConfig> mappings;
  for (const auto& [underlay, public_ip] : routing_.gateway_mappings) mappings.push_back({underlay, public_ip});
  check([&] { validate_snat_address(address, mappings, startup_.underlay); });
  check([&] {
    validate_public_network("[nat] snat_address " + address.to_string(), nat, networks_.contains(nat.public_network));
  });
  std::unique_ptr<nat::SnatTable> table;
  try {
    table = make_snat_table(nat);
  } catch (const std::runtime_error& e) {  // the port range, or DPDK memory
    throw ControlError(e.what());
  }
  // The old table goes once no worker can reach it: after the publish.
  std::unique_ptr<nat::SnatTable> old = std::move(routing_.snat);
  const uint32_t ended = old ? old->active() : 0;
  routing_.snat = std::move(table);
  startup_.nat = nat;
  update_wanted_neighbors();
  publish();
  if (ended != 0) log::info("nat: {} SNAT session(s) of the previous settings ended", ended);
  return ended;
}

uint32_t Controller::snat_off() {
  std::lock_guard lock(mutex_);
  if (!routing_.snat) throw ControlError("nat: this rVM does no SNAT ([nat] snat_address is not set)");
  std::unique_ptr<nat::SnatTable> old = std::move(routing_.snat);
  const uint32_t ended = old->active();
  startup_.nat.snat_address.reset();
  update_wanted_neighbors();
  publish();
  log::info("nat: SNAT off, {} session(s) ended", ended);
  return ended;
}

void Controller::apply_routing(const Config& config) {
  std::lock_guard lock(mutex_);
  for (const RouterConfig& r : config.routers) routing_.routers[r.network] = r;
  if (underlay_) {
    const uint32_t vtep = startup_.underlay.address.address.value();
    routing_.router_mac = {0x02,
                           0x49,
                           0x4e,
                           static_cast<uint8_t>(vtep >> 16),
                           static_cast<uint8_t>(vtep >> 8),
                           static_cast<uint8_t>(vtep)};
  } else {
    routing_.router_mac = {0x02, 0x49, 0x4e, 0x00, 0x00, 0x01};
  }
  if (!routing_.routers.empty() || !config.fips.empty())
    routing_.overlay_neighbors = std::make_unique<OverlayNeighbors>(kOverlayNeighborCapacity, dataplane_.rcu());
  routing_.egress_deny = builtin_egress_deny();
  if (underlay_) routing_.egress_deny.push_back(startup_.underlay.address);
  routing_.egress_deny.insert(routing_.egress_deny.end(), config.nat.egress_deny.begin(), config.nat.egress_deny.end());
  if (config.nat.snat_address) routing_.snat = make_snat_table(config.nat);
  update_wanted_neighbors();
  publish();
}

void Controller::publish_nat(Snapshot& snapshot) const {
  NatView& view = snapshot.nat;
  view.enabled =
      !routing_.routers.empty() || !routing_.fips.empty() || !routing_.gateway_mappings.empty() || routing_.snat;
  if (!view.enabled) return;
  view.router_mac = routing_.router_mac;
  view.neighbors = routing_.overlay_neighbors.get();
  view.snat = routing_.snat.get();
  if (routing_.snat) view.snat_address = startup_.nat.snat_address->network_order();
  if (startup_.nat.gateway) view.gateway_ip = startup_.nat.gateway->network_order();
  if (auto it = networks_.find(startup_.nat.public_network); it != networks_.end())
    view.public_network = it->second->index;
  for (const auto& [name, router] : routing_.routers) {
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
  for (const auto& [public_ip, fip] : routing_.fips) {
    auto it = networks_.find(fip.config.network);
    if (it == networks_.end()) continue;
    const auto index = static_cast<uint16_t>(view.fips.size());
    view.fips.push_back(
        {public_ip.network_order(), fip.config.fixed.network_order(), it->second->index, fip.counter_slot, fip.active});
    view.fip_by_public.insert(public_ip.value(), index);
    view.fip_by_fixed.insert((uint64_t{it->second->index} << 32) | fip.config.fixed.value(), index);
    snapshot.networks[it->second->index].l3 = true;
  }
  for (const auto& [underlay_ip, public_ip] : routing_.gateway_mappings) {
    const auto index = static_cast<uint16_t>(view.gateway_mappings.size());
    view.gateway_mappings.push_back({underlay_ip.network_order(), public_ip.network_order()});
    view.gateway_by_public.insert(public_ip.value(), index);
    view.gateway_by_underlay.insert(underlay_ip.value(), index);
    snapshot.underlay.nat_addresses.insert(underlay_ip.value(), 1);
  }
  if (routing_.snat) snapshot.underlay.nat_addresses.insert(startup_.nat.snat_address->value(), 1);
  for (const Ipv4Prefix& prefix : routing_.egress_deny) {
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
  rte_mbuf* garp = make_arp_request(dataplane_.mempool(), routing_.router_mac, public_ip.value(), public_ip.value());
  if (garp == nullptr || !dataplane_.inject(it->second->index, garp))
    log::warning("nat: could not announce floating IP {}", public_ip.to_string());
}

// A gratuitous ARP for the router's address on a network, to this rVM's
// ports only (the router floods its own frames locally except on the public
// network, where every rVM's router has an address of its own): guests
// whose ARP cache holds another rVM's router MAC switch to this one.
void Controller::announce_router(const Network& network) {
  const auto router = routing_.routers.find(network.config.name);
  if (router == routing_.routers.end() || network.config.name == startup_.nat.public_network) return;
  const uint32_t ip = router->second.address.address.value();
  rte_mbuf* garp = make_arp_request(dataplane_.mempool(), routing_.router_mac, ip, ip);
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
  for (const auto& [p, fip] : routing_.fips) existing.push_back(fip.config);
  check([&] {
    validate_fip(config, existing);
    validate_public_network("floating IP " + public_ip->to_string(), startup_.nat,
                            networks_.contains(startup_.nat.public_network));
  });
  const auto slot = std::find(routing_.fip_slot_used.begin(), routing_.fip_slot_used.end(), false);
  if (slot == routing_.fip_slot_used.end())
    throw ControlError(
        fmt::format("floating IP {}: the switch has {} floating IPs already", public_text, kMaxFloatingIps));
  *slot = true;
  Routing::Fip fip;
  fip.config = config;
  fip.origin = origin;
  fip.active = active;
  fip.counter_slot = static_cast<uint16_t>(slot - routing_.fip_slot_used.begin());
  fip.baseline = fip_totals(fip.counter_slot);
  routing_.fips[*public_ip] = fip;
  if (!routing_.overlay_neighbors)
    routing_.overlay_neighbors = std::make_unique<OverlayNeighbors>(kOverlayNeighborCapacity, dataplane_.rcu());
  publish();
  if (active) announce_fip(*public_ip);
  log::info({"floating IP " + public_text, "added"}, "nat: floating IP {} -> {} on {}{}{}", public_text, fixed_text,
            network,
            origin.is_domain() ? " for domain " + origin.domain
            : origin.cluster   ? " from the cluster"
                               : "",
            active ? "" : " (inactive)");
}

void Controller::activate_fip(const std::string& public_text, bool active) {
  std::lock_guard lock(mutex_);
  const auto public_ip = Ipv4Address::parse(public_text);
  auto it = public_ip ? routing_.fips.find(*public_ip) : routing_.fips.end();
  if (it == routing_.fips.end()) throw ControlError(fmt::format("floating IP {} does not exist", public_text));
  if (it->second.active == active) return;
  it->second.active = active;
  publish();
  if (active) announce_fip(*public_ip);
  log::info({"floating IP " + public_text, active ? "active" : "inactive"}, "nat: floating IP {} {}", public_text,
            active ? "active: claimed on the public network" : "inactive: its guest does not run here");
}

void Controller::del_fip(const std::string& public_text, bool force) {
  std::lock_guard lock(mutex_);
  const auto public_ip = Ipv4Address::parse(public_text);
  auto it = public_ip ? routing_.fips.find(*public_ip) : routing_.fips.end();
  if (it == routing_.fips.end()) throw ControlError(fmt::format("floating IP {} does not exist", public_text));
  if (it->second.origin.is_domain() && !force)
    throw ControlError(fmt::format("floating IP {}: {}", public_text, owned_by_domain(it->second.origin)));
  if (it->second.origin.cluster && !force)
    throw ControlError(
        fmt::format("floating IP {} comes from the cluster: `inceptionctl cluster fip del {}` deletes it "
                    "(it follows its guest from rVM to rVM)",
                    public_text, public_text));
  routing_.fip_slot_used[it->second.counter_slot] = false;
  routing_.fips.erase(it);
  publish();
  log::info({"floating IP " + public_text, "deleted"}, "nat: floating IP {} removed", public_text);
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
  for (const auto& [u, p] : routing_.gateway_mappings) existing.push_back({u, p});
  check([&] {
    validate_gateway_mapping(mapping, existing, startup_.nat, startup_.underlay);
    validate_public_network("gateway mapping " + underlay_ip->to_string(), startup_.nat,
                            networks_.contains(startup_.nat.public_network));
  });
  routing_.gateway_mappings[*underlay_ip] = *public_ip;
  update_wanted_neighbors();
  publish();
  log::info("nat: gateway mapping {} <-> {}", underlay_text, public_text);
}

void Controller::del_gateway_mapping(const std::string& underlay_text) {
  std::lock_guard lock(mutex_);
  const auto underlay_ip = Ipv4Address::parse(underlay_text);
  if (!underlay_ip || routing_.gateway_mappings.erase(*underlay_ip) == 0)
    throw ControlError(fmt::format("gateway mapping {} does not exist", underlay_text));
  update_wanted_neighbors();
  publish();
}

void Controller::set_nat_gateway(Ipv4Address gateway) {
  std::lock_guard lock(mutex_);
  if (startup_.nat.gateway == gateway) return;
  startup_.nat.gateway = gateway;
  update_wanted_neighbors();
  publish();
  log::info("nat: gateway {}", gateway.to_string());
}

void Controller::add_router(const std::string& network, const std::string& address_text) {
  std::lock_guard lock(mutex_);
  Ipv4Prefix address;
  check([&] { address = parse_router_address(network, address_text); });
  Network& target = network_or_throw(network, "router: ");
  const RouterConfig router{network, address};
  std::vector<RouterConfig> existing;
  for (const auto& [name, r] : routing_.routers) existing.push_back(r);
  check([&] { validate_router(router, existing, startup_.underlay); });
  routing_.routers[network] = router;
  if (!routing_.overlay_neighbors)
    routing_.overlay_neighbors = std::make_unique<OverlayNeighbors>(kOverlayNeighborCapacity, dataplane_.rcu());
  publish();
  // Guests that asked for their gateway before it existed retry at their
  // own pace; tell them now.
  announce_router(target);
  log::info("router on network {}: {}", network, address.to_string());
}

void Controller::del_router(const std::string& network) {
  std::lock_guard lock(mutex_);
  if (!routing_.routers.contains(network)) throw ControlError(fmt::format("network {} has no router", network));
  for (const auto& [public_ip, fip] : routing_.fips)
    if (fip.config.network == network)
      throw ControlError(fmt::format("router on network {}: floating IP {} routes through it; delete it first", network,
                                     public_ip.to_string()));
  if (network == startup_.nat.public_network &&
      (!routing_.gateway_mappings.empty() || routing_.snat || !routing_.fips.empty()))
    throw ControlError(fmt::format(
        "router on network {}: it is [nat] public_network, which gateway mappings and SNAT route through; it stays",
        network));
  routing_.routers.erase(network);
  publish();  // after this, no worker routes on the network
  if (routing_.overlay_neighbors) routing_.overlay_neighbors->forget_network(networks_.at(network)->index);
  log::info("router on network {}: deleted", network);
}

NatStatus Controller::nat() {
  std::lock_guard lock(mutex_);
  return nat_status();
}

NatStatus Controller::nat_status() const {
  NatStatus s;
  s.router_mac = MacAddress(routing_.router_mac);
  for (const auto& [name, router] : routing_.routers) s.routers.push_back(router);
  for (const auto& [public_ip, fip] : routing_.fips) {
    const FipCounters now = fip_totals(fip.counter_slot);
    FipCounters d{};
    d.in_packets = now.in_packets - fip.baseline.in_packets;
    d.in_bytes = now.in_bytes - fip.baseline.in_bytes;
    d.out_packets = now.out_packets - fip.baseline.out_packets;
    d.out_bytes = now.out_bytes - fip.baseline.out_bytes;
    s.fips.push_back({fip.config, fip.origin, fip.active, d});
  }
  for (const auto& [u, p] : routing_.gateway_mappings) s.gateway_mappings.push_back({u, p});
  s.snat = routing_.snat != nullptr;
  if (routing_.snat) {
    s.snat_address = startup_.nat.snat_address;
    s.snat_port_min = startup_.nat.snat_port_min;
    s.snat_port_max = startup_.nat.snat_port_max;
    s.sessions_active = routing_.snat->active();
    s.sessions_limit = routing_.snat->config().max_sessions;
    s.sessions_created = routing_.snat->created();
    s.sessions_expired = routing_.snat->expired();
  }
  for (unsigned w = 0; w < dataplane_.worker_count(); ++w) {
    s.translations += counter_read(dataplane_.counters(w).nat_translations);
    s.mss_clamped += counter_read(dataplane_.counters(w).nat_mss_clamped);
  }
  return s;
}

std::vector<nat::SnatSession> Controller::nat_sessions(size_t limit) {
  std::lock_guard lock(mutex_);
  if (!routing_.snat) throw ControlError("nat: this rVM does no SNAT ([nat] snat_address is not set)");
  return routing_.snat->sessions(limit);
}

std::vector<OverlayNeighbor> Controller::overlay_neighbors() {
  std::lock_guard lock(mutex_);
  if (!routing_.overlay_neighbors) return {};
  return routing_.overlay_neighbors->entries(dataplane_.now_s());
}

void Controller::learn_overlay_neighbor(const PuntedFrame& frame, const ArpInfo& arp) {
  // Workers punt only ARP the port may send and only addresses it may
  // claim (router.cpp, may_teach_neighbor); what is left to check here is
  // that the network still exists and its share of the table.
  if (!routing_.overlay_neighbors || frame.network >= kMaxNetworks) return;
  const Network* network = network_at_[frame.network];
  if (network == nullptr) return;
  const MacAddress mac(arp.sender_mac);
  if (mac.is_multicast() || mac.is_zero() || arp.sender_ip == 0) return;
  const auto result = routing_.overlay_neighbors->learn(frame.network, arp.sender_ip, mac, dataplane_.now_s(),
                                                        network->config.neighbor_limit);
  if (result == OverlayNeighbors::LearnResult::kLimitReached || result == OverlayNeighbors::LearnResult::kTableFull)
    log::debug("network {}: neighbor {} not learned ({} of {} entries in use)", network->config.name,
               Ipv4Address(arp.sender_ip).to_string(), routing_.overlay_neighbors->count(frame.network),
               network->config.neighbor_limit);
}

bool Controller::nat_needs_underlay_gateway() const {
  // NAT sends to the internet through the reality cloud's router.
  return routing_.snat || !routing_.gateway_mappings.empty();
}

void Controller::check_routing_allows_network_del(const std::string& name) const {
  for (const auto& [public_ip, fip] : routing_.fips)
    if (fip.config.network == name)
      throw ControlError(
          fmt::format("network {}: floating IP {} uses it; delete it first", name, public_ip.to_string()));
  // NAT routes through the public network: without it, floating IPs,
  // gateway mappings and SNAT would stop and `config show` would print a
  // file --check refuses.
  if (name == startup_.nat.public_network) {
    const bool other_routers =
        std::any_of(routing_.routers.begin(), routing_.routers.end(), [&](const auto& r) { return r.first != name; });
    const char* user = !routing_.fips.empty()               ? "floating IPs"
                       : !routing_.gateway_mappings.empty() ? "gateway mappings"
                       : routing_.snat                      ? "SNAT"
                       : other_routers                      ? "the routers of other networks"
                                                            : nullptr;
    if (user != nullptr)
      throw ControlError(
          fmt::format("network {}: it is [nat] public_network, which {} route through; it stays", name, user));
  }
}

// Before the snapshot without the network is published.
void Controller::routing_network_deleted(const std::string& name) {
  routing_.routers.erase(name);
}

// After it is published: nothing learned for this network may outlive it.
// Its index names the next network created, and a session or neighbor left
// behind would hand that network the old one's replies.
void Controller::routing_forget_network(const std::string& name, NetworkIndex index) {
  if (routing_.overlay_neighbors) routing_.overlay_neighbors->forget_network(index);
  if (routing_.snat) {
    if (const size_t ended = routing_.snat->forget_network(index); ended != 0)
      log::info("network {}: {} SNAT session(s) ended", name, ended);
  }
}

// The router's neighbor entries for a removed port's stations go too: a
// guest that left (or moved to another rVM) is not answered for from here.
void Controller::routing_forget_macs(NetworkIndex network, const std::vector<MacAddress>& macs) {
  if (routing_.overlay_neighbors) routing_.overlay_neighbors->forget_macs(network, macs);
}

void Controller::routing_network_status(NetworkStatus& s) const {
  if (routing_.overlay_neighbors) {
    s.neighbors = routing_.overlay_neighbors->count(s.index);
    s.neighbor_limit_hits = routing_.overlay_neighbors->refused(s.index);
  }
  if (routing_.snat) s.snat_sessions = routing_.snat->network_sessions(s.index);
}

void Controller::expire_routing(uint32_t now_s) {
  if (routing_.snat) routing_.snat->expire(now_s);
  if (routing_.overlay_neighbors) routing_.overlay_neighbors->expire(now_s, startup_.underlay.neighbor_timeout_s);
}

void Controller::running_routing_config(Config& c) const {
  c.routers.clear();
  for (const auto& [name, router] : routing_.routers) c.routers.push_back(router);
  c.gateway_mappings.clear();
  for (const auto& [u, p] : routing_.gateway_mappings) c.gateway_mappings.push_back({u, p});
  c.fips.clear();
  // What a domain plugged comes back from its XML, not from this file.
  for (const auto& [p, fip] : routing_.fips)
    if (!fip.origin.is_domain() && !fip.origin.cluster) c.fips.push_back(fip.config);
}

}  // namespace inception
