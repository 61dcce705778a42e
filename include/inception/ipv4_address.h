// IPv4 addresses and prefixes as value types (host byte order inside).
#pragma once

#include <arpa/inet.h>

#include <bit>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace inception {

class Ipv4Address {
 public:
  constexpr Ipv4Address() = default;
  constexpr explicit Ipv4Address(uint32_t host_order) : value_(host_order) {}

  // Dotted quad only ("10.0.0.1"); no shorthand forms.
  static std::optional<Ipv4Address> parse(std::string_view text) {
    if (text.empty() || text.size() > 15) return std::nullopt;
    const std::string s(text);
    in_addr addr{};
    if (inet_pton(AF_INET, s.c_str(), &addr) != 1) return std::nullopt;
    return Ipv4Address(ntohl(addr.s_addr));
  }
  static constexpr Ipv4Address from_network(uint32_t network_order) { return Ipv4Address(be_to_host(network_order)); }

  constexpr uint32_t value() const { return value_; }
  constexpr uint32_t network_order() const { return be_to_host(value_); }
  bool is_unspecified() const { return value_ == 0; }
  std::string to_string() const {
    return std::to_string(value_ >> 24) + "." + std::to_string((value_ >> 16) & 0xff) + "." +
           std::to_string((value_ >> 8) & 0xff) + "." + std::to_string(value_ & 0xff);
  }
  // clang-tidy 14 misreads a defaulted <=> as a comparison with 0.
  // NOLINTNEXTLINE(modernize-use-nullptr)
  friend constexpr auto operator<=>(const Ipv4Address&, const Ipv4Address&) = default;

 private:
  static constexpr uint32_t be_to_host(uint32_t v) {
    if constexpr (std::endian::native == std::endian::little) return __builtin_bswap32(v);
    return v;
  }
  uint32_t value_ = 0;
};

struct Ipv4Prefix {
  Ipv4Address address;
  uint8_t length = 32;

  // "10.0.0.11/24"
  static std::optional<Ipv4Prefix> parse(std::string_view text) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto address = Ipv4Address::parse(text.substr(0, slash));
    const std::string_view len = text.substr(slash + 1);
    if (!address || len.empty() || len.size() > 2) return std::nullopt;
    unsigned n = 0;
    for (char c : len) {
      if (c < '0' || c > '9') return std::nullopt;
      n = n * 10 + static_cast<unsigned>(c - '0');
    }
    if (n > 32) return std::nullopt;
    return Ipv4Prefix{*address, static_cast<uint8_t>(n)};
  }
  // "192.0.2.2" (a /32) or "192.0.2.0/28".
  static std::optional<Ipv4Prefix> parse_address_or_prefix(std::string_view text) {
    if (text.find('/') != std::string_view::npos) return parse(text);
    const auto address = Ipv4Address::parse(text);
    if (!address) return std::nullopt;
    return Ipv4Prefix{*address, 32};
  }
  uint32_t mask() const { return length == 0 ? 0 : ~uint32_t{0} << (32 - length); }
  bool contains(Ipv4Address a) const { return (a.value() & mask()) == (address.value() & mask()); }
  std::string to_string() const { return address.to_string() + "/" + std::to_string(length); }
  friend bool operator==(const Ipv4Prefix&, const Ipv4Prefix&) = default;
};

}  // namespace inception
