// The router and underlay stages against hostile input: what a guest or an
// underlay host may teach the control thread, which sources an outbound
// translation trusts, which destinations no packet may leave for, and the
// metadata punted frames carry. Hand-built frames, TX buffers and punt
// rings inspected instead of transmitted.
#include "dataplane/router/router.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <rte_arp.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_udp.h>

#include <map>
#include <memory>

#include "dataplane/arp.h"
#include "dataplane/l2/bridge.h"
#include "dataplane/router/overlay_neighbors.h"
#include "dataplane/underlay/underlay_input.h"
#include "dataplane/worker/punt.h"
#include "nat/snat.h"
#include "test_frames.h"

namespace inception::test {
namespace {

constexpr NetworkIndex kPrivate = 0;
constexpr NetworkIndex kPublic = 1;
constexpr PortIndex kGuest = 0;        // local port on private
constexpr PortIndex kPublicGuest = 1;  // local port on public
constexpr PortIndex kPeer = 2;         // VXLAN peer on public
constexpr PortIndex kUnderlay = 3;
constexpr PortIndex kHost = 4;

uint32_t be(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  return rte_cpu_to_be_32(uint32_t{a} << 24 | uint32_t{b} << 16 | uint32_t{c} << 8 | d);
}

// A UDP datagram from `src` to `dst` (network order) addressed to `dst_mac`.
rte_mbuf* udp_frame(const char* dst_mac, const char* src_mac, uint32_t src, uint32_t dst) {
  rte_mbuf* m = frame(dst_mac, src_mac, 60, RTE_ETHER_TYPE_IPV4);
  auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, 14);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->total_length = rte_cpu_to_be_16(46);
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_UDP;
  ip->src_addr = src;
  ip->dst_addr = dst;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  auto* udp = rte_pktmbuf_mtod_offset(m, rte_udp_hdr*, 34);
  udp->src_port = rte_cpu_to_be_16(5000);
  udp->dst_port = rte_cpu_to_be_16(53);
  udp->dgram_len = rte_cpu_to_be_16(26);
  return m;
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    counters = static_cast<WorkerCounters*>(rte_zmalloc(nullptr, sizeof(WorkerCounters), RTE_CACHE_LINE_SIZE));
    learn = rte_ring_create_elem("rt_learn", sizeof(LearnRequest), 64, SOCKET_ID_ANY, RING_F_SC_DEQ);
    overlay_punts = rte_ring_create_elem("rt_punt_ol", sizeof(PuntedFrame), 64, SOCKET_ID_ANY, RING_F_SC_DEQ);
    underlay_punts = rte_ring_create_elem("rt_punt_ul", sizeof(PuntedFrame), 64, SOCKET_ID_ANY, RING_F_SC_DEQ);
    ctx = std::make_unique<WorkerContext>();
    ctx->counters = counters;
    ctx->pool = test_pool();
    ctx->learn_ring = learn;
    ctx->overlay_punt_ring = overlay_punts;
    ctx->underlay_punt_ring = underlay_punts;
    ctx->learn_window_cycles = 1000;
    private_fdb = std::make_unique<Fdb>("private", 64, 1, test_rcu());
    public_fdb = std::make_unique<Fdb>("public", 64, 1, test_rcu());
    neighbors = std::make_unique<OverlayNeighbors>(1024, test_rcu());
    nat::SnatConfig snat_config;
    snat_config.address = be(10, 0, 0, 100);
    snat = std::make_unique<nat::SnatTable>(snat_config, 1, test_rcu());

