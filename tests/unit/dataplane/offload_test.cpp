// Guest offloads finished in software (dataplane/offload/), through the TX
// flush every worker runs: TSO super-frames built as rte_vhost hands them
// over (a chain of 2 KB mbufs, TX_TCP_SEG with the MSS, the TCP checksum
// field holding the pseudo-header sum), sent to a VXLAN peer and to a
// kernel-like ethdev port. What leaves the net_ring0 "NIC" is read back and
// checked the way a receiving stack would: sizes, checksums, sequence
// numbers and the payload's bytes.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <memory>
#include <vector>

#include "dataplane/offload/tx_offload.h"
#include "dataplane/vxlan/vxlan.h"
#include "dataplane/worker/worker.h"
#include "nat/translate.h"
#include "ring_nic_test.h"

namespace inception::test {
namespace {

constexpr PortIndex kVxlanPeer = 4;
constexpr PortIndex kKernel = 5;
constexpr uint16_t kOverlayMtu = 1450;
constexpr uint16_t kHeaders = 14 + 20 + 20;
constexpr uint32_t kFirstSeq = 1000000;

uint8_t payload_byte(uint32_t i) {
  return static_cast<uint8_t>(i * 7 + 3);
}

// Fills the IPv4 header of a frame from 198.18.0.1 to 198.18.1.1.
void ipv4_header(rte_ipv4_hdr* ip, uint8_t protocol, uint16_t total_length) {
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->total_length = rte_cpu_to_be_16(total_length);
  ip->packet_id = rte_cpu_to_be_16(7);
  ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
  ip->time_to_live = 64;
  ip->next_proto_id = protocol;
  ip->src_addr = rte_cpu_to_be_32(0xc6120001);
  ip->dst_addr = rte_cpu_to_be_32(0xc6120101);
  ip->hdr_checksum = rte_ipv4_cksum(ip);
}

// A TCP/IPv4 frame of `payload` bytes from 198.18.0.1:5001 to
// 198.18.1.1:80, its payload in `chunk`-byte mbufs after the header
// mbuf's, with the requests rte_vhost makes of a guest's virtio-net header
// (legacy offload flags): `mss` 0 asks for the checksum only.
rte_mbuf* guest_tcp_frame(uint32_t payload, uint16_t mss, uint16_t chunk = 1900) {
  rte_mbuf* head = frame("02:00:00:00:00:02", "02:00:00:00:00:01", kHeaders, RTE_ETHER_TYPE_IPV4);
  auto* ip = rte_pktmbuf_mtod_offset(head, rte_ipv4_hdr*, 14);
  ipv4_header(ip, IPPROTO_TCP, static_cast<uint16_t>(20 + 20 + payload));
  auto* tcp = rte_pktmbuf_mtod_offset(head, rte_tcp_hdr*, 34);
  tcp->src_port = rte_cpu_to_be_16(5001);
  tcp->dst_port = rte_cpu_to_be_16(80);
  tcp->sent_seq = rte_cpu_to_be_32(kFirstSeq);
  tcp->data_off = 5 << 4;
  tcp->tcp_flags = RTE_TCP_ACK_FLAG | RTE_TCP_PSH_FLAG;
  tcp->rx_win = rte_cpu_to_be_16(65535);
  for (uint32_t done = 0; done < payload;) {
    rte_mbuf* seg = rte_pktmbuf_alloc(test_pool());
    const auto n = static_cast<uint16_t>(std::min<uint32_t>(chunk, payload - done));
    auto* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(seg, n));
    for (uint16_t i = 0; i < n; ++i) data[i] = payload_byte(done + i);
    EXPECT_EQ(rte_pktmbuf_chain(head, seg), 0);
    done += n;
  }
  head->l2_len = 14;
  head->l3_len = 20;
  head->l4_len = 20;
  head->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
  if (mss != 0) {
    head->ol_flags |= RTE_MBUF_F_TX_TCP_SEG;
    head->tso_segsz = mss;
  }
  tcp->cksum = rte_ipv4_phdr_cksum(ip, head->ol_flags);
  return head;
}

// What a receiving TCP stack checks of one frame whose IPv4 header starts
// at `offset`; appends its payload to `stream`. Returns its sequence number.
uint32_t check_tcp_segment(const rte_mbuf* m, uint16_t offset, std::vector<uint8_t>& stream) {
  const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, offset);
  EXPECT_EQ(rte_raw_cksum(ip, 20), 0xffff) << "IPv4 header checksum";
  EXPECT_EQ(rte_be_to_cpu_16(ip->total_length), m->pkt_len - offset);
  EXPECT_EQ(rte_ipv4_udptcp_cksum_mbuf_verify(m, ip, offset + 20), 0) << "TCP checksum";
  EXPECT_EQ(m->ol_flags & kTxOffloadRequests, 0u) << "no request is left for a driver";
  const auto* tcp = rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr*, offset + 20);
  const uint32_t length = m->pkt_len - offset - 40;
  std::vector<uint8_t> bytes(length);
  const void* data = rte_pktmbuf_read(m, offset + 40, length, bytes.data());
  const auto* p = static_cast<const uint8_t*>(data);
  stream.insert(stream.end(), p, p + length);
  return rte_be_to_cpu_32(tcp->sent_seq);
}

