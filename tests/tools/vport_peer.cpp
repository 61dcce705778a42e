// inception-vport-peer: plays a nested guest's NIC for integration tests.
//
// A DPDK virtio-user port connected to one vhost-user socket of inceptiond,
// driven by line commands on stdin and reporting on stdout:
//   stdin:  send DST_MAC SRC_MAC ETHERTYPE TAG [COUNT [FRAME_BYTES]]
//           sendhex HEX [COUNT]                 any frame, byte for byte (1..2048 bytes)
//           hex on|off                          append each frame received, in hex, to its rx line
//           sendtcp DST_MAC SRC_MAC SRC_IP DST_IP PAYLOAD MSS [SEQ]
//                                               one TCP/IPv4 frame of PAYLOAD bytes (a pattern
//                                               that follows the sequence number) from port 5001
//                                               to 80: with --offloads a TSO super-frame cut at
//                                               MSS (0: none) and its checksum left to the switch;
//                                               without, frames of MSS bytes (0: one frame) with
//                                               their checksums, in one burst, as a guest
//                                               without TSO sends a window
//           flows DST_MAC SRC_MAC ETHERTYPE NAME FLOWS COUNT
//                                              COUNT frames over FLOWS flows, in turn; frame k
//                                              of flow F is tagged NAME.F.k (k from 1 on, counted
//                                              across commands), and every frame of a flow goes
//                                              on the TX queue its flow hash picks
//           queues K                           reconfigure to K queue pairs (1..--queues): the
//                                              port stops and starts, and virtio-user enables
//                                              pairs < K and disables the others at the switch
//           quiet on|off                       no rx lines (the counts of seqstats still run)
//           seqstats
//           stats | quit
//   stdout: ready                              link up (vhost-user connected),
//                                              again after every reconnection
//           down                               the switch went away
//           sent N
//           rx DST_MAC SRC_MAC ETHERTYPE BYTES TAG [HEX]
//           rx DST_MAC SRC_MAC 0800 BYTES tcp SEQ LENGTH CSUM GSO DATA  (TCP/IPv4 frames)
//                                              CSUM: ok, bad, or partial (left to us, as
//                                              virtio-net allows once negotiated); GSO: the
//                                              MSS of a super-frame, 0 for none; DATA: ok if
//                                              the payload is the pattern for its SEQ
//           stats rx=N tx=N tso=0|1
//           queues K                           reconfigured ("queues refused|failed: ..." if not)
//           seqstats frames=N reordered=N missing=N rxq=N,N,..  over the frames tagged
//                                              NAME.F.k: reordered counts a k not above the
//                                              flow's last, missing the k skipped; rxq: frames
//                                              received per RX queue, in queue order
// TAG is an ASCII word carried at the start of the payload, so a test can
// tell which of its frames arrived where. With --queues N > 1 the port
// negotiates virtio-net MQ (virtio-user wants a control queue for that);
// `send` and `sendhex` go on the queue the tag's hash picks, and receive
// polls every queue. `sendhex` puts on the wire what
// no well-behaved NIC would (runts, broken headers, spoofed addresses: the
// frames of tests/tools/hostile_frames.h), and `hex on` shows a test the
// exact bytes the switch delivered.
#include <arpa/inet.h>
#include <poll.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "inception/mac_address.h"

