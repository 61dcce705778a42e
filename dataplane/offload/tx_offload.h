// Guest offloads finished in software, at the egress that cannot take them.
//
// A guest that negotiated VIRTIO_NET_F_CSUM and HOST_TSO4/6 hands the switch
// TCP super-frames of up to 64 KB with the TCP checksum left to "the NIC":
// rte_vhost (legacy offload flags) turns the virtio-net header into mbuf TX
// offload requests (RTE_MBUF_F_TX_TCP_SEG, tso_segsz, RTE_MBUF_F_TX_TCP_CKSUM,
// l2_len/l3_len/l4_len), and the L4 checksum field holds the pseudo-header
// sum only. The switch carries such a frame whole as far as it can:
//   * to a guest that negotiated GUEST_CSUM and GUEST_TSO4/6, as it is: rte_vhost
//     writes the requests back into the receiver's virtio-net header;
//   * to any other egress (a guest without those, a kernel port, a VXLAN peer,
//     the underlay), here: it is cut, by copy (segment_by_copy, tx_offload.cpp
//     says why not rte_gso), into frames that fit the egress and
//     the sender's MSS, and every checksum is completed in software. A VXLAN
//     peer's frames are cut before encapsulation, to the overlay MTU, so the
//     receiving VTEP gets ordinary frames with correct inner checksums.
// Frames without requests (everything from VXLAN, kernel ports and guests
// without offloads) cost one flag test per frame.
#pragma once

#include <rte_mbuf.h>

#include <algorithm>
#include <cstdint>

#include "dataplane/worker/worker_context.h"
#include "inception/counters.h"

namespace inception {

// The TX offload requests a frame may carry from a guest.
inline constexpr uint64_t kTxOffloadRequests =
    RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_UDP_SEG | RTE_MBUF_F_TX_IP_CKSUM;

inline bool has_offload_requests(const rte_mbuf* m) noexcept {
  return (m->ol_flags & kTxOffloadRequests) != 0;
}

// The frame's length on a wire: a TSO super-frame is cut to fit whatever
// egress it takes, so only its largest segment counts against an MTU.
inline bool is_tso(const rte_mbuf* m) noexcept {
  return (m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) != 0;
}

// The most frames one super-frame may become (64 KB at an MSS of 256); a
// request for more is refused (DropReason::kBadOffload).
inline constexpr uint16_t kMaxSegments = 256;

// Completes `m`'s offload requests: writes the frames to send into `out`
// (up to kMaxSegments) and returns how many. `max_frame` bounds a segment,
// Ethernet header included; the sender's MSS bounds its payload. Returns 0
// when `m` was dropped (freed, and counted on `counters`). A frame shared
// with other flood targets is copied before it is changed.
uint16_t complete_offloads(WorkerContext& ctx, PortCounters& counters, rte_mbuf* m, uint16_t max_frame,
                           rte_mbuf** out) noexcept;

// Hands `pkts` to `emit(pkts, k)` in runs of at most kBurstSize frames, the
// offload requests of each completed first (above). `emit` takes ownership.
template <typename Emit>
void emit_with_offloads_done(WorkerContext& ctx, PortCounters& counters, uint16_t max_frame, rte_mbuf** pkts,
                             uint16_t n, Emit&& emit) noexcept {
  uint16_t plain = 0;
  while (plain < n && !has_offload_requests(pkts[plain])) ++plain;
  if (likely(plain == n)) {
    emit(pkts, n);
    return;
  }
  if (plain != 0) emit(pkts, plain);
  rte_mbuf* out[kMaxSegments];
  for (uint16_t i = plain; i < n;) {
    // Plain frames up to the next one with requests go as they are, in order.
    uint16_t run = i;
    while (run < n && run - i < kBurstSize && !has_offload_requests(pkts[run])) ++run;
    if (run != i) {
      emit(pkts + i, static_cast<uint16_t>(run - i));
      i = run;
      continue;
    }
    const uint16_t made = complete_offloads(ctx, counters, pkts[i++], max_frame, out);
    for (uint16_t sent = 0; sent < made;) {
      const auto k = static_cast<uint16_t>(std::min<unsigned>(kBurstSize, made - sent));
      emit(out + sent, k);
      sent = static_cast<uint16_t>(sent + k);
    }
  }
}

}  // namespace inception
