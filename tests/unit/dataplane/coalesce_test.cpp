// Coalescing for guests that take TSO (dataplane/offload/coalesce.h): wire
// segments as a VXLAN peer or the internet sends them, and what a guest's
// virtio-net driver would be handed: one super-frame per run of in-order
// segments, its payload intact and its GSO request and partial checksum
// right; and everything that must not be merged left alone and in order.
#include "dataplane/offload/coalesce.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_tcp.h>

#include <vector>

#include "test_frames.h"

namespace inception::test {
namespace {

constexpr uint16_t kMss = 1448;
constexpr uint16_t kHeaders = 14 + 20 + 32;  // TCP with timestamps, as Linux sends
constexpr uint32_t kSeq = 5000;

uint8_t payload_byte(uint32_t stream_offset) {
  return static_cast<uint8_t>(stream_offset * 13 + 1);
}

// One wire segment of flow `port` carrying stream bytes [offset,
// offset+length), its checksums complete.
rte_mbuf* segment(uint32_t offset, uint16_t length, uint16_t port = 5001, uint8_t flags = RTE_TCP_ACK_FLAG) {
  rte_mbuf* m =
      frame("02:00:00:00:00:02", "02:00:00:00:00:01", static_cast<uint16_t>(kHeaders + length), RTE_ETHER_TYPE_IPV4);
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, 14);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(kHeaders - 14 + length));
  ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
  ip->time_to_live = 63;
  ip->next_proto_id = IPPROTO_TCP;
  ip->src_addr = rte_cpu_to_be_32(0xc6336407);  // 198.51.100.7
  ip->dst_addr = rte_cpu_to_be_32(0xc0000202);  // 192.0.2.2
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  auto* tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr*, 34);
  tcp->src_port = rte_cpu_to_be_16(port);
  tcp->dst_port = rte_cpu_to_be_16(80);
  tcp->sent_seq = rte_cpu_to_be_32(kSeq + offset);
  tcp->recv_ack = rte_cpu_to_be_32(77);
  tcp->data_off = 8 << 4;
  tcp->tcp_flags = flags;
  tcp->rx_win = rte_cpu_to_be_16(512);
  auto* options = reinterpret_cast<uint8_t*>(tcp + 1);
  const uint8_t timestamps[12] = {1, 1, 8, 10, 0, 0, 0, 42, 0, 0, 0, 9};
  std::memcpy(options, timestamps, sizeof(timestamps));
  for (uint16_t i = 0; i < length; ++i) options[12 + i] = payload_byte(offset + i);
  tcp->cksum = rte_ipv4_udptcp_cksum(ip, tcp);
  return m;
}

// What a TCP stack behind virtio-net checks of a super-frame: the IPv4
// header, the GSO request, the partial checksum as virtio-net defines it,
// and the stream bytes. Returns the payload length.
uint32_t check_super_frame(const rte_mbuf* m, uint32_t offset, uint16_t port = 5001) {
  const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, 14);
  const auto* tcp = rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr*, 34);
  EXPECT_EQ(rte_raw_cksum(ip, 20), 0xffff) << "IPv4 header checksum";
  EXPECT_EQ(rte_be_to_cpu_16(ip->total_length), m->pkt_len - 14);
  EXPECT_EQ(rte_be_to_cpu_16(tcp->src_port), port);
  EXPECT_EQ(rte_be_to_cpu_32(tcp->sent_seq), kSeq + offset);
  EXPECT_EQ(m->ol_flags & (RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4),
            RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_IPV4);
  EXPECT_EQ(m->tso_segsz, kMss);
  EXPECT_EQ(m->l2_len + m->l3_len + m->l4_len, kHeaders);
  EXPECT_EQ(tcp->cksum, rte_ipv4_phdr_cksum(ip, 0)) << "pseudo-header sum with the length";
  const uint32_t payload = m->pkt_len - kHeaders;
  std::vector<uint8_t> bytes(payload);
  const auto* p = static_cast<const uint8_t*>(rte_pktmbuf_read(m, kHeaders, payload, bytes.data()));
  for (uint32_t i = 0; i < payload; ++i)
    if (p[i] != payload_byte(offset + i)) {
      ADD_FAILURE() << "payload byte " << i << " differs";
      break;
    }
  return payload;
}

class CoalesceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    counters = static_cast<WorkerCounters*>(rte_zmalloc(nullptr, sizeof(WorkerCounters), RTE_CACHE_LINE_SIZE));
    pool_before = rte_mempool_avail_count(test_pool());
  }
  void TearDown() override {
    for (uint16_t i = 0; i < n; ++i) rte_pktmbuf_free(pkts[i]);
    EXPECT_EQ(rte_mempool_avail_count(test_pool()), pool_before) << "every buffer back";
    rte_free(counters);
  }
  uint16_t coalesce() { return n = coalesce_tcp_segments(*counters, pkts, n); }
  void add(rte_mbuf* m) { pkts[n++] = m; }

  WorkerCounters* counters = nullptr;
  rte_mbuf* pkts[kBurstSize] = {};
  uint16_t n = 0;
  unsigned pool_before = 0;
};

