// Validation rules of config.h: addresses in their roles (peers, routers,
// NAT, the underlay's own), sockets, cores, the DPDK file prefix, the
// metrics endpoint. (The rules of a network or a port alone are in
// config.cpp.) See config.h for who calls them, and why only from there.
#include <fmt/format.h>

#include <sched.h>
#include <filesystem>

#include <algorithm>
#include <sstream>

#include "control/config.h"
#include "inception/counters.h"
#include "inception/types.h"

namespace inception {

namespace {

Ipv4Prefix subnet_of(const Ipv4Prefix& prefix) {
  return {Ipv4Address(prefix.address.value() & prefix.mask()), prefix.length};
}

// Why `ip` cannot be one host's address, or nullopt if it can.
std::optional<std::string> not_unicast(Ipv4Address ip) {
  const uint32_t v = ip.value();
  if (v == 0) return "the unspecified address";
  if (v == 0xffffffff) return "the broadcast address";
  if ((v >> 28) == 0xe) return "a multicast address";
  if ((v >> 24) == 127) return "a loopback address";
  if ((v >> 16) == 0xa9fe) return "a link-local address";
  return std::nullopt;
}

// Why `ip` cannot be a host's address in `prefix` (the all-zeros and
// all-ones host parts), or nullopt. A /31 has neither (RFC 3021).
std::optional<std::string> not_host_of(Ipv4Address ip, const Ipv4Prefix& prefix, std::string_view what) {
  if (prefix.length > 30) return std::nullopt;
  const Ipv4Prefix subnet = subnet_of(prefix);
  if (ip == subnet.address) return fmt::format("the network address of {}{}", what, subnet.to_string());
  if (ip.value() == (subnet.address.value() | ~prefix.mask()))
    return fmt::format("the broadcast address of {}{}", what, subnet.to_string());
  return std::nullopt;
}

bool overlap(const Ipv4Prefix& a, const Ipv4Prefix& b) {
  const Ipv4Prefix& wider = a.length <= b.length ? a : b;
  return wider.contains(a.length <= b.length ? b.address : a.address);
}

// DPDK 22.11's TAP PMD names a mempool "mp_<vdev name>", and a mempool name
// holds at most 25 characters (RTE_MEMPOOL_NAMESIZE - 1): with a longer
// vdev name its first tx queue setup fails ("Operation not permitted").
constexpr size_t kMaxTapVdevNameLength = 22;

std::string core_list(const std::vector<unsigned>& cores) {
  std::string out;
  for (size_t i = 0; i < cores.size();) {
    size_t j = i;
    while (j + 1 < cores.size() && cores[j + 1] == cores[j] + 1) ++j;
    out += (out.empty() ? "" : ",") + std::to_string(cores[i]);
    if (j > i) out += "-" + std::to_string(cores[j]);
    i = j + 1;
  }
  return out.empty() ? "none" : out;
}

}  // namespace

void validate_file_prefix(const std::string& prefix) {
  if (prefix.size() > kMaxFilePrefixLength)
    throw ConfigError(
        fmt::format("[dpdk] file_prefix is {} characters, at most {}: DPDK puts it in the path of its unix sockets "
                    "(/var/run/dpdk/PREFIX/mp_socket_PID_TSC), which holds at most 107 bytes",
                    prefix.size(), kMaxFilePrefixLength));
  // It names a directory: no '/', no "." or "..", and no '%', which DPDK refuses.
  if (!valid_object_name(prefix, kMaxFilePrefixLength))
    throw ConfigError(
        fmt::format("[dpdk] file_prefix '{}' must be 1-{} characters of A-Z a-z 0-9 . _ - (it names a directory)",
                    prefix, kMaxFilePrefixLength));
}

std::vector<unsigned> allowed_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<unsigned> cores;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cores;
  for (unsigned core = 0; core < CPU_SETSIZE; ++core)
    if (CPU_ISSET(core, &set)) cores.push_back(core);
  return cores;
}

