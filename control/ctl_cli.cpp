#include "control/ctl_cli.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <sstream>

#include "control/config.h"
#include "control/protocol.h"
#include "inception/ipv4_address.h"
#include "inception/mac_address.h"
#include "inception/types.h"

namespace inception {

namespace {

using nlohmann::json;

// CLI11 validator for MAC address arguments.
const CLI::Validator kMacValidator(
    [](std::string& value) -> std::string {
      const auto mac = MacAddress::parse(value);
      if (!mac) return "'" + value + "' is not a MAC address (expected aa:bb:cc:dd:ee:ff)";
      value = mac->to_string();
      return {};
    },
    "MAC");

std::string table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width(header.size());
  for (size_t c = 0; c < header.size(); ++c) width[c] = header[c].size();
  for (const auto& row : rows)
    for (size_t c = 0; c < row.size() && c < width.size(); ++c) width[c] = std::max(width[c], row[c].size());
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t c = 0; c < cells.size(); ++c)
      l += fmt::format("{:<{}}", cells[c], c + 1 < cells.size() ? width[c] + 2 : 0);
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(header);
  for (const auto& row : rows) line(row);
  return out;
}

std::string str(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_null()) return "-";
  return j.dump();
}

std::string join(const json& array) {
  std::string out;
  for (const auto& item : array) out += (out.empty() ? "" : ",") + str(item);
  return out.empty() ? "-" : out;
}

std::string render_libvirt_status(const json& s) {
  const auto count = [&](const char* key) { return s["events"].value(key, uint64_t{0}); };
  std::string out = fmt::format("libvirt {}: {}\n", str(s["uri"]),
                                s["connected"].get<bool>() ? "connected since " + str(s["connected_since"])
                                                           : "not connected (" + str(s["last_error"]) + ")");
  out += fmt::format("  socket dir {}; {} resync(s), last {}; {} reconnect(s)\n", str(s["socket_dir"]),
                     s["resyncs"].get<uint64_t>(), str(s["last_resync"]), s["reconnects"].get<uint64_t>());
  out += fmt::format(
      "  events: {} lifecycle, {} device added, {} device removed, {} metadata, {} socket created; {} domain(s) "
      "refused so far\n",
      count("lifecycle"), count("device_added"), count("device_removed"), count("metadata"), count("socket_created"),
      s["refused_total"].get<uint64_t>());
  std::vector<std::vector<std::string>> rows;
  for (const auto& d : s["domains"])
    rows.push_back({str(d["name"]), str(d["uuid"]), join(d["ports"]), join(d["floating_ips"])});
  out += "\n" +
         (rows.empty() ? std::string("no domain adopted\n") : table({"DOMAIN", "UUID", "PORTS", "FLOATING_IPS"}, rows));
  rows.clear();
  for (const auto& r : s["refused"]) rows.push_back({str(r["domain"]), str(r["since"]), str(r["reason"])});
  if (!rows.empty()) out += "\n" + table({"REFUSED", "SINCE", "REASON"}, rows);
  return out;
}

}  // namespace

