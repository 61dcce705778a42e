// Which thread of inceptiond takes which signal.
//
// Theory of operation
//  * SIGINT and SIGTERM are blocked in every thread and read by the control
//    loop from a signalfd (stop_fd()): shutdown is an event of the loop, not
//    an interruption of whatever a thread was doing.
//  * Real-time signals are raised by DPDK's TAP PMD (kernel ports and the
//    underlay's host interface): it asks the kernel (F_SETSIG + O_ASYNC) for
//    one per frame queued on a TAP, and its handler only bumps the counter
//    that tells rx_burst there is something to read. Such a signal is
//    process-directed: the kernel hands it to any thread that does not block
//    it, and the blocking system call it interrupts there returns EINTR.
//    civetweb (the metrics server) takes EINTR while it waits for a request
//    as a broken connection and closes it unanswered: with a flood into a
//    kernel port, 7% of curl's scrapes came back empty. So every thread
//    blocks the real-time signals too, except one "signals" thread that
//    exists only to run their handlers. Workers are never interrupted either.
//
// Threads: construct first in main, before the EAL or anything else starts a
// thread, so that every thread inherits the mask; destroy last.
#pragma once

#include <thread>

namespace inception {

class ProcessSignals {
 public:
  // Throws std::runtime_error if the signalfd or the thread cannot be made.
  ProcessSignals();
  ~ProcessSignals();
  ProcessSignals(const ProcessSignals&) = delete;
  ProcessSignals& operator=(const ProcessSignals&) = delete;

  // Readable when SIGINT or SIGTERM arrived; read a signalfd_siginfo.
  int stop_fd() const noexcept { return stop_fd_; }

 private:
  void run_handlers();
  int stop_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: tells the signals thread to exit
  std::thread thread_;
};

}  // namespace inception
