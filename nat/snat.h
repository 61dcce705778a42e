// SNAT with port translation, for iVMs without a floating IP, on a gateway.
//
// Theory of operation
//  * A session maps (network, protocol, inside address:port, remote
//    address:port) to an outside port on the gateway's SNAT address; for
//    ICMP echo the "port" is the echo identifier. The network is part of
//    the key: two tenants may use the same inside addresses, and one may
//    never pick up another's session by sending from its address. The mapping is address-and-port
//    dependent (RFC 4787 terms), so one outside port serves many remote
//    endpoints and the table reaches a million sessions on one address.
//  * Sharded by worker, VPP NAT44-ED style: each worker owns a shard -- an
//    equal share of the session slots and of the outside port range, and
//    the hashes that index them: by the inside flow (outbound lookups),
//    by (protocol, outside port, remote endpoint) (inbound lookups), and
//    the sessions per inside address. Only the owner writes its shard
//    (RcuHash, one writer each); every worker reads every shard without
//    locks. So creating a session -- the first packet of a flow -- takes
//    no lock at all, and no worker ever waits for another or for the
//    control thread.
//  * Inbound lookups find the shard from the outside port. An outbound
//    lookup tries the worker's own shard first, then the others (a flow
//    whose port moved to another worker keeps its session). Two workers
//    that see a flow's first packets at the same instant may each create a
//    session for it; the one that loses expires unused.
//  * Ending sessions is the owner's work too. The control thread finds
//    expired sessions and queues them to their owners (a single-producer
//    ring per shard); the owner ends them from its loop -- checking once
//    more that each is still idle -- and reuses their slots and hash
//    positions after an RCU grace period, without blocking (RcuHash
//    reclaim). Deleting a network waits until the owners have ended its
//    sessions: its index will name another tenant's network next.
//  * Liveness is recorded like FDB ages: each worker writes the current
//    second into its own per-slot array, only when it changed.
//  * Bounded: at most `max_sessions` in all (each shard its share),
//    `max_per_network` per origin
//    network and `max_per_source` per inside address (per network), so one
//    tenant, or one guest, cannot use up the table or the ports for the
//    others; beyond a bound, and when no outside port is free for a remote
//    endpoint, the packet is dropped and counted.
#pragma once

#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "inception/huge_array.h"
#include "inception/rcu_hash.h"
#include "inception/types.h"
#include "inception/worker_stamps.h"
#include "nat/translate.h"

namespace inception::nat {

struct SnatConfig {
  uint32_t address = 0;  // network order
  uint16_t port_min = 20000, port_max = 59999;
  uint32_t max_sessions = 262144;
  uint32_t max_per_network = 65536;
  uint32_t max_per_source = 4096;
  uint32_t tcp_established_timeout_s = 7440;
  uint32_t tcp_transitory_timeout_s = 240;
  uint32_t udp_timeout_s = 300;
  uint32_t icmp_timeout_s = 60;
};

struct SnatSession {
  uint8_t protocol = 0;
  uint32_t inside_ip = 0, remote_ip = 0;  // network order
  uint16_t inside_port = 0, remote_port = 0, outside_port = 0;
  // Where replies go: the network and MAC the first packet came from (a
  // local iVM, or another rVM's router on the public network).
  NetworkIndex origin_network = kInvalidNetwork;
  std::array<uint8_t, 6> origin_mac{};
  uint32_t created_s = 0;
  // TCP progress, written by workers (byte stores; a stale read only delays
  // expiry by one pass).
  uint8_t seen_outbound = 0, seen_inbound = 0, closing = 0;
  bool in_use = false;
};

enum class SnatResult { kOk, kTableFull, kSessionLimit, kPortsExhausted, kNoSession };

class SnatTable {
 public:
  // One shard per worker. Throws std::runtime_error if DPDK cannot allocate
  // the tables, or if the port range has fewer ports than workers.
  SnatTable(const SnatConfig& config, unsigned n_workers, rte_rcu_qsbr* rcu);
  ~SnatTable();
  SnatTable(const SnatTable&) = delete;
  SnatTable& operator=(const SnatTable&) = delete;

