// inception-gen: traffic generator and sink for the benchmarks in perf/.
//
// One DPDK process on one core. It connects to a switch's vhost-user
// sockets through virtio-user, as an iVM does: it sends on the TX port and
// counts what arrives on the RX port, so the rate it reports is the rate the
// switch delivered, not what was offered. Frames carry a TSC timestamp and a
// sequence number in their UDP payload; latency percentiles come from a
// sample of them (the same TSC on both ends: no clock sync needed).
//
// It can also play a remote rVM on the underlay: --tx-vxlan wraps every
// frame in VXLAN as a peer VTEP would, --rx-vxlan expects VXLAN at the sink
// and looks inside.
//
// Output: one JSON object on stdout when done.
#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "inception/ipv4_address.h"
#include "inception/mac_address.h"

namespace {

constexpr uint16_t kBurst = 32;
constexpr uint32_t kMagic = 0x1ce9e7a1;
constexpr uint16_t kPayloadOffset = 14 + 20 + 8;  // timestamp after Ethernet/IPv4/UDP
constexpr uint16_t kVxlanOuter = 50;

struct Options {
  std::string tx_socket, rx_socket, prefix = "inception-gen";
  std::string src_mac = "02:00:00:00:00:01", dst_mac = "02:00:00:00:00:02";
  std::string src_ip = "198.18.0.1", dst_ip = "198.19.0.1";
  std::string size = "64";  // bytes with FCS (64..1518) or "imix"
  uint32_t flows = 1, macs = 1, src_ips = 1;
  double rate_pps = 0;  // 0: as fast as possible
  double duration_s = 10, warmup_s = 3;
  bool hugepages = true;
  unsigned lcore = 0;
  // VXLAN (playing a remote VTEP)
  std::string tx_vxlan;         // "SRC_IP,DST_IP,VNI"
  std::string outer_dst_mac;    // the switch's underlay MAC (default: --dst-mac)
  std::string sink_mac;         // the MAC the sink's learning frames come from (default: --dst-mac)
  uint32_t latency_every = 64;  // sample the latency of one frame in this many
  std::string announce_ip;      // learning frames are gratuitous ARPs for this address (routers learn the sink)
  std::string learn_vxlan;      // the sink is a remote VTEP: learning frames in VXLAN "SRC_IP,DST_IP,VNI"
  bool rx_vxlan = false;
  bool learn = true;  // first send a few frames from the sink's MAC so L2 switches learn it
};

struct Header {
  uint32_t magic;
  uint32_t flow;
  uint64_t tsc;
};

rte_ether_addr to_ether(const std::string& text) {
  const auto mac = inception::MacAddress::parse(text);
  if (!mac) throw std::runtime_error("bad MAC " + text);
  rte_ether_addr a;
  std::memcpy(a.addr_bytes, mac->bytes().data(), 6);
  return a;
}

uint32_t to_ip(const std::string& text) {
  const auto ip = inception::Ipv4Address::parse(text);
  if (!ip) throw std::runtime_error("bad IPv4 address " + text);
  return ip->network_order();
}

// The frame sizes to send (without FCS): RFC 2544 sizes minus 4, or IMIX
// (7:4:1 of 64, 594, 1518).
std::vector<uint16_t> frame_sizes(const std::string& size) {
  if (size == "imix") {
    std::vector<uint16_t> v(7, 60);
    v.insert(v.end(), 4, 590);
    v.push_back(1514);
    return v;
  }
  const int bytes = std::stoi(size);
  if (bytes < 64 || bytes > 1518) throw std::runtime_error("frame size must be 64..1518 or imix");
  return {static_cast<uint16_t>(bytes - 4)};
}

uint16_t start_port(uint16_t port, rte_mempool* pool) {
  rte_eth_conf conf{};
  if (rte_eth_dev_configure(port, 1, 1, &conf) != 0 || rte_eth_rx_queue_setup(port, 0, 1024, 0, nullptr, pool) != 0 ||
      rte_eth_tx_queue_setup(port, 0, 1024, 0, nullptr) != 0 || rte_eth_dev_start(port) != 0)
    throw std::runtime_error("cannot start port " + std::to_string(port));
  return port;
}

class Generator {
 public:
  explicit Generator(const Options& o)
      : o_(o),
        sizes_(frame_sizes(o.size)),
        src_mac_(to_ether(o.src_mac)),
        dst_mac_(to_ether(o.dst_mac)),
        sink_mac_(to_ether(o.sink_mac.empty() ? o.dst_mac : o.sink_mac)),
        outer_dst_mac_(to_ether(o.outer_dst_mac.empty() ? o.dst_mac : o.outer_dst_mac)),
        src_ip_(to_ip(o.src_ip)),
        dst_ip_(to_ip(o.dst_ip)) {
    if (!o.tx_vxlan.empty()) tx_tunnel_ = parse_tunnel(o.tx_vxlan);
    if (!o.learn_vxlan.empty()) learn_tunnel_ = parse_tunnel(o.learn_vxlan);
    prepare();
  }

