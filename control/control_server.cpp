#include "control/control_server.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "control/protocol.h"
#include "inception/errors.h"
#include "inception/log.h"

namespace inception {

namespace {

using namespace std::chrono_literals;

// Connections accepted per loop iteration: under a connect flood the loop
// still gets round to reading the requests it has.
constexpr int kAcceptBatch = 64;
// Out of descriptors, accept() fails while the listening socket stays
// readable; stop polling it this long rather than spin.
constexpr auto kAcceptPause = 100ms;
constexpr auto kWarningInterval = 10s;

[[noreturn]] void fail(const std::string& path, const std::string& cause) {
  throw std::runtime_error("control socket " + path + ": " + cause);
}

sockaddr_un address_of(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) fail(path, "path is too long");
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  return addr;
}

std::string error_line(const std::string& message) {
  return to_wire(make_error(message)) + "\n";
}

std::string duration_text(std::chrono::milliseconds d) {
  return d.count() % 1000 == 0 ? fmt::format("{} s", d.count() / 1000) : fmt::format("{} ms", d.count());
}

}  // namespace

bool ControlServer::Throttle::allow(Clock::time_point now, std::string& note) {
  if (now < next_) {
    ++held_;
    return false;
  }
  note = held_ == 0 ? std::string() : fmt::format(" ({} more since the last report)", held_);
  held_ = 0;
  next_ = now + kWarningInterval;
  return true;
}

ControlServer::ControlServer(std::string path, Handler handler, ControlLimits limits)
    : path_(std::move(path)), handler_(std::move(handler)), limits_(limits) {
  namespace fs = std::filesystem;
  const sockaddr_un addr = address_of(path_);
  std::error_code ec;
  const fs::path parent = fs::path(path_).parent_path();
  if (!parent.empty()) {
    fs::create_directories(parent, ec);
    if (ec) fail(path_, "cannot create directory " + parent.string() + ": " + ec.message());
  }
  // A socket file left by a crashed daemon is removed; one that answers
  // belongs to a running daemon, which we must not steal it from.
  struct stat st {};
  if (lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) fail(path_, "exists and is not a socket");
    const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool live = connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
    close(probe);
    if (live) fail(path_, "another inceptiond is already running there");
    unlink(path_.c_str());
  }
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) fail(path_, errno_text(errno));
  if (bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    close(listen_fd_);
    fail(path_, std::string("bind: ") + errno_text(err));
  }
  chmod(path_.c_str(), 0660);
  // A deep backlog: connections wait there only until the loop's next turn.
  if (listen(listen_fd_, SOMAXCONN) != 0) {
    const int err = errno;
    close(listen_fd_);
    unlink(path_.c_str());
    fail(path_, std::string("listen: ") + errno_text(err));
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC);
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  epoll_event listen_event{EPOLLIN, {.fd = listen_fd_}};
  epoll_event wake_event{EPOLLIN, {.fd = wake_fd_}};
  if (wake_fd_ < 0 || epoll_fd_ < 0 || epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &listen_event) != 0 ||
      epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &wake_event) != 0) {
    const int err = errno;
    for (const int fd : {listen_fd_, wake_fd_, epoll_fd_})
      if (fd >= 0) close(fd);
    unlink(path_.c_str());
    fail(path_, std::string("epoll: ") + errno_text(err));
  }
  thread_ = std::thread([this] { serve(); });
}

ControlServer::~ControlServer() {
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) log::warning("control socket: cannot wake the server thread");
  thread_.join();
  for (const auto& [fd, connection] : connections_) close(fd);
  close(epoll_fd_);
  close(listen_fd_);
  close(wake_fd_);
  unlink(path_.c_str());
}

void ControlServer::serve() {
  std::array<epoll_event, 64> events;
  for (;;) {
    const int n = epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), next_timeout_ms(Clock::now()));
    if (n < 0) {
      if (errno == EINTR) continue;
      log::error("control socket {}: epoll_wait: {}", path_, errno_text(errno));
      return;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_fd_) return;
      if (fd == listen_fd_) {
        accept_connections();
        continue;
      }
      // A descriptor closed earlier in this batch may be open again as a
      // newer connection; its event then costs one read that finds nothing.
      const auto it = connections_.find(fd);
      if (it == connections_.end()) continue;
      if (it->second.state == State::kReading)
        on_readable(fd);
      else
        on_writable(fd);
    }
    expire_connections();
    if (!accepting_ && Clock::now() >= resume_accepting_) {
      epoll_event listen_event{EPOLLIN, {.fd = listen_fd_}};
      accepting_ = epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &listen_event) == 0;
      if (!accepting_) resume_accepting_ = Clock::now() + kAcceptPause;
    }
  }
}

