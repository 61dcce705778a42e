// A fixed-size array in DPDK's hugepage memory, for the per-slot state
// workers touch once per packet in tables that reach a million entries
// (SNAT sessions, the per-worker stamps of the FDB and of SNAT).
//
// Why not std::vector: the heap hands out 4 KB pages (transparent huge
// pages are madvise-only on Debian), so at a million slots nearly every
// packet's slot is on a page the TLB does not hold, and in a VM each miss
// is a two-dimensional page walk. In 2 MB pages the same 64 MB is 32 TLB
// entries. (Measured: docs/performance.md, "SNAT at a million sessions".)
#pragma once

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace inception {

template <typename T>
class HugeArray {
  static_assert(std::is_trivially_destructible_v<T>, "elements are released with the memory, not destroyed");

 public:
  // `what` names the table in errors. Throws std::runtime_error if DPDK
  // has no memory for it. Every element is value-initialised.
  HugeArray(const std::string& what, size_t size) : size_(size) {
    const size_t bytes = std::max<size_t>(size * sizeof(T), 64);
    data_ = static_cast<T*>(rte_malloc_socket(what.c_str(), bytes, 64, static_cast<int>(rte_socket_id())));
    if (data_ == nullptr)
      throw std::runtime_error(what + ": cannot allocate " + std::to_string(bytes >> 20) + " MB of hugepage memory (" +
                               rte_strerror(rte_errno) + ")");
    std::uninitialized_value_construct_n(data_, size_);
  }
  ~HugeArray() { rte_free(data_); }
  HugeArray(const HugeArray&) = delete;
  HugeArray& operator=(const HugeArray&) = delete;

  T& operator[](size_t i) const noexcept { return data_[i]; }
  T* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  T* begin() const noexcept { return data_; }
  T* end() const noexcept { return data_ + size_; }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace inception
