#include "dataplane/underlay/underlay_input.h"

#include <rte_byteorder.h>
#include <rte_ether.h>

#include <cstring>

#include "dataplane/arp.h"
#include "dataplane/l2/bridge.h"
#include "dataplane/router/router.h"
#include "dataplane/vxlan/vxlan.h"
#include "dataplane/worker/punt.h"

namespace inception {

namespace {

// Sends a copy of an ARP frame to the control thread; the original goes on.
void punt_copy(WorkerContext& ctx, PortIndex underlay_port, PortCounters& counters, const rte_mbuf* m) noexcept {
  rte_mbuf* copy = rte_pktmbuf_copy(m, ctx.pool, 0, UINT32_MAX);
  if (copy == nullptr) {
    count_drop(counters, DropReason::kNoBuffer);
    return;
  }
  PuntedFrame punted{copy, kInvalidNetwork, underlay_port, 0, {}};
  if (rte_ring_mp_enqueue_elem(ctx.underlay_punt_ring, &punted, sizeof(punted)) != 0) {
    rte_pktmbuf_free(copy);
    count_drop(counters, DropReason::kPuntFull);
  }
}

// Strips an IEEE 802.1p priority tag (VLAN 0, "no VLAN, only a priority"):
// some underlays tag every frame so. Returns false if it cannot.
bool strip_priority_tag(rte_mbuf* m) noexcept {
  if (m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_vlan_hdr) || rte_mbuf_refcnt_read(m) != 1) return false;
  const auto* vlan = rte_pktmbuf_mtod_offset(m, const rte_vlan_hdr*, sizeof(rte_ether_hdr));
  if ((rte_be_to_cpu_16(vlan->vlan_tci) & 0x0fff) != 0) return false;
  return rte_vlan_strip(m) == 0;
}

void to_host(WorkerContext& ctx, const UnderlayView& underlay, PortCounters& counters, rte_mbuf* m) noexcept {
  if (underlay.host == kInvalidPort) {
    count_drop(counters, DropReason::kNoHost);
    rte_pktmbuf_free(m);
    return;
  }
  ctx.tx.push(underlay.host, m);
}

}  // namespace

void underlay_input_burst(WorkerContext& ctx, const Snapshot& snapshot, PortIndex underlay_port, rte_mbuf** pkts,
                          uint16_t n) noexcept {
  const UnderlayView& underlay = snapshot.underlay;
  PortCounters& counters = ctx.counters->ports[underlay_port];
  const uint32_t local_ip = rte_be_to_cpu_32(underlay.local_ip);

  rte_mbuf* routed[kBurstSize];
  uint16_t n_routed = 0;
  rte_mbuf* decapped[kBurstSize];
  PortIndex from[kBurstSize];
  uint16_t n_decapped = 0;
  uint64_t bytes = 0;

  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    bytes += m->pkt_len;
    DropReason reason = DropReason::kCount;
    if (likely(m->data_len >= sizeof(rte_ether_hdr))) {
      const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
      // A packet socket on the NIC also sees what we send.
      if (unlikely(std::memcmp(eth->src_addr.addr_bytes, underlay.mac.data(), 6) == 0)) {
        rte_pktmbuf_free(m);
        continue;
      }
      // The NIC is promiscuous: unicast to other hosts is none of ours, nor
      // of the rVM's stack.
      if (unlikely(!rte_is_multicast_ether_addr(&eth->dst_addr) &&
                   std::memcmp(eth->dst_addr.addr_bytes, underlay.mac.data(), 6) != 0)) {
        count_drop(counters, DropReason::kNotForUs);
        rte_pktmbuf_free(m);
        continue;
      }
      if (unlikely(eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN))) strip_priority_tag(m);
    }
    switch (classify_underlay(underlay, m, &reason)) {
      case UnderlayClass::kVxlan: {
        PortIndex peer = kInvalidPort;
        reason = vxlan_decap(underlay, m, &peer);
        if (likely(reason == DropReason::kCount)) {
          decapped[n_decapped] = m;
          from[n_decapped++] = peer;
          continue;
        }
        break;
      }
      case UnderlayClass::kArp: {
        const auto arp = parse_arp(m);
        if (!arp) {
          reason = DropReason::kMalformed;
          break;
        }
        // Only the next hops the switch resolves teach its neighbor table:
        // no other host on the underlay can reach the control thread.
        if (arp->target_ip == local_ip && underlay.wanted_neighbors.find(arp->sender_ip, 0) != 0)
          punt_copy(ctx, underlay_port, counters, m);
        // The switch answers for its VTEP address and for the NAT's
        // underlay addresses (gateway mappings, SNAT).
        const bool nat_address = underlay.nat_addresses.find(arp->target_ip, 0) != 0;
        if (arp_reply_in_place(m, underlay.mac, nat_address ? arp->target_ip : local_ip))
          ctx.tx.push(underlay_port, m);
        else
          to_host(ctx, underlay, counters, m);
        continue;
      }
      case UnderlayClass::kNat: {
        routed[n_routed++] = m;
        continue;
      }
      case UnderlayClass::kHost:
        to_host(ctx, underlay, counters, m);
        continue;
      case UnderlayClass::kDrop:
        break;
    }
    count_drop(counters, reason);
    rte_pktmbuf_free(m);
  }
  counter_add(counters.rx_packets, n);
  counter_add(counters.rx_bytes, bytes);

  if (n_routed != 0) router_underlay_burst(ctx, snapshot, underlay_port, routed, n_routed);

  // The bridge stage takes a burst from one ingress port: hand it each
  // peer's frames together, in arrival order.
  rte_mbuf* group[kBurstSize];
  for (uint16_t i = 0; i < n_decapped; ++i) {
    if (decapped[i] == nullptr) continue;
    const PortIndex peer = from[i];
    uint16_t k = 0;
    for (uint16_t j = i; j < n_decapped; ++j) {
      if (decapped[j] != nullptr && from[j] == peer) {
        group[k++] = decapped[j];
        decapped[j] = nullptr;
      }
    }
    bridge_burst(ctx, snapshot, peer, group, k);
  }
}

void host_input_burst(WorkerContext& ctx, const Snapshot& snapshot, PortIndex host, rte_mbuf** pkts,
                      uint16_t n) noexcept {
  PortCounters& counters = ctx.counters->ports[host];
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < n; ++i) {
    bytes += pkts[i]->pkt_len;
    ctx.tx.push(snapshot.underlay.port, pkts[i]);
  }
  counter_add(counters.rx_packets, n);
  counter_add(counters.rx_bytes, bytes);
}

}  // namespace inception
