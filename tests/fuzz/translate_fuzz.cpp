// Fuzz target: stateless address translation (nat::flow_key,
// translate_source, translate_destination) and the router's MSS clamp
// (nat::clamp_tcp_mss), with a property oracle.
//
// Input: op:u8  ip:u32  port:u16  rest record (fuzz_input.h)
// op bit 0: translate the destination instead of the source; bit 1: the
// port (or ICMP echo identifier) too; bit 2: clamp the MSS to `port` first.
// Oracle, for a translation that reports success:
//  * every checksum of the packet that verified before still verifies: the
//    IPv4 header, TCP/UDP over the pseudo-header (a zero UDP checksum stays
//    zero), ICMP, and the IPv4 header an ICMP error quotes;
//  * flow_key reads the new address (and port) back, on the side that was
//    translated (for an ICMP error: of the flow the error is about);
//  * a clamp changes only a TCP SYN, and keeps its checksum verifying unless
//    the checksum was left to the NIC.
#include <netinet/in.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include <optional>

#include "nat/translate.h"
#include "packet_harness.h"

using namespace inception;
using namespace inception::fuzz;

namespace {

constexpr const char* kName = "translate";

// Which checksums of the IPv4 packet at `l3` (`available` bytes in the
// first segment) verify. A checksum the buffer does not hold completely is
// not judged.
struct Checksums {
  bool ip = false;
  bool l4 = false;         // TCP, UDP (non-zero) or ICMP over the whole datagram
  bool udp_zero = false;   // UDP without a checksum
  bool quoted_ip = false;  // the IPv4 header an ICMP error quotes
};

Checksums checksums_of(const uint8_t* l3, size_t available) {
  Checksums c;
  if (available < 20 || (l3[0] >> 4) != 4) return c;
  const size_t ihl = size_t{l3[0] & 0xfu} * 4;
  if (ihl < 20 || ihl > available) return c;
  c.ip = verifies(sum_bytes(l3, ihl));
  const size_t total = get16(l3 + 2);
  const uint16_t fragment = get16(l3 + 6);
  if ((fragment & 0x3fff) != 0 || total < ihl || total > available) return c;  // a fragment, or not all here
  const uint8_t* l4 = l3 + ihl;
  const size_t l4_length = total - ihl;
  const uint32_t pseudo = sum_bytes(l3 + 12, 8) + l3[9] + static_cast<uint32_t>(l4_length);
  switch (l3[9]) {
    case IPPROTO_TCP:
      if (l4_length >= 20) c.l4 = verifies(sum_bytes(l4, l4_length, pseudo));
      break;
    case IPPROTO_UDP:
      if (l4_length < 8) break;
      c.udp_zero = get16(l4 + 6) == 0;
      c.l4 = !c.udp_zero && verifies(sum_bytes(l4, l4_length, pseudo));
      break;
    case IPPROTO_ICMP:
      if (l4_length < 8) break;
      c.l4 = verifies(sum_bytes(l4, l4_length));
      if ((l4[0] == 3 || l4[0] == 11 || l4[0] == 12) && l4_length >= 28) {
        const uint8_t* quoted = l4 + 8;
        const size_t quoted_ihl = size_t{quoted[0] & 0xfu} * 4;
        if ((quoted[0] >> 4) == 4 && quoted_ihl >= 20 && quoted_ihl <= l4_length - 8)
          c.quoted_ip = verifies(sum_bytes(quoted, quoted_ihl));
      }
      break;
    default:
      break;
  }
  return c;
}

void check_key(const nat::FlowKey& key, bool source, uint32_t ip, std::optional<uint16_t> port) {
  if ((source ? key.src_ip : key.dst_ip) != ip) fail("%s: flow_key does not read back the new address", kName);
  if (!port) return;
  // Ports exist for TCP, UDP and ICMP echo. (Of an error quoting ICMP, the
  // key does not say whether the quote is an echo: not judged.)
  const bool has_port = key.protocol == IPPROTO_TCP || key.protocol == IPPROTO_UDP ||
                        (key.protocol == IPPROTO_ICMP && !key.icmp_error && (key.icmp_type == 0 || key.icmp_type == 8));
  if (has_port && (source ? key.src_port : key.dst_port) != *port)
    fail("%s: flow_key does not read back the new port", kName);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  init_eal();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const LeakCheck baseline;
  Input in(data, size);
  const uint8_t op = in.u8();
  const uint32_t ip = in.u32();  // as it lies in the packet (network order)
  const uint16_t port = in.u16();
  rte_mbuf* m = make_frame(read_rest_record(in));
  if (m == nullptr) return 0;
  const bool source = !(op & 1);
  const bool with_port = (op & 2) != 0;
  const bool ipv4 = m->data_len >= 14 && get16(rte_pktmbuf_mtod(m, const uint8_t*) + 12) == RTE_ETHER_TYPE_IPV4;
  const uint8_t* l3 = rte_pktmbuf_mtod_offset(m, const uint8_t*, 14);
  const size_t available = m->data_len < 14 ? 0 : m->data_len - 14u;
  if (op & 4) {
    const Checksums unclamped = ipv4 ? checksums_of(l3, available) : Checksums{};
    const bool partial = (m->ol_flags & (RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG)) != 0;
    if (nat::clamp_tcp_mss(m, port)) {
      const size_t ihl = size_t{l3[0] & 0xfu} * 4;
      if (!ipv4 || l3[9] != IPPROTO_TCP || available < ihl + 14 || !(l3[ihl + 13] & 0x02))
        fail("%s: the MSS clamp changed a packet that is no TCP SYN", kName);
      if (unclamped.l4 && !partial && !checksums_of(l3, available).l4)
        fail("%s: the TCP checksum no longer verifies after the MSS clamp", kName);
    }
  }
  const Checksums before = ipv4 ? checksums_of(l3, available) : Checksums{};
  nat::FlowKey key_before, key_after;
  const bool parsed_before = nat::flow_key(m, &key_before);
  const bool ok = source ? (with_port ? nat::translate_source(m, ip, port) : nat::translate_source(m, ip))
                         : (with_port ? nat::translate_destination(m, ip, port) : nat::translate_destination(m, ip));
  if (ok && ipv4) {
    const Checksums after = checksums_of(l3, available);
    if (before.ip && !after.ip) fail("%s: the IPv4 header checksum no longer verifies", kName);
    if (before.l4 && !after.l4) fail("%s: the transport checksum no longer verifies", kName);
    if (before.udp_zero && !after.udp_zero) fail("%s: a zero UDP checksum was changed", kName);
    if (before.quoted_ip && !after.quoted_ip) fail("%s: the quoted IPv4 header checksum no longer verifies", kName);
    const bool parsed_after = nat::flow_key(m, &key_after);
    if (parsed_before != parsed_after) fail("%s: flow_key changed its mind", kName);
    if (parsed_after) check_key(key_after, source, ip, with_port ? std::optional<uint16_t>(port) : std::nullopt);
  }
  rte_pktmbuf_free(m);
  baseline.verify(kName);
  return 0;
}
