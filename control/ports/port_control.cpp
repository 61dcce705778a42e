// The ports' control half: vhost-user and kernel ports, their port security
// and the binding of their MACs in the FDB. The stage that reads it is
// dataplane/ports/.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "control/controller_internal.h"
#include "inception/log.h"

namespace inception {

using controller_detail::check;
using controller_detail::owned_by_domain;

std::optional<PortIndex> Controller::free_port_index() const {
  for (PortIndex i = 0; i < kMaxPorts; ++i)
    if (port_at_[i] == nullptr && peer_at_[i] == nullptr && i != underlay_index_ && i != host_index_) return i;
  return std::nullopt;
}

void Controller::publish_ports(Snapshot& snapshot) const {
  const unsigned workers = dataplane_.worker_count();
  for (const auto& [name, port] : ports_) {
    PortView& view = snapshot.ports[port->index];
    view.present = true;
    view.network = port->network;
    if (port->config.port_security_enabled()) {
      PortSecurityView& security = view.security;
      security.enabled = true;
      for (const MacAddress& mac : port->config.macs) security.mac_keys[security.n_macs++] = mac.key();
      for (const Ipv4Prefix& prefix : port->config.ips)
        security.prefixes[security.n_prefixes++] = {prefix.address.network_order(),
                                                    Ipv4Address(prefix.mask()).network_order()};
    }
    if (port->vhost) {
      view.kind = PortKind::kVhost;
      view.vhost = &port->vhost->device();
      view.coalesce = port->config.coalesce;
      // Spread queue pairs over workers, starting at a different worker for
      // each port so that single-queue guests spread too.
      for (uint16_t q = 0; q < port->config.queues; ++q)
        snapshot.poll[(port->index + q) % workers].push_back({port->index, q});
    } else {
      view.kind = PortKind::kEthdev;
      view.ethdev_id = port->kernel->ethdev_id();
      for (uint16_t q = 0; q < port->kernel->queues(); ++q) snapshot.poll[q % workers].push_back({port->index, q});
    }
  }
}

void Controller::add_port(const PortConfig& config, const Origin& origin, bool bind_macs) {
  std::lock_guard lock(mutex_);
  check([&] { validate_port(config); });
  if (ports_.contains(config.name)) throw ControlError(fmt::format("port {} already exists", config.name));
  Network& network = network_or_throw(config.network, fmt::format("port {}: ", config.name));
  std::vector<PortConfig> existing;
  for (const auto& [name, other] : ports_) existing.push_back(other->config);
  check([&] { validate_port_socket(config, existing, startup_.control.socket); });
  // Whether the interface name is free in this network namespace, and
  // whether a server socket's directory exists, only the running daemon can
  // tell: KernelPort::create and VhostPort::create check those.
  const auto index = free_port_index();
  if (!index) throw ControlError(fmt::format("port {}: the switch has {} ports already", config.name, kMaxPorts));
  // A MAC bound to a port by port security becomes a static FDB entry of
  // that port: nobody else can take it over by sending from it.
  if (config.port_security_enabled()) {
    for (const MacAddress& mac : config.macs) {
      const auto entry = network.fdb->find(mac, dataplane_.now_s());
      if (entry && entry->is_static)
        throw ControlError(fmt::format("port {}: MAC {} is already bound to port {} on network {}", config.name,
                                       mac.to_string(), port_name(entry->port), config.network));
    }
  }
  const uint32_t pinned = config.type == PortType::kKernel ? KernelPort::pinned_mbufs(dataplane_.worker_count()) : 0;
  if (pinned != 0) {
    const MempoolUsage pool = dataplane_.mempool_usage();
    const uint32_t committed = pinned_mbufs_ + dataplane_.reserved_mbufs();
    if (committed + pinned > pool.size)
      throw ControlError(fmt::format(
          "port {}: not enough packet buffers for a kernel port: its receive queues hold {} mbufs, and {} of the "
          "{} are already held by other ports' queues or reserved for frames in flight (raise [dpdk] mbufs)",
          config.name, pinned, committed, pool.size));
  }

  auto port = std::make_unique<Port>();
  port->config = config;
  port->origin = origin;
  port->index = *index;
  port->network = network.index;
  try {
    if (config.type == PortType::kVhostUser) {
      port->vhost = vhost::VhostPort::create(config.name, config.socket,
                                             config.server ? vhost::Mode::kServer : vhost::Mode::kClient, config.queues,
                                             config.offloads, dataplane_.worker_count(), dataplane_.rcu());
    } else {
      // A kernel port with a bound MAC gets it as its interface's address.
      port->kernel = KernelPort::create(config.name, static_cast<uint16_t>(dataplane_.worker_count()),
                                        dataplane_.mempool(), config.macs.empty() ? "" : config.macs[0].to_string());
    }
  } catch (const std::runtime_error& e) {
    throw ControlError(e.what());
  }
  port->baseline = port_totals(*index);
  network.fdb->set_port_limit(*index, config.mac_limit != 0 ? config.mac_limit : startup_.sw.port_mac_limit);
  if (config.port_security_enabled() && bind_macs) {
    try {
      for (const MacAddress& mac : config.macs) network.fdb->add_static(mac, *index);
    } catch (const std::runtime_error& e) {
      network.fdb->flush_port(*index);
      throw ControlError(fmt::format("port {}: {}", config.name, e.what()));
    }
    port->macs_bound = true;
  }
  pinned_mbufs_ += pinned;
  port_at_[*index] = port.get();
  network.ports.push_back(config.name);
  ports_.emplace(config.name, std::move(port));
  publish();
  log::info({"port " + config.name, "added"}, "port {}: added to network {}{}{}", config.name, config.network,
            config.port_security_enabled() ? " with port security" : "",
            origin.is_domain() ? " for domain " + origin.domain : "");
}

void Controller::remove_port(Port& port) {
  Network& network = *network_at_[port.network];
  std::erase(network.ports, port.config.name);
  port_at_[port.index] = nullptr;
  // 1. No worker polls or transmits to the port once publish returns.
  auto owned = std::move(ports_.at(port.config.name));
  ports_.erase(port.config.name);
  publish();
  // 2. Requests queued before that still name the port; handle them now so
  //    that none re-learns a MAC on it, then forget its MACs.
  dataplane_.drain_learn_requests([this](const LearnRequest& r) { handle_learn(r); });
  std::vector<MacAddress> macs;
  for (const FdbEntry& e : network.fdb->entries(0))
    if (e.port == owned->index) macs.push_back(e.mac);
  network.fdb->flush_port(owned->index);
  routing_forget_macs(network.index, macs);
  network.fdb->set_port_limit(owned->index, 0);
  // 3. Close the guest connection / kernel interface.
  if (owned->kernel) pinned_mbufs_ -= KernelPort::pinned_mbufs(dataplane_.worker_count());
  owned.reset();
}

void Controller::del_port(const std::string& name, bool force) {
  std::lock_guard lock(mutex_);
  auto it = ports_.find(name);
  if (it == ports_.end()) throw ControlError(fmt::format("port {} does not exist", name));
  if (it->second->origin.is_domain() && !force)
    throw ControlError(fmt::format("port {}: {}", name, owned_by_domain(it->second->origin)));
  remove_port(*it->second);
  log::info({"port " + name, "deleted"}, "port {}: deleted", name);
}

void Controller::bind_port_macs(const std::string& name, bool bound) {
  std::lock_guard lock(mutex_);
  auto it = ports_.find(name);
  if (it == ports_.end()) throw ControlError(fmt::format("port {} does not exist", name));
  Port& port = *it->second;
  if (!port.config.port_security_enabled() || port.macs_bound == bound) return;
  Network& network = *network_at_[port.network];
  const uint32_t now = dataplane_.now_s();
  if (bound) {
    for (const MacAddress& mac : port.config.macs) {
      const auto entry = network.fdb->find(mac, now);
      if (entry && entry->is_static && entry->port != port.index)
        throw ControlError(fmt::format("port {}: MAC {} is already bound to port {} on network {}", name,
                                       mac.to_string(), port_name(entry->port), port.config.network));
    }
    try {
      // Replaces what was learned elsewhere (the rVM the guest left).
      for (const MacAddress& mac : port.config.macs) network.fdb->add_static(mac, port.index);
    } catch (const std::runtime_error& e) {
      throw ControlError(fmt::format("port {}: {}", name, e.what()));
    }
  } else {
    for (const MacAddress& mac : port.config.macs)
      if (const auto entry = network.fdb->find(mac, now); entry && entry->port == port.index) network.fdb->remove(mac);
  }
  port.macs_bound = bound;
  if (bound) announce_router(network);
  std::vector<std::string> macs;
  for (const MacAddress& mac : port.config.macs) macs.push_back(mac.to_string());
  log::info("port {}: {} {}", name, fmt::join(macs, ", "),
            bound ? "bound to the port" : "released (the guest does not run here)");
}

void Controller::remove_all_ports() {
  std::lock_guard lock(mutex_);
  while (!ports_.empty()) remove_port(*ports_.begin()->second);
}

std::string Controller::port_name(PortIndex index) const {
  if (port_at_[index] != nullptr) return port_at_[index]->config.name;
  if (peer_at_[index] != nullptr) return "peer:" + peer_at_[index]->ip.to_string();
  return "?";
}

PortStatus Controller::port_status(const Port& port) const {
  PortStatus s;
  s.config = port.config;
  s.origin = port.origin;
  s.macs_bound = port.macs_bound;
  if (port.vhost) {
    s.link_up = port.vhost->connected();
    s.active_queues = s.link_up ? port.vhost->rx_queue_pairs() : 0;
    s.guest_mtu = port.vhost->guest_mtu();
    s.offloads = port.vhost->negotiated_offloads();
  } else {
    s.link_up = true;
    s.active_queues = port.kernel->queues();
  }
  s.totals = port_totals(port.index) - port.baseline;
  return s;
}

std::vector<PortStatus> Controller::ports() {
  std::lock_guard lock(mutex_);
  std::vector<PortStatus> out;
  for (const auto& [name, port] : ports_) out.push_back(port_status(*port));
  return out;
}

std::vector<WorkerQueues> Controller::worker_queues() {
  std::lock_guard lock(mutex_);
  // Only this thread publishes, under mutex_: the snapshot stays current
  // while we read it. The masks and vring choices change on the
  // vhost-events thread; relaxed loads show a recent state, which is all a
  // listing promises.
  const Snapshot& snapshot = dataplane_.snapshot();
  auto name_of = [&](PortIndex index) {
    if (index == underlay_index_) return std::string("underlay");
    if (index == host_index_) return std::string("host");
    return port_name(index);
  };
  std::vector<WorkerQueues> out;
  for (unsigned w = 0; w < dataplane_.worker_count(); ++w) {
    WorkerQueues& worker = out.emplace_back();
    worker.index = w;
    worker.lcore = dataplane_.options().worker_lcores[w];
    for (const PollEntry& entry : snapshot.poll[w]) {
      WorkerQueues::Rx rx{name_of(entry.port), entry.queue, true};
      const Port* port = port_at_[entry.port];
      if (port != nullptr && port->vhost) {
        const vhost::VhostDevice& device = port->vhost->device();
        rx.enabled = device.vid.load(std::memory_order_relaxed) >= 0 &&
                     (device.rx_queue_mask.load(std::memory_order_relaxed) & (1u << entry.queue)) != 0;
      }
      worker.rx.push_back(std::move(rx));
    }
    for (const auto& [name, port] : ports_) {
      if (!port->vhost) continue;
      const uint8_t queue = port->vhost->device().tx_queue_of_worker[w].load(std::memory_order_relaxed);
      worker.tx.push_back(
          {name, queue == vhost::VhostDevice::kNoQueue ? std::nullopt : std::optional<uint16_t>(queue)});
    }
  }
  return out;
}

}  // namespace inception
