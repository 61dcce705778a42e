#include "nat/snat.h"

#include <netinet/in.h>
#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>
#include <rte_prefetch.h>

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
// Keys per bulk lookup: a burst's worth.
constexpr unsigned kBulk = 32;
static_assert(kBulk <= RTE_HASH_LOOKUP_BULK_MAX && kBulk <= 64, "one hit mask per chunk");
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
    : config_(config),
      rcu_(rcu),
      slots_("SNAT sessions", config.max_sessions),
      last_seen_(n_workers, config.max_sessions) {
  const unsigned n = std::max(1u, n_workers);
  const uint32_t ports = uint32_t{config_.port_max} - config_.port_min + 1;
  if (ports < n)
    throw std::runtime_error("SNAT: the port range " + std::to_string(config_.port_min) + "-" +
                             std::to_string(config_.port_max) + " has fewer ports than the switch has workers (" +
                             std::to_string(n) + "): each worker hands out its own share");
  slots_per_shard_ = config_.max_sessions / n;
  ports_per_shard_ = ports / n;
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

const SnatSession* SnatTable::seen_outbound(uint32_t slot, const FlowKey& key, unsigned worker,
                                            uint32_t now_s) noexcept {
  SnatSession& s = slots_[slot];
  last_seen_.touch(worker, slot, now_s);
  if (s.protocol == IPPROTO_TCP) {
    if (!s.seen_outbound) s.seen_outbound = 1;
    if ((key.tcp_flags & (kTcpFin | kTcpRst)) && !s.closing) s.closing = 1;
  }
  return &s;
}

const SnatSession* SnatTable::seen_inbound(uint32_t slot, const FlowKey& key, unsigned worker,
                                           uint32_t now_s) noexcept {
  SnatSession& s = slots_[slot];
  last_seen_.touch(worker, slot, now_s);
  if (s.protocol == IPPROTO_TCP && !key.icmp_error) {
    if (!s.seen_inbound) s.seen_inbound = 1;
    if ((key.tcp_flags & (kTcpFin | kTcpRst)) && !s.closing) s.closing = 1;
  }
  return &s;
}

void SnatTable::outbound_burst(const OutboundRequest* requests, unsigned n, NetworkIndex origin_network,
                               unsigned worker, uint32_t now_s, SnatResult* results,
                               const SnatSession** sessions) noexcept {
  Shard& own = *shards_[worker < shards_.size() ? worker : 0];
  for (unsigned base = 0; base < n; base += kBulk) {
    const unsigned count = std::min(n - base, kBulk);
    ForwardKey keys[kBulk];
    const void* key_ptrs[kBulk];
    uint64_t slots[kBulk];
    for (unsigned i = 0; i < count; ++i) {
      keys[i] = forward_key(*requests[base + i].key, origin_network);
      key_ptrs[i] = &keys[i];
    }
    const uint64_t hits = own.forward.lookup_bulk(key_ptrs, count, slots);
    for (uint64_t h = hits; h != 0; h &= h - 1) {
      const auto slot = static_cast<uint32_t>(slots[__builtin_ctzll(h)]);
      rte_prefetch0(&slots_[slot]);
      last_seen_.prefetch(worker, slot);
    }
    for (unsigned i = 0; i < count; ++i) {
      const OutboundRequest& request = requests[base + i];
      if (likely(hits & (uint64_t{1} << i))) {
        sessions[base + i] = seen_outbound(static_cast<uint32_t>(slots[i]), *request.key, worker, now_s);
        results[base + i] = SnatResult::kOk;
      } else {
        results[base + i] = outbound_miss(own, keys[i], request, origin_network, worker, now_s, &sessions[base + i]);
      }
    }
  }
}

SnatResult SnatTable::outbound_miss(Shard& own, const ForwardKey& fkey, const OutboundRequest& request,
                                    NetworkIndex origin_network, unsigned worker, uint32_t now_s,
                                    const SnatSession** session) noexcept {
  // A miss in the bulk lookup is a new flow; an earlier packet of this
  // burst may have created its session since; or another worker served
  // the flow before: look there before creating.
  uint64_t slot = 0;
  bool found = own.forward.lookup(&fkey, &slot);
  for (size_t i = 0; !found && i < shards_.size(); ++i)
    if (shards_[i].get() != &own) found = shards_[i]->forward.lookup(&fkey, &slot);
  if (found) {
    *session = seen_outbound(static_cast<uint32_t>(slot), *request.key, worker, now_s);
    return SnatResult::kOk;
  }
  if (!request.may_create) return SnatResult::kNoSession;
  return create(own, fkey, *request.key, origin_network, request.origin_mac, now_s, session);
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

void SnatTable::inbound_burst(const FlowKey* const* keys, unsigned n, unsigned worker, uint32_t now_s,
                              const SnatSession** sessions) noexcept {
  for (unsigned base = 0; base < n; base += kBulk) {
    const unsigned count = std::min(n - base, kBulk);
    ReverseKey rkeys[kBulk];
    uint16_t owner[kBulk];  // the shard that handed out the port, or kNoOwner
    constexpr uint16_t kNoOwner = UINT16_MAX;
    uint64_t shards_seen = 0;
    for (unsigned i = 0; i < count; ++i) {
      const FlowKey& key = *keys[base + i];
      sessions[base + i] = nullptr;
      const uint16_t port = rte_be_to_cpu_16(key.dst_port);
      owner[i] = kNoOwner;
      if (port < config_.port_min || port > config_.port_max) continue;
      owner[i] =
          static_cast<uint16_t>(std::min<size_t>((port - config_.port_min) / ports_per_shard_, shards_.size() - 1));
      shards_seen |= uint64_t{1} << (owner[i] & 63);
      rkeys[i] = reverse_key(key.protocol, key.dst_port, key.src_ip, key.src_port);
    }
    // One bulk lookup per shard the burst's ports belong to: usually one.
    uint64_t slots[kBulk];
    uint64_t hits = 0;
    for (size_t shard = 0; shard < shards_.size() && shards_seen != 0; ++shard) {
      if (!(shards_seen & (uint64_t{1} << (shard & 63)))) continue;
      const void* key_ptrs[kBulk];
      uint16_t index_of[kBulk];
      unsigned k = 0;
      for (unsigned i = 0; i < count; ++i) {
        if (owner[i] != shard) continue;
        key_ptrs[k] = &rkeys[i];
        index_of[k++] = static_cast<uint16_t>(i);
      }
      if (k == 0) continue;
      uint64_t found[kBulk];
      const uint64_t shard_hits = shards_[shard]->reverse.lookup_bulk(key_ptrs, k, found);
      for (uint64_t h = shard_hits; h != 0; h &= h - 1) {
        const unsigned j = __builtin_ctzll(h);
        slots[index_of[j]] = found[j];
        hits |= uint64_t{1} << index_of[j];
        rte_prefetch0(&slots_[found[j]]);
        last_seen_.prefetch(worker, static_cast<uint32_t>(found[j]));
      }
    }
    for (uint64_t h = hits; h != 0; h &= h - 1) {
      const unsigned i = __builtin_ctzll(h);
      sessions[base + i] = seen_inbound(static_cast<uint32_t>(slots[i]), *keys[base + i], worker, now_s);
    }
  }
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
  FlowKey k{};
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
