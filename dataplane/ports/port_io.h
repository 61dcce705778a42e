// One way to receive and transmit, whatever the port is: a switch over the
// port kind per burst (not per packet), inlined into the worker loop.
#pragma once

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dataplane/snapshot.h"
#include "vhost/vhost_io.h"

namespace inception {

inline uint16_t port_rx(const PortView& port, uint16_t queue, rte_mempool* pool, rte_mbuf** pkts, uint16_t n) noexcept {
  if (port.kind == PortKind::kVhost) return vhost::rx_burst(*port.vhost, queue, pool, pkts, n);
  return rte_eth_rx_burst(port.ethdev_id, queue, pkts, n);
}

// Transmits `n` frames and takes ownership of all of them: the ones the port
// did not take are freed here. Returns how many were delivered.
inline uint16_t port_tx(const PortView& port, unsigned worker, rte_mbuf** pkts, uint16_t n) noexcept {
  uint16_t sent;
  if (port.kind == PortKind::kVhost) {
    // rte_vhost copies into guest memory and leaves every mbuf to us.
    sent = vhost::tx_burst(*port.vhost, worker, pkts, n);
    rte_pktmbuf_free_bulk(pkts, n);
  } else {
    sent = rte_eth_tx_burst(port.ethdev_id, static_cast<uint16_t>(worker), pkts, n);
    if (sent < n) rte_pktmbuf_free_bulk(pkts + sent, n - sent);
  }
  return sent;
}

// Whether the port takes frames with TX offload requests as they are (a
// guest that negotiated TSO and partial checksums), not only finished ones.
inline bool port_takes_offloads(const PortView& port) noexcept {
  return port.kind == PortKind::kVhost && vhost::takes_offloads(*port.vhost);
}

inline bool port_link_up(const PortView& port) noexcept {
  return port.kind == PortKind::kVhost ? vhost::link_up(*port.vhost) : true;
}

}  // namespace inception