  // Precomputes the headers of every frame size: per packet only the flow
  // fields and the timestamp change, so the generator outruns the switch.
  void prepare() {
    for (uint16_t bytes : sizes_) {
      std::array<uint8_t, 128> t{};
      const uint16_t outer = o_.tx_vxlan.empty() ? 0 : kVxlanOuter;
      uint8_t* frame = t.data() + outer;
      write_ipv4_udp(frame, dst_mac_, src_mac_, src_ip_, dst_ip_, bytes);
      if (outer != 0) write_outer(t.data(), tx_tunnel_, src_mac_, bytes);
      templates_.push_back(t);
    }
  }

  // Ethernet/IPv4/UDP headers of a `bytes`-long frame (without FCS); the
  // UDP ports are left to the caller.
  static void write_ipv4_udp(uint8_t* p, const rte_ether_addr& dst_mac, const rte_ether_addr& src_mac, uint32_t src_ip,
                             uint32_t dst_ip, uint16_t bytes) {
    auto* eth = reinterpret_cast<rte_ether_hdr*>(p);
    eth->dst_addr = dst_mac;
    eth->src_addr = src_mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p + 14);
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(bytes - 14));
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_UDP;
    ip->src_addr = src_ip;
    ip->dst_addr = dst_ip;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    reinterpret_cast<rte_udp_hdr*>(p + 34)->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(bytes - 34));
  }

  struct Tunnel {
    uint32_t src_ip = 0, dst_ip = 0, vni = 0;
  };

  static Tunnel parse_tunnel(const std::string& text) {
    std::stringstream in(text);
    std::string a, b, vni;
    std::getline(in, a, ',');
    std::getline(in, b, ',');
    std::getline(in, vni, ',');
    if (vni.empty()) throw std::runtime_error("VXLAN tunnel '" + text + "': expected SRC_IP,DST_IP,VNI");
    return {to_ip(a), to_ip(b), static_cast<uint32_t>(std::stoul(vni))};
  }

  // The outer Ethernet/IPv4/UDP/VXLAN headers (50 bytes) of an inner frame
  // of `inner_bytes`, as a remote VTEP would send them.
  void write_outer(uint8_t* p, const Tunnel& tunnel, const rte_ether_addr& src_mac, uint16_t inner_bytes) const {
    std::memset(p, 0, kVxlanOuter);
    write_ipv4_udp(p, outer_dst_mac_, src_mac, tunnel.src_ip, tunnel.dst_ip,
                   static_cast<uint16_t>(inner_bytes + kVxlanOuter));
    auto* udp = reinterpret_cast<rte_udp_hdr*>(p + 34);
    udp->src_port = rte_cpu_to_be_16(49152);
    udp->dst_port = rte_cpu_to_be_16(4789);
    p[42] = 0x08;
    p[46] = static_cast<uint8_t>(tunnel.vni >> 16);
    p[47] = static_cast<uint8_t>(tunnel.vni >> 8);
    p[48] = static_cast<uint8_t>(tunnel.vni);
  }

  // Builds one frame for flow `n` from template `which` into `m`.
  void build(rte_mbuf* m, uint32_t n, size_t which, uint64_t tsc) const {
    const uint16_t outer = o_.tx_vxlan.empty() ? 0 : kVxlanOuter;
    const uint16_t bytes = sizes_[which];
    auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(bytes + outer)));
    std::memcpy(p, templates_[which].data(), outer + kPayloadOffset);
    uint8_t* frame = p + outer;
    if (o_.macs > 1) {  // vary the source MAC: FDB scale
      const uint32_t k = n % o_.macs;
      frame[8] = 0xaa;  // 02:00:aa:xx:xx:xx, never the sink's MAC
      frame[9] = static_cast<uint8_t>(k >> 16);
      frame[10] = static_cast<uint8_t>(k >> 8);
      frame[11] = static_cast<uint8_t>(k);
    }
    if (o_.src_ips > 1) {  // vary the source address: SNAT scale
      auto* ip = reinterpret_cast<rte_ipv4_hdr*>(frame + 14);
      ip->src_addr = rte_cpu_to_be_32(rte_be_to_cpu_32(src_ip_) + n % o_.src_ips);
      ip->hdr_checksum = 0;
      ip->hdr_checksum = rte_ipv4_cksum(ip);
    }
    const uint32_t f = o_.flows > 1 ? n % o_.flows : 0;
    auto* udp = reinterpret_cast<rte_udp_hdr*>(frame + 34);
    // At most 30000 source ports per destination port: a SNAT gateway has
    // ~64k outside ports per remote endpoint, and needs headroom to find one.
    udp->src_port = rte_cpu_to_be_16(static_cast<uint16_t>(1024 + f % 30000));
    udp->dst_port = rte_cpu_to_be_16(static_cast<uint16_t>(1024 + f / 30000));
    if (outer != 0)
      reinterpret_cast<rte_udp_hdr*>(p + 34)->src_port = rte_cpu_to_be_16(static_cast<uint16_t>(49152 + (f & 0x3fff)));
    const Header h{kMagic, n, tsc};
    std::memcpy(frame + kPayloadOffset, &h, sizeof(h));
  }

  nlohmann::json run(uint16_t tx_port, uint16_t rx_port, rte_mempool* pool) {
    const uint64_t hz = rte_get_tsc_hz();
    // Teach L2 switches where the sink is: frames from its MAC, from its port.
    if (o_.learn && tx_port != rx_port) {
      rte_mbuf* learn[4];
      if (rte_pktmbuf_alloc_bulk(pool, learn, 4) == 0) {
        for (rte_mbuf* m : learn) {
          const uint16_t outer = o_.learn_vxlan.empty() ? 0 : kVxlanOuter;
          auto* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, static_cast<uint16_t>(60 + outer)));
          if (p == nullptr) throw std::runtime_error("mbufs too small for a learning frame");
          std::memset(p, 0, 60 + outer);
          if (outer != 0) write_outer(p, learn_tunnel_, sink_mac_, 60);
          auto* eth = reinterpret_cast<rte_ether_hdr*>(p + outer);
          std::memset(eth->dst_addr.addr_bytes, 0xff, 6);
          eth->src_addr = sink_mac_;
          eth->ether_type = rte_cpu_to_be_16(0x88b5);
          if (!o_.announce_ip.empty()) {
            eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
            auto* arp = reinterpret_cast<rte_arp_hdr*>(eth + 1);
            arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
            arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
            arp->arp_hlen = 6;
            arp->arp_plen = 4;
            arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
            arp->arp_data.arp_sha = sink_mac_;
            arp->arp_data.arp_sip = to_ip(o_.announce_ip);
            arp->arp_data.arp_tip = arp->arp_data.arp_sip;
          }
        }
        const uint16_t sent = rte_eth_tx_burst(rx_port, 0, learn, 4);
        if (sent < 4) rte_pktmbuf_free_bulk(learn + sent, 4 - sent);
      }
      rte_delay_ms(200);
      drain(rx_port, 100);
    }

    const uint64_t start = rte_rdtsc();
    const uint64_t warm_end = start + static_cast<uint64_t>(o_.warmup_s * hz);
    const uint64_t end = warm_end + static_cast<uint64_t>(o_.duration_s * hz);
    const double cycles_per_packet = o_.rate_pps > 0 ? hz / o_.rate_pps : 0;
    uint64_t next_send = start;
    uint64_t tx = 0, rx = 0, rx_bytes = 0, window_rx = 0, window_bytes = 0, window_tx = 0, bad = 0;
    uint64_t window_start_tsc = 0;
    bool in_window = false;
    uint32_t flow = 0;
    size_t size_index = 0;
    std::vector<uint64_t> latencies;
    latencies.reserve(1 << 20);
    rte_mbuf* pkts[kBurst];
    const uint16_t inner_offset = o_.rx_vxlan ? kVxlanOuter : 0;
    for (;;) {
      const uint64_t now = rte_rdtsc();
      if (!in_window && now >= warm_end) {
        in_window = true;
        window_start_tsc = now;
        window_rx = rx;
        window_bytes = rx_bytes;
        window_tx = tx;
      }
      if (now >= end) break;
      uint16_t to_send = kBurst;
      if (cycles_per_packet > 0) {
        if (now < next_send)
          to_send = 0;
        else
          to_send = static_cast<uint16_t>(std::min<double>(kBurst, 1 + (now - next_send) / cycles_per_packet));
      }
      if (to_send > 0 && rte_pktmbuf_alloc_bulk(pool, pkts, to_send) == 0) {
        for (uint16_t i = 0; i < to_send; ++i) {
          build(pkts[i], flow++, size_index, now);
          if (++size_index == sizes_.size()) size_index = 0;
        }
        const uint16_t sent = rte_eth_tx_burst(tx_port, 0, pkts, to_send);
        if (sent < to_send) {
          rte_pktmbuf_free_bulk(pkts + sent, to_send - sent);
          flow -= to_send - sent;
        }
        tx += sent;
        if (cycles_per_packet > 0) next_send += static_cast<uint64_t>(sent * cycles_per_packet);
      }
      const uint16_t n = rte_eth_rx_burst(rx_port, 0, pkts, kBurst);
      for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        rx_bytes += m->pkt_len - inner_offset;
        if (m->data_len >= inner_offset + kPayloadOffset + sizeof(Header)) {
          Header h;
          std::memcpy(&h, rte_pktmbuf_mtod_offset(m, const uint8_t*, inner_offset + kPayloadOffset), sizeof(h));
          if (h.magic != kMagic)
            ++bad;
          else if (in_window && h.flow % o_.latency_every == 0 && latencies.size() < latencies.capacity())
            latencies.push_back(now - h.tsc);
        } else {
          ++bad;
        }
      }
      if (n) rte_pktmbuf_free_bulk(pkts, n);
      rx += n;
    }
    const uint64_t window_end = rte_rdtsc();
    const double seconds = static_cast<double>(window_end - window_start_tsc) / hz;
    const uint64_t got = rx - window_rx;
    const uint64_t sent_window = tx - window_tx;
    // Drain what is still in flight, for the loss figure.
    rx += drain(rx_port, 500);
    std::sort(latencies.begin(), latencies.end());
    auto percentile = [&](double q) {
      if (latencies.empty()) return 0.0;
      return static_cast<double>(latencies[static_cast<size_t>(q * (latencies.size() - 1))]) * 1e6 / hz;
    };
    return {{"rx_pps", got / seconds},
            {"tx_pps", sent_window / seconds},
            {"rx_gbps", (rx_bytes - window_bytes) * 8.0 / seconds / 1e9},
            {"tx_total", tx},
            {"rx_total", rx},
            {"loss_ratio", tx ? 1.0 - static_cast<double>(rx) / static_cast<double>(tx) : 0.0},
            {"bad_frames", bad},
            {"latency_p50_us", percentile(0.5)},
            {"latency_p99_us", percentile(0.99)},
            {"latency_samples", latencies.size()},
            {"seconds", seconds}};
  }

 private:
  uint64_t drain(uint16_t port, unsigned ms) {
    uint64_t n = 0;
    const uint64_t until = rte_rdtsc() + rte_get_tsc_hz() * ms / 1000;
    rte_mbuf* pkts[kBurst];
    while (rte_rdtsc() < until) {
      const uint16_t got = rte_eth_rx_burst(port, 0, pkts, kBurst);
      if (got) rte_pktmbuf_free_bulk(pkts, got);
      n += got;
    }
    return n;
  }

  Options o_;
  std::vector<uint16_t> sizes_;
  std::vector<std::array<uint8_t, 128>> templates_;
  rte_ether_addr src_mac_{}, dst_mac_{}, sink_mac_{}, outer_dst_mac_{};
  uint32_t src_ip_ = 0, dst_ip_ = 0;
  Tunnel tx_tunnel_, learn_tunnel_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"inception-gen: traffic generator and sink over virtio-user", "inception-gen"};
  app.add_option("--tx", o.tx_socket, "vhost-user socket to send on")->required();
  app.add_option("--rx", o.rx_socket, "vhost-user socket to receive on (default: the TX one)");
  app.add_option("--size", o.size, "frame size with FCS, 64..1518, or imix")->capture_default_str();
  app.add_option("--flows", o.flows, "UDP flows (source/destination ports varied)")->capture_default_str();
  app.add_option("--macs", o.macs, "source MAC addresses (FDB scale)")->capture_default_str();
  app.add_option("--src-ips", o.src_ips, "source IPv4 addresses (SNAT scale)")->capture_default_str();
  app.add_option("--rate", o.rate_pps, "packets per second to offer (0: as many as the switch takes)");
  app.add_option("--duration", o.duration_s, "measured seconds")->capture_default_str();
  app.add_option("--warmup", o.warmup_s, "seconds before measuring")->capture_default_str();
  app.add_option("--src-mac", o.src_mac)->capture_default_str();
  app.add_option("--dst-mac", o.dst_mac)->capture_default_str();
  app.add_option("--src-ip", o.src_ip)->capture_default_str();
  app.add_option("--dst-ip", o.dst_ip)->capture_default_str();
  app.add_option("--tx-vxlan", o.tx_vxlan, "wrap frames in VXLAN: OUTER_SRC_IP,OUTER_DST_IP,VNI");
  app.add_option("--outer-dst-mac", o.outer_dst_mac, "outer destination MAC of --tx-vxlan frames");
  app.add_option("--sink-mac", o.sink_mac, "MAC of the sink's learning frames (default: --dst-mac)");
  app.add_option("--latency-every", o.latency_every, "sample the latency of one frame in N")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--announce-ip", o.announce_ip, "learning frames are gratuitous ARPs from the sink for this IPv4");
  app.add_option("--learn-vxlan", o.learn_vxlan, "send the learning frames in VXLAN: OUTER_SRC_IP,OUTER_DST_IP,VNI");
  app.add_flag("--rx-vxlan", o.rx_vxlan, "received frames are VXLAN; look inside");
  app.add_flag("!--no-learn", o.learn, "do not send learning frames from the sink first");
  app.add_flag("!--no-huge", o.hugepages, "run DPDK without hugepages");
  app.add_option("--lcore", o.lcore, "CPU to run on")->capture_default_str();
  app.add_option("--file-prefix", o.prefix)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (o.rx_socket.empty()) o.rx_socket = o.tx_socket;

  std::vector<std::string> eal = {"inception-gen",
                                  "-l",
                                  std::to_string(o.lcore),
                                  "--file-prefix",
                                  o.prefix,
                                  "--no-pci",
                                  "--no-telemetry",
                                  "--log-level",
                                  "*:error",
                                  "--vdev",
                                  "net_virtio_user0,path=" + o.tx_socket + ",queues=1,queue_size=1024"};
  if (o.rx_socket != o.tx_socket)
    eal.insert(eal.end(), {"--vdev", "net_virtio_user1,path=" + o.rx_socket + ",queues=1,queue_size=1024"});
  if (o.hugepages)
    eal.insert(eal.end(), {"--single-file-segments", "--in-memory", "-m", "512"});
  else
    eal.insert(eal.end(), {"--no-huge", "-m", "512"});
  std::vector<char*> eal_argv;
  for (auto& a : eal) eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "inception-gen: EAL initialisation failed\n");
    return 1;
  }
  int status = 0;
  try {
    rte_mempool* pool = rte_pktmbuf_pool_create("gen_pool", 32767, 512, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    if (pool == nullptr) throw std::runtime_error("cannot allocate mbufs");
    const uint16_t tx_port = start_port(0, pool);
    const uint16_t rx_port = o.rx_socket != o.tx_socket ? start_port(1, pool) : tx_port;
    // Wait for the switch side of both sockets.
    for (uint16_t port : {tx_port, rx_port}) {
      rte_eth_link link{};
      for (int i = 0; i < 100 && link.link_status != RTE_ETH_LINK_UP; ++i) {
        rte_eth_link_get_nowait(port, &link);
        rte_delay_ms(50);
      }
    }
    Generator gen(o);
    nlohmann::json result = gen.run(tx_port, rx_port, pool);
    result["size"] = o.size;
    result["flows"] = o.flows;
    result["macs"] = o.macs;
    std::printf("%s\n", result.dump().c_str());
    rte_eth_dev_stop(tx_port);
    if (rx_port != tx_port) rte_eth_dev_stop(rx_port);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "inception-gen: %s\n", e.what());
    status = 1;
  }
  rte_eal_cleanup();
  return status;
}
