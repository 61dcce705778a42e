#!/usr/bin/python3
"""inceptiond against OVS-DPDK and the testpmd ceiling, on the same ports.

Every scenario runs the same generator (build/perf/inception-gen, one
virtio-user process that sends on one socket and counts what arrives on the
other) against three switches in turn, in interleaved rounds:

  inceptiond  the project's switch, configured for the scenario
  ovs         Open vSwitch 3.1 with DPDK (userspace datapath, one PMD core)
  testpmd     DPDK testpmd io-forward between the same two sockets: the
              ceiling of a vhost-user switch on this machine

The switch's forwarding core is CPU 1; the generator and every other thread
run on CPU 0. The host is shared and noisy (docs/performance.md): each
figure is the median of --rounds rounds, ratios are taken within a round,
and every round records the CPU time that processes other than the
benchmark took from the machine.

TCP scenarios (tcp-PATH-STREAMS) measure goodput instead: one or 8 TCP
streams from a guest that sends 64 KB TSO frames where the switch offers
TSO on its port, else MSS-sized segments, and the TCP payload delivered
intact per second (inception-gen --tcp checks every frame). They compare
inceptiond with its ports' offloads on (the default), inceptiond with
`offloads = false`, and OVS with other_config:userspace-tso-enable=true
(on vhost-user client ports: OVS 3.1 offers TSO on no others). OVS 3.1
drops TSO frames into a VXLAN tunnel, so the guest sends it MSS-sized
segments there; on tcp-fip-in the sender is the internet, wire-sized
segments for everyone. Any corrupt frame fails the run (exit status 3).

  perf/bench.py                       # the README's set of scenarios
  perf/bench.py --scenarios l2-64,vxlan-encap --rounds 5 --duration 10
  perf/bench.py --scenarios tcp-l2-1,tcp-l2-8,tcp-encap-1,tcp-fip-out-1 --rounds 5
  perf/bench.py --scenarios tcp-fip-in-1 --switches inceptiond,inceptiond-nogro   # what GRO costs and gives
  perf/bench.py --list
  perf/bench.py --baseline /tmp/old/build-release   # before/after: another build in the same rounds

Writes OUT/results.json, OUT/results.csv and OUT/results.png (default
OUT=perf/results) and prints the tables (--markdown: as in the README).
"""
import argparse
import csv
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETNS = "inc-bench"  # switches run here: nothing they create meets the real NIC
OVS_VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
TESTPMD = "/usr/bin/dpdk-testpmd"

GEN_MAC = "02:00:00:00:00:01"  # the generator's (sender's) MAC
SINK_MAC = "02:00:00:00:00:02"  # the sink's MAC: an iVM, or the remote VTEP
OVS_PHY_MAC = "02:00:00:00:aa:01"  # br-phy's MAC: OVS's VTEP
LOCAL_VTEP, REMOTE_VTEP, UNDERLAY_GW = "10.0.0.1", "10.0.0.2", "10.0.0.254"
VNI = 1001


def scenario(name, kind, size="64", flows=1, macs=1, what=""):
    return {"name": name, "kind": kind, "size": size, "flows": flows, "macs": macs, "what": what}


def tcp_scenario(path, kind, streams, what):
    """TCP goodput (inception-gen --tcp): `streams` one-way TCP streams from
    a guest that sends 64 KB TSO frames where the switch offers TSO, else
    MSS-sized segments; the figure is TCP payload delivered intact."""
    sc = scenario(f"tcp-{path}-{streams}", kind, size="tcp", flows=streams,
                  what=f"{what}, {streams} TCP stream{'s' if streams > 1 else ''}")
    sc["tcp"] = streams
    return sc


SCENARIOS = [
    scenario("l2-64", "l2", what="iVM to iVM on one rVM, one flow"),
    scenario("l2-1518", "l2", size="1518", what="iVM to iVM, 1518 B"),
    scenario("l2-imix", "l2", size="imix", what="iVM to iVM, IMIX"),
    scenario("l2-10k-flows", "l2", flows=10000, what="10,000 UDP flows"),
    scenario("fdb-10", "l2", macs=10, what="10 source MACs learned"),
    scenario("fdb-10k", "l2", macs=10000, what="10,000 source MACs learned"),
    scenario("fdb-1m", "l2", macs=1000000, what="1,000,000 source MACs learned"),
    scenario("vxlan-encap", "encap", what="iVM to a remote rVM: VXLAN encap to the underlay"),
    scenario("vxlan-encap-1518", "encap", size="1518", what="VXLAN encap, 1518 B"),
    scenario("vxlan-decap", "decap", what="remote rVM to an iVM: VXLAN decap"),
    scenario("vxlan-encap-10k", "encap", flows=10000, what="VXLAN encap, 10,000 flows"),
    scenario("fip-in", "fip-in", what="internet to a floating IP: gateway + floating-IP DNAT"),
    scenario("fip-in-10k", "fip-in", flows=10000, what="floating-IP DNAT, 10,000 flows"),
    scenario("snat-1k", "snat", flows=1000, what="SNAT, 1,000 sessions"),
    scenario("snat-100k", "snat", flows=100000, what="SNAT, 100,000 sessions"),
    scenario("snat-1m", "snat", flows=1000000, what="SNAT, 1,000,000 sessions"),
    tcp_scenario("l2", "l2", 1, "iVM to iVM on one rVM"),
    tcp_scenario("l2", "l2", 8, "iVM to iVM on one rVM"),
    tcp_scenario("encap", "encap", 1, "iVM to a remote iVM: VXLAN encap"),
    tcp_scenario("encap", "encap", 8, "iVM to a remote iVM: VXLAN encap"),
    tcp_scenario("fip-out", "fip-out", 1, "iVM to the internet from its floating IP"),
    tcp_scenario("fip-out", "fip-out", 8, "iVM to the internet from its floating IP"),
    tcp_scenario("fip-in", "fip-in", 1, "internet to an iVM's floating IP (wire-sized segments)"),
    tcp_scenario("fip-in", "fip-in", 8, "internet to an iVM's floating IP (wire-sized segments)"),
]
DEFAULT = ("l2-64,l2-1518,l2-10k-flows,fdb-10,fdb-1m,vxlan-encap,vxlan-encap-10k,vxlan-decap,fip-in,fip-in-10k,"
           "snat-1k,snat-1m")
