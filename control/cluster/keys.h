// Cluster mode's desired and observed state as etcd keys and JSON values
// (docs/cluster.md), and the rules that pick one winner among keys that
// claim the same thing. No DPDK, no etcd: the daemon's cluster module, its
// control-socket commands and the unit tests share these.
//
//   <prefix>networks/<name>  = {"vni": N, "fdb_limit": N?, "router": "A.B.C.D/len"?}
//   <prefix>fips/<public>    = {"fixed": "A.B.C.D", "network": "NAME"}
//   <prefix>placements/<rvm>/<network>/<fixed> = {"mac": "...", "port": "..."}
//   <prefix>gateway_mappings/<public> = {"underlay": "A.B.C.D"}
//   <prefix>gateway_leaders/<dc> = {"name": "rvm1", "public": "A.B.C.D", "since_ms": N}
//   <prefix>topology/<dc>     = {"mode": "mesh" | "star"}
//
// A parse function returns nullopt and says why in `reason` for a value it
// refuses; its texts are those of the same checks on typed input
// (validate_network, parse_router_address, validate_router, validate_fip),
// so an operator reads one wording whichever way the value came.
//
// Ties are broken the same way on every switch, with nothing but what etcd
// says: the key created first (lowest create_revision) keeps its claim.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "control/config.h"
#include "inception/ipv4_address.h"
#include "inception/mac_address.h"

namespace inception::cluster {

struct NetworkSpec {
  NetworkConfig config;              // name from the key, vni, fdb_limit (default if absent)
  std::optional<Ipv4Prefix> router;  // the distributed router's address on every rVM
  bool operator==(const NetworkSpec& other) const;
};

struct FipSpec {
  Ipv4Address public_ip;
  Ipv4Address fixed;
  std::string network;
  bool operator==(const FipSpec&) const = default;
};

// Where a fixed IP lives: published by the rVM whose port has it.
struct Placement {
  std::string rvm;
  std::string network;
  Ipv4Address fixed;
  MacAddress mac;
  std::string port;
  bool operator==(const Placement&) const = default;
};

std::optional<NetworkSpec> parse_network(const std::string& name, const std::string& value, std::string& reason);
std::string network_value(const NetworkSpec& spec);
std::optional<FipSpec> parse_fip(const std::string& public_text, const std::string& value, std::string& reason);
std::string fip_value(const FipSpec& spec);
// `rest`: the key after "<prefix>placements/", i.e. "<rvm>/<network>/<fixed>".
std::optional<Placement> parse_placement(const std::string& rest, const std::string& value, std::string& reason);
std::string placement_rest(const Placement& placement);
// A gateway mapping: the public IP is the key's last part. Only the form
// is judged here; the NAT-address rules (validate_gateway_mapping) need
// an rVM's underlay and are applied where the mapping is served.
std::optional<GatewayMappingConfig> parse_gateway_mapping(const std::string& public_text, const std::string& value,
                                                          std::string& reason);
std::string gateway_mapping_value(const GatewayMappingConfig& mapping);

// The leader key of a data center's gateways.
struct GatewayLeader {
  std::string name;
  std::optional<Ipv4Address> public_address;  // its router on [nat] public_network, if it has one
  int64_t since_ms = 0;                       // Unix time of its election, in ms
};
std::optional<GatewayLeader> parse_gateway_leader(const std::string& value);

// How the members of a data center peer: a full mesh (the default, also
// without a key), or a star around the data center's active gateway, the
// paper's hub (every other member peers with it alone, and it relays).
enum class Topology { kMesh, kStar };
std::optional<Topology> parse_topology(const std::string& value, std::string& reason);
std::string topology_value(Topology topology);
const char* topology_name(Topology topology) noexcept;
std::string gateway_leader_value(const GatewayLeader& leader);
std::string placement_value(const Placement& placement);

// A parsed key with what etcd says about it.
template <typename Spec>
struct Keyed {
  std::string key;
  int64_t create_revision = 0;
  Spec spec;
};

// Of the networks that share a VNI, the one created first wins; the others
// are refused (key -> reason) until it goes.
struct NetworkChoice {
  std::map<std::string, Keyed<NetworkSpec>> winners;  // by network name
  std::map<std::string, std::string> refused;         // by key
};
NetworkChoice choose_networks(const std::vector<Keyed<NetworkSpec>>& candidates);

// Of the floating IPs that claim the same fixed IP on the same network, the
// one created first wins.
struct FipChoice {
  std::map<Ipv4Address, Keyed<FipSpec>> winners;  // by public IP
  std::map<std::string, std::string> refused;     // by key
};
FipChoice choose_fips(const std::vector<Keyed<FipSpec>>& candidates);

// Which rVM serves each placed (network, fixed IP): the first to place it.
// A guest migrating is placed twice for a moment; the source, first, keeps
// it until its port goes.
std::map<std::pair<std::string, Ipv4Address>, Keyed<Placement>> choose_placements(
    const std::vector<Keyed<Placement>>& candidates);

}  // namespace inception::cluster
