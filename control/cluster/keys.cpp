#include "control/cluster/keys.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>
#include <tuple>

namespace inception::cluster {

using nlohmann::json;

namespace {

std::optional<json> object_of(const std::string& value, std::string& reason) {
  json j = json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    reason = "the value is not a JSON object";
    return std::nullopt;
  }
  return j;
}

// A field that must be a string; nullopt (and the reason) if it is not.
std::optional<std::string> text_field(const json& j, const char* field, std::string& reason) {
  const auto it = j.find(field);
  if (it == j.end() || !it->is_string()) {
    reason = fmt::format("'{}' is missing or not a string", field);
    return std::nullopt;
  }
  return it->get<std::string>();
}

// An optional unsigned integer field, `range` checked with the wording of
// every other reader of settings.
bool integer_field(const json& j, const char* field, const std::string& object, IntRange range, uint32_t& out,
                   std::string& reason) {
  const auto it = j.find(field);
  if (it == j.end()) return true;
  if (!it->is_number_integer()) {
    reason = fmt::format("{}: {}: {} is not an integer", object, field, it->dump());
    return false;
  }
  // A negative number or one beyond int64 reads as out of range, as written.
  const bool fits = it->is_number_unsigned() ? it->get<uint64_t>() <= static_cast<uint64_t>(range.max)
                                             : range.contains(it->get<int64_t>());
  if (!fits || !range.contains(static_cast<int64_t>(it->get<uint64_t>()))) {
    reason = fmt::format("{}: {}: {}", object, field, out_of_range_text(it->dump(), range));
    return false;
  }
  out = static_cast<uint32_t>(it->get<uint64_t>());
  return true;
}

}  // namespace

bool NetworkSpec::operator==(const NetworkSpec& other) const {
  const auto router_text = [](const std::optional<Ipv4Prefix>& r) { return r ? r->to_string() : std::string(); };
  return config.name == other.config.name && config.vni == other.config.vni &&
         config.fdb_limit == other.config.fdb_limit && router_text(router) == router_text(other.router);
}

std::optional<NetworkSpec> parse_network(const std::string& name, const std::string& value, std::string& reason) {
  const std::string object = "network " + name;
  if (!valid_object_name(name, kMaxNetworkNameLength)) {
    reason = fmt::format("network '{}': a name is 1-{} characters of A-Z a-z 0-9 . _ -", name, kMaxNetworkNameLength);
    return std::nullopt;
  }
  const auto j = object_of(value, reason);
  if (!j) return std::nullopt;
  NetworkSpec spec;
  spec.config.name = name;
  if (!j->contains("vni")) {
    reason = object + ": 'vni' is missing";
    return std::nullopt;
  }
  if (!integer_field(*j, "vni", object, kVniRange, spec.config.vni, reason) ||
      !integer_field(*j, "fdb_limit", object, kFdbLimitRange, spec.config.fdb_limit, reason))
    return std::nullopt;
  try {
    validate_network(spec.config);
    if (j->contains("router")) {
      const auto text = text_field(*j, "router", reason);
      if (!text) {
        reason = object + ": " + reason;
        return std::nullopt;
      }
      const RouterConfig router{name, parse_router_address(name, *text)};
      // Alone: whether it overlaps another network's router is a question
      // for the switch that applies it.
      validate_router(router, {}, UnderlayConfig{});
      spec.router = router.address;
    }
  } catch (const ConfigError& e) {
    reason = e.what();
    return std::nullopt;
  }
  return spec;
}

std::string network_value(const NetworkSpec& spec) {
  json j = {{"vni", spec.config.vni}, {"fdb_limit", spec.config.fdb_limit}};
  if (spec.router) j["router"] = spec.router->to_string();
  return j.dump();
}

