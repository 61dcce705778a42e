#include "control/libvirt/watcher.h"

#include <fmt/format.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>

#include "control/metrics.h"
#include "control/wall_clock.h"
#include "inception/log.h"

namespace inception::libvirt {

namespace {

constexpr int kTickMs = 500;            // reconnect attempts while libvirtd is away
constexpr int kKeepAliveIntervalS = 2;  // a silent libvirtd is given up after ~3 intervals
constexpr unsigned kKeepAliveCount = 3;
// A domain whose every socket lies outside socket_dir creates nothing there
// and sends no event while QEMU waits: a periodic resync finds it (and
// refuses it, with the reason) all the same.
constexpr unsigned kTicksPerResync = 20;

std::string last_libvirt_error() {
  const char* message = virGetLastErrorMessage();
  return message != nullptr ? message : "unknown libvirt error";
}

// libvirt's default handler prints every error on stderr; the watcher
// reports the ones that matter itself.
void quiet_errors(void*, virErrorPtr) {}

// libvirt's event loop implementation is process-wide and must be set up
// before the first connection.
void register_event_impl() {
  static std::once_flag once;
  std::call_once(once, [] {
    virSetErrorFunc(nullptr, quiet_errors);
    if (virEventRegisterDefaultImpl() < 0)
      throw std::runtime_error("libvirt: cannot set up its event loop: " + last_libvirt_error());
  });
}

Watcher* self(void* opaque) {
  return static_cast<Watcher*>(opaque);
}

int lifecycle_cb(virConnectPtr, virDomainPtr domain, int event, int detail, void* opaque) {
  self(opaque)->on_lifecycle(domain, event, detail);
  return 0;
}
void device_added_cb(virConnectPtr, virDomainPtr domain, const char*, void* opaque) {
  self(opaque)->on_device(domain, true);
}
void device_removed_cb(virConnectPtr, virDomainPtr domain, const char*, void* opaque) {
  self(opaque)->on_device(domain, false);
}
void metadata_cb(virConnectPtr, virDomainPtr domain, int, const char*, void* opaque) {
  self(opaque)->on_metadata(domain);
}
void close_cb(virConnectPtr, int reason, void* opaque) {
  self(opaque)->on_close(reason);
}
void tick_cb(int, void* opaque) {
  self(opaque)->on_tick();
}
void wake_cb(int timer, void*) {
  virEventUpdateTimeout(timer, -1);
}
void resync_cb(int timer, void* opaque) {
  virEventUpdateTimeout(timer, -1);
  self(opaque)->on_resync_due();
}
void inotify_cb(int, int fd, int, void* opaque) {
  // Drain: what appeared does not matter, only that something did.
  alignas(inotify_event) char buffer[4096];
  uint64_t created = 0;
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n <= 0) break;
    for (ssize_t at = 0; at < n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buffer + at);
      if ((e->mask & IN_CREATE) != 0) ++created;
      at += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
    }
  }
  if (created != 0) self(opaque)->on_sockets_created(created);
}

struct DomainName {
  std::string name;
  std::string uuid;
};

DomainName name_of(virDomainPtr domain) {
  DomainName out;
  if (const char* name = virDomainGetName(domain)) out.name = name;
  char uuid[VIR_UUID_STRING_BUFLEN] = {};
  if (virDomainGetUUIDString(domain, uuid) == 0) out.uuid = uuid;
  return out;
}

std::string lifecycle_name(int event) {
  switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED:
      return "defined";
    case VIR_DOMAIN_EVENT_UNDEFINED:
      return "undefined";
    case VIR_DOMAIN_EVENT_STARTED:
      return "started";
    case VIR_DOMAIN_EVENT_SUSPENDED:
      return "suspended";
    case VIR_DOMAIN_EVENT_RESUMED:
      return "resumed";
    case VIR_DOMAIN_EVENT_STOPPED:
      return "stopped";
    case VIR_DOMAIN_EVENT_SHUTDOWN:
      return "shutdown";
    case VIR_DOMAIN_EVENT_PMSUSPENDED:
      return "pmsuspended";
    case VIR_DOMAIN_EVENT_CRASHED:
      return "crashed";
    default:
      return fmt::format("event {}", event);
  }
}

