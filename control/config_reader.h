// Reading the TOML file's sections, shared by config.cpp (the file as a
// whole and the switch's own sections) and each feature's section parser in
// its folder (control/<feature>/<feature>_config.cpp). Not for anyone else.
#pragma once

#include <fmt/format.h>
#include <toml++/toml.h>

#include <set>
#include <string>

#include "control/config.h"

namespace inception::config_detail {

inline std::string where(const toml::source_region& source, const std::string& file) {
  return fmt::format("{}:{}:{}", file, source.begin.line, source.begin.column);
}

// Reads one TOML table strictly: every key must be consumed by a get(), and
// every value must have the expected type and range. Errors point at the
// offending key or value.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string context, const std::string& file)
      : table_(table), context_(std::move(context)), file_(file) {}

  [[noreturn]] void fail_at(const toml::node& node, const std::string& message) const {
    throw ConfigError(where(node.source(), file_) + ": " + message);
  }
  [[noreturn]] void fail(const std::string& message) const {
    throw ConfigError(where(table_.source(), file_) + ": " + context_ + ": " + message);
  }

  const toml::node* node(const std::string& key) {
    seen_.insert(key);
    return table_.get(key);
  }

  std::optional<std::string> string(const std::string& key) {
    const toml::node* n = node(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_string()) fail_at(*n, fmt::format("{}.{}: expected a string", context_, key));
    return n->as_string()->get();
  }

  std::optional<bool> boolean(const std::string& key) {
    const toml::node* n = node(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_boolean()) fail_at(*n, fmt::format("{}.{}: expected true or false", context_, key));
    return n->as_boolean()->get();
  }

  std::optional<uint32_t> integer(const std::string& key, int64_t min, int64_t max) {
    const toml::node* n = node(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_integer()) fail_at(*n, fmt::format("{}.{}: expected an integer", context_, key));
    const int64_t v = n->as_integer()->get();
    if (v < min || v > max)
      fail_at(*n, fmt::format("{}.{}: {}", context_, key, out_of_range_text(std::to_string(v), IntRange{min, max})));
    return static_cast<uint32_t>(v);
  }

  std::optional<std::vector<std::string>> strings(const std::string& key) {
    const toml::node* n = node(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_array()) fail_at(*n, fmt::format("{}.{}: expected an array of strings", context_, key));
    std::vector<std::string> out;
    for (const toml::node& item : *n->as_array()) {
      if (!item.is_string()) fail_at(item, fmt::format("{}.{}: expected an array of strings", context_, key));
      out.push_back(item.as_string()->get());
    }
    return out;
  }

  std::optional<std::vector<unsigned>> integers(const std::string& key, int64_t min, int64_t max) {
    const toml::node* n = node(key);
    if (n == nullptr) return std::nullopt;
    if (!n->is_array()) fail_at(*n, fmt::format("{}.{}: expected an array of integers", context_, key));
    std::vector<unsigned> out;
    for (const toml::node& item : *n->as_array()) {
      if (!item.is_integer()) fail_at(item, fmt::format("{}.{}: expected an array of integers", context_, key));
      const int64_t v = item.as_integer()->get();
      if (v < min || v > max)
        fail_at(item,
                fmt::format("{}.{}: {}", context_, key, out_of_range_text(std::to_string(v), IntRange{min, max})));
      out.push_back(static_cast<unsigned>(v));
    }
    return out;
  }

  std::string required_string(const std::string& key) {
    auto v = string(key);
    if (!v) fail(fmt::format("missing required key '{}'", key));
    return *v;
  }

  // Runs a validation rule; its error points at `key`'s value, or at the
  // table when the key was left out (the rule then judged a default).
  template <typename Fn>
  void check(const std::string& key, Fn&& fn) const {
    try {
      fn();
    } catch (const ConfigError& e) {
      const toml::node* n = table_.get(key);
      throw ConfigError(where(n != nullptr ? n->source() : table_.source(), file_) + ": " + e.what());
    }
  }

  // Rejects keys nobody asked for: a typo must not silently fall back to a
  // default.
  void finish() const {
    for (auto&& [key, value] : table_) {
      if (!seen_.contains(std::string(key.str())))
        throw ConfigError(fmt::format("{}: unknown key '{}' in {}", where(key.source(), file_), key.str(), context_));
    }
  }

  const std::string& file() const { return file_; }

 private:
  const toml::table& table_;
  std::string context_;
  const std::string& file_;
  std::set<std::string> seen_;
};

inline const toml::table* sub_table(TableReader& reader, const std::string& key) {
  const toml::node* n = reader.node(key);
  if (n == nullptr) return nullptr;
  if (!n->is_table()) reader.fail_at(*n, fmt::format("'{}' must be a table ([{}])", key, key));
  return n->as_table();
}

template <typename Fn>
void each_array_table(TableReader& reader, const std::string& key, Fn&& fn) {
  const toml::node* n = reader.node(key);
  if (n == nullptr) return;
  if (!n->is_array_of_tables()) reader.fail_at(*n, fmt::format("'{}' must be an array of tables ([[{}]])", key, key));
  size_t index = 0;
  for (const toml::node& item : *n->as_array()) fn(*item.as_table(), index++);
}

// Re-throws a validation error with the position of the table (or value)
// it came from.
template <typename Fn>
void at_table(const toml::node& table, const std::string& file, Fn&& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    throw ConfigError(where(table.source(), file) + ": " + e.what());
  }
}

inline Ipv4Address required_ip(TableReader& r, const toml::table& table, const std::string& key) {
  const std::string text = r.required_string(key);
  const auto ip = Ipv4Address::parse(text);
  if (!ip) r.fail_at(*table.get(key), fmt::format("{}: '{}' is not an IPv4 address", key, text));
  return *ip;
}

// Each feature's sections: parsed after [underlay] and [nat] are known, in
// the order parse_config lists them, and printed back by to_toml.
// control/vxlan/vxlan_config.cpp
UnderlayConfig parse_underlay(const toml::table& table, const std::string& file);
NeighborConfig parse_neighbor(const toml::table& table, const std::string& file, size_t index,
                              const UnderlayConfig& underlay);
void vxlan_to_toml(const Config& config, toml::table& root);
// control/router/router_config.cpp
RouterConfig parse_router(const toml::table& table, const std::string& file, size_t index, const Config& config);
NatConfig parse_nat(const toml::table& table, const std::string& file, const UnderlayConfig& underlay);
GatewayMappingConfig parse_gateway_mapping(const toml::table& table, const std::string& file, size_t index,
                                           const Config& config);
FipConfig parse_fip(const toml::table& table, const std::string& file, size_t index, const Config& config);
void router_to_toml(const Config& config, toml::table& root);
// control/l2/l2_config.cpp
NetworkConfig parse_network(const toml::table& table, const std::string& file, size_t index,
                            const UnderlayConfig& underlay);
StaticMacConfig parse_static_mac(const toml::table& table, const std::string& file, size_t index);
void l2_to_toml(const Config& config, toml::table& root);
// control/ports/port_config.cpp
PortConfig parse_port(const toml::table& table, const std::string& file, size_t index, const Config& config);
void ports_to_toml(const Config& config, toml::table& root);

}  // namespace inception::config_detail
