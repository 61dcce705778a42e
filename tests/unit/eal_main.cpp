// GoogleTest main for unit tests that need DPDK: one EAL per test binary,
// in memory (no hugepages, no PCI), so tests run anywhere.
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const std::string prefix = "unit-" + std::to_string(getpid());
  std::vector<std::string> args = {"unit-test", "-l", "0", "--no-huge", "-m", "256", "--no-pci", "--no-telemetry",
                                   "--file-prefix", prefix, "--log-level", "*:error",
                                   // An ethdev whose TX ring the encap stage's tests read back.
                                   "--vdev", "net_ring0"};
  std::vector<char*> eal_argv;
  for (auto& a : args) eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    fprintf(stderr, "EAL initialisation failed\n");
    return 1;
  }
  const int result = RUN_ALL_TESTS();
  // The EAL leaves its runtime directory (/var/run/dpdk/unit-PID) behind;
  // one per run would pile up on a developer's machine.
  const std::filesystem::path runtime_dir = rte_eal_get_runtime_dir();
  rte_eal_cleanup();
  std::error_code ignored;
  std::filesystem::remove_all(runtime_dir, ignored);
  return result;
}
