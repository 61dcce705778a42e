// The control socket: a unix stream socket inceptionctl connects to.
//
// Theory of operation. A connection carries one request line and gets one
// reply line, then it is closed:
//
//   accept -> reading (until '\n', or EOF) -> handler -> writing -> closed
//
// One thread runs an epoll loop over the listening socket and every open
// connection, all non-blocking, each connection with its own buffers. Only
// I/O is multiplexed: a complete request runs the handler on this thread, one
// request at a time, so the controller sees requests in turn as it always
// has. What a client can cost the daemon is bounded, and no client ever
// waits for another one's bytes:
//
//  * time: a connection has ControlLimits::deadline from accept to deliver
//    its whole request, and as long again from the handler's answer to take
//    its reply. A slow, silent or non-reading client is closed at its
//    deadline (a client trickling one byte at a time gains nothing).
//  * memory: a request line longer than max_request_bytes is answered with
//    an error and the connection closed without reading the rest.
//  * descriptors: at most max_connections are open. One more closes the
//    oldest: a real request takes milliseconds, so the oldest connection is
//    the one most likely stalled, and a client hoarding idle connections
//    displaces its own instead of locking inceptionctl out. (Refusing the
//    newest instead would let 256 idle connections, renewed every deadline,
//    shut the door for good.)
//  * the daemon itself: an exception from the handler becomes an error
//    reply. Refusals are logged as warnings, at most one per kind every
//    10 s, so a flood of bad clients cannot flood the log either.
//
// The server's own replies (oversized request, deadline, eviction) use the
// control protocol's error form, {"ok": false, "error": "..."}.
//
// Threads: construct and destroy from one thread. The server runs on a
// thread of its own, the only one that calls the handler.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <thread>
#include <unordered_map>

namespace inception {

struct ControlLimits {
  std::chrono::milliseconds deadline{5000};
  size_t max_request_bytes = size_t{1} << 20;
  size_t max_connections = 256;
};

class ControlServer {
 public:
  using Handler = std::function<std::string(const std::string& request_line)>;

  // Creates the socket's directory if needed and binds. Throws
  // std::runtime_error if another inceptiond answers on `path` or binding fails.
  ControlServer(std::string path, Handler handler, ControlLimits limits = {});
  // Stops serving, closes every connection and removes the socket file.
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

 private:
  using Clock = std::chrono::steady_clock;

  // A warning a misbehaving client could repeat without end: logged at most
  // once per interval, with a count of those held back.
  class Throttle {
   public:
    // True if a warning may be logged now; then `note` says how many were
    // held back since the last one (empty if none).
    bool allow(Clock::time_point now, std::string& note);

   private:
    Clock::time_point next_{};
    size_t held_ = 0;
  };

  enum class State { kReading, kWriting };
  struct Connection {
    State state = State::kReading;
    Clock::time_point opened;
    Clock::time_point deadline;
    std::string in;
    std::string out;
    size_t written = 0;
  };

  void serve();
  int next_timeout_ms(Clock::time_point now) const;
  void accept_connections();
  void make_room();
  void on_readable(int fd);
  void answer(int fd);
  void on_writable(int fd);
  void expire_connections();
  void close_connection(int fd);
  // Best effort: one non-blocking write of an error line (unless a reply is
  // under way), then close.
  void close_with_error(int fd, const std::string& message);

  std::string path_;
  Handler handler_;
  ControlLimits limits_;
  int listen_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: tells the thread to stop
  int epoll_fd_ = -1;
  bool accepting_ = true;
  Clock::time_point resume_accepting_{};
  std::unordered_map<int, Connection> connections_;  // by descriptor
  Throttle deadline_warnings_, size_warnings_, cap_warnings_, accept_warnings_;
  std::thread thread_;
};

}  // namespace inception
