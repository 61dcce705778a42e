// VXLAN encapsulation/decapsulation, underlay classification, ARP and ICMP
// errors on hand-built frames; checksums checked from scratch.
#include "dataplane/vxlan/vxlan.h"

#include <gtest/gtest.h>
#include <rte_arp.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <functional>
#include <set>
#include <vector>

#include "dataplane/arp.h"
#include "dataplane/vxlan/icmp_error.h"
#include "test_frames.h"

namespace inception::test {
namespace {

constexpr uint32_t kLocal = 0x0a00000b;   // 10.0.0.11
constexpr uint32_t kRemote = 0x0a00000c;  // 10.0.0.12
constexpr std::array<uint8_t, 6> kLocalMac = {0x02, 0, 0, 0, 0, 0x0b};
constexpr std::array<uint8_t, 6> kRemoteMac = {0x02, 0, 0, 0, 0, 0x0c};

// RFC 1071 checksum computed byte by byte, independent of DPDK's helpers.
uint16_t reference_checksum(const uint8_t* data, size_t length) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < length; i += 2) sum += uint32_t{data[i]} << 8 | data[i + 1];
  if (length % 2) sum += uint32_t{data[length - 1]} << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

std::vector<uint8_t> bytes_of(const rte_mbuf* m) {
  const auto* p = rte_pktmbuf_mtod(m, const uint8_t*);
  return {p, p + m->data_len};
}

// An inner IPv4/UDP frame of `bytes` bytes.
rte_mbuf* inner_frame(uint16_t bytes = 98, uint16_t src_port = 1000, uint16_t fragment_flags = RTE_IPV4_HDR_DF_FLAG) {
  rte_mbuf* m = frame("02:00:00:00:00:02", "02:00:00:00:00:01", bytes, RTE_ETHER_TYPE_IPV4);
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, 14);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(bytes - 14));
  ip->fragment_offset = rte_cpu_to_be_16(fragment_flags);
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_UDP;
  ip->src_addr = rte_cpu_to_be_32(0xc0000201);  // 192.0.2.1
  ip->dst_addr = rte_cpu_to_be_32(0xc0000202);
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  auto* udp = rte_pktmbuf_mtod_offset(m, rte_udp_hdr*, 34);
  udp->src_port = rte_cpu_to_be_16(src_port);
  udp->dst_port = rte_cpu_to_be_16(53);
  return m;
}

UnderlayView underlay_view() {
  UnderlayView u;
  u.enabled = true;
  u.port = 0;
  u.local_ip = rte_cpu_to_be_32(kRemote);  // we receive what kLocal sent
  u.vxlan_port = rte_cpu_to_be_16(4789);
  u.mac = kRemoteMac;
  u.mtu = 1500;
  u.overlay_mtu = 1450;
  u.network_of_vni.insert(1001, 0);
  u.peer_of.insert(UnderlayView::peer_key(1001, kLocal), 7);
  return u;
}

VxlanTemplate tunnel() {
  return make_vxlan_template(kLocalMac, kRemoteMac, kLocal, kRemote, 4789, 1001);
}

TEST(VxlanEncap, BuildsRfc7348HeadersFromTheTemplate) {
  rte_mbuf* m = inner_frame(98);
  const std::vector<uint8_t> inner = bytes_of(m);
  ASSERT_TRUE(vxlan_encap(tunnel(), m));
  ASSERT_EQ(m->pkt_len, 98u + 50u);
  const uint8_t* p = rte_pktmbuf_mtod(m, const uint8_t*);
  EXPECT_EQ(std::vector<uint8_t>(p, p + 6), std::vector<uint8_t>(kRemoteMac.begin(), kRemoteMac.end()));
  EXPECT_EQ(std::vector<uint8_t>(p + 6, p + 12), std::vector<uint8_t>(kLocalMac.begin(), kLocalMac.end()));
  EXPECT_EQ(p[12], 0x08);
  EXPECT_EQ(p[13], 0x00);
  const uint8_t* ip = p + 14;
  EXPECT_EQ(ip[0], 0x45);
  EXPECT_EQ(ip[2] << 8 | ip[3], 98 + 36);  // total length
  EXPECT_EQ(ip[6] & 0x40, 0x40);           // DF
  EXPECT_EQ(ip[8], 64);                    // TTL
  EXPECT_EQ(ip[9], IPPROTO_UDP);
  EXPECT_EQ(reference_checksum(ip, 20), 0) << "outer IPv4 checksum does not verify";
  EXPECT_EQ(std::vector<uint8_t>(ip + 12, ip + 20), (std::vector<uint8_t>{10, 0, 0, 11, 10, 0, 0, 12}));
  const uint8_t* udp = ip + 20;
  const uint16_t source_port = udp[0] << 8 | udp[1];
  EXPECT_GE(source_port, 49152);
  EXPECT_EQ(udp[2] << 8 | udp[3], 4789);
  EXPECT_EQ(udp[4] << 8 | udp[5], 98 + 16);
  EXPECT_EQ(udp[6] << 8 | udp[7], 0);  // no UDP checksum over IPv4
  const uint8_t* vxlan = udp + 8;
  EXPECT_EQ(std::vector<uint8_t>(vxlan, vxlan + 8), (std::vector<uint8_t>{0x08, 0, 0, 0, 0x00, 0x03, 0xe9, 0}));
  EXPECT_EQ(std::vector<uint8_t>(vxlan + 8, p + m->data_len), inner);
  rte_pktmbuf_free(m);
}

