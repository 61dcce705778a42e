#include "control/cluster/membership.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "control/cluster/keys.h"
#include "control/cluster/operator_write.h"
#include "control/metrics.h"
#include "control/protocol.h"
#include "inception/log.h"

namespace inception::cluster {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kRetryPeriod = std::chrono::milliseconds(500);  // etcd away: try again this often

// A keepalive goes out TTL/3 after the last answered one and must reach
// the leader before the TTL runs out. A killed member refuses at once; a
// hung or cut-off one is silent: it may cost half the TTL before the next
// member is asked (answered by 5/6 TTL), one that does not even accept the
// connection a sixth. Not less: while the leader is being replaced a
// follower holds a keepalive until the new leader takes it (0.5-1.2 s
// with the tests' 500 ms election timeout), and the new leader extends
// every lease, so waiting there costs nothing. Capped at the client's
// defaults for long TTLs.
EtcdClient::Options client_options(const ClusterConfig& config) {
  const std::chrono::milliseconds ttl(config.lease_ttl_s * 1000);
  const EtcdClient::Options defaults;
  return {.connect_timeout = std::min(defaults.connect_timeout, ttl / 6),
          .request_timeout = std::min(defaults.request_timeout, ttl / 2)};
}

}  // namespace

std::string member_key(const ClusterConfig& config, const std::string& name) {
  return config.prefix + "members/" + name;
}

std::string member_value(const Member& m) {
  json j = {{"name", m.name}, {"vtep", m.vtep.to_string()}, {"data_center", m.data_center}, {"roles", m.roles}};
  if (m.public_vtep) j["public_vtep"] = m.public_vtep->to_string();
  return j.dump();
}

std::optional<Member> parse_member(const std::string& key_name, const std::string& value, std::string& reason) {
  if (!valid_object_name(key_name, kMaxClusterNameLength)) {
    reason = fmt::format("'{}' is not a member name (1-{} characters of A-Z a-z 0-9 . _ -)", key_name,
                         kMaxClusterNameLength);
    return std::nullopt;
  }
  const json j = json::parse(value, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    reason = "the value is not a JSON object";
    return std::nullopt;
  }
  auto text = [&](const char* field) -> std::optional<std::string> {
    const auto it = j.find(field);
    if (it == j.end() || !it->is_string()) {
      reason = fmt::format("'{}' is missing or not a string", field);
      return std::nullopt;
    }
    return it->get<std::string>();
  };
  Member m;
  const auto name = text("name"), vtep = text("vtep"), dc = text("data_center");
  if (!name || !vtep || !dc) return std::nullopt;
  if (*name != key_name) {
    reason = fmt::format("its name '{}' is not its key's", *name);
    return std::nullopt;
  }
  m.name = *name;
  const auto ip = Ipv4Address::parse(*vtep);
  if (!ip) {
    reason = fmt::format("vtep '{}' is not an IPv4 address", *vtep);
    return std::nullopt;
  }
  m.vtep = *ip;
  if (!valid_object_name(*dc, kMaxClusterNameLength)) {
    reason = fmt::format("data_center '{}' is not a data center name", *dc);
    return std::nullopt;
  }
  m.data_center = *dc;
  if (const auto roles = j.find("roles"); roles != j.end()) {
    if (!roles->is_array()) {
      reason = "'roles' is not an array of strings";
      return std::nullopt;
    }
    for (const json& role : *roles) {
      if (!role.is_string()) {
        reason = "'roles' is not an array of strings";
        return std::nullopt;
      }
      m.roles.push_back(role.get<std::string>());
    }
  }
  if (j.contains("public_vtep")) {
    const auto given = j["public_vtep"].is_string() ? j["public_vtep"].get<std::string>() : j["public_vtep"].dump();
    m.public_vtep = Ipv4Address::parse(given);
    if (!m.public_vtep) {
      reason = fmt::format("public_vtep '{}' is not an IPv4 address", given);
      return std::nullopt;
    }
  }
  return m;
}

