// Real nested guests: two QEMU guests with vhost-user virtio-net NICs on
// inceptiond ping each other and a kernel port; then inceptiond restarts
// under them (QEMU is the vhost-user server, the switch reconnects as the
// client) and their traffic resumes. A guest on an rVM of topology.sh sends
// TCP with offloads across VXLAN to a Linux VTEP and through its floating
// IP to the internet, and pings every size around the overlay MTU.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <regex>
#include <sstream>

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

// Sum of a worker counter ("offload_segmented") over the switch's workers.
uint64_t worker_total(const nlohmann::json& stats, const char* counter) {
  uint64_t total = 0;
  for (const auto& w : stats["workers"]) total += w[counter].get<uint64_t>();
  return total;
}

// Guest offloads with real virtio-net drivers: both guests negotiated
// checksum offload and TSO; 20 MB of TCP cross intact from guest to guest
// (super-frames carried whole), from a guest to the kernel port (cut and
// checksummed by the switch) and from the kernel port to a guest (segments
// joined by the switch); pings of every size from 1400 to 1500 bytes (above
// 1472 the guest fragments) are answered.
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
  nlohmann::json stats = daemon.ctl_json({"stats"});
  EXPECT_GT(worker_total(stats, "offload_segmented"), 0u)
      << "the kernel port got the guest's super-frames cut by the switch";

  // The kernel port to a guest: the host's stack hands the TAP MSS-sized
  // segments (a TAP without a virtio-net header takes no super-frames), and
  // the switch joins them for g2, which takes TSO.
  const uint64_t coalesced_before = worker_total(stats, "offload_coalesced");
  const std::string host_file = "/tmp/" + host.name() + "-tx";
  r = host.exec("dd if=/dev/urandom of=" + host_file + " bs=1M count=20 2>/dev/null && md5sum " + host_file);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string host_sum = first_line(r).substr(0, 32);
  ASSERT_EQ(g2.run("sleep 600 | nc -l -p 5005 > /tmp/rx2 &").exit_code, 0);
  const auto started = Clock::now();
  r = host.exec("sleep 1; socat -u OPEN:" + host_file + " TCP:192.0.2.12:5005", 180s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(eventually(
      [&] {
        received = first_line(g2.run("md5sum /tmp/rx2")).substr(0, 32);
        return received == host_sum;
      },
      60s, 1s))
      << "kernel port to guest: md5 " << received << ", sent " << host_sum << "; received "
      << first_line(g2.run("wc -c < /tmp/rx2")) << " bytes";
  const auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  sh("rm -f " + host_file);
  stats = daemon.ctl_json({"stats"});
  const uint64_t coalesced = worker_total(stats, "offload_coalesced") - coalesced_before;
  std::cout << "kernel port to guest: 20 MB in " << elapsed_ms << " ms, " << coalesced
            << " super-frames joined by the switch\n";
  EXPECT_GT(coalesced, 0u) << "the host's segments reached g2 joined";

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

// A counter of /proc/net/snmp as `grep ^PROTO: /proc/net/snmp` printed it
// (a line of names, then a line of values), or -1 if it is not there.
int64_t snmp_counter(const std::string& lines, const std::string& name) {
  std::istringstream in(lines);
  std::string names, values;
  std::getline(in, names);
  std::getline(in, values);
  std::istringstream n(names), v(values);
  for (std::string key, value; n >> key && v >> value;)
    if (key == name) return std::stoll(value);
  return -1;
}

// "SIZE VERDICT" lines, one per ping size, as runs of equal verdicts:
// "1400-1422 reply\n1423-1472 ...". Other lines are kept as they are, so
// that they show in a failed comparison.
std::string verdict_runs(const std::string& lines) {
  static const std::regex line_re("^([0-9]+) (.*)$");
  std::istringstream in(lines);
  std::string out, verdict;
  int first = -1, last = -1;
  auto close_run = [&] {
    if (first >= 0) out += std::to_string(first) + "-" + std::to_string(last) + " " + verdict + "\n";
    first = -1;
  };
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (!std::regex_match(line, m, line_re)) {
      close_run();
      out += line + "\n";
      continue;
    }
    const int size = std::stoi(m[1]);
    if (first >= 0 && m[2] == verdict && size == last + 1) {
      last = size;
      continue;
    }
    close_run();
    first = last = size;
    verdict = m[2];
  }
  close_run();
  return out;
}