namespace {

constexpr uint16_t kBurst = 32;

bool parse_mac(const std::string& text, rte_ether_addr& out) {
  const auto mac = inception::MacAddress::parse(text);
  if (!mac) return false;
  std::memcpy(out.addr_bytes, mac->bytes().data(), 6);
  return true;
}

std::string mac_text(const rte_ether_addr& a) {
  std::array<uint8_t, 6> bytes;
  std::memcpy(bytes.data(), a.addr_bytes, 6);
  return inception::MacAddress(bytes).to_string();
}

std::optional<std::vector<uint8_t>> parse_hex(const std::string& text) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (text.empty() || text.size() % 2 != 0) return std::nullopt;
  std::vector<uint8_t> out;
  for (size_t i = 0; i < text.size(); i += 2) {
    const int hi = digit(text[i]), lo = digit(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return out;
}

// FNV-1a: a flow's TX queue, so that all of its frames take one queue.
uint32_t flow_hash(const std::string& key) {
  uint32_t h = 2166136261u;
  for (const char c : key) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return h;
}

// "NAME.F.k" -> ("NAME.F", k); nullopt for any other tag.
std::optional<std::pair<std::string, uint64_t>> parse_sequenced_tag(const std::string& tag) {
  const auto dot = tag.rfind('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == tag.size() || tag.find('.') == dot) return std::nullopt;
  uint64_t k = 0;
  for (size_t i = dot + 1; i < tag.size(); ++i) {
    if (tag[i] < '0' || tag[i] > '9') return std::nullopt;
    k = k * 10 + static_cast<uint64_t>(tag[i] - '0');
  }
  return std::pair{tag.substr(0, dot), k};
}

// The byte at sequence number `seq` of a sendtcp stream.
uint8_t tcp_pattern(uint32_t seq) {
  return static_cast<uint8_t>(seq * 7 + 3);
}

struct Peer {
  uint16_t port = 0;
  rte_mempool* pool = nullptr;
  uint64_t rx = 0, tx = 0;
  bool hex = false;
  bool offloads = false;    // TSO and checksum offload on transmit, LRO on receive
  uint16_t max_queues = 1;  // the queue pairs virtio-user offers (--queues)
  uint16_t queues = 1;      // the queue pairs configured now
  bool quiet = false;
  rte_eth_conf conf{};
  // Sequenced frames (flows): the next k per flow sent, the last per flow received.
  std::map<std::string, uint64_t> next_seq;
  std::map<std::string, uint64_t> last_seq;
  uint64_t seq_frames = 0, seq_reordered = 0, seq_missing = 0;
  std::vector<uint64_t> rx_per_queue;

  // Hands `n` frames to the switch, retrying while its ring is full; gives
  // up after a second without progress (a switch sharing a loaded core
  // may not poll for a while, a dead one never will).
  unsigned transmit(rte_mbuf** pkts, unsigned n, uint16_t queue = 0) {
    unsigned done = 0;
    for (int idle = 0; done < n && idle < 10000;) {
      const uint16_t sent = rte_eth_tx_burst(port, queue, pkts + done, static_cast<uint16_t>(n - done));
      done += sent;
      idle = sent != 0 ? 0 : idle + 1;
      if (done < n) std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    if (done < n) rte_pktmbuf_free_bulk(pkts + done, n - done);
    return done;
  }

  void send_hex(const std::string& line) {
    std::istringstream in(line);
    std::string cmd, text;
    unsigned count = 1;
    in >> cmd >> text;
    in >> count;
    const auto frame = parse_hex(text);
    if (!frame || frame->size() > 2048) {
      std::printf("error bad sendhex command: %s\n", line.c_str());
      return;
    }
    // 2048 bytes fit RTE_MBUF_DEFAULT_BUF_SIZE's room.
    report_sent(send_frames(
        count, static_cast<uint16_t>(frame->size()),
        [&](char* data) { std::memcpy(data, frame->data(), frame->size()); }, queue_of(text)));
  }

  // One TCP/IPv4 frame from port 5001 to 80 carrying the stream's bytes
  // [seq, seq + payload), in mbufs of up to 2000 bytes after the header's,
  // as a guest's scattered buffers reach virtio; PSH if `last`. Its
  // checksum is left to the caller. Nullptr if the pool ran dry.
  rte_mbuf* tcp_frame(const rte_ether_addr& dst_mac, const rte_ether_addr& src_mac, in_addr src_ip, in_addr dst_ip,
                      uint32_t seq, uint32_t payload, bool last) {
    constexpr uint16_t kHeaders = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_tcp_hdr);
    rte_mbuf* head = rte_pktmbuf_alloc(pool);
    if (head == nullptr) return nullptr;
    auto* eth = reinterpret_cast<rte_ether_hdr*>(rte_pktmbuf_append(head, kHeaders));
    eth->dst_addr = dst_mac;
    eth->src_addr = src_mac;
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
    *ip = rte_ipv4_hdr{};
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(payload + kHeaders - sizeof(rte_ether_hdr)));
    ip->packet_id = rte_cpu_to_be_16(1);
    ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_TCP;
    ip->src_addr = src_ip.s_addr;
    ip->dst_addr = dst_ip.s_addr;
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    auto* tcp = reinterpret_cast<rte_tcp_hdr*>(ip + 1);
    *tcp = rte_tcp_hdr{};
    tcp->src_port = rte_cpu_to_be_16(5001);
    tcp->dst_port = rte_cpu_to_be_16(80);
    tcp->sent_seq = rte_cpu_to_be_32(seq);
    tcp->data_off = 5 << 4;
    tcp->tcp_flags = static_cast<uint8_t>(RTE_TCP_ACK_FLAG | (last ? RTE_TCP_PSH_FLAG : 0));
    tcp->rx_win = rte_cpu_to_be_16(65535);
    for (uint32_t done = 0; done < payload;) {
      rte_mbuf* seg = rte_pktmbuf_alloc(pool);
      const auto n = static_cast<uint16_t>(std::min<uint32_t>(2000, payload - done));
      auto* data = seg == nullptr ? nullptr : reinterpret_cast<uint8_t*>(rte_pktmbuf_append(seg, n));
      if (data == nullptr || rte_pktmbuf_chain(head, seg) != 0) {
        rte_pktmbuf_free(seg);
        rte_pktmbuf_free(head);
        return nullptr;
      }
      for (uint16_t i = 0; i < n; ++i) data[i] = tcp_pattern(seq + done + i);
      done += n;
    }
    return head;
  }

  void send_tcp(const std::string& line) {
    std::istringstream in(line);
    std::string cmd, dst, src, src_ip_text, dst_ip_text;
    uint32_t payload = 0, mss = 0, seq = 1000000;
    in >> cmd >> dst >> src >> src_ip_text >> dst_ip_text >> payload >> mss;
    in >> seq;
    rte_ether_addr dst_mac{}, src_mac{};
    in_addr src_ip{}, dst_ip{};
    constexpr uint32_t kMaxSegment = 1514 - sizeof(rte_ether_hdr) - sizeof(rte_ipv4_hdr) - sizeof(rte_tcp_hdr);
    if (!parse_mac(dst, dst_mac) || !parse_mac(src, src_mac) || inet_pton(AF_INET, src_ip_text.c_str(), &src_ip) != 1 ||
        inet_pton(AF_INET, dst_ip_text.c_str(), &dst_ip) != 1 || payload == 0 || payload > 65000 ||
        (mss == 0 && payload > kMaxSegment) || (mss != 0 && !offloads && mss > kMaxSegment)) {
      std::printf("error bad sendtcp command: %s\n", line.c_str());
      return;
    }
    constexpr uint16_t kL4 = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr);
    if (!offloads && mss != 0) {
      // A guest without TSO: the stream cut at MSS by the sender, each
      // segment checksummed, all handed over in one burst.
      std::vector<rte_mbuf*> frames;
      for (uint32_t done = 0; done < payload; done += mss) {
        const uint32_t n = std::min(mss, payload - done);
        rte_mbuf* m = tcp_frame(dst_mac, src_mac, src_ip, dst_ip, seq + done, n, done + n == payload);
        if (m == nullptr) {
          rte_pktmbuf_free_bulk(frames.data(), static_cast<unsigned>(frames.size()));
          return report_sent(0);
        }
        auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, sizeof(rte_ether_hdr));
        rte_pktmbuf_mtod_offset(m, rte_tcp_hdr*, kL4)->cksum = rte_ipv4_udptcp_cksum_mbuf(m, ip, kL4);
        frames.push_back(m);
      }
      return report_sent(transmit(frames.data(), static_cast<unsigned>(frames.size())));
    }
    rte_mbuf* head = tcp_frame(dst_mac, src_mac, src_ip, dst_ip, seq, payload, true);
    if (head == nullptr) return report_sent(0);
    auto* ip = rte_pktmbuf_mtod_offset(head, rte_ipv4_hdr*, sizeof(rte_ether_hdr));
    auto* tcp = rte_pktmbuf_mtod_offset(head, rte_tcp_hdr*, kL4);
    if (offloads) {
      head->l2_len = sizeof(rte_ether_hdr);
      head->l3_len = sizeof(rte_ipv4_hdr);
      head->l4_len = sizeof(rte_tcp_hdr);
      head->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
      if (mss != 0) {
        head->ol_flags |= RTE_MBUF_F_TX_TCP_SEG;
        head->tso_segsz = static_cast<uint16_t>(mss);
      }
      tcp->cksum = rte_ipv4_phdr_cksum(ip, head->ol_flags);
    } else {
      tcp->cksum = rte_ipv4_udptcp_cksum_mbuf(head, ip, kL4);
    }
    report_sent(transmit(&head, 1));
  }

