#include "libvirt_host.h"

#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace inception::test {

namespace fs = std::filesystem;

namespace {

// The directories libvirtd gets its own copy of: where it is mounted inside,
// and its name under the host's root.
struct BoundDir {
  const char* inside;
  const char* under_root;
};
constexpr BoundDir kBoundDirs[] = {
    {"/etc/libvirt", "etc"},     {"/run/libvirt", "run"},         {"/var/lib/libvirt", "lib"},
    {"/var/log/libvirt", "log"}, {"/var/cache/libvirt", "cache"},
};

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Sets `key` in a libvirt .conf file: earlier settings of it are dropped, so
// whatever the distribution's file says, this value holds.
void set_conf(const std::string& path, const std::string& key, const std::string& value) {
  std::istringstream in(slurp(path));
  std::string out;
  const std::regex setting("^\\s*" + key + "\\s*=");
  for (std::string line; std::getline(in, line);)
    if (!std::regex_search(line, setting)) out += line + "\n";
  out += key + " = " + value + "\n";
  std::ofstream(path) << out;
}

// QEMU runs as libvirt-qemu (Debian's qemu.conf default): it must reach the
// images and create sockets.
void give_to_qemu(const std::string& path) {
  chmod(path.c_str(), 0755);
  if (const passwd* user = getpwnam("libvirt-qemu")) {
    if (chown(path.c_str(), user->pw_uid, user->pw_gid) != 0) chmod(path.c_str(), 0777);
  } else {
    chmod(path.c_str(), 0777);
  }
}

// A QEMU process by PID (the PID may have been reused since).
bool is_qemu(pid_t pid) {
  const std::string comm = slurp("/proc/" + std::to_string(pid) + "/comm");
  if (comm.rfind("qemu", 0) != 0) return false;
  // A zombie waits for init, and is as good as gone.
  const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'Z';
}

}  // namespace

