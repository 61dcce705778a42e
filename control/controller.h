// The controller: the one door through which the switch is changed.
//
// Every change (from the TOML file at start-up, from inceptionctl through the
// control socket) is one call here that validates, updates the model and
// publishes a new dataplane snapshot. Reads for inceptionctl and for the
// metrics scrape also come here.
//
// Threads: any thread may call any method; one mutex serialises them. Only
// control-side threads call in (the main loop, the control-socket thread,
// the metrics HTTP threads); workers never do.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "control/config.h"
#include "dataplane/arp.h"
#include "dataplane/dataplane.h"
#include "dataplane/ports/kernel_port.h"
#include "dataplane/router/overlay_neighbors.h"
#include "dataplane/underlay/neighbor_table.h"
#include "dataplane/underlay/underlay_port.h"
#include "inception/counters.h"
#include "nat/snat.h"
#include "vhost/vhost_port.h"

namespace inception {

// A request that cannot be carried out; the message names the object and
// the cause ("port ivm1: network 'blue' does not exist").
class ControlError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Who plugged a port or a floating IP: an operator (config file,
// inceptionctl; `uuid` empty) or the libvirt module for a running domain.
// What a domain plugged goes away with it, is left out of the running
// config (the domain's XML is its source), and is not deleted by hand
// without `force`.
// A floating IP the cluster module serves because its fixed IP is placed
// on this rVM (`cluster`) follows the same rules: it goes when the key goes
// or the guest moves, and is not deleted by hand without `force`.
struct Origin {
  std::string domain;
  std::string uuid;
  bool cluster = false;
  bool is_domain() const noexcept { return !uuid.empty(); }
};

struct PortTotals {
  uint64_t rx_packets = 0, rx_bytes = 0, tx_packets = 0, tx_bytes = 0, flood_packets = 0;
  std::array<uint64_t, kDropReasonCount> drops{};
};

struct PortStatus {
  PortConfig config;
  Origin origin;
  bool macs_bound = false;  // port security's MACs are static FDB entries of the port
  bool link_up = false;
  uint16_t active_queues = 0;
  uint16_t guest_mtu = 0;             // vhost-user: the MTU QEMU announced (host_mtu), 0 if none
  std::vector<std::string> offloads;  // vhost-user: the offloads the guest negotiated
  PortTotals totals;
};

// A peer the cluster brings (control/cluster/membership.h). Its key, the
// address this switch sends to and accepts VXLAN from, is the member's VTEP
// in this rVM's data center; for the active gateway of another data center
// it is the public address the reality clouds' 1:1 NAT gives that VTEP,
// which is also what its packets arrive from here. Decap accepts a peer by
// that address only: the member's own VTEP is an address of another
// cloud's network, which may be anybody here.
struct ClusterPeer {
  std::string member;              // its name in the cluster
  Ipv4Address vtep;                // its own underlay address
  std::string data_center;         // "": this rVM's
  uint8_t horizon = kMeshHorizon;  // kFirstRemoteHorizon + i for the i-th other data center
  bool operator==(const ClusterPeer&) const = default;
};

struct PeerStatus {
  std::string network;
  Ipv4Address ip;
  bool manual = true;     // typed: the config file or inceptionctl peer add
  bool cluster = false;   // a member of the cluster (cluster mode)
  ClusterPeer member;     // cluster: who it is
  Ipv4Address next_hop;   // the peer, or the gateway when it is off-link
  bool resolved = false;  // next-hop MAC known: frames can be sent
  PortTotals totals;
};

struct NetworkStatus {
  NetworkConfig config;
  bool manual = true;    // typed: the config file or inceptionctl network add
  bool cluster = false;  // a network of the cluster (<prefix>networks/ in etcd)
  std::vector<std::string> ports;
  std::vector<PeerStatus> peers;
  uint32_t fdb_dynamic = 0;
  uint32_t fdb_static = 0;
  uint64_t fdb_limit_hits = 0;
  uint64_t fdb_port_limit_hits = 0;  // MACs refused because their port held its quota
  uint64_t fdb_moves = 0;
  uint32_t neighbors = 0;            // IPv4 neighbors the router learned here
  uint64_t neighbor_limit_hits = 0;  // ... and refused at the network's limit
  uint32_t snat_sessions = 0;        // SNAT sessions that came from this network
  NetworkIndex index = kInvalidNetwork;
};

struct FdbRow {
  std::string network;
  MacAddress mac;
  std::string port;  // a local port's name, or "peer:<VTEP address>"
  std::optional<Ipv4Address> peer;
  bool is_static = false;
  uint32_t age_s = 0;
};

struct WorkerStatus {
  unsigned index = 0;
  unsigned lcore = 0;
  uint64_t busy_cycles = 0, idle_cycles = 0, busy_packets = 0, learn_requests = 0, learn_ring_full = 0;
  // Guest offloads finished in software (dataplane/offload/).
  uint64_t offload_segmented = 0, offload_segments = 0, offload_checksums = 0;
  uint64_t offload_coalesced = 0, offload_coalesced_segments = 0;
};

// Which queues one worker serves, for `inceptionctl worker list`.
struct WorkerQueues {
  // A receive queue the worker polls.
  struct Rx {
    std::string port;     // a port's name, "underlay" or "host"
    uint16_t queue = 0;   // vhost-user queue pair, or ethdev RX queue
    bool enabled = true;  // vhost-user: the guest enabled the pair's TX vring (else the poll returns at once)
  };
  // The guest RX vring (queue pair) the worker enqueues to on a vhost-user port.
  struct Tx {
    std::string port;
    std::optional<uint16_t> queue;  // none: no guest, or it enabled no RX vring
  };
  unsigned index = 0;
  unsigned lcore = 0;
  std::vector<Rx> rx;
  std::vector<Tx> tx;
};

struct FipStatus {
  FipConfig config;
  Origin origin;
  bool active = true;  // this switch answers ARP for the public IP (see activate_fip)
  FipCounters totals{};
};

// What `inceptionctl nat snat set` changes; unset fields keep their values.
struct SnatSettings {
  std::string address;
  std::optional<std::string> ports;  // LOW-HIGH
  std::optional<uint32_t> max_sessions, max_per_network, max_per_source;
  std::optional<uint32_t> tcp_established_timeout_s, tcp_transitory_timeout_s, udp_timeout_s, icmp_timeout_s;
};

struct NatStatus {
  std::vector<RouterConfig> routers;
  std::vector<FipStatus> fips;
  std::vector<GatewayMappingConfig> gateway_mappings;
  bool snat = false;
  std::optional<Ipv4Address> snat_address;
  uint16_t snat_port_min = 0, snat_port_max = 0;
  MacAddress router_mac;  // the routers' MAC on every network: iVMs' next hop
  uint32_t sessions_active = 0;
  uint32_t sessions_limit = 0;  // max_sessions: the table is full there
  uint64_t sessions_created = 0, sessions_expired = 0, translations = 0;
  uint64_t mss_clamped = 0;  // routed TCP SYNs whose MSS was lowered to fit the overlay
};

// Counters of the underlay NIC and of the host interface.
struct UnderlayStatus {
  std::string device;
  std::string host_interface;
  MacAddress mac;  // what peers address our VXLAN frames to
  PortTotals nic;
  PortTotals host;
};

// Everything a scrape reports, read under one lock: one moment of the switch.
struct Stats {
  uint64_t tsc_hz = 0;
  MempoolUsage mempool;
  std::vector<PortStatus> ports;
  std::vector<NetworkStatus> networks;
  std::vector<PeerStatus> peers;
  std::optional<UnderlayStatus> underlay;
  NatStatus nat;
  std::vector<WorkerStatus> workers;
};

class Controller {
 public:
  Controller(const Config& startup, Dataplane& dataplane);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Applies the networks, ports and static MACs of a start-up config.
  void apply(const Config& config);

  // The methods below are grouped by feature; each group is defined in the
  // feature's folder, next to its API handlers, CLI verbs and metrics, as
  // dataplane/ holds the feature's stage.

  // L2: networks, FDB, static MACs, learning and aging
  // (control/l2/l2_control.cpp).
  // `from_cluster`: the cluster module applies a network of the cluster
  // (control/cluster/desired_state.h). A network both typed and of the
  // cluster (same name, same VNI: adopted, whichever came first) is kept
  // until neither wants it; the same name with another VNI is refused.
  void add_network(const NetworkConfig& network, bool from_cluster = false);
  // A network that only the cluster brought is refused when typed: it goes
  // when its key goes, on every rVM at once.
  void del_network(const std::string& name, bool from_cluster = false);
  void add_static_mac(const std::string& network, const std::string& mac, const std::string& port);
  void del_mac(const std::string& network, const std::string& mac);
  std::vector<NetworkStatus> networks();
  NetworkStatus network(const std::string& name);
  std::vector<FdbRow> fdb(const std::optional<std::string>& network);
  // Periodic work of the main loop.
  size_t process_learn_requests();
  size_t age_fdb();

  // Ports: vhost-user and kernel ports, their MAC binding
  // (control/ports/port_control.cpp).
  // `bind_macs` false: port security holds (the port sends from its MACs
  // only) but the MACs are not pinned to it in the FDB yet (see
  // bind_port_macs).
  void add_port(const PortConfig& port, const Origin& origin = {}, bool bind_macs = true);
  // Pins a port's bound MACs to it as static FDB entries, or unpins them.
  // A guest migrating in is plugged before it runs here and one migrating
  // away stays plugged after it stopped running there; while it does not
  // run, its MAC must stay where its traffic is (learned from the other
  // rVM), or every frame to it is lost until the move completes. Binding
  // also tells the port's network, from its router, that the router's
  // address is at this rVM's router MAC: a guest that arrives by live
  // migration still has the previous rVM's in its ARP cache.
  void bind_port_macs(const std::string& name, bool bound);
  // A port a domain plugged is refused without `force` (see Origin).
  void del_port(const std::string& name, bool force = false);
  // Removes every port (before shutdown).
  void remove_all_ports();
  std::vector<PortStatus> ports();
  // Per worker, the queues it polls and the guest vrings it transmits to:
  // the published poll lists and the vhost devices' atomics, as they are now.
  std::vector<WorkerQueues> worker_queues();

  // VXLAN: peers, the underlay and its neighbor table
  // (control/vxlan/vxlan_control.cpp).
  void add_peer(const std::string& network, const std::string& ip);
  // A peer that only the cluster brought is refused: it goes when its
  // member leaves. One both typed and from the cluster stays, as the
  // cluster's.
  void del_peer(const std::string& network, const std::string& ip);
  // Cluster mode (control/cluster/membership.h): `peers`, the other members
  // of this rVM's data center and, on its active gateway, the gateways of
  // the other data centers (ClusterPeer), become peers of every network,
  // present and future, beside the typed ones; the previous set's
  // addresses missing from it are removed (with the MACs learned behind
  // them) unless also typed. Returns the addresses refused by validate_peer
  // (off-link without a gateway, this rVM's own VTEP...) with the reason;
  // the others are applied.
  std::map<Ipv4Address, std::string> set_cluster_peers(const std::map<Ipv4Address, ClusterPeer>& peers);
  void add_neighbor(const std::string& ip, const std::string& mac);
  void del_neighbor(const std::string& ip);
  std::vector<NeighborEntry> neighbors();
  // Neighbor resolution for the peers: punted ARP, requests, expiry.
  void tick_underlay();

  // Router and NAT: routers, floating IPs, gateway mappings, SNAT
  // (control/router/router_control.cpp).
  // An inactive floating IP translates but is not claimed on the public
  // network (no ARP answers, no announcement): its guest is plugged here
  // but runs on another rVM, before or after a live migration.
  void add_fip(const std::string& public_ip, const std::string& fixed_ip, const std::string& network,
               const Origin& origin = {}, bool active = true);
  // Claims the public IP (a gratuitous ARP moves it here at once) or stops
  // answering for it.
  void activate_fip(const std::string& public_ip, bool active);
  void del_fip(const std::string& public_ip, bool force = false);
  void add_gateway_mapping(const std::string& underlay_ip, const std::string& public_ip);
  void del_gateway_mapping(const std::string& underlay_ip);
  // The public-network address iVMs without a floating IP, and floating
  // IPs' replies, are routed to ([nat] gateway at start-up); in cluster
  // mode it follows the data center's active gateway.
  void set_nat_gateway(Ipv4Address gateway);
  // The distributed router's interface on a network (what [[router]] gives
  // at start-up): its iVMs' default gateway, `address` as ADDRESS/PREFIX.
  void add_router(const std::string& network, const std::string& address);
  // Refused while floating IPs on the network, or NAT through `public`,
  // need it; forgets the IPv4 neighbors the router learned there.
  void del_router(const std::string& network);
  // (Re)starts SNAT on `settings.address` (what [nat] snat_address and its
  // settings give at start-up); settings not given keep their values. The
  // session table is new: sessions in progress end. Returns how many.
  uint32_t set_snat(const SnatSettings& settings);
  // The same with every SNAT setting of `nat` (config reload: the file's
  // [nat], which may differ from the running one in those and the gateway
  // only; the gateway stays as it runs).
  uint32_t set_snat(const NatConfig& nat);
  // Stops SNAT; returns how many sessions ended.
  uint32_t snat_off();
  NatStatus nat();
  std::vector<nat::SnatSession> nat_sessions(size_t limit);
  std::vector<OverlayNeighbor> overlay_neighbors();

  // Every feature (control/controller.cpp).
  Stats stats();
  Config running_config();

 private:
  struct Peer {
    NetworkIndex network = kInvalidNetwork;
    Ipv4Address ip;
    PortIndex index = kInvalidPort;
    PortTotals baseline;
    bool manual = true;  // see PeerStatus
    bool cluster = false;
    ClusterPeer member;  // while `cluster`
  };
  struct Network {
    NetworkConfig config;  // config.peers: the typed ones among `peers`
    NetworkIndex index = kInvalidNetwork;
    std::unique_ptr<Fdb> fdb;
    std::vector<std::string> ports;
    std::map<Ipv4Address, std::unique_ptr<Peer>> peers;
    uint64_t moves = 0;
    bool manual = true;  // see NetworkStatus
    bool cluster = false;
  };
  struct Port {
    PortConfig config;
    PortIndex index = kInvalidPort;
    NetworkIndex network = kInvalidNetwork;
    std::unique_ptr<vhost::VhostPort> vhost;
    std::unique_ptr<KernelPort> kernel;
    PortTotals baseline;  // counters of this index before the port existed
    Origin origin;
    bool macs_bound = false;
  };

  // Glue (controller.cpp).
  void publish();
  PortTotals port_totals(PortIndex index) const;
  uint32_t now_ms() const;

  // L2 (control/l2/l2_control.cpp).
  Network& network_or_throw(const std::string& name, const std::string& context);
  NetworkStatus network_status(const Network& network) const;
  void publish_l2(Snapshot& snapshot) const;
  void handle_learn(const LearnRequest& request);
  void running_l2_config(Config& config) const;

  // Ports (control/ports/port_control.cpp).
  std::optional<PortIndex> free_port_index() const;
  std::string port_name(PortIndex index) const;
  PortStatus port_status(const Port& port) const;
  void publish_ports(Snapshot& snapshot) const;
  void remove_port(Port& port);

  // VXLAN (control/vxlan/vxlan_control.cpp).
  void apply_underlay(const Config& config);
  // `manual`: typed (config, inceptionctl); otherwise from the cluster.
  // `member`: a peer the cluster brings; nullptr: a typed one.
  // Swaps in a new SNAT table for `nat` (its snat_address set), which
  // becomes the running [nat]. Under mutex_.
  uint32_t install_snat_locked(NatConfig nat);
  void add_peer_locked(Network& network, Ipv4Address ip, const ClusterPeer* member = nullptr);
  void remove_peer(Network& network, Ipv4Address ip);
  std::optional<Ipv4Address> next_hop(Ipv4Address peer) const;
  static uint8_t horizon_of(const Network& network, const Peer& peer);
  void update_wanted_neighbors();
  PeerStatus peer_status(const Network& network, const Peer& peer) const;
  void publish_underlay(Snapshot& snapshot) const;
  std::optional<UnderlayStatus> underlay_status() const;

  // Router and NAT (control/router/router_control.cpp).
  void apply_routing(const Config& config);
  void publish_nat(Snapshot& snapshot) const;
  std::unique_ptr<nat::SnatTable> make_snat_table(const NatConfig& config) const;
  void learn_overlay_neighbor(const PuntedFrame& frame, const ArpInfo& arp);
  NatStatus nat_status() const;
  FipCounters fip_totals(uint16_t slot) const;
  void announce_fip(Ipv4Address public_ip);
  void announce_router(const Network& network);
  // What the other features ask of the router about their objects.
  bool nat_needs_underlay_gateway() const;
  void check_routing_allows_network_del(const std::string& name) const;
  void routing_network_deleted(const std::string& name);
  void routing_forget_network(const std::string& name, NetworkIndex index);
  void routing_forget_macs(NetworkIndex network, const std::vector<MacAddress>& macs);
  void routing_network_status(NetworkStatus& status) const;
  void expire_routing(uint32_t now_s);
  void running_routing_config(Config& config) const;

  std::mutex mutex_;
  Config startup_;
  Dataplane& dataplane_;
  uint64_t start_ms_ = 0;

  // L2 and ports: networks, ports and the indices workers know them by.
  std::map<std::string, std::unique_ptr<Network>> networks_;
  std::map<std::string, std::unique_ptr<Port>> ports_;
  std::array<Network*, kMaxNetworks> network_at_{};
  std::array<Port*, kMaxPorts> port_at_{};
  uint32_t pinned_mbufs_ = 0;  // held by kernel ports' receive queues

  // VXLAN: the peers (in their networks, above) share the ports' index
  // space. The underlay, if configured: the NIC, its host interface and the
  // neighbors its peers need. Its indices are taken before any port's.
  std::array<Peer*, kMaxPorts> peer_at_{};
  std::unique_ptr<UnderlayPort> underlay_;
  PortIndex underlay_index_ = kInvalidPort;
  PortIndex host_index_ = kInvalidPort;
  PortTotals underlay_baseline_, host_baseline_;
  NeighborTable neighbors_;
  std::map<Ipv4Address, ClusterPeer> cluster_peers_;  // every network's peers from the cluster

  // Routing and NAT (docs/nat.md); only router_control.cpp touches it.
  struct Routing {
    struct Fip {
      FipConfig config;
      Origin origin;
      bool active = true;
      uint16_t counter_slot = 0;
      FipCounters baseline{};
    };
    std::map<std::string, RouterConfig> routers;  // by network name
    std::map<Ipv4Address, Fip> fips;              // by public IP
    std::array<bool, kMaxFloatingIps> fip_slot_used{};
    std::map<Ipv4Address, Ipv4Address> gateway_mappings;  // underlay -> public
    std::unique_ptr<nat::SnatTable> snat;
    std::unique_ptr<OverlayNeighbors> overlay_neighbors;
    std::vector<Ipv4Prefix> egress_deny;  // built-in, the underlay's subnet, [nat] egress_deny
    std::array<uint8_t, 6> router_mac{};
  } routing_;
};

}  // namespace inception
