#!/usr/bin/env bash
# Builds (and tears down) a nested cloud on one machine: N rVMs as network
# namespaces on a shared management network (veth pairs into a Linux bridge
# in its own namespace), each running inceptiond with its NIC (a veth end)
# as the VXLAN underlay, and iVMs as kernel ports moved into namespaces of
# their own. For tests, for the perf work and for trying the project.
#
#   scripts/topology.sh up   DIR N [mesh|star|cluster] [--ivms] [--nat] [--later K] [--dc2 K] [--set SECTION.KEY=VALUE]...
#   scripts/topology.sh start DIR I
#   scripts/topology.sh map  DIR PUBLIC_IP UNDERLAY_IP [dc2]
#   scripts/topology.sh down DIR
#
#   DIR    state: configs, logs, control sockets, pids (created)
#   N      number of rVMs (1..9); rVM i has underlay address 10.0.0.1i/24
#   mesh   every rVM peers with every other (default)
#   star   rVM 1 is the hub (the paper's gateway rVM); the others peer with it only
#   cluster  no peer is typed: the rVMs find each other in etcd (docs/cluster.md);
#          give [cluster] endpoints with --set cluster.endpoints=[...] (the
#          member name is rvmI unless set)
#   --later K  the last K rVMs are prepared (namespace, NIC, config) but not
#          started: `start DIR I` starts one (and restarts one that died),
#          with its host address and iVM ports
#   --ivms on each rVM, one iVM per network: namespace <prefix>-ivm<i>-private
#          with 192.0.2.i/24 and <prefix>-ivm<i>-public with 198.51.100.i/24
#   --nat  the paper's Figure 4 around it: routers (private 192.0.2.254/24 on
#          every rVM, public 198.51.100.20i/24 on rVM i), rVM 1 is the NAT
#          gateway (SNAT on underlay address 10.0.0.100), and a "reality"
#          namespace plays the reality cloud's router (10.0.0.1 on the
#          management network, iptables 1:1 NAT) in front of an "internet"
#          with a client (<prefix>-client, 203.0.113.100) and a server
#          (<prefix>-server, 203.0.113.200); SNAT leaves as 203.0.113.1.
#   --dc2 K  a second data center (another reality cloud): the last K rVMs'
#          NICs are on a network of their own (namespace <prefix>-mgmt2), with
#          the same 10.0.0.0/24 addressing, behind their own reality router
#          (<prefix>-reality2: 10.0.0.1 there, 203.0.113.3 on the internet,
#          TCP from the rVMs masqueraded). Both reality routers exist (the
#          first as with --nat, without the Figure 4 SNAT unless --nat), every
#          rVM's [underlay] gateway is 10.0.0.1, and the management host
#          10.0.0.2 of the first data center (where tests run etcd) is
#          reachable from the second at 203.0.113.2 (TCP). Give the second's
#          rVMs their data center with --set rvmI.cluster.data_center="dc2".
#   --set  one more key for every rVM's configuration, VALUE in TOML syntax:
#          SECTION is dpdk, switch, underlay, nat (with --nat), libvirt, cluster,
#          metrics (off unless metrics.enabled=true; each rVM's 127.0.0.1:9417 is
#          its own namespace's) or network (every [[network]]), KEY one the script
#          does not write itself, e.g. --set nat.max_sessions_per_source=4 --set
#          network.neighbor_limit=16; rvmI.SECTION.KEY=VALUE sets it for rVM I
#          only, e.g. --set 'rvm2.libvirt.uri="qemu+unix:///system?socket=..."'
#   map    the reality cloud NATs PUBLIC_IP (203.0.113.x) to UNDERLAY_IP, 1:1
#          both ways; with dc2, the second data center's reality cloud
#
# Environment: INCEPTIOND and INCEPTIONCTL (default: build/control/...),
# TOPO_PREFIX (default "inc", prefixes namespace names),
# TOPO_NO_HUGE=1 (default) runs the switches without hugepages.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
inceptiond=${INCEPTIOND:-$here/build/control/inceptiond}
inceptionctl=${INCEPTIONCTL:-$here/build/control/inceptionctl}
prefix=${TOPO_PREFIX:-inc}
mgmt=$prefix-mgmt

die() { echo "topology: $*" >&2; exit 1; }

