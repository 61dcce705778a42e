#include "nat/translate.h"

#include <optional>

#include <netinet/in.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>

#include <cstring>

#include "nat/checksum.h"

namespace inception::nat {

namespace {

constexpr uint16_t kEth = sizeof(rte_ether_hdr);
constexpr uint8_t kIcmpEchoReply = 0, kIcmpUnreachable = 3, kIcmpEcho = 8, kIcmpTimeExceeded = 11,
                  kIcmpParameterProblem = 12;

bool is_icmp_error(uint8_t type) {
  return type == kIcmpUnreachable || type == kIcmpTimeExceeded || type == kIcmpParameterProblem;
}
bool is_icmp_echo(uint8_t type) {
  return type == kIcmpEcho || type == kIcmpEchoReply;
}

uint16_t load16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
void store16(uint8_t* p, uint16_t v) {
  std::memcpy(p, &v, 2);
}

// An IPv4 header inside the buffer and the transport bytes after it.
struct Packet {
  rte_ipv4_hdr* ip = nullptr;
  uint8_t* l4 = nullptr;
  size_t l4_available = 0;  // bytes of transport header/payload in the buffer
};

std::optional<Packet> parse(uint8_t* at, size_t available) {
  if (available < sizeof(rte_ipv4_hdr)) return std::nullopt;
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(at);
  if ((ip->version_ihl >> 4) != 4) return std::nullopt;
  const size_t ihl = rte_ipv4_hdr_len(ip);
  if (ihl < sizeof(rte_ipv4_hdr) || ihl > available) return std::nullopt;
  return Packet{ip, at + ihl, available - ihl};
}

bool first_fragment(const rte_ipv4_hdr* ip) {
  return (rte_be_to_cpu_16(ip->fragment_offset) & RTE_IPV4_HDR_OFFSET_MASK) == 0;
}

// A guest's frame with its L4 checksum left to the NIC (virtio-net
// NEEDS_CSUM, an mbuf TX checksum or TSO request) holds in the checksum
// field the pseudo-header's sum, not complemented: it covers the addresses
// but not the ports, and is updated as the sum it is.
uint16_t partial_replace32(uint16_t sum, uint32_t from, uint32_t to) {
  return static_cast<uint16_t>(~checksum_replace32(static_cast<uint16_t>(~sum), from, to));
}

// Replaces one address and every checksum that covers it: the IPv4 header,
// and TCP/UDP through their pseudo-header (when that part is present: a
// header quoted in an ICMP error carries only 8 transport bytes).
void set_address(const Packet& p, bool source, uint32_t to, bool partial_l4 = false) {
  const uint32_t from = source ? p.ip->src_addr : p.ip->dst_addr;
  if (from == to) return;
  if (source)
    p.ip->src_addr = to;
  else
    p.ip->dst_addr = to;
  p.ip->hdr_checksum = checksum_replace32(p.ip->hdr_checksum, from, to);
  if (!first_fragment(p.ip)) return;
  if (partial_l4) {
    const size_t field = p.ip->next_proto_id == IPPROTO_TCP ? 16 : 6;
    if ((p.ip->next_proto_id == IPPROTO_TCP || p.ip->next_proto_id == IPPROTO_UDP) && p.l4_available >= field + 2)
      store16(p.l4 + field, partial_replace32(load16(p.l4 + field), from, to));
    return;
  }
  if (p.ip->next_proto_id == IPPROTO_TCP && p.l4_available >= 18)
    store16(p.l4 + 16, checksum_replace32(load16(p.l4 + 16), from, to));
  else if (p.ip->next_proto_id == IPPROTO_UDP && p.l4_available >= 8)
    store16(p.l4 + 6, udp_checksum_replace32(load16(p.l4 + 6), from, to));
}

// Replaces a TCP/UDP port or an ICMP echo identifier, with its checksum
// (a partial one, above, does not cover ports).
void set_port(const Packet& p, bool source, uint16_t to, bool partial_l4 = false) {
  const uint8_t protocol = p.ip->next_proto_id;
  if (protocol == IPPROTO_TCP || protocol == IPPROTO_UDP) {
    if (p.l4_available < 4) return;
    uint8_t* field = p.l4 + (source ? 0 : 2);
    const uint16_t from = load16(field);
    store16(field, to);
    if (partial_l4) return;
    if (protocol == IPPROTO_TCP && p.l4_available >= 18)
      store16(p.l4 + 16, checksum_replace16(load16(p.l4 + 16), from, to));
    else if (protocol == IPPROTO_UDP && p.l4_available >= 8)
      store16(p.l4 + 6, udp_checksum_replace16(load16(p.l4 + 6), from, to));
  } else if (protocol == IPPROTO_ICMP && p.l4_available >= 8 && is_icmp_echo(p.l4[0])) {
    const uint16_t from = load16(p.l4 + 4);
    store16(p.l4 + 4, to);
    store16(p.l4 + 2, checksum_replace16(load16(p.l4 + 2), from, to));
  }
}

bool translate(rte_mbuf* m, bool source, uint32_t ip, bool with_port, uint16_t port) {
  if (m->data_len < kEth) return false;
  auto outer = parse(rte_pktmbuf_mtod_offset(m, uint8_t*, kEth), m->data_len - kEth);
  if (!outer) return false;
  const bool partial_l4 = (m->ol_flags & (RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG)) != 0;
  set_address(*outer, source, ip, partial_l4);
  const bool icmp = outer->ip->next_proto_id == IPPROTO_ICMP && first_fragment(outer->ip);
  if (!icmp || outer->l4_available < 8 || !is_icmp_error(outer->l4[0])) {
    if (with_port && first_fragment(outer->ip)) set_port(*outer, source, port, partial_l4);
    return true;
  }
  // An ICMP error: the quoted packet travelled the other way, so what is
  // our source is its destination and vice versa.
  auto quoted = parse(outer->l4 + 8, outer->l4_available - 8);
  if (!quoted) return false;
  set_address(*quoted, !source, ip);
  if (with_port) set_port(*quoted, !source, port);
  // The quote changed: recompute the ICMP checksum over the whole message
  // (errors are small and rare; exactness matters more than speed here).
  const size_t icmp_length = rte_be_to_cpu_16(outer->ip->total_length) - rte_ipv4_hdr_len(outer->ip);
  if (icmp_length > outer->l4_available) return false;
  store16(outer->l4 + 2, 0);
  store16(outer->l4 + 2, static_cast<uint16_t>(~rte_raw_cksum(outer->l4, icmp_length)));
  return true;
}

}  // namespace

bool flow_key(const rte_mbuf* m, FlowKey* out) noexcept {
  if (m->data_len < kEth + sizeof(rte_ipv4_hdr)) return false;
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) return false;
  auto outer = parse(const_cast<uint8_t*>(rte_pktmbuf_mtod_offset(m, const uint8_t*, kEth)), m->data_len - kEth);
  if (!outer || !first_fragment(outer->ip)) return false;
  FlowKey& key = *out;
  key = FlowKey{};
  key.protocol = outer->ip->next_proto_id;
  key.src_ip = outer->ip->src_addr;
  key.dst_ip = outer->ip->dst_addr;
  const uint8_t* l4 = outer->l4;
  switch (key.protocol) {
    case IPPROTO_TCP:
      if (outer->l4_available < 14) return false;
      key.src_port = load16(l4);
      key.dst_port = load16(l4 + 2);
      key.tcp_flags = l4[13];
      return true;
    case IPPROTO_UDP:
      if (outer->l4_available < 8) return false;
      key.src_port = load16(l4);
      key.dst_port = load16(l4 + 2);
      return true;
    case IPPROTO_ICMP: {
      if (outer->l4_available < 8) return false;
      key.icmp_type = l4[0];
      if (is_icmp_echo(l4[0])) {
        key.src_port = key.dst_port = load16(l4 + 4);
        return true;
      }
      if (!is_icmp_error(l4[0])) return true;
      auto quoted = parse(outer->l4 + 8, outer->l4_available - 8);
      if (!quoted || quoted->l4_available < 8) return false;
      key.icmp_error = true;
      key.protocol = quoted->ip->next_proto_id;
      key.src_ip = quoted->ip->dst_addr;
      key.dst_ip = quoted->ip->src_addr;
      if (key.protocol == IPPROTO_TCP || key.protocol == IPPROTO_UDP) {
        key.src_port = load16(quoted->l4 + 2);
        key.dst_port = load16(quoted->l4);
      } else if (key.protocol == IPPROTO_ICMP && is_icmp_echo(quoted->l4[0])) {
        key.src_port = key.dst_port = load16(quoted->l4 + 4);
      }
      return true;
    }
    default:
      return true;
  }
}

