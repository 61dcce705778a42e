#include "control/control_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include "inception/errors.h"
#include "inception/log.h"

namespace inception {

namespace {

constexpr size_t kMaxRequestBytes = 1 << 20;

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

}  // namespace

ControlServer::ControlServer(std::string path, Handler handler) : path_(std::move(path)), handler_(std::move(handler)) {
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
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) fail(path_, errno_text(errno));
  if (bind(listen_fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    close(listen_fd_);
    fail(path_, std::string("bind: ") + errno_text(err));
  }
  chmod(path_.c_str(), 0660);
  if (listen(listen_fd_, 16) != 0) {
    const int err = errno;
    close(listen_fd_);
    unlink(path_.c_str());
    fail(path_, std::string("listen: ") + errno_text(err));
  }
  wake_fd_ = eventfd(0, EFD_CLOEXEC);
  thread_ = std::thread([this] { serve(); });
}

ControlServer::~ControlServer() {
  const uint64_t one = 1;
  if (write(wake_fd_, &one, sizeof(one)) < 0) log::warning("control socket: cannot wake the server thread");
  thread_.join();
  close(listen_fd_);
  close(wake_fd_);
  unlink(path_.c_str());
}

void ControlServer::serve() {
  pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      log::error("control socket {}: poll: {}", path_, errno_text(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if ((fds[0].revents & POLLIN) == 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    serve_one(fd);
    close(fd);
  }
}

void ControlServer::serve_one(int fd) {
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  std::string request;
  char buffer[4096];
  while (request.find('\n') == std::string::npos) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    request.append(buffer, static_cast<size_t>(n));
    if (request.size() > kMaxRequestBytes) {
      log::warning("control socket: request larger than {} bytes refused", kMaxRequestBytes);
      return;
    }
  }
  if (request.empty()) return;
  const std::string response = handler_(request.substr(0, request.find('\n'))) + "\n";
  for (size_t off = 0; off < response.size();) {
    const ssize_t n = send(fd, response.data() + off, response.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

}  // namespace inception
