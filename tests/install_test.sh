#!/usr/bin/env bash
# What an operator installs, checked the way they would use it:
#   meson install into a scratch root -> the layout (sbin, bin, /etc, the
#   systemd unit, /etc/default, Prometheus's rules, docs); the installed
#   inceptiond's --version and --check of the installed configuration;
#   systemd-analyze verify of the installed unit, every remark a failure;
#   the man pages render without a groff warning and name every verb and
#   option the binaries' own parsers know; bash completion gives
#   inceptionctl's words;
#   and the installed switch run with exactly the unit's
#   CapabilityBoundingSet (setpriv), with an af_packet underlay on a veth in
#   a namespace, hugepages when the machine has them, and a kernel port: it
#   starts, answers inceptionctl, creates the TAP and answers ARP for its
#   VTEP address over the veth.
#
#   tests/install_test.sh BUILD_DIR        (meson test install)
set -euo pipefail
build=$(cd "$1" && pwd)
prefix=$(meson introspect "$build" --buildoptions |
  python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
sysconfdir=$(meson introspect "$build" --buildoptions |
  python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="sysconfdir"))')
case "$sysconfdir" in /*) ;; *) sysconfdir=$prefix/$sysconfdir ;; esac

root=$(mktemp -d /tmp/inception-install-XXXXXX)
ns="${INCEPTION_NS_PREFIX:-inct}-inst"
pid=
fail() { echo "install test: $*" >&2; exit 1; }
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$root" "/var/run/dpdk/$ns-switch"
}
trap cleanup EXIT

meson install -C "$build" --destdir "$root" --no-rebuild --quiet >/dev/null
sbin=$root$prefix/sbin
unit=$root$prefix/lib/systemd/system/inceptiond.service
for f in "$sbin/inceptiond" "$root$prefix/bin/inceptionctl" "$root$sysconfdir/inception/inceptiond.toml" \
  "$root$sysconfdir/default/inceptiond" "$unit" "$root$prefix/share/inception/prometheus/inception.rules.yml" \
  "$root$prefix/share/doc/inception/README.md" "$root$prefix/share/doc/inception/docs/operations.md"; do
  [ -f "$f" ] || fail "not installed: ${f#"$root"}"
done
"$sbin/inceptiond" --version | grep -q '^inceptiond [0-9]' || fail "inceptiond --version"
"$sbin/inceptiond" --check --config "$root$sysconfdir/inception/inceptiond.toml" ||
  fail "the installed configuration does not pass --check"
grep -q "^INCEPTIOND_CONFIG=$sysconfdir/inception/inceptiond.toml$" "$root$sysconfdir/default/inceptiond" ||
  fail "/etc/default/inceptiond names another configuration"
grep -q "^ExecStart=$prefix/sbin/inceptiond " "$unit" || fail "the unit starts another binary"

# Man pages: they render without a single groff warning, and the page of
# each binary names what its own parser knows: every top-level verb of
# inceptionctl (as its completion lists them), every option of inceptiond.
ctl_bin=$root$prefix/bin/inceptionctl
mapfile -t verbs < <("$ctl_bin" __complete | grep -v '^-')
[ ${#verbs[@]} -ge 10 ] || fail "inceptionctl __complete lists ${#verbs[@]} verbs: ${verbs[*]}"
mapfile -t daemon_options < <("$sbin/inceptiond" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u)
[ ${#daemon_options[@]} -ge 5 ] || fail "inceptiond --help lists ${#daemon_options[@]} options"
for page in man1/inceptionctl.1 man8/inceptiond.8; do
  file=$root$prefix/share/man/$page
  [ -f "$file" ] || fail "not installed: ${file#"$root"}"
  warnings=$(groff -man -Tutf8 -ww -z "$file" 2>&1) || fail "groff cannot render $page: $warnings"
  [ -z "$warnings" ] || fail "groff warns about $page: $warnings"
done
text=$(groff -man -Tascii -P-cbou "$root$prefix/share/man/man1/inceptionctl.1")
for verb in "${verbs[@]}"; do
  grep -qw -- "$verb" <<< "$text" || fail "inceptionctl.1 does not mention the verb '$verb'"
done
text=$(groff -man -Tascii -P-cbou "$root$prefix/share/man/man8/inceptiond.8")
for option in "${daemon_options[@]}"; do
  grep -q -- "$option" <<< "$text" || fail "inceptiond.8 does not mention $option"
done

# Bash completion, the way bash calls it: COMP_WORDS and COMP_CWORD in,
# COMPREPLY out; inceptionctl found on PATH as an operator types it.
completion=$root$prefix/share/bash-completion/completions/inceptionctl
[ -f "$completion" ] || fail "not installed: ${completion#"$root"}"
complete_words() {
  PATH="$root$prefix/bin:$PATH" bash -c 'source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _inceptionctl; echo "${COMPREPLY[*]}"' _ "$completion" "$@"
}
got=$(complete_words inceptionctl ne)
[ "$got" = "network neigh" ] || fail "completing 'inceptionctl ne' gives '$got', not 'network neigh'"
got=$(complete_words inceptionctl network "")
[ "$got" = "add show del list" ] || fail "completing 'inceptionctl network ' gives '$got', not 'add show del list'"
got=$(complete_words inceptionctl --socket /tmp/x.sock port add ivm1 --net)
[ "$got" = "--network" ] || fail "completing 'inceptionctl ... port add ivm1 --net' gives '$got', not '--network'"

# systemd-analyze checks that ExecStart's binary exists: verify a copy whose
# paths point into the scratch root. It exits 0 on unknown keys: any remark
# at all fails the test.
sed "s|$prefix/|$root$prefix/|g; s|$sysconfdir/|$root$sysconfdir/|g" "$unit" > "$root/inceptiond.service"
remarks=$(systemd-analyze verify "$root/inceptiond.service" 2>&1) || fail "systemd-analyze verify: $remarks"
[ -z "$remarks" ] || fail "systemd-analyze verify: $remarks"

# The switch with the unit's capabilities only.
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
[ -n "$caps" ] || fail "the unit bounds no capabilities"
bounding="-all"
for cap in $caps; do bounding+=",+$(echo "${cap#CAP_}" | tr 'A-Z' 'a-z')"; done
hugepages=false
[ "$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)" -ge 128 ] && mountpoint -q /dev/hugepages && hugepages=true
ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add u0 type veth peer name u1
ip -n "$ns" link set u0 up
ip -n "$ns" addr add 192.0.2.20/24 dev u1
ip -n "$ns" link set u1 up
ip netns exec "$ns" ethtool -K u1 tx off >/dev/null 2>&1 || true
cat > "$root/switch.toml" <<TOML
[dpdk]
main_core = 0
worker_cores = [1]
memory_mb = 256
hugepages = $hugepages
file_prefix = "$ns-switch"
[control]
socket = "$root/ctl.sock"
[metrics]
enabled = false
[underlay]
device = "net_af_packet0,iface=u0"
address = "192.0.2.10/24"
[[network]]
name = "private"
vni = 1001
TOML
ip netns exec "$ns" setpriv --bounding-set="$bounding" "$sbin/inceptiond" --config "$root/switch.toml" \
  > "$root/switch.log" 2>&1 &
pid=$!
ctl() { "$root$prefix/bin/inceptionctl" --socket "$root/ctl.sock" "$@"; }
for _ in $(seq 1 300); do
  ctl network list >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || fail "inceptiond exited with the unit's capabilities ($caps): $(tail -5 "$root/switch.log")"
  sleep 0.1
done
ctl network list >/dev/null || fail "inceptiond does not answer: $(tail -5 "$root/switch.log")"
ctl port add k1 --type kernel --network private >/dev/null || fail "kernel port: $(tail -3 "$root/switch.log")"
ip -n "$ns" link show k1 >/dev/null || fail "the kernel port's TAP does not exist"
# A datagram to the VTEP address makes the kernel ask ARP over u1: the
# switch reads it from the packet socket and answers on it.
for _ in $(seq 1 50); do
  ip netns exec "$ns" socat -u - UDP4-SENDTO:192.0.2.10:4789 <<< "probe" 2>/dev/null || true
  ip -n "$ns" neigh show 192.0.2.10 dev u1 | grep -q lladdr && break
  sleep 0.1
done
ip -n "$ns" neigh show 192.0.2.10 dev u1 | grep -q lladdr ||
  fail "no ARP answer for the VTEP over af_packet: $(tail -5 "$root/switch.log")"
echo "install test: layout, --check, man pages, completion, systemd-analyze verify and a switch with only $caps (hugepages=$hugepages): OK"
