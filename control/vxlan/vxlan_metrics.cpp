// VXLAN's metrics: each peer's traffic, drops and resolution; the underlay
// NIC and host interface.
#include "control/metrics.h"
#include "control/metrics_families.h"

namespace inception {

using prometheus::ClientMetric;
using prometheus::MetricType;

void add_vxlan_metrics(const Stats& stats, MetricFamilies& out) {
  auto peer_rx =
      metric_family("inception_peer_rx_packets_total", "Frames decapsulated from a VXLAN peer.", MetricType::Counter);
  auto peer_rx_bytes = metric_family("inception_peer_rx_bytes_total", "Inner bytes decapsulated from a VXLAN peer.",
                                     MetricType::Counter);
  auto peer_tx =
      metric_family("inception_peer_tx_packets_total", "Frames encapsulated to a VXLAN peer.", MetricType::Counter);
  auto peer_tx_bytes =
      metric_family("inception_peer_tx_bytes_total", "Inner bytes encapsulated to a VXLAN peer.", MetricType::Counter);
  auto peer_flood = metric_family("inception_peer_flood_packets_total",
                                  "Head-end replicated copies (broadcast, multicast, unknown unicast) sent to a peer.",
                                  MetricType::Counter);
  auto peer_drops =
      metric_family("inception_peer_drops_total", "Frames toward a peer dropped, by reason.", MetricType::Counter);
  auto peer_resolved =
      metric_family("inception_peer_resolved", "1 when the peer's next-hop MAC is known.", MetricType::Gauge);
  for (const PeerStatus& p : stats.peers) {
    const std::vector<ClientMetric::Label> labels{{"network", p.network}, {"peer", p.ip.to_string()}};
    add_totals({&peer_rx, &peer_rx_bytes, &peer_tx, &peer_tx_bytes, &peer_flood, &peer_drops}, labels, p.totals);
    add_sample(peer_resolved, labels, p.resolved ? 1.0 : 0.0);
  }
  auto underlay_rx =
      metric_family("inception_underlay_rx_packets_total",
                    "Frames received on the underlay NIC (interface=nic) or from the rVM's stack (interface=host).",
                    MetricType::Counter);
  auto underlay_tx = metric_family(
      "inception_underlay_tx_packets_total",
      "Frames sent on the underlay NIC (interface=nic) or to the rVM's stack (interface=host).", MetricType::Counter);
  auto underlay_drops =
      metric_family("inception_underlay_drops_total",
                    "Frames from the underlay dropped, by reason (VXLAN decap, ARP, and the router for NAT addresses).",
                    MetricType::Counter);
  if (stats.underlay) {
    add_sample(underlay_rx, {{"interface", "nic"}}, static_cast<double>(stats.underlay->nic.rx_packets));
    add_sample(underlay_rx, {{"interface", "host"}}, static_cast<double>(stats.underlay->host.rx_packets));
    add_sample(underlay_tx, {{"interface", "nic"}}, static_cast<double>(stats.underlay->nic.tx_packets));
    add_sample(underlay_tx, {{"interface", "host"}}, static_cast<double>(stats.underlay->host.tx_packets));
    for (size_t r = 0; r < kDropReasonCount; ++r)
      add_sample(underlay_drops, {{"reason", std::string(kDropReasonNames[r])}},
                 static_cast<double>(stats.underlay->nic.drops[r]));
  }
  out.insert(out.end(), {peer_rx, peer_rx_bytes, peer_tx, peer_tx_bytes, peer_flood, peer_drops, peer_resolved,
                         underlay_rx, underlay_tx, underlay_drops});
}

}  // namespace inception
