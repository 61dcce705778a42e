// Cluster mode on the real daemons (docs/cluster.md): four rVMs of
// scripts/topology.sh with no peer typed, only [cluster], and a private
// etcd on the management network (10.0.0.2, the bridge's own address), so
// that each switch reaches it the way a real rVM would: from its host
// interface, through its own switch and the underlay.
//
// Membership, on one topology to keep the suite short: join (three rVMs,
// then a fourth started later), a member key written by hand that is
// refused, leave by kill -9 (measured against TTL + 1 s), restart.
//
// etcd as three members under a running mesh: one killed (the one the
// switches talk to, then the leader) goes unnoticed; all killed, the
// switches forward on and say disconnected; started again, they reconcile.
//
// Desired state, on the same three rVMs and etcd members: a network
// defined once on every switch, then gone everywhere, a typed one
// untouched; bad keys refused with their reasons; a floating IP served
// where its fixed IP is placed, following the port to another rVM.
//
// One topology (namespaces, etcd, switches) per fixture class, shared by
// its tests (set up in SetUpTestSuite, as VxlanMesh does): a test may run
// alone or after any other of its class, so each asserts on counters
// relative to its start, and what a test breaks on purpose (a switch or an
// etcd member killed, a switch cut from etcd, the data center made a star)
// SetUp puts back before the next one.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "etcd_server.h"
#include "harness.h"

namespace inception::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kLeaseTtlS = 2;
constexpr const char* kEtcdAddress = "10.0.0.2";

std::string vtep(int rvm) {
  return "10.0.0.1" + std::to_string(rvm);
}

// What a fixture class's topology is made of.
struct ClusterShape {
  bool nat = false;                   // the paper's Figure 4 around the rVMs (topology.sh --nat)
  int etcd_members = 1;               // etcd's size; every switch is given every member
  std::vector<std::string> settings;  // more topology.sh --set settings
};

class ClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { bring_up(ClusterShape{}); }
  static void TearDownTestSuite() {
    etcd_.reset();  // stopped by PID before its namespace goes
    topo_.reset();
    dir_.reset();
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  // `prepare`, if given, runs once the directory exists (a hook file, a
  // setting naming it); "" or what failed.
  static void bring_up(ClusterShape shape, std::string (*prepare)(const TempDir&, ClusterShape&) = nullptr) {
    // No ASSERT here: a failure recorded in SetUpTestSuite makes GoogleTest
    // skip the suite's tests instead of failing them. SetUp() fails each
    // test with this text instead.
    setup_error_.clear();
    try {
      dir_ = std::make_unique<TempDir>("cluster");
      if (prepare != nullptr) setup_error_ = prepare(*dir_, shape);
      if (!setup_error_.empty()) return;
      // The members share the bridge's address, each on its own ports.
      etcd_ = std::make_unique<EtcdCluster>(*dir_, shape.etcd_members, ns_prefix() + "-mgmt", kEtcdAddress);
      std::string endpoints;
      for (const std::string& e : etcd_->endpoints()) endpoints += (endpoints.empty() ? "\"" : ", \"") + e + "\"";
      std::vector<std::string> settings = {"cluster.endpoints=[" + endpoints + "]",
                                           "cluster.lease_ttl=" + std::to_string(kLeaseTtlS)};
      settings.insert(settings.end(), shape.settings.begin(), shape.settings.end());
      topo_ = std::make_unique<Topology>(*dir_, 4, "cluster", true, shape.nat, settings, 1);
      if (!topo_->up()) {
        setup_error_ = "topology.sh up failed:\n" + topo_->output();
        return;
      }
      // The switches started before etcd: they retry every 0.5 s meanwhile.
      // The bridge's own stack would hand the switches' packet sockets TCP
      // segments with unfinished checksums (NETNS-FACTS: veth offload).
      const CommandResult address = topo_->in(topo_->ns("mgmt"), std::string("ip addr add ") + kEtcdAddress +
                                                                     "/24 dev br0 && ethtool -K br0 tx off >/dev/null");
      if (address.exit_code != 0) {
        setup_error_ = "etcd's address on the bridge: " + address.err;
        return;
      }
      if (!etcd_->start()) setup_error_ = "etcd did not start:\n" + etcd_->log();
      etcd_up_ = Clock::now();
    } catch (const std::exception& e) {
      setup_error_ = std::string("suite set-up: ") + e.what();
    }
  }

  // Whether process `pid` runs: a killed switch stays a zombie until init
  // reaps it (~2 s on the CI VM), and kill(pid, 0) still finds a zombie.
  static bool running(pid_t pid) {
    if (pid <= 0) return false;
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    std::getline(in, stat);
    const size_t end = stat.rfind(')');  // after the command, which may hold anything
    return end != std::string::npos && end + 2 < stat.size() && stat[end + 2] != 'Z' && stat[end + 2] != 'X';
  }
  // Puts back what a test of a shared topology may have broken on
  // purpose: every etcd member running, rVMs `rvms` each with a switch
  // (one killed is started again: topology.sh start takes a zombie's
  // place).
  static std::string restore(const std::set<int>& rvms) {
    if (!etcd_->start()) return "etcd did not start again:\n" + etcd_->log();
    for (int r : rvms) {
      if (running(topo_->pid(r))) continue;
      if (!topo_->start(r)) return "rVM " + std::to_string(r) + " does not start again:\n" + topo_->log(r);
    }
    return "";
  }

  // Peers of `network` on `rvm`, and where they came from.
  std::map<std::string, std::string> peers(int rvm, const std::string& network = "private") const {
    std::map<std::string, std::string> out;
    const nlohmann::json shown = topo_->ctl_json(rvm, {"network", "show", network});
    for (const auto& p : shown["peers"]) out[p["peer"].get<std::string>()] = p["origin"].get<std::string>();
    return out;
  }
  bool has_peers(int rvm, const std::set<int>& others) const {
    for (const char* network : {"private", "public"}) {
      const auto p = peers(rvm, network);
      if (p.size() != others.size()) return false;
      for (int o : others)
        if (!p.contains(vtep(o)) || p.at(vtep(o)) != "cluster") return false;
    }
    return true;
  }
  // Every running rVM has every other as a cluster peer.
  bool mesh_of(const std::set<int>& rvms) const {
    for (int r : rvms) {
      std::set<int> others = rvms;
      others.erase(r);
      if (!has_peers(r, others)) return false;
    }
    return true;
  }
  bool pings(int from, int to) const {
    return topo_->in(topo_->ivm_ns(from, "private"), "ping -c 1 -W 1 192.0.2." + std::to_string(to)).exit_code == 0;
  }
  bool fdb_has_peer(int rvm, int peer) const {
    for (const auto& e : topo_->ctl_json(rvm, {"fdb", "show", "private"}))
      if (e["port"] == "peer:" + vtep(peer)) return true;
    return false;
  }
  nlohmann::json status(int rvm) const { return topo_->ctl_json(rvm, {"cluster", "status"}); }
  // rVM `rvm`'s refused keys: key -> reason.
  std::map<std::string, std::string> refused(int rvm) const {
    std::map<std::string, std::string> out;
    const nlohmann::json s = status(rvm);  // not status(rvm)["refused"]: the temporary would end before the loop
    for (const auto& r : s["refused"]) out[r["key"].get<std::string>()] = r["reason"].get<std::string>();
    return out;
  }
  // An entry of `list` (network list, fip list...) whose `field` is
  // `value`, or null.
  nlohmann::json find_in(int rvm, const std::vector<std::string>& list, const char* field,
                         const std::string& value) const {
    for (const auto& e : topo_->ctl_json(rvm, list))
      if (e[field] == value) return e;
    return nullptr;
  }
  static std::string fmt_shape(const nlohmann::json& n) {
    std::string peers;
    for (const auto& p : n["peers"]) peers += p["peer"].get<std::string>() + "=" + p["origin"].get<std::string>() + " ";
    return n["name"].get<std::string>() + " " + n["vni"].dump() + " " + n["origin"].get<std::string>() + " " + peers;
  }
  // What cluster keys may change on a switch: its networks, their VNIs,
  // origins and peers (not their traffic counters).
  std::vector<std::string> network_shapes(int rvm) const {
    std::vector<std::string> out;
    for (const auto& n : topo_->ctl_json(rvm, {"network", "list"})) out.push_back(fmt_shape(n));
    return out;
  }
  nlohmann::json network_on(int rvm, const std::string& name) const {
    return find_in(rvm, {"network", "list"}, "name", name);
  }
  nlohmann::json fip_on(int rvm, const std::string& public_ip) const {
    return find_in(rvm, {"fip", "list"}, "public", public_ip);
  }
  CommandResult etcdctl(const std::string& args) const {
    std::string endpoints;
    for (const std::string& e : etcd_->endpoints()) endpoints += (endpoints.empty() ? "" : ",") + e;
    return topo_->in(topo_->ns("mgmt"), "ETCDCTL_API=3 etcdctl --endpoints=" + endpoints + " " + args);
  }

  static inline std::string setup_error_;
  static inline std::unique_ptr<TempDir> dir_;
  static inline std::unique_ptr<EtcdCluster> etcd_;
  static inline std::unique_ptr<Topology> topo_;
  static inline Clock::time_point etcd_up_;  // when etcd first answered
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

TEST_F(ClusterTest, MembersJoinLeaveAndReturn) {
  // (a) Join: three switches, nothing typed (this class's one test: a
  // fresh topology).
  auto t0 = etcd_up_;
  ASSERT_TRUE(eventually([&] { return mesh_of({1, 2, 3}); }, 15s)) << topo_->log(1);
  for (int from : {1, 2, 3})
    for (int to : {1, 2, 3})
      if (from != to) {
        EXPECT_TRUE(eventually([&] { return pings(from, to); }, 10s)) << from << " -> " << to;
      }
  std::printf("cluster: 3 rVMs meshed and pinging %.2f s after etcd answered\n", seconds_since(t0));
  const auto s1 = status(1);
  EXPECT_TRUE(s1["connected"].get<bool>());
  EXPECT_EQ(s1["name"], "rvm1");
  EXPECT_EQ(s1["members"].size(), 3u);
  EXPECT_EQ(s1["counters"]["joins"], 2);
  EXPECT_FALSE(s1["lease_id"].is_null());

  // A fourth rVM started later joins with no manual step.
  t0 = Clock::now();
  ASSERT_TRUE(topo_->start(4));
  const double started = seconds_since(t0);
  t0 = Clock::now();
  ASSERT_TRUE(eventually([&] { return mesh_of({1, 2, 3, 4}); }, 10s)) << topo_->log(4);
  for (int to : {1, 2, 3}) EXPECT_TRUE(eventually([&] { return pings(4, to); }, 10s)) << "4 -> " << to;
  std::printf("cluster: rVM 4 started in %.2f s, meshed and pinging %.2f s later\n", started, seconds_since(t0));

  // (e) Bad input: a member key that is not a member is refused, counted
  // and shown; the mesh does not change.
  ASSERT_EQ(etcdctl("put /inception/v1/members/bogus 'not json'").exit_code, 0);
  ASSERT_EQ(etcdctl("put /inception/v1/members/impostor "
                    "'{\"name\":\"rvm9\",\"vtep\":\"10.0.0.19\",\"data_center\":\"dc1\",\"roles\":[]}'")
                .exit_code,
            0);
  ASSERT_EQ(etcdctl("put /inception/v1/members/selfish "
                    "'{\"name\":\"selfish\",\"vtep\":\"10.0.0.11\",\"data_center\":\"dc1\"}'")
                .exit_code,
            0);
  ASSERT_TRUE(eventually([&] { return status(2)["refused"].size() == 2; }, 5s)) << status(2).dump(2);
  const auto s2 = status(2);
  std::map<std::string, std::string> refused;
  for (const auto& r : s2["refused"]) refused[r["key"].get<std::string>()] = r["reason"].get<std::string>();
  EXPECT_EQ(refused["/inception/v1/members/bogus"], "the value is not a JSON object");
  EXPECT_EQ(refused["/inception/v1/members/impostor"], "its name 'rvm9' is not its key's");
  EXPECT_EQ(s2["counters"]["refused"], 2);
  EXPECT_NE(topo_->log(2).find("member key /inception/v1/members/bogus refused: the value is not a JSON object"),
            std::string::npos);
  // "selfish" is valid as written but claims rVM 1's VTEP: a peer of the
  // others already, so nothing changes; on rVM 1 it is its own VTEP and
  // skipped.
  EXPECT_TRUE(mesh_of({1, 2, 3, 4}));
  for (const char* key : {"bogus", "impostor", "selfish"})
    ASSERT_EQ(etcdctl(std::string("del /inception/v1/members/") + key).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return status(2)["refused"].empty(); }, 5s));
  EXPECT_TRUE(mesh_of({1, 2, 3, 4}));

  // (b) Leave: kill -9 of rVM 2's switch; every other switch drops it and
  // the MACs learned behind it within TTL + 1 s.
  for (int r : {1, 3, 4}) {
    ASSERT_TRUE(eventually([&] { return pings(r, 2); }, 5s));
    ASSERT_TRUE(fdb_has_peer(r, 2)) << "rVM " << r << " learned nothing behind rVM 2: the test would prove nothing";
  }
  ASSERT_EQ(::kill(topo_->pid(2), SIGKILL), 0);
  t0 = Clock::now();
  ASSERT_TRUE(eventually(
      [&] {
        for (int r : {1, 3, 4})
          if (peers(r).contains(vtep(2)) || peers(r, "public").contains(vtep(2)) || fdb_has_peer(r, 2)) return false;
        return true;
      },
      10s, 20ms));
  const double left = seconds_since(t0);
  std::printf("cluster: rVM 2 killed; dropped by every other switch, with its MACs, after %.2f s (TTL %d s)\n", left,
              kLeaseTtlS);
  EXPECT_LT(left, kLeaseTtlS + 1.0);
  EXPECT_TRUE(mesh_of({1, 3, 4}));
  EXPECT_EQ(status(1)["counters"]["leaves"], 1);

  // (c) It comes back: registered again, the mesh converges.
  t0 = Clock::now();
  ASSERT_TRUE(topo_->start(2));
  ASSERT_TRUE(eventually([&] { return mesh_of({1, 2, 3, 4}); }, 10s)) << topo_->log(2);
  for (int to : {1, 3, 4}) EXPECT_TRUE(eventually([&] { return pings(2, to); }, 10s)) << "2 -> " << to;
  std::printf("cluster: rVM 2 restarted, meshed and pinging after %.2f s\n", seconds_since(t0));
}