    auto port = [&](PortIndex p, NetworkIndex n, bool peer) {
      snapshot.ports[p].present = true;
      snapshot.ports[p].network = n;
      snapshot.ports[p].is_peer = peer;
      snapshot.ports[p].kind = peer ? PortKind::kVxlanPeer : PortKind::kEthdev;
      snapshot.ports[p].resolved = true;
    };
    port(kGuest, kPrivate, false);
    port(kPublicGuest, kPublic, false);
    port(kPeer, kPublic, true);
    NetworkView& priv = snapshot.networks[kPrivate];
    priv.fdb = private_fdb.get();
    priv.vni = 1001;
    priv.l3 = true;
    priv.local_ports = {kGuest};
    priv.router = {true, be(192, 0, 2, 254), be(255, 255, 255, 0)};
    NetworkView& pub = snapshot.networks[kPublic];
    pub.fdb = public_fdb.get();
    pub.vni = 1002;
    pub.l3 = true;
    pub.local_ports = {kPublicGuest};
    pub.peer_ports = {kPeer};
    pub.router = {true, be(198, 51, 100, 202), be(255, 255, 255, 0)};
    NatView& nat = snapshot.nat;
    nat.enabled = true;
    nat.router_mac = {0x02, 0x49, 0x4e, 0, 0, 2};
    nat.public_network = kPublic;
    nat.gateway_ip = be(198, 51, 100, 201);
    nat.neighbors = neighbors.get();
    nat.snat = snat.get();
    nat.snat_address = snat_config.address;
    nat.routed_networks = {kPrivate, kPublic};
    nat.egress_deny[nat.n_egress_deny++] = {be(169, 254, 0, 0), be(255, 255, 0, 0)};
    nat.egress_deny[nat.n_egress_deny++] = {be(10, 0, 0, 0), be(255, 255, 255, 0)};
    // The underlay: this rVM is 10.0.0.12; it resolves 10.0.0.1 and 10.0.0.11.
    snapshot.ports[kUnderlay] = {};
    snapshot.ports[kUnderlay].present = true;
    snapshot.ports[kUnderlay].role = PortRole::kUnderlay;
    snapshot.ports[kHost].present = true;
    snapshot.ports[kHost].role = PortRole::kHost;
    UnderlayView& u = snapshot.underlay;
    u.enabled = true;
    u.port = kUnderlay;
    u.host = kHost;
    u.local_ip = be(10, 0, 0, 12);
    u.vxlan_port = rte_cpu_to_be_16(4789);
    u.mac = kUnderlayMac;
    u.mtu = 1500;
    u.overlay_mtu = 1450;
    u.wanted_neighbors.insert(0x0a000001, 1);
    u.wanted_neighbors.insert(0x0a00000b, 1);
  }

  void TearDown() override {
    for (auto& q : ctx->tx.queues) {
      rte_pktmbuf_free_bulk(q.pkts, q.count);
      q.count = 0;
    }
    for (rte_ring* ring : {overlay_punts, underlay_punts}) {
      for (const PuntedFrame& f : punted(ring)) rte_pktmbuf_free(f.m);
      rte_ring_free(ring);
    }
    rte_ring_free(learn);
    rte_free(counters);
  }

  std::vector<PuntedFrame> punted(rte_ring* ring) {
    std::vector<PuntedFrame> out;
    PuntedFrame f{};
    while (rte_ring_sc_dequeue_elem(ring, &f, sizeof(f)) == 0) out.push_back(f);
    return out;
  }
  size_t drain_overlay_punts() {
    const auto frames = punted(overlay_punts);
    for (const PuntedFrame& f : frames) rte_pktmbuf_free(f.m);
    return frames.size();
  }
  void bridge(PortIndex in, rte_mbuf* m) { bridge_burst(*ctx, snapshot, in, &m, 1); }
  void underlay(rte_mbuf* m) { underlay_input_burst(*ctx, snapshot, kUnderlay, &m, 1); }
  uint64_t drops(PortIndex p, DropReason r) const { return counters->ports[p].drops[static_cast<size_t>(r)]; }
  uint16_t queued(PortIndex p) const { return ctx->tx.queues[p].count; }

  static constexpr std::array<uint8_t, 6> kUnderlayMac = {0x02, 0, 0, 0, 0, 0x0c};
  Snapshot snapshot;
  std::unique_ptr<Fdb> private_fdb, public_fdb;
  std::unique_ptr<OverlayNeighbors> neighbors;
  std::unique_ptr<nat::SnatTable> snat;
  WorkerCounters* counters = nullptr;
  rte_ring *learn = nullptr, *overlay_punts = nullptr, *underlay_punts = nullptr;
  std::unique_ptr<WorkerContext> ctx;
};

