// Guests plugged the way a cloud runs them: a real libvirtd (private to the
// test, see libvirt_host.h) starts QEMU guests from domain XML carrying the
// project's metadata, and inceptiond, with only a [libvirt] section, plugs
// them: no inceptionctl call. Then the guests' life (hot-plug, destroy),
// restarts of inceptiond (kill -9) and of libvirtd, and domains that must
// be refused, with their reasons, while the others keep working.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "guest.h"
#include "harness.h"
#include "libvirt_host.h"

namespace inception::test {
namespace {

using nlohmann::json;

std::string metadata(const std::string& attributes) {
  return "<inception:ports xmlns:inception='http://inception-dataplane.org/xmlns/libvirt/1'><inception:port " +
         attributes + "/></inception:ports>";
}

json port_named(Daemon& daemon, const std::string& name) {
  for (const json& p : daemon.ctl_json({"port", "list"}))
    if (p["name"] == name) return p;
  return json();
}

// The guest answers a ping to `ip` (one try, one second).
bool pings(SerialConsole& guest, const std::string& ip) {
  return guest.run("ping -c 1 -W 1 " + ip, 10s).exit_code == 0;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class LibvirtTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(guest_image_dir() + "/vmlinuz"))
        << "no guest image in '" << guest_image_dir() << "': run scripts/build-guest.sh";
    dir = std::make_unique<TempDir>("libvirt");
    // libvirtd and its QEMUs run away from the machine's own network.
    ns = std::make_unique<Netns>(ns_prefix() + "-lv");
    host = std::make_unique<LibvirtHost>(*dir, "lv", ns->name());
    ASSERT_TRUE(host->wait_ready()) << host->log();
    daemon = std::make_unique<Daemon>(
        *dir,
        "[[network]]\nname = \"private\"\nvni = 1001\n[[network]]\nname = \"public\"\nvni = 1002\n"
        "[libvirt]\nuri = \"" +
            host->uri() + "\"\nsocket_dir = \"" + host->socket_dir() + "\"\n");
    ASSERT_TRUE(daemon->wait_ready()) << daemon->log();
  }

  std::string socket(const std::string& name) const { return host->socket_dir() + "/" + name + ".sock"; }

  // Defines and starts a guest; `virsh start` returns only once the switch
  // has connected to the guest's socket (QEMU waits for it).
  void start_guest(const LibvirtGuestSpec& spec) {
    const std::string xml_path = dir->file(spec.name + ".xml");
    std::ofstream(xml_path) << libvirt_guest_xml(*host, spec);
    CommandResult r = host->virsh({"define", xml_path});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    r = host->virsh({"start", spec.name}, 60s);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err << daemon->log();
  }

  // Starts a domain the switch must refuse: QEMU waits for a switch that
  // never comes, so virsh is left behind after a few seconds.
  void start_refused(const LibvirtGuestSpec& spec) {
    const std::string xml_path = dir->file(spec.name + ".xml");
    std::ofstream(xml_path) << libvirt_guest_xml(*host, spec);
    ASSERT_EQ(host->virsh({"define", xml_path}).exit_code, 0);
    host->virsh({"start", spec.name}, 3s);
  }

  // Both boot at once (TCG boots take seconds); their consoles answer.
  void start_two(const LibvirtGuestSpec& g1, const LibvirtGuestSpec& g2) {
    ASSERT_NO_FATAL_FAILURE(start_guest(g1));
    ASSERT_NO_FATAL_FAILURE(start_guest(g2));
    console1 = std::make_unique<ConsoleGuest>(g1.name, console_socket(*host, g1.name));
    console2 = std::make_unique<ConsoleGuest>(g2.name, console_socket(*host, g2.name));
    ASSERT_TRUE(console1->wait_ready()) << console1->transcript();
    ASSERT_TRUE(console2->wait_ready()) << console2->transcript();
  }

  json status() { return daemon->ctl_json({"libvirt", "status"}); }

  std::unique_ptr<TempDir> dir;
  std::unique_ptr<Netns> ns;
  std::unique_ptr<LibvirtHost> host;
  std::unique_ptr<Daemon> daemon;
  std::unique_ptr<ConsoleGuest> console1, console2;
};

