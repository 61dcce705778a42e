// What the membership thread's one watch hands on besides members: every
// key under the cluster's prefix reaches a subscriber, which picks its own.
// One watch, one session, one resume/resync/compaction logic for every part
// of cluster mode (control/cluster/membership.cpp), instead of one loop per
// part of the prefix.
//
// Threads: every method runs on the membership thread.
#pragma once

#include <cstdint>
#include <vector>

#include "control/cluster/etcd_client.h"

namespace inception::cluster {

class KeySubscriber {
 public:
  virtual ~KeySubscriber() = default;
  // This member's lease is new (first registration, or etcd forgot the old
  // one): what was written under the old one is gone or going.
  virtual void lease_changed(int64_t lease) = 0;
  // Everything under the prefix, after a (re)connect that lost the watch's
  // thread or a compaction: the subscriber's view is replaced by it.
  virtual void resync(const std::vector<KeyValue>& kvs) = 0;
  // One change under the prefix, in revision order.
  virtual void on_event(const WatchEvent& event) = 0;
  // Every watch poll (at most kWatchPollMs apart) while connected: the time
  // to write this member's observed state with `session` under `lease`.
  // May throw EtcdError: the membership thread then treats etcd as lost.
  virtual void tick(EtcdClient& session, int64_t lease) = 0;
};

// Hands every call on to several subscribers, in order.
class Subscribers : public KeySubscriber {
 public:
  explicit Subscribers(std::vector<KeySubscriber*> subscribers) : subscribers_(std::move(subscribers)) {}
  void lease_changed(int64_t lease) override {
    for (KeySubscriber* s : subscribers_) s->lease_changed(lease);
  }
  void resync(const std::vector<KeyValue>& kvs) override {
    for (KeySubscriber* s : subscribers_) s->resync(kvs);
  }
  void on_event(const WatchEvent& event) override {
    for (KeySubscriber* s : subscribers_) s->on_event(event);
  }
  void tick(EtcdClient& session, int64_t lease) override {
    for (KeySubscriber* s : subscribers_) s->tick(session, lease);
  }

 private:
  std::vector<KeySubscriber*> subscribers_;
};

}  // namespace inception::cluster
