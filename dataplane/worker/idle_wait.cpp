#include "dataplane/worker/idle_wait.h"

#include <rte_atomic.h>
#include <rte_vhost.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "vhost/vhost_io.h"

namespace inception {

namespace {

// Calls `visit(vid, vring)` for each enabled guest TX vring `worker` polls.
template <typename Visit>
void for_each_polled_vring(const Snapshot& snapshot, unsigned worker, Visit&& visit) noexcept {
  for (const PollEntry& entry : snapshot.poll[worker]) {
    const PortView& port = snapshot.ports[entry.port];
    if (port.kind != PortKind::kVhost) continue;
    vhost::VhostDevice& dev = *port.vhost;
    if ((dev.rx_queue_mask.load(std::memory_order_relaxed) & (1u << entry.queue)) == 0) continue;
    const int vid = dev.vid.load(std::memory_order_acquire);
    if (vid < 0) continue;
    visit(vid, vhost::guest_tx_vring(entry.queue));
  }
}

}  // namespace

IdleWait::IdleWait(int doorbell) : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {
  if (epoll_fd_ < 0 || doorbell < 0) return;
  // Edge-triggered and never read, like the kick fds: each write wakes once.
  epoll_event event{};
  event.events = EPOLLIN | EPOLLET;
  event.data.fd = doorbell;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, doorbell, &event);
}

IdleWait::~IdleWait() {
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

IdleWait::Armed IdleWait::arm(const Snapshot& snapshot, unsigned worker) noexcept {
  if (epoll_fd_ < 0) return {true, false};  // no epoll: timed sleeps only
  // A guest queue without a kick fd cannot wake the worker.
  bool all_kick = true;
  for_each_polled_vring(snapshot, worker, [&](int vid, uint16_t vring) {
    rte_vhost_vring info{};
    if (rte_vhost_get_vhost_vring(vid, vring, &info) != 0 || info.kickfd < 0) {
      all_kick = false;
      return;
    }
    rte_vhost_enable_guest_notification(vid, vring, 1);
    epoll_event event{};
    event.events = EPOLLIN | EPOLLET;
    event.data.fd = info.kickfd;
    // EEXIST: registered by an earlier sleep; the registration stays.
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, info.kickfd, &event);
  });
  // The guest may have queued frames before it saw the request for a kick:
  // look once more, after the request is visible.
  rte_smp_mb();
  bool empty = true;
  for_each_polled_vring(snapshot, worker, [&](int vid, uint16_t vring) {
    if (rte_vhost_rx_queue_count(vid, vring) > 0) empty = false;
  });
  // Every poll entry wakes the worker when a frame can come: a guest queue
  // that kicks, or a vhost-user queue with no guest or not enabled yet
  // (for_each_polled_vring skips those), whose attach or enable rings the
  // doorbell (vhost guest change hook). An ethdev (af_packet, TAP) does not.
  const bool all_vhost =
      std::all_of(snapshot.poll[worker].begin(), snapshot.poll[worker].end(),
                  [&](const PollEntry& e) { return snapshot.ports[e.port].kind == PortKind::kVhost; });
  return {empty, all_kick && all_vhost};
}

void IdleWait::wait(uint32_t timeout_us) noexcept {
  const timespec timeout{static_cast<time_t>(timeout_us / 1000000), static_cast<long>(timeout_us % 1000000) * 1000};
  if (epoll_fd_ < 0) {
    nanosleep(&timeout, nullptr);
    return;
  }
  epoll_event events[16];
  epoll_pwait2(epoll_fd_, events, 16, &timeout, nullptr);
}

void IdleWait::disarm(const Snapshot& snapshot, unsigned worker) noexcept {
  for_each_polled_vring(snapshot, worker,
                        [](int vid, uint16_t vring) { rte_vhost_enable_guest_notification(vid, vring, 0); });
}

}  // namespace inception
