#include "control/cluster/gateway.h"

#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <algorithm>

#include "control/cluster/keys.h"
#include "control/cluster/operator_write.h"
#include "control/protocol.h"
#include "control/wall_clock.h"
#include "inception/errors.h"
#include "inception/log.h"

extern char** environ;

namespace inception::cluster {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::optional<Ipv4Address> public_router_address(const Config& config) {
  for (const RouterConfig& r : config.routers)
    if (r.network == config.nat.public_network) return r.address.address;
  return std::nullopt;
}

}  // namespace

GatewayHa::GatewayHa(const Config& config, Controller& controller, Refusals& refusals)
    : config_(config.cluster),
      nat_(config.nat),
      mappings_prefix_(config.cluster.prefix + "gateway_mappings/"),
      leader_key_(config.cluster.prefix + "gateway_leaders/" + config.cluster.data_center),
      public_address_(public_router_address(config)),
      gateway_role_(std::ranges::find(config.cluster.roles, "gateway") != config.cluster.roles.end()),
      controller_(controller),
      refusals_(refusals),
      // A keepalive must come back (or fail) well inside the fence margin.
      session_(config.cluster.endpoints,
               {.connect_timeout = std::chrono::milliseconds(150), .request_timeout = std::chrono::milliseconds(200)}),
      writer_(config.cluster.endpoints) {
  status_.gateway_role = gateway_role_;
  if (!gateway_role_) return;
  // A standby never translates for the cluster: the [nat] SNAT the file
  // starts is this rVM's only while it is active.
  if (nat_.snat_address) controller_.snat_off();
  thread_ = std::thread([this] { run(); });
}

