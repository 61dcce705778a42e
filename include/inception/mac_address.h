// An Ethernet MAC address as a value type, and its 64-bit key form.
#pragma once

#include <fmt/core.h>

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace inception {

class MacAddress {
 public:
  constexpr MacAddress() = default;
  constexpr explicit MacAddress(const std::array<uint8_t, 6>& bytes) : bytes_(bytes) {}

  // Accepts "aa:bb:cc:dd:ee:ff" or "aa-bb-cc-dd-ee-ff", any case, exactly
  // two hex digits per byte.
  static std::optional<MacAddress> parse(std::string_view text) noexcept {
    if (text.size() != 17) return std::nullopt;
    const char sep = text[2];
    if (sep != ':' && sep != '-') return std::nullopt;
    MacAddress mac;
    for (size_t i = 0; i < 6; ++i) {
      if (i > 0 && text[3 * i - 1] != sep) return std::nullopt;
      const int hi = hex_digit(text[3 * i]);
      const int lo = hex_digit(text[3 * i + 1]);
      if (hi < 0 || lo < 0) return std::nullopt;
      mac.bytes_[i] = static_cast<uint8_t>(hi * 16 + lo);
    }
    return mac;
  }

  // The 6 bytes in the low 48 bits of a little-endian load: the form the FDB
  // hashes. Two addresses are equal iff their keys are equal.
  //
  // Two loads combined in registers: copying 6 bytes into a zeroed uint64_t
  // on the stack and reading it back stalls on store forwarding (the wide
  // load spans two narrower stores), which cost ~9% of the L2 fast path,
  // twice per frame.
  static uint64_t key_of(const uint8_t* bytes) noexcept {
    uint32_t low = 0;
    uint16_t high = 0;
    std::memcpy(&low, bytes, 4);
    std::memcpy(&high, bytes + 4, 2);
    return uint64_t{low} | uint64_t{high} << 32;
  }
  // The group bit of the first byte, which a little-endian key holds in bit 0.
  static bool is_multicast_key(uint64_t key) noexcept {
    static_assert(std::endian::native == std::endian::little);
    return (key & 1) != 0;
  }
  static MacAddress from_key(uint64_t key) noexcept {
    MacAddress mac;
    std::memcpy(mac.bytes_.data(), &key, 6);
    return mac;
  }

  uint64_t key() const noexcept { return key_of(bytes_.data()); }
  const std::array<uint8_t, 6>& bytes() const noexcept { return bytes_; }
  bool is_multicast() const noexcept { return (bytes_[0] & 0x01) != 0; }
  bool is_zero() const noexcept { return key() == 0; }
  std::string to_string() const {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", bytes_[0], bytes_[1], bytes_[2], bytes_[3],
                       bytes_[4], bytes_[5]);
  }

  friend bool operator==(const MacAddress&, const MacAddress&) = default;

 private:
  static int hex_digit(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  std::array<uint8_t, 6> bytes_{};
};

}  // namespace inception
