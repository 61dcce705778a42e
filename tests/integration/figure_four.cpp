#include "figure_four.h"

#include <filesystem>
#include <fstream>

namespace inception::test {

namespace {

// "" if `r` exited 0, else what failed and what it said.
std::string failed(const std::string& what, const CommandResult& r) {
  if (r.exit_code == 0) return "";
  return what + ": exit " + std::to_string(r.exit_code) + "\n" + r.out + r.err;
}

}  // namespace

std::string FigureFour::bring_up_reality(const std::string& tag, const std::vector<std::string>& settings) {
  if (!dir) dir = std::make_unique<TempDir>(tag);
  topo = std::make_unique<Topology>(*dir, 3, "mesh", true, true, settings);
  if (!topo->up()) return "topology.sh up failed:\n" + topo->output();
  std::string error = failed("topology.sh map 203.0.113.10 10.0.0.101",
                             run({binary("TOPOLOGY"), "map", dir->file("topology"), "203.0.113.10", "10.0.0.101"}));
  if (error.empty())
    error = failed("gateway add 10.0.0.101 --public 203.0.113.10",
                   topo->ctl(1, {"gateway", "add", "10.0.0.101", "--public", "203.0.113.10"}));
  return error;
}

std::string FigureFour::bring_up(const std::string& tag, const std::vector<std::string>& settings) {
  if (std::string error = bring_up_reality(tag, settings); !error.empty()) return error;
  const CommandResult fip =
      topo->ctl(2, {"fip", "add", "203.0.113.10", "--fixed", "192.0.2.2", "--network", "private"});
  if (fip.exit_code != 0) return "fip add 203.0.113.10: " + fip.err;
  for (int i : {2, 3})
    if (std::string error = serve_http(topo->ivm_ns(i, "private"), "hello from ivm" + std::to_string(i));
        !error.empty())
      return error;
  // The clients half-close at once (stdin is /dev/null): -t10 keeps the
  // server's socat waiting for peer.sh's answer, which a loaded machine may
  // take longer than socat's default 0.5 s to fork and run.
  std::ofstream(dir->file("peer.sh")) << "#!/bin/sh\necho \"$SOCAT_PEERADDR\"\n";
  std::filesystem::permissions(dir->file("peer.sh"), std::filesystem::perms::owner_all);
  const std::string answer = " EXEC:" + dir->file("peer.sh") + " </dev/null >/dev/null 2>&1 &";
  if (std::string error =
          failed("internet server",
                 topo->in(topo->ns("server"), "setsid socat -t10 TCP-LISTEN:8080,reuseaddr,fork,backlog=256" + answer +
                                                  " setsid socat UDP-RECVFROM:5353,fork" + answer));
      !error.empty())
    return error;
  topo->in(topo->ns("server"), wait_for_listener("tcp", 8080) + "; " + wait_for_listener("udp", 5353));
  // Neighbors resolve on first use: warm the paths.
  topo->in(topo->ns("client"), "ping -c 2 -W 1 203.0.113.10");
  return "";
}

std::string FigureFour::serve_http(const std::string& ns, const std::string& text, const std::string& listen) {
  const std::string www = dir->file("www-" + ns + "-" + listen);
  std::filesystem::create_directories(www);
  std::ofstream(www + "/index.html") << text << "\n";
  return failed("busybox httpd -p " + listen + " in " + ns, topo->in(ns, "busybox httpd -p " + listen + " -h " + www));
}

std::string FigureFour::seen_by_server(const std::string& ns) const {
  return topo->in(ns, "timeout 10 socat -t5 -T5 - TCP:203.0.113.200:8080 </dev/null").out;
}

std::string FigureFour::udp_seen_by_server(const std::string& ns, int source_port) const {
  return topo->in(ns, udp_exchange("203.0.113.200", 5353, "q", source_port, 2)).out;
}

}  // namespace inception::test
