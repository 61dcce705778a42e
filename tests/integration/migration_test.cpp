// Live migration of a nested guest between rVMs, in the paper's Figure 4:
// three rVMs on scripts/topology.sh --nat (rVM 1 the gateway and the
// observer C, rVM 2 and rVM 3 the hosts A and B), each host running its own
// real libvirtd in its rVM's namespace (libvirt_host.h) next to its
// inceptiond, whose only knowledge of the guest is its [libvirt] section.
// The guest, with floating IP 203.0.113.10 in its domain metadata, moves
// A -> B -> A ... with `virsh migrate --live` (two libvirtds, so the cloud's
// own tool drives the move, and QEMU's migration stream crosses the rVMs'
// switches like any other traffic of the rVM), while
//   - C's iVM (192.0.2.1, kernel port on rVM 1) pings it over VXLAN,
//   - the internet client pings its floating IP through the reality NAT and
//     the gateway rVM,
//   - the internet client streams numbered lines to it over one TCP
//     connection to the floating IP.
// Each move's loss is the time without an answered probe on each path. The
// test asserts what the switch owns: the port, MAC binding and floating IP
// follow the guest, the TCP connection survives, and the blackout is QEMU's
// pause plus at most kSwitchShareBoundMs. It reports the loss against the
// goal (0.5 s median, 1 s worst), which QEMU's pause under TCG decides here.
// Not in the default scripts/test.sh run (docs/libvirt.md#limits).
#include <gtest/gtest.h>
#include <signal.h>
#include <time.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <regex>
#include <sstream>

#include "figure_four.h"
#include "guest.h"
#include "harness.h"
#include "libvirt_host.h"

namespace inception::test {
namespace {

using nlohmann::json;

constexpr int kMoves = 6;                  // A -> B -> A -> B -> A -> B -> A
constexpr double kProbeIntervalMs = 10.0;  // ping -i
// What the switch may add to QEMU's own pause of the guest on each path:
// the blackout seen by the probes less the pause between the source's
// SUSPENDED and the destination's RESUMED event. Measured 20-40 ms, up to
// ~100 ms on a guest's first move through the floating IP; the probes'
// interval and the freshly resumed TCG guest's first answers are in it.
constexpr double kSwitchShareBoundMs = 250;
// The whole blackout, whatever QEMU does (its pause under TCG here: 0.1-0.9 s).
constexpr double kLossSanityBoundMs = 2000;
// The goal the loss is reported against (docs/libvirt.md): median and worst.
constexpr double kMedianLossGoalMs = 500, kMaxLossGoalMs = 1000;
const char* const kGuestIp = "192.0.2.50";
const char* const kFloatingIp = "203.0.113.10";

// Unix time in seconds of an inceptiond log line ("2026-12-02T12:00:00.123 ...").
std::optional<double> log_time(const std::string& line) {
  tm t{};
  int ms = 0;
  if (sscanf(line.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d", &t.tm_year, &t.tm_mon, &t.tm_mday, &t.tm_hour, &t.tm_min,
             &t.tm_sec, &ms) != 7)
    return std::nullopt;
  t.tm_year -= 1900;
  t.tm_mon -= 1;
  return static_cast<double>(timegm(&t)) + ms / 1000.0;
}

// The time of the last line of `log` that contains `what`.
std::optional<double> last_logged(const std::string& log, const std::string& what) {
  std::optional<double> found;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);)
    if (line.find(what) != std::string::npos)
      if (const auto t = log_time(line)) found = t;
  return found;
}

struct Outage {
  // The time without an answered probe, from when probes were sent (a
  // reply's arrival less its round trip): the last answered before each
  // gap to the first answered after it, summed over the gaps (probes the
  // guest found in its ring after the move can split one blackout in two).
  // ping sends less often while its probes go unanswered, so lost probes
  // times the interval would flatter the blackout.
  double lost_ms = 0;
  double longest_gap_ms = 0;
  std::optional<double> first_through;  // when the first probe after the longest gap was sent (unix time)
  int answered = 0, sent = 0;
};

