// inceptionctl's top-level app: global options, the verbs of every feature
// (control/ctl_verbs.h) and the ones that span them (stats, config show,
// libvirt status), parsing, and rendering.
#include "control/ctl_cli.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "control/config.h"
#include "control/ctl_verbs.h"
#include "control/protocol.h"
#include "inception/mac_address.h"

namespace inception {

using nlohmann::json;

const CLI::Validator& mac_validator() {
  static const CLI::Validator validator(
      [](std::string& value) -> std::string {
        const auto mac = MacAddress::parse(value);
        if (!mac) return "'" + value + "' is not a MAC address (expected aa:bb:cc:dd:ee:ff)";
        value = mac->to_string();
        return {};
      },
      "MAC");
  return validator;
}

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

namespace {

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

std::string render_cluster_status(const json& s) {
  std::string out =
      fmt::format("cluster: member {} of {}, {}\n", str(s["name"]), str(s["data_center"]),
                  s["connected"].get<bool>() ? "connected to etcd " + str(s["endpoint"]) : std::string("disconnected"));
  out += fmt::format("  lease {} (TTL {} s); in step with revision {}; prefix {}\n", str(s["lease_id"]),
                     s["lease_ttl_s"].get<int64_t>(), s["revision"].get<int64_t>(), str(s["prefix"]));
  const json& c = s["counters"];
  out += fmt::format("  {} join(s), {} leave(s), {} reconnect(s), {} resync(s), {} key(s) refused so far\n",
                     c["joins"].get<uint64_t>(), c["leaves"].get<uint64_t>(), c["reconnects"].get<uint64_t>(),
                     c["resyncs"].get<uint64_t>(), c["refused"].get<uint64_t>());
  if (!s["last_error"].is_null()) out += "  last error: " + str(s["last_error"]) + "\n";
  if (s.contains("gateway")) {
    const json& g = s["gateway"];
    const std::string leader = g["leader"].is_null()
                                   ? std::string("none")
                                   : fmt::format("{} ({}) since {} ms after the epoch", str(g["leader"]),
                                                 str(g["leader_public"]), g["leader_since_ms"].get<int64_t>());
    out += fmt::format("  gateway: {}; leader {}; {} failover(s) seen\n", str(g["role"]), leader,
                       g["failovers"].get<uint64_t>());
  }
  if (s.contains("topology"))
    out += str(s["topology"]) == "star" ? "  topology: star (the active gateway is the hub)\n" : "  topology: mesh\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : s["members"])
    rows.push_back({str(m["name"]), str(m["vtep"]), m.contains("public_vtep") ? str(m["public_vtep"]) : "-",
                    str(m["data_center"]), join(m["roles"])});
  out += "\n" + (rows.empty() ? std::string("no member known\n")
                              : table({"MEMBER", "VTEP", "PUBLIC_VTEP", "DC", "ROLES"}, rows));
  rows.clear();
  for (const auto& r : s["refused"]) rows.push_back({str(r["key"]), str(r["reason"])});
  if (!rows.empty()) out += "\n" + table({"REFUSED KEY", "REASON"}, rows);
  return out;
}

}  // namespace

namespace {

// inceptionctl's whole command line, built in one place for parsing and for
// shell completion: completion can never offer a verb the parser does not
// know, nor miss one it does. The options write into `inv` and the members.
struct CtlApp {
  CLI::App app{"inceptionctl: configure and inspect a running inceptiond", "inceptionctl"};
  CtlVerbs verbs;
  CLI::App* stats = nullptr;
  CLI::App* top = nullptr;
  CLI::App* config_show = nullptr;
  CLI::App* config_reload = nullptr;
  CLI::App* libvirt_status = nullptr;
  CLI::App* cluster_status = nullptr;
  std::string top_sort = "rx";
  bool reload_dry_run = false;

