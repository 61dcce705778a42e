// The ports' section of the TOML file: [[port]].
#include "control/config_reader.h"

namespace inception::config_detail {

PortConfig parse_port(const toml::table& table, const std::string& file, size_t index, const Config& config) {
  TableReader r(table, fmt::format("[[port]] #{}", index + 1), file);
  PortConfig p;
  p.name = r.required_string("name");
  const std::string type = r.required_string("type");
  const auto parsed = parse_port_type(type);
  if (!parsed)
    r.fail_at(*table.get("type"), fmt::format("port {}: type '{}' is not one of: vhost-user, kernel", p.name, type));
  p.type = *parsed;
  p.network = r.required_string("network");
  if (auto v = r.string("socket")) p.socket = *v;
  if (auto v = r.string("mode")) {
    if (*v != "client" && *v != "server")
      r.fail_at(*table.get("mode"), fmt::format("port {}: mode '{}' is not one of: client, server", p.name, *v));
    p.server = *v == "server";
  }
  if (auto v = r.integer("queues", kVhostQueuesRange.min, kVhostQueuesRange.max)) p.queues = static_cast<uint16_t>(*v);
  if (auto v = r.boolean("offloads")) p.offloads = *v;
  if (auto v = r.boolean("coalesce")) p.coalesce = *v;
  if (auto v = r.strings("macs")) {
    for (const std::string& text : *v) {
      const auto mac = MacAddress::parse(text);
      if (!mac) r.fail_at(*table.get("macs"), fmt::format("port {}: '{}' is not a MAC address", p.name, text));
      p.macs.push_back(*mac);
    }
  }
  if (auto v = r.strings("ips")) {
    for (const std::string& text : *v) {
      const auto prefix = Ipv4Prefix::parse_address_or_prefix(text);
      if (!prefix)
        r.fail_at(*table.get("ips"),
                  fmt::format("port {}: '{}' is not an IPv4 address or ADDRESS/PREFIX", p.name, text));
      p.ips.push_back(*prefix);
    }
  }
  if (auto v = r.boolean("port_security")) p.port_security = *v;
  if (auto v = r.integer("mac_limit", kMacLimitRange.min, kMacLimitRange.max)) p.mac_limit = *v;
  r.finish();
  try {
    validate_port_keys(p, table.contains("socket") || table.contains("mode") || table.contains("queues") ||
                              table.contains("offloads") || table.contains("coalesce"));
  } catch (const ConfigError& e) {
    r.fail(e.what());
  }
  at_table(table, file, [&] { validate_port(p); });
  r.check("socket", [&] { validate_port_socket(p, config.ports, config.control.socket); });
  return p;
}

void ports_to_toml(const Config& c, toml::table& root) {
  toml::array ports;
  for (const PortConfig& p : c.ports) {
    toml::table t{{"name", p.name}, {"type", std::string(port_type_name(p.type))}, {"network", p.network}};
    if (p.type == PortType::kVhostUser) {
      t.insert("socket", p.socket);
      t.insert("mode", p.server ? "server" : "client");
      t.insert("queues", static_cast<int64_t>(p.queues));
      if (!p.offloads) t.insert("offloads", false);
      if (!p.coalesce) t.insert("coalesce", false);
    }
    if (!p.macs.empty()) {
      toml::array macs;
      for (const MacAddress& mac : p.macs) macs.push_back(mac.to_string());
      t.insert("macs", std::move(macs));
    }
    if (!p.ips.empty()) {
      toml::array ips;
      for (const Ipv4Prefix& ip : p.ips) ips.push_back(ip.to_string());
      t.insert("ips", std::move(ips));
    }
    if (p.port_security) t.insert("port_security", *p.port_security);
    if (p.mac_limit != 0) t.insert("mac_limit", static_cast<int64_t>(p.mac_limit));
    ports.push_back(std::move(t));
  }
  if (!ports.empty()) root.insert("port", std::move(ports));
}

}  // namespace inception::config_detail
