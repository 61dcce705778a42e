#include "etcd_server.h"

#include <fstream>
#include <sstream>

namespace inception::test {

EtcdServer::EtcdServer(const TempDir& dir, const std::string& netns, const std::string& address)
    : netns_(netns),
      address_(address),
      data_dir_(dir.file("etcd-data")),
      log_path_(dir.file("etcd.log")),
      client_port_(free_tcp_port()),
      peer_port_(free_tcp_port()) {
  endpoint_ = "http://" + address_ + ":" + std::to_string(client_port_);
}

EtcdServer::~EtcdServer() {
  stop();
}

bool EtcdServer::healthy() const {
  const std::string probe = "curl -s -m 1 " + endpoint_ + "/health";
  const CommandResult r = netns_.empty() ? sh(probe) : sh("ip netns exec " + netns_ + " " + probe);
  return r.out.find("\"health\":\"true\"") != std::string::npos;
}

bool EtcdServer::start(std::chrono::milliseconds timeout) {
  if (process_) return true;
  const std::string peer = "http://" + address_ + ":" + std::to_string(peer_port_);
  std::vector<std::string> argv;
  if (!netns_.empty()) argv = {"ip", "netns", "exec", netns_};
  // `ip netns exec` execs etcd in place: the PID is etcd's own.
  const std::vector<std::string> etcd = {
      "/usr/bin/etcd", "--name", "test", "--data-dir", data_dir_, "--listen-client-urls", endpoint_,
      "--advertise-client-urls", endpoint_, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
      "--initial-cluster", "test=" + peer, "--initial-cluster-state", "new",
      // etcd's shortest lease follows its election
      // timeout (1.5 x, rounded up): 500 ms lets the
      // gateway election's 1 s leader lease be 1 s.
      "--heartbeat-interval", "50", "--election-timeout", "500", "--log-level", "warn"};
  argv.insert(argv.end(), etcd.begin(), etcd.end());
  process_ = std::make_unique<Process>(argv, log_path_, false);
  return eventually([&] { return healthy(); }, timeout, std::chrono::milliseconds(100));
}

void EtcdServer::stop() {
  if (!process_) return;
  process_->stop(15, std::chrono::seconds(10));
  process_.reset();
}

void EtcdServer::kill() {
  if (!process_) return;
  process_->stop(9);
  process_.reset();
}

std::string EtcdServer::log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace inception::test
