// What a domain's XML asks of the switch: the documented example plugs as
// documented, and every kind of bad interface is refused with its reason
// while the others still plug.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "control/libvirt/domain.h"

namespace inception::libvirt {
namespace {

constexpr const char* kSocketDir = "/run/inception/vhost-user";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A running domain's XML as libvirt returns it (aliases assigned), with
// the given interfaces and metadata ports.
std::string domain_xml(const std::string& interfaces, const std::string& ports, const std::string& name = "ivm1") {
  return "<domain type='qemu' id='3'><name>" + name +
         "</name><uuid>0b6e4c1a-7d2e-4f4e-9a55-3f1c0f0a0001</uuid>"
         "<metadata><inception:ports xmlns:inception='http://inception-dataplane.org/xmlns/libvirt/1'>" +
         ports + "</inception:ports></metadata><devices>" + interfaces + "</devices></domain>";
}

std::string vhost_interface(const std::string& mac, const std::string& socket, const std::string& alias = "net0",
                            const std::string& extra = "", const std::string& mode = "server") {
  return "<interface type='vhostuser'><mac address='" + mac + "'/><source type='unix' path='" + socket + "' mode='" +
         mode + "'/><model type='virtio'/>" + extra + "<alias name='" + alias + "'/></interface>";
}

std::string port_meta(const std::string& attributes) {
  return "<inception:port " + attributes + "/>";
}

DomainPlan plan(const std::string& xml) {
  return plan_domain(parse_domain_xml(xml), kSocketDir);
}

TEST(LibvirtDomain, TheDocumentedExamplePlugsOnePortWithItsFloatingIp) {
  // The example is a definition: libvirt adds the <uuid> (and aliases).
  std::string xml = read_file(std::string(INCEPTION_SOURCE_ROOT) + "/docs/examples/ivm1.xml");
  const std::string name = "<name>ivm1</name>";
  ASSERT_NE(xml.find(name), std::string::npos);
  xml.insert(xml.find(name) + name.size(), "<uuid>0b6e4c1a-7d2e-4f4e-9a55-3f1c0f0a0001</uuid>");
  const DomainXml d = parse_domain_xml(xml);
  EXPECT_EQ(d.name, "ivm1");
  ASSERT_EQ(d.interfaces.size(), 1u);
  EXPECT_EQ(d.interfaces[0].mode, "server");
  EXPECT_EQ(d.interfaces[0].queues, "1");
  ASSERT_EQ(d.ports.size(), 1u);
  EXPECT_EQ(d.ports[0].network, "private");

  const DomainPlan p = plan_domain(d, kSocketDir);
  ASSERT_EQ(p.interfaces.size(), 1u);
  const PlannedInterface& i = p.interfaces[0];
  ASSERT_TRUE(i.port) << i.refusal;
  EXPECT_EQ(i.port->name, "ivm1-net0");
  EXPECT_EQ(i.port->socket, "/run/inception/vhost-user/ivm1-net0.sock");
  EXPECT_FALSE(i.port->server) << "QEMU owns the socket; the switch connects";
  EXPECT_EQ(i.port->queues, 1);
  EXPECT_EQ(i.port->network, "private");
  ASSERT_EQ(i.port->macs.size(), 1u);
  EXPECT_EQ(i.port->macs[0].to_string(), "52:54:00:00:00:02");
  EXPECT_TRUE(i.port->port_security_enabled());
  ASSERT_EQ(i.port->ips.size(), 1u);
  EXPECT_EQ(i.port->ips[0].to_string(), "192.0.2.2/32");
  ASSERT_TRUE(i.fip);
  EXPECT_EQ(i.fip->public_ip.to_string(), "203.0.113.10");
  EXPECT_EQ(i.fip->fixed.to_string(), "192.0.2.2");
  EXPECT_EQ(i.fip->network, "private");
}

TEST(LibvirtDomain, MetadataNamesThePortAndQueuesComeFromTheDriver) {
  const DomainPlan p = plan(domain_xml(
      vhost_interface("52:54:00:00:00:02", "/run/inception/vhost-user/a.sock", "net0", "<driver queues='4'/>"),
      port_meta("mac='52:54:00:00:00:02' network='private' name='web-1'")));
  ASSERT_TRUE(p.interfaces[0].port) << p.interfaces[0].refusal;
  EXPECT_EQ(p.interfaces[0].port->name, "web-1");
  EXPECT_EQ(p.interfaces[0].port->queues, 4);
  EXPECT_TRUE(p.interfaces[0].port->ips.empty()) << "no fixed-ip: any address";
  EXPECT_FALSE(p.interfaces[0].fip);
}

TEST(LibvirtDomain, MacsMatchWhateverTheirCase) {
  const DomainPlan p = plan(domain_xml(vhost_interface("52:54:00:AA:00:02", "/run/inception/vhost-user/a.sock"),
                                       port_meta("mac='52:54:00:aa:00:02' network='private'")));
  EXPECT_TRUE(p.interfaces[0].port) << p.interfaces[0].refusal;
}

struct BadInterface {
  const char* case_name;
  std::string interface_xml;
  std::string metadata;
  const char* reason;  // a part of the refusal
};

class LibvirtDomainRefusal : public ::testing::TestWithParam<BadInterface> {};

TEST_P(LibvirtDomainRefusal, RefusesTheInterfaceAndPlugsTheOther) {
  const BadInterface& bad = GetParam();
  const std::string good = vhost_interface("52:54:00:00:00:09", "/run/inception/vhost-user/good.sock", "net1");
  const DomainPlan p =
      plan(domain_xml(bad.interface_xml + good, bad.metadata + port_meta("mac='52:54:00:00:00:09' network='private'")));
  ASSERT_EQ(p.interfaces.size(), 2u);
  EXPECT_FALSE(p.interfaces[0].port);
  EXPECT_NE(p.interfaces[0].refusal.find(bad.reason), std::string::npos) << p.interfaces[0].refusal;
  EXPECT_TRUE(p.interfaces[1].port) << p.interfaces[1].refusal;
}

const std::string kMac = "52:54:00:00:00:02";
const std::string kSock = "/run/inception/vhost-user/a.sock";
const std::string kMeta = "<inception:port mac='52:54:00:00:00:02' network='private'/>";

INSTANTIATE_TEST_SUITE_P(
    Cases, LibvirtDomainRefusal,
    ::testing::Values(
        BadInterface{"NoMetadata", vhost_interface(kMac, kSock), "", "no <inception:port mac='52:54:00:00:00:02'>"},
        BadInterface{"SocketOutsideTheDirectory", vhost_interface(kMac, "/run/other/a.sock"), kMeta,
                     "outside the allowed directory /run/inception/vhost-user"},
        BadInterface{"SocketEscapingWithDotDot", vhost_interface(kMac, "/run/inception/vhost-user/../x.sock"), kMeta,
                     "not an absolute, normalised path"},
        BadInterface{"SocketInASubdirectory", vhost_interface(kMac, "/run/inception/vhost-user/sub/a.sock"), kMeta,
                     "outside the allowed directory"},
        BadInterface{"QemuAsClient", vhost_interface(kMac, kSock, "net0", "", "client"), kMeta,
                     "only mode='server' is supported"},
        BadInterface{"NotAMac", vhost_interface("52:54:00:00:02", kSock), kMeta, "is not a MAC address"},
        BadInterface{"MulticastMac", vhost_interface("01:00:5e:00:00:01", kSock),
                     port_meta("mac='01:00:5e:00:00:01' network='private'"), "not a unicast address"},
        BadInterface{"NoNetwork", vhost_interface(kMac, kSock), port_meta("mac='52:54:00:00:00:02'"), "no network="},
        BadInterface{"BadFixedIp", vhost_interface(kMac, kSock),
                     port_meta("mac='52:54:00:00:00:02' network='private' fixed-ip='192.0.2.300'"),
                     "fixed-ip '192.0.2.300' is not an IPv4 address"},
        BadInterface{"FloatingIpWithoutFixedIp", vhost_interface(kMac, kSock),
                     port_meta("mac='52:54:00:00:00:02' network='private' floating-ip='203.0.113.10'"),
                     "needs a fixed-ip"},
        BadInterface{"QueuesOutOfRange", vhost_interface(kMac, kSock, "net0", "<driver queues='99'/>"), kMeta,
                     "driver queues='99'"},
        BadInterface{"NameTooLong", vhost_interface(kMac, kSock, "ua-a-rather-long-alias"), kMeta,
                     "give one with name= in the metadata"},
        BadInterface{"TwoEntriesForOneMac", vhost_interface(kMac, kSock), kMeta + kMeta, "two <inception:port>"}),
    [](const ::testing::TestParamInfo<BadInterface>& param) { return std::string(param.param.case_name); });

TEST(LibvirtDomain, XmlThatIsNoDomainIsRefusedWithItsReason) {
  struct Case {
    std::string xml;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {"not xml at all", "not well-formed"},
      {"<domain><name>x</name>", "not well-formed"},
      {"<network><name>x</name></network>", "root element is not <domain>"},
      {"<domain><uuid>u</uuid></domain>", "no <name>"},
      {"<domain><name>x</name></domain>", "domain x: no <uuid>"},
      {domain_xml("", "<inception:port mac='52:54:00:00:00:02' network='private' colour='red'/>"),
       "unknown attribute 'colour'"},
      {"<domain><name>x</name><uuid>u</uuid><metadata><i:other xmlns:i='" + std::string(kMetadataNamespace) +
           "'/></metadata></domain>",
       "unknown element <other>"},
  };
  for (const Case& c : cases) {
    try {
      parse_domain_xml(c.xml);
      ADD_FAILURE() << "accepted: " << c.xml;
    } catch (const DomainXmlError& e) {
      EXPECT_NE(std::string(e.what()).find(c.reason), std::string::npos) << e.what();
    }
  }
}

TEST(LibvirtDomain, OtherNamespacesAndOtherInterfacesAreIgnored) {
  const std::string xml =
      "<domain><name>x</name><uuid>u</uuid><metadata><nova:instance xmlns:nova='http://openstack.org/xmlns/libvirt/"
      "nova/1.1'><nova:name>x</nova:name></nova:instance></metadata><devices><interface type='network'><mac "
      "address='52:54:00:00:00:05'/><source network='default'/></interface></devices></domain>";
  const DomainXml d = parse_domain_xml(xml);
  EXPECT_TRUE(d.ports.empty());
  EXPECT_TRUE(d.interfaces.empty());
}

TEST(LibvirtDomain, EntitiesAreNotExpandedIntoABillionLaughs) {
  // Each level references the previous one ten times: 10^10 bytes if expanded.
  std::string xml = "<?xml version='1.0'?><!DOCTYPE domain [<!ENTITY a0 'aaaaaaaaaa'>";
  for (int i = 1; i < 10; ++i) {
    xml += "<!ENTITY a" + std::to_string(i) + " '";
    for (int k = 0; k < 10; ++k) xml += "&a" + std::to_string(i - 1) + ";";
    xml += "'>";
  }
  xml += "]><domain><name>&a9;</name><uuid>u</uuid></domain>";
  const auto start = std::chrono::steady_clock::now();
  try {
    const DomainXml d = parse_domain_xml(xml);
    EXPECT_LT(d.name.size(), 1000000u) << "entities were expanded";
  } catch (const DomainXmlError&) {
    // Refusing it is as good.
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

TEST(LibvirtDomain, OversizedXmlIsRefusedUnread) {
  const std::string xml = domain_xml("", "") + std::string(kMaxDomainXmlBytes, ' ');
  EXPECT_THROW(parse_domain_xml(xml), DomainXmlError);
}

}  // namespace
}  // namespace inception::libvirt
