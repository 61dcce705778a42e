// Fuzz target: frames arriving from the rVM's NIC (underlay_input_burst:
// classification, ARP for the VTEP, VXLAN decapsulation into the bridge
// with the sending peer as ingress, gateway-mapping and SNAT traffic into
// the router) and from the host interface (host_input_burst).
//
// Input: config:u8, then bursts of
//   source:u8 (bit 0: the host interface instead of the NIC)  advance_ms:u8
//   count:u8 (1 + count % 32 frames)  frame records (fuzz_input.h)
#include <rte_mbuf.h>

#include "dataplane/underlay/underlay_input.h"
#include "packet_harness.h"

using namespace inception;
using namespace inception::fuzz;

namespace {
constexpr const char* kName = "underlay";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  World& w = world();
  Input in(data, size);
  w.begin(in.u8());
  while (!in.empty()) {
    const bool from_host = in.u8() & 1;
    w.advance(in.u8());
    rte_mbuf* pkts[kBurstSize];
    const uint16_t n = read_burst(in, pkts);
    if (from_host)
      host_input_burst(w.ctx(), w.snapshot(), World::kHost, pkts, n);
    else
      underlay_input_burst(w.ctx(), w.snapshot(), World::kUnderlay, pkts, n);
    w.finish_burst(kName);
  }
  w.end(kName);
  return 0;
}