// A shell loop of iputils pings of every size from 1400 to 1500 to `dst`
// (`mode` is ping's -M: "do" sets DF, "dont" never does), one "SIZE
// VERDICT" line per size: a reply, "frag-needed from ADDRESS mtu = N" (an
// ICMP error came back), a local error (the sender's own MTU refused it),
// or lost. -i: after an error ping waits an interval before it gives up on
// its one packet (1 s by default, 80 s for a sweep).
std::string iputils_sweep(const std::string& mode, const std::string& dst) {
  return "for s in $(seq 1400 1500); do out=$(ping -n -M " + mode + " -c 1 -i 0.01 -W 5 -s $s " + dst +
         " 2>&1); case \"$out\" in "
         "*' 0% packet loss'*) echo \"$s reply\" ;; "
         "*'Frag needed'*) echo \"$s frag-needed $(echo \"$out\" | grep -o 'From [0-9.]*' | head -1 | tr F f)"
         " $(echo \"$out\" | grep -o 'mtu = [0-9]*' | head -1)\" ;; "
         "*'message too long'*) echo \"$s local-error $(echo \"$out\" | grep -o 'mtu=[0-9]*' | head -1)\" ;; "
         "*) echo \"$s lost\" ;; esac; done";
}

// The same from the guest, whose busybox ping has no -M: the guest's kernel
// decides (DF on every packet its route's MTU lets through whole, as Linux
// does by default; larger ones fragmented, without DF).
std::string busybox_sweep(const std::string& dst) {
  return "for s in $(seq 1400 1500); do if ping -c 1 -W 5 -s $s " + dst +
         " >/dev/null 2>&1; then echo \"$s reply\"; else echo \"$s lost\"; fi; done";
}

