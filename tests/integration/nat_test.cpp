// Floating IPs and SNAT end to end: the paper's Figure 4 on
// scripts/topology.sh --nat. rVM1 is the gateway (the reality cloud NATs
// 203.0.113.10 to its underlay address 10.0.0.101 and SNATs its SNAT
// address 10.0.0.100 as 203.0.113.1); rVM2 hosts iVM2 (192.0.2.2) with
// floating IP 203.0.113.10; rVM3 hosts iVM3 (192.0.2.3) without one. The
// internet is a client (203.0.113.100) and a server (203.0.113.200).
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "figure_four.h"

namespace inception::test {
namespace {

// Figure 4 brought up once for the suite (three rVMs and the reality cloud
// take seconds each), one test per behaviour on it. Each test makes the
// traffic it asserts on itself, and counts from its own baseline where a
// counter or table is shared. The one test that changes the topology (a
// route in the reality cloud) runs last and takes its change back.
class NatFigureFour : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // No ASSERT here: a failure recorded in SetUpTestSuite makes GoogleTest
    // skip the suite's tests instead of failing them. SetUp() fails each
    // test with this text instead.
    try {
      setup_error_ = four_.bring_up("nat");
    } catch (const std::exception& e) {
      setup_error_ = std::string("suite set-up: ") + e.what();
    }
  }
  static void TearDownTestSuite() {
    // Before the next suite makes namespaces of the same names.
    four_.topo.reset();
    four_.dir.reset();
  }
  void SetUp() override { ASSERT_TRUE(setup_error_.empty()) << setup_error_; }

  std::string seen_by_server(const std::string& ns) const { return four_.seen_by_server(ns); }

  static inline std::string setup_error_;
  static inline FigureFour four_;
  Topology* topo = four_.topo.get();
  const TempDir* dir = four_.dir.get();
};

TEST_F(NatFigureFour, InternetReachesTheFloatingIpByPingHttpAndUdp) {
  CommandResult r = topo->in(topo->ns("client"), "ping -c 3 -W 2 203.0.113.10");
  EXPECT_EQ(r.exit_code, 0) << r.out << topo->log(1) << topo->log(2);
  r = topo->in(topo->ns("client"), "curl -s -m 10 --retry 2 http://203.0.113.10/");
  EXPECT_EQ(r.out, "hello from ivm2\n") << r.err;
  topo->in(topo->ivm_ns(2, "private"),
           "setsid socat UDP-RECVFROM:7000,fork SYSTEM:'echo udp-pong-ivm2' </dev/null "
           ">/dev/null 2>&1 &");
  topo->in(topo->ivm_ns(2, "private"), wait_for_listener("udp", 7000));
  r = topo->in(topo->ns("client"), udp_exchange("203.0.113.10", 7000, "ping"));
  EXPECT_EQ(r.out, "udp-pong-ivm2\n") << r.err;
}

// iVM2 -> internet leaves as its floating IP; iVM3 and iVM1 (on the
// gateway itself) through SNAT as the gateway's public IP.
TEST_F(NatFigureFour, IvmsReachTheInternetAsTheirFloatingIpOrThroughSnat) {
  EXPECT_EQ(seen_by_server(topo->ivm_ns(2, "private")), "203.0.113.10\n");
  EXPECT_EQ(seen_by_server(topo->ivm_ns(3, "private")), "203.0.113.1\n");
  EXPECT_EQ(seen_by_server(topo->ivm_ns(1, "private")), "203.0.113.1\n");
  CommandResult r = topo->in(topo->ivm_ns(3, "private"), udp_exchange("203.0.113.200", 5353, "hi"));
  EXPECT_EQ(r.out, "203.0.113.1\n") << r.err;
  r = topo->in(topo->ivm_ns(3, "private"), "ping -c 3 -W 2 203.0.113.200");
  EXPECT_EQ(r.exit_code, 0) << r.out;
}

// iVM3's TCP sessions that `nat sessions` lists on the gateway, by inside
// address:port.
std::set<std::string> ivm3_tcp_sessions(const nlohmann::json& sessions) {
  std::set<std::string> out;
  for (const auto& s : sessions)
    if (s["protocol"] == "tcp" && s["inside"].get<std::string>().rfind("192.0.2.3:", 0) == 0)
      out.insert(s["inside"].get<std::string>());
  return out;
}

