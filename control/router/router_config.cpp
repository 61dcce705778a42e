// The router's and NAT's sections of the TOML file: [[router]], [nat],
// [[gateway_mapping]], [[fip]].
#include "control/config_reader.h"

#include <tuple>

namespace inception::config_detail {

RouterConfig parse_router(const toml::table& table, const std::string& file, size_t index, const Config& config) {
  TableReader r(table, fmt::format("[[router]] #{}", index + 1), file);
  RouterConfig router;
  router.network = r.required_string("network");
  const std::string address = r.required_string("address");
  r.finish();
  r.check("address", [&] { router.address = parse_router_address(router.network, address); });
  r.check("address", [&] { validate_router(router, config.routers, config.underlay); });
  return router;
}

NatConfig parse_nat(const toml::table& table, const std::string& file, const UnderlayConfig& underlay) {
  TableReader r(table, "[nat]", file);
  NatConfig nat;
  if (auto v = r.string("public_network")) nat.public_network = *v;
  auto optional_ip = [&](const char* key) -> std::optional<Ipv4Address> {
    auto v = r.string(key);
    if (!v) return std::nullopt;
    const auto ip = Ipv4Address::parse(*v);
    if (!ip) r.fail_at(*table.get(key), fmt::format("[nat].{}: '{}' is not an IPv4 address", key, *v));
    return ip;
  };
  nat.gateway = optional_ip("gateway");
  nat.snat_address = optional_ip("snat_address");
  if (auto v = r.string("snat_ports")) {
    try {
      std::tie(nat.snat_port_min, nat.snat_port_max) = parse_snat_ports("[nat].snat_ports", *v);
    } catch (const ConfigError& e) {
      r.fail_at(*table.get("snat_ports"), e.what());
    }
  }
  if (auto v = r.integer("max_sessions", kNatMaxSessionsRange.min, kNatMaxSessionsRange.max)) nat.max_sessions = *v;
  if (auto v = r.integer("max_sessions_per_network", kNatSessionQuotaRange.min, kNatSessionQuotaRange.max))
    nat.max_sessions_per_network = *v;
  if (auto v = r.integer("max_sessions_per_source", kNatSessionQuotaRange.min, kNatSessionQuotaRange.max))
    nat.max_sessions_per_source = *v;
  if (auto v = r.strings("egress_deny")) {
    for (const std::string& text : *v) {
      const auto prefix = Ipv4Prefix::parse_address_or_prefix(text);
      if (!prefix)
        r.fail_at(*table.get("egress_deny"),
                  fmt::format("[nat].egress_deny: '{}' is not an IPv4 address or ADDRESS/PREFIX", text));
      nat.egress_deny.push_back(*prefix);
    }
  }
  const IntRange timeout = kNatTimeoutRange;
  if (auto v = r.integer("tcp_established_timeout_s", timeout.min, timeout.max)) nat.tcp_established_timeout_s = *v;
  if (auto v = r.integer("tcp_transitory_timeout_s", timeout.min, timeout.max)) nat.tcp_transitory_timeout_s = *v;
  if (auto v = r.integer("udp_timeout_s", timeout.min, timeout.max)) nat.udp_timeout_s = *v;
  if (auto v = r.integer("icmp_timeout_s", timeout.min, timeout.max)) nat.icmp_timeout_s = *v;
  r.finish();
  // Gateway mappings come later in the file: they check against this.
  if (nat.snat_address) r.check("snat_address", [&] { validate_snat_address(*nat.snat_address, {}, underlay); });
  return nat;
}

GatewayMappingConfig parse_gateway_mapping(const toml::table& t, const std::string& file, size_t i,
                                           const Config& config) {
  TableReader g(t, fmt::format("[[gateway_mapping]] #{}", i + 1), file);
  GatewayMappingConfig mapping{required_ip(g, t, "underlay"), required_ip(g, t, "public")};
  g.finish();
  g.check("underlay", [&] { validate_gateway_mapping(mapping, config.gateway_mappings, config.nat, config.underlay); });
  return mapping;
}

FipConfig parse_fip(const toml::table& t, const std::string& file, size_t i, const Config& config) {
  TableReader f(t, fmt::format("[[fip]] #{}", i + 1), file);
  FipConfig fip{required_ip(f, t, "public"), required_ip(f, t, "fixed"), f.required_string("network")};
  f.finish();
  f.check("public", [&] { validate_fip(fip, config.fips); });
  return fip;
}

void router_to_toml(const Config& c, toml::table& root) {
  toml::array routers;
  for (const RouterConfig& r : c.routers)
    routers.push_back(toml::table{{"network", r.network}, {"address", r.address.to_string()}});
  if (!routers.empty()) root.insert("router", std::move(routers));
  toml::table nat{{"public_network", c.nat.public_network},
                  {"snat_ports", fmt::format("{}-{}", c.nat.snat_port_min, c.nat.snat_port_max)},
                  {"max_sessions", static_cast<int64_t>(c.nat.max_sessions)},
                  {"max_sessions_per_network", static_cast<int64_t>(c.nat.max_sessions_per_network)},
                  {"max_sessions_per_source", static_cast<int64_t>(c.nat.max_sessions_per_source)},
                  {"tcp_established_timeout_s", static_cast<int64_t>(c.nat.tcp_established_timeout_s)},
                  {"tcp_transitory_timeout_s", static_cast<int64_t>(c.nat.tcp_transitory_timeout_s)},
                  {"udp_timeout_s", static_cast<int64_t>(c.nat.udp_timeout_s)},
                  {"icmp_timeout_s", static_cast<int64_t>(c.nat.icmp_timeout_s)}};
  if (c.nat.gateway) nat.insert("gateway", c.nat.gateway->to_string());
  if (c.nat.snat_address) nat.insert("snat_address", c.nat.snat_address->to_string());
  if (!c.nat.egress_deny.empty()) {
    toml::array deny;
    for (const Ipv4Prefix& prefix : c.nat.egress_deny) deny.push_back(prefix.to_string());
    nat.insert("egress_deny", std::move(deny));
  }
  root.insert("nat", std::move(nat));
  toml::array mappings;
  for (const GatewayMappingConfig& g : c.gateway_mappings)
    mappings.push_back(toml::table{{"underlay", g.underlay.to_string()}, {"public", g.public_ip.to_string()}});
  if (!mappings.empty()) root.insert("gateway_mapping", std::move(mappings));
  toml::array fips;
  for (const FipConfig& f : c.fips)
    fips.push_back(
        toml::table{{"public", f.public_ip.to_string()}, {"fixed", f.fixed.to_string()}, {"network", f.network}});
  if (!fips.empty()) root.insert("fip", std::move(fips));
}

}  // namespace inception::config_detail