SWITCHES = ["inceptiond", "ovs", "testpmd"]
# TCP goodput: inceptiond with its ports' offloads on (the default) and off,
# and OVS with userspace TSO; testpmd io-forward is no ceiling for TSO.
TCP_SWITCHES = ["inceptiond", "inceptiond-nooff", "ovs"]
# Asked for by name only (--switches ...,inceptiond-nogro): inceptiond with
# `coalesce = false`, to see what joining segments for the guest (GRO) costs
# and gives on the paths toward a guest (tcp-fip-in).
TCP_EXTRA_SWITCHES = ["inceptiond-nogro"]
# Paths where OVS 3.1 offers TSO to the guest but drops TSO frames (it can
# not segment into a VXLAN tunnel): there the guest sends MSS-sized segments.
OVS_NO_TSO = {"encap"}

# Which sockets a scenario sends on and receives from (generator side).
ENDPOINTS = {"l2": ("p0", "p1"), "encap": ("p0", "up"), "decap": ("up", "p0"), "fip-in": ("up", "p0"),
             "snat": ("p0", "up"), "fip-out": ("p0", "up")}


def log(*args):
    print(*args, file=sys.stderr, flush=True)


def sh(cmd, check=True, **kw):
    r = subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError(f"{cmd}: exit {r.returncode}: {r.stderr.strip() or r.stdout.strip()}")
    return r.stdout


def in_netns(argv):
    return ["ip", "netns", "exec", NETNS] + argv


def stop(proc, timeout=10):
    """Stops a process we started, by its PID."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def cpu_jiffies(pids):
    """(busy jiffies of the whole machine, jiffies of `pids` and their
    threads, jiffies the hypervisor stole from this VM)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    steal = fields[7]
    busy = sum(fields[:7]) - fields[3] - fields[4]  # user..softirq, minus idle and iowait
    ours = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read().rsplit(")", 1)[1].split()
            ours += int(stat[11]) + int(stat[12])  # utime + stime
        except (OSError, IndexError):
            pass
    return busy, ours, steal


# ---------------------------------------------------------------- switches

class Inceptiond:
    name = "inceptiond"

    def __init__(self, build, run_dir, name="inceptiond", offloads=True, coalesce=True):
        self.name = name  # "baseline": another build of inceptiond, for before/after in one run
        self.offloads = offloads  # False: every vhost-user port with `offloads = false`
        self.coalesce = coalesce  # False: every vhost-user port with `coalesce = false` (no GRO)
        self.daemon = os.path.join(build, "control", "inceptiond")
        self.ctl = os.path.join(build, "control", "inceptionctl")
        self.dir = os.path.join(run_dir, name)
        self.proc = None

    def sockets(self):
        return {p: os.path.join(self.dir, p + ".sock") for p in ("p0", "p1", "up")}

    def config(self, sc, idle_policy):
        s = self.sockets()
        vhost = lambda name, network: (
            f'[[port]]\nname = "{name}"\ntype = "vhost-user"\nsocket = "{s[name]}"\nmode = "server"\n'
            f'network = "{network}"\n' + ("" if self.offloads else "offloads = false\n") +
            ("" if self.coalesce else "coalesce = false\n"))
        base = (f'[dpdk]\nmain_core = 0\nworker_cores = [1]\nmemory_mb = 1024\nhugepages = true\n'
                f'file_prefix = "inc-bench-sw"\nmbufs = 65535\n'
                f'[switch]\nidle_policy = "{idle_policy}"\nlog_level = "warning"\n'
                # The generator plays a trunk: up to a million source MACs and
                # SNAT flows behind one port and one inside address, which the
                # per-tenant bounds (docs/security.md) would refuse by design.
                f'port_mac_limit = 0\n'
                f'[control]\nsocket = "{self.dir}/ctl.sock"\n[metrics]\nenabled = false\n')
        underlay = (f'[underlay]\ndevice = "net_vhost0,iface={s["up"]},queues=2"\naddress = "{LOCAL_VTEP}/24"\n'
                    f'gateway = "{UNDERLAY_GW}"\nhost_interface = ""\nmtu = 1600\n'
                    f'[[neighbor]]\nip = "{REMOTE_VTEP}"\nmac = "{SINK_MAC}"\n'
                    f'[[neighbor]]\nip = "{UNDERLAY_GW}"\nmac = "{SINK_MAC}"\n')
        kind = sc["kind"]
        if kind == "l2":
            return base + '[[network]]\nname = "bench"\nvni = 1\nfdb_limit = 2000000\n' + vhost("p0", "bench") + \
                vhost("p1", "bench")
        if kind in ("encap", "decap"):
            return base + underlay + f'[[network]]\nname = "bench"\nvni = {VNI}\npeers = ["{REMOTE_VTEP}"]\n' + \
                vhost("p0", "bench")
        # NAT: this rVM is both the gateway and the floating IP's host (the
        # paper's special case): one translation pass, no hop over `public`.
        return base + underlay + (
            '[[network]]\nname = "private"\nvni = 1001\n[[network]]\nname = "public"\nvni = 1002\n' +
            vhost("p0", "private") +
            '[[router]]\nnetwork = "private"\naddress = "192.0.2.254/24"\n'
            '[[router]]\nnetwork = "public"\naddress = "203.0.113.1/24"\n'
            '[nat]\npublic_network = "public"\ngateway = "203.0.113.1"\nsnat_address = "10.0.0.100"\n'
            'max_sessions = 2000000\nmax_sessions_per_network = 2000000\nmax_sessions_per_source = 2000000\n'
            '[[gateway_mapping]]\nunderlay = "10.0.0.101"\npublic = "203.0.113.10"\n'
            '[[fip]]\npublic = "203.0.113.10"\nfixed = "192.0.2.2"\nnetwork = "private"\n')

    def start(self, sc, idle_policy="adaptive"):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        path = os.path.join(self.dir, "inceptiond.toml")
        with open(path, "w") as f:
            f.write(self.config(sc, idle_policy))
        self.log = open(os.path.join(self.dir, "inceptiond.log"), "w")
        self.proc = subprocess.Popen(in_netns([self.daemon, "--config", path]), stdout=self.log, stderr=self.log)
        sockets = self.sockets()
        needed = [sockets[p] for p in ENDPOINTS[sc["kind"]]]
        wait_for(lambda: all(os.path.exists(p) for p in needed) and os.path.exists(f"{self.dir}/ctl.sock") or
                 self.proc.poll() is not None, 30, "inceptiond's sockets")
        if self.proc.poll() is not None:
            raise RuntimeError("inceptiond exited: " + open(os.path.join(self.dir, "inceptiond.log")).read()[-2000:])
        return {p: sockets[p] for p in ("p0", "p1", "up")}

    def ctl_json(self, *args):
        return json.loads(sh([self.ctl, "--socket", f"{self.dir}/ctl.sock", "--json", *args]))

    def vtep_mac(self):  # the underlay's MAC
        return self.ctl_json("stats")["underlay"]["mac"]

    def router_mac(self):
        return self.ctl_json("nat", "show")["router_mac"]

    def supports_offloads_key(self):
        """Whether this build knows the per-port `offloads` key."""
        r = subprocess.run([self.daemon, "--print-default-config"], capture_output=True, text=True)
        with open(self.daemon, "rb") as f:
            return "offloads" in r.stdout or b"offloads" in f.read()

    def busy_cycles(self):
        workers = self.ctl_json("stats")["workers"]
        busy = sum(w["busy_cycles"] for w in workers)
        self.busy_share = busy / max(1, busy + sum(w["idle_cycles"] for w in workers))
        return busy

    def cycles_per_packet(self):
        workers = self.ctl_json("stats")["workers"]
        packets = sum(w["packets"] for w in workers)
        busy = sum(w["busy_cycles"] for w in workers)
        # Share of the worker's time spent on iterations that moved frames:
        # well under 1 means the switch waited for the generator.
        self.busy_share = busy / max(1, busy + sum(w["idle_cycles"] for w in workers))
        return busy / packets if packets else None

    def pids(self):
        return [self.proc.pid] if self.proc else []

    def stop(self):
        stop(self.proc)
        self.proc = None
        for f in os.listdir("/dev/hugepages"):
            if f.startswith("inc-bench-sw"):
                os.unlink(os.path.join("/dev/hugepages", f))


