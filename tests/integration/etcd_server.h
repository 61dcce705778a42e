// A private single-member etcd for tests (Debian's /usr/bin/etcd): its
// data in the test's temporary directory, client and peer URLs on ports
// nobody else uses, started and stopped by PID. Never the packaged service.
#pragma once

#include <chrono>
#include <memory>
#include <string>

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
  // Starts etcd (again, on the same data and ports) and waits until it
  // answers; false if it does not within `timeout`.
  bool start(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  // SIGTERM (then SIGKILL) by PID.
  void stop();
  // SIGKILL by PID: etcd gets no chance to say goodbye.
  void kill();
  bool running() const { return process_ != nullptr; }
  std::string log() const;

 private:
  bool healthy() const;

  std::string netns_;
  std::string address_;
  std::string data_dir_;
  std::string log_path_;
  int client_port_ = 0;
  int peer_port_ = 0;
  std::string endpoint_;
  std::unique_ptr<Process> process_;
};

}  // namespace inception::test
