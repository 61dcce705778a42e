// Domain XML as libvirt hands it over (its metadata written by a tenant's
// tooling) through the parser and the planner: never a crash, a leak or a
// hang; a plan either refuses an interface with a reason or yields a port
// that the switch's own rules accept.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "control/libvirt/domain.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace inception;
  const std::string_view xml(reinterpret_cast<const char*>(data), size);
  try {
    const libvirt::DomainPlan plan = libvirt::plan_domain(libvirt::parse_domain_xml(xml), "/run/inception/vhost-user");
    for (const libvirt::PlannedInterface& i : plan.interfaces) {
      if (!i.port) {
        if (i.refusal.empty()) __builtin_trap();  // a refusal always says why
        continue;
      }
      validate_port(*i.port);  // throws (and so crashes the run) if the planner let a bad port through
      if (i.port->socket.rfind("/run/inception/vhost-user/", 0) != 0) __builtin_trap();
    }
  } catch (const libvirt::DomainXmlError&) {
  }
  return 0;
}
