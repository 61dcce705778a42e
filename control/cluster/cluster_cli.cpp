// inceptionctl's cluster-wide verbs: cluster network add|del|list, cluster
// fip add|del|list. They write etcd through the daemon (which validates
// them as `network add` and `fip add` would); every switch applies them.
#include <fmt/format.h>

#include <memory>

#include "control/config.h"
#include "control/ctl_verbs.h"

namespace inception {

using nlohmann::json;

void add_cluster_state_verbs(CLI::App& cluster, CtlVerbs& verbs) {
  struct Options {
    std::string name, router, public_ip, fixed, network, underlay, mode, data_center;
    uint32_t vni = 0;
    std::optional<uint32_t> fdb_limit;
  };
  auto o = std::make_shared<Options>();
  auto* network = cluster.add_subcommand("network", "networks of the whole cluster, in etcd (every rVM applies them)");
  network->require_subcommand(1);
  auto* net_add = network->add_subcommand("add", "add a network on every rVM of the cluster");
  net_add->add_option("name", o->name, "network name")->required();
  net_add->add_option("--vni", o->vni, "VXLAN network identifier")
      ->required()
      ->check(CLI::Range(kVniRange.min, kVniRange.max));
  net_add->add_option("--fdb-limit", o->fdb_limit, "dynamic MAC entries the network may learn")
      ->check(CLI::Range(kFdbLimitRange.min, kFdbLimitRange.max));
  net_add->add_option("--router", o->router, "the distributed router's ADDRESS/PREFIX, the same on every rVM");
  auto* net_del = network->add_subcommand("del", "delete a network of the cluster from every rVM");
  net_del->add_option("name", o->name, "network name")->required();
  auto* net_list = network->add_subcommand("list", "the cluster's networks and whether this rVM applied them");

  auto* fip = cluster.add_subcommand("fip", "floating IPs of the cluster: served where their guest is placed");
  fip->require_subcommand(1);
  auto* fip_add = fip->add_subcommand("add", "add a floating IP to the cluster");
  fip_add->add_option("public", o->public_ip, "public IP")->required()->check(CLI::ValidIPV4);
  fip_add->add_option("--fixed", o->fixed, "the guest's fixed IP")->required()->check(CLI::ValidIPV4);
  fip_add->add_option("--network", o->network, "the guest's network")->required();
  auto* fip_del = fip->add_subcommand("del", "delete a floating IP from the cluster");
  fip_del->add_option("public", o->public_ip, "public IP")->required()->check(CLI::ValidIPV4);
  auto* fip_list = fip->add_subcommand("list", "the cluster's floating IPs and where each is served");

  auto* gw = cluster.add_subcommand(
      "gateway", "gateway mappings of the cluster: served by the active gateway of each data center");
  gw->require_subcommand(1);
  auto* gw_add = gw->add_subcommand("add", "map a public IP to the underlay address the reality cloud NATs it to");
  gw_add->add_option("underlay", o->underlay, "underlay address (moves with the active gateway)")
      ->required()
      ->check(CLI::ValidIPV4);
  gw_add->add_option("--public", o->public_ip, "public IP")->required()->check(CLI::ValidIPV4);
  auto* gw_del = gw->add_subcommand("del", "delete a gateway mapping of the cluster");
  gw_del->add_option("public", o->public_ip, "public IP")->required()->check(CLI::ValidIPV4);
  auto* gw_list = gw->add_subcommand("list", "the cluster's gateway mappings and the active gateway");

  auto* topology = cluster.add_subcommand(
      "topology", "how a data center's members peer: a full mesh, or a star around its active gateway");
  topology->add_option("mode", o->mode, "mesh or star")->required()->check(CLI::IsMember({"mesh", "star"}));
  topology->add_option("--data-center", o->data_center, "the data center (default: this rVM's)");
  verbs.push_back({topology, [o] {
                     json args = {{"mode", o->mode}};
                     if (!o->data_center.empty()) args["data_center"] = o->data_center;
                     return CtlRequest{"cluster.topology", args};
                   }});
  verbs.push_back({gw_add, [o] {
                     return CtlRequest{"cluster.gateway.add", {{"underlay", o->underlay}, {"public", o->public_ip}}};
                   }});
  verbs.push_back({gw_del, [o] { return CtlRequest{"cluster.gateway.del", {{"public", o->public_ip}}}; }});
  verbs.push_back({gw_list, [] { return CtlRequest{"cluster.gateway.list"}; }});

  verbs.push_back({net_add, [o] {
                     json args = {{"name", o->name}, {"vni", o->vni}};
                     if (o->fdb_limit) args["fdb_limit"] = *o->fdb_limit;
                     if (!o->router.empty()) args["router"] = o->router;
                     return CtlRequest{"cluster.network.add", args};
                   }});
  verbs.push_back({net_del, [o] { return CtlRequest{"cluster.network.del", {{"name", o->name}}}; }});
  verbs.push_back({net_list, [] { return CtlRequest{"cluster.network.list"}; }});
  verbs.push_back(
      {fip_add, [o] {
         return CtlRequest{"cluster.fip.add", {{"public", o->public_ip}, {"fixed", o->fixed}, {"network", o->network}}};
       }});
  verbs.push_back({fip_del, [o] { return CtlRequest{"cluster.fip.del", {{"public", o->public_ip}}}; }});
  verbs.push_back({fip_list, [] { return CtlRequest{"cluster.fip.list"}; }});
}

void add_cluster_renderers(CtlRenderers& renderers) {
  const auto message = [](const json& result) { return str(result["message"]) + "\n"; };
  for (const char* command : {"cluster.network.add", "cluster.network.del", "cluster.fip.add", "cluster.fip.del",
                              "cluster.gateway.add", "cluster.gateway.del", "cluster.topology"})
    renderers[command] = message;
  renderers["cluster.network.list"] = [](const json& result) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& n : result)
      rows.push_back({str(n["name"]), n.contains("vni") ? std::to_string(n["vni"].get<uint32_t>()) : "-",
                      n.contains("fdb_limit") ? std::to_string(n["fdb_limit"].get<uint32_t>()) : "-",
                      n.contains("router") ? str(n["router"]) : "-",
                      n["refused"].is_null() ? (n["applied"].get<bool>() ? "applied" : "pending")
                                             : "refused: " + str(n["refused"])});
    if (rows.empty()) return std::string("no network in the cluster\n");
    return table({"NETWORK", "VNI", "FDB_LIMIT", "ROUTER", "HERE"}, rows);
  };
  renderers["cluster.gateway.list"] = [](const json& result) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& g : result)
      rows.push_back({str(g["public"]), str(g["underlay"]),
                      g["active_gateway"].get<std::string>().empty() ? "-" : str(g["active_gateway"]),
                      g["refused"].is_null() ? (g.value("served_here", false) ? "served here" : "-")
                                             : "refused: " + str(g["refused"])});
    if (rows.empty()) return std::string("no gateway mapping in the cluster\n");
    return table({"PUBLIC", "UNDERLAY", "ACTIVE_GATEWAY", "HERE"}, rows);
  };
  renderers["cluster.fip.list"] = [](const json& result) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& f : result)
      rows.push_back({str(f["public"]), str(f["fixed"]), str(f["network"]), str(f["placed_on"]),
                      f["refused"].is_null() ? (f.value("served_here", false) ? "served here" : "-")
                                             : "refused: " + str(f["refused"])});
    if (rows.empty()) return std::string("no floating IP in the cluster\n");
    return table({"PUBLIC", "FIXED", "NETWORK", "PLACED_ON", "HERE"}, rows);
  };
}

}  // namespace inception
