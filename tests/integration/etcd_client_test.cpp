// The etcd client (control/cluster/etcd_client.h) against a real etcd 3.4
// on loopback: what cluster mode relies on, one behaviour per test.
#include "control/cluster/etcd_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <numeric>
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

// ---- three members: a member going away is not an outage

// The timeouts the membership thread uses with a 2 s lease (the tests'
// TTL): half the TTL per request, a sixth per connection.
constexpr EtcdClient::Options kTtl2Options{.connect_timeout = 333ms, .request_timeout = 1000ms};

class EtcdClusterClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("etcd3");
    cluster_ = new EtcdCluster(*dir_, 3);
  }
  static void TearDownTestSuite() {
    delete cluster_;
    delete dir_;
  }
  void SetUp() override {
    // Every member up, whatever the test before did.
    ASSERT_TRUE(cluster_->start()) << cluster_->log();
    ASSERT_TRUE(eventually([] { return cluster_->leader() >= 0; }, 5s)) << cluster_->log();
    leader_ = cluster_->leader();
    prefix_ = "/test/" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "/";
  }
  // The endpoints with member `first` first, the others in order.
  static std::vector<std::string> from(int first) {
    std::vector<std::string> all = cluster_->endpoints(), out;
    for (int i = 0; i < cluster_->size(); ++i) out.push_back(all[(first + i) % all.size()]);
    return out;
  }
  // A watch on member `watched` (endpoints: `endpoints`, default the
  // members from it on) while a writer on another member puts 1..kCount,
  // one every 10 ms; `away` makes the watched member go after the 20th.
  // Every value must arrive once, in order, on one watch, and the watch
  // must be on another member within `max_move`.
  void watch_across(int watched, const std::function<void(int)>& away, std::vector<std::string> endpoints = {},
                    std::chrono::milliseconds max_move = 500ms) {
    constexpr int kCount = 60;
    const int writer_member = 3 - leader_ - watched;  // neither the leader nor the watched one
    if (endpoints.empty()) endpoints = from(watched);
    EtcdClient writer(from(writer_member)), watcher(endpoints, kTtl2Options);
    const int64_t start = writer.put(prefix_ + "k", "0") + 1;
    using Stamp = std::chrono::steady_clock::time_point;
    std::vector<Stamp> written(kCount + 1), seen(kCount + 1);
    Stamp gone_at;
    std::thread writing([&] {
      for (int i = 1; i <= kCount; ++i) {
        writer.put(prefix_ + "k", std::to_string(i));
        written[i] = std::chrono::steady_clock::now();
        if (i == 20) {
          gone_at = std::chrono::steady_clock::now();  // before: the move may be done before kill() returns
          away(watched);
        }
        std::this_thread::sleep_for(10ms);
      }
    });
    std::vector<int> values;
    Stamp moved_at;  // when the watch was up on another member (tick runs on the watch's thread)
    const auto t0 = std::chrono::steady_clock::now();
    const WatchEnd end = watcher.watch(
        prefix_, start,
        [&](const WatchEvent& e) {
          const int v = std::stoi(e.kv.value);
          values.push_back(v);
          if (v >= 1 && v <= kCount) seen[v] = std::chrono::steady_clock::now();
          if (v == kCount) watcher.stop();
        },
        [&] {
          if (moved_at == Stamp{} && watcher.endpoint() != cluster_->member(watched).endpoint())
            moved_at = std::chrono::steady_clock::now();
          return std::chrono::steady_clock::now() - t0 < 20s;
        });
    writing.join();
    EXPECT_EQ(end.reason, WatchEnd::Reason::kStopped) << end.error;
    std::vector<int> expected(kCount);
    std::iota(expected.begin(), expected.end(), 1);
    EXPECT_EQ(values, expected) << "a watch that moved must miss nothing and repeat nothing";
    EXPECT_NE(watcher.endpoint(), cluster_->member(watched).endpoint());
    // The move itself, and how late it made the events written after the
    // member went: the longest wait between a put's answer and its event.
    ASSERT_NE(moved_at, Stamp{});
    const double moved_ms = std::chrono::duration<double, std::milli>(moved_at - gone_at).count();
    double worst_ms = 0;
    for (int i = 21; i <= kCount; ++i)
      if (seen[i] != Stamp{})
        worst_ms = std::max(worst_ms, std::chrono::duration<double, std::milli>(seen[i] - written[i]).count());
    std::printf(
        "etcd: the watch's member %s went: the watch was on %s %.1f ms later; events written after it reached the "
        "watch within %.1f ms of their write\n",
        cluster_->member(watched).name().c_str(), watcher.endpoint().c_str(), moved_ms, worst_ms);
    EXPECT_LT(moved_ms, max_move.count()) << "the member lease is 2 s in the tests: the move must take well under it";
    EXPECT_LT(worst_ms, max_move.count());
  }

  static inline TempDir* dir_ = nullptr;
  static inline EtcdCluster* cluster_ = nullptr;
  int leader_ = -1;
  std::string prefix_;
};

