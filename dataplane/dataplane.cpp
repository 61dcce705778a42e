#include "dataplane/dataplane.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <stdexcept>
#include <string>

#include "dataplane/worker/worker_state.h"
#include "vhost/vhost_port.h"

namespace inception {

int worker_main(void* arg);

namespace {

// Per-lcore mempool cache: frees and allocations of a burst stay local.
constexpr uint32_t kMempoolCache = 256;

[[noreturn]] void dpdk_failure(const std::string& what) {
  throw std::runtime_error(what + ": " + rte_strerror(rte_errno));
}

}  // namespace

Dataplane::Dataplane(const DataplaneOptions& options) : options_(options) {
  if (options_.worker_lcores.empty() || options_.worker_lcores.size() > kMaxWorkers)
    throw std::runtime_error("between 1 and " + std::to_string(kMaxWorkers) + " worker cores are needed");
  tsc_hz_ = rte_get_tsc_hz();
  start_tsc_ = rte_rdtsc();
  const int socket = static_cast<int>(rte_socket_id());

  mempool_ =
      rte_pktmbuf_pool_create("inception_mbufs", options_.mbufs, kMempoolCache, 0, RTE_MBUF_DEFAULT_BUF_SIZE, socket);
  if (mempool_ == nullptr)
    dpdk_failure("cannot allocate " + std::to_string(options_.mbufs) + " packet buffers (raise dpdk.memory_mb?)");

  const size_t rcu_size = rte_rcu_qsbr_get_memsize(kMaxWorkers);
  rcu_ = static_cast<rte_rcu_qsbr*>(rte_zmalloc("inception_rcu", rcu_size, RTE_CACHE_LINE_SIZE));
  if (rcu_ == nullptr || rte_rcu_qsbr_init(rcu_, kMaxWorkers) != 0) dpdk_failure("cannot set up RCU");

  learn_ring_ =
      rte_ring_create_elem("inception_learn", sizeof(LearnRequest), options_.learn_ring_size, socket, RING_F_SC_DEQ);
  if (learn_ring_ == nullptr) dpdk_failure("cannot create the learn ring");
  underlay_punt_ring_ =
      rte_ring_create_elem("inception_punt_ul", sizeof(PuntedFrame), options_.punt_ring_size, socket, RING_F_SC_DEQ);
  if (underlay_punt_ring_ == nullptr) dpdk_failure("cannot create the underlay punt ring");
  overlay_punt_ring_ =
      rte_ring_create_elem("inception_punt_ol", sizeof(PuntedFrame), options_.punt_ring_size, socket, RING_F_SC_DEQ);
  if (overlay_punt_ring_ == nullptr) dpdk_failure("cannot create the overlay punt ring");
  inject_ring_ = rte_ring_create_elem("inception_inject", sizeof(InjectedFrame), 256, socket, RING_F_SC_DEQ);
  if (inject_ring_ == nullptr) dpdk_failure("cannot create the inject ring");

  for (unsigned w = 0; w < worker_count(); ++w) {
    auto* counters = static_cast<WorkerCounters*>(
        rte_zmalloc_socket("inception_counters", sizeof(WorkerCounters), RTE_CACHE_LINE_SIZE, socket));
    if (counters == nullptr) dpdk_failure("cannot allocate worker counters");
    counters_.push_back(counters);
    auto worker = std::make_unique<Worker>();
    worker->dataplane = this;
    worker->lcore = options_.worker_lcores[w];
    worker->ctx.index = w;
    worker->ctx.counters = counters;
    worker->ctx.pool = mempool_;
    worker->ctx.learn_ring = learn_ring_;
    worker->ctx.underlay_punt_ring = underlay_punt_ring_;
    worker->ctx.overlay_punt_ring = overlay_punt_ring_;
    if (w == 0) worker->ctx.inject_ring = inject_ring_;
    worker->doorbell = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);  // without one, the timeout still wakes it
    worker->ctx.learn_window_cycles = tsc_hz_ / 100;            // repeat a learn request at most every 10 ms
    workers_.push_back(std::move(worker));
  }
  snapshot_.store(new Snapshot(), std::memory_order_release);
  // A guest that attaches, or enables a queue, while a worker sleeps: wake
  // it to ask the new queue for kicks (it sleeps long when all can kick).
  vhost::set_guest_change_hook(
      [](void* dataplane) {
        for (const auto& worker : static_cast<Dataplane*>(dataplane)->workers_) ring_doorbell(*worker);
      },
      this);
}

