// VXLAN (RFC 7348) encapsulation and decapsulation of single frames.
//
// Outer headers: Ethernet (14) + IPv4 without options (20) + UDP (8) +
// VXLAN (8) = 50 bytes. Encapsulation copies a per-peer template built by the
// control thread and patches the four fields that depend on the frame: IPv4
// total length and checksum (incrementally from a precomputed base), UDP
// length and UDP source port (a hash of the inner flow, RFC 7348 section 5,
// so the underlay's ECMP spreads tunnels' flows). The UDP checksum is zero,
// as RFC 7348 allows for IPv4. DF is set: the switch never fragments, it
// enforces the overlay MTU instead (docs/architecture.md).
//
// Decapsulation validates everything it relies on: outer lengths, no
// fragmentation, the I flag, a known VNI and a known peer; any failure names
// a DropReason and leaves the frame untouched.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "dataplane/snapshot.h"
#include "dataplane/worker/worker_context.h"
#include "inception/counters.h"

namespace inception {

inline constexpr uint16_t kEthernetHeader = 14;
inline constexpr uint16_t kIpv4Header = 20;
inline constexpr uint16_t kUdpHeader = 8;
inline constexpr uint16_t kVxlanHeader = 8;
inline constexpr uint8_t kVxlanFlagI = 0x08;

// Builds the outer headers toward `remote_ip` (host order) with `vni`; the
// next-hop and local MACs go into the Ethernet header.
VxlanTemplate make_vxlan_template(const std::array<uint8_t, 6>& local_mac, const std::array<uint8_t, 6>& next_hop_mac,
                                  uint32_t local_ip_host, uint32_t remote_ip_host, uint16_t udp_port, uint32_t vni);

// UDP source port for an inner frame: 49152 + (flow hash mod 16384).
uint16_t vxlan_source_port(const rte_mbuf* inner) noexcept;

// Prepends `tunnel`'s outer headers to `m`, which must be writable (not
// shared) and have 50 bytes of headroom. Returns false if it has not.
bool vxlan_encap(const VxlanTemplate& tunnel, rte_mbuf* m) noexcept;

// Outcome of looking at one underlay frame.
enum class UnderlayClass : uint8_t {
  kVxlan,  // UDP to our address and VXLAN port: decapsulate
  kArp,    // ARP: for the switch's responder / neighbor table
  kNat,    // IPv4 to an underlay address the NAT owns (gateway mapping, SNAT)
  kHost,   // anything else: the rVM's own traffic
  kDrop,   // a first fragment of a VXLAN datagram, or a truncated frame
};

// Classifies `m`; sets *reason when the result is kDrop.
UnderlayClass classify_underlay(const UnderlayView& underlay, const rte_mbuf* m, DropReason* reason) noexcept;

// Validates a kVxlan frame and strips its outer headers. On success returns
// DropReason::kCount and sets *peer to the pseudo-port of the sending VTEP;
// otherwise returns why it must be dropped and leaves `m` as it was.
DropReason vxlan_decap(const UnderlayView& underlay, rte_mbuf* m, PortIndex* peer) noexcept;

// The encap stage: the frames queued for VXLAN peer `peer` in one burst,
// each made writable (a flood shares its mbuf with local ports), given the
// peer's outer headers and appended to the worker's UnderlayBatch, which
// flush_tx sends once for all peers. Frames for an unresolved peer, or that
// no buffer can be found for, are dropped and counted on the peer.
void vxlan_encap_stage(WorkerContext& ctx, const Snapshot& snapshot, PortIndex peer, rte_mbuf** pkts,
                       uint16_t n) noexcept;

}  // namespace inception