LibvirtHost::LibvirtHost(const TempDir& dir, const std::string& name, const std::string& netns, bool start_now)
    : root_(dir.file(name)), netns_(netns), log_path_(dir.file(name) + "/libvirtd.log") {
  if (!fs::is_directory("/etc/libvirt"))
    throw std::runtime_error("no /etc/libvirt: is libvirt-daemon-system installed?");
  fs::create_directories(root_);
  chmod(root_.c_str(), 0755);
  // The distribution's configuration, to edit freely.
  const CommandResult copied = run({"cp", "-a", "/etc/libvirt", root_ + "/etc"});
  if (copied.exit_code != 0) throw std::runtime_error("cp -a /etc/libvirt: " + copied.err);
  for (const BoundDir& d : kBoundDirs) fs::create_directories(root_ + "/" + d.under_root);
  fs::create_directories(hooks_dir());
  // The system's domains, networks and pools are not this host's: nothing
  // may autostart (the default network would make a bridge and a dnsmasq).
  std::error_code ec;
  for (const char* autostart : {"/etc/qemu/autostart", "/etc/qemu/networks/autostart", "/etc/storage/autostart"})
    fs::remove_all(root_ + autostart, ec);
  for (fs::directory_iterator it(root_ + "/etc/qemu", ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".xml") fs::remove(it->path(), ec);
  // Without systemd there is no virtlogd: QEMU's stdio goes to a plain file.
  set_conf(root_ + "/etc/qemu.conf", "stdio_handler", "\"file\"");
  // Root clients, no polkit (there is no system D-Bus); log to stderr, which
  // the harness keeps in log().
  set_conf(root_ + "/etc/libvirtd.conf", "auth_unix_rw", "\"none\"");
  set_conf(root_ + "/etc/libvirtd.conf", "auth_unix_ro", "\"none\"");
  set_conf(root_ + "/etc/libvirtd.conf", "log_outputs", "\"3:stderr\"");
  // The first start probes QEMU's capabilities (seconds under TCG); the
  // system's cache, when there is one, is still valid for the same QEMU
  // (libvirtd checks, and probes again if not).
  if (fs::is_directory("/var/cache/libvirt/qemu")) run({"cp", "-a", "/var/cache/libvirt/qemu", root_ + "/cache/"});
  fs::create_directories(image_dir());
  give_to_qemu(image_dir());
  fs::create_directories(socket_dir());
  give_to_qemu(socket_dir());
  if (start_now) start();
}

LibvirtHost::~LibvirtHost() {
  if (running())
    for (const std::string& domain : running_domains()) virsh({"destroy", domain}, 60s);
  stop();
  // QEMU is libvirtd's daemonized grandchild: what is still up (libvirtd was
  // stopped, or could not destroy it) goes by the PID libvirt recorded.
  std::vector<pid_t> left;
  std::error_code ec;
  for (fs::directory_iterator it(root_ + "/run/qemu", ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".pid") continue;
    try {
      const pid_t pid = static_cast<pid_t>(std::stol(slurp(it->path())));
      if (pid > 1 && is_qemu(pid) && kill(pid, SIGTERM) == 0) left.push_back(pid);
    } catch (const std::exception&) {
    }
  }
  const bool gone = eventually(
      [&] {
        for (pid_t pid : left)
          if (is_qemu(pid)) return false;
        return true;
      },
      10s, 50ms);
  if (!gone)
    for (pid_t pid : left)
      if (is_qemu(pid)) kill(pid, SIGKILL);
}

void LibvirtHost::start() {
  if (running()) return;
  // Inside a mount namespace of its own (private: nothing propagates back),
  // libvirtd sees its directories in the places it was built to use.
  std::string script = "set -e; ";
  for (const BoundDir& d : kBoundDirs)
    script += "mkdir -p " + std::string(d.inside) + "; mount --bind " + quoted(root_ + "/" + d.under_root) + " " +
              d.inside + "; ";
  // Foreground (no -d): the harness's child is libvirtd itself (unshare, sh
  // and ip netns exec all exec), so stop() signals the daemon. Its PID file
  // would otherwise be the system's /run/libvirtd.pid.
  script += "exec libvirtd --pid-file /run/libvirt/libvirtd.pid";
  std::vector<std::string> argv;
  if (!netns_.empty()) argv = {"ip", "netns", "exec", netns_};
  for (const char* word : {"unshare", "--mount", "--propagation", "private", "sh", "-c"}) argv.push_back(word);
  argv.push_back(script);
  process_ = std::make_unique<Process>(argv, log_path_, /*capture_stdout=*/false);
}

int LibvirtHost::stop() {
  return process_ ? process_->stop(SIGTERM, 30s) : 0;
}

bool LibvirtHost::running() {
  return process_ && process_->running();
}

bool LibvirtHost::wait_ready(std::chrono::milliseconds timeout) {
  return eventually([&] { return !running() || virsh({"version"}, 10s).exit_code == 0; }, timeout, 200ms) && running();
}

std::string LibvirtHost::uri() const {
  return "qemu+unix:///system?socket=" + root_ + "/run/libvirt-sock";
}

CommandResult LibvirtHost::virsh(const std::vector<std::string>& args, std::chrono::milliseconds timeout) const {
  std::vector<std::string> argv{"virsh", "-c", uri()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, timeout);
}

std::vector<std::string> LibvirtHost::running_domains() const {
  std::vector<std::string> out;
  std::istringstream in(virsh({"list", "--name"}, 30s).out);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

std::string LibvirtHost::log() const {
  return slurp(log_path_);
}

std::string console_socket(const LibvirtHost& host, const std::string& name) {
  return host.socket_dir() + "/" + name + ".console";
}

std::string libvirt_guest_xml(const LibvirtHost& host, const LibvirtGuestSpec& spec) {
  // Copies of the image per domain: libvirt chowns what a domain boots while
  // it runs (dynamic_ownership), and the originals are the build tree's.
  const std::string kernel = host.image_dir() + "/" + spec.name + "-vmlinuz";
  const std::string initrd = host.image_dir() + "/" + spec.name + "-initrd.gz";
  for (const auto& [from, to] :
       {std::pair{guest_image_dir() + "/vmlinuz", kernel}, std::pair{guest_image_dir() + "/initrd.gz", initrd}}) {
    std::error_code ec;
    fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
    if (ec) throw std::runtime_error("guest image " + from + ": " + ec.message() + " (run scripts/build-guest.sh)");
    chmod(to.c_str(), 0644);
  }
  std::ostringstream xml;
  xml << "<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
      << "  <name>" << spec.name << "</name>\n";
  if (!spec.metadata.empty()) xml << "  <metadata>" << spec.metadata << "</metadata>\n";
  xml << "  <memory unit='MiB'>" << spec.memory_mib << "</memory>\n"
      << "  <vcpu>1</vcpu>\n"
      // vhost-user needs guest memory the switch can map: a shared memfd.
      << "  <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>\n"
      << "  <os>\n"
      << "    <type arch='x86_64' machine='q35'>hvm</type>\n"
      << "    <kernel>" << kernel << "</kernel>\n"
      << "    <initrd>" << initrd
      << "</initrd>\n"
      // clocksource=hpet: under TCG the TSC the guest would pick does not
      // survive a live migration well (guests hung with soft lockups after
      // a move); the HPET is a device whose state QEMU migrates.
      << "    <cmdline>console=ttyS0 panic=-1 quiet loglevel=3 clocksource=hpet inc_ip=" << spec.ip_cidr
      << " inc_name=" << spec.name << "</cmdline>\n"
      << "  </os>\n"
      << "  <cpu mode='custom' match='exact'><model>qemu64</model></cpu>\n"
      // A guest that panics or reboots is gone, as Guest's -no-reboot.
      << "  <on_poweroff>destroy</on_poweroff>\n"
      << "  <on_reboot>destroy</on_reboot>\n"
      << "  <on_crash>destroy</on_crash>\n"
      << "  <devices>\n"
      << "    <interface type='vhostuser'>\n"
      << "      <mac address='" << spec.mac << "'/>\n"
      << "      <source type='unix' path='" << spec.socket << "' mode='server'/>\n"
      << "      <model type='virtio'/>\n"
      << "      <rom enabled='no'/>\n"
      << "    </interface>\n"
      << "    <serial type='unix'>\n"
      << "      <source mode='bind' path='" << console_socket(host, spec.name)
      << "'/>\n"
      // Everything the guest printed, also while no test was connected (a
      // panic after a migration): for failure messages.
      << "      <log file='" << console_socket(host, spec.name) << ".log' append='on'/>\n"
      << "      <target port='0'/>\n"
      << "    </serial>\n"
      << "  </devices>\n"
      // vectors=0: QEMU 7.2 under TCG crashes starting a vhost-user NIC with
      // MSI-X. libvirt has no attribute for it; net0 is the NIC's alias.
      << "  <qemu:override>\n"
      << "    <qemu:device alias='net0'>\n"
      << "      <qemu:frontend><qemu:property name='vectors' type='unsigned' value='0'/></qemu:frontend>\n"
      << "    </qemu:device>\n"
      << "  </qemu:override>\n"
      << "</domain>\n";
  return xml.str();
}

}  // namespace inception::test
