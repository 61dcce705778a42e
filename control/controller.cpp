// The Controller's glue: construction, applying a start-up config, building
// and publishing the snapshot, and the reads that span every feature
// (stats, running config). Each feature's operations are in its folder:
// control/l2/, control/ports/, control/vxlan/, control/router/.
#include "control/controller.h"

#include <chrono>

#include "control/controller_internal.h"
#include "dataplane/worker/rate_limit.h"

namespace inception {

namespace {

uint64_t steady_ms() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

}  // namespace

Controller::Controller(const Config& startup, Dataplane& dataplane)
    : startup_(startup),
      dataplane_(dataplane),
      start_ms_(steady_ms()),
      neighbors_(startup.underlay.neighbor_timeout_s) {}

uint32_t Controller::now_ms() const {
  return static_cast<uint32_t>(steady_ms() - start_ms_);
}

Controller::~Controller() {
  remove_all_ports();
}

void Controller::apply(const Config& config) {
  apply_underlay(config);
  for (const NetworkConfig& n : config.networks) add_network(n);
  for (const PortConfig& p : config.ports) add_port(p);
  for (const StaticMacConfig& s : config.static_macs) add_static_mac(s.network, s.mac.to_string(), s.port);
  apply_routing(config);
  for (const GatewayMappingConfig& g : config.gateway_mappings)
    add_gateway_mapping(g.underlay.to_string(), g.public_ip.to_string());
  for (const FipConfig& f : config.fips) add_fip(f.public_ip.to_string(), f.fixed.to_string(), f.network);
}

// Builds the worker view of the current model and swaps it in. Each feature
// writes its own part of the snapshot.
void Controller::publish() {
  auto snapshot = std::make_unique<Snapshot>();
  const unsigned workers = dataplane_.worker_count();
  publish_underlay(*snapshot);
  publish_l2(*snapshot);
  publish_ports(*snapshot);
  const uint64_t hz = dataplane_.tsc_hz();
  const Config::Switch& sw = startup_.sw;
  snapshot->limits.punt_port = make_rate_limit(sw.punt_pps_per_port, workers, hz);
  snapshot->limits.punt_network = make_rate_limit(sw.punt_pps_per_network, workers, hz);
  snapshot->limits.flood_port = make_rate_limit(sw.flood_pps_per_port, workers, hz);
  snapshot->limits.flood_network = make_rate_limit(sw.flood_pps_per_network, workers, hz);
  publish_nat(*snapshot);
  dataplane_.publish(std::move(snapshot));
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

Stats Controller::stats() {
  std::lock_guard lock(mutex_);
  Stats s;
  s.tsc_hz = dataplane_.tsc_hz();
  s.mempool = dataplane_.mempool_usage();
  for (const auto& [name, port] : ports_) s.ports.push_back(port_status(*port));
  for (const auto& [name, network] : networks_) {
    s.networks.push_back(network_status(*network));
    s.peers.insert(s.peers.end(), s.networks.back().peers.begin(), s.networks.back().peers.end());
  }
  s.underlay = underlay_status();
  s.nat = nat_status();
  for (unsigned w = 0; w < dataplane_.worker_count(); ++w) {
    const WorkerCounters& c = dataplane_.counters(w);
    s.workers.push_back({w, dataplane_.options().worker_lcores[w], counter_read(c.busy_cycles),
                         counter_read(c.idle_cycles), counter_read(c.busy_packets), counter_read(c.learn_requests),
                         counter_read(c.learn_ring_full), counter_read(c.offload_segmented),
                         counter_read(c.offload_segments), counter_read(c.offload_checksums),
                         counter_read(c.offload_coalesced), counter_read(c.offload_coalesced_segments)});
  }
  return s;
}

Config Controller::running_config() {
  std::lock_guard lock(mutex_);
  Config c = startup_;
  running_routing_config(c);
  c.neighbors.clear();
  for (const NeighborEntry& n : neighbors_.entries())
    if (n.is_static && n.mac) c.neighbors.push_back({n.ip, *n.mac});
  running_l2_config(c);
  c.ports.clear();
  for (const auto& [name, port] : ports_)
    if (!port->origin.is_domain()) c.ports.push_back(port->config);
  return c;
}

}  // namespace inception
