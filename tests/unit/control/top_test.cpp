// inceptionctl top's screen from two stats results: rates from counter
// differences, drops summed by reason, each worker's busy share and cycles
// per packet, the sort order.
#include "control/top.h"

#include <gtest/gtest.h>

#include <string>

namespace inception {
namespace {

using nlohmann::json;

json port(const std::string& name, uint64_t rx, uint64_t tx, uint64_t spoofed = 0) {
  return {{"name", name},         {"network", "private"},
          {"link", "up"},         {"rx_packets", rx},
          {"rx_bytes", rx * 100}, {"tx_packets", tx},
          {"tx_bytes", tx * 100}, {"drops", {{"spoofed_mac", spoofed}, {"flood_limit", 0}}}};
}

json stats(uint64_t a_rx, uint64_t b_rx, uint64_t busy, uint64_t idle, uint64_t packets, uint64_t spoofed) {
  return {
      {"tsc_hz", 1000000000},
      {"ports", {port("a", a_rx, 0, spoofed), port("b", b_rx, a_rx)}},
      {"peers",
       {{{"peer", "10.0.0.12"},
         {"network", "private"},
         {"resolved", false},
         {"rx_packets", 0},
         {"rx_bytes", 0},
         {"tx_packets", 0},
         {"tx_bytes", 0},
         {"drops", {{"no_neighbor", 0}}}}}},
      {"underlay", nullptr},
      {"workers", {{{"worker", 0}, {"lcore", 1}, {"busy_cycles", busy}, {"idle_cycles", idle}, {"packets", packets}}}}};
}

// The line of `screen` that starts with `name`.
std::string line_of(const std::string& screen, const std::string& name) {
  const auto at = screen.find("\n" + name + " ");
  if (at == std::string::npos) return "";
  return screen.substr(at + 1, screen.find('\n', at + 1) - at - 1);
}

TEST(Top, RatesAreCounterDifferencesOverTheInterval) {
  // Over 2 s: port a received 2,000,000 frames (1 Mpps, 800 Mbit/s), b 2,000
  // (1 kpps); a dropped 20 spoofed frames (10/s); the worker was busy 1.5 of
  // 2 G cycles for 2,002,000 frames.
  const json before = stats(1000, 500, 0, 0, 0, 5);
  const json now = stats(2001000, 2500, 1500000000, 500000000, 2002000, 25);
  const std::string screen = render_top(before, now, 2.0, TopSort::kRx);
  const std::string a = line_of(screen, "a");
  EXPECT_NE(a.find("1.00M"), std::string::npos) << screen;  // rx pps
  EXPECT_NE(a.find("800M"), std::string::npos) << screen;   // rx bits/s: 1 Mpps x 100 B x 8
  EXPECT_NE(a.find(" 10"), std::string::npos) << screen;    // drops/s
  EXPECT_NE(line_of(screen, "b").find("1.00k"), std::string::npos) << screen;
  EXPECT_NE(screen.find("drops/s by reason: spoofed_mac=10\n"), std::string::npos) << screen;
  const std::string worker = line_of(screen, "0");
  EXPECT_NE(worker.find("75.0%"), std::string::npos) << screen;
  EXPECT_NE(worker.find("749"), std::string::npos) << screen;  // 1.5e9 cycles / 2,002,000 frames
  EXPECT_NE(line_of(screen, "peer:10.0.0.12").find("unresolved"), std::string::npos) << screen;
  // Busiest first; by name on request.
  EXPECT_LT(screen.find("\na "), screen.find("\nb ")) << screen;
  const std::string by_tx = render_top(before, now, 2.0, TopSort::kTx);
  EXPECT_LT(by_tx.find("\nb "), by_tx.find("\na ")) << by_tx;  // b sent what a received
  const std::string by_name = render_top(before, now, 2.0, TopSort::kName);
  EXPECT_LT(by_name.find("\na "), by_name.find("\nb ")) << by_name;
  EXPECT_LT(by_name.find("\nb "), by_name.find("\npeer:")) << by_name;
}

TEST(Top, APortThatAppearedOrRestartedShowsNoNegativeRates) {
  const json before = stats(5000, 500, 100, 100, 10, 0);
  json now = stats(10, 600, 200, 200, 20, 0);  // a was deleted and added again: its counters restarted
  now["ports"].push_back(port("c", 300, 0));   // a new port: everything since it came counts
  const std::string screen = render_top(before, now, 1.0, TopSort::kName);
  EXPECT_EQ(screen.find('-' + std::string("4990")), std::string::npos) << screen;
  EXPECT_NE(line_of(screen, "a").find(" 0 "), std::string::npos) << screen;
  EXPECT_NE(line_of(screen, "c").find("300"), std::string::npos) << screen;
  EXPECT_NE(screen.find("drops/s by reason: none"), std::string::npos) << screen;
}

}  // namespace
}  // namespace inception
