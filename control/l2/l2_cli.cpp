// L2's inceptionctl verbs: network add|del|show|list, fdb show|add|del.
#include <fmt/format.h>

#include <memory>

#include "control/config.h"
#include "control/ctl_verbs.h"
#include "control/protocol.h"

namespace inception {

using nlohmann::json;

void add_network_verbs(CLI::App& app, CtlVerbs& verbs) {
  struct Options {
    NetworkConfig net;
    std::vector<std::string> peers;
    std::string name;
  };
  auto o = std::make_shared<Options>();
  auto* network = app.add_subcommand("network", "manage networks (isolated L2 domains, one VNI each)");
  network->require_subcommand(1);
  auto* net_add = network->add_subcommand("add", "add a network");
  net_add->add_option("name", o->net.name, "network name")->required();
  net_add->add_option("--vni", o->net.vni, "VXLAN network identifier")
      ->required()
      ->check(CLI::Range(kVniRange.min, kVniRange.max));
  net_add->add_option("--fdb-limit", o->net.fdb_limit, "dynamic MAC entries the network may learn")
      ->check(CLI::Range(kFdbLimitRange.min, kFdbLimitRange.max))
      ->capture_default_str();
  net_add->add_option("--neighbor-limit", o->net.neighbor_limit, "overlay ARP entries the network may hold")
      ->check(CLI::Range(kNeighborLimitRange.min, kNeighborLimitRange.max))
      ->capture_default_str();
  net_add->add_option("--peer", o->peers, "VTEP address of another rVM reached over VXLAN (repeatable)");
  net_add->add_flag("--hub", o->net.hub, "relay floods between peers (the hub of a star)");
  auto* net_show = network->add_subcommand("show", "show a network, its ports and peers");
  net_show->add_option("name", o->name, "network name")->required();
  auto* net_del = network->add_subcommand("del", "delete a network (it must have no ports)");
  net_del->add_option("name", o->name, "network name")->required();
  auto* net_list = network->add_subcommand("list", "list networks");

  verbs.push_back({net_add, [o] {
                     NetworkConfig net = o->net;
                     for (const std::string& text : o->peers) {
                       const auto ip = Ipv4Address::parse(text);
                       if (!ip)
                         return CtlRequest{.usage_error =
                                               "network add: --peer '" + text + "' is not an IPv4 address\n"};
                       net.peers.push_back(*ip);
                     }
                     return CtlRequest{"network.add", net};
                   }});
  verbs.push_back({net_show, [o] { return CtlRequest{"network.show", {{"name", o->name}}}; }});
  verbs.push_back({net_del, [o] { return CtlRequest{"network.del", {{"name", o->name}}}; }});
  verbs.push_back({net_list, [] { return CtlRequest{"network.list"}; }});
}

void add_fdb_verbs(CLI::App& app, CtlVerbs& verbs) {
  struct Options {
    std::string network, mac, port;
  };
  auto o = std::make_shared<Options>();
  auto* fdb = app.add_subcommand("fdb", "inspect and edit MAC tables");
  fdb->require_subcommand(1);
  auto* fdb_show = fdb->add_subcommand("show", "show MAC tables");
  fdb_show->add_option("network", o->network, "only this network");
  auto* fdb_add = fdb->add_subcommand("add", "add a static MAC entry");
  fdb_add->add_option("network", o->network, "network")->required();
  fdb_add->add_option("mac", o->mac, "MAC address")->required()->transform(mac_validator());
  fdb_add->add_option("port", o->port, "port")->required();
  auto* fdb_del = fdb->add_subcommand("del", "delete a MAC entry (static or learned)");
  fdb_del->add_option("network", o->network, "network")->required();
  fdb_del->add_option("mac", o->mac, "MAC address")->required()->transform(mac_validator());

  verbs.push_back({fdb_show, [o] {
                     return CtlRequest{"fdb.show", o->network.empty() ? json::object() : json{{"network", o->network}}};
                   }});
  verbs.push_back({fdb_add, [o] {
                     return CtlRequest{"fdb.add", {{"network", o->network}, {"mac", o->mac}, {"port", o->port}}};
                   }});
  verbs.push_back({fdb_del, [o] { return CtlRequest{"fdb.del", {{"network", o->network}, {"mac", o->mac}}}; }});
}

void add_l2_renderers(CtlRenderers& renderers) {
  renderers["network.list"] = [](const json& result) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& n : result)
      rows.push_back({str(n["name"]), std::to_string(n["vni"].get<uint32_t>()), join(n["ports"]),
                      fmt::format("{}+{}/{}", n["fdb_dynamic"].get<uint32_t>(), n["fdb_static"].get<uint32_t>(),
                                  n["fdb_limit"].get<uint32_t>()),
                      n.contains("origin") ? str(n["origin"]) : "manual"});
    return table({"NETWORK", "VNI", "PORTS", "FDB(dyn+static/limit)", "ORIGIN"}, rows);
  };
  renderers["network.show"] = [](const json& result) {
    std::string out =
        fmt::format("network {}  VNI {}{}  origin {}\n  ports: {}\n  FDB: {} dynamic, {} static, limit {}\n",
                    str(result["name"]), result["vni"].get<uint32_t>(), result["hub"].get<bool>() ? "  (hub)" : "",
                    result.contains("origin") ? str(result["origin"]) : "manual", join(result["ports"]),
                    result["fdb_dynamic"].get<uint32_t>(), result["fdb_static"].get<uint32_t>(),
                    result["fdb_limit"].get<uint32_t>());
    out += fmt::format("  refused: {} MACs at the network's limit, {} at a port's; {} neighbors at the limit of {}\n",
                       result["fdb_limit_hits"].get<uint64_t>(), result["fdb_port_limit_hits"].get<uint64_t>(),
                       result["neighbor_limit_hits"].get<uint64_t>(), result["neighbor_limit"].get<uint32_t>());
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : result["peers"]) {
      // A member's name, and for another data center's gateway where its
      // VTEP really is: the PEER address is the NAT's.
      std::string member = p.contains("member") ? str(p["member"]) : "-";
      if (p.contains("data_center")) member += fmt::format(" ({}, VTEP {})", str(p["data_center"]), str(p["vtep"]));
      rows.push_back({str(p["peer"]), str(p["next_hop"]), p["resolved"].get<bool>() ? "resolved" : "unresolved",
                      p.contains("origin") ? str(p["origin"]) : "manual", member});
    }
    if (rows.empty()) return out + "  peers: -\n";
    return out + "\n" + table({"PEER", "NEXT_HOP", "STATE", "ORIGIN", "MEMBER"}, rows);
  };
  renderers["fdb.show"] = [](const json& result) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : result)
      rows.push_back({str(e["network"]), str(e["mac"]), str(e["port"]), str(e["type"]),
                      e["type"] == "static" ? "-" : std::to_string(e["age_s"].get<uint32_t>())});
    return table({"NETWORK", "MAC", "PORT", "TYPE", "AGE(s)"}, rows);
  };
}

}  // namespace inception