// etcd as a cluster of three members, every switch given all three. A
// member killed under the running mesh (the one the switches talk to,
// then the leader) is not an outage: no switch loses a peer or says
// disconnected, a change made after the kill reaches every switch. All
// three killed is one: the switches forward with what they know and say
// so; etcd back, they reconnect and a change reaches them again. The
// desired-state test shares the topology.
class ClusterEtcdMembersTest : public ClusterTest {
 protected:
  static void SetUpTestSuite() {
    ClusterShape shape;
    shape.etcd_members = 3;
    shape.settings = {"metrics.enabled=true"};  // each rVM's 127.0.0.1:9417, in its own namespace
    bring_up(shape);
  }
  void SetUp() override {
    ClusterTest::SetUp();
    ASSERT_EQ(restore({1, 2, 3}), "");
  }
  // inception_cluster_connected as rVM `rvm` exposes it ("" if absent).
  std::string connected_metric(int rvm) const {
    const std::string text = topo_->in(topo_->rvm_ns(rvm), "curl -s -m 1 http://127.0.0.1:9417/metrics").out;
    const std::string name = "\ninception_cluster_connected ";
    const size_t at = text.find(name);
    if (at == std::string::npos) return "";
    const size_t from = at + name.size();
    return text.substr(from, text.find('\n', from) - from);
  }
  int member_of(const nlohmann::json& endpoint) const {
    const auto all = etcd_->endpoints();
    for (size_t i = 0; i < all.size(); ++i)
      if (endpoint == all[i]) return static_cast<int>(i);
    return -1;
  }
  // Polls `rvms` for `period`: every one must keep every other as a peer
  // and say connected at every look. "" or the first lapse. `moved`: the
  // first look at which no rVM's watch was on member `gone` any more
  // (seconds, -1 if never).
  std::string steady(const std::set<int>& rvms, std::chrono::milliseconds period, int gone, double& moved) const {
    const auto t0 = Clock::now();
    int rounds = 0;
    moved = -1;
    while (Clock::now() - t0 < period) {
      bool all_moved = true;
      for (int r : rvms) {
        std::set<int> others = rvms;
        others.erase(r);
        const nlohmann::json s = status(r);
        if (member_of(s["watch_endpoint"]) == gone) all_moved = false;
        if (!s["connected"].get<bool>())
          return "rVM " + std::to_string(r) + " disconnected after " + std::to_string(seconds_since(t0)) +
                 " s: " + s["last_error"].dump();
        if (!has_peers(r, others))
          return "rVM " + std::to_string(r) + " lost a peer after " + std::to_string(seconds_since(t0)) + " s";
      }
      if (all_moved && moved < 0) moved = seconds_since(t0);
      ++rounds;
    }
    std::printf("cluster: %d looks at every rVM over %.1f s\n", rounds, seconds_since(t0));
    return "";
  }
  // `cluster network add NAME` on rVM `on`; seconds until every rVM of
  // `rvms` has it, or -1.
  double network_reaches(int on, const std::string& name, int vni, const std::set<int>& rvms) const {
    const CommandResult added = topo_->ctl(on, {"cluster", "network", "add", name, "--vni", std::to_string(vni)});
    EXPECT_EQ(added.exit_code, 0) << added.err;
    const auto t0 = Clock::now();
    const bool everywhere = eventually(
        [&] {
          for (int r : rvms)
            if (network_on(r, name).is_null()) return false;
          return true;
        },
        5s, 20ms);
    return everywhere ? seconds_since(t0) : -1;
  }
};