rvm_ns() { echo "$prefix-rvm$1"; }
# Whether process $1 runs. A switch that exited stays a zombie until init
# reaps it (about 2 s on the CI VM), and kill -0 still finds a zombie.
running() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}
ctl() { "$inceptionctl" --socket "$dir/rvm$1.sock" "${@:2}"; }

# Turns IPv6 off in a namespace, for the interfaces created in it later too.
ipv4_only() {
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# The --set lines of configuration section $1 for rVM $2, as KEY=VALUE lines.
# Test them with `grep -c ... >/dev/null`, never `grep -q`: grep -q leaves at
# the first match, the next echo here dies of SIGPIPE and, under pipefail,
# the test says no (a [cluster] header went missing 7 times in 2000).
extra() {
  local setting
  for setting in "${settings[@]}"; do
    [[ "$setting" == "rvm$2."* ]] && setting=${setting#rvm"$2".}
    [ "${setting%%.*}" = "$1" ] && echo "${setting#*.}"
  done
  return 0
}

up() {
  [ $# -ge 2 ] || die "usage: topology.sh up DIR N [mesh|star] [--ivms] [--nat] [--set SECTION.KEY=VALUE]..."
  dir=$1; n=$2; shift 2
  mode=mesh; ivms=0; nat=0; later=0; dc2=0; settings=()
  while [ $# -gt 0 ]; do
    case "$1" in
      mesh|star|cluster) mode=$1 ;;
      --later) [ $# -ge 2 ] && [[ "$2" =~ ^[0-9]$ ]] || die "--later needs a count"; later=$2; shift ;;
      --dc2) [ $# -ge 2 ] && [[ "$2" =~ ^[1-9]$ ]] || die "--dc2 needs a count"; dc2=$2; shift ;;
      --ivms) ivms=1 ;;
      --nat) nat=1 ;;
      --set) [ $# -ge 2 ] || die "--set needs SECTION.KEY=VALUE"; settings+=("$2"); shift ;;
      *) die "unknown argument '$1'" ;;
    esac
    shift
  done
  [[ "$n" =~ ^[1-9]$ ]] || die "N must be 1..9"
  [ "$dc2" -lt "$n" ] || die "--dc2 $dc2 leaves no rVM in the first data center"
  for setting in "${settings[@]}"; do
    [[ "$setting" =~ ^(rvm[1-9]\.)?(dpdk|switch|underlay|network|nat|libvirt|cluster|metrics)\.[a-z_]+=.+ ]] ||
      die "--set '$setting': expected [rvmI.]SECTION.KEY=VALUE, SECTION one of dpdk, switch, underlay, network, nat, libvirt, cluster, metrics"
    [[ "${setting#rvm[1-9].}" != nat.* ]] || [ "$nat" = 1 ] || die "--set '$setting': [nat] exists only with --nat"
  done
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  # Leftovers of an earlier run that was killed (same prefix) go first.
  clean_namespaces
  echo "$prefix" > "$dir/prefix"
  first_dc2=$((n - dc2 + 1))
  echo "$ivms $nat $first_dc2" > "$dir/options"
  reality_network "$mgmt"
  [ "$dc2" = 0 ] || reality_network "$mgmt"2
  for i in $(seq 1 "$n"); do
    ns=$(rvm_ns "$i")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    lan=$(lan_of "$i")
    ip link add "$prefix-u$i" netns "$ns" type veth peer name "rvm$i" netns "$lan"
    ip -n "$ns" link set "$prefix-u$i" name u0
    ip netns exec "$ns" "$here/scripts/prepare-underlay.sh" u0
    ip -n "$lan" link set "rvm$i" master br0
    ip -n "$lan" link set "rvm$i" up
  done
  for i in $(seq 1 "$n"); do
    peers=""
    hub=false
    for j in $(seq 1 "$n"); do
      [ "$i" = "$j" ] && continue
      [ "$mode" = cluster ] && continue
      if [ "$mode" = mesh ] || [ "$i" = 1 ] || [ "$j" = 1 ]; then peers="$peers\"10.0.0.1$j\", "; fi
    done
    [ "$mode" = star ] && [ "$i" = 1 ] && hub=true
    peers="[${peers%, }]"
    nat_toml=""; gateway_line=""
    [ "$dc2" = 0 ] || gateway_line='gateway = "10.0.0.1"'
    if [ "$nat" = 1 ]; then
      gateway_line='gateway = "10.0.0.1"'
      snat=""
      [ "$i" = 1 ] && snat='snat_address = "10.0.0.100"'
      nat_toml="[[router]]
network = \"private\"
address = \"192.0.2.254/24\"
[[router]]
network = \"public\"
address = \"198.51.100.20$i/24\"
[nat]
public_network = \"public\"
gateway = \"198.51.100.201\"
$snat"
    fi
    cat > "$dir/rvm$i.toml" <<TOML
[dpdk]
main_core = 0
worker_cores = [1]
memory_mb = 256
hugepages = ${TOPO_HUGEPAGES:-false}
file_prefix = "$prefix-rvm$i"
$(extra dpdk "$i")
[switch]
log_level = "${TOPO_LOG_LEVEL:-info}"
$(extra switch "$i")
[control]
socket = "$dir/rvm$i.sock"
[metrics]
$(extra metrics "$i" | grep -c '^enabled=' >/dev/null || echo "enabled = false")
$(extra metrics "$i")
[underlay]
device = "net_af_packet0,iface=u0"
address = "10.0.0.1$i/24"
$gateway_line
mtu = 1500
host_interface = "inc-host"
$(extra underlay "$i")
[[network]]
name = "private"
vni = 1001
peers = $peers
hub = $hub
$(extra network "$i")
[[network]]
name = "public"
vni = 1002
peers = $peers
hub = $hub
$(extra network "$i")
$(printf '%b' "$nat_toml")
$(extra nat "$i")
$(extra libvirt "$i" | grep -c . >/dev/null && echo "[libvirt]")
$(extra libvirt "$i")
$(extra cluster "$i" | grep -c . >/dev/null && echo "[cluster]")
$(extra cluster "$i" | grep -c . >/dev/null && ! extra cluster "$i" | grep -c '^name=' >/dev/null && echo "name = \"rvm$i\"")
$(extra cluster "$i")
TOML
  done
  for i in $(seq 1 $((n - later))); do start_daemon "$i"; done
  for i in $(seq 1 $((n - later))); do plug "$i"; done
  if [ "$nat" = 1 ] || [ "$dc2" != 0 ]; then reality_up; fi
  [ "$dc2" = 0 ] || reality2_up
  echo "topology: $n rVMs ($mode) up in $dir"
}

