// The control protocol's readers and writers: what a request field must be
// to be accepted, the exact words of a refusal, and serialisation that no
// byte sequence can break.
#include "control/protocol.h"

#include <gtest/gtest.h>

namespace inception {
namespace {

using nlohmann::json;

// The message of the RequestError that `fn` throws; "" if it throws none.
template <typename Fn>
std::string request_error(Fn&& fn) {
  try {
    fn();
  } catch (const RequestError& e) {
    return e.what();
  }
  return "";
}

std::string network_error(const json& args) {
  return request_error([&] { static_cast<void>(args.get<NetworkConfig>()); });
}

std::string port_error(const json& args) {
  return request_error([&] { static_cast<void>(args.get<PortConfig>()); });
}

TEST(JsonReader, IntegersByTypeAndRange) {
  const json j = json::parse(
      R"({"small": 7, "zero": 0, "negative": -3, "huge": 4294967297, "top": 18446744073709551615,
          "float": 2.9, "whole_float": 5.0, "bool": true, "text": "7", "null": null, "list": [1]})");
  const JsonReader r(j, "args");
  const IntRange range{1, 16777215};
  EXPECT_EQ(r.integer("small", range), 7);
  EXPECT_EQ(r.integer("absent", range), std::nullopt);
  EXPECT_EQ(r.integer("negative", {-5, 5}), -3);
  EXPECT_EQ(request_error([&] { r.integer("zero", range); }), "zero: 0 is out of range (1..16777215)");
  EXPECT_EQ(request_error([&] { r.integer("negative", range); }), "negative: -3 is out of range (1..16777215)");
  EXPECT_EQ(request_error([&] { r.integer("huge", range); }), "huge: 4294967297 is out of range (1..16777215)");
  EXPECT_EQ(request_error([&] {
              r.integer("top", {INT64_MIN, INT64_MAX});
            }),
            "top: 18446744073709551615 is out of range (-9223372036854775808..9223372036854775807)");
  EXPECT_EQ(request_error([&] { r.integer("float", range); }), "float: expected an integer, got 2.9");
  EXPECT_EQ(request_error([&] { r.integer("whole_float", range); }), "whole_float: expected an integer, got 5.0");
  EXPECT_EQ(request_error([&] { r.integer("bool", range); }), "bool: expected an integer, got true");
  EXPECT_EQ(request_error([&] { r.integer("text", range); }), R"(text: expected an integer, got "7")");
  EXPECT_EQ(request_error([&] { r.integer("null", range); }), "null: expected an integer, got null");
  EXPECT_EQ(request_error([&] { r.integer("list", range); }), "list: expected an integer, got [1]");
  EXPECT_EQ(request_error([&] { r.required_integer("absent", range); }), "missing argument 'absent'");
}

TEST(JsonReader, StringsAndBooleansByType) {
  const json j = json::parse(R"({"name": "blue", "number": 5, "flag": false, "one": 1, "word": "true",
                                 "peers": ["192.0.2.1", "192.0.2.2"], "mixed": ["192.0.2.1", 2], "lone": "x"})");
  const JsonReader r(j, "args");
  EXPECT_EQ(r.string("name"), "blue");
  EXPECT_EQ(r.required_string("name"), "blue");
  EXPECT_EQ(r.string("absent"), std::nullopt);
  EXPECT_EQ(request_error([&] { r.string("number"); }), "number: expected a string, got 5");
  EXPECT_EQ(request_error([&] { r.required_string("flag"); }), "flag: expected a string, got false");
  EXPECT_EQ(request_error([&] { r.required_string("absent"); }), "missing argument 'absent'");
  EXPECT_EQ(r.boolean("flag"), false);
  EXPECT_EQ(r.boolean("absent"), std::nullopt);
  EXPECT_EQ(request_error([&] { r.boolean("one"); }), "one: expected true or false, got 1");
  EXPECT_EQ(request_error([&] { r.boolean("word"); }), R"(word: expected true or false, got "true")");
  EXPECT_EQ(r.strings("peers"), (std::vector<std::string>{"192.0.2.1", "192.0.2.2"}));
  EXPECT_EQ(request_error([&] { r.strings("mixed"); }), R"(mixed: expected an array of strings, got ["192.0.2.1",2])");
  EXPECT_EQ(request_error([&] { r.strings("lone"); }), R"(lone: expected an array of strings, got "x")");
}