TEST_F(ClusterEtcdMembersTest, MemberKilledIsNoOutageAllKilledForwardingGoesOnThenReconciles) {
  const std::set<int> rvms = {1, 2, 3};
  ASSERT_TRUE(eventually([&] { return mesh_of(rvms); }, 15s)) << topo_->log(1);
  const auto endpoints = etcd_->endpoints();
  for (int r : rvms) {
    const nlohmann::json s = status(r);
    EXPECT_EQ(s["endpoints"], nlohmann::json(endpoints));
    EXPECT_EQ(connected_metric(r), "1");
  }

  // One member killed at a time, each polled for more than two TTLs, then
  // started again: (a) a follower that every switch talks to (requests
  // and watch: their connections are refused), (b) the leader while the
  // switches talk to a follower (an election: their keepalives wait for
  // the new leader), (c) both at once. etcdctl move-leader arranges who
  // leads.
  std::map<int, uint64_t> reconnects;  // at the start: another test may have run on this topology
  for (int r : rvms) reconnects[r] = status(r)["counters"]["reconnects"].get<uint64_t>();
  struct Kill {
    const char* what;
    bool talked_to, leader;
  };
  int vni = 3200;
  for (const Kill& kill : {Kill{"a follower the switches talk to", true, false},
                           Kill{"the leader, the switches on a follower", false, true},
                           Kill{"the leader the switches talk to", true, true}}) {
    const int talked = member_of(status(1)["watch_endpoint"]);
    ASSERT_GE(talked, 0) << status(1).dump(2);
    for (int r : rvms) ASSERT_EQ(member_of(status(r)["watch_endpoint"]), talked) << "rVM " << r << " watches elsewhere";
    const int other = (talked + 1) % etcd_->size();
    int victim = talked;
    if (kill.talked_to && kill.leader) {
      ASSERT_TRUE(etcd_->make_leader(talked));
    } else if (etcd_->leader() == talked) {
      ASSERT_TRUE(etcd_->make_leader(other));
    }
    if (!kill.talked_to) victim = etcd_->leader();
    ASSERT_EQ(etcd_->leader() == victim, kill.leader);
    ASSERT_EQ(victim == talked, kill.talked_to);
    etcd_->kill(victim);
    double moved = -1;
    const std::string lapse = steady(rvms, std::chrono::milliseconds(2 * kLeaseTtlS * 1000 + 200), victim, moved);
    EXPECT_EQ(lapse, "") << kill.what << "\n" << topo_->log(1);
    EXPECT_GE(moved, 0);
    // A look takes ~0.1 s (nine inceptionctl calls): this is an upper bound.
    if (kill.talked_to) std::printf("cluster: every rVM's watch on another member within %.2f s\n", moved);
    for (int r : rvms) {
      const nlohmann::json s = status(r);
      EXPECT_NE(member_of(s["watch_endpoint"]), victim) << "rVM " << r;
      EXPECT_NE(member_of(s["endpoint"]), victim) << "rVM " << r;
      EXPECT_EQ(s["counters"]["reconnects"], reconnects[r]) << "rVM " << r;
    }
    const std::string name = "kill" + std::to_string(vni);
    const double reached = network_reaches(2, name, vni++, rvms);
    EXPECT_GE(reached, 0) << name << " did not reach every switch after " << kill.what << " was killed";
    std::printf(
        "cluster: etcd member %s killed (%s): no lapse on any rVM; network %s on every switch %.3f s after "
        "`cluster network add`\n",
        etcd_->member(victim).name().c_str(), kill.what, name.c_str(), reached);
    ASSERT_TRUE(etcd_->start(victim)) << etcd_->log();
  }
  // Moved by the kills, and no further.
  EXPECT_NE(topo_->log(1).find("cluster: the watch continues on etcd"), std::string::npos);

  // (c) Every member killed: forwarding goes on with the members known,
  // every switch says disconnected, in its status and its metric.
  etcd_->kill_all();
  for (int r : rvms) {
    EXPECT_TRUE(eventually([&] { return !status(r)["connected"].get<bool>(); }, 5s)) << "rVM " << r;
    EXPECT_FALSE(status(r)["last_error"].is_null());
    EXPECT_NE(topo_->ctl(r, {"cluster", "status"}).out.find("disconnected"), std::string::npos);
    EXPECT_EQ(connected_metric(r), "0") << "rVM " << r;
  }
  EXPECT_TRUE(mesh_of(rvms));
  EXPECT_TRUE(pings(1, 2));
  EXPECT_TRUE(pings(2, 3));
  EXPECT_TRUE(pings(3, 1));

  // etcd back: connected again, nothing lost, and the cluster applies
  // changes again.
  auto t0 = Clock::now();
  ASSERT_TRUE(etcd_->start()) << etcd_->log();
  for (int r : rvms) {
    EXPECT_TRUE(eventually([&] { return status(r)["connected"].get<bool>(); }, 10s)) << "rVM " << r;
    EXPECT_EQ(connected_metric(r), "1") << "rVM " << r;
    EXPECT_GE(status(r)["counters"]["reconnects"].get<uint64_t>(), reconnects[r] + 1);
  }
  std::printf("cluster: every etcd member killed, then started: every rVM connected %.2f s after the start\n",
              seconds_since(t0));
  EXPECT_TRUE(mesh_of(rvms));
  EXPECT_EQ(status(3)["members"].size(), 3u);
  const double reached = network_reaches(1, "afteroutage", vni, rvms);
  EXPECT_GE(reached, 0);
  std::printf("cluster: after the outage, network afteroutage on every switch %.3f s after `cluster network add`\n",
              reached);
  EXPECT_TRUE(pings(1, 3));
}