void validate_cores(const Config::Dpdk& dpdk, const std::vector<unsigned>& allowed) {
  const auto usable = [&](unsigned core) { return std::find(allowed.begin(), allowed.end(), core) != allowed.end(); };
  if (!usable(dpdk.main_core))
    throw ConfigError(fmt::format("[dpdk] main_core {} is not a core this process may run on (its CPU affinity: {})",
                                  dpdk.main_core, core_list(allowed)));
  for (const unsigned core : dpdk.worker_cores)
    if (!usable(core))
      throw ConfigError(
          fmt::format("[dpdk] worker_cores: core {} is not a core this process may run on (its CPU affinity: {})", core,
                      core_list(allowed)));
}

void validate_listen_address(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen.size())
    throw ConfigError(fmt::format("[metrics] listen '{}' must be ADDRESS:PORT (e.g. 127.0.0.1:9417)", listen));
  const std::string address = listen.substr(0, colon);
  const std::string port = listen.substr(colon + 1);
  if (address.front() == '[')
    throw ConfigError(fmt::format("[metrics] listen '{}': only IPv4 addresses are supported", listen));
  const auto ip = Ipv4Address::parse(address);
  if (!ip) throw ConfigError(fmt::format("[metrics] listen '{}': '{}' is not an IPv4 address", listen, address));
  const bool digits =
      port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || std::stoul(port) < 1 || std::stoul(port) > 65535)
    throw ConfigError(fmt::format("[metrics] listen '{}': port '{}' is not a number 1..65535", listen, port));
  // 0.0.0.0 means every address of this host; a group address is none.
  if (ip->value() == 0xffffffff || ip->value() >> 28 == 0xe)
    throw ConfigError(fmt::format("[metrics] listen '{}': {} is {}", listen, address, *not_unicast(*ip)));
}

void validate_port_socket(const PortConfig& port, const std::vector<PortConfig>& existing,
                          const std::string& control_socket) {
  if (port.type != PortType::kVhostUser) return;
  if (port.socket == control_socket)
    throw ConfigError(
        fmt::format("port {}: socket {} is inceptiond's control socket ([control] socket)", port.name, port.socket));
  for (const PortConfig& other : existing)
    if (other.type == PortType::kVhostUser && other.socket == port.socket)
      throw ConfigError(
          fmt::format("port {}: socket {} is already used by port {}", port.name, port.socket, other.name));
}

void validate_underlay(const UnderlayConfig& u) {
  if (u.device.empty()) throw ConfigError("underlay: no device given");
  const std::string vdev = u.device.substr(0, u.device.find(','));
  if (vdev.starts_with("net_tap") && vdev.size() > kMaxTapVdevNameLength)
    throw ConfigError(fmt::format(
        "underlay: device name '{}' is longer than {} characters: DPDK's TAP driver names a mempool after it "
        "(mp_{}), and a mempool name holds 25",
        vdev, kMaxTapVdevNameLength, vdev));
  const Ipv4Address vtep = u.address.address;
  if (const auto why = not_unicast(vtep))
    throw ConfigError(fmt::format("underlay: address {} is {}", vtep.to_string(), *why));
  if (const auto why = not_host_of(vtep, u.address, ""))
    throw ConfigError(fmt::format("underlay: address {} is {}", vtep.to_string(), *why));
  if (u.gateway) {
    const std::string gateway = u.gateway->to_string();
    if (!u.address.contains(*u.gateway))
      throw ConfigError(fmt::format("underlay: gateway {} is not inside {}", gateway, u.address.to_string()));
    if (const auto why = not_unicast(*u.gateway))
      throw ConfigError(fmt::format("underlay: gateway {} is {}", gateway, *why));
    if (const auto why = not_host_of(*u.gateway, u.address, ""))
      throw ConfigError(fmt::format("underlay: gateway {} is {}", gateway, *why));
    if (*u.gateway == vtep) throw ConfigError(fmt::format("underlay: gateway {} is the VTEP's own address", gateway));
  }
  if (!u.host_interface.empty() && !valid_object_name(u.host_interface, kMaxPortNameLength))
    throw ConfigError(
        fmt::format("underlay: host_interface '{}': an interface name is 1-{} characters of A-Z a-z 0-9 . _ -",
                    u.host_interface, kMaxPortNameLength));
}

