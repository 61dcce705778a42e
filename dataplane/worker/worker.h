// The worker loop: run to completion over the receive queues a worker owns.
//
//   for each (port, queue) in the snapshot's poll list of this worker:
//     rx burst -> bridge_burst -> flush every dirty TX buffer -> learn requests
//   report an RCU quiescent state; account busy/idle cycles; back off if idle
//
// No locks, no allocation, no syscalls on this path; the only syscall is the
// idle sleep, taken only after `spin_polls` empty iterations with the worker
// offline for RCU.
#pragma once

#include "dataplane/snapshot.h"
#include "dataplane/worker/worker_context.h"

namespace inception {

// Transmits every dirty TX buffer of `ctx` and counts what each port took.
void flush_tx(WorkerContext& ctx, const Snapshot& snapshot) noexcept;

// Sends the worker's UnderlayBatch on the NIC and charges each frame to its
// owner: tx counters for what the NIC took (a peer's bytes as its user
// sees them, without the outer headers), tx_full for the rest.
void flush_underlay(WorkerContext& ctx, const Snapshot& snapshot) noexcept;

}  // namespace inception
