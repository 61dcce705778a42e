#include "control/libvirt/plugger.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <set>

#include "control/libvirt/domain.h"
#include "control/wall_clock.h"
#include "inception/log.h"

namespace inception::libvirt {

namespace {

bool same_port(const PortConfig& a, const PortConfig& b) {
  return a.network == b.network && a.socket == b.socket && a.server == b.server && a.queues == b.queues &&
         a.macs == b.macs && a.ips.size() == b.ips.size() &&
         std::equal(a.ips.begin(), a.ips.end(), b.ips.begin(), [](const Ipv4Prefix& x, const Ipv4Prefix& y) {
           return x.address == y.address && x.length == y.length;
         });
}

}  // namespace

GuestPlugger::GuestPlugger(Controller& controller, std::string socket_dir)
    : controller_(controller), socket_dir_(std::move(socket_dir)) {}

void GuestPlugger::domain_running(const RunningDomain& domain) {
  std::lock_guard lock(mutex_);
  DomainPlan plan;
  try {
    plan = plan_domain(parse_domain_xml(domain.xml), socket_dir_);
  } catch (const DomainXmlError& e) {
    if (!domain.guest_running) starting_.insert(domain.uuid);
    // Whatever was plugged from an earlier, readable XML stays: the guest
    // keeps its network while the operator fixes the metadata.
    std::string why = e.what();
    if (const std::string prefix = "domain " + domain.name + ": "; why.starts_with(prefix)) why.erase(0, prefix.size());
    record_refusals(domain, {{"XML", why}});
    return;
  }
  if (domain.guest_running) {
    starting_.erase(domain.uuid);
  } else {
    starting_.insert(domain.uuid);
  }
  const Origin origin{domain.name, domain.uuid};
  std::map<std::string, std::string> reasons;

  std::map<std::string, PortConfig> plugged;
  for (const PortStatus& p : controller_.ports())
    if (p.origin.uuid == domain.uuid) plugged.emplace(p.config.name, p.config);
  std::set<std::string> wanted;
  std::vector<FipConfig> wanted_fips;
  for (const PlannedInterface& i : plan.interfaces) {
    if (!i.port) {
      reasons[i.label] = i.refusal;
      continue;
    }
    const auto it = plugged.find(i.port->name);
    try {
      if (it == plugged.end() || !same_port(it->second, *i.port)) {
        if (it != plugged.end()) controller_.del_port(i.port->name, /*force=*/true);
        controller_.add_port(*i.port, origin, /*bind_macs=*/domain.guest_running);
      } else {
        controller_.bind_port_macs(i.port->name, domain.guest_running);
      }
    } catch (const ControlError& e) {
      reasons[i.label] = e.what();
      continue;
    }
    wanted.insert(i.port->name);
    if (i.fip) wanted_fips.push_back(*i.fip);
  }
  for (const auto& [name, config] : plugged) {
    if (wanted.contains(name)) continue;
    controller_.del_port(name, /*force=*/true);
    log::info("libvirt: domain {}: port {} unplugged (its interface is gone)", domain.name, name);
  }

  for (const FipStatus& f : controller_.nat().fips) {
    if (f.origin.uuid != domain.uuid) continue;
    const bool still = std::any_of(wanted_fips.begin(), wanted_fips.end(), [&](const FipConfig& w) {
      return w.public_ip == f.config.public_ip && w.fixed == f.config.fixed && w.network == f.config.network;
    });
    if (still) {
      std::erase_if(wanted_fips, [&](const FipConfig& w) { return w.public_ip == f.config.public_ip; });
      controller_.activate_fip(f.config.public_ip.to_string(), domain.guest_running);
    } else {
      controller_.del_fip(f.config.public_ip.to_string(), /*force=*/true);
    }
  }
  // The translation is ready from the plug; the public IP is claimed only
  // while the guest runs here (RunningDomain), so that during a live
  // migration exactly one rVM answers for it and the destination takes it
  // over with one gratuitous ARP the moment the guest resumes.
  for (const FipConfig& fip : wanted_fips) {
    try {
      controller_.add_fip(fip.public_ip.to_string(), fip.fixed.to_string(), fip.network, origin,
                          /*active=*/domain.guest_running);
    } catch (const ControlError& e) {
      reasons["floating IP " + fip.public_ip.to_string()] = e.what();
    }
  }
  record_refusals(domain, reasons);
}

void GuestPlugger::unplug(const std::string& uuid) {
  std::vector<std::string> gone;
  std::string name;
  for (const FipStatus& f : controller_.nat().fips) {
    if (f.origin.uuid != uuid) continue;
    controller_.del_fip(f.config.public_ip.to_string(), /*force=*/true);
    gone.push_back("floating IP " + f.config.public_ip.to_string());
    name = f.origin.domain;
  }
  for (const PortStatus& p : controller_.ports()) {
    if (p.origin.uuid != uuid) continue;
    controller_.del_port(p.config.name, /*force=*/true);
    gone.push_back("port " + p.config.name);
    name = p.origin.domain;
  }
  if (!gone.empty()) log::info("libvirt: domain {} is gone: {} unplugged", name, fmt::join(gone, ", "));
  refusals_.erase(uuid);
  starting_.erase(uuid);
}

void GuestPlugger::domain_gone(const std::string& uuid) {
  std::lock_guard lock(mutex_);
  unplug(uuid);
}

void GuestPlugger::resync(const std::vector<RunningDomain>& running) {
  std::set<std::string> alive;
  for (const RunningDomain& d : running) {
    alive.insert(d.uuid);
    domain_running(d);
  }
  std::lock_guard lock(mutex_);
  std::set<std::string> known;
  for (const PortStatus& p : controller_.ports())
    if (p.origin.is_domain()) known.insert(p.origin.uuid);
  for (const FipStatus& f : controller_.nat().fips)
    if (f.origin.is_domain()) known.insert(f.origin.uuid);
  for (const auto& [uuid, r] : refusals_) known.insert(uuid);
  for (const std::string& uuid : known)
    if (!alive.contains(uuid)) unplug(uuid);
}

void GuestPlugger::record_refusals(const RunningDomain& domain, const std::map<std::string, std::string>& reasons) {
  std::map<std::string, Refusal>& now = refusals_[domain.uuid];
  std::map<std::string, Refusal> next;
  for (const auto& [what, why] : reasons) {
    // The controller's messages name the object already.
    const std::string reason = why.starts_with(what + ": ") ? why.substr(what.size() + 2) : why;
    const auto before = now.find(what);
    if (before != now.end() && before->second.reason == reason) {
      next.emplace(what, before->second);
      continue;
    }
    ++refused_total_;
    log::warning("libvirt: domain {}: {} not plugged: {}", domain.name, what, reason);
    next.emplace(what, Refusal{domain.name, domain.uuid, what, reason, unix_ms()});
  }
  if (next.empty()) {
    refusals_.erase(domain.uuid);
  } else {
    now = std::move(next);
  }
}

std::vector<std::string> GuestPlugger::unsettled() const {
  std::lock_guard lock(mutex_);
  std::set<std::string> out = starting_;
  for (const auto& [uuid, r] : refusals_) out.insert(uuid);
  return {out.begin(), out.end()};
}

std::vector<AdoptedDomain> GuestPlugger::adopted() const {
  std::map<std::string, AdoptedDomain> by_uuid;
  auto entry = [&](const Origin& o) -> AdoptedDomain& {
    AdoptedDomain& d = by_uuid[o.uuid];
    d.name = o.domain;
    d.uuid = o.uuid;
    return d;
  };
  for (const PortStatus& p : controller_.ports())
    if (p.origin.is_domain()) entry(p.origin).ports.push_back(p.config.name);
  for (const FipStatus& f : controller_.nat().fips)
    if (f.origin.is_domain()) entry(f.origin).floating_ips.push_back(f.config.public_ip.to_string());
  std::vector<AdoptedDomain> out;
  out.reserve(by_uuid.size());
  for (auto& [uuid, d] : by_uuid) out.push_back(std::move(d));
  return out;
}

std::vector<Refusal> GuestPlugger::refusals() const {
  std::lock_guard lock(mutex_);
  std::vector<Refusal> out;
  for (const auto& [uuid, by_what] : refusals_)
    for (const auto& [what, r] : by_what) out.push_back(r);
  return out;
}

uint64_t GuestPlugger::refused_total() const {
  std::lock_guard lock(mutex_);
  return refused_total_;
}

}  // namespace inception::libvirt
