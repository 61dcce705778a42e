// `inceptionctl top`: a switch at a glance, refreshed in place -- ports
// with their packet and bit rates, drops by reason, each worker's busy share
// and cycles per packet, VXLAN peers up or unresolved.
//
// It asks the daemon for `stats` (cumulative counters) every interval and
// shows the differences, so it costs the switch one stats request per
// screen and works anywhere a terminal does (plain ANSI: clear, home; no
// curses), over SSH included. Keys, when stdin is a terminal: r t d n sort
// by rx, tx, drops, name; q quits.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace inception {

enum class TopSort { kRx, kTx, kDrops, kName };

struct TopOptions {
  double interval_s = 1.0;
  TopSort sort = TopSort::kRx;
  unsigned iterations = 0;  // screens to show before exiting; 0: until q or a signal
};

// One screen from two `stats` results `seconds` apart.
std::string render_top(const nlohmann::json& before, const nlohmann::json& now, double seconds, TopSort sort);

// Runs the live view against the daemon at `socket`. Returns the exit code.
int run_top(const std::string& socket, const TopOptions& options);

}  // namespace inception