TEST_F(RouterTest, AGuestTeachesTheRouterOnlyAddressesItMayOwn) {
  // Its own address in the subnet: punted, with the network and port in the ring element.
  bridge(kGuest, arp_frame("52:54:00:00:00:02", be(192, 0, 2, 2), be(192, 0, 2, 254)));
  auto frames = punted(overlay_punts);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].network, kPrivate);
  EXPECT_EQ(frames[0].port, kGuest);
  EXPECT_EQ(frames[0].from_peer, 0);
  rte_pktmbuf_free(frames[0].m);
  // The router's own address, the subnet's broadcast, an address outside it:
  // never learned from a guest.
  bridge(kGuest, arp_frame("52:54:00:00:00:02", be(192, 0, 2, 254), be(192, 0, 2, 254)));
  bridge(kGuest, arp_frame("52:54:00:00:00:02", be(192, 0, 2, 255), be(192, 0, 2, 254)));
  bridge(kGuest, arp_frame("52:54:00:00:00:02", be(203, 0, 113, 10), be(192, 0, 2, 254)));
  EXPECT_EQ(drain_overlay_punts(), 0u);
}

TEST_F(RouterTest, AGratuitousArpForTheGatewayOrAFloatingIpFromALocalGuestIsNotBelieved) {
  // The gateway rVM's public address: only its own switch, over a peer, may announce it.
  bridge(kPublicGuest, arp_frame("52:54:00:00:01:01", be(198, 51, 100, 201), be(198, 51, 100, 201)));
  // A floating IP (outside public's subnet): only announced by other rVMs' routers.
  bridge(kPublicGuest, arp_frame("52:54:00:00:01:01", be(203, 0, 113, 10), be(203, 0, 113, 10)));
  EXPECT_EQ(drain_overlay_punts(), 0u);
  // The same announcements from a peer are believed.
  bridge(kPeer, arp_frame("02:49:4e:00:00:0b", be(198, 51, 100, 201), be(198, 51, 100, 201)));
  bridge(kPeer, arp_frame("02:49:4e:00:00:0b", be(203, 0, 113, 10), be(203, 0, 113, 10)));
  const auto frames = punted(overlay_punts);
  ASSERT_EQ(frames.size(), 2u);
  for (const PuntedFrame& f : frames) {
    EXPECT_EQ(f.network, kPublic);
    EXPECT_EQ(f.from_peer, 1);
    rte_pktmbuf_free(f.m);
  }
}

TEST_F(RouterTest, AGuestsClaimOfARouterAddressNeverReachesOtherRvms) {
  // Other rVMs believe the gateway's address and floating IPs from a peer:
  // a guest's claim is dropped where it enters, not flooded to them.
  bridge(kPublicGuest, arp_frame("52:54:00:00:01:01", be(198, 51, 100, 201), be(198, 51, 100, 201)));
  bridge(kPublicGuest, arp_frame("52:54:00:00:01:01", be(203, 0, 113, 10), be(203, 0, 113, 10), RTE_ARP_OP_REPLY));
  bridge(kPublicGuest, arp_frame("52:54:00:00:01:01", be(198, 51, 100, 202), be(198, 51, 100, 9)));
  bridge(kGuest, arp_frame("52:54:00:00:00:02", be(192, 0, 2, 254), be(192, 0, 2, 254)));
  EXPECT_EQ(queued(kPeer), 0u);
  EXPECT_EQ(drops(kPublicGuest, DropReason::kSpoofedArp), 3u);
  EXPECT_EQ(drops(kGuest, DropReason::kSpoofedArp), 1u);
  EXPECT_EQ(drain_overlay_punts(), 0u);
  // Its own address, and an ARP probe (sender 0.0.0.0), go on as before.
  bridge(kPublicGuest, arp_frame("52:54:00:00:01:01", be(198, 51, 100, 1), be(198, 51, 100, 1)));
  bridge(kPublicGuest, arp_frame("52:54:00:00:01:01", 0, be(198, 51, 100, 1)));
  EXPECT_EQ(queued(kPeer), 2u);
  EXPECT_EQ(drops(kPublicGuest, DropReason::kSpoofedArp), 3u);
}

