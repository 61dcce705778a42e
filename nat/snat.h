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
//  * Two DPDK hashes in lock-free read mode index the session slots: by the
//    inside flow (outbound lookups) and by (protocol, outside port, remote
//    endpoint) (inbound lookups). Lookups never lock.
//  * Creating a session (the first packet of a flow) takes one spinlock,
//    held for a few hash operations: workers create sessions at the rate
//    new flows arrive, not per packet. The control thread takes the same
//    lock to delete expired sessions, releases it, waits for an RCU grace
//    period, then frees their slots and hash positions under the lock.
//  * Liveness is recorded like FDB ages: each worker writes the current
//    second into its own per-slot array, only when it changed.
//  * Bounded: at most `max_sessions` in all, `max_per_network` per origin
//    network and `max_per_source` per inside address (per network), so one
//    tenant, or one guest, cannot use up the table or the ports for the
//    others; beyond a bound, and when no outside port is free for a remote
//    endpoint, the packet is dropped and counted.
#pragma once

#include <rte_hash.h>
#include <rte_rcu_qsbr.h>
#include <rte_spinlock.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

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
  SnatTable(const SnatConfig& config, unsigned n_workers, rte_rcu_qsbr* rcu);
  ~SnatTable();
  SnatTable(const SnatTable&) = delete;
  SnatTable& operator=(const SnatTable&) = delete;

  const SnatConfig& config() const noexcept { return config_; }

  // ---- workers ----
  // Finds or creates the session of an outbound packet (key as it leaves
  // the inside host).
  // With `may_create` false (ICMP errors) only an existing session is used.
  SnatResult outbound(const FlowKey& key, NetworkIndex origin_network, const uint8_t* origin_mac, unsigned worker,
                      uint32_t now_s, bool may_create, const SnatSession** session) noexcept;
  // Finds the session of an inbound packet (key as it arrives from outside:
  // destination = our SNAT address and outside port).
  const SnatSession* inbound(const FlowKey& key, unsigned worker, uint32_t now_s) noexcept;

  // ---- control thread ----
  size_t expire(uint32_t now_s);
  // Ends every session that came from `network` (it is being deleted: its
  // index will name another tenant's network next). Returns how many.
  size_t forget_network(NetworkIndex network);
  uint32_t network_sessions(NetworkIndex network) const noexcept;
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
  static ForwardKey forward_key(const FlowKey& k, NetworkIndex network) noexcept;
  static ReverseKey reverse_key(uint8_t protocol, uint16_t outside_port, uint32_t remote_ip,
                                uint16_t remote_port) noexcept;
  uint32_t timeout_of(const SnatSession& s) const noexcept;
  // Deletes the sessions in `doomed`, waits a grace period, then frees
  // their slots and positions. Control thread.
  void erase(const std::vector<uint32_t>& doomed);
  // Sessions of one inside address (per network), under lock_.
  static uint64_t source_key(NetworkIndex network, uint32_t inside_ip) noexcept {
    return uint64_t{network} << 32 | inside_ip;
  }
  uint32_t source_sessions(uint64_t key) const noexcept;
  void add_source_session(uint64_t key, int delta) noexcept;

  SnatConfig config_;
  rte_rcu_qsbr* rcu_;
  rte_hash* forward_ = nullptr;
  rte_hash* reverse_ = nullptr;
  rte_spinlock_t lock_ = RTE_SPINLOCK_INITIALIZER;  // serialises every writer of the hashes and slots
  std::vector<SnatSession> slots_;
  std::vector<uint32_t> free_slots_;                  // under lock_
  rte_hash* per_source_ = nullptr;                    // source_key -> sessions, under lock_
  std::array<uint32_t, kMaxNetworks> per_network_{};  // under lock_
  WorkerStamps last_seen_;
  std::atomic<uint32_t> active_{0};
  std::atomic<uint64_t> created_{0}, expired_{0};
};

}  // namespace inception::nat
