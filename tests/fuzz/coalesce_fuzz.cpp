// Fuzz target: coalescing for guests that take TSO
// (coalesce_tcp_segments), with a property oracle.
//
// Input: a burst (a count byte, then frame records; fuzz_input.h).
// Oracle, from the frames' bytes as they were before the call, parsed here
// independently of the code under test:
//   * every frame comes out once, alone or inside exactly one super-frame
//     (as many frames and mbufs leave as came in), and is a consistent mbuf;
//   * per TCP/IPv4 flow, the payload bytes leave in the order they came;
//     every other frame leaves byte for byte unchanged, in its order;
//   * a super-frame has an IPv4 header whose checksum verifies and whose
//     length is the frame's, a TSO request with an MSS, and the TCP
//     pseudo-header's sum in its checksum field;
//   * only frames whose IPv4 and TCP checksums verified were joined.
#include <netinet/in.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "dataplane/offload/coalesce.h"
#include "packet_harness.h"

using namespace inception;
using namespace inception::fuzz;

namespace {

constexpr const char* kName = "coalesce";

std::vector<uint8_t> bytes_of(const rte_mbuf* m) {
  std::vector<uint8_t> b(m->pkt_len);
  if (b.empty()) return b;
  const void* p = rte_pktmbuf_read(m, 0, m->pkt_len, b.data());
  if (p != b.data()) std::memcpy(b.data(), p, m->pkt_len);
  return b;
}

// A frame as the oracle sees it: a TCP/IPv4 flow and its payload, or
// "other" and the whole frame.
struct View {
  std::string flow = "other";
  std::vector<uint8_t> payload;
  bool checksums_valid = false;
};

View view(const std::vector<uint8_t>& f) {
  View v;
  if (f.size() < 14 + 20 || get16(&f[12]) != RTE_ETHER_TYPE_IPV4 || (f[14] >> 4) != 4 || f[14 + 9] != IPPROTO_TCP) {
    v.payload = f;
    return v;
  }
  const size_t ihl = size_t{f[14] & 0xfu} * 4;
  const size_t total = get16(&f[16]);
  if (ihl < 20 || f.size() < 14 + ihl + 20 || total < ihl + 20 || 14 + total > f.size()) {
    v.payload = f;
    return v;
  }
  const uint8_t* tcp = &f[14 + ihl];
  const size_t doff = static_cast<size_t>(tcp[12] >> 4) * 4;
  if (doff < 20 || ihl + doff > total) {
    v.payload = f;
    return v;
  }
  v.flow = std::string(reinterpret_cast<const char*>(f.data()), 12) +
           std::string(reinterpret_cast<const char*>(&f[14 + 12]), 8) +
           std::string(reinterpret_cast<const char*>(tcp), 4);
  v.payload.assign(f.begin() + static_cast<long>(14 + ihl + doff), f.begin() + static_cast<long>(14 + total));
  uint8_t pseudo[12];
  std::memcpy(pseudo, &f[14 + 12], 8);
  pseudo[8] = 0;
  pseudo[9] = IPPROTO_TCP;
  pseudo[10] = static_cast<uint8_t>((total - ihl) >> 8);
  pseudo[11] = static_cast<uint8_t>(total - ihl);
  v.checksums_valid =
      fold(sum_bytes(&f[14], ihl)) == 0xffff && fold(sum_bytes(tcp, total - ihl, sum_bytes(pseudo, 12))) == 0xffff;
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  init_eal();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const LeakCheck baseline;
  static WorkerCounters counters;
  Input in(data, size);
  rte_mbuf* pkts[kBurstSize];
  const uint16_t n = read_burst(in, pkts);
  std::map<std::string, std::vector<uint8_t>> before, after;
  // Per flow, the frames that came, in order: which an output frame took.
  std::map<std::string, std::vector<View>> came;
  std::map<std::string, size_t> taken;
  unsigned mbufs_in = 0;
  for (uint16_t i = 0; i < n; ++i) {
    const View v = view(bytes_of(pkts[i]));
    auto& stream = before[v.flow];
    stream.insert(stream.end(), v.payload.begin(), v.payload.end());
    came[v.flow].push_back(v);
    mbufs_in += pkts[i]->nb_segs;
  }
  const uint64_t joined_before = counters.offload_coalesced_segments;
  const uint64_t made_before = counters.offload_coalesced;
  const uint16_t left = coalesce_tcp_segments(counters, pkts, n);
  if (left > n) fail("%s: %u frames out of %u", kName, left, n);
  unsigned mbufs_out = 0;
  for (uint16_t i = 0; i < left; ++i) {
    rte_mbuf* m = pkts[i];
    check_mbuf(m, kName);
    mbufs_out += m->nb_segs;
    const std::vector<uint8_t> f = bytes_of(m);
    const View v = view(f);
    auto& stream = after[v.flow];
    stream.insert(stream.end(), v.payload.begin(), v.payload.end());
    // The frames of its flow it took, in their order: one, or (a
    // super-frame) two or more, each with checksums that verified.
    const std::vector<View>& flow = came[v.flow];
    size_t& next = taken[v.flow];
    const bool super_frame = (m->ol_flags & RTE_MBUF_F_TX_TCP_SEG) != 0;
    size_t covered = 0, frames = 0;
    for (; next < flow.size() && (frames == 0 || (super_frame && covered < v.payload.size())); ++next, ++frames) {
      covered += flow[next].payload.size();
      if (super_frame && !flow[next].checksums_valid) fail("%s: a segment whose checksum is wrong was joined", kName);
    }
    if (covered != v.payload.size() || (super_frame && frames < 2))
      fail("%s: frame %u does not match the %zu frame(s) of its flow it stands for", kName, i, frames);
    if (!super_frame) continue;
    if (v.flow == "other") fail("%s: a super-frame that is not TCP/IPv4", kName);
    const size_t ihl = size_t{f[14] & 0xfu} * 4;
    if (get16(&f[16]) != m->pkt_len - 14 || fold(sum_bytes(&f[14], ihl)) != 0xffff)
      fail("%s: a super-frame's IPv4 header is wrong", kName);
    if (m->tso_segsz == 0 || m->l2_len + m->l3_len + m->l4_len + v.payload.size() != m->pkt_len)
      fail("%s: a super-frame's TSO request does not fit it", kName);
    uint8_t pseudo[12];
    std::memcpy(pseudo, &f[14 + 12], 8);
    pseudo[8] = 0;
    pseudo[9] = IPPROTO_TCP;
    pseudo[10] = static_cast<uint8_t>((m->pkt_len - 14 - ihl) >> 8);
    pseudo[11] = static_cast<uint8_t>(m->pkt_len - 14 - ihl);
    if (get16(&f[14 + ihl + 16]) != fold(sum_bytes(pseudo, 12))) fail("%s: a super-frame's partial checksum", kName);
  }
  if (mbufs_out != mbufs_in) fail("%s: %u mbufs in, %u out", kName, mbufs_in, mbufs_out);
  if (counters.offload_coalesced_segments - joined_before - (counters.offload_coalesced - made_before) != n - left)
    fail("%s: the counters do not say how many frames were joined", kName);
  if (before != after) fail("%s: a flow's bytes, or another frame, changed or moved", kName);
  for (uint16_t i = 0; i < left; ++i) rte_pktmbuf_free(pkts[i]);
  baseline.verify(kName);
  return 0;
}
