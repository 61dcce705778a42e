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

namespace {

MetricFamily family(const std::string& name, const std::string& help, MetricType type) {
  return metric_family(name, help, type);
}

void add(MetricFamily& f, std::vector<ClientMetric::Label> labels, double value) {
  add_sample(f, std::move(labels), value);
}

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

    auto peer_rx =
        family("inception_peer_rx_packets_total", "Frames decapsulated from a VXLAN peer.", MetricType::Counter);
    auto peer_rx_bytes =
        family("inception_peer_rx_bytes_total", "Inner bytes decapsulated from a VXLAN peer.", MetricType::Counter);
    auto peer_tx =
        family("inception_peer_tx_packets_total", "Frames encapsulated to a VXLAN peer.", MetricType::Counter);
    auto peer_tx_bytes =
        family("inception_peer_tx_bytes_total", "Inner bytes encapsulated to a VXLAN peer.", MetricType::Counter);
    auto peer_flood = family("inception_peer_flood_packets_total",
                             "Head-end replicated copies (broadcast, multicast, unknown unicast) sent to a peer.",
                             MetricType::Counter);
    auto peer_drops =
        family("inception_peer_drops_total", "Frames toward a peer dropped, by reason.", MetricType::Counter);
    auto peer_resolved =
        family("inception_peer_resolved", "1 when the peer's next-hop MAC is known.", MetricType::Gauge);
    for (const PeerStatus& p : stats.peers) {
      const std::vector<ClientMetric::Label> labels{{"network", p.network}, {"peer", p.ip.to_string()}};
      add(peer_rx, labels, static_cast<double>(p.totals.rx_packets));
      add(peer_rx_bytes, labels, static_cast<double>(p.totals.rx_bytes));
      add(peer_tx, labels, static_cast<double>(p.totals.tx_packets));
      add(peer_tx_bytes, labels, static_cast<double>(p.totals.tx_bytes));
      add(peer_flood, labels, static_cast<double>(p.totals.flood_packets));
      add(peer_resolved, labels, p.resolved ? 1.0 : 0.0);
      // Every reason, as for ports: which stage charges a peer or the NIC
      // is the dataplane's business, not the scrape's.
      for (size_t r = 0; r < kDropReasonCount; ++r) {
        auto with_reason = labels;
        with_reason.push_back({"reason", std::string(kDropReasonNames[r])});
        add(peer_drops, with_reason, static_cast<double>(p.totals.drops[r]));
      }
    }
    auto underlay_rx =
        family("inception_underlay_rx_packets_total",
               "Frames received on the underlay NIC (interface=nic) or from the rVM's stack (interface=host).",
               MetricType::Counter);
    auto underlay_tx = family("inception_underlay_tx_packets_total",
                              "Frames sent on the underlay NIC (interface=nic) or to the rVM's stack (interface=host).",
                              MetricType::Counter);
    auto underlay_drops =
        family("inception_underlay_drops_total",
               "Frames from the underlay dropped, by reason (VXLAN decap, ARP, and the router for NAT addresses).",
               MetricType::Counter);
    if (stats.underlay) {
      add(underlay_rx, {{"interface", "nic"}}, static_cast<double>(stats.underlay->nic.rx_packets));
      add(underlay_rx, {{"interface", "host"}}, static_cast<double>(stats.underlay->host.rx_packets));
      add(underlay_tx, {{"interface", "nic"}}, static_cast<double>(stats.underlay->nic.tx_packets));
      add(underlay_tx, {{"interface", "host"}}, static_cast<double>(stats.underlay->host.tx_packets));
      for (size_t r = 0; r < kDropReasonCount; ++r)
        add(underlay_drops, {{"reason", std::string(kDropReasonNames[r])}},
            static_cast<double>(stats.underlay->nic.drops[r]));
    }

    auto fip_packets =
        family("inception_fip_packets_total", "Packets through a floating IP, by direction.", MetricType::Counter);
    auto fip_bytes =
        family("inception_fip_bytes_total", "Bytes through a floating IP, by direction.", MetricType::Counter);
    for (const FipStatus& f : stats.nat.fips) {
      const std::string ip = f.config.public_ip.to_string();
      add(fip_packets, {{"fip", ip}, {"direction", "in"}}, static_cast<double>(f.totals.in_packets));
      add(fip_packets, {{"fip", ip}, {"direction", "out"}}, static_cast<double>(f.totals.out_packets));
      add(fip_bytes, {{"fip", ip}, {"direction", "in"}}, static_cast<double>(f.totals.in_bytes));
      add(fip_bytes, {{"fip", ip}, {"direction", "out"}}, static_cast<double>(f.totals.out_bytes));
    }
    auto translations =
        family("inception_nat_translations_total", "Packets whose addresses a NAT rule rewrote.", MetricType::Counter);
    add(translations, {}, static_cast<double>(stats.nat.translations));
    auto sessions = family("inception_snat_sessions", "SNAT sessions now.", MetricType::Gauge);
    auto sessions_created =
        family("inception_snat_sessions_created_total", "SNAT sessions created.", MetricType::Counter);
    auto sessions_expired =
        family("inception_snat_sessions_expired_total", "SNAT sessions expired.", MetricType::Counter);
    add(sessions, {}, stats.nat.sessions_active);
    add(sessions_created, {}, static_cast<double>(stats.nat.sessions_created));
    add(sessions_expired, {}, static_cast<double>(stats.nat.sessions_expired));

    auto fdb_entries = family("inception_fdb_entries", "MAC addresses in a network's FDB.", MetricType::Gauge);
    auto fdb_limit = family("inception_fdb_limit", "Dynamic FDB entries a network may hold.", MetricType::Gauge);
    auto fdb_refused = family("inception_fdb_learn_refused_total",
                              "MAC addresses not learned because the network's FDB was full.", MetricType::Counter);
    auto fdb_moves =
        family("inception_fdb_moves_total", "MAC addresses relearned on another port.", MetricType::Counter);
    for (const NetworkStatus& n : stats.networks) {
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
    auto mempool = family("inception_mempool_mbufs",
                          "Packet buffers of a mempool: in_use (rings, queues, frames in flight) or available.",
                          MetricType::Gauge);
    add(mempool, {{"pool", stats.mempool.name}, {"state", "in_use"}}, stats.mempool.in_use);
    add(mempool, {{"pool", stats.mempool.name}, {"state", "available"}}, stats.mempool.available);
    auto hz = family("inception_tsc_hz", "TSC frequency: divides the *_cycles_total counters into seconds.",
                     MetricType::Gauge);
    add(hz, {}, static_cast<double>(stats.tsc_hz));
    auto info = family("inception_build_info", "inceptiond version.", MetricType::Gauge);
    add(info, {{"version", INCEPTION_VERSION}}, 1);

    return {rx_packets,
            rx_bytes,
            tx_packets,
            tx_bytes,
            flood,
            drops,
            link,
            peer_rx,
            peer_rx_bytes,
            peer_tx,
            peer_tx_bytes,
            peer_flood,
            peer_drops,
            peer_resolved,
            underlay_rx,
            underlay_tx,
            underlay_drops,
            fdb_entries,
            fdb_limit,
            fdb_refused,
            fdb_moves,
            busy,
            idle,
            packets,
            learn,
            learn_lost,
            mempool,
            hz,
            info,
            fip_packets,
            fip_bytes,
            translations,
            sessions,
            sessions_created,
            sessions_expired};
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
