// The router stage: floating IPs, gateway mappings and SNAT (the paper's
// Figure 4), for frames addressed to the switch's router MAC on a network
// and for IPv4 arriving on the underlay for a NAT address.
//
// Theory of operation (addresses as in docs/nat.md):
//  * Every rVM's switch has one router MAC and, per network with a
//    [[router]], an interface address it answers ARP for. On `private` that
//    address is the iVMs' default gateway (the same on every rVM: a
//    distributed router); on `public` it is this rVM's own public-network
//    address. The switch also answers ARP on `public` for the floating IPs
//    it hosts, so the gateway finds them wherever they are.
//  * Host mapping (the rVM hosting an iVM with a floating IP): outbound,
//    source fixed -> public, then to the gateway's public-network address
//    (source routing); inbound on `public`, destination public -> fixed.
//  * Gateway mapping (the rVM whose underlay address the reality cloud maps
//    a public IP to): inbound on the underlay, destination underlay ->
//    public, then on to whichever rVM answers ARP for that public IP;
//    outbound from `public`, source public -> underlay, out of the NIC.
//    Host and gateway on one rVM chain both without a hop over `public`.
//  * SNAT on the gateway for iVMs without a floating IP: their frames reach
//    the gateway (directly or routed over `public` by their own rVM),
//    get a session and a port on the SNAT address, and replies go back to
//    the network and MAC the first packet came from.
//  * Everything else addressed to the router is dropped (no_mapping): the
//    internet reaches nothing but floating IPs and live sessions.
// Translations are stateless 1:1 rewrites (nat/translate.h) except SNAT.
#pragma once

#include <rte_mbuf.h>

#include "dataplane/snapshot.h"
#include "dataplane/worker/worker_context.h"

namespace inception {

// An ARP frame on a network with a router: punts a copy to the control
// thread and answers requests for the router or a hosted floating IP.
// Returns true if it consumed the frame (answered), false to flood it.
bool router_arp(WorkerContext& ctx, const Snapshot& snapshot, NetworkIndex network, PortIndex in_port,
                rte_mbuf* m) noexcept;

// The router stage, for a burst of frames addressed to the router MAC that
// entered `network` by `in_port`: decides each frame's route, finds the
// SNAT sessions of the whole burst together (SnatTable::outbound_burst),
// translates each frame in place, resolves the next hops of the whole
// burst in one bulk lookup, and sends each network's
// frames through the L2 forwarder (l2_forward) together, the NIC's to its
// TX buffer. Consumes `pkts`.
void router_burst(WorkerContext& ctx, const Snapshot& snapshot, NetworkIndex network, PortIndex in_port,
                  rte_mbuf** pkts, uint16_t n) noexcept;

// Floods a frame the router originates (the control thread's gratuitous ARP) on `network`.
void router_flood(WorkerContext& ctx, const Snapshot& snapshot, NetworkIndex network, rte_mbuf* m) noexcept;

// The router stage for IPv4 from the underlay to the NAT's underlay
// addresses (gateway mappings, SNAT replies; the burst's sessions found
// together). Consumes `pkts`.
void router_underlay_burst(WorkerContext& ctx, const Snapshot& snapshot, PortIndex underlay, rte_mbuf** pkts,
                           uint16_t n) noexcept;

}  // namespace inception
