#include "dataplane/worker.h"

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <sys/prctl.h>
#include <time.h>

#include "dataplane/bridge.h"
#include "dataplane/dataplane.h"
#include "dataplane/port_io.h"
#include "dataplane/worker_state.h"

namespace inception {

void flush_tx(WorkerContext& ctx, const Snapshot& snapshot) noexcept {
  for (uint16_t d = 0; d < ctx.tx.n_dirty; ++d) {
    const PortIndex out = ctx.tx.dirty[d];
    TxBuffers::Queue& queue = ctx.tx.queues[out];
    const PortView& port = snapshot.ports[out];
    PortCounters& counters = ctx.counters->ports[out];
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < queue.count; ++i) bytes += queue.pkts[i]->pkt_len;
    const uint16_t sent = port_tx(port, ctx.index, queue.pkts, queue.count);
    if (sent == queue.count) {
      counter_add(counters.tx_packets, sent);
      counter_add(counters.tx_bytes, bytes);
    } else {
      // Byte counts of partial sends are approximated by the average frame.
      counter_add(counters.tx_packets, sent);
      counter_add(counters.tx_bytes, bytes * sent / queue.count);
      const DropReason reason = port_link_up(port) ? DropReason::kTxFull : DropReason::kPortDown;
      counter_add(counters.drops[static_cast<size_t>(reason)], queue.count - sent);
    }
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
    for (const PollEntry& entry : snapshot.poll[ctx.index]) {
      const uint16_t n = port_rx(snapshot.ports[entry.port], entry.queue, ctx.pool, pkts, kBurstSize);
      if (n == 0) continue;
      received += n;
      bridge_burst(ctx, snapshot, entry.port, pkts, n);
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
