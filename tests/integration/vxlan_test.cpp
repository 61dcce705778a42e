// The VXLAN overlay across rVMs, on the real daemons of scripts/topology.sh:
// iVMs on different rVMs talk over `private` and `public`; floods reach
// every iVM of a network exactly once in a mesh and in a star; MAC moves and
// peer removal are followed; the rVM's own traffic keeps working; and a VTEP
// no one here wrote (the Linux kernel's) interoperates.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace inception::test {
namespace {

constexpr const char* kBroadcast = "ff:ff:ff:ff:ff:ff";

// A vhost-user port on an rVM's switch, with a virtio-user peer behind it,
// for counting frames exactly.
class Vport {
 public:
  Vport(const Topology& topo, const TempDir& dir, int rvm, const std::string& name, const std::string& network)
      : socket_(dir.file(name + ".sock")) {
    const CommandResult r = topo.ctl(rvm, {"port", "add", name, "--type", "vhost-user", "--socket", socket_, "--server",
                                           "--network", network, "--queues", "1"});
    if (r.exit_code != 0) throw std::runtime_error("port add " + name + ": " + r.err);
    peer_ = std::make_unique<VportPeer>(dir, socket_, name);
    if (!peer_->wait_ready()) throw std::runtime_error("vport " + name + " did not come up");
    // Wait for the switch to see the guest, so nothing sent is lost.
    const bool up = eventually([&] {
      for (const auto& p : topo.ctl_json(rvm, {"port", "list"}))
        if (p["name"] == name) return p["link"] == "up";
      return false;
    });
    if (!up) throw std::runtime_error("switch did not attach " + name);
  }
  VportPeer* operator->() const { return peer_.get(); }

 private:
  std::string socket_;
  std::unique_ptr<VportPeer> peer_;
};

bool fdb_says(const Topology& topo, int rvm, const std::string& network, const std::string& mac,
              const std::string& port) {
  for (const auto& e : topo.ctl_json(rvm, {"fdb", "show", network}))
    if (e["mac"] == mac && e["port"] == port) return true;
  return false;
}

// Sends one tagged broadcast and checks that each receiver got it exactly once
// and the others never.
void expect_flood_exactly_once(Vport& from, const std::string& src_mac, const std::string& tag,
                               const std::vector<Vport*>& receivers, const std::vector<Vport*>& outsiders) {
  ASSERT_EQ(from->send(kBroadcast, src_mac, tag), 1u);
  for (Vport* r : receivers) EXPECT_TRUE((*r)->wait_for(tag)) << tag;
  // A quiet period, deliberately not a wait for a condition: a loop in the
  // overlay (a peer re-flooding what came from a peer, a hub relaying twice)
  // shows only as a second copy after the first, and no event says that no
  // second copy is coming. 1 s leaves a loaded machine time to send it.
  std::this_thread::sleep_for(1s);
  for (Vport* r : receivers) EXPECT_EQ((*r)->count(tag), 1u) << tag << ": duplicate delivery";
  for (Vport* o : outsiders) EXPECT_EQ((*o)->count(tag), 0u) << tag << ": leaked";
  EXPECT_EQ(from->count(tag), 0u) << tag << ": came back to its sender";
}

// The counters of peer `peer` on `private` in an rVM's `stats`, or null.
nlohmann::json peer_counters(const nlohmann::json& stats, const std::string& peer) {
  for (const auto& p : stats["peers"])
    if (p["network"] == "private" && p["peer"] == peer) return p;
  return nullptr;
}

// One mesh of three rVMs, brought up once for the suite (topology.sh takes
// seconds per rVM), with four virtio-user guests that count frames exactly:
// v<i> on `private` of rVM i, w2 on `public` of rVM2. Each test uses its own
// MACs and tags and teaches the FDBs what it needs itself, so it passes or
// fails alone (--gtest_filter) as it does in the suite. The one test that
// changes the topology (peer removal) is last and puts the peer back.
class VxlanMesh : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // No ASSERT here: a failure recorded in SetUpTestSuite makes GoogleTest
    // skip the suite's tests instead of failing them. SetUp() fails each
    // test with this text instead.
    setup_error_.clear();
    try {
      dir_ = std::make_unique<TempDir>("vxlan-mesh");
      topo_ = std::make_unique<Topology>(*dir_, 3, "mesh");
      if (!topo_->up()) {
        setup_error_ = "topology.sh up failed:\n" + topo_->output();
        return;
      }
      v1_ = std::make_unique<Vport>(*topo_, *dir_, 1, "v1", "private");
      v2_ = std::make_unique<Vport>(*topo_, *dir_, 2, "v2", "private");
      v3_ = std::make_unique<Vport>(*topo_, *dir_, 3, "v3", "private");
      w2_ = std::make_unique<Vport>(*topo_, *dir_, 2, "w2", "public");
    } catch (const std::exception& e) {
      setup_error_ = std::string("suite set-up: ") + e.what() + "\n" + (topo_ ? topo_->log(2) : std::string());
    }
  }
  static void TearDownTestSuite() {
    // Guests before their switches, switches before their directory, and
    // all before the next suite makes namespaces of the same names.
    w2_.reset();
    v3_.reset();
    v2_.reset();
    v1_.reset();
    topo_.reset();
    dir_.reset();
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  static inline std::string setup_error_;
  static inline std::unique_ptr<TempDir> dir_;
  static inline std::unique_ptr<Topology> topo_;
  static inline std::unique_ptr<Vport> v1_, v2_, v3_, w2_;
};