TEST(JsonReader, OnlyReadsObjects) {
  EXPECT_EQ(request_error([] { JsonReader(json::array({1, 2}), "args"); }), "args: expected an object, got [1,2]");
  EXPECT_EQ(request_error([] { JsonReader(json(), "args"); }), "args: expected an object, got null");
}

TEST(JsonReader, QuotesALongValueShortAndWhole) {
  const json j = {{"name", std::string(1 << 20, 'a')}};
  const std::string message = request_error([&] { JsonReader(j, "args").integer("name", {1, 2}); });
  EXPECT_EQ(message, "name: expected an integer, got \"" + std::string(60, 'a') + "...");
  // A cut never falls inside a UTF-8 sequence.
  const std::string quoted = quote_value(json(std::string(59, 'a') + "\xc3\xa9\xc3\xa9"));
  EXPECT_EQ(quoted, "\"" + std::string(59, 'a') + "...");
}

TEST(ProtocolFromJson, NetworkIntegersAreReadStrictly) {
  const json base = {{"name", "n1"}, {"vni", 5}};
  EXPECT_EQ(base.get<NetworkConfig>().vni, 5u);
  auto with = [&](const char* key, const json& value) {
    json j = base;
    j[key] = value;
    return j;
  };
  // What nlohmann's get<uint32_t>() turned into 1, 2 and 1.
  EXPECT_EQ(network_error(with("vni", 4294967297u)), "vni: 4294967297 is out of range (1..16777215)");
  EXPECT_EQ(network_error(with("vni", 2.9)), "vni: expected an integer, got 2.9");
  EXPECT_EQ(network_error(with("vni", true)), "vni: expected an integer, got true");
  EXPECT_EQ(network_error(with("vni", "5")), R"(vni: expected an integer, got "5")");
  EXPECT_EQ(network_error(with("vni", 0)), "vni: 0 is out of range (1..16777215)");
  EXPECT_EQ(network_error(with("vni", 16777216)), "vni: 16777216 is out of range (1..16777215)");
  EXPECT_EQ(network_error(with("vni", -1)), "vni: -1 is out of range (1..16777215)");
  EXPECT_EQ(network_error(with("fdb_limit", 16777217)), "fdb_limit: 16777217 is out of range (1..16777216)");
  EXPECT_EQ(network_error(with("fdb_limit", 100.5)), "fdb_limit: expected an integer, got 100.5");
  EXPECT_EQ(network_error(with("hub", 1)), "hub: expected true or false, got 1");
  EXPECT_EQ(network_error(with("name", 7)), "name: expected a string, got 7");
  EXPECT_EQ(network_error(with("peers", json::array({1}))), "peers: expected an array of strings, got [1]");
  EXPECT_EQ(network_error({{"name", "n1"}}), "missing argument 'vni'");
}

TEST(ProtocolFromJson, PortIntegersAndStringsAreReadStrictly) {
  const json base = {{"name", "ivm1"}, {"type", "vhost-user"}, {"network", "n1"}, {"socket", "/run/ivm1.sock"}};
  EXPECT_EQ(base.get<PortConfig>().queues, 4);
  auto with = [&](const char* key, const json& value) {
    json j = base;
    j[key] = value;
    return j;
  };
  EXPECT_EQ(with("queues", 16).get<PortConfig>().queues, 16);
  // 65537 was 1 queue as a uint16_t.
  EXPECT_EQ(port_error(with("queues", 65537)), "queues: 65537 is out of range (1..16)");
  EXPECT_EQ(port_error(with("queues", 17)), "queues: 17 is out of range (1..16)");
  EXPECT_EQ(port_error(with("queues", 1.5)), "queues: expected an integer, got 1.5");
  EXPECT_EQ(port_error(with("queues", false)), "queues: expected an integer, got false");
  EXPECT_EQ(port_error(with("socket", 3)), "socket: expected a string, got 3");
  EXPECT_EQ(port_error(with("type", json::object())), "type: expected a string, got {}");
  EXPECT_EQ(port_error(with("mode", true)), "mode: expected a string, got true");
}