TEST(VxlanEncap, ChecksumHoldsForEveryLength) {
  for (uint16_t bytes : {60, 61, 512, 1000, 1464}) {
    rte_mbuf* m = inner_frame(bytes);
    ASSERT_TRUE(vxlan_encap(tunnel(), m));
    EXPECT_EQ(reference_checksum(rte_pktmbuf_mtod_offset(m, const uint8_t*, 14), 20), 0) << bytes;
    rte_pktmbuf_free(m);
  }
}

TEST(VxlanEncap, SourcePortFollowsTheInnerFlow) {
  rte_mbuf* a1 = inner_frame(98, 1000);
  rte_mbuf* a2 = inner_frame(98, 1000);
  EXPECT_EQ(vxlan_source_port(a1), vxlan_source_port(a2));
  std::set<uint16_t> ports;
  for (uint16_t flow = 0; flow < 64; ++flow) {
    rte_mbuf* m = inner_frame(98, static_cast<uint16_t>(2000 + flow));
    ports.insert(vxlan_source_port(m));
    rte_pktmbuf_free(m);
  }
  EXPECT_GT(ports.size(), 48u) << "flows should spread over source ports";
  rte_pktmbuf_free(a1);
  rte_pktmbuf_free(a2);
}

// A decapsulated frame starts 50 bytes into its buffer, 2 bytes off any
// 8-byte boundary, and is encapsulated again when a hub relays it. Found by
// the vxlan and nat suites under UBSan: the source port hash read the MAC
// addresses with an 8-byte load from that address (undefined behaviour).
TEST(VxlanEncap, SourcePortOfAFrameAtAnyAddressIsThatOfItsBytes) {
  rte_mbuf* aligned = inner_frame(98, 1000);
  rte_mbuf* shifted = rte_pktmbuf_alloc(test_pool());
  shifted->data_off = static_cast<uint16_t>(shifted->data_off + 50);  // as decapsulation leaves it
  std::memcpy(rte_pktmbuf_append(shifted, 98), rte_pktmbuf_mtod(aligned, const void*), 98);
  ASSERT_NE(reinterpret_cast<uintptr_t>(rte_pktmbuf_mtod(shifted, void*)) % 8, 0u);
  EXPECT_EQ(vxlan_source_port(shifted), vxlan_source_port(aligned));
  rte_pktmbuf_free(aligned);
  rte_pktmbuf_free(shifted);
}

TEST(VxlanDecap, RoundTripsAndNamesThePeer) {
  const UnderlayView u = underlay_view();
  rte_mbuf* m = inner_frame(98);
  const std::vector<uint8_t> inner = bytes_of(m);
  ASSERT_TRUE(vxlan_encap(tunnel(), m));
  DropReason reason = DropReason::kCount;
  ASSERT_EQ(classify_underlay(u, m, &reason), UnderlayClass::kVxlan);
  PortIndex peer = kInvalidPort;
  ASSERT_EQ(vxlan_decap(u, m, &peer), DropReason::kCount);
  EXPECT_EQ(peer, 7);
  EXPECT_EQ(bytes_of(m), inner);
  rte_pktmbuf_free(m);
}

