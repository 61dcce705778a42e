// Frames between workers and the control thread.
//
// Workers punt copies of ARP frames to the control thread (it keeps the
// neighbor tables) and the control thread hands frames it built (gratuitous
// ARP) to a worker to send. Each frame travels with its metadata in the ring
// element itself, never in the mbuf: a recycled mbuf keeps whatever a
// previous owner wrote into it, and a stale network index there would file
// one tenant's (or the underlay's) ARP into another's table.
//
// Underlay and overlay punts use separate rings, and overlay punts are
// rate-limited per port and per network before they are queued, so neither
// a guest's ARP flood nor a busy tenant can starve the resolution of the
// VXLAN peers, or another tenant's.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "inception/types.h"

namespace inception {

struct PuntedFrame {
  rte_mbuf* m;
  NetworkIndex network;  // kInvalidNetwork: from the underlay
  PortIndex port;        // ingress port (a local port or a VXLAN peer)
  uint8_t from_peer;     // 1 if `port` is a VXLAN peer (another rVM's switch)
  uint8_t reserved[3];
};
static_assert(sizeof(PuntedFrame) == 16, "rte_ring elements must be a multiple of 4 bytes; keep it compact");

struct InjectedFrame {
  rte_mbuf* m;
  NetworkIndex network;  // flooded on this network as the router
  uint8_t reserved[6];
};
static_assert(sizeof(InjectedFrame) == 16, "rte_ring elements must be a multiple of 4 bytes; keep it compact");

}  // namespace inception
