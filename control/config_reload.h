// `inceptionctl config reload` (systemd's ExecReload): the configuration
// file read again and the running switch brought to it live, as far as a
// running switch can go (docs/operations.md#reload).
//
// The file is judged whole first, by the same parser and rules as at
// start-up: a file the switch would not start on changes nothing. Then it is
// compared with `config show` (the running configuration: what the file
// gave plus what inceptionctl changed since, without what the libvirt
// module plugged or the cluster brought, which the file does not own):
//  * sections only a restart can change ([dpdk], [switch], [control],
//    [metrics], [underlay], [libvirt], [cluster], and [nat]'s
//    public_network, egress_deny and gateway's removal) refuse the whole
//    reload, each differing key named: nothing is applied;
//  * everything else becomes steps, each an inceptionctl command the
//    operator could have typed (`port del v1`, `network add lab --vni 77`),
//    applied in an order that never needs what a later step adds: floating
//    IPs, gateway mappings, routers, static MACs, ports, peers, networks and
//    underlay neighbors go first, then come back in the reverse order. An
//    object whose settings changed is deleted and added again (a network
//    whose VNI changed takes its ports, MACs, router and floating IPs with
//    it), except a network's peers, which are added and removed one by one.
// A step refused (a vhost-user socket that cannot be created, a port a
// domain still uses) stops the reload there; the reply names the step, its
// error, and the steps applied before it.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "control/api.h"
#include "control/config.h"
#include "control/controller.h"

namespace inception {

struct ReloadStep {
  std::string command;  // as inceptionctl would be typed, without "inceptionctl"
  std::function<void(Controller&)> apply;
};

struct ReloadPlan {
  std::vector<std::string> needs_restart;  // "[underlay] address: '10.0.0.11/24' running, '10.0.0.12/24' in the file"
  std::vector<ReloadStep> steps;
};

// What it takes to go from `running` to `file`. In cluster mode [nat]
// gateway follows the data center's active gateway and is not compared.
ReloadPlan plan_reload(const Config& running, const Config& file);

// The control socket's "config.reload" ({"dry_run": bool}): `load` reads
// the file as at start-up (the same parser, --eal-args added), `source`
// names it in replies ("/etc/inception/inceptiond.toml").
ModuleCommands reload_commands(Controller& controller, std::function<Config()> load, std::string source);

}  // namespace inception
