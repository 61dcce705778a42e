// Hand-built frames and a QSBR variable for dataplane unit tests.
#pragma once

#include <rte_arp.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>

#include <cstring>
#include <stdexcept>
#include <string>

#include "inception/mac_address.h"

namespace inception::test {

inline MacAddress mac(const char* text) {
  return *MacAddress::parse(text);
}

inline rte_mempool* test_pool() {
  static rte_mempool* pool = rte_pktmbuf_pool_create("unit_pool", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
  if (pool == nullptr) throw std::runtime_error("cannot create test mempool");
  return pool;
}

// The net_ring0 vdev eal_main.cpp creates: TX and RX share one ring, so
// what the stage sends is what rx_burst returns.
inline uint16_t ring_port() {
  static const uint16_t port = [] {
    uint16_t id = 0;
    if (rte_eth_dev_get_port_by_name("net_ring0", &id) != 0) return uint16_t{UINT16_MAX};
    rte_eth_conf conf{};
    if (rte_eth_dev_configure(id, 1, 1, &conf) != 0 ||
        rte_eth_rx_queue_setup(id, 0, 1024, SOCKET_ID_ANY, nullptr, test_pool()) != 0 ||
        rte_eth_tx_queue_setup(id, 0, 1024, SOCKET_ID_ANY, nullptr) != 0 || rte_eth_dev_start(id) != 0)
      return uint16_t{UINT16_MAX};
    return id;
  }();
  return port;
}

// An Ethernet frame of `bytes` bytes (header included).
inline rte_mbuf* frame(const char* dst, const char* src, uint16_t bytes = 60, uint16_t ether_type = 0x88b5) {
  rte_mbuf* m = rte_pktmbuf_alloc(test_pool());
  char* data = rte_pktmbuf_append(m, bytes);
  std::memset(data, 0, bytes);
  if (bytes >= sizeof(rte_ether_hdr)) {
    auto* eth = reinterpret_cast<rte_ether_hdr*>(data);
    std::memcpy(eth->dst_addr.addr_bytes, mac(dst).bytes().data(), 6);
    std::memcpy(eth->src_addr.addr_bytes, mac(src).bytes().data(), 6);
    eth->ether_type = rte_cpu_to_be_16(ether_type);
  }
  return m;
}

// An Ethernet/ARP frame (RFC 826, IPv4 over Ethernet) from `src_mac`,
// broadcast; addresses in network byte order. `sender_mac` defaults to the
// frame's source.
inline rte_mbuf* arp_frame(const char* src_mac, uint32_t sender_ip_be, uint32_t target_ip_be,
                           uint16_t op = RTE_ARP_OP_REQUEST, const char* sender_mac = nullptr) {
  rte_mbuf* m = frame("ff:ff:ff:ff:ff:ff", src_mac, 60, RTE_ETHER_TYPE_ARP);
  auto* arp = rte_pktmbuf_mtod_offset(m, rte_arp_hdr*, sizeof(rte_ether_hdr));
  arp->arp_hardware = rte_cpu_to_be_16(RTE_ARP_HRD_ETHER);
  arp->arp_protocol = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  arp->arp_hlen = 6;
  arp->arp_plen = 4;
  arp->arp_opcode = rte_cpu_to_be_16(op);
  std::memcpy(arp->arp_data.arp_sha.addr_bytes, mac(sender_mac ? sender_mac : src_mac).bytes().data(), 6);
  arp->arp_data.arp_sip = sender_ip_be;
  arp->arp_data.arp_tip = target_ip_be;
  return m;
}

// A QSBR variable with no reader registered: grace periods end at once.
inline rte_rcu_qsbr* test_rcu() {
  static rte_rcu_qsbr* rcu = [] {
    auto* v = static_cast<rte_rcu_qsbr*>(rte_zmalloc(nullptr, rte_rcu_qsbr_get_memsize(4), RTE_CACHE_LINE_SIZE));
    rte_rcu_qsbr_init(v, 4);
    return v;
  }();
  return rcu;
}

}  // namespace inception::test
