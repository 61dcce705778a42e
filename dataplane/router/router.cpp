#include "dataplane/router/router.h"

#include <netinet/in.h>
#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ether.h>

#include <cstring>

#include "dataplane/arp.h"
#include "dataplane/l2/bridge.h"
#include "dataplane/router/overlay_neighbors.h"
#include "dataplane/worker/punt.h"
#include "nat/snat.h"
#include "nat/translate.h"

namespace inception {

namespace {

constexpr uint8_t kIcmpEchoRequest = 8;

void drop(WorkerContext& ctx, PortIndex port, DropReason reason, rte_mbuf* m) noexcept {
  count_drop(ctx.counters->ports[port], reason);
  rte_pktmbuf_free(m);
}

void set_macs(rte_mbuf* m, const std::array<uint8_t, 6>& src, const std::array<uint8_t, 6>& dst) noexcept {
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  std::memcpy(eth->src_addr.addr_bytes, src.data(), 6);
  std::memcpy(eth->dst_addr.addr_bytes, dst.data(), 6);
}

bool same_mac(const uint8_t* a, const std::array<uint8_t, 6>& b) noexcept {
  return std::memcmp(a, b.data(), 6) == 0;
}

// Where the router sends a packet it has translated: onto a network toward
// a next hop whose MAC the overlay neighbor table knows, onto a network
// with the destination MAC already set, or out of the NIC. kConsumed: it
// was dropped (and counted) or answered.
// kSnat: waiting for its SNAT session, looked up with the rest of the
// burst's (SnatBatch).
struct Route {
  enum Kind : uint8_t { kConsumed, kNextHop, kResolved, kUnderlay, kSnat };
  Kind kind = kConsumed;
  NetworkIndex network = kInvalidNetwork;
  uint32_t next_hop = 0;  // network order
};

Route consumed(WorkerContext& ctx, PortIndex port, DropReason reason, rte_mbuf* m) noexcept {
  drop(ctx, port, reason, m);
  return {};
}
Route via(NetworkIndex network, uint32_t next_hop) noexcept {
  return {Route::kNextHop, network, next_hop};
}
Route to_underlay() noexcept {
  return {Route::kUnderlay, kInvalidNetwork, 0};
}

// The SNAT packets of a burst, set aside by the routing decision so that
// their sessions are found in one bulk lookup: at a million sessions every
// lookup is a cache miss, and one packet at a time they queue. The keys
// stay where flow_key wrote them (the burst's key array): copied here, they
// would be loaded 16 bytes at a time right after their byte stores.
struct SnatOutbound {
  nat::SnatTable::OutboundRequest requests[kBurstSize];
  uint16_t frame[kBurstSize];
  uint16_t n = 0;
  Route defer(uint16_t i, const nat::FlowKey& key, const uint8_t* origin_mac, bool may_create) noexcept {
    requests[n].key = &key;
    requests[n].origin_mac = origin_mac;
    requests[n].may_create = may_create;
    frame[n++] = i;
    return {Route::kSnat, kInvalidNetwork, 0};
  }
};
struct SnatInbound {
  const nat::FlowKey* keys[kBurstSize];
  uint16_t frame[kBurstSize];
  uint16_t n = 0;
  Route defer(uint16_t i, const nat::FlowKey& key) noexcept {
    keys[n] = &key;
    frame[n++] = i;
    return {Route::kSnat, kInvalidNetwork, 0};
  }
};

// Asks the network who has `ip` (network order), at most once per window;
// the request is charged to `in_port`, whose packet needed the answer.
void request_neighbor(WorkerContext& ctx, const Snapshot& snapshot, NetworkIndex network, PortIndex in_port,
                      uint32_t ip) noexcept {
  const NetworkView& n = snapshot.networks[network];
  if (!n.router.enabled) return;  // no address to ask from
  const uint64_t tag = (uint64_t{network} << 32) | ip;
  if (!ctx.arp_filter.should_send(tag, ctx.now_cycles, ctx.learn_window_cycles * 10)) return;
  rte_mbuf* request =
      make_arp_request(ctx.pool, snapshot.nat.router_mac, rte_be_to_cpu_32(n.router.ip), rte_be_to_cpu_32(ip));
  if (request != nullptr) l2_forward(ctx, snapshot, L2Origin{network, in_port, true}, &request, 1);
}

void count_fip(FipCounters& c, bool inbound, const rte_mbuf* m) noexcept {
  counter_add(inbound ? c.in_packets : c.out_packets, 1);
  counter_add(inbound ? c.in_bytes : c.out_bytes, m->pkt_len);
}

// The local network whose router subnet holds `ip` (not `except`), if any.
NetworkIndex routed_network_of(const Snapshot& snapshot, uint32_t ip, NetworkIndex except) noexcept {
  for (NetworkIndex n : snapshot.nat.routed_networks)
    if (n != except && snapshot.networks[n].router.contains(ip)) return n;
  return kInvalidNetwork;
}

}  // namespace

void router_flood(WorkerContext& ctx, const Snapshot& snapshot, NetworkIndex network, rte_mbuf* m) noexcept {
  if (network >= kMaxNetworks || snapshot.networks[network].fdb == nullptr) {
    rte_pktmbuf_free(m);
    return;
  }
  l2_forward(ctx, snapshot, L2Origin{network, kInvalidPort, true}, &m, 1);
}

// Whether the control thread may learn `sender_ip` from an ARP frame that
// entered `network` on `in_port` (DESIGN.md section 8: a guest's claims are
// believed only for what it may own). A local port may claim host addresses
// of the network's router subnet, never the router's own, nor the gateway
// rVM's public-network address; addresses outside the subnet (floating IPs
// on `public`) are announced only by other rVMs' routers, over a peer.
bool may_teach_neighbor(const Snapshot& snapshot, const NetworkView& n, NetworkIndex network, const PortView& in,
                        uint32_t sender_ip_be) noexcept {
  if (sender_ip_be == 0 || sender_ip_be == n.router.ip) return false;
  if (in.is_peer) return true;
  return n.router.is_host(sender_ip_be) &&
         !(network == snapshot.nat.public_network && sender_ip_be == snapshot.nat.gateway_ip);
}

// Whether an ARP sender address is one only routers announce on `network`:
// the router's own, and on `public` the gateway rVM's address and anything
// outside the subnet (floating IPs). Other rVMs believe these from a peer
// (may_teach_neighbor), so a guest's claim must stop where it enters: once
// flooded over VXLAN it would teach the gateway that a floating IP lives
// behind the guest, or a host rVM that the guest is the gateway.
bool claims_router_address(const Snapshot& snapshot, const NetworkView& n, NetworkIndex network,
                           uint32_t sender_ip_be) noexcept {
  if (sender_ip_be == 0) return false;  // an ARP probe (RFC 5227) claims nothing
  if (n.router.enabled && sender_ip_be == n.router.ip) return true;
  if (network != snapshot.nat.public_network) return false;
  return sender_ip_be == snapshot.nat.gateway_ip || (n.router.enabled && !n.router.is_host(sender_ip_be));
}

bool router_arp(WorkerContext& ctx, const Snapshot& snapshot, NetworkIndex network, PortIndex in_port,
                rte_mbuf* m) noexcept {
  const auto arp = parse_arp(m);
  if (!arp) return false;
  const NatView& nat = snapshot.nat;
  const NetworkView& n = snapshot.networks[network];
  const PortView& in = snapshot.ports[in_port];
  PortCounters& in_counters = ctx.counters->ports[in_port];
  if (!in.is_peer && claims_router_address(snapshot, n, network, rte_cpu_to_be_32(arp->sender_ip))) {
    count_drop(in_counters, DropReason::kSpoofedArp);
    rte_pktmbuf_free(m);
    return true;
  }
  // The control thread learns who is who on the network from ARP it may
  // believe, within the port's and the network's punt budgets.
  if (may_teach_neighbor(snapshot, n, network, in, rte_cpu_to_be_32(arp->sender_ip))) {
    if (!ctx.punt_port_budget[in_port].take(snapshot.limits.punt_port, ctx.now_cycles) ||
        !ctx.punt_network_budget[network].take(snapshot.limits.punt_network, ctx.now_cycles)) {
      count_drop(in_counters, DropReason::kPuntLimit);
    } else if (rte_mbuf* copy = rte_pktmbuf_copy(m, ctx.pool, 0, UINT32_MAX)) {
      PuntedFrame punted{copy, network, in_port, static_cast<uint8_t>(in.is_peer ? 1 : 0), {}};
      if (rte_ring_mp_enqueue_elem(ctx.overlay_punt_ring, &punted, sizeof(punted)) != 0) {
        rte_pktmbuf_free(copy);
        count_drop(in_counters, DropReason::kPuntFull);
      }
    } else {
      count_drop(in_counters, DropReason::kNoBuffer);
    }
  }
  if (arp->operation == RTE_ARP_OP_REQUEST) {
    bool ours = n.router.enabled && arp->target_ip == rte_be_to_cpu_32(n.router.ip);
    if (!ours && network == nat.public_network) {
      const uint16_t i = nat.fip_by_public.find(arp->target_ip, kInvalidPort);
      ours = i != kInvalidPort && nat.fips[i].active;
    }
    if (ours && arp_reply_in_place(m, nat.router_mac, arp->target_ip)) {
      ctx.tx.push(in_port, m);
      return true;
    }
    return false;
  }
  // A reply to the router's own request is for nobody else.
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  if (same_mac(eth->dst_addr.addr_bytes, nat.router_mac)) {
    rte_pktmbuf_free(m);
    return true;
  }
  return false;
}

namespace {

// The routing decision for one frame addressed to the router MAC on
// `network`, translated in place.
Route route_from_network(WorkerContext& ctx, const Snapshot& snapshot, NetworkIndex network, PortIndex in_port,
                         rte_mbuf* m, uint16_t frame, nat::FlowKey& key, SnatOutbound& snat) noexcept {
  const NatView& nat = snapshot.nat;
  if (!nat::flow_key(m, &key)) return consumed(ctx, in_port, DropReason::kNoMapping, m);
  const uint32_t src = key.src_ip;
  const uint32_t dst = key.dst_ip;
  // What an outbound translation may trust: the source is a host of the
  // ingress network's router subnet. Only on `public`, and only from
  // another rVM's switch (a peer), may a source come from elsewhere: spokes
  // relay their iVMs' fixed addresses untranslated to the gateway's SNAT.
  // Asked only on the outbound paths that need it, not for inbound frames.
  const PortView& in = snapshot.ports[in_port];
  const auto source_ok = [&] {
    const bool relayed = in.is_peer && network == nat.public_network;
    return relayed || snapshot.networks[network].router.is_host(src);
  };

  // Host mapping, inbound: public -> fixed.
  if (network == nat.public_network) {
    const uint16_t i = nat.fip_by_public.find(rte_be_to_cpu_32(dst), kInvalidPort);
    if (i != kInvalidPort) {
      const FloatingIpView& fip = nat.fips[i];
      if (!nat::translate_destination(m, fip.fixed_ip)) return consumed(ctx, in_port, DropReason::kMalformed, m);
      counter_add(ctx.counters->nat_translations, 1);
      count_fip(ctx.counters->fips[fip.counter_slot], true, m);
      return via(fip.network, fip.fixed_ip);
    }
  }
  // Host mapping, outbound: fixed -> public, then the gateway mapping here
  // (one rVM does both) or source routing to the gateway over `public`.
  {
    const uint16_t i = nat.fip_by_fixed.find((uint64_t{network} << 32) | rte_be_to_cpu_32(src), kInvalidPort);
    if (i != kInvalidPort) {
      if (!nat.egress_allowed(dst)) return consumed(ctx, in_port, DropReason::kEgressDenied, m);
      const FloatingIpView& fip = nat.fips[i];
      if (!nat::translate_source(m, fip.public_ip)) return consumed(ctx, in_port, DropReason::kMalformed, m);
      counter_add(ctx.counters->nat_translations, 1);
      count_fip(ctx.counters->fips[fip.counter_slot], false, m);
      const uint16_t g = nat.gateway_by_public.find(rte_be_to_cpu_32(fip.public_ip), kInvalidPort);
      if (g != kInvalidPort) {
        nat::translate_source(m, nat.gateway_mappings[g].underlay_ip);
        return to_underlay();
      }
      if (nat.gateway_ip == 0) return consumed(ctx, in_port, DropReason::kNoMapping, m);
      return via(nat.public_network, nat.gateway_ip);
    }
  }
  // Gateway mapping, outbound: a host rVM sent its floating IP's traffic here.
  if (network == nat.public_network) {
    const uint16_t g = nat.gateway_by_public.find(rte_be_to_cpu_32(src), kInvalidPort);
    if (g != kInvalidPort) {
      // Only a host rVM's router sends as a floating IP; a local guest
      // claiming one would borrow another tenant's public address.
      if (!in.is_peer) return consumed(ctx, in_port, DropReason::kSpoofedIp, m);
      if (!nat.egress_allowed(dst)) return consumed(ctx, in_port, DropReason::kEgressDenied, m);
      if (!nat::translate_source(m, nat.gateway_mappings[g].underlay_ip))
        return consumed(ctx, in_port, DropReason::kMalformed, m);
      counter_add(ctx.counters->nat_translations, 1);
      return to_underlay();
    }
    // SNAT replies the gateway relays back to an iVM of this rVM. Only the
    // gateway may route into our fixed networks this way.
    const NetworkIndex inside = routed_network_of(snapshot, dst, network);
    if (inside != kInvalidNetwork) {
      std::array<uint8_t, 6> gateway_mac{};
      const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
      const bool from_gateway = nat.gateway_ip != 0 && nat.neighbors != nullptr &&
                                nat.neighbors->lookup(network, nat.gateway_ip, &gateway_mac) &&
                                same_mac(eth->src_addr.addr_bytes, gateway_mac);
      if (!from_gateway || nat.snat != nullptr) return consumed(ctx, in_port, DropReason::kNoMapping, m);
      return via(inside, dst);
    }
  }
  // SNAT, on the gateway: anything else an iVM (here, or routed from
  // another rVM over `public`) sends toward the internet.
  if (nat.snat != nullptr && routed_network_of(snapshot, dst, kInvalidNetwork) == kInvalidNetwork) {
    if (!source_ok()) return consumed(ctx, in_port, DropReason::kSpoofedIp, m);
    if (!nat.egress_allowed(dst)) return consumed(ctx, in_port, DropReason::kEgressDenied, m);
    const bool creates = !key.icmp_error && (key.protocol != IPPROTO_ICMP || key.icmp_type == kIcmpEchoRequest);
    const bool known_protocol =
        key.protocol == IPPROTO_TCP || key.protocol == IPPROTO_UDP || key.protocol == IPPROTO_ICMP;
    if (!known_protocol) return consumed(ctx, in_port, DropReason::kNoMapping, m);
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    return snat.defer(frame, key, eth->src_addr.addr_bytes, creates);
  }
  // A spoke: iVMs without a floating IP reach the internet through the
  // gateway's SNAT, over `public`, untranslated.
  if (network != nat.public_network && nat.gateway_ip != 0 &&
      routed_network_of(snapshot, dst, kInvalidNetwork) == kInvalidNetwork) {
    if (!source_ok()) return consumed(ctx, in_port, DropReason::kSpoofedIp, m);
    if (!nat.egress_allowed(dst)) return consumed(ctx, in_port, DropReason::kEgressDenied, m);
    return via(nat.public_network, nat.gateway_ip);
  }
  return consumed(ctx, in_port, DropReason::kNoMapping, m);
}

// The routing decision for one IPv4 packet from the underlay to one of the
// NAT's addresses, translated in place.
Route route_from_underlay(WorkerContext& ctx, const Snapshot& snapshot, PortIndex underlay, rte_mbuf* m, uint16_t frame,
                          nat::FlowKey& key, SnatInbound& snat) noexcept {
  const NatView& nat = snapshot.nat;
  if (!nat::flow_key(m, &key)) return consumed(ctx, underlay, DropReason::kMalformed, m);
  // Gateway mapping, inbound: underlay -> public, then the host mapping
  // here or the rVM that answers ARP for the public IP on `public`.
  const uint16_t g = nat.gateway_by_underlay.find(rte_be_to_cpu_32(key.dst_ip), kInvalidPort);
  if (g != kInvalidPort) {
    const GatewayMappingView& mapping = nat.gateway_mappings[g];
    if (!nat::translate_destination(m, mapping.public_ip)) return consumed(ctx, underlay, DropReason::kMalformed, m);
    counter_add(ctx.counters->nat_translations, 1);
    const uint16_t i = nat.fip_by_public.find(rte_be_to_cpu_32(mapping.public_ip), kInvalidPort);
    if (i != kInvalidPort) {
      const FloatingIpView& fip = nat.fips[i];
      nat::translate_destination(m, fip.fixed_ip);
      count_fip(ctx.counters->fips[fip.counter_slot], true, m);
      return via(fip.network, fip.fixed_ip);
    }
    if (nat.public_network == kInvalidNetwork) return consumed(ctx, underlay, DropReason::kNoMapping, m);
    return via(nat.public_network, mapping.public_ip);
  }
  // SNAT, inbound: a reply to a session.
  if (key.dst_ip == nat.snat_address && nat.snat != nullptr) return snat.defer(frame, key);
  return consumed(ctx, underlay, DropReason::kNoMapping, m);
}

// Translates the burst's outbound SNAT packets once their sessions are found.
void finish_snat_outbound(WorkerContext& ctx, const Snapshot& snapshot, NetworkIndex network, PortIndex in_port,
                          rte_mbuf** pkts, Route* routes, const SnatOutbound& snat) noexcept {
  const NatView& nat = snapshot.nat;
  nat::SnatResult results[kBurstSize];
  const nat::SnatSession* sessions[kBurstSize];
  nat.snat->outbound_burst(snat.requests, snat.n, network, ctx.index, ctx.now_s, results, sessions);
  for (uint16_t j = 0; j < snat.n; ++j) {
    const uint16_t i = snat.frame[j];
    rte_mbuf* m = pkts[i];
    switch (results[j]) {
      case nat::SnatResult::kOk:
        if (!nat::translate_source(m, nat.snat_address, sessions[j]->outside_port)) {
          routes[i] = consumed(ctx, in_port, DropReason::kMalformed, m);
          continue;
        }
        counter_add(ctx.counters->nat_translations, 1);
        routes[i] = to_underlay();
        continue;
      case nat::SnatResult::kTableFull:
        routes[i] = consumed(ctx, in_port, DropReason::kSessionTableFull, m);
        continue;
      case nat::SnatResult::kPortsExhausted:
        routes[i] = consumed(ctx, in_port, DropReason::kPortsExhausted, m);
        continue;
      case nat::SnatResult::kSessionLimit:
        routes[i] = consumed(ctx, in_port, DropReason::kSessionLimit, m);
        continue;
      case nat::SnatResult::kNoSession:
        routes[i] = consumed(ctx, in_port, DropReason::kNoMapping, m);
        continue;
    }
  }
}

// Translates the burst's SNAT replies once their sessions are found.
void finish_snat_inbound(WorkerContext& ctx, const Snapshot& snapshot, PortIndex underlay, rte_mbuf** pkts,
                         Route* routes, const SnatInbound& snat) noexcept {
  const NatView& nat = snapshot.nat;
  const nat::SnatSession* sessions[kBurstSize];
  nat.snat->inbound_burst(snat.keys, snat.n, ctx.index, ctx.now_s, sessions);
  for (uint16_t j = 0; j < snat.n; ++j) {
    const uint16_t i = snat.frame[j];
    rte_mbuf* m = pkts[i];
    const nat::SnatSession* session = sessions[j];
    if (session == nullptr) {
      routes[i] = consumed(ctx, underlay, DropReason::kNoMapping, m);
      continue;
    }
    if (!nat::translate_destination(m, session->inside_ip, session->inside_port)) {
      routes[i] = consumed(ctx, underlay, DropReason::kMalformed, m);
      continue;
    }
    counter_add(ctx.counters->nat_translations, 1);
    set_macs(m, nat.router_mac, session->origin_mac);
    routes[i] = {Route::kResolved, session->origin_network, 0};
  }
}

// Sends what the router decided for a burst: next hops resolved in one
// bulk lookup, frames for the NIC to its TX buffer, and each network's
// frames through the L2 forwarder together.
void emit_burst(WorkerContext& ctx, const Snapshot& snapshot, PortIndex in_port, rte_mbuf** pkts, const Route* routes,
                uint16_t n) noexcept {
  const NatView& nat = snapshot.nat;
  uint64_t keys[kBurstSize];
  const uint64_t* key_ptrs[kBurstSize];
  uint16_t lookup_of[kBurstSize];
  uint16_t n_keys = 0;
  // The network each frame goes to through the L2 forwarder, or none. Its
  // own array, not a field written into `routes`: a byte store to a Route's
  // kind followed by a load of kind and network together would stall store
  // forwarding.
  NetworkIndex target[kBurstSize];
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    target[i] = routes[i].kind == Route::kResolved ? routes[i].network : kInvalidNetwork;
    switch (routes[i].kind) {
      case Route::kNextHop:
        keys[n_keys] = OverlayNeighbors::key_of(routes[i].network, rte_be_to_cpu_32(routes[i].next_hop));
        key_ptrs[n_keys] = &keys[n_keys];
        lookup_of[n_keys++] = i;
        break;
      case Route::kUnderlay:
        if (!snapshot.underlay.enabled || !nat.underlay_gateway_resolved) {
          drop(ctx, in_port, DropReason::kNoNeighbor, m);
          break;
        }
        set_macs(m, snapshot.underlay.mac, nat.underlay_gateway_mac);
        ctx.tx.push(snapshot.underlay.port, m);
        break;
      default:
        break;
    }
  }
  if (n_keys != 0) {
    uint64_t mac_keys[kBurstSize];
    const uint64_t hits = nat.neighbors != nullptr ? nat.neighbors->lookup_bulk(key_ptrs, n_keys, mac_keys) : 0;
    for (uint16_t k = 0; k < n_keys; ++k) {
      const uint16_t i = lookup_of[k];
      if (!(hits & (1ULL << k))) {
        request_neighbor(ctx, snapshot, routes[i].network, in_port, routes[i].next_hop);
        drop(ctx, in_port, DropReason::kNoNeighbor, pkts[i]);
        continue;
      }
      set_macs(pkts[i], nat.router_mac, MacAddress::from_key(mac_keys[k]).bytes());
      target[i] = routes[i].network;
    }
  }
  // One forwarder call per network, frames in arrival order.
  rte_mbuf* group[kBurstSize];
  for (uint16_t i = 0; i < n; ++i) {
    const NetworkIndex network = target[i];
    if (network == kInvalidNetwork) continue;
    uint16_t k = 0;
    for (uint16_t j = i; j < n; ++j) {
      if (target[j] == network) {
        group[k++] = pkts[j];
        target[j] = kInvalidNetwork;
      }
    }
    l2_forward(ctx, snapshot, L2Origin{network, in_port, true}, group, k);
  }
}

// Lowers the MSS that the burst's routed TCP SYNs announce to what fits the
// overlay (its MTU less 40 bytes of IPv4 and TCP header). A routed flow may
// cross the `public` tunnel, and a guest can migrate onto a path that does,
// while a too-big routed packet gets no ICMP error its sender would
// recognize: so every SYN the router forwards is clamped, in both
// directions (docs/nat.md).
void clamp_syns(WorkerContext& ctx, const Snapshot& snapshot, rte_mbuf** pkts, const Route* routes,
                const nat::FlowKey* keys, uint16_t n) noexcept {
  constexpr uint8_t kTcpSyn = 0x02;
  constexpr uint16_t kIpAndTcpHeaders = 40;
  const uint16_t overlay_mtu = snapshot.underlay.overlay_mtu;
  if (overlay_mtu <= kIpAndTcpHeaders) return;
  for (uint16_t i = 0; i < n; ++i) {
    const nat::FlowKey& key = keys[i];
    if (routes[i].kind == Route::kConsumed || key.protocol != IPPROTO_TCP || key.icmp_error ||
        !(key.tcp_flags & kTcpSyn))
      continue;
    if (nat::clamp_tcp_mss(pkts[i], overlay_mtu - kIpAndTcpHeaders)) counter_add(ctx.counters->nat_mss_clamped, 1);
  }
}

}  // namespace

