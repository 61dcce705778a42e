// Per-worker, per-port transmit buffers.
//
// Stages push frames here instead of transmitting one by one; the worker
// flushes every dirty port once per received burst, so each port gets one
// tx call per burst. Because the worker flushes after every burst of at most
// kBurstSize frames, and a burst sends at most one copy of a frame to each
// port, a queue never holds more than kBurstSize frames.
#pragma once

#include <rte_mbuf.h>

#include <array>
#include <cassert>
#include <cstdint>

#include "inception/types.h"

namespace inception {

struct TxBuffers {
  struct Queue {
    uint16_t count = 0;
    rte_mbuf* pkts[kBurstSize];
  };

  void push(PortIndex port, rte_mbuf* m) noexcept {
    Queue& queue = queues[port];
    // The invariant above, checked where asserts are on (tests, fuzzers).
    assert(queue.count < kBurstSize);
    if (queue.count == 0) dirty[n_dirty++] = port;
    queue.pkts[queue.count++] = m;
  }

  std::array<Queue, kMaxPorts> queues{};
  std::array<PortIndex, kMaxPorts> dirty{};
  uint16_t n_dirty = 0;
};

// The NIC's transmit batch of one flush: the underlay port's own frames and
// every VXLAN peer's, encapsulated (the encap stage, vxlan.h), so the NIC
// gets one send per burst however many peers a flood reached. Each frame
// remembers the port whose counters it is charged to.
struct UnderlayBatch {
  static constexpr uint16_t kCapacity = 4 * kBurstSize;
  uint16_t count = 0;
  rte_mbuf* pkts[kCapacity];
  PortIndex owner[kCapacity];
  bool full() const noexcept { return count == kCapacity; }
  void push(PortIndex from, rte_mbuf* m) noexcept {
    assert(count < kCapacity);
    owner[count] = from;
    pkts[count++] = m;
  }
};

}  // namespace inception
