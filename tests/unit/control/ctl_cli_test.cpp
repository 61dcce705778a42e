// inceptionctl's argument parsing: what request each command line becomes,
// and which command lines are refused before anything is sent.
#include "control/ctl_cli.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace inception {
namespace {

CtlParse parse(std::vector<std::string> args) {
  args.insert(args.begin(), "inceptionctl");
  return parse_ctl_args(args);
}

TEST(CtlCli, NetworkCommands) {
  auto p = parse({"network", "add", "private", "--vni", "1001"});
  ASSERT_TRUE(p.ok) << p.output;
  EXPECT_EQ(p.invocation.command, "network.add");
  EXPECT_EQ(p.invocation.request["args"]["name"], "private");
  EXPECT_EQ(p.invocation.request["args"]["vni"], 1001);
  EXPECT_EQ(p.invocation.request["version"], 1);
  p = parse({"network", "del", "private"});
  ASSERT_TRUE(p.ok);
  EXPECT_EQ(p.invocation.request["args"], nlohmann::json({{"name", "private"}}));
  EXPECT_EQ(parse({"network", "list"}).invocation.command, "network.list");
}

TEST(CtlCli, ClusterNetworkAndFipCommands) {
  auto p = parse({"cluster", "network", "add", "tenant", "--vni", "3003", "--router", "203.0.113.254/24"});
  ASSERT_TRUE(p.ok) << p.output;
  EXPECT_EQ(p.invocation.command, "cluster.network.add");
  // --fdb-limit not given: not sent, so the key keeps the default implicit.
  EXPECT_EQ(p.invocation.request["args"],
            nlohmann::json({{"name", "tenant"}, {"vni", 3003}, {"router", "203.0.113.254/24"}}));
  p = parse({"cluster", "network", "add", "tenant", "--vni", "3003", "--fdb-limit", "512"});
  EXPECT_EQ(p.invocation.request["args"], nlohmann::json({{"name", "tenant"}, {"vni", 3003}, {"fdb_limit", 512}}));
  const auto out_of_range = parse({"cluster", "network", "add", "tenant", "--vni", "0"});
  EXPECT_FALSE(out_of_range.ok);
  EXPECT_NE(out_of_range.exit_code, 0);
  EXPECT_EQ(parse({"cluster", "network", "del", "tenant"}).invocation.request["args"],
            nlohmann::json({{"name", "tenant"}}));
  EXPECT_EQ(parse({"cluster", "network", "list"}).invocation.command, "cluster.network.list");
  p = parse({"cluster", "fip", "add", "203.0.113.42", "--fixed", "192.0.2.42", "--network", "private"});
  ASSERT_TRUE(p.ok) << p.output;
  EXPECT_EQ(p.invocation.request["args"],
            nlohmann::json({{"public", "203.0.113.42"}, {"fixed", "192.0.2.42"}, {"network", "private"}}));
  EXPECT_NE(parse({"cluster", "fip", "add", "203.0.113.42", "--fixed", "nope", "--network", "private"}).exit_code, 0);
  EXPECT_EQ(parse({"cluster", "fip", "del", "203.0.113.42"}).invocation.command, "cluster.fip.del");
  EXPECT_EQ(parse({"cluster", "fip", "list"}).invocation.command, "cluster.fip.list");
  EXPECT_EQ(render_result("cluster.network.add", {{"message", "network tenant (VNI 3003) written"}}),
            "network tenant (VNI 3003) written\n");
}

TEST(CtlCli, PortAddVhostUserAndKernel) {
  auto p = parse({"--socket", "/tmp/s.sock", "port", "add", "ivm1", "--type", "vhost-user", "--socket",
                  "/run/ivm1.sock", "--server", "--network", "private", "--queues", "2"});
  ASSERT_TRUE(p.ok) << p.output;
  EXPECT_EQ(p.invocation.socket, "/tmp/s.sock");
  const auto& a = p.invocation.request["args"];
  EXPECT_EQ(a["name"], "ivm1");
  EXPECT_EQ(a["type"], "vhost-user");
  EXPECT_EQ(a["socket"], "/run/ivm1.sock");
  EXPECT_EQ(a["mode"], "server");
  EXPECT_EQ(a["queues"], 2);
  EXPECT_EQ(a["network"], "private");
  EXPECT_EQ(a["offloads"], true) << "offloads are on by default";
  EXPECT_EQ(a["coalesce"], true) << "and so is joining segments";

  p = parse({"port", "add", "ivm2", "--type", "vhost-user", "--socket", "/run/ivm2.sock", "--network", "private",
             "--offloads", "off"});
  ASSERT_TRUE(p.ok) << p.output;
  EXPECT_EQ(p.invocation.request["args"]["offloads"], false);
  p = parse({"port", "add", "ivm2", "--type", "vhost-user", "--socket", "/run/ivm2.sock", "--network", "private",
             "--coalesce", "off"});
  ASSERT_TRUE(p.ok) << p.output;
  EXPECT_EQ(p.invocation.request["args"]["coalesce"], false);
  EXPECT_EQ(p.invocation.request["args"]["offloads"], true);
  p = parse({"port", "add", "eth2", "--type", "kernel", "--network", "public", "--coalesce", "on"});
  EXPECT_FALSE(p.ok);
  p = parse({"port", "add", "ivm2", "--type", "vhost-user", "--socket", "/run/ivm2.sock", "--network", "private",
             "--offloads", "maybe"});
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.output.find("--offloads"), std::string::npos) << p.output;
  p = parse({"port", "add", "eth2", "--type", "kernel", "--network", "public", "--offloads", "off"});
  EXPECT_FALSE(p.ok);