# A reality cloud's L2 network for the rVMs' NICs: a bridge in namespace $1.
reality_network() {
  ip netns add "$1"
  # The reality cloud's network carries IPv4 only (prepare-underlay.sh turns
  # IPv6 off on the rVMs' NICs too): no router solicitations or MLD reports
  # from the bridge reach the switches as frames nobody sent them.
  ipv4_only "$1"
  ip -n "$1" link add br0 type bridge
  ip -n "$1" link set br0 up
  # A plain L2 network, as the reality cloud's is to an rVM: with
  # br_netfilter loaded the bridge would check IPv4 headers and drop what a
  # hostile host sends before the switch under test could see it.
  for table in iptables ip6tables arptables; do
    ip netns exec "$1" sysctl -qw "net.bridge.bridge-nf-call-$table=0" 2>/dev/null || true
  done
  ip -n "$1" link set lo up
}

# The namespace of rVM $1's reality network.
lan_of() {
  if [ "$1" -ge "${first_dc2:-10}" ]; then echo "$mgmt"2; else echo "$mgmt"; fi
}

start_daemon() {
  ip netns exec "$(rvm_ns "$1")" "$inceptiond" --config "$dir/rvm$1.toml" >> "$dir/rvm$1.log" 2>&1 &
  echo $! > "$dir/rvm$1.pid"
}

