// Two data centers joined through the reality NAT (docs/cluster.md#two-data-centers),
// on the real daemons of scripts/topology.sh --dc2: rVMs 1 and 2 in dc1,
// rVMs 3 and 4 in dc2, each data center on its own 10.0.0.0/24 network
// behind its own reality router. rVM 1 and rVM 3 are their data centers'
// gateways; the reality clouds NAT 203.0.113.11 and 203.0.113.13 to their
// VTEPs 1:1, and that is all either data center can reach of the other (the
// paper's "least common denominator"). Nothing is typed: the gateways find
// each other in etcd (dc2 reaches it at its public address 203.0.113.2)
// and tunnel by their public addresses; the other rVMs reach the other
// data center through their gateway.
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "etcd_server.h"
#include "harness.h"

namespace inception::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kEtcdAddress = "10.0.0.2";
constexpr const char* kEtcdPublic = "203.0.113.2";
constexpr const char* kGateway1Public = "203.0.113.11";
constexpr const char* kGateway2Public = "203.0.113.12";
constexpr const char* kGateway3Public = "203.0.113.13";

class ClusterTwoDataCentersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>("cluster-dc");
    etcd_ = std::make_unique<EtcdServer>(*dir_, ns_prefix() + "-mgmt", kEtcdAddress);
    const std::string port = etcd_->endpoint().substr(etcd_->endpoint().rfind(':') + 1);
    std::vector<std::string> settings = {"cluster.lease_ttl=2",
                                         "rvm1.cluster.roles=[\"gateway\"]",
                                         "rvm1.cluster.public_vtep=\"" + std::string(kGateway1Public) + "\"",
                                         "rvm3.cluster.data_center=\"dc2\"",
                                         "rvm3.cluster.roles=[\"gateway\"]",
                                         "rvm3.cluster.public_vtep=\"" + std::string(kGateway3Public) + "\"",
                                         "rvm4.cluster.data_center=\"dc2\""};
    if (second_gateway_) {
      settings.push_back("rvm2.cluster.roles=[\"gateway\"]");
      settings.push_back("rvm2.cluster.public_vtep=\"" + std::string(kGateway2Public) + "\"");
    }
    for (int rvm = 1; rvm <= 4; ++rvm)
      settings.push_back("rvm" + std::to_string(rvm) + ".cluster.endpoints=[\"http://" +
                         (rvm <= 2 ? kEtcdAddress : kEtcdPublic) + ":" + port + "\"]");
    topo_ = std::make_unique<Topology>(*dir_, 4, "cluster", true, false, settings, 0, 2);
    ASSERT_TRUE(topo_->up()) << topo_->output();
    ASSERT_EQ(run({binary("TOPOLOGY"), "map", dir_->file("topology"), kGateway1Public, "10.0.0.11"}).exit_code, 0);
    ASSERT_EQ(run({binary("TOPOLOGY"), "map", dir_->file("topology"), kGateway3Public, "10.0.0.13", "dc2"}).exit_code,
              0);
    if (second_gateway_) {
      ASSERT_EQ(run({binary("TOPOLOGY"), "map", dir_->file("topology"), kGateway2Public, "10.0.0.12"}).exit_code, 0);
    }
    ASSERT_TRUE(etcd_->start()) << etcd_->log();
    etcd_up_ = std::chrono::steady_clock::now();
  }
  void TearDown() override {
    etcd_.reset();
    topo_.reset();
    dir_.reset();
  }

  // Peers of `private` on `rvm`, by address.
  std::map<std::string, nlohmann::json> peers(int rvm) const {
    std::map<std::string, nlohmann::json> out;
    const nlohmann::json shown = topo_->ctl_json(rvm, {"network", "show", "private"});
    for (const auto& p : shown["peers"]) out[p["peer"].get<std::string>()] = p;
    return out;
  }
  bool peered_with(int rvm, const std::set<std::string>& addresses) const {
    const auto p = peers(rvm);
    if (p.size() != addresses.size()) return false;
    for (const std::string& a : addresses)
      if (!p.contains(a) || p.at(a).value("resolved", false) == false) return false;
    return true;
  }
  bool pings(int from, int to) const {
    return topo_->in(topo_->ivm_ns(from, "private"), "ping -c 1 -W 1 192.0.2." + std::to_string(to)).exit_code == 0;
  }
  uint64_t unknown_peer_drops(int rvm) const {
    const nlohmann::json stats = topo_->ctl_json(rvm, {"stats"});
    return stats["underlay"]["nic"]["drops"].value("unknown_peer", uint64_t{0});
  }
  std::string views() const {
    std::string out;
    for (int rvm = 1; rvm <= 4; ++rvm)
      out += topo_->ctl(rvm, {"network", "show", "private"}).out + topo_->ctl(rvm, {"cluster", "status"}).out;
    return out;
  }

  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<EtcdServer> etcd_;
  std::unique_ptr<Topology> topo_;
  std::chrono::steady_clock::time_point etcd_up_;
  bool second_gateway_ = false;  // rVM 2 a gateway of dc1 too, published as 203.0.113.12
};

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