void router_burst(WorkerContext& ctx, const Snapshot& snapshot, NetworkIndex network, PortIndex in_port,
                  rte_mbuf** pkts, uint16_t n) noexcept {
  Route routes[kBurstSize];
  nat::FlowKey keys[kBurstSize];
  SnatOutbound snat;
  for (uint16_t i = 0; i < n; ++i)
    routes[i] = route_from_network(ctx, snapshot, network, in_port, pkts[i], i, keys[i], snat);
  if (snat.n != 0) finish_snat_outbound(ctx, snapshot, network, in_port, pkts, routes, snat);
  clamp_syns(ctx, snapshot, pkts, routes, keys, n);
  emit_burst(ctx, snapshot, in_port, pkts, routes, n);
}

void router_underlay_burst(WorkerContext& ctx, const Snapshot& snapshot, PortIndex underlay, rte_mbuf** pkts,
                           uint16_t n) noexcept {
  Route routes[kBurstSize];
  nat::FlowKey keys[kBurstSize];
  SnatInbound snat;
  for (uint16_t i = 0; i < n; ++i) routes[i] = route_from_underlay(ctx, snapshot, underlay, pkts[i], i, keys[i], snat);
  if (snat.n != 0) finish_snat_inbound(ctx, snapshot, underlay, pkts, routes, snat);
  clamp_syns(ctx, snapshot, pkts, routes, keys, n);
  emit_burst(ctx, snapshot, underlay, pkts, routes, n);
}

}  // namespace inception
