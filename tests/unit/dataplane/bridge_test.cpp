// Forwarding and flooding decisions of the bridge stage, on hand-built
// frames, with the TX buffers inspected instead of transmitted.
#include "dataplane/l2/bridge.h"

#include <gtest/gtest.h>
#include <rte_arp.h>
#include <rte_ip.h>
#include <rte_malloc.h>

#include <memory>

#include "test_frames.h"

namespace inception::test {
namespace {

constexpr NetworkIndex kBlue = 0;
constexpr NetworkIndex kRed = 1;

class BridgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    counters = static_cast<WorkerCounters*>(rte_zmalloc(nullptr, sizeof(WorkerCounters), RTE_CACHE_LINE_SIZE));
    ring = rte_ring_create_elem("unit_learn", sizeof(LearnRequest), 64, SOCKET_ID_ANY, RING_F_SC_DEQ);
    ctx = std::make_unique<WorkerContext>();
    ctx->counters = counters;
    ctx->learn_ring = ring;
    ctx->pool = test_pool();
    ctx->learn_window_cycles = 1000;
    blue_fdb = std::make_unique<Fdb>("blue", 16, 1, test_rcu());
    red_fdb = std::make_unique<Fdb>("red", 16, 1, test_rcu());
    // Ports 0, 1, 2 on blue; port 3 on red.
    for (PortIndex p = 0; p < 4; ++p) {
      snapshot.ports[p].present = true;
      snapshot.ports[p].network = p < 3 ? kBlue : kRed;
    }
    snapshot.networks[kBlue].fdb = blue_fdb.get();
    snapshot.networks[kBlue].vni = 1001;
    snapshot.networks[kBlue].local_ports = {0, 1, 2};
    snapshot.networks[kRed].fdb = red_fdb.get();
    snapshot.networks[kRed].vni = 1002;
    snapshot.networks[kRed].local_ports = {3};
  }

  void TearDown() override {
    for (auto& q : ctx->tx.queues) {
      rte_pktmbuf_free_bulk(q.pkts, q.count);
      q.count = 0;
    }
    rte_ring_free(ring);
    rte_free(counters);
  }

  void run(PortIndex in, std::vector<rte_mbuf*> pkts) {
    bridge_burst(*ctx, snapshot, in, pkts.data(), static_cast<uint16_t>(pkts.size()));
  }
  uint16_t queued(PortIndex p) const { return ctx->tx.queues[p].count; }
  uint64_t drops(PortIndex p, DropReason r) const { return counters->ports[p].drops[static_cast<size_t>(r)]; }

  Snapshot snapshot;
  std::unique_ptr<Fdb> blue_fdb, red_fdb;
  WorkerCounters* counters = nullptr;
  rte_ring* ring = nullptr;
  std::unique_ptr<WorkerContext> ctx;
};

TEST_F(BridgeTest, BroadcastFloodsToEveryOtherPortOfTheNetworkSharingOneMbuf) {
  rte_mbuf* m = frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01");
  run(0, {m});
  EXPECT_EQ(queued(0), 0);
  EXPECT_EQ(queued(1), 1);
  EXPECT_EQ(queued(2), 1);
  EXPECT_EQ(queued(3), 0);  // the red network never sees blue's frames
  EXPECT_EQ(ctx->tx.queues[1].pkts[0], m);
  EXPECT_EQ(ctx->tx.queues[2].pkts[0], m);
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 2);  // one reference per copy, no copy made
  EXPECT_EQ(counters->ports[0].rx_packets, 1u);
  EXPECT_EQ(counters->ports[1].flood_packets, 1u);
}

TEST_F(BridgeTest, UnknownUnicastAndMulticastAreFlooded) {
  run(1, {frame("02:00:00:00:00:99", "02:00:00:00:00:02"), frame("01:00:5e:00:00:01", "02:00:00:00:00:02")});
  EXPECT_EQ(queued(0), 2);
  EXPECT_EQ(queued(2), 2);
  EXPECT_EQ(queued(1), 0);
}

