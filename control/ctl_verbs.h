// inceptionctl's verbs, by feature: each feature adds its subcommands to the
// CLI11 app, says which request each one sends, and renders the results of
// its commands for people; ctl_cli.cpp holds the top-level app, parses and
// picks the verb. Part of control_common_lib, which inceptionctl links
// alone: nothing here may depend on DPDK.
#pragma once

#include <nlohmann/json.hpp>

#include <CLI/CLI.hpp>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace inception {

// What a verb asks of the daemon, built once the command line is parsed; or
// a usage error for what CLI11 cannot check (exit code 2).
struct CtlRequest {
  std::string command;  // protocol command, e.g. "port.add"
  nlohmann::json args = nlohmann::json::object();
  std::string usage_error;  // printed as it is; when set, nothing is sent
};

// A leaf subcommand and how its parsed options become a request. The
// function owns the options' storage (CLI11 writes into it while parsing).
struct CtlVerb {
  const CLI::App* subcommand;
  std::function<CtlRequest()> request;
};
using CtlVerbs = std::vector<CtlVerb>;

// A command's result as text for people; commands without one print JSON.
using CtlRenderers = std::map<std::string, std::function<std::string(const nlohmann::json& result)>>;

// Each feature's subcommands, in the order `inceptionctl --help` lists them.
void add_network_verbs(CLI::App& app, CtlVerbs& verbs);  // control/l2/l2_cli.cpp
void add_port_verbs(CLI::App& app, CtlVerbs& verbs);     // control/ports/port_cli.cpp
void add_fdb_verbs(CLI::App& app, CtlVerbs& verbs);      // control/l2/l2_cli.cpp
void add_vxlan_verbs(CLI::App& app, CtlVerbs& verbs);    // peer, neigh: control/vxlan/vxlan_cli.cpp
void add_router_verbs(CLI::App& app, CtlVerbs& verbs);   // router, fip, gateway, nat: control/router/router_cli.cpp

// cluster network|fip ...: under the `cluster` subcommand ctl_cli.cpp makes
// (control/cluster/cluster_cli.cpp).
void add_cluster_state_verbs(CLI::App& cluster, CtlVerbs& verbs);

void add_l2_renderers(CtlRenderers& renderers);
void add_port_renderers(CtlRenderers& renderers);
void add_vxlan_renderers(CtlRenderers& renderers);
void add_router_renderers(CtlRenderers& renderers);
void add_cluster_renderers(CtlRenderers& renderers);

// For the verbs of every feature (ctl_cli.cpp).
const CLI::Validator& mac_validator();  // checks a MAC argument and writes it in canonical form
std::string table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
std::string str(const nlohmann::json& value);   // a string as it is, null as "-", anything else as JSON
std::string join(const nlohmann::json& array);  // "a,b", or "-" when empty

}  // namespace inception
