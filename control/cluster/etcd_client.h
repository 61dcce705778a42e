// A small etcd v3 client over etcd's HTTP/JSON gateway (grpc-gateway), with
// libcurl and nlohmann/json: what cluster mode needs and nothing more.
//
// Why the gateway: Debian 12 packages no C++ etcd client, and the gateway
// speaks the same v3 API as gRPC (`/v3/kv/range`, `/v3/kv/put`,
// `/v3/kv/deleterange`, `/v3/kv/txn`, `/v3/lease/*`, `/v3/watch`). Its
// encoding: keys and values are base64, int64s are JSON strings, fields at
// their zero value are left out (a missing "count" is 0).
//
// Endpoints: a request goes to the endpoint that answered last; when it
// cannot be reached (connect refused or timed out, connection reset, no
// answer within the request timeout) or answers gRPC's Unavailable (no
// leader, stopping, timed out inside etcd), the next one is tried, once
// around the list. Any other error answer (HTTP status, etcd's
// {"error":...}) is not retried elsewhere: every member would say the same.
// A watch whose member goes away (killed: the connection closes; stopped:
// the gateway says so) continues on the next endpoint from the revision
// after its last event, unseen by the caller.
//
// Threads: one client per thread. Every call blocks for at most the connect
// timeout plus the request timeout per endpoint; `watch` blocks until it is
// stopped, cancelled or no endpoint can carry it, and `stop()` — the one
// method another thread may call — ends it within `kWatchPollMs`.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace inception::cluster {

// "etcd http://127.0.0.1:2379: Failed to connect to 127.0.0.1 port 2379 ...:
// Connection refused". `unreachable` is true when no endpoint could be
// reached at all (as opposed to etcd refusing the request).
class EtcdError : public std::runtime_error {
 public:
  EtcdError(const std::string& what, bool unreachable) : std::runtime_error(what), unreachable_(unreachable) {}
  bool unreachable() const noexcept { return unreachable_; }

 private:
  bool unreachable_;
};

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

struct RangeResult {
  int64_t revision = 0;  // the store's revision when the range was read
  std::vector<KeyValue> kvs;
};

struct Lease {
  int64_t id = 0;
  int64_t ttl_s = 0;
};

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;                   // a deletion carries the key and mod_revision only
  std::optional<KeyValue> prev;  // asked for with prev_kv; absent if compacted away
};

// Why a watch returned.
struct WatchEnd {
  enum class Reason {
    kStopped,    // stop() was called, or `keep_going` said no
    kCompacted,  // start_revision is older than the oldest kept: read everything again
    kCancelled,  // etcd cancelled the watch (e.g. it is shutting down)
    kBroken,     // the stream broke or could not be opened (see `error`)
  };
  Reason reason = Reason::kStopped;
  int64_t compact_revision = 0;  // kCompacted: the oldest revision still kept
  int64_t last_revision = 0;     // the highest revision the watch reported (events or progress)
  std::string error;
};

// The smallest key after every key that starts with `prefix`: etcd's
// range_end for a prefix ("/a/" -> "/a0").
std::string prefix_end(std::string_view prefix);

std::string base64_encode(std::string_view bytes);
// nullopt if `text` is not padded base64.
std::optional<std::string> base64_decode(std::string_view text);

class EtcdClient {
 public:
  struct Options {
    std::chrono::milliseconds connect_timeout{1000};
    std::chrono::milliseconds request_timeout{2000};
  };
  // How often a watch looks at its stop flag and calls `tick`.
  static constexpr int kWatchPollMs = 100;

  // `endpoints`: "http://HOST:PORT", at least one.
  explicit EtcdClient(std::vector<std::string> endpoints, Options options);
  explicit EtcdClient(std::vector<std::string> endpoints) : EtcdClient(std::move(endpoints), Options{}) {}
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // The endpoint of the last successful exchange (or the first one).
  std::string endpoint() const;

  RangeResult get(std::string_view key);
  RangeResult get_prefix(std::string_view prefix);
  // Returns the revision of the write. `lease` 0: none.
  int64_t put(std::string_view key, std::string_view value, int64_t lease = 0);
  // Returns how many keys were deleted.
  int64_t del(std::string_view key);
  int64_t del_prefix(std::string_view prefix);
  // Writes the key only if it does not exist (compare create_revision == 0
  // in one transaction). Returns whether this call created it.
  bool create(std::string_view key, std::string_view value, int64_t lease = 0);

  Lease grant(int64_t ttl_s);
  // One keepalive round trip. Returns the lease's new TTL; 0 if etcd no
  // longer knows the lease (expired or revoked: keys under it are gone).
  int64_t keepalive(int64_t lease_id);
  void revoke(int64_t lease_id);

  // Streams events for `prefix` from `start_revision` (0: from now), with
  // previous values, until stopped, cancelled, compacted or broken (every
  // endpoint tried since the last one that carried the watch).
  // `on_event` runs on this thread for every event, in revision order;
  // `tick` runs at least every kWatchPollMs (and may return false to stop
  // the watch, e.g. when a keepalive failed). Neither may call this client.
  WatchEnd watch(std::string_view prefix, int64_t start_revision,
                 const std::function<void(const WatchEvent&)>& on_event, const std::function<bool()>& tick = {});
  // Any thread: ends a running watch (and any later one until reset_stop).
  void stop() noexcept;
  void reset_stop() noexcept;

 private:
  std::string post(const std::string& path, const std::string& body);

  std::vector<std::string> endpoints_;
  Options options_;
  size_t current_ = 0;
  void* curl_ = nullptr;  // CURL*, reused so the connection stays open
  // Set by stop() from any thread, read by the watch loop: relaxed is
  // enough, it orders nothing else. `wake_` is the CURLM* of a running
  // watch, which stop() wakes with curl_multi_wakeup.
  std::atomic<bool> stop_{false};
  std::atomic<void*> wake_{nullptr};
};

}  // namespace inception::cluster
