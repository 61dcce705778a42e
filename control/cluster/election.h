// The gateway election's state machine (docs/cluster.md#gateway-high-availability),
// apart from etcd and the switch so that its rules are unit tested.
//
// One gateway-role member per data center is active: the one whose lease
// holds <prefix>gateway_leaders/<dc>. etcd deletes the key no earlier than
// TTL after the last keepalive etcd *received*, which is after we *sent*
// it. So a leader that counts its deadline from the send time of its last
// answered keepalive (or of the grant, before any), minus a margin for
// the time it takes to withdraw, is inactive before etcd can let anyone
// else win the key: two active gateways would need etcd to expire a lease
// early. A partitioned leader therefore fences itself on its own clock,
// whether or not it can reach etcd to learn that it lost.
//
// Threads: not thread-safe; the gateway thread owns it.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace inception::cluster {

class GatewayElection {
 public:
  using Clock = std::chrono::steady_clock;

  // `margin`: how long before etcd could expire the lease this side stops
  // counting itself active.
  explicit GatewayElection(std::chrono::milliseconds margin) : margin_(margin) {}

  // The txn created the leader key under `lease`, granted with `ttl` by a
  // grant request sent at `grant_sent`.
  void won(int64_t lease, std::chrono::milliseconds ttl, Clock::time_point grant_sent) {
    lease_ = lease;
    ttl_ = ttl;
    deadline_ = grant_sent + ttl - margin_;
  }
  // A keepalive of the current lease, sent at `sent`, was answered with a
  // positive TTL. An answer for an older lease changes nothing.
  void renewed(int64_t lease, Clock::time_point sent) {
    if (lease != lease_ || lease_ == 0) return;
    deadline_ = std::max(deadline_, sent + ttl_ - margin_);
  }
  // The lease is gone (keepalive answered TTL 0), the key is someone
  // else's, or it was deleted under us: inactive at once.
  void lost() { lease_ = 0; }
  // Inactive once the deadline passed without a renewal. True when this
  // call is the one that ended the term (the caller withdraws).
  bool expire(Clock::time_point now) {
    if (lease_ == 0 || now < deadline_) return false;
    lease_ = 0;
    return true;
  }

  bool active(Clock::time_point now) const { return lease_ != 0 && now < deadline_; }
  int64_t lease() const { return lease_; }
  Clock::time_point deadline() const { return deadline_; }

 private:
  const std::chrono::milliseconds margin_;
  int64_t lease_ = 0;  // non-zero while we hold the leader key
  std::chrono::milliseconds ttl_{0};
  Clock::time_point deadline_{};
};

}  // namespace inception::cluster
