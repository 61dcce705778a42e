// Per-worker "last seen" seconds for the slots of a table the control
// thread ages (FDB entries, SNAT sessions).
//
// Each worker writes only its own array, and only when the second changed:
// a busy entry costs one store per second, and no cache line bounces
// between workers as it would with one shared stamp. The control thread
// reads the latest of all workers' stamps when it ages the table.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

namespace inception {

class WorkerStamps {
 public:
  WorkerStamps(unsigned n_workers, uint32_t slots) {
    const size_t bytes = (size_t{slots} * sizeof(uint32_t) + 63) / 64 * 64;
    for (unsigned w = 0; w < std::max(1u, n_workers); ++w) {
      auto* stamps = static_cast<uint32_t*>(std::aligned_alloc(64, std::max<size_t>(bytes, 64)));
      if (stamps == nullptr) {
        release();
        throw std::bad_alloc();
      }
      std::fill(stamps, stamps + slots, 0u);
      arrays_.push_back(stamps);
    }
  }
  ~WorkerStamps() { release(); }
  WorkerStamps(const WorkerStamps&) = delete;
  WorkerStamps& operator=(const WorkerStamps&) = delete;

  // Worker `worker` saw `slot` at second `now_s`.
  void touch(unsigned worker, uint32_t slot, uint32_t now_s) const noexcept {
    uint32_t& seen = arrays_[worker][slot];
    if (__atomic_load_n(&seen, __ATOMIC_RELAXED) != now_s) __atomic_store_n(&seen, now_s, __ATOMIC_RELAXED);
  }
  // Control thread: the latest second any worker saw `slot`, and at least `floor`.
  uint32_t latest(uint32_t slot, uint32_t floor) const noexcept {
    for (const uint32_t* stamps : arrays_) floor = std::max(floor, __atomic_load_n(&stamps[slot], __ATOMIC_RELAXED));
    return floor;
  }
  // Control thread: every worker's stamp of `slot` (a new or reused entry).
  void reset(uint32_t slot, uint32_t now_s) const noexcept {
    for (uint32_t* stamps : arrays_) __atomic_store_n(&stamps[slot], now_s, __ATOMIC_RELAXED);
  }

 private:
  void release() noexcept {
    for (uint32_t* stamps : arrays_) std::free(stamps);
    arrays_.clear();
  }
  std::vector<uint32_t*> arrays_;  // [worker][slot], each its own cache-aligned allocation
};

}  // namespace inception