  explicit CtlApp(CtlInvocation& inv) {
    app.require_subcommand(1);
    app.add_option("-s,--socket", inv.socket, "inceptiond control socket")->capture_default_str();
    app.add_flag("-j,--json", inv.json_output, "print the daemon's JSON result instead of a table");
    app.set_version_flag("-V,--version", std::string("inceptionctl ") + INCEPTION_VERSION);

    add_network_verbs(app, verbs);
    add_port_verbs(app, verbs);
    add_fdb_verbs(app, verbs);
    add_vxlan_verbs(app, verbs);
    add_router_verbs(app, verbs);

    auto* libvirt = app.add_subcommand("libvirt", "the guests libvirt runs on this rVM (docs/libvirt.md)");
    libvirt->require_subcommand(1);
    libvirt_status =
        libvirt->add_subcommand("status", "connection, adopted domains and ports, refused domains, events");

    auto* cluster =
        app.add_subcommand("cluster", "cluster mode: membership and desired state in etcd (docs/cluster.md)");
    cluster->require_subcommand(1);
    cluster_status = cluster->add_subcommand("status", "etcd connection, lease, members, refused keys, counters");
    add_cluster_state_verbs(*cluster, verbs);

    stats = app.add_subcommand("stats", "per-port counters and per-worker cycles");
    top = app.add_subcommand("top", "live view: port rates, drops by reason, workers, peers (q quits)");
    top->add_option("-i,--interval", inv.top.interval_s, "seconds between screens")
        ->check(CLI::Range(0.2, 3600.0))
        ->capture_default_str();
    top->add_option("--sort", top_sort, "rx, tx, drops or name (keys r t d n)")
        ->check(CLI::IsMember({"rx", "tx", "drops", "name"}))
        ->capture_default_str();
    top->add_option("-n,--iterations", inv.top.iterations, "screens to show, then exit (0: until q)")
        ->capture_default_str();
    auto* config = app.add_subcommand("config", "running configuration");
    config->require_subcommand(1);
    config_show = config->add_subcommand("show", "print the running configuration as TOML");
    config_reload = config->add_subcommand(
        "reload", "read the configuration file again and apply the difference live (systemd's ExecReload)");
    config_reload->add_flag("--dry-run", reload_dry_run, "print the steps without applying them");
  }
};

}  // namespace

CtlParse parse_ctl_args(const std::vector<std::string>& args) {
  CtlParse parse;
  CtlInvocation& inv = parse.invocation;
  CtlApp ctl(inv);
  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend() - 1);  // CLI11 wants them reversed, without argv[0]
    ctl.app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    std::ostringstream out, err;
    parse.exit_code = ctl.app.exit(e, out, err);
    parse.output = out.str() + err.str();
    return parse;
  }

  auto verb = std::find_if(ctl.verbs.begin(), ctl.verbs.end(), [](const CtlVerb& v) { return v.subcommand->parsed(); });
  CtlRequest request;
  if (verb != ctl.verbs.end()) {
    request = verb->request();
  } else if (*ctl.stats) {
    request.command = "stats";
  } else if (*ctl.top) {
    inv.command = "top";
    inv.top.sort = ctl.top_sort == "tx"      ? TopSort::kTx
                   : ctl.top_sort == "drops" ? TopSort::kDrops
                   : ctl.top_sort == "name"  ? TopSort::kName
                                             : TopSort::kRx;
  } else if (*ctl.config_show) {
    request.command = "config.show";
  } else if (*ctl.config_reload) {
    request.command = "config.reload";
    request.args["dry_run"] = ctl.reload_dry_run;
  } else if (*ctl.libvirt_status) {
    request.command = "libvirt.status";
  } else if (*ctl.cluster_status) {
    request.command = "cluster.status";
  }
  if (!request.usage_error.empty()) {
    parse.exit_code = 2;
    parse.output = request.usage_error;
    return parse;
  }
  if (!request.command.empty()) {
    inv.command = request.command;
    inv.request = make_request(request.command, std::move(request.args));
  }
  parse.ok = true;
  return parse;
}

std::vector<std::string> ctl_completions(const std::vector<std::string>& words) {
  CtlInvocation inv;
  CtlApp ctl(inv);
  const CLI::App* at = &ctl.app;
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (word.size() > 1 && word[0] == '-') {
      // An option of the current command: its value, unless given as
      // --name=value, is the next word and no verb.
      const CLI::Option* option = at->get_option_no_throw(word.substr(0, word.find('=')));
      if (option != nullptr && option->get_type_size_max() > 0 && word.find('=') == std::string::npos) ++i;
      continue;
    }
    const auto sub = at->get_subcommands([&word](const CLI::App* s) { return s->get_name() == word; });
    if (!sub.empty()) at = sub.front();
    // Anything else is a positional argument (a name, an address): the
    // command stays the same.
  }
  std::vector<std::string> out;
  for (const CLI::App* sub : at->get_subcommands([](const CLI::App* s) { return !s->get_group().empty(); }))
    out.push_back(sub->get_name());
  for (const CLI::Option* option : at->get_options())
    for (const std::string& name : option->get_lnames()) out.push_back("--" + name);
  return out;
}

std::string render_result(const std::string& command, const json& result) {
  static const CtlRenderers renderers = [] {
    CtlRenderers r;
    add_l2_renderers(r);
    add_port_renderers(r);
    add_vxlan_renderers(r);
    add_router_renderers(r);
    add_cluster_renderers(r);
    return r;
  }();
  if (const auto it = renderers.find(command); it != renderers.end()) return it->second(result);
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
  if (command == "config.reload") {
    const auto& steps = result["steps"];
    if (steps.empty()) return fmt::format("config reload: {}: the switch already runs it\n", str(result["source"]));
    std::string out = fmt::format("config reload: {}: {} change(s){}\n", str(result["source"]), steps.size(),
                                  result["dry_run"].get<bool>() ? " to apply (dry run: none applied)" : " applied");
    for (const auto& step : steps) out += "  " + str(step) + "\n";
    return out;
  }
  if (command == "libvirt.status") return render_libvirt_status(result);
  if (command == "cluster.status") return render_cluster_status(result);
  return result.is_null() ? std::string() : result.dump(2) + "\n";
}

}  // namespace inception
