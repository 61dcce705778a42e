#!/usr/bin/env bash
# The Debian package on a clean Debian 12, the way an operator installs it:
#   scripts/package.sh on this build -> a minbase bookworm root
#   (mmdebstrap, from the machine's Debian mirror) -> `apt-get install
#   ./inception.deb` inside it, so every dependency comes from Debian ->
#   inceptiond --version, --check of the packaged configuration,
#   inceptionctl --help, the man page, the unit enabled by the maintainer
#   scripts, /etc files registered as conffiles -> the packaged switch
#   started there on the packaged configuration (DPDK's own prefix, no
#   hugepages, a network namespace) with a kernel port -> an upgrade to a newer
#   version keeps an edited configuration -> apt-get remove keeps the
#   configuration, purge removes it and the unit's symlink.
#
#   tests/package_test.sh BUILD_DIR        (meson test package)
#
# The bookworm root is cached as BUILD_DIR/package/bookworm-minbase.tar and
# the downloaded packages in BUILD_DIR/package/apt-archives; each run
# unpacks a fresh root from the tarball. INCEPTION_DEBIAN_MIRROR overrides
# the mirror (default http://deb.debian.org/debian).
set -euo pipefail
source_root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$1" && pwd)
mirror=${INCEPTION_DEBIAN_MIRROR:-http://deb.debian.org/debian}
fail() { echo "package test: $*" >&2; exit 1; }

prefix=$(meson introspect "$build" --buildoptions |
  python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"))')
if [ "$prefix" != /usr ]; then
  # scripts/test.sh sets its build up with --prefix=/usr; an older build/
  # cannot be packaged without reconfiguring it.
  echo "package test: skipped, $build installs under $prefix (meson configure $build -Dprefix=/usr)"
  exit 77
fi

cache=$build/package
mkdir -p "$cache/apt-archives/partial"
root=$(mktemp -d "$cache/root-XXXXXX")
ns="${INCEPTION_NS_PREFIX:-inct}-package"
cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  rm -rf --one-file-system "$root"
}
trap cleanup EXIT

start=$SECONDS
deb=$("$source_root/scripts/package.sh" --build-dir "$build" --output "$cache" | tail -n 1)
version=$(dpkg-deb --field "$deb" Version)
newer=$("$source_root/scripts/package.sh" --build-dir "$build" --output "$cache" --version "$version+upgrade1" |
  tail -n 1)
echo "package test: built $(basename "$deb") and $(basename "$newer") in $((SECONDS - start)) s"

if [ ! -f "$cache/bookworm-minbase.tar" ]; then
  start=$SECONDS
  mmdebstrap --quiet --variant=minbase --mode=root --format=tar bookworm "$cache/bookworm-minbase.tar.part" \
    "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
    "deb ${mirror%/debian}/debian-security bookworm-security main"
  mv "$cache/bookworm-minbase.tar.part" "$cache/bookworm-minbase.tar"
  echo "package test: bookworm minbase root made in $((SECONDS - start)) s"
fi
tar -C "$root" -xf "$cache/bookworm-minbase.tar"
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp "$deb" "$newer" "$root/tmp/"

# Runs a shell command inside the root, in mount and PID namespaces of its
# own: /proc, /dev, /sys and the package cache vanish with it, and so does
# every process it started, even on a failure. --netns NS: in that network
# namespace.
in_root() {
  local netns=()
  if [ "$1" = --netns ]; then netns=(ip netns exec "$2"); shift 2; fi
  # shellcheck disable=SC2016 # expanded by the sh inside, on its arguments
  "${netns[@]}" unshare --mount --propagation private --pid --fork -- sh -c '
    root=$1 archives=$2; shift 2
    mount -t proc proc "$root/proc" && mount --rbind /dev "$root/dev" && mount --rbind /sys "$root/sys" &&
      mount --bind "$archives" "$root/var/cache/apt/archives" &&
      exec chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive sh -c "$1"
  ' in_root "$root" "$cache/apt-archives" "$1"
}
apt_quiet="-q -o Dpkg::Use-Pty=0 -o APT::Keep-Downloaded-Packages=true"

start=$SECONDS
in_root "apt-get $apt_quiet update >/dev/null" || fail "apt-get update in the bookworm root"
log=$(in_root "apt-get $apt_quiet install -y /tmp/$(basename "$deb") 2>&1") ||
  fail "apt-get install of the package in a clean bookworm root: $(tail -n 20 <<< "$log")"
echo "package test: installed with its dependencies from Debian in $((SECONDS - start)) s"

in_root "inceptiond --version" | grep -qx "inceptiond ${version%%[-+~]*}" ||
  fail "inceptiond --version in the root: $(in_root 'inceptiond --version' 2>&1)"
out=$(in_root "inceptiond --check --config /etc/inception/inceptiond.toml" 2>&1) ||
  fail "inceptiond --check of the packaged configuration: $out"
grep -q "configuration OK" <<< "$out" || fail "inceptiond --check says: $out"
out=$(in_root "inceptionctl --help" 2>&1) || fail "inceptionctl --help: $out"
grep -qw network <<< "$out" || fail "inceptionctl --help lists no network verb: $out"
[ -f "$root/usr/share/man/man8/inceptiond.8.gz" ] || fail "no man page for inceptiond"
[ -f "$root/usr/share/bash-completion/completions/inceptionctl" ] || fail "no bash completion for inceptionctl"
# deb-systemd-helper enabled the unit without a running systemd.
[ -L "$root/etc/systemd/system/multi-user.target.wants/inceptiond.service" ] ||
  fail "postinst did not enable inceptiond.service"
conffiles=$(in_root "dpkg-query --showformat='\${Conffiles}' --show inception")
for f in /etc/inception/inceptiond.toml /etc/default/inceptiond; do
  grep -q "^ $f [0-9a-f]\{32\}$" <<< "$conffiles" || fail "$f is not a conffile: $conffiles"
done

# The switch itself: it starts only if every DPDK driver the EAL loads (the
# buses, the mempool handler, net_tap for the kernel port) came with the
# package's dependencies.
ip netns add "$ns"
ip -n "$ns" link set lo up
sed -e "s/^file_prefix = .*/file_prefix = \"$ns\"/" -e 's/^hugepages = true .*/hugepages = false/' \
  "$root/etc/inception/inceptiond.toml" > "$root/tmp/switch.toml"
grep -q "^file_prefix = \"$ns\"" "$root/tmp/switch.toml" || fail "the packaged configuration has no file_prefix line"
# shellcheck disable=SC2016 # a script for the sh inside the root
out=$(in_root --netns "$ns" '
  mkdir -p /run/inception
  inceptiond --config /tmp/switch.toml 2> /tmp/switch.log &
  switch=$!
  for i in $(seq 1 300); do
    inceptionctl network list >/dev/null 2>&1 && break
    kill -0 $switch 2>/dev/null || break
    sleep 0.1
  done
  inceptionctl port add k1 --type kernel --network private && inceptionctl port list
  status=$?
  kill -TERM $switch && wait $switch && echo stopped
  cat /tmp/switch.log
  exit $status' 2>&1) || fail "the packaged switch in the root: $out"
grep -q "^k1 .*private" <<< "$out" || fail "the packaged switch has no kernel port k1: $out"
grep -q "^stopped$" <<< "$out" || fail "the packaged switch did not stop on SIGTERM: $out"
echo "package test: the packaged switch ran in the root with a kernel port"

# Upgrade: the operator's edit survives a newer package that ships the
# same file (dpkg would replace a file that is not a conffile).
echo "# edited by the package test" >> "$root/etc/inception/inceptiond.toml"
log=$(in_root "apt-get $apt_quiet install -y /tmp/$(basename "$newer") 2>&1") ||
  fail "upgrade to $(basename "$newer"): $(tail -n 20 <<< "$log")"
[ "$(in_root "dpkg-query --showformat='\${Version}' --show inception")" = "$version+upgrade1" ] ||
  fail "the upgrade did not install $version+upgrade1"
grep -q "^# edited by the package test$" "$root/etc/inception/inceptiond.toml" ||
  fail "the upgrade overwrote the edited /etc/inception/inceptiond.toml"

# Remove keeps the configuration; purge takes it and the unit's symlinks.
log=$(in_root "apt-get $apt_quiet remove -y inception 2>&1") || fail "apt-get remove: $(tail -n 20 <<< "$log")"
[ ! -e "$root/usr/sbin/inceptiond" ] || fail "apt-get remove left /usr/sbin/inceptiond"
status=$(in_root "dpkg-query --showformat='\${Status}' --show inception")
[ "$status" = "deinstall ok config-files" ] || fail "after apt-get remove the package is '$status'"
grep -q "^# edited by the package test$" "$root/etc/inception/inceptiond.toml" ||
  fail "apt-get remove did not keep the edited configuration"
log=$(in_root "apt-get $apt_quiet purge -y inception 2>&1") || fail "apt-get purge: $(tail -n 20 <<< "$log")"
[ ! -e "$root/etc/inception/inceptiond.toml" ] || fail "apt-get purge left /etc/inception/inceptiond.toml"
[ ! -e "$root/etc/systemd/system/multi-user.target.wants/inceptiond.service" ] ||
  fail "apt-get purge left the unit enabled"
echo "package test: install, --version, --check, conffiles, upgrade, remove and purge in a clean bookworm root: OK"
