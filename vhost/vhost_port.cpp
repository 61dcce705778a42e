#include "vhost/vhost_port.h"

#include <rte_vhost.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>

#include "inception/errors.h"
#include "inception/log.h"

namespace inception::vhost {

struct VhostPortState {
  std::string name;
  std::string path;
  Mode mode = Mode::kClient;
  unsigned n_workers = 1;
  bool offloads = false;
  rte_rcu_qsbr* rcu = nullptr;
  VhostDevice device;
};

namespace {

// virtio-net feature bits (virtio 1.1, section 5.1.3). <linux/virtio_net.h>
// has them but does not compile as C++ (a member named `class`).
constexpr unsigned kFeatureCsum = 0, kFeatureGuestCsum = 1, kFeatureGuestTso4 = 7, kFeatureGuestTso6 = 8,
                   kFeatureGuestEcn = 9, kFeatureGuestUfo = 10, kFeatureHostTso4 = 11, kFeatureHostTso6 = 12,
                   kFeatureHostEcn = 13, kFeatureHostUfo = 14, kFeatureGuestAnnounce = 21, kFeatureMq = 22;

// The offloads a port with `offloads = true` offers: checksums both ways and
// TSO both ways, over IPv4 and IPv6 (DPDK's own virtio driver uses TSO only
// when both are offered). The switch completes them in software wherever a
// frame leaves through something that cannot take them
// (dataplane/offload/). MRG_RXBUF, which large frames into a guest need,
// is never disabled.
constexpr uint64_t kOffloadFeatures = (1ULL << kFeatureCsum) | (1ULL << kFeatureGuestCsum) |
                                      (1ULL << kFeatureHostTso4) | (1ULL << kFeatureGuestTso4) |
                                      (1ULL << kFeatureHostTso6) | (1ULL << kFeatureGuestTso6);

// Never offered: UDP segmentation and ECN, which the switch does not
// implement.
constexpr uint64_t kUnsupportedFeatures = (1ULL << kFeatureGuestEcn) | (1ULL << kFeatureGuestUfo) |
                                          (1ULL << kFeatureHostEcn) | (1ULL << kFeatureHostUfo) |
                                          // After a live migration the guest would announce itself (GUEST_ANNOUNCE)
                                          // only once its vCPUs run again, tens of ms later under load. Without
                                          // it QEMU asks the switch (VHOST_USER_SEND_RARP) and rte_vhost injects
                                          // the RARP into the port's first dequeue: every rVM's FDB moves the MAC
                                          // the moment the destination starts the NIC.
                                          (1ULL << kFeatureGuestAnnounce);

// Callbacks identify the port by the socket path rte_vhost gives back for a
// vid. Entries are shared_ptr so that a callback racing with port deletion
// keeps the state alive until it returns.
std::mutex registry_mutex;
std::map<std::string, std::shared_ptr<VhostPortState>>& registry() {
  static std::map<std::string, std::shared_ptr<VhostPortState>> ports;
  return ports;
}

// Written by the control thread at start and stop, read by callbacks.
std::atomic<void (*)(void*)> guest_change_hook{nullptr};
std::atomic<void*> guest_change_context{nullptr};

void guest_changed() {
  if (auto* hook = guest_change_hook.load(std::memory_order_acquire))
    hook(guest_change_context.load(std::memory_order_acquire));
}

std::shared_ptr<VhostPortState> find_by_vid(int vid) {
  char path[PATH_MAX];
  if (rte_vhost_get_ifname(vid, path, sizeof(path)) != 0) return nullptr;
  std::lock_guard lock(registry_mutex);
  auto it = registry().find(path);
  return it == registry().end() ? nullptr : it->second;
}

// Spreads workers over the guest RX vrings that are enabled, so that a guest
// with as many queue pairs as there are workers gets one vring per worker.
void assign_tx_queues(VhostPortState& port) {
  const uint32_t mask = port.device.tx_queue_mask.load(std::memory_order_relaxed);
  uint8_t enabled[32];
  unsigned n = 0;
  for (unsigned q = 0; q < 32; ++q)
    if (mask & (1u << q)) enabled[n++] = static_cast<uint8_t>(q);
  for (unsigned w = 0; w < kMaxWorkers; ++w)
    port.device.tx_queue_of_worker[w].store(n == 0 ? VhostDevice::kNoQueue : enabled[w % n], std::memory_order_relaxed);
}

int on_new_device(int vid) {
  auto port = find_by_vid(vid);
  if (!port) return -1;
  // We poll: a guest need not kick us (an eventfd write, i.e. a syscall, per
  // transmitted burst on its side) when it adds buffers. Only here, as OVS
  // does: in vring_state_changed rte_vhost holds the queues' access locks,
  // which this call takes too (a self-deadlock of the vhost-user thread).
  for (uint16_t vring = 0; vring < rte_vhost_get_vring_num(vid); ++vring)
    rte_vhost_enable_guest_notification(vid, vring, 0);
  uint64_t features = 0;
  rte_vhost_get_negotiated_features(vid, &features);
  constexpr uint64_t kTakesOffloads =
      (1ULL << kFeatureGuestCsum) | (1ULL << kFeatureGuestTso4) | (1ULL << kFeatureGuestTso6);
  port->device.features.store(features, std::memory_order_relaxed);
  port->device.takes_offloads.store((features & kTakesOffloads) == kTakesOffloads, std::memory_order_relaxed);
  port->device.vid.store(vid, std::memory_order_release);
  log::info("port {}: guest attached on {} ({} rx queue pair(s) enabled)", port->name, port->path,
            std::popcount(port->device.rx_queue_mask.load()));
  guest_changed();
  return 0;
}

void on_destroy_device(int vid) {
  auto port = find_by_vid(vid);
  if (!port) return;
  port->device.vid.store(-1, std::memory_order_release);
  // rte_vhost frees the device when we return: wait until every worker has
  // passed a quiescent state, so none still holds the old vid.
  rte_rcu_qsbr_synchronize(port->rcu, RTE_QSBR_THRID_INVALID);
  port->device.rx_queue_mask.store(0, std::memory_order_relaxed);
  port->device.tx_queue_mask.store(0, std::memory_order_relaxed);
  port->device.takes_offloads.store(false, std::memory_order_relaxed);
  port->device.features.store(0, std::memory_order_relaxed);
  assign_tx_queues(*port);
  log::info("port {}: guest detached from {}", port->name, port->path);
}

int on_vring_state_changed(int vid, uint16_t vring, int enable) {
  auto port = find_by_vid(vid);
  if (!port) return 0;
  const uint16_t queue_pair = vring / 2;
  if (queue_pair >= kMaxVhostQueuePairs) {
    if (enable)
      log::warning("port {}: guest enabled queue pair {}, beyond the {} this switch polls", port->name, queue_pair,
                   kMaxVhostQueuePairs);
    return 0;
  }
  auto& mask = (vring % 2 == 1) ? port->device.rx_queue_mask : port->device.tx_queue_mask;
  if (enable)
    mask.fetch_or(1u << queue_pair, std::memory_order_relaxed);
  else
    mask.fetch_and(~(1u << queue_pair), std::memory_order_relaxed);
  assign_tx_queues(*port);
  log::debug("port {}: vring {} {}", port->name, vring, enable ? "enabled" : "disabled");
  if (enable && vring % 2 == 1) guest_changed();
  return 0;
}

}  // namespace

void set_guest_change_hook(void (*hook)(void* context), void* context) {
  guest_change_context.store(context, std::memory_order_release);
  guest_change_hook.store(hook, std::memory_order_release);
}

namespace {

const rte_vhost_device_ops kDeviceOps = {
    .new_device = on_new_device,
    .destroy_device = on_destroy_device,
    .vring_state_changed = on_vring_state_changed,
    .features_changed = nullptr,
    .new_connection = nullptr,
    .destroy_connection = nullptr,
    .guest_notified = nullptr,
    .reserved = {nullptr},
};

[[noreturn]] void fail(const std::string& name, const std::string& path, const std::string& cause) {
  throw std::runtime_error("port " + name + ": vhost-user socket " + path + ": " + cause);
}

// Server mode: we bind the path. Refuse a path a live process listens on or
// that is not a socket; remove a stale socket left by a crash.
void prepare_server_path(const std::string& name, const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::is_directory(parent, ec))
    fail(name, path, "directory " + parent.string() + " does not exist");
  if (!parent.empty() && access(parent.c_str(), W_OK | X_OK) != 0)
    fail(name, path, "directory " + parent.string() + ": " + errno_text(errno));
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) return;
  if (!S_ISSOCK(st.st_mode)) fail(name, path, "exists and is not a socket");
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(name, path, std::string("socket: ") + errno_text(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const bool live = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  if (live) fail(name, path, "in use by another process");
  if (unlink(path.c_str()) != 0) fail(name, path, std::string("removing stale socket: ") + errno_text(errno));
  log::info("port {}: removed stale socket {}", name, path);
}

}  // namespace

std::unique_ptr<VhostPort> VhostPort::create(const std::string& name, const std::string& socket_path, Mode mode,
                                             uint16_t max_queue_pairs, bool offloads, unsigned n_workers,
                                             rte_rcu_qsbr* rcu) {
  if (socket_path.empty() || socket_path[0] != '/') fail(name, socket_path, "path must be absolute");
  if (socket_path.size() >= sizeof(sockaddr_un::sun_path))
    fail(name, socket_path, "path longer than " + std::to_string(sizeof(sockaddr_un::sun_path) - 1) + " bytes");
  if (max_queue_pairs == 0 || max_queue_pairs > kMaxVhostQueuePairs)
    fail(name, socket_path, "queues must be 1.." + std::to_string(kMaxVhostQueuePairs));
  if (mode == Mode::kServer) prepare_server_path(name, socket_path);

  auto state = std::make_shared<VhostPortState>();
  state->name = name;
  state->path = socket_path;
  state->mode = mode;
  state->n_workers = n_workers;
  state->offloads = offloads;
  state->rcu = rcu;
  assign_tx_queues(*state);
  {
    std::lock_guard lock(registry_mutex);
    if (!registry().emplace(socket_path, state).second) fail(name, socket_path, "already used by another port");
  }
  auto unregister_on_error = [&](const std::string& cause) {
    rte_vhost_driver_unregister(socket_path.c_str());
    std::lock_guard lock(registry_mutex);
    registry().erase(socket_path);
    fail(name, socket_path, cause);
  };

  // A guest's TSO super-frame is dequeued into one external buffer of its
  // size rather than a chain of 2 KB mbufs: every later stage (vhost
  // enqueue, segmentation, free) then handles one buffer, not 33
  // (docs/performance.md: 2.5x fewer cycles per 64 KB switched whole).
  const uint64_t flags =
      (mode == Mode::kClient ? RTE_VHOST_USER_CLIENT : 0) | (offloads ? RTE_VHOST_USER_EXTBUF_SUPPORT : 0);
  if (rte_vhost_driver_register(socket_path.c_str(), flags) != 0) {
    std::lock_guard lock(registry_mutex);
    registry().erase(socket_path);
    fail(name, socket_path, "rte_vhost could not register it");
  }
  uint64_t disabled = kUnsupportedFeatures;
  if (!offloads) disabled |= kOffloadFeatures;
  if (max_queue_pairs == 1) disabled |= 1ULL << kFeatureMq;
  if (rte_vhost_driver_disable_features(socket_path.c_str(), disabled) != 0)
    unregister_on_error("could not disable offload features");
  if (rte_vhost_driver_callback_register(socket_path.c_str(), &kDeviceOps) != 0)
    unregister_on_error("could not register callbacks");
  if (rte_vhost_driver_start(socket_path.c_str()) != 0)
    unregister_on_error(mode == Mode::kServer ? "could not listen (see the log above)" : "could not start");

  log::info("port {}: vhost-user {} {}{}", name, mode == Mode::kClient ? "client of" : "server on", socket_path,
            offloads ? "" : " (offloads off)");
  return std::unique_ptr<VhostPort>(new VhostPort(std::move(state)));
}

VhostPort::VhostPort(std::shared_ptr<VhostPortState> state) : state_(std::move(state)) {}

VhostPort::~VhostPort() {
  // Unregistering closes the connection; rte_vhost calls destroy_device from
  // this thread, which still finds the port in the registry and retires the
  // vid. Only then is the path forgotten.
  if (rte_vhost_driver_unregister(state_->path.c_str()) != 0)
    log::warning("port {}: rte_vhost could not unregister {}", state_->name, state_->path);
  std::lock_guard lock(registry_mutex);
  registry().erase(state_->path);
}

VhostDevice& VhostPort::device() noexcept {
  return state_->device;
}
bool VhostPort::connected() const noexcept {
  return state_->device.vid.load() >= 0;
}
uint16_t VhostPort::rx_queue_pairs() const noexcept {
  return static_cast<uint16_t>(std::popcount(state_->device.rx_queue_mask.load()));
}
const std::string& VhostPort::socket_path() const noexcept {
  return state_->path;
}
uint16_t VhostPort::guest_mtu() const noexcept {
  const int vid = state_->device.vid.load();
  uint16_t mtu = 0;
  if (vid < 0 || rte_vhost_get_mtu(vid, &mtu) != 0) return 0;
  return mtu;
}

}  // namespace inception::vhost

namespace inception::vhost {

std::vector<std::string> VhostPort::negotiated_offloads() const {
  const uint64_t features = state_->device.features.load(std::memory_order_relaxed);
  std::vector<std::string> names;
  for (const auto& [bit, name] : {std::pair{kFeatureCsum, "csum"}, std::pair{kFeatureGuestCsum, "guest_csum"},
                                  std::pair{kFeatureHostTso4, "host_tso4"}, std::pair{kFeatureGuestTso4, "guest_tso4"},
                                  std::pair{kFeatureHostTso6, "host_tso6"}, std::pair{kFeatureGuestTso6, "guest_tso6"}})
    if (features & (1ULL << bit)) names.emplace_back(name);
  return names;
}

}  // namespace inception::vhost
