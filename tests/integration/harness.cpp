#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace inception::test {

namespace fs = std::filesystem;

std::string binary(const char* env_name) {
  const char* value = std::getenv(env_name);
  if (value == nullptr || *value == '\0')
    throw std::runtime_error(std::string("environment variable ") + env_name + " is not set (run through meson test)");
  return value;
}

namespace {

// Long-running children (daemons, peers). When meson kills a test that
// timed out, destructors do not run: without this a deadlocked daemon and
// its peers would outlive the test and starve the next ones of CPU.
std::array<std::atomic<pid_t>, 256> live_children{};

void kill_live_children(int signal_number) {
  for (auto& child : live_children) {
    const pid_t pid = child.load();
    if (pid > 0) kill(pid, SIGKILL);
  }
  signal(signal_number, SIG_DFL);
  raise(signal_number);
}

void track_child(pid_t pid) {
  static const bool installed = [] {
    struct sigaction action {};
    action.sa_handler = kill_live_children;
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    return true;
  }();
  (void)installed;
  for (auto& child : live_children) {
    pid_t empty = 0;
    if (child.compare_exchange_strong(empty, pid)) return;
  }
}

void untrack_child(pid_t pid) {
  for (auto& child : live_children) {
    pid_t expected = pid;
    if (child.compare_exchange_strong(expected, 0)) return;
  }
}

std::vector<char*> c_argv(std::vector<std::string>& args) {
  std::vector<char*> out;
  for (auto& a : args) out.push_back(a.data());
  out.push_back(nullptr);
  return out;
}

void read_all(int fd, std::string& out) {
  char buffer[8192];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    out.append(buffer, static_cast<size_t>(n));
  }
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

CommandResult run(const std::vector<std::string>& argv_in, std::chrono::milliseconds timeout) {
  std::vector<std::string> argv = argv_in;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = -1;
  auto args = c_argv(argv);
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(out_pipe[1]);
  close(err_pipe[1]);
  CommandResult result;
  if (rc != 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    result.err = std::string("cannot run ") + argv[0] + ": " + std::strerror(rc);
    return result;
  }
  std::thread err_reader([&] { read_all(err_pipe[0], result.err); });
  std::thread out_reader([&] { read_all(out_pipe[0], result.out); });
  const auto deadline = Clock::now() + timeout;
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      result.err += "\n[harness: killed after timeout]";
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  out_reader.join();
  err_reader.join();
  close(out_pipe[0]);
  close(err_pipe[0]);
  result.exit_code = decode_status(status);
  return result;
}

CommandResult sh(const std::string& command, std::chrono::milliseconds timeout) {
  return run({"/bin/sh", "-c", command}, timeout);
}

std::string wait_for_listener(const std::string& protocol, int port) {
  const std::string flag = protocol == "udp" ? "u" : "t";
  return "for i in $(seq 100); do ss -Hln" + flag + " sport = :" + std::to_string(port) +
         " | grep -q . && break; sleep 0.1; done";
}

std::string udp_exchange(const std::string& host, int port, const std::string& payload, int source_port,
                         int wait_seconds) {
  static const char* const kClient = R"(
import socket, sys
host, port, payload, source_port, wait = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("", source_port))
s.settimeout(wait)
s.connect((host, port))
s.send((payload + "\n").encode())
try:
    sys.stdout.write(s.recv(65535).decode(errors="replace"))
except socket.timeout:
    sys.exit("no answer within %ds" % wait)
except OSError as e:
    sys.exit(e.strerror)
)";
  return "python3 -c '" + std::string(kClient) + "' " + host + " " + std::to_string(port) + " '" + payload + "' " +
         std::to_string(source_port) + " " + std::to_string(wait_seconds);
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds period) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(period);
  }
}

nlohmann::json named(const nlohmann::json& list, const std::string& name) {
  for (const auto& element : list)
    if (element.contains("name") && element["name"] == name) return element;
  return nullptr;
}

