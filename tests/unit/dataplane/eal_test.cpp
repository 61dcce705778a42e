// The EAL command line the daemon's [dpdk] options stand for.
#include "dataplane/eal.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace inception {
namespace {

bool has(const std::vector<std::string>& args, const std::string& word) {
  return std::find(args.begin(), args.end(), word) != args.end();
}

TEST(EalArguments, ListsMainAndWorkerCores) {
  EalOptions o;
  o.main_core = 0;
  o.worker_cores = {2, 3};
  const auto args = eal_arguments(o);
  const auto l = std::find(args.begin(), args.end(), "-l");
  ASSERT_NE(l, args.end());
  EXPECT_EQ(*(l + 1), "0,2,3");
}

// EAL refuses --lcores next to -l: the map replaces the list.
TEST(EalArguments, AnLcoresMapReplacesTheList) {
  EalOptions o;
  o.worker_cores = {1, 2};
  o.extra_args = {"--lcores", "0@0,1@1,2@1"};
  auto args = eal_arguments(o);
  EXPECT_FALSE(has(args, "-l"));
  EXPECT_TRUE(has(args, "0@0,1@1,2@1"));
  EXPECT_TRUE(has(args, "--main-lcore"));
  o.extra_args = {"--lcores=0@0,1@1,2@1"};
  EXPECT_FALSE(has(eal_arguments(o), "-l"));
  EXPECT_FALSE(eal_maps_lcores({"--no-hpet"}));
}

}  // namespace
}  // namespace inception
