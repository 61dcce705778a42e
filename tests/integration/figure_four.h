// The paper's Figure 4 as a test fixture: scripts/topology.sh --nat with
// three rVMs, the reality cloud mapping 203.0.113.10 to the gateway rVM's
// 10.0.0.101, floating IP 203.0.113.10 on iVM2 (192.0.2.2, rVM2), web
// servers in iVM2 and iVM3, and an internet server (203.0.113.200) that
// answers TCP 8080 and UDP 5353 with the address it sees.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "harness.h"

namespace inception::test {

// The topology and its helpers, without GoogleTest's assertions: what went
// wrong comes back as text ("" when nothing did). For a fixture that shares
// one topology across its suite, brought up in SetUpTestSuite, where an
// ASSERT would make GoogleTest skip the tests instead of failing them.
class FigureFour {
 public:
  // `settings` go to every rVM's config (topology.sh --set SECTION.KEY=VALUE).
  std::string bring_up(const std::string& tag, const std::vector<std::string>& settings = {});
  // The topology and the gateway's public address alone: no floating IP,
  // no servers. For fixtures that bring their own iVMs.
  std::string bring_up_reality(const std::string& tag, const std::vector<std::string>& settings = {});
  // A busybox web server in namespace `ns` serving `text`; `listen` is
  // PORT or ADDRESS:PORT.
  std::string serve_http(const std::string& ns, const std::string& text, const std::string& listen = "80");
  // The address the internet server sees a TCP connection from `ns` come from.
  std::string seen_by_server(const std::string& ns) const;
  // The same for one UDP exchange from a given source port.
  std::string udp_seen_by_server(const std::string& ns, int source_port) const;

  std::unique_ptr<TempDir> dir;
  std::unique_ptr<Topology> topo;
};

// The same for a fixture with a topology per test: set-up failures are
// fatal failures of the test.
class FigureFourTest : public ::testing::Test, public FigureFour {
 protected:
  void bring_up(const std::string& tag, const std::vector<std::string>& settings = {}) {
    const std::string error = FigureFour::bring_up(tag, settings);
    ASSERT_TRUE(error.empty()) << error;
  }
  void bring_up_reality(const std::string& tag, const std::vector<std::string>& settings = {}) {
    const std::string error = FigureFour::bring_up_reality(tag, settings);
    ASSERT_TRUE(error.empty()) << error;
  }
  void serve_http(const std::string& ns, const std::string& text, const std::string& listen = "80") {
    const std::string error = FigureFour::serve_http(ns, text, listen);
    ASSERT_TRUE(error.empty()) << error;
  }
};

}  // namespace inception::test