class Testpmd:
    """io-forward between the scenario's two sockets: no lookup, no rewrite."""
    name = "testpmd"

    def __init__(self, build, run_dir):
        self.dir = os.path.join(run_dir, "testpmd")
        self.proc = None

    def start(self, sc, idle_policy=None):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        tx, rx = ENDPOINTS[sc["kind"]]
        socks = {p: os.path.join(self.dir, p + ".sock") for p in ("p0", "p1", "up")}
        argv = [TESTPMD, "-l", "0,1", "--main-lcore", "0", "--file-prefix", "inc-bench-tp", "--in-memory",
                "--no-pci", "--no-telemetry", "-m", "1024",
                "--vdev", f"net_vhost0,iface={socks[tx]},queues=1", "--vdev", f"net_vhost1,iface={socks[rx]},queues=1",
                "--", "--forward-mode=io", "--auto-start", "--disable-link-check", "--nb-cores=1",
                "--txd=1024", "--rxd=1024"]
        self.log = open(os.path.join(self.dir, "testpmd.log"), "w")
        # testpmd quits when its stdin closes: keep a pipe open.
        self.proc = subprocess.Popen(in_netns(argv), stdin=subprocess.PIPE, stdout=self.log, stderr=self.log)
        wait_for(lambda: os.path.exists(socks[tx]) and os.path.exists(socks[rx]) or self.proc.poll() is not None,
                 30, "testpmd's sockets")
        if self.proc.poll() is not None:
            raise RuntimeError("testpmd exited: " + open(os.path.join(self.dir, "testpmd.log")).read()[-2000:])
        return socks

    def cycles_per_packet(self):
        return None

    def busy_cycles(self):
        return None

    def pids(self):
        return [self.proc.pid] if self.proc else []

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.stdin.close()
        stop(self.proc)
        self.proc = None