Membership::Membership(const ClusterConfig& config, Ipv4Address vtep, Controller& controller, Refusals& refusals,
                       KeySubscriber* subscriber)
    : config_(config),
      self_{config.name, vtep, config.data_center, config.roles, config.public_vtep},
      members_prefix_(config.prefix + "members/"),
      leaders_prefix_(config.prefix + "gateway_leaders/"),
      topology_prefix_(config.prefix + "topology/"),
      controller_(controller),
      refusals_(refusals),
      subscriber_(subscriber),
      session_(config.endpoints, client_options(config)),
      watcher_(config.endpoints, client_options(config)),
      writer_(config.endpoints) {
  status_.endpoint = session_.endpoint();
  status_.watch_endpoint = watcher_.endpoint();
  status_.lease_ttl_s = config.lease_ttl_s;
  log::info("cluster: member {} of data center {}, VTEP {}, etcd {}", self_.name, self_.data_center, vtep.to_string(),
            fmt::join(config.endpoints, ","));
  thread_ = std::thread([this] { run(); });
}

Membership::~Membership() {
  stopping_.store(true, std::memory_order_relaxed);
  watcher_.stop();
  {
    std::lock_guard lock(wait_mutex_);
    wake_.notify_all();
  }
  thread_.join();
  const int64_t lease = status().lease_id;
  if (lease == 0) return;
  try {
    session_.revoke(lease);
    log::info("cluster: left (lease {:x} revoked)", lease);
  } catch (const EtcdError& e) {
    log::warning("cluster: could not revoke lease {:x}, the others drop this member when it expires: {}", lease,
                 e.what());
  }
}

MembershipStatus Membership::status() const {
  std::lock_guard lock(status_mutex_);
  MembershipStatus s = status_;
  for (const auto& [key, member] : members_) s.members.push_back(member);
  std::sort(s.members.begin(), s.members.end(), [](const Member& a, const Member& b) { return a.name < b.name; });
  s.refused = refusals_.list();
  s.refused_total = refusals_.total();
  s.topology = topologies_.contains(self_.data_center) ? "star" : "mesh";
  return s;
}

json Membership::set_topology(const json& args) {
  const JsonReader r(args, "args");
  const std::string mode = r.required_string("mode");
  const std::string data_center = r.string("data_center").value_or(self_.data_center);
  if (mode != "mesh" && mode != "star")
    throw ControlError(fmt::format("cluster topology: '{}' is not mesh or star", mode));
  if (!valid_object_name(data_center, kMaxClusterNameLength))
    throw ControlError(fmt::format("cluster topology: '{}' is not a data center name", data_center));
  const Topology topology = mode == "star" ? Topology::kStar : Topology::kMesh;
  const std::string key = topology_prefix_ + data_center;
  with_etcd([&] {
    std::lock_guard lock(writer_mutex_);
    writer_.put(key, topology_value(topology));
  });
  return {
      {"cluster_wide", true},
      {"key", key},
      {"message", topology == Topology::kStar
                      ? fmt::format("data center {}: a star around its active gateway (written to etcd)", data_center)
                      : fmt::format("data center {}: a full mesh (written to etcd)", data_center)}};
}

void Membership::wait(std::chrono::milliseconds period) {
  std::unique_lock lock(wait_mutex_);
  wake_.wait_for(lock, period, [this] { return stopping_.load(std::memory_order_relaxed); });
}

namespace {

// An error's text without curl's "after N ms", which differs on every try:
// while etcd stays away, the same cause is logged once, not twice a second.
std::string error_cause(std::string text) {
  const size_t after = text.find(" after ");
  if (after == std::string::npos) return text;
  const size_t ms = text.find(" ms", after);
  if (ms == std::string::npos) return text;
  return text.erase(after, ms + 3 - after);
}

}  // namespace

void Membership::note_error(const std::string& what) {
  std::lock_guard lock(status_mutex_);
  if (error_cause(status_.last_error) != error_cause(what)) log::warning("cluster: {}", what);
  status_.last_error = what;
}

void Membership::set_connected(bool connected) {
  std::lock_guard lock(status_mutex_);
  if (connected == status_.connected) return;
  status_.connected = connected;
  if (connected) {
    status_.endpoint = session_.endpoint();
    status_.watch_endpoint = watcher_.endpoint();
    log::info("cluster: connected to etcd {}", status_.endpoint);
  } else {
    log::warning("cluster: disconnected from etcd; forwarding with the {} member(s) known", members_.size());
  }
}

