// The Prometheus endpoint (prometheus-cpp pull exposer).
//
// On every scrape the collector asks the Controller for per-port totals,
// FDB sizes and per-worker cycles. Those are sums of per-worker counters
// read with relaxed loads; the fast path never knows a scrape happened.
// Metric names follow Prometheus conventions: inception_ prefix, _total for
// counters, labels for port, network, worker and drop reason.
//
// Threads: civetweb's accept thread and two request threads serve scrapes;
// the collector takes the controller's lock once per scrape. Construct and
// destroy on the control thread.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <sys/socket.h>

#include <memory>
#include <optional>
#include <string>

#include "control/controller.h"

namespace prometheus {
class Exposer;
}

namespace inception {

// For the collectors of modules beside the controller's (libvirt's).
prometheus::MetricFamily metric_family(const std::string& name, const std::string& help, prometheus::MetricType type);
void add_sample(prometheus::MetricFamily& family, std::vector<prometheus::ClientMetric::Label> labels, double value);

// The traffic families a port and a VXLAN peer both export (their names
// and help differ): one sample each from `totals`, drops one per reason.
struct TotalsFamilies {
  prometheus::MetricFamily *rx_packets, *rx_bytes, *tx_packets, *tx_bytes, *flood, *drops;
};
void add_totals(const TotalsFamilies& families, const std::vector<prometheus::ClientMetric::Label>& labels,
                const PortTotals& totals);

class MetricsExporter {
 public:
  // Listens on `listen` ("ADDRESS:PORT"). Throws std::runtime_error naming
  // the address if it cannot.
  MetricsExporter(const std::string& listen, Controller& controller);
  ~MetricsExporter();
  MetricsExporter(const MetricsExporter&) = delete;
  MetricsExporter& operator=(const MetricsExporter&) = delete;

  int port() const;
  // A module's metrics, served until the exporter goes (destroy it first).
  void add_module(const std::shared_ptr<prometheus::Collectable>& collectable);

 private:
  class Collector;
  std::shared_ptr<Collector> collector_;
  std::vector<std::shared_ptr<prometheus::Collectable>> modules_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::optional<sockaddr_storage> wake_address_;  // see ~MetricsExporter
};

}  // namespace inception