  const SnatConfig& config() const noexcept { return config_; }

  // ---- workers ----
  // One outbound packet of a burst.
  struct OutboundRequest {
    const FlowKey* key;         // as the packet leaves the inside host
    const uint8_t* origin_mac;  // where replies go
    bool may_create;            // false for ICMP errors: only an existing session is used
  };
  // Finds or creates (in `worker`'s shard) the sessions of a burst of
  // outbound packets from `origin_network`: results[i] and sessions[i]
  // for requests[i]. The burst's lookups in the worker's own shard go
  // together (RcuHash::lookup_bulk) and the sessions and stamps they find
  // are prefetched before any is used: at a million sessions each of those
  // is a cache miss, and one at a time they queue.
  void outbound_burst(const OutboundRequest* requests, unsigned n, NetworkIndex origin_network, unsigned worker,
                      uint32_t now_s, SnatResult* results, const SnatSession** sessions) noexcept;
  // One packet's outbound_burst.
  SnatResult outbound(const FlowKey& key, NetworkIndex origin_network, const uint8_t* origin_mac, unsigned worker,
                      uint32_t now_s, bool may_create, const SnatSession** session) noexcept {
    const OutboundRequest request{&key, origin_mac, may_create};
    SnatResult result = SnatResult::kNoSession;
    outbound_burst(&request, 1, origin_network, worker, now_s, &result, session);
    return result;
  }
  // Finds the sessions of a burst of inbound packets (keys as they arrive
  // from outside: destination = our SNAT address and outside port), in
  // bulk like outbound_burst; sessions[i] is nullptr where there is none.
  void inbound_burst(const FlowKey* const* keys, unsigned n, unsigned worker, uint32_t now_s,
                     const SnatSession** sessions) noexcept;
  const SnatSession* inbound(const FlowKey& key, unsigned worker, uint32_t now_s) noexcept {
    const SnatSession* session = nullptr;
    const FlowKey* keys[] = {&key};
    inbound_burst(keys, 1, worker, now_s, &session);
    return session;
  }
  // The owner's upkeep of its shard: ends the sessions the control thread
  // queued, reuses what no reader can hold any more. Called from the
  // worker's loop, inside its read-side section (it never waits).
  void service(unsigned worker, uint32_t now_s) noexcept {
    if (worker < shards_.size() && shards_[worker]->has_work()) service_shard(*shards_[worker], now_s);
  }

  // ---- control thread ----
  // Queues every session idle past its timeout to its owner. Returns how
  // many it queued; `expired()` counts those the owners ended.
  size_t expire(uint32_t now_s);
  // Ends every session that came from `network` (it is being deleted: its
  // index will name another tenant's network next), waiting up to
  // `kForgetTimeoutMs` for the owners. Returns how many; throws
  // std::runtime_error if the workers did not end them in time.
  static constexpr unsigned kForgetTimeoutMs = 2000;
  size_t forget_network(NetworkIndex network);
  uint32_t network_sessions(NetworkIndex network) const noexcept {
    return per_network_[network].load(std::memory_order_relaxed);
  }
  std::vector<SnatSession> sessions(size_t limit) const;
  uint32_t active() const noexcept { return active_.load(std::memory_order_relaxed); }
  uint64_t created() const noexcept { return created_.load(std::memory_order_relaxed); }
  uint64_t expired() const noexcept { return expired_.load(std::memory_order_relaxed); }