TEST(VxlanDecap, StripsEthernetPaddingOfShortDatagrams) {
  const UnderlayView u = underlay_view();
  rte_mbuf* m = inner_frame(60);
  ASSERT_TRUE(vxlan_encap(tunnel(), m));
  std::memset(rte_pktmbuf_append(m, 6), 0xee, 6);  // padding after the datagram
  PortIndex peer = kInvalidPort;
  ASSERT_EQ(vxlan_decap(u, m, &peer), DropReason::kCount);
  EXPECT_EQ(m->pkt_len, 60u);
  rte_pktmbuf_free(m);
}

// Recomputes the outer IPv4 header checksum after a test edited the header.
void fix_outer_checksum(rte_mbuf* m) {
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, 14);
  ip->hdr_checksum = 0;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
}

// Encapsulates a frame, lets `corrupt` damage the outer headers, decaps.
DropReason decap_after(const std::function<void(uint8_t* outer, rte_mbuf* m)>& corrupt) {
  const UnderlayView u = underlay_view();
  rte_mbuf* m = inner_frame(98);
  vxlan_encap(tunnel(), m);
  corrupt(rte_pktmbuf_mtod(m, uint8_t*), m);
  PortIndex peer = kInvalidPort;
  const DropReason r = vxlan_decap(u, m, &peer);
  rte_pktmbuf_free(m);
  return r;
}

TEST(VxlanDecap, RejectsMalformedAndForeignFrames) {
  EXPECT_EQ(decap_after([](uint8_t* p, rte_mbuf*) { p[14 + 20 + 8 + 6] = 0x02; }), DropReason::kUnknownVni);
  EXPECT_EQ(decap_after([](uint8_t* p, rte_mbuf*) { p[14 + 12 + 3] = 99; }), DropReason::kUnknownPeer);
  EXPECT_EQ(decap_after([](uint8_t* p, rte_mbuf*) { p[14 + 20 + 8] = 0x00; }), DropReason::kBadVxlanFlags);
  // Reserved bits set with I: accepted (RFC 7348: ignored on receipt).
  EXPECT_EQ(decap_after([](uint8_t* p, rte_mbuf*) { p[14 + 20 + 8] = 0xff; }), DropReason::kCount);
  // IPv4 total length beyond the frame.
  EXPECT_EQ(decap_after([](uint8_t* p, rte_mbuf*) { p[14 + 2] = 0x7f; }), DropReason::kBadHeader);
  // UDP length beyond the IPv4 payload, or too short for VXLAN and an inner Ethernet header.
  EXPECT_EQ(decap_after([](uint8_t* p, rte_mbuf*) { p[14 + 20 + 5] += 1; }), DropReason::kBadHeader);
  EXPECT_EQ(decap_after([](uint8_t* p, rte_mbuf*) { p[14 + 20 + 4] = 0, p[14 + 20 + 5] = 29; }),
            DropReason::kBadHeader);
  // IHL below 5.
  EXPECT_EQ(decap_after([](uint8_t* p, rte_mbuf*) { p[14] = 0x44; }), DropReason::kBadHeader);
  // Truncated: outer headers but no whole inner Ethernet header.
  EXPECT_EQ(decap_after([](uint8_t*, rte_mbuf* m) { rte_pktmbuf_trim(m, static_cast<uint16_t>(m->pkt_len - 60)); }),
            DropReason::kBadHeader);
}

TEST(VxlanDecap, TheUdpLengthDelimitsTheInnerFrame) {
  // As in Linux (RFC 768): IPv4 payload beyond the UDP length is padding.
  const UnderlayView u = underlay_view();
  rte_mbuf* m = inner_frame(98);
  const std::vector<uint8_t> inner = bytes_of(m);
  ASSERT_TRUE(vxlan_encap(tunnel(), m));
  auto* udp = rte_pktmbuf_mtod_offset(m, rte_udp_hdr*, 34);
  udp->dgram_len = rte_cpu_to_be_16(8 + 8 + 60);
  PortIndex peer = kInvalidPort;
  ASSERT_EQ(vxlan_decap(u, m, &peer), DropReason::kCount);
  EXPECT_EQ(bytes_of(m), std::vector<uint8_t>(inner.begin(), inner.begin() + 60));
  rte_pktmbuf_free(m);
}

