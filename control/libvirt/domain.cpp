#include "control/libvirt/domain.h"

#include <fmt/format.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <charconv>
#include <filesystem>
#include <memory>
#include <mutex>

#include "inception/ipv4_address.h"
#include "inception/mac_address.h"
#include "inception/types.h"

namespace inception::libvirt {

namespace {

using Document = std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)>;

std::string_view name_of(const xmlNode* node) {
  return reinterpret_cast<const char*>(node->name);
}

bool in_inception_namespace(const xmlNode* node) {
  return node->ns != nullptr && node->ns->href != nullptr &&
         reinterpret_cast<const char*>(node->ns->href) == kMetadataNamespace;
}

// Elements of libvirt's own schema carry no namespace.
bool is_element(const xmlNode* node, std::string_view name) {
  return node->type == XML_ELEMENT_NODE && node->ns == nullptr && name_of(node) == name;
}

const xmlNode* child(const xmlNode* parent, std::string_view name) {
  for (const xmlNode* c = parent->children; c != nullptr; c = c->next)
    if (is_element(c, name)) return c;
  return nullptr;
}

std::string attribute(const xmlNode* node, const char* name) {
  if (node == nullptr) return {};
  xmlChar* value = xmlGetNoNsProp(node, reinterpret_cast<const xmlChar*>(name));
  if (value == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(value));
  xmlFree(value);
  return out;
}

std::string text(const xmlNode* node) {
  if (node == nullptr) return {};
  xmlChar* content = xmlNodeGetContent(node);
  if (content == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(content));
  xmlFree(content);
  return out;
}

GuestInterface read_interface(const xmlNode* node) {
  GuestInterface i;
  i.alias = attribute(child(node, "alias"), "name");
  i.mac = attribute(child(node, "mac"), "address");
  const xmlNode* source = child(node, "source");
  i.socket = attribute(source, "path");
  i.mode = attribute(source, "mode");
  i.queues = attribute(child(node, "driver"), "queues");
  return i;
}

void read_metadata(const xmlNode* metadata, DomainXml& domain) {
  for (const xmlNode* c = metadata->children; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE || !in_inception_namespace(c)) continue;
    if (name_of(c) != "ports")
      throw DomainXmlError(fmt::format("metadata: unknown element <{}> in namespace {} (expected <ports>)", name_of(c),
                                       kMetadataNamespace));
    for (const xmlNode* p = c->children; p != nullptr; p = p->next) {
      if (p->type != XML_ELEMENT_NODE) continue;
      if (!in_inception_namespace(p) || name_of(p) != "port")
        throw DomainXmlError(fmt::format("metadata: <ports> holds <port> elements of namespace {} only, not <{}>",
                                         kMetadataNamespace, name_of(p)));
      for (const xmlAttr* a = p->properties; a != nullptr; a = a->next) {
        const std::string_view key = reinterpret_cast<const char*>(a->name);
        if (key != "mac" && key != "network" && key != "name" && key != "fixed-ip" && key != "floating-ip")
          throw DomainXmlError(fmt::format(
              "metadata: <port> has an unknown attribute '{}' (known: mac, network, name, fixed-ip, floating-ip)",
              key));
      }
      domain.ports.push_back({attribute(p, "mac"), attribute(p, "network"), attribute(p, "name"),
                              attribute(p, "fixed-ip"), attribute(p, "floating-ip")});
    }
  }
}

// libxml2 keeps global state that must be set up once before threads use it.
void init_libxml() {
  static std::once_flag once;
  std::call_once(once, [] { xmlInitParser(); });
}

}  // namespace

DomainXml parse_domain_xml(std::string_view xml) {
  init_libxml();
  if (xml.size() > kMaxDomainXmlBytes)
    throw DomainXmlError(fmt::format("domain XML of {} bytes is over the limit of {}", xml.size(), kMaxDomainXmlBytes));
  // No network access, no entity substitution, no DTD loading (libxml2's
  // defaults for the last two, kept explicit by not asking for them): the
  // XML comes from libvirt, but a domain's metadata is written by a tenant's
  // tooling. Errors are collected, not printed.
  Document doc(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "domain.xml", nullptr,
                             XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING),
               xmlFreeDoc);
  if (!doc) {
    const xmlError* e = xmlGetLastError();
    std::string why = e != nullptr && e->message != nullptr ? e->message : "unreadable";
    while (!why.empty() && why.back() == '\n') why.pop_back();
    throw DomainXmlError(fmt::format("domain XML is not well-formed: line {}: {}", e != nullptr ? e->line : 0, why));
  }
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr || !is_element(root, "domain"))
    throw DomainXmlError("not a libvirt domain: the root element is not <domain>");
  DomainXml domain;
  domain.name = text(child(root, "name"));
  domain.uuid = text(child(root, "uuid"));
  if (domain.name.empty()) throw DomainXmlError("domain XML has no <name>");
  if (domain.uuid.empty()) throw DomainXmlError(fmt::format("domain {}: no <uuid>", domain.name));
  if (const xmlNode* metadata = child(root, "metadata")) {
    try {
      read_metadata(metadata, domain);
    } catch (const DomainXmlError& e) {
      throw DomainXmlError(fmt::format("domain {}: {}", domain.name, e.what()));
    }
  }
  if (const xmlNode* devices = child(root, "devices"))
    for (const xmlNode* c = devices->children; c != nullptr; c = c->next)
      if (is_element(c, "interface") && attribute(c, "type") == "vhostuser")
        domain.interfaces.push_back(read_interface(c));
  return domain;
}

