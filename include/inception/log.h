// Logging for the control side of inceptiond (never called by workers).
//
// One line per event on stderr: "<time> <level> <message>", the time in
// milliseconds (start-up and shutdown steps take tens of them). The level is
// set once at start-up from the config; messages below it are not formatted.
#pragma once

#include <fmt/chrono.h>
#include <fmt/core.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string_view>

namespace inception::log {

enum class Level { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

inline constexpr std::array<std::string_view, 4> kLevelNames = {"error", "warning", "info", "debug"};

inline std::atomic<Level> current_level{Level::kInfo};

inline void set_level(Level level) noexcept {
  current_level.store(level, std::memory_order_relaxed);
}
inline Level level() noexcept {
  return current_level.load(std::memory_order_relaxed);
}
inline std::string_view level_name(Level level) noexcept {
  return kLevelNames[static_cast<size_t>(level)];
}
inline std::optional<Level> parse_level(std::string_view name) noexcept {
  for (size_t i = 0; i < kLevelNames.size(); ++i)
    if (kLevelNames[i] == name) return static_cast<Level>(i);
  return std::nullopt;
}

// One fwrite per line so that lines from the control, vhost and metrics
// threads do not interleave.
inline void write(Level level, std::string_view message) noexcept {
  try {
    const auto now = std::chrono::system_clock::now();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    const std::string line = fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03} {:<7} {}\n",
                                         std::chrono::floor<std::chrono::seconds>(now), ms, level_name(level), message);
    std::fwrite(line.data(), 1, line.size(), stderr);
  } catch (...) {
    // Logging must never take the daemon down.
  }
}

template <typename... Args>
void error(fmt::format_string<Args...> format, Args&&... args) {
  write(Level::kError, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void warning(fmt::format_string<Args...> format, Args&&... args) {
  if (level() >= Level::kWarning) write(Level::kWarning, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> format, Args&&... args) {
  if (level() >= Level::kInfo) write(Level::kInfo, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(fmt::format_string<Args...> format, Args&&... args) {
  if (level() >= Level::kDebug) write(Level::kDebug, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace inception::log
