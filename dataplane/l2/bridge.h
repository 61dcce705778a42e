// L2 switching of one received burst (the "bridge" stage).
//
// Theory of operation (IEEE 802.1D learning bridge, per network):
//  1. Validate: a frame shorter than an Ethernet header is malformed; a
//     multicast or all-zero source MAC is invalid. Both are dropped.
//  2. Port security (local ports that declare their guest's MACs and
//     addresses, docs/security.md): a source MAC the port is not bound to,
//     an IPv4 source or ARP sender address it may not claim, or a VLAN tag
//     that would carry one past the check: dropped and counted
//     (spoofed_mac, spoofed_ip, spoofed_arp), before anything is learned.
//  3. Learn: the source MAC is looked up (once per run of equal sources in
//     the burst). Known at the ingress port: refresh its age. Unknown or
//     known elsewhere: ask the control thread to (re)learn it. Unknown while
//     the network's FDB is full or the port holds its quota of MACs: drop
//     (fdb_limit, port_mac_limit), so one guest spraying source MACs locks
//     out only itself.
//  4. Forward: destination MACs of the whole burst in one bulk hash lookup.
//     Known unicast goes to its port (dropped if that is the ingress port);
//     broadcast, multicast and unknown unicast are flooded to every other
//     port of the network, within the ingress port's and the network's
//     flood budgets (flood_limit): the reference count of every segment is
//     raised instead of copying, since every port copies out of it on
//     transmit. IEEE 802.1 link-local groups (01:80:c2:00:00:0x: PAUSE,
//     STP, LLDP, ...) are never forwarded (link_local).
//  5. VXLAN peers are ports too (pseudo-ports, one per network and VTEP).
//     Flooding replicates to each peer (head-end replication) with split
//     horizon: a frame that came from a peer goes to no peer of the same
//     group (snapshot.h: a full mesh is one group, a hub's peers are in
//     none, another data center's gateway is a group of its own), so
//     neither a mesh, a star nor two data centers joined by their gateways
//     loop; known unicast obeys the same rule (split_horizon). A frame
//     larger than the overlay MTU is not sent to a peer; unicast IPv4 with
//     DF gets an ICMP "fragmentation needed" back.
// Frames never leave the network they arrived on: the only FDB and flood
// list consulted are the ingress port's network's. Headers are read from
// the first segment only, within its data_len (rte_vhost and the PMDs put
// at least 2 KB of a frame there); lengths come from pkt_len.
#pragma once

#include <rte_mbuf.h>

#include "dataplane/snapshot.h"
#include "dataplane/worker/worker_context.h"

namespace inception {

// Where frames handed to the L2 forwarder come from.
struct L2Origin {
  NetworkIndex network = kInvalidNetwork;  // the network they are switched on
  // The port the frames (or the packets the router translated into them)
  // entered by: drops are counted on it, and a flood takes a token from its
  // budget and from `network`'s (the network flooded). kInvalidPort: frames
  // the control thread built, which no budget limits.
  PortIndex port = kInvalidPort;
  // Sent by the router: not subject to split horizon or the same-port rule,
  // and flooded to peers only on the public network.
  bool routed = false;
};

// Port input: steps 1-3 above for a burst from `in_port`, then frames for
// the router to router_burst and the rest to l2_forward. Consumes `pkts`:
// each frame ends up in ctx.tx or freed and counted.
void bridge_burst(WorkerContext& ctx, const Snapshot& snapshot, PortIndex in_port, rte_mbuf** pkts,
                  uint16_t n) noexcept;

// Step 4 and 5 for frames on `from.network`: the one forwarder of the
// switch, for switched and routed frames alike. Consumes `pkts`.
void l2_forward(WorkerContext& ctx, const Snapshot& snapshot, const L2Origin& from, rte_mbuf** pkts,
                uint16_t n) noexcept;

// Sends the learning requests gathered by bridge_burst to the control thread.
void flush_learn_requests(WorkerContext& ctx) noexcept;

}  // namespace inception
