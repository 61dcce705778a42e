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

#include <sys/socket.h>

#include <memory>
#include <optional>
#include <string>

#include "control/controller.h"

namespace prometheus {
class Exposer;
}

namespace inception {

class MetricsExporter {
 public:
  // Listens on `listen` ("ADDRESS:PORT"). Throws std::runtime_error naming
  // the address if it cannot.
  MetricsExporter(const std::string& listen, Controller& controller);
  ~MetricsExporter();
  MetricsExporter(const MetricsExporter&) = delete;
  MetricsExporter& operator=(const MetricsExporter&) = delete;

  int port() const;

 private:
  class Collector;
  std::shared_ptr<Collector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::optional<sockaddr_storage> wake_address_;  // see ~MetricsExporter
};

}  // namespace inception
