#include "control/cluster/desired_state.h"

#include <fmt/format.h>

#include <algorithm>

#include "control/cluster/operator_write.h"
#include "control/protocol.h"
#include "inception/log.h"

namespace inception::cluster {

using nlohmann::json;

DesiredState::DesiredState(const ClusterConfig& config, Controller& controller, Refusals& refusals)
    : config_(config),
      networks_prefix_(config.prefix + "networks/"),
      fips_prefix_(config.prefix + "fips/"),
      placements_prefix_(config.prefix + "placements/"),
      own_placements_prefix_(config.prefix + "placements/" + config.name + "/"),
      controller_(controller),
      refusals_(refusals),
      writer_(config.endpoints) {}

DesiredState::Part DesiredState::part_of(const std::string& key) const {
  if (key.starts_with(networks_prefix_)) return Part::kNetworks;
  if (key.starts_with(fips_prefix_)) return Part::kFips;
  if (key.starts_with(placements_prefix_)) return Part::kPlacements;
  return Part::kNone;
}

// ---- the membership thread: views, and applying them

void DesiredState::lease_changed(int64_t lease) {
  lease_ = lease;
  published_.clear();  // went with the old lease, or goes with it soon: written again
}

void DesiredState::resync(const std::vector<KeyValue>& kvs) {
  std::lock_guard lock(mutex_);
  networks_view_.clear();
  fips_view_.clear();
  placements_view_.clear();
  published_.clear();  // what etcd holds of ours is what this read says
  for (const KeyValue& kv : kvs) {
    switch (part_of(kv.key)) {
      case Part::kNetworks:
        networks_view_[kv.key] = kv;
        break;
      case Part::kFips:
        fips_view_[kv.key] = kv;
        break;
      case Part::kPlacements:
        placements_view_[kv.key] = kv;
        // Ours from before (a restart, a lost lease): rewritten or deleted
        // at the next tick rather than left to expire with the old lease.
        if (kv.key.starts_with(own_placements_prefix_)) {
          if (kv.lease == lease_ && lease_ != 0)
            published_[kv.key] = kv.value;
          else
            stale_.insert(kv.key);
        }
        break;
      case Part::kNone:
        break;
    }
  }
  apply_networks();
  apply_fips();
}

void DesiredState::on_event(const WatchEvent& event) {
  const Part part = part_of(event.kv.key);
  if (part == Part::kNone) return;
  std::lock_guard lock(mutex_);
  auto& view = part == Part::kNetworks ? networks_view_ : part == Part::kFips ? fips_view_ : placements_view_;
  if (event.type == WatchEvent::Type::kDelete)
    view.erase(event.kv.key);
  else
    view[event.kv.key] = event.kv;
  // One of our placements deleted or overwritten by someone else: the next
  // tick writes it again if the port is still here.
  if (event.kv.key.starts_with(own_placements_prefix_)) {
    const auto it = published_.find(event.kv.key);
    if (it != published_.end() && (event.type == WatchEvent::Type::kDelete || it->second != event.kv.value))
      published_.erase(it);
  }
  if (part == Part::kNetworks) apply_networks();
  // A network that came or went may make a floating IP servable or not.
  apply_fips();
}

std::vector<Keyed<NetworkSpec>> DesiredState::network_candidates() {
  std::vector<Keyed<NetworkSpec>> out;
  for (const auto& [key, kv] : networks_view_) {
    std::string reason;
    if (auto spec = parse_network(key.substr(networks_prefix_.size()), kv.value, reason))
      out.push_back({key, kv.create_revision, std::move(*spec)});
    else
      refusals_.refuse(key, KeyKind::kNetwork, RefusalCause::kInvalid, reason);
  }
  return out;
}

bool DesiredState::unapply_network(const std::string& name) {
  AppliedNetwork& applied = applied_networks_.at(name);
  try {
    if (applied.router_ours) {
      controller_.del_router(name);
      applied.router_ours = false;
    }
    controller_.del_network(name, true);
  } catch (const ControlError& e) {
    // Ports (or floating IPs) still use it here: it stays until they go,
    // and every later change tries again.
    if (applied.stuck != e.what())
      log::warning("cluster: network {} left the cluster but stays here for now: {}", name, e.what());
    applied.stuck = e.what();
    return false;
  }
  log::info("cluster: network {} removed (its key went)", name);
  applied_networks_.erase(name);
  return true;
}

void DesiredState::apply_networks() {
  const std::vector<Keyed<NetworkSpec>> candidates = network_candidates();
  const NetworkChoice choice = choose_networks(candidates);
  for (const auto& [key, reason] : choice.refused)
    refusals_.refuse(key, KeyKind::kNetwork, RefusalCause::kDuplicate, reason);
  std::vector<std::string> keys;
  for (const auto& [key, kv] : networks_view_) keys.push_back(key);
  refusals_.keep_only(KeyKind::kNetwork, keys);

  // What went, or changed in a way only a new network gives (VNI, FDB size).
  std::vector<std::string> names;
  for (const auto& [name, applied] : applied_networks_) names.push_back(name);
  for (const std::string& name : names) {
    const auto w = choice.winners.find(name);
    const NetworkConfig& was = applied_networks_.at(name).spec.config;
    if (w == choice.winners.end() || w->second.spec.config.vni != was.vni ||
        w->second.spec.config.fdb_limit != was.fdb_limit)
      unapply_network(name);
  }

  for (const auto& [name, winner] : choice.winners) {
    const NetworkSpec& spec = winner.spec;
    auto applied = applied_networks_.find(name);
    if (applied != applied_networks_.end() && applied->second.spec == spec) {
      applied->second.stuck.clear();  // wanted again
      refusals_.accept(winner.key);
      continue;
    }
    const bool new_network = applied == applied_networks_.end();
    if (!new_network && (applied->second.spec.config.vni != spec.config.vni ||
                         applied->second.spec.config.fdb_limit != spec.config.fdb_limit)) {
      // The old one could not go (see unapply_network): the new one waits.
      refusals_.refuse(winner.key, KeyKind::kNetwork, RefusalCause::kConflict, applied->second.stuck);
      continue;
    }
    if (new_network) {
      try {
        controller_.add_network(spec.config, true);
      } catch (const ControlError& e) {
        refusals_.refuse(winner.key, KeyKind::kNetwork, RefusalCause::kConflict, e.what());
        continue;
      }
      applied = applied_networks_.emplace(name, AppliedNetwork{spec, false, {}}).first;
    } else if (applied->second.router_ours && !(applied->second.spec == spec)) {
      try {
        controller_.del_router(name);
        applied->second.router_ours = false;
      } catch (const ControlError& e) {
        refusals_.refuse(winner.key, KeyKind::kNetwork, RefusalCause::kConflict, e.what());
        continue;
      }
    }
    std::string refused;
    if (spec.router && !applied->second.router_ours) {
      std::optional<RouterConfig> here;
      for (const RouterConfig& r : controller_.nat().routers)
        if (r.network == name) here = r;
      if (here && here->address.to_string() != spec.router->to_string()) {
        refused = fmt::format("router on network {}: this rVM's is {}; the cluster's {} refused", name,
                              here->address.to_string(), spec.router->to_string());
      } else if (!here) {
        try {
          controller_.add_router(name, spec.router->to_string());
          applied->second.router_ours = true;
        } catch (const ControlError& e) {
          refused = e.what();
        }
      }
    }
    if (!refused.empty()) {
      refusals_.refuse(winner.key, KeyKind::kNetwork, RefusalCause::kConflict, refused);
      // A new network comes whole or not at all.
      if (new_network) unapply_network(name);
      continue;
    }
    applied->second.spec = spec;
    refusals_.accept(winner.key);
  }
}

std::vector<Keyed<FipSpec>> DesiredState::fip_candidates() {
  std::vector<Keyed<FipSpec>> out;
  for (const auto& [key, kv] : fips_view_) {
    std::string reason;
    if (auto spec = parse_fip(key.substr(fips_prefix_.size()), kv.value, reason))
      out.push_back({key, kv.create_revision, *spec});
    else
      refusals_.refuse(key, KeyKind::kFip, RefusalCause::kInvalid, reason);
  }
  return out;
}

std::vector<Keyed<Placement>> DesiredState::placement_candidates() {
  std::vector<Keyed<Placement>> out;
  std::vector<std::string> keys;
  for (const auto& [key, kv] : placements_view_) {
    keys.push_back(key);
    std::string reason;
    if (auto p = parse_placement(key.substr(placements_prefix_.size()), kv.value, reason)) {
      out.push_back({key, kv.create_revision, *p});
      refusals_.accept(key);
    } else {
      refusals_.refuse(key, KeyKind::kPlacement, RefusalCause::kInvalid, reason);
    }
  }
  refusals_.keep_only(KeyKind::kPlacement, keys);
  return out;
}

void DesiredState::apply_fips() {
  const FipChoice choice = choose_fips(fip_candidates());
  for (const auto& [key, reason] : choice.refused)
    refusals_.refuse(key, KeyKind::kFip, RefusalCause::kDuplicate, reason);
  std::vector<std::string> keys;
  for (const auto& [key, kv] : fips_view_) keys.push_back(key);
  refusals_.keep_only(KeyKind::kFip, keys);

  const auto placed = choose_placements(placement_candidates());
  std::map<Ipv4Address, const Keyed<FipSpec>*> wanted;
  for (const auto& [public_ip, winner] : choice.winners) {
    const auto p = placed.find({winner.spec.network, winner.spec.fixed});
    if (p != placed.end() && p->second.spec.rvm == config_.name)
      wanted[public_ip] = &winner;
    else
      refusals_.accept(winner.key);  // a conflict here matters only while it is served here
  }

  for (auto it = applied_fips_.begin(); it != applied_fips_.end();) {
    const auto w = wanted.find(it->first);
    if (w != wanted.end() && w->second->spec == it->second) {
      ++it;
      continue;
    }
    try {
      controller_.del_fip(it->first.to_string(), true);
      log::info("cluster: floating IP {} no longer served here", it->first.to_string());
    } catch (const ControlError& e) {
      log::warning("cluster: floating IP {}: {}", it->first.to_string(), e.what());
    }
    it = applied_fips_.erase(it);
  }
  for (const auto& [public_ip, winner] : wanted) {
    if (applied_fips_.contains(public_ip)) continue;
    const FipSpec& f = winner->spec;
    try {
      Origin origin;
      origin.cluster = true;
      controller_.add_fip(public_ip.to_string(), f.fixed.to_string(), f.network, origin, true);
    } catch (const ControlError& e) {
      refusals_.refuse(winner->key, KeyKind::kFip, RefusalCause::kConflict, e.what());
      continue;
    }
    applied_fips_[public_ip] = f;
    refusals_.accept(winner->key);
    log::info("cluster: floating IP {} served here ({} on {} is placed on this rVM)", public_ip.to_string(),
              f.fixed.to_string(), f.network);
  }
}

// ---- the membership thread: this rVM's placements

std::map<std::string, Placement> DesiredState::local_placements() {
  std::map<std::string, Placement> out;
  for (const PortStatus& p : controller_.ports()) {
    const PortConfig& c = p.config;
    // A guest plugged by libvirt but not running here (before or after a
    // live migration) has unbound MACs: it is not placed here yet, or no
    // longer.
    if (!c.port_security_enabled() || c.macs.empty() || (p.origin.is_domain() && !p.macs_bound)) continue;
    for (const Ipv4Prefix& ip : c.ips) {
      if (ip.length != 32) continue;  // a range the guest may use, not an address it has
      const Placement placement{config_.name, c.network, ip.address, c.macs.front(), c.name};
      out.emplace(placements_prefix_ + placement_rest(placement), placement);
    }
  }
  return out;
}

void DesiredState::tick(EtcdClient& session, int64_t lease) {
  if (lease != lease_) lease_changed(lease);
  {
    // A network whose key went while ports used it goes once they do,
    // without waiting for another change in etcd.
    std::lock_guard lock(mutex_);
    if (std::any_of(applied_networks_.begin(), applied_networks_.end(),
                    [](const auto& entry) { return !entry.second.stuck.empty(); }))
      apply_networks();
  }
  const auto wanted = local_placements();
  for (const auto& [key, placement] : wanted) {
    const std::string value = placement_value(placement);
    const auto it = published_.find(key);
    if (it != published_.end() && it->second == value) continue;
    session.put(key, value, lease);
    published_[key] = value;
    stale_.erase(key);
    log::info("cluster: placed {} on {} here (port {})", placement.fixed.to_string(), placement.network,
              placement.port);
  }
  for (auto it = published_.begin(); it != published_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    session.del(it->first);
    log::info("cluster: placement {} withdrawn", it->first);
    it = published_.erase(it);
  }
  for (const std::string& key : stale_)
    if (!wanted.contains(key)) session.del(key);
  stale_.clear();
}

// ---- the control socket's thread: cluster-wide commands

json DesiredState::add_network(const json& args) {
  const JsonReader r(args, "args");
  const std::string name = r.required_string("name");
  json value = json::object();
  for (const char* field : {"vni", "fdb_limit", "router"})
    if (const auto it = args.find(field); it != args.end()) value[field] = *it;
  std::string reason;
  const auto spec = parse_network(name, value.dump(), reason);
  if (!spec) throw ControlError(reason);
  const uint32_t vni = spec->config.vni;
  {
    std::lock_guard lock(mutex_);
    for (const Keyed<NetworkSpec>& other : network_candidates())
      if (other.spec.config.vni == vni && other.spec.config.name != name)
        throw ControlError(
            fmt::format("network {}: VNI {} is already used by network {}", name, vni, other.spec.config.name));
  }
  for (const NetworkStatus& local : controller_.networks()) {
    if (local.config.name == name && local.config.vni != vni)
      throw ControlError(fmt::format("network {} already exists here with VNI {} (typed); VNI {} refused", name,
                                     local.config.vni, vni));
    if (local.config.name != name && local.config.vni == vni)
      throw ControlError(fmt::format("network {}: VNI {} is already used by network {}", name, vni, local.config.name));
  }
  const std::string key = networks_prefix_ + name;
  const bool created = with_etcd([&] {
    std::lock_guard lock(writer_mutex_);
    return writer_.create(key, network_value(*spec));
  });
  if (!created) throw ControlError(fmt::format("cluster network {} already exists", name));
  return {
      {"cluster_wide", true},
      {"key", key},
      {"message", fmt::format("network {} (VNI {}) written to etcd: every switch of the cluster adds it", name, vni)}};
}

json DesiredState::del_network(const json& args) {
  const std::string name = JsonReader(args, "args").required_string("name");
  const std::string key = networks_prefix_ + name;
  const int64_t deleted = with_etcd([&] {
    std::lock_guard lock(writer_mutex_);
    return writer_.del(key);
  });
  if (deleted == 0) throw ControlError(fmt::format("cluster network {} does not exist", name));
  return {
      {"cluster_wide", true},
      {"key", key},
      {"message", fmt::format("network {} deleted from etcd: every switch deletes it (where no port holds it)", name)}};
}

json DesiredState::list_networks() const {
  std::lock_guard lock(mutex_);
  json out = json::array();
  for (const auto& [key, kv] : networks_view_) {
    const std::string name = key.substr(networks_prefix_.size());
    std::string reason;
    const auto spec = parse_network(name, kv.value, reason);
    json j = {{"name", name}, {"key", key}};
    if (spec) {
      j["vni"] = spec->config.vni;
      j["fdb_limit"] = spec->config.fdb_limit;
      j["router"] = spec->router ? json(spec->router->to_string()) : json();
    }
    const auto applied = applied_networks_.find(name);
    j["applied"] = applied != applied_networks_.end() && spec && applied->second.spec == *spec;
    j["refused"] = json();
    for (const Refusal& r : refusals_.list())
      if (r.key == key) j["refused"] = r.reason;
    out.push_back(j);
  }
  return out;
}

json DesiredState::add_fip(const json& args) {
  const JsonReader r(args, "args");
  const std::string public_text = r.required_string("public");
  json value = json::object();
  for (const char* field : {"fixed", "network"})
    if (const auto it = args.find(field); it != args.end()) value[field] = *it;
  std::string reason;
  const auto spec = parse_fip(public_text, value.dump(), reason);
  if (!spec) throw ControlError(reason);
  {
    std::lock_guard lock(mutex_);
    std::vector<FipConfig> existing;
    for (const Keyed<FipSpec>& f : fip_candidates())
      existing.push_back({f.spec.public_ip, f.spec.fixed, f.spec.network});
    try {
      validate_fip({spec->public_ip, spec->fixed, spec->network}, existing);
    } catch (const ConfigError& e) {
      throw ControlError(e.what());
    }
    bool known = false;
    for (const Keyed<NetworkSpec>& n : network_candidates()) known = known || n.spec.config.name == spec->network;
    for (const NetworkStatus& n : controller_.networks()) known = known || n.config.name == spec->network;
    if (!known)
      throw ControlError(fmt::format("floating IP {}: network {} is neither a network of the cluster nor this rVM's",
                                     public_text, spec->network));
  }
  const std::string key = fips_prefix_ + spec->public_ip.to_string();
  const bool created = with_etcd([&] {
    std::lock_guard lock(writer_mutex_);
    return writer_.create(key, fip_value(*spec));
  });
  if (!created) throw ControlError(fmt::format("floating IP {} already exists", spec->public_ip.to_string()));
  return {{"cluster_wide", true},
          {"key", key},
          {"message",
           fmt::format("floating IP {} -> {} on {} written to etcd: served by the rVM where {} is placed",
                       spec->public_ip.to_string(), spec->fixed.to_string(), spec->network, spec->fixed.to_string())}};
}

json DesiredState::del_fip(const json& args) {
  const std::string public_text = JsonReader(args, "args").required_string("public");
  const auto public_ip = Ipv4Address::parse(public_text);
  if (!public_ip) throw ControlError(fmt::format("floating IP '{}' is not an IPv4 address", public_text));
  const std::string key = fips_prefix_ + public_ip->to_string();
  const int64_t deleted = with_etcd([&] {
    std::lock_guard lock(writer_mutex_);
    return writer_.del(key);
  });
  if (deleted == 0) throw ControlError(fmt::format("cluster floating IP {} does not exist", public_text));
  return {{"cluster_wide", true},
          {"key", key},
          {"message", fmt::format("floating IP {} deleted from etcd: the rVM serving it stops", public_text)}};
}

json DesiredState::list_fips() const {
  std::lock_guard lock(mutex_);
  std::map<std::pair<std::string, Ipv4Address>, std::string> served_by;
  {
    std::vector<Keyed<Placement>> placements;
    for (const auto& [key, kv] : placements_view_) {
      std::string reason;
      if (auto p = parse_placement(key.substr(placements_prefix_.size()), kv.value, reason))
        placements.push_back({key, kv.create_revision, *p});
    }
    for (const auto& [where, p] : choose_placements(placements)) served_by[where] = p.spec.rvm;
  }
  json out = json::array();
  for (const auto& [key, kv] : fips_view_) {
    const std::string public_text = key.substr(fips_prefix_.size());
    std::string reason;
    const auto spec = parse_fip(public_text, kv.value, reason);
    json j = {{"public", public_text}, {"key", key}, {"fixed", json()}, {"network", json()}, {"placed_on", json()}};
    if (spec) {
      j["fixed"] = spec->fixed.to_string();
      j["network"] = spec->network;
      if (const auto it = served_by.find({spec->network, spec->fixed}); it != served_by.end())
        j["placed_on"] = it->second;
      j["served_here"] = applied_fips_.contains(spec->public_ip);
    }
    j["refused"] = json();
    for (const Refusal& r : refusals_.list())
      if (r.key == key) j["refused"] = r.reason;
    out.push_back(j);
  }
  return out;
}

ModuleCommands commands(DesiredState& state) {
  return {
      {"cluster.network.add", [&state](const json& a) { return state.add_network(a); }},
      {"cluster.network.del", [&state](const json& a) { return state.del_network(a); }},
      {"cluster.network.list", [&state](const json&) { return state.list_networks(); }},
      {"cluster.fip.add", [&state](const json& a) { return state.add_fip(a); }},
      {"cluster.fip.del", [&state](const json& a) { return state.del_fip(a); }},
      {"cluster.fip.list", [&state](const json&) { return state.list_fips(); }},
  };
}

}  // namespace inception::cluster
