// Real nested guests: two QEMU guests with vhost-user virtio-net NICs on
// inceptiond ping each other and a kernel port; then inceptiond restarts
// under them (QEMU is the vhost-user server, the switch reconnects as the
// client) and their traffic resumes.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <regex>

#include "guest.h"
#include "harness.h"

namespace inception::test {
namespace {

std::string vhost_port(const std::string& name, const std::string& socket) {
  return "[[port]]\nname = \"" + name + "\"\ntype = \"vhost-user\"\nsocket = \"" + socket +
         "\"\nmode = \"client\"\nnetwork = \"private\"\nqueues = 1\n";
}

TEST(NestedGuests, PingEachOtherAndAKernelPortAndSurviveASwitchRestart) {
  ASSERT_TRUE(std::filesystem::exists(guest_image_dir() + "/vmlinuz"))
      << "no guest image in '" << guest_image_dir() << "': run scripts/build-guest.sh";
  TempDir dir("guests");
  const std::string kg = ns_prefix() + "-kg";
  Guest g1(dir, "g1", dir.file("g1.sock"), "52:54:00:00:00:11", "192.0.2.11/24");
  Guest g2(dir, "g2", dir.file("g2.sock"), "52:54:00:00:00:12", "192.0.2.12/24");
  Daemon daemon(dir, "[[network]]\nname = \"private\"\nvni = 1001\n" + vhost_port("g1", dir.file("g1.sock")) +
                         vhost_port("g2", dir.file("g2.sock")) + "[[port]]\nname = \"" + kg +
                         "\"\ntype = \"kernel\"\nnetwork = \"private\"\n");
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  Netns host(ns_prefix() + "-guest-host");
  ASSERT_EQ(sh("ip link set " + kg + " netns " + host.name()).exit_code, 0);
  ASSERT_EQ(host.exec("ip addr add 192.0.2.100/24 dev " + kg + " && ip link set " + kg + " up").exit_code, 0);

  ASSERT_TRUE(g1.wait_ready()) << "g1 did not boot";
  ASSERT_TRUE(g2.wait_ready()) << "g2 did not boot";
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& p : daemon.ctl_json({"port", "list"}))
          if (p["type"] == "vhost-user" && p["link"] != "up") return false;
        return true;
      },
      60s))
      << daemon.log();

  // Guest to guest, both ways, and guest to the kernel port.
  CommandResult r = g1.run("ping -c 3 -W 10 192.0.2.12");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = g2.run("ping -c 3 -W 10 192.0.2.11");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = g1.run("ping -c 3 -W 10 192.0.2.100");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = host.exec("ping -c 3 -W 10 192.0.2.12");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  // Both guests' MACs were learned on their ports.
  const auto fdb = daemon.ctl_json({"fdb", "show", "private"});
  int guests_learned = 0;
  for (const auto& e : fdb)
    guests_learned += (e["mac"] == g1.mac() && e["port"] == "g1") + (e["mac"] == g2.mac() && e["port"] == "g2");
  EXPECT_EQ(guests_learned, 2) << fdb.dump();

  // Restart the switch under a stream of pings (150 at 0.1 s).
  r = g1.run("(ping -i 0.1 -c 150 -W 2 192.0.2.12 > /tmp/ping.log 2>&1; echo finished >> /tmp/ping.log) &");
  ASSERT_EQ(r.exit_code, 0);
  std::this_thread::sleep_for(3s);
  ASSERT_EQ(daemon.stop(), 0) << daemon.log();
  const auto stopped_at = Clock::now();
  daemon.restart();
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& p : daemon.ctl_json({"port", "list"}))
          if (p["type"] == "vhost-user" && p["link"] != "up") return false;
        return true;
      },
      60s))
      << daemon.log();
  const auto reconnect_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stopped_at).count();
  // The restarted switch made its kernel port anew, in its own namespace.
  ASSERT_EQ(sh("ip link set " + kg + " netns " + host.name()).exit_code, 0);
  ASSERT_EQ(host.exec("ip addr add 192.0.2.100/24 dev " + kg + " && ip link set " + kg + " up").exit_code, 0);
  std::string log;
  ASSERT_TRUE(eventually(
      [&] {
        log = g1.run("cat /tmp/ping.log").out;
        return log.find("finished") != std::string::npos;
      },
      120s, 1s))
      << log << "\n--- g1 console ---\n"
      << g1.transcript();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(log, m, std::regex("([0-9]+) packets transmitted, ([0-9]+) packets received"))) << log;
  const int sent = std::stoi(m[1]);
  const int received = std::stoi(m[2]);
  std::cout << "switch restart under 0.1 s pings: " << sent - received << " of " << sent
            << " lost; switch back with guests attached " << reconnect_ms << " ms after the stop\n";
  RecordProperty("pings_lost_on_restart", sent - received);
  EXPECT_EQ(sent, 150);
  EXPECT_GE(received, 100) << log;
  // And traffic flows normally afterwards.
  r = g2.run("ping -c 3 -W 10 192.0.2.11");
  EXPECT_EQ(r.exit_code, 0) << r.out << daemon.log();
  r = g1.run("ping -c 2 -W 10 192.0.2.100");
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

}  // namespace
}  // namespace inception::test
