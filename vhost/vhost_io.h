// Worker-side burst I/O on vhost-user ports. Header-only so that it inlines
// into the worker loop; see vhost_port.h for the threading contract.
#pragma once

#include <rte_mbuf.h>
#include <rte_vhost.h>

#include "vhost/vhost_port.h"

namespace inception::vhost {

// virtio-net vring numbering: queue pair q = guest RX vring 2q (we enqueue
// into it) + guest TX vring 2q+1 (we dequeue from it).
inline uint16_t guest_rx_vring(uint16_t queue_pair) {
  return static_cast<uint16_t>(2 * queue_pair);
}
inline uint16_t guest_tx_vring(uint16_t queue_pair) {
  return static_cast<uint16_t>(2 * queue_pair + 1);
}

// Receives up to `n` frames the guest sent on `queue_pair`.
inline uint16_t rx_burst(VhostDevice& dev, uint16_t queue_pair, rte_mempool* pool, rte_mbuf** pkts,
                         uint16_t n) noexcept {
  // The mask guard keeps us from asking rte_vhost for a vring the guest never
  // set up, which it reports with an error log line per call.
  if ((dev.rx_queue_mask.load(std::memory_order_relaxed) & (1u << queue_pair)) == 0) return 0;
  const int vid = dev.vid.load(std::memory_order_acquire);
  if (vid < 0) return 0;
  return rte_vhost_dequeue_burst(vid, guest_tx_vring(queue_pair), pool, pkts, n);
}

// Copies up to `n` frames into the guest's receive ring. Returns how many the
// guest took; the caller still owns (and frees) all `n` mbufs.
inline uint16_t tx_burst(VhostDevice& dev, unsigned worker, rte_mbuf** pkts, uint16_t n) noexcept {
  const uint8_t queue_pair = dev.tx_queue_of_worker[worker].load(std::memory_order_relaxed);
  if (queue_pair == VhostDevice::kNoQueue) return 0;
  const int vid = dev.vid.load(std::memory_order_acquire);
  if (vid < 0) return 0;
  return rte_vhost_enqueue_burst(vid, guest_rx_vring(queue_pair), pkts, n);
}

inline bool takes_offloads(const VhostDevice& dev) noexcept {
  return dev.takes_offloads.load(std::memory_order_relaxed);
}

inline bool link_up(const VhostDevice& dev) noexcept {
  return dev.vid.load(std::memory_order_relaxed) >= 0;
}

}  // namespace inception::vhost
