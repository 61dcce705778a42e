// The control socket's commands, by feature: each feature adds its
// "feature.verb" handlers to one map from its own folder, and api.cpp
// dispatches requests to them. Arguments are read by type and range with
// JsonReader (control/protocol.h); a handler throws ControlError or
// RequestError for a request it refuses.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>

#include "control/controller.h"

namespace inception {

using Handler = std::function<nlohmann::json(Controller&, const nlohmann::json& args)>;
using HandlerMap = std::map<std::string, Handler>;

// network.*, fdb.* (control/l2/l2_api.cpp)
void add_l2_handlers(HandlerMap& handlers);
// port.* (control/ports/port_api.cpp)
void add_port_handlers(HandlerMap& handlers);
// peer.*, neigh.* (control/vxlan/vxlan_api.cpp)
void add_vxlan_handlers(HandlerMap& handlers);
// router.*, fip.*, gateway.*, nat.* (control/router/router_api.cpp)
void add_router_handlers(HandlerMap& handlers);

// For the handlers of every feature.
std::string arg_string(const nlohmann::json& args, const char* key);  // api.cpp
nlohmann::json totals_json(const PortTotals& totals);                 // api.cpp
nlohmann::json peer_json(const PeerStatus& peer);                     // control/vxlan/vxlan_api.cpp

}  // namespace inception
