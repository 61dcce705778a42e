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

#include "dataplane/l2/fdb.h"
#include "inception/types.h"
#include "vhost/vhost_port.h"

namespace inception {

// How frames leave through a port.
enum class PortKind : uint8_t {
  kEthdev,     // a DPDK ethdev: TX queue = worker index
  kVhost,      // a vhost-user guest
  kVxlanPeer,  // a VXLAN tunnel to one peer: encapsulate, then the underlay ethdev
};

// What a burst received on a port goes through.
enum class PortRole : uint8_t {
  kSwitch,    // a port of a network: the bridge stage
  kUnderlay,  // the rVM's NIC: ARP, VXLAN decap, or up to the host interface
  kHost,      // the rVM's own stack: straight out of the underlay
};

// Outer headers of one VXLAN tunnel, built by the control thread when the
// next hop's MAC is known (RFC 7348: Ethernet, IPv4, UDP, VXLAN).
struct VxlanTemplate {
  static constexpr uint16_t kSize = 50;
  alignas(64) uint8_t bytes[64] = {};
  uint16_t ip_checksum_base = 0;  // raw one's-complement sum of the IPv4 header with total length 0
};

// An IPv4 prefix in network byte order, the order packets are compared in.
struct Ipv4Net {
  uint32_t ip = 0;
  uint32_t mask = 0;
  bool contains(uint32_t address) const noexcept { return (address & mask) == (ip & mask); }
};

// Port security (docs/security.md): what a local port may claim as its
// own. Checked on ingress, before learning: a frame from a MAC, or an IPv4
// packet or ARP from an address, that the port is not bound to is dropped
// and counted. With no prefixes, IPv4 sources are not restricted (the MAC
// is). 0.0.0.0 is always allowed as a source (DHCP discovery, ARP probes).
struct PortSecurityView {
  bool enabled = false;
  uint8_t n_macs = 0;
  uint8_t n_prefixes = 0;
  std::array<uint64_t, kMaxPortMacs> mac_keys{};  // MacAddress::key form
  std::array<Ipv4Net, kMaxPortPrefixes> prefixes{};

  bool allows_mac(uint64_t key) const noexcept {
    for (unsigned i = 0; i < n_macs; ++i)
      if (mac_keys[i] == key) return true;
    return false;
  }
  bool allows_ip(uint32_t address) const noexcept {
    if (n_prefixes == 0 || address == 0) return true;
    for (unsigned i = 0; i < n_prefixes; ++i)
      if (prefixes[i].contains(address)) return true;
    return false;
  }
};

// Split horizon (dataplane/l2/bridge.h): a frame that came from a peer goes
// to no peer of the same group. The peers of a full mesh share a group: each
// sent its frame to every other already. A hub's peers are in none, so it
// relays between them (the paper's star). In cluster mode, the members of
// this rVM's data center are one group and the gateway of each other data
// center is one more, so the active gateway relays between the data
// centers and never within one.
inline constexpr uint8_t kNoHorizon = 0;           // a hub's peers (and what local ports send)
inline constexpr uint8_t kMeshHorizon = 1;         // typed peers, members of this data center
inline constexpr uint8_t kFirstRemoteHorizon = 2;  // + i: the gateway of the i-th other data center

struct PortView {
  bool present = false;
  PortKind kind = PortKind::kEthdev;
  PortRole role = PortRole::kSwitch;
  bool is_peer = false;                 // kVxlanPeer: subject to split horizon
  uint8_t horizon = kMeshHorizon;       // kVxlanPeer: its split-horizon group (above)
  bool resolved = false;                // kVxlanPeer: next-hop MAC known, template complete
  uint16_t ethdev_id = 0;               // kEthdev; kVxlanPeer: the underlay's ethdev
  vhost::VhostDevice* vhost = nullptr;  // kVhost
  bool coalesce = false;                // kVhost: join TCP segments for a guest that takes TSO
  NetworkIndex network = kInvalidNetwork;
  PortSecurityView security;  // local ports
  VxlanTemplate tunnel;       // kVxlanPeer
};

// The distributed router's interface on a network: the iVMs' default
// gateway. Every rVM's switch answers for it, with its own router MAC.
struct RouterInterface {
  bool enabled = false;
  uint32_t ip = 0;    // network order
  uint32_t mask = 0;  // network order
  bool contains(uint32_t address) const noexcept { return enabled && (address & mask) == (ip & mask); }
  // An address an iVM on this subnet may use as its own: inside the subnet
  // and neither the router, the subnet's network nor its broadcast address.
  bool is_host(uint32_t address) const noexcept {
    return contains(address) && address != ip && (address & ~mask) != 0 && (address & ~mask) != ~mask;
  }
};

struct NetworkView {
  Fdb* fdb = nullptr;  // nullptr: no network at this index
  uint32_t vni = 0;
  RouterInterface router;
  bool l3 = false;                     // ARP and frames to the router MAC take the router stage
  std::vector<PortIndex> local_ports;  // flooding targets on this rVM
  std::vector<PortIndex> peer_ports;   // flooding targets over VXLAN (head-end replication)
};

// Small open-addressing map from a 64-bit key to a 16-bit value, built once
// by the control thread and read by workers (VNI -> network, (VNI, VTEP) ->
// peer port). At most half full, so probes stay short.
template <size_t kSlots>
class SmallMap {
 public:
  static_assert((kSlots & (kSlots - 1)) == 0, "power of two");
  bool insert(uint64_t key, uint16_t value) {
    if (2 * (used_ + 1) > kSlots) return false;
    for (size_t at = slot(key);; at = (at + 1) & (kSlots - 1)) {
      if (!slots_[at].used || slots_[at].key == key) {
        used_ += slots_[at].used ? 0 : 1;
        slots_[at] = {key, value, true};
        return true;
      }
    }
  }
  // Returns `missing` if absent.
  uint16_t find(uint64_t key, uint16_t missing) const noexcept {
    for (size_t at = slot(key);; at = (at + 1) & (kSlots - 1)) {
      if (!slots_[at].used) return missing;
      if (slots_[at].key == key) return slots_[at].value;
    }
  }

