// Token buckets for the per-port and per-network bounds of the punt and
// flood paths (DESIGN.md section 8: one tenant exhausting its share leaves
// the others' untouched).
//
// Each worker owns its buckets (no shared cache line, no atomics); the
// snapshot's LimitsView gives each worker its share of the configured rate.
// A bucket starts full, refills with one token per `cycles_per_token` TSC
// cycles up to `burst`, and a frame that finds it empty is dropped and
// counted by the caller.
#pragma once

#include <cstdint>

#include "dataplane/snapshot.h"

namespace inception {

struct TokenBucket {
  uint64_t refilled_at = 0;  // TSC of the last refill
  uint32_t tokens = 0;
  bool primed = false;

  // Takes one token if there is one. Always true for an unlimited rate.
  bool take(const RateLimit& limit, uint64_t now_cycles) noexcept {
    if (limit.cycles_per_token == 0) return true;
    if (tokens == 0) {
      if (!primed) {
        primed = true;
        tokens = limit.burst;
        refilled_at = now_cycles;
      } else {
        const uint64_t earned = (now_cycles - refilled_at) / limit.cycles_per_token;
        if (earned == 0) return false;
        tokens = earned >= limit.burst ? limit.burst : static_cast<uint32_t>(earned);
        refilled_at = earned >= limit.burst ? now_cycles : refilled_at + earned * limit.cycles_per_token;
      }
      if (tokens == 0) return false;
    }
    --tokens;
    return true;
  }
};

// Builds a worker's share of `per_second` frames per second (0: unlimited),
// with a burst of a tenth of a second's share, at least `min_burst`.
inline RateLimit make_rate_limit(uint32_t per_second, unsigned workers, uint64_t tsc_hz,
                                 uint32_t min_burst = 16) noexcept {
  if (per_second == 0) return {};
  const uint64_t share = (uint64_t{per_second} + workers - 1) / (workers == 0 ? 1 : workers);
  RateLimit limit;
  limit.cycles_per_token = tsc_hz / share == 0 ? 1 : tsc_hz / share;
  const uint64_t burst = share / 10;
  limit.burst = static_cast<uint32_t>(burst < min_burst ? min_burst : burst);
  return limit;
}

}  // namespace inception
