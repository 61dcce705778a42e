#include "dataplane/ports/kernel_port.h"

#include <net/if.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include <atomic>
#include <cctype>
#include <stdexcept>

#include "inception/log.h"

namespace inception {

namespace {

constexpr uint16_t kTxRingSize = 1024;

// The vdev's name, not the interface's: DPDK 22.11's TAP PMD names the
// mempool it creates at the first tx queue setup (for TSO) "mp_<vdev name>",
// and a mempool name holds at most 25 characters (RTE_MEMPOOL_NAMESIZE). A
// vdev named after the interface ("net_tap_" + up to 15 characters) made
// interface names of 15 characters fail there with -1 ("Operation not
// permitted"). A counter keeps the vdev name short, whatever the interface
// is called, and unique even when a port is deleted and re-added.
std::string next_vdev_name() {
  static std::atomic<uint32_t> counter{0};
  return "net_tap_kp" + std::to_string(counter.fetch_add(1));
}

[[noreturn]] void fail(const std::string& ifname, const std::string& cause) {
  throw std::runtime_error("port " + ifname + ": kernel interface: " + cause);
}

}  // namespace

bool valid_ifname(const std::string& name) noexcept {
  if (name.empty() || name.size() >= IFNAMSIZ || name == "." || name == "..") return false;
  for (const char c : name)
    if (c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) ||
        !std::isprint(static_cast<unsigned char>(c)))
      return false;
  return true;
}

std::unique_ptr<KernelPort> KernelPort::create(const std::string& ifname, uint16_t n_queues, rte_mempool* pool,
                                               const std::string& mac, uint16_t mtu) {
  if (!valid_ifname(ifname)) fail(ifname, "not a valid interface name (1-15 characters, no '/', ':' or spaces)");
  if (if_nametoindex(ifname.c_str()) != 0) fail(ifname, "an interface with this name already exists");

  const std::string vdev_name = next_vdev_name();
  const std::string args = "iface=" + ifname + (mac.empty() ? "" : ",mac=" + mac);
  if (rte_eal_hotplug_add("vdev", vdev_name.c_str(), args.c_str()) != 0)
    fail(ifname, "cannot create the TAP device (is /dev/net/tun available?)");
  uint16_t port_id = 0;
  if (rte_eth_dev_get_port_by_name(vdev_name.c_str(), &port_id) != 0) {
    rte_eal_hotplug_remove("vdev", vdev_name.c_str());
    fail(ifname, "TAP device created but its ethdev is missing");
  }
  auto cleanup_and_fail = [&](const std::string& step, int rc) {
    rte_eth_dev_close(port_id);
    rte_eal_hotplug_remove("vdev", vdev_name.c_str());
    fail(ifname, step + ": " + rte_strerror(rc < 0 ? -rc : rc));
  };
  rte_eth_conf conf{};
  int rc = rte_eth_dev_configure(port_id, n_queues, n_queues, &conf);
  if (rc != 0) cleanup_and_fail("configure", rc);
  const int socket = rte_eth_dev_socket_id(port_id);
  for (uint16_t q = 0; q < n_queues; ++q) {
    rc = rte_eth_rx_queue_setup(port_id, q, kRxRingSize, static_cast<unsigned>(socket), nullptr, pool);
    if (rc != 0) cleanup_and_fail("rx queue setup", rc);
    rc = rte_eth_tx_queue_setup(port_id, q, kTxRingSize, static_cast<unsigned>(socket), nullptr);
    if (rc != 0) cleanup_and_fail("tx queue setup", rc);
  }
  if (mtu != 0 && (rc = rte_eth_dev_set_mtu(port_id, mtu)) != 0) cleanup_and_fail("set MTU " + std::to_string(mtu), rc);
  rc = rte_eth_dev_start(port_id);
  if (rc != 0) cleanup_and_fail("start", rc);
  log::info("port {}: kernel interface {} (ethdev {}, {} queue pair(s))", ifname, ifname, port_id, n_queues);
  return std::unique_ptr<KernelPort>(new KernelPort(ifname, vdev_name, port_id, n_queues));
}

KernelPort::~KernelPort() {
  // The interface may have been moved to another network namespace, where
  // the PMD's link ioctls cannot reach it; closing the queues still removes it.
  rte_eth_dev_stop(ethdev_id_);
  rte_eth_dev_close(ethdev_id_);
  rte_eal_hotplug_remove("vdev", vdev_name_.c_str());
}

}  // namespace inception