// RFC 1122 3.2.1.1-2: a datagram with a bad version, header length or
// checksum is discarded, VXLAN or not, before anything acts on it.
TEST(UnderlayClassify, InvalidOuterIpv4HeadersAreDroppedAsBadHeader) {
  const UnderlayView u = underlay_view();
  auto classify_after = [&](const std::function<void(rte_ipv4_hdr*)>& corrupt, bool fix_checksum,
                            uint32_t dst = kRemote) {
    rte_mbuf* m = inner_frame(98);
    vxlan_encap(tunnel(), m);
    auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, 14);
    ip->dst_addr = rte_cpu_to_be_32(dst);
    fix_outer_checksum(m);
    corrupt(ip);
    if (fix_checksum) fix_outer_checksum(m);
    DropReason reason = DropReason::kCount;
    const UnderlayClass c = classify_underlay(u, m, &reason);
    rte_pktmbuf_free(m);
    return std::pair{c, reason};
  };
  const auto bad = std::pair{UnderlayClass::kDrop, DropReason::kBadHeader};
  EXPECT_EQ(classify_after([](rte_ipv4_hdr* ip) { ip->hdr_checksum ^= 0x0100; }, false), bad);
  EXPECT_EQ(classify_after([](rte_ipv4_hdr* ip) { ip->hdr_checksum = 0; }, false), bad);
  EXPECT_EQ(classify_after([](rte_ipv4_hdr* ip) { ip->version_ihl = 0x65; }, true), bad);
  EXPECT_EQ(classify_after([](rte_ipv4_hdr* ip) { ip->version_ihl = 0x44; }, true), bad);
  EXPECT_EQ(classify_after(
                [](rte_ipv4_hdr* ip) {
                  ip->version_ihl = 0x4f;  // a 60-byte header in a 40-byte datagram
                  ip->total_length = rte_cpu_to_be_16(40);
                },
                true),
            bad);
  EXPECT_EQ(classify_after([](rte_ipv4_hdr* ip) { ip->total_length = rte_cpu_to_be_16(19); }, true), bad);
  // Junk for the rVM's own stack is dropped the same way, not handed up.
  EXPECT_EQ(classify_after([](rte_ipv4_hdr* ip) { ip->hdr_checksum ^= 1; }, false, 0x0a000063), bad);
  // Options: VTEPs send none; the datagram is not one of ours.
  rte_mbuf* m = inner_frame(98);
  vxlan_encap(tunnel(), m);
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, 14);
  ip->version_ihl = 0x46;  // 24-byte header: the first 4 bytes of UDP read as a NOP option run
  fix_outer_checksum(m);
  DropReason reason = DropReason::kCount;
  EXPECT_NE(classify_underlay(u, m, &reason), UnderlayClass::kVxlan);
  rte_pktmbuf_free(m);
}

TEST(UnderlayClassify, ADatagramLongerThanTheUnderlayMtuWasReassembledAndIsAFragment) {
  UnderlayView u = underlay_view();
  u.mtu = 1000;  // a 1464-byte inner frame cannot have arrived whole
  rte_mbuf* m = inner_frame(1464);
  vxlan_encap(tunnel(), m);
  DropReason reason = DropReason::kCount;
  EXPECT_EQ(classify_underlay(u, m, &reason), UnderlayClass::kDrop);
  EXPECT_EQ(reason, DropReason::kFragment);
  rte_pktmbuf_free(m);
}

TEST(UnderlayClassify, SortsFramesByWhoMustHandleThem) {
  const UnderlayView u = underlay_view();
  DropReason reason = DropReason::kCount;
  auto classify = [&](rte_mbuf* m) {
    const UnderlayClass c = classify_underlay(u, m, &reason);
    rte_pktmbuf_free(m);
    return c;
  };
  rte_mbuf* vx = inner_frame(98);
  vxlan_encap(tunnel(), vx);
  EXPECT_EQ(classify(vx), UnderlayClass::kVxlan);

  rte_mbuf* other_port = inner_frame(98);
  vxlan_encap(tunnel(), other_port);
  rte_pktmbuf_mtod_offset(other_port, rte_udp_hdr*, 34)->dst_port = rte_cpu_to_be_16(4790);
  EXPECT_EQ(classify(other_port), UnderlayClass::kHost);

  rte_mbuf* not_for_us = inner_frame(98);
  vxlan_encap(tunnel(), not_for_us);
  rte_pktmbuf_mtod_offset(not_for_us, rte_ipv4_hdr*, 14)->dst_addr = rte_cpu_to_be_32(0x0a000063);
  fix_outer_checksum(not_for_us);
  EXPECT_EQ(classify(not_for_us), UnderlayClass::kHost);

  rte_mbuf* first_fragment = inner_frame(98);
  vxlan_encap(tunnel(), first_fragment);
  rte_pktmbuf_mtod_offset(first_fragment, rte_ipv4_hdr*, 14)->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG);
  fix_outer_checksum(first_fragment);
  EXPECT_EQ(classify(first_fragment), UnderlayClass::kDrop);
  EXPECT_EQ(reason, DropReason::kFragment);

  rte_mbuf* later_fragment = inner_frame(98);
  vxlan_encap(tunnel(), later_fragment);
  rte_pktmbuf_mtod_offset(later_fragment, rte_ipv4_hdr*, 14)->fragment_offset = rte_cpu_to_be_16(185);
  fix_outer_checksum(later_fragment);
  EXPECT_EQ(classify(later_fragment), UnderlayClass::kHost);

  EXPECT_EQ(classify(frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 60, RTE_ETHER_TYPE_ARP)), UnderlayClass::kArp);
  EXPECT_EQ(classify(frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 60, RTE_ETHER_TYPE_IPV6)), UnderlayClass::kHost);
  EXPECT_EQ(classify(frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 8)), UnderlayClass::kDrop);
  EXPECT_EQ(reason, DropReason::kMalformed);
}

