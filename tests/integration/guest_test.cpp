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

// The first line a guest command printed.
std::string first_line(const CommandResult& r) {
  return r.out.substr(0, r.out.find('\n'));
}

// Guest offloads with real virtio-net drivers: both guests negotiated
// checksum offload and TSO; 20 MB of TCP cross intact from guest to guest
// (super-frames carried whole) and from a guest to the kernel port (cut and
// checksummed by the switch); pings of every size from 1400 to 1500 bytes
// (above 1472 the guest fragments) are answered.
void check_offloads(Daemon& daemon, Guest& g1, Guest& g2, Netns& host) {
  for (Guest* g : {&g1, &g2}) {
    // The virtio device's negotiated features, bit 0 first: CSUM (0),
    // GUEST_CSUM (1), GUEST_TSO4 (7), HOST_TSO4 (11).
    const std::string bits = first_line(g->run("cat /sys/class/net/eth0/device/features"));
    ASSERT_GE(bits.size(), 12u) << bits;
    for (const int bit : {0, 1, 7, 11})
      EXPECT_EQ(bits[bit], '1') << g->name() << ": feature bit " << bit << " in " << bits;
  }
  const auto offloads = named(daemon.ctl_json({"port", "list"}), "g1")["negotiated_offloads"];
  EXPECT_EQ(offloads.size(), 6u) << offloads;

  CommandResult r = g1.run("dd if=/dev/urandom of=/tmp/tx bs=1M count=20 2>/dev/null && md5sum /tmp/tx", 120s);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string sum = first_line(r).substr(0, 32);
  const auto g1_before = named(daemon.ctl_json({"stats"})["ports"], "g1");

  // Guest to guest: the receiver takes the sender's super-frames whole.
  // A background job's stdin is /dev/null, and busybox nc ends the
  // connection at its stdin's end: keep it open and silent.
  ASSERT_EQ(g2.run("sleep 600 | nc -l -p 5001 > /tmp/rx &").exit_code, 0);
  r = g1.run("sleep 1; nc -w 5 192.0.2.12 5001 < /tmp/tx", 180s);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  std::string received;
  EXPECT_TRUE(eventually(
      [&] {
        received = first_line(g2.run("md5sum /tmp/rx")).substr(0, 32);
        return received == sum;
      },
      60s, 1s))
      << "guest to guest: md5 " << received << ", sent " << sum << "; received "
      << first_line(g2.run("wc -c < /tmp/rx")) << " bytes\n"
      << daemon.ctl({"stats"}).out;
  const auto g1_after = named(daemon.ctl_json({"stats"})["ports"], "g1");
  const uint64_t frames = g1_after["rx_packets"].get<uint64_t>() - g1_before["rx_packets"].get<uint64_t>();
  const uint64_t bytes = g1_after["rx_bytes"].get<uint64_t>() - g1_before["rx_bytes"].get<uint64_t>();
  EXPECT_GT(bytes / std::max<uint64_t>(frames, 1), 1514u)
      << "the guest sent TSO super-frames: " << bytes << " bytes in " << frames << " frames";

  // Guest to the kernel port: the switch cuts them and completes checksums.
  host.exec("(timeout 120 socat -u TCP-LISTEN:5002,reuseaddr OPEN:/tmp/" + host.name() +
            "-rx,creat,trunc >/dev/null 2>&1 &); " + wait_for_listener("tcp", 5002));
  r = g1.run("nc -w 5 192.0.2.100 5002 < /tmp/tx", 180s);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_TRUE(eventually(
      [&] {
        received = first_line(host.exec("md5sum /tmp/" + host.name() + "-rx")).substr(0, 32);
        return received == sum;
      },
      60s, 1s))
      << "guest to kernel port: md5 " << received << ", sent " << sum << "; received "
      << first_line(host.exec("wc -c < /tmp/" + host.name() + "-rx")) << " bytes";
  sh("rm -f /tmp/" + host.name() + "-rx");
  uint64_t segmented = 0;
  const nlohmann::json stats = daemon.ctl_json({"stats"});
  for (const auto& w : stats["workers"]) segmented += w["offload_segmented"].get<uint64_t>();
  EXPECT_GT(segmented, 0u) << "the kernel port got the guest's super-frames cut by the switch";

  r = g1.run("for s in $(seq 1400 1500); do ping -c 1 -W 5 -s $s 192.0.2.12 >/dev/null || echo lost $s; done", 300s);
  EXPECT_EQ(r.out.find("lost"), std::string::npos) << r.out;
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

  check_offloads(daemon, g1, g2, host);

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
