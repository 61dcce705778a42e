// The ports' control-socket commands: port.*, and worker.list (which worker
// serves which port queue).
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
      {"worker.list",
       [](Controller& c, const json&) {
         json out = json::array();
         for (const WorkerQueues& w : c.worker_queues()) {
           json rx = json::array(), tx = json::array();
           for (const WorkerQueues::Rx& q : w.rx)
             rx.push_back({{"port", q.port}, {"queue", q.queue}, {"enabled", q.enabled}});
           for (const WorkerQueues::Tx& q : w.tx)
             tx.push_back({{"port", q.port}, {"queue", q.queue ? json(*q.queue) : json()}});
           out.push_back({{"worker", w.index}, {"lcore", w.lcore}, {"rx", rx}, {"tx", tx}});
         }
         return out;
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
