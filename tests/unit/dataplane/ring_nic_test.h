// A worker's context and a snapshot whose underlay NIC is net_ring0, for
// tests of the TX flush: what the stages send is what drain() reads back.
#pragma once

#include <gtest/gtest.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>

#include <memory>
#include <vector>

#include "dataplane/snapshot.h"
#include "dataplane/vxlan/vxlan.h"
#include "dataplane/worker/worker_context.h"
#include "test_frames.h"

namespace inception::test {

class RingNicTest : public ::testing::Test {
 protected:
  static constexpr PortIndex kUnderlay = 3;

  void SetUp() override {
    ASSERT_NE(ring_port(), UINT16_MAX) << "net_ring0 missing: eal_main.cpp creates it";
    counters = static_cast<WorkerCounters*>(rte_zmalloc(nullptr, sizeof(WorkerCounters), RTE_CACHE_LINE_SIZE));
    ctx = std::make_unique<WorkerContext>();
    ctx->counters = counters;
    ctx->pool = test_pool();
    snapshot.ports[kUnderlay].present = true;
    snapshot.ports[kUnderlay].role = PortRole::kUnderlay;
    snapshot.ports[kUnderlay].ethdev_id = ring_port();
    snapshot.underlay.enabled = true;
    snapshot.underlay.port = kUnderlay;
    drain();
  }
  void TearDown() override {
    drain();
    rte_free(counters);
  }
  // A resolved VXLAN peer at `port` toward 10.0.0.`16 + n`, VNI 1001.
  void add_peer(PortIndex port, unsigned n, NetworkIndex network = 0) {
    PortView& peer = snapshot.ports[port];
    peer.present = true;
    peer.network = network;
    peer.kind = PortKind::kVxlanPeer;
    peer.is_peer = true;
    peer.resolved = true;
    peer.ethdev_id = ring_port();
    peer.tunnel =
        make_vxlan_template({2, 0, 0, 0, 0, 0x0c}, {2, 0, 0, 0, 0, 1}, 0x0a00000c, 0x0a000010 + n, 4789, 1001);
  }
  // Everything the NIC sent since the last call.
  std::vector<rte_mbuf*> drain() {
    std::vector<rte_mbuf*> out;
    rte_mbuf* pkts[kBurstSize];
    for (uint16_t n; (n = rte_eth_rx_burst(ring_port(), 0, pkts, kBurstSize)) != 0;)
      out.insert(out.end(), pkts, pkts + n);
    return out;
  }

  Snapshot snapshot;
  WorkerCounters* counters = nullptr;
  std::unique_ptr<WorkerContext> ctx;
};

}  // namespace inception::test