# Waits for rVM $1's switch, gives the rVM its address and its iVMs their ports.
plug() {
  local i=$1
  for _ in $(seq 1 300); do
    ctl "$i" network list >/dev/null 2>&1 && break
    running "$(cat "$dir/rvm$i.pid")" || die "inceptiond of rvm$i exited: $(tail -5 "$dir/rvm$i.log")"
    sleep 0.1
  done
  ctl "$i" network list >/dev/null || die "inceptiond of rvm$i does not answer"
  # The rVM's own address lives on the host interface, as it would on a
  # real rVM whose NIC the switch owns.
  ns=$(rvm_ns "$i")
  ip -n "$ns" addr add "10.0.0.1$i/24" dev inc-host
  ip -n "$ns" link set inc-host up
  ip netns exec "$ns" ethtool -K inc-host tx off >/dev/null 2>&1 || true
  if [ "$ivms" = 1 ]; then
    for net in private public; do
      [ $net = private ] && addr="192.0.2.$i/24" || addr="198.51.100.$i/24"
      port="ivm$i${net:0:3}"
      ivm="$prefix-ivm$i-$net"
      ctl "$i" port add "$port" --type kernel --network $net >/dev/null
      # A restarted switch: its kernel ports died with it, the iVM stays.
      ip netns list | grep -q "^$ivm\b" || ip netns add "$ivm"
      ip -n "$(rvm_ns "$i")" link set "$port" netns "$ivm"
      ip -n "$ivm" link set lo up
      ip -n "$ivm" addr add "$addr" dev "$port"
      ip -n "$ivm" link set "$port" mtu 1450 up
      ip netns exec "$ivm" ethtool -K "$port" tx off >/dev/null 2>&1 || true
      [ "$nat" = 1 ] && [ $net = private ] && ip -n "$ivm" route add default via 192.0.2.254
    done
  fi
  # The second data center's rVMs reach the first's management host (etcd)
  # through their reality router.
  [ "$i" -lt "${first_dc2:-10}" ] || ip -n "$ns" route add default via 10.0.0.1
  return 0
}

# A reality cloud's router: namespace $1, its leg 10.0.0.1 (veth $2) on the
# bridge of the rVMs' network in namespace $3. Forwarded frames keep a
# partial checksum the switch's packet socket would see unfinished (see
# prepare-underlay.sh): the router finishes them.
reality_router() {
  ip netns add "$1"
  ipv4_only "$1"
  ip -n "$1" link set lo up
  ip link add "$2" netns "$1" type veth peer name reality netns "$3"
  ip -n "$3" link set reality master br0 up
  ip -n "$1" addr add 10.0.0.1/24 dev "$2"
  ip -n "$1" link set "$2" up
  ip netns exec "$1" sysctl -qw net.ipv4.ip_forward=1
  ip netns exec "$1" ethtool -K "$2" tx off >/dev/null 2>&1 || true
}