class Ovs:
    """Open vSwitch with DPDK, started here in its own directories."""
    name = "ovs"

    def __init__(self, build, run_dir):
        self.dir = os.path.join(run_dir, "ovs")
        self.db_proc = self.proc = None
        self.client = False  # vhost-user client ports (TCP scenarios)

    def env(self):
        e = dict(os.environ)
        e.update(OVS_RUNDIR=self.dir, OVS_DBDIR=self.dir, OVS_LOGDIR=self.dir, OVS_PKGDATADIR="/usr/share/openvswitch")
        return e

    def vsctl(self, *args):
        return sh(in_netns(["ovs-vsctl", "--db", f"unix:{self.dir}/db.sock", "--timeout", "30", *args]),
                  env=self.env())

    def ofctl(self, bridge, *flows):
        for flow in flows:
            sh(in_netns(["ovs-ofctl", "add-flow", bridge, flow]), env=self.env())

    def appctl(self, *args):
        return sh(in_netns(["ovs-appctl", "--target", f"{self.dir}/ovs-vswitchd.ctl", *args]), env=self.env())

    def start(self, sc, idle_policy=None):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        env = self.env()
        sh(["ovsdb-tool", "create", f"{self.dir}/conf.db", "/usr/share/openvswitch/vswitch.ovsschema"])
        self.log = open(os.path.join(self.dir, "ovs.log"), "w")
        self.db_proc = subprocess.Popen(
            in_netns(["ovsdb-server", f"{self.dir}/conf.db", f"--remote=punix:{self.dir}/db.sock",
                      f"--pidfile={self.dir}/ovsdb-server.pid", f"--unixctl={self.dir}/ovsdb-server.ctl"]),
            env=env, stdout=self.log, stderr=self.log)
        wait_for(lambda: os.path.exists(f"{self.dir}/db.sock"), 20, "ovsdb-server")
        self.vsctl("--no-wait", "init")
        self.vsctl("--no-wait", "set", "Open_vSwitch", ".", "other_config:dpdk-init=true",
                   "other_config:pmd-cpu-mask=0x2", "other_config:dpdk-lcore-mask=0x1",
                   "other_config:dpdk-socket-mem=1024",
                   'other_config:dpdk-extra="--no-pci --file-prefix inc-bench-ovs --no-telemetry"')
        if sc.get("tcp"):  # read once at start-up: vhost-user ports then offer TSO and checksum offload
            self.vsctl("--no-wait", "set", "Open_vSwitch", ".", "other_config:userspace-tso-enable=true")
        self.proc = subprocess.Popen(
            in_netns(["taskset", "-c", "0,1", OVS_VSWITCHD, f"unix:{self.dir}/db.sock",
                      f"--pidfile={self.dir}/ovs-vswitchd.pid", f"--unixctl={self.dir}/ovs-vswitchd.ctl",
                      "--log-file=" + f"{self.dir}/ovs-vswitchd.log"]),
            env=env, stdout=self.log, stderr=self.log)
        wait_for(lambda: os.path.exists(f"{self.dir}/ovs-vswitchd.ctl") or self.proc.poll() is not None, 60,
                 "ovs-vswitchd")
        if self.proc.poll() is not None:
            raise RuntimeError("ovs-vswitchd exited; see " + self.dir)
        self.client = bool(sc.get("tcp"))
        self.configure(sc)
        socks = {p: os.path.join(self.dir, p) for p in ("p0", "p1", "up")}
        tx, rx = ENDPOINTS[sc["kind"]]
        if self.client:
            return socks  # the generator creates them
        wait_for(lambda: os.path.exists(socks[tx]) and os.path.exists(socks[rx]), 30, "OVS vhost-user sockets")
        return socks

    def add_bridge(self, name):
        self.vsctl("add-br", name, "--", "set", "bridge", name, "datapath_type=netdev")

    def add_vhost(self, bridge, port, *extra):
        if self.client:
            # OVS 3.1 offers TSO on vhost-user client ports only (its
            # server ports ask DPDK for linear buffers without external
            # ones, and DPDK then withdraws host TSO): the generator serves.
            self.vsctl("add-port", bridge, port, "--", "set", "Interface", port, "type=dpdkvhostuserclient",
                       f"options:vhost-server-path={self.dir}/{port}", *extra)
            return
        self.vsctl("add-port", bridge, port, "--", "set", "Interface", port, "type=dpdkvhostuser", *extra)

    def configure(self, sc):
        kind = sc["kind"]
        if kind == "l2":
            self.add_bridge("br0")
            self.vsctl("set", "bridge", "br0", "other-config:mac-table-size=2000000")
            self.add_vhost("br0", "p0")
            self.add_vhost("br0", "p1")
            return  # NORMAL switching, the default flow
        if kind in ("encap", "decap"):
            # The standard OVS-DPDK tunnel set-up: br-phy owns the underlay
            # port and the VTEP address; br-int holds the iVM and the tunnel.
            self.add_bridge("br-phy")
            self.vsctl("set", "bridge", "br-phy", f"other-config:hwaddr={OVS_PHY_MAC}")
            self.add_vhost("br-phy", "up", "mtu_request=1600")
            sh(in_netns(["ip", "addr", "replace", f"{LOCAL_VTEP}/24", "dev", "br-phy"]))
            sh(in_netns(["ip", "link", "set", "br-phy", "up"]))
            self.add_bridge("br-int")
            self.add_vhost("br-int", "p0")
            self.vsctl("add-port", "br-int", "vx", "--", "set", "Interface", "vx", "type=vxlan",
                       f"options:local_ip={LOCAL_VTEP}", f"options:remote_ip={REMOTE_VTEP}", f"options:key={VNI}")
            self.appctl("tnl/neigh/set", "br-phy", REMOTE_VTEP, SINK_MAC)
            # Like inceptiond's static FDB entry: the iVM's traffic goes to
            # the tunnel without flooding (OVS's best case).
            if kind == "encap":
                self.ofctl("br-int", "in_port=p0,actions=output:vx")
            return
        # NAT with conntrack, one bridge between the iVM and the underlay.
        self.add_bridge("br0")
        self.add_vhost("br0", "p0")
        self.add_vhost("br0", "up")
        sh(in_netns(["ovs-ofctl", "del-flows", "br0"]), env=self.env())
        if sc.get("tcp"):  # one-way TCP: no ACKs ever open the receiver's window in conntrack
            self.appctl("dpctl/ct-disable-tcp-seq-chk")
        if kind == "fip-in":
            self.ofctl("br0", "in_port=up,ip,nw_dst=10.0.0.101,actions=ct(commit,zone=1,nat(dst=192.0.2.2)),"
                       f"mod_dl_src:{OVS_PHY_MAC},mod_dl_dst:{SINK_MAC},output:p0")
        elif kind == "fip-out":  # the floating IP's own address as the source, as inceptiond does
            self.ofctl("br0", "in_port=p0,ip,nw_src=192.0.2.2,actions=ct(commit,zone=1,nat(src=10.0.0.101)),"
                       f"mod_dl_src:{OVS_PHY_MAC},mod_dl_dst:{SINK_MAC},output:up")
        else:
            self.appctl("dpctl/ct-set-maxconns", "3000000")
            self.ofctl("br0", "in_port=p0,ip,actions=ct(commit,zone=1,nat(src=10.0.0.100:1024-65535)),"
                       f"mod_dl_src:{OVS_PHY_MAC},mod_dl_dst:{SINK_MAC},output:up")

    def vtep_mac(self):  # br-phy's
        return OVS_PHY_MAC

    def router_mac(self):  # the flows rewrite MACs themselves
        return OVS_PHY_MAC

    def pmd_stat(self, name):
        try:
            out = self.appctl("dpif-netdev/pmd-stats-show")
        except RuntimeError:
            return None
        pmd = out.split("main thread")[0]
        for line in pmd.splitlines():
            if line.strip().startswith(name + ":"):
                return float(line.split(":")[1].split()[0])
        return None

    def cycles_per_packet(self):
        return self.pmd_stat("avg processing cycles per packet")

    def busy_cycles(self):
        busy, idle = self.pmd_stat("processing cycles"), self.pmd_stat("idle cycles")
        if busy is not None and idle is not None:
            self.busy_share = busy / max(1.0, busy + idle)
        return busy

    def pids(self):
        return [p.pid for p in (self.proc, self.db_proc) if p]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            try:
                self.appctl("exit")
                self.proc.wait(10)
            except (RuntimeError, subprocess.TimeoutExpired):
                pass
        stop(self.proc)
        stop(self.db_proc)
        self.proc = self.db_proc = None
        for f in os.listdir("/dev/hugepages"):
            if f.startswith("inc-bench-ovs"):
                os.unlink(os.path.join("/dev/hugepages", f))


