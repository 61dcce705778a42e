// A private etcd for tests (Debian's /usr/bin/etcd): one member alone
// (EtcdServer) or a cluster of several (EtcdCluster), their data in the
// test's temporary directory, client and peer URLs on ports nobody else
// uses, started and stopped by PID. Never the packaged service.
//
// Every member runs with --heartbeat-interval 50 --election-timeout 500:
// etcd's shortest lease is 1.5 x the election timeout rounded up to a
// second, and the gateway election's 1 s leader lease needs it. In a
// cluster the same timeout also bounds how long the members go without a
// leader after the leader is killed.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"

namespace inception::test {

class EtcdServer {
 public:
  // `netns` empty: the root namespace, on 127.0.0.1. Otherwise etcd runs in
  // that namespace on `address` (which must exist there), so that daemons
  // in other namespaces reach it over their underlay.
  explicit EtcdServer(const TempDir& dir, const std::string& netns = "", const std::string& address = "127.0.0.1");
  ~EtcdServer();
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  // http://ADDRESS:PORT
  const std::string& endpoint() const { return endpoint_; }
  const std::string& name() const { return name_; }
  // Starts etcd (again, on the same data and ports) and waits until it
  // answers; false if it does not within `timeout`. A member of a cluster
  // answers only once a quorum of its cluster runs (EtcdCluster::start).
  bool start(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // The two halves of start(): spawn etcd and return at once; wait until
  // /health says true.
  void launch();
  bool wait_healthy(std::chrono::milliseconds timeout) const;
  // SIGTERM (then SIGKILL) by PID.
  void stop();
  // SIGKILL by PID: etcd gets no chance to say goodbye.
  void kill();
  bool running() const { return process_ != nullptr; }
  // Whether this member says it is its cluster's leader (false if it does
  // not answer).
  bool is_leader() const;
  // This member's ID in hex, as etcdctl spells it ("" if it does not answer).
  std::string member_id() const;
  std::string log() const;

 private:
  friend class EtcdCluster;
  // A member called `name`: its data in DIR/NAME-data, its log in
  // DIR/NAME.log. Alone until EtcdCluster sets `initial_cluster_`.
  EtcdServer(const TempDir& dir, const std::string& netns, const std::string& address, const std::string& name,
             int client_port, int peer_port);
  bool healthy() const;
  std::string curl(const std::string& args) const;  // curl in the member's namespace
  std::string peer_url() const;

  std::string netns_;
  std::string address_;
  std::string name_;
  std::string data_dir_;
  std::string log_path_;
  int client_port_ = 0;
  int peer_port_ = 0;
  std::string endpoint_;
  std::string initial_cluster_;
  std::string token_;
  std::unique_ptr<Process> process_;
};

// `size` members on one address (each its own ports and data), started
// together: a member waits for a quorum before it answers. A member killed
// and started again rejoins with its data.
class EtcdCluster {
 public:
  EtcdCluster(const TempDir& dir, int size, const std::string& netns = "", const std::string& address = "127.0.0.1");
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  int size() const { return static_cast<int>(members_.size()); }
  EtcdServer& member(int i) { return *members_.at(i); }
  // Every member's client URL, in member order.
  std::vector<std::string> endpoints() const;
  // Every member that is not running, concurrently; true once each is
  // healthy within `timeout`.
  bool start(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Member `i` again (after kill or stop), rejoining with its data.
  bool start(int i, std::chrono::milliseconds timeout = std::chrono::seconds(15));
  void kill(int i) { member(i).kill(); }
  void kill_all();
  void stop_all();
  // The member that says it leads, or -1 if none does (an election).
  int leader() const;
  // Hands the leadership to member `i` (etcdctl move-leader); false if it
  // does not have it within 10 s.
  bool make_leader(int i);
  // Every member's log, each under its name.
  std::string log() const;

 private:
  std::vector<std::unique_ptr<EtcdServer>> members_;
};

}  // namespace inception::test
