#include "control/top.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <stdexcept>
#include <vector>

#include "control/ctl_verbs.h"
#include "control/protocol.h"

namespace inception {

using nlohmann::json;

namespace {

// 1234567 -> "1.23M": rates span six orders of magnitude on one screen.
std::string human(double value) {
  static constexpr const char* kUnits[] = {"", "k", "M", "G", "T"};
  unsigned unit = 0;
  while (value >= 1000.0 && unit + 1 < std::size(kUnits)) {
    value /= 1000.0;
    ++unit;
  }
  if (unit == 0) return fmt::format("{:.0f}", value);
  return fmt::format("{:.{}f}{}", value, value < 10 ? 2 : value < 100 ? 1 : 0, kUnits[unit]);
}

double number(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<double>() : 0.0;
}

// Counter differences, never negative (a port deleted and added again
// between two screens starts from zero).
double delta(const json& now, const json& before, const char* key) {
  return std::max(0.0, number(now, key) - number(before, key));
}

struct Row {
  std::string name, network, state;
  double rx_pps = 0, rx_bps = 0, tx_pps = 0, tx_bps = 0, drops_ps = 0;
};

// Adds one counted object's rates to `rows` and its drops to `by_reason`.
void add_row(Row row, const json& now, const json& before, double seconds, std::vector<Row>& rows,
             std::map<std::string, double>& by_reason) {
  row.rx_pps = delta(now, before, "rx_packets") / seconds;
  row.rx_bps = delta(now, before, "rx_bytes") * 8 / seconds;
  row.tx_pps = delta(now, before, "tx_packets") / seconds;
  row.tx_bps = delta(now, before, "tx_bytes") * 8 / seconds;
  if (const auto drops = now.find("drops"); drops != now.end() && drops->is_object()) {
    const json none = json::object();
    const json& old = before.is_object() && before.contains("drops") ? before["drops"] : none;
    for (const auto& [reason, count] : drops->items()) {
      const double rate = std::max(0.0, count.get<double>() - number(old, reason.c_str())) / seconds;
      row.drops_ps += rate;
      if (rate > 0) by_reason[reason] += rate;
    }
  }
  rows.push_back(std::move(row));
}

// The element of `list` whose `key` equals `value`, or an empty object.
const json& find_by(const json& list, const char* key, const json& value) {
  static const json kNone = json::object();
  if (!list.is_array()) return kNone;
  for (const json& element : list)
    if (element.contains(key) && element[key] == value) return element;
  return kNone;
}

const char* sort_name(TopSort sort) {
  switch (sort) {
    case TopSort::kRx:
      return "rx";
    case TopSort::kTx:
      return "tx";
    case TopSort::kDrops:
      return "drops";
    case TopSort::kName:
      return "name";
  }
  return "rx";
}

}  // namespace

std::string render_top(const json& before, const json& now, double seconds, TopSort sort) {
  seconds = std::max(seconds, 1e-3);
  std::string out;

  std::vector<std::vector<std::string>> cells;
  for (const json& w : now["workers"]) {
    const json& old = find_by(before["workers"], "worker", w["worker"]);
    const double busy = delta(w, old, "busy_cycles"), idle = delta(w, old, "idle_cycles");
    const double packets = delta(w, old, "packets");
    cells.push_back({std::to_string(w["worker"].get<unsigned>()), std::to_string(w["lcore"].get<unsigned>()),
                     fmt::format("{:.1f}%", busy + idle > 0 ? 100 * busy / (busy + idle) : 0.0),
                     packets > 0 ? fmt::format("{:.0f}", busy / packets) : "-", human(packets / seconds)});
  }
  out += table({"WORKER", "LCORE", "BUSY", "CYCLES/PKT", "PPS"}, cells);

  std::vector<Row> rows;
  std::map<std::string, double> by_reason;
  for (const json& p : now["ports"])
    add_row({str(p["name"]), str(p["network"]), str(p["link"])}, p, find_by(before["ports"], "name", p["name"]),
            seconds, rows, by_reason);
  for (const json& p : now["peers"])
    add_row({"peer:" + str(p["peer"]), str(p["network"]), p.value("resolved", false) ? "up" : "unresolved"}, p,
            find_by(before["peers"], "peer", p["peer"]), seconds, rows, by_reason);
  if (now["underlay"].is_object()) {
    const json& u = now["underlay"];
    add_row({"underlay:" + str(u["device"]), "-", "up"}, u["nic"], before["underlay"].value("nic", json::object()),
            seconds, rows, by_reason);
    add_row({"host:" + str(u["host_interface"]), "-", "up"}, u["host"],
            before["underlay"].value("host", json::object()), seconds, rows, by_reason);
  }
  std::stable_sort(rows.begin(), rows.end(), [sort](const Row& a, const Row& b) {
    switch (sort) {
      case TopSort::kRx:
        return a.rx_pps > b.rx_pps;
      case TopSort::kTx:
        return a.tx_pps > b.tx_pps;
      case TopSort::kDrops:
        return a.drops_ps > b.drops_ps;
      case TopSort::kName:
        return a.name < b.name;
    }
    return false;
  });
  cells.clear();
  for (const Row& r : rows)
    cells.push_back({r.name, r.network, r.state, human(r.rx_pps), human(r.rx_bps), human(r.tx_pps), human(r.tx_bps),
                     human(r.drops_ps)});
  out += "\n" + table({"PORT", "NETWORK", "LINK", "RX_PPS", "RX_BPS", "TX_PPS", "TX_BPS", "DROPS/S"}, cells);

  std::vector<std::pair<std::string, double>> reasons(by_reason.begin(), by_reason.end());
  std::sort(reasons.begin(), reasons.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  out += "\ndrops/s by reason:";
  if (reasons.empty()) out += " none";
  for (const auto& [reason, rate] : reasons) out += fmt::format(" {}={}", reason, human(rate));
  out += "\n";
  return out;
}

namespace {

volatile sig_atomic_t g_stop = 0;
void on_stop_signal(int) {
  g_stop = 1;
}

// Single keys without Enter or echo while the view runs; the terminal as it
// was when it ends (also on q, Ctrl-C, SIGTERM: they only set g_stop).
class RawKeys {
 public:
  RawKeys() {
    if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    active_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  ~RawKeys() {
    if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  RawKeys(const RawKeys&) = delete;
  RawKeys& operator=(const RawKeys&) = delete;
  bool active() const { return active_; }

 private:
  termios saved_{};
  bool active_ = false;
};

json fetch_stats(const std::string& socket) {
  const json response = call_daemon(socket, make_request("stats", json::object()));
  if (!response.value("ok", false)) throw std::runtime_error(response.value("error", std::string("unknown error")));
  return response["result"];
}

}  // namespace

int run_top(const std::string& socket, const TopOptions& options) {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;  // no SA_RESTART: poll() returns at once
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  const bool screen = isatty(STDOUT_FILENO) != 0;
  RawKeys keys;
  TopSort sort = options.sort;
  try {
    json before = fetch_stats(socket);
    auto taken = std::chrono::steady_clock::now();
    for (unsigned shown = 0; !g_stop && (options.iterations == 0 || shown < options.iterations); ++shown) {
      const auto due = taken + std::chrono::duration<double>(options.interval_s);
      while (!g_stop) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(due - std::chrono::steady_clock::now()).count();
        if (left <= 0) break;
        pollfd fd{STDIN_FILENO, POLLIN, 0};
        if (poll(&fd, keys.active() ? 1 : 0, static_cast<int>(left)) <= 0 || !(fd.revents & POLLIN)) continue;
        char key = 0;
        if (read(STDIN_FILENO, &key, 1) != 1) continue;
        if (key == 'q') g_stop = 1;
        if (key == 'r') sort = TopSort::kRx;
        if (key == 't') sort = TopSort::kTx;
        if (key == 'd') sort = TopSort::kDrops;
        if (key == 'n') sort = TopSort::kName;
      }
      if (g_stop) break;
      const json now = fetch_stats(socket);
      const auto at = std::chrono::steady_clock::now();
      const double seconds = std::chrono::duration<double>(at - taken).count();
      const std::string header = fmt::format("inceptiond at {}   {:%H:%M:%S}   every {:.1f} s   sorted by {}{}\n\n",
                                             socket, fmt::localtime(std::time(nullptr)), options.interval_s,
                                             sort_name(sort), keys.active() ? "   (keys: r t d n sort, q quit)" : "");
      const std::string text = header + render_top(before, now, seconds, sort);
      // Home and clear on a terminal; screens one after the other in a pipe.
      std::fputs(screen ? ("\x1b[H\x1b[2J" + text).c_str() : (text + "\n").c_str(), stdout);
      std::fflush(stdout);
      before = now;
      taken = at;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "inceptionctl top: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace inception