 private:
  static size_t slot(uint64_t key) noexcept { return ((key * 0x9e3779b97f4a7c15ULL) >> 40) & (kSlots - 1); }
  struct Slot {
    uint64_t key = 0;
    uint16_t value = 0;
    bool used = false;
  };
  std::array<Slot, kSlots> slots_{};
  size_t used_ = 0;
};

// The underlay as workers see it. local_ip and vxlan_port are in network
// byte order, the order they are compared in.
struct UnderlayView {
  bool enabled = false;
  PortIndex port = kInvalidPort;  // the rVM NIC
  PortIndex host = kInvalidPort;  // the host interface, if any
  uint32_t local_ip = 0;
  uint16_t vxlan_port = 0;
  std::array<uint8_t, 6> mac{};
  uint16_t mtu = 0;          // IP MTU of the underlay: no single frame off the wire is longer
  uint16_t overlay_mtu = 0;  // IP MTU inside the overlay (underlay MTU - 50)
  // Next hops the switch resolves (peers, the reality router), host order:
  // only their ARP reaches the control thread, so no other host on the
  // underlay can make it work or fill its queue.
  SmallMap<1024> wanted_neighbors;
  SmallMap<512> network_of_vni;  // VNI -> NetworkIndex
  SmallMap<1024> nat_addresses;  // underlay IPs (host order) the NAT owns: gateway mappings, SNAT
  SmallMap<2048> peer_of;        // peer_key(VNI, remote IP) -> peer PortIndex
  static uint64_t peer_key(uint32_t vni, uint32_t remote_ip_host_order) noexcept {
    return (uint64_t{vni} << 32) | remote_ip_host_order;
  }
};

// One receive queue a worker polls.
struct PollEntry {
  PortIndex port;
  uint16_t queue;  // ethdev RX queue, or vhost queue pair
};

}  // namespace inception

namespace inception::nat {
class SnatTable;
}
namespace inception {
class OverlayNeighbors;

// Floating IPs and NAT as workers see them (nat/ does the rewriting).
struct FloatingIpView {
  uint32_t public_ip = 0;  // network order
  uint32_t fixed_ip = 0;   // network order
  NetworkIndex network = kInvalidNetwork;
  uint16_t counter_slot = 0;  // index into WorkerCounters::fips
  bool active = true;         // answered in ARP: the guest runs on this rVM
};

struct GatewayMappingView {
  uint32_t underlay_ip = 0;  // network order
  uint32_t public_ip = 0;    // network order
};

struct NatView {
  bool enabled = false;
  std::array<uint8_t, 6> router_mac{};
  NetworkIndex public_network = kInvalidNetwork;
  uint32_t gateway_ip = 0;           // public-network address of the gateway rVM, network order (0: none)
  std::vector<FloatingIpView> fips;  // host mappings on this rVM
  SmallMap<1024> fip_by_public;      // public IP (host order) -> index in fips
  SmallMap<1024> fip_by_fixed;       // (network << 32 | fixed IP, host order) -> index
  std::vector<GatewayMappingView> gateway_mappings;  // gateway role
  SmallMap<1024> gateway_by_public;                  // public IP (host order) -> index
  SmallMap<1024> gateway_by_underlay;                // underlay IP (host order) -> index
  uint32_t snat_address = 0;                         // gateway role, network order (0: no SNAT here)
  nat::SnatTable* snat = nullptr;
  OverlayNeighbors* neighbors = nullptr;      // IP -> MAC on the networks, for routed frames
  std::vector<NetworkIndex> routed_networks;  // networks with a router interface
  // The underlay's next hop toward the internet (the reality router).
  bool underlay_gateway_resolved = false;
  std::array<uint8_t, 6> underlay_gateway_mac{};
  // Destinations no routed packet may leave for (metadata service, the
  // underlay's own subnet, ...): checked before any outbound translation.
  static constexpr unsigned kMaxEgressDeny = 32;  // control/config.h kMaxEgressDenyPrefixes keeps room
  std::array<Ipv4Net, kMaxEgressDeny> egress_deny{};
  uint8_t n_egress_deny = 0;
  bool egress_allowed(uint32_t destination) const noexcept {
    for (unsigned i = 0; i < n_egress_deny; ++i)
      if (egress_deny[i].contains(destination)) return false;
    return true;
  }
};

// Rate limits of the punt and flood paths, per worker (the configured rate
// divided by the number of workers). A zero period means unlimited.
struct RateLimit {
  uint64_t cycles_per_token = 0;
  uint32_t burst = 0;
};
struct LimitsView {
  RateLimit punt_port, punt_network;    // ARP frames to the control thread
  RateLimit flood_port, flood_network;  // flooded frames (broadcast, multicast, unknown unicast)
};

struct Snapshot {
  std::array<PortView, kMaxPorts> ports{};
  std::array<NetworkView, kMaxNetworks> networks{};
  std::array<std::vector<PollEntry>, kMaxWorkers> poll{};
  UnderlayView underlay;
  NatView nat;
  LimitsView limits;
};

}  // namespace inception
