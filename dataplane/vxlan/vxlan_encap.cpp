#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_hash_crc.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include <cstring>

#include "dataplane/vxlan/vxlan.h"
#include "dataplane/worker/worker.h"

namespace inception {

VxlanTemplate make_vxlan_template(const std::array<uint8_t, 6>& local_mac, const std::array<uint8_t, 6>& next_hop_mac,
                                  uint32_t local_ip_host, uint32_t remote_ip_host, uint16_t udp_port, uint32_t vni) {
  VxlanTemplate t;
  auto* eth = reinterpret_cast<rte_ether_hdr*>(t.bytes);
  std::memcpy(eth->dst_addr.addr_bytes, next_hop_mac.data(), 6);
  std::memcpy(eth->src_addr.addr_bytes, local_mac.data(), 6);
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(t.bytes + kEthernetHeader);
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->type_of_service = 0;
  ip->total_length = 0;
  ip->packet_id = 0;
  ip->fragment_offset = rte_cpu_to_be_16(RTE_IPV4_HDR_DF_FLAG);
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_UDP;
  ip->hdr_checksum = 0;
  ip->src_addr = rte_cpu_to_be_32(local_ip_host);
  ip->dst_addr = rte_cpu_to_be_32(remote_ip_host);
  // The raw one's-complement sum of the header without its length; the
  // length is added per packet (RFC 1624 style incremental update).
  t.ip_checksum_base = rte_raw_cksum(ip, kIpv4Header);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(t.bytes + kEthernetHeader + kIpv4Header);
  udp->src_port = 0;
  udp->dst_port = rte_cpu_to_be_16(udp_port);
  udp->dgram_len = 0;
  udp->dgram_cksum = 0;
  uint8_t* vxlan = t.bytes + kEthernetHeader + kIpv4Header + kUdpHeader;
  vxlan[0] = kVxlanFlagI;
  vxlan[4] = static_cast<uint8_t>(vni >> 16);
  vxlan[5] = static_cast<uint8_t>(vni >> 8);
  vxlan[6] = static_cast<uint8_t>(vni);
  return t;
}

uint16_t vxlan_source_port(const rte_mbuf* inner) noexcept {
  const uint8_t* frame = rte_pktmbuf_mtod(inner, const uint8_t*);
  // The MAC addresses, read with memcpy: a frame need not start 8-byte
  // aligned (a decapsulated one starts 50 bytes into its buffer), which
  // rte_hash_crc's 8-byte loads assume. Same value as rte_hash_crc(frame, 12, 0).
  uint64_t macs;
  uint32_t macs_tail;
  std::memcpy(&macs, frame, sizeof(macs));
  std::memcpy(&macs_tail, frame + sizeof(macs), sizeof(macs_tail));
  uint32_t hash = rte_hash_crc_4byte(macs_tail, rte_hash_crc_8byte(macs, 0));
  if (inner->data_len >= kEthernetHeader + kIpv4Header &&
      *reinterpret_cast<const uint16_t*>(frame + 12) == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(frame + kEthernetHeader);
    hash = rte_hash_crc_8byte(static_cast<uint64_t>(ip->src_addr) << 32 | ip->dst_addr, hash);
    const uint16_t l4 = kEthernetHeader + rte_ipv4_hdr_len(ip);
    if ((ip->next_proto_id == IPPROTO_TCP || ip->next_proto_id == IPPROTO_UDP) && inner->data_len >= l4 + 4) {
      uint32_t ports;  // the L4 header need not be 4-byte aligned (IP options, 14-byte Ethernet)
      std::memcpy(&ports, frame + l4, sizeof(ports));
      hash = rte_hash_crc_4byte(ports, hash);
    }
  }
  return static_cast<uint16_t>(49152 + (hash & 0x3fff));
}

bool vxlan_encap(const VxlanTemplate& tunnel, rte_mbuf* m) noexcept {
  const uint32_t inner_length = m->pkt_len;
  const uint16_t source_port = vxlan_source_port(m);
  auto* outer = reinterpret_cast<uint8_t*>(rte_pktmbuf_prepend(m, VxlanTemplate::kSize));
  if (unlikely(outer == nullptr)) return false;
  std::memcpy(outer, tunnel.bytes, VxlanTemplate::kSize);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(outer + kEthernetHeader);
  const uint16_t total_length =
      rte_cpu_to_be_16(static_cast<uint16_t>(inner_length + VxlanTemplate::kSize - kEthernetHeader));
  ip->total_length = total_length;
  uint32_t sum = uint32_t{tunnel.ip_checksum_base} + total_length;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  ip->hdr_checksum = static_cast<uint16_t>(~sum);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(outer + kEthernetHeader + kIpv4Header);
  udp->dgram_len = rte_cpu_to_be_16(static_cast<uint16_t>(inner_length + kUdpHeader + kVxlanHeader));
  udp->src_port = rte_cpu_to_be_16(source_port);
  return true;
}

void vxlan_encap_stage(WorkerContext& ctx, const Snapshot& snapshot, PortIndex peer, rte_mbuf** pkts,
                       uint16_t n) noexcept {
  const PortView& view = snapshot.ports[peer];
  PortCounters& counters = ctx.counters->ports[peer];
  if (unlikely(!view.resolved || snapshot.underlay.port == kInvalidPort)) {
    count_drop(counters, DropReason::kNoNeighbor, n);
    rte_pktmbuf_free_bulk(pkts, n);
    return;
  }
  for (uint16_t i = 0; i < n; ++i) {
    rte_mbuf* m = pkts[i];
    if (unlikely(rte_mbuf_refcnt_read(m) != 1 || !RTE_MBUF_DIRECT(m) ||
                 rte_pktmbuf_headroom(m) < VxlanTemplate::kSize)) {
      rte_mbuf* copy = rte_pktmbuf_copy(m, ctx.pool, 0, UINT32_MAX);
      rte_pktmbuf_free(m);
      if (copy == nullptr) {
        count_drop(counters, DropReason::kNoBuffer);
        continue;
      }
      m = copy;
    }
    if (unlikely(!vxlan_encap(view.tunnel, m))) {
      count_drop(counters, DropReason::kNoBuffer);
      rte_pktmbuf_free(m);
      continue;
    }
    if (unlikely(ctx.underlay_tx.full())) flush_underlay(ctx, snapshot);
    ctx.underlay_tx.push(peer, m);
  }
}

}  // namespace inception