std::string iso_time(int64_t unix_ms) {
  if (unix_ms == 0) return {};
  const std::time_t seconds = unix_ms / 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, unix_ms % 1000);
}

}  // namespace

Watcher::Watcher(const LibvirtConfig& config, GuestPlugger& plugger) : config_(config), plugger_(plugger) {
  register_event_impl();
  std::error_code ec;
  if (!std::filesystem::is_directory(config_.socket_dir, ec)) {
    std::filesystem::create_directories(config_.socket_dir, ec);
    if (ec)
      throw std::runtime_error(
          fmt::format("libvirt: socket_dir {}: cannot create it: {}", config_.socket_dir, ec.message()));
    log::warning("libvirt: created socket_dir {}: QEMU's user must be able to create sockets in it",
                 config_.socket_dir);
  }
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0)
    throw std::runtime_error(fmt::format("libvirt: inotify: {}", std::generic_category().message(errno)));
  if (inotify_add_watch(inotify_fd_, config_.socket_dir.c_str(), IN_CREATE) < 0) {
    const int error = errno;
    close(inotify_fd_);
    throw std::runtime_error(fmt::format("libvirt: cannot watch socket_dir {}: {}", config_.socket_dir,
                                         std::generic_category().message(error)));
  }
  inotify_watch_ = virEventAddHandle(inotify_fd_, VIR_EVENT_HANDLE_READABLE, inotify_cb, this, nullptr);
  wake_timer_ = virEventAddTimeout(-1, wake_cb, this, nullptr);
  tick_timer_ = virEventAddTimeout(kTickMs, tick_cb, this, nullptr);
  resync_timer_ = virEventAddTimeout(-1, resync_cb, this, nullptr);
  if (inotify_watch_ < 0 || wake_timer_ < 0 || tick_timer_ < 0 || resync_timer_ < 0)
    throw std::runtime_error("libvirt: cannot register with its event loop: " + last_libvirt_error());
  thread_ = std::thread([this] { run(); });
}

Watcher::~Watcher() {
  stopping_ = true;
  virEventUpdateTimeout(wake_timer_, 0);
  if (thread_.joinable()) thread_.join();
  virEventRemoveHandle(inotify_watch_);
  virEventRemoveTimeout(wake_timer_);
  virEventRemoveTimeout(tick_timer_);
  virEventRemoveTimeout(resync_timer_);
  close(inotify_fd_);
}

void Watcher::run() {
  pthread_setname_np(pthread_self(), "libvirt-watch");
  on_tick();  // first connection at once, not after a tick
  while (!stopping_) {
    if (virEventRunDefaultImpl() < 0) {
      note_error("event loop: " + last_libvirt_error());
      std::this_thread::sleep_for(std::chrono::milliseconds(kTickMs));
    }
  }
  disconnect();
}

void Watcher::note_error(const std::string& what) {
  std::lock_guard lock(status_mutex_);
  if (status_.last_error != what) log::warning("libvirt: {}", what);
  status_.last_error = what;
}