std::optional<GatewayMappingConfig> parse_gateway_mapping(const std::string& public_text, const std::string& value,
                                                          std::string& reason) {
  const auto public_ip = Ipv4Address::parse(public_text);
  if (!public_ip) {
    reason = fmt::format("gateway mapping '{}': the public IP is not an IPv4 address", public_text);
    return std::nullopt;
  }
  const auto j = object_of(value, reason);
  if (!j) return std::nullopt;
  const std::string object = "gateway mapping " + public_text;
  const auto underlay_text = text_field(*j, "underlay", reason);
  if (!underlay_text) {
    reason = object + ": " + reason;
    return std::nullopt;
  }
  const auto underlay = Ipv4Address::parse(*underlay_text);
  if (!underlay) {
    reason = fmt::format("{}: underlay '{}' is not an IPv4 address", object, *underlay_text);
    return std::nullopt;
  }
  return GatewayMappingConfig{*underlay, *public_ip};
}

std::string gateway_mapping_value(const GatewayMappingConfig& mapping) {
  return nlohmann::json{{"underlay", mapping.underlay.to_string()}}.dump();
}

std::optional<GatewayLeader> parse_gateway_leader(const std::string& value) {
  const auto j = nlohmann::json::parse(value, nullptr, false);
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string()) return std::nullopt;
  GatewayLeader leader{j["name"].get<std::string>(), std::nullopt, 0};
  if (j.contains("public") && j["public"].is_string())
    leader.public_address = Ipv4Address::parse(j["public"].get<std::string>());
  if (j.contains("since_ms") && j["since_ms"].is_number_integer()) leader.since_ms = j["since_ms"].get<int64_t>();
  return leader;
}

std::string gateway_leader_value(const GatewayLeader& leader) {
  nlohmann::json j = {{"name", leader.name}, {"since_ms", leader.since_ms}};
  if (leader.public_address) j["public"] = leader.public_address->to_string();
  return j.dump();
}

std::optional<FipSpec> parse_fip(const std::string& public_text, const std::string& value, std::string& reason) {
  const auto public_ip = Ipv4Address::parse(public_text);
  if (!public_ip) {
    reason = fmt::format("floating IP '{}' is not an IPv4 address", public_text);
    return std::nullopt;
  }
  const auto j = object_of(value, reason);
  if (!j) return std::nullopt;
  const std::string object = "floating IP " + public_text;
  const auto fixed_text = text_field(*j, "fixed", reason);
  const auto network = fixed_text ? text_field(*j, "network", reason) : std::nullopt;
  if (!fixed_text || !network) {
    reason = object + ": " + reason;
    return std::nullopt;
  }
  const auto fixed = Ipv4Address::parse(*fixed_text);
  if (!fixed) {
    reason = fmt::format("{}: fixed IP '{}' is not an IPv4 address", object, *fixed_text);
    return std::nullopt;
  }
  if (!valid_object_name(*network, kMaxNetworkNameLength)) {
    reason = fmt::format("{}: network '{}': a name is 1-{} characters of A-Z a-z 0-9 . _ -", object, *network,
                         kMaxNetworkNameLength);
    return std::nullopt;
  }
  FipSpec spec{*public_ip, *fixed, *network};
  try {
    validate_fip(FipConfig{spec.public_ip, spec.fixed, spec.network}, {});
  } catch (const ConfigError& e) {
    reason = e.what();
    return std::nullopt;
  }
  return spec;
}

std::string fip_value(const FipSpec& spec) {
  return json{{"fixed", spec.fixed.to_string()}, {"network", spec.network}}.dump();
}

std::optional<Placement> parse_placement(const std::string& rest, const std::string& value, std::string& reason) {
  const size_t first = rest.find('/');
  const size_t second = first == std::string::npos ? std::string::npos : rest.find('/', first + 1);
  if (second == std::string::npos || rest.find('/', second + 1) != std::string::npos) {
    reason = "a placement key is placements/<rvm>/<network>/<fixed IP>";
    return std::nullopt;
  }
  Placement p;
  p.rvm = rest.substr(0, first);
  p.network = rest.substr(first + 1, second - first - 1);
  const std::string fixed_text = rest.substr(second + 1);
  const auto fixed = Ipv4Address::parse(fixed_text);
  if (!valid_object_name(p.rvm, kMaxClusterNameLength) || !valid_object_name(p.network, kMaxNetworkNameLength) ||
      !fixed) {
    reason = fmt::format("placement {}: not <rvm>/<network>/<fixed IP>", rest);
    return std::nullopt;
  }
  p.fixed = *fixed;
  const auto j = object_of(value, reason);
  if (!j) return std::nullopt;
  const auto mac_text = text_field(*j, "mac", reason);
  const auto port = mac_text ? text_field(*j, "port", reason) : std::nullopt;
  if (!mac_text || !port) return std::nullopt;
  const auto mac = MacAddress::parse(*mac_text);
  if (!mac) {
    reason = fmt::format("placement {}: mac '{}' is not a MAC address", rest, *mac_text);
    return std::nullopt;
  }
  p.mac = *mac;
  p.port = *port;
  return p;
}

