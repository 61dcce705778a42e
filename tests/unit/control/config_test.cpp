#include "control/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace inception {
namespace {

std::string error_of(const std::string& text) {
  try {
    parse_config(text, "test.toml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, EmbeddedDefaultIsTheShippedExampleFile) {
  std::ifstream in(INCEPTION_SOURCE_ROOT "/config/inceptiond.toml");
  std::stringstream file;
  file << in.rdbuf();
  EXPECT_EQ(file.str(), std::string(default_config_text()));
  const Config c = parse_config(default_config_text(), "default");
  ASSERT_EQ(c.networks.size(), 2u);
  EXPECT_EQ(c.networks[0].name, "private");
  EXPECT_EQ(c.networks[0].vni, 1001u);
  EXPECT_EQ(c.networks[1].vni, 1002u);
  EXPECT_TRUE(c.ports.empty());
  EXPECT_EQ(c.metrics.listen, "127.0.0.1:9417");
  EXPECT_EQ(c.control.socket, "/run/inception/inceptiond.sock");
}

TEST(Config, ParsesEveryField) {
  const Config c = parse_config(R"(
[dpdk]
main_core = 2
worker_cores = [3, 4]
memory_mb = 1024
hugepages = false
file_prefix = "sw1"
mbufs = 32768
pci_allow = ["0000:00:05.0"]
extra_args = ["--no-hpet"]
[switch]
mac_aging_s = 60
idle_policy = "poll"
idle_sleep_max_us = 500
log_level = "debug"
[control]
socket = "/tmp/x.sock"
[metrics]
enabled = false
listen = "0.0.0.0:9000"
[[network]]
name = "private"
vni = 1001
fdb_limit = 100
[[port]]
name = "ivm1"
type = "vhost-user"
socket = "/tmp/ivm1.sock"
mode = "server"
queues = 2
offloads = false
coalesce = false
network = "private"
[[port]]
name = "eth1"
type = "kernel"
network = "private"
[[fdb]]
network = "private"
mac = "02:00:00:00:00:01"
port = "ivm1"
)",
                                "t");
  EXPECT_EQ(c.dpdk.main_core, 2u);
  EXPECT_EQ(c.dpdk.worker_cores, (std::vector<unsigned>{3, 4}));
  EXPECT_FALSE(c.dpdk.hugepages);
  EXPECT_EQ(c.dpdk.mbufs, 32768u);
  EXPECT_EQ(c.dpdk.pci_allow.size(), 1u);
  EXPECT_EQ(c.sw.mac_aging_s, 60u);
  EXPECT_EQ(c.sw.idle_policy, "poll");
  EXPECT_FALSE(c.metrics.enabled);
  EXPECT_EQ(c.networks[0].fdb_limit, 100u);
  ASSERT_EQ(c.ports.size(), 2u);
  EXPECT_EQ(c.ports[0].type, PortType::kVhostUser);
  EXPECT_TRUE(c.ports[0].server);
  EXPECT_EQ(c.ports[0].queues, 2);
  EXPECT_FALSE(c.ports[0].offloads);
  EXPECT_EQ(c.ports[1].type, PortType::kKernel);
  EXPECT_TRUE(c.ports[1].offloads) << "on unless a port says otherwise";
  EXPECT_FALSE(c.ports[0].coalesce);
  EXPECT_TRUE(c.ports[1].coalesce) << "on unless a port says otherwise";
  ASSERT_EQ(c.static_macs.size(), 1u);
  EXPECT_EQ(c.static_macs[0].mac.to_string(), "02:00:00:00:00:01");
}

TEST(Config, RoundTripsThroughToToml) {
  Config c = parse_config(default_config_text(), "default");
  PortConfig p;
  p.name = "ivm1";
  p.network = "private";
  p.socket = "/tmp/ivm1.sock";
  p.server = true;
  p.queues = 3;
  p.offloads = false;
  p.coalesce = false;
  c.ports.push_back(p);
  c.static_macs.push_back({"private", *MacAddress::parse("02:00:00:00:00:01"), "ivm1"});
  c.sw.mac_aging_s = 42;
  const Config again = parse_config(to_toml(c), "round-trip");
  EXPECT_EQ(to_toml(again), to_toml(c));
  EXPECT_EQ(again.sw.mac_aging_s, 42u);
  ASSERT_EQ(again.ports.size(), 1u);
  EXPECT_EQ(again.ports[0].queues, 3);
  EXPECT_FALSE(again.ports[0].offloads);
  EXPECT_FALSE(again.ports[0].coalesce);
  EXPECT_TRUE(again.ports[0].server);
  EXPECT_EQ(again.static_macs.size(), 1u);
}

TEST(Config, RejectsUnknownKeysWithTheirPosition) {
  EXPECT_EQ(error_of("[dpdk]\nmain_core = 0\nworker_core = [1]\n"),
            "test.toml:3:1: unknown key 'worker_core' in [dpdk]");
  EXPECT_EQ(error_of("[bogus]\n"), "test.toml:1:2: unknown key 'bogus' in the top level");
  EXPECT_EQ(error_of("[[network]]\nname = \"a\"\nvni = 5\ncolour = \"red\"\n"),
            "test.toml:4:1: unknown key 'colour' in [[network]] #1");
}

TEST(Config, RejectsBadValuesWithTheirPosition) {
  EXPECT_EQ(error_of("[dpdk]\nmemory_mb = \"lots\"\n"), "test.toml:2:13: [dpdk].memory_mb: expected an integer");
  EXPECT_EQ(error_of("[[network]]\nname = \"a\"\nvni = 16777216\n"),
            "test.toml:3:7: [[network]] #1.vni: 16777216 is out of range (1..16777215)");
  EXPECT_EQ(error_of("[switch]\nidle_policy = \"sometimes\"\n"),
            "test.toml:1:1: [switch]: idle_policy 'sometimes' is not one of: adaptive, poll");
  EXPECT_EQ(error_of("[dpdk]\nmain_core = 1\nworker_cores = [1]\n"),
            "test.toml:1:1: [dpdk]: core 1 is both main_core and a worker core");
  EXPECT_EQ(error_of("[[network]]\nname = \"a\"\nvni = 5\n[[port]]\nname = \"p\"\ntype = \"tap\"\nnetwork = \"a\"\n"),
            "test.toml:6:8: port p: type 'tap' is not one of: vhost-user, kernel");
  EXPECT_NE(error_of("[metrics]\nlisten = \"9417\"\n").find("must be ADDRESS:PORT"), std::string::npos);
}

TEST(Config, RejectsSyntaxErrorsWithLineAndColumn) {
  const std::string e = error_of("[dpdk]\nmain_core = = 1\n");
  EXPECT_EQ(e.rfind("test.toml:2:", 0), 0u) << e;
}

TEST(Config, RejectsBrokenReferencesAndDuplicates) {
  const std::string net = "[[network]]\nname = \"a\"\nvni = 5\n";
  EXPECT_EQ(error_of(net + net), "test.toml: network a is defined twice");
  EXPECT_EQ(error_of(net + "[[network]]\nname = \"b\"\nvni = 5\n"),
            "test.toml: network b: VNI 5 is already used by network a");
  EXPECT_EQ(error_of(net + "[[port]]\nname = \"p\"\ntype = \"kernel\"\nnetwork = \"zz\"\n"),
            "test.toml: port p: network zz is not defined");
  EXPECT_EQ(error_of(net + "[[port]]\nname = \"p\"\ntype = \"vhost-user\"\nnetwork = \"a\"\n"),
            "test.toml:4:1: port p: a vhost-user port needs a socket path");
  EXPECT_EQ(
      error_of(net + "[[port]]\nname = \"p\"\ntype = \"kernel\"\nnetwork = \"a\"\nsocket = \"/x\"\n"),
      "test.toml:4:1: [[port]] #1: port p: socket, mode, queues, offloads and coalesce apply to vhost-user ports only");
  EXPECT_EQ(error_of(net + "[[fdb]]\nnetwork = \"a\"\nmac = \"02:00:00:00:00:0g\"\nport = \"p\"\n"),
            "test.toml:6:7: '02:00:00:00:00:0g' is not a MAC address (aa:bb:cc:dd:ee:ff)");
  EXPECT_EQ(error_of(net + "[[fdb]]\nnetwork = \"a\"\nmac = \"02:00:00:00:00:01\"\nport = \"p\"\n"),
            "test.toml: fdb entry 02:00:00:00:00:01: port p is not defined");
  EXPECT_EQ(error_of("[[network]]\nname = \"bad name\"\nvni = 5\n"),
            "test.toml:1:1: network 'bad name': a name is 1-32 characters of A-Z a-z 0-9 . _ -");
}

TEST(Config, ParsesTheUnderlayNeighborsAndPeers) {
  const Config c = parse_config(R"(
[underlay]
device = "net_af_packet0,iface=eth0"
address = "10.0.0.11/16"
gateway = "10.0.0.1"
mtu = 9000
vxlan_port = 8472
host_interface = "rvm0"
[[neighbor]]
ip = "10.0.0.1"
mac = "02:00:00:00:00:01"
[[network]]
name = "public"
vni = 1002
peers = ["10.0.0.12", "10.1.0.13"]
hub = true
)",
                                "t");
  EXPECT_TRUE(c.underlay.enabled);
  EXPECT_EQ(c.underlay.address.to_string(), "10.0.0.11/16");
  EXPECT_EQ(c.underlay.gateway->to_string(), "10.0.0.1");
  EXPECT_EQ(c.underlay.mtu, 9000);
  EXPECT_EQ(c.underlay.vxlan_port, 8472);
  EXPECT_EQ(c.underlay.host_interface, "rvm0");
  ASSERT_EQ(c.neighbors.size(), 1u);
  EXPECT_EQ(c.neighbors[0].mac.to_string(), "02:00:00:00:00:01");
  ASSERT_EQ(c.networks[0].peers.size(), 2u);
  EXPECT_EQ(c.networks[0].peers[1].to_string(), "10.1.0.13");
  EXPECT_TRUE(c.networks[0].hub);
  // And back, with nothing lost.
  const Config again = parse_config(to_toml(c), "again");
  EXPECT_EQ(to_toml(again), to_toml(c));
  EXPECT_TRUE(again.underlay.enabled);
  EXPECT_EQ(again.underlay.gateway->to_string(), "10.0.0.1");
  EXPECT_EQ(again.underlay.vxlan_port, 8472);
  ASSERT_EQ(again.neighbors.size(), 1u);
  ASSERT_EQ(again.networks[0].peers.size(), 2u);
  EXPECT_TRUE(again.networks[0].hub);
}

TEST(Config, RejectsBadOverlaySettings) {
  const std::string underlay = "[underlay]\ndevice = \"net_af_packet0,iface=u0\"\naddress = \"10.0.0.11/24\"\n";
  EXPECT_EQ(error_of("[underlay]\ndevice = \"x\"\naddress = \"10.0.0.11\"\n"),
            "test.toml:3:11: [underlay].address: '10.0.0.11' is not ADDRESS/PREFIX (e.g. 10.0.0.11/16)");
  EXPECT_EQ(error_of(underlay + "gateway = \"192.0.2.1\"\n"),
            "test.toml:1:1: underlay: gateway 192.0.2.1 is not inside 10.0.0.11/24");
  EXPECT_EQ(error_of(underlay + "mtu = 100\n"), "test.toml:4:7: [underlay].mtu: 100 is out of range (576..9216)");
  EXPECT_EQ(error_of("[[network]]\nname = \"a\"\nvni = 5\npeers = [\"10.0.0.12\"]\n"),
            "test.toml:4:10: network a: peer 10.0.0.12: peers need an [underlay]");
  EXPECT_EQ(error_of(underlay + "[[network]]\nname = \"a\"\nvni = 5\npeers = [\"10.0.0.12\", \"10.0.0.12\"]\n"),
            "test.toml:7:23: network a: peer 10.0.0.12 already exists");
  EXPECT_EQ(error_of(underlay + "[[network]]\nname = \"a\"\nvni = 5\npeers = [\"10.0.0.11\"]\n"),
            "test.toml:7:10: network a: peer 10.0.0.11 is this rVM's own VTEP address");
  EXPECT_EQ(error_of(underlay + "[[network]]\nname = \"a\"\nvni = 5\npeers = [\"10.0.0\"]\n"),
            "test.toml:7:10: network a: peer '10.0.0' is not an IPv4 address");
  EXPECT_EQ(error_of("[[neighbor]]\nip = \"10.0.0.1\"\nmac = \"ff:ff:ff:ff:ff:ff\"\n"),
            "test.toml:3:7: 'ff:ff:ff:ff:ff:ff' is not a unicast MAC address (aa:bb:cc:dd:ee:ff)");
}

TEST(Config, ParsesRoutersAndNat) {
  const Config c = parse_config(R"(
[underlay]
device = "net_af_packet0,iface=u0"
address = "10.0.0.11/24"
gateway = "10.0.0.1"
[[network]]
name = "private"
vni = 1001
[[network]]
name = "public"
vni = 1002
[[router]]
network = "private"
address = "192.0.2.254/24"
[nat]
public_network = "public"
gateway = "198.51.100.201"
snat_address = "10.0.0.100"
snat_ports = "30000-39999"
max_sessions = 1000
udp_timeout_s = 60
[[gateway_mapping]]
underlay = "10.0.0.101"
public = "203.0.113.10"
[[fip]]
public = "203.0.113.10"
fixed = "192.0.2.2"
network = "private"
)",
                                "t");
  ASSERT_EQ(c.routers.size(), 1u);
  EXPECT_EQ(c.routers[0].address.to_string(), "192.0.2.254/24");
  EXPECT_EQ(c.nat.snat_address->to_string(), "10.0.0.100");
  EXPECT_EQ(c.nat.snat_port_min, 30000);
  EXPECT_EQ(c.nat.snat_port_max, 39999);
  EXPECT_EQ(c.nat.udp_timeout_s, 60u);
  ASSERT_EQ(c.gateway_mappings.size(), 1u);
  EXPECT_EQ(c.gateway_mappings[0].public_ip.to_string(), "203.0.113.10");
  ASSERT_EQ(c.fips.size(), 1u);
  EXPECT_EQ(c.fips[0].fixed.to_string(), "192.0.2.2");
  const Config again = parse_config(to_toml(c), "again");
  EXPECT_EQ(to_toml(again), to_toml(c));
  EXPECT_EQ(again.fips.size(), 1u);
  EXPECT_EQ(again.gateway_mappings.size(), 1u);
  EXPECT_EQ(again.routers.size(), 1u);
  EXPECT_EQ(again.nat.snat_port_min, 30000);
}

