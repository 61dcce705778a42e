#include "dataplane/eal.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>

#include <cstdio>
#include <stdexcept>

#include "inception/log.h"

namespace inception {

bool eal_maps_lcores(const std::vector<std::string>& extra_args) {
  for (const std::string& arg : extra_args)
    if (arg == "--lcores" || arg.rfind("--lcores=", 0) == 0) return true;
  return false;
}

std::vector<std::string> eal_arguments(const EalOptions& o) {
  std::vector<std::string> args{o.program};
  // An --lcores map in the extra arguments places the lcores on CPUs itself
  // (several workers on one CPU, on a machine with fewer CPUs than lcores);
  // EAL refuses it next to -l.
  if (!eal_maps_lcores(o.extra_args)) {
    std::string lcores = std::to_string(o.main_core);
    for (unsigned core : o.worker_cores) lcores += "," + std::to_string(core);
    args.insert(args.end(), {"-l", lcores});
  }
  args.insert(args.end(),
              {"--main-lcore", std::to_string(o.main_core), "--file-prefix", o.file_prefix, "-m",
               std::to_string(o.memory_mb), "--no-telemetry", "--log-level", "*:" + std::to_string(o.dpdk_log_level)});
  if (o.hugepages) {
    // Hugepage files are unlinked once mapped: nothing is left in
    // /dev/hugepages when the switch exits, however it exits.
    args.push_back("--huge-unlink");
  } else {
    args.push_back("--no-huge");
  }
  if (o.pci_allow.empty()) {
    args.push_back("--no-pci");
  } else {
    for (const std::string& device : o.pci_allow) args.insert(args.end(), {"-a", device});
  }
  args.insert(args.end(), o.extra_args.begin(), o.extra_args.end());
  return args;
}

void eal_init(const EalOptions& options) {
  rte_openlog_stream(stderr);
  std::vector<std::string> args = eal_arguments(options);
  std::string joined;
  for (const auto& a : args) joined += (joined.empty() ? "" : " ") + a;
  log::debug("EAL arguments: {}", joined);
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (rte_eal_init(static_cast<int>(args.size()), argv.data()) < 0)
    throw std::runtime_error(std::string("DPDK initialisation failed: ") + rte_strerror(rte_errno) +
                             " (EAL arguments: " + joined + ")");
}

void eal_cleanup() noexcept {
  rte_eal_cleanup();
}

}  // namespace inception