TEST_F(EtcdClusterClientTest, WatchOnAKilledMemberContinuesOnAnotherWithoutMissingAnEvent) {
  watch_across((leader_ + 1) % 3, [](int m) { cluster_->kill(m); });
}

TEST_F(EtcdClusterClientTest, WatchOnAStoppedMemberContinuesOnAnotherWithoutMissingAnEvent) {
  // SIGTERM: the member's gateway says "the client connection is closing"
  // on the stream before it closes.
  watch_across((leader_ + 1) % 3, [](int m) { cluster_->member(m).stop(); });
}

// A hung member as a client sees it: the kernel accepts the connection
// into the backlog, nobody ever answers.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("silent listener: cannot listen on 127.0.0.1");
    endpoint_ = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  }
  ~SilentListener() { ::close(fd_); }
  const std::string& endpoint() const { return endpoint_; }

 private:
  int fd_ = -1;
  std::string endpoint_;
};

TEST_F(EtcdClusterClientTest, WatchSkipsAMemberThatNeverAnswersAndMissesNothing) {
  // After the watched member is killed, the next endpoint accepts and
  // stays silent: the watch gives it the connect and request timeouts
  // (1.33 s) and goes on to the next, from the revision after its last
  // event. Every event written meanwhile (about a hundred) must arrive.
  const int watched = (leader_ + 1) % 3;
  const SilentListener silent;
  std::vector<std::string> endpoints = from(watched);
  endpoints.insert(endpoints.begin() + 1, silent.endpoint());
  watch_across(
      watched, [](int m) { cluster_->kill(m); }, endpoints, 1800ms);
}

TEST_F(EtcdClusterClientTest, LeaseKeptAliveSurvivesItsMemberAndLeaderKilled) {
  // The client talks to the leader, which is killed just before a
  // keepalive: the keepalive must find another member, and the lease must
  // outlive the election, for well over two TTLs.
  EtcdClient client(from(leader_), kTtl2Options);
  const auto lease = client.grant(2);
  client.put(prefix_ + "member", "me", lease.id);
  ASSERT_EQ(client.keepalive(lease.id), 2);
  std::this_thread::sleep_for(600ms);
  cluster_->kill(leader_);
  const auto killed = std::chrono::steady_clock::now();
  double worst_ms = 0;
  int rounds = 0;
  while (std::chrono::steady_clock::now() - killed < 5s) {
    const auto t = std::chrono::steady_clock::now();
    int64_t ttl = -1;
    try {
      ttl = client.keepalive(lease.id);
    } catch (const EtcdError& e) {
      ADD_FAILURE() << "keepalive " << rounds << ": " << e.what();
    }
    const double took = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
    if (rounds++ == 0)
      std::printf("etcd: the keepalive sent as the leader %s was killed was answered after %.1f ms\n",
                  cluster_->member(leader_).name().c_str(), took);
    worst_ms = std::max(worst_ms, took);
    EXPECT_EQ(ttl, 2) << "keepalive " << rounds;
    std::this_thread::sleep_until(t + 666ms);  // TTL/3, as the membership thread
  }
  std::printf("etcd: %d keepalives over 5 s after the kill, the slowest %.1f ms\n", rounds, worst_ms);
  EXPECT_NE(client.endpoint(), cluster_->member(leader_).endpoint());
  ASSERT_EQ(client.get(prefix_ + "member").kvs.size(), 1u) << "the lease expired";
  EXPECT_EQ(client.get(prefix_ + "member").kvs[0].lease, lease.id);
  client.revoke(lease.id);
}

}  // namespace
}  // namespace inception::test