  p = parse({"port", "add", "eth1", "--type", "kernel", "--network", "public"});
  ASSERT_TRUE(p.ok) << p.output;
  EXPECT_EQ(p.invocation.request["args"]["type"], "kernel");
  EXPECT_FALSE(p.invocation.request["args"].contains("socket"));
  EXPECT_EQ(p.invocation.socket, kDefaultControlSocket);
}

TEST(CtlCli, FdbStatsAndConfigCommands) {
  auto p = parse({"fdb", "add", "private", "02:AA:00:00:00:01", "ivm1"});
  ASSERT_TRUE(p.ok) << p.output;
  EXPECT_EQ(p.invocation.request["args"]["mac"], "02:aa:00:00:00:01");  // normalised
  EXPECT_EQ(parse({"fdb", "show"}).invocation.request["args"], nlohmann::json::object());
  EXPECT_EQ(parse({"fdb", "show", "public"}).invocation.request["args"]["network"], "public");
  EXPECT_EQ(parse({"fdb", "del", "private", "02:aa:00:00:00:01"}).invocation.command, "fdb.del");
  p = parse({"--json", "stats"});
  EXPECT_TRUE(p.invocation.json_output);
  EXPECT_EQ(p.invocation.command, "stats");
  EXPECT_EQ(parse({"config", "show"}).invocation.command, "config.show");
}

TEST(CtlCli, OverlayCommands) {
  auto p = parse({"network", "add", "public", "--vni", "1002", "--peer", "10.0.0.12", "--peer", "10.0.0.13", "--hub"});
  ASSERT_TRUE(p.ok) << p.output;
  EXPECT_EQ(p.invocation.request["args"]["peers"], nlohmann::json({"10.0.0.12", "10.0.0.13"}));
  EXPECT_EQ(p.invocation.request["args"]["hub"], true);
  p = parse({"peer", "add", "private", "10.0.0.14"});
  ASSERT_TRUE(p.ok) << p.output;
  EXPECT_EQ(p.invocation.command, "peer.add");
  EXPECT_EQ(p.invocation.request["args"], nlohmann::json({{"network", "private"}, {"ip", "10.0.0.14"}}));
  EXPECT_EQ(parse({"peer", "del", "private", "10.0.0.14"}).invocation.command, "peer.del");
  EXPECT_EQ(parse({"network", "show", "private"}).invocation.command, "network.show");
  EXPECT_EQ(parse({"neigh", "show"}).invocation.command, "neigh.show");
  p = parse({"neigh", "add", "10.0.0.1", "02:00:00:00:00:AA"});
  ASSERT_TRUE(p.ok) << p.output;
  EXPECT_EQ(p.invocation.request["args"]["mac"], "02:00:00:00:00:aa");
  EXPECT_FALSE(parse({"peer", "add", "private", "10.0.0"}).ok);
  EXPECT_FALSE(parse({"network", "add", "x", "--vni", "5", "--peer", "banana"}).ok);
  EXPECT_FALSE(parse({"neigh", "add", "10.0.0.1", "zz:00:00:00:00:00"}).ok);
}

TEST(CtlCli, RefusesBadArgumentsWithAReason) {
  auto p = parse({"network", "add", "private"});
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.exit_code, 0);
  EXPECT_NE(p.output.find("--vni is required"), std::string::npos) << p.output;

  p = parse({"network", "add", "private", "--vni", "16777216"});
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.output.find("16777216"), std::string::npos) << p.output;

  p = parse({"fdb", "add", "private", "02:00:00:00:00", "ivm1"});
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.output.find("'02:00:00:00:00' is not a MAC address"), std::string::npos) << p.output;

  p = parse({"port", "add", "x", "--type", "tap", "--network", "n"});
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.output.find("tap"), std::string::npos) << p.output;

  p = parse({"port", "add", "x", "--type", "vhost-user", "--network", "n"});
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.output, "port add: a vhost-user port needs --socket PATH\n");

  p = parse({"port", "add", "x", "--type", "kernel", "--network", "n", "--server"});
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.output, "port add: --socket, --server, --offloads and --coalesce apply to vhost-user ports only\n");

  p = parse({"frobnicate"});
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.exit_code, 0);
  p = parse({});
  EXPECT_FALSE(p.ok);
  EXPECT_NE(p.exit_code, 0);
}

