// Receive-side coalescing for guests that take TSO: the switch's GRO.
//
// A TCP stream that reaches a guest from the wire (VXLAN decap, a floating
// IP, a kernel port, a guest without offloads) arrives as MSS-sized
// segments. A guest that negotiated GUEST_TSO4 and GUEST_CSUM can take
// them as one super-frame, which costs its vhost ring one descriptor chain
// and one virtio-net header instead of one per segment, and its TCP stack
// one packet instead of dozens. Before such a guest's TX burst, in-order
// segments of one flow that are adjacent in its sequence space are chained
// (no copy) into a frame with TX_TCP_SEG: rte_vhost writes the GSO request
// into the guest's header.
//
// Only segments whose IPv4 and TCP checksums the switch verified are
// merged: the merged frame goes up as "checksum needed", which a guest
// does not check again, so merging a corrupt segment would hand its bytes
// to the application. Anything else passes as it came. Per-flow order is
// kept: a frame of a flow that cannot join that flow's open super-frame
// closes it, so nothing of the flow that came later is put before it.
// Frames of different flows may change places, as on any multi-queue NIC.
//
// Why not librte_gro: its burst mode (rte_gro_reassemble_burst) gathers the
// frames it does not merge (in 22.11 every segment with PSH set, and every
// non-TCP frame) at one end of the burst, apart from the merged ones, which
// reorders a flow whose segments carry PSH; and it neither checks nor
// completes checksums.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "inception/counters.h"

namespace inception {

// Coalesces the TCP/IPv4 segments among `pkts[0..n)` in place; returns how
// many frames are left. Counts on `counters` the super-frames made and the
// segments they took.
uint16_t coalesce_tcp_segments(WorkerCounters& counters, rte_mbuf** pkts, uint16_t n) noexcept;

}  // namespace inception