  // What a receiving stack checks of a TCP/IPv4 frame: its checksum (unless
  // the switch left it partial), and that its payload is the sendtcp
  // pattern for its sequence numbers.
  static std::string describe_tcp(const rte_mbuf* m) {
    constexpr uint16_t kL4 = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr);
    if (m->data_len < kL4 + sizeof(rte_tcp_hdr)) return "";
    const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
    const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, sizeof(rte_ether_hdr));
    if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || ip->next_proto_id != IPPROTO_TCP ||
        ip->version_ihl != RTE_IPV4_VHL_DEF)
      return "";
    const auto* tcp = rte_pktmbuf_mtod_offset(m, const rte_tcp_hdr*, kL4);
    const uint32_t seq = rte_be_to_cpu_32(tcp->sent_seq);
    const uint16_t header = static_cast<uint16_t>(kL4 + ((tcp->data_off >> 4) * 4));
    const uint32_t ip_end = sizeof(rte_ether_hdr) + rte_be_to_cpu_16(ip->total_length);
    const uint32_t length = ip_end > header && ip_end <= m->pkt_len ? ip_end - header : 0;
    const char* csum = "partial";
    if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) != RTE_MBUF_F_RX_L4_CKSUM_NONE)
      csum = rte_raw_cksum(ip, sizeof(rte_ipv4_hdr)) == 0xffff && ip_end <= m->pkt_len &&
                     rte_ipv4_udptcp_cksum_mbuf_verify(m, ip, kL4) == 0
                 ? "ok"
                 : "bad";
    bool data_ok = true;
    for (uint32_t k = 0; k < length && data_ok; ++k) {
      uint8_t b;
      const auto* p = static_cast<const uint8_t*>(rte_pktmbuf_read(m, header + k, 1, &b));
      data_ok = p != nullptr && *p == tcp_pattern(seq + k);
    }
    const unsigned gso = (m->ol_flags & RTE_MBUF_F_RX_LRO) != 0 ? m->tso_segsz : 0;
    char text[96];
    std::snprintf(text, sizeof(text), "tcp %u %u %s %u %s", seq, length, csum, gso, data_ok ? "ok" : "bad");
    return text;
  }

  void send(const std::string& line) {
    std::istringstream in(line);
    std::string cmd, dst, src, type_text, tag;
    unsigned count = 1, frame_bytes = 60;
    in >> cmd >> dst >> src >> type_text >> tag;
    if (in >> count) in >> frame_bytes;
    rte_ether_addr dst_mac{}, src_mac{};
    if (!parse_mac(dst, dst_mac) || !parse_mac(src, src_mac) || tag.empty() || frame_bytes < 60 || frame_bytes > 1514) {
      std::printf("error bad send command: %s\n", line.c_str());
      return;
    }
    const uint16_t ether_type = static_cast<uint16_t>(std::stoul(type_text, nullptr, 16));
    // frame_bytes <= 1514 fits one mbuf.
    report_sent(send_frames(
        count, static_cast<uint16_t>(frame_bytes),
        [&](char* data) { fill_frame(data, frame_bytes, dst_mac, src_mac, ether_type, tag); }, queue_of(tag)));
  }

  static void fill_frame(char* data, unsigned frame_bytes, const rte_ether_addr& dst, const rte_ether_addr& src,
                         uint16_t ether_type, const std::string& tag) {
    std::memset(data, 0, frame_bytes);
    auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
    eth->dst_addr = dst;
    eth->src_addr = src;
    eth->ether_type = rte_cpu_to_be_16(ether_type);
    std::memcpy(data + sizeof(rte_ether_hdr), tag.data(), std::min<size_t>(tag.size(), frame_bytes - 15));
  }

  // The TX queue of a flow, as a guest's XPS or a NIC's hash would pick it:
  // one queue per flow while the queue count stays.
  uint16_t queue_of(const std::string& flow) const { return static_cast<uint16_t>(flow_hash(flow) % queues); }

  // COUNT frames over FLOWS flows, frame by frame in turn, each on its
  // flow's queue; the bursts of one queue keep the flows' order.
  void send_flows(const std::string& line) {
    std::istringstream in(line);
    std::string cmd, dst, src, type_text, name;
    unsigned flows = 0, count = 0;
    in >> cmd >> dst >> src >> type_text >> name >> flows >> count;
    rte_ether_addr dst_mac{}, src_mac{};
    if (!parse_mac(dst, dst_mac) || !parse_mac(src, src_mac) || name.empty() || name.find('.') != std::string::npos ||
        flows == 0 || count == 0) {
      std::printf("error bad flows command: %s\n", line.c_str());
      return;
    }
    const uint16_t ether_type = static_cast<uint16_t>(std::stoul(type_text, nullptr, 16));
    unsigned sent = 0;
    bool stalled = false;
    for (unsigned i = 0; i < count && !stalled;) {
      // One burst's worth, split by queue.
      std::vector<std::vector<rte_mbuf*>> by_queue(queues);
      for (unsigned b = 0; b < kBurst && i < count; ++b, ++i) {
        const std::string flow = name + "." + std::to_string(i % flows);
        const std::string tag = flow + "." + std::to_string(++next_seq[flow]);
        rte_mbuf* m = rte_pktmbuf_alloc(pool);
        char* data = m == nullptr ? nullptr : rte_pktmbuf_append(m, 60);
        if (data == nullptr) {
          rte_pktmbuf_free(m);
          stalled = true;
          break;
        }
        fill_frame(data, 60, dst_mac, src_mac, ether_type, tag);
        by_queue[queue_of(flow)].push_back(m);
      }
      for (uint16_t q = 0; q < queues; ++q) {
        auto& pkts = by_queue[q];
        if (pkts.empty()) continue;
        const unsigned done = stalled ? 0 : transmit(pkts.data(), static_cast<unsigned>(pkts.size()), q);
        if (stalled) rte_pktmbuf_free_bulk(pkts.data(), static_cast<unsigned>(pkts.size()));
        sent += done;
        stalled = stalled || done < pkts.size();
      }
      // Take what the switch sends back meanwhile: a peer that only sends
      // lets its receive rings overflow.
      receive();
    }
    report_sent(sent);
  }

  // Stops the port, gives it `k` queue pairs and starts it again: at start
  // virtio-user sets the MQ pair count, which reaches the switch as
  // VHOST_USER_SET_VRING_ENABLE per vring. Frames left in the rings are lost.
  bool set_queues(uint16_t k) {
    while (receive() != 0) {
    }
    if (rte_eth_dev_stop(port) != 0) return false;
    if (rte_eth_dev_configure(port, k, k, &conf) != 0) return false;
    for (uint16_t q = 0; q < k; ++q)
      if (rte_eth_rx_queue_setup(port, q, 256, 0, nullptr, pool) != 0 ||
          rte_eth_tx_queue_setup(port, q, 256, 0, nullptr) != 0)
        return false;
    if (rte_eth_dev_start(port) != 0) return false;
    queues = k;
    return true;
  }
  // Sends `count` frames of `bytes` bytes, each written by `fill`, in
  // bursts; stops early when the switch stops taking them.
  template <typename Fill>
  unsigned send_frames(unsigned count, uint16_t bytes, Fill&& fill, uint16_t queue) {
    unsigned sent = 0;
    while (sent < count) {
      rte_mbuf* pkts[kBurst];
      const unsigned n = std::min<unsigned>(kBurst, count - sent);
      if (rte_pktmbuf_alloc_bulk(pool, pkts, n) != 0) break;
      for (unsigned i = 0; i < n; ++i) fill(rte_pktmbuf_append(pkts[i], bytes));
      const unsigned done = transmit(pkts, n, queue);
      sent += done;
      if (done < n) break;
    }
    return sent;
  }

  void report_sent(unsigned sent) {
    tx += sent;
    std::printf("sent %u\n", sent);
  }

  unsigned receive() {
    unsigned n = 0;
    for (uint16_t q = 0; q < queues; ++q) n += receive_queue(q);
    return n;
  }

  void check_sequence(const std::string& tag) {
    const auto sequenced = parse_sequenced_tag(tag);
    if (!sequenced) return;
    ++seq_frames;
    uint64_t& last = last_seq[sequenced->first];
    if (sequenced->second <= last) {
      ++seq_reordered;
      return;
    }
    seq_missing += sequenced->second - last - 1;
    last = sequenced->second;
  }

  unsigned receive_queue(uint16_t queue) {
    rte_mbuf* pkts[kBurst];
    const uint16_t n = rte_eth_rx_burst(port, queue, pkts, kBurst);
    if (rx_per_queue.size() <= queue) rx_per_queue.resize(queue + 1);
    rx_per_queue[queue] += n;
    for (uint16_t i = 0; i < n; ++i) {
      rte_mbuf* m = pkts[i];
      if (m->data_len >= sizeof(rte_ether_hdr)) {
        const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
        const char* payload = rte_pktmbuf_mtod_offset(m, const char*, sizeof(rte_ether_hdr));
        std::string tag;
        for (size_t k = 0; k < 32 && sizeof(rte_ether_hdr) + k < m->data_len; ++k) {
          const char c = payload[k];
          if (c <= ' ' || c > '~') break;
          tag += c;
        }
        std::string bytes;
        if (hex) {
          static constexpr char kDigits[] = "0123456789abcdef";
          bytes = " ";
          for (uint32_t k = 0; k < m->pkt_len; ++k) {
            uint8_t b;
            const auto* p = static_cast<const uint8_t*>(rte_pktmbuf_read(m, k, 1, &b));
            bytes += kDigits[*p >> 4];
            bytes += kDigits[*p & 0x0f];
          }
        }
        const std::string tcp = describe_tcp(m);
        if (!tcp.empty()) tag = tcp;
        check_sequence(tag);
        if (!quiet)
          std::printf("rx %s %s %04x %u %s%s\n", mac_text(eth->dst_addr).c_str(), mac_text(eth->src_addr).c_str(),
                      rte_be_to_cpu_16(eth->ether_type), m->pkt_len, tag.empty() ? "-" : tag.c_str(), bytes.c_str());
      } else if (!quiet) {
        // A runt: no header to show, but a test must see that it arrived.
        std::printf("rx - - - %u -\n", m->pkt_len);
      }
      rte_pktmbuf_free(m);
    }
    rx += n;
    return n;
  }
};

