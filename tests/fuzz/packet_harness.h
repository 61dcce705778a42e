// What the fast-path fuzz harnesses share: one EAL per process, frames
// built from fuzz records, the checks every input ends with, and a switch
// ("the world") to run stages on.
//
// Theory of operation
//  * The EAL runs in memory (--no-huge --in-memory --no-pci, no telemetry):
//    it leaves no file, socket or hugepage behind. Its one device is a
//    net_null ethdev that every port of the world transmits through, so
//    flush_tx, VXLAN encapsulation included, runs as on a worker and the
//    frames end freed by a PMD, as in production.
//  * Frames the fuzzer writes live in external buffers allocated with
//    malloc at their exact size (rte_pktmbuf_attach_extbuf), so a stage
//    reading one byte past the frame, or into a segment it does not own,
//    is an AddressSanitizer report; a frame freed twice frees its buffer
//    twice, another report. (A pool mbuf's data room is DPDK memory that
//    ASan does not see: a read past data_len there would go unnoticed.)
//    Flag bit 4 of a record asks for a pool mbuf instead, for the paths
//    that treat direct mbufs differently.
//  * After every input the harness checks that the mempool holds as many
//    mbufs as before and that every external buffer was released exactly
//    once (LeakCheck): a frame leaked, or a segment returned twice (the
//    chained-flood double free of commit ea5b2e5), aborts the run.
//  * Before a burst is transmitted, every mbuf queued for TX must pass
//    rte_mbuf_check (lengths, segment counts, reference counts).
#pragma once

#include <rte_mbuf.h>
#include <rte_ring.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/l2/fdb.h"
#include "dataplane/router/overlay_neighbors.h"
#include "dataplane/snapshot.h"
#include "dataplane/worker/worker_context.h"
#include "fuzz_input.h"
#include "inception/counters.h"
#include "nat/snat.h"

namespace inception::fuzz {

// Byte readers and the RFC 1071 sum for the harnesses' oracles, written
// byte by byte, independently of the code under test.
inline uint16_t get16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] << 8 | p[1]);
}
inline uint32_t sum_bytes(const uint8_t* p, size_t n, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < n; i += 2) sum += uint32_t{p[i]} << 8 | p[i + 1];
  if (n % 2) sum += uint32_t{p[n - 1]} << 8;
  return sum;
}
inline uint16_t fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}
// A sum over data that holds its own checksum: all ones if it verifies.
inline bool verifies(uint32_t sum) {
  return fold(sum) == 0xffff;
}
// The checksum to store for `n` bytes (0 over bytes that hold theirs).
inline uint16_t checksum(const uint8_t* p, size_t n) {
  return static_cast<uint16_t>(~fold(sum_bytes(p, n)));
}

// Prints the message and aborts: libFuzzer saves the input as a crash.
[[noreturn]] void fail(const char* format, ...) __attribute__((format(printf, 1, 2)));

// Starts the EAL once per process (idempotent).
void init_eal();
// The pool every harness allocates from: 6000 mbufs, no per-lcore cache
// (so rte_mempool_avail_count is exact).
rte_mempool* pool();

// Builds the mbuf chain a record describes, or nullptr if the pool is empty.
rte_mbuf* make_frame(const FrameRecord& record);
// A burst from the input: a count byte (1 to kBurstSize), then that many
// frame records; returns how many frames were made (the pool may run dry).
uint16_t read_burst(Input& in, rte_mbuf* (&pkts)[kBurstSize]);
// External buffers allocated and not yet released.
long outstanding_buffers() noexcept;

// Aborts if `m` is not a consistent mbuf chain (rte_mbuf_check).
void check_mbuf(const rte_mbuf* m, const char* where);

// Remembers the pool's and the external buffers' counts; verify() aborts
// if an input changed them.
class LeakCheck {
 public:
  LeakCheck();
  void verify(const char* harness) const;

 private:
  unsigned available_;
  long buffers_;
};

// The switch the fast-path harnesses drive, as a Snapshot a control thread
// would publish (indices below; addresses from the documentation ranges):
//   port 0 underlay NIC (this rVM is VTEP 10.0.0.12/24), port 1 host interface
//   network 0 "blue"    VNI 1001, L2 only: local 2, 3 (port security:
//                       two MACs, 192.0.2.3 and 198.51.100.16/28), 4 (port
//                       security, MAC only); VXLAN peers 5 (10.0.0.11), 6 (10.0.0.13)
//   network 1 "private" VNI 1002, router 192.0.2.254/24: local 7 (port
//                       security, 192.0.2.7), 8
//   network 2 "public"  VNI 1003, router 198.51.100.202/24: local 9; peers
//                       10 (10.0.0.11, resolved), 11 (10.0.0.13)
//   network 3 "red"     VNI 1004, L2 only: local 12, 13 (a quota of 2 MACs)
// NAT: floating IPs 203.0.113.10 -> 192.0.2.10 and 203.0.113.13 -> 192.0.2.7
// (private), gateway mappings 10.0.0.20 <-> 203.0.113.10 and 10.0.0.21 <->
// 203.0.113.11, SNAT on 10.0.0.100 (64 ports, 128 sessions).
class World {
 public:
  static constexpr PortIndex kUnderlay = 0, kHost = 1;
  static constexpr NetworkIndex kBlue = 0, kPrivate = 1, kPublic = 2, kRed = 3, kNetworks = 4;
  static constexpr uint64_t kHz = 1000000000;  // the world's TSC: 1 GHz

  World();
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // Starts an input: `config` bits vary the snapshot (see world.cpp) and
  // the worker context starts afresh.
  void begin(uint8_t config);
  // Moves the worker's clock on by `ms` milliseconds.
  void advance(unsigned ms) noexcept;
  // What a worker does after a stage: checks and transmits the TX buffers,
  // then plays the control thread (learn requests, punted ARP).
  void finish_burst(const char* harness);
  // Ends an input: the tables are put back as begin() found them and the
  // leak check runs.
  void end(const char* harness);

  WorkerContext& ctx() noexcept { return *ctx_; }
  const WorkerContext& ctx() const noexcept { return *ctx_; }
  const Snapshot& snapshot() const noexcept { return *snapshot_; }
  // Ports a frame may enter a network on (local ports and peers).
  const std::vector<PortIndex>& switch_ports() const noexcept { return switch_ports_; }

 private:
  void reset_tables();
  void control_thread();
  void report() const;

  std::unique_ptr<Snapshot> snapshot_;
  std::unique_ptr<WorkerContext> ctx_;
  WorkerCounters* counters_ = nullptr;
  rte_ring* learn_ring_ = nullptr;
  rte_ring* underlay_punts_ = nullptr;
  rte_ring* overlay_punts_ = nullptr;
  std::unique_ptr<Fdb> fdbs_[kNetworks];
  std::unique_ptr<OverlayNeighbors> neighbors_;
  std::unique_ptr<nat::SnatTable> snat_;
  std::vector<PortIndex> switch_ports_;
  std::unique_ptr<LeakCheck> baseline_;
};

// The one world of this process (built on first use, after init_eal).
World& world();

}  // namespace inception::fuzz
