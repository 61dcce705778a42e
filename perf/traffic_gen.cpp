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
// --tcp measures TCP goodput instead: one-way TCP streams sent as 64 KB TSO
// frames where the switch's port offers TSO (else MSS-sized segments), and
// the TCP payload that arrives intact, byte for byte, per second.
//
// Output: one JSON object on stdout when done.
#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
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
  // TCP goodput (--tcp)
  bool tcp = false;
  uint32_t tcp_streams = 1;
  uint16_t tcp_mss = 1448;
  bool tcp_mss_only = false;
  uint32_t tcp_verify_every = 16;  // compare the payload of one in this many frames with a complete checksum
  bool server = false;             // virtio-user is the vhost-user server (the switch's ports are clients)
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

  // Teaches L2 switches where the sink is: frames from its MAC, from its
  // port (a gratuitous ARP where a router must learn it).
  void teach(uint16_t tx_port, uint16_t rx_port, rte_mempool* pool) {
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
  }

  nlohmann::json run(uint16_t tx_port, uint16_t rx_port, rte_mempool* pool) {
    const uint64_t hz = rte_get_tsc_hz();
    teach(tx_port, rx_port, pool);

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

 private:
  Options o_;
  std::vector<uint16_t> sizes_;
  std::vector<std::array<uint8_t, 128>> templates_;
  rte_ether_addr src_mac_{}, dst_mac_{}, sink_mac_{}, outer_dst_mac_{};
  uint32_t src_ip_ = 0, dst_ip_ = 0;
  Tunnel tx_tunnel_, learn_tunnel_;
};

// ---------------------------------------------------------------- TCP goodput
//
// --tcp: one-way TCP streams as a guest's stack puts them on the wire (no
// handshake and no ACKs back: the switch forwards one direction). The sender
// hands its port 64 KB TSO frames (partial checksum) when the port offers
// TSO, else MSS-sized segments with complete checksums, as a guest without
// offloads does. Payload bytes follow a fixed pseudo-random pattern indexed
// by sequence number modulo 64 KiB, so the sink checks every byte of
// whatever arrives (super-frame or segment, through NAT or a tunnel) and the
// TCP checksum of every frame that claims a complete one. The figure is TCP
// payload delivered intact per second; anything else is counted as corrupt.

constexpr uint32_t kPatternPeriod = 65536;  // divides 2^32: sequence wrap keeps the pattern
constexpr uint16_t kTcpHeader = 32;         // 20 + NOP NOP timestamps, as Linux sends them
constexpr uint16_t kTcpHeaders = 14 + 20 + kTcpHeader;
constexpr uint16_t kTcpSegmentsPerFrame = 45;  // 45 x 1448 = 65160 B, a 64 KB TSO frame

struct PortOffloads {
  bool tso = false, tx_csum = false, lro = false, rx_csum = false;
  uint64_t tx_capa = 0, rx_capa = 0;  // what the port offered (RTE_ETH_*_OFFLOAD_*)
};

// Starts a port asking for the offloads it offers (virtio-user negotiates the
// matching virtio-net features with the switch): TSO and TCP checksum on the
// sending side, LRO (receiving super-frames) and TCP checksum on the sink.
PortOffloads start_tcp_port(uint16_t port, rte_mempool* pool, bool tx_side, bool allow) {
  rte_eth_dev_info info{};
  if (rte_eth_dev_info_get(port, &info) != 0) throw std::runtime_error("cannot query port " + std::to_string(port));
  rte_eth_conf conf{};
  PortOffloads off;
  off.tx_capa = info.tx_offload_capa;
  off.rx_capa = info.rx_offload_capa;
  if (allow && tx_side) {
    const uint64_t tso = RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
    if ((info.tx_offload_capa & tso) == tso) {
      conf.txmode.offloads |= tso;
      off.tso = off.tx_csum = true;
    }
  }
  if (allow && !tx_side) {
    if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_LRO) {
      conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TCP_LRO;
      conf.rxmode.max_lro_pkt_size = info.max_lro_pkt_size;
      off.lro = true;
    }
    if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_CKSUM) {
      conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
      off.rx_csum = true;
    }
  }
  if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  if (rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
      rte_eth_rx_queue_setup(port, 0, tx_side ? 1024 : 4096, 0, nullptr, pool) != 0 ||
      rte_eth_tx_queue_setup(port, 0, 1024, 0, nullptr) != 0 || rte_eth_dev_start(port) != 0)
    throw std::runtime_error("cannot start port " + std::to_string(port) + " with TCP offloads");
  return off;
}