// ping -D output: "[1764676800.123456] 64 bytes from ...: icmp_seq=12 ttl=64 time=1.2 ms",
// and "N packets transmitted, M received" when it is interrupted.
Outage outage_of(const std::vector<std::string>& lines) {
  static const std::regex reply(R"(^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=(\d+) .*time=([0-9.]+) ms)");
  static const std::regex summary(R"((\d+) packets transmitted)");
  Outage o;
  int previous = 0;
  double previous_sent = 0;
  for (const std::string& line : lines) {
    std::smatch m;
    if (std::regex_search(line, m, summary)) o.sent = std::stoi(m[1]);
    if (!std::regex_search(line, m, reply)) continue;
    const int seq = std::stoi(m[2]);
    if (seq <= previous) continue;  // duplicates
    ++o.answered;
    const double sent_at = std::stod(m[1]) - std::stod(m[3]) / 1000;
    if (previous > 0 && seq > previous + 1) {
      const double gap_ms = (sent_at - previous_sent) * 1000;
      o.lost_ms += gap_ms;
      if (gap_ms > o.longest_gap_ms) {
        o.longest_gap_ms = gap_ms;
        o.first_through = sent_at;
      }
    }
    previous = seq;
    previous_sent = sent_at;
  }
  // Probes lost at the end never came through.
  if (o.sent > previous + 20) o.first_through.reset();
  return o;
}

// ping every kProbeIntervalMs from namespace `ns`, until finish().
class Prober {
 public:
  Prober(const TempDir& dir, const std::string& ns, const std::string& target, const std::string& tag)
      : process_({"ip", "netns", "exec", ns, "ping", "-D", "-n", "-W", "1", "-i",
                  std::to_string(kProbeIntervalMs / 1000.0), target},
                 dir.file("ping-" + tag + ".err")),
        out_path_(dir.file("ping-" + tag + ".out")) {}
  Outage finish() {
    process_.stop(SIGINT);
    const std::vector<std::string> lines = process_.drain_lines();
    std::ofstream out(out_path_);  // kept with INCEPTION_KEEP_TMP
    for (const std::string& line : lines) out << line << "\n";
    return outage_of(lines);
  }

 private:
  Process process_;
  std::string out_path_;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

class MigrationTest : public FigureFourTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(guest_image_dir() + "/vmlinuz"))
        << "no guest image in '" << guest_image_dir() << "': run scripts/build-guest.sh";
    dir = std::make_unique<TempDir>("migration");
    // libvirtd runs inside its rVM's namespace, so the namespace must exist
    // first: the hosts' directories now, the daemons after the topology.
    for (int rvm : {2, 3}) {
      hosts[rvm] = std::make_unique<LibvirtHost>(*dir, rvm == 2 ? "A" : "B", ns_prefix() + "-rvm" + std::to_string(rvm),
                                                 /*start=*/false);
    }
    std::vector<std::string> settings;
    for (int rvm : {2, 3}) {
      const std::string prefix = "rvm" + std::to_string(rvm) + ".libvirt.";
      settings.push_back(prefix + "uri=\"" + hosts[rvm]->uri() + "\"");
      settings.push_back(prefix + "socket_dir=\"" + hosts[rvm]->socket_dir() + "\"");
    }
    ASSERT_NO_FATAL_FAILURE(bring_up_reality("migration", settings));
    for (int rvm : {2, 3}) {
      hosts[rvm]->start();
      ASSERT_TRUE(hosts[rvm]->wait_ready()) << hosts[rvm]->log();
    }
  }

  void TearDown() override {
    // Guests and daemons go before the namespaces they live in.
    console.reset();
    hosts.clear();
    topo.reset();
  }

  // Where the guest runs now: rVM 2 (A) or 3 (B).
  LibvirtHost& host(int rvm) { return *hosts.at(rvm); }

  // `virsh migrate --live` from rVM `from` to the other one, with the
  // domain's XML rewritten for the destination's paths (sockets, console,
  // images: each libvirtd has its own tree). The migration stream goes to
  // the destination rVM's underlay address, through both switches.
  CommandResult migrate(int from, int to) {
    const CommandResult dumped = host(from).virsh({"dumpxml", "--migratable", "g1"});
    if (dumped.exit_code != 0) return dumped;
    std::string xml = dumped.out;
    replace_all(xml, host(from).root() + "/", host(to).root() + "/");
    const std::string path = dir->file("g1-to-" + std::to_string(to) + ".xml");
    std::ofstream(path) << xml;
    std::vector<std::string> args{
        "migrate", "--live", "g1", host(to).uri(), "--migrateuri", "tcp://10.0.0.1" + std::to_string(to),
        "--xml",   path};
    return host(from).virsh(args, 180s);
  }

  // What the guest printed on its serial console, wherever it ran.
  std::string guest_console() {
    std::string out;
    for (int rvm : {2, 3}) {
      std::ifstream in(console_socket(host(rvm), "g1") + ".log");
      out += std::string(std::istreambuf_iterator<char>(in), {});
    }
    return out;
  }
  // QEMU under TCG now and then resumes a guest whose memory is not what it
  // was (docs/libvirt.md#limits): say so rather than report lost probes.
  bool guest_panicked() { return guest_console().find("Kernel panic") != std::string::npos; }

  std::map<int, std::unique_ptr<LibvirtHost>> hosts;
  std::unique_ptr<ConsoleGuest> console;
};

