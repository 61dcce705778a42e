// Debian's real Prometheus against a switch that forwards frames: the
// shipped rules (deploy/prometheus/inception.rules.yml) pass promtool, a
// scrape passes `promtool check metrics`, Prometheus evaluates every rule
// without error, and a recorded series sees the traffic.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>

#include "harness.h"

namespace inception::test {
namespace {

constexpr const char* kMac1 = "02:00:00:00:00:01";
constexpr const char* kMac2 = "02:00:00:00:00:02";

std::string port_toml(const std::string& name, const std::string& socket) {
  return "[[port]]\nname = \"" + name + "\"\ntype = \"vhost-user\"\nsocket = \"" + socket +
         "\"\nmode = \"server\"\nnetwork = \"private\"\n";
}

// GET `path` from Prometheus's HTTP API; the JSON body, or null. With
// curl: the API answers in chunks, which http_fetch does not decode.
nlohmann::json api(int port, const std::string& path) {
  const CommandResult reply =
      run({"curl", "-sf", "--max-time", "5", "http://127.0.0.1:" + std::to_string(port) + path}, 10s);
  if (reply.exit_code != 0) return nullptr;
  auto json = nlohmann::json::parse(reply.out, nullptr, false);
  return json.is_discarded() ? nullptr : json;
}

TEST(Prometheus, ScrapesTheSwitchAndEvaluatesTheShippedRules) {
  const std::string rules = binary("PROMETHEUS_RULES");
  const CommandResult checked = run({"promtool", "check", "rules", rules});
  ASSERT_EQ(checked.exit_code, 0) << checked.out << checked.err;

  TempDir dir("prometheus");
  Daemon daemon(dir, "[[network]]\nname = \"private\"\nvni = 1001\n" + port_toml("p1", dir.file("p1.sock")) +
                         port_toml("p2", dir.file("p2.sock")));
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  VportPeer p1(dir, dir.file("p1.sock"), "p1");
  VportPeer p2(dir, dir.file("p2.sock"), "p2");
  ASSERT_TRUE(p1.wait_ready() && p2.wait_ready()) << daemon.log();
  ASSERT_TRUE(daemon.wait_links_up()) << daemon.log();

  // Every metric family as Prometheus's linter wants it (names, units,
  // counters ending in _total, help text).
  const HttpReply scrape = http_fetch(daemon.metrics_port(), "/metrics");
  ASSERT_EQ(scrape.status, 200) << scrape.error;
  std::ofstream(dir.file("scrape.txt")) << scrape.body;
  const CommandResult linted = run({"sh", "-c", "promtool check metrics < " + dir.file("scrape.txt")});
  EXPECT_EQ(linted.exit_code, 0) << linted.out << linted.err;

  const int port = free_tcp_port();
  std::ofstream(dir.file("prometheus.yml")) << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                                            << "rule_files: [\"" << rules << "\"]\n"
                                            << "scrape_configs:\n  - job_name: inceptiond\n    static_configs:\n"
                                            << "      - targets: [\"127.0.0.1:" << daemon.metrics_port() << "\"]\n";
  Process prometheus(
      {"prometheus", "--config.file=" + dir.file("prometheus.yml"), "--storage.tsdb.path=" + dir.file("tsdb"),
       "--web.listen-address=127.0.0.1:" + std::to_string(port), "--log.level=warn"},
      dir.file("prometheus.log"));

  // p2 announces itself, then p1 sends to it while Prometheus scrapes.
  ASSERT_EQ(p2.send("ff:ff:ff:ff:ff:ff", kMac2, "hello"), 1u);
  ASSERT_TRUE(p1.wait_for("hello"));
  double rx_pps = 0;
  const bool recorded = eventually(
      [&] {
        p1.send(kMac2, kMac1, "load", 50);
        const auto reply = api(port, "/api/v1/query?query=inception:rx_pps");
        if (reply.is_null() || reply["data"]["result"].empty()) return false;
        rx_pps = std::stod(reply["data"]["result"][0]["value"][1].get<std::string>());
        return rx_pps > 0;
      },
      60s, 200ms);
  ASSERT_TRUE(recorded) << "inception:rx_pps never above 0\n" << daemon.log();
  EXPECT_GT(p2.count("load"), 0u);

  // Every rule of the file loaded and evaluated, none with an error.
  std::set<std::string> healthy;
  std::string problems;
  const bool evaluated = eventually(
      [&] {
        const auto reply = api(port, "/api/v1/rules");
        if (reply.is_null()) return false;
        healthy.clear();
        problems.clear();
        for (const auto& group : reply["data"]["groups"])
          for (const auto& rule : group["rules"]) {
            if (rule["health"] == "ok")
              healthy.insert(rule["name"].get<std::string>());
            else
              problems += rule["name"].get<std::string>() + ": " + rule["health"].get<std::string>() + " " +
                          rule.value("lastError", "") + "\n";
          }
        return problems.empty() && healthy.size() == 14;
      },
      30s, 500ms);
  EXPECT_TRUE(evaluated) << healthy.size() << " healthy rules; not:\n" << problems;
  for (const char* name : {"inception:rx_pps", "inception:worker_busy_ratio", "InceptionSnatTableNearFull",
                           "InceptionClusterDisconnected", "InceptionPeerUnresolved"})
    EXPECT_TRUE(healthy.contains(name)) << name;
  EXPECT_EQ(prometheus.stop(), 0);
}

}  // namespace
}  // namespace inception::test