TEST(Arp, AnswersRequestsForTheVtepAddressOnly) {
  rte_mbuf* request = make_arp_request(test_pool(), kLocalMac, kLocal, kRemote);
  ASSERT_NE(request, nullptr);
  const auto parsed = parse_arp(request);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->operation, RTE_ARP_OP_REQUEST);
  EXPECT_EQ(parsed->sender_ip, kLocal);
  EXPECT_EQ(parsed->target_ip, kRemote);
  EXPECT_FALSE(arp_reply_in_place(request, kRemoteMac, 0x0a000063));  // not ours
  ASSERT_TRUE(arp_reply_in_place(request, kRemoteMac, kRemote));
  const auto reply = parse_arp(request);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->operation, RTE_ARP_OP_REPLY);
  EXPECT_EQ(reply->sender_mac, kRemoteMac);
  EXPECT_EQ(reply->sender_ip, kRemote);
  EXPECT_EQ(reply->target_ip, kLocal);
  const auto* eth = rte_pktmbuf_mtod(request, const rte_ether_hdr*);
  EXPECT_EQ(std::memcmp(eth->dst_addr.addr_bytes, kLocalMac.data(), 6), 0);
  EXPECT_FALSE(arp_reply_in_place(request, kRemoteMac, kRemote)) << "a reply is not answered";
  rte_pktmbuf_free(request);
  rte_mbuf* not_arp = inner_frame();
  EXPECT_FALSE(parse_arp(not_arp));
  rte_pktmbuf_free(not_arp);
}

TEST(IcmpError, FragmentationNeededQuotesTheOriginalAndCarriesTheMtu) {
  rte_mbuf* big = inner_frame(1514);
  rte_mbuf* error = make_fragmentation_needed(test_pool(), big, 1450);
  ASSERT_NE(error, nullptr);
  const uint8_t* p = rte_pktmbuf_mtod(error, const uint8_t*);
  const uint8_t* ip = p + 14;
  EXPECT_EQ(ip[9], IPPROTO_ICMP);
  EXPECT_EQ(reference_checksum(ip, 20), 0);
  EXPECT_EQ(std::vector<uint8_t>(ip + 12, ip + 20), (std::vector<uint8_t>{192, 0, 2, 2, 192, 0, 2, 1}));
  const uint8_t* icmp = ip + 20;
  const size_t icmp_length = error->data_len - 34;
  EXPECT_EQ(icmp_length, 8u + 20u + 8u);
  EXPECT_EQ(icmp[0], 3);
  EXPECT_EQ(icmp[1], 4);
  EXPECT_EQ(icmp[6] << 8 | icmp[7], 1450);
  EXPECT_EQ(reference_checksum(icmp, icmp_length), 0);
  EXPECT_EQ(std::memcmp(icmp + 8, rte_pktmbuf_mtod_offset(big, const uint8_t*, 14), 28), 0);
  rte_pktmbuf_free(error);
  rte_pktmbuf_free(big);

  rte_mbuf* no_df = inner_frame(1514, 1000, 0);
  EXPECT_EQ(make_fragmentation_needed(test_pool(), no_df, 1450), nullptr);
  rte_pktmbuf_free(no_df);
}

}  // namespace
}  // namespace inception::test
