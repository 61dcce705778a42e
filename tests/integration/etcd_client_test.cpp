// The etcd client (control/cluster/etcd_client.h) against a real etcd 3.4
// on loopback: what cluster mode relies on, one behaviour per test.
#include "control/cluster/etcd_client.h"

#include <gtest/gtest.h>

#include <thread>

#include "etcd_server.h"
#include "harness.h"

namespace inception::test {
namespace {

using cluster::EtcdClient;
using cluster::EtcdError;
using cluster::WatchEnd;
using cluster::WatchEvent;
using namespace std::chrono_literals;

class EtcdClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("etcd");
    etcd_ = new EtcdServer(*dir_);
    ASSERT_TRUE(etcd_->start()) << etcd_->log();
  }
  static void TearDownTestSuite() {
    delete etcd_;
    delete dir_;
  }
  void SetUp() override {
    // Every test its own prefix: tests never see each other's keys.
    prefix_ = "/test/" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "/";
  }
  static inline TempDir* dir_ = nullptr;
  static inline EtcdServer* etcd_ = nullptr;
  std::string prefix_;
};

TEST(Base64, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 40; ++i) {
    const std::string encoded = cluster::base64_encode(bytes);
    EXPECT_EQ(encoded.size() % 4, 0u);
    EXPECT_EQ(cluster::base64_decode(encoded), bytes) << encoded;
    bytes.push_back(static_cast<char>(i * 37 + 200));
  }
  EXPECT_EQ(cluster::base64_encode("/inception/v1/"), "L2luY2VwdGlvbi92MS8=");
  EXPECT_FALSE(cluster::base64_decode("abc"));
  EXPECT_FALSE(cluster::base64_decode("ab=c"));
  EXPECT_FALSE(cluster::base64_decode("a*bc"));
  EXPECT_EQ(cluster::prefix_end("/a/"), "/a0");
}

TEST_F(EtcdClientTest, PutThenGetReturnsValueAndRevisions) {
  EtcdClient client({etcd_->endpoint()});
  const int64_t rev = client.put(prefix_ + "k", "v\n\x01 binary");
  ASSERT_GT(rev, 0);
  const auto r = client.get(prefix_ + "k");
  ASSERT_EQ(r.kvs.size(), 1u);
  EXPECT_EQ(r.kvs[0].key, prefix_ + "k");
  EXPECT_EQ(r.kvs[0].value, "v\n\x01 binary");
  EXPECT_EQ(r.kvs[0].create_revision, rev);
  EXPECT_EQ(r.kvs[0].mod_revision, rev);
  EXPECT_GE(r.revision, rev);
  EXPECT_TRUE(client.get(prefix_ + "missing").kvs.empty());
}

TEST_F(EtcdClientTest, PrefixRangeAndPrefixDelete) {
  EtcdClient client({etcd_->endpoint()});
  client.put(prefix_ + "a", "1");
  client.put(prefix_ + "b", "2");
  client.put(prefix_.substr(0, prefix_.size() - 1) + "0", "outside");  // just past the prefix
  const auto r = client.get_prefix(prefix_);
  ASSERT_EQ(r.kvs.size(), 2u);
  EXPECT_EQ(r.kvs[0].key, prefix_ + "a");
  EXPECT_EQ(r.kvs[1].value, "2");
  EXPECT_EQ(client.del_prefix(prefix_), 2);
  EXPECT_TRUE(client.get_prefix(prefix_).kvs.empty());
  EXPECT_EQ(client.del(prefix_.substr(0, prefix_.size() - 1) + "0"), 1);
}

TEST_F(EtcdClientTest, CreateIfAbsentRefusesTheSecondClaimant) {
  EtcdClient first({etcd_->endpoint()}), second({etcd_->endpoint()});
  EXPECT_TRUE(first.create(prefix_ + "leader", "first"));
  EXPECT_FALSE(second.create(prefix_ + "leader", "second"));
  EXPECT_EQ(second.get(prefix_ + "leader").kvs.at(0).value, "first");
  first.del(prefix_ + "leader");
  EXPECT_TRUE(second.create(prefix_ + "leader", "second"));
}

TEST_F(EtcdClientTest, WatchSeesPutAndDeleteWithPreviousValue) {
  EtcdClient client({etcd_->endpoint()}), watcher({etcd_->endpoint()});
  const int64_t start = client.put(prefix_ + "before", "x") + 1;
  std::vector<WatchEvent> events;
  std::thread writer([&] {
    client.put(prefix_ + "k", "one");
    client.put(prefix_ + "k", "two");
    client.del(prefix_ + "k");
  });
  const WatchEnd end = watcher.watch(prefix_, start, [&](const WatchEvent& e) {
    events.push_back(e);
    if (events.size() == 3) watcher.stop();
  });
  writer.join();
  EXPECT_EQ(end.reason, WatchEnd::Reason::kStopped) << end.error;
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type, WatchEvent::Type::kPut);
  EXPECT_EQ(events[0].kv.value, "one");
  EXPECT_FALSE(events[0].prev);
  EXPECT_EQ(events[1].prev->value, "one");
  EXPECT_EQ(events[2].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(events[2].kv.key, prefix_ + "k");
  ASSERT_TRUE(events[2].prev);
  EXPECT_EQ(events[2].prev->value, "two");
  EXPECT_EQ(end.last_revision, events[2].kv.mod_revision);
}

