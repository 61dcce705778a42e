// Helpers shared by the files that define the Controller's methods
// (control/controller.cpp and control/<feature>/<feature>_control.cpp).
// Nothing outside them includes this.
#pragma once

#include <fmt/format.h>

#include <array>
#include <optional>
#include <string>

#include "control/controller.h"

namespace inception {

inline PortTotals operator-(const PortTotals& a, const PortTotals& b) {
  PortTotals d;
  d.rx_packets = a.rx_packets - b.rx_packets;
  d.rx_bytes = a.rx_bytes - b.rx_bytes;
  d.tx_packets = a.tx_packets - b.tx_packets;
  d.tx_bytes = a.tx_bytes - b.tx_bytes;
  d.flood_packets = a.flood_packets - b.flood_packets;
  for (size_t r = 0; r < kDropReasonCount; ++r) d.drops[r] = a.drops[r] - b.drops[r];
  return d;
}

namespace controller_detail {

inline std::string owned_by_domain(const Origin& origin) {
  return fmt::format(
      "plugged by libvirt for domain {} ({}); it goes when the domain stops or its interface is unplugged "
      "(--force removes it now, and the next libvirt resync plugs it again while the domain runs)",
      origin.domain, origin.uuid);
}

template <typename T, size_t N>
std::optional<uint16_t> free_index(const std::array<T*, N>& slots) {
  for (size_t i = 0; i < N; ++i)
    if (slots[i] == nullptr) return static_cast<uint16_t>(i);
  return std::nullopt;
}

// Runs a rule of config.h: the loader and inceptionctl refuse the same
// thing with the same words.
template <typename Rule>
void check(Rule&& rule) {
  try {
    rule();
  } catch (const ConfigError& e) {
    throw ControlError(e.what());
  }
}

}  // namespace controller_detail

}  // namespace inception
