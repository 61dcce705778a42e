// The ports' inceptionctl verbs: port add|del|list, and worker list (which
// worker serves which port queue).
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <memory>

#include "control/config.h"
#include "control/ctl_verbs.h"
#include "control/protocol.h"

namespace inception {

using nlohmann::json;

void add_port_verbs(CLI::App& app, CtlVerbs& verbs) {
  struct Options {
    PortConfig pc;
    std::string type;
    std::string offloads = "on";
    std::string coalesce = "on";
    std::vector<std::string> macs, ips;
    bool no_port_security = false;
    std::string name;
    bool force = false;
  };
  auto o = std::make_shared<Options>();
  auto* port = app.add_subcommand("port", "manage ports (vhost-user guests, kernel interfaces)");
  port->require_subcommand(1);
  auto* port_add = port->add_subcommand("add", "add a port to a network");
  port_add->add_option("name", o->pc.name, "port name (for kernel ports, the interface name)")->required();
  port_add->add_option("--type", o->type, "vhost-user or kernel")
      ->required()
      ->check(CLI::IsMember({"vhost-user", "kernel"}));
  port_add->add_option("--network", o->pc.network, "network to attach the port to")->required();
  auto* socket_opt = port_add->add_option("--socket", o->pc.socket, "vhost-user socket path");
  port_add->add_flag("--server", o->pc.server, "vhost-user: the switch creates the socket (default: QEMU does)");
  port_add->add_option("--queues", o->pc.queues, "vhost-user: queue pairs a guest may enable")
      ->check(CLI::Range(kVhostQueuesRange.min, kVhostQueuesRange.max))
      ->capture_default_str();
  auto* offloads_opt =
      port_add
          ->add_option("--offloads", o->offloads,
                       "vhost-user: offer the guest checksum offload and TSO (on), or ask for complete frames (off)")
          ->check(CLI::IsMember({"on", "off"}))
          ->capture_default_str();
  auto* coalesce_opt = port_add
                           ->add_option("--coalesce", o->coalesce,
                                        "vhost-user with offloads: join a flow's TCP segments into super-frames for "
                                        "the guest (on), or hand them over one by one (off)")
                           ->check(CLI::IsMember({"on", "off"}))
                           ->capture_default_str();
  port_add->add_option("--mac", o->macs, "the guest's MAC address; turns port security on (repeatable)")
      ->transform(mac_validator());
  port_add->add_option("--ip", o->ips, "an IPv4 address or prefix the guest may use (repeatable)");
  port_add->add_flag("--no-port-security", o->no_port_security,
                     "let the port send from any MAC and address even with --mac");
  port_add
      ->add_option("--mac-limit", o->pc.mac_limit, "dynamic MACs the port may hold (default: [switch] port_mac_limit)")
      ->check(CLI::Range(0u, kMaxFdbLimit));
  auto* port_del = port->add_subcommand("del", "delete a port");
  port_del->add_option("name", o->name, "port name")->required();
  port_del->add_flag("--force", o->force, "also a port libvirt plugged for a running domain");
  auto* port_list = port->add_subcommand("list", "list ports");

  verbs.push_back(
      {port_add, [o, socket_opt, offloads_opt, coalesce_opt] {
         PortConfig pc = o->pc;
         pc.type = *parse_port_type(o->type);
         pc.offloads = o->offloads == "on";
         pc.coalesce = o->coalesce == "on";
         if (pc.type == PortType::kVhostUser && socket_opt->count() == 0)
           return CtlRequest{.usage_error = "port add: a vhost-user port needs --socket PATH\n"};
         if (pc.type == PortType::kKernel &&
             (socket_opt->count() > 0 || pc.server || offloads_opt->count() > 0 || coalesce_opt->count() > 0))
           return CtlRequest{
               .usage_error =
                   "port add: --socket, --server, --offloads and --coalesce apply to vhost-user ports only\n"};
         for (const std::string& text : o->macs) pc.macs.push_back(*MacAddress::parse(text));
         for (const std::string& text : o->ips) {
           const auto prefix = Ipv4Prefix::parse_address_or_prefix(text);
           if (!prefix)
             return CtlRequest{.usage_error =
                                   fmt::format("port add: --ip '{}' is not an IPv4 address or ADDRESS/PREFIX\n", text)};
           pc.ips.push_back(*prefix);
         }
         if (o->no_port_security) pc.port_security = false;
         return CtlRequest{"port.add", pc};
       }});
  verbs.push_back({port_del, [o] { return CtlRequest{"port.del", {{"name", o->name}, {"force", o->force}}}; }});
  verbs.push_back({port_list, [] { return CtlRequest{"port.list"}; }});

  auto* worker = app.add_subcommand("worker", "the dataplane's workers");
  worker->require_subcommand(1);
  auto* worker_list = worker->add_subcommand(
      "list", "per worker: the port queues it receives from, and the guest queue it transmits to on each port");
  verbs.push_back({worker_list, [] { return CtlRequest{"worker.list"}; }});
}

void add_port_renderers(CtlRenderers& renderers) {
  renderers["port.list"] = [](const json& result) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& p : result) {
      const bool vhost = p["type"] == "vhost-user";
      std::string security = "-";
      if (p.value("port_security", false)) security = join(p["macs"]) + (p["ips"].empty() ? "" : " " + join(p["ips"]));
      // What the guest negotiated; "offered" until one is attached.
      std::string offloads = "-";
      if (vhost && !p.value("offloads", true))
        offloads = "off";
      else if (vhost)
        offloads = p["negotiated_offloads"].empty() ? (p["link"] == "up" ? "none" : "offered")
                                                    : join(p["negotiated_offloads"]);
      rows.push_back({str(p["name"]), str(p["type"]), str(p["network"]), str(p["link"]),
                      std::to_string(p["active_queues"].get<unsigned>()),
                      vhost ? fmt::format("{} ({})", str(p["socket"]), str(p["mode"])) : "-", offloads, security,
                      p.contains("domain") ? str(p["domain"]["name"]) : "-"});
    }
    return table({"PORT", "TYPE", "NETWORK", "LINK", "QUEUES", "SOCKET", "OFFLOADS", "PORT_SECURITY", "DOMAIN"}, rows);
  };
  // One row per worker and port, so that a guest's queues read down the
  // PORT column: a 2-queue guest shows under two workers.
  renderers["worker.list"] = [](const json& result) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& w : result) {
      std::vector<std::string> ports;
      std::map<std::string, std::string> rx, tx;
      auto see = [&](const std::string& port) {
        if (std::find(ports.begin(), ports.end(), port) == ports.end()) ports.push_back(port);
      };
      for (const auto& q : w["rx"]) {
        const std::string port = str(q["port"]);
        see(port);
        std::string& text = rx[port];
        text += fmt::format("{}{} ({})", text.empty() ? "" : ", ", q["queue"].get<unsigned>(),
                            q["enabled"].get<bool>() ? "enabled" : "disabled");
      }
      for (const auto& q : w["tx"]) {
        see(str(q["port"]));
        tx[str(q["port"])] = q["queue"].is_null() ? "-" : std::to_string(q["queue"].get<unsigned>());
      }
      for (const std::string& port : ports)
        rows.push_back({std::to_string(w["worker"].get<unsigned>()), std::to_string(w["lcore"].get<unsigned>()), port,
                        rx.contains(port) ? rx[port] : "-", tx.contains(port) ? tx[port] : "-"});
    }
    return table({"WORKER", "LCORE", "PORT", "RX_QUEUES", "TX_QUEUE"}, rows);
  };
}

}  // namespace inception