TEST_F(MigrationTest, GuestKeepsItsPrivateTrafficFloatingIpAndTcpStreamAcrossLiveMigrations) {
  const std::string mac = "52:54:00:00:02:01";
  LibvirtGuestSpec spec{"g1", mac, host(2).socket_dir() + "/g1.sock", std::string(kGuestIp) + "/24",
                        "<inception:ports xmlns:inception='http://inception-dataplane.org/xmlns/libvirt/1'>"
                        "<inception:port mac='" +
                            mac + "' network='private' fixed-ip='" + kGuestIp + "' floating-ip='" + kFloatingIp +
                            "'/></inception:ports>"};
  const std::string xml_path = dir->file("g1.xml");
  std::ofstream(xml_path) << libvirt_guest_xml(host(2), spec);
  libvirt_guest_xml(host(3), spec);  // B's copy of the images, for the XML a move rewrites
  CommandResult r = host(2).virsh({"create", xml_path}, 120s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << topo->log(2);
  console = std::make_unique<ConsoleGuest>("g1", console_socket(host(2), "g1"));
  ASSERT_TRUE(console->wait_ready()) << console->transcript();
  ASSERT_EQ(console->run("ip route add default via 192.0.2.254").exit_code, 0);
  // The stream's receiver: numbered lines, one per 50 ms, kept in a file.
  // Its stdin is a pipe nobody writes: on the console it would read the
  // test's commands.
  ASSERT_EQ(console->run("sleep 100000 | nc -l -p 5000 > /tmp/stream &").exit_code, 0);
  console.reset();  // the console socket moves with the guest

  const std::string observer = topo->ivm_ns(1, "private");
  const std::string client = topo->ns("client");
  ASSERT_TRUE(eventually([&] { return topo->in(observer, std::string("ping -c 1 -W 1 ") + kGuestIp).exit_code == 0; },
                         20s, 200ms))
      << topo->log(2);
  ASSERT_TRUE(eventually([&] { return topo->in(client, std::string("ping -c 1 -W 1 ") + kFloatingIp).exit_code == 0; },
                         20s, 200ms))
      << topo->ctl(2, {"fip", "list"}).out << topo->log(1) << topo->log(2);
  Process stream(
      {"ip", "netns", "exec", client, "sh", "-c",
       std::string("i=0; while i=$((i+1)); do echo $i; sleep 0.05; done | socat -u - TCP:") + kFloatingIp + ":5000"},
      dir->file("stream.err"), /*capture_stdout=*/false);

  std::vector<double> private_loss, public_loss;
  std::ostringstream report;
  report << "move    virsh  pause  event_late  fip_active | C: lost  gap  through | internet: lost  gap  through"
            "   (ms; docs/libvirt.md)\n";
  int at = 2;
  for (int move = 1; move <= kMoves; ++move) {
    const int to = at == 2 ? 3 : 2;
    Prober private_probe(*dir, observer, kGuestIp, "private-" + std::to_string(move));
    Prober public_probe(*dir, client, kFloatingIp, "public-" + std::to_string(move));
    std::this_thread::sleep_for(500ms);
    const auto started = std::chrono::steady_clock::now();
    r = migrate(at, to);
    const double virsh_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    ASSERT_EQ(r.exit_code, 0) << "move " << move << ": " << r.out << r.err << host(at).log() << host(to).log();
    // The source lets go of the guest on STOPPED_MIGRATED; the probes run
    // on past it.
    ASSERT_TRUE(eventually([&] { return topo->ctl_json(at, {"fip", "list"}).empty(); }, 10s, 100ms)) << topo->log(at);
    std::this_thread::sleep_for(1s);
    const Outage priv = private_probe.finish();
    const Outage pub = public_probe.finish();

    // The destination holds the port with the guest's MAC pinned, and
    // claims the floating IP; the source has neither.
    const json fips = topo->ctl_json(to, {"fip", "list"});
    ASSERT_EQ(fips.size(), 1u) << fips.dump();
    EXPECT_EQ(fips[0]["public"], kFloatingIp);
    EXPECT_TRUE(fips[0]["active"].get<bool>());
    bool bound = false;
    for (const json& p : topo->ctl_json(to, {"port", "list"}))
      if (p["name"] == "g1-net0") bound = p["macs_bound"].get<bool>();
    EXPECT_TRUE(bound) << topo->ctl(to, {"port", "list"}).out;
    for (const json& p : topo->ctl_json(at, {"port", "list"})) EXPECT_NE(p["name"], "g1-net0");

    // The guest's pause as the switches saw it (the source's SUSPENDED to
    // the destination's RESUMED event), how late that event came after the
    // guest attached to the destination's switch (QEMU starts the NIC just
    // before the vCPUs), how long the switch took from the event to claim
    // the floating IP, and per path: the loss, and when the first probe to
    // get through after the blackout was sent, from the guest's attach.
    const std::string from_log = topo->log(at), to_log = topo->log(to);
    const auto suspended = last_logged(from_log, "domain g1: suspended");
    const auto attached = last_logged(to_log, "port g1-net0: guest attached");
    const auto resumed = last_logged(to_log, "domain g1: resumed");
    const auto active = last_logged(to_log, std::string("floating IP ") + kFloatingIp + " active");
    ASSERT_TRUE(suspended && attached && resumed && active) << from_log << to_log;
    const auto ms = [](double seconds) { return std::to_string(std::lround(seconds * 1000)); };
    const auto path = [&](const Outage& o) {
      return std::to_string(std::lround(o.lost_ms)) + "  " + std::to_string(std::lround(o.longest_gap_ms)) + "  " +
             (o.first_through ? ms(*o.first_through - *attached) : std::string("never"));
    };
    const double pause_ms = (*resumed - *suspended) * 1000;
    report << move << (to == 3 ? " A->B" : " B->A") << "  " << std::lround(virsh_s * 10) / 10.0 << "s  "
           << std::lround(pause_ms) << "  " << ms(*resumed - *attached) << "  " << ms(*active - *resumed) << " | "
           << path(priv) << " | " << path(pub) << "\n";
    ASSERT_FALSE(guest_panicked()) << "move " << move << ": the guest's kernel died after the move:\n"
                                   << guest_console() << "\n"
                                   << report.str();
    for (const auto& [name, o] : {std::pair{"C -> iVM", priv}, std::pair{"internet -> floating IP", pub}}) {
      EXPECT_GT(o.answered, 100) << "move " << move << ", " << name;
      EXPECT_TRUE(o.first_through.has_value()) << "move " << move << ", " << name << ": the probes never came back";
      EXPECT_LE(o.lost_ms - pause_ms, kSwitchShareBoundMs)
          << "move " << move << ", " << name << ": the blackout is longer than QEMU's pause\n"
          << report.str();
      EXPECT_LE(o.lost_ms, kLossSanityBoundMs) << "move " << move << ", " << name;
    }
    private_loss.push_back(priv.lost_ms);
    public_loss.push_back(pub.lost_ms);
    at = to;
  }
  for (const auto& [name, loss] :
       {std::pair{"C -> iVM", private_loss}, std::pair{"internet -> floating IP", public_loss}}) {
    const double worst = *std::max_element(loss.begin(), loss.end());
    report << name << ": median loss " << std::lround(median(loss)) << " ms (goal " << kMedianLossGoalMs << "), worst "
           << std::lround(worst) << " ms (goal " << kMaxLossGoalMs << ")"
           << (median(loss) <= kMedianLossGoalMs && worst <= kMaxLossGoalMs ? "" : ": missed, QEMU's pause") << "\n";
  }
  std::cout << report.str();

  // The TCP connection to the floating IP lived through every move: the
  // sender is still connected and the guest received every line in order,
  // also since the last move.
  console = std::make_unique<ConsoleGuest>("g1", console_socket(host(at), "g1"));
  ASSERT_TRUE(console->wait_ready()) << console->transcript();
  // Lines checked (all but the last, which may be arriving) and whether
  // each one held its own number.
  const auto received = [&] {
    const CommandResult lines = console->run(
        "awk '{ if (NR > 1 && previous != NR - 1) bad = 1; previous = $1 } END { print NR - 1, bad + 0 }' "
        "/tmp/stream");
    std::istringstream in(lines.out);
    long checked = -1, bad = 1;
    in >> checked >> bad;
    return std::pair{checked, bad};
  };
  const auto before = received();
  std::this_thread::sleep_for(1s);
  const auto after = received();
  EXPECT_TRUE(stream.running()) << "the TCP stream to the floating IP broke";
  EXPECT_GT(before.first, 100);
  EXPECT_EQ(after.second, 0) << "lines lost or out of order";
  EXPECT_GT(after.first, before.first) << "the stream stopped flowing";
  stream.stop();
}

}  // namespace
}  // namespace inception::test