void Membership::note_endpoints() {
  // Both clients move on by themselves when a member goes away (the
  // watch without a break): say where they went.
  std::lock_guard lock(status_mutex_);
  if (const std::string now = session_.endpoint(); now != status_.endpoint) {
    log::info("cluster: etcd requests go to {} now ({} did not answer)", now, status_.endpoint);
    status_.endpoint = now;
  }
  if (const std::string now = watcher_.endpoint(); now != status_.watch_endpoint) {
    log::info("cluster: the watch continues on etcd {} (was {}), from revision {}", now, status_.watch_endpoint,
              status_.revision + 1);
    status_.watch_endpoint = now;
  }
}

void Membership::run() {
  bool ever_connected = false;
  while (!stopping_.load(std::memory_order_relaxed)) {
    bool again_at_once = false;
    try {
      ensure_registered();
      if (need_resync_) resync();
      {
        std::lock_guard lock(status_mutex_);
        if (ever_connected && !status_.connected) ++status_.reconnects;
      }
      ever_connected = true;
      set_connected(true);
      int64_t from = 0;
      {
        std::lock_guard lock(status_mutex_);
        from = status_.revision + 1;
      }
      const WatchEnd end = watcher_.watch(
          config_.prefix, from, [this](const WatchEvent& e) { on_event(e); }, [this] { return tick(); });
      switch (end.reason) {
        case WatchEnd::Reason::kStopped:
          // By the destructor, or by tick(): re-register at once, or the
          // keepalive failed (tick noted why and said disconnected).
          again_at_once = !session_lost_;
          break;
        case WatchEnd::Reason::kCompacted:
          log::info("cluster: revision {} was compacted (oldest kept {}): reading every key again", from,
                    end.compact_revision);
          need_resync_ = true;
          again_at_once = true;
          break;
        case WatchEnd::Reason::kCancelled:
        case WatchEnd::Reason::kBroken:
          note_error(end.error);
          set_connected(false);
          session_lost_ = true;
          break;
      }
    } catch (const EtcdError& e) {
      note_error(e.what());
      set_connected(false);
      session_lost_ = true;
    }
    if (!again_at_once) wait(kRetryPeriod);
  }
}

void Membership::ensure_registered() {
  int64_t lease = 0;
  {
    std::lock_guard lock(status_mutex_);
    lease = status_.lease_id;
  }
  if (lease != 0 && session_lost_) {
    // Back after an outage: does etcd still hold the lease (and our key)?
    if (session_.keepalive(lease) == 0) {
      log::warning("cluster: lease {:x} expired while etcd was away: registering again", lease);
      lease = 0;
    }
  }
  session_lost_ = false;
  if (lease == 0) {
    const Lease granted = session_.grant(config_.lease_ttl_s);
    lease = granted.id;
    need_put_ = true;
    need_resync_ = true;  // what happened while we were gone is not in our watch
    {
      std::lock_guard lock(status_mutex_);
      status_.lease_id = granted.id;
      status_.lease_ttl_s = granted.ttl_s;
    }
    if (subscriber_) subscriber_->lease_changed(granted.id);
  }
  if (need_put_) {
    session_.put(member_key(config_, self_.name), member_value(self_), lease);
    need_put_ = false;
    log::info("cluster: registered as {} (lease {:x}, TTL {} s)", self_.name, lease, config_.lease_ttl_s);
  }
  next_keepalive_ = Clock::now() + std::chrono::milliseconds(config_.lease_ttl_s * 1000 / 3);
}

