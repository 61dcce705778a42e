#include "control/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

#include <stdexcept>

namespace inception {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(const std::string& name, const std::string& help, MetricType type) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

void add(MetricFamily& f, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter)
    m.counter.value = value;
  else
    m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

}  // namespace

class MetricsExporter::Collector : public prometheus::Collectable {
 public:
  explicit Collector(Controller& controller) : controller_(controller) {}

  std::vector<MetricFamily> Collect() const override {
    const Stats stats = controller_.stats();
    auto rx_packets = family("inception_port_rx_packets_total", "Frames received on a port.", MetricType::Counter);
    auto rx_bytes = family("inception_port_rx_bytes_total", "Bytes received on a port.", MetricType::Counter);
    auto tx_packets = family("inception_port_tx_packets_total", "Frames delivered to a port.", MetricType::Counter);
    auto tx_bytes = family("inception_port_tx_bytes_total", "Bytes delivered to a port.", MetricType::Counter);
    auto flood = family("inception_port_flood_packets_total",
                        "Flooded copies (broadcast, multicast, unknown unicast) sent to a port.", MetricType::Counter);
    auto drops = family("inception_port_drops_total", "Frames dropped, by port and reason.", MetricType::Counter);
    auto link = family("inception_port_link_up", "1 if a guest is attached (vhost-user) or the interface exists.",
                       MetricType::Gauge);
    for (const PortStatus& p : stats.ports) {
      const std::vector<ClientMetric::Label> labels{{"port", p.config.name}, {"network", p.config.network}};
      add(rx_packets, labels, static_cast<double>(p.totals.rx_packets));
      add(rx_bytes, labels, static_cast<double>(p.totals.rx_bytes));
      add(tx_packets, labels, static_cast<double>(p.totals.tx_packets));
      add(tx_bytes, labels, static_cast<double>(p.totals.tx_bytes));
      add(flood, labels, static_cast<double>(p.totals.flood_packets));
      add(link, labels, p.link_up ? 1.0 : 0.0);
      for (size_t r = 0; r < kDropReasonCount; ++r) {
        auto with_reason = labels;
        with_reason.push_back({"reason", std::string(kDropReasonNames[r])});
        add(drops, with_reason, static_cast<double>(p.totals.drops[r]));
      }
    }

    auto fdb_entries = family("inception_fdb_entries", "MAC addresses in a network's FDB.", MetricType::Gauge);
    auto fdb_limit = family("inception_fdb_limit", "Dynamic FDB entries a network may hold.", MetricType::Gauge);
    auto fdb_refused = family("inception_fdb_learn_refused_total",
                              "MAC addresses not learned because the network's FDB was full.", MetricType::Counter);
    auto fdb_moves =
        family("inception_fdb_moves_total", "MAC addresses relearned on another port.", MetricType::Counter);
    for (const NetworkStatus& n : controller_.networks()) {
      const std::string& name = n.config.name;
      add(fdb_entries, {{"network", name}, {"type", "dynamic"}}, n.fdb_dynamic);
      add(fdb_entries, {{"network", name}, {"type", "static"}}, n.fdb_static);
      add(fdb_limit, {{"network", name}}, n.config.fdb_limit);
      add(fdb_refused, {{"network", name}}, static_cast<double>(n.fdb_limit_hits));
      add(fdb_moves, {{"network", name}}, static_cast<double>(n.fdb_moves));
    }

    auto busy = family("inception_worker_busy_cycles_total",
                       "TSC cycles a worker spent on iterations that moved frames.", MetricType::Counter);
    auto idle = family("inception_worker_idle_cycles_total",
                       "TSC cycles a worker spent polling empty queues or sleeping.", MetricType::Counter);
    auto packets = family("inception_worker_packets_total", "Frames a worker received.", MetricType::Counter);
    auto learn = family("inception_worker_learn_requests_total", "MAC learning requests sent to the control thread.",
                        MetricType::Counter);
    auto learn_lost = family("inception_worker_learn_ring_full_total",
                             "MAC learning requests lost because the learn ring was full.", MetricType::Counter);
    for (const WorkerStatus& w : stats.workers) {
      const std::vector<ClientMetric::Label> labels{{"worker", std::to_string(w.index)},
                                                    {"lcore", std::to_string(w.lcore)}};
      add(busy, labels, static_cast<double>(w.busy_cycles));
      add(idle, labels, static_cast<double>(w.idle_cycles));
      add(packets, labels, static_cast<double>(w.busy_packets));
      add(learn, labels, static_cast<double>(w.learn_requests));
      add(learn_lost, labels, static_cast<double>(w.learn_ring_full));
    }
    auto hz = family("inception_tsc_hz", "TSC frequency: divides the *_cycles_total counters into seconds.",
                     MetricType::Gauge);
    add(hz, {}, static_cast<double>(stats.tsc_hz));
    auto info = family("inception_build_info", "inceptiond version.", MetricType::Gauge);
    add(info, {{"version", INCEPTION_VERSION}}, 1);

    return {rx_packets,  rx_bytes,  tx_packets, tx_bytes, flood,   drops, link,       fdb_entries, fdb_limit,
            fdb_refused, fdb_moves, busy,       idle,     packets, learn, learn_lost, hz,          info};
  }

 private:
  Controller& controller_;
};

MetricsExporter::MetricsExporter(const std::string& listen, Controller& controller)
    : collector_(std::make_shared<Collector>(controller)) {
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(listen, 1);
  } catch (const std::exception& e) {
    throw std::runtime_error("metrics: cannot listen on " + listen + ": " + e.what());
  }
  exposer_->RegisterCollectable(collector_);
}

MetricsExporter::~MetricsExporter() = default;

int MetricsExporter::port() const {
  const auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace inception