bool Watcher::connect() {
  conn_ = virConnectOpenReadOnly(config_.uri.c_str());
  if (conn_ == nullptr) {
    note_error(fmt::format("cannot connect to {}: {}", config_.uri, last_libvirt_error()));
    return false;
  }
  lost_ = false;
  const bool ok =
      virConnectRegisterCloseCallback(conn_, close_cb, this, nullptr) == 0 &&
      virConnectSetKeepAlive(conn_, kKeepAliveIntervalS, kKeepAliveCount) >= 0 &&
      (callback_ids_[0] = virConnectDomainEventRegisterAny(conn_, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                           VIR_DOMAIN_EVENT_CALLBACK(lifecycle_cb), this, nullptr)) >=
          0 &&
      (callback_ids_[1] =
           virConnectDomainEventRegisterAny(conn_, nullptr, VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                                            VIR_DOMAIN_EVENT_CALLBACK(device_added_cb), this, nullptr)) >= 0 &&
      (callback_ids_[2] =
           virConnectDomainEventRegisterAny(conn_, nullptr, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                            VIR_DOMAIN_EVENT_CALLBACK(device_removed_cb), this, nullptr)) >= 0 &&
      (callback_ids_[3] = virConnectDomainEventRegisterAny(conn_, nullptr, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
                                                           VIR_DOMAIN_EVENT_CALLBACK(metadata_cb), this, nullptr)) >= 0;
  if (!ok) {
    note_error(fmt::format("{}: cannot register for events: {}", config_.uri, last_libvirt_error()));
    disconnect();
    return false;
  }
  {
    std::lock_guard lock(status_mutex_);
    if (status_.connected_since_unix_ms != 0) ++status_.reconnects;
    status_.connected = true;
    status_.connected_since_unix_ms = unix_ms();
    status_.last_error.clear();
  }
  log::info("libvirt: connected to {} (read-only), watching {}", config_.uri, config_.socket_dir);
  resync();
  return true;
}

void Watcher::disconnect() {
  if (conn_ == nullptr) return;
  for (int& id : callback_ids_) {
    if (id >= 0) virConnectDomainEventDeregisterAny(conn_, id);
    id = -1;
  }
  virConnectUnregisterCloseCallback(conn_, close_cb);
  virConnectClose(conn_);
  conn_ = nullptr;
  std::lock_guard lock(status_mutex_);
  status_.connected = false;
}

void Watcher::on_close(int reason) {
  // The connection may not be closed from inside its own callback: the
  // next tick does it, then reconnects.
  lost_ = true;
  note_error(fmt::format("connection to {} lost ({})", config_.uri,
                         reason == VIR_CONNECT_CLOSE_REASON_KEEPALIVE ? "keepalive timed out"
                         : reason == VIR_CONNECT_CLOSE_REASON_EOF     ? "libvirtd closed it"
                                                                      : "error"));
  std::lock_guard lock(status_mutex_);
  status_.connected = false;
}

void Watcher::on_tick() {
  if (stopping_) return;
  if (lost_) disconnect();
  if (conn_ == nullptr && !connect()) return;
  if (++ticks_ % kTicksPerResync == 0) {
    resync();
    return;
  }
  for (const std::string& uuid : plugger_.unsettled()) {
    virDomainPtr domain = virDomainLookupByUUIDString(conn_, uuid.c_str());
    const int active = domain != nullptr ? virDomainIsActive(domain) : 0;
    if (domain != nullptr) virDomainFree(domain);
    if (domain == nullptr && virGetLastErrorCode() != VIR_ERR_NO_DOMAIN) continue;  // libvirtd away: ask again
    if (active == 0) plugger_.domain_gone(uuid);
  }
}

void Watcher::on_sockets_created(uint64_t count) {
  {
    std::lock_guard lock(status_mutex_);
    status_.sockets_created += count;
  }
  virEventUpdateTimeout(resync_timer_, 0);  // one resync for the whole burst
}

void Watcher::on_resync_due() {
  if (conn_ != nullptr && !lost_) resync();
}

