// The plugger: makes the switch's ports and floating IPs match the domains
// libvirt runs, through the same Controller calls inceptionctl makes.
//
// Everything it plugs carries the domain as its Origin, so the controller's
// state is the only record of what belongs to whom: a resync after a
// restart of libvirtd, or a forced `port del`, needs no memory here.
// Refusals (an interface that cannot be plugged, and why) are kept here for
// `inceptionctl libvirt status` until the domain goes or the cause does.
//
// Threads: called by the libvirt watcher's thread and read by the control
// socket's; one mutex. It calls the Controller, which never calls back.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "control/controller.h"

namespace inception::libvirt {

// A running domain as libvirt reports it.
struct RunningDomain {
  std::string name;
  std::string uuid;
  std::string xml;  // virDomainGetXMLDesc
  // False while QEMU starts, while an incoming migration has not switched
  // over yet, and on the rVM a guest migrates from once it paused for the
  // switch-over. The ports are plugged then (QEMU waits for them), but their
  // MACs are pinned to them (Controller::bind_port_macs) and the floating
  // IPs taken only while the guest runs here: until the move, its traffic
  // keeps going where it runs.
  bool guest_running = false;
};

struct AdoptedDomain {
  std::string name;
  std::string uuid;
  std::vector<std::string> ports;
  std::vector<std::string> floating_ips;
};

struct Refusal {
  std::string domain;
  std::string uuid;
  std::string what;  // "XML", "interface net0 (52:54:00:00:00:02)", "floating IP 203.0.113.10"
  std::string reason;
  int64_t since_unix_ms = 0;
};

class GuestPlugger {
 public:
  GuestPlugger(Controller& controller, std::string socket_dir);

  // Plugs what the domain asks for, unplugs what it no longer has (an
  // interface hot-unplugged, a changed network).
  void domain_running(const RunningDomain& domain);
  // The domain stopped, crashed, migrated away: its ports and floating IPs go.
  void domain_gone(const std::string& uuid);
  // `running` is every domain libvirt runs: each is plugged as above, and
  // whatever was plugged for any other domain goes.
  void resync(const std::vector<RunningDomain>& running);

  // Domains last seen still starting (or migrating in), or with a refusal:
  // libvirt sends no event when such a domain is destroyed before it ever
  // ran, so the watcher asks about these until they run or go.
  std::vector<std::string> unsettled() const;

  std::vector<AdoptedDomain> adopted() const;
  std::vector<Refusal> refusals() const;
  uint64_t refused_total() const;

 private:
  void record_refusals(const RunningDomain& domain, const std::map<std::string, std::string>& reasons);
  void unplug(const std::string& uuid);

  mutable std::mutex mutex_;
  Controller& controller_;
  const std::string socket_dir_;
  // uuid -> what -> refusal
  std::map<std::string, std::map<std::string, Refusal>> refusals_;
  uint64_t refused_total_ = 0;
  std::set<std::string> starting_;  // uuids whose guest did not run yet
};

}  // namespace inception::libvirt
