#include "control/cluster/refusals.h"

#include <algorithm>

#include "inception/log.h"

namespace inception::cluster {

const char* kind_name(KeyKind kind) noexcept {
  switch (kind) {
    case KeyKind::kMember:
      return "member";
    case KeyKind::kNetwork:
      return "network";
    case KeyKind::kFip:
      return "fip";
    case KeyKind::kGatewayMapping:
      return "gateway_mapping";
    case KeyKind::kPlacement:
      return "placement";
    case KeyKind::kTopology:
      return "topology";
  }
  return "?";
}

const char* cause_name(RefusalCause cause) noexcept {
  switch (cause) {
    case RefusalCause::kInvalid:
      return "invalid";
    case RefusalCause::kDuplicate:
      return "duplicate";
    case RefusalCause::kConflict:
      return "conflict";
  }
  return "?";
}

void Refusals::refuse(const std::string& key, KeyKind kind, RefusalCause cause, const std::string& reason) {
  std::lock_guard lock(mutex_);
  Refusal& r = now_[key];
  if (r.key == key && r.reason == reason) return;
  r = {key, reason, kind, cause};
  ++totals_[{kind, cause}];
  log::warning("cluster: {} key {} refused: {}", kind_name(kind), key, reason);
}

void Refusals::accept(const std::string& key) {
  std::lock_guard lock(mutex_);
  now_.erase(key);
}

bool Refusals::refused(const std::string& key) const {
  std::lock_guard lock(mutex_);
  return now_.contains(key);
}

void Refusals::keep_only(KeyKind kind, const std::vector<std::string>& keep) {
  std::lock_guard lock(mutex_);
  std::erase_if(now_, [&](const auto& entry) {
    return entry.second.kind == kind && std::find(keep.begin(), keep.end(), entry.first) == keep.end();
  });
}

std::vector<Refusal> Refusals::list() const {
  std::lock_guard lock(mutex_);
  std::vector<Refusal> out;
  for (const auto& [key, r] : now_) out.push_back(r);
  return out;
}

uint64_t Refusals::total() const {
  std::lock_guard lock(mutex_);
  uint64_t sum = 0;
  for (const auto& [labels, n] : totals_) sum += n;
  return sum;
}

std::map<std::pair<KeyKind, RefusalCause>, uint64_t> Refusals::totals() const {
  std::lock_guard lock(mutex_);
  return totals_;
}

}  // namespace inception::cluster