TEST_F(ClusterEtcdMembersTest, NetworksAndFloatingIpsDefinedOnceForTheCluster) {
  const std::string prefix = "/inception/v1/";
  ASSERT_TRUE(eventually([&] { return mesh_of({1, 2, 3}); }, 15s)) << topo_->log(1);

  // (a) A network typed on rVM 2 only, and one defined for the cluster on
  // rVM 1: it appears on every switch, with the cluster's members as peers
  // and its router.
  ASSERT_EQ(topo_->ctl(2, {"network", "add", "typed", "--vni", "3100"}).exit_code, 0);
  auto t0 = Clock::now();
  const CommandResult added =
      topo_->ctl(1, {"cluster", "network", "add", "tenant", "--vni", "3003", "--router", "203.0.113.254/24"});
  ASSERT_EQ(added.exit_code, 0) << added.err;
  EXPECT_NE(added.out.find("every switch of the cluster adds it"), std::string::npos) << added.out;
  ASSERT_TRUE(eventually(
      [&] {
        for (int r : {1, 2, 3})
          if (network_on(r, "tenant").is_null() || peers(r, "tenant").size() != 2) return false;
        return true;
      },
      5s, 20ms));
  std::printf("cluster: network tenant on all 3 switches %.3f s after `cluster network add`\n", seconds_since(t0));
  for (int r : {1, 2, 3}) {
    const auto n = network_on(r, "tenant");
    EXPECT_EQ(n["vni"], 3003);
    EXPECT_EQ(n["origin"], "cluster");
    for (const auto& [peer, origin] : peers(r, "tenant")) EXPECT_EQ(origin, "cluster") << peer;
    EXPECT_FALSE(find_in(r, {"router", "list"}, "network", "tenant").is_null()) << "rVM " << r;
    EXPECT_EQ(find_in(r, {"router", "list"}, "network", "tenant")["address"], "203.0.113.254/24");
  }
  // Refused locally: it goes when its key goes, everywhere at once.
  const CommandResult local_del = topo_->ctl(3, {"network", "del", "tenant"});
  EXPECT_NE(local_del.exit_code, 0);
  EXPECT_NE(local_del.err.find("network tenant comes from the cluster: `inceptionctl cluster network del tenant`"),
            std::string::npos)
      << local_del.err;
  // The same VNI twice through the CLI: refused before anything is written.
  const CommandResult same_vni = topo_->ctl(2, {"cluster", "network", "add", "other", "--vni", "3003"});
  EXPECT_NE(same_vni.exit_code, 0);
  EXPECT_NE(same_vni.err.find("network other: VNI 3003 is already used by network tenant"), std::string::npos)
      << same_vni.err;
  // The typed network's name and VNI: adopted on rVM 2, added elsewhere.
  ASSERT_EQ(topo_->ctl(1, {"cluster", "network", "add", "typed", "--vni", "3100"}).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return !network_on(1, "typed").is_null() && !network_on(3, "typed").is_null(); }, 5s));
  ASSERT_TRUE(eventually([&] { return network_on(2, "typed")["origin"] == "manual,cluster"; }, 5s));

  // (b) Bad keys written by hand: refused with their reasons on every
  // switch, nothing else changes.
  const auto before = network_shapes(2);
  const uint64_t refused_before = status(2)["counters"]["refused"].get<uint64_t>();
  ASSERT_EQ(etcdctl("put " + prefix + "networks/garbage 'not json'").exit_code, 0);
  ASSERT_EQ(etcdctl("put " + prefix + "networks/dup '{\"vni\": 3003}'").exit_code, 0);
  ASSERT_EQ(etcdctl("put " + prefix + "networks/huge '{\"vni\": 16777216}'").exit_code, 0);
  ASSERT_EQ(etcdctl("put " + prefix + "networks/routed '{\"vni\": 3005, \"router\": \"203.0.113.0/24\"}'").exit_code,
            0);
  ASSERT_EQ(etcdctl("put " + prefix + "networks/private '{\"vni\": 3999}'").exit_code, 0);
  const std::map<std::string, std::string> expected = {
      {prefix + "networks/garbage", "the value is not a JSON object"},
      {prefix + "networks/dup",
       "network dup: VNI 3003 is already used by network tenant (key " + prefix + "networks/tenant, created first)"},
      {prefix + "networks/huge", "network huge: vni: 16777216 is out of range (1..16777215)"},
      {prefix + "networks/routed",
       "router on network routed: address 203.0.113.0 is the network address of 203.0.113.0/24"},
      {prefix + "networks/private", "network private already exists here with VNI 1001 (typed); VNI 3999 refused"},
  };
  for (int r : {1, 2, 3}) EXPECT_TRUE(eventually([&] { return refused(r) == expected; }, 5s)) << status(r).dump(2);
  EXPECT_EQ(status(2)["counters"]["refused"].get<uint64_t>(), refused_before + expected.size());
  EXPECT_EQ(network_shapes(2), before);
  EXPECT_NE(
      topo_->log(2).find("cluster: network key " + prefix + "networks/garbage refused: the value is not a JSON object"),
      std::string::npos);
  EXPECT_NE(topo_->ctl(2, {"cluster", "network", "list"}).out.find("refused: network dup: VNI 3003"),
            std::string::npos);
  for (const char* key : {"garbage", "dup", "huge", "routed", "private"})
    ASSERT_EQ(etcdctl("del " + prefix + "networks/" + key).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return refused(1).empty() && refused(3).empty(); }, 5s));

  // (c) A floating IP of the cluster is served where its fixed IP is
  // placed: a port with a bound IP on rVM 2.
  const std::vector<std::string> port = {"port",    "add",   "fipguest",          "--type", "kernel",    "--network",
                                         "private", "--mac", "02:00:00:00:0f:02", "--ip",   "192.0.2.42"};
  ASSERT_EQ(topo_->ctl(2, port).exit_code, 0);
  const CommandResult fip_added =
      topo_->ctl(1, {"cluster", "fip", "add", "203.0.113.42", "--fixed", "192.0.2.42", "--network", "private"});
  ASSERT_EQ(fip_added.exit_code, 0) << fip_added.err;
  ASSERT_TRUE(eventually([&] { return !fip_on(2, "203.0.113.42").is_null(); }, 5s)) << topo_->log(2);
  const auto served = fip_on(2, "203.0.113.42");
  EXPECT_EQ(served["fixed"], "192.0.2.42");
  EXPECT_TRUE(served["active"].get<bool>());
  EXPECT_EQ(served["origin"], "cluster");
  EXPECT_TRUE(fip_on(1, "203.0.113.42").is_null());
  EXPECT_TRUE(fip_on(3, "203.0.113.42").is_null());
  EXPECT_EQ(find_in(3, {"cluster", "fip", "list"}, "public", "203.0.113.42")["placed_on"], "rvm2");
  // The fixed IP claimed by a second floating IP: refused everywhere.
  ASSERT_EQ(
      etcdctl("put " + prefix + "fips/203.0.113.43 '{\"fixed\": \"192.0.2.42\", \"network\": \"private\"}'").exit_code,
      0);
  for (int r : {1, 2, 3})
    EXPECT_TRUE(eventually(
        [&] {
          return refused(r)[prefix + "fips/203.0.113.43"] ==
                 "floating IP 203.0.113.43: 192.0.2.42 on private already has floating IP 203.0.113.42 (key " + prefix +
                     "fips/203.0.113.42, created first)";
        },
        5s))
        << status(r).dump(2);
  EXPECT_TRUE(fip_on(2, "203.0.113.43").is_null());
  ASSERT_EQ(etcdctl("del " + prefix + "fips/203.0.113.43").exit_code, 0);

  // The port moves to rVM 3 (deleted here, added there: a migration's
  // shape): the floating IP follows.
  ASSERT_EQ(topo_->ctl(2, {"port", "del", "fipguest"}).exit_code, 0);
  t0 = Clock::now();
  ASSERT_EQ(topo_->ctl(3, port).exit_code, 0);
  ASSERT_TRUE(eventually(
      [&] {
        const auto there = fip_on(3, "203.0.113.42");
        return !there.is_null() && there["active"].get<bool>() && fip_on(2, "203.0.113.42").is_null();
      },
      5s, 20ms))
      << topo_->log(3);
  const double moved = seconds_since(t0);
  std::printf("cluster: floating IP served by rVM 3 %.3f s after its port was added there\n", moved);
  EXPECT_LT(moved, 1.0);
  EXPECT_TRUE(fip_on(1, "203.0.113.42").is_null());
  // A floating IP of the cluster is not deleted by hand.
  EXPECT_NE(topo_->ctl(3, {"fip", "del", "203.0.113.42"}).exit_code, 0);

  // A cluster floating IP whose public IP is typed on the rVM that would
  // serve it: refused there (only there), the typed one untouched.
  ASSERT_EQ(topo_
                ->ctl(3, {"port", "add", "fipguest2", "--type", "kernel", "--network", "private", "--mac",
                          "02:00:00:00:0f:03", "--ip", "192.0.2.43"})
                .exit_code,
            0);
  ASSERT_EQ(topo_->ctl(3, {"fip", "add", "203.0.113.50", "--fixed", "192.0.2.50", "--network", "private"}).exit_code,
            0);
  ASSERT_EQ(topo_->ctl(1, {"cluster", "fip", "add", "203.0.113.50", "--fixed", "192.0.2.43", "--network", "private"})
                .exit_code,
            0);
  EXPECT_TRUE(eventually(
      [&] { return refused(3)[prefix + "fips/203.0.113.50"] == "floating IP 203.0.113.50 already exists"; }, 5s))
      << status(3).dump(2);
  EXPECT_EQ(fip_on(3, "203.0.113.50")["fixed"], "192.0.2.50");
  EXPECT_EQ(fip_on(3, "203.0.113.50")["origin"], "manual");
  EXPECT_FALSE(refused(1).contains(prefix + "fips/203.0.113.50"));
  ASSERT_EQ(topo_->ctl(1, {"cluster", "fip", "del", "203.0.113.50"}).exit_code, 0);
  ASSERT_EQ(topo_->ctl(3, {"fip", "del", "203.0.113.50"}).exit_code, 0);
  ASSERT_EQ(topo_->ctl(3, {"port", "del", "fipguest2"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return refused(3).empty(); }, 5s)) << status(3).dump(2);

  // Deleted from the cluster: gone everywhere; the typed network stays.
  ASSERT_EQ(topo_->ctl(2, {"cluster", "fip", "del", "203.0.113.42"}).exit_code, 0);
  ASSERT_EQ(topo_->ctl(3, {"port", "del", "fipguest"}).exit_code, 0);
  // A port on rVM 2 holds the network there when its key goes.
  ASSERT_EQ(topo_->ctl(2, {"port", "add", "tport", "--type", "kernel", "--network", "tenant"}).exit_code, 0);
  t0 = Clock::now();
  ASSERT_EQ(topo_->ctl(3, {"cluster", "network", "del", "tenant"}).exit_code, 0);
  ASSERT_EQ(topo_->ctl(3, {"cluster", "network", "del", "typed"}).exit_code, 0);
  ASSERT_TRUE(eventually(
      [&] {
        for (int r : {1, 3})
          if (!network_on(r, "tenant").is_null() || !find_in(r, {"router", "list"}, "network", "tenant").is_null())
            return false;
        return network_on(1, "typed").is_null() && network_on(3, "typed").is_null();
      },
      5s, 20ms));
  std::printf("cluster: networks gone from the 2 switches without ports on them %.3f s after `cluster network del`\n",
              seconds_since(t0));
  ASSERT_TRUE(eventually([&] { return network_on(2, "typed")["origin"] == "manual"; }, 5s));
  EXPECT_EQ(network_on(2, "tenant")["origin"], "cluster");
  EXPECT_NE(topo_->log(2).find("cluster: network tenant left the cluster but stays here for now"), std::string::npos);
  ASSERT_EQ(topo_->ctl(2, {"port", "del", "tport"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return network_on(2, "tenant").is_null(); }, 2s));
  EXPECT_TRUE(fip_on(3, "203.0.113.42").is_null());
  EXPECT_TRUE(mesh_of({1, 2, 3}));
  EXPECT_TRUE(pings(1, 3));
}