// The last link state printed (the link starts down, unreported); the main
// loop and the interrupt thread both report, each change once.
std::atomic<int> reported_link{0};

void report_link(uint16_t port) {
  rte_eth_link link{};
  rte_eth_link_get_nowait(port, &link);
  const int up = link.link_status == RTE_ETH_LINK_UP ? 1 : 0;
  if (reported_link.exchange(up) != up) std::printf("%s\n", up ? "ready" : "down");
}

// Link changes arrive as interrupts on DPDK's interrupt thread, the way
// QEMU as a vhost-user server sees them: in server mode (--server) a switch
// that connects again is taken at once and the device renegotiated, without
// waiting for anyone to ask for the link state.
int on_link_change(uint16_t port, rte_eth_event_type, void*, void*) {
  report_link(port);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"virtio-user peer for inceptiond integration tests", "inception-vport-peer"};
  std::string socket, prefix = "vport-peer";
  bool server = false;
  bool offloads = false;
  uint16_t queues = 1;
  app.add_option("--socket", socket, "vhost-user socket of the switch port")->required();
  app.add_option("--queues", queues, "queue pairs the port offers (virtio-net MQ above 1)")
      ->check(CLI::Range(1, 8))
      ->capture_default_str();
  app.add_flag("--offloads", offloads, "use TSO and checksum offload on transmit and LRO on receive when offered");
  app.add_flag("--server", server, "create the socket (the switch port is in client mode)");
  app.add_option("--file-prefix", prefix, "DPDK file prefix, unique per process");
  CLI11_PARSE(app, argc, argv);

  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // Mergeable receive buffers let the switch hand over a super-frame.
  // virtio-user refuses multi-queue without a control queue (cq=1): the
  // pair count goes through it.
  const std::string vdev = "net_virtio_user0,path=" + socket + ",queues=" + std::to_string(queues) +
                           (queues > 1 ? ",cq=1" : "") + (server ? ",server=1" : "") + (offloads ? ",mrg_rxbuf=1" : "");
  std::vector<std::string> eal = {
      "inception-vport-peer", "-l",   "0",           "--no-huge", "-m",     "64", "--no-pci", "--no-telemetry",
      "--file-prefix",        prefix, "--log-level", "*:error",   "--vdev", vdev};
  std::vector<char*> eal_argv;
  for (auto& a : eal) eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "inception-vport-peer: EAL init failed for %s\n", socket.c_str());
    return 1;
  }
  Peer peer;
  peer.max_queues = queues;
  peer.queues = queues;
  // Two 256-descriptor rings per queue pair stay filled, with room to send.
  peer.pool = rte_pktmbuf_pool_create("peer_pool", 4095 + 1024u * queues, 64, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  rte_eth_conf& conf = peer.conf;
  conf.intr_conf.lsc = 1;
  if (offloads) {
    // Whatever the switch offers of what a Linux guest would use.
    rte_eth_dev_info info{};
    rte_eth_dev_info_get(peer.port, &info);
    conf.txmode.offloads = info.tx_offload_capa &
                           (RTE_ETH_TX_OFFLOAD_TCP_TSO | RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_MULTI_SEGS);
    conf.rxmode.offloads = info.rx_offload_capa & (RTE_ETH_RX_OFFLOAD_TCP_LRO | RTE_ETH_RX_OFFLOAD_TCP_CKSUM);
    conf.rxmode.max_lro_pkt_size = info.max_lro_pkt_size;
    peer.offloads = (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_TCP_TSO) != 0;
  }
  rte_eth_dev_callback_register(peer.port, RTE_ETH_EVENT_INTR_LSC, on_link_change, nullptr);
  bool queues_set_up = peer.pool != nullptr && rte_eth_dev_configure(peer.port, queues, queues, &conf) == 0;
  for (uint16_t q = 0; q < queues && queues_set_up; ++q)
    queues_set_up = rte_eth_rx_queue_setup(peer.port, q, 256, 0, nullptr, peer.pool) == 0 &&
                    rte_eth_tx_queue_setup(peer.port, q, 256, 0, nullptr) == 0;
  if (!queues_set_up || rte_eth_dev_start(peer.port) != 0) {
    std::fprintf(stderr, "inception-vport-peer: cannot start virtio-user port on %s\n", socket.c_str());
    return 1;
  }

  std::string input;
  int idle = 0;
  bool was_up = false;
  for (;;) {
    // Until the first link up; interrupts report the changes after it.
    if (!was_up) {
      report_link(peer.port);
      was_up = reported_link.load() == 1;
    }
    pollfd fd{STDIN_FILENO, POLLIN, 0};
    if (poll(&fd, 1, 0) > 0) {
      char buffer[4096];
      const ssize_t n = read(STDIN_FILENO, buffer, sizeof(buffer));
      if (n <= 0) break;  // stdin closed: the test is done with us
      input.append(buffer, static_cast<size_t>(n));
      bool quit = false;
      for (size_t nl; (nl = input.find('\n')) != std::string::npos;) {
        const std::string line = input.substr(0, nl);
        input.erase(0, nl + 1);
        if (line.rfind("send ", 0) == 0)
          peer.send(line);
        else if (line.rfind("sendhex ", 0) == 0)
          peer.send_hex(line);
        else if (line.rfind("sendtcp ", 0) == 0)
          peer.send_tcp(line);
        else if (line.rfind("flows ", 0) == 0)
          peer.send_flows(line);
        else if (line.rfind("queues ", 0) == 0) {
          const unsigned k = static_cast<unsigned>(std::strtoul(line.c_str() + 7, nullptr, 10));
          if (k < 1 || k > peer.max_queues)
            std::printf("queues refused: %s: must be 1..%u\n", line.c_str(), peer.max_queues);
          else if (!peer.set_queues(static_cast<uint16_t>(k)))
            std::printf("queues failed: the port did not restart with %u queue pairs\n", k);
          else
            std::printf("queues %u\n", k);
        } else if (line == "hex on" || line == "hex off")
          peer.hex = line == "hex on";
        else if (line == "quiet on" || line == "quiet off")
          peer.quiet = line == "quiet on";
        else if (line == "seqstats") {
          std::string rxq;
          for (size_t q = 0; q < peer.max_queues; ++q)
            rxq += (q ? "," : "") + std::to_string(q < peer.rx_per_queue.size() ? peer.rx_per_queue[q] : 0);
          std::printf("seqstats frames=%lu reordered=%lu missing=%lu rxq=%s\n", peer.seq_frames, peer.seq_reordered,
                      peer.seq_missing, rxq.c_str());
        } else if (line == "stats")
          std::printf("stats rx=%lu tx=%lu tso=%d\n", peer.rx, peer.tx, peer.offloads ? 1 : 0);
        else if (line == "quit")
          quit = true;
        else if (!line.empty())
          std::printf("error unknown command: %s\n", line.c_str());
      }
      if (quit) break;
    }
    // Back off when idle: several of these share two cores with the switch.
    if (peer.receive() == 0) {
      if (++idle > 10) std::this_thread::sleep_for(std::chrono::microseconds(500));
    } else {
      idle = 0;
    }
  }
  rte_eth_dev_stop(peer.port);
  rte_eth_dev_close(peer.port);
  rte_eal_cleanup();
  return 0;
}