TEST_F(BridgeTest, KnownUnicastGoesToItsPortOnly) {
  blue_fdb->learn(mac("02:00:00:00:00:03"), 2, 0);
  rte_mbuf* m = frame("02:00:00:00:00:03", "02:00:00:00:00:01");
  run(0, {m});
  EXPECT_EQ(queued(1), 0);
  ASSERT_EQ(queued(2), 1);
  EXPECT_EQ(ctx->tx.queues[2].pkts[0], m);
  EXPECT_EQ(rte_mbuf_refcnt_read(m), 1);
}

TEST_F(BridgeTest, AMacLearnedOnAnotherNetworkIsUnknownHere) {
  red_fdb->learn(mac("02:00:00:00:00:03"), 3, 0);
  run(0, {frame("02:00:00:00:00:03", "02:00:00:00:00:01")});
  EXPECT_EQ(queued(3), 0);
  EXPECT_EQ(queued(1), 1);  // flooded within blue instead
  EXPECT_EQ(queued(2), 1);
}

TEST_F(BridgeTest, UnicastBackToTheIngressPortIsDropped) {
  blue_fdb->learn(mac("02:00:00:00:00:05"), 0, 0);
  run(0, {frame("02:00:00:00:00:05", "02:00:00:00:00:01")});
  EXPECT_EQ(queued(1) + queued(2), 0);
  EXPECT_EQ(drops(0, DropReason::kSamePort), 1u);
}

TEST_F(BridgeTest, DestinationBehindARemovedPortIsDropped) {
  blue_fdb->learn(mac("02:00:00:00:00:06"), 2, 0);
  snapshot.ports[2].present = false;
  run(0, {frame("02:00:00:00:00:06", "02:00:00:00:00:01")});
  EXPECT_EQ(queued(2), 0);
  EXPECT_EQ(drops(0, DropReason::kPortDown), 1u);
}

