// Starting and stopping DPDK's Environment Abstraction Layer for inceptiond.
#pragma once

#include <string>
#include <vector>

namespace inception {

struct EalOptions {
  std::string program = "inceptiond";
  unsigned main_core = 0;
  std::vector<unsigned> worker_cores;
  unsigned memory_mb = 512;
  bool hugepages = true;
  std::string file_prefix = "inceptiond";
  std::vector<std::string> pci_allow;  // empty: --no-pci
  std::vector<std::string> extra_args;
  int dpdk_log_level = 6;  // RTE_LOG_NOTICE
};

// Whether `extra_args` hold an --lcores map: it then replaces the -l list
// made of main_core and worker_cores.
bool eal_maps_lcores(const std::vector<std::string>& extra_args);

// The EAL command line these options stand for (for logs and tests).
std::vector<std::string> eal_arguments(const EalOptions& options);

// Initialises the EAL; throws std::runtime_error with DPDK's reason. DPDK's
// own log lines go to stderr, like ours.
void eal_init(const EalOptions& options);
void eal_cleanup() noexcept;

}  // namespace inception
