// The router's and NAT's metrics: floating IPs, translations, SNAT sessions.
#include "control/metrics.h"
#include "control/metrics_families.h"

namespace inception {

using prometheus::MetricType;

void add_router_metrics(const Stats& stats, MetricFamilies& out) {
  auto fip_packets =
      metric_family("inception_fip_packets_total", "Packets through a floating IP, by direction.", MetricType::Counter);
  auto fip_bytes =
      metric_family("inception_fip_bytes_total", "Bytes through a floating IP, by direction.", MetricType::Counter);
  for (const FipStatus& f : stats.nat.fips) {
    const std::string ip = f.config.public_ip.to_string();
    add_sample(fip_packets, {{"fip", ip}, {"direction", "in"}}, static_cast<double>(f.totals.in_packets));
    add_sample(fip_packets, {{"fip", ip}, {"direction", "out"}}, static_cast<double>(f.totals.out_packets));
    add_sample(fip_bytes, {{"fip", ip}, {"direction", "in"}}, static_cast<double>(f.totals.in_bytes));
    add_sample(fip_bytes, {{"fip", ip}, {"direction", "out"}}, static_cast<double>(f.totals.out_bytes));
  }
  auto translations = metric_family("inception_nat_translations_total", "Packets whose addresses a NAT rule rewrote.",
                                    MetricType::Counter);
  add_sample(translations, {}, static_cast<double>(stats.nat.translations));
  auto mss_clamped =
      metric_family("inception_nat_mss_clamped_total",
                    "Routed TCP SYNs whose MSS option was lowered to fit the overlay.", MetricType::Counter);
  add_sample(mss_clamped, {}, static_cast<double>(stats.nat.mss_clamped));
  auto sessions = metric_family("inception_snat_sessions", "SNAT sessions now.", MetricType::Gauge);
  auto sessions_created =
      metric_family("inception_snat_sessions_created_total", "SNAT sessions created.", MetricType::Counter);
  auto sessions_expired =
      metric_family("inception_snat_sessions_expired_total", "SNAT sessions expired.", MetricType::Counter);
  add_sample(sessions, {}, stats.nat.sessions_active);
  // For "near full" alerts: the table refuses new flows at this many.
  auto limit = metric_family("inception_snat_sessions_limit", "SNAT sessions the table holds at most (0: no SNAT).",
                             MetricType::Gauge);
  add_sample(limit, {}, stats.nat.sessions_limit);
  add_sample(sessions_created, {}, static_cast<double>(stats.nat.sessions_created));
  add_sample(sessions_expired, {}, static_cast<double>(stats.nat.sessions_expired));
  out.insert(out.end(),
             {fip_packets, fip_bytes, translations, mss_clamped, sessions, limit, sessions_created, sessions_expired});
}

}  // namespace inception
