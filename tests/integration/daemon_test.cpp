// inceptiond's life cycle and inceptionctl's errors, as a user meets them.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "harness.h"

namespace inception::test {
namespace {

namespace fs = std::filesystem;

const std::string kNetworks =
    "[[network]]\nname = \"private\"\nvni = 1001\n[[network]]\nname = \"public\"\nvni = 1002\n";

TEST(Daemon, StopsCleanlyOnSigtermAndSigint) {
  TempDir dir("daemon");
  for (int signal_number : {15, 2}) {
    Daemon daemon(dir, kNetworks + "[[port]]\nname = \"v1\"\ntype = \"vhost-user\"\nsocket = \"" + dir.file("v1.sock") +
                           "\"\nmode = \"server\"\nnetwork = \"private\"\n");
    ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
    EXPECT_TRUE(fs::exists(daemon.socket()));
    EXPECT_TRUE(fs::exists(dir.file("v1.sock")));
    EXPECT_EQ(daemon.process().stop(signal_number), 0) << daemon.log();
    EXPECT_FALSE(fs::exists(daemon.socket())) << "control socket left behind";
    EXPECT_FALSE(fs::exists(dir.file("v1.sock"))) << "vhost-user socket left behind";
    EXPECT_NE(daemon.log().find("stopped"), std::string::npos);
  }
}

// SIGTERM stops a switch with guests attached, just after a scrape (the
// metrics server then starts a fresh 2 s wait for connections, which the stop
// used to sit out), within a second; and it still removes its sockets.
TEST(Daemon, StopsPromptlyOnSigterm) {
  TempDir dir("sigterm");
  std::string body = kNetworks;
  for (const char* name : {"v1", "v2"})
    body += std::string("[[port]]\nname = \"") + name + "\"\ntype = \"vhost-user\"\nsocket = \"" +
            dir.file(std::string(name) + ".sock") + "\"\nmode = \"server\"\nnetwork = \"private\"\nqueues = 1\n";
  std::vector<long> measured;
  for (int round = 0; round < 3; ++round) {
    Daemon daemon(dir, body);
    ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
    VportPeer v1(dir, dir.file("v1.sock"), "v1"), v2(dir, dir.file("v2.sock"), "v2");
    ASSERT_TRUE(v1.wait_ready() && v2.wait_ready()) << daemon.log();
    ASSERT_TRUE(eventually([&] {
      for (const auto& p : daemon.ctl_json({"port", "list"}))
        if (p["link"] != "up") return false;
      return true;
    })) << daemon.log();
    ASSERT_EQ(http_fetch(daemon.metrics_port(), "/metrics").status, 200);

    const auto start = Clock::now();
    EXPECT_EQ(daemon.process().stop(SIGTERM), 0) << daemon.log();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
    measured.push_back(static_cast<long>(ms));
    EXPECT_FALSE(fs::exists(daemon.socket())) << "control socket left behind";
    EXPECT_FALSE(fs::exists(dir.file("v1.sock"))) << "vhost-user socket left behind";
    EXPECT_NE(daemon.log().find("stopped"), std::string::npos);
  }
  std::printf("[ measured ] SIGTERM to exit: %ld, %ld, %ld ms\n", measured[0], measured[1], measured[2]);
  // The daemon's own steps take about 40 ms; the rest is the kernel and the
  // scheduler, which a loaded machine slows now and then: the median must be
  // under a second (it was 2.07 s), the slowest under two.
  std::sort(measured.begin(), measured.end());
  EXPECT_LT(measured[1], 1000) << "median of 3";
  EXPECT_LT(measured[2], 2000) << "slowest of 3";
}

// The metrics endpoint serves scrapes while a client that connected without
// sending a request (a port scan, a stuck scraper) sits on a connection, and
// the server drops that client after a short request timeout.
TEST(Daemon, ASilentClientDoesNotHoldUpScrapes) {
  TempDir dir("silent");
  Daemon daemon(dir, kNetworks);
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  const int silent = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(daemon.metrics_port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(silent, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  // Let the server hand the silent connection to a thread first.
  std::this_thread::sleep_for(200ms);

  const auto start = Clock::now();
  const HttpReply reply = http_fetch(daemon.metrics_port(), "/metrics", 0ms, 1500ms);
  EXPECT_EQ(reply.status, 200) << reply.error;
  EXPECT_NE(reply.body.find("inception_build_info{"), std::string::npos);
  std::printf("[ measured ] scrape beside a silent client: %ld ms\n",
              static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count()));

  // The server closes the silent connection (EOF) after its 1 s request
  // timeout.
  pollfd pfd{silent, POLLIN, 0};
  EXPECT_EQ(poll(&pfd, 1, 3000), 1) << "the silent client was never dropped";
  char byte = 0;
  EXPECT_EQ(recv(silent, &byte, 1, 0), 0);
  close(silent);
}

TEST(Daemon, RejectsABadConfigBeforeStartingAnything) {
  TempDir dir("badconfig");
  const std::string path = dir.file("bad.toml");
  std::ofstream(path) << "[dpdk]\nworker_cores = [1]\nmemroy_mb = 512\n";
  const CommandResult r = run({binary("INCEPTIOND"), "--config", path});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "inceptiond: invalid configuration: " + path + ":3:1: unknown key 'memroy_mb' in [dpdk]\n");
  EXPECT_EQ(r.err.find("EAL"), std::string::npos) << "DPDK must not start on a bad config";

  const CommandResult check = run({binary("INCEPTIOND"), "--check", "--config", path});
  EXPECT_EQ(check.exit_code, 2);
  const CommandResult missing = run({binary("INCEPTIOND"), "--config", dir.file("nope.toml")});
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("nope.toml"), std::string::npos) << missing.err;
}

TEST(Daemon, HelpVersionCheckAndDefaultConfig) {
  const CommandResult help = run({binary("INCEPTIOND"), "--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--config"), std::string::npos);
  const CommandResult version = run({binary("INCEPTIOND"), "--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.out, "inceptiond " INCEPTION_VERSION "\n");
  const CommandResult check = run({binary("INCEPTIOND"), "--check"});
  EXPECT_EQ(check.exit_code, 0);
  EXPECT_EQ(check.out, "<built-in config>: configuration OK\n");
  const CommandResult bad_flag = run({binary("INCEPTIOND"), "--frobnicate"});
  EXPECT_NE(bad_flag.exit_code, 0);
  EXPECT_NE(bad_flag.err.find("frobnicate"), std::string::npos);
}

TEST(Daemon, ASecondDaemonOnTheSameSocketIsRefused) {
  TempDir dir("second");
  Daemon first(dir, kNetworks, "first");
  ASSERT_TRUE(first.wait_ready()) << first.log();
  // Same control socket, different DPDK file prefix.
  std::ifstream in(first.config_path());
  std::stringstream text;
  text << in.rdbuf();
  std::string config = text.str();
  config.replace(config.find("-first\""), 7, "-other\"");
  config.replace(config.find("listen = "), std::string("listen = \"127.0.0.1:").size(), "listen = \"127.0.0.1:1");
  const std::string path = dir.file("second.toml");
  std::ofstream(path) << config;
  const CommandResult r = run({binary("INCEPTIOND"), "--config", path}, 60s);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("control socket " + first.socket() + ": another inceptiond is already running there"),
            std::string::npos)
      << r.err;
  // The first one is unharmed.
  EXPECT_EQ(first.ctl({"network", "list"}).exit_code, 0);
}

class CtlErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = std::make_unique<TempDir>("ctl");
    daemon = std::make_unique<Daemon>(*dir, kNetworks);
    ASSERT_TRUE(daemon->wait_ready()) << daemon->log();
  }
  void expect_error(const std::vector<std::string>& args, const std::string& message) {
    const CommandResult r = daemon->ctl(args);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_EQ(r.err, "inceptionctl: " + message + "\n");
  }
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<Daemon> daemon;
};