TEST(Config, RejectsBadNatSettings) {
  const std::string nets = "[[network]]\nname = \"private\"\nvni = 1\n";
  EXPECT_EQ(error_of(nets + "[nat]\nsnat_address = \"10.0.0.100\"\n"),
            "test.toml:5:16: [nat] snat_address 10.0.0.100: needs an [underlay] (NAT sends out of the rVM's NIC)");
  EXPECT_EQ(error_of(nets + "[nat]\nsnat_ports = \"9000-100\"\n"),
            "test.toml:5:14: [nat].snat_ports: '9000-100' is not a range LOW-HIGH within 1024-65535");
  EXPECT_EQ(error_of(nets + "[[router]]\nnetwork = \"nowhere\"\naddress = \"192.0.2.254/24\"\n"),
            "test.toml: router on network nowhere: the network is not defined");
  EXPECT_EQ(error_of(nets + "[[fip]]\npublic = \"203.0.113.10\"\nfixed = \"192.0.2.2\"\nnetwork = \"x\"\n"),
            "test.toml: floating IP 203.0.113.10: network x is not defined");
  EXPECT_EQ(error_of(nets + "[[fip]]\npublic = \"203.0.113\"\nfixed = \"192.0.2.2\"\nnetwork = \"private\"\n"),
            "test.toml:5:10: public: '203.0.113' is not an IPv4 address");
}

