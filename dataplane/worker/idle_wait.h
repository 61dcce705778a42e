// How an idle worker sleeps: until a guest kicks, or a timeout.
//
// A polling worker keeps guest notifications off (the guest never pays a
// kick, the switch never a syscall). After `spin_polls` empty iterations
// the worker arms: it asks every vhost-user queue it polls for kicks
// (rte_vhost_enable_guest_notification), registers the queues' kick
// eventfds in its epoll set, looks once more for frames that arrived before
// the guest saw the request, and sleeps in epoll_pwait2 offline for RCU.
// The first kick wakes it at once, instead of at the end of a timed sleep;
// on waking it turns notifications off again. Ports without a kick fd
// (ethdevs: af_packet, TAP) are caught by the timeout, which doubles up to
// max_sleep_us. When every queue can wake the worker, the timeout may grow
// to max_kicked_sleep_us. What no kick announces rings the worker's
// doorbell (an eventfd in the same set): a new snapshot, a frame the
// control thread injects, a guest that attaches or enables a queue (so a
// vhost queue with no guest yet counts as one that wakes the worker).
//
// Kick fds are registered edge-triggered and never read: the eventfd's
// counter only grows, and every guest write wakes the epoll set once. An fd
// closed by rte_vhost (guest gone) leaves the set by itself.
#pragma once

#include <cstdint>

#include "dataplane/snapshot.h"

namespace inception {

class IdleWait {
 public:
  // `doorbell`: an eventfd the control thread writes to wake the worker, or -1.
  explicit IdleWait(int doorbell);
  ~IdleWait();
  IdleWait(const IdleWait&) = delete;
  IdleWait& operator=(const IdleWait&) = delete;

  struct Armed {
    bool may_sleep;   // false: a queue already holds frames
    bool all_kicked;  // every polled queue wakes the worker when a frame comes
  };
  // Online: asks for kicks on the vhost queues of `worker`'s poll list.
  Armed arm(const Snapshot& snapshot, unsigned worker) noexcept;
  // Offline: sleeps until a kick or `timeout_us`.
  void wait(uint32_t timeout_us) noexcept;
  // Online, with the snapshot current after the sleep: notifications off.
  void disarm(const Snapshot& snapshot, unsigned worker) noexcept;

 private:
  int epoll_fd_ = -1;
};

}  // namespace inception
