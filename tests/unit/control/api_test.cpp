// The control socket's request handler (handle_request_line) on a real
// Controller over a Dataplane whose workers are not started: what any
// client of the socket can send, including bytes that are not JSON or not
// UTF-8, gets one JSON response line and leaves the daemon running.
#include "control/api.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "control/protocol.h"
#include "inception/log.h"

namespace inception::test {
namespace {

class ApiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    log::set_level(log::Level::kError);
    DataplaneOptions options;
    options.worker_lcores = {1};  // never started
    options.mbufs = 2048;
    dataplane_ = new Dataplane(options);
  }
  static void TearDownTestSuite() {
    delete dataplane_;
    dataplane_ = nullptr;
  }
  void SetUp() override {
    config_.metrics.enabled = false;
    controller_ = std::make_unique<Controller>(config_, *dataplane_);
    controller_->apply(config_);
  }

  nlohmann::json call(const std::string& line) {
    const std::string response = handle_request_line(*controller_, line);
    EXPECT_EQ(response.find('\n'), std::string::npos) << "one response line";
    return nlohmann::json::parse(response);
  }

  static Dataplane* dataplane_;
  Config config_;
  std::unique_ptr<Controller> controller_;
};

Dataplane* ApiTest::dataplane_ = nullptr;

TEST_F(ApiTest, ARequestLineIsAnswered) {
  const auto response = call(R"({"version":1,"command":"network.add","args":{"name":"blue","vni":2001}})");
  EXPECT_EQ(response["ok"], true);
  EXPECT_EQ(call(R"({"version":1,"command":"network.list"})")["result"][0]["name"], "blue");
}

// Found by tests/fuzz/control_fuzz.cpp: the parser's error message quotes
// the bytes it stopped at, and serialising a response holding bytes that
// are not UTF-8 threw, out of the control thread: the daemon aborted.
TEST_F(ApiTest, BytesThatAreNotUtf8GetAnErrorNotACrash) {
  const auto response = call(
      "{\"version\":\xff\xff\xff\xff\xff\xff\xff\xff"
      "1,\"command\":\"stats\",\"args\":{}}");
  EXPECT_EQ(response["ok"], false);
  EXPECT_TRUE(response["error"].get<std::string>().starts_with("malformed request: ")) << response;
  // Inside a string, too.
  EXPECT_EQ(call("{\"version\":1,\"command\":\"\xc3\x28\"}")["ok"], false);
  EXPECT_EQ(call(R"({"version":1,"command":"network.list"})")["ok"], true) << "and the next request is served";
}

// Found by tests/fuzz/control_fuzz.cpp: numbers were converted to their
// field's type whatever they were. A float out of the type's range is
// undefined behaviour (UBSan stopped the daemon on "version": 3.9e32), a
// float was truncated (version 1.5 was 1) and an integer out of range
// wrapped (VNI 2^32 + 1001 became VNI 1001).
TEST_F(ApiTest, NumbersMustBeIntegersInTheirFieldsRange) {
  for (const char* version : {"388888888888888888888888888888888", "1.5", "1.0", "-4294967295"}) {
    const auto response = call(std::string(R"({"version":)") + version + R"(,"command":"network.list"})");
    EXPECT_EQ(response["ok"], false) << version;
    EXPECT_TRUE(response["error"].get<std::string>().starts_with("version: ") ||
                response["error"] == "unsupported protocol version (this inceptiond speaks 1)")
        << response;
  }
  const auto wrapped = call(R"({"version":1,"command":"network.add","args":{"name":"blue","vni":4294968297}})");
  EXPECT_EQ(wrapped["ok"], false);
  EXPECT_EQ(wrapped["error"], "network.add: vni: 4294968297 is out of range (1..16777215)");
  EXPECT_EQ(call(R"({"version":1,"command":"network.list"})")["result"].size(), 0u) << "no VNI 1001 network";
  const auto fraction =
      call(R"({"version":1,"command":"network.add","args":{"name":"blue","vni":1001,"fdb_limit":1e3}})");
  EXPECT_EQ(fraction["error"], "network.add: fdb_limit: expected an integer, got 1000.0");
  EXPECT_EQ(call(R"({"version":1,"command":"nat.sessions","args":{"limit":1e300}})")["error"],
            "nat.sessions: limit: expected an integer, got 1e+300");
  // A port's fields, as inceptionctl sends them.
  const nlohmann::json port = {
      {"name", "ivm1"}, {"type", "vhost-user"}, {"network", "blue"}, {"socket", "/run/x.sock"}};
  nlohmann::json queues = port;
  queues["queues"] = 65537;  // would wrap to 1
  EXPECT_THROW(queues.get<PortConfig>(), std::invalid_argument);
  nlohmann::json mac_limit = port;
  mac_limit["mac_limit"] = -1;  // would wrap to 4294967295, no quota at all
  try {
    mac_limit.get<PortConfig>();
    ADD_FAILURE() << "mac_limit -1 was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "mac_limit: -1 is out of range (0..16777216)");
  }
}

}  // namespace
}  // namespace inception::test

