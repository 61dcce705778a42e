// Dispatch and error handling of the control socket's requests; the
// handlers are each feature's (control/api_handlers.h).
#include "control/api.h"

#include <fmt/format.h>

#include "control/api_handlers.h"
#include "control/protocol.h"

namespace inception {

namespace {

using nlohmann::json;

// Enough of a parser's message for its position and cause.
constexpr size_t kMaxParseErrorText = 200;
constexpr std::string_view kInternalErrorReply = R"({"ok":false,"error":"internal error while handling the request"})";

}  // namespace

json totals_json(const PortTotals& t) {
  json drops = json::object();
  for (size_t r = 0; r < kDropReasonCount; ++r) drops[std::string(kDropReasonNames[r])] = t.drops[r];
  return {{"rx_packets", t.rx_packets}, {"rx_bytes", t.rx_bytes},           {"tx_packets", t.tx_packets},
          {"tx_bytes", t.tx_bytes},     {"flood_packets", t.flood_packets}, {"drops", drops}};
}

std::string arg_string(const json& args, const char* key) {
  return JsonReader(args, "args").required_string(key);
}

namespace {

const HandlerMap& handlers() {
  static const HandlerMap table = [] {
    HandlerMap t = {
        {"stats",
         [](Controller& c, const json&) {
           const Stats s = c.stats();
           json ports = json::array();
           for (const PortStatus& p : s.ports) {
             json j = totals_json(p.totals);
             j["name"] = p.config.name;
             j["network"] = p.config.network;
             j["link"] = p.link_up ? "up" : "down";
             ports.push_back(j);
           }
           json peers = json::array();
           for (const PeerStatus& p : s.peers) {
             json j = totals_json(p.totals);
             j.update(peer_json(p));
             peers.push_back(j);
           }
           json underlay;
           if (s.underlay) {
             underlay = {{"device", s.underlay->device},
                         {"host_interface", s.underlay->host_interface},
                         {"mac", s.underlay->mac.to_string()},
                         {"nic", totals_json(s.underlay->nic)},
                         {"host", totals_json(s.underlay->host)}};
           }
           json workers = json::array();
           for (const WorkerStatus& w : s.workers) {
             workers.push_back(
                 {{"worker", w.index},
                  {"lcore", w.lcore},
                  {"busy_cycles", w.busy_cycles},
                  {"idle_cycles", w.idle_cycles},
                  {"packets", w.busy_packets},
                  {"cycles_per_packet", w.busy_packets ? double(w.busy_cycles) / double(w.busy_packets) : 0.0},
                  {"learn_requests", w.learn_requests},
                  {"learn_ring_full", w.learn_ring_full},
                  {"offload_segmented", w.offload_segmented},
                  {"offload_segments", w.offload_segments},
                  {"offload_checksums", w.offload_checksums},
                  {"offload_coalesced", w.offload_coalesced},
                  {"offload_coalesced_segments", w.offload_coalesced_segments}});
           }
           const json mempool = {{"name", s.mempool.name},
                                 {"size", s.mempool.size},
                                 {"in_use", s.mempool.in_use},
                                 {"available", s.mempool.available}};
           return json{{"tsc_hz", s.tsc_hz},   {"ports", ports},     {"peers", peers},
                       {"underlay", underlay}, {"workers", workers}, {"mempools", json::array({mempool})}};
         }},
        {"config.show",
         [](Controller& c, const json&) {
           return json{{"toml", to_toml(c.running_config())}};
         }},
    };
    add_l2_handlers(t);
    add_port_handlers(t);
    add_vxlan_handlers(t);
    add_router_handlers(t);
    return t;
  }();
  return table;
}

}  // namespace

json handle_request(Controller& controller, const json& request, const ModuleCommands* modules) noexcept {
  std::string command;
  try {
    const JsonReader r(request, "request");
    if (r.integer("version", {INT64_MIN, INT64_MAX}) != kProtocolVersion)
      return make_error(fmt::format("unsupported protocol version (this inceptiond speaks {})", kProtocolVersion));
    command = r.string("command").value_or("");
    const auto core = handlers().find(command);
    const auto module = modules != nullptr ? modules->find(command) : ModuleCommands::const_iterator();
    if (core == handlers().end() && (modules == nullptr || module == modules->end()))
      return make_error(fmt::format("unknown command '{}'", command));
    const json args = request.contains("args") ? request["args"] : json::object();
    static_cast<void>(JsonReader(args, "args"));  // handlers may take their arguments for an object
    return make_ok(core != handlers().end() ? core->second(controller, args) : module->second(args));
  } catch (const ControlError& e) {
    return make_error(e.what());
  } catch (const RequestError& e) {
    return make_error(command.empty() ? e.what() : command + ": " + e.what());
  } catch (const json::exception& e) {
    return make_error(fmt::format("malformed request: {}", e.what()));
  } catch (const std::exception& e) {
    return make_error(e.what());
  } catch (...) {
    return make_error("internal error while handling the request");
  }
}

std::string handle_request_line(Controller& controller, std::string_view line, const ModuleCommands* modules) noexcept {
  try {
    json request;
    try {
      request = json::parse(line);
    } catch (const json::parse_error& e) {
      // The parser quotes what it last read, which may be long: keep the
      // position and the first part of the cause.
      std::string what = e.what();
      if (what.size() > kMaxParseErrorText) what.replace(kMaxParseErrorText, std::string::npos, "...");
      return to_wire(make_error("malformed request: " + what));
    }
    return to_wire(handle_request(controller, request, modules));
  } catch (...) {
    // Out of memory, most likely; the control server answers for us.
    return std::string(kInternalErrorReply);
  }
}

}  // namespace inception
