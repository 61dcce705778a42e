// The ports' control-socket commands: port.*.
#include "control/api_handlers.h"

#include "control/protocol.h"

namespace inception {

using nlohmann::json;

namespace {

json port_json(const PortStatus& s) {
  json j = s.config;
  j["link"] = s.link_up ? "up" : "down";
  j["active_queues"] = s.active_queues;
  if (s.config.type == PortType::kVhostUser) {
    j["guest_mtu"] = s.guest_mtu;
    j["negotiated_offloads"] = s.offloads;
  }
  if (s.origin.is_domain()) j["domain"] = {{"name", s.origin.domain}, {"uuid", s.origin.uuid}};
  if (s.config.port_security_enabled()) j["macs_bound"] = s.macs_bound;
  return j;
}

}  // namespace

void add_port_handlers(HandlerMap& handlers) {
  handlers.insert({
      {"port.add",
       [](Controller& c, const json& a) {
         c.add_port(a.get<PortConfig>());
         return json();
       }},
      {"port.del",
       [](Controller& c, const json& a) {
         c.del_port(arg_string(a, "name"), JsonReader(a, "args").boolean("force").value_or(false));
         return json();
       }},
      {"port.list",
       [](Controller& c, const json&) {
         json out = json::array();
         for (const PortStatus& p : c.ports()) out.push_back(port_json(p));
         return out;
       }},
  });
}

}  // namespace inception
