// The underlay: the rVM's NIC as a DPDK ethdev, plus the kernel "host"
// interface that keeps the rVM's own traffic working while the switch owns
// the NIC (the role of OVS's internal port or VPP's linux-cp).
//
// The NIC is opened from DPDK devargs ("net_af_packet0,iface=eth0" for a
// kernel interface, "net_af_xdp0,iface=eth0", or a PCI address bound to
// vfio-pci). It gets one RX/TX queue pair per worker plus one: workers poll
// every RX queue and transmit on the queue of their index; the last TX queue
// belongs to the control thread (ARP requests).
//
// The host interface is a TAP with the NIC's MAC address: configure the
// rVM's address and routes on it instead of on the NIC.
//
// Threads: create, destroy and control_tx from the control thread.
#pragma once

#include <rte_mbuf.h>
#include <rte_mempool.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "dataplane/ports/kernel_port.h"

namespace inception {

class UnderlayPort {
 public:
  // Throws std::runtime_error naming the device and the cause.
  static std::unique_ptr<UnderlayPort> create(const std::string& device, const std::string& host_interface,
                                              uint16_t mtu, unsigned n_workers, rte_mempool* pool);
  ~UnderlayPort();
  UnderlayPort(const UnderlayPort&) = delete;
  UnderlayPort& operator=(const UnderlayPort&) = delete;

  uint16_t ethdev_id() const noexcept { return ethdev_id_; }
  uint16_t rx_queues() const noexcept { return queues_; }
  const std::array<uint8_t, 6>& mac() const noexcept { return mac_; }
  const KernelPort* host() const noexcept { return host_.get(); }
  // Sends one frame from the control thread (takes ownership).
  bool control_tx(rte_mbuf* m) noexcept;

 private:
  UnderlayPort() = default;
  std::string device_;
  std::string vdev_name_;  // empty for PCI devices
  uint16_t ethdev_id_ = 0;
  uint16_t queues_ = 0;
  uint16_t control_queue_ = 0;
  std::array<uint8_t, 6> mac_{};
  std::unique_ptr<KernelPort> host_;
};

// True for "DDDD:BB:DD.F" or "BB:DD.F".
bool is_pci_address(const std::string& device);

}  // namespace inception
