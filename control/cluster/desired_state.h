// Desired state in etcd (docs/cluster.md): networks and floating IPs
// defined once for the cluster, applied by every switch; and this rVM's
// observed state, the placements of its ports' fixed IPs.
//
//   <prefix>networks/<name>                     every switch applies it
//   <prefix>fips/<public>                       served where its fixed IP is placed
//   <prefix>placements/<rvm>/<network>/<fixed>  written by <rvm> under its lease
//
// Theory of operation. The membership thread's watch hands every key under
// the prefix here (KeySubscriber). After each change the whole desired set
// is judged again from the keys alone (control/cluster/keys.h: invalid
// values refused, the older key winning a duplicate VNI or fixed IP), so
// every switch comes to the same answer whatever order it saw the events
// in, and the difference with what this module applied is handed to the
// Controller through the calls `inceptionctl network add/del`, `router
// add/del` and `fip add/del` use. The module only ever removes what it
// applied: a typed network (TOML, `network add`) is never deleted by the
// cluster; one of the same name and VNI is adopted (the Controller keeps it
// while either wants it), one with another VNI refused.
//
// A cluster floating IP is served (Controller::add_fip, active) by exactly
// the switch whose rVM placed its fixed IP first; everywhere else it is
// absent. Each poll of the watch (100 ms) compares this switch's ports with
// the placements it published and writes the difference, so a port deleted
// here and added on another rVM (a migration's shape) moves its floating IP
// within a few polls and two watch round trips.
//
// Refusals (Refusals): logged and counted once per key and reason, listed
// in `cluster status` until the key is fixed or deleted; a refused key
// changes nothing else.
//
// Threads: the KeySubscriber methods run on the membership thread; the
// command handlers (add/del/list) on the control socket's. One mutex guards
// the views and what was applied, taken before the Controller's (never the
// other way round); etcd writes from the handlers have a client of their
// own.
#pragma once

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "control/api.h"
#include "control/cluster/etcd_client.h"
#include "control/cluster/keys.h"
#include "control/cluster/refusals.h"
#include "control/cluster/subscriber.h"
#include "control/config.h"
#include "control/controller.h"

namespace inception::cluster {

class DesiredState : public KeySubscriber {
 public:
  DesiredState(const ClusterConfig& config, Controller& controller, Refusals& refusals);

  void lease_changed(int64_t lease) override;
  void resync(const std::vector<KeyValue>& kvs) override;
  void on_event(const WatchEvent& event) override;
  void tick(EtcdClient& session, int64_t lease) override;

  // The control socket's cluster.network.* and cluster.fip.*: validated
  // here with the texts of the local verbs, then written to etcd; every
  // switch (this one too) applies them from its watch.
  nlohmann::json add_network(const nlohmann::json& args);
  nlohmann::json del_network(const nlohmann::json& args);
  nlohmann::json list_networks() const;
  nlohmann::json add_fip(const nlohmann::json& args);
  nlohmann::json del_fip(const nlohmann::json& args);
  nlohmann::json list_fips() const;

 private:
  enum class Part { kNone, kNetworks, kFips, kPlacements };
  Part part_of(const std::string& key) const;
  void apply_networks();  // under mutex_
  void apply_fips();      // under mutex_
  bool unapply_network(const std::string& name);
  std::vector<Keyed<NetworkSpec>> network_candidates();
  std::vector<Keyed<FipSpec>> fip_candidates();
  std::vector<Keyed<Placement>> placement_candidates();
  std::map<std::string, Placement> local_placements();

  struct AppliedNetwork {
    NetworkSpec spec;
    bool router_ours = false;  // the cluster added the router (not adopted)
    std::string stuck;         // why it could not be removed yet (ports attached)
  };

  const ClusterConfig config_;
  const std::string networks_prefix_, fips_prefix_, placements_prefix_, own_placements_prefix_;
  Controller& controller_;
  Refusals& refusals_;

  mutable std::mutex mutex_;
  std::map<std::string, KeyValue> networks_view_, fips_view_, placements_view_;  // by key
  std::map<std::string, AppliedNetwork> applied_networks_;                       // by name
  std::map<Ipv4Address, FipSpec> applied_fips_;                                  // served here, by public IP

  // Membership thread only: this rVM's placements as written under `lease_`.
  int64_t lease_ = 0;
  std::map<std::string, std::string> published_;  // key -> value
  std::set<std::string> stale_;                   // keys of ours under an older lease

  std::mutex writer_mutex_;  // the handlers' etcd client
  EtcdClient writer_;
};

// The control socket's "cluster.network.*" and "cluster.fip.*" commands.
ModuleCommands commands(DesiredState& state);

}  // namespace inception::cluster