bool Membership::tick() {
  if (stopping_.load(std::memory_order_relaxed) || need_put_) return false;
  int64_t lease = 0;
  {
    std::lock_guard lock(status_mutex_);
    lease = status_.lease_id;
  }
  try {
    if (Clock::now() >= next_keepalive_) {
      const int64_t ttl = session_.keepalive(lease);
      if (ttl == 0) {
        note_error(fmt::format("lease {:x} expired (keepalives late?): registering again", lease));
        std::lock_guard lock(status_mutex_);
        status_.lease_id = 0;
        need_resync_ = true;
        return false;
      }
      next_keepalive_ = Clock::now() + std::chrono::milliseconds(ttl * 1000 / 3);
    }
    note_endpoints();
    if (subscriber_) subscriber_->tick(session_, lease);
  } catch (const EtcdError& e) {
    note_error(e.what());
    set_connected(false);
    session_lost_ = true;
    return false;
  }
  return true;
}

void Membership::resync() {
  const RangeResult r = session_.get_prefix(config_.prefix);
  {
    std::lock_guard lock(status_mutex_);
    members_.clear();
    leaders_.clear();
    topologies_.clear();
    std::vector<std::string> keys, topology_keys;
    for (const KeyValue& kv : r.kvs) {
      note_leader(kv, false);
      note_topology(kv, false);
      if (kv.key.starts_with(topology_prefix_)) topology_keys.push_back(kv.key);
      if (!kv.key.starts_with(members_prefix_)) continue;
      keys.push_back(kv.key);
      std::string reason;
      if (auto m = parse_member(kv.key.substr(members_prefix_.size()), kv.value, reason)) {
        members_.emplace(kv.key, std::move(*m));
        refusals_.accept(kv.key);
      } else {
        refusals_.refuse(kv.key, KeyKind::kMember, RefusalCause::kInvalid, reason);
      }
    }
    refusals_.keep_only(KeyKind::kMember, keys);
    refusals_.keep_only(KeyKind::kTopology, topology_keys);
    status_.revision = r.revision;
    ++status_.resyncs;
  }
  need_resync_ = false;
  apply();
  if (subscriber_) subscriber_->resync(r.kvs);
}

void Membership::on_event(const WatchEvent& event) {
  const std::string& key = event.kv.key;
  {
    std::lock_guard lock(status_mutex_);
    status_.revision = std::max(status_.revision, event.kv.mod_revision);
  }
  if (!key.starts_with(members_prefix_)) {
    if (key.starts_with(leaders_prefix_) || key.starts_with(topology_prefix_)) {
      {
        std::lock_guard lock(status_mutex_);
        note_leader(event.kv, event.type == WatchEvent::Type::kDelete);
        note_topology(event.kv, event.type == WatchEvent::Type::kDelete);
      }
      apply();
    }
    if (subscriber_) subscriber_->on_event(event);
    return;
  }
  const std::string name = key.substr(members_prefix_.size());
  {
    std::lock_guard lock(status_mutex_);
    if (event.type == WatchEvent::Type::kDelete) {
      members_.erase(key);
      refusals_.accept(key);
      if (name == self_.name) {
        log::warning("cluster: our key {} was deleted: registering again", key);
        need_put_ = true;  // tick() ends the watch
      }
    } else {
      std::string reason;
      if (auto m = parse_member(name, event.kv.value, reason)) {
        members_[key] = std::move(*m);
        refusals_.accept(key);
      } else {
        members_.erase(key);
        refusals_.refuse(key, KeyKind::kMember, RefusalCause::kInvalid, reason);
      }
    }
  }
  apply();
}

void Membership::note_leader(const KeyValue& kv, bool deleted) {
  if (!kv.key.starts_with(leaders_prefix_)) return;
  const std::string data_center = kv.key.substr(leaders_prefix_.size());
  // GatewayHa judges and reports a bad leader value; here it only means no
  // known gateway for that data center.
  const auto leader = deleted ? std::nullopt : parse_gateway_leader(kv.value);
  if (leader)
    leaders_[data_center] = leader->name;
  else
    leaders_.erase(data_center);
}

void Membership::note_topology(const KeyValue& kv, bool deleted) {
  if (!kv.key.starts_with(topology_prefix_)) return;
  const std::string data_center = kv.key.substr(topology_prefix_.size());
  std::string reason;
  const auto topology = deleted ? std::optional(Topology::kMesh) : parse_topology(kv.value, reason);
  if (deleted || topology)
    refusals_.accept(kv.key);
  else
    refusals_.refuse(kv.key, KeyKind::kTopology, RefusalCause::kInvalid, reason);
  // A refused value leaves the data center as it was.
  if (topology == Topology::kStar)
    topologies_[data_center] = Topology::kStar;
  else if (topology)
    topologies_.erase(data_center);
}

