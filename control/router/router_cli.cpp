// The router's and NAT's inceptionctl verbs: router add|del|list,
// fip add|del|list, gateway add|del|list, nat sessions|show|snat set|off.
#include <memory>

#include "control/ctl_verbs.h"
#include "control/protocol.h"

namespace inception {

using nlohmann::json;

void add_router_verbs(CLI::App& app, CtlVerbs& verbs) {
  struct Options {
    std::string router_network, router_address;
    std::string fip_public, fip_fixed, fip_network;
    bool force = false;
    std::string gw_underlay, gw_public;
    size_t session_limit = 1000;
    std::string snat_address, snat_ports;
    // Unset (0) means "keep the current value".
    uint32_t max_sessions = 0, max_per_network = 0, max_per_source = 0;
    uint32_t tcp_established = 0, tcp_transitory = 0, udp = 0, icmp = 0;
  };
  auto o = std::make_shared<Options>();
  auto* router = app.add_subcommand("router", "the distributed router's interface on a network (iVMs' gateway)");
  router->require_subcommand(1);
  auto* router_add = router->add_subcommand("add", "give a network a router interface");
  router_add->add_option("network", o->router_network, "network name")->required();
  router_add->add_option("address", o->router_address, "ADDRESS/PREFIX, e.g. 192.0.2.254/24")->required();
  auto* router_del = router->add_subcommand("del", "remove a network's router interface");
  router_del->add_option("network", o->router_network, "network name")->required();
  auto* router_list = router->add_subcommand("list", "list router interfaces");
  auto* fip = app.add_subcommand("fip", "floating IPs hosted on this rVM (public IP <-> an iVM's fixed IP)");
  fip->require_subcommand(1);
  auto* fip_add = fip->add_subcommand("add", "give an iVM a floating IP (takes effect on the next packet)");
  fip_add->add_option("public", o->fip_public, "floating (public) IP")->required()->check(CLI::ValidIPV4);
  fip_add->add_option("--fixed", o->fip_fixed, "the iVM's fixed IP")->required()->check(CLI::ValidIPV4);
  fip_add->add_option("--network", o->fip_network, "the iVM's network")->required();
  auto* fip_del = fip->add_subcommand("del", "remove a floating IP");
  fip_del->add_option("public", o->fip_public, "floating (public) IP")->required()->check(CLI::ValidIPV4);
  fip_del->add_flag("--force", o->force, "also a floating IP that a running domain's metadata gives");
  auto* fip_list = fip->add_subcommand("list", "list floating IPs with their counters");
  auto* gateway = app.add_subcommand("gateway", "gateway mappings (underlay address <-> reality public IP)");
  gateway->require_subcommand(1);
  auto* gw_add = gateway->add_subcommand("add", "map a public IP the reality cloud NATs to this rVM");
  gw_add->add_option("underlay", o->gw_underlay, "this rVM's underlay address the public IP is NATed to")
      ->required()
      ->check(CLI::ValidIPV4);
  gw_add->add_option("--public", o->gw_public, "the public IP")->required()->check(CLI::ValidIPV4);
  auto* gw_del = gateway->add_subcommand("del", "remove a gateway mapping");
  gw_del->add_option("underlay", o->gw_underlay, "underlay address")->required()->check(CLI::ValidIPV4);
  auto* gw_list = gateway->add_subcommand("list", "list gateway mappings");
  auto* nat = app.add_subcommand("nat", "NAT state");
  nat->require_subcommand(1);
  auto* nat_sessions = nat->add_subcommand("sessions", "list SNAT sessions");
  nat_sessions->add_option("--limit", o->session_limit, "at most this many")
      ->check(CLI::Range(kNatSessionListRange.min, kNatSessionListRange.max))
      ->capture_default_str();
  auto* nat_show = nat->add_subcommand("show", "NAT counters");
  auto* snat = nat->add_subcommand("snat", "SNAT for iVMs without a floating IP (gateway role)");
  snat->require_subcommand(1);
  auto* snat_set = snat->add_subcommand(
      "set", "(re)start SNAT with these settings; others keep their values; sessions in progress end");
  snat_set->add_option("address", o->snat_address, "underlay address the reality cloud NATs to the public IP")
      ->required()
      ->check(CLI::ValidIPV4);
  snat_set->add_option("--ports", o->snat_ports, "outside ports LOW-HIGH, shared out among the workers");
  const auto range = [](IntRange r) { return CLI::Range(r.min, r.max); };
  snat_set->add_option("--max-sessions", o->max_sessions, "sessions in all")->check(range(kNatMaxSessionsRange));
  snat_set->add_option("--max-per-network", o->max_per_network, "sessions per origin network")
      ->check(range(kNatSessionQuotaRange));
  snat_set->add_option("--max-per-source", o->max_per_source, "sessions per inside address")
      ->check(range(kNatSessionQuotaRange));
  snat_set->add_option("--tcp-established-timeout", o->tcp_established, "seconds")->check(range(kNatTimeoutRange));
  snat_set->add_option("--tcp-transitory-timeout", o->tcp_transitory, "seconds")->check(range(kNatTimeoutRange));
  snat_set->add_option("--udp-timeout", o->udp, "seconds")->check(range(kNatTimeoutRange));
  snat_set->add_option("--icmp-timeout", o->icmp, "seconds")->check(range(kNatTimeoutRange));
  auto* snat_off = snat->add_subcommand("off", "stop SNAT; sessions in progress end");

  verbs.push_back({router_add, [o] {
                     return CtlRequest{"router.add", {{"network", o->router_network}, {"address", o->router_address}}};
                   }});
  verbs.push_back({router_del, [o] { return CtlRequest{"router.del", {{"network", o->router_network}}}; }});
  verbs.push_back({router_list, [] { return CtlRequest{"router.list"}; }});
  verbs.push_back({fip_add, [o] {
                     return CtlRequest{
                         "fip.add", {{"public", o->fip_public}, {"fixed", o->fip_fixed}, {"network", o->fip_network}}};
                   }});
  verbs.push_back({fip_del, [o] { return CtlRequest{"fip.del", {{"public", o->fip_public}, {"force", o->force}}}; }});
  verbs.push_back({fip_list, [] { return CtlRequest{"fip.list"}; }});
  verbs.push_back({gw_add, [o] {
                     return CtlRequest{"gateway.add", {{"underlay", o->gw_underlay}, {"public", o->gw_public}}};
                   }});
  verbs.push_back({gw_del, [o] { return CtlRequest{"gateway.del", {{"underlay", o->gw_underlay}}}; }});
  verbs.push_back({gw_list, [] { return CtlRequest{"gateway.list"}; }});
  verbs.push_back({nat_sessions, [o] { return CtlRequest{"nat.sessions", {{"limit", o->session_limit}}}; }});
  verbs.push_back({nat_show, [] { return CtlRequest{"nat.show"}; }});
  verbs.push_back({snat_set, [o] {
                     json args = {{"address", o->snat_address}};
                     if (!o->snat_ports.empty()) args["ports"] = o->snat_ports;
                     for (const auto& [key, value] :
                          {std::pair{"max_sessions", o->max_sessions},
                           std::pair{"max_sessions_per_network", o->max_per_network},
                           std::pair{"max_sessions_per_source", o->max_per_source},
                           std::pair{"tcp_established_timeout_s", o->tcp_established},
                           std::pair{"tcp_transitory_timeout_s", o->tcp_transitory}, std::pair{"udp_timeout_s", o->udp},
                           std::pair{"icmp_timeout_s", o->icmp}})
                       if (value != 0) args[key] = value;
                     return CtlRequest{"nat.snat.set", args};
                   }});
  verbs.push_back({snat_off, [] { return CtlRequest{"nat.snat.off"}; }});
}

void add_router_renderers(CtlRenderers& renderers) {
  renderers["fip.list"] = [](const json& result) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& f : result)
      rows.push_back(
          {str(f["public"]), str(f["fixed"]), str(f["network"]), f["active"].get<bool>() ? "active" : "standby",
           std::to_string(f["in_packets"].get<uint64_t>()), std::to_string(f["out_packets"].get<uint64_t>()),
           f.contains("domain") ? str(f["domain"]["name"]) : "-", f.contains("origin") ? str(f["origin"]) : "manual"});
    return table({"PUBLIC", "FIXED", "NETWORK", "STATE", "IN_PKTS", "OUT_PKTS", "DOMAIN", "ORIGIN"}, rows);
  };
  renderers["router.list"] = [](const json& result) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : result) rows.push_back({str(r["network"]), str(r["address"])});
    return table({"NETWORK", "ADDRESS"}, rows);
  };
  renderers["gateway.list"] = [](const json& result) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& g : result) rows.push_back({str(g["underlay"]), str(g["public"])});
    return table({"UNDERLAY", "PUBLIC"}, rows);
  };
  renderers["nat.sessions"] = [](const json& result) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : result)
      rows.push_back({str(s["protocol"]), str(s["inside"]), std::to_string(s["outside_port"].get<unsigned>()),
                      str(s["remote"]), str(s["state"])});
    return table({"PROTO", "INSIDE", "OUTSIDE_PORT", "REMOTE", "STATE"}, rows);
  };
}

}  // namespace inception