reality_up() {
  reality=$prefix-reality
  reality_router "$reality" "$prefix-rr" "$mgmt"
  ip -n "$reality" link add inet type bridge
  ip -n "$reality" addr add 203.0.113.1/24 dev inet
  ip -n "$reality" link set inet up
  for host in client:100 server:200; do
    name=${host%%:*}; octet=${host##*:}
    ns=$prefix-$name
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add "$prefix-$name" netns "$ns" type veth peer name "$name" netns "$reality"
    ip -n "$reality" link set "$name" master inet up
    ip -n "$ns" addr add "203.0.113.$octet/24" dev "$prefix-$name"
    ip -n "$ns" link set "$prefix-$name" up
    ip -n "$ns" route add default via 203.0.113.1
    ip netns exec "$ns" ethtool -K "$prefix-$name" tx off >/dev/null 2>&1 || true
    ip netns exec "$reality" ethtool -K "$name" tx off >/dev/null 2>&1 || true
  done
  ip netns exec "$reality" ethtool -K inet tx off >/dev/null 2>&1 || true
  # The reality cloud's SNAT of the gateway rVM: its SNAT address leaves
  # as the reality router's own public address.
  [ "$nat" = 1 ] && ip netns exec "$reality" iptables -t nat -A POSTROUTING -s 10.0.0.100 -o inet -j SNAT --to-source 203.0.113.1
  return 0
}

# The second data center's reality cloud: its router between the rVMs'
# network (mgmt2) and the internet (the first reality router's bridge), and
# the first one's management host published for it.
reality2_up() {
  local reality2=$prefix-reality2
  reality_router "$reality2" "$prefix-rr2" "$mgmt"2
  ip link add "$prefix-i2" netns "$reality2" type veth peer name reality2 netns "$prefix-reality"
  ip -n "$reality2" link set "$prefix-i2" name inet
  ip -n "$prefix-reality" link set reality2 master inet up
  ip -n "$reality2" addr add 203.0.113.3/24 dev inet
  ip -n "$reality2" link set inet up
  ip netns exec "$reality2" ethtool -K inet tx off >/dev/null 2>&1 || true
  ip netns exec "$prefix-reality" ethtool -K reality2 tx off >/dev/null 2>&1 || true
  # The rVMs' own TCP (etcd) leaves as the router's address; their VTEPs
  # are NATed 1:1 only where `map` says so.
  ip netns exec "$reality2" iptables -t nat -A POSTROUTING -s 10.0.0.0/24 -p tcp -o inet -j MASQUERADE
  ip -n "$mgmt" addr add 10.0.0.2/24 dev br0
  ip -n "$mgmt" route add default via 10.0.0.1
  ip netns exec "$mgmt" ethtool -K br0 tx off >/dev/null 2>&1 || true
  ip -n "$prefix-reality" addr add 203.0.113.2/32 dev lo
  ip netns exec "$prefix-reality" iptables -t nat -A PREROUTING -d 203.0.113.2 -p tcp -j DNAT --to-destination 10.0.0.2
}

start() {
  [ $# -eq 2 ] || die "usage: topology.sh start DIR I"
  dir=$(cd "$1" && pwd)
  prefix=$(cat "$dir/prefix")
  read -r ivms nat first_dc2 < "$dir/options"
  [ -f "$dir/rvm$2.toml" ] || die "no rVM $2 in $dir"
  if [ -f "$dir/rvm$2.pid" ] && running "$(cat "$dir/rvm$2.pid")"; then die "rVM $2 is running"; fi
  start_daemon "$2"
  plug "$2"
  echo "topology: rVM $2 started"
}

# Stops every process still running inside this prefix's namespaces (they
# can only be ours), then deletes the namespaces.
clean_namespaces() {
  local ns pid namespaces pids
  namespaces=$(ip netns list | awk '{print $1}' | grep -E "^$prefix-(rvm[0-9]|ivm[0-9]|mgmt|reality|client|server)" || true)
  [ -n "$namespaces" ] || return 0
  for ns in $namespaces; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null || true; done
  done
  # Up to 0.5 s for them to go (a polled wait: usually nothing is left).
  for _ in 1 2 3 4 5; do
    pids=$(for ns in $namespaces; do ip netns pids "$ns" 2>/dev/null; done)
    [ -n "$pids" ] || break
    sleep 0.1
  done
  for ns in $namespaces; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns"
  done
}

map() {
  [ $# -ge 3 ] && [ $# -le 4 ] || die "usage: topology.sh map DIR PUBLIC_IP UNDERLAY_IP [dc2]"
  dir=$1
  [ -f "$dir/prefix" ] && prefix=$(cat "$dir/prefix")
  reality=$prefix-reality
  if [ $# = 4 ]; then
    [ "$4" = dc2 ] || die "map: '$4': the only other data center is dc2"
    reality=$prefix-reality2
  fi
  ip -n "$reality" addr add "$2/32" dev lo
  # Inserted first: before the second data center's masquerade.
  ip netns exec "$reality" iptables -t nat -A PREROUTING -d "$2" -j DNAT --to-destination "$3"
  ip netns exec "$reality" iptables -t nat -I POSTROUTING 1 -s "$3" -o inet -j SNAT --to-source "$2"
}

down() {
  [ $# -ge 1 ] || die "usage: topology.sh down DIR"
  dir=$1
  [ -f "$dir/prefix" ] && prefix=$(cat "$dir/prefix") && mgmt=$prefix-mgmt
  # Every switch told at once, then up to 10 s for all of them to stop.
  local pids=() pid left
  for pidfile in "$dir"/rvm*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    rm -f "$pidfile"
  done
  for _ in $(seq 1 200); do
    left=0
    for pid in "${pids[@]}"; do running "$pid" && left=1; done
    [ "$left" = 1 ] || break
    sleep 0.05
  done
  for pid in "${pids[@]}"; do running "$pid" && kill -KILL "$pid"; done
  clean_namespaces
  # DPDK leaves each process's runtime directory behind.
  [ -n "${prefix:-}" ] && rm -rf /var/run/dpdk/"$prefix"-rvm*
  echo "topology: down"
}

case "${1:-}" in
  up) shift; up "$@" ;;
  start) shift; start "$@" ;;
  map) shift; map "$@" ;;
  down) shift; down "$@" ;;
  *) die "usage: topology.sh up DIR N [mesh|star] [--ivms] [--nat] [--set SECTION.KEY=VALUE]... | map DIR PUBLIC UNDERLAY | down DIR" ;;
esac