std::string ns_prefix() {
  const char* value = std::getenv("INCEPTION_NS_PREFIX");
  if (value == nullptr || *value == '\0') return "inct";
  const std::string prefix(value);
  if (prefix.size() > 6) throw std::runtime_error("INCEPTION_NS_PREFIX must be at most 6 characters");
  return prefix;
}

TempDir::TempDir(const std::string& tag) {
  std::string pattern = "/tmp/inception-" + tag + "-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
  chmod(path_.c_str(), 0755);
}

TempDir::~TempDir() {
  std::error_code ec;
  // Every DPDK process a test starts (daemons, peers) takes a file prefix
  // that begins with this directory's name; DPDK leaves its runtime
  // directory behind when the process exits. The processes are stopped by
  // now: they are owned by objects made after this one.
  const std::string tag = fs::path(path_).filename().string() + "-";
  for (fs::directory_iterator it("/var/run/dpdk", ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename().string().rfind(tag, 0) == 0) fs::remove_all(it->path(), ec);
  if (std::getenv("INCEPTION_KEEP_TMP") == nullptr) fs::remove_all(path_, ec);
}

Process::Process(const std::vector<std::string>& argv_in, const std::string& stderr_path, bool capture_stdout) {
  std::vector<std::string> argv = argv_in;
  int in_pipe[2], out_pipe[2];
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  if (capture_stdout)
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  else
    posix_spawn_file_actions_addopen(&actions, 1, stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  // Own process group: a test's Ctrl-C does not reach the daemon mid-test,
  // and the harness stops it in order.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  auto args = c_argv(argv);
  const int rc = posix_spawnp(&pid_, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(in_pipe[0]);
  close(out_pipe[1]);
  if (rc != 0) {
    close(in_pipe[1]);
    close(out_pipe[0]);
    throw std::runtime_error(std::string("cannot start ") + argv[0] + ": " + std::strerror(rc));
  }
  track_child(pid_);
  stdin_fd_ = in_pipe[1];
  stdout_fd_ = out_pipe[0];
  reader_thread_ = std::thread([this] { reader(); });
}

Process::~Process() {
  stop();
  if (stdin_fd_ >= 0) close(stdin_fd_);
  if (reader_thread_.joinable()) reader_thread_.join();
  close(stdout_fd_);
}

void Process::reader() {
  std::string partial;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(stdout_fd_, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    partial.append(buffer, static_cast<size_t>(n));
    std::lock_guard lock(mutex_);
    for (size_t nl; (nl = partial.find('\n')) != std::string::npos;) {
      lines_.push_back(partial.substr(0, nl));
      partial.erase(0, nl + 1);
    }
    cv_.notify_all();
  }
  std::lock_guard lock(mutex_);
  eof_ = true;
  cv_.notify_all();
}

bool Process::running() {
  if (exit_status_) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    exit_status_ = decode_status(status);
    untrack_child(pid_);
    return false;
  }
  return true;
}

void Process::write_line(const std::string& line) {
  const std::string data = line + "\n";
  if (stdin_fd_ < 0) return;
  // The child may have died; never let SIGPIPE kill the test.
  signal(SIGPIPE, SIG_IGN);
  if (write(stdin_fd_, data.data(), data.size()) < 0) return;
}

std::optional<std::string> Process::read_line(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!cv_.wait_for(lock, timeout, [&] { return !lines_.empty() || eof_; })) return std::nullopt;
  if (lines_.empty()) return std::nullopt;
  std::string line = std::move(lines_.front());
  lines_.pop_front();
  return line;
}

std::vector<std::string> Process::drain_lines() {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out(lines_.begin(), lines_.end());
  lines_.clear();
  return out;
}

int Process::stop(int signal_number, std::chrono::milliseconds timeout) {
  if (!running()) return *exit_status_;
  kill(pid_, signal_number);
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (!running()) return *exit_status_;
    std::this_thread::sleep_for(10ms);
  }
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_status_ = -1;
  untrack_child(pid_);
  return -1;
}

int free_tcp_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string http_get(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()))
      read_all(fd, response);
  }
  close(fd);
  const auto body = response.find("\r\n\r\n");
  return body == std::string::npos ? std::string() : response.substr(body + 4);
}