void validate_peer(const std::string& network, Ipv4Address peer, const std::vector<Ipv4Address>& existing,
                   const UnderlayConfig& underlay) {
  const std::string context = fmt::format("network {}: peer {}", network, peer.to_string());
  if (!underlay.enabled) throw ConfigError(context + ": peers need an [underlay]");
  if (const auto why = not_unicast(peer))
    throw ConfigError(fmt::format("{} is {}; a peer is another rVM's unicast VTEP address", context, *why));
  if (peer == underlay.address.address) throw ConfigError(context + " is this rVM's own VTEP address");
  if (const auto why = not_host_of(peer, underlay.address, "the underlay "))
    throw ConfigError(fmt::format("{} is {}", context, *why));
  if (std::find(existing.begin(), existing.end(), peer) != existing.end())
    throw ConfigError(context + " already exists");
  if (!underlay.address.contains(peer) && !underlay.gateway)
    throw ConfigError(fmt::format("{}: not inside the underlay {} and no [underlay] gateway is configured", context,
                                  subnet_of(underlay.address).to_string()));
}

void validate_vni_unused(const NetworkConfig& network, const std::vector<NetworkConfig>& existing) {
  for (const NetworkConfig& other : existing)
    if (other.vni == network.vni)
      throw ConfigError(
          fmt::format("network {}: VNI {} is already used by network {}", network.name, network.vni, other.name));
}

Ipv4Address parse_peer_address(const std::string& network, const std::string& text) {
  const auto ip = Ipv4Address::parse(text);
  if (!ip) throw ConfigError(fmt::format("network {}: peer '{}' is not an IPv4 address", network, text));
  return *ip;
}

void validate_port_keys(const PortConfig& port, bool vhost_keys_given) {
  if (port.type == PortType::kKernel && vhost_keys_given)
    throw ConfigError(
        fmt::format("port {}: socket, mode, queues, offloads and coalesce apply to vhost-user ports only", port.name));
}

void validate_static_mac_address(std::string_view as_written, const MacAddress& mac) {
  if (mac.is_multicast() || mac.is_zero())
    throw ConfigError(fmt::format("fdb entry {}: a static entry needs a unicast MAC address", as_written));
}

Ipv4Prefix parse_router_address(const std::string& network, const std::string& text) {
  const auto address = Ipv4Prefix::parse(text);
  if (!address)
    throw ConfigError(
        fmt::format("router on network {}: address '{}' is not ADDRESS/PREFIX (e.g. 192.0.2.254/24)", network, text));
  return *address;
}

void validate_neighbor(const NeighborConfig& neighbor, const UnderlayConfig& underlay) {
  const std::string ip = neighbor.ip.to_string();
  if (!underlay.enabled) throw ConfigError(fmt::format("neighbor {}: no [underlay] is configured", ip));
  if (const auto why = not_unicast(neighbor.ip)) throw ConfigError(fmt::format("neighbor {} is {}", ip, *why));
}

void validate_router(const RouterConfig& router, const std::vector<RouterConfig>& existing,
                     const UnderlayConfig& underlay) {
  const std::string context =
      fmt::format("router on network {}: address {}", router.network, router.address.address.to_string());
  if (router.address.length == 0 || router.address.length > 30)
    throw ConfigError(
        fmt::format("{}/{}: the prefix must be /1 to /30, with room for hosts", context, router.address.length));
  if (const auto why = not_unicast(router.address.address)) throw ConfigError(fmt::format("{} is {}", context, *why));
  if (const auto why = not_host_of(router.address.address, router.address, ""))
    throw ConfigError(fmt::format("{} is {}", context, *why));
  if (underlay.enabled && router.address.address == underlay.address.address)
    throw ConfigError(context + " is this rVM's own VTEP address");
  for (const RouterConfig& other : existing) {
    if (other.network == router.network) throw ConfigError(fmt::format("network {} has two routers", router.network));
    if (overlap(router.address, other.address))
      throw ConfigError(fmt::format("router on network {}: {} overlaps network {}'s {}", router.network,
                                    subnet_of(router.address).to_string(), other.network,
                                    subnet_of(other.address).to_string()));
  }
}

