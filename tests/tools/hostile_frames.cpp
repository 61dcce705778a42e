#include "hostile_frames.h"

#include <algorithm>
#include <stdexcept>

namespace inception::hostile {

namespace {

constexpr uint8_t kProtoUdp = 17;
constexpr uint16_t kIpv4Header = 20;
constexpr uint16_t kUdpHeader = 8;
constexpr uint16_t kVxlanHeader = 8;
constexpr uint16_t kFlagDontFragment = 0x4000;
constexpr uint16_t kFlagMoreFragments = 0x2000;
constexpr uint8_t kVxlanFlagI = 0x08;

void put16(Bytes& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void put32(Bytes& out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v >> 16));
  put16(out, static_cast<uint16_t>(v));
}

void set16(Bytes& out, size_t at, uint16_t v) {
  out[at] = static_cast<uint8_t>(v >> 8);
  out[at + 1] = static_cast<uint8_t>(v);
}

void put_mac(Bytes& out, const MacAddress& mac) {
  out.insert(out.end(), mac.bytes().begin(), mac.bytes().end());
}

void append(Bytes& out, const Bytes& more) {
  out.insert(out.end(), more.begin(), more.end());
}

Bytes marker_bytes(const FrameParams& p) {
  return Bytes(p.marker.begin(), p.marker.end());
}

// An IPv4 header as a builder sees it: every field settable, lengths and
// checksum computed unless a case overrides them.
struct Ipv4Fields {
  Ipv4Address src, dst;
  uint8_t protocol = kProtoUdp;
  uint8_t version = 4;
  uint8_t ihl = 0;  // 0: from the header's real length
  Bytes options;    // a multiple of 4 bytes
  std::optional<uint16_t> total_length;
  uint16_t id = 0;
  uint16_t flags_fragment = kFlagDontFragment;
  uint8_t ttl = 64;
  std::optional<uint16_t> checksum;
};

Bytes ipv4_with(const Ipv4Fields& f, const Bytes& l4) {
  const size_t header = kIpv4Header + f.options.size();
  Bytes out;
  out.push_back(static_cast<uint8_t>(f.version << 4 | (f.ihl != 0 ? f.ihl : header / 4)));
  out.push_back(0);
  put16(out, f.total_length.value_or(static_cast<uint16_t>(header + l4.size())));
  put16(out, f.id);
  put16(out, f.flags_fragment);
  out.push_back(f.ttl);
  out.push_back(f.protocol);
  put16(out, 0);
  put32(out, f.src.value());
  put32(out, f.dst.value());
  append(out, f.options);
  const uint16_t sum = static_cast<uint16_t>(~ones_complement_sum(out.data(), header));
  set16(out, 10, f.checksum.value_or(sum));
  append(out, l4);
  return out;
}

Bytes with_vlan(const Bytes& frame, uint16_t tpid, uint16_t tci) {
  Bytes out(frame.begin(), frame.begin() + 12);
  put16(out, tpid);
  put16(out, tci);
  out.insert(out.end(), frame.begin() + 12, frame.end());
  return out;
}

Bytes outer_ethernet(const FrameParams& p, const Bytes& ip_packet) {
  return ethernet(p.outer_dst_mac, p.outer_src_mac, kEtherTypeIpv4, ip_packet);
}

Ipv4Fields outer_ipv4(const FrameParams& p) {
  Ipv4Fields f;
  f.src = p.outer_src_ip;
  f.dst = p.outer_dst_ip;
  return f;
}

// UDP source port of a VXLAN datagram: any in 49152-65535 (RFC 7348 5).
uint16_t vxlan_source_port(const Bytes& inner) {
  return static_cast<uint16_t>(49152 + ones_complement_sum(inner.data(), std::min<size_t>(inner.size(), 14)) % 16384);
}

// The UDP datagram of a VXLAN frame: header (checksum 0, allowed for
// VXLAN over IPv4), VXLAN header, inner frame, and `trailer` beyond the
// UDP length when `udp_length` says less.
Bytes vxlan_datagram(const FrameParams& p, const Bytes& inner, uint8_t flags = kVxlanFlagI,
                     std::optional<uint16_t> udp_length = std::nullopt, const Bytes& trailer = {}) {
  Bytes out;
  put16(out, vxlan_source_port(inner));
  put16(out, p.vxlan_port);
  put16(out, udp_length.value_or(static_cast<uint16_t>(kUdpHeader + kVxlanHeader + inner.size())));
  put16(out, 0);
  out.push_back(flags);
  out.insert(out.end(), 3, 0);
  put16(out, static_cast<uint16_t>(p.vni >> 8));
  out.push_back(static_cast<uint8_t>(p.vni));
  out.push_back(0);
  append(out, inner);
  append(out, trailer);
  return out;
}

Bytes vxlan_with(const FrameParams& p, const Ipv4Fields& ip) {
  return outer_ethernet(p, ipv4_with(ip, vxlan_datagram(p, guest_udp(p))));
}

Bytes arp_frame(const FrameParams& p, uint16_t op, const MacAddress& sha, Ipv4Address spa, const MacAddress& tha,
                Ipv4Address tpa) {
  Bytes arp;
  put16(arp, 1);  // Ethernet
  put16(arp, kEtherTypeIpv4);
  arp.push_back(6);
  arp.push_back(4);
  put16(arp, op);
  put_mac(arp, sha);
  put32(arp, spa.value());
  put_mac(arp, tha);
  put32(arp, tpa.value());
  append(arp, payload(p));  // Ethernet padding: where the marker fits
  return ethernet(p.dst_mac, p.src_mac, kEtherTypeArp, arp);
}

const MacAddress kZeroMac{};

// ---- guest frames

std::vector<Bytes> build_plain(const FrameParams& p) {
  return {ethernet(p.dst_mac, p.src_mac, kEtherTypeExperimental, payload(p))};
}

std::vector<Bytes> build_udp(const FrameParams& p) {
  return {guest_udp(p)};
}

std::vector<Bytes> build_runt(const FrameParams& p) {
  Bytes frame = guest_udp(p);
  frame.resize(10);
  return {frame};
}

std::vector<Bytes> build_truncated_ipv4(const FrameParams& p) {
  Bytes frame = guest_udp(p);
  frame.resize(14 + 10);
  return {frame};
}

std::vector<Bytes> build_truncated_arp(const FrameParams& p) {
  Bytes frame = arp_frame(p, 1, p.src_mac, p.src_ip, kZeroMac, p.dst_ip);
  frame.resize(14 + 10);
  return {frame};
}

std::vector<Bytes> build_ipv4_bad_checksum(const FrameParams& p) {
  Bytes frame = guest_udp(p);
  frame[14 + 10] ^= 0x5a;
  return {frame};
}

std::vector<Bytes> build_ipv4_bad_length(const FrameParams& p) {
  Ipv4Fields ip;
  ip.src = p.src_ip;
  ip.dst = p.dst_ip;
  ip.total_length = 1400;  // more than the frame holds
  const Bytes l4 = udp(p.src_ip, p.dst_ip, p.src_port, p.dst_port, payload(p));
  return {ethernet(p.dst_mac, p.src_mac, kEtherTypeIpv4, ipv4_with(ip, l4))};
}

std::vector<Bytes> build_udp_bad_checksum(const FrameParams& p) {
  Bytes frame = guest_udp(p);
  frame[14 + kIpv4Header + 6] ^= 0x5a;
  return {frame};
}

std::vector<Bytes> build_ipv4_fragment(const FrameParams& p) {
  Ipv4Fields ip;
  ip.src = p.src_ip;
  ip.dst = p.dst_ip;
  ip.id = 0x4242;
  ip.flags_fragment = kFlagMoreFragments;
  const Bytes l4 = udp(p.src_ip, p.dst_ip, p.src_port, p.dst_port, payload(p));
  return {ethernet(p.dst_mac, p.src_mac, kEtherTypeIpv4, ipv4_with(ip, l4))};
}

std::vector<Bytes> build_vlan(const FrameParams& p) {
  return {with_vlan(guest_udp(p), kEtherTypeVlan, 100)};
}

std::vector<Bytes> build_priority_tagged(const FrameParams& p) {
  return {with_vlan(guest_udp(p), kEtherTypeVlan, 3 << 13)};
}

std::vector<Bytes> build_qinq(const FrameParams& p) {
  return {with_vlan(with_vlan(guest_udp(p), kEtherTypeVlan, 100), kEtherTypeQinq, 200)};
}

std::vector<Bytes> build_multicast_source(const FrameParams& p) {
  FrameParams q = p;
  auto bytes = p.src_mac.bytes();
  bytes[0] |= 0x01;
  q.src_mac = MacAddress(bytes);
  return build_plain(q);
}

std::vector<Bytes> build_zero_source(const FrameParams& p) {
  FrameParams q = p;
  q.src_mac = kZeroMac;
  return build_plain(q);
}

std::vector<Bytes> build_pause(const FrameParams& p) {
  Bytes control;
  put16(control, 0x0001);  // PAUSE
  put16(control, 0xffff);  // quanta: as long as it gets
  append(control, payload(p));
  return {ethernet(MacAddress({0x01, 0x80, 0xc2, 0x00, 0x00, 0x01}), p.src_mac, 0x8808, control)};
}

std::vector<Bytes> build_stp(const FrameParams& p) {
  // An 802.3 frame (length, not type) with LLC 42-42-03 and a configuration
  // BPDU claiming to be the root bridge.
  Bytes llc = {0x42, 0x42, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00};
  for (int i = 0; i < 8; ++i) llc.push_back(i < 2 ? 0 : p.src_mac.bytes()[i - 2]);  // root: priority 0
  llc.insert(llc.end(), 4, 0);                                                      // root path cost
  for (int i = 0; i < 8; ++i) llc.push_back(i < 2 ? 0 : p.src_mac.bytes()[i - 2]);  // bridge id
  put16(llc, 0x8001);                                                               // port id
  put16(llc, 0);                                                                    // message age
  put16(llc, 20 << 8);                                                              // max age
  put16(llc, 2 << 8);                                                               // hello time
  put16(llc, 15 << 8);                                                              // forward delay
  const uint16_t length = static_cast<uint16_t>(llc.size());
  append(llc, payload(p));
  return {ethernet(MacAddress({0x01, 0x80, 0xc2, 0x00, 0x00, 0x00}), p.src_mac, length, llc)};
}

std::vector<Bytes> build_lldp(const FrameParams& p) {
  Bytes tlvs;
  put16(tlvs, 1 << 9 | 7);  // chassis ID: MAC address
  tlvs.push_back(4);
  put_mac(tlvs, p.src_mac);
  put16(tlvs, 2 << 9 | 7);  // port ID: MAC address
  tlvs.push_back(3);
  put_mac(tlvs, p.src_mac);
  put16(tlvs, 3 << 9 | 2);  // TTL
  put16(tlvs, 120);
  put16(tlvs, 0);  // end
  append(tlvs, payload(p));
  return {ethernet(MacAddress({0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e}), p.src_mac, 0x88cc, tlvs)};
}

std::vector<Bytes> build_arp(const FrameParams& p) {
  const MacAddress tha = p.arp_op == 1 ? kZeroMac : p.dst_mac;
  return {arp_frame(p, p.arp_op, p.arp_sha.value_or(p.src_mac), p.arp_spa.value_or(p.src_ip), tha,
                    p.arp_tpa.value_or(p.dst_ip))};
}

std::vector<Bytes> build_garp(const FrameParams& p) {
  const Ipv4Address claimed = p.arp_spa.value_or(p.src_ip);
  return {arp_frame(p, 1, p.arp_sha.value_or(p.src_mac), claimed, kZeroMac, claimed)};
}

std::vector<Bytes> build_arp_sha_mismatch(const FrameParams& p) {
  const MacAddress other = p.arp_sha.value_or(MacAddress({0x02, 0x00, 0x00, 0x00, 0xee, 0xee}));
  return {arp_frame(p, 1, other, p.arp_spa.value_or(p.src_ip), kZeroMac, p.arp_tpa.value_or(p.dst_ip))};
}

// ---- underlay frames

std::vector<Bytes> build_vxlan(const FrameParams& p) {
  return {vxlan(p, guest_udp(p))};
}

std::vector<Bytes> build_vxlan_bad_checksum(const FrameParams& p) {
  Bytes frame = vxlan(p, guest_udp(p));
  frame[14 + 10] ^= 0x5a;
  return {frame};
}

std::vector<Bytes> build_vxlan_zero_checksum(const FrameParams& p) {
  Ipv4Fields ip = outer_ipv4(p);
  ip.checksum = 0;
  return {vxlan_with(p, ip)};
}

std::vector<Bytes> build_vxlan_version_6(const FrameParams& p) {
  Ipv4Fields ip = outer_ipv4(p);
  ip.version = 6;
  return {vxlan_with(p, ip)};
}

std::vector<Bytes> build_vxlan_short_ihl(const FrameParams& p) {
  Ipv4Fields ip = outer_ipv4(p);
  ip.ihl = 4;
  return {vxlan_with(p, ip)};
}

std::vector<Bytes> build_vxlan_ip_options(const FrameParams& p) {
  Ipv4Fields ip = outer_ipv4(p);
  ip.options = {0x01, 0x01, 0x01, 0x00};  // NOP, NOP, NOP, end of options
  return {vxlan_with(p, ip)};
}

std::vector<Bytes> build_vxlan_ip_truncated(const FrameParams& p) {
  Ipv4Fields ip = outer_ipv4(p);
  const Bytes datagram = vxlan_datagram(p, guest_udp(p));
  ip.total_length = static_cast<uint16_t>(kIpv4Header + datagram.size() + 200);
  return {outer_ethernet(p, ipv4_with(ip, datagram))};
}

std::vector<Bytes> build_vxlan_no_i_flag(const FrameParams& p) {
  return {outer_ethernet(p, ipv4_with(outer_ipv4(p), vxlan_datagram(p, guest_udp(p), 0x00)))};
}

std::vector<Bytes> build_vxlan_udp_short(const FrameParams& p) {
  const Bytes inner = guest_udp(p);
  const Bytes trailer(16, 0xee);
  return {outer_ethernet(p, ipv4_with(outer_ipv4(p), vxlan_datagram(p, inner, kVxlanFlagI, std::nullopt, trailer)))};
}

std::vector<Bytes> build_vxlan_udp_long(const FrameParams& p) {
  const Bytes inner = guest_udp(p);
  const auto length = static_cast<uint16_t>(kUdpHeader + kVxlanHeader + inner.size() + 16);
  return {outer_ethernet(p, ipv4_with(outer_ipv4(p), vxlan_datagram(p, inner, kVxlanFlagI, length)))};
}

std::vector<Bytes> build_vxlan_priority_tagged(const FrameParams& p) {
  return {with_vlan(vxlan(p, guest_udp(p)), kEtherTypeVlan, 3 << 13)};
}

// A datagram longer than the underlay MTU, in the two IPv4 fragments a
// sender that ignores DF would make (RFC 791: fragment data in units of 8
// bytes, MF on all but the last). The inner frame is padded if it would fit.
std::vector<Bytes> build_vxlan_fragments(const FrameParams& p) {
  FrameParams q = p;
  Bytes inner = guest_udp(q);
  const size_t overhead = kIpv4Header + kUdpHeader + kVxlanHeader;
  if (overhead + inner.size() <= p.mtu) {
    q.payload_bytes += p.mtu + 64 - overhead - inner.size();
    inner = guest_udp(q);
  }
  const Bytes datagram = vxlan_datagram(q, inner);
  const size_t first = (p.mtu - kIpv4Header) / 8 * 8;
  Ipv4Fields ip = outer_ipv4(p);
  ip.id = 0x4856;
  ip.flags_fragment = kFlagMoreFragments;
  const Bytes head(datagram.begin(), datagram.begin() + static_cast<std::ptrdiff_t>(first));
  const Bytes tail(datagram.begin() + static_cast<std::ptrdiff_t>(first), datagram.end());
  std::vector<Bytes> out{outer_ethernet(p, ipv4_with(ip, head))};
  ip.flags_fragment = static_cast<uint16_t>(first / 8);
  out.push_back(outer_ethernet(p, ipv4_with(ip, tail)));
  return out;
}

Bytes host_udp(const FrameParams& p, const Ipv4Fields& ip) {
  return outer_ethernet(p, ipv4_with(ip, udp(p.outer_src_ip, p.outer_dst_ip, p.src_port, p.dst_port, payload(p))));
}

std::vector<Bytes> build_host_bad_checksum(const FrameParams& p) {
  Ipv4Fields ip = outer_ipv4(p);
  ip.checksum = 0x1234;
  return {host_udp(p, ip)};
}

std::vector<Bytes> build_host_truncated(const FrameParams& p) {
  Ipv4Fields ip = outer_ipv4(p);
  ip.total_length = 1400;
  return {host_udp(p, ip)};
}

}  // namespace