TEST_F(RouterTest, ArpPuntsAreBoundedPerPort) {
  snapshot.limits.punt_port = {1000000000, 3};
  for (int i = 0; i < 5; ++i) bridge(kGuest, arp_frame("52:54:00:00:00:02", be(192, 0, 2, 2), be(192, 0, 2, 9)));
  EXPECT_EQ(drain_overlay_punts(), 3u);
  EXPECT_EQ(drops(kGuest, DropReason::kPuntLimit), 2u);
  // Other ports keep their own budget.
  bridge(kPublicGuest, arp_frame("52:54:00:00:01:01", be(198, 51, 100, 1), be(198, 51, 100, 9)));
  EXPECT_EQ(drain_overlay_punts(), 1u);
}

TEST_F(RouterTest, OutboundTranslationTrustsOnlySourcesOfTheIngressSubnet) {
  const char* router = "02:49:4e:00:00:02";
  // A guest of private spoofing an address outside its subnet (another tenant's).
  bridge(kGuest, udp_frame(router, "52:54:00:00:00:02", be(198, 51, 100, 7), be(203, 0, 113, 200)));
  // Or the subnet's broadcast address.
  bridge(kGuest, udp_frame(router, "52:54:00:00:00:02", be(192, 0, 2, 255), be(203, 0, 113, 200)));
  EXPECT_EQ(drops(kGuest, DropReason::kSpoofedIp), 2u);
  EXPECT_EQ(snat->active(), 0u);
  // A local guest of public cannot send as a private fixed address either:
  // only a peer (another rVM's router) relays those.
  bridge(kPublicGuest, udp_frame(router, "52:54:00:00:01:01", be(192, 0, 2, 3), be(203, 0, 113, 200)));
  EXPECT_EQ(drops(kPublicGuest, DropReason::kSpoofedIp), 1u);
  EXPECT_EQ(snat->active(), 0u);
  // Its own address works (no neighbor for the reality router: dropped
  // after the session exists), and so does a relay from a peer.
  bridge(kGuest, udp_frame(router, "52:54:00:00:00:02", be(192, 0, 2, 2), be(203, 0, 113, 200)));
  bridge(kPeer, udp_frame(router, "02:49:4e:00:00:0b", be(192, 0, 2, 3), be(203, 0, 113, 200)));
  EXPECT_EQ(snat->active(), 2u);
}

TEST_F(RouterTest, NothingIsRoutedToTheMetadataServiceOrTheUnderlay) {
  const char* router = "02:49:4e:00:00:02";
  bridge(kGuest, udp_frame(router, "52:54:00:00:00:02", be(192, 0, 2, 2), be(169, 254, 169, 254)));
  bridge(kGuest, udp_frame(router, "52:54:00:00:00:02", be(192, 0, 2, 2), be(10, 0, 0, 11)));
  bridge(kPeer, udp_frame(router, "02:49:4e:00:00:0b", be(192, 0, 2, 3), be(169, 254, 169, 254)));
  EXPECT_EQ(drops(kGuest, DropReason::kEgressDenied), 2u);
  EXPECT_EQ(drops(kPeer, DropReason::kEgressDenied), 1u);
  EXPECT_EQ(snat->active(), 0u);
}

