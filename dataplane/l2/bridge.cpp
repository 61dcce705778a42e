#include "dataplane/l2/bridge.h"

#include <rte_arp.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_prefetch.h>

#include <cstring>

#include "dataplane/offload/tx_offload.h"
#include "dataplane/router/router.h"
#include "dataplane/vxlan/icmp_error.h"

namespace inception {

namespace {

// Whether `m` is larger than a VXLAN peer may carry (the overlay MTU). A
// TSO super-frame is not: the encap stage cuts it to fit first.
bool too_big_for_overlay(const Snapshot& snapshot, const rte_mbuf* m) noexcept {
  return m->pkt_len > uint32_t{snapshot.underlay.overlay_mtu} + sizeof(rte_ether_hdr) && !is_tso(m);
}

// IEEE 802.1Q reserves 01:80:c2:00:00:00-0f for link-local protocols
// (PAUSE, STP, LACP, LLDP, 802.1X): a bridge never forwards them, or one
// guest could pause or reconfigure another's link.
bool is_link_local_group(const rte_ether_addr& dst) noexcept {
  return dst.addr_bytes[0] == 0x01 && dst.addr_bytes[1] == 0x80 && dst.addr_bytes[2] == 0xc2 &&
         dst.addr_bytes[3] == 0x00 && dst.addr_bytes[4] == 0x00 && (dst.addr_bytes[5] & 0xf0) == 0x00;
}

// MAC keys of a burst for one bulk FDB lookup, one per run of equal keys
// (a burst from one guest usually has one source and few destinations).
struct KeyRuns {
  uint64_t keys[kBurstSize];
  const uint64_t* ptrs[kBurstSize];
  uint16_t n = 0;
  // Returns the index of `key`'s run, the index of its lookup result.
  uint8_t add(uint64_t key) noexcept {
    if (n == 0 || keys[n - 1] != key) {
      keys[n] = key;
      ptrs[n] = &keys[n];
      ++n;
    }
    return static_cast<uint8_t>(n - 1);
  }
};

void drop(WorkerContext& ctx, const L2Origin& from, DropReason reason, rte_mbuf* m) noexcept {
  if (from.port != kInvalidPort) count_drop(ctx.counters->ports[from.port], reason);
  rte_pktmbuf_free(m);
}

// The split-horizon group of what `from` sends: none for local ports and
// the router, whose frames may go to every peer.
uint8_t sender_horizon(const Snapshot& snapshot, const L2Origin& from) noexcept {
  if (from.routed) return kNoHorizon;
  const PortView& in = snapshot.ports[from.port];
  return in.is_peer ? in.horizon : kNoHorizon;
}

// Every port of the network a flood reaches: local ports and, within split
// horizon and the overlay MTU, peers; never the ingress port of a switched
// frame. A routed frame goes to peers only on the public network: elsewhere
// the router's address is the same on every rVM (a distributed default
// gateway) and what it sends unaddressed is local; flooding its ARP to other
// rVMs would teach their iVMs a remote MAC for their own gateway.
unsigned flood_targets(WorkerContext& ctx, const Snapshot& snapshot, const NetworkView& network, const L2Origin& from,
                       const rte_mbuf* m, PortIndex* targets) noexcept {
  const PortIndex except = from.routed ? kInvalidPort : from.port;
  const uint8_t horizon = sender_horizon(snapshot, from);
  const bool to_peers = !from.routed || from.network == snapshot.nat.public_network;
  unsigned n = 0;
  for (const PortIndex out : network.local_ports)
    if (out != except) targets[n++] = out;
  if (!to_peers) return n;
  const unsigned locals = n;
  for (const PortIndex out : network.peer_ports)
    if (out != except && (horizon == kNoHorizon || snapshot.ports[out].horizon != horizon)) targets[n++] = out;
  if (n != locals && too_big_for_overlay(snapshot, m)) {
    if (from.port != kInvalidPort) count_drop(ctx.counters->ports[from.port], DropReason::kTooBig);
    return locals;
  }
  return n;
}

// Flood copies share the mbuf: raise the reference count of every segment
// once for all of them (rte_pktmbuf_refcnt_update; a chained frame's tail
// freed by each target would otherwise return to the pool several times),
// then hand the same pointer to each port's TX buffer. Peers whose copy
// would need encapsulation get their own writable copy at flush time.
// Floods are bounded per ingress port and per network (flood_limit); the
// control thread's own frames (no ingress port) are not.
void flood(WorkerContext& ctx, const Snapshot& snapshot, const NetworkView& network, const L2Origin& from,
           rte_mbuf* m) noexcept {
  if (from.port != kInvalidPort &&
      unlikely(!ctx.flood_port_budget[from.port].take(snapshot.limits.flood_port, ctx.now_cycles) ||
               !ctx.flood_network_budget[from.network].take(snapshot.limits.flood_network, ctx.now_cycles)))
    return drop(ctx, from, DropReason::kFloodLimit, m);
  PortIndex targets[kMaxPorts];
  const unsigned n = flood_targets(ctx, snapshot, network, from, m, targets);
  if (n == 0) {
    rte_pktmbuf_free(m);
    return;
  }
  if (n > 1) rte_pktmbuf_refcnt_update(m, static_cast<int16_t>(n - 1));
  for (unsigned i = 0; i < n; ++i) {
    ctx.tx.push(targets[i], m);
    counter_add(ctx.counters->ports[targets[i]].flood_packets, 1);
  }
}

// A unicast frame too big for the tunnel: drop it and, for IPv4 with DF
// from a port (not the router, whose translated frame the sender would not
// recognize), tell the sender the overlay MTU.
void too_big_for_peer(WorkerContext& ctx, const Snapshot& snapshot, const L2Origin& from, rte_mbuf* m) noexcept {
  if (!from.routed)
    if (rte_mbuf* error = make_fragmentation_needed(ctx.pool, m, snapshot.underlay.overlay_mtu))
      ctx.tx.push(from.port, error);
  drop(ctx, from, DropReason::kTooBig, m);
}

// Port security for one frame whose source MAC the port may use: may it
// claim the addresses inside? IPv4 sources and ARP sender addresses must be
// the port's; with addresses bound, VLAN-tagged frames are refused too (the
// tag would carry any address past this check). Reads only the first
// segment, where rte_vhost and the PMDs put at least 2 KB of the frame.
DropReason check_port_addresses(const PortSecurityView& security, const rte_mbuf* m) noexcept {
  if (security.n_prefixes == 0) return DropReason::kCount;
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  switch (eth->ether_type) {
    case RTE_BE16(RTE_ETHER_TYPE_IPV4): {
      if (m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr)) return DropReason::kMalformed;
      const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, sizeof(rte_ether_hdr));
      return security.allows_ip(ip->src_addr) ? DropReason::kCount : DropReason::kSpoofedIp;
    }
    case RTE_BE16(RTE_ETHER_TYPE_ARP): {
      if (m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr)) return DropReason::kMalformed;
      const auto* arp = rte_pktmbuf_mtod_offset(m, const rte_arp_hdr*, sizeof(rte_ether_hdr));
      const bool own = std::memcmp(arp->arp_data.arp_sha.addr_bytes, eth->src_addr.addr_bytes, 6) == 0 &&
                       security.allows_ip(arp->arp_data.arp_sip);
      return own ? DropReason::kCount : DropReason::kSpoofedArp;
    }
    case RTE_BE16(RTE_ETHER_TYPE_VLAN):
    case RTE_BE16(RTE_ETHER_TYPE_QINQ):
    case RTE_BE16(RTE_ETHER_TYPE_QINQ1):
      return DropReason::kSpoofedIp;
    default:
      return DropReason::kCount;
  }
}

