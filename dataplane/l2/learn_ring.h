// MAC learning requests from workers to the control thread.
//
// Workers never write the FDB. A frame from an unknown or moved source MAC
// produces a LearnRequest on a bounded multi-producer/single-consumer
// rte_ring; the control thread drains it and writes the FDB. When the ring is
// full the request is counted (learn_ring_full) and dropped: the frame is
// still forwarded and the next frame from that MAC asks again.
//
// A per-worker LearnFilter suppresses repeats of the same request for a few
// milliseconds, so a stream from a not-yet-learned MAC costs one ring slot,
// not one per frame.
#pragma once

#include <rte_ring.h>

#include <array>
#include <cstdint>

#include "inception/types.h"

namespace inception {

struct LearnRequest {
  uint64_t mac_key;
  NetworkIndex network;
  PortIndex port;
  uint32_t reserved;
};
static_assert(sizeof(LearnRequest) == 16, "rte_ring elements must be a multiple of 4 bytes; keep it compact");

class LearnFilter {
 public:
  // Returns true if this request was not made in the last `window_cycles`.
  bool should_send(const LearnRequest& request, uint64_t now_cycles, uint64_t window_cycles) noexcept {
    return should_send(request.mac_key ^ (uint64_t{request.network} << 48) ^ (uint64_t{request.port} << 32), now_cycles,
                       window_cycles);
  }
  // The same for any 64-bit tag (used for ARP requests the router sends).
  bool should_send(uint64_t tag, uint64_t now_cycles, uint64_t window_cycles) noexcept {
    Entry& entry = entries_[(tag * 0x9e3779b97f4a7c15ULL) >> (64 - kBits)];
    if (entry.tag == tag && now_cycles - entry.sent_at < window_cycles) return false;
    entry.tag = tag;
    entry.sent_at = now_cycles;
    return true;
  }

 private:
  static constexpr unsigned kBits = 8;
  struct Entry {
    uint64_t tag = ~0ULL;
    uint64_t sent_at = 0;
  };
  std::array<Entry, 1u << kBits> entries_{};
};

}  // namespace inception