TEST_F(NatFigureFour, SixtyConcurrentConnectionsThroughSnat) {
  // Sessions other tests left (they expire in their own time) are not this
  // test's: it counts those that are new. The clients close first, so their
  // ports stay in TIME_WAIT and none is reused for a new connection here.
  const std::set<std::string> before = ivm3_tcp_sessions(topo->ctl_json(1, {"nat", "sessions", "--limit", "100000"}));
  const int created_before = topo->ctl_json(1, {"nat", "show"})["sessions_created"].get<int>();
  CommandResult r =
      topo->in(topo->ivm_ns(3, "private"),
               "for i in $(seq 1 60); do (timeout 30 socat -t20 -T20 - TCP:203.0.113.200:8080 </dev/null > " +
                   dir->file("conn") + ".$i 2>&1 &) ; done",
               60s);
  EXPECT_TRUE(eventually([&] { return sh("cat " + dir->file("conn") + ".* | grep -c '^203.0.113.1$'").out == "60\n"; },
                         30s, 500ms))
      << sh("cat " + dir->file("conn") + ".* | sort | uniq -c; grep -L . " + dir->file("conn") + ".*").out
      << topo->in(topo->ivm_ns(3, "private"), "ss -tan").out << topo->in(topo->ns("server"), "ss -tan").out
      << topo->ctl(1, {"nat", "sessions", "--limit", "1000"}).out << topo->ctl(1, {"stats"}).out
      << topo->ctl(3, {"stats"}).out;
  const auto sessions = topo->ctl_json(1, {"nat", "sessions", "--limit", "100000"});
  size_t tcp_sessions = 0;
  for (const std::string& inside : ivm3_tcp_sessions(sessions)) tcp_sessions += before.count(inside) == 0;
  EXPECT_GE(tcp_sessions, 60u) << sessions.dump();
  const auto nat = topo->ctl_json(1, {"nat", "show"});
  EXPECT_GE(nat["sessions_created"].get<int>() - created_before, 60) << nat.dump();
}

// ICMP errors through the floating IP arrive translated: traceroute from
// iVM2 sees the reality router, then the server (time exceeded and port
// unreachable both mapped back); a UDP probe to a closed port of the
// floating IP is refused.
TEST_F(NatFigureFour, IcmpErrorsThroughTheFloatingIpAreTranslated) {
  CommandResult r =
      topo->in(topo->ivm_ns(2, "private"), "timeout 30 busybox traceroute -n -w 2 -q 1 -m 4 203.0.113.200");
  EXPECT_NE(r.out.find(" 1  10.0.0.1 "), std::string::npos) << r.out << r.err;
  EXPECT_NE(r.out.find(" 2  203.0.113.200 "), std::string::npos) << r.out << r.err;
  r = topo->in(topo->ns("client"), udp_exchange("203.0.113.10", 9, "probe"));
  EXPECT_NE(r.err.find("Connection refused"), std::string::npos) << r.err;
}

// Per floating IP counters, both directions: a ping from the internet comes
// in through the floating IP and its replies go out through it.
TEST_F(NatFigureFour, FloatingIpCountersCountBothDirections) {
  const auto before = topo->ctl_json(2, {"fip", "list"});
  ASSERT_EQ(before.size(), 1u);
  const CommandResult r = topo->in(topo->ns("client"), "ping -c 2 -i 0.2 -W 2 203.0.113.10");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  // Workers count; `fip list` sums their counters when asked.
  const int in_before = before[0]["in_packets"].get<int>(), out_before = before[0]["out_packets"].get<int>();
  EXPECT_TRUE(eventually([&] {
    return topo->ctl_json(2, {"fip", "list"})[0]["in_packets"].get<int>() > in_before;
  })) << "in_packets stayed at "
      << in_before << "\n"
      << topo->ctl(2, {"fip", "list"}).out;
  EXPECT_TRUE(eventually([&] {
    return topo->ctl_json(2, {"fip", "list"})[0]["out_packets"].get<int>() > out_before;
  })) << "out_packets stayed at "
      << out_before << "\n"
      << topo->ctl(2, {"fip", "list"}).out;
}

