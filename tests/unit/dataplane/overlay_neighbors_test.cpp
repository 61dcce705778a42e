// The router's IPv4 neighbor table: keyed by network, bounded per network,
// refusals counted, and nothing left of a network once it is forgotten.
#include "dataplane/router/overlay_neighbors.h"

#include <gtest/gtest.h>
#include <rte_byteorder.h>

#include "test_frames.h"

namespace inception::test {
namespace {

using Result = OverlayNeighbors::LearnResult;

TEST(OverlayNeighbors, EachNetworkHoldsOnlyItsOwnShare) {
  OverlayNeighbors table(64, test_rcu());
  const MacAddress a = mac("52:54:00:00:00:0a");
  // A guest announcing address after address fills its network's share only.
  for (uint32_t i = 1; i <= 4; ++i) EXPECT_EQ(table.learn(1, 0xc0000200 + i, a, 0, 4), Result::kLearned);
  EXPECT_EQ(table.learn(1, 0xc0000205, a, 0, 4), Result::kLimitReached);
  EXPECT_EQ(table.count(1), 4u);
  EXPECT_EQ(table.refused(1), 1u);
  // Refreshing or moving a known address is not a new entry.
  EXPECT_EQ(table.learn(1, 0xc0000201, a, 1, 4), Result::kRefreshed);
  EXPECT_EQ(table.learn(1, 0xc0000201, mac("52:54:00:00:00:0b"), 1, 4), Result::kChanged);
  // Another network, the same addresses: its own entries, its own share.
  EXPECT_EQ(table.learn(2, 0xc0000201, mac("52:54:00:00:00:0c"), 0, 4), Result::kLearned);
  std::array<uint8_t, 6> found{};
  ASSERT_TRUE(table.lookup(1, rte_cpu_to_be_32(0xc0000201), &found));
  EXPECT_EQ(MacAddress(found), mac("52:54:00:00:00:0b"));
  ASSERT_TRUE(table.lookup(2, rte_cpu_to_be_32(0xc0000201), &found));
  EXPECT_EQ(MacAddress(found), mac("52:54:00:00:00:0c"));
  EXPECT_FALSE(table.lookup(3, rte_cpu_to_be_32(0xc0000201), &found));
  // Forgetting a network frees its share and its counters for the next one.
  table.forget_network(1);
  EXPECT_EQ(table.count(1), 0u);
  EXPECT_EQ(table.refused(1), 0u);
  EXPECT_FALSE(table.lookup(1, rte_cpu_to_be_32(0xc0000201), &found));
  EXPECT_TRUE(table.lookup(2, rte_cpu_to_be_32(0xc0000201), &found));
  // Expiry gives entries back too.
  EXPECT_EQ(table.expire(1000, 300), 1u);
  EXPECT_EQ(table.count(2), 0u);
}

TEST(OverlayNeighbors, AFullTableRefusesAndCountsInsteadOfIgnoringTheFailure) {
  // The hash is shared by every network: when it is full, an insert fails
  // and must not be recorded as learned.
  OverlayNeighbors table(16, test_rcu());
  uint32_t learned = 0;
  for (uint32_t i = 0; i < 64; ++i)
    if (table.learn(static_cast<NetworkIndex>(i % 4), 0x0a000000 + i, mac("52:54:00:00:00:01"), 0, 1000) ==
        Result::kLearned)
      ++learned;
  uint64_t refused = 0;
  for (NetworkIndex n = 0; n < 4; ++n) refused += table.refused(n);
  EXPECT_EQ(learned + refused, 64u);
  EXPECT_GT(refused, 0u);
  EXPECT_EQ(table.entries(0).size(), learned);
}

}  // namespace
}  // namespace inception::test