TEST_F(RouterTest, UnderlayArpReachesTheControlThreadOnlyFromWantedNextHopsAndAsUnderlayArp) {
  // A recycled mbuf may carry anything in its metadata: the punt must not care.
  rte_mbuf* m = arp_frame("02:00:00:00:00:0b", be(10, 0, 0, 11), be(10, 0, 0, 12), RTE_ARP_OP_REPLY);
  m->hash.usr = 5;
  underlay(m);
  const auto frames = punted(underlay_punts);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].network, kInvalidNetwork) << "underlay ARP must never be filed under a network";
  rte_pktmbuf_free(frames[0].m);
  EXPECT_EQ(drain_overlay_punts(), 0u);
  // Another underlay host: answered or handed to the host, never punted.
  underlay(arp_frame("02:00:00:00:00:63", be(10, 0, 0, 99), be(10, 0, 0, 12)));
  EXPECT_TRUE(punted(underlay_punts).empty());
  EXPECT_EQ(queued(kUnderlay), 1) << "the request for our VTEP address is still answered";
}

TEST_F(RouterTest, UnderlayFramesForOtherHostsAndMalformedArpAreDroppedNotHandedUp) {
  underlay(udp_frame("02:00:00:00:00:99", "02:00:00:00:00:0b", be(10, 0, 0, 11), be(10, 0, 0, 99)));
  EXPECT_EQ(drops(kUnderlay, DropReason::kNotForUs), 1u);
  rte_mbuf* bad_arp = arp_frame("02:00:00:00:00:0b", be(10, 0, 0, 11), be(10, 0, 0, 12));
  rte_pktmbuf_mtod_offset(bad_arp, rte_arp_hdr*, 14)->arp_hlen = 7;
  underlay(bad_arp);
  EXPECT_EQ(drops(kUnderlay, DropReason::kMalformed), 1u);
  EXPECT_EQ(queued(kHost), 0);
  // Ours: to the host.
  underlay(udp_frame("02:00:00:00:00:0c", "02:00:00:00:00:0b", be(10, 0, 0, 11), be(10, 0, 0, 12)));
  EXPECT_EQ(queued(kHost), 1);
}

TEST_F(RouterTest, APriorityTaggedUnderlayFrameIsUntaggedAndHandled) {
  // VLAN 0 (802.1p priority only) before IPv4 for us: the host gets it untagged.
  rte_mbuf* m = udp_frame("02:00:00:00:00:0c", "02:00:00:00:00:0b", be(10, 0, 0, 11), be(10, 0, 0, 12));
  ASSERT_EQ(rte_vlan_insert(&m), 0);
  rte_pktmbuf_mtod_offset(m, rte_vlan_hdr*, 14)->vlan_tci = rte_cpu_to_be_16(0x6000);  // priority 3, VID 0
  underlay(m);
  ASSERT_EQ(queued(kHost), 1);
  const auto* eth = rte_pktmbuf_mtod(ctx->tx.queues[kHost].pkts[0], const rte_ether_hdr*);
  EXPECT_EQ(eth->ether_type, rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4));
}

// During a live migration both rVMs hold the guest's floating IP; only the
// one where the guest runs (active) answers ARP for it, so the gateway can
// not be drawn back to the rVM the guest left.
TEST_F(RouterTest, OnlyAnActiveFloatingIpIsAnsweredInArp) {
  snapshot.nat.fips.push_back({be(203, 0, 113, 10), be(192, 0, 2, 2), kPrivate, 0, true});
  snapshot.nat.fip_by_public.insert(0xcb00710a, 0);
  bridge(kPeer, arp_frame("02:49:4e:00:00:0b", be(198, 51, 100, 201), be(203, 0, 113, 10)));
  ASSERT_EQ(queued(kPeer), 1) << "an active floating IP is answered, back to the asking peer";
  const auto* reply = rte_pktmbuf_mtod_offset(ctx->tx.queues[kPeer].pkts[0], const rte_arp_hdr*, 14);
  EXPECT_EQ(reply->arp_opcode, rte_cpu_to_be_16(RTE_ARP_OP_REPLY));
  EXPECT_EQ(reply->arp_data.arp_sip, be(203, 0, 113, 10));

  snapshot.nat.fips[0].active = false;
  bridge(kPeer, arp_frame("02:49:4e:00:00:0b", be(198, 51, 100, 201), be(203, 0, 113, 10)));
  EXPECT_EQ(queued(kPeer), 1) << "a standby floating IP is not answered";
}