TEST(Config, ParsesPortSecurityAndPerTenantBounds) {
  const Config c = parse_config(R"(
[switch]
port_mac_limit = 64
punt_pps_per_port = 50
punt_pps_per_network = 500
flood_pps_per_port = 0
flood_pps_per_network = 9000
[[network]]
name = "private"
vni = 1001
neighbor_limit = 256
[[port]]
name = "ivm1"
type = "vhost-user"
network = "private"
socket = "/tmp/ivm1.sock"
macs = ["52:54:00:00:00:02"]
ips = ["192.0.2.2", "198.51.100.0/28"]
mac_limit = 8
[[port]]
name = "eth1"
type = "kernel"
network = "private"
macs = ["02:00:00:00:00:01"]
port_security = false
[nat]
max_sessions_per_network = 100
max_sessions_per_source = 10
egress_deny = ["10.0.0.0/8", "192.168.1.1"]
)",
                                "t");
  EXPECT_EQ(c.sw.port_mac_limit, 64u);
  EXPECT_EQ(c.sw.punt_pps_per_port, 50u);
  EXPECT_EQ(c.sw.flood_pps_per_port, 0u);
  EXPECT_EQ(c.sw.flood_pps_per_network, 9000u);
  EXPECT_EQ(c.networks[0].neighbor_limit, 256u);
  ASSERT_EQ(c.ports.size(), 2u);
  EXPECT_TRUE(c.ports[0].port_security_enabled()) << "on by default once the guest's MAC is given";
  ASSERT_EQ(c.ports[0].ips.size(), 2u);
  EXPECT_EQ(c.ports[0].ips[0].to_string(), "192.0.2.2/32");
  EXPECT_EQ(c.ports[0].mac_limit, 8u);
  EXPECT_FALSE(c.ports[1].port_security_enabled());
  EXPECT_EQ(c.nat.max_sessions_per_source, 10u);
  ASSERT_EQ(c.nat.egress_deny.size(), 2u);
  EXPECT_EQ(c.nat.egress_deny[1].to_string(), "192.168.1.1/32");
  const Config again = parse_config(to_toml(c), "again");
  EXPECT_EQ(to_toml(again), to_toml(c));
  EXPECT_EQ(again.ports[1].port_security, std::optional<bool>(false));
}

TEST(Config, RejectsPortSecurityThatCannotWork) {
  const std::string net =
      "[[network]]\nname = \"n\"\nvni = 1\n[[port]]\nname = \"p\"\ntype = \"kernel\"\nnetwork = \"n\"\n";
  EXPECT_EQ(error_of(net + "port_security = true\n"),
            "test.toml:4:1: port p: port security needs the MAC address(es) of the port's guest");
  EXPECT_EQ(error_of(net + "ips = [\"192.0.2.2\"]\n"),
            "test.toml:4:1: port p: IP addresses are enforced by port security, which is off for this port");
  EXPECT_EQ(error_of(net + "macs = [\"01:00:5e:00:00:01\"]\n"),
            "test.toml:4:1: port p: 01:00:5e:00:00:01 is not a unicast MAC address");
  EXPECT_EQ(error_of(net + "macs = [\"02:00:00:00:00:01\"]\nips = [\"0.0.0.0/0\"]\n"),
            "test.toml:4:1: port p: 0.0.0.0/0 would allow every address");
  EXPECT_EQ(error_of(net + "macs = [\"02:00:00:00:00:01\"]\nips = [\"192.0.2\"]\n"),
            "test.toml:9:7: port p: '192.0.2' is not an IPv4 address or ADDRESS/PREFIX");
  EXPECT_EQ(error_of(net + "macs = [\"02:00:00:00:00:01\", \"02:00:00:00:00:01\"]\n"),
            "test.toml:4:1: port p: MAC 02:00:00:00:00:01 is listed twice");
  EXPECT_EQ(error_of("[nat]\negress_deny = [\"10.0.0.0/33\"]\n"),
            "test.toml:2:15: [nat].egress_deny: '10.0.0.0/33' is not an IPv4 address or ADDRESS/PREFIX");
}