uint16_t fold(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

class TcpGoodput {
 public:
  TcpGoodput(const Options& o, const PortOffloads& tx, const PortOffloads& rx)
      : o_(o),
        tx_(tx),
        rx_(rx),
        tso_(tx.tso && !o.tcp_mss_only),
        src_mac_(to_ether(o.src_mac)),
        dst_mac_(to_ether(o.dst_mac)) {
    pattern_ = static_cast<uint8_t*>(rte_malloc("tcp_pattern", 2 * kPatternPeriod, 64));
    if (pattern_ == nullptr) throw std::runtime_error("cannot allocate the payload pattern");
    pattern_iova_ = rte_malloc_virt2iova(pattern_);
    uint32_t x = 0x9e3779b9;
    for (uint32_t i = 0; i < kPatternPeriod; ++i) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      pattern_[i] = pattern_[i + kPatternPeriod] = static_cast<uint8_t>(x);
    }
    // prefix_[i]: one's-complement sum (unfolded) of the first i 16-bit
    // words, so the checksum of any even-aligned slice costs a subtraction.
    prefix_.resize(kPatternPeriod + 1);
    for (uint32_t i = 0; i < kPatternPeriod; ++i) {
      uint16_t w;
      std::memcpy(&w, pattern_ + 2 * i, 2);
      prefix_[i + 1] = prefix_[i] + w;
    }
    shinfo_.free_cb = [](void*, void*) {};
    shinfo_.fcb_opaque = nullptr;
    rte_mbuf_ext_refcnt_set(&shinfo_, 1);  // ours: the pattern is never freed through an mbuf
    const uint32_t src_ip = to_ip(o.src_ip), dst_ip = to_ip(o.dst_ip);
    for (uint32_t f = 0; f < o.tcp_streams; ++f) {
      Stream s;
      s.seq = f * 0x10000000u + 2 * 1000 * f;  // even, and the streams start at different pattern offsets
      uint8_t* p = s.headers.data();
      auto* eth = reinterpret_cast<rte_ether_hdr*>(p);
      eth->dst_addr = dst_mac_;
      eth->src_addr = src_mac_;
      eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
      auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p + 14);
      ip->version_ihl = RTE_IPV4_VHL_DEF;
      ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
      ip->time_to_live = 64;
      ip->next_proto_id = IPPROTO_TCP;
      ip->src_addr = src_ip;
      ip->dst_addr = dst_ip;
      auto* tcp = reinterpret_cast<rte_tcp_hdr*>(p + 34);
      tcp->src_port = rte_cpu_to_be_16(static_cast<uint16_t>(10000 + f));
      tcp->dst_port = rte_cpu_to_be_16(5201);
      tcp->recv_ack = rte_cpu_to_be_32(1);
      tcp->data_off = (kTcpHeader / 4) << 4;
      tcp->tcp_flags = RTE_TCP_ACK_FLAG | RTE_TCP_PSH_FLAG;
      tcp->rx_win = rte_cpu_to_be_16(0xffff);
      const uint8_t options[12] = {1, 1, 8, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0};  // NOP NOP TS val ecr
      std::memcpy(p + 54, options, sizeof(options));
      streams_.push_back(s);
    }
  }

  ~TcpGoodput() { rte_free(pattern_); }
  TcpGoodput(const TcpGoodput&) = delete;
  TcpGoodput& operator=(const TcpGoodput&) = delete;

  nlohmann::json run(uint16_t tx_port, uint16_t rx_port, rte_mempool* pool) {
    const uint64_t hz = rte_get_tsc_hz();
    const uint16_t mss = o_.tcp_mss;
    const uint32_t frame_payload = tso_ ? uint32_t{mss} * kTcpSegmentsPerFrame : mss;
    const uint64_t start = rte_rdtsc();
    const uint64_t warm_end = start + static_cast<uint64_t>(o_.warmup_s * hz);
    const uint64_t end = warm_end + static_cast<uint64_t>(o_.duration_s * hz);
    Counters window_start;
    uint64_t window_start_tsc = 0;
    bool in_window = false;
    uint32_t next_stream = 0;
    rte_mbuf* heads[kBurst];
    rte_mbuf* data[kBurst];
    uint32_t stream_of[kBurst];
    rte_mbuf* pkts[kBurst];
    for (;;) {
      const uint64_t now = rte_rdtsc();
      if (!in_window && now >= warm_end) {
        in_window = true;
        window_start_tsc = now;
        window_start = c_;
      }
      if (now >= end) break;
      if (rte_pktmbuf_alloc_bulk(pool, heads, kBurst) == 0) {
        if (tso_ && rte_pktmbuf_alloc_bulk(pool, data, kBurst) != 0) {
          rte_pktmbuf_free_bulk(heads, kBurst);
        } else {
          for (uint16_t i = 0; i < kBurst; ++i) {
            stream_of[i] = next_stream;
            build(heads[i], tso_ ? data[i] : nullptr, streams_[next_stream], frame_payload);
            if (++next_stream == streams_.size()) next_stream = 0;
          }
          uint16_t ready = kBurst;
          if (tso_) {  // the PMD's TSO preparation: pseudo-header checksum as virtio wants it
            ready = rte_eth_tx_prepare(tx_port, 0, heads, kBurst);
            if (ready < kBurst && c_.prepare_errors++ == 0)
              std::fprintf(stderr, "inception-gen: tx_prepare refused a TSO frame: %s\n", rte_strerror(rte_errno));
          }
          const uint16_t sent = ready ? rte_eth_tx_burst(tx_port, 0, heads, ready) : 0;
          // Not sent: the streams' sequence numbers go back, no gap.
          for (uint16_t i = kBurst; i-- > sent;) {
            streams_[stream_of[i]].seq -= frame_payload;
            rte_pktmbuf_free(heads[i]);
          }
          next_stream = sent < kBurst ? stream_of[sent] : next_stream;
          c_.tx_frames += sent;
          c_.tx_payload += uint64_t{sent} * frame_payload;
        }
      }
      const uint16_t n = rte_eth_rx_burst(rx_port, 0, pkts, kBurst);
      for (uint16_t i = 0; i < n; ++i) sink(pkts[i]);
      if (n) rte_pktmbuf_free_bulk(pkts, n);
    }
    const double seconds = static_cast<double>(rte_rdtsc() - window_start_tsc) / hz;
    const Counters w = c_ - window_start;
    // What is still in flight counts in the totals (the switch worked on it).
    const uint64_t until = rte_rdtsc() + hz / 2;
    while (rte_rdtsc() < until) {
      const uint16_t n = rte_eth_rx_burst(rx_port, 0, pkts, kBurst);
      for (uint16_t i = 0; i < n; ++i) sink(pkts[i]);
      if (n) rte_pktmbuf_free_bulk(pkts, n);
    }
    return {{"mode", "tcp"},
            {"goodput_gbps", w.goodput * 8.0 / seconds / 1e9},
            {"rx_pps", w.rx_frames / seconds},
            {"tx_pps", w.tx_frames / seconds},
            {"rx_gbps", w.rx_bytes * 8.0 / seconds / 1e9},
            {"tx_payload_gbps", w.tx_payload * 8.0 / seconds / 1e9},
            {"rx_total", c_.rx_frames},
            {"tx_total", c_.tx_frames},
            {"goodput_bytes_total", c_.goodput},
            {"tx_payload_bytes_total", c_.tx_payload},
            {"corrupt_frames", c_.corrupt()},
            {"bad_frames", c_.corrupt()},
            {"corrupt_payload", c_.bad_payload},
            {"corrupt_checksum", c_.bad_checksum},
            {"corrupt_length", c_.bad_length},
            {"other_frames", c_.other},
            {"super_frames", c_.super_frames},
            {"partial_checksum_frames", c_.partial},
            {"prepare_errors", c_.prepare_errors},
            {"tso", tso_},
            {"tx_offload_tso", tx_.tso},
            {"rx_offload_lro", rx_.lro},
            {"rx_offload_csum", rx_.rx_csum},
            {"tx_port_offload_capa", tx_.tx_capa},
            {"rx_port_offload_capa", rx_.rx_capa},
            {"mss", mss},
            {"streams", o_.tcp_streams},
            {"verify_every", o_.tcp_verify_every},
            {"frame_payload", frame_payload},
            {"first_frame", first_frame_},
            {"seconds", seconds}};
  }

 private:
  struct Stream {
    uint32_t seq = 0;
    uint32_t segments = 0;  // MSS-sized frames sent, for where PSH goes
    std::array<uint8_t, kTcpHeaders> headers{};
  };

  struct Counters {
    uint64_t tx_frames = 0, tx_payload = 0, rx_frames = 0, rx_bytes = 0, goodput = 0;
    uint64_t bad_payload = 0, bad_checksum = 0, bad_length = 0, other = 0, super_frames = 0, partial = 0;
    uint64_t prepare_errors = 0;
    uint64_t corrupt() const { return bad_payload + bad_checksum + bad_length; }
    Counters operator-(const Counters& b) const {
      Counters d = *this;
      d.tx_frames -= b.tx_frames;
      d.tx_payload -= b.tx_payload;
      d.rx_frames -= b.rx_frames;
      d.rx_bytes -= b.rx_bytes;
      d.goodput -= b.goodput;
      return d;
    }
  };

  // One's-complement sum of pattern bytes [offset, offset + len).
  uint64_t pattern_sum(uint32_t offset, uint32_t len) const {
    if (offset & 1) return rte_raw_cksum(pattern_ + offset, len);
    uint64_t sum = 0;
    uint32_t first = offset / 2, words = len / 2;
    if (first + words <= kPatternPeriod) {
      sum = prefix_[first + words] - prefix_[first];
    } else {  // wraps around the period
      sum = prefix_[kPatternPeriod] - prefix_[first] + prefix_[first + words - kPatternPeriod];
    }
    if (len & 1) {
      uint16_t last = 0;
      std::memcpy(&last, pattern_ + offset + len - 1, 1);
      sum += last;
    }
    return sum;
  }

  // One frame of `len` payload bytes of stream `s`: headers in `head`; the
  // payload of a TSO frame is a slice of the pattern attached to `data` (no
  // copy: two descriptors, as a guest's header and page fragments), that of
  // a segment is copied after the headers (one descriptor, as UDP frames).
  void build(rte_mbuf* head, rte_mbuf* data, Stream& s, uint32_t len) {
    auto* p =
        reinterpret_cast<uint8_t*>(rte_pktmbuf_append(head, static_cast<uint16_t>(kTcpHeaders + (data ? 0 : len))));
    std::memcpy(p, s.headers.data(), kTcpHeaders);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(p + 14);
    auto* tcp = reinterpret_cast<rte_tcp_hdr*>(p + 34);
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(20 + kTcpHeader + len));
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    tcp->sent_seq = rte_cpu_to_be_32(s.seq);
    const uint32_t offset = s.seq % kPatternPeriod;
    if (data != nullptr) {
      rte_mbuf_ext_refcnt_update(&shinfo_, 1);
      rte_pktmbuf_attach_extbuf(data, pattern_ + offset, pattern_iova_ + offset, static_cast<uint16_t>(len), &shinfo_);
      data->data_len = static_cast<uint16_t>(len);
      data->pkt_len = len;
      head->next = data;
      head->nb_segs = 2;
      head->pkt_len += len;
    } else {
      std::memcpy(p + kTcpHeaders, pattern_ + offset, len);
    }
    if (tso_) {
      head->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_TX_TCP_CKSUM;
      head->l2_len = 14;
      head->l3_len = 20;
      head->l4_len = kTcpHeader;
      head->tso_segsz = o_.tcp_mss;
      tcp->cksum = rte_ipv4_phdr_cksum(ip, head->ol_flags);
    } else {
      // PSH where a sender's write of one super-frame ends, as Linux's GSO
      // sets it on the wire (and a receiver's GRO flushes on it).
      if (++s.segments % kTcpSegmentsPerFrame != 0) tcp->tcp_flags = RTE_TCP_ACK_FLAG;
      tcp->cksum = 0;
      const uint64_t sum = rte_ipv4_phdr_cksum(ip, 0) + rte_raw_cksum(tcp, kTcpHeader) + pattern_sum(offset, len);
      tcp->cksum = static_cast<uint16_t>(~fold(sum));
    }
    s.seq += len;
  }

  void corrupt(uint64_t& counter, const char* what, const rte_mbuf* m) {
    if (c_.corrupt() == 0)
      std::fprintf(stderr, "inception-gen: first corrupt frame: %s (pkt_len %u, %u segments, ol_flags %#llx)\n", what,
                   m->pkt_len, m->nb_segs, static_cast<unsigned long long>(m->ol_flags));
    ++counter;
  }

  // Checks one received frame and counts its payload if it is intact.
  void sink(const rte_mbuf* m) {
    const uint16_t outer = o_.rx_vxlan ? kVxlanOuter : 0;
    ++c_.rx_frames;
    c_.rx_bytes += m->pkt_len;
    if (m->data_len < outer + 14 + 20 + 20) {
      ++c_.other;
      return;
    }
    const uint8_t* p = rte_pktmbuf_mtod(m, const uint8_t*) + outer;
    const auto* eth = reinterpret_cast<const rte_ether_hdr*>(p);
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(p + 14);
    if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || ip->next_proto_id != IPPROTO_TCP) {
      ++c_.other;
      return;
    }
    const uint16_t ihl = rte_ipv4_hdr_len(ip);
    const auto* tcp = reinterpret_cast<const rte_tcp_hdr*>(p + 14 + ihl);
    const uint16_t thl = (tcp->data_off >> 4) * 4;
    const uint32_t headers = outer + 14u + ihl + thl;
    const uint32_t ip_len = rte_be_to_cpu_16(ip->total_length);
    if (m->data_len < headers || outer + 14u + ip_len != m->pkt_len || ip_len < uint32_t{ihl} + thl) {
      corrupt(c_.bad_length, "length", m);
      return;
    }
    if (fold(rte_raw_cksum(ip, ihl)) != 0xffff) {
      corrupt(c_.bad_checksum, "IPv4 header checksum", m);
      return;
    }
    const uint32_t len = ip_len - ihl - thl;
    const uint32_t offset = rte_be_to_cpu_32(tcp->sent_seq) % kPatternPeriod;
    // Compare the payload, segment by segment, with the pattern: in every
    // frame with a partial checksum (nothing else vouches for its payload),
    // in one in --tcp-verify-every of the others. Their checksum, checked
    // below against the pattern's sum, fails where the payload differs.
    const uint64_t l4_flags = m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK;
    bool compare = l4_flags == RTE_MBUF_F_RX_L4_CKSUM_NONE || l4_flags == RTE_MBUF_F_RX_L4_CKSUM_GOOD;
    if (++verify_count_ >= o_.tcp_verify_every) {
      verify_count_ = 0;
      compare = true;
    }
    uint32_t skip = headers, done = 0;
    for (const rte_mbuf* seg = m; seg != nullptr && done < len; seg = seg->next) {
      if (skip >= seg->data_len) {
        skip -= seg->data_len;
        continue;
      }
      const uint32_t n = std::min<uint32_t>(seg->data_len - skip, len - done);
      if (compare &&
          std::memcmp(rte_pktmbuf_mtod_offset(seg, const uint8_t*, skip), pattern_ + offset + done, n) != 0) {
        corrupt(c_.bad_payload, "payload", m);
        return;
      }
      done += n;
      skip = 0;
    }
    if (done != len) {
      corrupt(c_.bad_length, "segments shorter than pkt_len", m);
      return;
    }
    switch (l4_flags) {
      case RTE_MBUF_F_RX_L4_CKSUM_NONE:  // partial checksum, data vouched for: the payload check above stands
        ++c_.partial;
        break;
      case RTE_MBUF_F_RX_L4_CKSUM_BAD:
        corrupt(c_.bad_checksum, "TCP checksum (flagged bad)", m);
        return;
      default: {  // a complete checksum (or one said to be good): check it
        const uint64_t sum = rte_ipv4_phdr_cksum(ip, 0) + rte_raw_cksum(tcp, thl) + pattern_sum(offset, len);
        if (fold(sum) != 0xffff) {
          corrupt(c_.bad_checksum, "TCP checksum", m);
          return;
        }
      }
    }
    if (len > o_.tcp_mss) ++c_.super_frames;
    if (c_.goodput == 0) {  // what the switch made of the addresses (NAT)
      char text[96];
      const uint32_t src = rte_be_to_cpu_32(ip->src_addr), dst = rte_be_to_cpu_32(ip->dst_addr);
      std::snprintf(text, sizeof(text), "%u.%u.%u.%u:%u > %u.%u.%u.%u:%u", src >> 24, (src >> 16) & 255,
                    (src >> 8) & 255, src & 255, rte_be_to_cpu_16(tcp->src_port), dst >> 24, (dst >> 16) & 255,
                    (dst >> 8) & 255, dst & 255, rte_be_to_cpu_16(tcp->dst_port));
      first_frame_ = text;
    }
    c_.goodput += len;
  }

  Options o_;
  PortOffloads tx_, rx_;
  bool tso_;
  rte_ether_addr src_mac_{}, dst_mac_{};
  uint8_t* pattern_ = nullptr;
  rte_iova_t pattern_iova_ = 0;
  std::vector<uint64_t> prefix_;
  rte_mbuf_ext_shared_info shinfo_{};
  std::vector<Stream> streams_;
  Counters c_;
  std::string first_frame_;
  uint32_t verify_count_ = 0;
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
  app.add_flag("--tcp", o.tcp, "TCP goodput: one-way TCP streams, TSO when the port offers it; reports goodput_gbps");
  app.add_option("--tcp-streams", o.tcp_streams, "TCP streams (source ports 10000..)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--tcp-mss", o.tcp_mss, "TCP MSS (1448: 1500 MTU with timestamps)")
      ->check(CLI::Range(64, 1448))
      ->capture_default_str();
  app.add_option("--tcp-verify-every", o.tcp_verify_every,
                 "compare the payload of every frame with a partial checksum and of one in N of those with a "
                 "complete one with the pattern (all: lengths and checksums against the pattern's)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--tcp-mss-only", o.tcp_mss_only,
               "send MSS-sized segments with complete checksums even where the port offers TSO (and negotiate no TX "
               "offload: a guest without TSO)");
  app.add_flag("!--no-huge", o.hugepages, "run DPDK without hugepages");
  app.add_flag("--server", o.server, "create the vhost-user sockets (the switch's ports are vhost-user clients)");
  app.add_option("--lcore", o.lcore, "CPU to run on")->capture_default_str();
  app.add_option("--file-prefix", o.prefix)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (o.rx_socket.empty()) o.rx_socket = o.tx_socket;

  const std::string server = o.server ? ",server=1" : "";
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
                                  "net_virtio_user0,path=" + o.tx_socket + ",queues=1,queue_size=1024" + server};
  if (o.rx_socket != o.tx_socket)
    eal.insert(eal.end(), {"--vdev", "net_virtio_user1,path=" + o.rx_socket +
                                         ",queues=1,queue_size=" + (o.tcp ? "4096" : "1024") + server});
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
    // TCP: 64 KB frames arrive as chains of 2 KB mbufs (mergeable buffers).
    rte_mempool* pool =
        rte_pktmbuf_pool_create("gen_pool", o.tcp ? 65535 : 32767, 512, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    if (pool == nullptr) throw std::runtime_error("cannot allocate mbufs");
    PortOffloads tx_offloads, rx_offloads;
    uint16_t tx_port = 0, rx_port = 0;
    if (o.tcp) {
      if (o.rx_socket == o.tx_socket) throw std::runtime_error("--tcp needs separate --tx and --rx sockets");
      tx_offloads = start_tcp_port(0, pool, true, !o.tcp_mss_only);
      rx_offloads = start_tcp_port(1, pool, false, true);
      rx_port = 1;
    } else {
      tx_port = start_port(0, pool);
      rx_port = o.rx_socket != o.tx_socket ? start_port(1, pool) : tx_port;
    }
    // Wait for the switch side of both sockets.
    for (uint16_t port : {tx_port, rx_port}) {
      rte_eth_link link{};
      for (int i = 0; i < 100 && link.link_status != RTE_ETH_LINK_UP; ++i) {
        rte_eth_link_get_nowait(port, &link);
        rte_delay_ms(50);
      }
    }
    if (o.tcp && tx_offloads.tso) {
      // A server's peer connects after the port was configured: the offer
      // was virtio-user's own until then. Send TSO only if the switch offers it.
      rte_eth_dev_info info{};
      if (rte_eth_dev_info_get(tx_port, &info) != 0 || !(info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_TSO)) {
        std::fprintf(stderr, "inception-gen: the switch does not offer TSO after all: MSS-sized segments\n");
        tx_offloads.tso = false;
      }
      tx_offloads.tx_capa = info.tx_offload_capa;
    }
    if (o.tcp) o.size = "64";  // the learning frames only
    Generator gen(o);
    nlohmann::json result;
    if (o.tcp) {
      gen.teach(tx_port, rx_port, pool);
      TcpGoodput tcp(o, tx_offloads, rx_offloads);
      result = tcp.run(tx_port, rx_port, pool);
    } else {
      result = gen.run(tx_port, rx_port, pool);
    }
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