CtlParse parse_ctl_args(const std::vector<std::string>& args) {
  CtlParse parse;
  CLI::App app{"inceptionctl: configure and inspect a running inceptiond", "inceptionctl"};
  app.require_subcommand(1);
  CtlInvocation& inv = parse.invocation;
  app.add_option("-s,--socket", inv.socket, "inceptiond control socket")->capture_default_str();
  app.add_flag("-j,--json", inv.json_output, "print the daemon's JSON result instead of a table");
  app.set_version_flag("-V,--version", std::string("inceptionctl ") + INCEPTION_VERSION);

  // network
  auto* network = app.add_subcommand("network", "manage networks (isolated L2 domains, one VNI each)");
  network->require_subcommand(1);
  NetworkConfig net;
  auto* net_add = network->add_subcommand("add", "add a network");
  net_add->add_option("name", net.name, "network name")->required();
  net_add->add_option("--vni", net.vni, "VXLAN network identifier")
      ->required()
      ->check(CLI::Range(kVniRange.min, kVniRange.max));
  net_add->add_option("--fdb-limit", net.fdb_limit, "dynamic MAC entries the network may learn")
      ->check(CLI::Range(kFdbLimitRange.min, kFdbLimitRange.max))
      ->capture_default_str();
  net_add->add_option("--neighbor-limit", net.neighbor_limit, "overlay ARP entries the network may hold")
      ->check(CLI::Range(kNeighborLimitRange.min, kNeighborLimitRange.max))
      ->capture_default_str();
  std::vector<std::string> net_peers;
  net_add->add_option("--peer", net_peers, "VTEP address of another rVM reached over VXLAN (repeatable)");
  net_add->add_flag("--hub", net.hub, "relay floods between peers (the hub of a star)");
  std::string name;
  auto* net_show = network->add_subcommand("show", "show a network, its ports and peers");
  net_show->add_option("name", name, "network name")->required();
  auto* net_del = network->add_subcommand("del", "delete a network (it must have no ports)");
  net_del->add_option("name", name, "network name")->required();
  auto* net_list = network->add_subcommand("list", "list networks");

  // port
  auto* port = app.add_subcommand("port", "manage ports (vhost-user guests, kernel interfaces)");
  port->require_subcommand(1);
  PortConfig pc;
  std::string type;
  auto* port_add = port->add_subcommand("add", "add a port to a network");
  port_add->add_option("name", pc.name, "port name (for kernel ports, the interface name)")->required();
  port_add->add_option("--type", type, "vhost-user or kernel")
      ->required()
      ->check(CLI::IsMember({"vhost-user", "kernel"}));
  port_add->add_option("--network", pc.network, "network to attach the port to")->required();
  auto* socket_opt = port_add->add_option("--socket", pc.socket, "vhost-user socket path");
  port_add->add_flag("--server", pc.server, "vhost-user: the switch creates the socket (default: QEMU does)");
  port_add->add_option("--queues", pc.queues, "vhost-user: queue pairs a guest may enable")
      ->check(CLI::Range(kVhostQueuesRange.min, kVhostQueuesRange.max))
      ->capture_default_str();
  std::vector<std::string> port_macs, port_ips;
  port_add->add_option("--mac", port_macs, "the guest's MAC address; turns port security on (repeatable)")
      ->transform(kMacValidator);
  port_add->add_option("--ip", port_ips, "an IPv4 address or prefix the guest may use (repeatable)");
  bool no_port_security = false;
  port_add->add_flag("--no-port-security", no_port_security,
                     "let the port send from any MAC and address even with --mac");
  port_add->add_option("--mac-limit", pc.mac_limit, "dynamic MACs the port may hold (default: [switch] port_mac_limit)")
      ->check(CLI::Range(0u, kMaxFdbLimit));
  auto* port_del = port->add_subcommand("del", "delete a port");
  port_del->add_option("name", name, "port name")->required();
  bool force = false;
  port_del->add_flag("--force", force, "also a port libvirt plugged for a running domain");
  auto* port_list = port->add_subcommand("list", "list ports");

  // fdb
  auto* fdb = app.add_subcommand("fdb", "inspect and edit MAC tables");
  fdb->require_subcommand(1);
  std::string fdb_network, fdb_mac, fdb_port;
  auto* fdb_show = fdb->add_subcommand("show", "show MAC tables");
  fdb_show->add_option("network", fdb_network, "only this network");
  auto* fdb_add = fdb->add_subcommand("add", "add a static MAC entry");
  fdb_add->add_option("network", fdb_network, "network")->required();
  fdb_add->add_option("mac", fdb_mac, "MAC address")->required()->transform(kMacValidator);
  fdb_add->add_option("port", fdb_port, "port")->required();
  auto* fdb_del = fdb->add_subcommand("del", "delete a MAC entry (static or learned)");
  fdb_del->add_option("network", fdb_network, "network")->required();
  fdb_del->add_option("mac", fdb_mac, "MAC address")->required()->transform(kMacValidator);

  // peer
  auto* peer = app.add_subcommand("peer", "manage a network's VXLAN peers (other rVMs' VTEPs)");
  peer->require_subcommand(1);
  std::string peer_network, peer_ip;
  auto* peer_add = peer->add_subcommand("add", "add a peer to a network");
  peer_add->add_option("network", peer_network, "network")->required();
  peer_add->add_option("ip", peer_ip, "the peer's underlay (VTEP) address")->required()->check(CLI::ValidIPV4);
  auto* peer_del = peer->add_subcommand("del", "remove a peer from a network");
  peer_del->add_option("network", peer_network, "network")->required();
  peer_del->add_option("ip", peer_ip, "the peer's underlay (VTEP) address")->required()->check(CLI::ValidIPV4);

  // neigh
  auto* neigh = app.add_subcommand("neigh", "the switch's underlay ARP table");
  neigh->require_subcommand(1);
  std::string neigh_ip, neigh_mac;
  auto* neigh_show = neigh->add_subcommand("show", "show underlay neighbors");
  auto* neigh_add = neigh->add_subcommand("add", "add a static neighbor");
  neigh_add->add_option("ip", neigh_ip, "IPv4 address")->required()->check(CLI::ValidIPV4);
  neigh_add->add_option("mac", neigh_mac, "MAC address")->required()->transform(kMacValidator);
  auto* neigh_del = neigh->add_subcommand("del", "delete a static neighbor");
  neigh_del->add_option("ip", neigh_ip, "IPv4 address")->required()->check(CLI::ValidIPV4);

  // routers, floating IPs, gateway mappings, SNAT
  auto* router = app.add_subcommand("router", "the distributed router's interface on a network (iVMs' gateway)");
  router->require_subcommand(1);
  std::string router_network, router_address;
  auto* router_add = router->add_subcommand("add", "give a network a router interface");
  router_add->add_option("network", router_network, "network name")->required();
  router_add->add_option("address", router_address, "ADDRESS/PREFIX, e.g. 192.0.2.254/24")->required();
  auto* router_del = router->add_subcommand("del", "remove a network's router interface");
  router_del->add_option("network", router_network, "network name")->required();
  auto* router_list = router->add_subcommand("list", "list router interfaces");
  auto* fip = app.add_subcommand("fip", "floating IPs hosted on this rVM (public IP <-> an iVM's fixed IP)");
  fip->require_subcommand(1);
  std::string fip_public, fip_fixed, fip_network;
  auto* fip_add = fip->add_subcommand("add", "give an iVM a floating IP (takes effect on the next packet)");
  fip_add->add_option("public", fip_public, "floating (public) IP")->required()->check(CLI::ValidIPV4);
  fip_add->add_option("--fixed", fip_fixed, "the iVM's fixed IP")->required()->check(CLI::ValidIPV4);
  fip_add->add_option("--network", fip_network, "the iVM's network")->required();
  auto* fip_del = fip->add_subcommand("del", "remove a floating IP");
  fip_del->add_option("public", fip_public, "floating (public) IP")->required()->check(CLI::ValidIPV4);
  fip_del->add_flag("--force", force, "also a floating IP that a running domain's metadata gives");
  auto* fip_list = fip->add_subcommand("list", "list floating IPs with their counters");
  auto* gateway = app.add_subcommand("gateway", "gateway mappings (underlay address <-> reality public IP)");
  gateway->require_subcommand(1);
  std::string gw_underlay, gw_public;
  auto* gw_add = gateway->add_subcommand("add", "map a public IP the reality cloud NATs to this rVM");
  gw_add->add_option("underlay", gw_underlay, "this rVM's underlay address the public IP is NATed to")
      ->required()
      ->check(CLI::ValidIPV4);
  gw_add->add_option("--public", gw_public, "the public IP")->required()->check(CLI::ValidIPV4);
  auto* gw_del = gateway->add_subcommand("del", "remove a gateway mapping");
  gw_del->add_option("underlay", gw_underlay, "underlay address")->required()->check(CLI::ValidIPV4);
  auto* gw_list = gateway->add_subcommand("list", "list gateway mappings");
  auto* nat = app.add_subcommand("nat", "NAT state");
  nat->require_subcommand(1);
  size_t session_limit = 1000;
  auto* nat_sessions = nat->add_subcommand("sessions", "list SNAT sessions");
  nat_sessions->add_option("--limit", session_limit, "at most this many")
      ->check(CLI::Range(kNatSessionListRange.min, kNatSessionListRange.max))
      ->capture_default_str();
  auto* nat_show = nat->add_subcommand("show", "NAT counters");

  auto* libvirt = app.add_subcommand("libvirt", "the guests libvirt runs on this rVM (docs/libvirt.md)");
  libvirt->require_subcommand(1);
  auto* libvirt_status =
      libvirt->add_subcommand("status", "connection, adopted domains and ports, refused domains, events");

  auto* stats = app.add_subcommand("stats", "per-port counters and per-worker cycles");
  auto* config = app.add_subcommand("config", "running configuration");
  config->require_subcommand(1);
  auto* config_show = config->add_subcommand("show", "print the running configuration as TOML");

  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);  // CLI11 wants them reversed, without argv[0]
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    std::ostringstream out, err;
    parse.exit_code = app.exit(e, out, err);
    parse.output = out.str() + err.str();
    return parse;
  }

  auto request = [&](const std::string& command, json a = json::object()) {
    inv.command = command;
    inv.request = make_request(command, std::move(a));
  };
  if (*net_add) {
    for (const std::string& text : net_peers) {
      const auto ip = Ipv4Address::parse(text);
      if (!ip) {
        parse.exit_code = 2;
        parse.output = "network add: --peer '" + text + "' is not an IPv4 address\n";
        return parse;
      }
      net.peers.push_back(*ip);
    }
    request("network.add", net);
  } else if (*net_show) {
    request("network.show", {{"name", name}});
  } else if (*peer_add) {
    request("peer.add", {{"network", peer_network}, {"ip", peer_ip}});
  } else if (*peer_del) {
    request("peer.del", {{"network", peer_network}, {"ip", peer_ip}});
  } else if (*neigh_show) {
    request("neigh.show");
  } else if (*neigh_add) {
    request("neigh.add", {{"ip", neigh_ip}, {"mac", neigh_mac}});
  } else if (*neigh_del) {
    request("neigh.del", {{"ip", neigh_ip}});
  } else if (*router_add) {
    request("router.add", {{"network", router_network}, {"address", router_address}});
  } else if (*router_del) {
    request("router.del", {{"network", router_network}});
  } else if (*router_list) {
    request("router.list");
  } else if (*fip_add) {
    request("fip.add", {{"public", fip_public}, {"fixed", fip_fixed}, {"network", fip_network}});
  } else if (*fip_del) {
    request("fip.del", {{"public", fip_public}, {"force", force}});
  } else if (*fip_list) {
    request("fip.list");
  } else if (*gw_add) {
    request("gateway.add", {{"underlay", gw_underlay}, {"public", gw_public}});
  } else if (*gw_del) {
    request("gateway.del", {{"underlay", gw_underlay}});
  } else if (*gw_list) {
    request("gateway.list");
  } else if (*nat_sessions) {
    request("nat.sessions", {{"limit", session_limit}});
  } else if (*nat_show) {
    request("nat.show");
  } else if (*net_del) {
    request("network.del", {{"name", name}});
  } else if (*net_list) {
    request("network.list");
  } else if (*port_add) {
    pc.type = *parse_port_type(type);
    if (pc.type == PortType::kVhostUser && socket_opt->count() == 0) {
      parse.exit_code = 2;
      parse.output = "port add: a vhost-user port needs --socket PATH\n";
      return parse;
    }
    if (pc.type == PortType::kKernel && (socket_opt->count() > 0 || pc.server)) {
      parse.exit_code = 2;
      parse.output = "port add: --socket and --server apply to vhost-user ports only\n";
      return parse;
    }
    for (const std::string& text : port_macs) pc.macs.push_back(*MacAddress::parse(text));
    for (const std::string& text : port_ips) {
      const auto prefix = Ipv4Prefix::parse_address_or_prefix(text);
      if (!prefix) {
        parse.exit_code = 2;
        parse.output = fmt::format("port add: --ip '{}' is not an IPv4 address or ADDRESS/PREFIX\n", text);
        return parse;
      }
      pc.ips.push_back(*prefix);
    }
    if (no_port_security) pc.port_security = false;
    request("port.add", pc);
  } else if (*port_del) {
    request("port.del", {{"name", name}, {"force", force}});
  } else if (*port_list) {
    request("port.list");
  } else if (*fdb_show) {
    request("fdb.show", fdb_network.empty() ? json::object() : json{{"network", fdb_network}});
  } else if (*fdb_add) {
    request("fdb.add", {{"network", fdb_network}, {"mac", fdb_mac}, {"port", fdb_port}});
  } else if (*fdb_del) {
    request("fdb.del", {{"network", fdb_network}, {"mac", fdb_mac}});
  } else if (*stats) {
    request("stats");
  } else if (*config_show) {
    request("config.show");
  } else if (*libvirt_status) {
    request("libvirt.status");
  }
  parse.ok = true;
  return parse;
}

