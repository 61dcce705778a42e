// The stages for frames arriving from the rVM's NIC (underlay) and from the
// rVM's own stack (host interface).
//
// Underlay input, per frame (classify_underlay in vxlan.h):
//   ARP request for our VTEP address -> answered in place, back out the NIC;
//   ARP aimed at us -> a copy to the control thread (neighbor table);
//   VXLAN to our address and port -> decapsulated, then the bridge stage
//     with the sending peer as ingress port (grouped per peer);
//   anything else -> the host interface, untouched (ssh, package installs).
// Host input: every frame the rVM's stack sends goes out of the NIC as is.
#pragma once

#include <rte_mbuf.h>

#include "dataplane/snapshot.h"
#include "dataplane/worker/worker_context.h"

namespace inception {

void underlay_input_burst(WorkerContext& ctx, const Snapshot& snapshot, PortIndex underlay, rte_mbuf** pkts,
                          uint16_t n) noexcept;

void host_input_burst(WorkerContext& ctx, const Snapshot& snapshot, PortIndex host, rte_mbuf** pkts,
                      uint16_t n) noexcept;

}  // namespace inception
