// L2's sections of the TOML file: [[network]], [[fdb]].
#include "control/config_reader.h"

namespace inception::config_detail {

NetworkConfig parse_network(const toml::table& table, const std::string& file, size_t index,
                            const UnderlayConfig& underlay) {
  TableReader r(table, fmt::format("[[network]] #{}", index + 1), file);
  NetworkConfig n;
  n.name = r.required_string("name");
  const auto vni = r.integer("vni", kVniRange.min, kVniRange.max);
  if (!vni) r.fail("missing required key 'vni'");
  n.vni = *vni;
  if (auto v = r.integer("fdb_limit", kFdbLimitRange.min, kFdbLimitRange.max)) n.fdb_limit = *v;
  const std::optional<std::vector<std::string>> peers = r.strings("peers");
  if (auto v = r.boolean("hub")) n.hub = *v;
  if (auto v = r.integer("neighbor_limit", kNeighborLimitRange.min, kNeighborLimitRange.max)) n.neighbor_limit = *v;
  r.finish();
  at_table(table, file, [&] { validate_network(n); });
  if (peers) {
    const toml::array& items = *table.get("peers")->as_array();
    for (size_t i = 0; i < peers->size(); ++i) {
      at_table(items[i], file, [&] {
        const Ipv4Address ip = parse_peer_address(n.name, (*peers)[i]);
        validate_peer(n.name, ip, n.peers, underlay);
        n.peers.push_back(ip);
      });
    }
  }
  return n;
}

StaticMacConfig parse_static_mac(const toml::table& table, const std::string& file, size_t index) {
  TableReader r(table, fmt::format("[[fdb]] #{}", index + 1), file);
  StaticMacConfig s;
  s.network = r.required_string("network");
  const std::string mac = r.required_string("mac");
  s.port = r.required_string("port");
  r.finish();
  const auto parsed = MacAddress::parse(mac);
  if (!parsed) r.fail_at(*table.get("mac"), fmt::format("'{}' is not a MAC address (aa:bb:cc:dd:ee:ff)", mac));
  at_table(*table.get("mac"), file, [&] { validate_static_mac_address(mac, *parsed); });
  s.mac = *parsed;
  return s;
}

void l2_to_toml(const Config& c, toml::table& root) {
  toml::array networks;
  for (const NetworkConfig& n : c.networks) {
    toml::array peers;
    for (const Ipv4Address& p : n.peers) peers.push_back(p.to_string());
    networks.push_back(toml::table{{"name", n.name},
                                   {"vni", static_cast<int64_t>(n.vni)},
                                   {"fdb_limit", static_cast<int64_t>(n.fdb_limit)},
                                   {"peers", std::move(peers)},
                                   {"hub", n.hub},
                                   {"neighbor_limit", static_cast<int64_t>(n.neighbor_limit)}});
  }
  if (!networks.empty()) root.insert("network", std::move(networks));
  toml::array macs;
  for (const StaticMacConfig& s : c.static_macs)
    macs.push_back(toml::table{{"network", s.network}, {"mac", s.mac.to_string()}, {"port", s.port}});
  if (!macs.empty()) root.insert("fdb", std::move(macs));
}

}  // namespace inception::config_detail
