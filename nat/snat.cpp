#include "nat/snat.h"

#include <netinet/in.h>
#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace inception::nat {

namespace {

constexpr unsigned kPortProbes = 64;
constexpr uint8_t kTcpFin = 0x01, kTcpRst = 0x04;
// Sessions a worker ends per loop: bounds the time a mass expiry takes
// from forwarding.
constexpr unsigned kEndsPerService = 64;
// rte_hash refuses fewer entries than a bucket holds.
constexpr uint32_t kMinHashEntries = 8;

bool in_use(const SnatSession& s) noexcept {
  return __atomic_load_n(&s.in_use, __ATOMIC_ACQUIRE);
}

}  // namespace

SnatTable::Shard::Shard(unsigned index, uint32_t first, uint32_t count, uint16_t min_port, uint16_t max_port,
                        rte_rcu_qsbr* rcu)
    : port_min(min_port),
      port_max(max_port),
      forward("SNAT shard " + std::to_string(index) + " sessions", std::max(count, kMinHashEntries), sizeof(ForwardKey),
              rcu, &SnatTable::slot_reclaimed, this),
      reverse("SNAT shard " + std::to_string(index) + " replies", std::max(count, kMinHashEntries), sizeof(ReverseKey),
              rcu),
      per_source("SNAT shard " + std::to_string(index) + " sources", std::max(count, kMinHashEntries), sizeof(uint64_t),
                 rcu) {
  free_slots.reserve(count);
  for (uint32_t s = first + count; s > first; --s) free_slots.push_back(s - 1);
  static std::atomic<uint32_t> counter{0};
  const std::string name = "snat_end" + std::to_string(counter.fetch_add(1));
  to_end = rte_ring_create_elem(name.c_str(), sizeof(EndRequest), std::max(count, 64u),
                                static_cast<int>(rte_socket_id()), RING_F_SP_ENQ | RING_F_SC_DEQ | RING_F_EXACT_SZ);
  if (to_end == nullptr)
    throw std::runtime_error("SNAT shard " + std::to_string(index) + ": cannot allocate its expiry queue (" +
                             rte_strerror(rte_errno) + ")");
}

SnatTable::Shard::~Shard() {
  rte_ring_free(to_end);
}

SnatTable::SnatTable(const SnatConfig& config, unsigned n_workers, rte_rcu_qsbr* rcu)
    : config_(config), rcu_(rcu), last_seen_(n_workers, config.max_sessions) {
  const unsigned n = std::max(1u, n_workers);
  const uint32_t ports = uint32_t{config_.port_max} - config_.port_min + 1;
  if (ports < n)
    throw std::runtime_error("SNAT: the port range " + std::to_string(config_.port_min) + "-" +
                             std::to_string(config_.port_max) + " has fewer ports than the switch has workers (" +
                             std::to_string(n) + "): each worker hands out its own share");
  slots_per_shard_ = config_.max_sessions / n;
  ports_per_shard_ = ports / n;
  slots_.resize(config_.max_sessions);
  // Equal shares; the last shard also takes the remainders.
  for (unsigned i = 0; i < n; ++i) {
    const uint32_t first = i * slots_per_shard_;
    const uint32_t count = i + 1 < n ? slots_per_shard_ : config_.max_sessions - first;
    const auto port_min = static_cast<uint16_t>(config_.port_min + i * ports_per_shard_);
    const auto port_max = i + 1 < n ? static_cast<uint16_t>(port_min + ports_per_shard_ - 1) : config_.port_max;
    shards_.push_back(std::make_unique<Shard>(i, first, count, port_min, port_max, rcu));
  }
}

SnatTable::~SnatTable() = default;

SnatTable::ForwardKey SnatTable::forward_key(const FlowKey& k, NetworkIndex network) noexcept {
  ForwardKey key{};
  key.network = network;
  key.inside_ip = k.src_ip;
  key.remote_ip = k.dst_ip;
  key.inside_port = k.src_port;
  key.remote_port = k.protocol == IPPROTO_ICMP ? 0 : k.dst_port;
  key.protocol = k.protocol;
  return key;
}

SnatTable::ReverseKey SnatTable::reverse_key(uint8_t protocol, uint16_t outside_port, uint32_t remote_ip,
                                             uint16_t remote_port) noexcept {
  ReverseKey key{};
  key.remote_ip = remote_ip;
  key.outside_port = outside_port;
  key.remote_port = protocol == IPPROTO_ICMP ? 0 : remote_port;
  key.protocol = protocol;
  return key;
}