TEST(ProtocolFromJson, RoundTripsWhatTheCliSends) {
  NetworkConfig n;
  n.name = "blue";
  n.vni = kMaxVni;
  n.fdb_limit = kMaxFdbLimit;
  n.hub = true;
  n.peers = {*Ipv4Address::parse("192.0.2.7")};
  const NetworkConfig back = json(n).get<NetworkConfig>();
  EXPECT_EQ(back.name, "blue");
  EXPECT_EQ(back.vni, kMaxVni);
  EXPECT_EQ(back.fdb_limit, kMaxFdbLimit);
  EXPECT_TRUE(back.hub);
  ASSERT_EQ(back.peers.size(), 1u);
  EXPECT_EQ(back.peers[0].to_string(), "192.0.2.7");

  PortConfig p;
  p.name = "ivm1";
  p.network = "blue";
  p.socket = "/run/ivm1.sock";
  p.server = true;
  p.queues = kMaxVhostQueuePairs;
  const PortConfig port = json(p).get<PortConfig>();
  EXPECT_EQ(port.queues, kMaxVhostQueuePairs);
  EXPECT_TRUE(port.server);
  EXPECT_EQ(port.socket, "/run/ivm1.sock");
}

TEST(ProtocolFromJson, UnknownFieldsAndVhostOnlyFieldsOnKernelPortsAreRefused) {
  EXPECT_EQ(network_error({{"name", "blue"}, {"vni", 7}, {"fdb_limt", 10}}), "network blue: unknown field 'fdb_limt'");
  const json kernel = {{"name", "eth1"}, {"type", "kernel"}, {"network", "blue"}};
  EXPECT_EQ(port_error(kernel), "");
  json with_queues = kernel;
  with_queues["queues"] = 2;
  EXPECT_EQ(port_error(with_queues),
            "port eth1: socket, mode, queues, offloads and coalesce apply to vhost-user ports only");
  json misspelt = kernel;
  misspelt["mac"] = "52:54:00:00:00:01";
  EXPECT_EQ(port_error(misspelt), "port eth1: unknown field 'mac'");
}

TEST(ProtocolFromJson, PortSecurityRoundTripsAndKeepsItsDefault) {
  PortConfig p;
  p.name = "ivm1";
  p.network = "blue";
  p.socket = "/run/ivm1.sock";
  p.macs = {*MacAddress::parse("52:54:00:00:00:02")};
  p.ips = {*Ipv4Prefix::parse("192.0.2.0/28")};
  p.mac_limit = 5;
  const PortConfig back = json(p).get<PortConfig>();
  EXPECT_TRUE(back.port_security_enabled());
  EXPECT_FALSE(back.port_security.has_value()) << "the default stays a default";
  ASSERT_EQ(back.ips.size(), 1u);
  EXPECT_EQ(back.ips[0].to_string(), "192.0.2.0/28");
  EXPECT_EQ(back.mac_limit, 5u);
  p.port_security = false;
  EXPECT_EQ(json(p).get<PortConfig>().port_security, std::optional<bool>(false));
  json bad = json(p);
  bad["ips"] = {"192.0.2.300"};
  EXPECT_EQ(port_error(bad), "port ivm1: ips: '192.0.2.300' is not an IPv4 address or ADDRESS/PREFIX");
}

TEST(ToWire, NeverThrowsOnBytesThatAreNotUtf8) {
  // What inceptiond used to answer a request of `{"command": <0xE9>}` with:
  // the parser's message quotes the invalid byte, and dump() threw
  // type_error 316 out of the request handler.
  const json error = make_error("malformed request: last read: '{\"command\": \xe9'");
  EXPECT_THROW(static_cast<void>(error.dump()), json::type_error);
  std::string line;
  ASSERT_NO_THROW(line = to_wire(error));
  EXPECT_EQ(line, "{\"error\":\"malformed request: last read: '{\\\"command\\\": \xef\xbf\xbd'\",\"ok\":false}");
  EXPECT_EQ(json::parse(line)["ok"], false);
  // Truncated and overlong sequences too.
  for (const char* bad : {"\xc3", "\xe2\x82", "\xc0\xaf", "\xff\xfe", "ok \xed\xa0\x80 surrogate"})
    EXPECT_EQ(json::parse(to_wire(make_error(bad)))["ok"], false) << bad;
}

}  // namespace
}  // namespace inception
