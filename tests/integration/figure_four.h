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

class FigureFourTest : public ::testing::Test {
 protected:
  // `settings` go to every rVM's config (topology.sh --set SECTION.KEY=VALUE).
  void bring_up(const std::string& tag, const std::vector<std::string>& settings = {});
  // The topology and the gateway's public address alone: no floating IP,
  // no servers. For fixtures that bring their own iVMs.
  void bring_up_reality(const std::string& tag, const std::vector<std::string>& settings = {});
  // A busybox web server in namespace `ns` serving `text`; `listen` is
  // PORT or ADDRESS:PORT.
  void serve_http(const std::string& ns, const std::string& text, const std::string& listen = "80");
  // The address the internet server sees a TCP connection from `ns` come from.
  std::string seen_by_server(const std::string& ns);
  // The same for one UDP exchange from a given source port.
  std::string udp_seen_by_server(const std::string& ns, int source_port);

  std::unique_ptr<TempDir> dir;
  std::unique_ptr<Topology> topo;
};

}  // namespace inception::test