void expect_stream(const std::vector<uint8_t>& stream, uint32_t payload) {
  ASSERT_EQ(stream.size(), payload);
  for (uint32_t i = 0; i < payload; ++i)
    if (stream[i] != payload_byte(i)) FAIL() << "payload byte " << i << " differs";
}

class OffloadTest : public RingNicTest {
 protected:
  void SetUp() override {
    RingNicTest::SetUp();
    snapshot.underlay.mtu = kOverlayMtu + 50;
    snapshot.underlay.overlay_mtu = kOverlayMtu;
    add_peer(kVxlanPeer, 0);
    PortView& kernel = snapshot.ports[kKernel];
    kernel.present = true;
    kernel.kind = PortKind::kEthdev;
    kernel.ethdev_id = ring_port();
    pool_before = rte_mempool_avail_count(test_pool());
  }
  // Frees what left and checks that every buffer came back: the
  // super-frame's chain and the segments.
  void free_and_expect_no_leak(const std::vector<rte_mbuf*>& sent) {
    for (rte_mbuf* m : sent) rte_pktmbuf_free(m);
    EXPECT_EQ(rte_mempool_avail_count(test_pool()), pool_before);
  }
  uint64_t drops(PortIndex port, DropReason reason) const {
    return counters->ports[port].drops[static_cast<size_t>(reason)];
  }

  unsigned pool_before = 0;
};

TEST_F(OffloadTest, ATsoFrameToAVxlanPeerLeavesAsEncapsulatedSegmentsThatFitTheOverlay) {
  constexpr uint32_t kPayload = 65000;
  rte_mbuf* super_frame = guest_tcp_frame(kPayload, 1460);
  EXPECT_GT(super_frame->nb_segs, 30) << "a chain, as rte_vhost makes of 64 KB";
  ctx->tx.push(kVxlanPeer, super_frame);
  flush_tx(*ctx, snapshot);
  const auto sent = drain();

  // The overlay MTU, not the guest's MSS, bounds the segments: 1450 - 40.
  constexpr uint32_t kMss = kOverlayMtu - 40;
  ASSERT_EQ(sent.size(), (kPayload + kMss - 1) / kMss);
  std::vector<uint8_t> stream;
  uint32_t expected_seq = kFirstSeq;
  for (size_t i = 0; i < sent.size(); ++i) {
    const rte_mbuf* m = sent[i];
    EXPECT_LE(m->pkt_len, kOverlayMtu + 14u + VxlanTemplate::kSize);
    const auto* outer = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, 14);
    EXPECT_EQ(rte_raw_cksum(outer, 20), 0xffff) << "outer IPv4 checksum";
    EXPECT_EQ(rte_be_to_cpu_16(outer->total_length), m->pkt_len - 14);
    const auto* udp = rte_pktmbuf_mtod_offset(m, const rte_udp_hdr*, 34);
    EXPECT_EQ(rte_be_to_cpu_16(udp->dgram_len), m->pkt_len - 34);
    EXPECT_EQ(check_tcp_segment(m, VxlanTemplate::kSize + 14, stream), expected_seq) << "segment " << i;
    expected_seq += m->pkt_len - VxlanTemplate::kSize - kHeaders;
    const auto* tcp = rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr*, VxlanTemplate::kSize + 34);
    EXPECT_EQ((tcp->tcp_flags & RTE_TCP_PSH_FLAG) != 0, i + 1 == sent.size()) << "PSH on the last segment only";
  }
  expect_stream(stream, kPayload);
  EXPECT_EQ(counters->ports[kVxlanPeer].tx_packets, sent.size());
  EXPECT_EQ(counters->offload_segmented, 1u);
  EXPECT_EQ(counters->offload_segments, sent.size());
  free_and_expect_no_leak(sent);
}

