// Gateway mappings in etcd and gateway high availability
// (docs/cluster.md#gateway-high-availability).
//
//   <prefix>gateway_mappings/<public>  {"underlay": "10.0.0.101"}
//   <prefix>gateway_leaders/<dc>       {"name", "public", "since_ms"}, under the leader's short lease
//
// Theory of operation. One gateway-role member per data center is active
// and serves every mapping of the cluster and its own [nat] SNAT; the
// others are standby (one leader per data center rather than per public
// IP: SNAT, which is not per public IP, needs one anyway, and a spoke has
// one [nat] gateway to route to). The mapping's underlay address is the
// one the reality cloud NATs the public IP to; it moves with the active
// gateway, which answers ARP for it, and the operator's hook tells the
// reality cloud (`HOOK activate PUBLIC UNDERLAY`: reassign the secondary
// private IP, or the public IP's association, to this rVM's NIC).
//
// Election: a gateway-role member grants a lease of kLeaderTtl and
// creates the leader key under it in a txn (create_revision == 0); the
// winner keeps it alive every kKeepalivePeriod on its own thread and
// client (never behind the membership thread's watch, whose connects can
// take a second). Standbys learn from the membership watch (this class is
// a KeySubscriber) that the key went, and race for it at once; they also
// try every second in case that watch is down. A leader that loses its
// lease, sees the key taken or deleted, or goes kLeaderTtl - kFenceMargin
// without an answered keepalive withdraws (mappings deleted, SNAT off)
// before etcd could give the key to another member (control/cluster/election.h).
//
// Every member, gateway or not, routes toward the leader's public-network
// address (Controller::set_nat_gateway) as soon as the watch shows it.
//
// Threads: the KeySubscriber methods run on the membership thread; the
// election runs on a thread of its own (gateway role only); status() and
// the command handlers on any thread. One mutex guards the views and what
// is applied, taken before the Controller's.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "control/api.h"
#include "control/cluster/election.h"
#include "control/cluster/etcd_client.h"
#include "control/cluster/refusals.h"
#include "control/cluster/subscriber.h"
#include "control/config.h"
#include "control/controller.h"

namespace inception::cluster {

inline constexpr std::chrono::milliseconds kLeaderTtl{1000};
inline constexpr std::chrono::milliseconds kKeepalivePeriod{300};
inline constexpr std::chrono::milliseconds kFenceMargin{250};

struct GatewayStatus {
  bool gateway_role = false;
  bool active = false;
  std::string leader;         // this data center's leader, "" while none
  std::string leader_public;  // its public-network address
  int64_t leader_since_ms = 0;
  uint64_t failovers = 0;    // times the leader passed from one member to another, as seen here
  uint64_t activations = 0;  // terms this rVM won
};

class GatewayHa : public KeySubscriber {
 public:
  GatewayHa(const Config& config, Controller& controller, Refusals& refusals);
  // Withdraws and revokes the leader lease, so a standby takes over at
  // once rather than after the TTL.
  ~GatewayHa() override;
  GatewayHa(const GatewayHa&) = delete;
  GatewayHa& operator=(const GatewayHa&) = delete;

  void lease_changed(int64_t) override {}
  void resync(const std::vector<KeyValue>& kvs) override;
  void on_event(const WatchEvent& event) override;
  void tick(EtcdClient&, int64_t) override {}

  GatewayStatus status() const;
  nlohmann::json add_mapping(const nlohmann::json& args);
  nlohmann::json del_mapping(const nlohmann::json& args);
  nlohmann::json list_mappings() const;

 private:
  void run();
  void campaign();
  void keepalive();
  void activate();                        // under mutex_
  void withdraw(const std::string& why);  // under mutex_
  void apply_mappings();                  // under mutex_, while active
  void judge_mappings();                  // under mutex_
  void confirm_leadership();
  void follow_leader();  // under mutex_
  void run_hook(const char* verb, const std::string& public_ip, const std::string& underlay);
  void reap_hooks();  // under mutex_: apply_mappings starts hooks from the membership thread too

  const ClusterConfig config_;
  const NatConfig nat_;
  const std::string mappings_prefix_, leader_key_;
  const std::optional<Ipv4Address> public_address_;  // this rVM's router on [nat] public_network
  const bool gateway_role_;
  Controller& controller_;
  Refusals& refusals_;

  mutable std::mutex mutex_;
  std::map<std::string, KeyValue> mappings_view_;  // by key
  std::optional<KeyValue> leader_view_;
  std::map<Ipv4Address, Ipv4Address> applied_;  // public -> underlay, served here
  bool active_ = false;
  GatewayStatus status_;
  std::vector<pid_t> hooks_;  // started, not reaped yet
  bool leader_gone_ = true;   // the watch saw no leader: race for it now

  // The election thread's.
  GatewayElection election_{kFenceMargin};
  EtcdClient session_;
  std::chrono::steady_clock::time_point next_keepalive_{}, next_campaign_{};
  std::atomic<bool> stopping_{false};  // relaxed: the condition variable orders the wake-up
  std::condition_variable wake_;
  std::thread thread_;

  std::mutex writer_mutex_;  // the handlers' etcd client
  EtcdClient writer_;
};

ModuleCommands commands(GatewayHa& gateway);

}  // namespace inception::cluster