uint16_t ones_complement_sum(const uint8_t* data, size_t length, uint32_t initial) {
  uint64_t sum = initial;
  for (size_t i = 0; i + 1 < length; i += 2) sum += uint32_t{data[i]} << 8 | data[i + 1];
  if (length % 2 != 0) sum += uint32_t{data[length - 1]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

Bytes ethernet(const MacAddress& dst, const MacAddress& src, uint16_t ether_type, const Bytes& body) {
  Bytes out;
  put_mac(out, dst);
  put_mac(out, src);
  put16(out, ether_type);
  append(out, body);
  return out;
}

Bytes payload(const FrameParams& params) {
  Bytes out = marker_bytes(params);
  out.insert(out.end(), params.payload_bytes, 0);
  return out;
}

Bytes udp(Ipv4Address src, Ipv4Address dst, uint16_t src_port, uint16_t dst_port, const Bytes& data, bool checksum) {
  Bytes out;
  put16(out, src_port);
  put16(out, dst_port);
  put16(out, static_cast<uint16_t>(kUdpHeader + data.size()));
  put16(out, 0);
  append(out, data);
  if (checksum) {
    Bytes pseudo;
    put32(pseudo, src.value());
    put32(pseudo, dst.value());
    put16(pseudo, kProtoUdp);
    put16(pseudo, static_cast<uint16_t>(out.size()));
    const uint16_t sum = ones_complement_sum(out.data(), out.size(), ones_complement_sum(pseudo.data(), pseudo.size()));
    const auto value = static_cast<uint16_t>(~sum);
    set16(out, 6, value == 0 ? 0xffff : value);  // RFC 768: a computed 0 is sent as all ones
  }
  return out;
}

Bytes ipv4(Ipv4Address src, Ipv4Address dst, uint8_t protocol, const Bytes& l4) {
  Ipv4Fields f;
  f.src = src;
  f.dst = dst;
  f.protocol = protocol;
  return ipv4_with(f, l4);
}

Bytes guest_udp(const FrameParams& p) {
  return ethernet(p.dst_mac, p.src_mac, kEtherTypeIpv4,
                  ipv4(p.src_ip, p.dst_ip, kProtoUdp, udp(p.src_ip, p.dst_ip, p.src_port, p.dst_port, payload(p))));
}

Bytes vxlan(const FrameParams& params, const Bytes& inner) {
  return outer_ethernet(params, ipv4_with(outer_ipv4(params), vxlan_datagram(params, inner)));
}

const std::vector<FrameKind>& catalog() {
  static const std::vector<FrameKind> kinds = {
      {"plain", "guest", "a well-formed frame of EtherType 88b5 carrying the marker", build_plain},
      {"udp", "guest", "a well-formed IPv4/UDP frame src_ip:src_port -> dst_ip:dst_port", build_udp},
      {"runt", "guest", "10 bytes: shorter than an Ethernet header", build_runt},
      {"truncated-ipv4", "guest", "EtherType IPv4 with 10 bytes of IPv4 header", build_truncated_ipv4},
      {"truncated-arp", "guest", "EtherType ARP with 10 bytes of ARP", build_truncated_arp},
      {"ipv4-bad-checksum", "guest", "the udp frame with a wrong IPv4 header checksum", build_ipv4_bad_checksum},
      {"ipv4-bad-length", "guest", "the udp frame whose IPv4 total length exceeds the frame", build_ipv4_bad_length},
      {"udp-bad-checksum", "guest", "the udp frame with a wrong UDP checksum", build_udp_bad_checksum},
      {"ipv4-fragment", "guest", "a first IPv4 fragment (MF set) of a UDP datagram", build_ipv4_fragment},
      {"vlan", "guest", "the udp frame in an 802.1Q tag, VLAN 100", build_vlan},
      {"priority-tagged", "guest", "the udp frame in an 802.1p priority tag (VLAN 0)", build_priority_tagged},
      {"qinq", "guest", "the udp frame in 802.1ad (VLAN 200) and 802.1Q (VLAN 100) tags", build_qinq},
      {"multicast-source", "guest", "the plain frame from src_mac with the group bit set", build_multicast_source},
      {"zero-source", "guest", "the plain frame from 00:00:00:00:00:00", build_zero_source},
      {"pause", "guest", "an 802.3x PAUSE to 01:80:c2:00:00:01", build_pause},
      {"stp", "guest", "an STP configuration BPDU claiming the root, to 01:80:c2:00:00:00", build_stp},
      {"lldp", "guest", "an LLDPDU to 01:80:c2:00:00:0e", build_lldp},
      {"arp", "guest", "ARP (arp_op; sender arp_sha/arp_spa, target arp_tpa)", build_arp},
      {"garp", "guest", "a gratuitous ARP request claiming arp_spa (default src_ip)", build_garp},
      {"arp-sha-mismatch", "guest", "an ARP request whose sender MAC is not the Ethernet source",
       build_arp_sha_mismatch},
      {"vxlan", "underlay", "a well-formed VXLAN datagram carrying the udp frame", build_vxlan},
      {"vxlan-bad-checksum", "underlay", "VXLAN with a wrong outer IPv4 header checksum", build_vxlan_bad_checksum},
      {"vxlan-zero-checksum", "underlay", "VXLAN with an outer IPv4 header checksum of 0", build_vxlan_zero_checksum},
      {"vxlan-version-6", "underlay", "VXLAN whose outer IPv4 header says version 6", build_vxlan_version_6},
      {"vxlan-short-ihl", "underlay", "VXLAN whose outer IPv4 header length is 16 bytes (IHL 4)",
       build_vxlan_short_ihl},
      {"vxlan-ip-options", "underlay", "VXLAN with 4 bytes of outer IPv4 options", build_vxlan_ip_options},
      {"vxlan-ip-truncated", "underlay", "VXLAN whose outer IPv4 total length exceeds the frame",
       build_vxlan_ip_truncated},
      {"vxlan-no-i-flag", "underlay", "VXLAN with the I flag clear", build_vxlan_no_i_flag},
      {"vxlan-udp-short", "underlay", "VXLAN whose UDP length ends before the IPv4 payload (16 bytes of trailer)",
       build_vxlan_udp_short},
      {"vxlan-udp-long", "underlay", "VXLAN whose UDP length exceeds the IPv4 payload", build_vxlan_udp_long},
      {"vxlan-priority-tagged", "underlay", "VXLAN in an 802.1p priority tag (VLAN 0)", build_vxlan_priority_tagged},
      {"vxlan-fragments", "underlay", "a VXLAN datagram longer than mtu, as two IPv4 fragments", build_vxlan_fragments},
      {"host-bad-checksum", "underlay", "IPv4/UDP to outer_dst_ip (not VXLAN) with a wrong header checksum",
       build_host_bad_checksum},
      {"host-truncated", "underlay", "IPv4/UDP to outer_dst_ip (not VXLAN) whose total length exceeds the frame",
       build_host_truncated},
  };
  return kinds;
}

std::vector<Bytes> build(std::string_view name, const FrameParams& params) {
  for (const FrameKind& kind : catalog())
    if (kind.name == name) return kind.build(params);
  throw std::invalid_argument("unknown frame '" + std::string(name) + "' (inception-hostile list names them)");
}

std::string to_hex(const Bytes& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0f]);
  }
  return out;
}

std::optional<Bytes> from_hex(std::string_view text) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (text.size() % 2 != 0) return std::nullopt;
  Bytes out;
  out.reserve(text.size() / 2);
  for (size_t i = 0; i < text.size(); i += 2) {
    const int hi = digit(text[i]), lo = digit(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return out;
}

bool contains(const Bytes& haystack, std::string_view needle) {
  return !needle.empty() &&
         std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) != haystack.end();
}

}  // namespace inception::hostile
