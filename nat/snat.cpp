#include "nat/snat.h"

#include <netinet/in.h>
#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_hash_crc.h>

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace inception::nat {

namespace {

constexpr unsigned kPortProbes = 64;
constexpr uint8_t kTcpFin = 0x01, kTcpRst = 0x04;

// `lock_free`: workers read it without a lock while one writer holds lock_.
rte_hash* make_hash(const char* kind, uint32_t entries, uint32_t key_len, bool lock_free) {
  static std::atomic<uint32_t> counter{0};
  const std::string name = std::string("snat_") + kind + std::to_string(counter.fetch_add(1));
  rte_hash_parameters params{};
  params.name = name.c_str();
  params.entries = entries;
  params.key_len = key_len;
  params.hash_func = rte_hash_crc;
  params.socket_id = static_cast<int>(rte_socket_id());
  params.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE | (lock_free ? RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF : 0);
  rte_hash* h = rte_hash_create(&params);
  if (h == nullptr)
    throw std::runtime_error(std::string("SNAT: cannot allocate a session table of ") + std::to_string(entries) +
                             " entries (" + rte_strerror(rte_errno) + ")");
  return h;
}

}  // namespace

SnatTable::SnatTable(const SnatConfig& config, unsigned n_workers, rte_rcu_qsbr* rcu)
    : config_(config), rcu_(rcu), last_seen_(n_workers, config.max_sessions) {
  forward_ = make_hash("fwd", config_.max_sessions, sizeof(ForwardKey), true);
  reverse_ = make_hash("rev", config_.max_sessions, sizeof(ReverseKey), true);
  per_source_ = make_hash("src", config_.max_sessions, sizeof(uint64_t), false);
  slots_.resize(config_.max_sessions);
  free_slots_.reserve(config_.max_sessions);
  for (uint32_t s = config_.max_sessions; s > 0; --s) free_slots_.push_back(s - 1);
}

SnatTable::~SnatTable() {
  rte_hash_free(forward_);
  rte_hash_free(reverse_);
  rte_hash_free(per_source_);
}

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
  void* data = nullptr;
  if (likely(rte_hash_lookup_data(forward_, &fkey, &data) >= 0)) {
    const auto slot = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(data));
    SnatSession& s = slots_[slot];
    last_seen_.touch(worker, slot, now_s);
    if (s.protocol == IPPROTO_TCP) {
      if (!s.seen_outbound) s.seen_outbound = 1;
      if ((key.tcp_flags & (kTcpFin | kTcpRst)) && !s.closing) s.closing = 1;
    }
    *session = &s;
    return SnatResult::kOk;
  }
  if (!may_create) return SnatResult::kNoSession;
  // The first packet of a flow: create its session under the writers' lock.
  rte_spinlock_lock(&lock_);
  if (rte_hash_lookup_data(forward_, &fkey, &data) >= 0) {  // another worker was quicker
    rte_spinlock_unlock(&lock_);
    *session = &slots_[static_cast<uint32_t>(reinterpret_cast<uintptr_t>(data))];
    return SnatResult::kOk;
  }
  if (free_slots_.empty()) {
    rte_spinlock_unlock(&lock_);
    return SnatResult::kTableFull;
  }
  const uint64_t source = source_key(origin_network, key.src_ip);
  if (per_network_[origin_network] >= config_.max_per_network || source_sessions(source) >= config_.max_per_source) {
    rte_spinlock_unlock(&lock_);
    return SnatResult::kSessionLimit;
  }
  const uint32_t range = uint32_t{config_.port_max} - config_.port_min + 1;
  const uint32_t start = rte_hash_crc(&fkey, sizeof(fkey), 0) % range;
  uint16_t outside_port = 0;
  ReverseKey rkey{};
  bool found = false;
  for (unsigned probe = 0; probe < kPortProbes && probe < range; ++probe) {
    outside_port = rte_cpu_to_be_16(static_cast<uint16_t>(config_.port_min + (start + probe) % range));
    rkey = reverse_key(key.protocol, outside_port, key.dst_ip, key.dst_port);
    if (rte_hash_lookup(reverse_, &rkey) < 0) {
      found = true;
      break;
    }
  }
  if (!found) {
    rte_spinlock_unlock(&lock_);
    return SnatResult::kPortsExhausted;
  }
  const uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
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
  s.in_use = true;
  last_seen_.reset(slot, now_s);
  const auto value = reinterpret_cast<void*>(static_cast<uintptr_t>(slot));
  // Reverse first: once the forward key is visible, replies must resolve.
  rte_hash_add_key_data(reverse_, &rkey, value);
  rte_hash_add_key_data(forward_, &fkey, value);
  ++per_network_[origin_network];
  add_source_session(source, +1);
  active_.fetch_add(1, std::memory_order_relaxed);
  created_.fetch_add(1, std::memory_order_relaxed);
  rte_spinlock_unlock(&lock_);
  *session = &s;
  return SnatResult::kOk;
}

