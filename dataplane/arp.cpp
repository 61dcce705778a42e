#include "dataplane/arp.h"

#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ether.h>

#include <cstring>

namespace inception {

std::optional<ArpInfo> parse_arp(const rte_mbuf* m) noexcept {
  if (m->data_len < sizeof(rte_ether_hdr) + sizeof(rte_arp_hdr)) return std::nullopt;
  const auto* eth = rte_pktmbuf_mtod(m, const rte_ether_hdr*);
  if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) return std::nullopt;
  const auto* arp = rte_pktmbuf_mtod_offset(m, const rte_arp_hdr*, sizeof(rte_ether_hdr));
  if (arp->arp_hardware != rte_cpu_to_be_16(RTE_ARP_HRD_ETHER) ||
      arp->arp_protocol != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || arp->arp_hlen != 6 || arp->arp_plen != 4)
    return std::nullopt;
  ArpInfo info{};
  info.operation = rte_be_to_cpu_16(arp->arp_opcode);
  std::memcpy(info.sender_mac.data(), arp->arp_data.arp_sha.addr_bytes, 6);
  info.sender_ip = rte_be_to_cpu_32(arp->arp_data.arp_sip);
  info.target_ip = rte_be_to_cpu_32(arp->arp_data.arp_tip);
  return info;
}

bool arp_reply_in_place(rte_mbuf* m, const std::array<uint8_t, 6>& local_mac, uint32_t local_ip) noexcept {
  const auto info = parse_arp(m);
  if (!info || info->operation != RTE_ARP_OP_REQUEST || info->target_ip != local_ip) return false;
  auto* eth = rte_pktmbuf_mtod(m, rte_ether_hdr*);
  auto* arp = rte_pktmbuf_mtod_offset(m, rte_arp_hdr*, sizeof(rte_ether_hdr));
  std::memcpy(eth->dst_addr.addr_bytes, info->sender_mac.data(), 6);
  std::memcpy(eth->src_addr.addr_bytes, local_mac.data(), 6);
  arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REPLY);
  arp->arp_data.arp_tha = arp->arp_data.arp_sha;
  arp->arp_data.arp_tip = arp->arp_data.arp_sip;
  std::memcpy(arp->arp_data.arp_sha.addr_bytes, local_mac.data(), 6);
  arp->arp_data.arp_sip = rte_cpu_to_be_32(local_ip);
  return true;
}

rte_mbuf* make_arp_request(rte_mempool* pool, const std::array<uint8_t, 6>& local_mac, uint32_t local_ip,
                           uint32_t target_ip) noexcept {
  rte_mbuf* m = rte_pktmbuf_alloc(pool);
  if (m == nullptr) return nullptr;
  constexpr uint16_t kFrame = 60;  // minimum Ethernet frame without FCS
  auto* data = rte_pktmbuf_append(m, kFrame);
  std::memset(data, 0, kFrame);
  auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
  std::memset(eth->dst_addr.addr_bytes, 0xff, 6);
  std::memcpy(eth->src_addr.addr_bytes, local_mac.data(), 6);
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP);
  auto* arp = reinterpret_cast<rte_arp_hdr*>(data + sizeof(rte_ether_hdr));
  arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
  arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  arp->arp_hlen = 6;
  arp->arp_plen = 4;
  arp->arp_opcode = rte_cpu_to_be_16(RTE_ARP_OP_REQUEST);
  std::memcpy(arp->arp_data.arp_sha.addr_bytes, local_mac.data(), 6);
  arp->arp_data.arp_sip = rte_cpu_to_be_32(local_ip);
  arp->arp_data.arp_tip = rte_cpu_to_be_32(target_ip);
  return m;
}

}  // namespace inception