TEST_F(CoalesceTest, InOrderSegmentsOfAFlowBecomeOneSuperFrame) {
  for (uint32_t i = 0; i < 20; ++i) add(segment(i * kMss, kMss));
  add(segment(20 * kMss, 500, 5001, RTE_TCP_ACK_FLAG | RTE_TCP_PSH_FLAG));
  ASSERT_EQ(coalesce(), 1);
  EXPECT_EQ(pkts[0]->nb_segs, 21);
  EXPECT_EQ(check_super_frame(pkts[0], 0), 20u * kMss + 500);
  EXPECT_NE(rte_pktmbuf_mtod_offset(pkts[0], const rte_tcp_hdr*, 34)->tcp_flags & RTE_TCP_PSH_FLAG, 0)
      << "the last segment's PSH";
  EXPECT_EQ(counters->offload_coalesced, 1u);
  EXPECT_EQ(counters->offload_coalesced_segments, 21u);
}

TEST_F(CoalesceTest, InterleavedFlowsAreEachJoinedInTheirOwnOrder) {
  for (uint32_t i = 0; i < 8; ++i) {
    add(segment(i * kMss, kMss, 5001));
    add(segment(i * kMss, kMss, 5002));
  }
  ASSERT_EQ(coalesce(), 2);
  EXPECT_EQ(check_super_frame(pkts[0], 0, 5001), 8u * kMss);
  EXPECT_EQ(check_super_frame(pkts[1], 0, 5002), 8u * kMss);
}

// A segment that cannot join ends its flow's super-frame where it stands:
// nothing of the flow that came after it is put before it.
TEST_F(CoalesceTest, WhatCannotJoinIsLeftAloneAndKeepsItsPlaceInTheFlow) {
  add(segment(0, kMss));
  add(segment(kMss, kMss));
  add(segment(3 * kMss, kMss));  // a gap: the sequence does not follow
  add(segment(4 * kMss, kMss));
  add(segment(2 * kMss, kMss));  // the retransmitted hole, late
  add(segment(3 * kMss, kMss, 5001, RTE_TCP_ACK_FLAG | RTE_TCP_FIN_FLAG));
  rte_mbuf* udp = frame("02:00:00:00:00:02", "02:00:00:00:00:01", 200, RTE_ETHER_TYPE_IPV4);
  add(udp);
  ASSERT_EQ(coalesce(), 5);
  EXPECT_EQ(check_super_frame(pkts[0], 0), 2u * kMss);
  EXPECT_EQ(check_super_frame(pkts[1], 3 * kMss), 2u * kMss) << "the run after the gap";
  EXPECT_EQ(rte_be_to_cpu_32(rte_pktmbuf_mtod_offset(pkts[2], const rte_tcp_hdr*, 34)->sent_seq), kSeq + 2 * kMss);
  EXPECT_NE(rte_pktmbuf_mtod_offset(pkts[3], const rte_tcp_hdr*, 34)->tcp_flags & RTE_TCP_FIN_FLAG, 0);
  EXPECT_EQ(pkts[4], udp);
  for (uint16_t i = 2; i < 5; ++i) EXPECT_EQ(pkts[i]->nb_segs, 1) << "frame " << i;
}

// The guest takes a merged frame's checksum as right: a segment whose
// checksum is wrong, first of a run or inside one, goes up alone, for the
// guest's stack to drop.
TEST_F(CoalesceTest, ASegmentWithAWrongChecksumJoinsNothing) {
  auto corrupt = [](rte_mbuf* m) {
    rte_pktmbuf_mtod_offset(m, uint8_t*, kHeaders + 100)[0] ^= 0x40;
    return m;
  };
  add(segment(0, kMss));
  rte_mbuf* inside = corrupt(segment(kMss, kMss));
  add(inside);
  add(segment(2 * kMss, kMss, 5002));
  rte_mbuf* first = corrupt(segment(0, kMss, 5003));
  add(first);
  add(segment(kMss, kMss, 5003));
  add(segment(2 * kMss, kMss, 5003));
  ASSERT_EQ(coalesce(), 5);
  EXPECT_EQ(pkts[1], inside);
  EXPECT_EQ(pkts[1]->ol_flags, 0u);
  EXPECT_EQ(pkts[3], first);
  EXPECT_EQ(pkts[3]->ol_flags, 0u);
  EXPECT_EQ(check_super_frame(pkts[4], kMss, 5003), 2u * kMss) << "the valid segments after the corrupt first";
  EXPECT_EQ(counters->offload_coalesced, 1u);
}

TEST_F(CoalesceTest, AFloodSharedSegmentAndOneOfAnotherShapeAreNotMerged) {
  add(segment(0, kMss));
  rte_mbuf* shared = segment(kMss, kMss);
  rte_mbuf_refcnt_update(shared, 1);  // another port's copy of a flood
  add(shared);
  add(segment(2 * kMss, kMss));
  rte_mbuf* other_window = segment(3 * kMss, kMss);
  auto* tcp = rte_pktmbuf_mtod_offset(other_window, rte_tcp_hdr*, 34);
  tcp->rx_win = rte_cpu_to_be_16(1024);
  tcp->cksum = 0;
  tcp->cksum = rte_ipv4_udptcp_cksum(rte_pktmbuf_mtod_offset(other_window, rte_ipv4_hdr*, 14), tcp);
  add(other_window);
  ASSERT_EQ(coalesce(), 4);
  EXPECT_EQ(pkts[1], shared);
  EXPECT_EQ(shared->pkt_len, kHeaders + kMss) << "the shared frame is untouched";
  EXPECT_EQ(counters->offload_coalesced, 0u);
  rte_pktmbuf_free(shared);
}

}  // namespace
}  // namespace inception::test