// The rules below each refuse, in --check, something inceptiond used to
// accept and then fail on at start or silently misuse.

TEST(Config, MetricsListenIsAnIpv4AddressAndAPort) {
  const auto listen = [](const std::string& value) { return error_of("[metrics]\nlisten = \"" + value + "\"\n"); };
  // civetweb reads 999 as 999 & 0xff: this bound 231.1.1.1, a multicast address.
  EXPECT_EQ(listen("999.1.1.1:9417"),
            "test.toml:2:10: [metrics] listen '999.1.1.1:9417': '999.1.1.1' is not an IPv4 address");
  EXPECT_EQ(listen("127.0.0.1:99999"),
            "test.toml:2:10: [metrics] listen '127.0.0.1:99999': port '99999' is not a number 1..65535");
  EXPECT_EQ(listen("127.0.0.1:-1"),
            "test.toml:2:10: [metrics] listen '127.0.0.1:-1': port '-1' is not a number 1..65535");
  EXPECT_EQ(listen("127.0.0.1:0"), "test.toml:2:10: [metrics] listen '127.0.0.1:0': port '0' is not a number 1..65535");
  EXPECT_EQ(listen("127.0.0.1:+80"),
            "test.toml:2:10: [metrics] listen '127.0.0.1:+80': port '+80' is not a number 1..65535");
  EXPECT_EQ(listen("localhost:9417"),
            "test.toml:2:10: [metrics] listen 'localhost:9417': 'localhost' is not an IPv4 address");
  EXPECT_EQ(listen("[::1]:9417"), "test.toml:2:10: [metrics] listen '[::1]:9417': only IPv4 addresses are supported");
  EXPECT_EQ(listen("224.0.0.1:9417"),
            "test.toml:2:10: [metrics] listen '224.0.0.1:9417': 224.0.0.1 is a multicast address");
  EXPECT_EQ(listen(":9417"), "test.toml:2:10: [metrics] listen ':9417' must be ADDRESS:PORT (e.g. 127.0.0.1:9417)");
  EXPECT_EQ(listen("0.0.0.0:65535"), "");
  EXPECT_EQ(listen("127.0.0.1:1"), "");
}

TEST(Config, LibvirtSectionTurnsTheModuleOnAndItsSocketDirIsChecked) {
  EXPECT_FALSE(parse_config("", "test.toml").libvirt.enabled);
  const Config defaults = parse_config("[libvirt]\n", "test.toml");
  EXPECT_TRUE(defaults.libvirt.enabled);
  EXPECT_EQ(defaults.libvirt.uri, "qemu:///system");
  EXPECT_EQ(defaults.libvirt.socket_dir, "/run/inception/vhost-user");
  const Config custom =
      parse_config("[libvirt]\nuri = \"qemu+unix:///system?socket=/x/sock\"\nsocket_dir = \"/srv/vu\"\n", "test.toml");
  EXPECT_EQ(custom.libvirt.uri, "qemu+unix:///system?socket=/x/sock");
  EXPECT_EQ(custom.libvirt.socket_dir, "/srv/vu");
  // And it survives `config show`.
  EXPECT_EQ(parse_config(to_toml(custom), "shown.toml").libvirt.socket_dir, "/srv/vu");

  const auto dir = [](const std::string& value) { return error_of("[libvirt]\nsocket_dir = \"" + value + "\"\n"); };
  const std::string rule = "must be an absolute, normalised path other than / (no '.', '..', '//' or trailing '/')";
  EXPECT_EQ(dir("run/vu"), "test.toml:2:14: socket_dir 'run/vu' " + rule);
  EXPECT_EQ(dir("/run/../etc"), "test.toml:2:14: socket_dir '/run/../etc' " + rule);
  EXPECT_EQ(dir("/run/vu/"), "test.toml:2:14: socket_dir '/run/vu/' " + rule);
  EXPECT_EQ(dir("/"), "test.toml:2:14: socket_dir '/' " + rule);
  EXPECT_NE(dir("/" + std::string(100, 'd')).find("longer than 80 bytes"), std::string::npos);
  EXPECT_EQ(error_of("[libvirt]\nuri = \"\"\n"),
            "test.toml:1:1: [libvirt]: uri must not be empty (default: qemu:///system)");
  EXPECT_NE(error_of("[libvirt]\nsocket = \"/x\"\n").find("socket"), std::string::npos);
}

TEST(Config, FilePrefixFitsDpdksSocketPaths) {
  const auto prefix = [](const std::string& value) { return error_of("[dpdk]\nfile_prefix = \"" + value + "\"\n"); };
  EXPECT_EQ(prefix(std::string(300, 'p')),
            "test.toml:2:15: [dpdk] file_prefix is 300 characters, at most 48: DPDK puts it in the path of its unix "
            "sockets (/var/run/dpdk/PREFIX/mp_socket_PID_TSC), which holds at most 107 bytes");
  EXPECT_NE(prefix(std::string(49, 'p')), "");
  EXPECT_EQ(prefix(std::string(48, 'p')), "");
  EXPECT_EQ(prefix("a%d"),
            "test.toml:2:15: [dpdk] file_prefix 'a%d' must be 1-48 characters of A-Z a-z 0-9 . _ - (it names a "
            "directory)");
  EXPECT_NE(prefix(".."), "");
  EXPECT_NE(prefix("a/b"), "");
  EXPECT_NE(prefix(""), "");
}

TEST(Config, CoresMustBeInTheProcessAffinity) {
  Config::Dpdk dpdk;
  dpdk.main_core = 5;
  dpdk.worker_cores = {1};
  try {
    validate_cores(dpdk, {0, 1});
    FAIL() << "main_core 5 accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "[dpdk] main_core 5 is not a core this process may run on (its CPU affinity: 0-1)");
  }
  dpdk.main_core = 0;
  dpdk.worker_cores = {1, 3};
  try {
    validate_cores(dpdk, {0, 1, 2, 4, 5, 6});
    FAIL() << "worker core 3 accepted";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "[dpdk] worker_cores: core 3 is not a core this process may run on (its CPU affinity: 0-2,4-6)");
  }
  EXPECT_NO_THROW(validate_cores(dpdk, {0, 1, 3}));
  // This process may run somewhere.
  EXPECT_FALSE(allowed_cores().empty());
}

