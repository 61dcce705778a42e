// Hostile traffic against running switches.
//
// HostileGuests, HostileUnderlay: the frames of tests/tools/hostile_frames.h
// (truncated, with bad lengths and checksums, bad outer headers, foreign and
// spoofed MACs and addresses, wrong VNIs and peers, fragments, VLAN tags,
// link-local groups, floods) enter a switch through vhost-user ports
// (inception-vport-peer `sendhex`), kernel ports and the underlay (a packet
// socket in a namespace: inception-hostile), one at a time. Each is either
// dropped and counted under its reason, that counter and no other rising by
// exactly one, or delivered, byte for byte, to the guests of its own network
// and to nobody else. Afterwards the packet buffers in use are back at their
// baseline.
//
// Tenants: one tenant against another, or against the cloud, on the paper's
// Figure 4 (scripts/topology.sh up DIR 3 mesh --ivms --nat): a deleted
// network's SNAT sessions, gratuitous ARP for the gateway and floating IPs,
// the metadata service and the underlay, an ARP flood, SNAT quotas, a
// broadcast flood, and kernel ports that would exhaust the packet buffers.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "figure_four.h"
#include "harness.h"
#include "hostile_frames.h"
#include "packet_buffers.h"

namespace inception::test {
namespace {

using hostile::Bytes;
using hostile::FrameParams;
using nlohmann::json;

// Drop counters by reason, plus pseudo-reasons a test adds (frames handed
// to the rVM's host interface), so one comparison covers both.
using Drops = std::map<std::string, uint64_t>;
constexpr const char* kDelivered = "delivered";
constexpr const char* kBroadcast = "ff:ff:ff:ff:ff:ff";

MacAddress mac(const std::string& text) {
  const auto parsed = MacAddress::parse(text);
  if (!parsed) throw std::runtime_error("'" + text + "' is not a MAC address");
  return *parsed;
}

Ipv4Address ip(const std::string& text) {
  const auto parsed = Ipv4Address::parse(text);
  if (!parsed) throw std::runtime_error("'" + text + "' is not an IPv4 address");
  return *parsed;
}

Drops drops_of(const json& totals) {
  Drops out;
  if (totals.is_object() && totals.contains("drops"))
    for (const auto& [reason, n] : totals["drops"].items()) out[reason] = n.get<uint64_t>();
  return out;
}

// j[key], or null where j has no such key (an older daemon's output must
// fail an assertion, not abort the test binary).
const json& field(const json& j, const std::string& key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  const auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

const json& named(const json& list, const std::string& key, const std::string& value) {
  static const json kNull;
  for (const auto& item : list)
    if (item.value(key, "") == value) return item;
  return kNull;
}

// A port's `link` in `port list`, "" if there is no such port.
std::string port_link(const json& ports, const std::string& port) {
  const json& p = named(ports, "name", port);
  return p.is_object() ? p.value("link", "") : "";
}

Drops port_drops(const json& stats, const std::string& port) {
  return drops_of(named(field(stats, "ports"), "name", port));
}

uint64_t flood_copies(const json& stats, const std::string& port) {
  const json& p = named(field(stats, "ports"), "name", port);
  return p.is_object() ? p.value("flood_packets", uint64_t{0}) : 0;
}

Drops peer_drops(const json& stats, const std::string& network, const std::string& peer) {
  for (const auto& p : field(stats, "peers"))
    if (p.value("network", "") == network && p.value("peer", "") == peer) return drops_of(p);
  return {};
}

// What changed from `before` to `after`, reason by reason.
Drops changes(const Drops& before, const Drops& after) {
  Drops out;
  for (const auto& [reason, n] : after) {
    const auto it = before.find(reason);
    const uint64_t was = it == before.end() ? 0 : it->second;
    if (n != was) out[reason] = n - was;
  }
  return out;
}

std::string show(const Drops& d) {
  std::string out = "{";
  for (const auto& [reason, n] : d) out += (out.size() > 1 ? ", " : "") + reason + ": " + std::to_string(n);
  return out + "}";
}

std::string mac_in(const std::string& ns, const std::string& iface) {
  return sh("ip netns exec " + ns + " cat /sys/class/net/" + iface + "/address").out.substr(0, 17);
}

// Runs inception-hostile inside a network namespace.
CommandResult hostile_in(const std::string& ns, const std::vector<std::string>& args,
                         std::chrono::milliseconds timeout = 60s) {
  std::vector<std::string> argv{"ip", "netns", "exec", ns, binary("HOSTILE")};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, timeout);
}

std::vector<std::string> send_args(const std::string& iface, const std::vector<Bytes>& frames) {
  std::vector<std::string> args{"send", "--iface", iface};
  for (const Bytes& frame : frames) {
    args.push_back("--hex");
    args.push_back(hostile::to_hex(frame));
  }
  return args;
}

// A guest or capture a test watches for frames carrying a marker.
class Watcher {
 public:
  explicit Watcher(std::string name) : name_(std::move(name)) {}
  virtual ~Watcher() = default;
  const std::string& name() const { return name_; }
  // Frames received so far, after waiting `window` for more, that carry `marker`.
  std::vector<Bytes> carrying(const std::string& marker, std::chrono::milliseconds window = 0ms) {
    return matching([&](const Bytes& frame) { return hostile::contains(frame, marker); }, window);
  }
  size_t count(const std::string& marker, std::chrono::milliseconds window = 0ms) {
    return carrying(marker, window).size();
  }
  std::vector<Bytes> matching(const std::function<bool(const Bytes&)>& wanted, std::chrono::milliseconds window = 0ms) {
    collect(window);
    std::vector<Bytes> out;
    for (const Bytes& frame : frames_)
      if (wanted(frame)) out.push_back(frame);
    return out;
  }

 protected:
  virtual void collect(std::chrono::milliseconds window) = 0;
  std::vector<Bytes> frames_;

 private:
  std::string name_;
};

// A vhost-user guest: inception-vport-peer showing the bytes of what it receives.
class VportWatcher : public Watcher {
 public:
  VportWatcher(std::string name, VportPeer& peer) : Watcher(std::move(name)), peer_(peer) { peer_.show_bytes(); }

 private:
  void collect(std::chrono::milliseconds window) override {
    const std::vector<Frame>& frames = peer_.frames(window);
    for (; seen_ < frames.size(); ++seen_)
      if (auto bytes = hostile::from_hex(frames[seen_].hex)) frames_.push_back(std::move(*bytes));
  }
  VportPeer& peer_;
  size_t seen_ = 0;
};

// A kernel interface in a namespace: `inception-hostile listen` on it.
class KernelWatcher : public Watcher {
 public:
  KernelWatcher(const TempDir& dir, const std::string& ns, const std::string& iface)
      : Watcher(iface),
        process_({"ip", "netns", "exec", ns, binary("HOSTILE"), "listen", "--iface", iface},
                 dir.file("listen-" + iface + ".log")) {
    const auto line = process_.read_line(10s);
    if (!line || *line != "ready") throw std::runtime_error("inception-hostile listen on " + iface + " did not start");
  }

