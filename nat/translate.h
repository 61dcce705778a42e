// Stateless rewriting of IPv4 addresses and ports, with every checksum kept
// valid incrementally: IPv4 header, TCP and UDP (pseudo-header included, a
// zero UDP checksum kept zero), ICMP. ICMP errors (destination unreachable,
// time exceeded, parameter problem) quote the offending packet's header;
// a translation of the error's outer header is mirrored on the quoted one,
// so traceroute and path-MTU discovery work through a NAT (RFC 5508 s.4.6).
//
// Functions take an mbuf whose data starts at the IPv4 header's Ethernet
// frame (offset 14) and return false when the packet is too short or
// malformed to be translated (the caller drops it as malformed).
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

namespace inception::nat {

// The transport fields NAT looks at. Addresses and ports in network order.
// No member initialisers: the router keeps a burst's keys in an array that
// flow_key fills, and initialisers would have the array zeroed on every
// burst first. Write `FlowKey key{}` for a zeroed one.
struct FlowKey {
  uint32_t src_ip, dst_ip;
  uint16_t src_port, dst_port;  // ICMP echo: identifier in both
  uint8_t protocol;             // IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP
  uint8_t tcp_flags;
  uint8_t icmp_type;  // ICMP: the packet's type (8 echo request, 0 reply, 3/11/12 errors)
  bool icmp_error;    // an ICMP error: the key is the quoted packet's, reversed
};
static_assert(sizeof(FlowKey) == 16, "a burst's keys: 16 bytes each, no padding");

// Reads the key of an IPv4 packet (frame offset 14) into `key`. For ICMP
// errors the key describes the flow the error is about, as seen from this
// packet's direction (quoted source/destination swapped). False if not
// IPv4, a non-first fragment, or too short. An out-parameter, not a
// std::optional: the fast path keeps a burst's keys in place and hands
// out pointers to them; a returned key copied into an array is loaded 16
// bytes at a time right after it was stored field by field, a
// store-forwarding stall (perf annotate: a third of the SNAT stage).
bool flow_key(const rte_mbuf* m, FlowKey* key) noexcept;

// Rewrites the source address, and with `port` the source port (or ICMP
// echo identifier). Overloads rather than a std::optional<uint16_t>: the
// caller builds an optional argument with a byte store and passes it with a
// 4-byte load of the same word, a store-forwarding stall per packet (perf
// annotate put ~5% of the floating-IP path on it).
bool translate_source(rte_mbuf* m, uint32_t ip) noexcept;
bool translate_source(rte_mbuf* m, uint32_t ip, uint16_t port) noexcept;
// Rewrites the destination likewise.
bool translate_destination(rte_mbuf* m, uint32_t ip) noexcept;
bool translate_destination(rte_mbuf* m, uint32_t ip, uint16_t port) noexcept;

// Lowers the MSS option of a TCP SYN (or SYN-ACK) to `max_mss` if it
// announces more, with the TCP checksum kept (a partial checksum, left to
// the NIC, covers no option and is left alone). The router clamps every SYN
// it routes to what fits the overlay: a connection through a floating IP may
// cross the `public` tunnel in either direction, now or after its iVM
// migrates, and a too-big routed packet gets no ICMP error its sender would
// recognize (docs/nat.md). True if it changed the packet. Options are read
// only within the first segment, the TCP header and the IPv4 datagram; a
// malformed option list is left as it is.
bool clamp_tcp_mss(rte_mbuf* m, uint16_t max_mss) noexcept;

}  // namespace inception::nat
