#include "etcd_server.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace inception::test {

EtcdServer::EtcdServer(const TempDir& dir, const std::string& netns, const std::string& address)
    : EtcdServer(dir, netns, address, "etcd", free_tcp_port(), free_tcp_port()) {}

EtcdServer::EtcdServer(const TempDir& dir, const std::string& netns, const std::string& address,
                       const std::string& name, int client_port, int peer_port)
    : netns_(netns),
      address_(address),
      name_(name),
      data_dir_(dir.file(name + "-data")),
      log_path_(dir.file(name + ".log")),
      client_port_(client_port),
      peer_port_(peer_port),
      endpoint_("http://" + address + ":" + std::to_string(client_port)),
      initial_cluster_(name + "=" + peer_url()),
      token_(dir.path()) {}

EtcdServer::~EtcdServer() {
  stop();
}

std::string EtcdServer::peer_url() const {
  return "http://" + address_ + ":" + std::to_string(peer_port_);
}

std::string EtcdServer::curl(const std::string& args) const {
  const std::string command = "curl -s -m 1 " + args;
  return (netns_.empty() ? sh(command) : sh("ip netns exec " + netns_ + " " + command)).out;
}

bool EtcdServer::healthy() const {
  return curl(endpoint_ + "/health").find("\"health\":\"true\"") != std::string::npos;
}

bool EtcdServer::wait_healthy(std::chrono::milliseconds timeout) const {
  return eventually([&] { return healthy(); }, timeout, std::chrono::milliseconds(100));
}

void EtcdServer::launch() {
  if (process_) return;
  const std::string peer = peer_url();
  std::vector<std::string> argv;
  if (!netns_.empty()) argv = {"ip", "netns", "exec", netns_};
  // `ip netns exec` execs etcd in place: the PID is etcd's own. A member
  // started again finds its data directory and ignores --initial-*.
  const std::vector<std::string> etcd = {
      "/usr/bin/etcd", "--name", name_, "--data-dir", data_dir_, "--listen-client-urls", endpoint_,
      "--advertise-client-urls", endpoint_, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
      "--initial-cluster", initial_cluster_, "--initial-cluster-state", "new",
      // The token (the test's directory) keeps two tests' clusters apart
      // should a port be reused.
      "--initial-cluster-token", token_,
      // Heartbeats at a tenth of the election timeout: a follower misses
      // nine before it stands for election (see the header).
      "--heartbeat-interval", "50", "--election-timeout", "500", "--log-level", "warn"};
  argv.insert(argv.end(), etcd.begin(), etcd.end());
  process_ = std::make_unique<Process>(argv, log_path_, false);
}

bool EtcdServer::start(std::chrono::milliseconds timeout) {
  launch();
  return wait_healthy(timeout);
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

namespace {

// The gateway's maintenance status: {"header": {"member_id": ..}, "leader":
// ..}, the IDs as decimal strings; null if the member does not answer.
nlohmann::json member_status(const std::string& answer) {
  nlohmann::json s = nlohmann::json::parse(answer, nullptr, false);
  if (!s.is_object() || !s.contains("leader") || !s.contains("header") || !s["header"].contains("member_id"))
    return nullptr;
  return s;
}

}  // namespace

bool EtcdServer::is_leader() const {
  if (!process_) return false;
  const nlohmann::json s = member_status(curl("-X POST -d '{}' " + endpoint_ + "/v3/maintenance/status"));
  return !s.is_null() && s["leader"] == s["header"]["member_id"];
}

std::string EtcdServer::member_id() const {
  if (!process_) return "";
  const nlohmann::json s = member_status(curl("-X POST -d '{}' " + endpoint_ + "/v3/maintenance/status"));
  if (s.is_null() || !s["header"]["member_id"].is_string()) return "";
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%llx", std::stoull(s["header"]["member_id"].get<std::string>()));
  return hex;  // etcdctl's spelling
}

std::string EtcdServer::log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

EtcdCluster::EtcdCluster(const TempDir& dir, int size, const std::string& netns, const std::string& address) {
  // Two free ports per member, all different: free_tcp_port may hand out a
  // port it just returned.
  std::set<int> ports;
  while (ports.size() < static_cast<size_t>(2 * size)) ports.insert(free_tcp_port());
  auto port = ports.begin();
  std::string initial_cluster;
  for (int i = 0; i < size; ++i) {
    const int client = *port++;
    const int peer = *port++;
    members_.push_back(
        std::unique_ptr<EtcdServer>(new EtcdServer(dir, netns, address, "etcd" + std::to_string(i), client, peer)));
    initial_cluster += (i ? "," : "") + members_.back()->initial_cluster_;
  }
  for (auto& m : members_) m->initial_cluster_ = initial_cluster;
}

std::vector<std::string> EtcdCluster::endpoints() const {
  std::vector<std::string> out;
  for (const auto& m : members_) out.push_back(m->endpoint());
  return out;
}

bool EtcdCluster::start(std::chrono::milliseconds timeout) {
  // All launched before any is waited for: alone, a member of a cluster
  // never becomes healthy.
  for (auto& m : members_) m->launch();
  const auto deadline = Clock::now() + timeout;
  for (auto& m : members_)
    if (!m->wait_healthy(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()))) return false;
  return true;
}

bool EtcdCluster::start(int i, std::chrono::milliseconds timeout) {
  return member(i).start(timeout);
}

void EtcdCluster::kill_all() {
  for (auto& m : members_) m->kill();
}

void EtcdCluster::stop_all() {
  for (auto& m : members_) m->stop();
}

int EtcdCluster::leader() const {
  for (int i = 0; i < size(); ++i)
    if (members_[i]->is_leader()) return i;
  return -1;
}

bool EtcdCluster::make_leader(int i) {
  // Asked of the leader, which hands over at once rather than after an
  // election timeout; again while it refuses (a member just started
  // again is not caught up yet: "etcdserver: unhealthy cluster").
  return eventually(
      [&] {
        const int now = leader();
        if (now == i) return true;
        const std::string id = member(i).member_id();
        if (now < 0 || id.empty()) return false;
        const EtcdServer& from = member(now);
        const std::string command = "env ETCDCTL_API=3 etcdctl --endpoints=" + from.endpoint() + " move-leader " + id;
        const CommandResult r = from.netns_.empty() ? sh(command) : sh("ip netns exec " + from.netns_ + " " + command);
        if (r.exit_code != 0) std::fprintf(stderr, "etcd: %s: %s%s", command.c_str(), r.out.c_str(), r.err.c_str());
        return leader() == i;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(200));
}

std::string EtcdCluster::log() const {
  std::string out;
  for (const auto& m : members_) out += "---- " + m->name() + "\n" + m->log();
  return out;
}

}  // namespace inception::test
