#include "control/api.h"

#include <fmt/format.h>

#include <functional>
#include <map>

#include "control/protocol.h"

#include <rte_byteorder.h>

namespace inception {

namespace {

using nlohmann::json;

// Enough of a parser's message for its position and cause.
constexpr size_t kMaxParseErrorText = 200;
constexpr std::string_view kInternalErrorReply = R"({"ok":false,"error":"internal error while handling the request"})";

json port_json(const PortStatus& s) {
  json j = s.config;
  j["link"] = s.link_up ? "up" : "down";
  j["active_queues"] = s.active_queues;
  if (s.config.type == PortType::kVhostUser) j["guest_mtu"] = s.guest_mtu;
  if (s.origin.is_domain()) j["domain"] = {{"name", s.origin.domain}, {"uuid", s.origin.uuid}};
  if (s.config.port_security_enabled()) j["macs_bound"] = s.macs_bound;
  return j;
}

json peer_json(const PeerStatus& p) {
  return {{"network", p.network},
          {"peer", p.ip.to_string()},
          {"next_hop", p.next_hop.to_string()},
          {"resolved", p.resolved}};
}

json network_json(const NetworkStatus& n) {
  json j = n.config;
  j["ports"] = n.ports;
  j["fdb_dynamic"] = n.fdb_dynamic;
  j["fdb_static"] = n.fdb_static;
  j["fdb_limit_hits"] = n.fdb_limit_hits;
  j["fdb_port_limit_hits"] = n.fdb_port_limit_hits;
  j["fdb_moves"] = n.fdb_moves;
  j["neighbors"] = n.neighbors;
  j["neighbor_limit_hits"] = n.neighbor_limit_hits;
  j["snat_sessions"] = n.snat_sessions;
  json peers = json::array();
  for (const PeerStatus& p : n.peers) peers.push_back(peer_json(p));
  j["peers"] = peers;
  return j;
}

json totals_json(const PortTotals& t) {
  json drops = json::object();
  for (size_t r = 0; r < kDropReasonCount; ++r) drops[std::string(kDropReasonNames[r])] = t.drops[r];
  return {{"rx_packets", t.rx_packets}, {"rx_bytes", t.rx_bytes},           {"tx_packets", t.tx_packets},
          {"tx_bytes", t.tx_bytes},     {"flood_packets", t.flood_packets}, {"drops", drops}};
}

std::string arg_string(const json& args, const char* key) {
  return JsonReader(args, "args").required_string(key);
}

using Handler = std::function<json(Controller&, const json&)>;

const std::map<std::string, Handler>& handlers() {
  static const std::map<std::string, Handler> table = {
      {"network.add",
       [](Controller& c, const json& a) {
         c.add_network(a.get<NetworkConfig>());
         return json();
       }},
      {"network.del",
       [](Controller& c, const json& a) {
         c.del_network(arg_string(a, "name"));
         return json();
       }},
      {"network.list",
       [](Controller& c, const json&) {
         json out = json::array();
         for (const NetworkStatus& n : c.networks()) out.push_back(network_json(n));
         return out;
       }},
      {"network.show", [](Controller& c, const json& a) { return network_json(c.network(arg_string(a, "name"))); }},
      {"peer.add",
       [](Controller& c, const json& a) {
         c.add_peer(arg_string(a, "network"), arg_string(a, "ip"));
         return json();
       }},
      {"peer.del",
       [](Controller& c, const json& a) {
         c.del_peer(arg_string(a, "network"), arg_string(a, "ip"));
         return json();
       }},
      {"neigh.show",
       [](Controller& c, const json&) {
         json out = json::array();
         for (const NeighborEntry& n : c.neighbors())
           out.push_back({{"where", "underlay"},
                          {"ip", n.ip.to_string()},
                          {"mac", n.mac ? json(n.mac->to_string()) : json()},
                          {"state", n.is_static ? "static" : (n.mac ? "reachable" : "incomplete")}});
         std::map<NetworkIndex, std::string> names;
         for (const NetworkStatus& n : c.networks()) names[n.index] = n.config.name;
         for (const OverlayNeighbor& n : c.overlay_neighbors())
           out.push_back({{"where", names.contains(n.network) ? names[n.network] : "?"},
                          {"ip", Ipv4Address(n.ip).to_string()},
                          {"mac", n.mac.to_string()},
                          {"state", "reachable"}});
         return out;
       }},
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
      {"nat.show",
       [](Controller& c, const json&) {
         const NatStatus s = c.nat();
         return json{{"floating_ips", s.fips.size()},
                     {"gateway_mappings", s.gateway_mappings.size()},
                     {"snat", s.snat},
                     {"router_mac", s.router_mac.to_string()},
                     {"sessions_active", s.sessions_active},
                     {"sessions_created", s.sessions_created},
                     {"sessions_expired", s.sessions_expired},
                     {"translations", s.translations}};
       }},
      {"neigh.add",
       [](Controller& c, const json& a) {
         c.add_neighbor(arg_string(a, "ip"), arg_string(a, "mac"));
         return json();
       }},
      {"neigh.del",
       [](Controller& c, const json& a) {
         c.del_neighbor(arg_string(a, "ip"));
         return json();
       }},
      {"port.add",
       [](Controller& c, const json& a) {
         c.add_port(a.get<PortConfig>());
         return json();
       }},
      {"port.del",
       [](Controller& c, const json& a) {
         c.del_port(arg_string(a, "name"), JsonReader(a, "args").boolean("force").value_or(false));
         return json();
       }},
      {"port.list",
       [](Controller& c, const json&) {
         json out = json::array();
         for (const PortStatus& p : c.ports()) out.push_back(port_json(p));
         return out;
       }},
      {"fdb.show",
       [](Controller& c, const json& a) {
         const std::optional<std::string> network = JsonReader(a, "args").string("network");
         json out = json::array();
         for (const FdbRow& r : c.fdb(network))
           out.push_back({{"network", r.network},
                          {"mac", r.mac.to_string()},
                          {"port", r.port},
                          {"peer", r.peer ? json(r.peer->to_string()) : json()},
                          {"type", r.is_static ? "static" : "dynamic"},
                          {"age_s", r.age_s}});
         return out;
       }},
      {"fdb.add",
       [](Controller& c, const json& a) {
         c.add_static_mac(arg_string(a, "network"), arg_string(a, "mac"), arg_string(a, "port"));
         return json();
       }},
      {"fdb.del",
       [](Controller& c, const json& a) {
         c.del_mac(arg_string(a, "network"), arg_string(a, "mac"));
         return json();
       }},
      {"stats",
       [](Controller& c, const json&) {
         const Stats s = c.stats();
         json ports = json::array();
         for (const PortStatus& p : s.ports) {
           json j = totals_json(p.totals);
           j["name"] = p.config.name;
           j["network"] = p.config.network;
           j["link"] = p.link_up ? "up" : "down";
           ports.push_back(j);
         }
         json peers = json::array();
         for (const PeerStatus& p : s.peers) {
           json j = totals_json(p.totals);
           j.update(peer_json(p));
           peers.push_back(j);
         }
         json underlay;
         if (s.underlay) {
           underlay = {{"device", s.underlay->device},
                       {"host_interface", s.underlay->host_interface},
                       {"mac", s.underlay->mac.to_string()},
                       {"nic", totals_json(s.underlay->nic)},
                       {"host", totals_json(s.underlay->host)}};
         }
         json workers = json::array();
         for (const WorkerStatus& w : s.workers) {
           workers.push_back(
               {{"worker", w.index},
                {"lcore", w.lcore},
                {"busy_cycles", w.busy_cycles},
                {"idle_cycles", w.idle_cycles},
                {"packets", w.busy_packets},
                {"cycles_per_packet", w.busy_packets ? double(w.busy_cycles) / double(w.busy_packets) : 0.0},
                {"learn_requests", w.learn_requests},
                {"learn_ring_full", w.learn_ring_full}});
         }
         const json mempool = {{"name", s.mempool.name},
                               {"size", s.mempool.size},
                               {"in_use", s.mempool.in_use},
                               {"available", s.mempool.available}};
         return json{{"tsc_hz", s.tsc_hz},   {"ports", ports},     {"peers", peers},
                     {"underlay", underlay}, {"workers", workers}, {"mempools", json::array({mempool})}};
       }},
      {"config.show",
       [](Controller& c, const json&) {
         return json{{"toml", to_toml(c.running_config())}};
       }},
  };
  return table;
}

}  // namespace

json handle_request(Controller& controller, const json& request, const ModuleCommands* modules) noexcept {
  std::string command;
  try {
    const JsonReader r(request, "request");
    if (r.integer("version", {INT64_MIN, INT64_MAX}) != kProtocolVersion)
      return make_error(fmt::format("unsupported protocol version (this inceptiond speaks {})", kProtocolVersion));
    command = r.string("command").value_or("");
    const auto core = handlers().find(command);
    const auto module = modules != nullptr ? modules->find(command) : ModuleCommands::const_iterator();
    if (core == handlers().end() && (modules == nullptr || module == modules->end()))
      return make_error(fmt::format("unknown command '{}'", command));
    const json args = request.contains("args") ? request["args"] : json::object();
    static_cast<void>(JsonReader(args, "args"));  // handlers may take their arguments for an object
    return make_ok(core != handlers().end() ? core->second(controller, args) : module->second(args));
  } catch (const ControlError& e) {
    return make_error(e.what());
  } catch (const RequestError& e) {
    return make_error(command.empty() ? e.what() : command + ": " + e.what());
  } catch (const json::exception& e) {
    return make_error(fmt::format("malformed request: {}", e.what()));
  } catch (const std::exception& e) {
    return make_error(e.what());
  } catch (...) {
    return make_error("internal error while handling the request");
  }
}

std::string handle_request_line(Controller& controller, std::string_view line, const ModuleCommands* modules) noexcept {
  try {
    json request;
    try {
      request = json::parse(line);
    } catch (const json::parse_error& e) {
      // The parser quotes what it last read, which may be long: keep the
      // position and the first part of the cause.
      std::string what = e.what();
      if (what.size() > kMaxParseErrorText) what.replace(kMaxParseErrorText, std::string::npos, "...");
      return to_wire(make_error("malformed request: " + what));
    }
    return to_wire(handle_request(controller, request, modules));
  } catch (...) {
    // Out of memory, most likely; the control server answers for us.
    return std::string(kInternalErrorReply);
  }
}

}  // namespace inception
