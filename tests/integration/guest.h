// A real nested guest for end-to-end tests: QEMU (TCG) booting the kernel
// and busybox initramfs of scripts/build-guest.sh, with one virtio-net NIC
// backed by a vhost-user socket. QEMU is the vhost-user server (it creates
// the socket); inceptiond connects as the client and may restart at will.
// The serial console is QEMU's stdio, driven by the harness's Process.
#pragma once

#include <string>

#include "harness.h"

namespace inception::test {

// Directory holding vmlinuz and initrd.gz (GUEST_DIR, set by meson).
std::string guest_image_dir();

class Guest {
 public:
  Guest(const TempDir& dir, const std::string& name, const std::string& vhost_socket, const std::string& mac,
        const std::string& ip_cidr);
  // Waits for /init's ready marker (boot takes 5-15 s under TCG).
  bool wait_ready(std::chrono::milliseconds timeout = 180s);
  // Runs a shell command on the console; returns its exit code and output.
  CommandResult run(const std::string& command, std::chrono::milliseconds timeout = 60s);
  const std::string& name() const { return name_; }
  const std::string& mac() const { return mac_; }
  // Everything the console printed so far.
  const std::string& transcript() const { return transcript_; }

 private:
  std::optional<std::string> read_line(std::chrono::milliseconds timeout);
  std::string name_;
  std::string mac_;
  Process qemu_;
  unsigned next_marker_ = 0;
  std::string transcript_;
};

}  // namespace inception::test
