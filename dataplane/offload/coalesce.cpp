#include "dataplane/offload/coalesce.h"

#include <netinet/in.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_tcp.h>

#include <cstring>

#include "dataplane/offload/checksum.h"
#include "dataplane/worker/worker_context.h"

namespace inception {

namespace {

constexpr uint16_t kEthernet = sizeof(rte_ether_hdr);
constexpr uint16_t kIpv4 = sizeof(rte_ipv4_hdr);
// A super-frame's IPv4 total length fits 16 bits.
constexpr uint32_t kMaxIpv4Length = UINT16_MAX;
constexpr uint8_t kMergeableFlags = RTE_TCP_ACK_FLAG | RTE_TCP_PSH_FLAG;

// What of a TCP/IPv4 segment decides whether it joins another: the same
// flow, and every header field but the lengths, the IPv4 ID and checksums,
// and the sequence number equal (Linux's GRO asks the same). The TCP
// options, timestamps included, are compared as bytes.
struct Segment {
  rte_mbuf* m;
  rte_ipv4_hdr* ip;
  rte_tcp_hdr* tcp;
  uint16_t headers;  // Ethernet, IPv4 and TCP
  uint16_t payload;
  uint32_t seq;
  bool mergeable;  // flags ACK (and PSH), a buffer of its own; checksums not yet looked at
};

// Whether `m` and its buffer are this frame's alone: a flood's frame, or
// one whose (external) buffer others share, must not be trimmed or chained.
bool owned(const rte_mbuf* m) noexcept {
  return rte_mbuf_refcnt_read(m) == 1 && !RTE_MBUF_CLONED(m) &&
         (!RTE_MBUF_HAS_EXTBUF(m) || rte_mbuf_ext_refcnt_read(m->shinfo) == 1);
}

// A TCP/IPv4 frame whose headers lie in its first buffer, without IP
// options or fragmentation; false for anything else.
bool parse(rte_mbuf* m, Segment& s) noexcept {
  if (m->data_len < kEthernet + kIpv4 + sizeof(rte_tcp_hdr)) return false;
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) return false;
  s.ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, kEthernet);
  if (s.ip->version_ihl != RTE_IPV4_VHL_DEF || s.ip->next_proto_id != IPPROTO_TCP ||
      (s.ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_MF_FLAG | RTE_IPV4_HDR_OFFSET_MASK)) != 0)
    return false;
  s.tcp = rte_pktmbuf_mtod_offset(m, rte_tcp_hdr*, kEthernet + kIpv4);
  const auto tcp_length = static_cast<uint16_t>((s.tcp->data_off >> 4) * 4);
  const uint32_t total = rte_be_to_cpu_16(s.ip->total_length);
  s.headers = static_cast<uint16_t>(kEthernet + kIpv4 + tcp_length);
  if (tcp_length < sizeof(rte_tcp_hdr) || s.headers > m->data_len ||
      total < static_cast<uint32_t>(kIpv4 + tcp_length) || kEthernet + total > m->pkt_len)
    return false;
  s.m = m;
  s.payload = static_cast<uint16_t>(total - kIpv4 - tcp_length);
  s.seq = rte_be_to_cpu_32(s.tcp->sent_seq);
  // Ethernet padding past the IP datagram would end up inside the stream.
  s.mergeable = s.payload != 0 && kEthernet + total == m->pkt_len && m->nb_segs == 1 &&
                (s.tcp->tcp_flags & ~kMergeableFlags) == 0 && (s.tcp->tcp_flags & RTE_TCP_ACK_FLAG) != 0 &&
                (m->ol_flags & RTE_MBUF_F_TX_OFFLOAD_MASK) == 0 && owned(m);
  return true;
}

// A guest takes a merged frame's checksum as the switch's word: each
// segment's is checked before it joins one, and only then, so that a lone
// segment costs no pass over its payload.
bool checksums_valid(const Segment& s) noexcept {
  checksum::Sum l4 = 0;
  return checksum::fold(checksum::sum(s.ip, kIpv4)) == 0xffff &&
         checksum::sum_chain(s.m, kEthernet + kIpv4, s.headers - kEthernet - kIpv4 + s.payload, &l4) &&
         checksum::fold(l4 + rte_ipv4_phdr_cksum(s.ip, 0)) == 0xffff;
}

bool same_flow(const Segment& a, const Segment& b) noexcept {
  return std::memcmp(rte_pktmbuf_mtod(a.m, const void*), rte_pktmbuf_mtod(b.m, const void*), kEthernet) == 0 &&
         a.ip->src_addr == b.ip->src_addr && a.ip->dst_addr == b.ip->dst_addr && a.tcp->src_port == b.tcp->src_port &&
         a.tcp->dst_port == b.tcp->dst_port;
}

