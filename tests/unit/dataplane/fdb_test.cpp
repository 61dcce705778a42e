#include "dataplane/l2/fdb.h"

#include <gtest/gtest.h>

#include "test_frames.h"

namespace inception::test {
namespace {

PortIndex port_of(const Fdb& fdb, const MacAddress& m) {
  uint64_t value = 0;
  if (!fdb.lookup(m.key(), &value)) return kInvalidPort;
  return FdbValue::unpack(value).port;
}

TEST(Fdb, LearnsAndLooksUp) {
  Fdb fdb("t", 16, 1, test_rcu());
  EXPECT_EQ(fdb.learn(mac("02:00:00:00:00:01"), 3, 0), LearnResult::kLearned);
  EXPECT_EQ(port_of(fdb, mac("02:00:00:00:00:01")), 3);
  EXPECT_EQ(port_of(fdb, mac("02:00:00:00:00:02")), kInvalidPort);
  EXPECT_EQ(fdb.learn(mac("02:00:00:00:00:01"), 3, 1), LearnResult::kUnchanged);
  EXPECT_EQ(fdb.dynamic_count(), 1u);
}

TEST(Fdb, MoveUpdatesThePortInPlace) {
  Fdb fdb("t", 16, 1, test_rcu());
  fdb.learn(mac("02:00:00:00:00:01"), 3, 0);
  EXPECT_EQ(fdb.learn(mac("02:00:00:00:00:01"), 5, 1), LearnResult::kMoved);
  EXPECT_EQ(port_of(fdb, mac("02:00:00:00:00:01")), 5);
  EXPECT_EQ(fdb.dynamic_count(), 1u);
}

TEST(Fdb, BulkLookupReportsHitsPerKey) {
  Fdb fdb("t", 16, 1, test_rcu());
  fdb.learn(mac("02:00:00:00:00:01"), 1, 0);
  fdb.learn(mac("02:00:00:00:00:03"), 3, 0);
  const uint64_t keys[3] = {mac("02:00:00:00:00:01").key(), mac("02:00:00:00:00:02").key(),
                            mac("02:00:00:00:00:03").key()};
  const uint64_t* ptrs[3] = {&keys[0], &keys[1], &keys[2]};
  uint64_t values[3] = {};
  const uint64_t hits = fdb.lookup_bulk(ptrs, 3, values);
  EXPECT_EQ(hits, 0b101u);
  EXPECT_EQ(FdbValue::unpack(values[0]).port, 1);
  EXPECT_EQ(FdbValue::unpack(values[2]).port, 3);
}

TEST(Fdb, LimitBoundsDynamicEntriesButNotStaticOnes) {
  Fdb fdb("t", 4, 1, test_rcu());
  fdb.add_static(mac("02:00:00:00:00:aa"), 9);
  for (int i = 0; i < 4; ++i) {
    const std::string text = "02:00:00:00:01:0" + std::to_string(i);
    EXPECT_EQ(fdb.learn(mac(text.c_str()), 1, 0), LearnResult::kLearned);
  }
  EXPECT_TRUE(fdb.full());
  // A spray of new MACs is refused, counted, and evicts nothing.
  for (int i = 0; i < 100; ++i) {
    const MacAddress m = MacAddress::from_key(0x100000000002ULL + static_cast<uint64_t>(i) * 0x1000000ULL);
    EXPECT_EQ(fdb.learn(m, 1, 0), LearnResult::kLimitReached);
  }
  EXPECT_EQ(fdb.limit_hits(), 100u);
  EXPECT_EQ(fdb.dynamic_count(), 4u);
  EXPECT_EQ(port_of(fdb, mac("02:00:00:00:00:aa")), 9);
  // Static entries still fit: they have their own reserve.
  fdb.add_static(mac("02:00:00:00:00:bb"), 9);
  EXPECT_EQ(fdb.static_count(), 2u);
  // Freeing a dynamic entry makes room again.
  EXPECT_TRUE(fdb.remove(mac("02:00:00:00:01:00")));
  EXPECT_FALSE(fdb.full());
  EXPECT_EQ(fdb.learn(mac("02:00:00:00:02:00"), 1, 0), LearnResult::kLearned);
}

TEST(Fdb, StaticEntriesAreNeitherMovedNorAged) {
  Fdb fdb("t", 16, 1, test_rcu());
  fdb.add_static(mac("02:00:00:00:00:01"), 2);
  EXPECT_EQ(fdb.learn(mac("02:00:00:00:00:01"), 7, 0), LearnResult::kStaticKept);
  EXPECT_EQ(port_of(fdb, mac("02:00:00:00:00:01")), 2);
  EXPECT_EQ(fdb.age(100000, 300), 0u);
  EXPECT_EQ(port_of(fdb, mac("02:00:00:00:00:01")), 2);
  // A learned entry turned static keeps its slot and leaves the dynamic count.
  fdb.learn(mac("02:00:00:00:00:02"), 1, 0);
  fdb.add_static(mac("02:00:00:00:00:02"), 1);
  EXPECT_EQ(fdb.dynamic_count(), 0u);
  EXPECT_EQ(fdb.static_count(), 2u);
}

TEST(Fdb, AgesOutEntriesNotSeenForTheAgingTime) {
  Fdb fdb("t", 16, 2, test_rcu());
  fdb.learn(mac("02:00:00:00:00:01"), 1, 0);
  fdb.learn(mac("02:00:00:00:00:02"), 1, 0);
  EXPECT_EQ(fdb.age(299, 300), 0u);
  // Worker 1 forwards a frame from ...:02 at t=200: that refreshes it.
  uint64_t value = 0;
  ASSERT_TRUE(fdb.lookup(mac("02:00:00:00:00:02").key(), &value));
  fdb.touch(1, FdbValue::unpack(value).slot, 200);
  EXPECT_EQ(fdb.age(300, 300), 1u);
  EXPECT_EQ(port_of(fdb, mac("02:00:00:00:00:01")), kInvalidPort);
  EXPECT_EQ(port_of(fdb, mac("02:00:00:00:00:02")), 1);
  const auto entry = fdb.find(mac("02:00:00:00:00:02"), 310);
  ASSERT_TRUE(entry);
  EXPECT_EQ(entry->age_s, 110u);
  EXPECT_EQ(fdb.age(500, 300), 1u);
  EXPECT_EQ(fdb.dynamic_count(), 0u);
}

TEST(Fdb, SlotsAreReusedAcrossChurn) {
  Fdb fdb("t", 8, 1, test_rcu());
  for (uint32_t round = 0; round < 50; ++round) {
    for (uint64_t i = 0; i < 8; ++i) {
      const MacAddress m = MacAddress::from_key(0x0200000000ULL + round * 16 + i);
      ASSERT_EQ(fdb.learn(m, 1, round * 1000), LearnResult::kLearned) << "round " << round;
    }
    EXPECT_EQ(fdb.age(round * 1000 + 500, 300), 8u);
  }
  EXPECT_EQ(fdb.dynamic_count(), 0u);
}

TEST(Fdb, FlushPortRemovesOnlyThatPortsEntries) {
  Fdb fdb("t", 16, 1, test_rcu());
  fdb.learn(mac("02:00:00:00:00:01"), 1, 0);
  fdb.learn(mac("02:00:00:00:00:02"), 2, 0);
  fdb.add_static(mac("02:00:00:00:00:03"), 1);
  EXPECT_EQ(fdb.flush_port(1), 2u);
  EXPECT_EQ(port_of(fdb, mac("02:00:00:00:00:02")), 2);
  EXPECT_EQ(fdb.entries(0).size(), 1u);
}

}  // namespace
}  // namespace inception::test
