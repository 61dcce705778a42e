// The gateway election's rules (control/cluster/election.h): active only
// while etcd can not yet have given the leader key to another member.
#include "control/cluster/election.h"

#include <gtest/gtest.h>

namespace inception::cluster {
namespace {

using namespace std::chrono_literals;
using Clock = GatewayElection::Clock;

TEST(GatewayElection, StandbyUntilWon) {
  GatewayElection e(250ms);
  const auto t0 = Clock::now();
  EXPECT_FALSE(e.active(t0));
  EXPECT_FALSE(e.expire(t0 + 10s));
  e.renewed(0, t0);  // a keepalive of no lease makes nothing active
  EXPECT_FALSE(e.active(t0));
}

TEST(GatewayElection, DeadlineCountsFromTheGrantsSendTimeLessTheMargin) {
  GatewayElection e(250ms);
  const auto sent = Clock::now();
  e.won(7, 1000ms, sent);
  EXPECT_TRUE(e.active(sent + 749ms));
  EXPECT_FALSE(e.active(sent + 750ms));
  EXPECT_FALSE(e.expire(sent + 749ms));
  EXPECT_TRUE(e.expire(sent + 750ms));   // the call that ends the term says so
  EXPECT_FALSE(e.expire(sent + 751ms));  // once
  EXPECT_FALSE(e.active(sent));
}

TEST(GatewayElection, KeepalivesMoveTheDeadlineFromTheirSendTime) {
  GatewayElection e(250ms);
  const auto t0 = Clock::now();
  e.won(7, 1000ms, t0);
  e.renewed(7, t0 + 300ms);
  EXPECT_TRUE(e.active(t0 + 1049ms));
  EXPECT_FALSE(e.active(t0 + 1050ms));
  // An answer that arrives late for an earlier send never moves it back.
  e.renewed(7, t0 + 100ms);
  EXPECT_TRUE(e.active(t0 + 1049ms));
  // A keepalive of another (older) lease changes nothing.
  e.renewed(6, t0 + 900ms);
  EXPECT_FALSE(e.active(t0 + 1050ms));
}

TEST(GatewayElection, DisconnectedLeaderFencesItselfBeforeEtcdCouldExpireItsLease) {
  GatewayElection e(250ms);
  const auto t0 = Clock::now();
  e.won(7, 1000ms, t0);
  // Keepalives every 300 ms go unanswered: etcd expires the lease no
  // earlier than 1 s after the last one it received (t0 at the latest).
  Clock::time_point fenced{};
  for (auto t = t0; t < t0 + 2s; t += 10ms)
    if (e.expire(t)) fenced = t;
  ASSERT_NE(fenced, Clock::time_point{});
  EXPECT_LT(fenced, t0 + 1000ms);
  EXPECT_GE(fenced, t0 + 750ms);
}

TEST(GatewayElection, LostEndsTheTermAtOnce) {
  GatewayElection e(250ms);
  const auto t0 = Clock::now();
  e.won(7, 1000ms, t0);
  e.lost();
  EXPECT_FALSE(e.active(t0));
  EXPECT_FALSE(e.expire(t0 + 5s));  // already withdrawn: nothing to end
  e.renewed(7, t0);                 // a late answer for the lost lease revives nothing
  EXPECT_FALSE(e.active(t0));
  // A new term with a new lease.
  e.won(8, 1000ms, t0 + 100ms);
  EXPECT_TRUE(e.active(t0 + 200ms));
  EXPECT_EQ(e.lease(), 8);
}

}  // namespace
}  // namespace inception::cluster
