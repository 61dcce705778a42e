// Hostile and malformed frames, by name: the generator behind
// inception-hostile (which puts them on a kernel interface through a packet
// socket) and the integration tests (which also hand them to vhost-user
// ports through inception-vport-peer's `sendhex`).
//
// A builder returns the exact bytes of one or more frames, without FCS and
// without padding unless padding is the point. Everything a name does not
// mention is well formed (lengths, checksums, flags), so a frame is broken
// only where its name says, and the switch's verdict on it is predictable.
//
// Two kinds of frames:
//   guest     what an iVM's NIC sends: src_mac/dst_mac, src_ip/dst_ip, ARP fields.
//   underlay  what reaches the rVM's NIC from the reality cloud's network:
//             outer_* fields for the outer Ethernet/IPv4 headers, and the
//             guest fields for the frame a VXLAN datagram carries.
// Every frame that has room for it carries `marker` (ASCII), so that a
// capture can tell which frame arrived where; ARP frames carry it in their
// Ethernet padding.
//
// No DPDK here: the tool runs in network namespaces without an EAL.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "inception/ipv4_address.h"
#include "inception/mac_address.h"

namespace inception::hostile {

using Bytes = std::vector<uint8_t>;

struct FrameParams {
  // The guest's frame, or the frame inside a VXLAN datagram.
  MacAddress dst_mac{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
  MacAddress src_mac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}};
  Ipv4Address src_ip{0xc0000201};  // 192.0.2.1
  Ipv4Address dst_ip{0xc0000202};  // 192.0.2.2
  uint16_t src_port = 40000;
  uint16_t dst_port = 9;
  std::string marker = "hostile";
  size_t payload_bytes = 0;  // zero bytes after the marker
  // ARP: operation, and the sender/target fields (defaults: the Ethernet
  // source and src_ip for the sender, dst_ip for the target).
  uint16_t arp_op = 1;
  std::optional<MacAddress> arp_sha;
  std::optional<Ipv4Address> arp_spa;
  std::optional<Ipv4Address> arp_tpa;
  // The underlay: outer headers of VXLAN datagrams and of frames to the rVM.
  MacAddress outer_dst_mac{{0x02, 0x00, 0x00, 0x00, 0x0a, 0x0b}};
  MacAddress outer_src_mac{{0x02, 0x00, 0x00, 0x00, 0x0a, 0x14}};
  Ipv4Address outer_src_ip{0x0a000014};  // 10.0.0.20
  Ipv4Address outer_dst_ip{0x0a00000b};  // 10.0.0.11
  uint32_t vni = 1001;
  uint16_t vxlan_port = 4789;
  uint16_t mtu = 1500;  // the underlay MTU, for the fragmented datagram
};

struct FrameKind {
  std::string_view name;
  std::string_view where;  // "guest" or "underlay"
  std::string_view summary;
  std::vector<Bytes> (*build)(const FrameParams&);
};

// Every named frame, in a stable order.
const std::vector<FrameKind>& catalog();
// The frames `name` builds from `params`; throws std::invalid_argument for
// an unknown name.
std::vector<Bytes> build(std::string_view name, const FrameParams& params);

// The pieces the builders are made of, for tests that compose their own.
inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;
inline constexpr uint16_t kEtherTypeQinq = 0x88a8;
inline constexpr uint16_t kEtherTypeExperimental = 0x88b5;  // IEEE 802 local experimental

// Ones' complement sum folded to 16 bits (RFC 1071), not inverted.
uint16_t ones_complement_sum(const uint8_t* data, size_t length, uint32_t initial = 0);
Bytes ethernet(const MacAddress& dst, const MacAddress& src, uint16_t ether_type, const Bytes& payload);
// The payload `params` asks for: the marker, then payload_bytes zeros.
Bytes payload(const FrameParams& params);
// A UDP datagram (header and payload) with its checksum over the IPv4
// pseudo-header of src -> dst; `checksum` false leaves it 0 (none).
Bytes udp(Ipv4Address src, Ipv4Address dst, uint16_t src_port, uint16_t dst_port, const Bytes& data,
          bool checksum = true);
// An IPv4 packet around `l4` with a correct header: 20 bytes, DF, TTL 64.
Bytes ipv4(Ipv4Address src, Ipv4Address dst, uint8_t protocol, const Bytes& l4);
// The guest's well-formed IPv4/UDP frame (the "udp" frame).
Bytes guest_udp(const FrameParams& params);
// A well-formed VXLAN frame carrying `inner` (the "vxlan" frame's outside).
Bytes vxlan(const FrameParams& params, const Bytes& inner);

std::string to_hex(const Bytes& bytes);
std::optional<Bytes> from_hex(std::string_view text);
// Whether `haystack` contains `needle` (for finding a marker in a capture).
bool contains(const Bytes& haystack, std::string_view needle);

}  // namespace inception::hostile