TEST(Config, AVhostUserSocketIsNotTheControlSocket) {
  EXPECT_EQ(error_of("[control]\nsocket = \"/tmp/s.sock\"\n[[network]]\nname = \"a\"\nvni = 5\n"
                     "[[port]]\nname = \"v1\"\ntype = \"vhost-user\"\nnetwork = \"a\"\nsocket = \"/tmp/s.sock\"\n"),
            "test.toml:10:10: port v1: socket /tmp/s.sock is inceptiond's control socket ([control] socket)");
  // The default control socket too.
  EXPECT_EQ(error_of("[[network]]\nname = \"a\"\nvni = 5\n[[port]]\nname = \"v1\"\ntype = \"vhost-user\"\n"
                     "network = \"a\"\nsocket = \"/run/inception/inceptiond.sock\"\n"),
            "test.toml:8:10: port v1: socket /run/inception/inceptiond.sock is inceptiond's control socket ([control] "
            "socket)");
  // Two ports on one socket: the same words inceptionctl uses.
  const std::string port = "[[port]]\ntype = \"vhost-user\"\nnetwork = \"a\"\nsocket = \"/tmp/v.sock\"\n";
  EXPECT_EQ(error_of("[[network]]\nname = \"a\"\nvni = 5\n" + port + "name = \"v1\"\n" + port + "name = \"v2\"\n"),
            "test.toml:12:10: port v2: socket /tmp/v.sock is already used by port v1");
}

TEST(Config, AKernelPortNameHasFifteenCharactersAtMost) {
  const std::string net = "[[network]]\nname = \"a\"\nvni = 5\n";
  EXPECT_EQ(error_of(net + "[[port]]\nname = \"abcdefghijklmno\"\ntype = \"kernel\"\nnetwork = \"a\"\n"), "");
  EXPECT_EQ(error_of(net + "[[port]]\nname = \"abcdefghijklmnop\"\ntype = \"kernel\"\nnetwork = \"a\"\n"),
            "test.toml:4:1: port 'abcdefghijklmnop': a name is 1-15 characters of A-Z a-z 0-9 . _ -");
  const std::string underlay = "[underlay]\ndevice = \"net_af_packet0,iface=u0\"\naddress = \"10.0.0.11/24\"\n";
  EXPECT_EQ(error_of(underlay + "host_interface = \"abcdefghijklmno\"\n"), "");
  EXPECT_EQ(error_of(underlay + "host_interface = \"abcdefghijklmnop\"\n"),
            "test.toml:1:1: underlay: host_interface 'abcdefghijklmnop': an interface name is 1-15 characters of A-Z "
            "a-z 0-9 . _ -");
}

const std::string kUnderlay =
    "[underlay]\ndevice = \"net_af_packet0,iface=u0\"\naddress = \"10.0.0.11/24\"\ngateway = \"10.0.0.1\"\n";

TEST(Config, PeersAreOtherRvmsUnicastAddresses) {
  const auto peer = [](const std::string& underlay, const std::string& ip) {
    return error_of(underlay + "[[network]]\nname = \"a\"\nvni = 5\npeers = [\"" + ip + "\"]\n");
  };
  EXPECT_EQ(peer(kUnderlay, "255.255.255.255"),
            "test.toml:8:10: network a: peer 255.255.255.255 is the broadcast address; a peer is another rVM's "
            "unicast VTEP address");
  EXPECT_EQ(peer(kUnderlay, "0.0.0.0"),
            "test.toml:8:10: network a: peer 0.0.0.0 is the unspecified address; a peer is another rVM's unicast VTEP "
            "address");
  EXPECT_EQ(peer(kUnderlay, "239.1.1.1"),
            "test.toml:8:10: network a: peer 239.1.1.1 is a multicast address; a peer is another rVM's unicast VTEP "
            "address");
  EXPECT_EQ(peer(kUnderlay, "127.0.0.1"),
            "test.toml:8:10: network a: peer 127.0.0.1 is a loopback address; a peer is another rVM's unicast VTEP "
            "address");
  EXPECT_EQ(peer(kUnderlay, "169.254.0.7"),
            "test.toml:8:10: network a: peer 169.254.0.7 is a link-local address; a peer is another rVM's unicast "
            "VTEP address");
  EXPECT_EQ(peer(kUnderlay, "10.0.0.0"),
            "test.toml:8:10: network a: peer 10.0.0.0 is the network address of the underlay 10.0.0.0/24");
  EXPECT_EQ(peer(kUnderlay, "10.0.0.255"),
            "test.toml:8:10: network a: peer 10.0.0.255 is the broadcast address of the underlay 10.0.0.0/24");
  EXPECT_EQ(peer(kUnderlay, "192.0.2.9"), "");  // off-link, through the gateway
  // Without a gateway an off-link peer is unreachable: the start used to fail on it.
  const std::string no_gateway = "[underlay]\ndevice = \"net_af_packet0,iface=u0\"\naddress = \"10.0.0.11/24\"\n";
  EXPECT_EQ(peer(no_gateway, "192.0.2.9"),
            "test.toml:7:10: network a: peer 192.0.2.9: not inside the underlay 10.0.0.0/24 and no [underlay] gateway "
            "is configured");
}

TEST(Config, StaticNeighborsNeedAnUnderlay) {
  EXPECT_EQ(error_of("[[neighbor]]\nip = \"10.0.0.1\"\nmac = \"02:00:00:00:00:01\"\n"),
            "test.toml:2:6: neighbor 10.0.0.1: no [underlay] is configured");
  EXPECT_EQ(error_of(kUnderlay + "[[neighbor]]\nip = \"224.0.0.1\"\nmac = \"02:00:00:00:00:01\"\n"),
            "test.toml:6:6: neighbor 224.0.0.1 is a multicast address");
}

