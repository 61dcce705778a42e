// Everything one worker owns. A stage gets the context of the worker that
// runs it and touches nothing that another worker writes.
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <cstdint>

#include "dataplane/l2/learn_ring.h"
#include "dataplane/worker/rate_limit.h"
#include "dataplane/worker/tx_buffers.h"
#include "inception/counters.h"

namespace inception {

struct WorkerContext {
  unsigned index = 0;
  WorkerCounters* counters = nullptr;
  rte_mempool* pool = nullptr;

  // Clock, refreshed once per loop iteration.
  uint64_t now_cycles = 0;
  uint32_t now_s = 0;

  // Learning requests to the control thread, batched per burst.
  rte_ring* learn_ring = nullptr;
  LearnFilter learn_filter;
  uint64_t learn_window_cycles = 0;
  LearnRequest learn_batch[kBurstSize];
  unsigned learn_count = 0;

  // ARP frames for the control thread's neighbor tables (PuntedFrame
  // elements, punt.h): the underlay's and the overlay networks' apart.
  rte_ring* underlay_punt_ring = nullptr;
  rte_ring* overlay_punt_ring = nullptr;
  // ARP requests the router sends for a missing neighbor, at most one per
  // (network, address) and window.
  LearnFilter arp_filter;
  // Frames the control thread asks this worker to send (InjectedFrame
  // elements; worker 0 only).
  rte_ring* inject_ring = nullptr;

  // This worker's share of the per-port and per-network rate limits.
  std::array<TokenBucket, kMaxPorts> punt_port_budget{};
  std::array<TokenBucket, kMaxNetworks> punt_network_budget{};
  std::array<TokenBucket, kMaxPorts> flood_port_budget{};
  std::array<TokenBucket, kMaxNetworks> flood_network_budget{};

  TxBuffers tx;
  UnderlayBatch underlay_tx;
};

}  // namespace inception
