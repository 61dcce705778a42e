#include "dataplane/worker/worker.h"

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <sys/prctl.h>

#include "dataplane/dataplane.h"
#include "dataplane/l2/bridge.h"
#include "dataplane/offload/coalesce.h"
#include "dataplane/offload/tx_offload.h"
#include "dataplane/ports/port_io.h"
#include "dataplane/router/router.h"
#include "dataplane/underlay/underlay_input.h"
#include "dataplane/vxlan/vxlan.h"
#include "dataplane/worker/idle_wait.h"
#include "dataplane/worker/worker_state.h"
#include "nat/snat.h"

namespace inception {

void flush_underlay(WorkerContext& ctx, const Snapshot& snapshot) noexcept {
  UnderlayBatch& batch = ctx.underlay_tx;
  if (batch.count == 0) return;
  const PortView& nic = snapshot.ports[snapshot.underlay.port];
  const uint16_t sent = port_tx(nic, ctx.index, batch.pkts, batch.count);
  // Charge runs of one owner at a time: a batch holds a few owners.
  for (uint16_t i = 0; i < batch.count;) {
    const PortIndex owner = batch.owner[i];
    const uint32_t outer = snapshot.ports[owner].kind == PortKind::kVxlanPeer ? VxlanTemplate::kSize : 0;
    uint16_t packets = 0;
    uint16_t unsent = 0;
    uint64_t bytes = 0;
    for (; i < batch.count && batch.owner[i] == owner; ++i) {
      if (i < sent) {
        ++packets;
        bytes += batch.pkts[i]->pkt_len - outer;
      } else {
        ++unsent;
      }
    }
    PortCounters& counters = ctx.counters->ports[owner];
    counter_add(counters.tx_packets, packets);
    counter_add(counters.tx_bytes, bytes);
    if (unsent != 0) count_drop(counters, port_link_up(nic) ? DropReason::kTxFull : DropReason::kPortDown, unsent);
  }
  batch.count = 0;  // port_tx freed what the NIC did not take
}

namespace {

// Sends `n` frames out of local port or underlay `out` and counts them.
void transmit(WorkerContext& ctx, const Snapshot& snapshot, PortIndex out, rte_mbuf** pkts, uint16_t n) noexcept {
  const PortView& port = snapshot.ports[out];
  if (port.kind == PortKind::kVxlanPeer) {
    vxlan_encap_stage(ctx, snapshot, out, pkts, n);
  } else if (out == snapshot.underlay.port) {
    for (uint16_t i = 0; i < n; ++i) {
      if (unlikely(ctx.underlay_tx.full())) flush_underlay(ctx, snapshot);
      ctx.underlay_tx.push(out, pkts[i]);
    }
  } else {
    PortCounters& counters = ctx.counters->ports[out];
    uint64_t bytes = 0;
    for (uint16_t i = 0; i < n; ++i) bytes += pkts[i]->pkt_len;
    const uint16_t sent = port_tx(port, ctx.index, pkts, n);
    if (sent < n) count_drop(counters, port_link_up(port) ? DropReason::kTxFull : DropReason::kPortDown, n - sent);
    counter_add(counters.tx_packets, sent);
    // Partial sends: bytes approximated by the burst's average frame.
    counter_add(counters.tx_bytes, sent == n ? bytes : bytes * sent / n);
  }
}

// The largest frame, Ethernet header included, a TSO frame's segments may
// be toward `out`: the overlay's for a VXLAN peer, the underlay's for the
// NIC; elsewhere the sender's MSS alone bounds them.
uint16_t segment_limit(const Snapshot& snapshot, const PortView& port, PortIndex out) noexcept {
  if (port.kind == PortKind::kVxlanPeer) return static_cast<uint16_t>(snapshot.underlay.overlay_mtu + kEthernetHeader);
  if (out == snapshot.underlay.port && snapshot.underlay.mtu != 0)
    return static_cast<uint16_t>(snapshot.underlay.mtu + kEthernetHeader);
  return UINT16_MAX;
}

}  // namespace

void flush_tx(WorkerContext& ctx, const Snapshot& snapshot) noexcept {
  for (uint16_t d = 0; d < ctx.tx.n_dirty; ++d) {
    const PortIndex out = ctx.tx.dirty[d];
    TxBuffers::Queue& queue = ctx.tx.queues[out];
    const PortView& port = snapshot.ports[out];
    // A guest that takes TSO and partial checksums gets the frames as they
    // are, a flow's segments joined; every other egress gets them finished
    // (dataplane/offload/).
    if (port.kind == PortKind::kVhost && port_takes_offloads(port)) {
      const uint16_t n = port.coalesce ? coalesce_tcp_segments(*ctx.counters, queue.pkts, queue.count) : queue.count;
      transmit(ctx, snapshot, out, queue.pkts, n);
    } else {
      emit_with_offloads_done(ctx, ctx.counters->ports[out], segment_limit(snapshot, port, out), queue.pkts,
                              queue.count, [&](rte_mbuf** pkts, uint16_t n) { transmit(ctx, snapshot, out, pkts, n); });
    }
    queue.count = 0;
  }
  ctx.tx.n_dirty = 0;
  flush_underlay(ctx, snapshot);
}

int worker_main(void* arg) {
  auto& worker = *static_cast<Dataplane::Worker*>(arg);
  Dataplane& dp = *worker.dataplane;
  WorkerContext& ctx = worker.ctx;
  const IdlePolicy idle = dp.options_.idle;
  const uint64_t hz = dp.tsc_hz_;
  // Short idle sleeps are only short with a small timer slack (default 50 us).
  prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
  IdleWait idle_wait(worker.doorbell);

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
    // This worker's SNAT shard: sessions to end, slots to reuse (before the
    // quiescent report: the snapshot may be freed after it).
    if (snapshot.nat.snat != nullptr) snapshot.nat.snat->service(ctx.index, ctx.now_s);
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
    sleep_step_us =
        sleep_step_us == 0 ? 1 : std::min(sleep_step_us * 2, std::max(idle.max_sleep_us, idle.max_kicked_sleep_us));
    if (const IdleWait::Armed armed = idle_wait.arm(snapshot, ctx.index); armed.may_sleep) {
      rte_rcu_qsbr_thread_offline(dp.rcu_, ctx.index);
      idle_wait.wait(armed.all_kicked ? sleep_step_us : std::min(sleep_step_us, idle.max_sleep_us));
      rte_rcu_qsbr_thread_online(dp.rcu_, ctx.index);
    }
    // The port set may have changed while we slept offline: disarm what the
    // current snapshot polls (VhostDevices of the old one may be gone).
    idle_wait.disarm(*dp.snapshot_.load(std::memory_order_acquire), ctx.index);
    counter_add(ctx.counters->idle_cycles, rte_rdtsc() - start);
  }
  rte_rcu_qsbr_thread_offline(dp.rcu_, ctx.index);
  rte_rcu_qsbr_thread_unregister(dp.rcu_, ctx.index);
  return 0;
}

}  // namespace inception