std::string placement_rest(const Placement& p) {
  return p.rvm + "/" + p.network + "/" + p.fixed.to_string();
}

std::string placement_value(const Placement& p) {
  return json{{"mac", p.mac.to_string()}, {"port", p.port}}.dump();
}

namespace {

// Candidates in the order of their claims: first created first.
template <typename Spec>
std::vector<const Keyed<Spec>*> by_age(const std::vector<Keyed<Spec>>& candidates) {
  std::vector<const Keyed<Spec>*> out;
  out.reserve(candidates.size());
  for (const auto& c : candidates) out.push_back(&c);
  std::sort(out.begin(), out.end(), [](const Keyed<Spec>* a, const Keyed<Spec>* b) {
    return std::tie(a->create_revision, a->key) < std::tie(b->create_revision, b->key);
  });
  return out;
}

}  // namespace

NetworkChoice choose_networks(const std::vector<Keyed<NetworkSpec>>& candidates) {
  NetworkChoice choice;
  std::map<uint32_t, const Keyed<NetworkSpec>*> by_vni;
  for (const Keyed<NetworkSpec>* c : by_age(candidates)) {
    const NetworkConfig& n = c->spec.config;
    if (const auto it = by_vni.find(n.vni); it != by_vni.end()) {
      choice.refused[c->key] = fmt::format("network {}: VNI {} is already used by network {} (key {}, created first)",
                                           n.name, n.vni, it->second->spec.config.name, it->second->key);
      continue;
    }
    by_vni[n.vni] = c;
    choice.winners[n.name] = *c;
  }
  return choice;
}

FipChoice choose_fips(const std::vector<Keyed<FipSpec>>& candidates) {
  FipChoice choice;
  std::map<std::pair<std::string, Ipv4Address>, const Keyed<FipSpec>*> by_fixed;
  for (const Keyed<FipSpec>* c : by_age(candidates)) {
    const FipSpec& f = c->spec;
    const auto claim = std::pair{f.network, f.fixed};
    if (const auto it = by_fixed.find(claim); it != by_fixed.end()) {
      choice.refused[c->key] = fmt::format(
          "floating IP {}: {} on {} already has floating IP {} (key {}, created first)", f.public_ip.to_string(),
          f.fixed.to_string(), f.network, it->second->spec.public_ip.to_string(), it->second->key);
      continue;
    }
    by_fixed[claim] = c;
    choice.winners[f.public_ip] = *c;
  }
  return choice;
}

std::map<std::pair<std::string, Ipv4Address>, Keyed<Placement>> choose_placements(
    const std::vector<Keyed<Placement>>& candidates) {
  std::map<std::pair<std::string, Ipv4Address>, Keyed<Placement>> out;
  for (const Keyed<Placement>* c : by_age(candidates)) out.try_emplace({c->spec.network, c->spec.fixed}, *c);
  return out;
}

std::optional<Topology> parse_topology(const std::string& value, std::string& reason) {
  const json j = json::parse(value, nullptr, false);
  const auto mode = j.is_object() && j.contains("mode") && j["mode"].is_string() ? j["mode"].get<std::string>() : "";
  if (mode == "mesh") return Topology::kMesh;
  if (mode == "star") return Topology::kStar;
  reason = "expected {\"mode\": \"mesh\"} or {\"mode\": \"star\"}";
  return std::nullopt;
}

std::string topology_value(Topology topology) {
  return json{{"mode", topology_name(topology)}}.dump();
}

const char* topology_name(Topology topology) noexcept {
  return topology == Topology::kStar ? "star" : "mesh";
}

}  // namespace inception::cluster
