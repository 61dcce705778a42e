// Logging for the control side of inceptiond (never called by workers).
//
// One line per event on stderr: "<time> <level> <message>", the time in
// milliseconds (start-up and shutdown steps take tens of them). The level is
// set once at start-up from the config; messages below it are not formatted.
//
// Under systemd (stderr is the journal's stream: see
// use_journal_if_stderr_is_journal), each event is instead one datagram of
// systemd's native journal protocol
// (https://systemd.io/JOURNAL_NATIVE_PROTOCOL/) with structured fields:
// MESSAGE, PRIORITY, SYSLOG_IDENTIFIER and, when the caller names them,
// INCEPTION_OBJECT ("port ivm1") and INCEPTION_EVENT ("added"), so that
// `journalctl INCEPTION_OBJECT="port ivm1"` finds a port's history. Our own
// few lines of protocol rather than libsystemd's sd_journal_send: every
// library that logs would link libsystemd, and its socket path is fixed.
// A datagram the journal refuses (journald restarting) is written to stderr.
//
// Threads: any control-side thread may log; use_journal* once at start-up,
// before other threads start.
#pragma once

#include <fmt/chrono.h>
#include <fmt/core.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
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

// What a message is about, for the journal's fields; both optional.
struct Event {
  std::string_view object;  // INCEPTION_OBJECT: "port ivm1", "network private"
  std::string_view name;    // INCEPTION_EVENT: "added", "deleted", "ready"
};

inline constexpr const char* kJournalSocket = "/run/systemd/journal/socket";

namespace detail {
// Written once by use_journal before other threads start, read by all.
inline int journal_fd = -1;
inline sockaddr_un journal_address{};
inline std::string journal_identifier = "inceptiond";

// syslog(3) priorities, as journald files them.
inline int journal_priority(Level level) noexcept {
  constexpr std::array<int, 4> kPriorities = {3, 4, 6, 7};  // err, warning, info, debug
  return kPriorities[static_cast<size_t>(level)];
}
}  // namespace detail

// One entry in the native protocol: a field is KEY=value and a newline; a
// value holding a newline is KEY, a newline, its length as 64-bit little
// endian, the bytes and a newline.
inline std::string journal_entry(Level level, std::string_view message, const Event& event,
                                 std::string_view identifier) {
  std::string entry;
  auto field = [&entry](std::string_view key, std::string_view value) {
    entry += key;
    if (value.find('\n') == std::string_view::npos) {
      entry += '=';
    } else {
      entry += '\n';
      uint64_t size = value.size();
      for (int i = 0; i < 8; ++i, size >>= 8) entry += static_cast<char>(size & 0xff);
    }
    entry += value;
    entry += '\n';
  };
  field("MESSAGE", message);
  field("PRIORITY", std::to_string(detail::journal_priority(level)));
  field("SYSLOG_IDENTIFIER", identifier);
  if (!event.object.empty()) field("INCEPTION_OBJECT", event.object);
  if (!event.name.empty()) field("INCEPTION_EVENT", event.name);
  return entry;
}

// Sends every message from here on to the journal socket at `path` instead
// of stderr. False, and stderr kept, when there is no socket to send to.
inline bool use_journal(const std::string& path, std::string_view identifier = "inceptiond") {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) return false;
  std::memcpy(address.sun_path, path.data(), path.size());
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  detail::journal_address = address;
  detail::journal_identifier = identifier;
  detail::journal_fd = fd;
  return true;
}

// Back to stderr (tests).
inline void use_stderr() noexcept {
  if (detail::journal_fd >= 0) close(detail::journal_fd);
  detail::journal_fd = -1;
}

// systemd sets JOURNAL_STREAM to "device:inode" of the stream it connected
// to the journal (systemd.exec(5)): when that is our stderr, we run under
// systemd and switch to the native protocol at kJournalSocket. Not a
// terminal alone: stderr redirected to a file (a test, `2>log`) keeps its
// lines in that file.
inline bool use_journal_if_stderr_is_journal(std::string_view identifier = "inceptiond") {
  // Called once at start-up, before any thread that could change the
  // environment exists.
  // NOLINTNEXTLINE(concurrency-mt-unsafe)
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr || isatty(STDERR_FILENO)) return false;
  struct stat st {};
  if (fstat(STDERR_FILENO, &st) != 0) return false;
  const std::string_view text(stream);
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return false;
  uint64_t device = 0, inode = 0;
  const auto [device_end, device_error] = std::from_chars(text.data(), text.data() + colon, device);
  const auto [inode_end, inode_error] = std::from_chars(text.data() + colon + 1, text.data() + text.size(), inode);
  if (device_error != std::errc() || inode_error != std::errc() || device_end != text.data() + colon ||
      inode_end != text.data() + text.size())
    return false;
  if (device != st.st_dev || inode != st.st_ino) return false;
  return use_journal(kJournalSocket, identifier);
}

// One fwrite per line so that lines from the control, vhost and metrics
// threads do not interleave; to the journal, one datagram per message.
inline void write(Level level, std::string_view message, const Event& event = {}) noexcept {
  try {
    if (detail::journal_fd >= 0) {
      const std::string entry = journal_entry(level, message, event, detail::journal_identifier);
      const auto* address = reinterpret_cast<const sockaddr*>(&detail::journal_address);
      if (sendto(detail::journal_fd, entry.data(), entry.size(), MSG_NOSIGNAL, address,
                 sizeof(detail::journal_address)) == static_cast<ssize_t>(entry.size()))
        return;
    }
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
// The same, naming the object and the event for the journal:
// log::info({"port " + name, "added"}, "port {}: added", name) -- the text
// still says it all for stderr.
template <typename... Args>
void error(const Event& event, fmt::format_string<Args...> format, Args&&... args) {
  write(Level::kError, fmt::format(format, std::forward<Args>(args)...), event);
}
template <typename... Args>
void warning(const Event& event, fmt::format_string<Args...> format, Args&&... args) {
  if (level() >= Level::kWarning) write(Level::kWarning, fmt::format(format, std::forward<Args>(args)...), event);
}
template <typename... Args>
void info(const Event& event, fmt::format_string<Args...> format, Args&&... args) {
  if (level() >= Level::kInfo) write(Level::kInfo, fmt::format(format, std::forward<Args>(args)...), event);
}
template <typename... Args>
void debug(const Event& event, fmt::format_string<Args...> format, Args&&... args) {
  if (level() >= Level::kDebug) write(Level::kDebug, fmt::format(format, std::forward<Args>(args)...), event);
}
template <typename... Args>
void debug(fmt::format_string<Args...> format, Args&&... args) {
  if (level() >= Level::kDebug) write(Level::kDebug, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace inception::log