// The router's output takes the one L2 forwarder: what it routes to a MAC
// the FDB knows goes to that port, what it does not is flooded by the
// forwarder's rules (no peers off `public`) and charged to the port the
// packets entered by, within its flood budget.
TEST_F(RouterTest, ARoutedBurstIsForwardedAndFloodedByTheL2Forwarder) {
  snapshot.nat.fips.push_back({be(203, 0, 113, 10), be(192, 0, 2, 2), kPrivate, 0, true});
  snapshot.nat.fip_by_public.insert(0xcb00710a, 0);
  snapshot.nat.fips.push_back({be(203, 0, 113, 11), be(192, 0, 2, 3), kPrivate, 1, true});
  snapshot.nat.fip_by_public.insert(0xcb00710b, 1);
  const MacAddress known = *MacAddress::parse("52:54:00:00:00:02");
  const MacAddress unknown = *MacAddress::parse("52:54:00:00:00:03");
  neighbors->learn(kPrivate, 0xc0000202, known, 0, 64);
  neighbors->learn(kPrivate, 0xc0000203, unknown, 0, 64);
  private_fdb->learn(known, kGuest, 0);
  snapshot.limits.flood_port = {1000000000, 2};  // two floods, then nothing for a long while

  const char* router = "02:49:4e:00:00:02";
  std::vector<rte_mbuf*> burst;
  for (int i = 0; i < 3; ++i) {
    burst.push_back(udp_frame(router, "02:49:4e:00:00:0b", be(192, 0, 2, 9), be(203, 0, 113, 10)));
    burst.push_back(udp_frame(router, "02:49:4e:00:00:0b", be(192, 0, 2, 9), be(203, 0, 113, 11)));
  }
  bridge_burst(*ctx, snapshot, kPeer, burst.data(), static_cast<uint16_t>(burst.size()));

  // Three to the known MAC, two floods of the unknown one: both to the only
  // local port of `private`, none back over VXLAN.
  ASSERT_EQ(queued(kGuest), 5);
  EXPECT_EQ(queued(kPeer), 0);
  EXPECT_EQ(drops(kPeer, DropReason::kFloodLimit), 1u);
  unsigned to_known = 0;
  for (uint16_t i = 0; i < queued(kGuest); ++i) {
    const auto* eth = rte_pktmbuf_mtod(ctx->tx.queues[kGuest].pkts[i], const rte_ether_hdr*);
    const auto* ip = rte_pktmbuf_mtod_offset(ctx->tx.queues[kGuest].pkts[i], const rte_ipv4_hdr*, 14);
    EXPECT_EQ(MacAddress::key_of(eth->src_addr.addr_bytes), MacAddress::parse(router)->key());
    const bool is_known = MacAddress::key_of(eth->dst_addr.addr_bytes) == known.key();
    const rte_be32_t destination = ip->dst_addr;  // a copy: EXPECT_EQ binds a reference, the field is unaligned
    EXPECT_EQ(destination, is_known ? be(192, 0, 2, 2) : be(192, 0, 2, 3));
    to_known += is_known ? 1 : 0;
  }
  EXPECT_EQ(to_known, 3u);
  EXPECT_EQ(counters->ports[kGuest].flood_packets, 2u);
}

