// Internet checksums (RFC 1071) for the payloads the switch finishes for
// guests: summed in the pass that copies them, and wide.
//
// DPDK 22.11's __rte_raw_cksum adds one 16-bit word per step. On a VXLAN
// stream of 64 KB TSO frames perf put that loop at 16 % of the forwarding
// core and the segment copy before it at another 9 % (docs/performance.md).
// Here the copy and the sum share one pass, 32 bytes a step with AVX2 (16
// with SSE2), each 32-bit half of a word added into a 64-bit lane that
// cannot carry out before 2^32 steps. The ones'-complement sum is the same
// whatever the byte order of the words, so native loads are folded once at
// the end (RFC 1071 §2 (B)).
#pragma once

#include <rte_byteorder.h>
#include <rte_mbuf.h>

#include <cstdint>

namespace inception::checksum {

// A sum in progress: 16-bit words of the data as it lies in memory, added
// with native loads, not yet folded. A lone last byte counts as the first
// byte of a word whose second byte is zero.
using Sum = uint64_t;

// Copies `length` bytes from `from` to `to` and returns their sum.
Sum copy_and_sum(void* to, const void* from, uint32_t length) noexcept;

// The sum of `length` bytes at `data`.
Sum sum(const void* data, uint32_t length) noexcept;

// Puts in `out` the sum of `length` bytes of `m`'s chain from `offset`;
// false if the chain holds fewer.
bool sum_chain(const rte_mbuf* m, uint32_t offset, uint32_t length, Sum* out) noexcept;

// copy_and_sum as CPUs without AVX2 run it (for tests: this machine's
// choice is made once, at start).
Sum copy_and_sum_baseline(void* to, const void* from, uint32_t length) noexcept;

// Folds a sum to 16 bits (not complemented).
inline uint16_t fold(Sum s) noexcept {
  s = (s & 0xffffffffU) + (s >> 32);
  s = (s & 0xffffffffU) + (s >> 32);
  s = (s & 0xffffU) + (s >> 16);
  s = (s & 0xffffU) + (s >> 16);
  return static_cast<uint16_t>(s);
}

// Adds the sum of a block that starts `at_odd` bytes into the checksummed
// data: its words straddle the data's, so its folded sum is byte-swapped.
inline Sum add_block(Sum total, Sum block, bool at_odd) noexcept {
  return total + (at_odd ? rte_bswap16(fold(block)) : block);
}

}  // namespace inception::checksum
