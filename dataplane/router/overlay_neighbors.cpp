#include "dataplane/router/overlay_neighbors.h"

#include <rte_byteorder.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <string>

namespace inception {

OverlayNeighbors::OverlayNeighbors(uint32_t capacity, rte_rcu_qsbr* rcu)
    : table_("overlay neighbors", capacity, sizeof(uint64_t), rcu) {}

bool OverlayNeighbors::lookup(NetworkIndex network, uint32_t ip, std::array<uint8_t, 6>* mac) const noexcept {
  const uint64_t key = key_of(network, rte_be_to_cpu_32(ip));
  uint64_t data = 0;
  if (!table_.lookup(&key, &data)) return false;
  const MacAddress found = MacAddress::from_key(data);
  *mac = found.bytes();
  return true;
}

OverlayNeighbors::LearnResult OverlayNeighbors::learn(NetworkIndex network, uint32_t ip, const MacAddress& mac,
                                                      uint32_t now_s, uint32_t limit) {
  const uint64_t key = key_of(network, ip);
  auto it = learned_.find(key);
  if (it != learned_.end() && it->second.first == mac.key()) {
    it->second.second = now_s;
    return LearnResult::kRefreshed;
  }
  if (it == learned_.end() && count_[network] >= limit) {
    ++refused_[network];
    return LearnResult::kLimitReached;
  }
  // A new MAC for a known key replaces the data atomically for readers.
  if (!table_.add(&key, mac.key())) {
    ++refused_[network];
    return LearnResult::kTableFull;
  }
  const bool is_new = it == learned_.end();
  learned_[key] = {mac.key(), now_s};
  if (is_new) ++count_[network];
  return is_new ? LearnResult::kLearned : LearnResult::kChanged;
}

void OverlayNeighbors::erase(const std::vector<uint64_t>& keys) {
  if (keys.empty()) return;
  for (uint64_t key : keys) {
    table_.erase(&key, 0);
    if (learned_.erase(key) != 0) --count_[static_cast<NetworkIndex>(key >> 32)];
  }
  table_.synchronize_and_reclaim();
}

size_t OverlayNeighbors::expire(uint32_t now_s, uint32_t timeout_s) {
  std::vector<uint64_t> doomed;
  for (const auto& [key, value] : learned_)
    if (now_s - std::min(now_s, value.second) >= timeout_s) doomed.push_back(key);
  erase(doomed);
  return doomed.size();
}

void OverlayNeighbors::forget_network(NetworkIndex network) {
  std::vector<uint64_t> doomed;
  for (const auto& [key, value] : learned_)
    if ((key >> 32) == network) doomed.push_back(key);
  erase(doomed);
  refused_[network] = 0;  // the index will name another network
}

size_t OverlayNeighbors::forget_macs(NetworkIndex network, const std::vector<MacAddress>& macs) {
  std::vector<uint64_t> doomed;
  for (const auto& [key, value] : learned_) {
    if ((key >> 32) != network) continue;
    for (const MacAddress& mac : macs)
      if (mac.key() == value.first) doomed.push_back(key);
  }
  erase(doomed);
  return doomed.size();
}

std::vector<OverlayNeighbor> OverlayNeighbors::entries(uint32_t now_s) const {
  std::vector<OverlayNeighbor> out;
  for (const auto& [key, value] : learned_)
    out.push_back({static_cast<NetworkIndex>(key >> 32), static_cast<uint32_t>(key), MacAddress::from_key(value.first),
                   now_s - std::min(now_s, value.second)});
  return out;
}

}  // namespace inception
