// ARP (RFC 826) for the underlay: the switch answers for its VTEP address
// and resolves the MACs of its peers (or of the gateway) itself.
#pragma once

#include <rte_mbuf.h>

#include <array>
#include <cstdint>
#include <optional>

namespace inception {

struct ArpInfo {
  uint16_t operation;  // 1 request, 2 reply
  std::array<uint8_t, 6> sender_mac;
  uint32_t sender_ip;  // host order
  uint32_t target_ip;  // host order
};

// Parses an Ethernet/ARP frame for IPv4 over Ethernet; nullopt if it is not one.
std::optional<ArpInfo> parse_arp(const rte_mbuf* m) noexcept;

// Turns a request for `local_ip` (host order) into the reply, in place.
// Returns false (frame untouched) if it is not such a request.
bool arp_reply_in_place(rte_mbuf* m, const std::array<uint8_t, 6>& local_mac, uint32_t local_ip) noexcept;

// Builds a broadcast request for `target_ip` (host order), or nullptr when
// the pool is empty.
rte_mbuf* make_arp_request(rte_mempool* pool, const std::array<uint8_t, 6>& local_mac, uint32_t local_ip,
                           uint32_t target_ip) noexcept;

}  // namespace inception