TEST(CtlCli, HelpAndVersionExitZero) {
  auto p = parse({"--help"});
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.exit_code, 0);
  EXPECT_NE(p.output.find("network"), std::string::npos);
  p = parse({"--version"});
  EXPECT_EQ(p.exit_code, 0);
  EXPECT_NE(p.output.find("inceptionctl " INCEPTION_VERSION), std::string::npos);
}

TEST(CtlCli, RendersTables) {
  const nlohmann::json networks = nlohmann::json::parse(
      R"([{"name":"private","vni":1001,"fdb_limit":8192,"ports":["ivm1","ivm2"],"fdb_dynamic":2,"fdb_static":1,"fdb_limit_hits":0,"fdb_moves":0,"origin":"manual,cluster"}])");
  EXPECT_EQ(render_result("network.list", networks),
            "NETWORK  VNI   PORTS      FDB(dyn+static/limit)  ORIGIN\n"
            "private  1001  ivm1,ivm2  2+1/8192               manual,cluster\n");
  const nlohmann::json fdb = nlohmann::json::parse(
      R"([{"network":"private","mac":"02:00:00:00:00:01","port":"ivm1","type":"dynamic","age_s":3}])");
  EXPECT_EQ(render_result("fdb.show", fdb),
            "NETWORK  MAC                PORT  TYPE     AGE(s)\n"
            "private  02:00:00:00:00:01  ivm1  dynamic  3\n");
}

// A 2-queue guest reads down the PORT column: one queue under each worker.
TEST(CtlCli, RendersWorkerQueues) {
  const nlohmann::json workers = nlohmann::json::parse(
      R"([{"worker":0,"lcore":1,"rx":[{"port":"ivm1","queue":0,"enabled":true},{"port":"ivm2","queue":1,"enabled":false}],
           "tx":[{"port":"ivm1","queue":0},{"port":"ivm2","queue":0}]},
          {"worker":1,"lcore":2,"rx":[{"port":"ivm1","queue":1,"enabled":true},{"port":"ivm2","queue":0,"enabled":true}],
           "tx":[{"port":"ivm1","queue":1},{"port":"ivm2","queue":null}]}])");
  EXPECT_EQ(render_result("worker.list", workers),
            "WORKER  LCORE  PORT  RX_QUEUES     TX_QUEUE\n"
            "0       1      ivm1  0 (enabled)   0\n"
            "0       1      ivm2  1 (disabled)  0\n"
            "1       2      ivm1  1 (enabled)   1\n"
            "1       2      ivm2  0 (enabled)   -\n");
  EXPECT_TRUE(parse({"worker", "list"}).ok);
}

// Shell completion walks the parser's own app: the words it offers are the
// subcommands and options of the command the typed words lead to.
TEST(CtlCli, CompletionFollowsTheParser) {
  using Words = std::vector<std::string>;
  const Words top = ctl_completions({});
  for (const char* verb : {"network", "port", "fdb", "peer", "neigh", "router", "fip", "gateway", "nat", "libvirt",
                           "cluster", "stats", "top", "config"})
    EXPECT_NE(std::find(top.begin(), top.end(), verb), top.end()) << verb;
  EXPECT_NE(std::find(top.begin(), top.end(), "--socket"), top.end());
  EXPECT_EQ(ctl_completions({"network"}), (Words{"add", "show", "del", "list", "--help"}));
  // An option's value is not a verb: after `--socket port`, still the top level.
  EXPECT_EQ(ctl_completions({"--socket", "port"}), top);
  EXPECT_EQ(ctl_completions({"--socket=/tmp/s", "cluster", "fip"}), (Words{"add", "del", "list", "--help"}));
  EXPECT_EQ(ctl_completions({"-j", "cluster", "fip"}), (Words{"add", "del", "list", "--help"}));
  // Positional arguments keep the command: port add's options after a name.
  const Words port_add = ctl_completions({"port", "add", "ivm1"});
  EXPECT_NE(std::find(port_add.begin(), port_add.end(), "--network"), port_add.end());
  EXPECT_NE(std::find(port_add.begin(), port_add.end(), "--type"), port_add.end());
}

}  // namespace
}  // namespace inception