# ---------------------------------------------------------------- generator

def generator_args(sc, switch, socks, duration, warmup):
    kind = sc["kind"]
    tx, rx = ENDPOINTS[kind]
    tunnel = f"{REMOTE_VTEP},{LOCAL_VTEP},{VNI}"
    # Where the generator addresses its frames: the sink iVM / remote VTEP
    # for L2 and tunnels, the switch itself where it routes (NAT).
    dst_mac = SINK_MAC
    if kind == "fip-in" and not isinstance(switch, Testpmd):
        dst_mac = switch.vtep_mac()
    elif kind in ("snat", "fip-out") and not isinstance(switch, Testpmd):
        dst_mac = switch.router_mac()
    argv = ["--tx", socks[tx], "--rx", socks[rx], "--size", sc["size"], "--flows", str(sc["flows"]),
            "--macs", str(sc["macs"]), "--duration", str(duration), "--warmup", str(warmup), "--lcore", "0",
            "--file-prefix", "inc-bench-gen", "--src-mac", GEN_MAC, "--dst-mac", dst_mac, "--sink-mac", SINK_MAC]
    if sc.get("tcp"):
        argv += ["--tcp", "--tcp-streams", str(sc["tcp"])]
        if isinstance(switch, Ovs):
            argv += ["--server"] + (["--tcp-mss-only"] if kind in OVS_NO_TSO else [])
        if kind == "fip-in":  # the sender is the internet: frames as a wire carries them
            argv += ["--tcp-mss-only"]
    if isinstance(switch, Testpmd):  # forwards frames as they are
        return argv + (["--tx-vxlan", tunnel, "--rx-vxlan"] if kind == "decap" else [])
    if kind == "encap":
        argv += ["--rx-vxlan"]
        if isinstance(switch, Inceptiond):  # it learns the sink's MAC from the tunnel, as from a remote rVM
            argv += ["--learn-vxlan", tunnel, "--outer-dst-mac", switch.vtep_mac()]
    elif kind == "decap":
        argv += ["--tx-vxlan", tunnel, "--outer-dst-mac", switch.vtep_mac()]
    elif kind == "fip-in":
        argv += ["--src-ip", "198.51.100.7", "--dst-ip", "10.0.0.101", "--announce-ip", "192.0.2.2"]
    elif kind == "snat":
        argv += ["--src-ip", "192.0.2.3", "--dst-ip", "198.19.0.1"]
    elif kind == "fip-out":
        argv += ["--src-ip", "192.0.2.2", "--dst-ip", "198.19.0.1"]
    return argv