int ControlServer::next_timeout_ms(Clock::time_point now) const {
  std::optional<Clock::time_point> next;
  if (!accepting_) next = resume_accepting_;
  for (const auto& [fd, c] : connections_)
    if (!next || c.deadline < *next) next = c.deadline;
  if (!next) return -1;
  const auto wait = std::chrono::ceil<std::chrono::milliseconds>(*next - now).count();
  return static_cast<int>(std::clamp<decltype(wait)>(wait, 0, 60'000));
}

void ControlServer::accept_connections() {
  for (int i = 0; i < kAcceptBatch; ++i) {
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN) return;
      const int err = errno;
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
      accepting_ = false;
      resume_accepting_ = Clock::now() + kAcceptPause;
      if (std::string note; accept_warnings_.allow(Clock::now(), note))
        log::warning("control socket {}: accept: {}; not accepting for {} ms{}", path_, errno_text(err),
                     std::chrono::milliseconds(kAcceptPause).count(), note);
      return;
    }
    if (connections_.size() >= limits_.max_connections) make_room();
    const auto now = Clock::now();
    Connection& c = connections_[fd];
    c.opened = now;
    c.deadline = now + limits_.deadline;
    epoll_event event{EPOLLIN, {.fd = fd}};
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) {
      log::warning("control socket {}: epoll: {}", path_, errno_text(errno));
      close_connection(fd);
      continue;
    }
    // inceptionctl writes its request right after connecting: it is often
    // here already, and then served before anything else can displace it.
    on_readable(fd);
  }
}

void ControlServer::make_room() {
  const auto oldest = std::min_element(connections_.begin(), connections_.end(),
                                       [](const auto& a, const auto& b) { return a.second.opened < b.second.opened; });
  if (oldest == connections_.end()) return;
  const auto now = Clock::now();
  if (std::string note; cap_warnings_.allow(now, note))
    log::warning("control socket {}: {} connections open, the limit; closing the oldest, open for {} ms{}", path_,
                 connections_.size(),
                 std::chrono::duration_cast<std::chrono::milliseconds>(now - oldest->second.opened).count(), note);
  close_with_error(oldest->first, fmt::format("inceptiond has {} control connections open; this one was the oldest",
                                              limits_.max_connections));
}

void ControlServer::on_readable(int fd) {
  Connection& c = connections_.at(fd);
  std::array<char, 65536> buffer;
  for (;;) {
    const ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) close_connection(fd);
      return;
    }
    if (n == 0) {
      // EOF: a request without its newline is still a request.
      if (c.in.empty())
        close_connection(fd);
      else
        answer(fd);
      return;
    }
    const size_t searched = c.in.size();
    c.in.append(buffer.data(), static_cast<size_t>(n));
    const size_t newline = c.in.find('\n', searched);
    const size_t line_length = newline == std::string::npos ? c.in.size() : newline;
    if (line_length > limits_.max_request_bytes) {
      if (std::string note; size_warnings_.allow(Clock::now(), note))
        log::warning("control socket {}: refused a request longer than {} bytes{}", path_, limits_.max_request_bytes,
                     note);
      c.in.clear();
      c.in.shrink_to_fit();
      // The rest is never read: closing with it unread resets the
      // client's side, but only after it has read the reply.
      c.state = State::kWriting;
      c.out = error_line(fmt::format("request is longer than {} bytes", limits_.max_request_bytes));
      on_writable(fd);
      return;
    }
    if (newline != std::string::npos) {
      c.in.resize(newline);
      answer(fd);
      return;
    }
  }
}

void ControlServer::answer(int fd) {
  Connection& c = connections_.at(fd);
  std::string reply;
  try {
    reply = handler_(c.in) + "\n";
  } catch (const std::exception& e) {
    log::error("control socket {}: request handler failed: {}", path_, e.what());
    reply = error_line(std::string("internal error: ") + e.what());
  } catch (...) {
    log::error("control socket {}: request handler failed", path_);
    reply = error_line("internal error");
  }
  c.in = std::string();
  c.state = State::kWriting;
  c.out = std::move(reply);
  c.deadline = Clock::now() + limits_.deadline;
  on_writable(fd);
}

void ControlServer::on_writable(int fd) {
  Connection& c = connections_.at(fd);
  while (c.written < c.out.size()) {
    const ssize_t n = send(fd, c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) break;
      // Most replies fit the socket buffer at once; a large one waits for
      // the client to read, until its deadline.
      epoll_event event{EPOLLOUT, {.fd = fd}};
      if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &event) == 0) return;
      break;
    }
    c.written += static_cast<size_t>(n);
  }
  close_connection(fd);
}

void ControlServer::expire_connections() {
  const auto now = Clock::now();
  std::vector<int> expired;
  for (const auto& [fd, c] : connections_)
    if (c.deadline <= now) expired.push_back(fd);
  for (const int fd : expired) {
    if (connections_.at(fd).state == State::kReading) {
      // A long request may have kept the loop busy past this deadline while
      // the whole request sat in the socket: take it before judging.
      on_readable(fd);
      const auto it = connections_.find(fd);
      if (it == connections_.end() || it->second.state != State::kReading) continue;
      if (std::string note; deadline_warnings_.allow(now, note))
        log::warning("control socket {}: closed a connection that sent no complete request within {}{}", path_,
                     duration_text(limits_.deadline), note);
      close_with_error(fd, fmt::format("no complete request within {}", duration_text(limits_.deadline)));
    } else {
      if (std::string note; deadline_warnings_.allow(now, note))
        log::warning("control socket {}: closed a connection that did not take its reply within {}{}", path_,
                     duration_text(limits_.deadline), note);
      close_connection(fd);
    }
  }
}

void ControlServer::close_connection(int fd) {
  // close() takes the descriptor out of the epoll set.
  close(fd);
  connections_.erase(fd);
}

void ControlServer::close_with_error(int fd, const std::string& message) {
  // Not into the middle of a reply already under way.
  if (connections_.at(fd).state == State::kReading) {
    const std::string line = error_line(message);
    if (send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
      // The client is gone or not reading; it learns from the close.
    }
  }
  close_connection(fd);
}

}  // namespace inception
