#include "control/signals.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "inception/errors.h"
#include "inception/log.h"

namespace inception {

namespace {

sigset_t realtime_signals() {
  sigset_t set;
  sigemptyset(&set);
  // SIGRTMIN is a function call in glibc: it skips the two it keeps for
  // itself (thread cancellation, setxid), which must stay deliverable.
  for (int s = SIGRTMIN; s <= SIGRTMAX; ++s) sigaddset(&set, s);
  return set;
}

}  // namespace

ProcessSignals::ProcessSignals() {
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  sigset_t blocked = realtime_signals();
  sigaddset(&blocked, SIGINT);
  sigaddset(&blocked, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // The TAP driver has the kernel queue a real-time signal per received
  // batch. When the queue of pending signals is full (RLIMIT_SIGPENDING,
  // reached by a flood from a kernel port on a busy host), the kernel sends
  // SIGIO instead, whose default action ends the process. Ignoring it loses
  // nothing: the real-time signals already queued still wake the driver,
  // and its receive loop reads the TAP queue until it is empty.
  signal(SIGIO, SIG_IGN);

  stop_fd_ = signalfd(-1, &stop, SFD_CLOEXEC);
  if (stop_fd_ < 0) throw std::runtime_error("signalfd: " + errno_text(errno));
  wake_fd_ = eventfd(0, EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    const int err = errno;
    close(stop_fd_);
    throw std::runtime_error("eventfd: " + errno_text(err));
  }
  thread_ = std::thread([this] { run_handlers(); });
}

ProcessSignals::~ProcessSignals() {
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) != sizeof(one)) log::warning("cannot stop the signals thread");
  thread_.join();
  close(wake_fd_);
  close(stop_fd_);
}

void ProcessSignals::run_handlers() {
  pthread_setname_np(pthread_self(), "signals");
  const sigset_t realtime = realtime_signals();
  pthread_sigmask(SIG_UNBLOCK, &realtime, nullptr);
  // Handlers run on this thread while it waits here; each one ends the
  // poll with EINTR, which is the point. (ENOMEM, the only other error poll
  // can return for one valid descriptor, is transient.)
  pollfd wake{wake_fd_, POLLIN, 0};
  while (poll(&wake, 1, -1) <= 0) {
  }
}

}  // namespace inception
