// plan_reload (control/config_reload.h): the steps from a running
// configuration to a file, their order and their words, and what refuses a
// reload. The daemon suite's ConfigReload.* drives the same through
// inceptionctl on a running switch.
#include "control/config_reload.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace inception {
namespace {

Ipv4Address ip(const char* text) {
  return *Ipv4Address::parse(text);
}

Config running_switch() {
  Config c;
  c.underlay.enabled = true;
  c.underlay.device = "net_af_packet0,iface=u0";
  c.underlay.address = *Ipv4Prefix::parse("10.0.0.11/24");
  c.underlay.gateway = ip("10.0.0.1");
  c.networks = {{.name = "private", .vni = 1001, .peers = {ip("10.0.0.12")}},
                {.name = "lab", .vni = 77},
                {.name = "public", .vni = 1002}};
  c.ports = {{.name = "v1", .network = "lab", .socket = "/run/inception/v1.sock", .server = true}};
  c.static_macs = {{"lab", *MacAddress::parse("02:00:00:00:77:01"), "v1"}};
  c.routers = {{"lab", *Ipv4Prefix::parse("192.0.2.254/24")}};
  c.fips = {{ip("203.0.113.10"), ip("192.0.2.10"), "lab"}};
  c.nat.gateway = ip("198.51.100.201");
  c.nat.snat_address = ip("10.0.0.100");
  return c;
}

std::vector<std::string> commands(const ReloadPlan& plan) {
  std::vector<std::string> out;
  for (const ReloadStep& s : plan.steps) out.push_back(s.command);
  return out;
}

TEST(ConfigReload, NothingToDoWhenTheFileIsWhatRuns) {
  const ReloadPlan plan = plan_reload(running_switch(), running_switch());
  EXPECT_TRUE(plan.needs_restart.empty());
  EXPECT_TRUE(plan.steps.empty());
}

TEST(ConfigReload, DeletesComeFirstThenAddsAndANetworkTakesWhatLivesOnIt) {
  Config file = running_switch();
  file.networks[0].peers = {ip("10.0.0.13")};  // peer by peer
  file.networks[1].vni = 78;                   // lab again, with its port, MAC, router and floating IP
  file.nat.gateway = ip("198.51.100.202");
  file.nat.snat_port_min = 40000;
  file.nat.snat_port_max = 40999;
  const ReloadPlan plan = plan_reload(running_switch(), file);
  EXPECT_TRUE(plan.needs_restart.empty());
  EXPECT_EQ(commands(plan), (std::vector<std::string>{
                                "fip del 203.0.113.10",
                                "router del lab",
                                "fdb del lab 02:00:00:00:77:01",
                                "port del v1",
                                "peer del private 10.0.0.12",
                                "network del lab",
                                "network add lab --vni 78 --fdb-limit 8192 --neighbor-limit 1024",
                                "peer add private 10.0.0.13",
                                "port add v1 --type vhost-user --network lab --socket /run/inception/v1.sock --server "
                                "--queues 4",
                                "fdb add lab 02:00:00:00:77:01 v1",
                                "router add lab 192.0.2.254/24",
                                "nat gateway 198.51.100.202",
                                "nat snat set 10.0.0.100 --ports 40000-40999 --max-sessions 262144",
                                "fip add 203.0.113.10 --fixed 192.0.2.10 --network lab",
                            }));
}

TEST(ConfigReload, SnatRemovedFromTheFileIsTurnedOffFirst) {
  Config file = running_switch();
  file.nat.snat_address.reset();
  EXPECT_EQ(commands(plan_reload(running_switch(), file)), std::vector<std::string>{"nat snat off"});
}

TEST(ConfigReload, WhatOnlyARestartChangesRefusesEverythingAndNamesEachKey) {
  Config file = running_switch();
  file.underlay.address = *Ipv4Prefix::parse("10.0.0.12/24");
  file.nat.public_network = "internet";
  file.networks.push_back({.name = "extra", .vni = 90});
  const ReloadPlan plan = plan_reload(running_switch(), file);
  EXPECT_EQ(plan.needs_restart, (std::vector<std::string>{
                                    "[underlay] address: '10.0.0.11/24' running, '10.0.0.12/24' in the file",
                                    "[nat] public_network: 'public' running, 'internet' in the file",
                                }));
  EXPECT_TRUE(plan.steps.empty());
}

TEST(ConfigReload, InClusterModeTheGatewayFollowsTheLeaderAndIsNotTheFiles) {
  Config running = running_switch();
  running.cluster.enabled = true;
  running.cluster.endpoints = {"http://10.0.0.2:2379"};
  running.cluster.name = "rvm1";
  Config file = running;
  running.nat.gateway = ip("198.51.100.202");  // the data center's active gateway now
  EXPECT_TRUE(plan_reload(running, file).steps.empty());
  EXPECT_TRUE(plan_reload(running, file).needs_restart.empty());
}

}  // namespace
}  // namespace inception