void Membership::apply() {
  std::map<Ipv4Address, ClusterPeer> peers;
  std::map<Ipv4Address, std::vector<std::string>> keys_of;
  {
    std::lock_guard lock(status_mutex_);
    const auto ours = leaders_.find(self_.data_center);
    const bool leading = ours != leaders_.end() && ours->second == self_.name;
    const bool star = topologies_.contains(self_.data_center);
    for (const auto& [key, m] : members_) {
      if (m.name == self_.name || m.data_center != self_.data_center || m.vtep == self_.vtep) continue;
      // A star: the hub peers with everyone and relays (no group), the
      // others with the hub alone; without a hub, nobody.
      if (star && !leading && (ours == leaders_.end() || m.name != ours->second)) continue;
      peers.emplace(m.vtep, ClusterPeer{m.name, m.vtep, "", star && leading ? kNoHorizon : kMeshHorizon});
      keys_of[m.vtep].push_back(key);
    }
    // The other data centers, through their active gateways and only from
    // this one's: a second tunnel between two data centers would carry
    // every flood twice.
    if (self_.public_vtep && leading) {
      uint8_t horizon = kFirstRemoteHorizon;  // in data center order, the same on every switch
      for (const auto& [data_center, name] : leaders_) {
        if (data_center == self_.data_center) continue;
        const auto it = members_.find(members_prefix_ + name);
        if (it == members_.end() || !it->second.public_vtep || it->second.data_center != data_center) continue;
        if (!peers.emplace(*it->second.public_vtep, ClusterPeer{name, it->second.vtep, data_center, horizon}).second)
          continue;
        keys_of[*it->second.public_vtep].push_back(it->first);
        if (horizon == UINT8_MAX) break;
        ++horizon;
      }
    }
  }
  if (peers == applied_) return;
  const auto refused = controller_.set_cluster_peers(peers);
  std::lock_guard lock(status_mutex_);
  for (const auto& [ip, reason] : refused) {
    peers.erase(ip);
    for (const std::string& key : keys_of[ip]) {
      refusals_.refuse(key, KeyKind::kMember, RefusalCause::kConflict, reason);
      members_.erase(key);
    }
  }
  for (const auto& [ip, peer] : peers)
    if (!applied_.contains(ip)) {
      ++status_.joins;
      if (peer.data_center.empty())
        log::info("cluster: VTEP {} joined ({})", ip.to_string(), fmt::join(keys_of[ip], ", "));
      else
        log::info("cluster: data center {} joined through its gateway {} at {} ({} there)", peer.data_center,
                  peer.member, ip.to_string(), peer.vtep.to_string());
    }
  for (const auto& [ip, peer] : applied_)
    if (!peers.contains(ip)) {
      ++status_.leaves;
      if (peer.data_center.empty())
        log::info("cluster: VTEP {} left", ip.to_string());
      else
        log::info("cluster: data center {}'s gateway {} at {} is no longer a peer", peer.data_center, peer.member,
                  ip.to_string());
    }
  applied_ = std::move(peers);
}

