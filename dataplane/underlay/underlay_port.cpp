#include "dataplane/underlay/underlay_port.h"

#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>

#include <regex>
#include <stdexcept>

#include "inception/log.h"
#include "inception/mac_address.h"

namespace inception {

namespace {

constexpr uint16_t kRingSize = 1024;

[[noreturn]] void fail(const std::string& device, const std::string& cause) {
  throw std::runtime_error("underlay " + device + ": " + cause);
}

}  // namespace

bool is_pci_address(const std::string& device) {
  static const std::regex pci("^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]$");
  return std::regex_match(device, pci);
}

std::unique_ptr<UnderlayPort> UnderlayPort::create(const std::string& device, const std::string& host_interface,
                                                   uint16_t mtu, unsigned n_workers, rte_mempool* pool) {
  std::unique_ptr<UnderlayPort> port(new UnderlayPort());
  port->device_ = device;
  port->queues_ = static_cast<uint16_t>(n_workers + 1);
  port->control_queue_ = static_cast<uint16_t>(n_workers);
  uint16_t id = 0;
  if (is_pci_address(device)) {
    if (rte_eth_dev_get_port_by_name(device.c_str(), &id) != 0)
      fail(device, "no such PCI device is probed (list it in [dpdk] pci_allow and bind it to vfio-pci)");
  } else {
    const auto comma = device.find(',');
    const std::string name = device.substr(0, comma);
    std::string args = comma == std::string::npos ? "" : device.substr(comma + 1);
    // A packet socket per queue pair, spread by the kernel's fanout hash.
    if (name.rfind("net_af_packet", 0) == 0 && args.find("qpairs=") == std::string::npos)
      args += (args.empty() ? "" : ",") + std::string("qpairs=") + std::to_string(port->queues_);
    if (rte_eal_hotplug_add("vdev", name.c_str(), args.c_str()) != 0)
      fail(device, "DPDK cannot open it (does the interface exist in this network namespace?)");
    port->vdev_name_ = name;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &id) != 0) fail(device, "device created but its ethdev is missing");
  }
  port->ethdev_id_ = id;
  rte_eth_conf conf{};
  int rc = rte_eth_dev_configure(id, port->queues_, port->queues_, &conf);
  if (rc != 0) fail(device, std::string("configure: ") + rte_strerror(-rc));
  const unsigned socket = static_cast<unsigned>(rte_eth_dev_socket_id(id));
  for (uint16_t q = 0; q < port->queues_; ++q) {
    rc = rte_eth_rx_queue_setup(id, q, kRingSize, socket, nullptr, pool);
    if (rc != 0) fail(device, std::string("rx queue setup: ") + rte_strerror(-rc));
    rc = rte_eth_tx_queue_setup(id, q, kRingSize, socket, nullptr);
    if (rc != 0) fail(device, std::string("tx queue setup: ") + rte_strerror(-rc));
  }
  rc = rte_eth_dev_start(id);
  if (rc != 0) fail(device, std::string("start: ") + rte_strerror(-rc));
  // The switch sees every frame on the wire, whoever it is for.
  rte_eth_promiscuous_enable(id);
  rte_ether_addr mac{};
  rte_eth_macaddr_get(id, &mac);
  std::copy(std::begin(mac.addr_bytes), std::end(mac.addr_bytes), port->mac_.begin());
  const std::string mac_text = MacAddress(port->mac_).to_string();
  if (!host_interface.empty()) {
    try {
      port->host_ = KernelPort::create(host_interface, static_cast<uint16_t>(n_workers), pool, mac_text, mtu);
    } catch (const std::exception& e) {
      fail(device, std::string("host interface: ") + e.what());
    }
  }
  log::info("underlay {}: ethdev {}, MAC {}, {} queue pair(s){}", device, id, mac_text, port->queues_,
            host_interface.empty() ? "" : ", host interface " + host_interface);
  return port;
}

UnderlayPort::~UnderlayPort() {
  host_.reset();
  rte_eth_dev_stop(ethdev_id_);
  rte_eth_dev_close(ethdev_id_);
  if (!vdev_name_.empty()) rte_eal_hotplug_remove("vdev", vdev_name_.c_str());
}

bool UnderlayPort::control_tx(rte_mbuf* m) noexcept {
  if (rte_eth_tx_burst(ethdev_id_, control_queue_, &m, 1) == 1) return true;
  rte_pktmbuf_free(m);
  return false;
}

}  // namespace inception
