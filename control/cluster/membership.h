// Cluster membership: this rVM registers itself in etcd and every other
// member of its data center becomes a VXLAN peer of every network here
// (docs/cluster.md).
//
//   <prefix>members/<name> = {"name", "vtep", "data_center", "roles", "public_vtep"?}
//
// Data centers are joined by their active gateways (the leader keys
// <prefix>gateway_leaders/<dc>, control/cluster/gateway.h): the active
// gateway of this data center peers with the active gateway of every other
// one at its public_vtep, the address the reality clouds' 1:1 NAT gives its
// VTEP, and relays between them (split horizon: one group per data center).
// Other rVMs reach the other data centers through it, by MAC learning.
//
// A data center may be a star instead of a mesh (<prefix>topology/<dc> =
// {"mode": "star"}, `inceptionctl cluster topology star`): its active
// gateway is the hub, peering with every member and relaying between them
// (no split-horizon group); every other member peers with the hub alone,
// and follows it to a new one after a failover.
//
// written under a lease of [cluster] lease_ttl seconds that the thread
// keeps alive every TTL/3. The thread watches the prefix from the
// revision of its last full read and hands the controller the whole set of
// peers after every change (Controller::set_cluster_peers: one call, one
// publish, idempotent). A member whose lease expires (kill -9, power off,
// partition) is deleted by etcd about TTL after its last keepalive; the
// watch sees the DELETE and the peer goes with the MACs learned behind it.
//
// A member of the etcd cluster going away (killed, stopped, not
// answering) is not an outage: both clients move to the next endpoint on
// their own, the watch from the revision after its last event, and the
// status stays connected. Timeouts follow the TTL (client_options in the
// .cpp) so that a silent member costs less than the lease.
//
// etcd unreachable (every endpoint): nothing is removed, the switch
// forwards with the last members it knew, status says disconnected, and
// the thread retries every 0.5 s. Back: it checks its lease (granting a
// new one and writing its key again if etcd forgot it) and resumes the
// watch from the last revision + 1; a compacted revision, or a lost lease,
// means a full read (range + reconcile). Its own key deleted under it:
// written again.
//
// The watch covers the whole prefix: members are this module's, every
// other key goes to the subscriber (control/cluster/subscriber.h: desired
// state), which shares the session, the lease and the resume logic.
//
// A member key whose value is not a valid member (not JSON, fields missing
// or of the wrong type, a name other than the key's, a VTEP that is not an
// IPv4 address or that validate_peer refuses) is refused: logged, counted,
// shown in `cluster status`, and it changes nothing else. A valid member
// overwritten by garbage is forgotten: the key is the truth.
//
// Threads: one thread of its own; it calls the Controller (thread-safe).
// status() may be called from any thread.
#pragma once

#include <prometheus/collectable.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "control/api.h"
#include "control/cluster/etcd_client.h"
#include "control/cluster/gateway.h"
#include "control/cluster/keys.h"
#include "control/cluster/refusals.h"
#include "control/cluster/subscriber.h"
#include "control/config.h"
#include "control/controller.h"

namespace inception::cluster {

struct Member {
  std::string name;
  Ipv4Address vtep;
  std::string data_center;
  std::vector<std::string> roles;
  std::optional<Ipv4Address> public_vtep;  // a gateway's VTEP as the other data centers reach it
};

// A member's key and value as this module writes them; parse_member is
// the judge of what others wrote (nullopt + `reason` when refused).
std::string member_key(const ClusterConfig& config, const std::string& name);
std::string member_value(const Member& member);
std::optional<Member> parse_member(const std::string& key_name, const std::string& value, std::string& reason);

struct MembershipStatus {
  bool connected = false;
  std::string endpoint;        // where requests (lease, writes) went last
  std::string watch_endpoint;  // the member the watch stream is on
  int64_t lease_id = 0;
  int64_t lease_ttl_s = 0;
  int64_t revision = 0;           // the store revision this member's view is in step with
  std::vector<Member> members;    // every valid member, this one included, by name
  std::string topology = "mesh";  // of this data center
  std::vector<Refusal> refused;   // keys refused now, of every kind
  std::string last_error;
  uint64_t joins = 0, leaves = 0, reconnects = 0, resyncs = 0, refused_total = 0;
};

class Membership {
 public:
  // `vtep`: this switch's underlay address. `refusals` and `subscriber`
  // (may be null) outlive this object.
  Membership(const ClusterConfig& config, Ipv4Address vtep, Controller& controller, Refusals& refusals,
             KeySubscriber* subscriber = nullptr);
  // Stops the thread and revokes the lease, so that the other members drop
  // this one at once rather than after the TTL. The peers stay.
  ~Membership();
  Membership(const Membership&) = delete;
  Membership& operator=(const Membership&) = delete;

  MembershipStatus status() const;
  // `cluster topology mesh|star [--data-center DC]`: writes the key.
  nlohmann::json set_topology(const nlohmann::json& args);

 private:
  void run();
  void session();  // one connected stretch: register, read, watch
  void ensure_registered();
  void resync();
  void on_event(const WatchEvent& event);
  void note_leader(const KeyValue& kv, bool deleted);    // under status_mutex_
  void note_topology(const KeyValue& kv, bool deleted);  // under status_mutex_
  bool tick();                                           // keepalive; false ends the watch
  // The members' set changed: hand the controller the peers.
  void apply();
  void note_error(const std::string& what);
  void set_connected(bool connected);
  void note_endpoints();  // thread only: the clients' endpoints into the status
  void wait(std::chrono::milliseconds period);

  const ClusterConfig config_;
  const Member self_;
  const std::string members_prefix_, leaders_prefix_, topology_prefix_;
  Controller& controller_;
  Refusals& refusals_;
  KeySubscriber* const subscriber_;
  EtcdClient session_;  // unary requests (lease, put, range)
  EtcdClient watcher_;  // the watch stream
  std::mutex writer_mutex_;
  EtcdClient writer_;  // the command handlers'
  std::thread thread_;
  std::atomic<bool> stopping_{false};  // relaxed: the condition variable orders the wake-up
  std::mutex wait_mutex_;
  std::condition_variable wake_;

  // Thread only.
  bool need_resync_ = true;
  bool need_put_ = true;
  std::chrono::steady_clock::time_point next_keepalive_;
  bool session_lost_ = false;

  mutable std::mutex status_mutex_;
  MembershipStatus status_;                     // members and refused are rebuilt from below
  std::map<std::string, Member> members_;       // by key
  std::map<std::string, std::string> leaders_;  // data center -> its active gateway's name
  std::map<std::string, Topology> topologies_;  // data center -> how its members peer, if not a mesh
  std::map<Ipv4Address, ClusterPeer> applied_;  // the peers last handed to the controller
};

// `inceptionctl cluster status`.
nlohmann::json status_json(const ClusterConfig& config, const Membership& membership, const GatewayHa& gateway);
// inception_cluster_* metrics, read at each scrape.
std::shared_ptr<prometheus::Collectable> metrics(const Membership& membership, const Refusals& refusals,
                                                 const GatewayHa& gateway);
// The control socket's "cluster.*" commands.
ModuleCommands commands(const ClusterConfig& config, Membership& membership, const GatewayHa& gateway);

}  // namespace inception::cluster