 private:
  void collect(std::chrono::milliseconds window) override {
    const auto deadline = Clock::now() + window;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      auto line = process_.read_line(std::max(left, 0ms));
      if (!line) {
        if (Clock::now() >= deadline) return;
        continue;
      }
      std::istringstream in(*line);
      std::string kind, length, hex;
      in >> kind >> length >> hex;
      if (kind != "rx") continue;
      if (auto bytes = hostile::from_hex(hex)) frames_.push_back(std::move(*bytes));
    }
  }
  Process process_;
};

// Where hostile frames enter a switch, and where that switch counts their drops.
struct Ingress {
  std::string name;
  std::function<void(const std::vector<Bytes>&)> send;
  std::function<Drops()> drops;
};

using Tweak = std::function<void(FrameParams&)>;

// One hostile frame (or the fragments of one datagram) and its verdict: a
// drop reason, or kDelivered.
struct Case {
  std::string name;
  Tweak tweak;  // changes to the test's FrameParams, if any
  std::string verdict;
  // The frames to send; default: the named builder.
  std::function<std::vector<Bytes>(const FrameParams&)> build;
  // What a guest receives when delivered; default: the frame sent.
  std::function<Bytes(const FrameParams&)> delivered_as;
};

Case drop(std::string frame, std::string reason, Tweak tweak = nullptr) {
  return Case{std::move(frame), std::move(tweak), std::move(reason), nullptr, nullptr};
}

Case deliver(std::string frame, Tweak tweak = nullptr) {
  return Case{std::move(frame), std::move(tweak), kDelivered, nullptr, nullptr};
}

// Sends each case's frames through `in` and checks its verdict: the drop
// counter of its reason rose by one and nothing else changed (nobody saw
// the frame), or each of `inside` received it exactly once, as expected,
// and none of `outside` did, with no drop counted.
void run_cases(const Ingress& in, const FrameParams& base, const std::vector<Case>& cases,
               const std::vector<Watcher*>& inside, const std::vector<Watcher*>& outside) {
  int n = 0;
  for (const Case& c : cases) {
    FrameParams p = base;
    p.marker = "hs-" + std::to_string(++n) + "-" + c.name;
    if (c.tweak) c.tweak(p);
    const std::vector<Bytes> frames = c.build ? c.build(p) : hostile::build(c.name, p);
    SCOPED_TRACE(in.name + " sends " + p.marker + " (" + hostile::to_hex(frames.front()) + ")");
    // How a watcher recognizes it: by its marker, or, truncated before it,
    // by its bytes.
    const Bytes expected = c.delivered_as ? c.delivered_as(p) : frames.front();
    const bool marked = hostile::contains(expected, p.marker);
    const auto is_it = [&](const Bytes& frame) {
      return marked ? hostile::contains(frame, p.marker) : frame == expected;
    };
    const auto seen_by = [&](Watcher* w, std::chrono::milliseconds window = 0ms) { return w->matching(is_it, window); };
    const Drops before = in.drops();
    in.send(frames);
    if (c.verdict != kDelivered) {
      Drops after;
      const bool counted = eventually([&] {
        after = in.drops();
        return changes(before, after).contains(c.verdict);
      });
      EXPECT_TRUE(counted) << "expected a drop as " << c.verdict << ", counters changed by "
                           << show(changes(before, after));
      EXPECT_EQ(show(changes(before, after)), show({{c.verdict, 1}}));
      for (Watcher* w : inside) EXPECT_EQ(seen_by(w).size(), 0u) << "dropped, yet " << w->name() << " received it";
      for (Watcher* w : outside) EXPECT_EQ(seen_by(w).size(), 0u) << "dropped, yet " << w->name() << " received it";
      continue;
    }
    for (Watcher* w : inside) {
      EXPECT_TRUE(eventually([&] { return !seen_by(w).empty(); }, 5s)) << w->name() << " did not receive it";
    }
    for (Watcher* w : outside) EXPECT_EQ(seen_by(w, 300ms).size(), 0u) << "leaked to " << w->name();
    for (Watcher* w : inside) {
      const auto got = seen_by(w);
      EXPECT_EQ(got.size(), 1u) << w->name() << " received it " << got.size() << " times";
      if (!got.empty()) {
        EXPECT_EQ(hostile::to_hex(got.front()), hostile::to_hex(expected)) << w->name() << " received other bytes";
      }
    }
    EXPECT_EQ(show(changes(before, in.drops())), show({})) << "delivered, yet counted as dropped";
  }
}

// ---------------------------------------------------------------- guests

constexpr const char* kV1Mac = "02:00:00:00:0a:01";
constexpr const char* kW1Mac = "02:00:00:00:0b:01";

std::string vhost_port_toml(const std::string& name, const std::string& socket, const std::string& network) {
  return "[[port]]\nname = \"" + name + "\"\ntype = \"vhost-user\"\nsocket = \"" + socket +
         "\"\nmode = \"server\"\nnetwork = \"" + network + "\"\nqueues = 1\n";
}

// Guests of two networks on one switch: v1 (vhost-user) and k1 (kernel
// port, in its own namespace) on `private`, w1 (vhost-user) on `public`,
// the other network whose guests must never see a thing.
class HostileGuests : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = std::make_unique<TempDir>("hostile-guests");
    k1 = ns_prefix() + "-hk1";
    const std::string body =
        "[[network]]\nname = \"private\"\nvni = 1001\n"
        "[[network]]\nname = \"public\"\nvni = 1002\n" +
        vhost_port_toml("v1", dir->file("v1.sock"), "private") + vhost_port_toml("w1", dir->file("w1.sock"), "public") +
        "[[port]]\nname = \"" + k1 + "\"\ntype = \"kernel\"\nnetwork = \"private\"\n";
    daemon = std::make_unique<Daemon>(*dir, body);
    ASSERT_TRUE(daemon->wait_ready()) << daemon->log();
    k1_ns = std::make_unique<Netns>(ns_prefix() + "-hg1");
    ASSERT_NO_FATAL_FAILURE(into_namespace(k1, *k1_ns));
    for (const char* name : {"v1", "w1"}) {
      peers[name] = std::make_unique<VportPeer>(*dir, dir->file(std::string(name) + ".sock"), name);
      ASSERT_TRUE(peers[name]->wait_ready()) << name << "\n" << daemon->log();
    }
    ASSERT_TRUE(daemon->wait_links_up()) << daemon->log();
    v1 = std::make_unique<VportWatcher>("v1", *peers["v1"]);
    w1 = std::make_unique<VportWatcher>("w1", *peers["w1"]);
    k1_watch = std::make_unique<KernelWatcher>(*dir, k1_ns->name(), k1);
    k1_mac = mac_in(k1_ns->name(), k1);
    // The switch knows w1's MAC on `public`: frames from `private` addressed
    // to it must still stay on `private`.
    ASSERT_EQ(peers["w1"]->send(kBroadcast, kW1Mac, "hello-from-w1"), 1u);
    ASSERT_TRUE(eventually([&] {
      for (const auto& e : daemon->ctl_json({"fdb", "show", "public"}))
        if (e["mac"] == kW1Mac) return true;
      return false;
    }));
    baseline = settled_buffers_in_use([this] { return daemon->ctl_json({"stats"}); });
  }

  void TearDown() override {
    if (daemon && !HasFatalFailure()) {
      EXPECT_TRUE(no_buffer_leaked([this] { return daemon->ctl_json({"stats"}); }, baseline));
    }
    k1_watch.reset();
    v1.reset();
    w1.reset();
    peers.clear();
    if (daemon) {
      EXPECT_EQ(daemon->stop(), 0) << daemon->log();
    }
  }

  // A kernel port's interface, moved into `ns`, up and quiet (no IPv6: its
  // multicast would be frames nobody asked for).
  void into_namespace(const std::string& iface, const Netns& ns) {
    ASSERT_EQ(ns.exec("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1").exit_code, 0);
    ASSERT_EQ(sh("ip link set " + iface + " netns " + ns.name()).exit_code, 0);
    ASSERT_EQ(ns.exec("ip link set " + iface + " up").exit_code, 0);
  }

  Ingress vhost_ingress(const std::string& port) {
    return {"vhost-user port " + port,
            [this, port](const std::vector<Bytes>& frames) {
              for (const Bytes& frame : frames) ASSERT_EQ(peers.at(port)->send_hex(hostile::to_hex(frame)), 1u);
            },
            [this, port] { return port_drops(daemon->ctl_json({"stats"}), port); }};
  }

  Ingress kernel_ingress(const std::string& port, const std::string& ns) {
    return {"kernel port " + port,
            [port, ns](const std::vector<Bytes>& frames) {
              const CommandResult r = hostile_in(ns, send_args(port, frames));
              ASSERT_EQ(r.exit_code, 0) << r.err;
            },
            [this, port] { return port_drops(daemon->ctl_json({"stats"}), port); }};
  }

  // Adds a vhost-user guest bound to `guest_mac` and 192.0.2.2 by port security.
  VportPeer& add_secured_vport(const std::string& name, const std::string& guest_mac) {
    const CommandResult r =
        daemon->ctl({"port", "add", name, "--type", "vhost-user", "--socket", dir->file(name + ".sock"), "--server",
                     "--network", "private", "--queues", "1", "--mac", guest_mac, "--ip", "192.0.2.2"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    peers[name] = std::make_unique<VportPeer>(*dir, dir->file(name + ".sock"), name);
    EXPECT_TRUE(peers[name]->wait_ready());
    EXPECT_TRUE(eventually([&] { return port_link(daemon->ctl_json({"port", "list"}), name) == "up"; }));
    return *peers[name];
  }

  std::unique_ptr<TempDir> dir;
  std::unique_ptr<Daemon> daemon;
  std::string k1, k1_mac;
  std::unique_ptr<Netns> k1_ns;
  std::map<std::string, std::unique_ptr<VportPeer>> peers;
  std::unique_ptr<VportWatcher> v1, w1;
  std::unique_ptr<KernelWatcher> k1_watch;
  uint64_t baseline = 0;
};

// What any guest may try without port security, from `own_mac`.
std::vector<Case> guest_cases(const std::string& own_mac, bool vhost) {
  std::vector<Case> cases = {
      deliver("plain"),
      drop("multicast-source", "invalid_source"),
      drop("zero-source", "invalid_source"),
      drop("pause", "link_local"),
      drop("stp", "link_local"),
      drop("lldp", "link_local"),
      drop("plain", "same_port", [own_mac](FrameParams& p) { p.dst_mac = mac(own_mac); }),
      deliver("vlan"),
      deliver("priority-tagged"),
      deliver("qinq"),
      deliver("truncated-ipv4"),
      deliver("truncated-arp"),
      deliver("ipv4-bad-checksum"),
      deliver("ipv4-bad-length"),
      deliver("udp-bad-checksum"),
      deliver("ipv4-fragment"),
      deliver("arp-sha-mismatch"),
      deliver("garp", [](FrameParams& p) { p.arp_spa = ip("192.0.2.99"); }),
      // A station of the other network: unknown here, flooded here only.
      deliver("udp", [](FrameParams& p) { p.dst_mac = mac(kW1Mac); }),
  };
  // A packet socket cannot send less than an Ethernet header; a virtio NIC can.
  if (vhost) cases.insert(cases.begin() + 1, drop("runt", "malformed"));
  return cases;
}

TEST_F(HostileGuests, AVhostUserGuestsHostileFramesStayInItsNetwork) {
  FrameParams p;
  p.src_mac = mac(kV1Mac);
  run_cases(vhost_ingress("v1"), p, guest_cases(kV1Mac, true), {k1_watch.get()}, {w1.get()});
}

TEST_F(HostileGuests, AKernelPortGuestsHostileFramesStayInItsNetwork) {
  FrameParams p;
  p.src_mac = mac(k1_mac);
  run_cases(kernel_ingress(k1, k1_ns->name()), p, guest_cases(k1_mac, false), {v1.get()}, {w1.get()});
}

// Port security: the guest is bound to 02:00:00:00:0a:02 (or the kernel
// port's own MAC) and 192.0.2.2; anything else it claims is a counted drop.
std::vector<Case> secured_guest_cases(bool vhost) {
  std::vector<Case> cases = {
      deliver("udp"),
      deliver("garp"),
      deliver("ipv4-bad-checksum"),
      drop("plain", "spoofed_mac", [](FrameParams& p) { p.src_mac = mac("02:00:00:00:0a:99"); }),
      drop("udp", "spoofed_ip", [](FrameParams& p) { p.src_ip = ip("192.0.2.99"); }),
      drop("udp", "spoofed_ip", [](FrameParams& p) { p.src_ip = ip("198.51.100.2"); }),
      drop("vlan", "spoofed_ip"),
      drop("priority-tagged", "spoofed_ip"),
      drop("qinq", "spoofed_ip"),
      drop("garp", "spoofed_arp", [](FrameParams& p) { p.arp_spa = ip("192.0.2.99"); }),
      drop("arp-sha-mismatch", "spoofed_arp"),
      drop("truncated-ipv4", "malformed"),
      drop("truncated-arp", "malformed"),
      drop("multicast-source", "invalid_source"),
      drop("pause", "link_local"),
  };
  if (vhost) cases.push_back(drop("runt", "malformed"));
  return cases;
}

TEST_F(HostileGuests, AVhostUserGuestWithPortSecurityClaimsOnlyItsOwn) {
  constexpr const char* kV2Mac = "02:00:00:00:0a:02";
  add_secured_vport("v2", kV2Mac);
  FrameParams p;
  p.src_mac = mac(kV2Mac);
  p.src_ip = ip("192.0.2.2");
  run_cases(vhost_ingress("v2"), p, secured_guest_cases(true), {v1.get(), k1_watch.get()}, {w1.get()});
}

TEST_F(HostileGuests, AKernelPortGuestWithPortSecurityClaimsOnlyItsOwn) {
  const std::string k2 = ns_prefix() + "-hk2";
  constexpr const char* kK2Mac = "02:00:00:00:0a:12";
  const CommandResult r = daemon->ctl(
      {"port", "add", k2, "--type", "kernel", "--network", "private", "--mac", kK2Mac, "--ip", "192.0.2.2/32"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Netns k2_ns(ns_prefix() + "-hg2");
  ASSERT_NO_FATAL_FAILURE(into_namespace(k2, k2_ns));
  // The kernel interface carries the bound MAC.
  ASSERT_EQ(mac_in(k2_ns.name(), k2), kK2Mac);
  FrameParams p;
  p.src_mac = mac(kK2Mac);
  p.src_ip = ip("192.0.2.2");
  run_cases(kernel_ingress(k2, k2_ns.name()), p, secured_guest_cases(false), {v1.get(), k1_watch.get()}, {w1.get()});
  // Deleted, the port gives its receive ring's buffers back too.
  ASSERT_EQ(daemon->ctl({"port", "del", k2}).exit_code, 0);
}

TEST_F(HostileGuests, EveryFrameOfABroadcastFloodIsDeliveredOrCountedAsFloodLimit) {
  // 10000 broadcasts as fast as the guest can send them, against the
  // default bound of 5000 per second and port: each one is either a flood
  // copy to k1 (the only other port of `private`) or a flood_limit drop.
  const auto stats = [&] { return daemon->ctl_json({"stats"}); };
  const json before = stats();
  FrameParams p;
  p.src_mac = mac(kV1Mac);
  p.marker = "hs-flood";
  const Bytes frame = hostile::build("plain", p).front();
  ASSERT_EQ(peers["v1"]->send_hex(hostile::to_hex(frame), 10000), 10000u);
  uint64_t limited = 0, copies = 0;
  EXPECT_TRUE(eventually([&] {
    const json now = stats();
    limited = changes(port_drops(before, "v1"), port_drops(now, "v1"))["flood_limit"];
    copies = flood_copies(now, k1) - flood_copies(before, k1);
    return limited + copies == 10000;
  })) << limited
      << " dropped as flood_limit, " << copies << " flooded";
  EXPECT_GT(limited, 0u);
  EXPECT_GT(copies, 0u);
  EXPECT_EQ(w1->count("hs-flood", 300ms), 0u);
  // Each copy reached k1's guest, or k1 counted why not.
  const Drops k1_drops = changes(port_drops(before, k1), port_drops(stats(), k1));
  uint64_t lost = 0;
  for (const auto& [reason, n] : k1_drops) lost += n;
  EXPECT_TRUE(eventually([&] { return k1_watch->count("hs-flood") + lost == copies; }))
      << k1_watch->count("hs-flood") << " of " << copies << " copies reached k1, " << show(k1_drops);
}

// ---------------------------------------------------------------- underlay

// One rVM (scripts/topology.sh --nat, so it has routers and neighbor
// tables) and a hostile host on its management network: 10.0.0.20, a
// configured peer of `private`, which also forges frames from others.
class HostileUnderlay : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = std::make_unique<TempDir>("hostile-underlay");
    topo = std::make_unique<Topology>(*dir, 1, "mesh", /*ivms=*/false, /*nat=*/true);
    ASSERT_TRUE(topo->up()) << topo->output();
    evil = std::make_unique<Netns>(ns_prefix() + "-evil");
    auto must = [](const CommandResult& r) { ASSERT_EQ(r.exit_code, 0) << r.err; };
    must(evil->exec("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1"));
    must(sh("ip link add ev netns " + evil->name() + " type veth peer name evil netns " + topo->ns("mgmt")));
    must(sh("ip -n " + topo->ns("mgmt") + " link set evil master br0 up"));
    must(evil->exec("ip addr add 10.0.0.20/24 dev ev && ip link set ev up"));
    must(topo->ctl(1, {"peer", "add", "private", "10.0.0.20"}));
    ASSERT_TRUE(eventually([&] { return peer_resolved(); }, 10s)) << topo->log(1);
    for (const char* name : {"v1", "w1"}) {
      const std::string network = name == std::string("v1") ? "private" : "public";
      must(topo->ctl(1, {"port", "add", name, "--type", "vhost-user", "--socket",
                         dir->file(std::string(name) + ".sock"), "--server", "--network", network, "--queues", "1"}));
      peers[name] = std::make_unique<VportPeer>(*dir, dir->file(std::string(name) + ".sock"), name);
      ASSERT_TRUE(peers[name]->wait_ready());
      ASSERT_TRUE(eventually([&] { return port_link(topo->ctl_json(1, {"port", "list"}), name) == "up"; }));
    }
    v1 = std::make_unique<VportWatcher>("v1", *peers["v1"]);
    w1 = std::make_unique<VportWatcher>("w1", *peers["w1"]);
    ASSERT_EQ(peers["w1"]->send(kBroadcast, kW1Mac, "hello-from-w1"), 1u);
    const json stats = topo->ctl_json(1, {"stats"});
    rvm_mac = field(field(stats, "underlay"), "mac").get<std::string>();
    evil_mac = mac_in(evil->name(), "ev");
    baseline = settled_buffers_in_use([this] { return topo->ctl_json(1, {"stats"}); });
  }

  void TearDown() override {
    if (topo && topo->up() && !HasFatalFailure()) {
      EXPECT_TRUE(no_buffer_leaked([this] { return topo->ctl_json(1, {"stats"}); }, baseline));
    }
    v1.reset();
    w1.reset();
    peers.clear();
    evil.reset();
    topo.reset();
  }

  // Frames from the hostile host, with the underlay's drops and the frames
  // handed to the rVM's own stack ("to_host") as the counters to watch, or
  // a peer's drops for what a decapsulated frame does.
  Ingress underlay_ingress(const std::string& peer = "") {
    return {"the underlay host 10.0.0.20",
            [this](const std::vector<Bytes>& frames) {
              const CommandResult r = hostile_in(evil->name(), send_args("ev", frames));
              ASSERT_EQ(r.exit_code, 0) << r.err;
            },
            [this, peer] {
              const json stats = topo->ctl_json(1, {"stats"});
              if (!peer.empty()) return peer_drops(stats, "private", peer);
              const json& underlay = field(stats, "underlay");
              Drops d = drops_of(field(underlay, "nic"));
              d["to_host"] = field(field(underlay, "host"), "tx_packets").get<uint64_t>();
              return d;
            }};
  }

  bool peer_resolved() const {
    const json list = topo->ctl_json(1, {"network", "show", "private"})["peers"];
    return !list.empty() && list[0].value("resolved", false);
  }

  FrameParams base() const {
    FrameParams p;
    p.outer_src_mac = mac(evil_mac);
    p.outer_dst_mac = mac(rvm_mac);
    p.outer_src_ip = ip("10.0.0.20");
    p.outer_dst_ip = ip("10.0.0.11");
    p.vni = 1001;
    p.src_mac = mac("02:00:00:00:0e:01");
    p.src_ip = ip("192.0.2.50");
    return p;
  }

  std::unique_ptr<TempDir> dir;
  std::unique_ptr<Topology> topo;
  std::unique_ptr<Netns> evil;
  std::map<std::string, std::unique_ptr<VportPeer>> peers;
  std::unique_ptr<VportWatcher> v1, w1;
  std::string rvm_mac, evil_mac;
  uint64_t baseline = 0;
};

TEST_F(HostileUnderlay, EveryBrokenOuterHeaderIsDroppedAndOnlyValidVxlanReachesItsNetwork) {
  const auto inner = [](const FrameParams& p) { return hostile::guest_udp(p); };
  // Delivered as the frame the datagram carries.
  auto delivered_inner = [&](std::string frame, Tweak tweak = nullptr) {
    Case c = deliver(std::move(frame), std::move(tweak));
    c.delivered_as = inner;
    return c;
  };
  const std::vector<Case> cases = {
      delivered_inner("vxlan"),
      // 802.1p priority tags are stripped; the UDP length delimits the inner
      // frame (the trailer beyond it never reaches the guest).
      delivered_inner("vxlan-priority-tagged"),
      delivered_inner("vxlan-udp-short"),
      // Addressed to a station of `public`: unknown on `private`, flooded there only.
      delivered_inner("vxlan", [](FrameParams& p) { p.dst_mac = mac(kW1Mac); }),
      drop("vxlan-bad-checksum", "bad_header"),
      drop("vxlan-zero-checksum", "bad_header"),
      drop("vxlan-version-6", "bad_header"),
      drop("vxlan-short-ihl", "bad_header"),
      drop("vxlan-ip-options", "bad_header"),
      drop("vxlan-ip-truncated", "bad_header"),
      drop("vxlan-udp-long", "bad_header"),
      drop("vxlan-no-i-flag", "bad_vxlan_flags"),
      drop("vxlan", "not_for_us", [](FrameParams& p) { p.outer_dst_mac = mac("02:00:5e:00:99:99"); }),
      drop("vxlan", "unknown_peer", [](FrameParams& p) { p.outer_src_ip = ip("10.0.0.30"); }),
      // `public` exists, but 10.0.0.20 is not its peer.
      drop("vxlan", "unknown_peer", [](FrameParams& p) { p.vni = 1002; }),
      drop("vxlan", "unknown_vni", [](FrameParams& p) { p.vni = 4242; }),
      // Two fragments, reassembled by the packet socket, one drop.
      drop("vxlan-fragments", "fragment"),
      // Not VXLAN, for the rVM itself, but broken: never handed up.
      drop("host-bad-checksum", "bad_header"),
      drop("host-truncated", "bad_header"),
  };
  run_cases(underlay_ingress(), base(), cases, {v1.get()}, {w1.get()});
}

TEST_F(HostileUnderlay, AConfiguredPeersInnerFramesObeyTheBridgesRules) {
  auto inside_vxlan = [](const std::string& inner_frame) {
    return [inner_frame](const FrameParams& p) {
      return std::vector<Bytes>{hostile::vxlan(p, hostile::build(inner_frame, p).front())};
    };
  };
  std::vector<Case> cases = {
      drop("multicast-source", "invalid_source"),
      drop("zero-source", "invalid_source"),
      drop("pause", "link_local"),
      drop("lldp", "link_local"),
  };
  for (Case& c : cases) c.build = inside_vxlan(c.name);
  run_cases(underlay_ingress("10.0.0.20"), base(), cases, {v1.get()}, {w1.get()});
}

TEST_F(HostileUnderlay, UnderlayArpNeverTeachesAnOverlayNeighbor) {
  const std::vector<std::string> claimed = {"198.51.100.201", "198.51.100.9", "203.0.113.10", "192.0.2.7"};
  FrameParams p = base();
  p.src_mac = mac(evil_mac);
  p.dst_mac = mac(rvm_mac);
  std::vector<Bytes> frames;
  for (const std::string& address : claimed) {
    p.arp_spa = ip(address);
    // A gratuitous ARP, a reply to the rVM, and a request for its VTEP address.
    p.dst_mac = mac(kBroadcast);
    frames.push_back(hostile::build("garp", p).front());
    p.dst_mac = mac(rvm_mac);
    p.arp_op = 2;
    p.arp_tpa = ip("10.0.0.11");
    frames.push_back(hostile::build("arp", p).front());
    p.arp_op = 1;
    frames.push_back(hostile::build("arp", p).front());
  }
  const CommandResult r = hostile_in(evil->name(), send_args("ev", frames));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // None may show up, in an overlay network's table or the underlay's.
  auto learned = [&](const std::string& address) {
    for (const auto& n : topo->ctl_json(1, {"neigh", "show"}))
      if (field(n, "ip") == address) return true;
    return false;
  };
  EXPECT_FALSE(eventually(
      [&] {
        for (const std::string& address : claimed)
          if (learned(address)) return true;
        return false;
      },
      2s))
      << topo->ctl(1, {"neigh", "show"}).out;

  // Again, by the thousand, while a guest's own ARP goes to the same
  // control thread: packet buffers recycled between the two must not carry
  // the meaning of one to the other (the old switch kept it in the mbuf).
  std::vector<std::string> many;
  for (int i = 100; i < 150; ++i) many.push_back("198.51.100." + std::to_string(i));
  Process claims(
      {"ip",         "netns",     "exec",      evil->name(), binary("HOSTILE"), "send",   "--iface",
       "ev",         "arp",       "--src-mac", evil_mac,     "--dst-mac",       rvm_mac,  "--arp-spa",
       many.front(), "--arp-tpa", "10.0.0.11", "--vary",     "arp-spa",         "--span", std::to_string(many.size()),
       "--count",    "4000",      "--pps",     "2000"},
      dir->file("claims.log"));
  FrameParams guest = base();
  guest.src_mac = mac(kV1Mac);
  guest.arp_spa = ip("192.0.2.50");
  guest.arp_tpa = ip("192.0.2.254");
  const std::string guest_arp = hostile::to_hex(hostile::build("arp", guest).front());
  while (claims.running()) ASSERT_EQ(peers["v1"]->send_hex(guest_arp, 100), 100u);
  EXPECT_FALSE(eventually(
      [&] {
        for (const std::string& address : many)
          if (learned(address)) return true;
        return false;
      },
      2s))
      << topo->ctl(1, {"neigh", "show"}).out;
  // The peer's own address is still resolved: VXLAN to it goes on.
  EXPECT_TRUE(peer_resolved());
}

// ---------------------------------------------------------------- tenants

// A vhost-user guest on an rVM of a topology.
std::unique_ptr<VportPeer> topology_vport(const Topology& topo, const TempDir& dir, int rvm, const std::string& name,
                                          const std::string& network) {
  const CommandResult r = topo.ctl(rvm, {"port", "add", name, "--type", "vhost-user", "--socket",
                                         dir.file(name + ".sock"), "--server", "--network", network, "--queues", "1"});
  if (r.exit_code != 0) throw std::runtime_error("port add " + name + ": " + r.err);
  auto peer = std::make_unique<VportPeer>(dir, dir.file(name + ".sock"), name);
  if (!peer->wait_ready()) throw std::runtime_error("vport " + name + " did not come up");
  if (!eventually([&] { return port_link(topo.ctl_json(rvm, {"port", "list"}), name) == "up"; }))
    throw std::runtime_error("switch did not attach " + name);
  return peer;
}

// The paper's Figure 4, as in nat_test.cpp: rVM1 is the gateway (floating
// IP 203.0.113.10 mapped to 10.0.0.101, SNAT as 203.0.113.1); iVM2
// (192.0.2.2 on rVM2) has that floating IP; iVM3 (192.0.2.3 on rVM3) and
// iVM1 (192.0.2.1, on the gateway) reach the internet through SNAT.
class Tenants : public FigureFourTest {
 protected:
  void up(const std::vector<std::string>& settings = {}) { bring_up("tenants", settings); }

  Drops rvm_port_drops(int rvm, const std::string& port) { return port_drops(topo->ctl_json(rvm, {"stats"}), port); }

  std::string neighbor_mac(int rvm, const std::string& where, const std::string& address) {
    for (const auto& n : topo->ctl_json(rvm, {"neigh", "show"}))
      if (field(n, "where") == where && field(n, "ip") == address && field(n, "mac").is_string()) return n["mac"];
    return "";
  }

  std::string ivm_mac(int rvm, const std::string& network) {
    return mac_in(topo->ivm_ns(rvm, network), "ivm" + std::to_string(rvm) + network.substr(0, 3));
  }

  // Runs inception-hostile in `ns`, in the background.
  std::unique_ptr<Process> hostile_background(const std::string& ns, const std::vector<std::string>& args,
                                              const std::string& log) {
    std::vector<std::string> argv{"ip", "netns", "exec", ns, binary("HOSTILE")};
    argv.insert(argv.end(), args.begin(), args.end());
    return std::make_unique<Process>(argv, dir->file(log));
  }
};

// The router MAC of rVM i: 02:49:4e and the low 24 bits of its VTEP
// address, 10.0.0.1i.
std::string router_mac(int rvm) {
  char text[18];
  std::snprintf(text, sizeof(text), "02:49:4e:00:00:%02x", 10 + rvm);
  return text;
}

TEST_F(Tenants, ADeletedNetworkLeavesNoSnatSessionForTheNextOne) {
  ASSERT_NO_FATAL_FAILURE(up());
  // iVM1, on the gateway itself, opens a UDP session through SNAT (its
  // first datagram may go while a neighbor is resolved: retried).
  ASSERT_TRUE(eventually([&] { return udp_seen_by_server(topo->ivm_ns(1, "private"), 4444) == "203.0.113.1\n"; }, 30s));
  int outside_port = 0;
  for (const auto& s : topo->ctl_json(1, {"nat", "sessions"}))
    if (s["protocol"] == "udp" && s["inside"] == "192.0.2.1:4444") outside_port = s["outside_port"];
  ASSERT_NE(outside_port, 0) << topo->ctl(1, {"nat", "sessions"}).out;
  EXPECT_GE(topo->ctl_json(1, {"network", "show", "private"}).value("snat_sessions", -1), 1);

  // A reply the server sends later, as the reality router delivers it: to
  // the SNAT address and the session's port.
  const std::string reality_if = ns_prefix() + "-rr";
  FrameParams reply;
  reply.src_mac = mac(mac_in(topo->ns("reality"), reality_if));
  reply.dst_mac = mac(field(field(topo->ctl_json(1, {"stats"}), "underlay"), "mac").get<std::string>());
  reply.src_ip = ip("203.0.113.200");
  reply.dst_ip = ip("10.0.0.100");
  reply.src_port = 5353;
  reply.dst_port = static_cast<uint16_t>(outside_port);
  const Ingress reality{"the reality router",
                        [&](const std::vector<Bytes>& frames) {
                          const CommandResult r = hostile_in(topo->ns("reality"), send_args(reality_if, frames));
                          ASSERT_EQ(r.exit_code, 0) << r.err;
                        },
                        [&] { return drops_of(field(field(topo->ctl_json(1, {"stats"}), "underlay"), "nic")); }};
  {
    // While the network lives, such a reply reaches iVM1.
    KernelWatcher ivm1(*dir, topo->ivm_ns(1, "private"), "ivm1pri");
    run_cases(reality, reply, {deliver("udp")}, {}, {});
    EXPECT_TRUE(eventually([&] { return ivm1.count("hs-1-udp") == 1; })) << "the forged reply is not a valid one";
  }

  // The tenant leaves the gateway: its port, then its network (and the
  // other rVMs stop sending it that network's floods).
  ASSERT_EQ(topo->ctl(1, {"port", "del", "ivm1pri"}).exit_code, 0);
  const CommandResult del = topo->ctl(1, {"network", "del", "private"});
  ASSERT_EQ(del.exit_code, 0) << del.err;
  for (int rvm : {2, 3}) ASSERT_EQ(topo->ctl(rvm, {"peer", "del", "private", "10.0.0.11"}).exit_code, 0);
  for (const auto& s : topo->ctl_json(1, {"nat", "sessions"}))
    EXPECT_NE(s["inside"].get<std::string>().rfind("192.0.2.1:", 0), 0u) << "session outlived its network: " << s;

  // The next network takes the freed index; none of the old replies reach it.
  ASSERT_EQ(topo->ctl(1, {"network", "add", "tenant2", "--vni", "1003"}).exit_code, 0);
  EXPECT_EQ(topo->ctl_json(1, {"network", "show", "tenant2"}).value("snat_sessions", -1), 0);
  auto t2 = topology_vport(*topo, *dir, 1, "t2", "tenant2");
  VportWatcher t2_watch("t2", *t2);
  run_cases(reality, reply, {drop("udp", "no_mapping")}, {}, {&t2_watch});
  EXPECT_EQ(t2_watch.count("hs-1-udp", 500ms), 0u);
}

TEST_F(Tenants, AGratuitousArpForTheGatewayOrAFloatingIpCapturesNothing) {
  ASSERT_NO_FATAL_FAILURE(up());
  // The real owners: rVM1's router has the gateway address, rVM2's router
  // the floating IP (it announced it to every rVM).
  const std::string kGateway = "198.51.100.201", kFloating = "203.0.113.10";
  ASSERT_EQ(seen_by_server(topo->ivm_ns(2, "private")), "203.0.113.10\n");
  ASSERT_EQ(seen_by_server(topo->ivm_ns(3, "private")), "203.0.113.1\n");
  const auto owners_known = [&] {
    for (int rvm : {2, 3}) EXPECT_EQ(neighbor_mac(rvm, "public", kGateway), router_mac(1)) << "rVM" << rvm;
    for (int rvm : {1, 3}) EXPECT_EQ(neighbor_mac(rvm, "public", kFloating), router_mac(2)) << "rVM" << rvm;
  };
  owners_known();
  ASSERT_FALSE(HasFailure()) << "the routers did not resolve each other before the test";

  // Guests on `public`, on every rVM, claim both: a gratuitous ARP each,
  // and an ARP reply to the local router. Each is dropped where it enters.
  for (int rvm = 1; rvm <= 3; ++rvm) {
    const std::string port = "ivm" + std::to_string(rvm) + "pub", ns = topo->ivm_ns(rvm, "public");
    const Ingress guest{"guest " + port + " on rVM" + std::to_string(rvm),
                        [&](const std::vector<Bytes>& frames) {
                          const CommandResult r = hostile_in(ns, send_args(port, frames));
                          ASSERT_EQ(r.exit_code, 0) << r.err;
                        },
                        [&] { return rvm_port_drops(rvm, port); }};
    FrameParams p;
    p.src_mac = mac(ivm_mac(rvm, "public"));
    p.src_ip = ip("198.51.100." + std::to_string(rvm));
    std::vector<Case> cases;
    for (const std::string& claimed : {kGateway, kFloating}) {
      cases.push_back(drop("garp", "spoofed_arp", [claimed](FrameParams& q) { q.arp_spa = ip(claimed); }));
      cases.push_back(drop("arp", "spoofed_arp", [claimed, rvm](FrameParams& q) {
        q.arp_op = 2;
        q.arp_spa = ip(claimed);
        q.dst_mac = mac(router_mac(rvm));
        q.arp_tpa = ip("198.51.100.20" + std::to_string(rvm));
      }));
    }
    run_cases(guest, p, cases, {}, {});
  }
  // Nobody believed them: every table still names the routers...
  owners_known();
  // ... and the traffic goes where it should.
  CommandResult r = topo->in(topo->ns("client"), "curl -s -m 10 --retry 2 http://203.0.113.10/");
  EXPECT_EQ(r.out, "hello from ivm2\n") << r.err << topo->ctl(1, {"neigh", "show"}).out;
  EXPECT_EQ(seen_by_server(topo->ivm_ns(2, "private")), "203.0.113.10\n") << topo->ctl(2, {"neigh", "show"}).out;
  EXPECT_EQ(seen_by_server(topo->ivm_ns(3, "private")), "203.0.113.1\n");
}

TEST_F(Tenants, NoIvmReachesTheMetadataServiceOrTheUnderlay) {
  ASSERT_NO_FATAL_FAILURE(up());
  // The reality cloud's metadata service, and a host of its network.
  ASSERT_EQ(topo->in(topo->ns("reality"), "ip addr add 169.254.169.254/32 dev lo").exit_code, 0);
  serve_http(topo->ns("reality"), "rVM credentials", "169.254.169.254:80");
  serve_http(topo->ns("reality"), "underlay host", "10.0.0.1:8081");
  // Both answer the gateway rVM's own stack...
  ASSERT_EQ(topo->in(topo->rvm_ns(1), "ip route add 169.254.169.254/32 via 10.0.0.1").exit_code, 0);
  CommandResult r = topo->in(topo->rvm_ns(1), "curl -s -m 10 http://169.254.169.254/");
  ASSERT_EQ(r.out, "rVM credentials\n") << r.err;
  r = topo->in(topo->rvm_ns(1), "curl -s -m 10 http://10.0.0.1:8081/");
  ASSERT_EQ(r.out, "underlay host\n") << r.err;

  // ... but no iVM, through SNAT on the gateway (iVM1), SNAT from a spoke
  // (iVM3), or its floating IP (iVM2).
  for (int rvm = 1; rvm <= 3; ++rvm) {
    SCOPED_TRACE("iVM" + std::to_string(rvm));
    const std::string ns = topo->ivm_ns(rvm, "private"), port = "ivm" + std::to_string(rvm) + "pri";
    const Drops before = rvm_port_drops(rvm, port);
    for (const char* url : {"http://169.254.169.254/", "http://10.0.0.1:8081/", "http://10.0.0.12:22/"}) {
      r = topo->in(ns, std::string("curl -s -m 2 ") + url);
      EXPECT_NE(r.exit_code, 0) << url << ": " << r.out;
      EXPECT_EQ(r.out, "") << url;
    }
    const Drops after = rvm_port_drops(rvm, port);
    EXPECT_GE(changes(before, after)["egress_denied"], 3u) << show(changes(before, after));
  }
  // The internet is still there.
  EXPECT_EQ(seen_by_server(topo->ivm_ns(3, "private")), "203.0.113.1\n");
  EXPECT_EQ(seen_by_server(topo->ivm_ns(2, "private")), "203.0.113.10\n");
}

TEST_F(Tenants, AnArpFloodNeitherStarvesAnotherNetworkNorOutgrowsItsNeighborLimit) {
  ASSERT_NO_FATAL_FAILURE(up({"network.neighbor_limit=16"}));
  // iVM1 (on the gateway) claims 200 addresses of its subnet, 3000 a second.
  const std::string ns1 = topo->ivm_ns(1, "private");
  auto flood = hostile_background(
      ns1,
      {"send", "--iface", "ivm1pri", "garp", "--src-mac", ivm_mac(1, "private"), "--arp-spa", "192.0.2.20", "--vary",
       "arp-spa", "--span", "200", "--count", "60000", "--pps", "3000", "--marker", "arp-flood"},
      "arp-flood.log");
  ASSERT_TRUE(eventually([&] { return changes({}, rvm_port_drops(1, "ivm1pri"))["punt_limit"] > 100; }, 10s))
      << topo->ctl(1, {"stats"}).out;

  // Meanwhile, on `public`, a new floating IP for a new iVM: rVM1 must learn
  // where 203.0.113.11 lives and rVM3 where the iVM is, by ARP, in time.
  const std::string ivm3pub = topo->ivm_ns(3, "public");
  ASSERT_EQ(topo->in(ivm3pub, "ip route add default via 198.51.100.203").exit_code, 0);
  serve_http(ivm3pub, "hello from ivm3 on public");
  ASSERT_EQ(run({binary("TOPOLOGY"), "map", dir->file("topology"), "203.0.113.11", "10.0.0.102"}).exit_code, 0);
  ASSERT_EQ(topo->ctl(1, {"gateway", "add", "10.0.0.102", "--public", "203.0.113.11"}).exit_code, 0);
  ASSERT_EQ(topo->ctl(3, {"fip", "add", "203.0.113.11", "--fixed", "198.51.100.3", "--network", "public"}).exit_code,
            0);
  const auto start = Clock::now();
  std::string answer;
  EXPECT_TRUE(eventually(
      [&] {
        answer = topo->in(topo->ns("client"), "curl -s -m 2 http://203.0.113.11/").out;
        return answer == "hello from ivm3 on public\n";
      },
      15s, 100ms))
      << answer << topo->ctl(1, {"neigh", "show"}).out << topo->ctl(3, {"neigh", "show"}).out;
  EXPECT_LT(Clock::now() - start, 15s);
  EXPECT_TRUE(flood->running()) << "the flood ended before the new floating IP was tried";

  // The flooded network's tables stayed within their limit, on every rVM
  // the flood reached; refusals and punt drops were counted.
  for (int rvm = 1; rvm <= 3; ++rvm) {
    const json network = topo->ctl_json(rvm, {"network", "show", "private"});
    EXPECT_LE(network.value("neighbors", 100000), 16) << "rVM" << rvm << ": " << network.dump();
  }
  const json network = topo->ctl_json(1, {"network", "show", "private"});
  EXPECT_EQ(network.value("neighbors", 0), 16) << network.dump();
  EXPECT_GT(network.value("neighbor_limit_hits", 0), 0) << network.dump();
  const json stats = topo->ctl_json(1, {"stats"});
  EXPECT_GT(port_drops(stats, "ivm1pri")["punt_limit"], 0u);
  flood->stop();
}

TEST_F(Tenants, AnIvmUsesUpOnlyItsOwnSnatQuota) {
  ASSERT_NO_FATAL_FAILURE(up({"nat.max_sessions_per_source=4"}));
  const std::string ivm3 = topo->ivm_ns(3, "private");
  // A first flow, until it is answered: the path's neighbors resolve on
  // first use, and a lost first datagram would leave no session.
  ASSERT_TRUE(eventually([&] { return udp_seen_by_server(ivm3, 31000) == "203.0.113.1\n"; }, 30s));
  // Eight more: three fit the quota of four.
  int answered = 0;
  for (int flow = 1; flow <= 8; ++flow) answered += udp_seen_by_server(ivm3, 31000 + flow) == "203.0.113.1\n";
  EXPECT_EQ(answered, 3);
  // Counted on the gateway, on the peer that relayed them (rVM3 over `public`).
  const json stats = topo->ctl_json(1, {"stats"});
  EXPECT_EQ(peer_drops(stats, "public", "10.0.0.13")["session_limit"], 5u) << stats["peers"].dump();
  size_t sessions = 0;
  for (const auto& s : topo->ctl_json(1, {"nat", "sessions"}))
    sessions += s["inside"].get<std::string>().rfind("192.0.2.3:", 0) == 0;
  EXPECT_EQ(sessions, 4u);
  // Its own sessions still work; another iVM still connects.
  EXPECT_EQ(udp_seen_by_server(ivm3, 31000), "203.0.113.1\n");
  EXPECT_EQ(udp_seen_by_server(ivm3, 31003), "203.0.113.1\n");
  EXPECT_EQ(seen_by_server(topo->ivm_ns(1, "private")), "203.0.113.1\n");
}

TEST_F(Tenants, ABroadcastFloodIsCutAtTheFloodRateWhileOthersTalk) {
  ASSERT_NO_FATAL_FAILURE(up({"switch.flood_pps_per_port=200"}));
  KernelWatcher ivm2(*dir, topo->ivm_ns(2, "private"), "ivm2pri");
  const json before = topo->ctl_json(1, {"stats"});
  const auto start = Clock::now();
  auto flood = hostile_background(topo->ivm_ns(1, "private"),
                                  {"send", "--iface", "ivm1pri", "plain", "--src-mac", ivm_mac(1, "private"),
                                   "--marker", "bcast-flood", "--count", "15000", "--pps", "3000"},
                                  "bcast-flood.log");
  // While it lasts, the others talk: iVM3 to iVM2 across rVMs, and to the internet.
  CommandResult r = topo->in(topo->ivm_ns(3, "private"), "ping -c 5 -i 0.2 -W 2 192.0.2.2");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find(" 0% packet loss"), std::string::npos) << r.out;
  EXPECT_EQ(seen_by_server(topo->ivm_ns(3, "private")), "203.0.113.1\n");
  EXPECT_TRUE(flood->running()) << "the flood ended before the others were tried";
  ASSERT_EQ(flood->read_line(30s).value_or(""), "sent 15000");

  // Every frame was flooded (to each peer: rVM1 has no other port on
  // `private`) or counted; no more were flooded than 200 a second allow,
  // plus the bucket's burst, and iVM2 got at most those. (iVM1's own
  // kernel may add a frame or two: they share the port's bound.) The
  // window is the switch's: it ends when the switch has accounted for the
  // last frame, which may sit in the kernel port's queue after the sender
  // is done; it is seen here within one poll of the stats. The switch
  // measures the rate in TSC cycles at DPDK's estimate of the TSC's
  // frequency (rte_get_tsc_hz: the nominal 2.6 GHz on this host) and this
  // test in CLOCK_MONOTONIC: under a hypervisor the two drift apart by a
  // few tenths of a percent (seen: 1030 frames where 200/s x 5.04 s + 20
  // allow 1028, and 18 over at 1000/s), so the bound allows 1% between
  // them. A limiter that did not hold would pass 15000.
  double seconds = 0;
  uint64_t limited = 0, flooded = 0, received_by_switch = 0;
  const auto copies_to = [](const json& stats, const std::string& peer) {
    for (const auto& p : field(stats, "peers"))
      if (field(p, "network") == "private" && field(p, "peer") == peer) return p.value("flood_packets", uint64_t{0});
    return uint64_t{0};
  };
  const auto rx = [](const json& stats) {
    return named(field(stats, "ports"), "name", "ivm1pri").value("rx_packets", uint64_t{0});
  };
  EXPECT_TRUE(eventually([&] {
    const json now = topo->ctl_json(1, {"stats"});
    limited = changes(port_drops(before, "ivm1pri"), port_drops(now, "ivm1pri"))["flood_limit"];
    flooded = copies_to(now, "10.0.0.12") - copies_to(before, "10.0.0.12");
    received_by_switch = rx(now) - rx(before);
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return limited + flooded >= 15000 && limited + flooded <= received_by_switch &&
           copies_to(now, "10.0.0.13") - copies_to(before, "10.0.0.13") == flooded;
  })) << limited
      << " dropped as flood_limit, " << flooded << " flooded, of " << received_by_switch;
  const size_t received = ivm2.count("bcast-flood", 500ms);
  EXPECT_LE(flooded, static_cast<uint64_t>(200 * 1.01 * seconds) + 20)
      << limited << " dropped in " << seconds << " s; iVM2 received " << received;
  EXPECT_GT(flooded, 0u);
  EXPECT_GT(received, 0u);
  EXPECT_LE(received, flooded);
}