void validate_nat_address(const std::string& object, Ipv4Address address, const UnderlayConfig& underlay) {
  if (!underlay.enabled) throw ConfigError(object + ": needs an [underlay] (NAT sends out of the rVM's NIC)");
  if (!underlay.gateway) throw ConfigError(object + ": needs [underlay] gateway (the reality cloud's router)");
  if (const auto why = not_unicast(address)) throw ConfigError(fmt::format("{}: that is {}", object, *why));
  if (!underlay.address.contains(address))
    throw ConfigError(fmt::format("{}: not inside the underlay {}, where the reality cloud delivers it", object,
                                  subnet_of(underlay.address).to_string()));
  if (const auto why = not_host_of(address, underlay.address, "the underlay "))
    throw ConfigError(fmt::format("{}: that is {}", object, *why));
  // VXLAN and the rVM's own traffic (its ssh) use the VTEP address untranslated.
  if (address == underlay.address.address)
    throw ConfigError(object + ": that is the VTEP's own address; give each public IP its own underlay address");
  if (address == *underlay.gateway) throw ConfigError(object + ": that is the underlay gateway's address");
}

namespace {

// One rule, checked from either side (a mapping added, SNAT set).
void refuse_mapping_on_snat_address(const GatewayMappingConfig& mapping, Ipv4Address snat_address) {
  if (mapping.underlay == snat_address)
    throw ConfigError("gateway mapping " + mapping.underlay.to_string() +
                      ": that is the SNAT address ([nat] snat_address)");
}

}  // namespace

void validate_snat_address(Ipv4Address address, const std::vector<GatewayMappingConfig>& mappings,
                           const UnderlayConfig& underlay) {
  validate_nat_address("[nat] snat_address " + address.to_string(), address, underlay);
  for (const GatewayMappingConfig& mapping : mappings) refuse_mapping_on_snat_address(mapping, address);
}

std::pair<uint16_t, uint16_t> parse_snat_ports(const std::string& object, const std::string& text) {
  unsigned lo = 0, hi = 0;
  char dash = 0;
  std::istringstream in(text);
  if (!(in >> lo >> dash >> hi) || dash != '-' || lo < 1024 || hi > 65535 || lo > hi || !in.eof())
    throw ConfigError(fmt::format("{}: '{}' is not a range LOW-HIGH within 1024-65535", object, text));
  return {static_cast<uint16_t>(lo), static_cast<uint16_t>(hi)};
}

void validate_gateway_mapping(const GatewayMappingConfig& mapping, const std::vector<GatewayMappingConfig>& existing,
                              const NatConfig& nat, const UnderlayConfig& underlay) {
  const std::string object = "gateway mapping " + mapping.underlay.to_string();
  validate_nat_address(object, mapping.underlay, underlay);
  if (nat.snat_address) refuse_mapping_on_snat_address(mapping, *nat.snat_address);
  if (const auto why = not_unicast(mapping.public_ip))
    throw ConfigError(fmt::format("{}: public IP {} is {}", object, mapping.public_ip.to_string(), *why));
  for (const GatewayMappingConfig& other : existing) {
    if (other.underlay == mapping.underlay) throw ConfigError(object + " already exists");
    if (other.public_ip == mapping.public_ip)
      throw ConfigError(fmt::format("{}: public IP {} is already mapped to {}", object, mapping.public_ip.to_string(),
                                    other.underlay.to_string()));
  }
}

void validate_fip(const FipConfig& fip, const std::vector<FipConfig>& existing) {
  const std::string object = "floating IP " + fip.public_ip.to_string();
  if (const auto why = not_unicast(fip.public_ip)) throw ConfigError(fmt::format("{} is {}", object, *why));
  if (const auto why = not_unicast(fip.fixed))
    throw ConfigError(fmt::format("{}: fixed IP {} is {}", object, fip.fixed.to_string(), *why));
  for (const FipConfig& other : existing) {
    if (other.public_ip == fip.public_ip) throw ConfigError(object + " already exists");
    if (other.fixed == fip.fixed && other.network == fip.network)
      throw ConfigError(fmt::format("{}: {} on {} already has floating IP {}", object, fip.fixed.to_string(),
                                    fip.network, other.public_ip.to_string()));
  }
}