void request_learn(WorkerContext& ctx, uint64_t mac_key, NetworkIndex network, PortIndex port) noexcept {
  const LearnRequest request{mac_key, network, port, 0};
  if (!ctx.learn_filter.should_send(request, ctx.now_cycles, ctx.learn_window_cycles)) return;
  if (ctx.learn_count < kBurstSize) ctx.learn_batch[ctx.learn_count++] = request;
}

}  // namespace

void bridge_burst(WorkerContext& ctx, const Snapshot& snapshot, PortIndex in_port, rte_mbuf** pkts,
                  uint16_t n) noexcept {
  const PortView& in = snapshot.ports[in_port];
  const NetworkView& network = snapshot.networks[in.network];
  const Fdb& fdb = *network.fdb;
  PortCounters& in_counters = ctx.counters->ports[in_port];

  uint64_t rx_bytes = 0;

  // Sources first, in one bulk lookup (rte_hash pipelines its bucket
  // fetches, which matters once the FDB outgrows the caches).
  KeyRuns sources;
  uint8_t src_of_frame[kBurstSize];
  uint16_t n_valid = 0;
  for (uint16_t i = 0; i < n; ++i) {
    // The first touch of each frame's data is here; the second pass finds
    // it in cache.
    if (i + 2 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 2], void*));
    rte_mbuf* m = pkts[i];
    rx_bytes += m->pkt_len;
    if (unlikely(m->data_len < sizeof(rte_ether_hdr))) {
      count_drop(in_counters, DropReason::kMalformed);
      rte_pktmbuf_free(m);
      continue;
    }
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    src_of_frame[n_valid] = sources.add(MacAddress::key_of(eth->src_addr.addr_bytes));
    pkts[n_valid++] = m;
  }
  counter_add(in_counters.rx_packets, n);
  counter_add(in_counters.rx_bytes, rx_bytes);
  uint64_t src_values[kBurstSize];
  const uint64_t src_hits = sources.n ? fdb.lookup_bulk(sources.ptrs, sources.n, src_values) : 0;
  // Per source: may its frames be forwarded, and why not.
  DropReason src_verdict[kBurstSize]{};
  constexpr DropReason kForward = DropReason::kCount;
  for (uint16_t j = 0; j < sources.n; ++j) {
    const uint64_t key = sources.keys[j];
    src_verdict[j] = kForward;
    if (unlikely(MacAddress::is_multicast_key(key) || key == 0)) {
      src_verdict[j] = DropReason::kInvalidSource;
    } else if (unlikely(in.security.enabled && !in.security.allows_mac(key))) {
      src_verdict[j] = DropReason::kSpoofedMac;
    } else if (likely(src_hits & (1ULL << j))) {
      const FdbValue entry = FdbValue::unpack(src_values[j]);
      if (likely(entry.port == in_port))
        fdb.touch(ctx.index, entry.slot, ctx.now_s);
      else if (!entry.is_static)
        request_learn(ctx, key, in.network, in_port);
    } else if (fdb.full()) {
      src_verdict[j] = DropReason::kFdbLimit;
    } else if (fdb.port_full(in_port)) {
      src_verdict[j] = DropReason::kPortMacLimit;
    } else {
      request_learn(ctx, key, in.network, in_port);
    }
  }

  // Frames for the router (its MAC, on a network with one) go to the
  // router stage; everything else, and what the router sends back out, to
  // the one L2 forwarder.
  rte_mbuf* routed[kBurstSize];
  uint16_t n_routed = 0;
  uint16_t n_switched = 0;
  for (uint16_t i = 0; i < n_valid; ++i) {
    rte_mbuf* m = pkts[i];
    const DropReason verdict = src_verdict[src_of_frame[i]];
    if (unlikely(verdict != kForward)) {
      count_drop(in_counters, verdict);
      rte_pktmbuf_free(m);
      continue;
    }
    if (unlikely(in.security.enabled)) {
      const DropReason spoofed = check_port_addresses(in.security, m);
      if (spoofed != kForward) {
        count_drop(in_counters, spoofed);
        rte_pktmbuf_free(m);
        continue;
      }
    }
    if (unlikely(network.l3)) {
      const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
      if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
        if (router_arp(ctx, snapshot, in.network, in_port, m)) continue;
      } else if (std::memcmp(eth->dst_addr.addr_bytes, snapshot.nat.router_mac.data(), 6) == 0) {
        routed[n_routed++] = m;
        continue;
      }
    }
    pkts[n_switched++] = m;
  }
  if (n_switched != 0) l2_forward(ctx, snapshot, L2Origin{in.network, in_port, false}, pkts, n_switched);
  if (n_routed != 0) router_burst(ctx, snapshot, in.network, in_port, routed, n_routed);
}

