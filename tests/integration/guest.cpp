#include "guest.h"

#include <cstdlib>
#include <filesystem>
#include <regex>

namespace inception::test {

std::string guest_image_dir() {
  const char* dir = std::getenv("GUEST_DIR");
  return dir ? dir : "";
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
    : name_(name), mac_(mac), qemu_(qemu_argv(name, vhost_socket, mac, ip_cidr), dir.file(name + "-qemu.log")) {}

std::optional<std::string> Guest::read_line(std::chrono::milliseconds timeout) {
  auto line = qemu_.read_line(timeout);
  if (line) transcript_ += *line + "\n";
  return line;
}

bool Guest::wait_ready(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto line = read_line(500ms);
    if (line && line->find("INCEPTION-GUEST-READY " + name_) != std::string::npos) break;
    if (!line && !qemu_.running()) return false;
  }
  // The shell may drop what arrives while it sets up its terminal: probe
  // until it answers.
  while (Clock::now() < deadline) {
    if (run("true", 3s).exit_code == 0) return true;
    if (!qemu_.running()) return false;
  }
  return false;
}

CommandResult Guest::run(const std::string& command, std::chrono::milliseconds timeout) {
  const std::string marker = "__done_" + std::to_string(next_marker_++) + "_";
  // The quotes split the marker so that an echoed command line never matches.
  qemu_.write_line(command + "\necho \"" + marker + "\"\"$?\"");
  const std::regex done(marker + "([0-9]+)");
  CommandResult result;
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    auto line = read_line(500ms);
    if (!line) {
      if (!qemu_.running()) break;
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

}  // namespace inception::test