json status_json(const ClusterConfig& config, const Membership& membership, const GatewayHa& gateway) {
  const MembershipStatus s = membership.status();
  const GatewayStatus g = gateway.status();
  json gateway_json = {{"role", g.gateway_role ? (g.active ? "active" : "standby") : "none"},
                       {"leader", g.leader.empty() ? json(nullptr) : json(g.leader)},
                       {"leader_public", g.leader_public},
                       {"leader_since_ms", g.leader_since_ms},
                       {"failovers", g.failovers},
                       {"activations", g.activations}};
  json members = json::array();
  for (const Member& m : s.members) {
    members.push_back(
        {{"name", m.name}, {"vtep", m.vtep.to_string()}, {"data_center", m.data_center}, {"roles", m.roles}});
    if (m.public_vtep) members.back()["public_vtep"] = m.public_vtep->to_string();
  }
  json refused = json::array();
  for (const Refusal& r : s.refused)
    refused.push_back(
        {{"key", r.key}, {"kind", kind_name(r.kind)}, {"cause", cause_name(r.cause)}, {"reason", r.reason}});
  return {{"connected", s.connected},
          {"endpoint", s.endpoint},
          {"watch_endpoint", s.watch_endpoint},
          {"endpoints", config.endpoints},
          {"name", config.name},
          {"data_center", config.data_center},
          {"prefix", config.prefix},
          {"lease_id", s.lease_id == 0 ? json() : json(fmt::format("{:x}", s.lease_id))},
          {"lease_ttl_s", s.lease_ttl_s},
          {"revision", s.revision},
          {"members", members},
          {"topology", s.topology},
          {"refused", refused},
          {"last_error", s.last_error.empty() ? json() : json(s.last_error)},
          {"gateway", gateway_json},
          {"counters",
           {{"joins", s.joins},
            {"leaves", s.leaves},
            {"reconnects", s.reconnects},
            {"resyncs", s.resyncs},
            {"refused", s.refused_total}}}};
}

namespace {

class ClusterCollector : public prometheus::Collectable {
 public:
  ClusterCollector(const Membership& membership, const Refusals& refusals, const GatewayHa& gateway)
      : membership_(membership), refusals_(refusals), gateway_(gateway) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    using prometheus::MetricType;
    const MembershipStatus s = membership_.status();
    auto connected = metric_family("inception_cluster_connected", "1 while etcd answers.", MetricType::Gauge);
    add_sample(connected, {}, s.connected ? 1 : 0);
    auto members = metric_family("inception_cluster_members",
                                 "Valid members known (every data center, this rVM included).", MetricType::Gauge);
    add_sample(members, {}, static_cast<double>(s.members.size()));
    auto changes = metric_family("inception_cluster_membership_changes_total",
                                 "VTEPs of this data center that became or stopped being peers.", MetricType::Counter);
    add_sample(changes, {{"change", "join"}}, static_cast<double>(s.joins));
    add_sample(changes, {{"change", "leave"}}, static_cast<double>(s.leaves));
    auto refused = metric_family("inception_cluster_refused_total",
                                 "Keys refused, by kind (member, network, fip, placement) and cause (invalid, "
                                 "duplicate, conflict).",
                                 MetricType::Counter);
    for (const auto& [labels, count] : refusals_.totals())
      add_sample(refused, {{"kind", kind_name(labels.first)}, {"cause", cause_name(labels.second)}},
                 static_cast<double>(count));
    auto reconnects =
        metric_family("inception_cluster_reconnects_total", "Connections to etcd after a loss.", MetricType::Counter);
    add_sample(reconnects, {}, static_cast<double>(s.reconnects));
    const GatewayStatus g = gateway_.status();
    auto active = metric_family("inception_cluster_gateway_active",
                                "1 while this rVM is its data center's active gateway.", MetricType::Gauge);
    add_sample(active, {}, g.active ? 1 : 0);
    auto failovers = metric_family("inception_cluster_gateway_failovers_total",
                                   "Times the data center's gateway leader passed from one member to another, as "
                                   "seen here.",
                                   MetricType::Counter);
    add_sample(failovers, {}, static_cast<double>(g.failovers));
    return {connected, members, changes, refused, reconnects, active, failovers};
  }

 private:
  const Membership& membership_;
  const Refusals& refusals_;
  const GatewayHa& gateway_;
};

}  // namespace

std::shared_ptr<prometheus::Collectable> metrics(const Membership& membership, const Refusals& refusals,
                                                 const GatewayHa& gateway) {
  return std::make_shared<ClusterCollector>(membership, refusals, gateway);
}

ModuleCommands commands(const ClusterConfig& config, Membership& membership, const GatewayHa& gateway) {
  return {{"cluster.status",
           [&config, &membership, &gateway](const json&) { return status_json(config, membership, gateway); }},
          {"cluster.topology", [&membership](const json& a) { return membership.set_topology(a); }}};
}

}  // namespace inception::cluster
