// The forwarding database of one network: MAC address -> port.
//
// Theory of operation
//  * Storage is an RcuHash (inception/rcu_hash.h): workers look up without
//    locks while the control thread writes. The control thread is the only writer;
//    workers ask it to learn through the learn ring (learn_ring.h).
//  * The hash data is a packed 64-bit value: port index, static flag and a
//    slot number. The slot indexes per-worker "last seen" arrays: a worker
//    that forwards a frame from a known source writes the current second
//    into its own array (only when the second changed), so refreshing an
//    entry never writes a cache line another worker reads.
//  * Aging, deletion and moves are control-thread operations. A deleted key's
//    hash position and slot are reused only after an RCU grace period
//    (the table's defer queue, reclaimed after a synchronous wait), so a worker
//    never reads a slot that now describes another MAC.
//  * Dynamic entries are bounded by a per-network limit and by a per-port
//    quota; static entries have their own reserve, so a guest spraying
//    random source MACs can neither grow memory nor evict a static entry,
//    and uses up only its own port's quota: stations behind other ports
//    are still learned. Once a bound is reached, `full()` or
//    `port_full(port)` turns true and workers drop frames from unknown
//    sources (fdb_limit, port_mac_limit).
#pragma once

#include <rte_hash.h>
#include <rte_rcu_qsbr.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "inception/mac_address.h"
#include "inception/rcu_hash.h"
#include "inception/types.h"
#include "inception/worker_stamps.h"

namespace inception {

// Hash data of one FDB entry, packed as 64 bits.
struct FdbValue {
  PortIndex port;
  bool is_static;
  uint32_t slot;

  static FdbValue unpack(uint64_t data) noexcept {
    return {static_cast<PortIndex>(data & 0xffff), ((data >> 16) & 1) != 0, static_cast<uint32_t>(data >> 32)};
  }
  uint64_t pack() const noexcept { return (uint64_t{slot} << 32) | (uint64_t{is_static} << 16) | port; }
};

struct FdbEntry {
  MacAddress mac;
  PortIndex port;
  bool is_static;
  uint32_t age_s;  // seconds since last seen (0 for static entries)
};

enum class LearnResult { kLearned, kMoved, kUnchanged, kLimitReached, kPortLimitReached, kStaticKept };

class Fdb {
 public:
  static constexpr uint32_t kStaticReserve = 1024;

  // Throws std::runtime_error if DPDK cannot allocate the table.
  Fdb(const std::string& name, uint32_t dynamic_limit, unsigned n_workers, rte_rcu_qsbr* rcu);
  Fdb(const Fdb&) = delete;
  Fdb& operator=(const Fdb&) = delete;

  // ---- worker side (any worker, concurrently with the control thread) ----

  // Looks up `n` keys (MacAddress::key form); on return bit i of the result
  // is set iff keys[i] was found, and values[i] holds its packed FdbValue.
  uint64_t lookup_bulk(const uint64_t* const* keys, unsigned n, uint64_t* values) const noexcept {
    return table_.lookup_bulk(reinterpret_cast<const void**>(const_cast<const uint64_t**>(keys)), n, values);
  }
  bool lookup(uint64_t key, uint64_t* value) const noexcept { return table_.lookup(&key, value); }
  // Records that `slot` was seen by `worker` at second `now_s`.
  void touch(unsigned worker, uint32_t slot, uint32_t now_s) const noexcept { last_seen_.touch(worker, slot, now_s); }
  bool full() const noexcept { return full_.load(std::memory_order_relaxed); }
  // Relaxed: a worker that reads a stale flag lets one more request through
  // (refused by learn) or drops one frame early; neither breaks a bound.
  bool port_full(PortIndex port) const noexcept { return port_full_[port].load(std::memory_order_relaxed); }

  // ---- control thread only ----

  LearnResult learn(const MacAddress& mac, PortIndex port, uint32_t now_s);
  // Dynamic entries `port` may hold (0: only the network's limit applies,
  // the default, e.g. for VXLAN peers that carry a whole rVM's stations).
  void set_port_limit(PortIndex port, uint32_t limit);
  uint32_t port_count(PortIndex port) const noexcept { return port_count_[port]; }
  // Adds or replaces a static entry. Throws std::runtime_error when the
  // static reserve is exhausted.
  void add_static(const MacAddress& mac, PortIndex port);
  // Removes an entry (static or dynamic). Returns false if absent.
  bool remove(const MacAddress& mac);
  // Removes dynamic entries not seen for `aging_s` seconds. Returns how many.
  size_t age(uint32_t now_s, uint32_t aging_s);
  // Removes every entry that points at `port`. Returns how many.
  size_t flush_port(PortIndex port);
  std::optional<FdbEntry> find(const MacAddress& mac, uint32_t now_s) const;
  std::vector<FdbEntry> entries(uint32_t now_s) const;
  uint32_t dynamic_count() const noexcept { return dynamic_count_; }
  uint32_t static_count() const noexcept { return static_count_; }
  uint32_t dynamic_limit() const noexcept { return dynamic_limit_; }
  uint64_t limit_hits() const noexcept { return limit_hits_; }
  uint64_t port_limit_hits() const noexcept { return port_limit_hits_; }

 private:
  struct SlotInfo {
    uint64_t key = 0;
    PortIndex port = kInvalidPort;
    bool in_use = false;
    bool is_static = false;
    uint32_t learned_s = 0;
  };

  uint32_t last_seen_s(uint32_t slot) const noexcept;
  uint32_t allocate_slot();
  // Deletes keys, waits one grace period, then frees their positions/slots.
  void erase_keys(const std::vector<uint32_t>& slots);
  void update_full() noexcept { full_.store(dynamic_count_ >= dynamic_limit_, std::memory_order_relaxed); }
  void add_to_port(PortIndex port, int delta) noexcept;

  static void slot_reclaimed(void* fdb, uint32_t slot) noexcept;

  uint32_t dynamic_limit_;
  uint32_t capacity_;
  unsigned n_workers_;
  RcuHash table_;  // MAC key -> FdbValue
  std::vector<SlotInfo> slots_;
  std::vector<uint32_t> free_slots_;
  WorkerStamps last_seen_;
  uint32_t dynamic_count_ = 0;
  uint32_t static_count_ = 0;
  uint64_t limit_hits_ = 0;
  uint64_t port_limit_hits_ = 0;
  std::atomic<bool> full_{false};
  std::array<uint32_t, kMaxPorts> port_count_{};  // dynamic entries per port
  std::array<uint32_t, kMaxPorts> port_limit_{};  // 0: unlimited
  std::array<std::atomic<bool>, kMaxPorts> port_full_{};
};

}  // namespace inception
