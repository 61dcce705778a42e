// VXLAN's sections of the TOML file: [underlay], [[neighbor]].
#include "control/config_reader.h"

namespace inception::config_detail {

UnderlayConfig parse_underlay(const toml::table& table, const std::string& file) {
  TableReader r(table, "[underlay]", file);
  UnderlayConfig u;
  u.enabled = true;
  u.device = r.required_string("device");
  const std::string address = r.required_string("address");
  const auto prefix = Ipv4Prefix::parse(address);
  if (!prefix || prefix->address.is_unspecified())
    r.fail_at(*table.get("address"),
              fmt::format("[underlay].address: '{}' is not ADDRESS/PREFIX (e.g. 10.0.0.11/16)", address));
  u.address = *prefix;
  if (auto v = r.string("gateway")) {
    const auto gw = Ipv4Address::parse(*v);
    if (!gw) r.fail_at(*table.get("gateway"), fmt::format("[underlay].gateway: '{}' is not an IPv4 address", *v));
    u.gateway = *gw;
  }
  if (auto v = r.integer("mtu", 576, 9216)) u.mtu = static_cast<uint16_t>(*v);
  if (auto v = r.integer("vxlan_port", 1, 65535)) u.vxlan_port = static_cast<uint16_t>(*v);
  if (auto v = r.string("host_interface")) u.host_interface = *v;
  if (auto v = r.integer("neighbor_timeout_s", 1, 86400)) u.neighbor_timeout_s = *v;
  r.finish();
  at_table(table, file, [&] { validate_underlay(u); });
  return u;
}

NeighborConfig parse_neighbor(const toml::table& table, const std::string& file, size_t index,
                              const UnderlayConfig& underlay) {
  TableReader r(table, fmt::format("[[neighbor]] #{}", index + 1), file);
  const std::string ip = r.required_string("ip");
  const std::string mac = r.required_string("mac");
  r.finish();
  NeighborConfig n;
  const auto parsed_ip = Ipv4Address::parse(ip);
  if (!parsed_ip) r.fail_at(*table.get("ip"), fmt::format("'{}' is not an IPv4 address", ip));
  const auto parsed_mac = MacAddress::parse(mac);
  if (!parsed_mac || parsed_mac->is_multicast())
    r.fail_at(*table.get("mac"), fmt::format("'{}' is not a unicast MAC address (aa:bb:cc:dd:ee:ff)", mac));
  n.ip = *parsed_ip;
  n.mac = *parsed_mac;
  r.check("ip", [&] { validate_neighbor(n, underlay); });
  return n;
}

void vxlan_to_toml(const Config& c, toml::table& root) {
  if (c.underlay.enabled) {
    toml::table u{{"device", c.underlay.device},
                  {"address", c.underlay.address.to_string()},
                  {"mtu", static_cast<int64_t>(c.underlay.mtu)},
                  {"vxlan_port", static_cast<int64_t>(c.underlay.vxlan_port)},
                  {"host_interface", c.underlay.host_interface},
                  {"neighbor_timeout_s", static_cast<int64_t>(c.underlay.neighbor_timeout_s)}};
    if (c.underlay.gateway) u.insert("gateway", c.underlay.gateway->to_string());
    root.insert("underlay", std::move(u));
  }
  toml::array neighbors;
  for (const NeighborConfig& n : c.neighbors)
    neighbors.push_back(toml::table{{"ip", n.ip.to_string()}, {"mac", n.mac.to_string()}});
  if (!neighbors.empty()) root.insert("neighbor", std::move(neighbors));
}

}  // namespace inception::config_detail
