#include "guest.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <stdexcept>

namespace inception::test {

std::string guest_image_dir() {
  const char* dir = std::getenv("GUEST_DIR");
  return dir ? dir : "";
}

SerialConsole::SerialConsole(const std::string& name, bool may_join_late)
    : name_(name), may_join_late_(may_join_late) {}

std::optional<std::string> SerialConsole::next_line(std::chrono::milliseconds timeout) {
  auto line = read_line(timeout);
  if (!line) return line;
  // The guest's tty ends lines with CR LF.
  if (!line->empty() && line->back() == '\r') line->pop_back();
  transcript_ += *line + "\n";
  return line;
}

bool SerialConsole::wait_ready(std::chrono::milliseconds timeout) {
  const std::string ready = "INCEPTION-GUEST-READY " + name_;
  const auto deadline = Clock::now() + timeout;
  auto next_probe = Clock::now();
  while (Clock::now() < deadline) {
    // A console that joined late asks the shell for the marker. The guest's
    // tty keeps what is typed before /init reads it, and /init prints the
    // marker before it reads: an answer never comes before the real marker.
    // The quotes split the marker so that the tty's echo never matches.
    if (may_join_late_ && Clock::now() >= next_probe) {
      write_line("echo \"INCEPTION-GUEST-\"\"READY " + name_ + "\"");
      next_probe = Clock::now() + 5s;
    }
    auto line = next_line(500ms);
    if (line && line->find(ready) != std::string::npos) break;
    if (!line && !alive()) return false;
  }
  // The shell may drop what arrives while it sets up its terminal: probe
  // until it answers.
  while (Clock::now() < deadline) {
    if (run("true", 3s).exit_code == 0) return true;
    if (!alive()) return false;
  }
  return false;
}

CommandResult SerialConsole::run(const std::string& command, std::chrono::milliseconds timeout) {
  const std::string marker = "__done_" + std::to_string(next_marker_++) + "_";
  // One line, so that $? is the command's: /init evaluates each line after
  // a `read`, whose status a second line would see. The quotes split the
  // marker so that an echoed command line never matches.
  std::string quoted = "'";
  for (char c : command) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  write_line("eval " + quoted + "'; echo \"" + marker + "\"\"$?\"");
  const std::regex done(marker + "([0-9]+)");
  CommandResult result;
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto line = next_line(500ms);
    if (!line) {
      if (!alive()) break;
      continue;
    }
    std::smatch m;
    if (std::regex_search(*line, m, done)) {
      result.out += line->substr(0, static_cast<size_t>(m.position(0)));
      result.exit_code = std::stoi(m[1]);
      return result;
    }
    result.out += *line + "\n";
  }
  result.err = "[harness: no answer from guest " + name_ + "; console so far:]\n" + transcript_;
  return result;
}

namespace {

std::vector<std::string> qemu_argv(const std::string& name, const std::string& socket, const std::string& mac,
                                   const std::string& ip) {
  const std::string image = guest_image_dir();
  return {"qemu-system-x86_64", "-name", name, "-machine", "q35,accel=tcg", "-cpu", "max", "-smp", "1", "-m", "256M",
          // vhost-user needs guest memory the switch can map: a shared memfd.
          "-object", "memory-backend-memfd,id=mem,size=256M,share=on", "-numa", "node,memdev=mem", "-chardev",
          "socket,id=c0,path=" + socket + ",server=on,wait=off", "-netdev", "vhost-user,id=n0,chardev=c0",
          // vectors=0: QEMU 7.2 under TCG crashes starting a vhost-user NIC with MSI-X.
          "-device", "virtio-net-pci,netdev=n0,mac=" + mac + ",romfile=,vectors=0", "-kernel", image + "/vmlinuz",
          "-initrd", image + "/initrd.gz", "-append",
          "console=ttyS0 panic=-1 quiet loglevel=3 inc_ip=" + ip + " inc_name=" + name, "-display", "none",
          "-no-reboot", "-nodefaults", "-serial", "stdio"};
}

}  // namespace

Guest::Guest(const TempDir& dir, const std::string& name, const std::string& vhost_socket, const std::string& mac,
             const std::string& ip_cidr)
    : SerialConsole(name, /*may_join_late=*/false),
      mac_(mac),
      qemu_(qemu_argv(name, vhost_socket, mac, ip_cidr), dir.file(name + "-qemu.log")) {}

ConsoleGuest::ConsoleGuest(const std::string& name, const std::string& socket, std::chrono::milliseconds timeout)
    : SerialConsole(name, /*may_join_late=*/true), socket_(socket) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket.size() >= sizeof(addr.sun_path)) throw std::runtime_error("console socket path too long: " + socket);
  std::strncpy(addr.sun_path, socket.c_str(), sizeof(addr.sun_path) - 1);
  // QEMU creates the socket when it starts, which under libvirt may be after
  // the test asked for the domain.
  int err = 0;
  const bool connected = eventually(
      [&] {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
        if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) return true;
        err = errno;
        close(fd_);
        fd_ = -1;
        return false;
      },
      timeout, 100ms);
  if (!connected) throw std::runtime_error("console " + socket + ": " + std::strerror(err));
}

ConsoleGuest::~ConsoleGuest() {
  if (fd_ >= 0) close(fd_);
}

void ConsoleGuest::write_line(const std::string& line) {
  const std::string data = line + "\n";
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // QEMU has gone: read_line and alive() tell
    sent += static_cast<size_t>(n);
  }
}

std::optional<std::string> ConsoleGuest::read_line(std::chrono::milliseconds timeout) {
  return lines_.next(fd_, timeout);
}

}  // namespace inception::test
