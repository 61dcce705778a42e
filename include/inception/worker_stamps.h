// Per-worker "last seen" seconds for the slots of a table the control
// thread ages (FDB entries, SNAT sessions).
//
// Each worker writes only its own array, and only when the second changed:
// a busy entry costs one store per second, and no cache line bounces
// between workers as it would with one shared stamp. The control thread
// reads the latest of all workers' stamps when it ages the table.
#pragma once

#include <rte_prefetch.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "inception/huge_array.h"

namespace inception {

class WorkerStamps {
 public:
  // Throws std::runtime_error if there is no hugepage memory for them.
  WorkerStamps(unsigned n_workers, uint32_t slots) {
    for (unsigned w = 0; w < std::max(1u, n_workers); ++w)
      arrays_.push_back(std::make_unique<HugeArray<uint32_t>>("worker stamps", slots));
  }

  // Worker `worker` saw `slot` at second `now_s`.
  void touch(unsigned worker, uint32_t slot, uint32_t now_s) const noexcept {
    uint32_t& seen = (*arrays_[worker])[slot];
    if (__atomic_load_n(&seen, __ATOMIC_RELAXED) != now_s) __atomic_store_n(&seen, now_s, __ATOMIC_RELAXED);
  }
  // A worker about to touch `slot` a few frames later.
  void prefetch(unsigned worker, uint32_t slot) const noexcept { rte_prefetch0(&(*arrays_[worker])[slot]); }
  // Control thread: the latest second any worker saw `slot`, and at least `floor`.
  uint32_t latest(uint32_t slot, uint32_t floor) const noexcept {
    for (const auto& stamps : arrays_) floor = std::max(floor, __atomic_load_n(&(*stamps)[slot], __ATOMIC_RELAXED));
    return floor;
  }
  // Control thread: every worker's stamp of `slot` (a new or reused entry).
  void reset(uint32_t slot, uint32_t now_s) const noexcept {
    for (const auto& stamps : arrays_) __atomic_store_n(&(*stamps)[slot], now_s, __ATOMIC_RELAXED);
  }

 private:
  // [worker][slot]: each worker's array its own allocation, so no two
  // workers write one cache line.
  std::vector<std::unique_ptr<HugeArray<uint32_t>>> arrays_;
};

}  // namespace inception