void Watcher::resync() {
  virDomainPtr* domains = nullptr;
  const int n = virConnectListAllDomains(conn_, &domains, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  if (n < 0) {
    note_error("cannot list domains: " + last_libvirt_error());
    return;
  }
  std::vector<RunningDomain> running;
  bool complete = true;
  for (int i = 0; i < n; ++i) {
    const DomainName id = name_of(domains[i]);
    int state = 0, reason = 0;
    char* xml = nullptr;
    if (virDomainGetState(domains[i], &state, &reason, 0) == 0 && state != VIR_DOMAIN_SHUTOFF &&
        (xml = virDomainGetXMLDesc(domains[i], 0)) != nullptr) {
      const bool waiting = state == VIR_DOMAIN_PAUSED &&
                           (reason == VIR_DOMAIN_PAUSED_STARTING_UP || reason == VIR_DOMAIN_PAUSED_MIGRATION);
      running.push_back({id.name, id.uuid, xml, !waiting});
      free(xml);
    } else if (state != VIR_DOMAIN_SHUTOFF) {
      // Gone between the list and the question, or libvirtd went away:
      // nothing is unplugged on a partial answer.
      complete = complete && virDomainIsActive(domains[i]) == 0;
      note_error(fmt::format("domain {}: cannot read its XML: {}", id.name, last_libvirt_error()));
    }
    virDomainFree(domains[i]);
  }
  free(domains);
  if (!complete) return;
  plugger_.resync(running);
  std::lock_guard lock(status_mutex_);
  ++status_.resyncs;
  status_.last_resync_unix_ms = unix_ms();
}

void Watcher::adopt(virDomainPtr domain) {
  const DomainName id = name_of(domain);
  int state = 0, reason = 0;
  if (virDomainGetState(domain, &state, &reason, 0) < 0) {
    note_error(fmt::format("domain {}: cannot read its state: {}", id.name, last_libvirt_error()));
    return;
  }
  if (state == VIR_DOMAIN_SHUTOFF) {
    plugger_.domain_gone(id.uuid);
    return;
  }
  char* xml = virDomainGetXMLDesc(domain, 0);
  if (xml == nullptr) {
    note_error(fmt::format("domain {}: cannot read its XML: {}", id.name, last_libvirt_error()));
    return;
  }
  const bool waiting =
      state == VIR_DOMAIN_PAUSED && (reason == VIR_DOMAIN_PAUSED_STARTING_UP || reason == VIR_DOMAIN_PAUSED_MIGRATION);
  plugger_.domain_running({id.name, id.uuid, xml, !waiting});
  free(xml);
}

void Watcher::on_lifecycle(virDomainPtr domain, int event, int detail) {
  {
    std::lock_guard lock(status_mutex_);
    ++status_.lifecycle_events;
  }
  const DomainName id = name_of(domain);
  // At info: a guest's life and moves are rare, and their times are what an
  // operator reads a migration's blackout from.
  log::info({"domain " + id.name, lifecycle_name(event)}, "libvirt: domain {}: {} (detail {})", id.name,
            lifecycle_name(event), detail);
  switch (event) {
    case VIR_DOMAIN_EVENT_STARTED:
    case VIR_DOMAIN_EVENT_RESUMED:
    case VIR_DOMAIN_EVENT_SUSPENDED:  // paused for a migration's switch-over: its MACs are released
    case VIR_DOMAIN_EVENT_DEFINED:    // a live domain redefined: its XML may have changed
      adopt(domain);
      break;
    case VIR_DOMAIN_EVENT_STOPPED:
    case VIR_DOMAIN_EVENT_UNDEFINED:  // a transient domain's last word
      if (virDomainIsActive(domain) != 1) plugger_.domain_gone(id.uuid);
      break;
    default:
      break;  // shutdown, crashed: STOPPED follows
  }
}

void Watcher::on_device(virDomainPtr domain, bool added) {
  {
    std::lock_guard lock(status_mutex_);
    ++(added ? status_.device_added_events : status_.device_removed_events);
  }
  adopt(domain);
}

void Watcher::on_metadata(virDomainPtr domain) {
  {
    std::lock_guard lock(status_mutex_);
    ++status_.metadata_events;
  }
  if (virDomainIsActive(domain) == 1) adopt(domain);
}

WatcherStatus Watcher::status() const {
  std::lock_guard lock(status_mutex_);
  return status_;
}

nlohmann::json status_json(const LibvirtConfig& config, const Watcher& watcher, const GuestPlugger& plugger) {
  using nlohmann::json;
  const WatcherStatus w = watcher.status();
  json domains = json::array();
  for (const AdoptedDomain& d : plugger.adopted())
    domains.push_back({{"name", d.name}, {"uuid", d.uuid}, {"ports", d.ports}, {"floating_ips", d.floating_ips}});
  json refused = json::array();
  for (const Refusal& r : plugger.refusals())
    refused.push_back({{"domain", r.domain},
                       {"uuid", r.uuid},
                       {"what", r.what},
                       {"reason", r.what + ": " + r.reason},
                       {"since", iso_time(r.since_unix_ms)}});
  auto time_or_null = [](int64_t ms) { return ms == 0 ? json() : json(iso_time(ms)); };
  return {{"uri", config.uri},
          {"socket_dir", config.socket_dir},
          {"connected", w.connected},
          {"connected_since", w.connected ? time_or_null(w.connected_since_unix_ms) : json()},
          {"last_error", w.last_error.empty() ? json() : json(w.last_error)},
          {"reconnects", w.reconnects},
          {"resyncs", w.resyncs},
          {"last_resync", time_or_null(w.last_resync_unix_ms)},
          {"events",
           {{"lifecycle", w.lifecycle_events},
            {"device_added", w.device_added_events},
            {"device_removed", w.device_removed_events},
            {"metadata", w.metadata_events},
            {"socket_created", w.sockets_created}}},
          {"refused_total", plugger.refused_total()},
          {"domains", domains},
          {"refused", refused}};
}

namespace {

class LibvirtCollector : public prometheus::Collectable {
 public:
  LibvirtCollector(const Watcher& watcher, const GuestPlugger& plugger) : watcher_(watcher), plugger_(plugger) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    using prometheus::MetricType;
    const WatcherStatus w = watcher_.status();
    auto connected = metric_family("inception_libvirt_connected", "1 while connected to libvirtd.", MetricType::Gauge);
    add_sample(connected, {}, w.connected ? 1 : 0);
    auto reconnects = metric_family("inception_libvirt_reconnects_total", "Connections to libvirtd after the first.",
                                    MetricType::Counter);
    add_sample(reconnects, {}, static_cast<double>(w.reconnects));
    auto events = metric_family("inception_libvirt_events_total",
                                "libvirt events seen, and sockets that appeared in socket_dir.", MetricType::Counter);
    add_sample(events, {{"type", "lifecycle"}}, static_cast<double>(w.lifecycle_events));
    add_sample(events, {{"type", "device_added"}}, static_cast<double>(w.device_added_events));
    add_sample(events, {{"type", "device_removed"}}, static_cast<double>(w.device_removed_events));
    add_sample(events, {{"type", "metadata"}}, static_cast<double>(w.metadata_events));
    add_sample(events, {{"type", "socket_created"}}, static_cast<double>(w.sockets_created));
    auto domains = metric_family("inception_libvirt_domains", "Running domains with ports plugged.", MetricType::Gauge);
    add_sample(domains, {}, static_cast<double>(plugger_.adopted().size()));
    auto refused =
        metric_family("inception_libvirt_refused", "Interfaces (or floating IPs) refused now.", MetricType::Gauge);
    add_sample(refused, {}, static_cast<double>(plugger_.refusals().size()));
    auto refused_total =
        metric_family("inception_libvirt_refused_total", "Refusals since start, by first sight.", MetricType::Counter);
    add_sample(refused_total, {}, static_cast<double>(plugger_.refused_total()));
    return {connected, reconnects, events, domains, refused, refused_total};
  }

 private:
  const Watcher& watcher_;
  const GuestPlugger& plugger_;
};

}  // namespace

std::shared_ptr<prometheus::Collectable> metrics(const Watcher& watcher, const GuestPlugger& plugger) {
  return std::make_shared<LibvirtCollector>(watcher, plugger);
}

ModuleCommands commands(const LibvirtConfig& config, const Watcher& watcher, const GuestPlugger& plugger) {
  return {{"libvirt.status",
           [&config, &watcher, &plugger](const nlohmann::json&) { return status_json(config, watcher, plugger); }}};
}

}  // namespace inception::libvirt
