// Kernel ports: TAP interfaces the host's own stack (or a cloud manager's
// Linux bridge) uses as a NIC. Two of them, each moved into its own network
// namespace with an address, ping each other through the switch.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include "harness.h"

namespace inception::test {
namespace {

TEST(KernelPorts, PingBothWaysThroughTheSwitch) {
  TempDir dir("kernel");
  const std::string k1 = ns_prefix() + "-k1", k2 = ns_prefix() + "-k2";
  Daemon daemon(dir,
                "[[network]]\nname = \"private\"\nvni = 1001\n"
                "[[port]]\nname = \"" +
                    k1 +
                    "\"\ntype = \"kernel\"\nnetwork = \"private\"\n"
                    "[[port]]\nname = \"" +
                    k2 + "\"\ntype = \"kernel\"\nnetwork = \"private\"\n");
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  Netns ns1(ns_prefix() + "-kp1"), ns2(ns_prefix() + "-kp2");
  for (auto [ns, dev, addr] : {std::tuple{&ns1, k1, "192.0.2.1/24"}, std::tuple{&ns2, k2, "192.0.2.2/24"}}) {
    ASSERT_EQ(sh(std::string("ip link set ") + dev + " netns " + ns->name()).exit_code, 0);
    ASSERT_EQ(ns->exec(std::string("ip addr add ") + addr + " dev " + dev + " && ip link set " + dev + " up").exit_code,
              0);
  }
  const CommandResult there = ns1.exec("ping -c 3 -i 0.2 -W 2 192.0.2.2");
  EXPECT_EQ(there.exit_code, 0) << there.out << there.err << daemon.log();
  EXPECT_NE(there.out.find("3 received"), std::string::npos) << there.out;
  const CommandResult back = ns2.exec("ping -c 3 -i 0.2 -W 2 192.0.2.1");
  EXPECT_EQ(back.exit_code, 0) << back.out << back.err;

  // The switch learned both interfaces' MACs on the right ports.
  const std::string mac1 = ns1.exec("cat /sys/class/net/" + k1 + "/address").out.substr(0, 17);
  const std::string mac2 = ns2.exec("cat /sys/class/net/" + k2 + "/address").out.substr(0, 17);
  const auto fdb = daemon.ctl_json({"fdb", "show", "private"});
  bool found1 = false, found2 = false;
  for (const auto& e : fdb) {
    found1 |= e["mac"] == mac1 && e["port"] == k1;
    found2 |= e["mac"] == mac2 && e["port"] == k2;
  }
  EXPECT_TRUE(found1 && found2) << fdb.dump();

  // A TCP stream through the switch arrives intact (checksums and all).
  const CommandResult server_started =
      ns2.exec("(timeout 20 socat -u TCP-LISTEN:5001,reuseaddr OPEN:" + dir.file("received") +
               ",creat,trunc > /dev/null 2>&1 &) ; " + wait_for_listener("tcp", 5001));
  ASSERT_EQ(server_started.exit_code, 0);
  const CommandResult sent = ns1.exec("head -c 2000000 /dev/urandom > " + dir.file("sent") +
                                      " && socat -u OPEN:" + dir.file("sent") + " TCP:192.0.2.2:5001");
  ASSERT_EQ(sent.exit_code, 0) << sent.err;
  EXPECT_TRUE(
      eventually([&] { return sh("cmp -s " + dir.file("sent") + " " + dir.file("received")).exit_code == 0; }, 10s))
      << "TCP transfer through kernel ports was corrupted or incomplete";
  EXPECT_EQ(daemon.stop(), 0) << daemon.log();
}

// The TAP driver asks the kernel for a real-time signal per received batch
// (it only reads a queue after one). When the process's queue of pending
// signals is full, the kernel sends SIGIO instead, whose default action
// ends the process: a flood from a kernel port killed the switch about one
// run in four on a loaded 2-core host. A tiny RLIMIT_SIGPENDING (it is
// inherited, and checked against the receiver's limit) makes that certain.
TEST(KernelPorts, AFloodThatOverrunsTheSignalQueueDoesNotStopTheSwitch) {
  TempDir dir("kernel-flood");
  const std::string port = ns_prefix() + "-kf";
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_SIGPENDING, &saved), 0);
  rlimit tiny = saved;
  tiny.rlim_cur = 4;
  ASSERT_EQ(setrlimit(RLIMIT_SIGPENDING, &tiny), 0);
  Daemon daemon(dir,
                "[[network]]\nname = \"private\"\nvni = 1001\n"
                "[[port]]\nname = \"" +
                    port + "\"\ntype = \"kernel\"\nnetwork = \"private\"\n");
  ASSERT_EQ(setrlimit(RLIMIT_SIGPENDING, &saved), 0);
  ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
  Netns host(ns_prefix() + "-kpf");
  ASSERT_EQ(sh("ip link set " + port + " netns " + host.name()).exit_code, 0);
  ASSERT_EQ(host.exec("ip addr add 192.0.2.1/24 dev " + port + " && ip link set " + port +
                      " up && ip neigh add 192.0.2.2 lladdr 02:00:00:00:09:09 dev " + port)
                .exit_code,
            0);
  auto received = [&] {
    const auto stats = daemon.ctl_json({"stats"});
    for (const auto& p : stats["ports"])
      if (p["name"] == port) return p["rx_packets"].get<uint64_t>();
    return uint64_t{0};
  };
  {
    Process flood({"ip", "netns", "exec", host.name(), "socat", "-u", "/dev/zero", "UDP:192.0.2.2:9"},
                  dir.file("flood.log"));
    std::this_thread::sleep_for(3s);
    ASSERT_TRUE(daemon.process().running()) << daemon.log();
    EXPECT_GT(received(), 10000u);
  }
  // Once the flood is over, single frames are still read: no signal the
  // driver waits for was lost for good.
  const uint64_t before = received();
  host.exec("ping -c 3 -i 0.2 -W 1 192.0.2.3");
  EXPECT_TRUE(eventually([&] { return received() > before; }, 5s));
  EXPECT_EQ(daemon.stop(), 0) << daemon.log();
}

}  // namespace
}  // namespace inception::test