GatewayHa::~GatewayHa() {
  {
    std::lock_guard lock(mutex_);
    stopping_.store(true, std::memory_order_relaxed);
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  if (active_) withdraw("stopping");
  if (election_.lease() != 0) {
    try {
      session_.revoke(election_.lease());
    } catch (const EtcdError&) {
      // The lease expires on its own within kLeaderTtl.
    }
  }
}

// ---- the membership thread: what the watch says

void GatewayHa::resync(const std::vector<KeyValue>& kvs) {
  std::lock_guard lock(mutex_);
  mappings_view_.clear();
  leader_view_.reset();
  for (const KeyValue& kv : kvs) {
    if (kv.key.starts_with(mappings_prefix_)) mappings_view_[kv.key] = kv;
    if (kv.key == leader_key_) leader_view_ = kv;
  }
  leader_gone_ = !leader_view_;
  std::vector<std::string> keys;
  for (const auto& [key, kv] : mappings_view_) keys.push_back(key);
  refusals_.keep_only(KeyKind::kGatewayMapping, keys);
  judge_mappings();
  follow_leader();
  if (active_) apply_mappings();
  wake_.notify_all();
}

void GatewayHa::on_event(const WatchEvent& event) {
  const std::string& key = event.kv.key;
  const bool deleted = event.type == WatchEvent::Type::kDelete;
  if (key.starts_with(mappings_prefix_)) {
    std::lock_guard lock(mutex_);
    if (deleted) {
      mappings_view_.erase(key);
      refusals_.accept(key);
    } else {
      mappings_view_[key] = event.kv;
    }
    judge_mappings();
    if (active_) apply_mappings();
    return;
  }
  if (key != leader_key_) return;
  std::lock_guard lock(mutex_);
  if (deleted) {
    leader_view_.reset();
    leader_gone_ = true;
  } else {
    leader_view_ = event.kv;
  }
  follow_leader();
  wake_.notify_all();
}

// Every rVM judges the mappings' form, so that a bad key shows in every
// `cluster status`; the NAT-address rules are the serving gateway's
// (apply_mappings), as they need its underlay.
void GatewayHa::judge_mappings() {
  for (const auto& [key, kv] : mappings_view_) {
    std::string reason;
    if (!parse_gateway_mapping(key.substr(mappings_prefix_.size()), kv.value, reason))
      refusals_.refuse(key, KeyKind::kGatewayMapping, RefusalCause::kInvalid, reason);
    else if (!active_)
      refusals_.accept(key);
  }
}

void GatewayHa::follow_leader() {
  if (!leader_view_) return;  // keep routing to the last leader until the next one shows
  const auto leader = parse_gateway_leader(leader_view_->value);
  if (!leader) {
    log::warning("cluster: leader key {} is not a gateway leader's value: ignored", leader_key_);
    return;
  }
  if (!status_.leader.empty() && status_.leader != leader->name) ++status_.failovers;
  if (status_.leader != leader->name)
    log::info("cluster: gateway leader of {} is {}", config_.data_center, leader->name);
  status_.leader = leader->name;
  status_.leader_public = leader->public_address ? leader->public_address->to_string() : "";
  status_.leader_since_ms = leader->since_ms;
  // Only an rVM that routes to a gateway at all ([nat] gateway) follows.
  if (!leader->public_address || !nat_.gateway) return;
  try {
    controller_.set_nat_gateway(*leader->public_address);
  } catch (const ControlError& e) {
    log::warning("cluster: gateway leader {}: {}", leader->name, e.what());
  }
}

// ---- the election thread

void GatewayHa::run() {
  while (!stopping_.load(std::memory_order_relaxed)) {
    const auto now = Clock::now();
    if (election_.lease() != 0) {
      if (now >= next_keepalive_) keepalive();
      bool doubt = false;
      int64_t fenced = 0;
      {
        std::lock_guard lock(mutex_);
        const int64_t lease = election_.lease();
        if (election_.expire(Clock::now())) {
          fenced = lease;
          withdraw(
              fmt::format("no keepalive of the leader lease answered for {} ms", (kLeaderTtl - kFenceMargin).count()));
        } else {
          doubt = active_ && (leader_gone_ || (leader_view_ && leader_view_->lease != election_.lease()));
        }
      }
      // Stood down while etcd may still hold the key for us (a slow etcd
      // rather than a lost one): give it up, so that a standby need not
      // wait for the TTL. Best effort: unreachable, it expires anyway.
      if (fenced != 0) {
        try {
          session_.revoke(fenced);
        } catch (const EtcdError&) {
        }
      }
      // The watch says the key went or is someone else's (deleted by hand,
      // overwritten): etcd would let another member win it, or has. A
      // full read that crossed our txn would say the same wrongly: etcd
      // decides.
      if (doubt) confirm_leadership();
    } else {
      bool race = false, check = false;
      {
        std::lock_guard lock(mutex_);
        race = leader_gone_;
        check = !race && now >= next_campaign_;
      }
      // In case the membership watch is down: a read once a second, and
      // the race only if it finds no leader.
      if (check) {
        next_campaign_ = now + std::chrono::seconds(1);
        try {
          race = session_.get(leader_key_).kvs.empty();
        } catch (const EtcdError&) {
        }
      }
      if (race) campaign();
    }
    std::unique_lock lock(mutex_);
    reap_hooks();
    auto until = Clock::now() + std::chrono::milliseconds(100);
    if (election_.lease() != 0) until = std::min({until, next_keepalive_, election_.deadline()});
    wake_.wait_until(lock, until, [&] {
      return stopping_.load(std::memory_order_relaxed) || (election_.lease() == 0 && leader_gone_);
    });
  }
}

void GatewayHa::campaign() {
  const auto sent = Clock::now();
  Lease lease;
  try {
    lease = session_.grant(std::chrono::duration_cast<std::chrono::seconds>(kLeaderTtl).count());
    const std::string value = gateway_leader_value({config_.name, public_address_, unix_ms()});
    if (!session_.create(leader_key_, value, lease.id)) {
      session_.revoke(lease.id);
      std::lock_guard lock(mutex_);
      leader_gone_ = false;  // someone holds it: wait for the watch (or a second)
      return;
    }
  } catch (const EtcdError& e) {
    log::debug("cluster: gateway election: {}", e.what());
    std::lock_guard lock(mutex_);
    leader_gone_ = false;
    return;
  }
  // etcd may grant more than asked (its minimum TTL follows its election
  // timeout): the deadline follows what it granted.
  election_.won(lease.id, std::chrono::seconds(lease.ttl_s), sent);
  next_keepalive_ = sent + kKeepalivePeriod;
  std::lock_guard lock(mutex_);
  leader_gone_ = false;
  activate();
}

void GatewayHa::confirm_leadership() {
  bool ours = true;
  try {
    const RangeResult r = session_.get(leader_key_);
    ours = !r.kvs.empty() && r.kvs.front().lease == election_.lease();
  } catch (const EtcdError&) {
    return;  // the deadline decides
  }
  std::lock_guard lock(mutex_);
  leader_gone_ = false;
  if (ours) return;
  election_.lost();
  withdraw("the leader key is no longer this rVM's");
}

void GatewayHa::keepalive() {
  const auto sent = Clock::now();
  next_keepalive_ = sent + kKeepalivePeriod;
  try {
    if (session_.keepalive(election_.lease()) > 0) {
      election_.renewed(election_.lease(), sent);
      return;
    }
  } catch (const EtcdError& e) {
    log::debug("cluster: leader keepalive: {}", e.what());
    return;  // the deadline decides
  }
  std::lock_guard lock(mutex_);
  election_.lost();
  withdraw("etcd no longer knows the leader lease");
}

void GatewayHa::activate() {
  active_ = true;
  ++status_.activations;
  log::info({"gateway " + config_.data_center, "active"}, "cluster: gateway active for {} (lease {:x})",
            config_.data_center, election_.lease());
  if (nat_.snat_address) {
    try {
      controller_.set_snat({.address = nat_.snat_address->to_string()});
    } catch (const ControlError& e) {
      log::warning("cluster: gateway SNAT on {}: {}", nat_.snat_address->to_string(), e.what());
    }
  }
  apply_mappings();
}

void GatewayHa::withdraw(const std::string& why) {
  if (!active_) return;
  active_ = false;
  log::warning({"gateway " + config_.data_center, "standby"}, "cluster: gateway standby: {}", why);
  for (const auto& [public_ip, underlay] : applied_) {
    try {
      controller_.del_gateway_mapping(underlay.to_string());
    } catch (const ControlError&) {
    }
    run_hook("deactivate", public_ip.to_string(), underlay.to_string());
  }
  applied_.clear();
  if (nat_.snat_address) controller_.snat_off();
}

void GatewayHa::apply_mappings() {
  std::map<Ipv4Address, Ipv4Address> wanted;  // public -> underlay
  for (const auto& [key, kv] : mappings_view_) {
    std::string reason;
    const auto m = parse_gateway_mapping(key.substr(mappings_prefix_.size()), kv.value, reason);
    if (m) wanted[m->public_ip] = m->underlay;  // refused by judge_mappings otherwise
  }
  for (auto it = applied_.begin(); it != applied_.end();) {
    const auto w = wanted.find(it->first);
    if (w != wanted.end() && w->second == it->second) {
      ++it;
      continue;
    }
    try {
      controller_.del_gateway_mapping(it->second.to_string());
    } catch (const ControlError&) {
    }
    run_hook("deactivate", it->first.to_string(), it->second.to_string());
    it = applied_.erase(it);
  }
  for (const auto& [public_ip, underlay] : wanted) {
    if (applied_.contains(public_ip)) continue;
    const std::string key = mappings_prefix_ + public_ip.to_string();
    try {
      controller_.add_gateway_mapping(underlay.to_string(), public_ip.to_string());
    } catch (const ControlError& e) {
      refusals_.refuse(key, KeyKind::kGatewayMapping, RefusalCause::kConflict, e.what());
      continue;
    }
    refusals_.accept(key);
    applied_[public_ip] = underlay;
    run_hook("activate", public_ip.to_string(), underlay.to_string());
  }
}

// Hooks run without being waited for: the election thread must keep its
// lease alive while the reality cloud's API takes its time.
void GatewayHa::run_hook(const char* verb, const std::string& public_ip, const std::string& underlay) {
  if (config_.gateway_hook.empty()) return;
  std::vector<std::string> args = {config_.gateway_hook, verb, public_ip, underlay};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    log::warning("cluster: gateway hook {}: {}", config_.gateway_hook, errno_text(rc));
    return;
  }
  log::info("cluster: gateway hook {} {} {} started (pid {})", verb, public_ip, underlay, pid);
  hooks_.push_back(pid);
}

