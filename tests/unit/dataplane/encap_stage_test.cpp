// The encap stage and the NIC's TX batch (vxlan_encap_stage, flush_tx), on
// hand-built bursts, with the underlay a net_ring ethdev whose TX ring the
// test reads back: what left the NIC, with which outer headers, charged to
// which port.
#include <gtest/gtest.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_udp.h>

#include <memory>

#include "dataplane/vxlan/vxlan.h"
#include "dataplane/worker/worker.h"
#include "ring_nic_test.h"

namespace inception::test {
namespace {

constexpr NetworkIndex kBlue = 0;
constexpr PortIndex kFirstPeer = 4;  // peers 4..8 on blue
constexpr unsigned kPeers = 5;

class EncapStageTest : public RingNicTest {
 protected:
  void SetUp() override {
    RingNicTest::SetUp();
    for (unsigned i = 0; i < kPeers; ++i) add_peer(static_cast<PortIndex>(kFirstPeer + i), i, kBlue);
  }
  static uint32_t outer_destination(const rte_mbuf* m) {
    return rte_be_to_cpu_32(rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, 14)->dst_addr);
  }
  static void free_all(const std::vector<rte_mbuf*>& pkts) {
    for (rte_mbuf* m : pkts) rte_pktmbuf_free(m);
  }
};

TEST_F(EncapStageTest, EveryPeersFramesLeaveInTheNicsBatchWithTheirOwnOuterHeaders) {
  ctx->tx.push(kFirstPeer, frame("02:00:00:00:00:02", "02:00:00:00:00:01"));
  ctx->tx.push(kUnderlay, frame("02:00:00:00:00:09", "02:00:00:00:00:0c"));  // the NIC's own, e.g. an ARP reply
  ctx->tx.push(kFirstPeer + 1, frame("02:00:00:00:00:03", "02:00:00:00:00:01"));
  ctx->tx.push(kFirstPeer, frame("02:00:00:00:00:02", "02:00:00:00:00:01", 200));
  flush_tx(*ctx, snapshot);

  const auto sent = drain();
  ASSERT_EQ(sent.size(), 4u);
  // In the order the buffers were dirtied, a peer's frames together.
  EXPECT_EQ(outer_destination(sent[0]), 0x0a000010u);
  EXPECT_EQ(outer_destination(sent[1]), 0x0a000010u);
  EXPECT_EQ(sent[2]->pkt_len, 60u) << "the NIC's own frame is not encapsulated";
  EXPECT_EQ(outer_destination(sent[3]), 0x0a000011u);
  EXPECT_EQ(sent[1]->pkt_len, 200u + VxlanTemplate::kSize);
  // Each frame is charged to its port, a peer's with the bytes its user sees.
  EXPECT_EQ(counters->ports[kFirstPeer].tx_packets, 2u);
  EXPECT_EQ(counters->ports[kFirstPeer].tx_bytes, 260u);
  EXPECT_EQ(counters->ports[kFirstPeer + 1].tx_packets, 1u);
  EXPECT_EQ(counters->ports[kUnderlay].tx_packets, 1u);
  EXPECT_EQ(counters->ports[kUnderlay].tx_bytes, 60u);
  EXPECT_EQ(ctx->tx.n_dirty, 0);
  free_all(sent);
}

TEST_F(EncapStageTest, AFloodOfMorePeerFramesThanABatchAllLeave) {
  // 5 peers x 32 frames: more than UnderlayBatch::kCapacity in one flush.
  for (unsigned i = 0; i < kPeers; ++i)
    for (uint16_t k = 0; k < kBurstSize; ++k)
      ctx->tx.push(kFirstPeer + i, frame("02:00:00:00:00:02", "02:00:00:00:00:01"));
  static_assert(kPeers * kBurstSize > UnderlayBatch::kCapacity);
  flush_tx(*ctx, snapshot);
  const auto sent = drain();
  EXPECT_EQ(sent.size(), size_t{kPeers} * kBurstSize);
  for (unsigned i = 0; i < kPeers; ++i) EXPECT_EQ(counters->ports[kFirstPeer + i].tx_packets, kBurstSize);
  free_all(sent);
}

TEST_F(EncapStageTest, AFrameSharedWithALocalPortIsCopiedBeforeItIsEncapsulated) {
  rte_mbuf* m = frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01");
  rte_pktmbuf_refcnt_update(m, 1);  // a flood's other copy, still queued for a local port
  ctx->tx.push(kFirstPeer, m);
  flush_tx(*ctx, snapshot);
  const auto sent = drain();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_NE(sent[0], m);
  EXPECT_EQ(m->pkt_len, 60u) << "the local port's copy keeps its bytes";
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 1);
  rte_pktmbuf_free(m);
  free_all(sent);
}

TEST_F(EncapStageTest, FramesForAnUnresolvedPeerAreDroppedAsNoNeighbor) {
  snapshot.ports[kFirstPeer].resolved = false;
  ctx->tx.push(kFirstPeer, frame("02:00:00:00:00:02", "02:00:00:00:00:01"));
  ctx->tx.push(kFirstPeer + 1, frame("02:00:00:00:00:02", "02:00:00:00:00:01"));
  flush_tx(*ctx, snapshot);
  const auto sent = drain();
  EXPECT_EQ(sent.size(), 1u);
  EXPECT_EQ(counters->ports[kFirstPeer].drops[static_cast<size_t>(DropReason::kNoNeighbor)], 1u);
  EXPECT_EQ(counters->ports[kFirstPeer].tx_packets, 0u);
  free_all(sent);
}

}  // namespace
}  // namespace inception::test