const SnatSession* SnatTable::inbound(const FlowKey& key, unsigned worker, uint32_t now_s) noexcept {
  const ReverseKey rkey = reverse_key(key.protocol, key.dst_port, key.src_ip, key.src_port);
  void* data = nullptr;
  if (rte_hash_lookup_data(reverse_, &rkey, &data) < 0) return nullptr;
  const auto slot = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(data));
  SnatSession& s = slots_[slot];
  last_seen_.touch(worker, slot, now_s);
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

uint32_t SnatTable::source_sessions(uint64_t key) const noexcept {
  void* data = nullptr;
  return rte_hash_lookup_data(per_source_, &key, &data) >= 0 ? static_cast<uint32_t>(reinterpret_cast<uintptr_t>(data))
                                                             : 0;
}

void SnatTable::add_source_session(uint64_t key, int delta) noexcept {
  const int64_t count = int64_t{source_sessions(key)} + delta;
  if (count <= 0) {
    rte_hash_del_key(per_source_, &key);
    return;
  }
  // Cannot fail: the table has room for one entry per session.
  rte_hash_add_key_data(per_source_, &key, reinterpret_cast<void*>(static_cast<uintptr_t>(count)));
}

size_t SnatTable::expire(uint32_t now_s) {
  std::vector<uint32_t> doomed;
  for (uint32_t slot = 0; slot < slots_.size(); ++slot) {
    const SnatSession& s = slots_[slot];
    if (!s.in_use) continue;
    const uint32_t last = last_seen_.latest(slot, s.created_s);
    if (now_s - std::min(now_s, last) >= timeout_of(s)) doomed.push_back(slot);
  }
  erase(doomed);
  expired_.fetch_add(doomed.size(), std::memory_order_relaxed);
  return doomed.size();
}

size_t SnatTable::forget_network(NetworkIndex network) {
  std::vector<uint32_t> doomed;
  for (uint32_t slot = 0; slot < slots_.size(); ++slot)
    if (slots_[slot].in_use && slots_[slot].origin_network == network) doomed.push_back(slot);
  erase(doomed);
  return doomed.size();
}

uint32_t SnatTable::network_sessions(NetworkIndex network) const noexcept {
  return __atomic_load_n(&per_network_[network], __ATOMIC_RELAXED);
}

void SnatTable::erase(const std::vector<uint32_t>& doomed) {
  if (doomed.empty()) return;
  std::vector<int32_t> forward_positions, reverse_positions;
  rte_spinlock_lock(&lock_);
  for (uint32_t slot : doomed) {
    const SnatSession& s = slots_[slot];
    FlowKey k;
    k.protocol = s.protocol;
    k.src_ip = s.inside_ip;
    k.dst_ip = s.remote_ip;
    k.src_port = s.inside_port;
    k.dst_port = s.remote_port;
    const ForwardKey fkey = forward_key(k, s.origin_network);
    const ReverseKey rkey = reverse_key(s.protocol, s.outside_port, s.remote_ip, s.remote_port);
    const int32_t f = rte_hash_del_key(forward_, &fkey);
    const int32_t r = rte_hash_del_key(reverse_, &rkey);
    if (f >= 0) forward_positions.push_back(f);
    if (r >= 0) reverse_positions.push_back(r);
    --per_network_[s.origin_network];
    add_source_session(source_key(s.origin_network, s.inside_ip), -1);
  }
  rte_spinlock_unlock(&lock_);
  // Workers spin on lock_ without reporting quiescence: never wait for a
  // grace period while holding it.
  rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID);
  rte_spinlock_lock(&lock_);
  for (int32_t p : forward_positions) rte_hash_free_key_with_position(forward_, p);
  for (int32_t p : reverse_positions) rte_hash_free_key_with_position(reverse_, p);
  for (uint32_t slot : doomed) {
    slots_[slot].in_use = false;
    free_slots_.push_back(slot);
  }
  rte_spinlock_unlock(&lock_);
  active_.fetch_sub(static_cast<uint32_t>(doomed.size()), std::memory_order_relaxed);
}

std::vector<SnatSession> SnatTable::sessions(size_t limit) const {
  std::vector<SnatSession> out;
  for (const SnatSession& s : slots_) {
    if (out.size() >= limit) break;
    if (s.in_use) out.push_back(s);
  }
  return out;
}

}  // namespace inception::nat