Dataplane::~Dataplane() {
  vhost::set_guest_change_hook(nullptr, nullptr);
  stop();
  for (const auto& worker : workers_)
    if (worker->doorbell >= 0) close(worker->doorbell);
  delete snapshot_.load();
  rte_ring_free(learn_ring_);
  for (rte_ring* ring : {underlay_punt_ring_, overlay_punt_ring_}) {
    PuntedFrame leftover{};
    while (rte_ring_sc_dequeue_elem(ring, &leftover, sizeof(leftover)) == 0) rte_pktmbuf_free(leftover.m);
    rte_ring_free(ring);
  }
  InjectedFrame injected{};
  while (rte_ring_sc_dequeue_elem(inject_ring_, &injected, sizeof(injected)) == 0) rte_pktmbuf_free(injected.m);
  rte_ring_free(inject_ring_);
  rte_free(rcu_);
  for (WorkerCounters* counters : counters_) rte_free(counters);
  // The mempool is left to rte_eal_cleanup: ports closed after us may still
  // return mbufs to it.
}

void Dataplane::start() {
  if (running_) return;
  stop_.store(false);
  for (auto& worker : workers_) {
    const int rc = rte_eal_remote_launch(worker_main, worker.get(), worker->lcore);
    if (rc != 0)
      throw std::runtime_error("cannot start worker on lcore " + std::to_string(worker->lcore) + ": " +
                               rte_strerror(-rc));
  }
  running_ = true;
}

void Dataplane::stop() {
  if (!running_) return;
  stop_.store(true);
  for (auto& worker : workers_) rte_eal_wait_lcore(worker->lcore);
  running_ = false;
}

void Dataplane::ring_doorbell(const Worker& worker) noexcept {
  if (worker.doorbell < 0) return;
  const uint64_t one = 1;
  // EAGAIN (the counter is full) cannot happen in practice; either way the
  // worker is awake or about to be.
  [[maybe_unused]] const ssize_t n = write(worker.doorbell, &one, sizeof(one));
}

void Dataplane::publish(std::unique_ptr<Snapshot> next) {
  Snapshot* previous = snapshot_.exchange(next.release(), std::memory_order_acq_rel);
  // A sleeping worker only watches the kick fds of the old snapshot's
  // queues: wake it to arm the new set (a port just added).
  for (const auto& worker : workers_) ring_doorbell(*worker);
  rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID);
  delete previous;
}

size_t Dataplane::drain_learn_requests(const std::function<void(const LearnRequest&)>& handle, size_t max) {
  LearnRequest batch[64];
  size_t total = 0;
  while (total < max) {
    const unsigned n = rte_ring_sc_dequeue_burst_elem(learn_ring_, batch, sizeof(LearnRequest), 64, nullptr);
    for (unsigned i = 0; i < n; ++i) handle(batch[i]);
    total += n;
    if (n < 64) break;
  }
  return total;
}

bool Dataplane::inject(NetworkIndex network, rte_mbuf* m) noexcept {
  InjectedFrame frame{m, network, {}};
  if (rte_ring_mp_enqueue_elem(inject_ring_, &frame, sizeof(frame)) == 0) {
    if (!workers_.empty()) ring_doorbell(*workers_[0]);  // worker 0 sends injected frames
    return true;
  }
  rte_pktmbuf_free(m);
  return false;
}

size_t Dataplane::drain_punted(const std::function<void(const PuntedFrame&)>& handle, size_t max_overlay) {
  size_t total = 0;
  PuntedFrame frame{};
  // The underlay ring holds only ARP of wanted next hops: take it all.
  while (rte_ring_sc_dequeue_elem(underlay_punt_ring_, &frame, sizeof(frame)) == 0) {
    handle(frame);
    rte_pktmbuf_free(frame.m);
    ++total;
  }
  for (size_t n = 0; n < max_overlay && rte_ring_sc_dequeue_elem(overlay_punt_ring_, &frame, sizeof(frame)) == 0; ++n) {
    handle(frame);
    rte_pktmbuf_free(frame.m);
    ++total;
  }
  return total;
}

MempoolUsage Dataplane::mempool_usage() const noexcept {
  MempoolUsage usage;
  usage.name = mempool_->name;
  usage.size = mempool_->size;
  // Both counts include the per-lcore caches (rte_mempool_avail_count sums
  // them), so in_use is what rings, queues and frames in flight hold.
  usage.available = rte_mempool_avail_count(mempool_);
  usage.in_use = rte_mempool_in_use_count(mempool_);
  return usage;
}

uint32_t Dataplane::reserved_mbufs() const noexcept {
  const uint32_t lcores = worker_count() + 1;
  return 2 * options_.punt_ring_size + rte_ring_get_capacity(inject_ring_) + lcores * kMempoolCache +
         worker_count() * kBurstSize * 8;
}

uint32_t Dataplane::now_s() const noexcept {
  return static_cast<uint32_t>((rte_rdtsc() - start_tsc_) / tsc_hz_);
}

}  // namespace inception