// A guest with offloads behind a floating IP: its TSO super-frames are
// translated whole on its rVM (the TCP checksum stays the pseudo-header's
// sum, updated for the new source), cut to the overlay MTU toward the
// gateway, and reach the internet server's Linux stack as valid segments.
// The floating IP moves to the guest for the test and back at its end.
TEST_F(NatFigureFour, AGuestsTsoFramesReachTheInternetThroughItsFloatingIpAsValidSegments) {
  ASSERT_EQ(topo->ctl(2, {"port", "add", "tso-guest", "--type", "vhost-user", "--network", "private", "--socket",
                          dir->file("tso-guest.sock"), "--server", "--queues", "1"})
                .exit_code,
            0);
  struct Restore {
    Topology* topo;
    ~Restore() {
      topo->ctl(2, {"fip", "del", "203.0.113.10"});
      topo->ctl(2, {"fip", "add", "203.0.113.10", "--fixed", "192.0.2.2", "--network", "private"});
      topo->ctl(2, {"port", "del", "tso-guest"});
    }
  } restore{topo};
  VportPeer guest(*dir, dir->file("tso-guest.sock"), "tso-guest", false, true);
  ASSERT_TRUE(guest.wait_ready()) << topo->log(2);
  ASSERT_EQ(topo->ctl(2, {"fip", "del", "203.0.113.10"}).exit_code, 0);
  ASSERT_EQ(topo->ctl(2, {"fip", "add", "203.0.113.10", "--fixed", "192.0.2.50", "--network", "private"}).exit_code, 0);
  const std::string router_mac = topo->ctl_json(2, {"nat", "show"})["router_mac"];
  const auto fips_before = topo->ctl_json(2, {"fip", "list"});
  const TcpStackCounters before = tcp_counters(topo->ns("server"));
  constexpr unsigned kFrames = 5;
  constexpr uint32_t kPayload = 60000;
  for (unsigned i = 0; i < kFrames; ++i)
    ASSERT_EQ(guest.send_tcp(router_mac, "02:00:00:00:0b:01", "192.0.2.50", "203.0.113.200", kPayload, 1448,
                             1000000 + i * kPayload),
              1u);
  // The public network's overlay MTU (1450) bounds the segments: 1410 bytes.
  const uint64_t segments = kFrames * ((kPayload + 1409) / 1410);
  EXPECT_TRUE(eventually([&] { return tcp_counters(topo->ns("server")).in_segs - before.in_segs >= segments; }, 15s))
      << tcp_counters(topo->ns("server")).in_segs - before.in_segs << " of " << segments << "\n"
      << topo->ctl(2, {"stats"}).out << topo->ctl(1, {"stats"}).out;
  const TcpStackCounters after = tcp_counters(topo->ns("server"));
  EXPECT_EQ(after.in_segs - before.in_segs, segments);
  EXPECT_EQ(after.in_csum_errors, before.in_csum_errors);
  EXPECT_EQ(after.in_errs, before.in_errs);
  // The floating IP counts the super-frames it translated.
  const auto fips = topo->ctl_json(2, {"fip", "list"});
  ASSERT_EQ(fips.size(), 1u);
  EXPECT_EQ(fips[0]["out_packets"].get<uint64_t>() - fips_before[0]["out_packets"].get<uint64_t>(), kFrames);
}

