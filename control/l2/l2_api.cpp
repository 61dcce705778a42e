// L2's control-socket commands: network.*, fdb.*.
#include "control/api_handlers.h"

#include "control/protocol.h"

namespace inception {

using nlohmann::json;

namespace {

json network_json(const NetworkStatus& n) {
  json j = n.config;
  j["origin"] = n.manual && n.cluster ? "manual,cluster" : n.cluster ? "cluster" : "manual";
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

}  // namespace

void add_l2_handlers(HandlerMap& handlers) {
  handlers.insert({
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
  });
}

}  // namespace inception
