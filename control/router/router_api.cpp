// The router's and NAT's control-socket commands: router.*, fip.*,
// gateway.*, nat.*.
#include "control/api_handlers.h"

#include <fmt/format.h>

#include "control/protocol.h"

#include <rte_byteorder.h>

namespace inception {

using nlohmann::json;

void add_router_handlers(HandlerMap& handlers) {
  handlers.insert({
      {"router.add",
       [](Controller& c, const json& a) {
         c.add_router(arg_string(a, "network"), arg_string(a, "address"));
         return json();
       }},
      {"router.del",
       [](Controller& c, const json& a) {
         c.del_router(arg_string(a, "network"));
         return json();
       }},
      {"router.list",
       [](Controller& c, const json&) {
         json out = json::array();
         for (const RouterConfig& r : c.nat().routers)
           out.push_back({{"network", r.network}, {"address", r.address.to_string()}});
         return out;
       }},
      {"fip.add",
       [](Controller& c, const json& a) {
         c.add_fip(arg_string(a, "public"), arg_string(a, "fixed"), arg_string(a, "network"));
         return json();
       }},
      {"fip.del",
       [](Controller& c, const json& a) {
         c.del_fip(arg_string(a, "public"), JsonReader(a, "args").boolean("force").value_or(false));
         return json();
       }},
      {"fip.list",
       [](Controller& c, const json&) {
         json out = json::array();
         for (const FipStatus& f : c.nat().fips) {
           json j = {{"public", f.config.public_ip.to_string()},
                     {"fixed", f.config.fixed.to_string()},
                     {"network", f.config.network},
                     {"active", f.active},
                     {"in_packets", f.totals.in_packets},
                     {"in_bytes", f.totals.in_bytes},
                     {"out_packets", f.totals.out_packets},
                     {"out_bytes", f.totals.out_bytes}};
           if (f.origin.is_domain()) j["domain"] = {{"name", f.origin.domain}, {"uuid", f.origin.uuid}};
           j["origin"] = f.origin.is_domain() ? "libvirt" : f.origin.cluster ? "cluster" : "manual";
           out.push_back(j);
         }
         return out;
       }},
      {"gateway.add",
       [](Controller& c, const json& a) {
         c.add_gateway_mapping(arg_string(a, "underlay"), arg_string(a, "public"));
         return json();
       }},
      {"gateway.del",
       [](Controller& c, const json& a) {
         c.del_gateway_mapping(arg_string(a, "underlay"));
         return json();
       }},
      {"gateway.list",
       [](Controller& c, const json&) {
         json out = json::array();
         for (const GatewayMappingConfig& g : c.nat().gateway_mappings)
           out.push_back({{"underlay", g.underlay.to_string()}, {"public", g.public_ip.to_string()}});
         return out;
       }},
      {"nat.sessions",
       [](Controller& c, const json& a) {
         const auto limit =
             static_cast<size_t>(JsonReader(a, "args").integer("limit", kNatSessionListRange).value_or(1000));
         json out = json::array();
         for (const nat::SnatSession& s : c.nat_sessions(limit)) {
           const char* protocol = s.protocol == 6 ? "tcp" : s.protocol == 17 ? "udp" : "icmp";
           out.push_back({{"protocol", protocol},
                          {"inside", fmt::format("{}:{}", Ipv4Address::from_network(s.inside_ip).to_string(),
                                                 rte_be_to_cpu_16(s.inside_port))},
                          {"outside_port", rte_be_to_cpu_16(s.outside_port)},
                          {"remote", fmt::format("{}:{}", Ipv4Address::from_network(s.remote_ip).to_string(),
                                                 rte_be_to_cpu_16(s.remote_port))},
                          {"state", s.protocol != 6                       ? "-"
                                    : s.closing                           ? "closing"
                                    : (s.seen_inbound && s.seen_outbound) ? "established"
                                                                          : "opening"}});
         }
         return out;
       }},
      {"nat.snat.set",
       [](Controller& c, const json& a) {
         const JsonReader r(a, "args");
         SnatSettings s;
         s.address = r.required_string("address");
         s.ports = r.string("ports");
         const auto number = [&](const char* key, IntRange range) -> std::optional<uint32_t> {
           if (auto v = r.integer(key, range)) return static_cast<uint32_t>(*v);
           return std::nullopt;
         };
         s.max_sessions = number("max_sessions", kNatMaxSessionsRange);
         s.max_per_network = number("max_sessions_per_network", kNatSessionQuotaRange);
         s.max_per_source = number("max_sessions_per_source", kNatSessionQuotaRange);
         s.tcp_established_timeout_s = number("tcp_established_timeout_s", kNatTimeoutRange);
         s.tcp_transitory_timeout_s = number("tcp_transitory_timeout_s", kNatTimeoutRange);
         s.udp_timeout_s = number("udp_timeout_s", kNatTimeoutRange);
         s.icmp_timeout_s = number("icmp_timeout_s", kNatTimeoutRange);
         r.finish("args");
         return json{{"sessions_ended", c.set_snat(s)}};
       }},
      {"nat.snat.off",
       [](Controller& c, const json&) {
         return json{{"sessions_ended", c.snat_off()}};
       }},
      {"nat.show",
       [](Controller& c, const json&) {
         const NatStatus s = c.nat();
         json snat_settings = nullptr;
         if (s.snat_address)
           snat_settings = {{"address", s.snat_address->to_string()},
                            {"ports", fmt::format("{}-{}", s.snat_port_min, s.snat_port_max)}};
         return json{{"floating_ips", s.fips.size()},
                     {"gateway_mappings", s.gateway_mappings.size()},
                     {"snat", s.snat},
                     {"snat_settings", snat_settings},
                     {"router_mac", s.router_mac.to_string()},
                     {"sessions_active", s.sessions_active},
                     {"sessions_limit", s.sessions_limit},
                     {"sessions_created", s.sessions_created},
                     {"sessions_expired", s.sessions_expired},
                     {"translations", s.translations},
                     {"mss_clamped", s.mss_clamped}};
       }},
  });
}

}  // namespace inception