TEST_F(OffloadTest, ATsoFrameToAKernelPortIsCutAtTheSendersMss) {
  constexpr uint32_t kPayload = 30000;
  ctx->tx.push(kKernel, guest_tcp_frame(kPayload, 1448));
  flush_tx(*ctx, snapshot);
  const auto sent = drain();
  ASSERT_EQ(sent.size(), (kPayload + 1447) / 1448);
  std::vector<uint8_t> stream;
  uint32_t expected_seq = kFirstSeq;
  for (const rte_mbuf* m : sent) {
    EXPECT_LE(m->pkt_len, kHeaders + 1448u);
    EXPECT_EQ(check_tcp_segment(m, 14, stream), expected_seq);
    expected_seq += m->pkt_len - kHeaders;
  }
  expect_stream(stream, kPayload);
  EXPECT_EQ(counters->ports[kKernel].tx_packets, sent.size());
  free_and_expect_no_leak(sent);
}

// rte_vhost puts a guest's super-frame into one external buffer of its
// size (RTE_VHOST_USER_EXTBUF_SUPPORT): the segments must be ordinary mbufs
// (a copied RTE_MBUF_F_EXTERNAL made each free call the buffer's free
// callback), and the buffer must be freed once, when the switch is done.
TEST_F(OffloadTest, ASuperFrameInAnExternalBufferIsCutAndItsBufferFreedOnce) {
  constexpr uint32_t kPayload = 50000;
  rte_mbuf* chained = guest_tcp_frame(kPayload, 1448);
  static int buffers_freed;
  buffers_freed = 0;
  uint16_t buffer_length = 65000;
  auto* buffer = static_cast<uint8_t*>(rte_malloc(nullptr, buffer_length, 0));
  ASSERT_NE(buffer, nullptr);
  rte_mbuf_ext_shared_info* shinfo = rte_pktmbuf_ext_shinfo_init_helper(
      buffer, &buffer_length,
      [](void* addr, void*) {
        ++buffers_freed;
        rte_free(addr);
      },
      nullptr);
  ASSERT_NE(shinfo, nullptr);
  rte_mbuf* m = rte_pktmbuf_alloc(test_pool());
  rte_pktmbuf_attach_extbuf(m, buffer, rte_malloc_virt2iova(buffer), buffer_length, shinfo);
  rte_pktmbuf_reset_headroom(m);
  ASSERT_NE(rte_pktmbuf_append(m, static_cast<uint16_t>(chained->pkt_len)), nullptr);
  ASSERT_EQ(rte_pktmbuf_read(chained, 0, chained->pkt_len, rte_pktmbuf_mtod(m, void*)), rte_pktmbuf_mtod(m, void*));
  m->ol_flags |= chained->ol_flags;
  m->tx_offload = chained->tx_offload;
  rte_pktmbuf_free(chained);
  ctx->tx.push(kKernel, m);
  flush_tx(*ctx, snapshot);
  const auto sent = drain();
  ASSERT_EQ(sent.size(), (kPayload + 1447) / 1448);
  std::vector<uint8_t> stream;
  for (const rte_mbuf* s : sent) {
    EXPECT_EQ(s->ol_flags & RTE_MBUF_F_EXTERNAL, 0u);
    check_tcp_segment(s, 14, stream);
  }
  expect_stream(stream, kPayload);
  EXPECT_EQ(buffers_freed, 1) << "the external buffer, once";
  free_and_expect_no_leak(sent);
  EXPECT_EQ(buffers_freed, 1);
}

TEST_F(OffloadTest, AJumboMssMakesChainedSegments) {
  // A guest with a 9000-byte MTU: a segment does not fit one 2 KB mbuf.
  constexpr uint32_t kPayload = 40000;
  constexpr uint16_t kJumboMss = 8960;
  ctx->tx.push(kKernel, guest_tcp_frame(kPayload, kJumboMss));
  flush_tx(*ctx, snapshot);
  const auto sent = drain();
  ASSERT_EQ(sent.size(), (kPayload + kJumboMss - 1) / kJumboMss);
  std::vector<uint8_t> stream;
  uint32_t expected_seq = kFirstSeq;
  for (const rte_mbuf* m : sent) {
    EXPECT_GT(m->nb_segs, 1);
    EXPECT_EQ(check_tcp_segment(m, 14, stream), expected_seq);
    expected_seq += m->pkt_len - kHeaders;
  }
  expect_stream(stream, kPayload);
  free_and_expect_no_leak(sent);
}