namespace inception::test {
namespace {

// A guest migrating in is plugged before it runs here: its MAC stays where
// its traffic goes (learned from the rVM it leaves) until the libvirt
// module binds it; a guest migrating away releases it at the switch-over.
TEST_F(ApiTest, APortsBoundMacsArePinnedOnlyWhileItsGuestRunsHere) {
  controller_->add_network({.name = "private", .vni = 1001});
  const std::string dir = "/tmp/inception-api-test-" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  PortConfig port;
  port.name = "mover";
  port.network = "private";
  port.socket = dir + "/mover.sock";
  port.server = true;  // the switch makes the socket: no guest needed
  port.queues = 1;
  port.macs = {*MacAddress::parse("52:54:00:00:00:42")};
  controller_->add_port(port, Origin{"vm", "0b6e4c1a-7d2e-4f4e-9a55-3f1c0f0a0042"}, /*bind_macs=*/false);
  auto entries = [&] { return controller_->fdb("private"); };
  EXPECT_TRUE(entries().empty()) << "plugged for a guest that does not run here yet";
  EXPECT_FALSE(controller_->ports()[0].macs_bound);
  EXPECT_EQ(call(R"({"version":1,"command":"port.list"})")["result"][0]["macs_bound"], false);

  controller_->bind_port_macs("mover", true);
  ASSERT_EQ(entries().size(), 1u);
  EXPECT_EQ(entries()[0].port, "mover");
  EXPECT_TRUE(entries()[0].is_static);

  controller_->bind_port_macs("mover", false);
  EXPECT_TRUE(entries().empty()) << "released for the rVM the guest moves to";

  // Another port holding the MAC keeps it: binding is refused, by name.
  PortConfig other = port;
  other.name = "holder";
  other.socket = dir + "/holder.sock";
  controller_->add_port(other);
  try {
    controller_->bind_port_macs("mover", true);
    ADD_FAILURE() << "bound a MAC another port holds";
  } catch (const ControlError& e) {
    EXPECT_STREQ(e.what(), "port mover: MAC 52:54:00:00:00:42 is already bound to port holder on network private");
  }
  controller_->remove_all_ports();
  std::filesystem::remove_all(dir);
}

// During a live migration the floating IP exists on both rVMs, but only the
// one where the guest runs claims it; the other keeps the translation ready.
TEST_F(ApiTest, AFloatingIpIsClaimedOnlyWhileActive) {
  controller_->add_network({.name = "private", .vni = 1001});
  controller_->add_network({.name = "public", .vni = 1002});
  const Origin origin{"vm", "0b6e4c1a-7d2e-4f4e-9a55-3f1c0f0a0043"};
  controller_->add_fip("203.0.113.10", "192.0.2.50", "private", origin, /*active=*/false);
  auto listed = [&] { return call(R"({"version":1,"command":"fip.list"})")["result"]; };
  ASSERT_EQ(listed().size(), 1u);
  EXPECT_EQ(listed()[0]["active"], false);
  EXPECT_FALSE(controller_->nat().fips[0].active);

  controller_->activate_fip("203.0.113.10", true);
  EXPECT_EQ(listed()[0]["active"], true);
  controller_->activate_fip("203.0.113.10", false);
  EXPECT_EQ(listed()[0]["active"], false);
  try {
    controller_->activate_fip("203.0.113.11", true);
    ADD_FAILURE() << "activated a floating IP that does not exist";
  } catch (const ControlError& e) {
    EXPECT_STREQ(e.what(), "floating IP 203.0.113.11 does not exist");
  }
  // Added by hand (inceptionctl), a floating IP is active at once.
  controller_->add_fip("203.0.113.12", "192.0.2.51", "private");
  EXPECT_EQ(listed()[1]["active"], true);
  controller_->del_fip("203.0.113.10", /*force=*/true);
  controller_->del_fip("203.0.113.12");
}

// The origin rules of cluster mode's networks (docs/cluster.md "Origins"):
// the cluster removes only what it brought, a hand removes only what was
// typed, and one network wanted by both stays until neither wants it.
TEST_F(ApiTest, ANetworkTypedAndFromTheClusterStaysUntilNeitherWantsIt) {
  const auto origin = [&](const std::string& name) {
    return call(R"({"version":1,"command":"network.show","args":{"name":")" + name + R"("}})")["result"]["origin"];
  };
  NetworkConfig tenant;
  tenant.name = "tenant";
  tenant.vni = 3003;
  controller_->add_network(tenant, /*from_cluster=*/true);
  EXPECT_EQ(origin("tenant"), "cluster");
  const auto refused = call(R"({"version":1,"command":"network.del","args":{"name":"tenant"}})");
  EXPECT_EQ(refused["ok"], false);
  EXPECT_EQ(refused["error"],
            "network tenant comes from the cluster: `inceptionctl cluster network del tenant` deletes it on every rVM");
  // Typed with the same VNI: adopted, not refused as a duplicate.
  EXPECT_EQ(call(R"({"version":1,"command":"network.add","args":{"name":"tenant","vni":3003}})")["ok"], true);
  EXPECT_EQ(origin("tenant"), "manual,cluster");
  controller_->del_network("tenant", /*from_cluster=*/true);
  EXPECT_EQ(origin("tenant"), "manual");
  EXPECT_THROW(controller_->del_network("tenant", true), ControlError);

  // A typed network and a cluster key of the same name but another VNI.
  NetworkConfig other = tenant;
  other.vni = 3999;
  try {
    controller_->add_network(other, true);
    ADD_FAILURE() << "another VNI was adopted";
  } catch (const ControlError& e) {
    EXPECT_STREQ(e.what(), "network tenant already exists here with VNI 3003 (typed); VNI 3999 refused");
  }
  EXPECT_EQ(origin("tenant"), "manual");
  // Adopted, then deleted by hand: the cluster's from then on.
  controller_->add_network(tenant, true);
  EXPECT_EQ(call(R"({"version":1,"command":"network.del","args":{"name":"tenant"}})")["ok"], true);
  EXPECT_EQ(origin("tenant"), "cluster");
  controller_->del_network("tenant", true);
  EXPECT_EQ(call(R"({"version":1,"command":"network.list"})")["result"], nlohmann::json::array());
}

}  // namespace
}  // namespace inception::test
