// A real nested guest for end-to-end tests: QEMU (TCG) booting the kernel
// and busybox initramfs of scripts/build-guest.sh, with one virtio-net NIC
// backed by a vhost-user socket. QEMU is the vhost-user server (it creates
// the socket); inceptiond connects as the client and may restart at will.
//
// The guest's serial console speaks one protocol whoever started QEMU:
// /init prints "INCEPTION-GUEST-READY NAME MAC", then evaluates each line it
// reads. SerialConsole implements that protocol once over a line transport;
// Guest drives a QEMU of its own through its stdio, ConsoleGuest a console
// that QEMU serves on a unix socket (a libvirt domain's, see libvirt_host.h).
#pragma once

#include <optional>
#include <string>

#include "harness.h"

namespace inception::test {

// Directory holding vmlinuz and initrd.gz (GUEST_DIR, set by meson).
std::string guest_image_dir();

// The console protocol of scripts/build-guest.sh's /init. Subclasses carry
// the lines.
class SerialConsole {
 public:
  virtual ~SerialConsole() = default;
  SerialConsole(const SerialConsole&) = delete;
  SerialConsole& operator=(const SerialConsole&) = delete;

  // Waits for /init's ready marker (boot takes 5-15 s under TCG), then until
  // the shell answers.
  bool wait_ready(std::chrono::milliseconds timeout = 180s);
  // Runs a shell command (one line) on the console; returns its exit code
  // and output (lines without their carriage returns).
  CommandResult run(const std::string& command, std::chrono::milliseconds timeout = 60s);
  const std::string& name() const { return name_; }
  // Everything the console printed so far.
  const std::string& transcript() const { return transcript_; }

 protected:
  // `may_join_late`: the transport may have missed the ready marker (a
  // socket console connected after the guest started printing), so
  // wait_ready also asks the shell to print it.
  SerialConsole(const std::string& name, bool may_join_late);
  virtual void write_line(const std::string& line) = 0;
  // The next line from the guest, or nullopt after `timeout`.
  virtual std::optional<std::string> read_line(std::chrono::milliseconds timeout) = 0;
  // False once no more lines can come (QEMU exited, console closed).
  virtual bool alive() = 0;

 private:
  std::optional<std::string> next_line(std::chrono::milliseconds timeout);
  std::string name_;
  bool may_join_late_;
  unsigned next_marker_ = 0;
  std::string transcript_;
};

// A QEMU of the test's own, its console on QEMU's stdio.
class Guest : public SerialConsole {
 public:
  Guest(const TempDir& dir, const std::string& name, const std::string& vhost_socket, const std::string& mac,
        const std::string& ip_cidr);
  const std::string& mac() const { return mac_; }

 protected:
  void write_line(const std::string& line) override { qemu_.write_line(line); }
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) override { return qemu_.read_line(timeout); }
  bool alive() override { return qemu_.running(); }

 private:
  std::string mac_;
  Process qemu_;
};

// A guest someone else started (libvirt), its serial console on a unix
// socket QEMU listens on (-chardev socket,server=on,wait=off; libvirt's
// <serial type='unix'><source mode='bind'/>). QEMU serves one client at a
// time and drops what the guest prints while none is connected: connect
// before the guest runs (virsh start --paused, then resume) to keep the boot
// messages; wait_ready() copes with having missed them.
class ConsoleGuest : public SerialConsole {
 public:
  // Connects to `socket`, waiting up to `timeout` for QEMU to create it.
  // Throws std::runtime_error if it cannot.
  ConsoleGuest(const std::string& name, const std::string& socket, std::chrono::milliseconds timeout = 60s);
  ~ConsoleGuest() override;
  const std::string& socket() const { return socket_; }

 protected:
  void write_line(const std::string& line) override;
  std::optional<std::string> read_line(std::chrono::milliseconds timeout) override;
  bool alive() override { return !lines_.eof; }

 private:
  std::string socket_;
  int fd_ = -1;
  SocketLines lines_;
};

}  // namespace inception::test
