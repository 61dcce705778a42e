// L2 switching of one received burst (the "bridge" stage).
//
// Theory of operation (IEEE 802.1D learning bridge, per network):
//  1. Validate: a frame shorter than an Ethernet header is malformed; a
//     multicast or all-zero source MAC is invalid. Both are dropped.
//  2. Learn: the source MAC is looked up (once per run of equal sources in
//     the burst). Known at the ingress port: refresh its age. Unknown or
//     known elsewhere: ask the control thread to (re)learn it. Unknown while
//     the network's FDB is full: drop (fdb_limit).
//  3. Forward: destination MACs of the whole burst in one bulk hash lookup.
//     Known unicast goes to its port (dropped if that is the ingress port);
//     broadcast, multicast and unknown unicast are flooded to every other
//     port of the network: the mbuf's reference count is raised instead of
//     copying, since every port copies out of it on transmit.
//  4. VXLAN peers are ports too (pseudo-ports, one per network and VTEP).
//     Flooding replicates to each peer (head-end replication) with split
//     horizon: a frame that came from a peer goes to no other peer unless
//     this rVM is the network's hub, so neither a full mesh nor a star
//     loops. A frame larger than the overlay MTU is not sent to a peer;
//     unicast IPv4 with DF gets an ICMP "fragmentation needed" back.
// Frames never leave the network they arrived on: the only FDB and flood
// list consulted are the ingress port's network's.
#pragma once

#include <rte_mbuf.h>

#include "dataplane/snapshot.h"
#include "dataplane/worker_context.h"

namespace inception {

// Consumes `pkts`: each frame ends up in ctx.tx or freed and counted.
void bridge_burst(WorkerContext& ctx, const Snapshot& snapshot, PortIndex in_port, rte_mbuf** pkts,
                  uint16_t n) noexcept;

// Sends the learning requests gathered by bridge_burst to the control thread.
void flush_learn_requests(WorkerContext& ctx) noexcept;

}  // namespace inception
