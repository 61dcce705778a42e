#include "dataplane/underlay_input.h"

#include <rte_byteorder.h>
#include <rte_ether.h>

#include <cstring>

#include "dataplane/arp.h"
#include "dataplane/bridge.h"
#include "dataplane/router.h"
#include "dataplane/vxlan.h"

namespace inception {

namespace {

// Sends a copy of an ARP frame to the control thread; the original goes on.
void punt_copy(WorkerContext& ctx, PortCounters& counters, const rte_mbuf* m) noexcept {
  rte_mbuf* copy = rte_pktmbuf_copy(m, ctx.pool, 0, UINT32_MAX);
  if (copy == nullptr) {
    count_drop(counters, DropReason::kNoBuffer);
    return;
  }
  if (rte_ring_mp_enqueue(ctx.punt_ring, copy) != 0) {
    rte_pktmbuf_free(copy);
    count_drop(counters, DropReason::kPuntFull);
  }
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

  rte_mbuf* decapped[kBurstSize];
  PortIndex from[kBurstSize];
  uint16_t n_decapped = 0;
  uint64_t bytes = 0;

  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    bytes += m->pkt_len;
    DropReason reason = DropReason::kCount;
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
        const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
        // A packet socket on the NIC also sees what we send: never answer ourselves.
        if (std::memcmp(eth->src_addr.addr_bytes, underlay.mac.data(), 6) == 0) {
          rte_pktmbuf_free(m);
          continue;
        }
        const auto arp = parse_arp(m);
        if (arp && arp->target_ip == local_ip) punt_copy(ctx, counters, m);
        // The switch answers for its VTEP address and for the NAT's
        // underlay addresses (gateway mappings, SNAT).
        const bool nat_address = arp && underlay.nat_addresses.find(arp->target_ip, 0) != 0;
        if (arp_reply_in_place(m, underlay.mac, nat_address ? arp->target_ip : local_ip))
          ctx.tx.push(underlay_port, m);
        else
          to_host(ctx, underlay, counters, m);
        continue;
      }
      case UnderlayClass::kNat: {
        router_underlay_input(ctx, snapshot, underlay_port, m);
        continue;
      }
      case UnderlayClass::kHost: {
        const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
        if (std::memcmp(eth->src_addr.addr_bytes, underlay.mac.data(), 6) == 0) {
          rte_pktmbuf_free(m);  // our own transmission, reflected by a packet socket
          continue;
        }
        to_host(ctx, underlay, counters, m);
        continue;
      }
      case UnderlayClass::kDrop:
        break;
    }
    count_drop(counters, reason);
    rte_pktmbuf_free(m);
  }
  counter_add(counters.rx_packets, n);
  counter_add(counters.rx_bytes, bytes);

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
