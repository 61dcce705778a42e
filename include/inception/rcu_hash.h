// An rte_hash that workers read without locks while one thread writes, with
// erased entries reused only after an RCU grace period: the table under the
// FDB, the SNAT sessions and the overlay neighbors.
//
// Theory of operation
//  * The hash runs in lock-free read/write-concurrency mode
//    (RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF), which implies that a deleted
//    key's position is not freed by the delete: a reader may still be
//    comparing it. `erase` unlinks the key and puts its position, with a
//    value of the caller's (the slot its data lives in), on a DPDK defer
//    queue (rte_rcu_qsbr_dq) stamped with a QSBR token. `reclaim` frees
//    the positions whose grace period is over and hands their values back
//    (`Reclaimed`), so the owner reuses the slot only when no reader can
//    still hold it.
//  * A worker that owns a table (SNAT shards) reclaims from its loop right
//    after reporting its quiescent state, without blocking; the control
//    thread (FDB, neighbors) waits for a grace period and reclaims all.
//  * Why not rte_hash_rcu_qsbr_add: in DPDK 22.11 the hash's own defer
//    queue is reclaimed only when it passes a threshold or when an add
//    finds the table full, and there is no call to reclaim it on demand;
//    an owner that keeps per-slot state beside the key must know when the
//    slot is free, and an add must not fail while deleted entries wait.
//  * Single writer: add, erase and reclaim come from one thread at a time
//    (the defer queue is created MT-unsafe; the hash is not multi-writer).
#pragma once

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_lcore.h>
#include <rte_rcu_qsbr.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace inception {

class RcuHash {
 public:
  // Called from `reclaim` with the value given to `erase`, once no reader
  // can hold the entry any more.
  using Reclaimed = void (*)(void* owner, uint32_t value) noexcept;

  // `what` names the table in errors ("network blue: FDB"). Throws
  // std::runtime_error if DPDK cannot allocate it.
  RcuHash(const std::string& what, uint32_t entries, uint32_t key_len, rte_rcu_qsbr* rcu,
          Reclaimed on_reclaimed = nullptr, void* owner = nullptr)
      : rcu_(rcu), on_reclaimed_(on_reclaimed), owner_(owner) {
    // rte_hash and rte_ring names are global to the process and short.
    static std::atomic<uint32_t> counter{0};
    const std::string name = "rcuh" + std::to_string(counter.fetch_add(1));
    rte_hash_parameters params{};
    params.name = name.c_str();
    params.entries = entries;
    params.key_len = key_len;
    params.hash_func = rte_hash_crc;
    params.socket_id = static_cast<int>(rte_socket_id());
    // EXT_TABLE: inserts never fail below `entries` because of cuckoo
    // cycles, so a limit the user sets is the limit they get.
    params.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE;
    hash_ = rte_hash_create(&params);
    if (hash_ == nullptr) fail(what, entries);
    rte_rcu_qsbr_dq_parameters dq{};
    dq.name = name.c_str();
    dq.flags = RTE_RCU_QSBR_DQ_MT_UNSAFE;
    // A position waits at most once: the queue never overflows.
    dq.size = entries;
    dq.esize = sizeof(Deferred);
    dq.trigger_reclaim_limit = UINT32_MAX;  // the owner reclaims, when it chooses
    dq.max_reclaim_size = entries;
    dq.free_fn = &RcuHash::free_deferred;
    dq.p = this;
    dq.v = rcu;
    dq_ = rte_rcu_qsbr_dq_create(&dq);
    if (dq_ == nullptr) {
      rte_hash_free(hash_);
      fail(what, entries);
    }
  }
  ~RcuHash() {
    // The owner is going away: it has nothing left to hand values back to.
    on_reclaimed_ = nullptr;
    rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID);
    rte_rcu_qsbr_dq_delete(dq_);
    rte_hash_free(hash_);
  }
  RcuHash(const RcuHash&) = delete;
  RcuHash& operator=(const RcuHash&) = delete;

  // ---- readers (registered QSBR threads) and the writer ----
  // Up to RTE_HASH_LOOKUP_BULK_MAX keys at once: rte_hash fetches every
  // key's buckets before it compares any, so the cache misses of a burst
  // overlap instead of queueing. Bit i of the result is set iff keys[i]
  // was found, and then values[i] holds its value.
  uint64_t lookup_bulk(const void** keys, unsigned n, uint64_t* values) const noexcept {
    // The bulk pipeline costs more than it hides for one key (the common
    // burst from one guest to one destination).
    if (n == 1) return lookup(keys[0], &values[0]) ? 1 : 0;
    uint64_t hits = 0;
    rte_hash_lookup_bulk_data(hash_, keys, n, &hits, reinterpret_cast<void**>(values));
    return hits;
  }
  bool lookup(const void* key, uint64_t* value) const noexcept {
    void* data = nullptr;
    if (rte_hash_lookup_data(hash_, key, &data) < 0) return false;
    *value = reinterpret_cast<uintptr_t>(data);
    return true;
  }
  bool contains(const void* key) const noexcept { return rte_hash_lookup(hash_, key) >= 0; }

  // ---- the writer ----
  // Adds `key`, or replaces its value atomically for readers. False when
  // the table is full.
  bool add(const void* key, uint64_t value) noexcept {
    return rte_hash_add_key_data(hash_, key, reinterpret_cast<void*>(static_cast<uintptr_t>(value))) == 0;
  }
  // Unlinks `key`; `reclaim_value` comes back through `Reclaimed` after a
  // grace period. False if the key was not there.
  bool erase(const void* key, uint32_t reclaim_value) noexcept {
    const int32_t position = rte_hash_del_key(hash_, key);
    if (position < 0) return false;
    Deferred deferred{position, reclaim_value};
    // Cannot overflow: it holds as many entries as the hash has positions.
    rte_rcu_qsbr_dq_enqueue(dq_, &deferred);
    ++pending_;
    return true;
  }
  // Frees what no reader can hold any more, without waiting. Returns how
  // many entries it freed.
  unsigned reclaim() noexcept {
    if (pending_ == 0) return 0;
    unsigned freed = 0, pending = 0, available = 0;
    rte_rcu_qsbr_dq_reclaim(dq_, UINT_MAX, &freed, &pending, &available);
    pending_ = pending;
    return freed;
  }
  // Control thread: waits until every reader has passed a quiescent state,
  // then frees everything erased so far.
  void synchronize_and_reclaim() noexcept {
    if (pending_ == 0) return;
    rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID);
    reclaim();
  }
  // Erased entries still waiting for their grace period.
  unsigned pending() const noexcept { return pending_; }

 private:
  struct Deferred {
    int32_t position;
    uint32_t value;
  };
  static void free_deferred(void* p, void* e, unsigned int n) {
    auto* self = static_cast<RcuHash*>(p);
    const auto* deferred = static_cast<const Deferred*>(e);
    for (unsigned i = 0; i < n; ++i) {
      rte_hash_free_key_with_position(self->hash_, deferred[i].position);
      if (self->on_reclaimed_ != nullptr) self->on_reclaimed_(self->owner_, deferred[i].value);
    }
  }
  [[noreturn]] static void fail(const std::string& what, uint32_t entries) {
    throw std::runtime_error(what + ": cannot allocate a table of " + std::to_string(entries) + " entries (" +
                             rte_strerror(rte_errno) + ")");
  }

  rte_hash* hash_ = nullptr;
  rte_rcu_qsbr_dq* dq_ = nullptr;
  rte_rcu_qsbr* rcu_;
  Reclaimed on_reclaimed_;
  void* owner_;
  unsigned pending_ = 0;
};

}  // namespace inception