SnatResult SnatTable::outbound(const FlowKey& key, NetworkIndex origin_network, const uint8_t* origin_mac,
                               unsigned worker, uint32_t now_s, bool may_create, const SnatSession** session) noexcept {
  const ForwardKey fkey = forward_key(key, origin_network);
  Shard& own = *shards_[worker < shards_.size() ? worker : 0];
  uint64_t slot = 0;
  bool found = own.forward.lookup(&fkey, &slot);
  // A miss in the worker's own shard is a new flow, or one whose port
  // another worker served before: look there before creating.
  for (size_t i = 0; !found && i < shards_.size(); ++i)
    if (shards_[i].get() != &own) found = shards_[i]->forward.lookup(&fkey, &slot);
  if (likely(found)) {
    SnatSession& s = slots_[slot];
    last_seen_.touch(worker, static_cast<uint32_t>(slot), now_s);
    if (s.protocol == IPPROTO_TCP) {
      if (!s.seen_outbound) s.seen_outbound = 1;
      if ((key.tcp_flags & (kTcpFin | kTcpRst)) && !s.closing) s.closing = 1;
    }
    *session = &s;
    return SnatResult::kOk;
  }
  if (!may_create) return SnatResult::kNoSession;
  return create(own, fkey, key, origin_network, origin_mac, now_s, session);
}

SnatResult SnatTable::create(Shard& shard, const ForwardKey& fkey, const FlowKey& key, NetworkIndex origin_network,
                             const uint8_t* origin_mac, uint32_t now_s, const SnatSession** session) noexcept {
  if (shard.free_slots.empty()) return SnatResult::kTableFull;
  const uint64_t source = source_key(origin_network, key.src_ip);
  if (source_sessions(source) >= config_.max_per_source) return SnatResult::kSessionLimit;
  // Other shards' owners count sessions of the network at the same time.
  if (per_network_[origin_network].fetch_add(1, std::memory_order_relaxed) >= config_.max_per_network) {
    per_network_[origin_network].fetch_sub(1, std::memory_order_relaxed);
    return SnatResult::kSessionLimit;
  }
  const uint32_t range = uint32_t{shard.port_max} - shard.port_min + 1;
  const uint32_t start = rte_hash_crc(&fkey, sizeof(fkey), 0) % range;
  uint16_t outside_port = 0;
  ReverseKey rkey{};
  bool port_free = false;
  for (unsigned probe = 0; probe < kPortProbes && probe < range; ++probe) {
    outside_port = rte_cpu_to_be_16(static_cast<uint16_t>(shard.port_min + (start + probe) % range));
    rkey = reverse_key(key.protocol, outside_port, key.dst_ip, key.dst_port);
    if (!shard.reverse.contains(&rkey)) {
      port_free = true;
      break;
    }
  }
  if (!port_free) {
    per_network_[origin_network].fetch_sub(1, std::memory_order_relaxed);
    return SnatResult::kPortsExhausted;
  }
  const uint32_t slot = shard.free_slots.back();
  shard.free_slots.pop_back();
  SnatSession& s = slots_[slot];
  s = SnatSession{};
  s.protocol = key.protocol;
  s.inside_ip = key.src_ip;
  s.inside_port = key.src_port;
  s.remote_ip = key.dst_ip;
  s.remote_port = key.dst_port;
  s.outside_port = outside_port;
  s.origin_network = origin_network;
  std::copy(origin_mac, origin_mac + 6, s.origin_mac.begin());
  s.created_s = now_s;
  s.seen_outbound = 1;
  last_seen_.reset(slot, now_s);
  // The control thread reads a session only once in_use says it is whole.
  __atomic_store_n(&s.in_use, true, __ATOMIC_RELEASE);
  // Reverse first: once the forward key is visible, replies must resolve.
  // Neither add can fail: each hash has a position per slot of the shard.
  shard.reverse.add(&rkey, slot);
  shard.forward.add(&fkey, slot);
  uint64_t count = 0;
  shard.per_source.lookup(&source, &count);
  shard.per_source.add(&source, count + 1);
  active_.fetch_add(1, std::memory_order_relaxed);
  created_.fetch_add(1, std::memory_order_relaxed);
  *session = &s;
  return SnatResult::kOk;
}

const SnatSession* SnatTable::inbound(const FlowKey& key, unsigned worker, uint32_t now_s) noexcept {
  const uint16_t port = rte_be_to_cpu_16(key.dst_port);
  if (port < config_.port_min || port > config_.port_max) return nullptr;
  const size_t owner = std::min<size_t>((port - config_.port_min) / ports_per_shard_, shards_.size() - 1);
  const ReverseKey rkey = reverse_key(key.protocol, key.dst_port, key.src_ip, key.src_port);
  uint64_t slot = 0;
  if (!shards_[owner]->reverse.lookup(&rkey, &slot)) return nullptr;
  SnatSession& s = slots_[slot];
  last_seen_.touch(worker, static_cast<uint32_t>(slot), now_s);
  if (s.protocol == IPPROTO_TCP && !key.icmp_error) {
    if (!s.seen_inbound) s.seen_inbound = 1;
    if ((key.tcp_flags & (kTcpFin | kTcpRst)) && !s.closing) s.closing = 1;
  }
  return &s;
}

uint32_t SnatTable::timeout_of(const SnatSession& s) const noexcept {
  switch (s.protocol) {
    case IPPROTO_TCP:
      return (s.seen_inbound && s.seen_outbound && !s.closing) ? config_.tcp_established_timeout_s
                                                               : config_.tcp_transitory_timeout_s;
    case IPPROTO_UDP:
      return config_.udp_timeout_s;
    default:
      return config_.icmp_timeout_s;
  }
}