TEST_F(LibvirtTest, PlugsGuestsFromTheirXmlFollowsTheirLifeAndSurvivesRestarts) {
  const LibvirtGuestSpec g1{"g1", "52:54:00:00:01:01", socket("g1"), "192.0.2.31/24",
                            metadata("mac='52:54:00:00:01:01' network='private' fixed-ip='192.0.2.31' "
                                     "floating-ip='203.0.113.31'")};
  const LibvirtGuestSpec g2{"g2", "52:54:00:00:01:02", socket("g2"), "192.0.2.32/24",
                            metadata("mac='52:54:00:00:01:02' network='private' fixed-ip='192.0.2.32'")};
  ASSERT_NO_FATAL_FAILURE(start_two(g1, g2));
  ConsoleGuest& c1 = *console1;
  ConsoleGuest& c2 = *console2;

  // Plugged from the XML alone: ports named after domain and alias, port
  // security from the metadata, the floating IP taken for the running guest.
  const json p1 = port_named(*daemon, "g1-net0");
  ASSERT_FALSE(p1.is_null()) << daemon->ctl({"port", "list"}).out << daemon->log();
  EXPECT_EQ(p1["domain"]["name"], "g1");
  EXPECT_EQ(p1["socket"], socket("g1"));
  EXPECT_EQ(p1["macs"], json::array({"52:54:00:00:01:01"}));
  EXPECT_EQ(p1["ips"], json::array({"192.0.2.31/32"}));
  EXPECT_EQ(p1["macs_bound"], true) << "the guest runs here";
  EXPECT_FALSE(port_named(*daemon, "g2-net0").is_null());
  const json fips = daemon->ctl_json({"fip", "list"});
  ASSERT_EQ(fips.size(), 1u) << fips.dump();
  EXPECT_EQ(fips[0]["public"], "203.0.113.31");
  EXPECT_EQ(fips[0]["fixed"], "192.0.2.31");
  EXPECT_EQ(fips[0]["domain"]["name"], "g1");
  EXPECT_TRUE(pings(c1, "192.0.2.32")) << c1.transcript();
  EXPECT_TRUE(pings(c2, "192.0.2.31")) << c2.transcript();
  json s = status();
  EXPECT_TRUE(s["connected"].get<bool>());
  EXPECT_EQ(s["domains"].size(), 2u) << s.dump(2);
  EXPECT_TRUE(s["refused"].empty()) << s.dump(2);
  const std::string scrape = http_get(daemon->metrics_port(), "/metrics");
  EXPECT_NE(scrape.find("inception_libvirt_connected 1"), std::string::npos) << scrape;
  EXPECT_NE(scrape.find("inception_libvirt_domains 2"), std::string::npos) << scrape;
  // Neither the TOML nor a person owns these.
  CommandResult r = daemon->ctl({"port", "del", "g1-net0"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("plugged by libvirt for domain g1"), std::string::npos) << r.err;
  EXPECT_EQ(daemon->ctl_json({"config", "show"})["toml"].get<std::string>().find("g1-net0"), std::string::npos);

  // inceptiond killed under running guests: back, it adopts them again
  // from libvirt and they talk again at once.
  ASSERT_EQ(daemon->process().stop(9), 128 + 9);
  daemon->restart();
  ASSERT_TRUE(daemon->wait_ready()) << daemon->log();
  const auto back = Clock::now();
  ASSERT_TRUE(eventually([&] { return pings(c1, "192.0.2.32"); }, 20s, 0ms)) << daemon->log();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - back).count();
  std::cout << "inceptiond killed and restarted: guests ping each other " << ms << " ms after it is back\n";
  RecordProperty("ping_after_switch_restart_ms", static_cast<int>(ms));
  EXPECT_LE(ms, 2000);
  EXPECT_TRUE(pings(c2, "192.0.2.31"));
  EXPECT_EQ(daemon->ctl_json({"fip", "list"}).size(), 1u);

  // libvirtd restarted: nothing is unplugged meanwhile, the watcher
  // reconnects and resyncs; a guest that died while libvirtd was away
  // (its QEMU killed) is unplugged then.
  ASSERT_EQ(host->stop(), 0) << host->log();
  ASSERT_TRUE(eventually([&] { return !status()["connected"].get<bool>(); }, 10s)) << status().dump(2);
  EXPECT_TRUE(pings(c1, "192.0.2.32")) << "forwarding stops without libvirtd";
  EXPECT_EQ(status()["domains"].size(), 2u);
  const pid_t g2_qemu = static_cast<pid_t>(std::stol(read_file(host->root() + "/run/qemu/g2.pid")));
  ASSERT_GT(g2_qemu, 1);
  ASSERT_EQ(kill(g2_qemu, SIGKILL), 0);
  host->start();
  ASSERT_TRUE(host->wait_ready()) << host->log();
  ASSERT_TRUE(eventually(
      [&] {
        s = status();
        return s["connected"].get<bool>() && s["reconnects"].get<uint64_t>() >= 1 && s["domains"].size() == 1;
      },
      15s))
      << s.dump(2) << daemon->log();
  EXPECT_EQ(s["domains"][0]["name"], "g1") << s.dump(2);
  EXPECT_TRUE(port_named(*daemon, "g2-net0").is_null());
  for (const json& e : daemon->ctl_json({"fdb", "show"})) EXPECT_NE(e["mac"], "52:54:00:00:01:02") << e.dump();

  // Hot-plug: QEMU waits for the switch on the new socket too; the attach
  // completes because the switch plugs it.
  const std::string nic = dir->file("nic.xml");
  std::ofstream(nic) << "<interface type='vhostuser'><mac address='52:54:00:00:01:03'/><source type='unix' path='"
                     << socket("g1-b")
                     << "' mode='server'/><model type='virtio'/><rom enabled='no'/>"
                        "<alias name='ua-b'/></interface>";
  r = host->virsh({"metadata", "g1", "--live", "--uri", "http://inception-dataplane.org/xmlns/libvirt/1", "--key",
                   "inception", "--set",
                   "<ports><port mac='52:54:00:00:01:01' network='private' fixed-ip='192.0.2.31' "
                   "floating-ip='203.0.113.31'/><port mac='52:54:00:00:01:03' network='public' name='g1-pub'/>"
                   "</ports>"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = host->virsh({"attach-device", "g1", nic, "--live"}, 60s);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << daemon->log();
  ASSERT_TRUE(eventually([&] { return !port_named(*daemon, "g1-pub").is_null(); }, 10s)) << daemon->log();
  EXPECT_EQ(port_named(*daemon, "g1-pub")["network"], "public");
  EXPECT_GE(status()["events"]["device_added"].get<uint64_t>(), 1u);

  // Destroyed: its ports, their MACs and its floating IP go.
  ASSERT_EQ(host->virsh({"destroy", "g1"}).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return daemon->ctl_json({"port", "list"}).empty(); }, 10s)) << daemon->log();
  EXPECT_TRUE(daemon->ctl_json({"fip", "list"}).empty());
  EXPECT_TRUE(daemon->ctl_json({"fdb", "show"}).empty()) << daemon->ctl({"fdb", "show"}).out;
  EXPECT_TRUE(status()["domains"].empty());
}

