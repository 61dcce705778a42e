#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "dataplane/vxlan.h"

namespace inception {

namespace {

constexpr uint16_t kMinVxlanFrame = kEthernetHeader + kIpv4Header + kUdpHeader + kVxlanHeader + kEthernetHeader;

}  // namespace

UnderlayClass classify_underlay(const UnderlayView& underlay, const rte_mbuf* m, DropReason* reason) noexcept {
  if (unlikely(m->data_len < kEthernetHeader)) {
    *reason = DropReason::kMalformed;
    return UnderlayClass::kDrop;
  }
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) return UnderlayClass::kArp;
  if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || m->data_len < kEthernetHeader + kIpv4Header)
    return UnderlayClass::kHost;
  const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, kEthernetHeader);
  if (ip->dst_addr != underlay.local_ip) {
    const bool nat = underlay.nat_addresses.find(rte_be_to_cpu_32(ip->dst_addr), 0) != 0;
    return nat ? UnderlayClass::kNat : UnderlayClass::kHost;
  }
  if (ip->next_proto_id != IPPROTO_UDP) return UnderlayClass::kHost;
  const uint16_t ip_length = rte_ipv4_hdr_len(ip);
  const uint16_t fragment = rte_be_to_cpu_16(ip->fragment_offset);
  // A non-first fragment carries no UDP header: only the host can reassemble
  // it, and it will find no VXLAN socket. A first fragment we can name.
  if ((fragment & RTE_IPV4_HDR_OFFSET_MASK) != 0) return UnderlayClass::kHost;
  if (ip_length < kIpv4Header || m->data_len < kEthernetHeader + ip_length + kUdpHeader) return UnderlayClass::kHost;
  const auto* udp = rte_pktmbuf_mtod_offset(m, const rte_udp_hdr*, kEthernetHeader + ip_length);
  if (udp->dst_port != underlay.vxlan_port) return UnderlayClass::kHost;
  if (fragment & RTE_IPV4_HDR_MF_FLAG) {
    *reason = DropReason::kFragment;
    return UnderlayClass::kDrop;
  }
  return UnderlayClass::kVxlan;
}

DropReason vxlan_decap(const UnderlayView& underlay, rte_mbuf* m, PortIndex* peer) noexcept {
  if (unlikely(m->data_len < kMinVxlanFrame)) return DropReason::kBadHeader;
  const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, kEthernetHeader);
  const uint16_t ip_header = rte_ipv4_hdr_len(ip);
  const uint16_t ip_total = rte_be_to_cpu_16(ip->total_length);
  const uint16_t outer = kEthernetHeader + ip_header + kUdpHeader + kVxlanHeader;
  if (unlikely(ip_header < kIpv4Header || m->data_len < outer + kEthernetHeader ||
               ip_total < ip_header + kUdpHeader + kVxlanHeader + kEthernetHeader ||
               ip_total > m->pkt_len - kEthernetHeader))
    return DropReason::kBadHeader;
  const auto* udp = rte_pktmbuf_mtod_offset(m, const rte_udp_hdr*, kEthernetHeader + ip_header);
  if (unlikely(rte_be_to_cpu_16(udp->dgram_len) != ip_total - ip_header)) return DropReason::kBadHeader;
  const uint8_t* vxlan = rte_pktmbuf_mtod_offset(m, const uint8_t*, kEthernetHeader + ip_header + kUdpHeader);
  if (unlikely((vxlan[0] & kVxlanFlagI) == 0)) return DropReason::kBadVxlanFlags;
  const uint32_t vni = uint32_t{vxlan[4]} << 16 | uint32_t{vxlan[5]} << 8 | vxlan[6];
  if (underlay.network_of_vni.find(vni, kInvalidNetwork) == kInvalidNetwork) return DropReason::kUnknownVni;
  const PortIndex from =
      underlay.peer_of.find(UnderlayView::peer_key(vni, rte_be_to_cpu_32(ip->src_addr)), kInvalidPort);
  if (from == kInvalidPort) return DropReason::kUnknownPeer;
  // Ethernet padding after a short outer datagram is not part of the frame.
  const uint32_t padding = m->pkt_len - kEthernetHeader - ip_total;
  if (padding != 0) rte_pktmbuf_trim(m, static_cast<uint16_t>(padding));
  rte_pktmbuf_adj(m, outer);
  *peer = from;
  return DropReason::kCount;
}

}  // namespace inception
