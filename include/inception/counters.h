// Per-worker counters: written by exactly one worker, summed on read.
//
// Workers never share a counter cache line, never use atomic read-modify-
// write and never reset a counter. Readers (the metrics scrape, `stats`) load
// each field with a relaxed atomic load and sum over workers; a port index
// that is reused gets a baseline subtracted by the control side, so counters
// are monotonic for the lifetime of a port as Prometheus expects.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "inception/types.h"

namespace inception {

// Why a frame was dropped. Each reason is its own counter so that an operator
// can tell a guest that does not read its ring (tx_full) from a spoofer
// (invalid_source) or an overflowing MAC table (fdb_limit).
enum class DropReason : uint8_t {
  kMalformed,      // shorter than an Ethernet header
  kInvalidSource,  // multicast or all-zero source MAC
  kFdbLimit,       // unknown source MAC while the network's FDB is full
  kSamePort,       // unicast whose destination is behind the ingress port
  kLinkLocal,      // to an IEEE 802.1 reserved group address (PAUSE, STP, LLDP, ...): never forwarded
  kSplitHorizon,   // unicast from a VXLAN peer toward another of its split-horizon group
  // Port security and per-tenant bounds (counted on the ingress port).
  kSpoofedMac,    // source MAC the port is not bound to
  kSpoofedIp,     // IPv4 source the port (or, routed, the network) may not use
  kSpoofedArp,    // ARP whose sender MAC or IP the port may not claim
  kPortMacLimit,  // unknown source MAC while the port's own MAC quota is used up
  kFloodLimit,    // flooded frame over the port's or the network's flood rate
  kPuntLimit,     // ARP for the control thread over the port's or the network's rate
  kPortDown,      // egress port has no guest / link
  kTxFull,        // egress queue full (guest not reading fast enough)
  kNoBuffer,      // a copy was needed and the mempool was empty
  // Overlay (counted on the port the frame came from or was headed to).
  kTooBig,      // larger than the overlay MTU toward a VXLAN peer
  kNoNeighbor,  // the peer's next-hop MAC is not resolved yet
  // Underlay input (counted on the underlay).
  kBadHeader,      // IPv4 header (outer, for VXLAN) short, inconsistent or with a bad checksum
  kNotForUs,       // unicast to another host's MAC (the NIC is promiscuous)
  kFragment,       // fragmented VXLAN datagram (we never fragment; peers must not)
  kBadVxlanFlags,  // VXLAN I flag clear (RFC 7348)
  kUnknownVni,     // no network with this VNI
  kUnknownPeer,    // the sending VTEP is not a peer of the network
  kNoHost,         // rVM traffic but no host interface configured
  kPuntFull,       // ARP for the control thread dropped: its ring was full
  // Routing and NAT (counted on the ingress port).
  kNoMapping,         // to the router, but no floating IP, gateway mapping or session applies
  kPortsExhausted,    // SNAT: no free outside port toward that remote endpoint
  kSessionTableFull,  // SNAT: session table at its bound
  kSessionLimit,      // SNAT: the network's or the inside address's session quota is used up
  kEgressDenied,      // NAT toward a destination no iVM may reach (metadata service, the underlay, ...)
  // Guest offloads (counted on the egress port that needed them done).
  kBadOffload,  // a TSO or checksum request that does not fit the frame, or asks for more than 256 segments
  kCount
};

inline constexpr std::array<std::string_view, static_cast<size_t>(DropReason::kCount)> kDropReasonNames = {
    "malformed",       "invalid_source",  "fdb_limit",          "same_port",         "link_local",
    "split_horizon",   "spoofed_mac",     "spoofed_ip",         "spoofed_arp",       "port_mac_limit",
    "flood_limit",     "punt_limit",      "port_down",          "tx_full",           "no_buffer",
    "too_big",         "no_neighbor",     "bad_header",         "not_for_us",        "fragment",
    "bad_vxlan_flags", "unknown_vni",     "unknown_peer",       "no_host_interface", "punt_full",
    "no_mapping",      "ports_exhausted", "session_table_full", "session_limit",     "egress_denied",
    "bad_offload"};

inline constexpr size_t kDropReasonCount = static_cast<size_t>(DropReason::kCount);
static_assert(!kDropReasonNames.back().empty(), "every DropReason needs a name");

struct alignas(64) PortCounters {
  uint64_t rx_packets;
  uint64_t rx_bytes;
  uint64_t tx_packets;
  uint64_t tx_bytes;
  uint64_t flood_packets;  // copies sent by flooding (part of tx_packets)
  std::array<uint64_t, kDropReasonCount> drops;
};

// Traffic through one floating IP, per direction.
struct alignas(64) FipCounters {
  uint64_t in_packets, in_bytes;    // from the internet to the iVM
  uint64_t out_packets, out_bytes;  // from the iVM to the internet
};
inline constexpr size_t kMaxFloatingIps = 256;

struct alignas(64) WorkerCounters {
  uint64_t busy_cycles;   // TSC cycles of loop iterations that moved a packet
  uint64_t idle_cycles;   // TSC cycles of empty iterations, sleeps included
  uint64_t busy_packets;  // packets received in busy iterations
  uint64_t learn_requests;
  uint64_t learn_ring_full;   // learn requests lost because control lagged
  uint64_t nat_translations;  // packets whose addresses a NAT rule rewrote
  uint64_t nat_mss_clamped;   // routed TCP SYNs whose MSS was lowered to fit the overlay
  // Guest offloads finished in software (dataplane/offload/).
  uint64_t offload_segmented;           // TSO super-frames cut into segments
  uint64_t offload_segments;            // the segments they became
  uint64_t offload_checksums;           // frames whose L4 checksum was completed whole
  uint64_t offload_coalesced;           // super-frames made of segments for a TSO guest
  uint64_t offload_coalesced_segments;  // the segments they took
  std::array<PortCounters, kMaxPorts> ports;
  std::array<FipCounters, kMaxFloatingIps> fips;
};

// Single-writer increment: a plain add the compiler keeps as one instruction,
// made visible to concurrent relaxed readers without a locked op.
inline void counter_add(uint64_t& counter, uint64_t delta) noexcept {
  __atomic_store_n(&counter, __atomic_load_n(&counter, __ATOMIC_RELAXED) + delta, __ATOMIC_RELAXED);
}

inline uint64_t counter_read(const uint64_t& counter) noexcept {
  return __atomic_load_n(&counter, __ATOMIC_RELAXED);
}

inline void count_drop(PortCounters& counters, DropReason reason, uint64_t n = 1) noexcept {
  counter_add(counters.drops[static_cast<size_t>(reason)], n);
}

}  // namespace inception
