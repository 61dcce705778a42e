#include "dataplane/underlay/neighbor_table.h"

namespace inception {

namespace {

// Retry quickly at first (a peer that just booted), then once a second.
uint32_t retry_interval_ms(uint32_t requests) {
  return requests < 3 ? 200 : 1000;
}

}  // namespace

void NeighborTable::set_wanted(const std::set<Ipv4Address>& next_hops, uint32_t now_ms) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!it->second.is_static && !next_hops.contains(it->first)) {
      last_request_ms_.erase(it->first);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  for (const Ipv4Address& ip : next_hops) {
    if (!entries_.contains(ip)) entries_[ip] = NeighborEntry{ip, std::nullopt, false, now_ms, 0};
  }
}

void NeighborTable::add_static(Ipv4Address ip, const MacAddress& mac) {
  entries_[ip] = NeighborEntry{ip, mac, true, 0, 0};
}

bool NeighborTable::remove_static(Ipv4Address ip) {
  auto it = entries_.find(ip);
  if (it == entries_.end() || !it->second.is_static) return false;
  // Still needed as a next hop: it falls back to being resolved by ARP.
  it->second.is_static = false;
  it->second.mac.reset();
  it->second.requests = 0;
  return true;
}

bool NeighborTable::learn(Ipv4Address ip, const MacAddress& mac, uint32_t now_ms) {
  auto it = entries_.find(ip);
  if (it == entries_.end() || it->second.is_static) return false;
  const bool changed = !it->second.mac || *it->second.mac != mac;
  it->second.mac = mac;
  it->second.updated_ms = now_ms;
  it->second.requests = 0;
  return changed;
}

std::vector<Ipv4Address> NeighborTable::due_requests(uint32_t now_ms) {
  std::vector<Ipv4Address> due;
  for (auto& [ip, entry] : entries_) {
    if (entry.is_static) continue;
    const bool stale = !entry.mac || now_ms - entry.updated_ms >= timeout_ms_;
    if (!stale) continue;
    const auto last = last_request_ms_.find(ip);
    if (last != last_request_ms_.end() && now_ms - last->second < retry_interval_ms(entry.requests)) continue;
    last_request_ms_[ip] = now_ms;
    ++entry.requests;
    due.push_back(ip);
  }
  return due;
}

bool NeighborTable::expire(uint32_t now_ms) {
  bool changed = false;
  for (auto& [ip, entry] : entries_) {
    if (entry.is_static || !entry.mac) continue;
    if (now_ms - entry.updated_ms >= timeout_ms_ + 5000 && entry.requests >= 3) {
      entry.mac.reset();
      changed = true;
    }
  }
  return changed;
}

std::optional<MacAddress> NeighborTable::lookup(Ipv4Address ip) const {
  auto it = entries_.find(ip);
  return it == entries_.end() ? std::nullopt : it->second.mac;
}

std::vector<NeighborEntry> NeighborTable::entries() const {
  std::vector<NeighborEntry> out;
  for (const auto& [ip, entry] : entries_) out.push_back(entry);
  return out;
}

}  // namespace inception
