// Fuzz target: the control protocol as inceptiond serves it. Each line of
// the input is one request line, handed to handle_request_line (the
// daemon's control-socket handler: JSON parse, then handle_request) on a
// real Controller over a Dataplane whose workers are not started.
//
// Excluded: "port.add". Both port types make operating-system objects a
// fuzzer must not: a kernel port is a TAP interface in the host's network
// namespace, a vhost-user port a unix socket at whatever path the request
// names (or a connection attempt to it) and rte_vhost's per-process
// threads. For port.add the harness runs what the daemon runs on the
// request before it creates anything: the JSON parse, PortConfig's
// from_json and the port's validation rules.
// Without an [underlay] (its NIC and host interface are OS objects too),
// peers, neighbors and gateway mappings are refused by their validation,
// which is what the fuzzer then exercises.
//
// Bounds: every input starts from an empty switch and ends with it emptied
// through the same API (networks and floating IPs deleted, the frames the
// controller queued for workers freed), so nothing accumulates across
// inputs; DPDK memory is capped by the EAL's -m, so a request for a huge
// FDB fails there, as it would in the daemon.
//
// Oracle: handle_request_line returns, one line, a JSON object with a
// boolean "ok" and either a "result" or an "error" string.
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "control/api.h"
#include "control/config.h"
#include "control/controller.h"
#include "control/protocol.h"
#include "dataplane/dataplane.h"
#include "dataplane/worker/punt.h"
#include "inception/log.h"
#include "packet_harness.h"

using namespace inception;
using namespace inception::fuzz;

namespace {

constexpr const char* kName = "control";
constexpr size_t kMaxLines = 64;

struct Daemon {
  Config config;
  std::unique_ptr<Dataplane> dataplane;
  std::unique_ptr<Controller> controller;
  rte_ring* inject = nullptr;

  Daemon() {
    config.metrics.enabled = false;
    DataplaneOptions options;
    options.worker_lcores = {1};  // never started
    options.mbufs = 2048;
    dataplane = std::make_unique<Dataplane>(options);
    controller = std::make_unique<Controller>(config, *dataplane);
    controller->apply(config);
    inject = rte_ring_lookup("inception_inject");
    if (inject == nullptr) fail("%s: no inject ring", kName);
  }

  // Back to the empty switch every input starts from.
  void reset() {
    for (const FipStatus& fip : controller->nat().fips) controller->del_fip(fip.config.public_ip.to_string());
    for (const NetworkStatus& network : controller->networks()) controller->del_network(network.config.name);
    if (!controller->networks().empty() || !controller->nat().fips.empty())
      fail("%s: the switch could not be emptied through its own API", kName);
    InjectedFrame frame{};
    while (rte_ring_sc_dequeue_elem(inject, &frame, sizeof(frame)) == 0) rte_pktmbuf_free(frame.m);
  }
};

Daemon& daemon() {
  static Daemon d;
  return d;
}

// What add_port checks before it creates the port (see the file comment).
void port_add_without_port(const nlohmann::json& request) {
  try {
    const nlohmann::json args = request.contains("args") ? request["args"] : nlohmann::json::object();
    const PortConfig port = args.get<PortConfig>();
    validate_port(port);
    validate_port_socket(port, {}, daemon().config.control.socket);
  } catch (const std::exception&) {
    // handle_request answers these with an error, as any other request's.
  }
}

// A request handle_request would pass to add_port: diverted. The checks
// are handle_request's own (an integer version 1, a command that is the
// string "port.add"), so nothing it would hand on slips through.
bool is_port_add(const std::string& line) {
  const nlohmann::json request = nlohmann::json::parse(line, nullptr, false);
  if (request.is_discarded() || !request.is_object()) return false;
  const auto version = request.find("version");
  const auto command = request.find("command");
  if (version == request.end() || !version->is_number_integer() || *version != kProtocolVersion ||
      command == request.end() || !command->is_string() || *command != "port.add")
    return false;
  port_add_without_port(request);
  return true;
}

void check_response(const std::string& response) {
  if (response.find('\n') != std::string::npos) fail("%s: a response spans lines", kName);
  const nlohmann::json r = nlohmann::json::parse(response, nullptr, false);
  if (r.is_discarded() || !r.is_object()) fail("%s: the response is not a JSON object: %s", kName, response.c_str());
  if (!r.contains("ok") || !r["ok"].is_boolean()) fail("%s: the response has no boolean 'ok'", kName);
  if (r["ok"] ? !r.contains("result") : !(r.contains("error") && r["error"].is_string()))
    fail("%s: the response has neither a result nor an error message: %s", kName, response.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  log::set_level(log::Level::kError);
  init_eal();
  daemon();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Daemon& d = daemon();
  const std::string input(reinterpret_cast<const char*>(data), size);
  size_t start = 0;
  for (size_t lines = 0; lines < kMaxLines && start <= input.size(); ++lines) {
    const size_t end = std::min(input.find('\n', start), input.size());
    const std::string line = input.substr(start, end - start);
    start = end + 1;
    if (is_port_add(line)) continue;
    check_response(handle_request_line(*d.controller, line));
    if (!d.controller->ports().empty()) {
      d.controller->remove_all_ports();
      fail("%s: a port was created; the harness must not let port.add through", kName);
    }
  }
  d.reset();
  return 0;
}