void GatewayHa::reap_hooks() {
  std::erase_if(hooks_, [](pid_t pid) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) != pid) return false;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      log::warning("cluster: gateway hook (pid {}) failed: status {}", pid, status);
    return true;
  });
}

GatewayStatus GatewayHa::status() const {
  std::lock_guard lock(mutex_);
  GatewayStatus s = status_;
  s.active = active_;
  if (!leader_view_) s.leader.clear();
  return s;
}

// ---- the control socket's thread

json GatewayHa::add_mapping(const json& args) {
  const JsonReader r(args, "args");
  const std::string underlay_text = r.required_string("underlay");
  const std::string public_text = r.required_string("public");
  std::string reason;
  const auto m = parse_gateway_mapping(public_text, json{{"underlay", underlay_text}}.dump(), reason);
  if (!m) throw ControlError(reason);
  {
    std::lock_guard lock(mutex_);
    std::vector<GatewayMappingConfig> existing;
    for (const auto& [key, kv] : mappings_view_) {
      std::string ignored;
      if (auto other = parse_gateway_mapping(key.substr(mappings_prefix_.size()), kv.value, ignored))
        existing.push_back(*other);
    }
    try {
      validate_gateway_mapping(*m, existing, nat_, controller_.running_config().underlay);
    } catch (const ConfigError& e) {
      throw ControlError(e.what());
    }
  }
  const std::string key = mappings_prefix_ + m->public_ip.to_string();
  const bool created = with_etcd([&] {
    std::lock_guard lock(writer_mutex_);
    return writer_.create(key, gateway_mapping_value(*m));
  });
  if (!created) throw ControlError(fmt::format("cluster gateway mapping {} already exists", public_text));
  return {{"cluster_wide", true},
          {"key", key},
          {"message", fmt::format("gateway mapping {} <-> {} written to etcd: the active gateway of each data "
                                  "center serves it",
                                  m->underlay.to_string(), m->public_ip.to_string())}};
}

