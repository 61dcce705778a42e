#include "dataplane/offload/checksum.h"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace inception::checksum {

namespace {

// Offsets, not moving pointers: `to` is null when nothing is copied.

// The tail the wide loops leave (under 32 bytes from `i`), 8 bytes a step.
template <bool Copy>
Sum tail(uint8_t* to, const uint8_t* from, uint32_t i, uint32_t length, Sum s) noexcept {
  for (; i + 8 <= length; i += 8) {
    uint64_t w;
    std::memcpy(&w, from + i, 8);
    if constexpr (Copy) std::memcpy(to + i, &w, 8);
    s += (w & 0xffffffffU) + (w >> 32);
  }
  if (i != length) {
    uint64_t w = 0;  // the missing bytes count as zeros, in memory order
    std::memcpy(&w, from + i, length - i);
    if constexpr (Copy) std::memcpy(to + i, &w, length - i);
    s += (w & 0xffffffffU) + (w >> 32);
  }
  return s;
}

#if defined(__x86_64__)
// Two accumulators, so that each step's adds do not wait on the last's.
template <bool Copy>
__attribute__((target("avx2"))) Sum wide_avx2(uint8_t* to, const uint8_t* from, uint32_t length) noexcept {
  const __m256i zero = _mm256_setzero_si256();
  __m256i a = zero;
  __m256i b = zero;
  uint32_t i = 0;
  for (; i + 64 <= length; i += 64) {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(from + i));
    const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(from + i + 32));
    if constexpr (Copy) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(to + i), v);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(to + i + 32), w);
    }
    a = _mm256_add_epi64(a, _mm256_add_epi64(_mm256_unpacklo_epi32(v, zero), _mm256_unpackhi_epi32(v, zero)));
    b = _mm256_add_epi64(b, _mm256_add_epi64(_mm256_unpacklo_epi32(w, zero), _mm256_unpackhi_epi32(w, zero)));
  }
  a = _mm256_add_epi64(a, b);
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), a);
  return tail<Copy>(to, from, i, length, lanes[0] + lanes[1] + lanes[2] + lanes[3]);
}
#endif

// Baseline x86-64 has SSE2; other machines take the 8-byte loop.
template <bool Copy>
Sum wide_baseline(uint8_t* to, const uint8_t* from, uint32_t length) noexcept {
#if defined(__x86_64__)
  const __m128i zero = _mm_setzero_si128();
  __m128i a = zero;
  __m128i b = zero;
  uint32_t i = 0;
  for (; i + 32 <= length; i += 32) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + i));
    const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(from + i + 16));
    if constexpr (Copy) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(to + i), v);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(to + i + 16), w);
    }
    a = _mm_add_epi64(a, _mm_add_epi64(_mm_unpacklo_epi32(v, zero), _mm_unpackhi_epi32(v, zero)));
    b = _mm_add_epi64(b, _mm_add_epi64(_mm_unpacklo_epi32(w, zero), _mm_unpackhi_epi32(w, zero)));
  }
  a = _mm_add_epi64(a, b);
  alignas(16) uint64_t lanes[2];
  _mm_store_si128(reinterpret_cast<__m128i*>(lanes), a);
  return tail<Copy>(to, from, i, length, lanes[0] + lanes[1]);
#else
  return tail<Copy>(to, from, 0, length, 0);
#endif
}

using Wide = Sum (*)(uint8_t*, const uint8_t*, uint32_t) noexcept;

// Chosen once, before any worker runs: the CPU does not change under us.
template <bool Copy>
Wide choose() noexcept {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) return wide_avx2<Copy>;
#endif
  return wide_baseline<Copy>;
}

const Wide copy_wide = choose<true>();
const Wide sum_wide = choose<false>();

}  // namespace

Sum copy_and_sum(void* to, const void* from, uint32_t length) noexcept {
  return copy_wide(static_cast<uint8_t*>(to), static_cast<const uint8_t*>(from), length);
}

Sum copy_and_sum_baseline(void* to, const void* from, uint32_t length) noexcept {
  return wide_baseline<true>(static_cast<uint8_t*>(to), static_cast<const uint8_t*>(from), length);
}

Sum sum(const void* data, uint32_t length) noexcept {
  return sum_wide(nullptr, static_cast<const uint8_t*>(data), length);
}

bool sum_chain(const rte_mbuf* m, uint32_t offset, uint32_t length, Sum* out) noexcept {
  Sum total = 0;
  uint32_t done = 0;
  for (; m != nullptr && done < length; m = m->next) {
    if (offset >= m->data_len) {
      offset -= m->data_len;
      continue;
    }
    const uint32_t n = std::min<uint32_t>(length - done, m->data_len - offset);
    total = add_block(total, sum(rte_pktmbuf_mtod_offset(m, const uint8_t*, offset), n), (done & 1U) != 0);
    done += n;
    offset = 0;
  }
  *out = total;
  return done == length;
}

}  // namespace inception::checksum
