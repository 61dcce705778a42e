// inceptiond's configuration: the TOML file, as plain structs.
//
// Flow: TOML text -> parse_config (syntax, types, unknown keys, ranges; every
// error carries file:line:column) -> Config -> Controller applies it through
// the same functions inceptionctl uses. to_toml turns a Config back into a
// file that parse_config accepts (`inceptionctl config show`).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "inception/ipv4_address.h"
#include "inception/mac_address.h"
#include "inception/types.h"

namespace inception {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A rule's error about one key of a section (the loader points at its value).
class KeyConfigError : public ConfigError {
 public:
  KeyConfigError(std::string key, const std::string& what) : ConfigError(what), key_(std::move(key)) {}
  const std::string& key() const noexcept { return key_; }

 private:
  std::string key_;
};

enum class PortType { kVhostUser, kKernel };
std::string_view port_type_name(PortType type) noexcept;
std::optional<PortType> parse_port_type(std::string_view name) noexcept;

struct NetworkConfig {
  std::string name;
  uint32_t vni = 0;
  uint32_t fdb_limit = 8192;  // dynamic MAC entries; static entries have their own reserve
  // VTEPs (other rVMs' underlay addresses) this network reaches over VXLAN.
  std::vector<Ipv4Address> peers;
  // A hub relays flooded frames from one peer to the others (the paper's
  // star, hub = gateway rVM); elsewhere split horizon keeps frames from a
  // peer away from the other peers.
  bool hub = false;
  // IPv4 neighbors (ARP) the router may learn on this network.
  uint32_t neighbor_limit = 1024;
  bool operator==(const NetworkConfig&) const = default;
};

// The rVM's NIC as a DPDK port: the VXLAN underlay.
struct UnderlayConfig {
  bool enabled = false;
  std::string device;                  // DPDK devargs ("net_af_packet0,iface=eth0") or a PCI address
  Ipv4Prefix address;                  // local VTEP address and on-link prefix
  std::optional<Ipv4Address> gateway;  // next hop for peers off-link
  uint16_t mtu = 1500;                 // overlay MTU = mtu - 50
  uint16_t vxlan_port = 4789;
  // Kernel interface that carries the rVM's own traffic (everything on the
  // underlay that is not VXLAN or ARP for the switch); empty for none.
  std::string host_interface = "inc-host";
  uint32_t neighbor_timeout_s = 300;
};

// The distributed router's interface on a network (see dataplane/router/router.h).
struct RouterConfig {
  std::string network;
  Ipv4Prefix address;
  bool operator==(const RouterConfig&) const = default;
};

// Floating IPs and SNAT (docs/nat.md).
struct NatConfig {
  std::string public_network = "public";    // where floating IPs live
  std::optional<Ipv4Address> gateway;       // public-network address of the gateway rVM
  std::optional<Ipv4Address> snat_address;  // gateway role: underlay address SNAT translates to
  uint16_t snat_port_min = 20000, snat_port_max = 59999;
  uint32_t max_sessions = 262144;
  uint32_t max_sessions_per_network = 65536;  // per origin network (tenant)
  uint32_t max_sessions_per_source = 4096;    // per inside address of a network (one guest)
  uint32_t tcp_established_timeout_s = 7440, tcp_transitory_timeout_s = 240, udp_timeout_s = 300, icmp_timeout_s = 60;
  // Destinations no routed packet may leave for, on top of the built-in
  // list (docs/security.md: this network, loopback, link-local with the
  // metadata service, multicast, reserved, and the underlay's own subnet).
  std::vector<Ipv4Prefix> egress_deny;
};

// Gateway role: the reality cloud maps `public` to this rVM's `underlay` address.
struct GatewayMappingConfig {
  Ipv4Address underlay;
  Ipv4Address public_ip;
  bool operator==(const GatewayMappingConfig&) const = default;
};

// Host role: a floating IP of an iVM on this rVM.
struct FipConfig {
  Ipv4Address public_ip;
  Ipv4Address fixed;
  std::string network;
  bool operator==(const FipConfig&) const = default;
};

struct NeighborConfig {
  Ipv4Address ip;
  MacAddress mac;
  bool operator==(const NeighborConfig&) const = default;
};

struct PortConfig {
  std::string name;
  PortType type = PortType::kVhostUser;
  std::string network;
  std::string socket;    // vhost-user only
  bool server = false;   // vhost-user only: true = the switch creates the socket
  uint16_t queues = 4;   // vhost-user only: queue pairs a guest may enable
  bool offloads = true;  // vhost-user only: offer checksum offload and TSO (dataplane/offload/)
  bool coalesce = true;  // vhost-user only: join TCP segments into super-frames for a guest that takes TSO
  // Port security (docs/security.md): the MAC addresses and IPv4 prefixes
  // the port's guest may use. On by default once a MAC is given.
  std::vector<MacAddress> macs;
  std::vector<Ipv4Prefix> ips;
  std::optional<bool> port_security;
  uint32_t mac_limit = 0;  // dynamic MACs the port may hold; 0: [switch] port_mac_limit