 private:
  struct alignas(16) ForwardKey {
    uint32_t inside_ip, remote_ip;
    uint16_t inside_port, remote_port;
    uint8_t protocol, pad;
    NetworkIndex network;
  };
  struct alignas(16) ReverseKey {
    uint32_t remote_ip;
    uint16_t outside_port, remote_port;
    uint8_t protocol, pad[7];
  };
  static_assert(sizeof(ForwardKey) == 16 && sizeof(ReverseKey) == 16, "16-byte keys take rte_hash's fast compare");
  // Control thread -> owner: end this session (if it still belongs to
  // `network`; unless `forced`, only if it is still idle).
  struct EndRequest {
    uint32_t slot;
    NetworkIndex network;
    uint8_t forced, pad;
  };
  static_assert(sizeof(EndRequest) == 8, "ring elements are a multiple of 4 bytes");
  struct Shard {
    // Slots [first, first + count) of the table, outside ports [min_port, max_port].
    Shard(unsigned index, uint32_t first, uint32_t count, uint16_t min_port, uint16_t max_port, rte_rcu_qsbr* rcu);
    ~Shard();
    bool has_work() const noexcept {
      return !rte_ring_empty(to_end) || forward.pending() != 0 || reverse.pending() != 0 || per_source.pending() != 0;
    }
    uint16_t port_min, port_max;  // host order: the outside ports this shard hands out
    RcuHash forward;              // ForwardKey -> slot
    RcuHash reverse;              // ReverseKey -> slot
    RcuHash per_source;           // source_key -> sessions of that inside address in this shard
    std::vector<uint32_t> free_slots;
    rte_ring* to_end = nullptr;  // EndRequest, single producer (control), single consumer (owner)
  };

  static ForwardKey forward_key(const FlowKey& k, NetworkIndex network) noexcept;
  static ReverseKey reverse_key(uint8_t protocol, uint16_t outside_port, uint32_t remote_ip,
                                uint16_t remote_port) noexcept;
  static uint64_t source_key(NetworkIndex network, uint32_t inside_ip) noexcept {
    return uint64_t{network} << 32 | inside_ip;
  }
  static void slot_reclaimed(void* shard, uint32_t slot) noexcept;
  uint32_t timeout_of(const SnatSession& s) const noexcept;
  bool is_idle(uint32_t slot, uint32_t now_s) const noexcept;
  // Sessions of one inside address, across all shards.
  uint32_t source_sessions(uint64_t key) const noexcept;
  // What a packet does to the session it found.
  const SnatSession* seen_outbound(uint32_t slot, const FlowKey& key, unsigned worker, uint32_t now_s) noexcept;
  const SnatSession* seen_inbound(uint32_t slot, const FlowKey& key, unsigned worker, uint32_t now_s) noexcept;
  // An outbound packet whose session is not in its worker's shard (yet).
  SnatResult outbound_miss(Shard& own, const ForwardKey& fkey, const OutboundRequest& request,
                           NetworkIndex origin_network, unsigned worker, uint32_t now_s,
                           const SnatSession** session) noexcept;
  SnatResult create(Shard& shard, const ForwardKey& fkey, const FlowKey& key, NetworkIndex origin_network,
                    const uint8_t* origin_mac, uint32_t now_s, const SnatSession** session) noexcept;
  void service_shard(Shard& shard, uint32_t now_s) noexcept;
  void end(Shard& shard, uint32_t slot) noexcept;
  Shard& owner_of_slot(uint32_t slot) const noexcept;
  // Queues `slot` to its owner; false if the owner's queue is full.
  bool request_end(uint32_t slot, bool forced) const noexcept;

  SnatConfig config_;
  rte_rcu_qsbr* rcu_;
  HugeArray<SnatSession> slots_;  // all shards' slots; each written by its owner only
  std::vector<std::unique_ptr<Shard>> shards_;
  uint32_t slots_per_shard_ = 0, ports_per_shard_ = 0;
  WorkerStamps last_seen_;
  std::array<std::atomic<uint32_t>, kMaxNetworks> per_network_{};
  std::atomic<uint32_t> active_{0};
  std::atomic<uint64_t> created_{0}, expired_{0};
};

}  // namespace inception::nat
