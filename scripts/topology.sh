#!/usr/bin/env bash
# Builds (and tears down) a nested cloud on one machine: N rVMs as network
# namespaces on a shared management network (veth pairs into a Linux bridge
# in its own namespace), each running inceptiond with its NIC (a veth end)
# as the VXLAN underlay, and iVMs as kernel ports moved into namespaces of
# their own. For tests, for the perf work and for trying the project.
#
#   scripts/topology.sh up   DIR N [mesh|star] [--ivms]
#   scripts/topology.sh down DIR
#
#   DIR    state: configs, logs, control sockets, pids (created)
#   N      number of rVMs (1..9); rVM i has underlay address 10.0.0.1i/24
#   mesh   every rVM peers with every other (default)
#   star   rVM 1 is the hub (the paper's gateway rVM); the others peer with it only
#   --ivms on each rVM, one iVM per network: namespace <prefix>-ivm<i>-private
#          with 192.0.2.i/24 and <prefix>-ivm<i>-public with 198.51.100.i/24
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
ctl() { "$inceptionctl" --socket "$dir/rvm$1.sock" "${@:2}"; }

up() {
  [ $# -ge 2 ] || die "usage: topology.sh up DIR N [mesh|star] [--ivms]"
  dir=$1; n=$2; shift 2
  mode=mesh; ivms=0
  for arg in "$@"; do
    case "$arg" in
      mesh|star) mode=$arg ;;
      --ivms) ivms=1 ;;
      *) die "unknown argument '$arg'" ;;
    esac
  done
  [[ "$n" =~ ^[1-9]$ ]] || die "N must be 1..9"
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  # Leftovers of an earlier run that was killed (same prefix) go first.
  clean_namespaces
  echo "$prefix" > "$dir/prefix"
  ip netns add "$mgmt"
  ip -n "$mgmt" link add br0 type bridge
  ip -n "$mgmt" link set br0 up
  ip -n "$mgmt" link set lo up
  for i in $(seq 1 "$n"); do
    ns=$(rvm_ns "$i")
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip link add "$prefix-u$i" netns "$ns" type veth peer name "rvm$i" netns "$mgmt"
    ip -n "$ns" link set "$prefix-u$i" name u0
    ip netns exec "$ns" "$here/scripts/prepare-underlay.sh" u0
    ip -n "$mgmt" link set "rvm$i" master br0
    ip -n "$mgmt" link set "rvm$i" up
  done
  for i in $(seq 1 "$n"); do
    peers=""
    hub=false
    for j in $(seq 1 "$n"); do
      [ "$i" = "$j" ] && continue
      if [ "$mode" = mesh ] || [ "$i" = 1 ] || [ "$j" = 1 ]; then peers="$peers\"10.0.0.1$j\", "; fi
    done
    [ "$mode" = star ] && [ "$i" = 1 ] && hub=true
    peers="[${peers%, }]"
    cat > "$dir/rvm$i.toml" <<TOML
[dpdk]
main_core = 0
worker_cores = [1]
memory_mb = 256
hugepages = ${TOPO_HUGEPAGES:-false}
file_prefix = "$prefix-rvm$i"
[switch]
log_level = "${TOPO_LOG_LEVEL:-info}"
[control]
socket = "$dir/rvm$i.sock"
[metrics]
enabled = false
[underlay]
device = "net_af_packet0,iface=u0"
address = "10.0.0.1$i/24"
mtu = 1500
host_interface = "inc-host"
[[network]]
name = "private"
vni = 1001
peers = $peers
hub = $hub
[[network]]
name = "public"
vni = 1002
peers = $peers
hub = $hub
TOML
    ip netns exec "$(rvm_ns "$i")" "$inceptiond" --config "$dir/rvm$i.toml" > "$dir/rvm$i.log" 2>&1 &
    echo $! > "$dir/rvm$i.pid"
  done
  for i in $(seq 1 "$n"); do
    for _ in $(seq 1 300); do
      ctl "$i" network list >/dev/null 2>&1 && break
      kill -0 "$(cat "$dir/rvm$i.pid")" 2>/dev/null || die "inceptiond of rvm$i exited: $(tail -5 "$dir/rvm$i.log")"
      sleep 0.1
    done
    ctl "$i" network list >/dev/null || die "inceptiond of rvm$i does not answer"
    # The rVM's own address lives on the host interface, as it would on a
    # real rVM whose NIC the switch owns.
    ns=$(rvm_ns "$i")
    ip -n "$ns" addr add "10.0.0.1$i/24" dev inc-host
    ip -n "$ns" link set inc-host up
    ip netns exec "$ns" ethtool -K inc-host tx off >/dev/null 2>&1 || true
  done
  if [ "$ivms" = 1 ]; then
    for i in $(seq 1 "$n"); do
      for net in private public; do
        [ $net = private ] && addr="192.0.2.$i/24" || addr="198.51.100.$i/24"
        port="ivm$i${net:0:3}"
        ivm="$prefix-ivm$i-$net"
        ctl "$i" port add "$port" --type kernel --network $net >/dev/null
        ip netns add "$ivm"
        ip -n "$(rvm_ns "$i")" link set "$port" netns "$ivm"
        ip -n "$ivm" link set lo up
        ip -n "$ivm" addr add "$addr" dev "$port"
        ip -n "$ivm" link set "$port" mtu 1450 up
        ip netns exec "$ivm" ethtool -K "$port" tx off >/dev/null 2>&1 || true
      done
    done
  fi
  echo "topology: $n rVMs ($mode) up in $dir"
}

# Stops every process still running inside this prefix's namespaces (they
# can only be ours), then deletes the namespaces.
clean_namespaces() {
  local ns pid
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^$prefix-(rvm[0-9]|ivm[0-9]|mgmt)"); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null || true; done
  done
  sleep 0.5
  for ns in $(ip netns list | awk '{print $1}' | grep -E "^$prefix-(rvm[0-9]|ivm[0-9]|mgmt)"); do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
    ip netns del "$ns"
  done
}

down() {
  [ $# -ge 1 ] || die "usage: topology.sh down DIR"
  dir=$1
  [ -f "$dir/prefix" ] && prefix=$(cat "$dir/prefix") && mgmt=$prefix-mgmt
  for pidfile in "$dir"/rvm*.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$pidfile"
  done
  clean_namespaces
  echo "topology: down"
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) shift; down "$@" ;;
  *) die "usage: topology.sh up DIR N [mesh|star] [--ivms] | down DIR" ;;
esac
