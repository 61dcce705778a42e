// What `inceptionctl cluster ...` verbs that write to etcd share: an etcd
// failure becomes the operator's answer, saying that nothing was written
// (a refused create-if-absent or a missing key is the caller's own reply).
#pragma once

#include <fmt/format.h>

#include "control/cluster/etcd_client.h"
#include "control/controller.h"

namespace inception::cluster {

template <typename F>
auto with_etcd(F&& write) {
  try {
    return write();
  } catch (const EtcdError& e) {
    throw ControlError(fmt::format("cluster: nothing written: {}", e.what()));
  }
}

}  // namespace inception::cluster
