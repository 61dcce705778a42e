// VXLAN's inceptionctl verbs: peer add|del, neigh show|add|del.
#include <memory>

#include "control/ctl_verbs.h"
#include "control/protocol.h"

namespace inception {

using nlohmann::json;

void add_vxlan_verbs(CLI::App& app, CtlVerbs& verbs) {
  struct Options {
    std::string peer_network, peer_ip;
    std::string neigh_ip, neigh_mac;
  };
  auto o = std::make_shared<Options>();
  auto* peer = app.add_subcommand("peer", "manage a network's VXLAN peers (other rVMs' VTEPs)");
  peer->require_subcommand(1);
  auto* peer_add = peer->add_subcommand("add", "add a peer to a network");
  peer_add->add_option("network", o->peer_network, "network")->required();
  peer_add->add_option("ip", o->peer_ip, "the peer's underlay (VTEP) address")->required()->check(CLI::ValidIPV4);
  auto* peer_del = peer->add_subcommand("del", "remove a peer from a network");
  peer_del->add_option("network", o->peer_network, "network")->required();
  peer_del->add_option("ip", o->peer_ip, "the peer's underlay (VTEP) address")->required()->check(CLI::ValidIPV4);

  auto* neigh = app.add_subcommand("neigh", "the switch's underlay ARP table");
  neigh->require_subcommand(1);
  auto* neigh_show = neigh->add_subcommand("show", "show underlay neighbors");
  auto* neigh_add = neigh->add_subcommand("add", "add a static neighbor");
  neigh_add->add_option("ip", o->neigh_ip, "IPv4 address")->required()->check(CLI::ValidIPV4);
  neigh_add->add_option("mac", o->neigh_mac, "MAC address")->required()->transform(mac_validator());
  auto* neigh_del = neigh->add_subcommand("del", "delete a static neighbor");
  neigh_del->add_option("ip", o->neigh_ip, "IPv4 address")->required()->check(CLI::ValidIPV4);

  verbs.push_back({peer_add, [o] {
                     return CtlRequest{"peer.add", {{"network", o->peer_network}, {"ip", o->peer_ip}}};
                   }});
  verbs.push_back({peer_del, [o] {
                     return CtlRequest{"peer.del", {{"network", o->peer_network}, {"ip", o->peer_ip}}};
                   }});
  verbs.push_back({neigh_show, [] { return CtlRequest{"neigh.show"}; }});
  verbs.push_back({neigh_add, [o] { return CtlRequest{"neigh.add", {{"ip", o->neigh_ip}, {"mac", o->neigh_mac}}}; }});
  verbs.push_back({neigh_del, [o] { return CtlRequest{"neigh.del", {{"ip", o->neigh_ip}}}; }});
}

void add_vxlan_renderers(CtlRenderers& renderers) {
  renderers["neigh.show"] = [](const json& result) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& n : result) rows.push_back({str(n["where"]), str(n["ip"]), str(n["mac"]), str(n["state"])});
    return table({"ON", "IP", "MAC", "STATE"}, rows);
  };
}

}  // namespace inception
