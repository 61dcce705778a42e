#include "control/controller.h"

#include <fmt/format.h>

#include <algorithm>

#include "inception/log.h"

namespace inception {

namespace {

template <typename T, size_t N>
std::optional<uint16_t> free_index(const std::array<T*, N>& slots) {
  for (size_t i = 0; i < N; ++i)
    if (slots[i] == nullptr) return static_cast<uint16_t>(i);
  return std::nullopt;
}

}  // namespace

Controller::Controller(const Config& startup, Dataplane& dataplane) : startup_(startup), dataplane_(dataplane) {}

Controller::~Controller() {
  remove_all_ports();
}

void Controller::apply(const Config& config) {
  for (const NetworkConfig& n : config.networks) add_network(n);
  for (const PortConfig& p : config.ports) add_port(p);
  for (const StaticMacConfig& s : config.static_macs) add_static_mac(s.network, s.mac.to_string(), s.port);
}

Controller::Network& Controller::network_or_throw(const std::string& name, const std::string& context) {
  auto it = networks_.find(name);
  if (it == networks_.end()) throw ControlError(fmt::format("{}network {} does not exist", context, name));
  return *it->second;
}

// Builds the worker view of the current model and swaps it in.
void Controller::publish() {
  auto snapshot = std::make_unique<Snapshot>();
  const unsigned workers = dataplane_.worker_count();
  for (const auto& [name, network] : networks_) {
    NetworkView& view = snapshot->networks[network->index];
    view.fdb = network->fdb.get();
    view.vni = network->config.vni;
    for (const std::string& port_name : network->ports) view.ports.push_back(ports_.at(port_name)->index);
  }
  for (const auto& [name, port] : ports_) {
    PortView& view = snapshot->ports[port->index];
    view.present = true;
    view.network = port->network;
    if (port->vhost) {
      view.kind = PortKind::kVhost;
      view.vhost = &port->vhost->device();
      // Spread queue pairs over workers, starting at a different worker for
      // each port so that single-queue guests spread too.
      for (uint16_t q = 0; q < port->config.queues; ++q)
        snapshot->poll[(port->index + q) % workers].push_back({port->index, q});
    } else {
      view.kind = PortKind::kEthdev;
      view.ethdev_id = port->kernel->ethdev_id();
      for (uint16_t q = 0; q < port->kernel->queues(); ++q) snapshot->poll[q % workers].push_back({port->index, q});
    }
  }
  dataplane_.publish(std::move(snapshot));
}

void Controller::add_network(const NetworkConfig& config) {
  std::lock_guard lock(mutex_);
  try {
    validate_network(config);
  } catch (const ConfigError& e) {
    throw ControlError(e.what());
  }
  if (networks_.contains(config.name)) throw ControlError(fmt::format("network {} already exists", config.name));
  for (const auto& [name, other] : networks_)
    if (other->config.vni == config.vni)
      throw ControlError(
          fmt::format("network {}: VNI {} is already used by network {}", config.name, config.vni, name));
  const auto index = free_index(network_at_);
  if (!index)
    throw ControlError(fmt::format("network {}: the switch has {} networks already", config.name, kMaxNetworks));
  auto network = std::make_unique<Network>();
  network->config = config;
  network->index = *index;
  try {
    network->fdb = std::make_unique<Fdb>(config.name, config.fdb_limit, dataplane_.worker_count(), dataplane_.rcu());
  } catch (const std::exception& e) {
    throw ControlError(e.what());
  }
  network_at_[*index] = network.get();
  networks_.emplace(config.name, std::move(network));
  publish();
  log::info("network {}: added (VNI {}, FDB limit {})", config.name, config.vni, config.fdb_limit);
}

void Controller::del_network(const std::string& name) {
  std::lock_guard lock(mutex_);
  Network& network = network_or_throw(name, "");
  if (!network.ports.empty()) {
    std::string list;
    for (const auto& p : network.ports) list += (list.empty() ? "" : ", ") + p;
    throw ControlError(
        fmt::format("network {}: {} port(s) still attached ({}); delete them first", name, network.ports.size(), list));
  }
  auto owned = std::move(networks_.at(name));
  networks_.erase(name);
  network_at_[owned->index] = nullptr;
  publish();  // after this, no worker can reach the FDB freed with `owned`
  log::info("network {}: deleted", name);
}

void Controller::add_port(const PortConfig& config) {
  std::lock_guard lock(mutex_);
  try {
    validate_port(config);
  } catch (const ConfigError& e) {
    throw ControlError(e.what());
  }
  if (ports_.contains(config.name)) throw ControlError(fmt::format("port {} already exists", config.name));
  Network& network = network_or_throw(config.network, fmt::format("port {}: ", config.name));
  if (config.type == PortType::kVhostUser) {
    for (const auto& [name, other] : ports_)
      if (other->config.socket == config.socket)
        throw ControlError(
            fmt::format("port {}: socket {} is already used by port {}", config.name, config.socket, name));
  }
  const auto index = free_index(port_at_);
  if (!index) throw ControlError(fmt::format("port {}: the switch has {} ports already", config.name, kMaxPorts));

  auto port = std::make_unique<Port>();
  port->config = config;
  port->index = *index;
  port->network = network.index;
  try {
    if (config.type == PortType::kVhostUser) {
      port->vhost = vhost::VhostPort::create(config.name, config.socket,
                                             config.server ? vhost::Mode::kServer : vhost::Mode::kClient, config.queues,
                                             dataplane_.worker_count(), dataplane_.rcu());
    } else {
      port->kernel =
          KernelPort::create(config.name, static_cast<uint16_t>(dataplane_.worker_count()), dataplane_.mempool());
    }
  } catch (const std::runtime_error& e) {
    throw ControlError(e.what());
  }
  port->baseline = port_totals(*index);
  port_at_[*index] = port.get();
  network.ports.push_back(config.name);
  ports_.emplace(config.name, std::move(port));
  publish();
  log::info("port {}: added to network {}", config.name, config.network);
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
  network.fdb->flush_port(owned->index);
  // 3. Close the guest connection / kernel interface.
  owned.reset();
}

void Controller::del_port(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto it = ports_.find(name);
  if (it == ports_.end()) throw ControlError(fmt::format("port {} does not exist", name));
  remove_port(*it->second);
  log::info("port {}: deleted", name);
}

void Controller::remove_all_ports() {
  std::lock_guard lock(mutex_);
  while (!ports_.empty()) remove_port(*ports_.begin()->second);
}

void Controller::add_static_mac(const std::string& network_name, const std::string& mac_text,
                                const std::string& port_name) {
  std::lock_guard lock(mutex_);
  Network& network = network_or_throw(network_name, fmt::format("fdb entry {}: ", mac_text));
  const auto mac = MacAddress::parse(mac_text);
  if (!mac) throw ControlError(fmt::format("'{}' is not a MAC address (expected aa:bb:cc:dd:ee:ff)", mac_text));
  if (mac->is_multicast() || mac->is_zero())
    throw ControlError(fmt::format("fdb entry {}: a static entry needs a unicast MAC address", mac_text));
  auto it = ports_.find(port_name);
  if (it == ports_.end()) throw ControlError(fmt::format("fdb entry {}: port {} does not exist", mac_text, port_name));
  if (it->second->network != network.index)
    throw ControlError(fmt::format("fdb entry {}: port {} is on network {}, not {}", mac_text, port_name,
                                   it->second->config.network, network_name));
  try {
    network.fdb->add_static(*mac, it->second->index);
  } catch (const std::runtime_error& e) {
    throw ControlError(fmt::format("network {}: fdb entry {}: {}", network_name, mac_text, e.what()));
  }
}

void Controller::del_mac(const std::string& network_name, const std::string& mac_text) {
  std::lock_guard lock(mutex_);
  Network& network = network_or_throw(network_name, "");
  const auto mac = MacAddress::parse(mac_text);
  if (!mac) throw ControlError(fmt::format("'{}' is not a MAC address (expected aa:bb:cc:dd:ee:ff)", mac_text));
  if (!network.fdb->remove(*mac))
    throw ControlError(fmt::format("network {}: no FDB entry for {}", network_name, mac->to_string()));
}

std::vector<NetworkStatus> Controller::networks() {
  std::lock_guard lock(mutex_);
  std::vector<NetworkStatus> out;
  for (const auto& [name, n] : networks_)
    out.push_back(
        {n->config, n->ports, n->fdb->dynamic_count(), n->fdb->static_count(), n->fdb->limit_hits(), n->moves});
  return out;
}

PortTotals Controller::port_totals(PortIndex index) const {
  PortTotals t;
  for (unsigned w = 0; w < dataplane_.worker_count(); ++w) {
    const PortCounters& c = dataplane_.counters(w).ports[index];
    t.rx_packets += counter_read(c.rx_packets);
    t.rx_bytes += counter_read(c.rx_bytes);
    t.tx_packets += counter_read(c.tx_packets);
    t.tx_bytes += counter_read(c.tx_bytes);
    t.flood_packets += counter_read(c.flood_packets);
    for (size_t r = 0; r < kDropReasonCount; ++r) t.drops[r] += counter_read(c.drops[r]);
  }
  return t;
}

PortStatus Controller::port_status(const Port& port) const {
  PortStatus s;
  s.config = port.config;
  if (port.vhost) {
    s.link_up = port.vhost->connected();
    s.active_queues = s.link_up ? port.vhost->rx_queue_pairs() : 0;
  } else {
    s.link_up = true;
    s.active_queues = port.kernel->queues();
  }
  const PortTotals now = port_totals(port.index);
  const PortTotals& base = port.baseline;
  s.totals.rx_packets = now.rx_packets - base.rx_packets;
  s.totals.rx_bytes = now.rx_bytes - base.rx_bytes;
  s.totals.tx_packets = now.tx_packets - base.tx_packets;
  s.totals.tx_bytes = now.tx_bytes - base.tx_bytes;
  s.totals.flood_packets = now.flood_packets - base.flood_packets;
  for (size_t r = 0; r < kDropReasonCount; ++r) s.totals.drops[r] = now.drops[r] - base.drops[r];
  return s;
}

std::vector<PortStatus> Controller::ports() {
  std::lock_guard lock(mutex_);
  std::vector<PortStatus> out;
  for (const auto& [name, port] : ports_) out.push_back(port_status(*port));
  return out;
}

std::vector<FdbRow> Controller::fdb(const std::optional<std::string>& network_name) {
  std::lock_guard lock(mutex_);
  std::vector<FdbRow> out;
  const uint32_t now = dataplane_.now_s();
  auto add = [&](const Network& network) {
    for (const FdbEntry& e : network.fdb->entries(now)) {
      const Port* port = port_at_[e.port];
      out.push_back({network.config.name, e.mac, port ? port->config.name : "?", e.is_static, e.age_s});
    }
  };
  if (network_name) {
    add(network_or_throw(*network_name, ""));
  } else {
    for (const auto& [name, network] : networks_) add(*network);
  }
  std::sort(out.begin(), out.end(), [](const FdbRow& a, const FdbRow& b) {
    return std::tie(a.network, a.port, a.mac.bytes()) < std::tie(b.network, b.port, b.mac.bytes());
  });
  return out;
}

Stats Controller::stats() {
  std::lock_guard lock(mutex_);
  Stats s;
  s.tsc_hz = dataplane_.tsc_hz();
  for (const auto& [name, port] : ports_) s.ports.push_back(port_status(*port));
  for (unsigned w = 0; w < dataplane_.worker_count(); ++w) {
    const WorkerCounters& c = dataplane_.counters(w);
    s.workers.push_back({w, dataplane_.options().worker_lcores[w], counter_read(c.busy_cycles),
                         counter_read(c.idle_cycles), counter_read(c.busy_packets), counter_read(c.learn_requests),
                         counter_read(c.learn_ring_full)});
  }
  return s;
}

Config Controller::running_config() {
  std::lock_guard lock(mutex_);
  Config c = startup_;
  c.networks.clear();
  c.ports.clear();
  c.static_macs.clear();
  for (const auto& [name, network] : networks_) {
    c.networks.push_back(network->config);
    for (const FdbEntry& e : network->fdb->entries(0))
      if (e.is_static) c.static_macs.push_back({name, e.mac, port_at_[e.port]->config.name});
  }
  for (const auto& [name, port] : ports_) c.ports.push_back(port->config);
  return c;
}

void Controller::handle_learn(const LearnRequest& request) {
  Network* network = network_at_[request.network];
  Port* port = port_at_[request.port];
  // The port or network may have gone since the worker asked.
  if (network == nullptr || port == nullptr || port->network != request.network) return;
  const MacAddress mac = MacAddress::from_key(request.mac_key);
  switch (network->fdb->learn(mac, request.port, dataplane_.now_s())) {
    case LearnResult::kMoved:
      ++network->moves;
      log::debug("network {}: {} moved to port {}", network->config.name, mac.to_string(), port->config.name);
      break;
    case LearnResult::kLimitReached:
      log::debug("network {}: FDB full, {} on port {} not learned", network->config.name, mac.to_string(),
                 port->config.name);
      break;
    default:
      break;
  }
}

size_t Controller::process_learn_requests() {
  std::lock_guard lock(mutex_);
  return dataplane_.drain_learn_requests([this](const LearnRequest& r) { handle_learn(r); });
}

size_t Controller::age_fdb() {
  std::lock_guard lock(mutex_);
  size_t aged = 0;
  const uint32_t now = dataplane_.now_s();
  for (const auto& [name, network] : networks_) aged += network->fdb->age(now, startup_.sw.mac_aging_s);
  return aged;
}

}  // namespace inception
