// Guest offloads end to end: virtio-user peers that negotiate TSO and
// checksum offload with inceptiond, as a Linux guest's virtio-net does, send
// TCP super-frames; what arrives is checked by a receiving peer (whole, or
// cut and checksummed for a guest without offloads) and by real Linux
// stacks: an iVM behind a kernel port and a host behind a kernel VXLAN
// endpoint, whose TCP counters say how many segments arrived and whether
// any checksum was wrong.
#include <gtest/gtest.h>

#include <sstream>

#include "harness.h"

namespace inception::test {
namespace {

constexpr const char* kSenderMac = "02:00:00:00:0a:01";
constexpr const char* kTakesTsoMac = "02:00:00:00:0a:02";
constexpr const char* kNoOffloadsMac = "02:00:00:00:0a:03";
constexpr uint32_t kPayload = 60000;
constexpr uint16_t kMss = 1448;

std::string port_toml(const std::string& name, const std::string& socket, bool offloads) {
  return "[[port]]\nname = \"" + name + "\"\ntype = \"vhost-user\"\nsocket = \"" + socket +
         "\"\nmode = \"server\"\nnetwork = \"private\"\nqueues = 1\n" + (offloads ? "" : "offloads = false\n");
}

// The segments of one sendtcp stream: in order, each whole and intact, and
// together the stream's `payload` bytes.
void expect_stream(const std::vector<TcpSegment>& segments, uint32_t payload, uint32_t max_segment) {
  uint32_t seq = 1000000, total = 0;
  for (const TcpSegment& s : segments) {
    EXPECT_EQ(s.seq, seq);
    EXPECT_EQ(s.checksum, "ok");
    EXPECT_TRUE(s.data_ok) << "payload at " << s.seq;
    EXPECT_EQ(s.gso, 0u);
    EXPECT_LE(s.length, max_segment);
    seq += s.length;
    total += s.length;
  }
  EXPECT_EQ(total, payload);
}

class GuestOffloads : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = std::make_unique<TempDir>("offloads");
    daemon = std::make_unique<Daemon>(*dir, "[[network]]\nname = \"private\"\nvni = 1001\n" +
                                                port_toml("sender", dir->file("sender.sock"), true) +
                                                port_toml("takes-tso", dir->file("takes-tso.sock"), true) +
                                                port_toml("no-offloads", dir->file("no-offloads.sock"), false));
    ASSERT_TRUE(daemon->wait_ready()) << daemon->log();
    for (const char* name : {"sender", "takes-tso", "no-offloads"})
      peers[name] = std::make_unique<VportPeer>(*dir, dir->file(std::string(name) + ".sock"), name, false, true);
    for (auto& [name, peer] : peers) {
      ASSERT_TRUE(peer->wait_ready()) << name << "\n" << daemon->log();
    }
    ASSERT_TRUE(daemon->wait_links_up()) << daemon->log();
    // The receivers' MACs, learned so that the streams are unicast.
    ASSERT_EQ(peers["takes-tso"]->send(kSenderMac, kTakesTsoMac, "hello"), 1u);
    ASSERT_EQ(peers["no-offloads"]->send(kSenderMac, kNoOffloadsMac, "hello"), 1u);
    ASSERT_TRUE(eventually(
        [&] {
          const auto fdb = daemon->ctl_json({"fdb", "show", "private"});
          return fdb.size() >= 2;
        },
        10s))
        << daemon->log();
  }
  void TearDown() override {
    peers.clear();
    if (daemon) {
      EXPECT_EQ(daemon->stop(), 0) << daemon->log();
    }
  }

  std::unique_ptr<TempDir> dir;
  std::unique_ptr<Daemon> daemon;
  std::map<std::string, std::unique_ptr<VportPeer>> peers;
};

