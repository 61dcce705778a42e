// Keys of the cluster's prefix that this switch refuses to apply, with the
// reason, for every part of cluster mode (members, networks, floating IPs):
// what `cluster status` lists and inception_cluster_refused_total counts.
//
// A key is counted and logged when it becomes refused or its reason
// changes, not each time it is looked at again: the whole set is
// re-evaluated after every change, and a key that stays bad for an hour is
// one refusal. It stays listed until it is accepted (fixed) or deleted.
//
// Threads: any (one mutex).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace inception::cluster {

// What kind of key, and why, as the metric's labels.
enum class KeyKind { kMember, kNetwork, kFip, kPlacement, kGatewayMapping, kTopology };
enum class RefusalCause {
  kInvalid,    // not JSON, a field missing, mistyped or out of range
  kDuplicate,  // claims what an older key claims (a VNI, a fixed IP)
  kConflict,   // valid, but this switch's own state refuses it (a typed network, a typed floating IP)
};
const char* kind_name(KeyKind kind) noexcept;
const char* cause_name(RefusalCause cause) noexcept;

struct Refusal {
  std::string key;
  std::string reason;
  KeyKind kind = KeyKind::kMember;
  RefusalCause cause = RefusalCause::kInvalid;
};

class Refusals {
 public:
  void refuse(const std::string& key, KeyKind kind, RefusalCause cause, const std::string& reason);
  // No longer refused: fixed, applied, or deleted.
  void accept(const std::string& key);
  bool refused(const std::string& key) const;
  // Forgets the keys of `kind` that are not in `keep` (a full read found
  // them gone).
  void keep_only(KeyKind kind, const std::vector<std::string>& keep);

  std::vector<Refusal> list() const;
  uint64_t total() const;
  std::map<std::pair<KeyKind, RefusalCause>, uint64_t> totals() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Refusal> now_;  // by key
  std::map<std::pair<KeyKind, RefusalCause>, uint64_t> totals_;
};

}  // namespace inception::cluster
