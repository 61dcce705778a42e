// Hand-built frames and a QSBR variable for dataplane unit tests.
#pragma once

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
