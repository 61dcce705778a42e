// The values of cluster mode's desired state (control/cluster/keys.h): what
// each switch accepts from etcd, the exact reasons it refuses, and the one
// deterministic winner among keys that claim the same VNI or fixed IP.
#include <gtest/gtest.h>

#include "control/cluster/keys.h"

namespace inception::cluster {
namespace {

std::string refusal_of_network(const std::string& name, const std::string& value) {
  std::string reason;
  EXPECT_FALSE(parse_network(name, value, reason).has_value()) << value;
  return reason;
}

std::string refusal_of_fip(const std::string& public_ip, const std::string& value) {
  std::string reason;
  EXPECT_FALSE(parse_fip(public_ip, value, reason).has_value()) << value;
  return reason;
}

TEST(ClusterKeys, NetworkValueRoundTrips) {
  std::string reason;
  const auto spec =
      parse_network("tenant7", R"({"vni": 7007, "fdb_limit": 512, "router": "203.0.113.254/24"})", reason);
  ASSERT_TRUE(spec) << reason;
  EXPECT_EQ(spec->config.name, "tenant7");
  EXPECT_EQ(spec->config.vni, 7007u);
  EXPECT_EQ(spec->config.fdb_limit, 512u);
  ASSERT_TRUE(spec->router);
  EXPECT_EQ(spec->router->to_string(), "203.0.113.254/24");
  const auto again = parse_network("tenant7", network_value(*spec), reason);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *spec);
  // Optional fields: the same defaults as `network add`; unknown fields are
  // left for later versions.
  const auto bare = parse_network("bare", R"({"vni": 1, "future": true})", reason);
  ASSERT_TRUE(bare) << reason;
  EXPECT_EQ(bare->config.fdb_limit, NetworkConfig{}.fdb_limit);
  EXPECT_FALSE(bare->router);
}

TEST(ClusterKeys, NetworkRefusalsUseTheTextsOfNetworkAdd) {
  EXPECT_EQ(refusal_of_network("n", "{not json"), "the value is not a JSON object");
  EXPECT_EQ(refusal_of_network("n", "[1]"), "the value is not a JSON object");
  EXPECT_EQ(refusal_of_network("n", "{}"), "network n: 'vni' is missing");
  EXPECT_EQ(refusal_of_network("n", R"({"vni": "7"})"), "network n: vni: \"7\" is not an integer");
  EXPECT_EQ(refusal_of_network("n", R"({"vni": 16777216})"), "network n: vni: 16777216 is out of range (1..16777215)");
  EXPECT_EQ(refusal_of_network("n", R"({"vni": 0})"), "network n: vni: 0 is out of range (1..16777215)");
  EXPECT_EQ(refusal_of_network("n", R"({"vni": -5})"), "network n: vni: -5 is out of range (1..16777215)");
  EXPECT_EQ(refusal_of_network("n", R"({"vni": 18446744073709551615})"),
            "network n: vni: 18446744073709551615 is out of range (1..16777215)");
  EXPECT_EQ(refusal_of_network("n", R"({"vni": 5, "fdb_limit": 0})"),
            "network n: fdb_limit: " + out_of_range_text("0", kFdbLimitRange));
  EXPECT_EQ(refusal_of_network("bad name", R"({"vni": 5})"),
            "network 'bad name': a name is 1-32 characters of A-Z a-z 0-9 . _ -");
  EXPECT_EQ(refusal_of_network("n", R"({"vni": 5, "router": "203.0.113.1"})"),
            "router on network n: address '203.0.113.1' is not ADDRESS/PREFIX (e.g. 192.0.2.254/24)");
  EXPECT_EQ(refusal_of_network("n", R"({"vni": 5, "router": "203.0.113.0/24"})"),
            "router on network n: address 203.0.113.0 is the network address of 203.0.113.0/24");
  EXPECT_EQ(refusal_of_network("n", R"({"vni": 5, "router": "203.0.113.1/31"})"),
            "router on network n: address 203.0.113.1/31: the prefix must be /1 to /30, with room for hosts");
  EXPECT_EQ(refusal_of_network("n", R"({"vni": 5, "router": 7})"), "network n: 'router' is missing or not a string");
}

Keyed<NetworkSpec> network(const std::string& name, uint32_t vni, int64_t created) {
  Keyed<NetworkSpec> k;
  k.key = "/p/networks/" + name;
  k.create_revision = created;
  k.spec.config.name = name;
  k.spec.config.vni = vni;
  return k;
}

TEST(ClusterKeys, TheFirstCreatedKeyKeepsADuplicateVniWhateverTheOrderSeen) {
  const auto older = network("blue", 42, 10), newer = network("azure", 42, 11), other = network("red", 43, 12);
  for (const auto& candidates : {std::vector{older, newer, other}, std::vector{other, newer, older}}) {
    const NetworkChoice c = choose_networks(candidates);
    ASSERT_EQ(c.winners.size(), 2u);
    EXPECT_TRUE(c.winners.contains("blue"));
    EXPECT_TRUE(c.winners.contains("red"));
    ASSERT_EQ(c.refused.size(), 1u);
    EXPECT_EQ(c.refused.at("/p/networks/azure"),
              "network azure: VNI 42 is already used by network blue (key /p/networks/blue, created first)");
  }
  // The older one gone, the other wins.
  const NetworkChoice after = choose_networks({newer, other});
  EXPECT_TRUE(after.winners.contains("azure"));
  EXPECT_TRUE(after.refused.empty());
}

TEST(ClusterKeys, FipValueRoundTripsAndRefusals) {
  std::string reason;
  const auto spec = parse_fip("203.0.113.10", R"({"fixed": "192.0.2.2", "network": "private"})", reason);
  ASSERT_TRUE(spec) << reason;
  EXPECT_EQ(spec->fixed.to_string(), "192.0.2.2");
  EXPECT_EQ(spec->network, "private");
  EXPECT_EQ(parse_fip("203.0.113.10", fip_value(*spec), reason), spec);

  EXPECT_EQ(refusal_of_fip("203.0.113.300", R"({"fixed": "192.0.2.2", "network": "private"})"),
            "floating IP '203.0.113.300' is not an IPv4 address");
  EXPECT_EQ(refusal_of_fip("203.0.113.10", "nope"), "the value is not a JSON object");
  EXPECT_EQ(refusal_of_fip("203.0.113.10", R"({"network": "private"})"),
            "floating IP 203.0.113.10: 'fixed' is missing or not a string");
  EXPECT_EQ(refusal_of_fip("203.0.113.10", R"({"fixed": "192.0.2.2"})"),
            "floating IP 203.0.113.10: 'network' is missing or not a string");
  EXPECT_EQ(refusal_of_fip("203.0.113.10", R"({"fixed": "192.0.2", "network": "private"})"),
            "floating IP 203.0.113.10: fixed IP '192.0.2' is not an IPv4 address");
  EXPECT_EQ(refusal_of_fip("224.0.0.1", R"({"fixed": "192.0.2.2", "network": "private"})")
                .rfind("floating IP 224.0.0.1 is ", 0),
            0u);
}

Keyed<FipSpec> fip(const std::string& public_ip, const std::string& fixed, int64_t created) {
  return {"/p/fips/" + public_ip, created,
          FipSpec{*Ipv4Address::parse(public_ip), *Ipv4Address::parse(fixed), "private"}};
}

TEST(ClusterKeys, AFixedIpClaimedTwiceKeepsTheFirstFloatingIp) {
  const FipChoice c = choose_fips({fip("203.0.113.11", "192.0.2.2", 20), fip("203.0.113.10", "192.0.2.2", 19),
                                   fip("203.0.113.12", "192.0.2.3", 21)});
  EXPECT_EQ(c.winners.size(), 2u);
  EXPECT_TRUE(c.winners.contains(*Ipv4Address::parse("203.0.113.10")));
  EXPECT_EQ(c.refused.at("/p/fips/203.0.113.11"),
            "floating IP 203.0.113.11: 192.0.2.2 on private already has floating IP 203.0.113.10 "
            "(key /p/fips/203.0.113.10, created first)");
}

TEST(ClusterKeys, PlacementsParseAndTheFirstPlacedServes) {
  std::string reason;
  const auto p = parse_placement("rvm2/private/192.0.2.2", R"({"mac": "02:00:00:00:00:02", "port": "ivm2"})", reason);
  ASSERT_TRUE(p) << reason;
  EXPECT_EQ(p->rvm, "rvm2");
  EXPECT_EQ(placement_rest(*p), "rvm2/private/192.0.2.2");
  EXPECT_EQ(parse_placement(placement_rest(*p), placement_value(*p), reason), p);
  EXPECT_FALSE(parse_placement("rvm2/private", "{}", reason));
  EXPECT_EQ(reason, "a placement key is placements/<rvm>/<network>/<fixed IP>");
  EXPECT_FALSE(parse_placement("rvm2/private/192.0.2.2", R"({"mac": "zz", "port": "ivm2"})", reason));
  EXPECT_EQ(reason, "placement rvm2/private/192.0.2.2: mac 'zz' is not a MAC address");

  // A migration's overlap: the source placed first keeps serving until its
  // placement goes.
  Placement on_b = *p;
  on_b.rvm = "rvm3";
  const auto both = choose_placements(
      {{"/p/placements/rvm3/private/192.0.2.2", 31, on_b}, {"/p/placements/rvm2/private/192.0.2.2", 30, *p}});
  EXPECT_EQ(both.at({"private", p->fixed}).spec.rvm, "rvm2");
  const auto moved = choose_placements({{"/p/placements/rvm3/private/192.0.2.2", 31, on_b}});
  EXPECT_EQ(moved.at({"private", p->fixed}).spec.rvm, "rvm3");
}

TEST(ClusterKeys, GatewayMappingValueRoundTripsAndRefusals) {
  const GatewayMappingConfig m{*Ipv4Address::parse("10.0.0.101"), *Ipv4Address::parse("203.0.113.10")};
  std::string reason;
  const auto back = parse_gateway_mapping("203.0.113.10", gateway_mapping_value(m), reason);
  ASSERT_TRUE(back) << reason;
  EXPECT_EQ(back->underlay, m.underlay);
  EXPECT_EQ(back->public_ip, m.public_ip);
  const std::pair<const char*, const char*> bad[] = {
      {"203.0.113.300", "gateway mapping '203.0.113.300': the public IP is not an IPv4 address"},
      {"203.0.113.10", "the value is not a JSON object"},
      {"203.0.113.10", "gateway mapping 203.0.113.10: 'underlay' is missing or not a string"},
      {"203.0.113.10", "gateway mapping 203.0.113.10: underlay '10.0.0' is not an IPv4 address"},
  };
  const char* values[] = {R"({"underlay": "10.0.0.101"})", "[1]", R"({"underlay": 101})", R"({"underlay": "10.0.0"})"};
  for (size_t i = 0; i < std::size(bad); ++i) {
    reason.clear();
    EXPECT_FALSE(parse_gateway_mapping(bad[i].first, values[i], reason)) << values[i];
    EXPECT_EQ(reason, bad[i].second);
  }
}

TEST(ClusterKeys, GatewayLeaderValueRoundTrips) {
  const GatewayLeader leader{"rvm2", Ipv4Address::parse("198.51.100.202"), 1700000000123};
  const auto back = parse_gateway_leader(gateway_leader_value(leader));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->name, "rvm2");
  EXPECT_EQ(back->public_address, leader.public_address);
  EXPECT_EQ(back->since_ms, 1700000000123);
  // A gateway without a public-network router publishes no address.
  EXPECT_FALSE(parse_gateway_leader(gateway_leader_value({"rvm3", std::nullopt, 1}))->public_address);
  EXPECT_FALSE(parse_gateway_leader("not json"));
  EXPECT_FALSE(parse_gateway_leader(R"({"public": "198.51.100.202"})"));
}

}  // namespace
}  // namespace inception::cluster