// The fields that must be equal for `b` to continue `a`'s super-frame.
bool same_headers(const Segment& a, const Segment& b) noexcept {
  return a.headers == b.headers && a.ip->type_of_service == b.ip->type_of_service &&
         a.ip->time_to_live == b.ip->time_to_live && a.ip->fragment_offset == b.ip->fragment_offset &&
         a.tcp->recv_ack == b.tcp->recv_ack && a.tcp->rx_win == b.tcp->rx_win && a.tcp->tcp_urp == b.tcp->tcp_urp &&
         std::memcmp(a.tcp + 1, b.tcp + 1, a.headers - kEthernet - kIpv4 - sizeof(rte_tcp_hdr)) == 0;
}

// A super-frame being built: its first segment, where the chain ends, and
// what the next segment must be.
struct Open {
  Segment first;
  rte_mbuf* tail;
  uint32_t next_seq;
  uint32_t length;  // payload so far
  uint16_t segments;
  bool closed;
  bool checked;  // first's checksums looked at
  bool valid;    // and found right
};

void finish(const Open& f) noexcept {
  rte_mbuf* m = f.first.m;
  rte_ipv4_hdr* ip = f.first.ip;
  ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(f.first.headers - kEthernet + f.length));
  ip->hdr_checksum = 0;
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  m->l2_len = kEthernet;
  m->l3_len = kIpv4;
  m->l4_len = static_cast<uint16_t>(f.first.headers - kEthernet - kIpv4);
  m->tso_segsz = f.first.payload;
  m->ol_flags |= RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM | RTE_MBUF_F_TX_TCP_SEG;
  // Partial, as virtio-net defines it (and Linux fills it): the
  // pseudo-header's sum with the length of the whole TCP segment.
  f.first.tcp->cksum = rte_ipv4_phdr_cksum(ip, 0);
}

}  // namespace

uint16_t coalesce_tcp_segments(WorkerCounters& counters, rte_mbuf** pkts, uint16_t n) noexcept {
  if (n < 2) return n;
  Open open[kBurstSize];
  uint16_t n_open = 0;
  uint16_t kept = 0;
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    Segment s;
    if (!parse(m, s)) {
      pkts[kept++] = m;
      continue;
    }
    // The flow's super-frame still open, if any: at most one per flow.
    Open* f = nullptr;
    for (uint16_t k = 0; k < n_open && f == nullptr; ++k)
      if (!open[k].closed && same_flow(open[k].first, s)) f = &open[k];
    bool checked = false;
    if (f != nullptr && s.mergeable && s.seq == f->next_seq && s.payload <= f->first.payload &&
        f->first.headers - kEthernet + f->length + s.payload <= kMaxIpv4Length && same_headers(f->first, s)) {
      if (!f->checked) {
        f->checked = true;
        f->valid = checksums_valid(f->first);
      }
      if (f->valid) {
        checked = true;
        s.mergeable = checksums_valid(s);
      }
    }
    if (checked && s.mergeable) {
      f->first.tcp->tcp_flags |= s.tcp->tcp_flags;  // PSH of the last segment
      rte_pktmbuf_adj(m, s.headers);
      f->tail->next = m;
      f->tail = m;
      f->first.m->nb_segs = static_cast<uint16_t>(f->first.m->nb_segs + 1);
      f->first.m->pkt_len += m->pkt_len;
      f->length += s.payload;
      f->next_seq += s.payload;
      ++f->segments;
      // A short segment or PSH ends what the sender wrote in one go.
      f->closed = s.payload < f->first.payload || (s.tcp->tcp_flags & RTE_TCP_PSH_FLAG) != 0;
      continue;
    }
    // Nothing later of this flow may pass this frame.
    if (f != nullptr) f->closed = true;
    pkts[kept++] = m;
    if (s.mergeable && (s.tcp->tcp_flags & RTE_TCP_PSH_FLAG) == 0 && n_open < kBurstSize)
      open[n_open++] = Open{s, m, s.seq + s.payload, s.payload, 1, false, checked, checked};
  }
  for (uint16_t k = 0; k < n_open; ++k) {
    if (open[k].segments < 2) continue;
    finish(open[k]);
    counter_add(counters.offload_coalesced, 1);
    counter_add(counters.offload_coalesced_segments, open[k].segments);
  }
  return kept;
}

}  // namespace inception
