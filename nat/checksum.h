// Incremental Internet checksum updates (RFC 1624, eqn. 3: HC' = ~(~HC + ~m + m')).
//
// All values are as they lie in the packet (network byte order); the
// arithmetic is byte-order independent because one's-complement sums are.
#pragma once

#include <cstdint>

namespace inception::nat {

inline uint32_t fold(uint32_t sum) noexcept {
  sum = (sum & 0xffff) + (sum >> 16);
  return (sum & 0xffff) + (sum >> 16);
}

// Updates checksum `check` for a 16-bit field changing from `from` to `to`.
inline uint16_t checksum_replace16(uint16_t check, uint16_t from, uint16_t to) noexcept {
  const uint32_t sum = uint32_t{static_cast<uint16_t>(~check)} + static_cast<uint16_t>(~from) + to;
  return static_cast<uint16_t>(~fold(sum));
}

// Updates checksum `check` for a 32-bit field (an IPv4 address).
inline uint16_t checksum_replace32(uint16_t check, uint32_t from, uint32_t to) noexcept {
  check = checksum_replace16(check, static_cast<uint16_t>(from >> 16), static_cast<uint16_t>(to >> 16));
  return checksum_replace16(check, static_cast<uint16_t>(from), static_cast<uint16_t>(to));
}

// UDP over IPv4: a zero checksum means "none" and must stay zero; a
// computed zero is sent as 0xffff (RFC 768).
inline uint16_t udp_checksum_replace32(uint16_t check, uint32_t from, uint32_t to) noexcept {
  if (check == 0) return 0;
  const uint16_t updated = checksum_replace32(check, from, to);
  return updated == 0 ? 0xffff : updated;
}
inline uint16_t udp_checksum_replace16(uint16_t check, uint16_t from, uint16_t to) noexcept {
  if (check == 0) return 0;
  const uint16_t updated = checksum_replace16(check, from, to);
  return updated == 0 ? 0xffff : updated;
}

}  // namespace inception::nat
