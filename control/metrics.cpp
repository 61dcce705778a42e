#include "control/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "control/metrics_families.h"

namespace inception {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily metric_family(const std::string& name, const std::string& help, MetricType type) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

void add_sample(MetricFamily& f, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter)
    m.counter.value = value;
  else
    m.gauge.value = value;
  f.metric.push_back(std::move(m));
}

void add_totals(const TotalsFamilies& f, const std::vector<ClientMetric::Label>& labels, const PortTotals& totals) {
  add_sample(*f.rx_packets, labels, static_cast<double>(totals.rx_packets));
  add_sample(*f.rx_bytes, labels, static_cast<double>(totals.rx_bytes));
  add_sample(*f.tx_packets, labels, static_cast<double>(totals.tx_packets));
  add_sample(*f.tx_bytes, labels, static_cast<double>(totals.tx_bytes));
  add_sample(*f.flood, labels, static_cast<double>(totals.flood_packets));
  // Every reason: which stage charges a port or a peer is the dataplane's
  // business, not the scrape's.
  for (size_t r = 0; r < kDropReasonCount; ++r) {
    auto with_reason = labels;
    with_reason.push_back({"reason", std::string(kDropReasonNames[r])});
    add_sample(*f.drops, with_reason, static_cast<double>(totals.drops[r]));
  }
}

namespace {

// Where a local client reaches the listening socket: its address, or the
// loopback address of its family when it listens on all of them.
std::optional<sockaddr_storage> wake_address(const std::string& listen, int port) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || port <= 0) return std::nullopt;
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  sockaddr_storage storage{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    if (v4->sin_addr.s_addr == htonl(INADDR_ANY)) v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return storage;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    if (IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr)) v6->sin6_addr = in6addr_loopback;
    return storage;
  }
  return std::nullopt;
}

void knock(const sockaddr_storage& address) {
  const int fd = socket(address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  // A local connection completes at once; refused once civetweb has closed
  // the socket. The timeout only bounds a firewall that drops it.
  timeval timeout{0, 100000};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  const socklen_t length = address.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  (void)connect(fd, reinterpret_cast<const sockaddr*>(&address), length);
  close(fd);
}

}  // namespace

class MetricsExporter::Collector : public prometheus::Collectable {
 public:
  explicit Collector(Controller& controller) : controller_(controller) {}