TEST_F(EtcdClientTest, StopEndsAnIdleWatchPromptly) {
  EtcdClient watcher({etcd_->endpoint()});
  std::thread stopper([&] {
    std::this_thread::sleep_for(300ms);  // the watch must be idle, in its poll, when stopped
    watcher.stop();
  });
  const auto t0 = std::chrono::steady_clock::now();
  const WatchEnd end = watcher.watch(prefix_, 0, [](const WatchEvent&) {});
  const auto took = std::chrono::steady_clock::now() - t0;
  stopper.join();
  EXPECT_EQ(end.reason, WatchEnd::Reason::kStopped);
  EXPECT_LT(took, 300ms + 2 * std::chrono::milliseconds(EtcdClient::kWatchPollMs));
}

TEST_F(EtcdClientTest, LeaseKeptAliveLivesAndOneLeftAloneExpiresWithADelete) {
  EtcdClient client({etcd_->endpoint()}), watcher({etcd_->endpoint()});
  const auto lease = client.grant(2);
  EXPECT_EQ(lease.ttl_s, 2);
  const int64_t rev = client.put(prefix_ + "member", "me", lease.id);
  EXPECT_EQ(client.get(prefix_ + "member").kvs.at(0).lease, lease.id);
  EXPECT_EQ(client.keepalive(lease.id), 2);

  const auto t0 = std::chrono::steady_clock::now();
  std::optional<WatchEvent> deleted;
  const WatchEnd end = watcher.watch(
      prefix_, rev + 1,
      [&](const WatchEvent& e) {
        if (e.type == WatchEvent::Type::kDelete) deleted = e;
      },
      [&] { return !deleted && std::chrono::steady_clock::now() - t0 < 10s; });
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(end.reason, WatchEnd::Reason::kStopped);
  ASSERT_TRUE(deleted) << "no DELETE within 10 s of a 2 s lease";
  EXPECT_EQ(deleted->kv.key, prefix_ + "member");
  ASSERT_TRUE(deleted->prev);
  EXPECT_EQ(deleted->prev->value, "me");
  EXPECT_GE(took, 1500ms);
  EXPECT_LT(took, 4s);
  EXPECT_EQ(client.keepalive(lease.id), 0) << "an expired lease is reported as gone";
  EXPECT_TRUE(client.get(prefix_ + "member").kvs.empty());
}

TEST_F(EtcdClientTest, RevokeDeletesTheLeasesKeys) {
  EtcdClient client({etcd_->endpoint()});
  const auto lease = client.grant(30);
  client.put(prefix_ + "k", "v", lease.id);
  client.revoke(lease.id);
  EXPECT_TRUE(client.get(prefix_ + "k").kvs.empty());
}

TEST_F(EtcdClientTest, WatchFromACompactedRevisionSaysSo) {
  EtcdClient client({etcd_->endpoint()});
  const int64_t old = client.put(prefix_ + "k", "1");
  const int64_t now = client.put(prefix_ + "k", "2");
  const CommandResult c = sh("curl -s -m 2 -X POST " + etcd_->endpoint() + "/v3/kv/compaction -d '{\"revision\":\"" +
                             std::to_string(now) + "\"}'");
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const WatchEnd end = client.watch(prefix_, old, [](const WatchEvent&) {});
  EXPECT_EQ(end.reason, WatchEnd::Reason::kCompacted) << end.error;
  EXPECT_EQ(end.compact_revision, now);
}

TEST_F(EtcdClientTest, UnreachableEndpointIsSkippedForTheNext) {
  const std::string dead = "http://127.0.0.1:" + std::to_string(free_tcp_port());
  EtcdClient client({dead, etcd_->endpoint()});
  EXPECT_GT(client.put(prefix_ + "k", "v"), 0);
  EXPECT_EQ(client.endpoint(), etcd_->endpoint());
}

TEST_F(EtcdClientTest, EtcdDownIsAClearError) {
  const std::string dead = "http://127.0.0.1:" + std::to_string(free_tcp_port());
  EtcdClient client({dead});
  try {
    client.get("/x");
    FAIL() << "no error from a dead endpoint";
  } catch (const EtcdError& e) {
    EXPECT_TRUE(e.unreachable());
    const std::string what = e.what();
    EXPECT_EQ(what.rfind("etcd " + dead + ": ", 0), 0u) << what;
    EXPECT_NE(what.find("Connection refused"), std::string::npos) << what;
  }
  const WatchEnd end = client.watch("/x/", 0, [](const WatchEvent&) {});
  EXPECT_EQ(end.reason, WatchEnd::Reason::kBroken);
  EXPECT_NE(end.error.find("Connection refused"), std::string::npos) << end.error;
}

}  // namespace
}  // namespace inception::test