TEST_F(VxlanMesh, EveryRvmResolvesItsPeersByArp) {
  const Topology& topo = *topo_;
  ASSERT_TRUE(eventually([&] {
    for (int i = 1; i <= 3; ++i) {
      const auto network = topo.ctl_json(i, {"network", "show", "private"});
      for (const auto& p : network["peers"])
        if (!p["resolved"].get<bool>()) return false;
    }
    return true;
  })) << topo.log(1);
}

TEST_F(VxlanMesh, IvmsPingAcrossRvmsOnBothNetworks) {
  const Topology& topo = *topo_;
  for (int from = 1; from <= 3; ++from) {
    for (int to = 1; to <= 3; ++to) {
      if (from == to) continue;
      const CommandResult p = topo.in(topo.ivm_ns(from, "private"), "ping -c 2 -W 3 192.0.2." + std::to_string(to));
      EXPECT_EQ(p.exit_code, 0) << "private " << from << "->" << to << "\n" << p.out << topo.log(from);
    }
  }
  EXPECT_EQ(topo.in(topo.ivm_ns(2, "public"), "ping -c 2 -W 3 198.51.100.3").exit_code, 0);
}

// A TCP stream between iVMs on different rVMs arrives intact, while the
// rVMs' own traffic (TCP to rVM1's underlay address) flows beside it.
TEST_F(VxlanMesh, TcpBetweenIvmsArrivesIntactWhileTheRvmsOwnTcpFlows) {
  const Topology& topo = *topo_;
  const TempDir& dir = *dir_;
  ASSERT_EQ(sh("head -c 4000000 /dev/urandom > " + dir.file("payload")).exit_code, 0);
  topo.in(topo.ivm_ns(3, "private"), "(timeout 60 socat -u TCP-LISTEN:7001,reuseaddr OPEN:" + dir.file("ivm.rx") +
                                         ",creat,trunc >/dev/null 2>&1 &); " + wait_for_listener("tcp", 7001));
  topo.in(topo.rvm_ns(1), "(timeout 60 socat -u TCP-LISTEN:7002,reuseaddr OPEN:" + dir.file("host.rx") +
                              ",creat,trunc >/dev/null 2>&1 &); " + wait_for_listener("tcp", 7002));
  topo.in(topo.ivm_ns(1, "private"), "(socat -u OPEN:" + dir.file("payload") + " TCP:192.0.2.3:7001 &)");
  const CommandResult host_tcp =
      topo.in(topo.rvm_ns(2), "socat -u OPEN:" + dir.file("payload") + " TCP:10.0.0.11:7002");
  EXPECT_EQ(host_tcp.exit_code, 0) << host_tcp.err;
  EXPECT_TRUE(
      eventually([&] { return sh("cmp -s " + dir.file("payload") + " " + dir.file("ivm.rx")).exit_code == 0; }, 30s))
      << "iVM TCP stream across VXLAN incomplete or corrupted";
  EXPECT_TRUE(
      eventually([&] { return sh("cmp -s " + dir.file("payload") + " " + dir.file("host.rx")).exit_code == 0; }, 30s))
      << "TCP to the rVM's own address failed while the switch owned the NIC";
}