TEST_F(OffloadTest, AFrameWithOnlyAChecksumRequestLeavesWholeWithItsChecksumDone) {
  ctx->tx.push(kKernel, guest_tcp_frame(1000, 0));
  ctx->tx.push(kVxlanPeer, guest_tcp_frame(1400, 0, 700));
  flush_tx(*ctx, snapshot);
  const auto sent = drain();
  ASSERT_EQ(sent.size(), 2u);
  std::vector<uint8_t> stream;
  EXPECT_EQ(check_tcp_segment(sent[0], 14, stream), kFirstSeq);
  expect_stream(stream, 1000);
  stream.clear();
  EXPECT_EQ(check_tcp_segment(sent[1], VxlanTemplate::kSize + 14, stream), kFirstSeq);
  expect_stream(stream, 1400);
  EXPECT_EQ(counters->offload_checksums, 2u);
  free_and_expect_no_leak(sent);
}

TEST_F(OffloadTest, AUdpChecksumRequestIsCompleted) {
  rte_mbuf* m = frame("02:00:00:00:00:02", "02:00:00:00:00:01", 14 + 20 + 8 + 100, RTE_ETHER_TYPE_IPV4);
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, 14);
  ipv4_header(ip, IPPROTO_UDP, 128);
  auto* udp = rte_pktmbuf_mtod_offset(m, rte_udp_hdr*, 34);
  udp->src_port = rte_cpu_to_be_16(53);
  udp->dst_port = rte_cpu_to_be_16(5353);
  udp->dgram_len = rte_cpu_to_be_16(108);
  m->l2_len = 14;
  m->l3_len = 20;
  m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_CKSUM;
  udp->dgram_cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
  ctx->tx.push(kKernel, m);
  flush_tx(*ctx, snapshot);
  const auto sent = drain();
  ASSERT_EQ(sent.size(), 1u);
  const auto* out_ip = rte_pktmbuf_mtod_offset(sent[0], const rte_ipv4_hdr*, 14);
  EXPECT_EQ(rte_ipv4_udptcp_cksum_mbuf_verify(sent[0], out_ip, 34), 0);
  EXPECT_NE(rte_pktmbuf_mtod_offset(sent[0], const rte_udp_hdr*, 34)->dgram_cksum, 0) << "a computed checksum";
  free_and_expect_no_leak(sent);
}

TEST_F(OffloadTest, AFloodSharedTsoFrameIsCutFromACopyAndTheOtherTargetsFrameIsUntouched) {
  rte_mbuf* m = guest_tcp_frame(20000, 1460);
  rte_pktmbuf_refcnt_update(m, 1);  // the flood's other target still holds it
  const uint64_t flags = m->ol_flags;
  const uint16_t checksum = rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr*, 34)->cksum;
  ctx->tx.push(kVxlanPeer, m);
  flush_tx(*ctx, snapshot);
  const auto sent = drain();
  EXPECT_EQ(sent.size(), (20000u + 1409) / 1410);
  EXPECT_EQ(m->ol_flags, flags) << "the other target's requests are its own";
  EXPECT_EQ(m->pkt_len, 20000u + kHeaders);
  EXPECT_EQ(rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr*, 34)->cksum, checksum);
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 1);
  rte_pktmbuf_free(m);
  free_and_expect_no_leak(sent);
}

TEST_F(OffloadTest, RequestsThatDoNotFitTheFrameAreDroppedAndCounted) {
  rte_mbuf* no_mss = guest_tcp_frame(5000, 1460);
  no_mss->tso_segsz = 0;
  rte_mbuf* headers_beyond_first_segment = guest_tcp_frame(5000, 1460);
  headers_beyond_first_segment->l4_len = 60;  // the first mbuf holds 54 bytes
  rte_mbuf* too_many_segments = guest_tcp_frame(60000, 100);
  rte_mbuf* udp_segmentation = guest_tcp_frame(5000, 0);
  udp_segmentation->ol_flags |= RTE_MBUF_F_TX_UDP_SEG;
  rte_mbuf* checksum_outside = guest_tcp_frame(100, 0);
  checksum_outside->l3_len = 200;
  for (rte_mbuf* m : {no_mss, headers_beyond_first_segment, too_many_segments, udp_segmentation, checksum_outside})
    ctx->tx.push(kKernel, m);
  flush_tx(*ctx, snapshot);
  EXPECT_TRUE(drain().empty());
  EXPECT_EQ(drops(kKernel, DropReason::kBadOffload), 5u);
  free_and_expect_no_leak({});
}