TEST(Config, TheUnderlaysOwnAddressesAreHostAddresses) {
  const std::string u = "[underlay]\ndevice = \"net_af_packet0,iface=u0\"\n";
  EXPECT_EQ(error_of(u + "address = \"10.0.0.255/24\"\n"),
            "test.toml:1:1: underlay: address 10.0.0.255 is the broadcast address of 10.0.0.0/24");
  EXPECT_EQ(error_of(u + "address = \"127.0.0.1/8\"\n"),
            "test.toml:1:1: underlay: address 127.0.0.1 is a loopback address");
  EXPECT_EQ(error_of(u + "address = \"10.0.0.11/24\"\ngateway = \"10.0.0.11\"\n"),
            "test.toml:1:1: underlay: gateway 10.0.0.11 is the VTEP's own address");
  EXPECT_EQ(error_of(u + "address = \"10.0.0.11/24\"\ngateway = \"10.0.0.0\"\n"),
            "test.toml:1:1: underlay: gateway 10.0.0.0 is the network address of 10.0.0.0/24");
  EXPECT_EQ(error_of(u + "address = \"10.0.0.0/31\"\ngateway = \"10.0.0.1\"\n"), "");  // RFC 3021
  // A TAP underlay whose vdev name the TAP driver cannot fit in its mempool's name.
  EXPECT_EQ(error_of("[underlay]\ndevice = \"net_tap_underlay_of_rvm1,iface=u0\"\naddress = \"10.0.0.11/24\"\n"),
            "test.toml:1:1: underlay: device name 'net_tap_underlay_of_rvm1' is longer than 22 characters: DPDK's TAP "
            "driver names a mempool after it (mp_net_tap_underlay_of_rvm1), and a mempool name holds 25");
  EXPECT_EQ(error_of("[underlay]\ndevice = \"net_tap_underlay_rvm1,iface=u0\"\naddress = \"10.0.0.11/24\"\n"), "");
}

const std::string kTwoNetworks = "[[network]]\nname = \"a\"\nvni = 5\n[[network]]\nname = \"b\"\nvni = 6\n";

TEST(Config, RoutersHaveHostAddressesAndSubnetsOfTheirOwn) {
  const auto router = [](const std::string& network, const std::string& address) {
    return "[[router]]\nnetwork = \"" + network + "\"\naddress = \"" + address + "\"\n";
  };
  EXPECT_EQ(error_of(kTwoNetworks + router("a", "192.0.2.0/24")),
            "test.toml:9:11: router on network a: address 192.0.2.0 is the network address of 192.0.2.0/24");
  EXPECT_EQ(error_of(kTwoNetworks + router("a", "192.0.2.255/24")),
            "test.toml:9:11: router on network a: address 192.0.2.255 is the broadcast address of 192.0.2.0/24");
  EXPECT_EQ(error_of(kUnderlay + kTwoNetworks + router("a", "10.0.0.11/24")),
            "test.toml:13:11: router on network a: address 10.0.0.11 is this rVM's own VTEP address");
  // Overlapping subnets: the first match used to win, silently.
  EXPECT_EQ(error_of(kTwoNetworks + router("a", "192.0.2.1/25") + router("b", "192.0.2.254/24")),
            "test.toml:12:11: router on network b: 192.0.2.0/24 overlaps network a's 192.0.2.0/25");
  EXPECT_EQ(error_of(kTwoNetworks + router("a", "192.0.2.254/24") + router("b", "192.0.2.1/25")),
            "test.toml:12:11: router on network b: 192.0.2.0/25 overlaps network a's 192.0.2.0/24");
  EXPECT_EQ(error_of(kTwoNetworks + router("a", "192.0.2.1/25") + router("b", "192.0.2.129/25") +
                     "[nat]\npublic_network = \"b\"\n"),
            "");
  EXPECT_EQ(error_of(kTwoNetworks + router("a", "192.0.2.1/25") + router("a", "198.51.100.1/24")),
            "test.toml:12:11: network a has two routers");
}

TEST(Config, NatAddressesAreTheGatewaysOwnUnderlayAddresses) {
  const auto snat = [](const std::string& ip) {
    return error_of(kUnderlay + kTwoNetworks + "[nat]\npublic_network = \"b\"\nsnat_address = \"" + ip + "\"\n");
  };
  const std::string at = "test.toml:13:16: [nat] snat_address ";
  EXPECT_EQ(snat("10.0.0.11"),
            at + "10.0.0.11: that is the VTEP's own address; give each public IP its own underlay address");
  EXPECT_EQ(snat("0.0.0.0"), at + "0.0.0.0: that is the unspecified address");
  EXPECT_EQ(snat("255.255.255.255"), at + "255.255.255.255: that is the broadcast address");
  EXPECT_EQ(snat("224.0.0.9"), at + "224.0.0.9: that is a multicast address");
  EXPECT_EQ(snat("127.0.0.9"), at + "127.0.0.9: that is a loopback address");
  EXPECT_EQ(snat("192.0.2.9"),
            at + "192.0.2.9: not inside the underlay 10.0.0.0/24, where the reality cloud delivers it");
  EXPECT_EQ(snat("10.0.0.0"), at + "10.0.0.0: that is the network address of the underlay 10.0.0.0/24");
  EXPECT_EQ(snat("10.0.0.255"), at + "10.0.0.255: that is the broadcast address of the underlay 10.0.0.0/24");
  EXPECT_EQ(snat("10.0.0.1"), at + "10.0.0.1: that is the underlay gateway's address");
  EXPECT_EQ(snat("10.0.0.100"), "");

  const auto mapping = [](const std::string& underlay, const std::string& extra = "") {
    return error_of(kUnderlay + kTwoNetworks + "[nat]\npublic_network = \"b\"\nsnat_address = \"10.0.0.100\"\n" +
                    "[[gateway_mapping]]\nunderlay = \"10.0.0.101\"\npublic = \"203.0.113.10\"\n" +
                    "[[gateway_mapping]]\nunderlay = \"" + underlay + "\"\npublic = \"" +
                    (extra.empty() ? "203.0.113.11" : extra) + "\"\n");
  };
  EXPECT_EQ(mapping("10.0.0.255"),
            "test.toml:18:12: gateway mapping 10.0.0.255: that is the broadcast address of the underlay 10.0.0.0/24");
  EXPECT_EQ(mapping("192.0.2.9"),
            "test.toml:18:12: gateway mapping 192.0.2.9: not inside the underlay 10.0.0.0/24, where the reality cloud "
            "delivers it");
  EXPECT_EQ(mapping("10.0.0.100"),
            "test.toml:18:12: gateway mapping 10.0.0.100: that is the SNAT address ([nat] snat_address)");
  EXPECT_EQ(mapping("10.0.0.101"), "test.toml:18:12: gateway mapping 10.0.0.101 already exists");
  // The start used to fail on this one.
  EXPECT_EQ(mapping("10.0.0.102", "203.0.113.10"),
            "test.toml:18:12: gateway mapping 10.0.0.102: public IP 203.0.113.10 is already mapped to 10.0.0.101");
  EXPECT_EQ(mapping("10.0.0.102", "255.255.255.255"),
            "test.toml:18:12: gateway mapping 10.0.0.102: public IP 255.255.255.255 is the broadcast address");
  EXPECT_EQ(mapping("10.0.0.102"), "");
}