bool SnatTable::is_idle(uint32_t slot, uint32_t now_s) const noexcept {
  const SnatSession& s = slots_[slot];
  const uint32_t last = last_seen_.latest(slot, s.created_s);
  return now_s - std::min(now_s, last) >= timeout_of(s);
}

uint32_t SnatTable::source_sessions(uint64_t key) const noexcept {
  uint32_t total = 0;
  for (const auto& shard : shards_) {
    uint64_t count = 0;
    if (shard->per_source.lookup(&key, &count)) total += static_cast<uint32_t>(count);
  }
  return total;
}

SnatTable::Shard& SnatTable::owner_of_slot(uint32_t slot) const noexcept {
  return *shards_[std::min<size_t>(slot / std::max(1u, slots_per_shard_), shards_.size() - 1)];
}

void SnatTable::slot_reclaimed(void* shard, uint32_t slot) noexcept {
  static_cast<Shard*>(shard)->free_slots.push_back(slot);
}

void SnatTable::end(Shard& shard, uint32_t slot) noexcept {
  SnatSession& s = slots_[slot];
  FlowKey k;
  k.protocol = s.protocol;
  k.src_ip = s.inside_ip;
  k.dst_ip = s.remote_ip;
  k.src_port = s.inside_port;
  k.dst_port = s.remote_port;
  const ForwardKey fkey = forward_key(k, s.origin_network);
  const ReverseKey rkey = reverse_key(s.protocol, s.outside_port, s.remote_ip, s.remote_port);
  // Reverse first, so that the forward entry's grace period, which hands
  // the slot back, also covers readers that came in by the reverse one.
  shard.reverse.erase(&rkey, slot);
  shard.forward.erase(&fkey, slot);
  const uint64_t source = source_key(s.origin_network, s.inside_ip);
  uint64_t count = 0;
  if (shard.per_source.lookup(&source, &count)) {
    if (count <= 1)
      shard.per_source.erase(&source, 0);
    else
      shard.per_source.add(&source, count - 1);
  }
  per_network_[s.origin_network].fetch_sub(1, std::memory_order_relaxed);
  active_.fetch_sub(1, std::memory_order_relaxed);
  __atomic_store_n(&s.in_use, false, __ATOMIC_RELEASE);
}

void SnatTable::service_shard(Shard& shard, uint32_t now_s) noexcept {
  EndRequest requests[kEndsPerService];
  const unsigned n =
      rte_ring_sc_dequeue_burst_elem(shard.to_end, requests, sizeof(EndRequest), kEndsPerService, nullptr);
  for (unsigned i = 0; i < n; ++i) {
    const EndRequest& r = requests[i];
    const SnatSession& s = slots_[r.slot];
    // Ended already (a request queued twice), or the slot was reused since.
    if (!s.in_use || s.origin_network != r.network) continue;
    if (!r.forced && !is_idle(r.slot, now_s)) continue;  // a packet came meanwhile
    end(shard, r.slot);
    if (!r.forced) expired_.fetch_add(1, std::memory_order_relaxed);
  }
  shard.reverse.reclaim();
  shard.forward.reclaim();
  shard.per_source.reclaim();
}

bool SnatTable::request_end(uint32_t slot, bool forced) const noexcept {
  EndRequest request{slot, slots_[slot].origin_network, static_cast<uint8_t>(forced), 0};
  return rte_ring_sp_enqueue_elem(owner_of_slot(slot).to_end, &request, sizeof(request)) == 0;
}

size_t SnatTable::expire(uint32_t now_s) {
  size_t queued = 0;
  for (uint32_t slot = 0; slot < slots_.size(); ++slot)
    if (in_use(slots_[slot]) && is_idle(slot, now_s) && request_end(slot, false)) ++queued;
  return queued;
}

size_t SnatTable::forget_network(NetworkIndex network) {
  size_t ended = 0;
  for (uint32_t slot = 0; slot < slots_.size(); ++slot) {
    if (!in_use(slots_[slot]) || slots_[slot].origin_network != network) continue;
    // The queue has room for every slot of the shard, unless expiry
    // requests fill it; the owner drains it meanwhile.
    for (unsigned tries = 0; !request_end(slot, true) && tries < kForgetTimeoutMs; ++tries) usleep(1000);
    ++ended;
  }
  for (unsigned waited_ms = 0; network_sessions(network) != 0; ++waited_ms) {
    if (waited_ms >= kForgetTimeoutMs)
      throw std::runtime_error("SNAT: the workers did not end the network's " +
                               std::to_string(network_sessions(network)) + " sessions within " +
                               std::to_string(kForgetTimeoutMs) + " ms");
    usleep(1000);
  }
  // A worker may still hold a session it looked up before its owner ended it.
  rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID);
  return ended;
}

std::vector<SnatSession> SnatTable::sessions(size_t limit) const {
  std::vector<SnatSession> out;
  for (const SnatSession& s : slots_) {
    if (out.size() >= limit) break;
    if (in_use(s)) out.push_back(s);
  }
  return out;
}

}  // namespace inception::nat