  std::vector<MetricFamily> Collect() const override {
    const Stats stats = controller_.stats();
    MetricFamilies out;
    add_port_metrics(stats, out);
    add_vxlan_metrics(stats, out);
    add_l2_metrics(stats, out);
    auto busy = metric_family("inception_worker_busy_cycles_total",
                              "TSC cycles a worker spent on iterations that moved frames.", MetricType::Counter);
    auto idle = metric_family("inception_worker_idle_cycles_total",
                              "TSC cycles a worker spent polling empty queues or sleeping.", MetricType::Counter);
    auto packets = metric_family("inception_worker_packets_total", "Frames a worker received.", MetricType::Counter);
    auto learn = metric_family("inception_worker_learn_requests_total",
                               "MAC learning requests sent to the control thread.", MetricType::Counter);
    auto learn_lost = metric_family("inception_worker_learn_ring_full_total",
                                    "MAC learning requests lost because the learn ring was full.", MetricType::Counter);
    auto segmented = metric_family("inception_worker_offload_segmented_total",
                                   "Guests' TSO super-frames the worker cut in software for an egress without TSO.",
                                   MetricType::Counter);
    auto segments = metric_family("inception_worker_offload_segments_total", "Segments those super-frames became.",
                                  MetricType::Counter);
    auto checksums = metric_family("inception_worker_offload_checksums_total",
                                   "Frames whose L4 checksum, left to the NIC by a guest, the worker completed.",
                                   MetricType::Counter);
    auto coalesced =
        metric_family("inception_worker_offload_coalesced_total",
                      "Super-frames the worker made of TCP segments for a guest that takes TSO.", MetricType::Counter);
    auto coalesced_segments = metric_family("inception_worker_offload_coalesced_segments_total",
                                            "Segments those super-frames took.", MetricType::Counter);
    for (const WorkerStatus& w : stats.workers) {
      const std::vector<ClientMetric::Label> labels{{"worker", std::to_string(w.index)},
                                                    {"lcore", std::to_string(w.lcore)}};
      add_sample(busy, labels, static_cast<double>(w.busy_cycles));
      add_sample(idle, labels, static_cast<double>(w.idle_cycles));
      add_sample(packets, labels, static_cast<double>(w.busy_packets));
      add_sample(learn, labels, static_cast<double>(w.learn_requests));
      add_sample(learn_lost, labels, static_cast<double>(w.learn_ring_full));
      add_sample(segmented, labels, static_cast<double>(w.offload_segmented));
      add_sample(segments, labels, static_cast<double>(w.offload_segments));
      add_sample(checksums, labels, static_cast<double>(w.offload_checksums));
      add_sample(coalesced, labels, static_cast<double>(w.offload_coalesced));
      add_sample(coalesced_segments, labels, static_cast<double>(w.offload_coalesced_segments));
    }
    auto mempool = metric_family("inception_mempool_mbufs",
                                 "Packet buffers of a mempool: in_use (rings, queues, frames in flight) or available.",
                                 MetricType::Gauge);
    add_sample(mempool, {{"pool", stats.mempool.name}, {"state", "in_use"}}, stats.mempool.in_use);
    add_sample(mempool, {{"pool", stats.mempool.name}, {"state", "available"}}, stats.mempool.available);
    auto hz = metric_family("inception_tsc_hz", "TSC frequency: divides the *_cycles_total counters into seconds.",
                            MetricType::Gauge);
    add_sample(hz, {}, static_cast<double>(stats.tsc_hz));
    auto info = metric_family("inception_build_info", "inceptiond version.", MetricType::Gauge);
    add_sample(info, {{"version", INCEPTION_VERSION}}, 1);
    out.insert(out.end(), {busy, idle, packets, learn, learn_lost, segmented, segments, checksums, mempool, hz, info});
    add_router_metrics(stats, out);
    return out;
  }

 private:
  Controller& controller_;
};

MetricsExporter::MetricsExporter(const std::string& listen, Controller& controller)
    : collector_(std::make_shared<Collector>(controller)) {
  // A client that connects and says nothing (a port scan, a stuck scraper)
  // holds a civetweb thread until the request timeout: with civetweb's
  // defaults, one thread and 30 s, it held every scrape up. A scraper sends
  // its request as soon as it is connected. The timeout also bounds how long
  // such a client delays a shutdown: civetweb's request threads look at the
  // stop flag only when their wait for the request ends.
  const std::vector<std::string> options{"listening_ports", listen, "num_threads", "2", "request_timeout_ms", "1000"};
  try {
    exposer_ = std::make_unique<prometheus::Exposer>(options);
  } catch (const std::exception& e) {
    throw std::runtime_error("metrics: cannot listen on " + listen + ": " + e.what());
  }
  exposer_->RegisterCollectable(collector_);
  wake_address_ = wake_address(listen, port());
}

// civetweb's accept thread waits for connections in poll() calls of 2 s and
// looks at its stop flag only between them, so destroying the exposer (which
// sets the flag, then waits for that thread) took up to 2 s: most of the
// daemon's shutdown. A connection ends the wait. The knocks before the flag
// is set are accepted and closed like any client that hangs up; the first one
// after it lets the thread see the flag and exit.
MetricsExporter::~MetricsExporter() {
  // Release/acquire only orders the flag with the knocker's exit; nothing
  // else is shared.
  std::atomic<bool> stopped{false};
  std::thread knocker;
  if (wake_address_)
    knocker = std::thread([this, &stopped] {
      while (!stopped.load(std::memory_order_acquire)) {
        knock(*wake_address_);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
  exposer_.reset();
  stopped.store(true, std::memory_order_release);
  if (knocker.joinable()) knocker.join();
}

void MetricsExporter::add_module(const std::shared_ptr<prometheus::Collectable>& collectable) {
  modules_.push_back(collectable);
  exposer_->RegisterCollectable(collectable);
}

int MetricsExporter::port() const {
  const auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace inception
