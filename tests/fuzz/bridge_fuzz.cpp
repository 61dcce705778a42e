// Fuzz target: frames entering a network from local ports and VXLAN peers
// (bridge_burst, and the router stage it hands ARP and routed frames to).
//
// Input: config:u8, then bursts of
//   port:u8 (an index into the world's switch ports)  advance_ms:u8
//   count:u8 (1 + count % 32 frames)  frame records (fuzz_input.h)
// Oracle, besides the sanitizers and the world's leak and mbuf checks: a
// frame that entered an L2-only network is only ever queued to ports of
// that network (DESIGN.md section 8: networks are isolated by construction).
#include <rte_mbuf.h>

#include "dataplane/l2/bridge.h"
#include "packet_harness.h"

using namespace inception;
using namespace inception::fuzz;

namespace {

constexpr const char* kName = "bridge";

void check_isolation(const World& w, PortIndex in_port) {
  const Snapshot& s = w.snapshot();
  const NetworkIndex network = s.ports[in_port].network;
  if (s.networks[network].l3) return;  // the router may send elsewhere, by design
  const TxBuffers& tx = w.ctx().tx;
  for (uint16_t d = 0; d < tx.n_dirty; ++d) {
    const PortIndex out = tx.dirty[d];
    if (s.ports[out].network != network)
      fail("%s: a frame from port %u on network %u was queued to port %u on network %u", kName, in_port, network, out,
           s.ports[out].network);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  Input in(data, size);
  w.begin(in.u8());
  while (!in.empty()) {
    const PortIndex port = w.switch_ports()[in.u8() % w.switch_ports().size()];
    w.advance(in.u8());
    rte_mbuf* pkts[kBurstSize];
    const uint16_t n = read_burst(in, pkts);
    bridge_burst(w.ctx(), w.snapshot(), port, pkts, n);
    check_isolation(w, port);
    w.finish_burst(kName);
  }
  w.end(kName);
  return 0;
}