// The same floating IP end to end: the internet pings it through the
// gateway rVM (topology.sh --nat: rVM 1, the reality cloud NATing
// 203.0.113.10 to its underlay address 10.0.0.101) while the guest behind
// it moves from rVM 2 to rVM 3.
class ClusterNatTest : public ClusterTest {
 protected:
  static void SetUpTestSuite() { bring_up(ClusterShape{.nat = true}); }

  // A guest with fixed IP 192.0.2.42 in a namespace of its own, on a
  // kernel port of `rvm` whose port security binds its MAC and IP (what
  // places it in etcd). "" or what failed.
  std::string plug_guest(int rvm) const {
    const CommandResult port = topo_->ctl(rvm, {"port", "add", "guest", "--type", "kernel", "--network", "private",
                                                "--mac", kGuestMac, "--ip", "192.0.2.42"});
    if (port.exit_code != 0) return "port add: " + port.err;
    const std::string guest = topo_->ivm_ns(9, "private");
    const CommandResult moved = topo_->in(topo_->rvm_ns(rvm), "ip link set guest netns " + guest);
    if (moved.exit_code != 0) return "moving the port: " + moved.err;
    const CommandResult up = topo_->in(guest, std::string("ip link set guest address ") + kGuestMac +
                                                  " && ip addr add 192.0.2.42/24 dev guest && ip link set guest mtu "
                                                  "1450 up && ip route add default via 192.0.2.254 && "
                                                  "(ethtool -K guest tx off >/dev/null 2>&1 || true)");
    return up.exit_code == 0 ? "" : "configuring the guest: " + up.err;
  }
  bool internet_pings_fip() const {
    return topo_->in(topo_->ns("client"), "ping -c 1 -W 0.3 203.0.113.10").exit_code == 0;
  }

  static constexpr const char* kGuestMac = "02:00:00:00:0f:42";
};

TEST_F(ClusterNatTest, ClusterFloatingIpCarriesTrafficAndFollowsItsGuest) {
  ASSERT_TRUE(eventually([&] { return mesh_of({1, 2, 3}); }, 15s)) << topo_->log(1);
  ASSERT_EQ(run({binary("TOPOLOGY"), "map", dir_->file("topology"), "203.0.113.10", "10.0.0.101"}).exit_code, 0);
  ASSERT_EQ(topo_->ctl(1, {"gateway", "add", "10.0.0.101", "--public", "203.0.113.10"}).exit_code, 0);
  // The namespace is an iVM's by name, so that topology.sh down removes it.
  ASSERT_EQ(sh("ip netns add " + topo_->ivm_ns(9, "private")).exit_code, 0);
  ASSERT_EQ(plug_guest(2), "");
  ASSERT_EQ(topo_->ctl(1, {"cluster", "fip", "add", "203.0.113.10", "--fixed", "192.0.2.42", "--network", "private"})
                .exit_code,
            0);
  ASSERT_TRUE(eventually([&] { return internet_pings_fip(); }, 10s)) << topo_->ctl(2, {"fip", "list"}).out;
  EXPECT_FALSE(fip_on(2, "203.0.113.10").is_null());

  // The guest moves: its port goes on rVM 2 and comes on rVM 3.
  ASSERT_EQ(topo_->ctl(2, {"port", "del", "guest"}).exit_code, 0);
  const auto t0 = Clock::now();
  ASSERT_EQ(plug_guest(3), "");
  ASSERT_TRUE(eventually([&] { return !fip_on(3, "203.0.113.10").is_null(); }, 5s, 20ms));
  const double served = seconds_since(t0);
  ASSERT_TRUE(eventually([&] { return internet_pings_fip(); }, 10s, 20ms)) << topo_->ctl(3, {"fip", "list"}).out;
  const double back = seconds_since(t0);
  std::printf(
      "cluster: the guest's port added on rVM 3: floating IP served there after %.3f s, pinged from the "
      "internet after %.3f s\n",
      served, back);
  EXPECT_FALSE(fip_on(3, "203.0.113.10").is_null());
  EXPECT_TRUE(fip_on(2, "203.0.113.10").is_null());
  EXPECT_LT(back, 2.0);
}