TEST_F(CtlErrors, EveryErrorNamesTheObjectAndTheCause) {
  const std::string sock = dir->file("v.sock");
  expect_error({"port", "add", "v1", "--type", "vhost-user", "--socket", sock, "--network", "blue"},
               "port v1: network blue does not exist");
  ASSERT_EQ(
      daemon->ctl({"port", "add", "v1", "--type", "vhost-user", "--socket", sock, "--network", "private"}).exit_code,
      0);
  expect_error({"port", "add", "v1", "--type", "vhost-user", "--socket", dir->file("w.sock"), "--network", "private"},
               "port v1 already exists");
  expect_error({"port", "add", "v2", "--type", "vhost-user", "--socket", sock, "--network", "private"},
               "port v2: socket " + sock + " is already used by port v1");
  expect_error({"port", "add", "v3", "--type", "vhost-user", "--socket", "/nonexistent-dir/v3.sock", "--server",
                "--network", "private"},
               "port v3: vhost-user socket /nonexistent-dir/v3.sock: directory /nonexistent-dir does not exist");
  expect_error({"port", "add", "bad/name", "--type", "kernel", "--network", "private"},
               "port 'bad/name': a name is 1-15 characters of A-Z a-z 0-9 . _ -");
  expect_error({"port", "add", "lo", "--type", "kernel", "--network", "private"},
               "port lo: kernel interface: an interface with this name already exists");
  expect_error({"port", "del", "nope"}, "port nope does not exist");
  expect_error({"network", "add", "private", "--vni", "7"}, "network private already exists");
  expect_error({"network", "add", "other", "--vni", "1001"},
               "network other: VNI 1001 is already used by network private");
  expect_error({"network", "del", "private"}, "network private: 1 port(s) still attached (v1); delete them first");
  expect_error({"network", "del", "nope"}, "network nope does not exist");
  expect_error({"fdb", "show", "nope"}, "network nope does not exist");
  expect_error({"fdb", "add", "public", "02:00:00:00:00:01", "v1"},
               "fdb entry 02:00:00:00:00:01: port v1 is on network private, not public");
  expect_error({"fdb", "add", "private", "02:00:00:00:00:01", "v9"},
               "fdb entry 02:00:00:00:00:01: port v9 does not exist");
  expect_error({"fdb", "add", "private", "01:00:5e:00:00:01", "v1"},
               "fdb entry 01:00:5e:00:00:01: a static entry needs a unicast MAC address");
  // Nothing above changed the switch.
  const auto ports = daemon->ctl_json({"port", "list"});
  ASSERT_EQ(ports.size(), 1u);
  EXPECT_EQ(ports[0]["name"], "v1");
}