UnixClient::UnixClient(const std::string& path, std::chrono::milliseconds timeout) {
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  // A unix connect() blocks while the listener's backlog is full, for at
  // most the send timeout.
  const auto ms = timeout.count();
  timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>(ms % 1000 * 1000)};
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    close(fd_);
    throw std::runtime_error("connect " + path + ": " + std::strerror(err));
  }
  fcntl(fd_, F_SETFL, fcntl(fd_, F_GETFL) | O_NONBLOCK);
}

UnixClient::~UnixClient() {
  close(fd_);
}

size_t UnixClient::send(std::string_view bytes, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  size_t sent = 0;
  while (sent < bytes.size() && Clock::now() < deadline) {
    pollfd p{fd_, POLLIN | POLLOUT, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (poll(&p, 1, static_cast<int>(std::max<decltype(left)>(left, 0))) <= 0) continue;
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) break;  // answered or closed: stop talking
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EINTR) break;
    if (n > 0) sent += static_cast<size_t>(n);
  }
  return sent;
}

void UnixClient::shut_write() {
  shutdown(fd_, SHUT_WR);
}

std::optional<std::string> SocketLines::next(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    if (const size_t nl = received.find('\n'); nl != std::string::npos) {
      std::string line = received.substr(0, nl);
      received.erase(0, nl + 1);
      return line;
    }
    if (eof) return std::nullopt;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::max<decltype(left)>(left, 0))) <= 0) {
      if (Clock::now() >= deadline) return std::nullopt;
      continue;
    }
    char buffer[65536];
    const ssize_t n = recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT);
    if (n > 0) {
      received.append(buffer, static_cast<size_t>(n));
      received_bytes += static_cast<size_t>(n);
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      eof = true;
    }
  }
}

std::optional<std::string> UnixClient::read_line(std::chrono::milliseconds timeout) {
  return lines_.next(fd_, timeout);
}

bool UnixClient::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    // With no events asked for, poll() still reports a hang-up.
    pollfd p{fd_, 0, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (poll(&p, 1, static_cast<int>(std::max<decltype(left)>(left, 0))) > 0 && (p.revents & (POLLHUP | POLLERR)) != 0)
      return true;
    if (Clock::now() >= deadline) return false;
  }
}

std::optional<std::string> raw_request(const std::string& socket, std::string_view bytes) {
  UnixClient client(socket);
  client.send(bytes);
  return client.read_line();
}

size_t open_fds(pid_t pid) {
  size_t n = 0;
  std::error_code ec;
  for (fs::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end; it.increment(ec))
    ++n;
  return n;
}

HttpReply http_fetch(int port, const std::string& path, std::chrono::milliseconds request_delay,
                     std::chrono::milliseconds timeout) {
  HttpReply reply;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    reply.error = std::string("connect: ") + std::strerror(errno);
    close(fd);
    return reply;
  }
  std::this_thread::sleep_for(request_delay);
  const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                              "\r\nUser-Agent: inception-test\r\nAccept: */*\r\n\r\n";
  if (send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    reply.error = std::string("send: ") + std::strerror(errno);
    close(fd);
    return reply;
  }
  // Read until the server closes, or until Content-Length bytes of body
  // arrived (a server that keeps the connection open is not an error).
  std::string response;
  const auto deadline = Clock::now() + timeout;
  std::optional<size_t> expected;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      reply.error = "timed out after " + std::to_string(timeout.count()) + " ms";
      break;
    }
    pollfd pfd{fd, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
    char buffer[8192];
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      reply.error = std::string("recv: ") + std::strerror(errno);
      break;
    }
    if (n == 0) break;
    response.append(buffer, static_cast<size_t>(n));
    const auto end = response.find("\r\n\r\n");
    if (end != std::string::npos && !expected) {
      std::string head = response.substr(0, end);
      for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const auto at = head.find("content-length:");
      if (at != std::string::npos) expected = end + 4 + std::stoul(head.substr(at + 15));
    }
    if (expected && response.size() >= *expected) break;
  }
  close(fd);
  if (response.empty()) {
    if (reply.error.empty()) reply.error = "empty reply: the server closed the connection without answering";
    return reply;
  }
  const auto end = response.find("\r\n\r\n");
  reply.headers = response.substr(0, end == std::string::npos ? response.size() : end);
  if (end != std::string::npos) reply.body = response.substr(end + 4);
  if (reply.headers.rfind("HTTP/1.", 0) == 0 && reply.headers.size() > 12)
    reply.status = std::stoi(reply.headers.substr(9, 3));
  return reply;
}