// Gateway high availability on Figure 4: rVMs 1 and 2 both have the
// gateway role (SNAT on 10.0.0.100 and 10.0.0.102), the mapping
// 203.0.113.10 <-> 10.0.0.101 is in etcd, and the hook plays the reality
// cloud's API: it points the reality router's neighbor entry for the
// mapping's underlay address at the new active gateway's NIC.
class ClusterGatewayTest : public ClusterNatTest {
 protected:
  static void SetUpTestSuite() {
    bring_up(ClusterShape{.nat = true}, [](const TempDir& dir, ClusterShape& shape) -> std::string {
      shape.settings = {"rvm1.cluster.roles=[\"gateway\"]", "rvm2.cluster.roles=[\"gateway\"]",
                        "rvm2.nat.snat_address=\"10.0.0.102\"", "cluster.gateway_hook=\"" + dir.file("hook") + "\""};
      const std::string reality = ns_prefix() + "-reality";
      std::FILE* f = std::fopen(dir.file("hook").c_str(), "w");
      if (f == nullptr) return "cannot write the hook";
      std::fprintf(f,
                   "#!/bin/sh\n"
                   "# HOOK activate|deactivate PUBLIC UNDERLAY, run by inceptiond in its rVM's namespace.\n"
                   "[ \"$1\" = activate ] || exit 0\n"
                   "exec ip netns exec %s ip neigh replace \"$3\" lladdr \"$(cat /sys/class/net/u0/address)\" "
                   "dev %s-rr nud reachable\n",
                   reality.c_str(), ns_prefix().c_str());
      std::fclose(f);
      return sh("chmod +x " + dir.file("hook")).exit_code == 0 ? "" : "chmod of the hook failed";
    });
  }
  // Both tests kill the active gateway; the failover test cuts one from
  // etcd for a while, the star test leaves the data center a star: back to
  // three running, connected switches in a mesh.
  void SetUp() override {
    ClusterNatTest::SetUp();
    for (int r : {1, 2, 3})
      topo_->in(topo_->rvm_ns(r), "iptables -w -D OUTPUT -d " + std::string(kEtcdAddress) + " -j DROP 2>/dev/null");
    ASSERT_EQ(restore({1, 2, 3}), "");
    if (status(3)["topology"] != "mesh") {
      ASSERT_EQ(topo_->ctl(3, {"cluster", "topology", "mesh"}).exit_code, 0);
    }
  }
  std::string role(int rvm) const {
    const nlohmann::json s = status(rvm);
    return s["gateway"]["role"].get<std::string>();
  }
  // The internet server (203.0.113.200) answers TCP 8080 with the address
  // it sees the connection come from. "" or what failed.
  std::string serve_tcp_peer_address() const {
    std::FILE* f = std::fopen(dir_->file("peer.sh").c_str(), "w");
    if (f == nullptr) return "peer.sh: cannot write";
    std::fputs("#!/bin/sh\necho \"$SOCAT_PEERADDR\"\n", f);
    std::fclose(f);
    const CommandResult r = topo_->in(topo_->ns("server"), "chmod +x " + dir_->file("peer.sh") +
                                                               " && setsid socat -t10 TCP-LISTEN:8080,reuseaddr,fork "
                                                               "EXEC:" +
                                                               dir_->file("peer.sh") + " </dev/null >/dev/null 2>&1 &");
    return r.exit_code == 0 ? "" : "internet server: " + r.err;
  }
  std::string tcp_seen_by_server(int rvm) const {
    std::string out =
        topo_->in(topo_->ivm_ns(rvm, "private"), "timeout 3 socat -t2 -T2 - TCP:203.0.113.200:8080 </dev/null").out;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    return out;
  }
  uint64_t snat_sessions_created(int rvm) const {
    return topo_->ctl_json(rvm, {"nat", "show"})["sessions_created"].get<uint64_t>();
  }
};

