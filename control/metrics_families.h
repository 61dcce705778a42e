// The metric families of each feature, read from one Stats (one lock per
// scrape) and appended in the order the endpoint has always listed them:
// ports, VXLAN, L2, the switch's own (metrics.cpp), router and NAT.
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

#include "control/controller.h"

namespace inception {

using MetricFamilies = std::vector<prometheus::MetricFamily>;

void add_port_metrics(const Stats& stats, MetricFamilies& out);    // control/ports/port_metrics.cpp
void add_vxlan_metrics(const Stats& stats, MetricFamilies& out);   // control/vxlan/vxlan_metrics.cpp
void add_l2_metrics(const Stats& stats, MetricFamilies& out);      // control/l2/l2_metrics.cpp
void add_router_metrics(const Stats& stats, MetricFamilies& out);  // control/router/router_metrics.cpp

}  // namespace inception
