// The switch configuration as workers see it: an immutable snapshot.
//
// The control thread builds a new Snapshot for every change (port or network
// added or removed), publishes it with one atomic pointer store and frees the
// previous one after an RCU grace period (Dataplane::publish). Workers load
// the pointer once per loop iteration and never see a half-applied change.
// Things that change without a new snapshot (a guest attaching to a vhost
// port, FDB contents) live behind pointers the snapshot holds: VhostDevice
// atomics and the lock-free Fdb.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "dataplane/fdb.h"
#include "inception/types.h"
#include "vhost/vhost_port.h"

namespace inception {

enum class PortKind : uint8_t { kEthdev, kVhost };

struct PortView {
  bool present = false;
  PortKind kind = PortKind::kEthdev;
  uint16_t ethdev_id = 0;               // kEthdev: DPDK port id; TX queue = worker index
  vhost::VhostDevice* vhost = nullptr;  // kVhost
  NetworkIndex network = kInvalidNetwork;
};

struct NetworkView {
  Fdb* fdb = nullptr;  // nullptr: no network at this index
  uint32_t vni = 0;
  std::vector<PortIndex> ports;  // local member ports, the flooding targets
};

// One receive queue a worker polls.
struct PollEntry {
  PortIndex port;
  uint16_t queue;  // ethdev RX queue, or vhost queue pair
};

struct Snapshot {
  std::array<PortView, kMaxPorts> ports{};
  std::array<NetworkView, kMaxNetworks> networks{};
  std::array<std::vector<PollEntry>, kMaxWorkers> poll{};
};

}  // namespace inception