TEST_F(LibvirtTest, RefusesBadDomainsWithTheirReasonAndLeavesTheOthersAlone) {
  const LibvirtGuestSpec g1{"g1", "52:54:00:00:02:01", socket("g1"), "192.0.2.41/24",
                            metadata("mac='52:54:00:00:02:01' network='private' fixed-ip='192.0.2.41'")};
  const LibvirtGuestSpec g2{"g2", "52:54:00:00:02:02", socket("g2"), "192.0.2.42/24",
                            metadata("mac='52:54:00:00:02:02' network='private'")};
  ASSERT_NO_FATAL_FAILURE(start_two(g1, g2));
  ConsoleGuest& c1 = *console1;
  ASSERT_TRUE(pings(c1, "192.0.2.42"));

  struct Bad {
    LibvirtGuestSpec spec;
    std::string reason;
  };
  const std::filesystem::path outside = dir->file("outside");
  std::filesystem::create_directories(outside);
  sh("chown libvirt-qemu " + outside.string() + " && chmod 755 " + dir->path());
  const std::vector<Bad> bad = {
      {{"bad-net", "52:54:00:00:02:10", socket("bad-net"), "192.0.2.50/24",
        metadata("mac='52:54:00:00:02:10' network='nonexistent'")},
       "network nonexistent does not exist"},
      {{"bad-dup", "52:54:00:00:02:01", socket("bad-dup"), "192.0.2.51/24",
        metadata("mac='52:54:00:00:02:01' network='private'")},
       "MAC 52:54:00:00:02:01 is already bound to port g1-net0"},
      {{"bad-meta", "52:54:00:00:02:12", socket("bad-meta"), "192.0.2.52/24",
        metadata("mac='52:54:00:00:02:12' network='private' colour='red'")},
       "XML: metadata: <port> has an unknown attribute 'colour'"},
      {{"bad-mac", "52:54:00:00:02:13", socket("bad-mac"), "192.0.2.53/24",
        metadata("mac='52:54:00:00:02:99' network='private'")},
       "no <inception:port mac='52:54:00:00:02:13'>"},
      {{"bad-name", "52:54:00:00:02:15", socket("bad-name"), "192.0.2.55/24",
        metadata("mac='52:54:00:00:02:15' network='private' name='g1-net0'")},
       "port g1-net0 already exists"},
      {{"bad-dir", "52:54:00:00:02:14", outside.string() + "/bad-dir.sock", "192.0.2.54/24",
        metadata("mac='52:54:00:00:02:14' network='private'")},
       "outside the allowed directory " + host->socket_dir()},
  };
  for (const Bad& b : bad) start_refused(b.spec);
  json s;
  const bool all_refused = eventually(
      [&] {
        s = status();
        for (const Bad& b : bad) {
          bool found = false;
          for (const json& r : s["refused"])
            found = found ||
                    (r["domain"] == b.spec.name && r["reason"].get<std::string>().find(b.reason) != std::string::npos);
          if (!found) return false;
        }
        return true;
      },
      30s, 500ms);  // bad-dir creates nothing in socket_dir: the periodic resync finds it
  EXPECT_TRUE(all_refused) << s.dump(2) << daemon->log();
  EXPECT_GE(s["refused_total"].get<uint64_t>(), bad.size());
  const std::string scrape = http_get(daemon->metrics_port(), "/metrics");
  EXPECT_NE(scrape.find("inception_libvirt_refused 6"), std::string::npos) << scrape;
  const std::string text = daemon->ctl({"libvirt", "status"}).out;
  EXPECT_NE(text.find("bad-net-net0: network nonexistent does not exist"), std::string::npos) << text;
  // Nothing of theirs was plugged, nothing of the others was disturbed.
  EXPECT_EQ(daemon->ctl_json({"port", "list"}).size(), 2u);
  EXPECT_TRUE(pings(c1, "192.0.2.42"));
  for (const json& e : daemon->ctl_json({"fdb", "show"}))
    if (e["mac"] == "52:54:00:00:02:01") {
      EXPECT_EQ(e["port"], "g1-net0");
    }
  EXPECT_NE(daemon->log().find("libvirt: domain bad-net: interface net0 (52:54:00:00:02:10) not plugged"),
            std::string::npos);

  // Destroyed while QEMU still waited (no lifecycle event comes for it):
  // their refusals go.
  for (const Bad& b : bad) host->virsh({"destroy", b.spec.name});
  EXPECT_TRUE(eventually([&] { return status()["refused"].empty(); }, 10s)) << status().dump(2);
  EXPECT_TRUE(pings(c1, "192.0.2.42"));
}

TEST_F(LibvirtTest, TheDocumentedExampleIsADomainLibvirtAccepts) {
  std::string xml = read_file(std::string(INCEPTION_SOURCE_ROOT) + "/docs/examples/ivm1.xml");
  ASSERT_FALSE(xml.empty());
  const std::string path = dir->file("ivm1.xml");
  std::ofstream(path) << xml;
  CommandResult r = host->virsh({"define", path});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = host->virsh({"dumpxml", "ivm1"});
  EXPECT_NE(r.out.find("fixed-ip=\"192.0.2.2\""), std::string::npos) << r.out;
  EXPECT_EQ(host->virsh({"undefine", "ivm1"}).exit_code, 0);
}

}  // namespace
}  // namespace inception::test
