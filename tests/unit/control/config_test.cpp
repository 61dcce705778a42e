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
  EXPECT_EQ(c.ports[1].type, PortType::kKernel);
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
  c.ports.push_back(p);
  c.static_macs.push_back({"private", *MacAddress::parse("02:00:00:00:00:01"), "ivm1"});
  c.sw.mac_aging_s = 42;
  const Config again = parse_config(to_toml(c), "round-trip");
  EXPECT_EQ(to_toml(again), to_toml(c));
  EXPECT_EQ(again.sw.mac_aging_s, 42u);
  ASSERT_EQ(again.ports.size(), 1u);
  EXPECT_EQ(again.ports[0].queues, 3);
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
            "test.toml: network b: VNI 5 is already used by another network");
  EXPECT_EQ(error_of(net + "[[port]]\nname = \"p\"\ntype = \"kernel\"\nnetwork = \"zz\"\n"),
            "test.toml: port p: network zz is not defined");
  EXPECT_EQ(error_of(net + "[[port]]\nname = \"p\"\ntype = \"vhost-user\"\nnetwork = \"a\"\n"),
            "test.toml:4:1: port p: a vhost-user port needs a socket path");
  EXPECT_EQ(error_of(net + "[[port]]\nname = \"p\"\ntype = \"kernel\"\nnetwork = \"a\"\nsocket = \"/x\"\n"),
            "test.toml:4:1: [[port]] #1: port p: socket, mode and queues apply to vhost-user ports only");
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
            "test.toml: network a: peers need an [underlay]");
  EXPECT_EQ(error_of(underlay + "[[network]]\nname = \"a\"\nvni = 5\npeers = [\"10.0.0.12\", \"10.0.0.12\"]\n"),
            "test.toml: network a: peer 10.0.0.12 is listed twice");
  EXPECT_EQ(error_of(underlay + "[[network]]\nname = \"a\"\nvni = 5\npeers = [\"10.0.0.11\"]\n"),
            "test.toml: network a: peer 10.0.0.11 is this rVM's own underlay address");
  EXPECT_EQ(error_of(underlay + "[[network]]\nname = \"a\"\nvni = 5\npeers = [\"10.0.0\"]\n"),
            "test.toml:7:9: network a: peer '10.0.0' is not an IPv4 address");
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
            "nat: SNAT and gateway mappings need an [underlay] (they send out of the rVM's NIC)");
  EXPECT_EQ(error_of(nets + "[nat]\nsnat_ports = \"9000-100\"\n"),
            "test.toml:5:14: [nat].snat_ports: '9000-100' is not a range LOW-HIGH within 1024-65535");
  EXPECT_EQ(error_of(nets + "[[router]]\nnetwork = \"nowhere\"\naddress = \"192.0.2.254/24\"\n"),
            "test.toml: router on network nowhere: the network is not defined");
  EXPECT_EQ(error_of(nets + "[[fip]]\npublic = \"203.0.113.10\"\nfixed = \"192.0.2.2\"\nnetwork = \"x\"\n"),
            "floating IP 203.0.113.10: network x is not defined");
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
  const std::string net = "[[network]]\nname = \"n\"\nvni = 1\n[[port]]\nname = \"p\"\ntype = \"kernel\"\nnetwork = \"n\"\n";
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

}  // namespace
}  // namespace inception
