// The ports' metrics: traffic, drops by reason, link state.
#include "control/metrics.h"
#include "control/metrics_families.h"

namespace inception {

using prometheus::ClientMetric;
using prometheus::MetricType;

void add_port_metrics(const Stats& stats, MetricFamilies& out) {
  auto rx_packets = metric_family("inception_port_rx_packets_total", "Frames received on a port.", MetricType::Counter);
  auto rx_bytes = metric_family("inception_port_rx_bytes_total", "Bytes received on a port.", MetricType::Counter);
  auto tx_packets =
      metric_family("inception_port_tx_packets_total", "Frames delivered to a port.", MetricType::Counter);
  auto tx_bytes = metric_family("inception_port_tx_bytes_total", "Bytes delivered to a port.", MetricType::Counter);
  auto flood =
      metric_family("inception_port_flood_packets_total",
                    "Flooded copies (broadcast, multicast, unknown unicast) sent to a port.", MetricType::Counter);
  auto drops = metric_family("inception_port_drops_total", "Frames dropped, by port and reason.", MetricType::Counter);
  auto link = metric_family("inception_port_link_up", "1 if a guest is attached (vhost-user) or the interface exists.",
                            MetricType::Gauge);
  for (const PortStatus& p : stats.ports) {
    const std::vector<ClientMetric::Label> labels{{"port", p.config.name}, {"network", p.config.network}};
    add_totals({&rx_packets, &rx_bytes, &tx_packets, &tx_bytes, &flood, &drops}, labels, p.totals);
    add_sample(link, labels, p.link_up ? 1.0 : 0.0);
  }
  out.insert(out.end(), {rx_packets, rx_bytes, tx_packets, tx_bytes, flood, drops, link});
}

}  // namespace inception