json GatewayHa::del_mapping(const json& args) {
  const std::string public_text = JsonReader(args, "args").required_string("public");
  const std::string key = mappings_prefix_ + public_text;
  const int64_t deleted = with_etcd([&] {
    std::lock_guard lock(writer_mutex_);
    return writer_.del(key);
  });
  if (deleted == 0) throw ControlError(fmt::format("cluster gateway mapping {} does not exist", public_text));
  return {{"cluster_wide", true}, {"key", key}, {"message", fmt::format("gateway mapping {} deleted", public_text)}};
}

json GatewayHa::list_mappings() const {
  const std::vector<Refusal> refused = refusals_.list();
  std::lock_guard lock(mutex_);
  json out = json::array();
  for (const auto& [key, kv] : mappings_view_) {
    const std::string public_text = key.substr(mappings_prefix_.size());
    std::string reason;
    const auto m = parse_gateway_mapping(public_text, kv.value, reason);
    json e = {{"public", public_text},
              {"underlay", m ? m->underlay.to_string() : ""},
              {"active_gateway", leader_view_ ? status_.leader : ""},
              {"served_here", m && applied_.contains(m->public_ip)},
              {"refused", nullptr}};
    for (const Refusal& r : refused)
      if (r.key == key) e["refused"] = r.reason;
    out.push_back(e);
  }
  return out;
}

ModuleCommands commands(GatewayHa& gateway) {
  return {
      {"cluster.gateway.add", [&gateway](const json& a) { return gateway.add_mapping(a); }},
      {"cluster.gateway.del", [&gateway](const json& a) { return gateway.del_mapping(a); }},
      {"cluster.gateway.list", [&gateway](const json&) { return gateway.list_mappings(); }},
  };
}

}  // namespace inception::cluster