void validate_public_network(const std::string& object, const NatConfig& nat, bool exists) {
  if (!exists)
    throw ConfigError(
        fmt::format("{}: the public network '{}' does not exist ([nat] public_network)", object, nat.public_network));
}

void validate_capacity(const Config& c) {
  if (c.networks.size() > kMaxNetworks)
    throw ConfigError(fmt::format("{} networks, the switch holds at most {}", c.networks.size(), kMaxNetworks));
  // Ports, each network's VXLAN peers, the underlay and its host interface
  // share one index space.
  size_t indices = c.ports.size() + (c.underlay.enabled ? 2 : 0);
  for (const NetworkConfig& n : c.networks) indices += n.peers.size();
  if (indices > kMaxPorts)
    throw ConfigError(fmt::format("{} ports and VXLAN peers (one per network and peer), the switch holds at most {}",
                                  indices, kMaxPorts));
  if (c.fips.size() > kMaxFloatingIps)
    throw ConfigError(fmt::format("{} floating IPs, the switch holds at most {}", c.fips.size(), kMaxFloatingIps));
}

void validate_nat(const Config& c) {
  if (c.nat.gateway) {
    if (const auto why = not_unicast(*c.nat.gateway))
      throw ConfigError(fmt::format("[nat] gateway {}: that is {}", c.nat.gateway->to_string(), *why));
  }
  if (c.nat.egress_deny.size() > kMaxEgressDenyPrefixes)
    throw ConfigError(fmt::format("nat: egress_deny lists {} prefixes, at most {}", c.nat.egress_deny.size(),
                                  kMaxEgressDenyPrefixes));
  const auto defined = [&](const std::string& name) {
    return std::any_of(c.networks.begin(), c.networks.end(), [&](const NetworkConfig& n) { return n.name == name; });
  };
  for (const FipConfig& f : c.fips)
    if (!defined(f.network))
      throw ConfigError(fmt::format("floating IP {}: network {} is not defined", f.public_ip.to_string(), f.network));
  // The error names one feature that needs the public network.
  std::optional<std::string> user;
  if (c.nat.snat_address)
    user = "[nat] snat_address " + c.nat.snat_address->to_string();
  else if (!c.gateway_mappings.empty())
    user = "gateway mapping " + c.gateway_mappings.front().underlay.to_string();
  else if (!c.fips.empty())
    user = "floating IP " + c.fips.front().public_ip.to_string();
  else if (!c.routers.empty())
    user = "router on network " + c.routers.front().network;
  if (user) validate_public_network(*user, c.nat, defined(c.nat.public_network));
}

void validate_socket_dir(const std::string& dir) {
  const std::filesystem::path path(dir);
  if (!path.is_absolute() || path.lexically_normal().string() != dir || dir.back() == '/')
    throw ConfigError(
        fmt::format("socket_dir '{}' must be an absolute, normalised path other than / (no '.', '..', "
                    "'//' or trailing '/')",
                    dir));
  if (dir.size() > kMaxSocketDirLength)
    throw ConfigError(
        fmt::format("socket_dir '{}' is longer than {} bytes: sockets under it would not fit a unix "
                    "socket path (107 bytes)",
                    dir, kMaxSocketDirLength));
}

namespace {

// Why `url` is not an endpoint this client can use, or nullopt.
std::optional<std::string> bad_endpoint(const std::string& url) {
  constexpr std::string_view scheme = "http://";
  if (url.rfind("https://", 0) == 0) return "https is not supported (etcd's client URL over plain http)";
  if (url.rfind(scheme, 0) != 0) return "expected http://HOST:PORT";
  const std::string rest = url.substr(scheme.size());
  const size_t colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) return "expected http://HOST:PORT";
  const std::string host = rest.substr(0, colon), port = rest.substr(colon + 1);
  for (const char c : host)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
      return "expected http://HOST:PORT (a host name or IPv4 address, no path)";
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) == 0 || std::stoul(port) > 65535)
    return "the port must be 1..65535";
  return std::nullopt;
}

}  // namespace

