// vhost-user ports: the NICs of nested guests (iVMs).
//
// Each port is one rte_vhost driver bound to a unix socket path, in client
// mode (QEMU owns the socket; the switch connects and reconnects after a QEMU
// or switch restart, the mode OVS recommends) or server mode (the switch owns
// the socket).
//
// Threads:
//  * VhostPort::create / ~VhostPort: control thread only.
//  * rte_vhost callbacks (new_device, destroy_device, vring_state_changed) run
//    on DPDK's vhost-events thread. They only update the VhostDevice atomics
//    below; destroy_device additionally waits for an RCU grace period so that
//    no worker still uses the vid when rte_vhost frees the device.
//  * Workers call rx_burst/tx_burst (vhost_io.h), reading the atomics.
#pragma once

#include <rte_rcu_qsbr.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "inception/types.h"

namespace inception::vhost {

enum class Mode { kClient, kServer };

// Called on the vhost-events thread after a guest attached or enabled a
// queue it transmits on: the dataplane wakes its sleeping workers, which
// then ask the new queue for kicks. One hook per process (the dataplane's);
// nullptr removes it.
void set_guest_change_hook(void (*hook)(void* context), void* context);

// What workers see of a vhost-user device. Written by the vhost-events thread.
struct alignas(64) VhostDevice {
  // rte_vhost device id, or -1 while no guest is attached. Release-stored
  // after the queues are set up; acquire-loaded by workers.
  std::atomic<int> vid{-1};
  // Bit q set: guest TX vring of queue pair q is enabled (we dequeue from it).
  std::atomic<uint32_t> rx_queue_mask{0};
  // Guest RX vring (queue pair) each worker enqueues to, or kNoQueue. Guests
  // with fewer queue pairs than workers share a vring; rte_vhost serialises
  // enqueues on one vring with its per-vring lock.
  static constexpr uint8_t kNoQueue = 0xff;
  std::array<std::atomic<uint8_t>, kMaxWorkers> tx_queue_of_worker{};
  // Guest RX vrings currently enabled; control-side bookkeeping.
  std::atomic<uint32_t> tx_queue_mask{0};
  // The guest negotiated GUEST_CSUM, GUEST_TSO4 and 6: it takes TSO super-frames
  // and partial checksums as they come. Stored before `vid`.
  std::atomic<bool> takes_offloads{false};
  // The virtio-net features the guest negotiated, for `port list`.
  std::atomic<uint64_t> features{0};
};

struct VhostPortState;

class VhostPort {
 public:
  // Registers the socket and starts connecting (client) or listening
  // (server). Throws std::runtime_error naming the port, the socket and the
  // cause. `max_queue_pairs` > 1 lets a guest negotiate virtio-net MQ.
  // `offloads` offers the guest checksum offload and TSO both ways (CSUM,
  // GUEST_CSUM, HOST_TSO4/6, GUEST_TSO4/6); without it the guest must
  // send complete frames and gets complete frames.
  static std::unique_ptr<VhostPort> create(const std::string& name, const std::string& socket_path, Mode mode,
                                           uint16_t max_queue_pairs, bool offloads, unsigned n_workers,
                                           rte_rcu_qsbr* rcu);
  ~VhostPort();
  VhostPort(const VhostPort&) = delete;
  VhostPort& operator=(const VhostPort&) = delete;

  VhostDevice& device() noexcept;
  bool connected() const noexcept;
  uint16_t rx_queue_pairs() const noexcept;
  const std::string& socket_path() const noexcept;
  // MTU the guest's virtio-net negotiated (VIRTIO_NET_F_MTU), 0 if none.
  uint16_t guest_mtu() const noexcept;
  // The offloads the attached guest negotiated, by their virtio-net names
  // in lower case ("csum", "guest_csum", "host_tso4", ..., "guest_tso6"); empty
  // without a guest or offloads.
  std::vector<std::string> negotiated_offloads() const;

 private:
  explicit VhostPort(std::shared_ptr<VhostPortState> state);
  std::shared_ptr<VhostPortState> state_;
};

}  // namespace inception::vhost
