#include "dataplane/offload/tx_offload.h"

#include <netinet/in.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include <cerrno>
#include <cstring>

#include "dataplane/offload/checksum.h"

namespace inception {

namespace {

constexpr uint64_t kTxOffloadFlags = kTxOffloadRequests | RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IPV6;

void drop(PortCounters& counters, DropReason reason, rte_mbuf* m) noexcept {
  count_drop(counters, reason);
  rte_pktmbuf_free(m);
}

// Where the checksum field of the L4 header lies, from the frame's start;
// 0 if `flags` ask for no checksum the switch completes.
uint16_t l4_checksum_offset(const rte_mbuf* m, uint64_t flags) noexcept {
  switch (flags & RTE_MBUF_F_TX_L4_MASK) {
    case RTE_MBUF_F_TX_TCP_CKSUM:
      return static_cast<uint16_t>(m->l2_len + m->l3_len + offsetof(rte_tcp_hdr, cksum));
    case RTE_MBUF_F_TX_UDP_CKSUM:
      return static_cast<uint16_t>(m->l2_len + m->l3_len + offsetof(rte_udp_hdr, dgram_cksum));
    default:
      return 0;
  }
}

// The L4 checksum of `length` bytes from offset `l4` of `m`, its field
// zeroed first, over `pseudo` (the pseudo-header's folded sum). False if the
// chain holds fewer bytes.
bool l4_checksum(rte_mbuf* m, uint16_t l4, uint32_t length, uint16_t field, uint16_t pseudo, bool udp) noexcept {
  auto* checksum = rte_pktmbuf_mtod_offset(m, uint16_t*, field);
  *checksum = 0;
  checksum::Sum sum = 0;
  if (!checksum::sum_chain(m, l4, length, &sum)) return false;
  auto value = static_cast<uint16_t>(~checksum::fold(sum + pseudo));
  // UDP sends a computed zero as all ones: zero means "no checksum".
  if (udp && value == 0) value = 0xffff;
  *checksum = value;
  return true;
}

// Computes the checksums `m` asks for, then clears every request: no later
// stage, and no port's driver, is to act on them again. False if a request
// does not fit the frame: rte_vhost set the lengths from the headers it
// parsed, but the switch does not rely on that.
bool complete_checksums(rte_mbuf* m) noexcept {
  const uint64_t flags = m->ol_flags;
  m->ol_flags &= ~kTxOffloadFlags;
  const uint16_t l3 = m->l2_len;
  const auto l4 = static_cast<uint16_t>(m->l2_len + m->l3_len);
  const uint16_t field = l4_checksum_offset(m, flags);
  const bool udp = (flags & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_UDP_CKSUM;
  if ((flags & RTE_MBUF_F_TX_L4_MASK) != 0 && field == 0) return false;  // SCTP: never offered
  if (m->data_len < l4 || (field != 0 && m->data_len < field + sizeof(uint16_t))) return false;
  // The L4 length the checksum covers, from the IP header: inside the frame
  // and holding the checksum field.
  const uint32_t covers_field = field + sizeof(uint16_t) - l4;
  if ((flags & RTE_MBUF_F_TX_IPV4) != 0) {
    if (m->l3_len < sizeof(rte_ipv4_hdr)) return false;
    auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv4_hdr*, l3);
    if ((flags & RTE_MBUF_F_TX_IP_CKSUM) != 0) {
      ip->hdr_checksum = 0;
      ip->hdr_checksum = rte_ipv4_cksum(ip);
    }
    if (field == 0) return true;
    const uint32_t total = rte_be_to_cpu_16(ip->total_length);
    if (rte_ipv4_hdr_len(ip) != m->l3_len || total < m->l3_len + covers_field || total > m->pkt_len - l3) return false;
    return l4_checksum(m, l4, total - m->l3_len, field, rte_ipv4_phdr_cksum(ip, 0), udp);
  }
  if ((flags & RTE_MBUF_F_TX_IPV6) != 0) {
    if (m->l3_len != sizeof(rte_ipv6_hdr)) return false;
    auto* ip = rte_pktmbuf_mtod_offset(m, rte_ipv6_hdr*, l3);
    if (field == 0) return true;
    const uint32_t payload = rte_be_to_cpu_16(ip->payload_len);
    if (payload < covers_field || payload > m->pkt_len - l4) return false;
    return l4_checksum(m, l4, payload, field, rte_ipv6_phdr_cksum(ip, 0), udp);
  }
  return false;
}

// Whether a TSO request's headers are ones segment_by_copy can cut by:
// TCP behind an IPv4 header (options allowed) or a bare IPv6 header, in
// the lengths rte_vhost parsed.
bool tso_headers_fit(rte_mbuf* m) noexcept {
  if (m->l4_len < sizeof(rte_tcp_hdr) || m->l2_len + m->l3_len + m->l4_len > m->data_len) return false;
  if ((m->ol_flags & RTE_MBUF_F_TX_IPV4) != 0)
    return m->l3_len >= sizeof(rte_ipv4_hdr) &&
           rte_ipv4_hdr_len(rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, m->l2_len)) == m->l3_len;
  return (m->ol_flags & RTE_MBUF_F_TX_IPV6) != 0 && m->l3_len == sizeof(rte_ipv6_hdr);
}

// A frame another flood target still holds must not change under it. A
// super-frame in an external buffer (rte_vhost's, for frames larger than an
// mbuf) is the frame's own unless its buffer is shared.
rte_mbuf* writable(WorkerContext& ctx, rte_mbuf* m) noexcept {
  const bool own_buffer = !RTE_MBUF_CLONED(m) && (!RTE_MBUF_HAS_EXTBUF(m) || rte_mbuf_ext_refcnt_read(m->shinfo) == 1);
  if (likely(rte_mbuf_refcnt_read(m) == 1 && own_buffer)) return m;
  rte_mbuf* copy = rte_pktmbuf_copy(m, ctx.pool, 0, UINT32_MAX);
  rte_pktmbuf_free(m);
  return copy;
}

// Reads a chain of mbufs front to back, across segment boundaries.
struct ChainReader {
  const rte_mbuf* seg;
  uint32_t offset;  // within seg's data
  // Copies the next `length` bytes to `to`; returns their checksum sum.
  checksum::Sum copy(uint8_t* to, uint32_t length) noexcept {
    checksum::Sum sum = 0;
    for (uint32_t done = 0; done < length;) {
      if (offset == seg->data_len) {
        seg = seg->next;
        offset = 0;
        continue;
      }
      const uint32_t n = std::min<uint32_t>(length - done, seg->data_len - offset);
      sum = checksum::add_block(
          sum, checksum::copy_and_sum(to + done, rte_pktmbuf_mtod_offset(seg, const uint8_t*, offset), n),
          (done & 1U) != 0);
      offset += n;
      done += n;
    }
    return sum;
  }
};

// Cuts a TCP super-frame (IPv4 or IPv6) into frames of at most `segment`
// bytes: each segment's headers copied from the super-frame's and fixed up
// (lengths, IPv4 ID, sequence number, flags), then its payload copied in one
// pass behind them, into one mbuf (into a chain only for a jumbo MSS). The
// copy is the point: the segment the next stage reads (vhost enqueue,
// encapsulation, a PMD's send) is one contiguous buffer still in cache,
// and the payload's checksum is summed in the same pass (checksum.h).
// rte_gso instead makes a header mbuf and indirect payload references, two
// to three mbufs per segment with reference-count updates on the
// super-frame's buffers, and has no TCP/IPv6 in DPDK 22.11
// (docs/performance.md compares the two). Each segment leaves complete,
// its checksums done and no request left. The caller has checked the
// super-frame's headers (complete_offloads). Returns the segments made,
// or -ENOMEM.
int segment_by_copy(rte_mempool* pool, const rte_mbuf* m, uint16_t segment, rte_mbuf** out) noexcept {
  const uint16_t headers = static_cast<uint16_t>(m->l2_len + m->l3_len + m->l4_len);
  const uint16_t mss = static_cast<uint16_t>(segment - headers);
  const uint32_t payload = m->pkt_len - headers;
  const auto count = static_cast<unsigned>((payload + mss - 1) / mss);
  if (rte_pktmbuf_alloc_bulk(pool, out, count) != 0) return -ENOMEM;
  const bool ipv4 = (m->ol_flags & RTE_MBUF_F_TX_IPV4) != 0;
  const uint8_t* original = rte_pktmbuf_mtod(m, const uint8_t*);
  const auto* tcp = reinterpret_cast<const rte_tcp_hdr*>(original + m->l2_len + m->l3_len);
  const uint32_t first_seq = rte_be_to_cpu_32(tcp->sent_seq);
  const uint16_t first_id =
      ipv4 ? rte_be_to_cpu_16(reinterpret_cast<const rte_ipv4_hdr*>(original + m->l2_len)->packet_id) : 0;
  ChainReader reader{m, headers};
  uint32_t offset = 0;
  for (unsigned i = 0; i < count; ++i, offset += mss) {
    rte_mbuf* seg = out[i];
    const auto length = static_cast<uint16_t>(std::min<uint32_t>(mss, payload - offset));
    // Headers and as much payload as the first mbuf holds, then (jumbo
    // MSS only) further mbufs for the rest.
    const auto first = static_cast<uint16_t>(std::min<uint32_t>(length, rte_pktmbuf_tailroom(seg) - headers));
    auto* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(seg, static_cast<uint16_t>(headers + first)));
    std::memcpy(data, original, headers);
    checksum::Sum payload_sum = reader.copy(data + headers, first);
    for (uint16_t copied = first; copied < length;) {
      rte_mbuf* more = rte_pktmbuf_alloc(pool);
      const auto n =
          static_cast<uint16_t>(std::min<uint32_t>(length - copied, more == nullptr ? 0 : rte_pktmbuf_tailroom(more)));
      if (more == nullptr || rte_pktmbuf_chain(seg, more) != 0) {
        rte_pktmbuf_free(more);
        rte_pktmbuf_free_bulk(out, count);
        return -ENOMEM;
      }
      payload_sum = checksum::add_block(
          payload_sum, reader.copy(reinterpret_cast<uint8_t*>(rte_pktmbuf_append(seg, n)), n), (copied & 1U) != 0);
      copied = static_cast<uint16_t>(copied + n);
    }
    // No request left: the super-frame's flags also say how its buffer is
    // held (RTE_MBUF_F_EXTERNAL for rte_vhost's external buffers), which a
    // segment's is not.
    seg->tx_offload = m->tx_offload;
    seg->ol_flags = 0;
    const auto l3_length = static_cast<uint16_t>(m->l3_len + m->l4_len + length);
    auto* seg_tcp = reinterpret_cast<rte_tcp_hdr*>(data + m->l2_len + m->l3_len);
    seg_tcp->sent_seq = rte_cpu_to_be_32(first_seq + offset);
    // FIN and PSH end the super-frame, CWR starts it (as Linux's own GSO).
    if (offset + length < payload) seg_tcp->tcp_flags &= ~(RTE_TCP_FIN_FLAG | RTE_TCP_PSH_FLAG);
    if (i != 0) seg_tcp->tcp_flags &= ~RTE_TCP_CWR_FLAG;
    seg_tcp->cksum = 0;
    uint16_t pseudo = 0;
    if (ipv4) {
      auto* ip = reinterpret_cast<rte_ipv4_hdr*>(data + m->l2_len);
      ip->total_length = rte_cpu_to_be_16(l3_length);
      ip->packet_id = rte_cpu_to_be_16(static_cast<uint16_t>(first_id + i));
      ip->hdr_checksum = 0;
      ip->hdr_checksum = rte_ipv4_cksum(ip);
      pseudo = rte_ipv4_phdr_cksum(ip, 0);
    } else {
      auto* ip = reinterpret_cast<rte_ipv6_hdr*>(data + m->l2_len);
      ip->payload_len = rte_cpu_to_be_16(static_cast<uint16_t>(l3_length - sizeof(rte_ipv6_hdr)));
      pseudo = rte_ipv6_phdr_cksum(ip, 0);
    }
    // The TCP header's length is a multiple of 4: the payload's words line
    // up with the segment's.
    seg_tcp->cksum = static_cast<uint16_t>(~checksum::fold(checksum::sum(seg_tcp, m->l4_len) + payload_sum + pseudo));
  }
  return static_cast<int>(count);
}

}  // namespace