void l2_forward(WorkerContext& ctx, const Snapshot& snapshot, const L2Origin& from, rte_mbuf** pkts,
                uint16_t n) noexcept {
  const NetworkView& network = snapshot.networks[from.network];
  const uint8_t horizon = sender_horizon(snapshot, from);
  // Destinations of the unicast frames: `key_of_frame[i]` is the lookup
  // result of unicast frame i.
  KeyRuns destinations;
  uint8_t key_of_frame[kBurstSize];
  rte_mbuf* unicast[kBurstSize];
  uint16_t n_unicast = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    if (rte_is_multicast_ether_addr(&eth->dst_addr)) {  // broadcast included
      if (unlikely(is_link_local_group(eth->dst_addr))) {
        drop(ctx, from, DropReason::kLinkLocal, m);
        continue;
      }
      flood(ctx, snapshot, network, from, m);
      continue;
    }
    key_of_frame[n_unicast] = destinations.add(MacAddress::key_of(eth->dst_addr.addr_bytes));
    unicast[n_unicast++] = m;
  }
  if (n_unicast == 0) return;

  uint64_t values[kBurstSize];
  const uint64_t hits = network.fdb->lookup_bulk(destinations.ptrs, destinations.n, values);
  for (uint16_t i = 0; i < n_unicast; ++i) {
    rte_mbuf* m = unicast[i];
    const uint8_t k = key_of_frame[i];
    if (!(hits & (1ULL << k))) {
      flood(ctx, snapshot, network, from, m);
      continue;
    }
    const PortIndex out = FdbValue::unpack(values[k]).port;
    const PortView& out_view = snapshot.ports[out];
    // The router may send a frame back where it came from (a peer on
    // `public` relaying to the gateway and back); a port may not.
    if (unlikely((out == from.port && !from.routed) || !out_view.present)) {
      drop(ctx, from, out_view.present ? DropReason::kSamePort : DropReason::kPortDown, m);
      continue;
    }
    // Split horizon holds for unicast too, so three rVMs with stale FDBs
    // cannot pass a frame around in a loop.
    if (unlikely(horizon != kNoHorizon && out_view.is_peer && out_view.horizon == horizon)) {
      drop(ctx, from, DropReason::kSplitHorizon, m);
      continue;
    }
    if (out_view.is_peer && unlikely(too_big_for_overlay(snapshot, m))) {
      too_big_for_peer(ctx, snapshot, from, m);
      continue;
    }
    ctx.tx.push(out, m);
  }
}

void flush_learn_requests(WorkerContext& ctx) noexcept {
  if (ctx.learn_count == 0) return;
  const unsigned queued =
      rte_ring_mp_enqueue_burst_elem(ctx.learn_ring, ctx.learn_batch, sizeof(LearnRequest), ctx.learn_count, nullptr);
  counter_add(ctx.counters->learn_requests, queued);
  if (queued < ctx.learn_count) counter_add(ctx.counters->learn_ring_full, ctx.learn_count - queued);
  ctx.learn_count = 0;
}

}  // namespace inception