TEST_F(OffloadTest, AnIpv6TsoFrameIsCutWithItsChecksumsDone) {
  // The IPv4 frame's TCP header and payload behind an IPv6 header instead.
  constexpr uint32_t kPayload = 10000;
  rte_mbuf* v4 = guest_tcp_frame(kPayload, 1000);
  rte_mbuf* m = frame("02:00:00:00:00:02", "02:00:00:00:00:01", 14 + 40 + 20, RTE_ETHER_TYPE_IPV6);
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr*, 14);
  ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
  ip->payload_len = rte_cpu_to_be_16(20 + kPayload);
  ip->proto = IPPROTO_TCP;
  ip->hop_limits = 64;
  ip->src_addr[0] = 0x20;
  ip->src_addr[1] = 0x01;
  ip->src_addr[2] = 0x0d;
  ip->src_addr[3] = 0xb8;
  std::memcpy(ip->dst_addr, ip->src_addr, 16);
  ip->src_addr[15] = 1;
  ip->dst_addr[15] = 2;
  std::memcpy(rte_pktmbuf_mtod_offset(m, void*, 54), rte_pktmbuf_mtod_offset(v4, void*, 34), 20);
  rte_mbuf* payload = v4->next;  // made the head of the payload's chain
  payload->pkt_len = v4->pkt_len - kHeaders;
  payload->nb_segs = static_cast<uint16_t>(v4->nb_segs - 1);
  v4->next = nullptr;
  v4->nb_segs = 1;
  v4->pkt_len = v4->data_len;
  rte_pktmbuf_free(v4);
  ASSERT_EQ(rte_pktmbuf_chain(m, payload), 0);
  m->l2_len = 14;
  m->l3_len = 40;
  m->l4_len = 20;
  m->tso_segsz = 1000;
  m->ol_flags = RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_TCP_SEG;
  rte_pktmbuf_mtod_offset(m, rte_tcp_hdr*, 54)->cksum = rte_ipv6_phdr_cksum(ip, m->ol_flags);
  ctx->tx.push(kKernel, m);
  flush_tx(*ctx, snapshot);
  const auto sent = drain();
  ASSERT_EQ(sent.size(), 10u);
  std::vector<uint8_t> stream;
  for (size_t i = 0; i < sent.size(); ++i) {
    const rte_mbuf* s = sent[i];
    const auto* ip6 = rte_pktmbuf_mtod_offset(s, const rte_ipv6_hdr*, 14);
    EXPECT_EQ(rte_be_to_cpu_16(ip6->payload_len), s->pkt_len - 54);
    EXPECT_EQ(rte_ipv6_udptcp_cksum_mbuf_verify(s, ip6, 54), 0) << "segment " << i;
    const auto* tcp = rte_pktmbuf_mtod_offset(s, const rte_tcp_hdr*, 54);
    EXPECT_EQ(rte_be_to_cpu_32(tcp->sent_seq), kFirstSeq + 1000 * i);
    EXPECT_EQ((tcp->tcp_flags & RTE_TCP_PSH_FLAG) != 0, i + 1 == sent.size());
    std::vector<uint8_t> bytes(s->pkt_len - 74);
    const auto* p = static_cast<const uint8_t*>(rte_pktmbuf_read(s, 74, bytes.size(), bytes.data()));
    stream.insert(stream.end(), p, p + bytes.size());
  }
  expect_stream(stream, kPayload);
  free_and_expect_no_leak(sent);
}

TEST_F(OffloadTest, NatKeepsAPartialChecksumThePseudoHeadersSum) {
  rte_mbuf* m = guest_tcp_frame(3000, 1460);
  ASSERT_TRUE(nat::translate_source(m, rte_cpu_to_be_32(0xcb007101), rte_cpu_to_be_16(40000)));
  const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, 14);
  EXPECT_EQ(rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr*, 34)->cksum, rte_ipv4_phdr_cksum(ip, m->ol_flags))
      << "the partial sum follows the address and ignores the port";
  EXPECT_EQ(rte_raw_cksum(ip, 20), 0xffff);
  // And the finished segments verify.
  ctx->tx.push(kKernel, m);
  flush_tx(*ctx, snapshot);
  const auto sent = drain();
  ASSERT_EQ(sent.size(), 3u);
  std::vector<uint8_t> stream;
  for (const rte_mbuf* s : sent) check_tcp_segment(s, 14, stream);
  expect_stream(stream, 3000);
  free_and_expect_no_leak(sent);
}

}  // namespace
}  // namespace inception::test
