// The dataplane: workers, their shared tables and the snapshot they run on.
//
// Threads:
//  * Workers: one per worker lcore, running worker_loop (worker.cpp). Each is
//    an RCU QSBR reader with thread id = worker index; it reports a quiescent
//    state once per loop iteration and goes offline while it sleeps.
//  * Control thread: the only caller of every non-const method here, except
//    counters()/now_s()/tsc_hz() which any thread may call.
// Memory discipline: the control thread never frees or reuses anything a
// worker may hold (snapshot, FDB slot, port) before rte_rcu_qsbr_synchronize
// returns on rcu().
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dataplane/l2/learn_ring.h"
#include "dataplane/snapshot.h"
#include "dataplane/worker/punt.h"
#include "inception/counters.h"

namespace inception {

struct IdlePolicy {
  // false: poll continuously (lowest latency, one full core per worker).
  // true: after `spin_polls` empty iterations sleep, doubling from 1 us up
  // to `max_sleep_us`; the first packet resets it. When every queue the
  // worker polls can wake it (vhost-user queues with a kick fd), the sleep
  // doubles further, up to `max_kicked_sleep_us`: a frame wakes it anyway.
  bool adaptive = true;
  uint32_t spin_polls = 200;
  uint32_t max_sleep_us = 500;
  uint32_t max_kicked_sleep_us = 20000;
};

struct DataplaneOptions {
  std::vector<unsigned> worker_lcores;
  IdlePolicy idle;
  uint32_t mbufs = 16384;
  uint32_t learn_ring_size = 4096;
  // Punted ARP waiting for the control thread, per ring (underlay, overlay).
  uint32_t punt_ring_size = 1024;
};

// Packet buffers of the one mempool, as `stats` and the metrics show them.
struct MempoolUsage {
  std::string name;
  uint32_t size = 0;       // mbufs in the pool
  uint32_t in_use = 0;     // held by rings, queues and frames in flight
  uint32_t available = 0;  // in the pool or a per-lcore cache
};

class Dataplane {
 public:
  // Needs an initialised EAL. Throws std::runtime_error on allocation failure.
  explicit Dataplane(const DataplaneOptions& options);
  ~Dataplane();
  Dataplane(const Dataplane&) = delete;
  Dataplane& operator=(const Dataplane&) = delete;

  void start();
  void stop();

  unsigned worker_count() const noexcept { return static_cast<unsigned>(options_.worker_lcores.size()); }
  const DataplaneOptions& options() const noexcept { return options_; }
  rte_mempool* mempool() const noexcept { return mempool_; }
  rte_rcu_qsbr* rcu() const noexcept { return rcu_; }

  // The snapshot workers currently run on (control thread).
  const Snapshot& snapshot() const noexcept { return *snapshot_.load(std::memory_order_relaxed); }
  // Makes `next` current and frees the previous snapshot once no worker can
  // hold it any more.
  void publish(std::unique_ptr<Snapshot> next);

  // Hands up to `max` pending learn requests to `handle`. Returns how many.
  size_t drain_learn_requests(const std::function<void(const LearnRequest&)>& handle, size_t max = 4096);
  // Queues a frame the control thread built (a gratuitous ARP) for worker 0
  // to flood on `network` as the router. Takes ownership.
  bool inject(NetworkIndex network, rte_mbuf* m) noexcept;
  // Hands frames workers punted (ARP for the neighbor tables) to `handle`,
  // then frees them: every underlay frame first, then up to `max_overlay`
  // overlay frames (both rings are bounded, and overlay punts rate-limited).
  size_t drain_punted(const std::function<void(const PuntedFrame&)>& handle, size_t max_overlay = 1024);
  MempoolUsage mempool_usage() const noexcept;
  // Packet buffers the switch keeps free for frames in flight (punt and
  // inject rings, per-lcore caches, TX buffers): a port whose queues would
  // pin into them is refused (Controller::add_port).
  uint32_t reserved_mbufs() const noexcept;

  const WorkerCounters& counters(unsigned worker) const noexcept { return *counters_[worker]; }
  // Seconds since the dataplane started, on the clock workers use for FDB ages.
  uint32_t now_s() const noexcept;
  uint64_t tsc_hz() const noexcept { return tsc_hz_; }

 private:
  friend int worker_main(void* arg);
  struct Worker;
  static void ring_doorbell(const Worker& worker) noexcept;

  DataplaneOptions options_;
  rte_mempool* mempool_ = nullptr;
  rte_rcu_qsbr* rcu_ = nullptr;
  rte_ring* learn_ring_ = nullptr;
  rte_ring* underlay_punt_ring_ = nullptr;
  rte_ring* overlay_punt_ring_ = nullptr;
  rte_ring* inject_ring_ = nullptr;
  std::vector<WorkerCounters*> counters_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<Snapshot*> snapshot_{nullptr};
  std::atomic<bool> stop_{false};
  bool running_ = false;
  uint64_t tsc_hz_ = 0;
  uint64_t start_tsc_ = 0;
};

}  // namespace inception