TEST_F(VxlanMesh, FloodsReachEveryIvmOfTheNetworkExactlyOnce) {
  expect_flood_exactly_once(*v1_, "02:00:00:00:0a:01", "mesh-from-1", {v2_.get(), v3_.get()}, {w2_.get()});
  expect_flood_exactly_once(*v3_, "02:00:00:00:0a:03", "mesh-from-3", {v1_.get(), v2_.get()}, {w2_.get()});
}

TEST_F(VxlanMesh, FloodsNeverReachAnotherNetwork) {
  expect_flood_exactly_once(*w2_, "02:00:00:00:0b:02", "public-only", {}, {v1_.get(), v2_.get(), v3_.get()});
}

// Learning across rVMs: once rVM2 knows 0d:01 behind peer 10.0.0.11,
// unicast to it goes there only.
TEST_F(VxlanMesh, UnicastGoesOnlyToTheLearnedPeer) {
  const Topology& topo = *topo_;
  Vport &v1 = *v1_, &v2 = *v2_, &v3 = *v3_;
  ASSERT_EQ(v1->send(kBroadcast, "02:00:00:00:0d:01", "uni-learn"), 1u);
  ASSERT_TRUE(eventually([&] { return fdb_says(topo, 2, "private", "02:00:00:00:0d:01", "peer:10.0.0.11"); }))
      << topo.ctl(2, {"fdb", "show"}).out;
  ASSERT_EQ(v2->send("02:00:00:00:0d:01", "02:00:00:00:0d:02", "uni-2-1"), 1u);
  EXPECT_TRUE(v1->wait_for("uni-2-1"));
  EXPECT_EQ(v3->received("uni-2-1", 500ms).size(), 0u);
}

// A guest with MAC 0e:01, learned on rVM1, migrates to rVM3: its first frame
// there moves it in rVM2's FDB, and unicast follows. The MAC is this test's
// own: the entry it leaves behind is no other test's business.
TEST_F(VxlanMesh, AMacMovesWithItsFirstFrameFromAnotherRvm) {
  const Topology& topo = *topo_;
  Vport &v1 = *v1_, &v2 = *v2_, &v3 = *v3_;
  ASSERT_EQ(v1->send(kBroadcast, "02:00:00:00:0e:01", "move-learn"), 1u);
  ASSERT_TRUE(eventually([&] { return fdb_says(topo, 2, "private", "02:00:00:00:0e:01", "peer:10.0.0.11"); }))
      << topo.ctl(2, {"fdb", "show"}).out;
  ASSERT_EQ(v3->send(kBroadcast, "02:00:00:00:0e:01", "garp-after-move"), 1u);
  ASSERT_TRUE(eventually([&] { return fdb_says(topo, 2, "private", "02:00:00:00:0e:01", "peer:10.0.0.13"); }))
      << topo.ctl(2, {"fdb", "show"}).out;
  ASSERT_EQ(v2->send("02:00:00:00:0e:01", "02:00:00:00:0e:02", "uni-after-move"), 1u);
  EXPECT_TRUE(v3->wait_for("uni-after-move"));
  EXPECT_EQ(v1->received("uni-after-move", 500ms).size(), 0u);
}