std::string default_port_name(const std::string& domain, const std::string& alias) {
  return domain + "-" + alias;
}

namespace {

std::optional<uint32_t> parse_decimal(std::string_view text) {
  uint32_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// Why `socket` may not be plugged, or "" if it may: directly inside the
// socket directory, by a normalised path (no "..", no symlink games in the
// name itself; the directory is the operator's).
std::string socket_refusal(const std::string& socket, const std::string& socket_dir) {
  if (socket.empty()) return "no <source path>";
  const std::filesystem::path path(socket);
  if (!path.is_absolute() || path.lexically_normal().string() != socket)
    return fmt::format("socket '{}' is not an absolute, normalised path", socket);
  if (path.parent_path().string() != socket_dir)
    return fmt::format("socket {} is outside the allowed directory {} ([libvirt] socket_dir)", socket, socket_dir);
  return {};
}

PlannedInterface plan_interface(const DomainXml& domain, const GuestInterface& iface, const std::string& alias,
                                const std::string& socket_dir) {
  PlannedInterface planned;
  planned.label = fmt::format("interface {} ({})", alias, iface.mac.empty() ? "no MAC" : iface.mac);
  auto refuse = [&](std::string reason) {
    planned.refusal = std::move(reason);
    return planned;
  };
  const auto mac = MacAddress::parse(iface.mac);
  if (!mac) return refuse(fmt::format("MAC '{}' is not a MAC address", iface.mac));
  if (mac->is_zero() || (mac->bytes()[0] & 1) != 0)
    return refuse(fmt::format("MAC {} is not a unicast address", iface.mac));
  const PortMetadata* meta = nullptr;
  for (const PortMetadata& m : domain.ports) {
    const auto other = MacAddress::parse(m.mac);
    if (other && *other == *mac) {
      if (meta != nullptr) return refuse(fmt::format("two <inception:port> entries for MAC {}", iface.mac));
      meta = &m;
    }
  }
  if (meta == nullptr)
    return refuse(
        fmt::format("no <inception:port mac='{}'> in the domain's metadata: the switch does not know its "
                    "network",
                    mac->to_string()));
  if (iface.mode != "server")
    return refuse(
        fmt::format("source mode '{}': only mode='server' is supported (QEMU creates the socket, the switch "
                    "connects to it and may restart under the running guest)",
                    iface.mode));
  if (const std::string why = socket_refusal(iface.socket, socket_dir); !why.empty()) return refuse(why);

  PortConfig port;
  port.name = meta->name.empty() ? default_port_name(domain.name, alias) : meta->name;
  if (!valid_object_name(port.name, kMaxPortNameLength))
    return refuse(fmt::format("port name '{}' is not 1-{} characters of A-Z a-z 0-9 . _ -{}", port.name,
                              kMaxPortNameLength, meta->name.empty() ? " (give one with name= in the metadata)" : ""));
  port.type = PortType::kVhostUser;
  port.socket = iface.socket;
  port.server = false;  // QEMU is the server
  port.queues = 1;
  if (!iface.queues.empty()) {
    const auto queues = parse_decimal(iface.queues);
    if (!queues || !kVhostQueuesRange.contains(static_cast<int64_t>(*queues)))
      return refuse(fmt::format("driver queues='{}': expected {}..{}", iface.queues, kVhostQueuesRange.min,
                                kVhostQueuesRange.max));
    port.queues = static_cast<uint16_t>(*queues);
  }
  if (meta->network.empty()) return refuse("metadata gives no network= for MAC " + mac->to_string());
  port.network = meta->network;
  // Port security: the guest sends from its own MAC (and address) only.
  port.macs = {*mac};
  std::optional<Ipv4Address> fixed;
  if (!meta->fixed_ip.empty()) {
    fixed = Ipv4Address::parse(meta->fixed_ip);
    if (!fixed) return refuse(fmt::format("fixed-ip '{}' is not an IPv4 address", meta->fixed_ip));
    port.ips = {Ipv4Prefix{*fixed, 32}};
  }
  try {
    validate_port(port);
  } catch (const ConfigError& e) {
    return refuse(e.what());
  }
  if (!meta->floating_ip.empty()) {
    const auto public_ip = Ipv4Address::parse(meta->floating_ip);
    if (!public_ip) return refuse(fmt::format("floating-ip '{}' is not an IPv4 address", meta->floating_ip));
    if (!fixed) return refuse(fmt::format("floating-ip {} needs a fixed-ip to translate to", meta->floating_ip));
    planned.fip = FipConfig{*public_ip, *fixed, port.network};
  }
  planned.port = std::move(port);
  return planned;
}

}  // namespace

DomainPlan plan_domain(const DomainXml& domain, const std::string& socket_dir) {
  DomainPlan plan;
  plan.name = domain.name;
  plan.uuid = domain.uuid;
  for (size_t i = 0; i < domain.interfaces.size(); ++i) {
    const GuestInterface& iface = domain.interfaces[i];
    // An inactive domain's XML has no aliases yet; libvirt names them netN.
    const std::string alias = iface.alias.empty() ? fmt::format("net{}", i) : iface.alias;
    plan.interfaces.push_back(plan_interface(domain, iface, alias, socket_dir));
  }
  return plan;
}

}  // namespace inception::libvirt
