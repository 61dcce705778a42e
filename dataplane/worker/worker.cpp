#include "dataplane/worker/worker.h"

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <sys/prctl.h>
#include <time.h>

#include "dataplane/l2/bridge.h"
#include "dataplane/dataplane.h"
#include "dataplane/ports/port_io.h"
#include "dataplane/router/router.h"
#include "dataplane/underlay/underlay_input.h"
#include "dataplane/vxlan/vxlan.h"
#include "dataplane/worker/worker_state.h"

namespace inception {

namespace {

// A VXLAN peer's frames: make each one writable (flood copies share their
// mbuf with local ports), prepend the tunnel's outer headers, and send on
// the underlay. Returns how many were handed to the NIC.
uint16_t tunnel_tx(WorkerContext& ctx, const PortView& peer, PortCounters& counters, rte_mbuf** pkts,
                   uint16_t n) noexcept {
  if (unlikely(!peer.resolved)) {
    count_drop(counters, DropReason::kNoNeighbor, n);
    rte_pktmbuf_free_bulk(pkts, n);
    return 0;
  }
  uint16_t ready = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    if (rte_mbuf_refcnt_read(m) != 1 || !RTE_MBUF_DIRECT(m) || rte_pktmbuf_headroom(m) < VxlanTemplate::kSize) {
      rte_mbuf* copy = rte_pktmbuf_copy(m, ctx.pool, 0, UINT32_MAX);
      rte_pktmbuf_free(m);
      if (copy == nullptr) {
        count_drop(counters, DropReason::kNoBuffer);
        continue;
      }
      m = copy;
    }
    if (unlikely(!vxlan_encap(peer.tunnel, m))) {
      count_drop(counters, DropReason::kNoBuffer);
      rte_pktmbuf_free(m);
      continue;
    }
    pkts[ready++] = m;
  }
  const uint16_t sent = rte_eth_tx_burst(peer.ethdev_id, static_cast<uint16_t>(ctx.index), pkts, ready);
  if (sent < ready) {
    count_drop(counters, DropReason::kTxFull, ready - sent);
    rte_pktmbuf_free_bulk(pkts + sent, ready - sent);
  }
  return sent;
}

}  // namespace

void flush_tx(WorkerContext& ctx, const Snapshot& snapshot) noexcept {
  for (uint16_t d = 0; d < ctx.tx.n_dirty; ++d) {
    const PortIndex out = ctx.tx.dirty[d];
    TxBuffers::Queue& queue = ctx.tx.queues[out];
    const PortView& port = snapshot.ports[out];
    PortCounters& counters = ctx.counters->ports[out];
    // Byte counters count the frame as the port's user sees it: inner
    // frames for VXLAN peers.
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < queue.count; ++i) bytes += queue.pkts[i]->pkt_len;
    uint16_t sent;
    if (port.kind == PortKind::kVxlanPeer) {
      sent = tunnel_tx(ctx, port, counters, queue.pkts, queue.count);
    } else {
      sent = port_tx(port, ctx.index, queue.pkts, queue.count);
      if (sent < queue.count)
        count_drop(counters, port_link_up(port) ? DropReason::kTxFull : DropReason::kPortDown, queue.count - sent);
    }
    counter_add(counters.tx_packets, sent);
    // Partial sends: bytes approximated by the burst's average frame.
    counter_add(counters.tx_bytes, sent == queue.count ? bytes : bytes * sent / queue.count);
    queue.count = 0;
  }
  ctx.tx.n_dirty = 0;
}

namespace {

void sleep_us(uint32_t us) noexcept {
  timespec ts{0, static_cast<long>(us) * 1000};
  nanosleep(&ts, nullptr);
}

}  // namespace

int worker_main(void* arg) {
  auto& worker = *static_cast<Dataplane::Worker*>(arg);
  Dataplane& dp = *worker.dataplane;
  WorkerContext& ctx = worker.ctx;
  const IdlePolicy idle = dp.options_.idle;
  const uint64_t hz = dp.tsc_hz_;
  // Short idle sleeps are only short with a small timer slack (default 50 us).
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);

  rte_rcu_qsbr_thread_register(dp.rcu_, ctx.index);
  rte_rcu_qsbr_thread_online(dp.rcu_, ctx.index);

  rte_mbuf* pkts[kBurstSize];
  uint32_t empty_polls = 0;
  uint32_t sleep_step_us = 0;
  while (!dp.stop_.load(std::memory_order_relaxed)) {
    const uint64_t start = rte_rdtsc();
    ctx.now_cycles = start;
    ctx.now_s = static_cast<uint32_t>((start - dp.start_tsc_) / hz);
    const Snapshot& snapshot = *dp.snapshot_.load(std::memory_order_acquire);
    uint32_t received = 0;
    if (ctx.inject_ring != nullptr && unlikely(!rte_ring_empty(ctx.inject_ring))) {
      // At most a burst: a TX buffer holds one copy per frame of a burst.
      InjectedFrame injected{};
      for (unsigned i = 0;
           i < kBurstSize && rte_ring_sc_dequeue_elem(ctx.inject_ring, &injected, sizeof(injected)) == 0; ++i)
        router_flood(ctx, snapshot, injected.network, injected.m);
      flush_tx(ctx, snapshot);
    }
    for (const PollEntry& entry : snapshot.poll[ctx.index]) {
      const uint16_t n = port_rx(snapshot.ports[entry.port], entry.queue, ctx.pool, pkts, kBurstSize);
      if (n == 0) continue;
      received += n;
      switch (snapshot.ports[entry.port].role) {
        case PortRole::kSwitch:
          bridge_burst(ctx, snapshot, entry.port, pkts, n);
          break;
        case PortRole::kUnderlay:
          underlay_input_burst(ctx, snapshot, entry.port, pkts, n);
          break;
        case PortRole::kHost:
          host_input_burst(ctx, snapshot, entry.port, pkts, n);
          break;
      }
      flush_tx(ctx, snapshot);
      flush_learn_requests(ctx);
    }
    rte_rcu_qsbr_quiescent(dp.rcu_, ctx.index);
    const uint64_t end = rte_rdtsc();
    if (received != 0) {
      counter_add(ctx.counters->busy_cycles, end - start);
      counter_add(ctx.counters->busy_packets, received);
      empty_polls = 0;
      sleep_step_us = 0;
      continue;
    }
    if (!idle.adaptive || ++empty_polls < idle.spin_polls) {
      counter_add(ctx.counters->idle_cycles, end - start);
      continue;
    }
    sleep_step_us = sleep_step_us == 0 ? 1 : std::min(sleep_step_us * 2, idle.max_sleep_us);
    rte_rcu_qsbr_thread_offline(dp.rcu_, ctx.index);
    sleep_us(sleep_step_us);
    rte_rcu_qsbr_thread_online(dp.rcu_, ctx.index);
    counter_add(ctx.counters->idle_cycles, rte_rdtsc() - start);
  }
  rte_rcu_qsbr_thread_offline(dp.rcu_, ctx.index);
  rte_rcu_qsbr_thread_unregister(dp.rcu_, ctx.index);
  return 0;
}

}  // namespace inception