TEST_F(GuestOffloads, PortListShowsWhatEachGuestNegotiated) {
  const auto ports = daemon->ctl_json({"port", "list"});
  const auto offered = named(ports, "sender")["negotiated_offloads"];
  for (const char* feature : {"csum", "guest_csum", "host_tso4", "guest_tso4"})
    EXPECT_NE(std::find(offered.begin(), offered.end(), feature), offered.end()) << feature << " in " << offered;
  EXPECT_TRUE(named(ports, "no-offloads")["negotiated_offloads"].empty());
  EXPECT_EQ(named(ports, "no-offloads")["offloads"], false);
  const CommandResult table = daemon->ctl({"port", "list"});
  EXPECT_NE(table.out.find("csum,guest_csum,host_tso4,guest_tso4"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(" off "), std::string::npos) << table.out;
}

TEST_F(GuestOffloads, ASuperFrameReachesAGuestThatTakesTsoWhole) {
  ASSERT_EQ(peers["sender"]->send_tcp(kTakesTsoMac, kSenderMac, "198.18.0.1", "198.18.0.2", kPayload, kMss), 1u);
  std::vector<TcpSegment> got;
  ASSERT_TRUE(eventually([&] { return !(got = peers["takes-tso"]->tcp_segments()).empty(); }, 10s)) << daemon->log();
  got = peers["takes-tso"]->tcp_segments(300ms);
  ASSERT_EQ(got.size(), 1u) << "one frame, not segments";
  EXPECT_EQ(got[0].length, kPayload);
  EXPECT_EQ(got[0].gso, kMss) << "the sender's MSS travels with it";
  EXPECT_EQ(got[0].checksum, "partial") << "left to the receiver, as virtio-net allows";
  EXPECT_TRUE(got[0].data_ok);
  EXPECT_TRUE(peers["no-offloads"]->tcp_segments().empty()) << "unicast: nobody else got it";
}

TEST_F(GuestOffloads, ASuperFrameIsCutAndChecksummedForAGuestWithoutOffloads) {
  ASSERT_EQ(peers["sender"]->send_tcp(kNoOffloadsMac, kSenderMac, "198.18.0.1", "198.18.0.3", kPayload, kMss), 1u);
  constexpr size_t kSegments = (kPayload + kMss - 1) / kMss;
  ASSERT_TRUE(eventually([&] { return peers["no-offloads"]->tcp_segments().size() >= kSegments; }, 10s))
      << peers["no-offloads"]->tcp_segments().size() << " segments\n"
      << daemon->log();
  const auto got = peers["no-offloads"]->tcp_segments(300ms);
  EXPECT_EQ(got.size(), kSegments);
  expect_stream(got, kPayload, kMss);
  // Counted as the port's transmitted frames, one per segment, and as the
  // worker's software segmentation.
  const nlohmann::json stats = daemon->ctl_json({"stats"});
  EXPECT_GE(named(stats["ports"], "no-offloads")["tx_packets"].get<uint64_t>(), kSegments);
  uint64_t segmented = 0, segments = 0;
  for (const auto& w : stats["workers"]) {
    segmented += w["offload_segmented"].get<uint64_t>();
    segments += w["offload_segments"].get<uint64_t>();
  }
  EXPECT_EQ(segmented, 1u);
  EXPECT_EQ(segments, kSegments);
  const std::string metrics = http_get(daemon->metrics_port(), "/metrics");
  EXPECT_NE(metrics.find("inception_worker_offload_segments_total{"), std::string::npos) << metrics;
}

// The receive side: a guest without TSO sends a window of MSS segments in
// one burst; the guest that takes TSO gets them joined into super-frames
// (the switch's GRO), in order and intact, with their checksum left partial.
TEST_F(GuestOffloads, SegmentsFromAGuestWithoutTsoReachAGuestThatTakesTsoJoined) {
  constexpr unsigned kSegments = (kPayload + kMss - 1) / kMss;
  ASSERT_EQ(peers["no-offloads"]->send_tcp(kTakesTsoMac, kNoOffloadsMac, "198.18.0.3", "198.18.0.2", kPayload, kMss),
            kSegments);
  std::vector<TcpSegment> got;
  const auto delivered = [&] {
    uint32_t total = 0;
    for (const TcpSegment& s : got) total += s.length;
    return total;
  };
  ASSERT_TRUE(eventually(
      [&] {
        got = peers["takes-tso"]->tcp_segments();
        return delivered() >= kPayload;
      },
      10s))
      << delivered() << " bytes in " << got.size() << " frames\n"
      << daemon->log();
  got = peers["takes-tso"]->tcp_segments(300ms);
  uint32_t seq = 1000000;
  unsigned joined = 0;
  for (const TcpSegment& s : got) {
    EXPECT_EQ(s.seq, seq) << "in order";
    EXPECT_TRUE(s.data_ok) << "payload at " << s.seq;
    if (s.length > kMss) {
      ++joined;
      EXPECT_EQ(s.gso, kMss) << "a joined frame carries the MSS for the guest's stack";
      EXPECT_EQ(s.checksum, "partial");
    } else {
      EXPECT_EQ(s.checksum, "ok") << "a lone segment keeps its checksum";
    }
    seq += s.length;
  }
  EXPECT_EQ(delivered(), kPayload);
  EXPECT_GE(joined, 1u);
  EXPECT_LT(got.size(), kSegments / 2) << "the segments were joined";
  uint64_t coalesced = 0, coalesced_segments = 0;
  const nlohmann::json stats = daemon->ctl_json({"stats"});
  for (const auto& w : stats["workers"]) {
    coalesced += w["offload_coalesced"].get<uint64_t>();
    coalesced_segments += w["offload_coalesced_segments"].get<uint64_t>();
  }
  EXPECT_EQ(coalesced, joined);
  EXPECT_EQ(coalesced_segments, kSegments - (got.size() - joined));
}

// `port add --coalesce off`: a guest that takes TSO gets the same window
// segment by segment, each with its own checksum.
TEST_F(GuestOffloads, AGuestWhosePortDoesNotCoalesceGetsTheSegmentsOneByOne) {
  constexpr const char* kOneByOneMac = "02:00:00:00:0a:04";
  ASSERT_EQ(daemon
                ->ctl({"port", "add", "one-by-one", "--type", "vhost-user", "--socket", dir->file("one.sock"),
                       "--server", "--network", "private", "--coalesce", "off"})
                .exit_code,
            0)
      << daemon->log();
  VportPeer peer(*dir, dir->file("one.sock"), "one-by-one", false, true);
  ASSERT_TRUE(peer.wait_ready()) << daemon->log();
  const auto port = named(daemon->ctl_json({"port", "list"}), "one-by-one");
  EXPECT_EQ(port["coalesce"], false);
  EXPECT_EQ(port["offloads"], true);
  ASSERT_EQ(peer.send(kSenderMac, kOneByOneMac, "hello"), 1u);
  ASSERT_TRUE(eventually(
      [&] {
        return daemon->ctl_json({"fdb", "show", "private"}).size() >= 3;
      },
      10s))
      << daemon->log();
  constexpr unsigned kSegments = (kPayload + kMss - 1) / kMss;
  ASSERT_EQ(peers["no-offloads"]->send_tcp(kOneByOneMac, kNoOffloadsMac, "198.18.0.3", "198.18.0.4", kPayload, kMss),
            kSegments);
  ASSERT_TRUE(eventually([&] { return peer.tcp_segments().size() >= kSegments; }, 10s))
      << peer.tcp_segments().size() << " frames\n"
      << daemon->log();
  expect_stream(peer.tcp_segments(300ms), kPayload, kMss);
  EXPECT_TRUE(named(daemon->ctl_json({"port", "list"}), "takes-tso")["coalesce"].get<bool>()) << "the default";
}

TEST_F(GuestOffloads, AFrameWithItsChecksumLeftToTheSwitchArrivesComplete) {
  ASSERT_EQ(peers["sender"]->send_tcp(kNoOffloadsMac, kSenderMac, "198.18.0.1", "198.18.0.3", 1000, 0), 1u);
  ASSERT_TRUE(eventually([&] { return !peers["no-offloads"]->tcp_segments().empty(); }, 10s)) << daemon->log();
  expect_stream(peers["no-offloads"]->tcp_segments(200ms), 1000, 1000);
}

TEST(GuestOffloadsToLinux, SuperFramesReachAKernelPortAndAKernelVxlanEndpointAsValidSegments) {
  TempDir dir("offloads-linux");
  Topology topo(dir, 1, "mesh");
  ASSERT_TRUE(topo.up()) << topo.output();
  // A host behind a Linux VXLAN endpoint, as in vxlan_test.
  Netns vtep(ns_prefix() + "-ovtep"), host(ns_prefix() + "-ohost");
  const std::string kv = ns_prefix() + "-ov", kh = ns_prefix() + "-oh";
  auto must = [](const CommandResult& r) { ASSERT_EQ(r.exit_code, 0) << r.err; };
  must(sh("ip link add " + kv + " netns " + vtep.name() + " type veth peer name ovtep netns " + topo.ns("mgmt")));
  must(sh("ip -n " + topo.ns("mgmt") + " link set ovtep master br0 up"));
  must(vtep.exec("ip link set " + kv + " up && ip addr add 10.0.0.20/24 dev " + kv));
  must(
      vtep.exec("ip link add vx1001 type vxlan id 1001 local 10.0.0.20 remote 10.0.0.11 dstport 4789 && "
                "ip link set vx1001 mtu 1450 up && ip link add br1 type bridge && ip link set br1 up && "
                "ip link set vx1001 master br1"));
  must(sh("ip link add " + kh + " netns " + host.name() + " type veth peer name oh netns " + vtep.name()));
  must(vtep.exec("ip link set oh master br1 up"));
  must(host.exec("ip link set " + kh + " mtu 1450 up && ip addr add 192.0.2.20/24 dev " + kh));
  ASSERT_EQ(topo.ctl(1, {"peer", "add", "private", "10.0.0.20"}).exit_code, 0);
  const std::string host_mac = host.exec("cat /sys/class/net/" + kh + "/address").out.substr(0, 17);

  // A guest with offloads on the rVM's private network, beside its iVM (a
  // kernel port in a namespace, 192.0.2.1).
  ASSERT_EQ(topo.ctl(1, {"port", "add", "guest", "--type", "vhost-user", "--network", "private", "--socket",
                         dir.file("guest.sock"), "--server", "--queues", "1"})
                .exit_code,
            0);
  VportPeer guest(dir, dir.file("guest.sock"), "guest", false, true);
  ASSERT_TRUE(guest.wait_ready()) << topo.log(1);
  const std::string ivm = topo.ivm_ns(1, "private");
  ASSERT_TRUE(eventually([&] { return topo.in(ivm, "ping -c 1 -W 1 192.0.2.20").exit_code == 0; }, 20s))
      << "the kernel endpoint's host is reachable";
  const std::string ivm_mac = topo.in(ivm, "cat /sys/class/net/ivm1pri/address").out.substr(0, 17);

  const TcpStackCounters ivm_before = tcp_counters(ivm), host_before = tcp_counters(host.name());
  // The iVM's MTU is the overlay's (1450): a guest on its network would
  // have agreed on an MSS of 1410 with it at most. Toward the tunnel the
  // sender's 1448 is too much, and the overlay's MTU bounds the segments.
  constexpr uint16_t kIvmMss = 1400;
  constexpr unsigned kFrames = 5;
  for (unsigned i = 0; i < kFrames; ++i) {
    const uint32_t seq = 1000000 + i * kPayload;
    ASSERT_EQ(guest.send_tcp(ivm_mac, kSenderMac, "192.0.2.50", "192.0.2.1", kPayload, kIvmMss, seq), 1u);
    ASSERT_EQ(guest.send_tcp(host_mac, kSenderMac, "192.0.2.50", "192.0.2.20", kPayload, kMss, seq), 1u);
  }
  const uint64_t to_ivm = kFrames * ((kPayload + kIvmMss - 1) / kIvmMss);
  const uint64_t to_host = kFrames * ((kPayload + 1409) / 1410);
  EXPECT_TRUE(eventually([&] { return tcp_counters(ivm).in_segs - ivm_before.in_segs >= to_ivm; }, 15s));
  EXPECT_TRUE(eventually([&] { return tcp_counters(host.name()).in_segs - host_before.in_segs >= to_host; }, 15s));
  const TcpStackCounters ivm_after = tcp_counters(ivm), host_after = tcp_counters(host.name());
  EXPECT_EQ(ivm_after.in_segs - ivm_before.in_segs, to_ivm);
  EXPECT_EQ(ivm_after.in_csum_errors, ivm_before.in_csum_errors);
  EXPECT_EQ(ivm_after.in_errs, ivm_before.in_errs);
  EXPECT_EQ(host_after.in_segs - host_before.in_segs, to_host);
  EXPECT_EQ(host_after.in_csum_errors, host_before.in_csum_errors);
  EXPECT_EQ(host_after.in_errs, host_before.in_errs);
  const nlohmann::json stats = topo.ctl_json(1, {"stats"});
  nlohmann::json peer;
  for (const auto& p : stats["peers"])
    if (p["peer"] == "10.0.0.20") peer = p;
  ASSERT_FALSE(peer.is_null());
  EXPECT_EQ(peer["drops"]["too_big"].get<int>(), 0) << "super-frames are cut to fit, not refused";
  EXPECT_GE(peer["tx_packets"].get<uint64_t>(), to_host) << "each segment counted as the peer's frame";
}

}  // namespace
}  // namespace inception::test
