// The libvirt watcher: one thread running libvirt's event loop, which tells
// the plugger which domains run on this rVM and what their XML says.
//
//   connect (read-only: the switch never changes a domain) -> resync: every
//   running domain's XML -> events: lifecycle, device added/removed,
//   metadata changed -> the plugger.
//
// QEMU in vhost-user server mode waits, before the guest starts (and before
// a hot-plugged NIC appears), until the switch connects to the socket it
// created: no libvirt event comes until then. So the watcher also watches
// [libvirt] socket_dir with inotify and resyncs when a socket appears there:
// the domain is listed as running (paused, starting up) by then, its XML
// names the socket, and the port is plugged at once.
//
// A lost connection (libvirtd restarted or gone; keepalive, close callback)
// never unplugs anything: the switch keeps forwarding, `libvirt status` says
// so, and the watcher reconnects every half second and resyncs. Connected,
// it also resyncs every 10 s, for what no event and no socket announces.
#pragma once

#include <libvirt/libvirt.h>
#include <prometheus/collectable.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "control/api.h"
#include "control/config.h"
#include "control/libvirt/plugger.h"

namespace inception::libvirt {

struct WatcherStatus {
  bool connected = false;
  int64_t connected_since_unix_ms = 0;
  std::string last_error;
  uint64_t reconnects = 0;
  uint64_t resyncs = 0;
  int64_t last_resync_unix_ms = 0;
  uint64_t lifecycle_events = 0, device_added_events = 0, device_removed_events = 0, metadata_events = 0,
           sockets_created = 0;
};

class Watcher {
 public:
  Watcher(const LibvirtConfig& config, GuestPlugger& plugger);
  ~Watcher();  // stops the thread and closes the connection; plugged ports stay
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  WatcherStatus status() const;

  // libvirt's callbacks (C functions) come in here, on the watcher thread.
  void on_lifecycle(virDomain* domain, int event, int detail);
  void on_device(virDomain* domain, bool added);
  void on_metadata(virDomain* domain);
  void on_close(int reason);
  void on_tick();
  void on_sockets_created(uint64_t count);
  void on_resync_due();

 private:
  void run();
  bool connect();
  void disconnect();
  void resync();
  void adopt(virDomain* domain);
  void note_error(const std::string& what);

  const LibvirtConfig config_;
  GuestPlugger& plugger_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  int wake_timer_ = -1;    // makes the loop return when the destructor asks
  int tick_timer_ = -1;    // connection upkeep
  int resync_timer_ = -1;  // armed by inotify: one resync for a burst of sockets
  int inotify_fd_ = -1;
  int inotify_watch_ = -1;

  // Touched by the watcher thread only.
  virConnect* conn_ = nullptr;
  bool lost_ = false;
  uint64_t ticks_ = 0;
  int callback_ids_[4] = {-1, -1, -1, -1};

  mutable std::mutex status_mutex_;
  WatcherStatus status_;
};

// `inceptionctl libvirt status`: the watcher's and the plugger's view.
nlohmann::json status_json(const LibvirtConfig& config, const Watcher& watcher, const GuestPlugger& plugger);

// inception_libvirt_* metrics, read at each scrape.
std::shared_ptr<prometheus::Collectable> metrics(const Watcher& watcher, const GuestPlugger& plugger);

// The control socket's "libvirt.*" commands.
ModuleCommands commands(const LibvirtConfig& config, const Watcher& watcher, const GuestPlugger& plugger);

}  // namespace inception::libvirt