TEST_F(CtlErrors, DaemonNotRunning) {
  const CommandResult r = run({binary("INCEPTIONCTL"), "--socket", dir->file("absent.sock"), "port", "list"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "inceptionctl: cannot reach inceptiond at " + dir->file("absent.sock") +
                       ": No such file or directory (is inceptiond running?)\n");
}

TEST_F(CtlErrors, ChangesAreLiveAndConfigShowRoundTrips) {
  ASSERT_EQ(daemon->ctl({"network", "add", "lab", "--vni", "77", "--fdb-limit", "100"}).exit_code, 0);
  ASSERT_EQ(daemon
                ->ctl({"port", "add", "v1", "--type", "vhost-user", "--socket", dir->file("v1.sock"), "--server",
                       "--network", "lab", "--queues", "2"})
                .exit_code,
            0);
  ASSERT_EQ(daemon->ctl({"fdb", "add", "lab", "02:00:00:00:00:07", "v1"}).exit_code, 0);
  const CommandResult list = daemon->ctl({"network", "list"});
  EXPECT_NE(list.out.find("lab      77    v1     0+1/100"), std::string::npos) << list.out;

  // config show is a file inceptiond accepts, and it describes this switch.
  const CommandResult shown = daemon->ctl({"config", "show"});
  ASSERT_EQ(shown.exit_code, 0);
  const std::string path = dir->file("shown.toml");
  std::ofstream(path) << shown.out;
  const CommandResult check = run({binary("INCEPTIOND"), "--check", "--config", path});
  EXPECT_EQ(check.exit_code, 0) << check.err << shown.out;
  EXPECT_NE(shown.out.find("name = 'lab'"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("mac = '02:00:00:00:00:07'"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("queues = 2"), std::string::npos) << shown.out;

  // Restarting from it gives the same switch.
  EXPECT_EQ(daemon->stop(), 0);
  TempDir dir2("ctl-again");
  std::string body = shown.out;
  // Keep the harness' own [dpdk]/[control]/[metrics]; take networks, ports, fdb.
  body = body.substr(body.find("[["));
  Daemon again(dir2, body);
  ASSERT_TRUE(again.wait_ready()) << again.log();
  const auto fdb = again.ctl_json({"fdb", "show", "lab"});
  ASSERT_EQ(fdb.size(), 1u);
  EXPECT_EQ(fdb[0]["mac"], "02:00:00:00:00:07");
  EXPECT_EQ(again.ctl_json({"port", "list"})[0]["queues"], 2);
}

}  // namespace
}  // namespace inception::test