TEST_F(Tenants, KernelPortsAreRefusedBeforeTheyExhaustThePacketBuffers) {
  // Each rVM holds a host interface and two iVM kernel ports: 3072 mbufs in
  // their receive rings, and ~3100 kept for frames in flight.
  ASSERT_NO_FATAL_FAILURE(up({"dpdk.mbufs=6400"}));
  const CommandResult r = topo->ctl(1, {"port", "add", "extra0", "--type", "kernel", "--network", "private"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("port extra0: not enough packet buffers for a kernel port: its receive queues hold 1024 mbufs"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("(raise [dpdk] mbufs)"), std::string::npos) << r.err;
  EXPECT_EQ(port_link(topo->ctl_json(1, {"port", "list"}), "extra0"), "");
  // The switch still has buffers for traffic and for guests that pin none.
  const json stats = topo->ctl_json(1, {"stats"});
  const json& pools = field(stats, "mempools");
  ASSERT_TRUE(pools.is_array() && !pools.empty()) << "stats shows no packet buffer pool";
  EXPECT_EQ(pools[0].value("size", uint64_t{0}), 6400u);
  EXPECT_GT(pools[0].value("available", uint64_t{0}), 2048u);
  CommandResult ping = topo->in(topo->ivm_ns(1, "private"), "ping -c 3 -i 0.2 -W 2 192.0.2.2");
  EXPECT_EQ(ping.exit_code, 0) << ping.out;
  auto guest = topology_vport(*topo, *dir, 1, "v1", "private");
  ASSERT_EQ(guest->send(kBroadcast, "02:00:00:00:0c:01", "after-refusal"), 1u);
}

}  // namespace
}  // namespace inception::test
