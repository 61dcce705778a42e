// Kernel ports: a TAP interface of the host kernel, switched as a port.
//
// This is the paper's eth1: the host's cloud manager (say, a Linux bridge
// created by Nova) uses it as if it were a physical NIC. It is a DPDK
// net_tap ethdev, so the fast path reaches it like any other ethdev. The tap
// is created with one queue pair per worker: each worker transmits on its own
// queue and polls "its" receive queue, on which the kernel spreads flows.
//
// Threads: create and destroy from the control thread only.
#pragma once

#include <rte_mempool.h>

#include <cstdint>
#include <memory>
#include <string>

namespace inception {

class KernelPort {
 public:
  // Creates interface `ifname` and starts the ethdev. Throws
  // std::runtime_error naming the port and the cause.
  // `mac` (empty: random) and `mtu` (0: default) set the interface's.
  static std::unique_ptr<KernelPort> create(const std::string& ifname, uint16_t n_queues, rte_mempool* pool,
                                            const std::string& mac = "", uint16_t mtu = 0);
  ~KernelPort();
  KernelPort(const KernelPort&) = delete;
  KernelPort& operator=(const KernelPort&) = delete;

  // Packet buffers a kernel port with `queues` receive queues holds: the TAP
  // PMD fills each receive ring with mbufs up front.
  static uint32_t pinned_mbufs(unsigned queues) noexcept { return queues * kRxRingSize; }
  static constexpr uint16_t kRxRingSize = 1024;

  uint16_t ethdev_id() const noexcept { return ethdev_id_; }
  uint16_t queues() const noexcept { return queues_; }
  const std::string& ifname() const noexcept { return ifname_; }

 private:
  KernelPort(std::string ifname, std::string vdev_name, uint16_t ethdev_id, uint16_t queues)
      : ifname_(std::move(ifname)), vdev_name_(std::move(vdev_name)), ethdev_id_(ethdev_id), queues_(queues) {}
  std::string ifname_;
  std::string vdev_name_;
  uint16_t ethdev_id_;
  uint16_t queues_;
};

// True if `name` can be a Linux interface name (1..15 bytes, no '/', ':' or
// whitespace).
bool valid_ifname(const std::string& name) noexcept;

}  // namespace inception