// iVM2 left at MTU 1500 (not the overlay's 1450), its floating IP on rVM2
// while the gateway is rVM1: its TCP with the internet crosses the `public`
// tunnel both ways. The routers clamp the MSS of the SYNs they route, so
// full-size segments never meet a tunnel they do not fit (without it, a
// transfer stalls after a few kilobytes: docs/nat.md).
TEST_F(NatFigureFour, AGuestAtMtu1500WithAFloatingIpOnASpokeMovesDataBothWays) {
  const std::string ivm2 = topo->ivm_ns(2, "private");
  struct Restore {
    Topology* topo;
    std::string ns;
    ~Restore() { topo->in(ns, "ip link set ivm2pri mtu 1450"); }
  } restore{topo, ivm2};
  ASSERT_EQ(topo->in(ivm2, "ip link set ivm2pri mtu 1500").exit_code, 0);
  const auto clamped = [&](int rvm) { return topo->ctl_json(rvm, {"nat", "show"})["mss_clamped"].get<uint64_t>(); };
  const uint64_t spoke_before = clamped(2), gateway_before = clamped(1);
  const std::string sent = dir->file("mtu1500-sent"), up = dir->file("mtu1500-up"), down = dir->file("mtu1500-down");
  ASSERT_EQ(sh("head -c 3000000 /dev/urandom > " + sent).exit_code, 0);
  ASSERT_EQ(topo->in(topo->ns("server"), "setsid socat -u TCP-LISTEN:9101,reuseaddr CREATE:" + up +
                                             " </dev/null >/dev/null 2>&1 & setsid socat -u FILE:" + sent +
                                             " TCP-LISTEN:9102,reuseaddr </dev/null >/dev/null 2>&1 & " +
                                             wait_for_listener("tcp", 9101) + "; " + wait_for_listener("tcp", 9102))
                .exit_code,
            0);
  const CommandResult upload = topo->in(ivm2, "timeout 20 socat -u FILE:" + sent + " TCP:203.0.113.200:9101");
  EXPECT_EQ(upload.exit_code, 0) << upload.err;
  const CommandResult download = topo->in(ivm2, "timeout 20 socat -u TCP:203.0.113.200:9102 CREATE:" + down);
  EXPECT_EQ(download.exit_code, 0) << download.err;
  const auto md5 = [](const std::string& file) { return sh("md5sum < " + file).out; };
  EXPECT_TRUE(eventually([&] { return md5(up) == md5(sent); }, 5s))
      << "iVM2 to the internet: " << std::filesystem::file_size(up) << " of 3000000 bytes";
  EXPECT_EQ(md5(down), md5(sent)) << "the internet to iVM2: " << std::filesystem::file_size(down)
                                  << " of 3000000 bytes";
  // Each connection's SYN is clamped by the spoke that routes it out, its
  // SYN-ACK by the gateway that routes it in (and the spoke again).
  EXPECT_GE(clamped(2) - spoke_before, 2u) << topo->ctl(2, {"nat", "show"}).out;
  EXPECT_GE(clamped(1) - gateway_before, 2u) << topo->ctl(1, {"nat", "show"}).out;
}

// Isolation: nothing from the internet reaches a fixed IP or an iVM
// without a floating IP, even if the reality cloud routed it to the gateway.
// Defined last, so it runs last (GoogleTest keeps the order of definition):
// it adds that route to the reality cloud, and takes it back at its end.
TEST_F(NatFigureFour, NothingFromTheInternetReachesFixedIpsOrTheSnatAddress) {
  const CommandResult route = topo->in(topo->ns("reality"), "ip route add 192.0.2.0/24 via 10.0.0.11");
  ASSERT_EQ(route.exit_code, 0) << "without the route, nothing below would test the switch: " << route.err;
  CommandResult r = topo->in(topo->ns("client"), "ping -c 2 -W 1 192.0.2.3");
  EXPECT_NE(r.exit_code, 0) << r.out;
  r = topo->in(topo->ns("client"), "curl -s -m 3 http://192.0.2.2/");
  EXPECT_NE(r.exit_code, 0) << r.out;
  r = topo->in(topo->ns("client"), "ping -c 2 -W 1 10.0.0.100");  // the SNAT address, no session
  EXPECT_NE(r.exit_code, 0) << r.out;
  const CommandResult del = topo->in(topo->ns("reality"), "ip route del 192.0.2.0/24 via 10.0.0.11");
  EXPECT_EQ(del.exit_code, 0) << "taking the route back: " << del.err;
}

class Nat : public FigureFourTest {
 protected:
  void SetUp() override { bring_up("nat"); }
};