TEST_F(BridgeTest, MalformedAndInvalidSourceFramesAreDroppedAndCounted) {
  run(0, {frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 10),  // runt
          frame("ff:ff:ff:ff:ff:ff", "01:00:00:00:00:01"),      // multicast source
          frame("ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00"),      // zero source
          frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01")});    // fine
  EXPECT_EQ(drops(0, DropReason::kMalformed), 1u);
  EXPECT_EQ(drops(0, DropReason::kInvalidSource), 2u);
  EXPECT_EQ(queued(1), 1);
  EXPECT_EQ(counters->ports[0].rx_packets, 4u);
}

TEST_F(BridgeTest, UnknownSourcesAreRequestedForLearningOnceAndDroppedWhenTheFdbIsFull) {
  std::vector<rte_mbuf*> burst;
  for (int i = 0; i < 8; ++i) burst.push_back(frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01"));
  run(0, burst);
  ASSERT_EQ(ctx->learn_count, 1u);  // one request for a run of frames from one MAC
  EXPECT_EQ(ctx->learn_batch[0].mac_key, mac("02:00:00:00:00:01").key());
  EXPECT_EQ(ctx->learn_batch[0].port, 0);
  EXPECT_EQ(ctx->learn_batch[0].network, kBlue);
  flush_learn_requests(*ctx);
  EXPECT_EQ(rte_ring_count(ring), 1u);
  EXPECT_EQ(counters->learn_requests, 1u);

  // Fill blue's FDB, then a new source is dropped (fdb_limit).
  for (uint64_t i = 0; i < 16; ++i) blue_fdb->learn(MacAddress::from_key(0x10000000002ULL + (i << 8)), 1, 0);
  ASSERT_TRUE(blue_fdb->full());
  run(0, {frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:77")});
  EXPECT_EQ(drops(0, DropReason::kFdbLimit), 1u);
  EXPECT_EQ(queued(1), 8);  // only the earlier 8
}

TEST_F(BridgeTest, KnownSourceOnAnotherPortIsRelearned) {
  blue_fdb->learn(mac("02:00:00:00:00:01"), 2, 0);
  run(0, {frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01")});
  ASSERT_EQ(ctx->learn_count, 1u);
  EXPECT_EQ(ctx->learn_batch[0].port, 0);
  // A static entry is never moved by traffic.
  ctx->learn_count = 0;
  blue_fdb->add_static(mac("02:00:00:00:00:02"), 2);
  ctx->now_cycles += 10000;
  run(0, {frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:02")});
  EXPECT_EQ(ctx->learn_count, 0u);
}

// Ports 4, 5 are VXLAN peers of the blue network.
class BridgeOverlayTest : public BridgeTest {
 protected:
  void SetUp() override {
    BridgeTest::SetUp();
    for (PortIndex p : {4, 5}) {
      snapshot.ports[p].present = true;
      snapshot.ports[p].network = kBlue;
      snapshot.ports[p].kind = PortKind::kVxlanPeer;
      snapshot.ports[p].is_peer = true;
    }
    snapshot.networks[kBlue].peer_ports = {4, 5};
    snapshot.underlay.overlay_mtu = 1450;
  }
};

TEST_F(BridgeOverlayTest, LocalFloodsReachEveryPeerOnce) {
  run(0, {frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01")});
  EXPECT_EQ(queued(1), 1);
  EXPECT_EQ(queued(2), 1);
  EXPECT_EQ(queued(4), 1);
  EXPECT_EQ(queued(5), 1);
  EXPECT_EQ(counters->ports[4].flood_packets, 1u);
}

TEST_F(BridgeOverlayTest, SplitHorizonKeepsPeerFloodsAwayFromOtherPeers) {
  run(4, {frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:44")});
  EXPECT_EQ(queued(0) + queued(1) + queued(2), 3);
  EXPECT_EQ(queued(5), 0) << "a spoke's flood must not come back to another peer";
  EXPECT_EQ(queued(4), 0);
}

TEST_F(BridgeOverlayTest, AHubRelaysPeerFloodsToTheOtherPeers) {
  snapshot.ports[4].horizon = snapshot.ports[5].horizon = kNoHorizon;
  run(4, {frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:44")});
  EXPECT_EQ(queued(5), 1);
  EXPECT_EQ(queued(4), 0) << "never back to where it came from";
}

TEST_F(BridgeOverlayTest, FramesBeyondTheOverlayMtuDoNotEnterTunnels) {
  blue_fdb->learn(mac("02:00:00:00:00:44"), 4, 0);
  // 1514-byte IPv4 frame with DF to a MAC behind peer 4.
  rte_mbuf* big = frame("02:00:00:00:00:44", "02:00:00:00:00:01", 1514, RTE_ETHER_TYPE_IPV4);
  auto* ip = rte_pktmbuf_mtod_offset(big, uint8_t*, 14);
  ip[0] = 0x45;
  ip[2] = 0x05;
  ip[3] = 0xdc;  // total length 1500
  ip[6] = 0x40;  // DF
  ip[12] = 192, ip[13] = 0, ip[14] = 2, ip[15] = 1;
  ip[16] = 192, ip[17] = 0, ip[18] = 2, ip[19] = 9;
  run(0, {big});
  EXPECT_EQ(queued(4), 0);
  EXPECT_EQ(drops(0, DropReason::kTooBig), 1u);
  ASSERT_EQ(queued(0), 1) << "an ICMP fragmentation-needed goes back to the sender";
  const uint8_t* icmp = rte_pktmbuf_mtod_offset(ctx->tx.queues[0].pkts[0], const uint8_t*, 34);
  EXPECT_EQ(icmp[0], 3);
  EXPECT_EQ(icmp[1], 4);
  EXPECT_EQ(icmp[6] << 8 | icmp[7], 1450);
  // A broadcast that big still reaches local ports, but no peer.
  run(1, {frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:02", 1514)});
  EXPECT_EQ(queued(2), 1);
  EXPECT_EQ(queued(5), 0);
}

}  // namespace
}  // namespace inception::test

namespace inception::test {
namespace {

// A frame of `first` + `second` bytes in two chained mbufs, as rte_vhost
// hands over frames larger than one mbuf.
rte_mbuf* chained_frame(const char* dst, const char* src, uint16_t first, uint16_t second) {
  rte_mbuf* head = frame(dst, src, first);
  rte_mbuf* tail = rte_pktmbuf_alloc(test_pool());
  std::memset(rte_pktmbuf_append(tail, second), 0xab, second);
  EXPECT_EQ(rte_pktmbuf_chain(head, tail), 0);
  return head;
}

void free_queued(WorkerContext& ctx) {
  for (auto& q : ctx.tx.queues) {
    rte_pktmbuf_free_bulk(q.pkts, q.count);
    q.count = 0;
  }
  ctx.tx.n_dirty = 0;
}

TEST_F(BridgeTest, FloodingAChainedFrameReturnsEverySegmentToThePoolExactlyOnce) {
  const unsigned before = rte_mempool_avail_count(test_pool());
  rte_mbuf* m = chained_frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 1500, 1500);
  ASSERT_EQ(m->nb_segs, 2);
  run(0, {m});
  ASSERT_EQ(queued(1), 1);
  ASSERT_EQ(queued(2), 1);
  EXPECT_EQ(rte_mbuf_refcnt_read(m->next), 2) << "the tail segment needs a reference per copy too";
  free_queued(*ctx);
  // A tail freed once per copy would come back to the pool twice: a later
  // allocation would hand one buffer to two frames (one tenant's bytes in
  // another's frame).
  EXPECT_EQ(rte_mempool_avail_count(test_pool()), before);
}

TEST_F(BridgeTest, LinkLocalGroupAddressesAreNeverForwarded) {
  for (const char* dst : {"01:80:c2:00:00:00", "01:80:c2:00:00:01", "01:80:c2:00:00:0e", "01:80:c2:00:00:03"})
    run(0, {frame(dst, "02:00:00:00:00:01")});
  EXPECT_EQ(queued(1) + queued(2), 0);
  EXPECT_EQ(drops(0, DropReason::kLinkLocal), 4u);
  run(0, {frame("01:80:c2:00:00:10", "02:00:00:00:00:01")});  // not reserved: a normal multicast
  EXPECT_EQ(queued(1), 1);
}

TEST_F(BridgeTest, FloodsAreBoundedPerPortAndPerNetwork) {
  snapshot.limits.flood_port = {1000000000, 2};  // 2 frames, then ~nothing for a long while
  for (int i = 0; i < 3; ++i) run(0, {frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01")});
  EXPECT_EQ(queued(1), 2);
  EXPECT_EQ(drops(0, DropReason::kFloodLimit), 1u);
  // Another port has its own budget.
  run(1, {frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:02")});
  EXPECT_EQ(queued(2), 3);
  // The network's budget covers all its ports.
  snapshot.limits.flood_port = {};
  snapshot.limits.flood_network = {1000000000, 1};
  run(2, {frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:03"), frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:03")});
  EXPECT_EQ(drops(2, DropReason::kFloodLimit), 1u);
  // Known unicast is never limited.
  blue_fdb->learn(mac("02:00:00:00:00:09"), 1, 0);
  run(0, {frame("02:00:00:00:00:09", "02:00:00:00:00:01")});
  EXPECT_EQ(queued(1), 4);  // 2 floods from port 0, 1 from port 2, this one
  // Time refills the budget.
  ctx->now_cycles += 2000000000ULL;
  run(2, {frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:03")});
  EXPECT_EQ(drops(2, DropReason::kFloodLimit), 1u);
}

TEST_F(BridgeTest, APortMayLearnOnlyItsQuotaOfMacs) {
  blue_fdb->set_port_limit(0, 2);
  for (const char* src : {"02:00:00:00:01:01", "02:00:00:00:01:02"})
    EXPECT_EQ(blue_fdb->learn(mac(src), 0, 0), LearnResult::kLearned);
  EXPECT_EQ(blue_fdb->learn(mac("02:00:00:00:01:03"), 0, 0), LearnResult::kPortLimitReached);
  EXPECT_TRUE(blue_fdb->port_full(0));
  run(0, {frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:01:03")});
  EXPECT_EQ(drops(0, DropReason::kPortMacLimit), 1u);
  EXPECT_EQ(queued(1), 0);
  // Known sources of that port still pass, and other ports still learn.
  run(0, {frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:01:01")});
  EXPECT_EQ(queued(1), 1);
  run(1, {frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:02:01")});
  EXPECT_EQ(drops(1, DropReason::kPortMacLimit), 0u);
  EXPECT_EQ(ctx->learn_count, 1u);
  // A MAC moving onto a full port is refused too; flushing the port frees its quota.
  blue_fdb->learn(mac("02:00:00:00:02:01"), 1, 0);
  EXPECT_EQ(blue_fdb->learn(mac("02:00:00:00:02:01"), 0, 0), LearnResult::kPortLimitReached);
  EXPECT_EQ(blue_fdb->flush_port(0), 2u);
  EXPECT_FALSE(blue_fdb->port_full(0));
  EXPECT_EQ(blue_fdb->port_count(0), 0u);
}

// Builds an IPv4 (or ARP) frame from `src_mac` with source address `src_ip`.
rte_mbuf* ipv4_from(const char* src_mac, uint32_t src_ip, const char* dst_mac = "ff:ff:ff:ff:ff:ff") {
  rte_mbuf* m = frame(dst_mac, src_mac, 60, RTE_ETHER_TYPE_IPV4);
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, 14);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->total_length = rte_cpu_to_be_16(46);
  ip->src_addr = rte_cpu_to_be_32(src_ip);
  ip->dst_addr = rte_cpu_to_be_32(0xc00002ff);
  return m;
}

rte_mbuf* arp_from(const char* src_mac, const char* sender_mac, uint32_t sender_ip) {
  return arp_frame(src_mac, rte_cpu_to_be_32(sender_ip), rte_cpu_to_be_32(0xc00002fe), RTE_ARP_OP_REQUEST, sender_mac);
}

class PortSecurityTest : public BridgeTest {
 protected:
  void SetUp() override {
    BridgeTest::SetUp();
    PortSecurityView& s = snapshot.ports[0].security;
    s.enabled = true;
    s.n_macs = 1;
    s.mac_keys[0] = mac("52:54:00:00:00:02").key();
    s.n_prefixes = 1;
    s.prefixes[0] = {rte_cpu_to_be_32(0xc0000202), rte_cpu_to_be_32(0xffffffff)};  // 192.0.2.2/32
  }
};

TEST_F(PortSecurityTest, FramesFromOtherMacsAreDropped) {
  run(0, {frame("ff:ff:ff:ff:ff:ff", "52:54:00:00:00:09")});
  EXPECT_EQ(drops(0, DropReason::kSpoofedMac), 1u);
  EXPECT_EQ(ctx->learn_count, 0u) << "a spoofed MAC is not even asked to be learned";
  run(0, {frame("ff:ff:ff:ff:ff:ff", "52:54:00:00:00:02")});
  EXPECT_EQ(queued(1), 1);
}

TEST_F(PortSecurityTest, Ipv4AndArpMayClaimOnlyThePortsAddresses) {
  run(0, {ipv4_from("52:54:00:00:00:02", 0xc0000203)});  // 192.0.2.3: not ours
  EXPECT_EQ(drops(0, DropReason::kSpoofedIp), 1u);
  run(0, {arp_from("52:54:00:00:00:02", "52:54:00:00:00:02", 0xc0000203)});  // gratuitous ARP for .3
  run(0, {arp_from("52:54:00:00:00:02", "52:54:00:00:00:07", 0xc0000202)});  // sender MAC not the frame's
  EXPECT_EQ(drops(0, DropReason::kSpoofedArp), 2u);
  EXPECT_EQ(queued(1), 0);
  // Its own address, DHCP's 0.0.0.0 and an ARP probe pass.
  run(0, {ipv4_from("52:54:00:00:00:02", 0xc0000202), ipv4_from("52:54:00:00:00:02", 0),
          arp_from("52:54:00:00:00:02", "52:54:00:00:00:02", 0)});
  EXPECT_EQ(queued(1), 3);
}

TEST_F(PortSecurityTest, TaggedFramesCannotCarryAddressesPastTheCheck) {
  for (uint16_t tpid : {RTE_ETHER_TYPE_VLAN, RTE_ETHER_TYPE_QINQ})
    run(0, {frame("ff:ff:ff:ff:ff:ff", "52:54:00:00:00:02", 64, tpid)});
  EXPECT_EQ(drops(0, DropReason::kSpoofedIp), 2u);
  // Truncated IPv4 cannot be checked: malformed.
  run(0, {frame("ff:ff:ff:ff:ff:ff", "52:54:00:00:00:02", 20, RTE_ETHER_TYPE_IPV4)});
  EXPECT_EQ(drops(0, DropReason::kMalformed), 1u);
  // A port without port security is not restricted.
  run(1, {ipv4_from("52:54:00:00:00:55", 0xc0000203)});
  EXPECT_EQ(queued(0), 1);
}

TEST_F(BridgeOverlayTest, UnicastFromOnePeerIsNotRelayedToAnotherUnlessHub) {
  blue_fdb->learn(mac("02:00:00:00:00:55"), 5, 0);
  run(4, {frame("02:00:00:00:00:55", "02:00:00:00:00:44")});
  EXPECT_EQ(queued(5), 0);
  EXPECT_EQ(drops(4, DropReason::kSplitHorizon), 1u);
  snapshot.ports[4].horizon = snapshot.ports[5].horizon = kNoHorizon;
  run(4, {frame("02:00:00:00:00:55", "02:00:00:00:00:44")});
  EXPECT_EQ(queued(5), 1);
}

// Two data centers joined by their active gateways: this rVM is one, peer 4
// a member of its data center, peer 5 the other data center's gateway.
TEST_F(BridgeOverlayTest, AGatewayRelaysBetweenDataCentersAndNeverWithinOne) {
  snapshot.ports[5].horizon = kFirstRemoteHorizon;
  snapshot.ports[6] = snapshot.ports[4];  // a second member of this data center
  snapshot.networks[kBlue].peer_ports = {4, 5, 6};
  run(4, {frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:44")});
  EXPECT_EQ(queued(5), 1) << "a member's flood crosses to the other data center";
  EXPECT_EQ(queued(6), 0) << "but not to another member, who had it already";
  run(5, {frame("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:55")});
  EXPECT_EQ(queued(4), 1);
  EXPECT_EQ(queued(6), 1);
  EXPECT_EQ(queued(5), 1) << "never back to the gateway it came from";
  blue_fdb->learn(mac("02:00:00:00:00:55"), 5, 0);
  blue_fdb->learn(mac("02:00:00:00:00:66"), 6, 0);
  run(4, {frame("02:00:00:00:00:55", "02:00:00:00:00:44"), frame("02:00:00:00:00:66", "02:00:00:00:00:44")});
  EXPECT_EQ(queued(5), 2) << "unicast crosses too";
  EXPECT_EQ(queued(6), 1);
  EXPECT_EQ(drops(4, DropReason::kSplitHorizon), 1u);
}

}  // namespace
}  // namespace inception::test