  bool port_security_enabled() const noexcept { return port_security.value_or(!macs.empty()); }
  bool operator==(const PortConfig&) const = default;
};

// The libvirt module (docs/libvirt.md): the switch plugs the vhost-user
// interfaces of the domains libvirt runs on this rVM. On when the file has
// a [libvirt] section.
struct LibvirtConfig {
  bool enabled = false;
  std::string uri = "qemu:///system";
  // Every socket a domain's interface names must lie under this directory:
  // a domain cannot make the switch connect to another domain's socket or
  // to anything else on the rVM. The switch watches it to plug a guest as
  // soon as QEMU creates its socket (QEMU waits for the switch there).
  std::string socket_dir = "/run/inception/vhost-user";
};

// Cluster mode (docs/cluster.md): the rVM registers itself in etcd and
// peers with the other members of its data center. On when the file has a
// [cluster] section; without it the switch runs standalone.
struct ClusterConfig {
  bool enabled = false;
  std::vector<std::string> endpoints;  // etcd client URLs, "http://HOST:PORT"
  std::string name;                    // this rVM's member name, unique in the cluster
  uint32_t lease_ttl_s = 5;            // a member silent this long is gone
  std::string prefix = "/inception/v1/";
  std::string data_center = "dc1";
  std::vector<std::string> roles;  // a subset of kClusterRoles
  // Gateway role: run as `HOOK activate|deactivate PUBLIC UNDERLAY` when
  // this rVM takes or gives up a gateway mapping (docs/cluster.md).
  std::string gateway_hook;
  // Gateway role: the public address the reality cloud NATs 1:1 to this
  // rVM's VTEP. While active, the gateway tunnels to the other data
  // centers' active gateways, and they to it, by these addresses.
  std::optional<Ipv4Address> public_vtep;
};
inline constexpr std::string_view kClusterRoles[] = {"gateway"};

struct StaticMacConfig {
  std::string network;
  MacAddress mac;
  std::string port;
  bool operator==(const StaticMacConfig&) const = default;
};

struct Config {
  struct Dpdk {
    unsigned main_core = 0;
    std::vector<unsigned> worker_cores{1};
    uint32_t memory_mb = 512;
    bool hugepages = true;
    std::string file_prefix = "inceptiond";
    uint32_t mbufs = 16384;
    std::vector<std::string> pci_allow;  // empty: no PCI device is probed
    std::vector<std::string> extra_args;
  } dpdk;
  struct Switch {
    uint32_t mac_aging_s = 300;
    std::string idle_policy = "adaptive";  // "adaptive" or "poll"
    uint32_t idle_sleep_max_us = 500;
    std::string log_level = "info";
    // Per-tenant bounds (docs/security.md); 0 means unlimited.
    uint32_t port_mac_limit = 1024;          // dynamic MACs per local port
    uint32_t punt_pps_per_port = 100;        // ARP frames to the control thread, per port
    uint32_t punt_pps_per_network = 1000;    // ... per network
    uint32_t flood_pps_per_port = 5000;      // flooded frames, per ingress port
    uint32_t flood_pps_per_network = 50000;  // ... per network
  } sw;
  struct Control {
    std::string socket = "/run/inception/inceptiond.sock";
  } control;
  struct Metrics {
    bool enabled = true;
    std::string listen = "127.0.0.1:9417";
  } metrics;
  UnderlayConfig underlay;
  std::vector<NeighborConfig> neighbors;
  std::vector<RouterConfig> routers;
  NatConfig nat;
  LibvirtConfig libvirt;
  ClusterConfig cluster;
  std::vector<GatewayMappingConfig> gateway_mappings;
  std::vector<FipConfig> fips;
  std::vector<NetworkConfig> networks;
  std::vector<PortConfig> ports;
  std::vector<StaticMacConfig> static_macs;
};

// The example configuration shipped as config/inceptiond.toml, compiled in:
// what inceptiond runs without --config.
std::string_view default_config_text() noexcept;

// Parses and validates. Throws ConfigError("SOURCE:LINE:COLUMN: message").
Config parse_config(std::string_view text, const std::string& source_name);
Config load_config_file(const std::string& path);
std::string to_toml(const Config& config);

// Validation: one function per rule, called by both doors, the TOML loader
// (and so `inceptiond --check`) and the Controller's operations
// (inceptionctl), so that a rule and its wording exist once. Each throws
// ConfigError naming the object and the cause; the loader adds
// file:line:column, the Controller passes the text on as a ControlError.
// Rules about a collection take what is already there (`existing`); the
// Controller keeps its model as these config structs for that reason.
// Facts that only the running daemon can know (is an interface name free,
// does a socket's directory exist, is a TCP port free) stay where the daemon
// acts on them; the code there says so.
void validate_network(const NetworkConfig& network);
void validate_port(const PortConfig& port);
void validate_underlay(const UnderlayConfig& underlay);
void validate_nat(const Config& config);
bool valid_object_name(std::string_view name, size_t max_length) noexcept;
inline constexpr size_t kMaxNetworkNameLength = 32;
inline constexpr size_t kMaxPortNameLength = 15;  // a port name is also a Linux interface name (IFNAMSIZ - 1)

// [dpdk] file_prefix: DPDK names its runtime directory and its multi-process
// sockets after it (/var/run/dpdk/PREFIX/mp_socket_PID_TSC), and a unix
// socket path holds at most 107 bytes: longer prefixes are truncated there.
inline constexpr size_t kMaxFilePrefixLength = 48;
void validate_file_prefix(const std::string& prefix);

// [dpdk] main_core and worker_cores must be cores this process may run on
// (`allowed`: its CPU affinity, see allowed_cores()). Checked by inceptiond,
// --check included, not by parse_config: the answer depends on the machine.
void validate_cores(const Config::Dpdk& dpdk, const std::vector<unsigned>& allowed);
std::vector<unsigned> allowed_cores();

// [metrics] listen: IPV4:PORT, a dotted quad and a port 1..65535 in digits;
// 0.0.0.0 listens on every address. The HTTP server behind prometheus-cpp
// (civetweb) reads "999.1.1.1" as 231.1.1.1 and, as packaged here, cannot
// listen on IPv6: both are refused here rather than misused or failed at start.
void validate_listen_address(const std::string& listen);

// [libvirt] socket_dir: an absolute, normalised directory other than "/",
// short enough to leave room for socket names (a unix socket path holds at
// most 107 bytes).
void validate_socket_dir(const std::string& dir);
inline constexpr size_t kMaxSocketDirLength = 80;

// [cluster]: endpoints are http://HOST:PORT URLs (at least one, none
// twice); name and data_center are object names (valid_object_name, at
// most kMaxClusterNameLength: they are parts of etcd keys); lease_ttl_s in
// kLeaseTtlRange; prefix starts and ends with '/'; roles are known and
// listed once; the member needs an [underlay]: its address is the VTEP the
// other members tunnel to. Throws KeyConfigError naming the key judged.
void validate_cluster(const ClusterConfig& cluster, const UnderlayConfig& underlay);
inline constexpr size_t kMaxClusterNameLength = 63;
inline constexpr size_t kMaxClusterPrefixLength = 128;

// A vhost-user port's socket is its own: not another port's, not the
// control socket.
void validate_port_socket(const PortConfig& port, const std::vector<PortConfig>& existing,
                          const std::string& control_socket);

// A VXLAN peer of `network` is another rVM's unicast VTEP address, reachable
// on the underlay (on-link, or through [underlay] gateway), listed once.
void validate_peer(const std::string& network, Ipv4Address peer, const std::vector<Ipv4Address>& existing,
                   const UnderlayConfig& underlay);

// A network's VNI is its own: no other network (`existing`) has it.
void validate_vni_unused(const NetworkConfig& network, const std::vector<NetworkConfig>& existing);

// A VXLAN peer of `network` as written ("10.0.0.12"): an IPv4 address.
Ipv4Address parse_peer_address(const std::string& network, const std::string& text);

// A kernel port takes none of a vhost-user port's keys (socket, mode,
// queues); `vhost_keys_given` says whether the request or table had any.
void validate_port_keys(const PortConfig& port, bool vhost_keys_given);

// A static FDB entry's MAC is a unicast address; `as_written` names it in
// the error as the user wrote it.
void validate_static_mac_address(std::string_view as_written, const MacAddress& mac);

// A router's address as written: ADDRESS/PREFIX.
Ipv4Prefix parse_router_address(const std::string& network, const std::string& text);

// Static underlay neighbors need an underlay; the address is unicast.
void validate_neighbor(const NeighborConfig& neighbor, const UnderlayConfig& underlay);

// A router's address is a host address of its prefix, not the VTEP's; one
// router per network; the routers' subnets do not overlap (a packet routed
// to an address in two of them would go to whichever came first).
void validate_router(const RouterConfig& router, const std::vector<RouterConfig>& existing,
                     const UnderlayConfig& underlay);

// An underlay address NAT answers ARP for and translates to ([nat]
// snat_address, a gateway mapping's underlay address): the gateway role
// needs an [underlay] with a gateway, and the address is a unicast host
// address of the underlay prefix that is neither the VTEP's nor the
// gateway's. `object` names it ("[nat] snat_address 10.0.0.100").
void validate_nat_address(const std::string& object, Ipv4Address address, const UnderlayConfig& underlay);

// The SNAT address is a NAT address (above) that no gateway mapping uses.
void validate_snat_address(Ipv4Address address, const std::vector<GatewayMappingConfig>& mappings,
                           const UnderlayConfig& underlay);

// [nat] snat_ports as written: LOW-HIGH within 1024-65535. `object` names
// the setting in the error.
std::pair<uint16_t, uint16_t> parse_snat_ports(const std::string& object, const std::string& text);

// A gateway mapping's underlay address is a NAT address (above), not the
// SNAT address; each underlay and each public address is mapped once.
void validate_gateway_mapping(const GatewayMappingConfig& mapping, const std::vector<GatewayMappingConfig>& existing,
                              const NatConfig& nat, const UnderlayConfig& underlay);

// A floating IP is defined once, and an iVM's address has at most one.
void validate_fip(const FipConfig& fip, const std::vector<FipConfig>& existing);

// How many networks, ports (with VXLAN peers) and floating IPs a file may
// define: the switch's index spaces (inception/types.h, counters.h).
void validate_capacity(const Config& config);

// Routers, floating IPs, gateway mappings and SNAT all route through
// [nat] public_network: it must exist while any of them is configured.
// `object` names the feature that needs it.
void validate_public_network(const std::string& object, const NatConfig& nat, bool exists);
inline constexpr uint32_t kMaxFdbLimit = 1u << 24;
inline constexpr uint32_t kMaxNeighborLimit = 1u << 20;
// [nat] egress_deny entries: the dataplane's list holds 32, of which the
// built-in destinations and the underlay's subnet take 7.
inline constexpr size_t kMaxEgressDenyPrefixes = 24;
inline constexpr uint32_t kMaxNatSessions = 1u << 24;

// The bounds of an integer setting. The TOML loader, the JSON API
// (control/protocol.h) and inceptionctl's argument checks read the same
// constant, so a limit cannot differ between them.
struct IntRange {
  int64_t min;
  int64_t max;
  constexpr bool contains(int64_t value) const noexcept { return value >= min && value <= max; }
};
inline constexpr IntRange kVniRange{1, kMaxVni};
inline constexpr IntRange kFdbLimitRange{1, kMaxFdbLimit};
inline constexpr IntRange kVhostQueuesRange{1, kMaxVhostQueuePairs};
inline constexpr IntRange kNatMaxSessionsRange{64, kMaxNatSessions};  // [nat] max_sessions
inline constexpr IntRange kNatTimeoutRange{1, 86400};                 // [nat] *_timeout_s
inline constexpr IntRange kNatSessionQuotaRange{1, kMaxNatSessions};  // [nat] max_sessions_per_*
inline constexpr IntRange kNeighborLimitRange{1, kMaxNeighborLimit};
inline constexpr IntRange kMacLimitRange{0, kMaxFdbLimit};  // 0: no per-port limit
inline constexpr IntRange kRateRange{0, 100000000};         // frames per second, 0: unlimited
// [cluster] lease_ttl: etcd refuses leases under 2 s with its default
// election timeout; beyond a minute a dead rVM blackholes for too long.
inline constexpr IntRange kLeaseTtlRange{2, 60};

// "4294967297 is out of range (1..16777215)": the one wording of a value
// outside its range, for every reader of settings. `value` is the value as
// written, so what the user sent is what the error shows.
std::string out_of_range_text(std::string_view value, IntRange range);
// Outer Ethernet + IPv4 + UDP + VXLAN headers (RFC 7348, no outer VLAN).
inline constexpr uint16_t kVxlanOverhead = 50;

}  // namespace inception
