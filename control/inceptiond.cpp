// inceptiond: the Inception dataplane daemon.
//
// Start-up order: parse and validate the whole config (nothing starts on a
// bad file) -> EAL -> dataplane and workers -> networks, ports and static
// MACs from the config -> the libvirt watcher (its guests' ports) -> cluster
// membership (the other members as peers) -> control
// socket -> metrics. Then the main thread
// runs the control loop: MAC learning requests, FDB aging, signals.
// SIGINT/SIGTERM stop it in the reverse order and exit 0.

#include <poll.h>
#include <rte_log.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <sstream>

#include "control/api.h"
#include "control/cluster/desired_state.h"
#include "control/cluster/gateway.h"
#include "control/cluster/membership.h"
#include "control/config.h"
#include "control/config_reload.h"
#include "control/control_server.h"
#include "control/controller.h"
#include "control/libvirt/plugger.h"
#include "control/libvirt/watcher.h"
#include "control/metrics.h"
#include "control/protocol.h"
#include "control/signals.h"
#include "dataplane/dataplane.h"
#include "dataplane/eal.h"
#include "inception/log.h"

namespace inception {
namespace {

int dpdk_log_level(log::Level level) {
  switch (level) {
    case log::Level::kError:
      return RTE_LOG_ERR;
    case log::Level::kWarning:
      return RTE_LOG_WARNING;
    case log::Level::kInfo:
      return RTE_LOG_NOTICE;
    case log::Level::kDebug:
      return RTE_LOG_DEBUG;
  }
  return RTE_LOG_NOTICE;
}

void control_loop(Controller& controller, int signal_fd) {
  using Clock = std::chrono::steady_clock;
  auto next_aging = Clock::now() + std::chrono::seconds(1);
  bool learning = false;
  for (;;) {
    pollfd fd{signal_fd, POLLIN, 0};
    // While learn requests flow, drain every millisecond; otherwise wake
    // 100 times a second.
    if (poll(&fd, 1, learning ? 1 : 10) > 0) {
      signalfd_siginfo info{};
      if (read(signal_fd, &info, sizeof(info)) == sizeof(info)) {
        log::info({"inceptiond", "stopping"}, "received {}, stopping", info.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
        return;
      }
    }
    learning = controller.process_learn_requests() > 0;
    controller.tick_underlay();
    if (Clock::now() >= next_aging) {
      if (const size_t aged = controller.age_fdb(); aged > 0) log::debug("aged out {} MAC address(es)", aged);
      next_aging += std::chrono::seconds(1);
    }
  }
}

int run(const Config& config, std::function<Config()> reload_source, const std::string& source) {
  log::set_level(*log::parse_level(config.sw.log_level));
  // Under systemd: structured entries to the journal instead of lines on
  // its stream (include/inception/log.h). Before any thread starts.
  log::use_journal_if_stderr_is_journal();
  // Before the EAL: every thread started from here on inherits the mask.
  const ProcessSignals signals;

  EalOptions eal;
  eal.main_core = config.dpdk.main_core;
  eal.worker_cores = config.dpdk.worker_cores;
  eal.memory_mb = config.dpdk.memory_mb;
  eal.hugepages = config.dpdk.hugepages;
  eal.file_prefix = config.dpdk.file_prefix;
  eal.pci_allow = config.dpdk.pci_allow;
  eal.extra_args = config.dpdk.extra_args;
  eal.dpdk_log_level = dpdk_log_level(log::level());
  try {
    eal_init(eal);
  } catch (const std::exception& e) {
    log::error({"inceptiond", "failed"}, "{}", e.what());
    return 1;
  }
  log::debug("EAL initialised");

  int status = 0;
  {
    DataplaneOptions options;
    options.worker_lcores = config.dpdk.worker_cores;
    options.idle.adaptive = config.sw.idle_policy == "adaptive";
    options.idle.max_sleep_us = config.sw.idle_sleep_max_us;
    options.mbufs = config.dpdk.mbufs;
    std::unique_ptr<Dataplane> dataplane;
    std::unique_ptr<Controller> controller;
    std::unique_ptr<ControlServer> server;
    std::unique_ptr<MetricsExporter> metrics;
    std::unique_ptr<libvirt::GuestPlugger> plugger;
    std::unique_ptr<libvirt::Watcher> watcher;
    cluster::Refusals refusals;
    std::unique_ptr<cluster::DesiredState> desired;
    std::unique_ptr<cluster::GatewayHa> gateway;
    std::unique_ptr<cluster::Subscribers> subscribers;
    std::unique_ptr<cluster::Membership> membership;
    ModuleCommands modules;
    try {
      dataplane = std::make_unique<Dataplane>(options);
      dataplane->start();
      log::debug("dataplane: {} packet buffers, {} worker(s) started", options.mbufs, options.worker_lcores.size());
      controller = std::make_unique<Controller>(config, *dataplane);
      controller->apply(config);
      if (config.libvirt.enabled) {
        plugger = std::make_unique<libvirt::GuestPlugger>(*controller, config.libvirt.socket_dir);
        watcher = std::make_unique<libvirt::Watcher>(config.libvirt, *plugger);
        modules = libvirt::commands(config.libvirt, *watcher, *plugger);
      } else {
        modules["libvirt.status"] = [](const nlohmann::json&) -> nlohmann::json {
          throw ControlError("libvirt: off (the configuration has no [libvirt] section)");
        };
      }
      if (config.cluster.enabled) {
        desired = std::make_unique<cluster::DesiredState>(config.cluster, *controller, refusals);
        gateway = std::make_unique<cluster::GatewayHa>(config, *controller, refusals);
        subscribers =
            std::make_unique<cluster::Subscribers>(std::vector<cluster::KeySubscriber*>{desired.get(), gateway.get()});
        membership = std::make_unique<cluster::Membership>(config.cluster, config.underlay.address.address, *controller,
                                                           refusals, subscribers.get());
        modules.merge(cluster::commands(config.cluster, *membership, *gateway));
        modules.merge(cluster::commands(*desired));
        modules.merge(cluster::commands(*gateway));
      } else {
        for (const char* command :
             {"cluster.status", "cluster.network.add", "cluster.network.del", "cluster.network.list", "cluster.fip.add",
              "cluster.fip.del", "cluster.fip.list", "cluster.gateway.add", "cluster.gateway.del",
              "cluster.gateway.list", "cluster.topology"})
          modules[command] = [](const nlohmann::json&) -> nlohmann::json {
            throw ControlError("cluster: off (the configuration has no [cluster] section)");
          };
      }
      modules.merge(reload_commands(*controller, std::move(reload_source), source));
      server = std::make_unique<ControlServer>(config.control.socket, [&controller, &modules](const std::string& line) {
        return handle_request_line(*controller, line, &modules);
      });
      if (config.metrics.enabled) {
        metrics = std::make_unique<MetricsExporter>(config.metrics.listen, *controller);
        if (watcher) metrics->add_module(libvirt::metrics(*watcher, *plugger));
        if (membership) metrics->add_module(cluster::metrics(*membership, refusals, *gateway));
      }
      log::info({"inceptiond", "ready"},
                "inceptiond {} ready: {} worker(s) on core(s) {}, control socket {}, metrics {}", INCEPTION_VERSION,
                config.dpdk.worker_cores.size(), fmt::join(config.dpdk.worker_cores, ","), config.control.socket,
                metrics ? "http://" + config.metrics.listen + "/metrics" : std::string("off"));
      // systemd (Type=notify): the switch forwards and answers inceptionctl
      // from here on. Without NOTIFY_SOCKET this does nothing.
      sd_notifyf(0, "READY=1\nSTATUS=%zu worker(s), control socket %s", config.dpdk.worker_cores.size(),
                 config.control.socket.c_str());
      control_loop(*controller, signals.stop_fd());
      sd_notify(0, "STOPPING=1");
    } catch (const std::exception& e) {
      log::error({"inceptiond", "failed"}, "{}", e.what());
      status = 1;
    }
    // Reverse order: no new requests, no scrapes, then ports, then workers.
    metrics.reset();
    server.reset();
    log::debug("control socket and metrics closed");
    // Ports a domain plugged are removed with the others below; the guests
    // keep running and a restarted switch adopts them again.
    watcher.reset();
    plugger.reset();
    // Revokes the lease: the other members drop this one now, not after the TTL.
    membership.reset();
    desired.reset();
    gateway.reset();
    if (controller) controller->remove_all_ports();
    log::debug("ports removed");
    if (dataplane) dataplane->stop();
    log::debug("workers stopped");
    controller.reset();
    dataplane.reset();
    log::debug("tables freed");
  }
  eal_cleanup();
  if (status == 0) log::info({"inceptiond", "stopped"}, "stopped");
  return status;
}

}  // namespace
}  // namespace inception

namespace {

int daemon_main(int argc, char** argv) {
  using namespace inception;
  CLI::App app{"inceptiond: DPDK virtual switch for nested clouds (VXLAN overlays, vhost-user guests, floating IPs)",
               "inceptiond"};
  std::string config_path;
  bool check_only = false;
  bool print_default = false;
  std::string eal_args;
  app.add_option("-c,--config", config_path, "TOML configuration file (default: the built-in example config)")
      ->check(CLI::ExistingFile);
  app.add_flag("--check", check_only, "validate the configuration and exit");
  app.add_flag("--print-default-config", print_default, "print the built-in configuration and exit");
  // The service's place for EAL extras (/etc/default/inceptiond), beside
  // the file's [dpdk] extra_args: one quoted string, split at spaces.
  app.add_option("--eal-args", eal_args, "more DPDK EAL arguments, after [dpdk] extra_args (one string)");
  app.set_version_flag("-V,--version", std::string("inceptiond ") + INCEPTION_VERSION);
  CLI11_PARSE(app, argc, argv);

  if (print_default) {
    std::fwrite(default_config_text().data(), 1, default_config_text().size(), stdout);
    return 0;
  }
  const std::string source = config_path.empty() ? "<built-in config>" : config_path;
  // At start-up and again for `config reload`.
  const auto load = [config_path, source, eal_args] {
    Config c = config_path.empty() ? parse_config(default_config_text(), source) : load_config_file(config_path);
    std::istringstream words(eal_args);
    for (std::string word; words >> word;) c.dpdk.extra_args.push_back(word);
    return c;
  };
  Config config;
  try {
    config = load();
    // What only this machine can answer, asked before --check says OK (not
    // on reload: [dpdk] is restart-only, and the running EAL has narrowed
    // this thread's affinity to the main core).
    try {
      // An --lcores map names CPUs of its own; EAL checks them.
      if (!eal_maps_lcores(config.dpdk.extra_args)) validate_cores(config.dpdk, allowed_cores());
    } catch (const ConfigError& e) {
      throw ConfigError(source + ": " + e.what());
    }
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "inceptiond: invalid configuration: %s\n", e.what());
    return 2;
  }
  if (check_only) {
    std::printf("%s: configuration OK\n", source.c_str());
    return 0;
  }
  return run(config, load, source);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return daemon_main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "inceptiond: %s\n", e.what());
    return 1;
  }
}
