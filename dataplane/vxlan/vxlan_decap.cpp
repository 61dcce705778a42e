#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_udp.h>

#include "dataplane/vxlan/vxlan.h"

namespace inception {

namespace {

constexpr uint16_t kMinVxlanFrame = kEthernetHeader + kIpv4Header + kUdpHeader + kVxlanHeader + kEthernetHeader;

// An IPv4 header the switch may act on (RFC 1122 3.2.1): version 4, a header
// length inside the frame, a total length that fits the frame, and a valid
// header checksum (or one the NIC already verified).
bool valid_ipv4_header(const rte_mbuf* m) noexcept {
  if (m->data_len < kEthernetHeader + kIpv4Header) return false;
  const auto* ip = rte_pktmbuf_mtod_offset(m, const rte_ipv4_hdr*, kEthernetHeader);
  const uint16_t header = rte_ipv4_hdr_len(ip);
  const uint16_t total = rte_be_to_cpu_16(ip->total_length);
  if ((ip->version_ihl >> 4) != 4 || header < kIpv4Header || m->data_len < kEthernetHeader + header || total < header ||
      total > m->pkt_len - kEthernetHeader)
    return false;
  const uint64_t checksum = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
  if (checksum == RTE_MBUF_F_RX_IP_CKSUM_GOOD) return true;
  if (checksum == RTE_MBUF_F_RX_IP_CKSUM_BAD) return false;
  // The one's-complement sum of a correct header, its checksum included, is 0xffff.
  return rte_raw_cksum(ip, header) == 0xffff;
}

}  // namespace

UnderlayClass classify_underlay(const UnderlayView& underlay, const rte_mbuf* m, DropReason* reason) noexcept {
  if (unlikely(m->data_len < kEthernetHeader)) {
    *reason = DropReason::kMalformed;
    return UnderlayClass::kDrop;
  }
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  if (eth->ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) return UnderlayClass::kArp;
  if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) return UnderlayClass::kHost;
  // Nothing built on a broken header goes anywhere, the host included.
  if (unlikely(!valid_ipv4_header(m))) {
    *reason = DropReason::kBadHeader;
    return UnderlayClass::kDrop;
  }
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
  if (m->data_len < kEthernetHeader + ip_length + kUdpHeader) return UnderlayClass::kHost;
  const auto* udp = rte_pktmbuf_mtod_offset(m, const rte_udp_hdr*, kEthernetHeader + ip_length);
  if (udp->dst_port != underlay.vxlan_port) return UnderlayClass::kHost;
  // A datagram longer than the underlay MTU cannot have arrived as one
  // frame: a packet socket reassembled its fragments (DPDK's af_packet PMD
  // joins a fanout group with PACKET_FANOUT_FLAG_DEFRAG). VTEPs never
  // fragment (RFC 7348 section 4.3): drop it as the fragments it was.
  if ((fragment & RTE_IPV4_HDR_MF_FLAG) != 0 ||
      (underlay.mtu != 0 && rte_be_to_cpu_16(ip->total_length) > underlay.mtu)) {
    *reason = DropReason::kFragment;
    return UnderlayClass::kDrop;
  }
  // VTEPs send no IPv4 options; a header with them is not one of ours.
  if (ip_length != kIpv4Header) {
    *reason = DropReason::kBadHeader;
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
  // The UDP length delimits the datagram (RFC 768); what the IPv4 length
  // adds beyond it is padding, as Linux treats it. Shorter than the headers
  // or longer than the IPv4 payload is a broken datagram.
  const uint16_t udp_length = rte_be_to_cpu_16(udp->dgram_len);
  if (unlikely(udp_length > ip_total - ip_header || udp_length < kUdpHeader + kVxlanHeader + kEthernetHeader))
    return DropReason::kBadHeader;
  const uint8_t* vxlan = rte_pktmbuf_mtod_offset(m, const uint8_t*, kEthernetHeader + ip_header + kUdpHeader);
  if (unlikely((vxlan[0] & kVxlanFlagI) == 0)) return DropReason::kBadVxlanFlags;
  const uint32_t vni = uint32_t{vxlan[4]} << 16 | uint32_t{vxlan[5]} << 8 | vxlan[6];
  if (underlay.network_of_vni.find(vni, kInvalidNetwork) == kInvalidNetwork) return DropReason::kUnknownVni;
  const PortIndex from =
      underlay.peer_of.find(UnderlayView::peer_key(vni, rte_be_to_cpu_32(ip->src_addr)), kInvalidPort);
  if (from == kInvalidPort) return DropReason::kUnknownPeer;
  // Ethernet and IPv4 padding after the datagram is not part of the frame.
  const uint32_t padding = m->pkt_len - kEthernetHeader - ip_header - udp_length;
  if (padding != 0 && rte_pktmbuf_trim(m, static_cast<uint16_t>(padding)) != 0) return DropReason::kBadHeader;
  rte_pktmbuf_adj(m, outer);
  *peer = from;
  return DropReason::kCount;
}

}  // namespace inception