// SNAT finds a burst's sessions together (one bulk lookup): a flow seen
// twice in one burst must still get one session, created by its first
// packet, and replies in one burst must each find theirs.
TEST_F(RouterTest, SnatSessionsOfABurstAreFoundTogetherAndAFlowRepeatedInItKeepsOnePort) {
  snapshot.nat.underlay_gateway_resolved = true;
  snapshot.nat.underlay_gateway_mac = {0x02, 0, 0, 0, 0, 0x01};
  snapshot.underlay.nat_addresses.insert(0x0a000064, 1);  // 10.0.0.100, the SNAT address
  const char* router = "02:49:4e:00:00:02";
  const char* guest_mac = "52:54:00:00:00:09";
  const auto from_guest = [&](uint16_t src_port) {
    rte_mbuf* m = udp_frame(router, guest_mac, be(192, 0, 2, 9), be(198, 18, 0, 1));
    rte_pktmbuf_mtod_offset(m, rte_udp_hdr*, 34)->src_port = rte_cpu_to_be_16(src_port);
    return m;
  };
  // Flows 1000 (three times), 1001, 1002, in one burst.
  const uint16_t flows[] = {1000, 1001, 1000, 1002, 1000};
  std::vector<rte_mbuf*> burst;
  for (uint16_t port : flows) burst.push_back(from_guest(port));
  bridge_burst(*ctx, snapshot, kGuest, burst.data(), static_cast<uint16_t>(burst.size()));

  ASSERT_EQ(queued(kUnderlay), 5);
  EXPECT_EQ(snat->active(), 3u);
  std::map<uint16_t, uint16_t> outside_port_of;  // inside port -> outside port
  for (uint16_t i = 0; i < 5; ++i) {
    rte_mbuf* m = ctx->tx.queues[kUnderlay].pkts[i];
    const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, 14);
    const rte_be32_t source = ip->src_addr;
    EXPECT_EQ(source, be(10, 0, 0, 100));
    const uint16_t outside = rte_pktmbuf_mtod_offset(m, const rte_udp_hdr*, 34)->src_port;
    const auto [it, first] = outside_port_of.emplace(flows[i], outside);
    EXPECT_EQ(it->second, outside) << "frame " << i << " of flow " << flows[i] << " left by another port";
  }
  ASSERT_EQ(outside_port_of.size(), 3u);
  EXPECT_NE(outside_port_of[1000], outside_port_of[1001]);
  EXPECT_NE(outside_port_of[1001], outside_port_of[1002]);
  EXPECT_NE(outside_port_of[1000], outside_port_of[1002]);
  for (auto& q : ctx->tx.queues) {
    rte_pktmbuf_free_bulk(q.pkts, q.count);
    q.count = 0;
  }

  // The replies, in one burst, and one to a port no session holds.
  const auto reply = [&](uint16_t outside_port) {
    rte_mbuf* m = udp_frame("02:00:00:00:00:0c", "02:00:00:00:00:01", be(198, 18, 0, 1), be(10, 0, 0, 100));
    auto* udp = rte_pktmbuf_mtod_offset(m, rte_udp_hdr*, 34);
    udp->src_port = rte_cpu_to_be_16(53);
    udp->dst_port = outside_port;
    return m;
  };
  const uint16_t unused = rte_cpu_to_be_16(static_cast<uint16_t>(
      rte_be_to_cpu_16(outside_port_of[1000]) == 59999 ? 59998 : rte_be_to_cpu_16(outside_port_of[1000]) + 1));
  ASSERT_TRUE(unused != outside_port_of[1001] && unused != outside_port_of[1002]);
  rte_mbuf* replies[] = {reply(outside_port_of[1002]), reply(unused), reply(outside_port_of[1000]),
                         reply(outside_port_of[1001])};
  underlay_input_burst(*ctx, snapshot, kUnderlay, replies, 4);

  EXPECT_EQ(drops(kUnderlay, DropReason::kNoMapping), 1u);
  ASSERT_EQ(queued(kGuest), 3);
  const uint16_t expected_ports[] = {1002, 1000, 1001};
  for (uint16_t i = 0; i < 3; ++i) {
    rte_mbuf* m = ctx->tx.queues[kGuest].pkts[i];
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    EXPECT_EQ(MacAddress::key_of(eth->dst_addr.addr_bytes), MacAddress::parse(guest_mac)->key());
    const rte_be32_t destination = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, 14)->dst_addr;
    EXPECT_EQ(destination, be(192, 0, 2, 9));
    EXPECT_EQ(rte_be_to_cpu_16(rte_pktmbuf_mtod_offset(m, const rte_udp_hdr*, 34)->dst_port), expected_ports[i]);
  }
}

}  // namespace
}  // namespace inception::test
