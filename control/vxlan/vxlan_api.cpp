// VXLAN's control-socket commands: peer.*, neigh.* (the underlay's
// neighbors, and the overlay neighbors the router learned).
#include "control/api_handlers.h"

#include "control/protocol.h"

namespace inception {

using nlohmann::json;

json peer_json(const PeerStatus& p) {
  json out = {{"network", p.network},
              {"peer", p.ip.to_string()},
              {"next_hop", p.next_hop.to_string()},
              {"resolved", p.resolved},
              {"origin", p.manual && p.cluster ? "manual,cluster"
                         : p.cluster           ? "cluster"
                                               : "manual"}};
  if (p.cluster) {
    out["member"] = p.member.member;
    out["vtep"] = p.member.vtep.to_string();
    // Another data center's gateway, reached through the reality NAT.
    if (!p.member.data_center.empty()) out["data_center"] = p.member.data_center;
  }
  return out;
}

void add_vxlan_handlers(HandlerMap& handlers) {
  handlers.insert({
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
  });
}

}  // namespace inception
