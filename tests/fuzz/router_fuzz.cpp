// Fuzz target: the router stage with floating IPs, gateway mappings and an
// SNAT table (router_burst, router_arp, router_underlay_burst), called
// directly, so frames need not carry the router's MAC to reach it.
//
// Input: config:u8, then bursts of
//   entry:u8  advance_ms:u8  count:u8 (1 + count % 32 frames)  frame records
// entry % 3: 0 router_burst, 1 router_arp (a frame it leaves alone is freed,
// where the bridge would flood it), 2 router_underlay_burst; entry / 3
// picks the ingress port among the routed networks' ports.
#include <rte_mbuf.h>

#include "dataplane/router/router.h"
#include "packet_harness.h"

using namespace inception;
using namespace inception::fuzz;

namespace {
constexpr const char* kName = "router";
constexpr PortIndex kRoutedPorts[] = {7, 8, 9, 10, 11};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  Input in(data, size);
  w.begin(in.u8());
  while (!in.empty()) {
    const uint8_t entry = in.u8();
    const PortIndex port = kRoutedPorts[(entry / 3) % std::size(kRoutedPorts)];
    const NetworkIndex network = w.snapshot().ports[port].network;
    w.advance(in.u8());
    const unsigned count = 1 + in.u8() % kBurstSize;
    rte_mbuf* pkts[kBurstSize];
    uint16_t n = 0;
    for (unsigned i = 0; i < count; ++i) {
      rte_mbuf* m = make_frame(read_frame_record(in));
      if (m == nullptr) continue;
      if (entry % 3 == 1) {
        if (!router_arp(w.ctx(), w.snapshot(), network, port, m)) rte_pktmbuf_free(m);
        continue;
      }
      pkts[n++] = m;
    }
    if (n != 0 && entry % 3 == 0) router_burst(w.ctx(), w.snapshot(), network, port, pkts, n);
    if (n != 0 && entry % 3 == 2) router_underlay_burst(w.ctx(), w.snapshot(), World::kUnderlay, pkts, n);
    w.finish_burst(kName);
  }
  w.end(kName);
  return 0;
}
