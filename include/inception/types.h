// Identifiers and limits shared by every module of inceptiond.
//
// A port and a network are named by the user and indexed by the dataplane.
// Indices are small integers so that per-port and per-network state can live
// in flat arrays that a worker reaches with one load.
#pragma once

#include <cstdint>

namespace inception {

// Frames handled per rx/tx call; 32 is the DPDK/VPP/OVS norm and fits the
// per-port TX buffers below in a few cache lines.
inline constexpr uint16_t kBurstSize = 32;

// Index spaces. Ports include local ports (vhost-user, kernel), the underlay
// and its host interface, and one pseudo-port per (network, VXLAN peer):
// 1024 covers a few hundred rVMs; flat per-port arrays of this size cost a
// few hundred KiB per worker.
inline constexpr uint16_t kMaxPorts = 1024;
inline constexpr uint16_t kMaxNetworks = 256;
inline constexpr unsigned kMaxWorkers = 16;

// Queue pairs a vhost-user guest may enable on one port (virtio-net MQ).
inline constexpr uint16_t kMaxVhostQueuePairs = 16;

using PortIndex = uint16_t;
using NetworkIndex = uint16_t;
inline constexpr PortIndex kInvalidPort = 0xffff;
inline constexpr NetworkIndex kInvalidNetwork = 0xffff;

// Port security: MAC addresses and IPv4 prefixes one port may be bound to.
inline constexpr unsigned kMaxPortMacs = 4;
inline constexpr unsigned kMaxPortPrefixes = 8;

// Largest VNI a 24-bit VXLAN header can carry (RFC 7348).
inline constexpr uint32_t kMaxVni = (1u << 24) - 1;

}  // namespace inception