TEST(Config, NatFeaturesNeedThePublicNetwork) {
  const std::string nat = "[nat]\npublic_network = \"nosuch\"\n";
  EXPECT_EQ(error_of(kTwoNetworks + nat), "");  // no NAT feature: nothing uses it
  EXPECT_EQ(error_of(kTwoNetworks + nat + "[[router]]\nnetwork = \"a\"\naddress = \"192.0.2.254/24\"\n"),
            "test.toml: router on network a: the public network 'nosuch' does not exist ([nat] public_network)");
  EXPECT_EQ(
      error_of(kTwoNetworks + nat + "[[fip]]\npublic = \"203.0.113.10\"\nfixed = \"192.0.2.2\"\nnetwork = \"a\"\n"),
      "test.toml: floating IP 203.0.113.10: the public network 'nosuch' does not exist ([nat] public_network)");
  EXPECT_EQ(error_of(kUnderlay + kTwoNetworks + nat + "snat_address = \"10.0.0.100\"\n"),
            "test.toml: [nat] snat_address 10.0.0.100: the public network 'nosuch' does not exist ([nat] "
            "public_network)");
  // The default, "public", must exist too.
  EXPECT_EQ(error_of(kTwoNetworks + "[[router]]\nnetwork = \"a\"\naddress = \"192.0.2.254/24\"\n"),
            "test.toml: router on network a: the public network 'public' does not exist ([nat] public_network)");
}

TEST(Config, AnIvmAddressHasOneFloatingIp) {
  const std::string base = kTwoNetworks + "[nat]\npublic_network = \"b\"\n";
  const auto fip = [](const std::string& public_ip, const std::string& fixed) {
    return "[[fip]]\npublic = \"" + public_ip + "\"\nfixed = \"" + fixed + "\"\nnetwork = \"a\"\n";
  };
  EXPECT_EQ(error_of(base + fip("203.0.113.10", "192.0.2.2") + fip("203.0.113.11", "192.0.2.2")),
            "test.toml:14:10: floating IP 203.0.113.11: 192.0.2.2 on a already has floating IP 203.0.113.10");
  EXPECT_EQ(error_of(base + fip("203.0.113.10", "192.0.2.2") + fip("203.0.113.10", "192.0.2.3")),
            "test.toml:14:10: floating IP 203.0.113.10 already exists");
  EXPECT_EQ(error_of(base + fip("224.0.0.1", "192.0.2.2")),
            "test.toml:10:10: floating IP 224.0.0.1 is a multicast address");
  EXPECT_EQ(error_of(base + fip("203.0.113.10", "0.0.0.0")),
            "test.toml:10:10: floating IP 203.0.113.10: fixed IP 0.0.0.0 is the unspecified address");
}

TEST(Config, RefusesMoreThanTheSwitchHolds) {
  std::string many_networks;
  for (int i = 1; i <= 257; ++i)
    many_networks += "[[network]]\nname = \"n" + std::to_string(i) + "\"\nvni = " + std::to_string(i) + "\n";
  EXPECT_EQ(error_of(many_networks), "test.toml: 257 networks, the switch holds at most 256");
  std::string fips = "[[network]]\nname = \"private\"\nvni = 1\n[[network]]\nname = \"public\"\nvni = 2\n";
  for (int i = 0; i < 257; ++i)
    fips += "[[fip]]\npublic = \"203.0." + std::to_string(113 + i / 250) + "." + std::to_string(1 + i % 250) +
            "\"\nfixed = \"192.0." + std::to_string(2 + i / 250) + "." + std::to_string(1 + i % 250) +
            "\"\nnetwork = \"private\"\n";
  EXPECT_EQ(error_of(fips), "test.toml: 257 floating IPs, the switch holds at most 256");
}

TEST(Config, TheNatGatewayIsAUnicastAddress) {
  const std::string nets = "[[network]]\nname = \"private\"\nvni = 1\n[[network]]\nname = \"public\"\nvni = 2\n";
  EXPECT_EQ(error_of(nets + "[nat]\ngateway = \"255.255.255.255\"\n"),
            "test.toml: [nat] gateway 255.255.255.255: that is the broadcast address");
}

TEST(Config, ReportsAMissingFile) {
  try {
    load_config_file("/nonexistent/inceptiond.toml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/inceptiond.toml: cannot open: No such file or directory");
  }
}

TEST(MacAddress, ParsesAndPrints) {
  EXPECT_EQ(MacAddress::parse("AA-bb-CC-00-11-22")->to_string(), "aa:bb:cc:00:11:22");
  EXPECT_FALSE(MacAddress::parse("aa:bb:cc:00:11"));
  EXPECT_FALSE(MacAddress::parse("aa:bb:cc:00:11:2g"));
  EXPECT_FALSE(MacAddress::parse("aa:bb-cc:00:11:22"));
  EXPECT_TRUE(MacAddress::parse("01:00:5e:00:00:01")->is_multicast());
  const MacAddress m = *MacAddress::parse("02:11:22:33:44:55");
  EXPECT_EQ(MacAddress::from_key(m.key()), m);
}

// [cluster] with an underlay: the member's VTEP is the underlay address.
constexpr std::string_view kClusterUnderlay =
    "[underlay]\ndevice = \"net_af_packet0,iface=u0\"\naddress = \"198.51.100.11/24\"\n";

TEST(Config, ClusterSectionTurnsClusterModeOnWithItsDefaults) {
  EXPECT_FALSE(parse_config("", "test.toml").cluster.enabled);
  const Config c = parse_config(
      std::string(kClusterUnderlay) + "[cluster]\nendpoints = [\"http://198.51.100.1:2379\"]\nname = \"rvm1\"\n",
      "test.toml");
  EXPECT_TRUE(c.cluster.enabled);
  EXPECT_EQ(c.cluster.endpoints, std::vector<std::string>{"http://198.51.100.1:2379"});
  EXPECT_EQ(c.cluster.name, "rvm1");
  EXPECT_EQ(c.cluster.lease_ttl_s, 5u);
  EXPECT_EQ(c.cluster.prefix, "/inception/v1/");
  EXPECT_EQ(c.cluster.data_center, "dc1");
  EXPECT_TRUE(c.cluster.roles.empty());

  const Config custom = parse_config(
      std::string(kClusterUnderlay) + "gateway = \"198.51.100.1\"\n" +
          "[cluster]\nendpoints = [\"http://etcd-1:2379\", \"http://198.51.100.2:2379\"]\nname = \"rvm-2.a_b\"\n"
          "lease_ttl = 2\nprefix = \"/x/\"\ndata_center = \"dc2\"\nroles = [\"gateway\"]\n"
          "public_vtep = \"203.0.113.11\"\n",
      "test.toml");
  EXPECT_EQ(custom.cluster.public_vtep, Ipv4Address::parse("203.0.113.11"));
  EXPECT_EQ(custom.cluster.endpoints.size(), 2u);
  EXPECT_EQ(custom.cluster.lease_ttl_s, 2u);
  EXPECT_EQ(custom.cluster.roles, std::vector<std::string>{"gateway"});
  // And it survives `config show`.
  const Config shown = parse_config(to_toml(custom), "shown.toml");
  EXPECT_EQ(shown.cluster.endpoints, custom.cluster.endpoints);
  EXPECT_EQ(shown.cluster.name, "rvm-2.a_b");
  EXPECT_EQ(shown.cluster.prefix, "/x/");
  EXPECT_EQ(shown.cluster.data_center, "dc2");
  EXPECT_EQ(shown.cluster.lease_ttl_s, 2u);
  EXPECT_EQ(shown.cluster.roles, custom.cluster.roles);
  EXPECT_EQ(shown.cluster.public_vtep, custom.cluster.public_vtep);
}