def run_generator(gen, argv, timeout):
    r = subprocess.run(["taskset", "-c", "0", gen] + argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"inception-gen failed: {r.stderr.strip()[-1500:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def measure(switch, sc, gen, duration, warmup):
    switch.busy_share = None  # set again by this run's counters
    try:
        socks = switch.start(sc)
        argv = generator_args(sc, switch, socks, duration, warmup)
        before = cpu_jiffies(switch.pids())
        result = run_generator(gen, argv, timeout=duration + warmup + 60)
        after = cpu_jiffies(switch.pids())
        ticks = os.sysconf("SC_CLK_TCK")
        window = duration + warmup + 1.5
        # Busy CPU of the machine minus the switch's and the generator's
        # (~one core each while running): what others took from us.
        others = max(0.0, (after[0] - before[0] - (after[1] - before[1])) / ticks / window - 1.0)
        result["other_cpu"] = round(others, 3)
        # Time the hypervisor ran someone else on our CPUs: the noise the
        # interleaving is there to cancel.
        result["steal_cpu"] = round((after[2] - before[2]) / ticks / window, 3)
        result["cycles_per_packet"] = switch.cycles_per_packet()
        if sc.get("tcp"):
            # Busy cycles since start over payload delivered since start
            # (warm-up included on both sides): cycles per 64 KiB of goodput.
            busy = switch.busy_cycles()
            delivered = result.get("goodput_bytes_total", 0)
            result["cycles_per_64k"] = busy * 65536 / delivered if busy is not None and delivered else None
            # Well under 1: the switch waited for the generator (which tops
            # out at ~3 Mpps of MSS-sized segments here), not the other way.
            if getattr(switch, "busy_share", None) is not None:
                result["worker_busy_share"] = round(switch.busy_share, 3)
        if getattr(switch, "busy_share", None) is not None:
            result["worker_busy_share"] = round(switch.busy_share, 3)
        return result
    finally:
        switch.stop()


def idle_cost(inceptiond, gen, seconds):
    """CPU of an idle inceptiond with the default back-off, then the
    latency of packets that find its worker asleep (one every 20 ms)."""
    sc = scenario("idle", "l2")
    try:
        socks = inceptiond.start(sc, idle_policy="adaptive")
        time.sleep(2)
        pid = inceptiond.proc.pid

        def worker_jiffies():  # the forwarding threads only (DPDK names them rte-worker-N)
            total = 0
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/stat") as f:
                    stat = f.read()
                if stat[stat.index("(") + 1:stat.rindex(")")].startswith("rte-worker"):
                    fields = stat.rsplit(")", 1)[1].split()
                    total += int(fields[11]) + int(fields[12])
            return total

        b, b_all = worker_jiffies(), cpu_jiffies([pid])[1]
        time.sleep(seconds)
        a, a_all = worker_jiffies(), cpu_jiffies([pid])[1]
        cpu = (a - b) / os.sysconf("SC_CLK_TCK") / seconds
        process_cpu = (a_all - b_all) / os.sysconf("SC_CLK_TCK") / seconds
        argv = generator_args(sc, inceptiond, socks, 5, 1) + ["--rate", "50", "--latency-every", "1"]
        lat = run_generator(gen, argv, timeout=60)
        return {"idle_cpu_of_a_core": round(cpu, 4), "idle_process_cpu": round(process_cpu, 4), "first_packet_latency_p50_us": lat["latency_p50_us"],
                "first_packet_latency_p99_us": lat["latency_p99_us"], "packets": lat["rx_total"]}
    finally:
        inceptiond.stop()


# ---------------------------------------------------------------- report

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize_tcp(sc, rounds):
    """A TCP row: goodput in Gbit/s, cycles per 64 KiB delivered, how the
    guest sent (TSO or MSS segments) and corrupt frames, per switch."""
    row = {"scenario": sc["name"], "size": sc["size"], "what": sc["what"], "streams": sc["tcp"]}
    ok = lambda r, sw: r.get(sw) and "goodput_gbps" in r[sw]
    for sw in TCP_SWITCHES + TCP_EXTRA_SWITCHES + ["baseline"]:
        runs = [r[sw] for r in rounds if ok(r, sw)]
        row[f"{sw}_gbps"] = median([r["goodput_gbps"] for r in runs])
        row[f"{sw}_cyc64k"] = median([r.get("cycles_per_64k") for r in runs])
        row[f"{sw}_busy"] = median([r.get("worker_busy_share") for r in runs])
        row[f"{sw}_sent_as"] = "/".join(sorted({"TSO" if r["tso"] else "MSS" for r in runs})) or "-"
        row[f"{sw}_super_frames_at_sink"] = sum(r.get("super_frames", 0) for r in runs)
        row[f"{sw}_corrupt"] = sum(r.get("corrupt_frames", 0) for r in runs)
        row[f"{sw}_note"] = next((r[sw]["note"] for r in rounds if r.get(sw) and "note" in r[sw]), "")

    def ratio(a, b):
        return median([r[a]["goodput_gbps"] / r[b]["goodput_gbps"] for r in rounds
                       if ok(r, a) and ok(r, b) and r[b]["goodput_gbps"] > 0])
    row["vs_ovs"] = ratio("inceptiond", "ovs")
    row["on_vs_off"] = ratio("inceptiond", "inceptiond-nooff")
    row["vs_baseline"] = ratio("inceptiond", "baseline")
    row["vs_nogro"] = ratio("inceptiond", "inceptiond-nogro")
    row["max_steal_cpu"] = max((r[sw].get("steal_cpu", 0) for r in rounds for sw in r if ok(r, sw)), default=None)
    row["max_other_cpu"] = max((r[sw].get("other_cpu", 0) for r in rounds for sw in r if ok(r, sw)), default=None)
    return row


def summarize(sc, rounds):
    if sc.get("tcp"):
        return summarize_tcp(sc, rounds)
    row = {"scenario": sc["name"], "size": sc["size"], "what": sc["what"]}
    for sw in SWITCHES + ["baseline"]:
        runs = [r[sw] for r in rounds if sw in r and r[sw] is not None and "rx_pps" in r[sw]]
        row[f"{sw}_mpps"] = median([r["rx_pps"] / 1e6 for r in runs])
        row[f"{sw}_cycles"] = median([r.get("cycles_per_packet") for r in runs])
        row[f"{sw}_p50_us"] = median([r["latency_p50_us"] for r in runs])
        row[f"{sw}_p99_us"] = median([r["latency_p99_us"] for r in runs])
        row[f"{sw}_note"] = next((r[sw]["note"] for r in rounds if sw in r and r[sw] and "note" in r[sw]), "")
    # Ratios within each round, then their median: the host's speed drifts
    # between rounds, not (much) within one.
    def ratio(a, b):
        values = [r[a]["rx_pps"] / r[b]["rx_pps"] for r in rounds
                  if r.get(a) and r.get(b) and "rx_pps" in r[a] and "rx_pps" in r[b] and r[b]["rx_pps"] > 0]
        return median(values)
    row["vs_ovs"] = ratio("inceptiond", "ovs")
    row["vs_ceiling"] = ratio("inceptiond", "testpmd")
    row["ovs_vs_ceiling"] = ratio("ovs", "testpmd")
    row["vs_baseline"] = ratio("inceptiond", "baseline")
    row["max_steal_cpu"] = max((r[sw].get("steal_cpu", 0) for r in rounds for sw in SWITCHES
                                if r.get(sw) and "rx_pps" in r[sw]), default=None)
    row["max_other_cpu"] = max((r[sw].get("other_cpu", 0) for r in rounds for sw in SWITCHES
                                if r.get(sw) and "rx_pps" in r[sw]), default=None)
    return row


def fmt(v, digits=2):
    return "-" if v is None else f"{v:.{digits}f}"


def print_columns(lines):
    widths = [max(len(str(l[i])) for l in lines) for i in range(len(lines[0]))]
    for l in lines:
        print("  ".join(str(c).ljust(w) for c, w in zip(l, widths)))


def print_tcp_table(rows, markdown=False):
    head = ["scenario", "streams", "inceptiond Gbit/s", "inc offloads off", "OVS-DPDK Gbit/s", "inc/OVS", "on/off",
            "inc cyc/64KB", "off cyc/64KB", "OVS cyc/64KB", "busy (inc/off/OVS)", "sent as (inc/off/OVS)",
            "corrupt"]
    lines = [head]
    for r in rows:
        gbps = lambda sw: fmt(r[f"{sw}_gbps"]) if r[f"{sw}_gbps"] is not None else (r[f"{sw}_note"] or "-")
        lines.append([r["scenario"], r["streams"], gbps("inceptiond"), gbps("inceptiond-nooff"), gbps("ovs"),
                      fmt(r["vs_ovs"]), fmt(r["on_vs_off"]), fmt(r["inceptiond_cyc64k"], 0),
                      fmt(r["inceptiond-nooff_cyc64k"], 0), fmt(r["ovs_cyc64k"], 0),
                      "/".join(fmt(r[f"{sw}_busy"]) for sw in TCP_SWITCHES),
                      "/".join(r[f"{sw}_sent_as"] for sw in TCP_SWITCHES),
                      sum(r[f"{sw}_corrupt"] for sw in TCP_SWITCHES + TCP_EXTRA_SWITCHES + ["baseline"])])
    if any(r["inceptiond-nogro_gbps"] is not None for r in rows):
        lines[0] += ["inc no GRO", "inc/noGRO", "noGRO cyc/64KB"]
        for line, r in zip(lines[1:], rows):
            line += [fmt(r["inceptiond-nogro_gbps"]), fmt(r["vs_nogro"]), fmt(r["inceptiond-nogro_cyc64k"], 0)]
    if any(r["baseline_gbps"] is not None for r in rows):
        lines[0] += ["baseline", "inc/base", "base cyc/64KB", "base sent as"]
        for line, r in zip(lines[1:], rows):
            line += [fmt(r["baseline_gbps"]), fmt(r["vs_baseline"]), fmt(r["baseline_cyc64k"], 0),
                     r["baseline_sent_as"]]
    print_lines(lines, markdown)
    print("(Gbit/s of TCP payload delivered intact at the sink, medians of rounds; ratios are medians of per-round "
          "ratios; cycles are the switch's busy cycles per 64 KiB delivered; busy: share of the forwarding core's "
          "time on iterations that moved frames (well under 1: the generator was the limit); TSO: the guest sent "
          "64 KB TSO frames, MSS: 1448-byte segments)")


def print_lines(lines, markdown):
    if markdown:
        print("| " + " | ".join(str(c) for c in lines[0]) + " |")
        print("|" + "---|" * len(lines[0]))
        for l in lines[1:]:
            print("| " + " | ".join(str(c) for c in l) + " |")
    else:
        print_columns(lines)


def print_table(rows, idle, markdown=False):
    tcp_rows = [r for r in rows if "streams" in r]
    rows = [r for r in rows if "streams" not in r]
    if rows:
        print_udp_table(rows, markdown)
    if tcp_rows:
        print_tcp_table(tcp_rows, markdown)
    if idle:
        print(f"idle: inceptiond worker {idle['idle_cpu_of_a_core'] * 100:.1f}% of a core with the default "
              f"back-off (whole process {idle['idle_process_cpu'] * 100:.1f}%); first packet after idle p50 {idle['first_packet_latency_p50_us']:.0f} us, "
              f"p99 {idle['first_packet_latency_p99_us']:.0f} us")


def print_udp_table(rows, markdown):
    head = ["scenario", "size", "inceptiond", "OVS-DPDK", "testpmd", "inc/OVS", "inc/ceil", "inc cyc/pkt",
            "OVS cyc/pkt", "inc p50/p99 us", "OVS p50/p99 us"]
    lines = [head]
    for r in rows:
        lines.append([r["scenario"], r["size"], fmt(r["inceptiond_mpps"]),
                      fmt(r["ovs_mpps"]) if r["ovs_mpps"] is not None else (r["ovs_note"] or "-"),
                      fmt(r["testpmd_mpps"]), fmt(r["vs_ovs"]), fmt(r["vs_ceiling"]),
                      fmt(r["inceptiond_cycles"], 0), fmt(r["ovs_cycles"], 0),
                      f'{fmt(r["inceptiond_p50_us"], 0)}/{fmt(r["inceptiond_p99_us"], 0)}',
                      f'{fmt(r["ovs_p50_us"], 0)}/{fmt(r["ovs_p99_us"], 0)}'])
    if any(r["baseline_mpps"] is not None for r in rows):
        lines[0] += ["baseline", "inc/base", "base cyc/pkt"]
        for line, r in zip(lines[1:], rows):
            line += [fmt(r["baseline_mpps"]), fmt(r["vs_baseline"]), fmt(r["baseline_cycles"], 0)]
    print_lines(lines, markdown)
    print("(Mpps received at the sink, medians of rounds; ratios are medians of per-round ratios)")


def chart(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib missing (apt-get install python3-matplotlib): no chart")
        return
    rows = [r for r in rows if "streams" not in r]  # TCP rows are in Gbit/s, not in this chart
    if not rows:
        return
    names = [r["scenario"] for r in rows]
    xs = range(len(rows))
    width = 0.27
    fig, ax = plt.subplots(figsize=(max(8, len(rows) * 1.2), 4.5))
    for i, (sw, label) in enumerate([("inceptiond", "inceptiond"), ("ovs", "OVS-DPDK 3.1"),
                                     ("testpmd", "testpmd io (ceiling)")]):
        ax.bar([x + (i - 1) * width for x in xs], [r[f"{sw}_mpps"] or 0 for r in rows], width, label=label)
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names, rotation=30, ha="right")
    ax.set_ylabel("Mpps at the sink (median)")
    ax.set_title("One forwarding core, vhost-user, this machine")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"host": platform.node(), "kernel": platform.release(), "cpu": model, "cpus": os.cpu_count(),
            "loadavg": open("/proc/loadavg").read().split()[:3], "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


# ---------------------------------------------------------------- main

def fresh_netns():
    sh(["ip", "netns", "del", NETNS], check=False)
    sh(["ip", "netns", "add", NETNS])
    sh(["ip", "-n", NETNS, "link", "set", "lo", "up"])


def report(directory, markdown):
    """The tables of a saved run, summarized again from its rounds."""
    with open(os.path.join(directory, "results.json")) as f:
        results = json.load(f)
    rows = [summarize(s["scenario"], s["rounds"]) for s in results["scenarios"]]
    m = results["machine"]
    print(f'machine: {m["cpu"]}, {m["cpus"]} CPUs, load {" ".join(m["loadavg"])}; '
          f'{results["settings"]["rounds"]} rounds of {results["settings"]["duration"]} s')
    print_table(rows, results.get("idle"), markdown)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenarios", default=DEFAULT, help="comma-separated, or 'all' (default: %(default)s)")
    ap.add_argument("--report", metavar="DIR",
                    help="print the tables of a saved run (DIR/results.json) again, measuring nothing; "
                         "with --markdown, as the README has them")
    ap.add_argument("--switches", default=",".join(SWITCHES + TCP_SWITCHES[1:]),
                    help="(default: %(default)s; TCP scenarios run inceptiond, inceptiond-nooff and ovs)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5, help="measured seconds per run")
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.join(ROOT, "perf", "results"))
    ap.add_argument("--no-idle", action="store_true", help="skip the idle-cost measurement")
    ap.add_argument("--baseline", metavar="BUILD",
                    help="also run the inceptiond of another build (say, of the previous commit) in every round: "
                         "before/after ratios from the same rounds")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--markdown", action="store_true", help="print the tables in Markdown (the README's)")
    args = ap.parse_args()
    if args.report:
        return report(args.report, args.markdown)
    if args.list:
        for sc in SCENARIOS:
            print(f'{sc["name"]:18} {sc["what"]}')
        return 0
    wanted = [s["name"] for s in SCENARIOS] if args.scenarios == "all" else args.scenarios.split(",")
    by_name = {s["name"]: s for s in SCENARIOS}
    unknown = [w for w in wanted if w not in by_name]
    if unknown:
        ap.error(f"unknown scenario(s) {', '.join(unknown)}; --list shows them")
    switches_wanted = args.switches.split(",")
    if os.geteuid() != 0:
        ap.error("needs root (network namespace, hugepages)")
    gen = os.path.join(args.build, "perf", "inception-gen")
    for path, hint in [(gen, "build first: scripts/setup.sh --perf"), (TESTPMD, "apt-get install dpdk-dev"),
                       (OVS_VSWITCHD, "apt-get install openvswitch-switch-dpdk")]:
        if not os.path.exists(path):
            ap.error(f"{path} is missing ({hint})")
    fresh_netns()
    run_dir = tempfile.mkdtemp(prefix="inception-bench-")
    makers = {"inceptiond": Inceptiond, "ovs": Ovs, "testpmd": Testpmd,
              "inceptiond-nooff": lambda build, run_dir: Inceptiond(build, run_dir, "inceptiond-nooff", offloads=False),
              "inceptiond-nogro": lambda build, run_dir: Inceptiond(build, run_dir, "inceptiond-nogro", coalesce=False)}
    switches = [makers[s](args.build, run_dir) for s in SWITCHES if s in switches_wanted]
    tcp_switches = [makers[s](args.build, run_dir) for s in TCP_SWITCHES + TCP_EXTRA_SWITCHES if s in switches_wanted]
    if any(by_name[w].get("tcp") for w in wanted) and tcp_switches and \
            not tcp_switches[0].supports_offloads_key():
        log("this inceptiond has no per-port `offloads` key: inceptiond-nooff runs the default (no offloads)")
        for sw in tcp_switches:
            if isinstance(sw, Inceptiond):
                sw.offloads = True
    if args.baseline:
        if not os.path.exists(os.path.join(args.baseline, "control", "inceptiond")):
            ap.error(f"--baseline {args.baseline}: no control/inceptiond in that build")
        switches.insert(1, Inceptiond(args.baseline, run_dir, name="baseline"))
        if tcp_switches:  # the other build with its default offloads: before/after of TCP goodput
            tcp_switches.insert(1, Inceptiond(args.baseline, run_dir, name="baseline"))
    results = {"machine": machine(), "settings": vars(args), "scenarios": [], "idle": None}
    rows = []
    corrupt = 0
    try:
        for name in wanted:
            sc = by_name[name]
            rounds = []
            for i in range(args.rounds):
                rnd = {}
                # Rotate the order so no switch always runs first in a round.
                these = tcp_switches if sc.get("tcp") else switches
                order = these[i % len(these):] + these[:i % len(these)]
                for sw in order:
                    try:
                        rnd[sw.name] = m = measure(sw, sc, gen, args.duration, args.warmup)
                        if sc.get("tcp"):
                            log(f'{name} round {i + 1} {sw.name}: {m["goodput_gbps"]:.2f} Gbit/s TCP payload '
                                f'({"TSO" if m["tso"] else "MSS"} frames, {m["rx_pps"] / 1e3:.0f} kframes/s at the '
                                f'sink, {m["super_frames"]} super-frames, cycles/64KB {fmt(m["cycles_per_64k"], 0)}, '
                                f'busy {m.get("worker_busy_share")}, '
                                f'others {m["other_cpu"]}, steal {m["steal_cpu"]})')
                            if m["corrupt_frames"]:
                                corrupt += m["corrupt_frames"]
                                log(f'{name} round {i + 1} {sw.name}: CORRUPT: {m["corrupt_frames"]} frames '
                                    f'(payload {m["corrupt_payload"]}, checksum {m["corrupt_checksum"]}, '
                                    f'length {m["corrupt_length"]})')
                            continue
                        log(f'{name} round {i + 1} {sw.name}: {rnd[sw.name]["rx_pps"] / 1e6:.2f} Mpps '
                            f'(cycles/pkt {rnd[sw.name]["cycles_per_packet"]}, others {rnd[sw.name]["other_cpu"]}, '
                            f'steal {rnd[sw.name]["steal_cpu"]})')
                    except (RuntimeError, KeyError, subprocess.TimeoutExpired, json.JSONDecodeError) as e:
                        rnd[sw.name] = {"note": "failed"}
                        log(f"{name} round {i + 1} {sw.name}: FAILED: {e}")
                rounds.append(rnd)
            row = summarize(sc, rounds)
            rows.append(row)
            results["scenarios"].append({"scenario": sc, "rounds": rounds, "summary": row})
        inceptiond = next((s for s in switches if s.name == "inceptiond"), None)
        if inceptiond and not args.no_idle:
            results["idle"] = idle_cost(inceptiond, gen, 10)
        baseline = next((s for s in switches if s.name == "baseline"), None)
        if baseline and not args.no_idle:
            results["idle_baseline"] = idle_cost(baseline, gen, 10)
    finally:
        for sw in switches + tcp_switches:
            sw.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
        sh(["ip", "netns", "del", NETNS], check=False)
    results["machine"]["loadavg_after"] = open("/proc/loadavg").read().split()[:3]
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(os.path.join(args.out, "results.csv"), "w", newline="") as f:
        fields = list(dict.fromkeys(k for r in rows for k in r)) or ["scenario"]  # UDP and TCP rows differ
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    chart(rows, os.path.join(args.out, "results.png"))
    print(f'machine: {results["machine"]["cpu"]}, {results["machine"]["cpus"]} CPUs, '
          f'load {" ".join(results["machine"]["loadavg"])}')
    print_table(rows, results["idle"], args.markdown)
    if results.get("idle_baseline"):
        b = results["idle_baseline"]
        print(f"idle, baseline build: worker {b['idle_cpu_of_a_core'] * 100:.1f}% of a core; first packet after idle "
              f"p50 {b['first_packet_latency_p50_us']:.0f} us, p99 {b['first_packet_latency_p99_us']:.0f} us")
    print(f"saved {args.out}/results.json, results.csv, results.png")
    if corrupt:
        print(f"FAILED: {corrupt} TCP frames arrived corrupt (see the log above and results.json)")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