// rVM2's counters per peer: a flood from v2 leaves toward both its peers, a
// flood from v1 comes in from rVM1's.
TEST_F(VxlanMesh, PerPeerCountersCountFramesToAndFromEachPeer) {
  const Topology& topo = *topo_;
  Vport &v1 = *v1_, &v2 = *v2_, &v3 = *v3_;
  const auto before = topo.ctl_json(2, {"stats"});
  for (const char* peer : {"10.0.0.11", "10.0.0.13"})
    ASSERT_FALSE(peer_counters(before, peer).is_null()) << "peer " << peer << " missing from stats\n" << before.dump(2);
  ASSERT_EQ(v2->send(kBroadcast, "02:00:00:00:0f:02", "count-from-2"), 1u);
  ASSERT_EQ(v1->send(kBroadcast, "02:00:00:00:0f:01", "count-from-1"), 1u);
  EXPECT_TRUE(v1->wait_for("count-from-2"));
  EXPECT_TRUE(v3->wait_for("count-from-2"));
  EXPECT_TRUE(v2->wait_for("count-from-1"));
  // Workers count; `stats` sums their counters when asked.
  auto counter = [&](const std::string& peer, const char* name) {
    return peer_counters(topo.ctl_json(2, {"stats"}), peer)[name].get<uint64_t>();
  };
  for (const char* peer : {"10.0.0.11", "10.0.0.13"}) {
    const uint64_t was = peer_counters(before, peer)["tx_packets"].get<uint64_t>();
    EXPECT_TRUE(eventually([&] { return counter(peer, "tx_packets") > was; }))
        << "tx_packets to peer " << peer << " stayed at " << was << "\n"
        << topo.ctl(2, {"stats"}).out;
  }
  const uint64_t was = peer_counters(before, "10.0.0.11")["rx_packets"].get<uint64_t>();
  EXPECT_TRUE(eventually([&] { return counter("10.0.0.11", "rx_packets") > was; }))
      << "rx_packets from peer 10.0.0.11 stayed at " << was << "\n"
      << topo.ctl(2, {"stats"}).out;
}

// Defined last, so it runs last (GoogleTest keeps the order of definition):
// it removes a peer. It puts the peer back at its end, but a test after it
// would depend on that re-add having worked.
TEST_F(VxlanMesh, ARemovedPeerGetsNothingMoreAndCannotBeRemovedTwice) {
  const Topology& topo = *topo_;
  Vport &v1 = *v1_, &v2 = *v2_, &v3 = *v3_;
  ASSERT_EQ(topo.ctl(1, {"peer", "del", "private", "10.0.0.13"}).exit_code, 0);
  ASSERT_EQ(v1->send(kBroadcast, "02:00:00:00:0a:11", "after-peer-del"), 1u);
  EXPECT_TRUE(v2->wait_for("after-peer-del"));
  EXPECT_EQ(v3->received("after-peer-del", 1s).size(), 0u);
  const auto network = topo.ctl_json(1, {"network", "show", "private"});
  EXPECT_EQ(network["peers"].size(), 1u);
  EXPECT_EQ(topo.ctl(1, {"peer", "del", "private", "10.0.0.13"}).err,
            "inceptionctl: network private: no peer 10.0.0.13\n");

  const CommandResult re_add = topo.ctl(1, {"peer", "add", "private", "10.0.0.13"});
  ASSERT_EQ(re_add.exit_code, 0) << "putting the peer back: " << re_add.err;
}

TEST(Vxlan, StarWithAHubRelaysWithoutLoops) {
  TempDir dir("vxlan-star");
  Topology topo(dir, 3, "star");
  ASSERT_TRUE(topo.up()) << topo.output();
  // Spokes reach each other only through the hub.
  EXPECT_EQ(topo.ctl_json(2, {"network", "show", "private"})["peers"].size(), 1u);
  const CommandResult p = topo.in(topo.ivm_ns(2, "private"), "ping -c 3 -W 3 192.0.2.3");
  EXPECT_EQ(p.exit_code, 0) << p.out << topo.log(1);

  Vport v1(topo, dir, 1, "v1", "private"), v2(topo, dir, 2, "v2", "private"), v3(topo, dir, 3, "v3", "private");
  Vport w3(topo, dir, 3, "w3", "public");
  expect_flood_exactly_once(v2, "02:00:00:00:0c:02", "star-from-spoke", {&v1, &v3}, {&w3});
  expect_flood_exactly_once(v1, "02:00:00:00:0c:01", "star-from-hub", {&v2, &v3}, {&w3});
  expect_flood_exactly_once(v3, "02:00:00:00:0c:03", "star-from-other-spoke", {&v1, &v2}, {&w3});
}

