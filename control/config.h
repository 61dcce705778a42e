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

// The distributed router's interface on a network (see dataplane/router.h).
struct RouterConfig {
  std::string network;
  Ipv4Prefix address;
};

// Floating IPs and SNAT (docs/nat.md).
struct NatConfig {
  std::string public_network = "public";    // where floating IPs live
  std::optional<Ipv4Address> gateway;       // public-network address of the gateway rVM
  std::optional<Ipv4Address> snat_address;  // gateway role: underlay address SNAT translates to
  uint16_t snat_port_min = 20000, snat_port_max = 59999;
  uint32_t max_sessions = 262144;
  uint32_t tcp_established_timeout_s = 7440, tcp_transitory_timeout_s = 240, udp_timeout_s = 300, icmp_timeout_s = 60;
};

// Gateway role: the reality cloud maps `public` to this rVM's `underlay` address.
struct GatewayMappingConfig {
  Ipv4Address underlay;
  Ipv4Address public_ip;
};

// Host role: a floating IP of an iVM on this rVM.
struct FipConfig {
  Ipv4Address public_ip;
  Ipv4Address fixed;
  std::string network;
};

struct NeighborConfig {
  Ipv4Address ip;
  MacAddress mac;
};

struct PortConfig {
  std::string name;
  PortType type = PortType::kVhostUser;
  std::string network;
  std::string socket;   // vhost-user only
  bool server = false;  // vhost-user only: true = the switch creates the socket
  uint16_t queues = 4;  // vhost-user only: queue pairs a guest may enable
};

struct StaticMacConfig {
  std::string network;
  MacAddress mac;
  std::string port;
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

// Validation shared by the TOML loader and inceptionctl requests. Each throws
// ConfigError with a message naming the object and the problem.
void validate_network(const NetworkConfig& network);
void validate_port(const PortConfig& port);
void validate_underlay(const UnderlayConfig& underlay);
void validate_nat(const Config& config);
bool valid_object_name(std::string_view name, size_t max_length) noexcept;
inline constexpr size_t kMaxNetworkNameLength = 32;
inline constexpr size_t kMaxPortNameLength = 15;  // a port name is also a Linux interface name
inline constexpr uint32_t kMaxFdbLimit = 1u << 24;
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

// "4294967297 is out of range (1..16777215)": the one wording of a value
// outside its range, for every reader of settings. `value` is the value as
// written, so what the user sent is what the error shows.
std::string out_of_range_text(std::string_view value, IntRange range);
// Outer Ethernet + IPv4 + UDP + VXLAN headers (RFC 7348, no outer VLAN).
inline constexpr uint16_t kVxlanOverhead = 50;

}  // namespace inception