TEST(Config, ClusterRulesPointAtTheValueTheyJudge) {
  const auto cluster = [](const std::string& body) {
    return error_of(std::string(kClusterUnderlay) + "[cluster]\n" + body);
  };
  const std::string ok_endpoints = "endpoints = [\"http://127.0.0.1:2379\"]\n";
  EXPECT_EQ(cluster("name = \"a\"\n"), "test.toml:4:1: [cluster]: missing required key 'endpoints'");
  EXPECT_EQ(cluster(ok_endpoints), "test.toml:4:1: [cluster]: missing required key 'name'");
  EXPECT_EQ(cluster("endpoints = []\nname = \"a\"\n"),
            "test.toml:5:13: [cluster] endpoints must list at least one etcd URL");
  EXPECT_EQ(cluster("endpoints = [\"127.0.0.1:2379\"]\nname = \"a\"\n"),
            "test.toml:5:13: [cluster] endpoint '127.0.0.1:2379': expected http://HOST:PORT");
  EXPECT_EQ(cluster("endpoints = [\"https://e:2379\"]\nname = \"a\"\n"),
            "test.toml:5:13: [cluster] endpoint 'https://e:2379': https is not supported (etcd's client URL over "
            "plain http)");
  EXPECT_EQ(cluster("endpoints = [\"http://e:2379/v3\"]\nname = \"a\"\n"),
            "test.toml:5:13: [cluster] endpoint 'http://e:2379/v3': the port must be 1..65535");
  EXPECT_EQ(cluster("endpoints = [\"http://e:0\"]\nname = \"a\"\n"),
            "test.toml:5:13: [cluster] endpoint 'http://e:0': the port must be 1..65535");
  EXPECT_EQ(cluster("endpoints = [\"http://e:1\", \"http://e:1\"]\nname = \"a\"\n"),
            "test.toml:5:13: [cluster] endpoint http://e:1 is listed twice");
  EXPECT_EQ(cluster(ok_endpoints + "name = \"a/b\"\n"),
            "test.toml:6:8: [cluster] name 'a/b': a member name is 1-63 characters of A-Z a-z 0-9 . _ -");
  EXPECT_EQ(cluster(ok_endpoints + "name = \"a\"\ndata_center = \"\"\n"),
            "test.toml:7:15: [cluster] data_center '': a data center name is 1-63 characters of A-Z a-z 0-9 . _ -");
  EXPECT_EQ(cluster(ok_endpoints + "name = \"a\"\nlease_ttl = 1\n"),
            "test.toml:7:13: [cluster].lease_ttl: 1 is out of range (2..60)");
  EXPECT_EQ(cluster(ok_endpoints + "name = \"a\"\nlease_ttl = 61\n"),
            "test.toml:7:13: [cluster].lease_ttl: 61 is out of range (2..60)");
  EXPECT_EQ(cluster(ok_endpoints + "name = \"a\"\nprefix = \"/x\"\n"),
            "test.toml:7:10: [cluster] prefix '/x' must start and end with '/' (at most 128 bytes)");
  EXPECT_EQ(cluster(ok_endpoints + "name = \"a\"\nprefix = \"x/\"\n"),
            "test.toml:7:10: [cluster] prefix 'x/' must start and end with '/' (at most 128 bytes)");
  EXPECT_EQ(cluster(ok_endpoints + "name = \"a\"\nroles = [\"router\"]\n"),
            "test.toml:7:9: [cluster] role 'router' is not one of: gateway");
  EXPECT_EQ(cluster(ok_endpoints + "name = \"a\"\nroles = [\"gateway\", \"gateway\"]\n"),
            "test.toml:7:9: [cluster] role gateway is listed twice");
  EXPECT_EQ(cluster(ok_endpoints + "name = \"a\"\ngateway_hook = \"hook.sh\"\n"),
            "test.toml:7:16: [cluster] gateway_hook 'hook.sh' must be an absolute path");
  EXPECT_EQ(cluster(ok_endpoints + "name = \"a\"\nttl = 5\n"), "test.toml:7:1: unknown key 'ttl' in [cluster]");
  const std::string gateway = ok_endpoints + "name = \"a\"\nroles = [\"gateway\"]\n";
  EXPECT_EQ(cluster(gateway + "public_vtep = \"203.0.113\"\n"),
            "test.toml:8:15: [cluster] public_vtep '203.0.113' is not an IPv4 address");
  EXPECT_EQ(cluster(ok_endpoints + "name = \"a\"\npublic_vtep = \"203.0.113.11\"\n"),
            "test.toml:7:15: [cluster] public_vtep 203.0.113.11: only the gateway role tunnels to other data centers");
  EXPECT_EQ(cluster(gateway + "public_vtep = \"203.0.113.11\"\n"),
            "test.toml:8:15: [cluster] public_vtep 203.0.113.11: the other data centers are reached through "
            "[underlay] gateway, which is not set");
  EXPECT_EQ(cluster(gateway + "public_vtep = \"198.51.100.11\"\n"),
            "test.toml:8:15: [cluster] public_vtep 198.51.100.11: the VTEP's own address is not public; give the one "
            "the reality cloud NATs to it");
  EXPECT_EQ(cluster(gateway + "public_vtep = \"224.0.0.1\"\n"),
            "test.toml:8:15: [cluster] public_vtep 224.0.0.1: a multicast address");
  EXPECT_EQ(error_of("[cluster]\n" + ok_endpoints + "name = \"a\"\n"),
            "test.toml:1:1: [cluster] needs an [underlay]: its address is the VTEP the other members tunnel to");
}

}  // namespace
}  // namespace inception
