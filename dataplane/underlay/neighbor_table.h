// IPv4 neighbors of the underlay (the switch's own ARP cache).
//
// The switch resolves, by itself, the MAC of every next hop its VXLAN peers
// need: the peer itself when it is on-link, the gateway otherwise. Entries
// come from ARP frames workers punt to the control thread (replies to our
// requests and requests aimed at us), or are static. An unresolved next hop
// is asked for every second (the first few times faster); a resolved one is
// refreshed when it is older than the timeout, and keeps being used while
// the refresh is pending.
//
// Threads: control thread only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "inception/ipv4_address.h"
#include "inception/mac_address.h"

namespace inception {

struct NeighborEntry {
  Ipv4Address ip;
  std::optional<MacAddress> mac;
  bool is_static = false;
  uint32_t updated_ms = 0;  // when the MAC was last confirmed
  uint32_t requests = 0;    // ARP requests sent since then
};

class NeighborTable {
 public:
  explicit NeighborTable(uint32_t timeout_s) : timeout_ms_(timeout_s * 1000) {}

  // The next hops in use; others are forgotten unless static.
  void set_wanted(const std::set<Ipv4Address>& next_hops, uint32_t now_ms);
  void add_static(Ipv4Address ip, const MacAddress& mac);
  bool remove_static(Ipv4Address ip);
  // Records a MAC seen in ARP from `ip`. Returns true if the MAC of a wanted
  // or static next hop changed (templates must be rebuilt).
  bool learn(Ipv4Address ip, const MacAddress& mac, uint32_t now_ms);
  // Next hops to send an ARP request for now; marks them as asked.
  std::vector<Ipv4Address> due_requests(uint32_t now_ms);
  // Forgets MACs that went unconfirmed for timeout + 5 s despite requests.
  // Returns true if one was forgotten (templates must be rebuilt).
  bool expire(uint32_t now_ms);
  std::optional<MacAddress> lookup(Ipv4Address ip) const;
  std::vector<NeighborEntry> entries() const;

 private:
  uint32_t timeout_ms_;
  std::map<Ipv4Address, NeighborEntry> entries_;
  std::map<Ipv4Address, uint32_t> last_request_ms_;
};

}  // namespace inception