TEST_F(ClusterTwoDataCentersTest, IvmsOfTwoDataCentersTalkThroughTheirGatewaysAndTheRealityNat) {
  // Each gateway peers with the members of its data center at their VTEPs
  // and with the other gateway at its public address; the others only
  // within their data center.
  ASSERT_TRUE(eventually([&] { return peered_with(1, {"10.0.0.12", kGateway3Public}); }, 20s)) << views();
  ASSERT_TRUE(eventually([&] { return peered_with(3, {"10.0.0.14", kGateway1Public}); }, 10s)) << views();
  EXPECT_TRUE(peered_with(2, {"10.0.0.11"})) << views();
  EXPECT_TRUE(peered_with(4, {"10.0.0.13"})) << views();
  // The peer model says who is behind the NAT's address.
  const nlohmann::json remote = peers(1).at(kGateway3Public);
  EXPECT_EQ(remote.value("member", ""), "rvm3");
  EXPECT_EQ(remote.value("vtep", ""), "10.0.0.13");
  EXPECT_EQ(remote.value("data_center", ""), "dc2");
  EXPECT_EQ(remote.value("origin", ""), "cluster");

  // iVMs of the two data centers, gateways' and others', ping each other.
  for (const auto& path : std::vector<std::pair<int, int>>{{2, 4}, {4, 2}, {1, 3}, {2, 3}, {4, 1}})
    EXPECT_TRUE(eventually([&] { return pings(path.first, path.second); }, 10s))
        << path.first << " -> " << path.second << "\n"
        << views();
  std::printf("cluster: two data centers pinging each other %.2f s after etcd answered\n", seconds_since(etcd_up_));

  // TCP from dc1's non-gateway rVM to dc2's, arriving intact.
  ASSERT_EQ(sh("head -c 2000000 /dev/urandom > " + dir_->file("payload")).exit_code, 0);
  topo_->in(topo_->ivm_ns(4, "private"), "(timeout 60 socat -u TCP-LISTEN:7001,reuseaddr OPEN:" + dir_->file("rx") +
                                             ",creat,trunc >/dev/null 2>&1 &); " + wait_for_listener("tcp", 7001));
  const CommandResult sent = topo_->in(topo_->ivm_ns(2, "private"),
                                       "timeout 60 socat -u OPEN:" + dir_->file("payload") + " TCP:192.0.2.4:7001");
  EXPECT_EQ(sent.exit_code, 0) << sent.err;
  EXPECT_TRUE(
      eventually([&] { return sh("cmp -s " + dir_->file("payload") + " " + dir_->file("rx")).exit_code == 0; }, 30s))
      << "TCP between the data centers incomplete or corrupted";

  // Decap stays strict: rVM 3 takes dc1's gateway by its public address
  // only. The same VXLAN sent from that gateway's own VTEP address, which
  // in dc2's network is nobody's (here: a host of the second reality
  // network claiming it), is dropped as from an unknown peer.
  const uint64_t before = unknown_peer_drops(3);
  const std::string mgmt2 = topo_->ns("mgmt2");
  ASSERT_EQ(topo_->in(mgmt2, "ip addr add 10.0.0.11/24 dev br0").exit_code, 0);
  const CommandResult spoof =
      topo_->in(mgmt2,
                "python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                "s.bind((\"10.0.0.11\", 4789)); "
                "frame = bytes.fromhex(\"ffffffffffff02000000ee01\") + b\"\\x08\\x06\" + bytes(28); "
                "[s.sendto(bytes([8, 0, 0, 0, 0, 0x03, 0xe9, 0]) + frame, (\"10.0.0.13\", 4789)) for _ in range(5)]'");
  ASSERT_EQ(spoof.exit_code, 0) << spoof.err;
  EXPECT_TRUE(eventually([&] { return unknown_peer_drops(3) >= before + 5; }, 5s))
      << "VXLAN from dc1's gateway's private VTEP address was not refused: " << unknown_peer_drops(3) - before;
}

// dc1 with two gateways, rVMs 1 and 2: kill -9 of the active one, and the
// standby, elected, takes the tunnel over. dc2's gateway moves its peer to
// the new public address, and the old gateway restarted stays standby with
// no tunnel of its own.
class ClusterTwoDataCentersHaTest : public ClusterTwoDataCentersTest {
 protected:
  ClusterTwoDataCentersHaTest() { second_gateway_ = true; }
};

TEST_F(ClusterTwoDataCentersHaTest, TheStandbyGatewayTakesTheTunnelOverWhenTheActiveOneDies) {
  const auto vtep = [](int rvm) { return "10.0.0.1" + std::to_string(rvm); };
  const auto public_of = [](int rvm) { return std::string(rvm == 1 ? kGateway1Public : kGateway2Public); };
  int active = 0;
  ASSERT_TRUE(eventually(
      [&] {
        for (int r : {1, 2})
          if (peered_with(r, {vtep(3 - r), kGateway3Public})) active = r;
        return active != 0;
      },
      20s))
      << views();
  const int standby = 3 - active;
  EXPECT_TRUE(peered_with(standby, {vtep(active)})) << "the standby must not tunnel\n" << views();
  ASSERT_TRUE(eventually([&] { return peered_with(3, {"10.0.0.14", public_of(active)}); }, 5s)) << views();
  ASSERT_TRUE(eventually([&] { return pings(standby, 4); }, 10s)) << views();

  const auto killed = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(topo_->pid(active), SIGKILL), 0);
  EXPECT_TRUE(eventually([&] { return peered_with(3, {"10.0.0.14", public_of(standby)}); }, 5s)) << views();
  // (The dead gateway stays its peer until its member lease expires.)
  EXPECT_TRUE(peers(standby).contains(kGateway3Public)) << views();
  std::printf("cluster: dc1's active gateway killed: dc2's gateway tunnels to the new one after %.2f s\n",
              seconds_since(killed));
  EXPECT_TRUE(eventually([&] { return pings(standby, 4) && pings(4, standby); }, 5s)) << views();
  std::printf("cluster: dc1's active gateway killed: its iVM pinging dc2 through the new one after %.2f s\n",
              seconds_since(killed));

  // The old gateway back: standby, no second tunnel, no outage.
  ASSERT_TRUE(topo_->start(active));
  ASSERT_TRUE(eventually([&] { return peered_with(active, {vtep(standby)}); }, 10s)) << views();
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(pings(4, standby)) << "ping " << i << " lost after the old gateway returned";
    EXPECT_TRUE(peered_with(3, {"10.0.0.14", public_of(standby)})) << views();
  }
}

}  // namespace
}  // namespace inception::test