// A guest with offloads on an rVM of topology.sh (one rVM, the Figure 4
// gateway itself, so that the floating IP is translated there and leaves by
// the underlay): 20 MB of TCP from the guest reach a host behind a Linux
// kernel VXLAN endpoint and, through the guest's floating IP, a server on the
// internet, intact, the guest's super-frames cut by the switch on both
// paths. Pings of every size from 1400 to 1500 bytes, with and without DF,
// show what the switch does at the overlay MTU (1450): a DF packet too big
// for the tunnel is dropped and answered with ICMP "fragmentation needed"
// carrying 1450 (dataplane/vxlan/icmp_error.cpp), from which the guest's
// kernel learns the path MTU; smaller or fragmented packets cross.
TEST(NestedGuests, TcpAcrossVxlanToALinuxVtepAndThroughAFloatingIpAndPingsAroundTheOverlayMtu) {
  ASSERT_TRUE(std::filesystem::exists(guest_image_dir() + "/vmlinuz"))
      << "no guest image in '" << guest_image_dir() << "': run scripts/build-guest.sh";
  TempDir dir("guest-paths");
  // QEMU first: the guest boots (one core) while topology.sh builds the rVM.
  // It keeps the virtio-net default MTU, 1500, above the overlay's.
  Guest g1(dir, "g1", dir.file("g1.sock"), "52:54:00:00:00:50", "192.0.2.50/24");
  Topology topo(dir, 1, "mesh", /*ivms=*/true, /*nat=*/true);
  ASSERT_TRUE(topo.up()) << topo.output();
  auto must = [](const CommandResult& r) { ASSERT_EQ(r.exit_code, 0) << r.out << r.err; };

  // Figure 4 on one rVM: the reality cloud maps 203.0.113.10 to the
  // gateway's 10.0.0.101; the guest's floating IP is that public address.
  must(run({binary("TOPOLOGY"), "map", dir.file("topology"), "203.0.113.10", "10.0.0.101"}));
  must(topo.ctl(1, {"gateway", "add", "10.0.0.101", "--public", "203.0.113.10"}));
  must(topo.ctl(1, {"port", "add", "g1", "--type", "vhost-user", "--socket", dir.file("g1.sock"), "--network",
                    "private", "--queues", "1"}));
  must(topo.ctl(1, {"fip", "add", "203.0.113.10", "--fixed", "192.0.2.50", "--network", "private"}));

  // A host (192.0.2.20, MTU 1450) behind a Linux VXLAN endpoint (10.0.0.20)
  // on the management network.
  Netns vtep(ns_prefix() + "-gvtep"), host(ns_prefix() + "-ghost");
  const std::string vtep_error = add_kernel_vtep(topo, vtep, host, "g");
  ASSERT_EQ(vtep_error, "");
  must(topo.ctl(1, {"peer", "add", "private", "10.0.0.20"}));

  ASSERT_TRUE(g1.wait_ready()) << "g1 did not boot";
  ASSERT_TRUE(eventually(
      [&] {
        return named(topo.ctl_json(1, {"port", "list"}), "g1")["link"] == "up";
      },
      60s))
      << topo.log(1);
  const auto offloads = named(topo.ctl_json(1, {"port", "list"}), "g1")["negotiated_offloads"];
  for (const char* feature : {"csum", "host_tso4"})
    EXPECT_NE(std::find(offloads.begin(), offloads.end(), feature), offloads.end()) << feature << " in " << offloads;
  must(g1.run("ip route add default via 192.0.2.254"));
  // Neighbors resolve on first use (the guest's, the switch's for the VTEP
  // and the reality router): a few tries warm every path.
  ASSERT_TRUE(eventually([&] { return g1.run("ping -c 1 -W 2 192.0.2.20").exit_code == 0; }, 60s))
      << "guest to the host behind the kernel VTEP\n"
      << topo.ctl(1, {"stats"}).out;
  ASSERT_TRUE(eventually([&] { return g1.run("ping -c 1 -W 2 203.0.113.200").exit_code == 0; }, 60s))
      << "guest to the internet\n"
      << topo.ctl(1, {"stats"}).out;

  // Pings from the guest over VXLAN, at MTU 1500, before anything taught its
  // kernel the overlay MTU: up to 1422 bytes of payload (1450 of IPv4) they
  // fit. At 1423 the DF packet is too big for the tunnel: the switch drops
  // it and sends "fragmentation needed" (MTU 1450) back as if from the host,
  // the guest's kernel lowers its path MTU to 192.0.2.20, and from 1424 on
  // fragments without DF that fit. One ping lost, and only that one: a switch
  // that sent no error (or a wrong MTU) would lose every size from 1423 up.
  const auto g1_drops_before = named(topo.ctl_json(1, {"stats"})["ports"], "g1")["drops"];
  const int64_t unreach_before = snmp_counter(g1.run("grep ^Icmp: /proc/net/snmp").out, "InDestUnreachs");
  CommandResult r = g1.run(busybox_sweep("192.0.2.20"), 300s);
  EXPECT_EQ(verdict_runs(r.out), "1400-1422 reply\n1423-1423 lost\n1424-1500 reply\n") << r.err;
  const auto g1_drops = named(topo.ctl_json(1, {"stats"})["ports"], "g1")["drops"];
  EXPECT_EQ(g1_drops["too_big"].get<uint64_t>() - g1_drops_before["too_big"].get<uint64_t>(), 1u) << g1_drops;
  EXPECT_EQ(snmp_counter(g1.run("grep ^Icmp: /proc/net/snmp").out, "InDestUnreachs") - unreach_before, 1)
      << "the guest received the switch's error";

  // The same from a Linux iVM of the rVM (a kernel port with iputils, at MTU
  // 1500) with DF: each packet over 1450 bytes gets the switch's error, from
  // the destination's address. The iVM's route to the host has its MTU
  // locked, so that its kernel sends every size instead of refusing them
  // from the path MTU the first error taught it (this ping has no -M probe).
  const std::string ivm = topo.ivm_ns(1, "private");
  must(topo.in(ivm, "ip link set ivm1pri mtu 1500 && ip route add 192.0.2.20/32 dev ivm1pri mtu lock 1500"));
  r = topo.in(ivm, iputils_sweep("do", "192.0.2.20"), 300s);
  EXPECT_EQ(verdict_runs(r.out),
            "1400-1422 reply\n1423-1472 frag-needed from 192.0.2.20 mtu = 1450\n1473-1500 local-error mtu=1500\n")
      << r.err;
  // To the guest on the same rVM no tunnel is crossed: DF packets up to the
  // iVM's MTU reach it and are answered; without DF the iVM fragments the
  // larger ones and the guest reassembles them.
  r = topo.in(ivm, iputils_sweep("do", "192.0.2.50"), 300s);
  EXPECT_EQ(verdict_runs(r.out), "1400-1472 reply\n1473-1500 local-error mtu=1500\n") << r.err;
  r = topo.in(ivm, iputils_sweep("dont", "192.0.2.50"), 300s);
  EXPECT_EQ(verdict_runs(r.out), "1400-1500 reply\n") << r.err;
  // From the internet to the guest's floating IP, with DF: translated both
  // ways on the gateway and never tunnelled, every size up to 1500 bytes.
  // (Without DF the larger ones would be fragments, which do not cross a
  // floating IP: docs/nat.md, known limits.)
  r = topo.in(topo.ns("client"), iputils_sweep("do", "203.0.113.10"), 300s);
  EXPECT_EQ(verdict_runs(r.out), "1400-1472 reply\n1473-1500 local-error mtu=1500\n") << r.err;

  // 20 MB of TCP from the guest, compared by md5 where they land.
  r = g1.run("dd if=/dev/urandom of=/tmp/tx bs=1M count=20 2>/dev/null && md5sum /tmp/tx", 120s);
  ASSERT_EQ(r.exit_code, 0) << r.out;
  const std::string sum = first_line(r).substr(0, 32);
  // Whether `file` (written by a receiver outside the guest) came to hold
  // the 20 MB; says what arrived otherwise.
  auto expect_arrived_intact = [&](const std::string& file, const std::string& path) {
    std::string received;
    EXPECT_TRUE(eventually(
        [&] {
          received = first_line(sh("md5sum " + file)).substr(0, 32);
          return received == sum;
        },
        60s, 1s))
        << path << ": md5 " << received << ", sent " << sum << "; received " << first_line(sh("wc -c < " + file))
        << " bytes\n"
        << topo.ctl(1, {"stats"}).out;
  };

  // Across VXLAN to the host behind the kernel VTEP. Its MSS (1410) keeps
  // the segments within the overlay; the guest's TSO super-frames are cut by
  // the switch before encapsulation, and the host's stack finds every
  // checksum right.
  nlohmann::json stats = topo.ctl_json(1, {"stats"});
  uint64_t segmented = worker_total(stats, "offload_segmented");
  const TcpStackCounters host_before = tcp_counters(host.name());
  must(host.exec("(timeout 300 socat -u TCP-LISTEN:5003,reuseaddr OPEN:" + dir.file("vxlan-rx") +
                 ",creat,trunc >/dev/null 2>&1 &); " + wait_for_listener("tcp", 5003)));
  r = g1.run("nc -w 5 192.0.2.20 5003 < /tmp/tx", 300s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_arrived_intact(dir.file("vxlan-rx"), "across VXLAN");
  const TcpStackCounters host_after = tcp_counters(host.name());
  EXPECT_GT(host_after.in_segs - host_before.in_segs, 20u * 1024 * 1024 / 1410);
  EXPECT_EQ(host_after.in_csum_errors, host_before.in_csum_errors);
  EXPECT_EQ(host_after.in_errs, host_before.in_errs);
  stats = topo.ctl_json(1, {"stats"});
  const nlohmann::json g1_after = named(stats["ports"], "g1");
  const uint64_t cut_for_vxlan = worker_total(stats, "offload_segmented") - segmented;
  EXPECT_GT(cut_for_vxlan, 0u) << "the guest's super-frames were cut by the switch for the tunnel";
  EXPECT_EQ(g1_after["drops"]["too_big"], g1_drops["too_big"]) << "none was refused as too big";

  // Through the floating IP to the internet server, which sees the floating
  // IP as the source. Its MSS (1460) is the underlay's: the segments the
  // switch cuts leave the gateway as full 1500-byte packets.
  segmented = worker_total(stats, "offload_segmented");
  const TcpStackCounters server_before = tcp_counters(topo.ns("server"));
  must(topo.in(topo.ns("server"), "(timeout 300 socat -u TCP-LISTEN:5004,reuseaddr SYSTEM:'echo $SOCAT_PEERADDR > " +
                                      dir.file("fip-peer") + "; cat > " + dir.file("fip-rx") +
                                      "' >/dev/null 2>&1 &); " + wait_for_listener("tcp", 5004)));
  r = g1.run("nc -w 5 203.0.113.200 5004 < /tmp/tx", 300s);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  expect_arrived_intact(dir.file("fip-rx"), "through the floating IP");
  EXPECT_EQ(first_line(sh("cat " + dir.file("fip-peer"))), "203.0.113.10");
  const TcpStackCounters server_after = tcp_counters(topo.ns("server"));
  EXPECT_GT(server_after.in_segs - server_before.in_segs, 20u * 1024 * 1024 / 1460);
  EXPECT_EQ(server_after.in_csum_errors, server_before.in_csum_errors);
  EXPECT_EQ(server_after.in_errs, server_before.in_errs);
  stats = topo.ctl_json(1, {"stats"});
  const uint64_t cut_for_fip = worker_total(stats, "offload_segmented") - segmented;
  EXPECT_GT(cut_for_fip, 0u) << "the guest's super-frames were cut by the switch for the underlay";
  std::cout << "guest super-frames cut by the switch: " << cut_for_vxlan << " toward the VXLAN endpoint, "
            << cut_for_fip << " through the floating IP\n";

  // Without DF from the guest: at the overlay MTU (as a cloud would give
  // it, e.g. QEMU's host_mtu=1450) the guest fragments everything above
  // 1422 bytes itself, and every size crosses the tunnel.
  must(g1.run("ip link set eth0 mtu 1450"));
  r = g1.run(busybox_sweep("192.0.2.20"), 300s);
  EXPECT_EQ(verdict_runs(r.out), "1400-1500 reply\n") << r.err;
}

}  // namespace
}  // namespace inception::test
