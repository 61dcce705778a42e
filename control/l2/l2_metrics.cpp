// L2's metrics: each network's FDB.
#include "control/metrics.h"
#include "control/metrics_families.h"

namespace inception {

using prometheus::MetricType;

void add_l2_metrics(const Stats& stats, MetricFamilies& out) {
  auto fdb_entries = metric_family("inception_fdb_entries", "MAC addresses in a network's FDB.", MetricType::Gauge);
  auto fdb_limit = metric_family("inception_fdb_limit", "Dynamic FDB entries a network may hold.", MetricType::Gauge);
  auto fdb_refused =
      metric_family("inception_fdb_learn_refused_total",
                    "MAC addresses not learned because the network's FDB was full.", MetricType::Counter);
  auto fdb_moves =
      metric_family("inception_fdb_moves_total", "MAC addresses relearned on another port.", MetricType::Counter);
  for (const NetworkStatus& n : stats.networks) {
    const std::string& name = n.config.name;
    add_sample(fdb_entries, {{"network", name}, {"type", "dynamic"}}, n.fdb_dynamic);
    add_sample(fdb_entries, {{"network", name}, {"type", "static"}}, n.fdb_static);
    add_sample(fdb_limit, {{"network", name}}, n.config.fdb_limit);
    add_sample(fdb_refused, {{"network", name}}, static_cast<double>(n.fdb_limit_hits));
    add_sample(fdb_moves, {{"network", name}}, static_cast<double>(n.fdb_moves));
  }
  out.insert(out.end(), {fdb_entries, fdb_limit, fdb_refused, fdb_moves});
}

}  // namespace inception
