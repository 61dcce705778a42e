// A real libvirtd (the distribution's, QEMU driver) private to one test, and
// the domain XML of a nested guest it can run on the switch.
//
// The daemon runs without systemd, in the foreground as the harness's child,
// in a mount namespace of its own where /etc/libvirt, /run/libvirt,
// /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt are bind mounts
// of directories under the test's TempDir: the system's libvirt (running or
// not) is neither used nor touched, and two hosts can run side by side.
// Paths outside those five (the TempDir itself) are the same inside and out,
// so sockets and images under the TempDir serve both the test and QEMU.
//
// QEMU runs as libvirt-qemu and is daemonized by libvirtd: guests outlive a
// libvirtd stop() and the next start() re-attaches to them, as on a
// production host whose libvirtd restarts. The destructor still ends them.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "guest.h"
#include "harness.h"

namespace inception::test {

class LibvirtHost {
 public:
  // Files live under dir/name. With `netns`, libvirtd (and so its guests'
  // QEMUs) runs in that network namespace. Starts libvirtd unless `start` is
  // false (libvirtd looks for hooks only when it starts: a test can install
  // them in hooks_dir() first, then call start()).
  LibvirtHost(const TempDir& dir, const std::string& name, const std::string& netns = "", bool start = true);
  // Destroys every running domain, stops libvirtd, then kills the QEMUs
  // that are left (libvirtd was stopped, or failed to destroy) by the PIDs
  // in its run directory.
  ~LibvirtHost();
  LibvirtHost(const LibvirtHost&) = delete;
  LibvirtHost& operator=(const LibvirtHost&) = delete;

  // Until libvirtd answers (`virsh version`). The first start of a host
  // probes QEMU's capabilities (~5 s; later starts reuse the cache, ~1 s).
  bool wait_ready(std::chrono::milliseconds timeout = 60s);
  // For virsh -c from the root mount namespace.
  std::string uri() const;
  CommandResult virsh(const std::vector<std::string>& args, std::chrono::milliseconds timeout = 120s) const;
  // Stops libvirtd alone (SIGTERM by PID); running guests stay up. Returns
  // its exit status, as Process::stop().
  int stop();
  // (Re)starts libvirtd on the same directories; it re-attaches to the
  // guests that are running.
  void start();
  bool running();
  pid_t pid() const { return process_ ? process_->pid() : -1; }

  // Where things are, as seen from the test (root mount namespace).
  const std::string& root() const { return root_; }
  // /etc/libvirt/hooks inside libvirtd's namespace.
  std::string hooks_dir() const { return root_ + "/etc/hooks"; }
  // Writable by QEMU (libvirt-qemu): vhost-user and console sockets.
  std::string socket_dir() const { return root_ + "/sockets"; }
  // Readable by QEMU: kernels, initrds.
  std::string image_dir() const { return root_ + "/images"; }
  // /var/log/libvirt/qemu/NAME.log inside: QEMU's command line and stderr.
  std::string qemu_log(const std::string& domain) const { return root_ + "/log/qemu/" + domain + ".log"; }
  // libvirtd's warnings and errors, for failure messages.
  std::string log() const;
  const std::string& netns() const { return netns_; }

  // Domains running now (virsh list --name).
  std::vector<std::string> running_domains() const;

 private:
  std::string root_;
  std::string netns_;
  std::string log_path_;
  std::unique_ptr<Process> process_;
};

struct LibvirtGuestSpec {
  std::string name;      // domain name, and inc_name= for /init's ready marker
  std::string mac;       // "52:54:00:..."
  std::string socket;    // vhost-user socket; QEMU is the server (mode='server')
  std::string ip_cidr;   // guest eth0 address (inc_ip=)
  std::string metadata;  // raw XML inside <metadata>...</metadata>; may be empty
  unsigned memory_mib = 256;
};

// Where libvirt_guest_xml() puts the serial console of domain `name`.
std::string console_socket(const LibvirtHost& host, const std::string& name);

// The domain XML of scripts/build-guest.sh's guest (GUEST_DIR) under TCG,
// as Guest runs it: shared memfd memory, a vhost-user virtio NIC, the serial
// console on console_socket(). Copies the kernel and initrd to the host's
// image_dir() (libvirt relabels what it boots).
//
// With mode='server' QEMU waits for the vhost-user client at start-up:
// `virsh start` returns only once the switch has connected to spec.socket.
std::string libvirt_guest_xml(const LibvirtHost& host, const LibvirtGuestSpec& spec);

}  // namespace inception::test