TEST_F(ClusterGatewayTest, ActiveGatewayKilledOrCutFromEtcdStandbyTakesOverWithinTwoSeconds) {
  ASSERT_TRUE(eventually([&] { return mesh_of({1, 2, 3}); }, 15s)) << topo_->log(1);
  ASSERT_EQ(topo_
                ->in(ns_prefix() + "-reality",
                     "iptables -t nat -A POSTROUTING -s 10.0.0.102 -o inet -j SNAT --to-source 203.0.113.1")
                .exit_code,
            0);
  ASSERT_EQ(serve_tcp_peer_address(), "");
  ASSERT_EQ(run({binary("TOPOLOGY"), "map", dir_->file("topology"), "203.0.113.10", "10.0.0.101"}).exit_code, 0);
  ASSERT_EQ(topo_->ctl(3, {"cluster", "gateway", "add", "10.0.0.101", "--public", "203.0.113.10"}).exit_code, 0);
  ASSERT_EQ(sh("ip netns add " + topo_->ivm_ns(9, "private")).exit_code, 0);
  ASSERT_EQ(plug_guest(3), "");
  ASSERT_EQ(topo_->ctl(3, {"cluster", "fip", "add", "203.0.113.10", "--fixed", "192.0.2.42", "--network", "private"})
                .exit_code,
            0);
  ASSERT_TRUE(eventually([&] { return role(1) == "active" || role(2) == "active"; }, 10s)) << topo_->log(1);
  int active = role(1) == "active" ? 1 : 2;
  int standby = 3 - active;
  // Counters at the start: another test may have run on this topology.
  const uint64_t failovers = status(3)["gateway"]["failovers"].get<uint64_t>();
  const uint64_t active_sessions = snat_sessions_created(active);
  EXPECT_EQ(role(standby), "standby");
  EXPECT_EQ(status(3)["gateway"]["role"], "none");
  EXPECT_EQ(status(3)["gateway"]["leader"], "rvm" + std::to_string(active));
  ASSERT_TRUE(eventually([&] { return internet_pings_fip(); }, 10s))
      << topo_->ctl(3, {"fip", "list"}).out << topo_->log(active);
  // An iVM without a floating IP (iVM 3) leaves through the active
  // gateway's SNAT: a TCP exchange with the internet server.
  ASSERT_TRUE(eventually([&] { return tcp_seen_by_server(3) == "203.0.113.1"; }, 5s));
  EXPECT_GT(snat_sessions_created(active), active_sessions);

  // (a) kill -9 of the active gateway's switch.
  const uint64_t standby_sessions = snat_sessions_created(standby);
  const pid_t killed = topo_->pid(active);
  auto t0 = Clock::now();
  ASSERT_EQ(::kill(killed, SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { return role(standby) == "active"; }, 5s, 20ms)) << topo_->log(standby);
  double took_over = seconds_since(t0);
  ASSERT_TRUE(eventually([&] { return internet_pings_fip(); }, 5s, 10ms)) << topo_->log(standby);
  double back = seconds_since(t0);
  std::printf(
      "cluster: active gateway rVM %d killed (kill -9): rVM %d active after %.3f s, the floating IP answered the "
      "internet again after %.3f s\n",
      active, standby, took_over, back);
  // 2 s is the goal; 0.5 s more absorbs a loaded 2-core host.
  EXPECT_LE(back, 2.5);
  // A new SNAT connection, through the new gateway's own SNAT address.
  EXPECT_TRUE(eventually([&] { return tcp_seen_by_server(3) == "203.0.113.1"; }, 3s));
  EXPECT_GT(snat_sessions_created(standby), standby_sessions);
  EXPECT_EQ(topo_->ctl_json(standby, {"nat", "show"})["snat_settings"]["address"],
            standby == 1 ? "10.0.0.100" : "10.0.0.102");
  EXPECT_EQ(topo_->ctl_json(standby, {"nat", "show"})["gateway_mappings"], 1);

  // (b) The old gateway returns: standby, and no second outage.
  ASSERT_TRUE(eventually([&] { return !running(killed); }, 10s));  // topology.sh start refuses before
  ASSERT_TRUE(topo_->start(active));
  auto t1 = Clock::now();
  int lost = 0, sent = 0;
  while (seconds_since(t1) < 4.0) {
    ++sent;
    if (!internet_pings_fip()) ++lost;
  }
  ASSERT_TRUE(eventually([&] { return mesh_of({1, 2, 3}); }, 10s));
  EXPECT_EQ(role(active), "standby");
  EXPECT_EQ(role(standby), "active");
  std::printf("cluster: the old gateway restarted: %d of %d pings from the internet lost over 4 s\n", lost, sent);
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(status(3)["gateway"]["failovers"], failovers + 1);

  // (c) The active gateway (now the first standby) cut from etcd: it
  // stands down on its own clock before its lease can expire in etcd, the
  // other takes over; never both active in any sample.
  std::swap(active, standby);
  const std::string cut = "iptables -w -I OUTPUT -d " + std::string(kEtcdAddress) + " -j DROP";
  ASSERT_EQ(topo_->in(topo_->rvm_ns(active), cut).exit_code, 0);
  t0 = Clock::now();
  int both = 0;
  double stood_down = -1;
  while (seconds_since(t0) < 5.0 && !(stood_down >= 0 && role(standby) == "active")) {
    const std::string a = role(active), b = role(standby);
    if (a == "active" && b == "active") ++both;
    if (stood_down < 0 && a != "active") stood_down = seconds_since(t0);
  }
  took_over = seconds_since(t0);
  ASSERT_TRUE(eventually([&] { return internet_pings_fip(); }, 5s, 10ms)) << topo_->log(standby);
  back = seconds_since(t0);
  std::printf(
      "cluster: active gateway rVM %d cut from etcd: standby after %.3f s, rVM %d active after %.3f s, the floating "
      "IP answered again after %.3f s; samples with two active gateways: %d\n",
      active, stood_down, standby, took_over, back, both);
  EXPECT_GE(stood_down, 0);
  EXPECT_LT(stood_down, 1.0);  // within the 1 s leader lease: before etcd can hand the key on
  EXPECT_EQ(both, 0);
  EXPECT_LE(back, 2.5);
  // Healed: it stays standby.
  ASSERT_EQ(
      topo_->in(topo_->rvm_ns(active), "iptables -w -D OUTPUT -d " + std::string(kEtcdAddress) + " -j DROP").exit_code,
      0);
  ASSERT_TRUE(eventually([&] { return status(active)["connected"] == true; }, 10s));
  t1 = Clock::now();
  lost = sent = 0;
  while (seconds_since(t1) < 2.0) {
    ++sent;
    if (!internet_pings_fip()) ++lost;
  }
  EXPECT_EQ(role(active), "standby");
  EXPECT_EQ(role(standby), "active");
  EXPECT_EQ(lost, 0) << "of " << sent;
}

// A data center as a star (`cluster topology star`): the active gateway is
// the hub, peering with every member and relaying between them; the others
// peer with it alone, back to a mesh on `cluster topology mesh`, and after
// kill -9 of the hub they follow the new active gateway.
TEST_F(ClusterGatewayTest, AStarDataCenterFollowsItsHubThroughAFailover) {
  ASSERT_TRUE(eventually([&] { return mesh_of({1, 2, 3}); }, 15s)) << topo_->log(1);
  ASSERT_TRUE(eventually([&] { return role(1) == "active" || role(2) == "active"; }, 10s)) << topo_->log(1);
  const int hub = role(1) == "active" ? 1 : 2;
  const int standby = 3 - hub;
  const auto star_of = [&](int center, const std::set<int>& spokes) {
    if (!has_peers(center, spokes)) return false;
    for (int spoke : spokes)
      if (!has_peers(spoke, {center})) return false;
    return true;
  };
  const CommandResult set = topo_->ctl(3, {"cluster", "topology", "star"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(set.out, "data center dc1: a star around its active gateway (written to etcd)\n");
  ASSERT_TRUE(eventually(
      [&] {
        return star_of(hub, {standby, 3});
      },
      5s))
      << topo_->ctl(3, {"network", "show", "private"}).out;
  EXPECT_EQ(status(standby)["topology"], "star");
  // Spokes reach each other through the hub only.
  EXPECT_TRUE(eventually([&] { return pings(3, standby) && pings(standby, 3); }, 10s));

  ASSERT_EQ(topo_->ctl(3, {"cluster", "topology", "mesh"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return mesh_of({1, 2, 3}); }, 5s));
  ASSERT_EQ(topo_->ctl(3, {"cluster", "topology", "star"}).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return star_of(hub, {standby, 3}); }, 5s));

  const auto killed = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(topo_->pid(hub), SIGKILL), 0);
  ASSERT_TRUE(eventually([&] { return star_of(standby, {3}); }, 5s))
      << topo_->ctl(3, {"network", "show", "private"}).out;
  EXPECT_TRUE(eventually([&] { return pings(3, standby); }, 5s));
  std::printf("cluster: star's hub killed: rVM 3 peered with the new hub and pinging it %.2f s later\n",
              seconds_since(killed));
  // A topology key written by hand with a bad value is refused and changes nothing.
  ASSERT_EQ(etcdctl("put /inception/v1/topology/dc1 '{\"mode\": \"ring\"}'").exit_code, 0);
  EXPECT_TRUE(eventually([&] { return refused(3).contains("/inception/v1/topology/dc1"); }, 5s));
  EXPECT_EQ(refused(3)["/inception/v1/topology/dc1"], "expected {\"mode\": \"mesh\"} or {\"mode\": \"star\"}");
  EXPECT_EQ(status(3)["topology"], "star");
  EXPECT_TRUE(has_peers(3, {standby}));
}

}  // namespace
}  // namespace inception::test