unsigned free_hugepages() {
  std::ifstream in("/proc/meminfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("HugePages_Free:", 0) == 0) return static_cast<unsigned>(std::stoul(line.substr(15)));
  return 0;
}

std::string worker_lcores_settings(unsigned workers) {
  std::string cores;
  for (unsigned w = 1; w <= workers; ++w) cores += (w > 1 ? ", " : "") + std::to_string(w);
  std::string out = "main_core = 0\nworker_cores = [" + cores + "]\n";
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<unsigned> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    for (unsigned c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  if (cpus.size() > workers) return out;
  if (cpus.empty()) cpus.push_back(0);
  // Main lcore on the first CPU, workers over the others (all on the one
  // CPU there is, if so).
  std::string map = "0@" + std::to_string(cpus[0]);
  const size_t others = cpus.size() > 1 ? cpus.size() - 1 : 1;
  for (unsigned w = 1; w <= workers; ++w)
    map += "," + std::to_string(w) + "@" + std::to_string(cpus[cpus.size() > 1 ? 1 + (w - 1) % others : 0]);
  return out + "extra_args = [\"--lcores\", \"" + map + "\"]\n";
}

Daemon::Daemon(const TempDir& dir, const std::string& body, const std::string& name, bool hugepages,
               const std::string& switch_settings, unsigned workers)
    : name_(name),
      config_path_(dir.file(name + ".toml")),
      socket_(dir.file(name + ".sock")),
      log_path_(dir.file(name + ".log")),
      metrics_port_(free_tcp_port()) {
  std::ofstream config(config_path_);
  config << "[dpdk]\n"
         << worker_lcores_settings(workers) << "memory_mb = 256\nhugepages = " << (hugepages ? "true" : "false") << "\n"
         << "file_prefix = \"" << fs::path(dir.path()).filename().string() << "-" << name << "\"\n"
         << "[switch]\nlog_level = \"debug\"\n"
         << switch_settings << "[control]\nsocket = \"" << socket_ << "\"\n"
         << "[metrics]\nlisten = \"127.0.0.1:" << metrics_port_ << "\"\n"
         << body << "\n";
  config.close();
  restart();
}

void Daemon::restart() {
  process_ = std::make_unique<Process>(std::vector<std::string>{binary("INCEPTIOND"), "--config", config_path_},
                                       log_path_, /*capture_stdout=*/false);
}

Daemon::~Daemon() {
  stop();
}

bool Daemon::wait_links_up(std::chrono::milliseconds timeout) {
  return eventually(
      [&] {
        for (const auto& p : ctl_json({"port", "list"}))
          if (p["link"] != "up") return false;
        return true;
      },
      timeout);
}

bool Daemon::wait_ready(std::chrono::milliseconds timeout) {
  return eventually(
             [&] {
               return !process_->running() || ctl({"network", "list"}).exit_code == 0;
             },
             timeout, 100ms) &&
         process_->running();
}

CommandResult Daemon::ctl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{binary("INCEPTIONCTL"), "--socket", socket_};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

nlohmann::json Daemon::ctl_json(const std::vector<std::string>& args) {
  std::vector<std::string> with_json{"--json"};
  with_json.insert(with_json.end(), args.begin(), args.end());
  const CommandResult r = ctl(with_json);
  if (r.exit_code != 0) throw std::runtime_error("inceptionctl failed: " + r.err);
  return nlohmann::json::parse(r.out);
}

int Daemon::stop() {
  return process_ ? process_->stop() : 0;
}

std::string Daemon::log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

VportPeer::VportPeer(const TempDir& dir, const std::string& socket, const std::string& name, bool server, bool offloads,
                     unsigned queues)
    : process_(
          [&] {
            std::vector<std::string> argv{binary("VPORT_PEER"), "--socket", socket, "--file-prefix",
                                          fs::path(dir.path()).filename().string() + "-" + name};
            if (server) argv.push_back("--server");
            if (offloads) argv.push_back("--offloads");
            if (queues > 1) argv.insert(argv.end(), {"--queues", std::to_string(queues)});
            return argv;
          }(),
          dir.file(name + ".log")) {}

namespace {

// One of the peer's lines, if it reports a received frame ("rx ...").
std::optional<Frame> parse_rx_line(const std::string& line) {
  std::istringstream in(line);
  std::string kind;
  in >> kind;
  if (kind != "rx") return std::nullopt;
  Frame f;
  in >> f.dst >> f.src >> f.ether_type >> f.bytes >> f.tag;
  if (f.tag == "tcp") {
    TcpSegment t;
    std::string data;
    in >> t.seq >> t.length >> t.checksum >> t.gso >> data;
    t.data_ok = data == "ok";
    f.tcp = t;
  }
  in >> f.hex;
  return f;
}

}  // namespace

void VportPeer::pump(std::chrono::milliseconds timeout) {
  while (auto line = process_.read_line(timeout)) {
    if (auto frame = parse_rx_line(*line)) frames_.push_back(*frame);
    timeout = 0ms;
  }
}

bool VportPeer::wait_ready(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto line = process_.read_line(100ms);
    if (line && *line == "ready") return true;
    if (!line && !process_.running()) return false;
  }
  return false;
}

unsigned VportPeer::send(const std::string& dst, const std::string& src, const std::string& tag, unsigned count,
                         const std::string& ether_type, unsigned bytes) {
  process_.write_line("send " + dst + " " + src + " " + ether_type + " " + tag + " " + std::to_string(count) + " " +
                      std::to_string(bytes));
  return await_sent();
}

unsigned VportPeer::send_hex(const std::string& hex, unsigned count) {
  process_.write_line("sendhex " + hex + " " + std::to_string(count));
  return await_sent();
}

TcpStackCounters tcp_counters(const std::string& netns) {
  const CommandResult r = sh("ip netns exec " + netns + " grep ^Tcp: /proc/net/snmp");
  std::istringstream lines(r.out);
  std::string names, values;
  std::getline(lines, names);
  std::getline(lines, values);
  std::istringstream n(names), v(values);
  TcpStackCounters c;
  for (std::string name, value; n >> name && v >> value;) {
    if (name == "InSegs") c.in_segs = std::stoull(value);
    if (name == "InErrs") c.in_errs = std::stoull(value);
    if (name == "InCsumErrors") c.in_csum_errors = std::stoull(value);
  }
  return c;
}

unsigned VportPeer::send_tcp(const std::string& dst, const std::string& src, const std::string& src_ip,
                             const std::string& dst_ip, uint32_t payload, uint16_t mss, uint32_t seq) {
  process_.write_line("sendtcp " + dst + " " + src + " " + src_ip + " " + dst_ip + " " + std::to_string(payload) + " " +
                      std::to_string(mss) + " " + std::to_string(seq));
  return await_sent();
}

unsigned VportPeer::send_flows(const std::string& dst, const std::string& src, const std::string& name, unsigned flows,
                               unsigned count) {
  process_.write_line("flows " + dst + " " + src + " 88b5 " + name + " " + std::to_string(flows) + " " +
                      std::to_string(count));
  return await_sent();
}

std::string VportPeer::set_queues(unsigned queues) {
  process_.write_line("queues " + std::to_string(queues));
  return await_line("queues ").value_or("no answer from the peer");
}

void VportPeer::quiet() {
  process_.write_line("quiet on");
  process_.write_line("stats");
  await_line("stats ");
}

VportPeer::SequenceStats VportPeer::sequence_stats() {
  process_.write_line("seqstats");
  SequenceStats out;
  const auto line = await_line("seqstats ");
  if (!line) return out;
  std::istringstream in(*line);
  for (std::string word; in >> word;) {
    const auto eq = word.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = word.substr(0, eq), value = word.substr(eq + 1);
    if (key == "frames") out.frames = std::stoull(value);
    if (key == "reordered") out.reordered = std::stoull(value);
    if (key == "missing") out.missing = std::stoull(value);
    if (key == "rxq") {
      std::istringstream counts(value);
      for (std::string n; std::getline(counts, n, ',');) out.per_queue.push_back(std::stoull(n));
    }
  }
  return out;
}

std::vector<TcpSegment> VportPeer::tcp_segments(std::chrono::milliseconds window) {
  std::vector<TcpSegment> out;
  for (const Frame& f : frames(window))
    if (f.tcp) out.push_back(*f.tcp);
  return out;
}

void VportPeer::show_bytes() {
  // The peer answers `stats` after it has read `hex on`: every frame the
  // test sends after this returns is shown with its bytes.
  process_.write_line("hex on");
  process_.write_line("stats");
  await_line("stats ");
}

const std::vector<Frame>& VportPeer::frames(std::chrono::milliseconds window) {
  const auto deadline = Clock::now() + window;
  do {
    pump(std::min<std::chrono::milliseconds>(50ms, window));
  } while (Clock::now() < deadline);
  return frames_;
}

unsigned VportPeer::await_sent() {
  const auto line = await_line("sent ");
  return line ? static_cast<unsigned>(std::stoul(line->substr(5))) : 0;
}

std::optional<std::string> VportPeer::await_line(const std::string& prefix) {
  const auto deadline = Clock::now() + 30s;
  while (Clock::now() < deadline) {
    auto line = process_.read_line(100ms);
    if (!line) {
      if (!process_.running()) return std::nullopt;
      continue;
    }
    if (line->rfind(prefix, 0) == 0) return line;
    if (auto frame = parse_rx_line(*line)) frames_.push_back(*frame);
  }
  return std::nullopt;
}

std::vector<Frame> VportPeer::received(const std::string& tag, std::chrono::milliseconds window) {
  const auto deadline = Clock::now() + window;
  while (Clock::now() < deadline) pump(50ms);
  std::vector<Frame> out;
  for (const Frame& f : frames_)
    if (f.tag == tag) out.push_back(f);
  return out;
}

size_t VportPeer::count(const std::string& tag) {
  pump(0ms);
  size_t n = 0;
  for (const Frame& f : frames_) n += f.tag == tag;
  return n;
}

bool VportPeer::wait_for(const std::string& tag, unsigned n, std::chrono::milliseconds timeout,
                         std::chrono::milliseconds poll) {
  return eventually([&] { return count(tag) >= n; }, timeout, poll);
}

Topology::Topology(const TempDir& dir, int rvms, const std::string& mode, bool ivms, bool nat,
                   const std::vector<std::string>& settings, int later, int second_dc)
    : dir_(dir.file("topology")) {
  setenv("TOPO_PREFIX", ns_prefix().c_str(), 1);
  std::vector<std::string> argv{binary("TOPOLOGY"), "up", dir_, std::to_string(rvms), mode};
  if (ivms) argv.push_back("--ivms");
  if (nat) argv.push_back("--nat");
  if (later > 0) {
    argv.push_back("--later");
    argv.push_back(std::to_string(later));
  }
  if (second_dc > 0) {
    argv.push_back("--dc2");
    argv.push_back(std::to_string(second_dc));
  }
  for (const std::string& setting : settings) {
    argv.push_back("--set");
    argv.push_back(setting);
  }
  const CommandResult r = run(argv, 180s);
  output_ = r.out + r.err;
  up_ = r.exit_code == 0;
}

Topology::~Topology() {
  run({binary("TOPOLOGY"), "down", dir_}, 60s);
}

bool Topology::start(int rvm) const {
  const CommandResult r = run({binary("TOPOLOGY"), "start", dir_, std::to_string(rvm)}, 60s);
  if (r.exit_code != 0) std::fprintf(stderr, "topology.sh start %d: %s%s\n", rvm, r.out.c_str(), r.err.c_str());
  return r.exit_code == 0;
}

pid_t Topology::pid(int rvm) const {
  std::ifstream in(dir_ + "/rvm" + std::to_string(rvm) + ".pid");
  pid_t pid = -1;
  in >> pid;
  return pid;
}

CommandResult Topology::ctl(int rvm, const std::vector<std::string>& args) const {
  std::vector<std::string> argv{binary("INCEPTIONCTL"), "--socket", dir_ + "/rvm" + std::to_string(rvm) + ".sock"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

nlohmann::json Topology::ctl_json(int rvm, const std::vector<std::string>& args) const {
  std::vector<std::string> with_json{"--json"};
  with_json.insert(with_json.end(), args.begin(), args.end());
  const CommandResult r = ctl(rvm, with_json);
  if (r.exit_code != 0) throw std::runtime_error("inceptionctl failed: " + r.err);
  return nlohmann::json::parse(r.out);
}

CommandResult Topology::in(const std::string& ns, const std::string& command, std::chrono::milliseconds timeout) const {
  return run({"ip", "netns", "exec", ns, "/bin/sh", "-c", command}, timeout);
}

std::string Topology::log(int rvm) const {
  std::ifstream in(dir_ + "/rvm" + std::to_string(rvm) + ".log");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Netns::Netns(const std::string& name) : name_(name) {
  sh("ip netns del " + name_ + " 2>/dev/null");
  const CommandResult r = sh("ip netns add " + name_);
  if (r.exit_code != 0) throw std::runtime_error("ip netns add " + name_ + ": " + r.err);
  sh("ip netns exec " + name_ + " ip link set lo up");
}

Netns::~Netns() {
  sh("ip netns del " + name_);
}

CommandResult Netns::exec(const std::string& command, std::chrono::milliseconds timeout) const {
  return run({"ip", "netns", "exec", name_, "/bin/sh", "-c", command}, timeout);
}

std::string add_kernel_vtep(const Topology& topology, const Netns& vtep, const Netns& host, const std::string& tag) {
  const std::string kv = ns_prefix() + "-" + tag + "v", kh = ns_prefix() + "-" + tag + "h";
  const std::string bridge_side = tag + "vtep", vtep_side = tag + "h";
  const std::vector<std::pair<const Netns*, std::string>> steps = {
      {nullptr, "ip link add " + kv + " netns " + vtep.name() + " type veth peer name " + bridge_side + " netns " +
                    topology.ns("mgmt")},
      {nullptr, "ip -n " + topology.ns("mgmt") + " link set " + bridge_side + " master br0 up"},
      {&vtep, "ip link set " + kv + " up && ip addr add 10.0.0.20/24 dev " + kv + " && ethtool -K " + kv +
                  " tx off >/dev/null"},
      {&vtep,
       "ip link add vx1001 type vxlan id 1001 local 10.0.0.20 remote 10.0.0.11 dstport 4789 && "
       "ip link set vx1001 mtu 1450 up && ip link add br1 type bridge && ip link set br1 up && "
       "ip link set vx1001 master br1"},
      {nullptr,
       "ip link add " + kh + " netns " + host.name() + " type veth peer name " + vtep_side + " netns " + vtep.name()},
      {&vtep, "ip link set " + vtep_side + " master br1 up"},
      {&host, "ip link set " + kh + " mtu 1450 up && ip addr add 192.0.2.20/24 dev " + kh + " && ethtool -K " + kh +
                  " tx off >/dev/null"},
  };
  for (const auto& [ns, command] : steps) {
    const CommandResult r = ns != nullptr ? ns->exec(command) : sh(command);
    if (r.exit_code != 0) return command + ": " + r.out + r.err;
  }
  return "";
}

}  // namespace inception::test