TEST(Vxlan, OverlayMtuAndPathMtuDiscovery) {
  TempDir dir("vxlan-mtu");
  Topology topo(dir, 2, "mesh");
  ASSERT_TRUE(topo.up()) << topo.output();
  // An iVM that believes in a 1500-byte MTU: too-big DF packets are answered
  // with "fragmentation needed" carrying the overlay MTU (1500 - 50).
  ASSERT_EQ(topo.in(topo.ivm_ns(1, "private"), "ip link set ivm1pri mtu 1500").exit_code, 0);
  EXPECT_EQ(topo.in(topo.ivm_ns(1, "private"), "ping -c 2 -W 3 192.0.2.2").exit_code, 0);
  const CommandResult big = topo.in(topo.ivm_ns(1, "private"), "ping -M do -s 1472 -c 3 -W 2 192.0.2.2");
  EXPECT_NE(big.exit_code, 0);
  EXPECT_TRUE(big.out.find("mtu = 1450") != std::string::npos || big.out.find("mtu=1450") != std::string::npos)
      << big.out << big.err;
  const CommandResult fits = topo.in(topo.ivm_ns(1, "private"), "ping -M do -s 1422 -c 2 -W 3 192.0.2.2");
  EXPECT_EQ(fits.exit_code, 0) << fits.out;
  auto port = named(topo.ctl_json(1, {"stats"})["ports"], "ivm1pri");
  ASSERT_FALSE(port.is_null()) << "port ivm1pri missing from stats";
  EXPECT_GE(port["drops"]["too_big"].get<int>(), 1);
}

TEST(Vxlan, InteroperatesWithTheLinuxKernelVtep) {
  TempDir dir("vxlan-kernel");
  Topology topo(dir, 1, "mesh");
  ASSERT_TRUE(topo.up()) << topo.output();
  // A kernel VTEP on the management network: VXLAN device (VNI 1001, port
  // 4789) in a Linux bridge with a host behind it.
  Netns vtep(ns_prefix() + "-kvtep"), host(ns_prefix() + "-khost");
  const std::string vtep_error = add_kernel_vtep(topo, vtep, host, "k");
  ASSERT_EQ(vtep_error, "");
  const std::string kh = ns_prefix() + "-kh";
  ASSERT_EQ(topo.ctl(1, {"peer", "add", "private", "10.0.0.20"}).exit_code, 0);

  CommandResult r = host.exec("ping -c 3 -W 3 192.0.2.1");
  EXPECT_EQ(r.exit_code, 0) << r.out << topo.log(1);
  r = topo.in(topo.ivm_ns(1, "private"), "ping -c 3 -W 3 192.0.2.20");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(fdb_says(topo, 1, "private", host.exec("cat /sys/class/net/" + kh + "/address").out.substr(0, 17),
                       "peer:10.0.0.20"));

  ASSERT_EQ(sh("head -c 3000000 /dev/urandom > " + dir.file("payload")).exit_code, 0);
  topo.in(topo.ivm_ns(1, "private"), "(timeout 60 socat -u TCP-LISTEN:7003,reuseaddr OPEN:" + dir.file("rx") +
                                         ",creat,trunc >/dev/null 2>&1 &); " + wait_for_listener("tcp", 7003));
  r = host.exec("socat -u OPEN:" + dir.file("payload") + " TCP:192.0.2.1:7003");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(
      eventually([&] { return sh("cmp -s " + dir.file("payload") + " " + dir.file("rx")).exit_code == 0; }, 30s))
      << "TCP from behind the kernel VTEP incomplete or corrupted";
  r = host.exec("(timeout 60 socat -u TCP-LISTEN:7004,reuseaddr OPEN:" + dir.file("rx2") +
                ",creat,trunc >/dev/null 2>&1 &); " + wait_for_listener("tcp", 7004));
  r = topo.in(topo.ivm_ns(1, "private"), "socat -u OPEN:" + dir.file("payload") + " TCP:192.0.2.20:7004");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(
      eventually([&] { return sh("cmp -s " + dir.file("payload") + " " + dir.file("rx2")).exit_code == 0; }, 30s))
      << "TCP toward the kernel VTEP incomplete or corrupted";

  // The kernel VTEP on a VNI we do not serve: dropped, counted, never delivered.
  r = vtep.exec(
      "ip link add vx9 type vxlan id 9 local 10.0.0.20 remote 10.0.0.11 dstport 4789 && "
      "ip link set vx9 up && ip addr add 203.0.113.20/24 dev vx9");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  vtep.exec("ping -c 2 -W 1 203.0.113.1");
  const auto stats = topo.ctl_json(1, {"stats"});
  EXPECT_GE(stats["underlay"]["nic"]["drops"]["unknown_vni"].get<int>(), 1) << stats.dump(2);
}

}  // namespace
}  // namespace inception::test