bool clamp_tcp_mss(rte_mbuf* m, uint16_t max_mss) noexcept {
  constexpr uint8_t kSyn = 0x02, kOptionEnd = 0, kOptionNop = 1, kOptionMss = 2;
  constexpr size_t kTcpHeader = 20;
  if (m->data_len < kEth ||
      rte_pktmbuf_mtod(m, const rte_ether_hdr*)->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4))
    return false;
  const auto packet = parse(rte_pktmbuf_mtod_offset(m, uint8_t*, kEth), m->data_len - kEth);
  if (!packet || packet->ip->next_proto_id != IPPROTO_TCP || !first_fragment(packet->ip)) return false;
  uint8_t* tcp = packet->l4;
  if (packet->l4_available < kTcpHeader || !(tcp[13] & kSyn)) return false;
  // The header must lie within the frame's first segment and within the
  // datagram: bytes past the IP total length are padding, outside the
  // checksum.
  const size_t header = size_t{static_cast<uint8_t>(tcp[12] >> 4)} * 4;
  const size_t datagram = rte_be_to_cpu_16(packet->ip->total_length);
  const size_t ihl = rte_ipv4_hdr_len(packet->ip);
  if (header < kTcpHeader || header > packet->l4_available || datagram < ihl + header) return false;
  for (size_t at = kTcpHeader; at < header;) {
    const uint8_t kind = tcp[at];
    if (kind == kOptionEnd) return false;
    if (kind == kOptionNop) {
      ++at;
      continue;
    }
    if (at + 1 >= header || tcp[at + 1] < 2 || at + tcp[at + 1] > header) return false;
    if (kind == kOptionMss && tcp[at + 1] == 4) {
      const uint16_t from = load16(tcp + at + 2);
      if (rte_be_to_cpu_16(from) <= max_mss) return false;
      const uint16_t to = rte_cpu_to_be_16(max_mss);
      store16(tcp + at + 2, to);
      // After a single NOP the option sits at an odd offset, its two bytes
      // in two checksum words: there it adds to the sum byte-swapped.
      const bool partial = (m->ol_flags & (RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG)) != 0;
      if (!partial) {
        const bool odd = at % 2 != 0;
        store16(tcp + 16,
                checksum_replace16(load16(tcp + 16), odd ? rte_bswap16(from) : from, odd ? rte_bswap16(to) : to));
      }
      return true;
    }
    at += tcp[at + 1];
  }
  return false;
}

bool translate_source(rte_mbuf* m, uint32_t ip) noexcept {
  return translate(m, true, ip, false, 0);
}

bool translate_source(rte_mbuf* m, uint32_t ip, uint16_t port) noexcept {
  return translate(m, true, ip, true, port);
}

bool translate_destination(rte_mbuf* m, uint32_t ip) noexcept {
  return translate(m, false, ip, false, 0);
}

bool translate_destination(rte_mbuf* m, uint32_t ip, uint16_t port) noexcept {
  return translate(m, false, ip, true, port);
}

}  // namespace inception::nat
