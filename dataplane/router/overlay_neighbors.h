// IPv4 -> MAC on the overlay networks, for frames the router stage emits
// (to an iVM's fixed IP, to the host rVM of a floating IP, to the gateway).
//
// Filled by the control thread from the ARP frames workers punt on networks
// that have a router; read lock-free by workers (an RcuHash, one writer). A worker that misses sends an ARP request
// itself and drops the packet; the reply arrives a few microseconds later.
//
// Keyed by (network, address): tenants may reuse addresses. Each network
// may hold at most its own limit of entries, so a guest announcing many
// addresses fills only its network's share; refusals are counted.
#pragma once

#include <rte_hash.h>
#include <rte_rcu_qsbr.h>

#include <array>
#include <cstdint>
#include <map>
#include <vector>

#include "inception/mac_address.h"
#include "inception/rcu_hash.h"
#include "inception/types.h"

namespace inception {

struct OverlayNeighbor {
  NetworkIndex network;
  uint32_t ip;  // host order
  MacAddress mac;
  uint32_t age_s;
};

class OverlayNeighbors {
 public:
  OverlayNeighbors(uint32_t capacity, rte_rcu_qsbr* rcu);
  OverlayNeighbors(const OverlayNeighbors&) = delete;
  OverlayNeighbors& operator=(const OverlayNeighbors&) = delete;

  // Workers. `ip` in network order.
  bool lookup(NetworkIndex network, uint32_t ip, std::array<uint8_t, 6>* mac) const noexcept;
  // Looks up `n` (<= 64) keys of key_of() form in one pipelined rte_hash
  // lookup; bit i of the result is set iff keys[i] was found, and then
  // mac_keys[i] holds its MAC in MacAddress::key form.
  uint64_t lookup_bulk(const uint64_t* const* keys, unsigned n, uint64_t* mac_keys) const noexcept {
    return table_.lookup_bulk(reinterpret_cast<const void**>(const_cast<const uint64_t**>(keys)), n, mac_keys);
  }
  static uint64_t key_of(NetworkIndex network, uint32_t ip_host) noexcept { return uint64_t{network} << 32 | ip_host; }

  // Control thread. `ip` in host order.
  enum class LearnResult { kLearned, kChanged, kRefreshed, kLimitReached, kTableFull };
  LearnResult learn(NetworkIndex network, uint32_t ip, const MacAddress& mac, uint32_t now_s, uint32_t limit);
  size_t expire(uint32_t now_s, uint32_t timeout_s);
  void forget_network(NetworkIndex network);
  // Forgets the addresses `network` learned for `macs` (a port that went
  // away: its guest's addresses must not be answered from a stale entry).
  size_t forget_macs(NetworkIndex network, const std::vector<MacAddress>& macs);
  std::vector<OverlayNeighbor> entries(uint32_t now_s) const;
  uint32_t count(NetworkIndex network) const noexcept { return count_[network]; }
  uint64_t refused(NetworkIndex network) const noexcept { return refused_[network]; }

 private:
  void erase(const std::vector<uint64_t>& keys);

  RcuHash table_;                                              // key_of() -> MAC key
  std::map<uint64_t, std::pair<uint64_t, uint32_t>> learned_;  // key -> (MAC key, learned at)
  std::array<uint32_t, kMaxNetworks> count_{};
  std::array<uint64_t, kMaxNetworks> refused_{};
};

}  // namespace inception
