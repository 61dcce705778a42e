#include "dataplane/l2/fdb.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>

namespace inception {

Fdb::Fdb(const std::string& name, uint32_t dynamic_limit, unsigned n_workers, rte_rcu_qsbr* rcu)
    : dynamic_limit_(dynamic_limit),
      capacity_(dynamic_limit + kStaticReserve),
      n_workers_(n_workers),
      table_("network " + name + ": FDB", capacity_, sizeof(uint64_t), rcu, &Fdb::slot_reclaimed, this),
      last_seen_(n_workers, dynamic_limit + kStaticReserve) {
  slots_.resize(capacity_);
  free_slots_.reserve(capacity_);
  for (uint32_t s = capacity_; s > 0; --s) free_slots_.push_back(s - 1);
}

void Fdb::slot_reclaimed(void* fdb, uint32_t slot) noexcept {
  auto* self = static_cast<Fdb*>(fdb);
  self->slots_[slot].in_use = false;
  self->free_slots_.push_back(slot);
}

uint32_t Fdb::last_seen_s(uint32_t slot) const noexcept {
  return last_seen_.latest(slot, slots_[slot].learned_s);
}

uint32_t Fdb::allocate_slot() {
  const uint32_t slot = free_slots_.back();
  free_slots_.pop_back();
  // No worker can reference a free slot (it was released after a grace
  // period), so resetting the workers' last-seen values here is race-free.
  last_seen_.reset(slot, 0);
  return slot;
}

void Fdb::set_port_limit(PortIndex port, uint32_t limit) {
  port_limit_[port] = limit;
  add_to_port(port, 0);
}

void Fdb::add_to_port(PortIndex port, int delta) noexcept {
  port_count_[port] = static_cast<uint32_t>(static_cast<int64_t>(port_count_[port]) + delta);
  port_full_[port].store(port_limit_[port] != 0 && port_count_[port] >= port_limit_[port], std::memory_order_relaxed);
}

LearnResult Fdb::learn(const MacAddress& mac, PortIndex port, uint32_t now_s) {
  const uint64_t key = mac.key();
  uint64_t data = 0;
  const bool port_at_limit = port_limit_[port] != 0 && port_count_[port] >= port_limit_[port];
  if (lookup(key, &data)) {
    FdbValue value = FdbValue::unpack(data);
    if (value.is_static) return value.port == port ? LearnResult::kUnchanged : LearnResult::kStaticKept;
    if (value.port == port) return LearnResult::kUnchanged;
    if (port_at_limit) {
      ++port_limit_hits_;
      return LearnResult::kPortLimitReached;
    }
    // A MAC seen behind another port (a guest that moved or migrated): the
    // atomic data update makes workers forward to the new port at once.
    add_to_port(value.port, -1);
    add_to_port(port, +1);
    value.port = port;
    slots_[value.slot].port = port;
    slots_[value.slot].learned_s = now_s;
    table_.add(&key, value.pack());
    return LearnResult::kMoved;
  }
  if (dynamic_count_ >= dynamic_limit_) {
    ++limit_hits_;
    return LearnResult::kLimitReached;
  }
  if (port_at_limit) {
    ++port_limit_hits_;
    return LearnResult::kPortLimitReached;
  }
  const uint32_t slot = allocate_slot();
  slots_[slot] = {key, port, true, false, now_s};
  const FdbValue value{port, false, slot};
  if (!table_.add(&key, value.pack())) {
    slots_[slot].in_use = false;
    free_slots_.push_back(slot);
    ++limit_hits_;
    return LearnResult::kLimitReached;
  }
  ++dynamic_count_;
  add_to_port(port, +1);
  update_full();
  return LearnResult::kLearned;
}

void Fdb::add_static(const MacAddress& mac, PortIndex port) {
  const uint64_t key = mac.key();
  uint64_t data = 0;
  if (lookup(key, &data)) {
    FdbValue value = FdbValue::unpack(data);
    if (!value.is_static) {
      if (static_count_ >= kStaticReserve)
        throw std::runtime_error("static entry limit (" + std::to_string(kStaticReserve) + ") reached");
      --dynamic_count_;
      add_to_port(value.port, -1);
      ++static_count_;
      update_full();
    }
    value.port = port;
    value.is_static = true;
    slots_[value.slot].port = port;
    slots_[value.slot].is_static = true;
    table_.add(&key, value.pack());
    return;
  }
  if (static_count_ >= kStaticReserve)
    throw std::runtime_error("static entry limit (" + std::to_string(kStaticReserve) + ") reached");
  const uint32_t slot = allocate_slot();
  slots_[slot] = {key, port, true, true, 0};
  if (!table_.add(&key, FdbValue{port, true, slot}.pack())) {
    slots_[slot].in_use = false;
    free_slots_.push_back(slot);
    throw std::runtime_error("FDB hash refused the entry");
  }
  ++static_count_;
}

void Fdb::erase_keys(const std::vector<uint32_t>& slots) {
  if (slots.empty()) return;
  for (uint32_t slot : slots) {
    table_.erase(&slots_[slot].key, slot);
    if (slots_[slot].is_static) {
      --static_count_;
    } else {
      --dynamic_count_;
      add_to_port(slots_[slot].port, -1);
    }
  }
  update_full();
  // Workers may still hold a slot they looked up before the delete: it is
  // reused (slot_reclaimed) only once all have passed a quiescent state.
  table_.synchronize_and_reclaim();
}

bool Fdb::remove(const MacAddress& mac) {
  uint64_t data = 0;
  if (!lookup(mac.key(), &data)) return false;
  erase_keys({FdbValue::unpack(data).slot});
  return true;
}

size_t Fdb::age(uint32_t now_s, uint32_t aging_s) {
  std::vector<uint32_t> expired;
  for (uint32_t slot = 0; slot < capacity_; ++slot) {
    const SlotInfo& info = slots_[slot];
    if (!info.in_use || info.is_static) continue;
    if (now_s - std::min(now_s, last_seen_s(slot)) >= aging_s) expired.push_back(slot);
  }
  erase_keys(expired);
  return expired.size();
}

size_t Fdb::flush_port(PortIndex port) {
  std::vector<uint32_t> doomed;
  for (uint32_t slot = 0; slot < capacity_; ++slot)
    if (slots_[slot].in_use && slots_[slot].port == port) doomed.push_back(slot);
  erase_keys(doomed);
  return doomed.size();
}

std::optional<FdbEntry> Fdb::find(const MacAddress& mac, uint32_t now_s) const {
  uint64_t data = 0;
  if (!lookup(mac.key(), &data)) return std::nullopt;
  const FdbValue value = FdbValue::unpack(data);
  return FdbEntry{mac, value.port, value.is_static,
                  value.is_static ? 0 : now_s - std::min(now_s, last_seen_s(value.slot))};
}

std::vector<FdbEntry> Fdb::entries(uint32_t now_s) const {
  std::vector<FdbEntry> out;
  out.reserve(dynamic_count_ + static_count_);
  for (uint32_t slot = 0; slot < capacity_; ++slot) {
    const SlotInfo& info = slots_[slot];
    if (!info.in_use) continue;
    out.push_back({MacAddress::from_key(info.key), info.port, info.is_static,
                   info.is_static ? 0 : now_s - std::min(now_s, last_seen_s(slot))});
  }
  return out;
}

}  // namespace inception
