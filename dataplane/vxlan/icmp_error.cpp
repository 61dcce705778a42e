#include "dataplane/vxlan/icmp_error.h"

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>

#include <cstring>

namespace inception {

rte_mbuf* make_fragmentation_needed(rte_mempool* pool, const rte_mbuf* original, uint16_t mtu) noexcept {
  constexpr uint16_t kEth = sizeof(rte_ether_hdr);
  if (original->data_len < kEth + sizeof(rte_ipv4_hdr)) return nullptr;
  const auto* eth = rte_pktmbuf_mtod(original, const rte_ether_hdr*);
  if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) return nullptr;
  const auto* ip = rte_pktmbuf_mtod_offset(original, const rte_ipv4_hdr*, kEth);
  const uint16_t ip_header = rte_ipv4_hdr_len(ip);
  const uint16_t fragment = rte_be_to_cpu_16(ip->fragment_offset);
  if ((fragment & RTE_IPV4_HDR_DF_FLAG) == 0 || (fragment & RTE_IPV4_HDR_OFFSET_MASK) != 0) return nullptr;
  if (ip_header < sizeof(rte_ipv4_hdr) || original->data_len < kEth + ip_header + 8) return nullptr;
  const uint32_t source = rte_be_to_cpu_32(ip->src_addr);
  if (source == 0 || source == 0xffffffff || (source >> 28) == 0xe) return nullptr;
  if (ip->next_proto_id == IPPROTO_ICMP) {
    const auto* icmp = rte_pktmbuf_mtod_offset(original, const rte_icmp_hdr*, kEth + ip_header);
    const bool is_error = icmp->icmp_type == 3 || icmp->icmp_type == 4 || icmp->icmp_type == 5 ||
                          icmp->icmp_type == 11 || icmp->icmp_type == 12;
    if (is_error) return nullptr;  // never an error about an error (RFC 1122 3.2.2)
  }

  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  const uint16_t quoted = ip_header + 8;
  const uint16_t icmp_length = sizeof(rte_icmp_hdr) + quoted;
  const uint16_t frame = kEth + sizeof(rte_ipv4_hdr) + icmp_length;
  auto* data = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, frame));
  if (data == nullptr) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  auto* out_eth = reinterpret_cast<rte_ether_hdr*>(data);
  out_eth->dst_addr = eth->src_addr;
  out_eth->src_addr = eth->dst_addr;
  out_eth->ether_type = eth->ether_type;
  auto* out_ip = reinterpret_cast<rte_ipv4_hdr*>(data + kEth);
  std::memset(out_ip, 0, sizeof(*out_ip));
  out_ip->version_ihl = RTE_IPV4_VHL_DEF;
  out_ip->total_length = rte_cpu_to_be_16(static_cast<uint16_t>(sizeof(rte_ipv4_hdr) + icmp_length));
  out_ip->time_to_live = 64;
  out_ip->next_proto_id = IPPROTO_ICMP;
  out_ip->src_addr = ip->dst_addr;
  out_ip->dst_addr = ip->src_addr;
  out_ip->hdr_checksum = rte_ipv4_cksum(out_ip);
  auto* icmp = reinterpret_cast<rte_icmp_hdr*>(data + kEth + sizeof(rte_ipv4_hdr));
  icmp->icmp_type = 3;  // destination unreachable
  icmp->icmp_code = 4;  // fragmentation needed and DF set
  icmp->icmp_cksum = 0;
  icmp->icmp_ident = 0;                       // "unused" in RFC 1191
  icmp->icmp_seq_nb = rte_cpu_to_be_16(mtu);  // next-hop MTU
  std::memcpy(reinterpret_cast<uint8_t*>(icmp) + sizeof(rte_icmp_hdr), ip, quoted);
  icmp->icmp_cksum = static_cast<uint16_t>(~rte_raw_cksum(icmp, icmp_length));
  return m;
}

}  // namespace inception