std::string render_result(const std::string& command, const json& result) {
  if (command == "network.list") {
    std::vector<std::vector<std::string>> rows;
    for (const auto& n : result)
      rows.push_back({str(n["name"]), std::to_string(n["vni"].get<uint32_t>()), join(n["ports"]),
                      fmt::format("{}+{}/{}", n["fdb_dynamic"].get<uint32_t>(), n["fdb_static"].get<uint32_t>(),
                                  n["fdb_limit"].get<uint32_t>())});
    return table({"NETWORK", "VNI", "PORTS", "FDB(dyn+static/limit)"}, rows);
  }
  if (command == "network.show") {
    std::string out =
        fmt::format("network {}  VNI {}{}\n  ports: {}\n  FDB: {} dynamic, {} static, limit {}\n", str(result["name"]),
                    result["vni"].get<uint32_t>(), result["hub"].get<bool>() ? "  (hub)" : "", join(result["ports"]),
                    result["fdb_dynamic"].get<uint32_t>(), result["fdb_static"].get<uint32_t>(),
                    result["fdb_limit"].get<uint32_t>());
    out += fmt::format("  refused: {} MACs at the network's limit, {} at a port's; {} neighbors at the limit of {}\n",
                       result["fdb_limit_hits"].get<uint64_t>(), result["fdb_port_limit_hits"].get<uint64_t>(),
                       result["neighbor_limit_hits"].get<uint64_t>(), result["neighbor_limit"].get<uint32_t>());
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : result["peers"])
      rows.push_back({str(p["peer"]), str(p["next_hop"]), p["resolved"].get<bool>() ? "resolved" : "unresolved"});
    if (rows.empty()) return out + "  peers: -\n";
    return out + "\n" + table({"PEER", "NEXT_HOP", "STATE"}, rows);
  }
  if (command == "neigh.show") {
    std::vector<std::vector<std::string>> rows;
    for (const auto& n : result) rows.push_back({str(n["where"]), str(n["ip"]), str(n["mac"]), str(n["state"])});
    return table({"ON", "IP", "MAC", "STATE"}, rows);
  }
  if (command == "fip.list") {
    std::vector<std::vector<std::string>> rows;
    for (const auto& f : result)
      rows.push_back({str(f["public"]), str(f["fixed"]), str(f["network"]),
                      f["active"].get<bool>() ? "active" : "standby", std::to_string(f["in_packets"].get<uint64_t>()),
                      std::to_string(f["out_packets"].get<uint64_t>()),
                      f.contains("domain") ? str(f["domain"]["name"]) : "-"});
    return table({"PUBLIC", "FIXED", "NETWORK", "STATE", "IN_PKTS", "OUT_PKTS", "DOMAIN"}, rows);
  }
  if (command == "router.list") {
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : result) rows.push_back({str(r["network"]), str(r["address"])});
    return table({"NETWORK", "ADDRESS"}, rows);
  }
  if (command == "gateway.list") {
    std::vector<std::vector<std::string>> rows;
    for (const auto& g : result) rows.push_back({str(g["underlay"]), str(g["public"])});
    return table({"UNDERLAY", "PUBLIC"}, rows);
  }
  if (command == "nat.sessions") {
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : result)
      rows.push_back({str(s["protocol"]), str(s["inside"]), std::to_string(s["outside_port"].get<unsigned>()),
                      str(s["remote"]), str(s["state"])});
    return table({"PROTO", "INSIDE", "OUTSIDE_PORT", "REMOTE", "STATE"}, rows);
  }
  if (command == "port.list") {
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : result) {
      const bool vhost = p["type"] == "vhost-user";
      std::string security = "-";
      if (p.value("port_security", false)) security = join(p["macs"]) + (p["ips"].empty() ? "" : " " + join(p["ips"]));
      rows.push_back({str(p["name"]), str(p["type"]), str(p["network"]), str(p["link"]),
                      std::to_string(p["active_queues"].get<unsigned>()),
                      vhost ? fmt::format("{} ({})", str(p["socket"]), str(p["mode"])) : "-", security,
                      p.contains("domain") ? str(p["domain"]["name"]) : "-"});
    }
    return table({"PORT", "TYPE", "NETWORK", "LINK", "QUEUES", "SOCKET", "PORT_SECURITY", "DOMAIN"}, rows);
  }
  if (command == "fdb.show") {
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : result)
      rows.push_back({str(e["network"]), str(e["mac"]), str(e["port"]), str(e["type"]),
                      e["type"] == "static" ? "-" : std::to_string(e["age_s"].get<uint32_t>())});
    return table({"NETWORK", "MAC", "PORT", "TYPE", "AGE(s)"}, rows);
  }
  if (command == "stats") {
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : result["ports"]) {
      std::string drops;
      for (const auto& [reason, count] : p["drops"].items())
        if (count.get<uint64_t>() != 0)
          drops += (drops.empty() ? "" : " ") + fmt::format("{}={}", reason, count.get<uint64_t>());
      rows.push_back({str(p["name"]), str(p["network"]), str(p["link"]),
                      std::to_string(p["rx_packets"].get<uint64_t>()), std::to_string(p["rx_bytes"].get<uint64_t>()),
                      std::to_string(p["tx_packets"].get<uint64_t>()), std::to_string(p["tx_bytes"].get<uint64_t>()),
                      drops.empty() ? "-" : drops});
    }
    auto drop_text = [](const json& drops) {
      std::string text;
      for (const auto& [reason, count] : drops.items())
        if (count.get<uint64_t>() != 0)
          text += (text.empty() ? "" : " ") + fmt::format("{}={}", reason, count.get<uint64_t>());
      return text.empty() ? std::string("-") : text;
    };
    for (const auto& p : result["peers"])
      rows.push_back({"peer:" + str(p["peer"]), str(p["network"]), p["resolved"].get<bool>() ? "up" : "unresolved",
                      std::to_string(p["rx_packets"].get<uint64_t>()), std::to_string(p["rx_bytes"].get<uint64_t>()),
                      std::to_string(p["tx_packets"].get<uint64_t>()), std::to_string(p["tx_bytes"].get<uint64_t>()),
                      drop_text(p["drops"])});
    if (!result["underlay"].is_null()) {
      const json& u = result["underlay"];
      for (const auto& [label, key] : {std::pair{"underlay", "nic"}, std::pair{"host", "host"}}) {
        const json& t = u[key];
        rows.push_back({std::string(label) + ":" + str(std::string(key) == "nic" ? u["device"] : u["host_interface"]),
                        "-", "up", std::to_string(t["rx_packets"].get<uint64_t>()),
                        std::to_string(t["rx_bytes"].get<uint64_t>()), std::to_string(t["tx_packets"].get<uint64_t>()),
                        std::to_string(t["tx_bytes"].get<uint64_t>()), drop_text(t["drops"])});
      }
    }
    std::string out = table({"PORT", "NETWORK", "LINK", "RX_PKTS", "RX_BYTES", "TX_PKTS", "TX_BYTES", "DROPS"}, rows);
    rows.clear();
    const double hz = result["tsc_hz"].get<double>();
    for (const auto& w : result["workers"]) {
      const double busy = w["busy_cycles"].get<double>();
      const double idle = w["idle_cycles"].get<double>();
      const double total = busy + idle;
      rows.push_back({std::to_string(w["worker"].get<unsigned>()), std::to_string(w["lcore"].get<unsigned>()),
                      std::to_string(w["packets"].get<uint64_t>()),
                      fmt::format("{:.1f}", w["cycles_per_packet"].get<double>()),
                      fmt::format("{:.1f}%", total > 0 ? 100.0 * busy / total : 0.0),
                      fmt::format("{:.1f}", hz > 0 ? total / hz : 0.0)});
    }
    out += "\n" + table({"WORKER", "LCORE", "PACKETS", "CYCLES/PKT", "BUSY", "UPTIME(s)"}, rows);
    rows.clear();
    for (const auto& pool : result["mempools"])
      rows.push_back({str(pool["name"]), std::to_string(pool["size"].get<uint32_t>()),
                      std::to_string(pool["in_use"].get<uint32_t>()),
                      std::to_string(pool["available"].get<uint32_t>())});
    out += "\n" + table({"MEMPOOL", "MBUFS", "IN_USE", "AVAILABLE"}, rows);
    return out;
  }
  if (command == "config.show") return result["toml"].get<std::string>();
  if (command == "libvirt.status") return render_libvirt_status(result);
  return result.is_null() ? std::string() : result.dump(2) + "\n";
}

}  // namespace inception
