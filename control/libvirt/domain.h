// What a libvirt domain asks of the switch: its vhost-user interfaces, and
// the project's metadata that says which network each joins and which
// floating IP follows it (docs/libvirt.md has the schema and an example).
//
// Two steps, both pure (no libvirt, no controller), so that the unit tests
// and the fuzzer drive exactly what inceptiond runs:
//   parse_domain_xml: libxml2 reads the XML libvirt returns for a domain;
//   plan_domain:      every interface checked and turned into a PortConfig
//                     (and a FipConfig), or refused with the reason.
// The controller then checks what only it can (the network exists, the name,
// socket and MAC are free) when the plugger adds the port.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "control/config.h"

namespace inception::libvirt {

// The namespace of the project's element in a domain's <metadata>.
inline constexpr std::string_view kMetadataNamespace = "http://inception-dataplane.org/xmlns/libvirt/1";
// Bigger documents are refused unread: a domain with a few hundred devices
// is ~100 KB.
inline constexpr size_t kMaxDomainXmlBytes = 4 << 20;

// XML that is not a libvirt domain as this module needs it (not XML, no
// <domain>, no <name>/<uuid>, a malformed inception element).
class DomainXmlError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One <interface type='vhostuser'>, attributes as written ("" if absent).
struct GuestInterface {
  std::string alias;   // <alias name>: libvirt's (net0) or the user's (ua-...)
  std::string mac;     // <mac address>
  std::string socket;  // <source path>
  std::string mode;    // <source mode>: QEMU's role, "server" or "client"
  std::string queues;  // <driver queues>
};

// One <inception:port> of the domain's metadata, attributes as written.
struct PortMetadata {
  std::string mac;
  std::string network;
  std::string name;         // optional: the switch port's name
  std::string fixed_ip;     // optional: bound by port security, target of the floating IP
  std::string floating_ip;  // optional: needs fixed-ip
};

struct DomainXml {
  std::string name;
  std::string uuid;
  std::vector<GuestInterface> interfaces;  // vhost-user ones only
  std::vector<PortMetadata> ports;         // empty without the inception element
};

// Throws DomainXmlError.
DomainXml parse_domain_xml(std::string_view xml);

// One interface the switch will plug, or why it will not.
struct PlannedInterface {
  std::string label;  // for messages: "interface net0 (52:54:00:00:00:02)"
  std::optional<PortConfig> port;
  std::optional<FipConfig> fip;
  std::string refusal;  // set when !port
};

struct DomainPlan {
  std::string name;
  std::string uuid;
  // Metadata for a MAC no interface has is not an error: it may be written
  // before the interface is hot-plugged.
  std::vector<PlannedInterface> interfaces;
};

// Checks every interface against its metadata and `socket_dir` (see
// LibvirtConfig). A refused interface does not stop the others.
DomainPlan plan_domain(const DomainXml& domain, const std::string& socket_dir);

// The port name an interface gets without a name= in its metadata.
std::string default_port_name(const std::string& domain, const std::string& alias);

}  // namespace inception::libvirt