void validate_cluster(const ClusterConfig& c, const UnderlayConfig& underlay) {
  if (c.endpoints.empty()) throw KeyConfigError("endpoints", "[cluster] endpoints must list at least one etcd URL");
  for (size_t i = 0; i < c.endpoints.size(); ++i) {
    if (const auto why = bad_endpoint(c.endpoints[i]))
      throw KeyConfigError("endpoints", fmt::format("[cluster] endpoint '{}': {}", c.endpoints[i], *why));
    if (std::find(c.endpoints.begin(), c.endpoints.begin() + static_cast<std::ptrdiff_t>(i), c.endpoints[i]) !=
        c.endpoints.begin() + static_cast<std::ptrdiff_t>(i))
      throw KeyConfigError("endpoints", fmt::format("[cluster] endpoint {} is listed twice", c.endpoints[i]));
  }
  if (!valid_object_name(c.name, kMaxClusterNameLength))
    throw KeyConfigError(
        "name", fmt::format("[cluster] name '{}': a member name is 1-{} characters of A-Z a-z 0-9 . _ -", c.name,
                            kMaxClusterNameLength));
  if (!valid_object_name(c.data_center, kMaxClusterNameLength))
    throw KeyConfigError(
        "data_center",
        fmt::format("[cluster] data_center '{}': a data center name is 1-{} characters of A-Z a-z 0-9 . _ -",
                    c.data_center, kMaxClusterNameLength));
  if (!kLeaseTtlRange.contains(c.lease_ttl_s))
    throw KeyConfigError("lease_ttl", fmt::format("[cluster] lease_ttl: {}",
                                                  out_of_range_text(std::to_string(c.lease_ttl_s), kLeaseTtlRange)));
  if (c.prefix.size() < 2 || c.prefix.front() != '/' || c.prefix.back() != '/' ||
      c.prefix.size() > kMaxClusterPrefixLength)
    throw KeyConfigError("prefix", fmt::format("[cluster] prefix '{}' must start and end with '/' (at most {} bytes)",
                                               c.prefix, kMaxClusterPrefixLength));
  for (size_t i = 0; i < c.roles.size(); ++i) {
    if (std::find(std::begin(kClusterRoles), std::end(kClusterRoles), c.roles[i]) == std::end(kClusterRoles))
      throw KeyConfigError("roles", fmt::format("[cluster] role '{}' is not one of: gateway", c.roles[i]));
    if (std::find(c.roles.begin(), c.roles.begin() + static_cast<std::ptrdiff_t>(i), c.roles[i]) !=
        c.roles.begin() + static_cast<std::ptrdiff_t>(i))
      throw KeyConfigError("roles", fmt::format("[cluster] role {} is listed twice", c.roles[i]));
  }
  // Run without a shell or a PATH search: what is written is what runs.
  if (!c.gateway_hook.empty() && c.gateway_hook.front() != '/')
    throw KeyConfigError("gateway_hook",
                         fmt::format("[cluster] gateway_hook '{}' must be an absolute path", c.gateway_hook));
  if (!underlay.enabled)
    throw KeyConfigError("", "[cluster] needs an [underlay]: its address is the VTEP the other members tunnel to");
  if (c.public_vtep) {
    const std::string what = fmt::format("[cluster] public_vtep {}", c.public_vtep->to_string());
    if (std::find(c.roles.begin(), c.roles.end(), "gateway") == c.roles.end())
      throw KeyConfigError("public_vtep", what + ": only the gateway role tunnels to other data centers");
    if (const auto why = not_unicast(*c.public_vtep)) throw KeyConfigError("public_vtep", what + ": " + *why);
    if (*c.public_vtep == underlay.address.address)
      throw KeyConfigError("public_vtep", what +
                                              ": the VTEP's own address is not public; give the one the reality "
                                              "cloud NATs to it");
    if (!underlay.gateway)
      throw KeyConfigError("public_vtep",
                           what + ": the other data centers are reached through [underlay] gateway, which is not set");
  }
}

}  // namespace inception