uint16_t complete_offloads(WorkerContext& ctx, PortCounters& counters, rte_mbuf* m, uint16_t max_frame,
                           rte_mbuf** out) noexcept {
  // UDP segmentation (HOST_UFO) is never offered.
  if (unlikely((m->ol_flags & RTE_MBUF_F_TX_UDP_SEG) != 0)) {
    drop(counters, DropReason::kBadOffload, m);
    return 0;
  }
  // The requests and the headers are the frame's own from here on: a flood
  // shares one mbuf between ports, and another may take it as it is.
  m = writable(ctx, m);
  if (unlikely(m == nullptr)) {
    count_drop(counters, DropReason::kNoBuffer);
    return 0;
  }
  if (is_tso(m)) {
    // TCP over IPv4 or IPv6 (HOST_TSO4/6); the headers must lie in the first
    // segment, where the segments' headers are copied from.
    const auto headers = static_cast<uint32_t>(m->l2_len + m->l3_len + m->l4_len);
    if (unlikely(!tso_headers_fit(m) || m->tso_segsz == 0)) {
      drop(counters, DropReason::kBadOffload, m);
      return 0;
    }
    const uint32_t segment = std::min<uint32_t>(max_frame, headers + m->tso_segsz);
    const uint32_t payload = m->pkt_len - headers;
    if (unlikely(segment <= headers || (payload + (segment - headers) - 1) / (segment - headers) > kMaxSegments)) {
      drop(counters, DropReason::kBadOffload, m);
      return 0;
    }
    m->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
    if (m->pkt_len > segment) {
      const int made = segment_by_copy(ctx.pool, m, static_cast<uint16_t>(segment), out);
      if (made > 0) {
        rte_pktmbuf_free(m);
        counter_add(ctx.counters->offload_segmented, 1);
        counter_add(ctx.counters->offload_segments, static_cast<uint64_t>(made));
        return static_cast<uint16_t>(made);
      }
      drop(counters, DropReason::kNoBuffer, m);
      return 0;
    }
    m->ol_flags &= ~RTE_MBUF_F_TX_TCP_SEG;
  }
  if (unlikely(!complete_checksums(m))) {
    drop(counters, DropReason::kBadOffload, m);
    return 0;
  }
  counter_add(ctx.counters->offload_checksums, 1);
  out[0] = m;
  return 1;
}

}  // namespace inception