TEST_F(Nat, FloatingIpMovesToAnotherIvmOnTheNextRequest) {
  CommandResult r = topo->in(topo->ns("client"), "curl -s -m 10 --retry 2 http://203.0.113.10/");
  ASSERT_EQ(r.out, "hello from ivm2\n") << r.err;
  ASSERT_EQ(topo->ctl(2, {"fip", "del", "203.0.113.10"}).exit_code, 0);
  ASSERT_EQ(topo->ctl(3, {"fip", "add", "203.0.113.10", "--fixed", "192.0.2.3", "--network", "private"}).exit_code, 0);
  r = topo->in(topo->ns("client"), "curl -s -m 10 http://203.0.113.10/");
  EXPECT_EQ(r.out, "hello from ivm3\n") << r.err << topo->ctl(1, {"neigh", "show"}).out;
  EXPECT_EQ(seen_by_server(topo->ivm_ns(3, "private")), "203.0.113.10\n");
  EXPECT_EQ(seen_by_server(topo->ivm_ns(2, "private")), "203.0.113.1\n");
  // CLI errors name the object.
  EXPECT_EQ(topo->ctl(2, {"fip", "del", "203.0.113.10"}).err,
            "inceptionctl: floating IP 203.0.113.10 does not exist\n");
  EXPECT_EQ(topo->ctl(3, {"fip", "add", "203.0.113.11", "--fixed", "192.0.2.3", "--network", "nowhere"}).err,
            "inceptionctl: floating IP 203.0.113.11: network nowhere does not exist\n");
  EXPECT_EQ(topo->ctl(1, {"gateway", "add", "10.0.0.11", "--public", "203.0.113.12"}).err,
            "inceptionctl: gateway mapping 10.0.0.11: that is the VTEP's own address; give each public IP its own "
            "underlay address\n");
}

// SNAT's settings are runtime objects too, on the gateway: `nat snat off`
// stops it (iVMs without a floating IP lose the internet, those with one
// keep it), `nat snat set` starts it again with new settings for the next
// flow, and `config show` carries them. Bad settings are refused with the
// file's words.
TEST_F(Nat, SnatIsStoppedAndStartedAgainWithNewSettingsLive) {
  const std::string ivm3 = topo->ivm_ns(3, "private");
  // TCP retries its SYN: the first packet may wait for the router's ARP.
  ASSERT_EQ(seen_by_server(ivm3), "203.0.113.1\n");
  const CommandResult off = topo->ctl(1, {"nat", "snat", "off"});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_EQ(topo->ctl_json(1, {"nat", "show"})["snat"], false);
  EXPECT_EQ(udp_seen_by_server(ivm3, 4002), "") << "SNAT is off, yet iVM3 reached the internet";
  EXPECT_EQ(seen_by_server(topo->ivm_ns(2, "private")), "203.0.113.10\n") << "the floating IP does not need SNAT";
  EXPECT_EQ(topo->ctl(1, {"nat", "snat", "off"}).err,
            "inceptionctl: nat: this rVM does no SNAT ([nat] snat_address is not set)\n");

  const CommandResult set =
      topo->ctl(1, {"nat", "snat", "set", "10.0.0.100", "--ports", "40000-40999", "--udp-timeout", "30"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(seen_by_server(ivm3), "203.0.113.1\n");
  const auto sessions = topo->ctl_json(1, {"nat", "sessions"});
  ASSERT_FALSE(sessions.empty());
  for (const auto& session : sessions) {
    EXPECT_GE(session["outside_port"].get<unsigned>(), 40000u) << session.dump();
    EXPECT_LE(session["outside_port"].get<unsigned>(), 40999u) << session.dump();
  }
  const auto shown = topo->ctl_json(1, {"nat", "show"});
  EXPECT_EQ(shown["snat_settings"]["ports"], "40000-40999") << shown.dump();
  const std::string config = topo->ctl(1, {"config", "show"}).out;
  EXPECT_NE(config.find("snat_ports = '40000-40999'"), std::string::npos) << config;
  EXPECT_NE(config.find("udp_timeout_s = 30"), std::string::npos) << config;

  EXPECT_EQ(topo->ctl(1, {"nat", "snat", "set", "10.0.0.11"}).err,
            "inceptionctl: [nat] snat_address 10.0.0.11: that is the VTEP's own address; give each public IP its own "
            "underlay address\n");
  EXPECT_EQ(topo->ctl(1, {"nat", "snat", "set", "10.0.0.101"}).err,
            "inceptionctl: gateway mapping 10.0.0.101: that is the SNAT address ([nat] snat_address)\n");
  EXPECT_EQ(topo->ctl(1, {"nat", "snat", "set", "10.0.0.100", "--ports", "9000-100"}).err,
            "inceptionctl: nat snat: ports: '9000-100' is not a range LOW-HIGH within 1024-65535\n");
  // A refused change leaves SNAT as it was.
  EXPECT_EQ(seen_by_server(ivm3), "203.0.113.1\n");
}

}  // namespace
}  // namespace inception::test
