#!/usr/bin/env bash
# Builds inceptiond's Debian package (docs/packaging.md): `meson install`
# into a staging root, then DEBIAN/ (control, conffiles, maintainer scripts)
# and dpkg-deb. The meson install rules are the one list of what an rVM
# gets; a debian/ directory with debhelper would be a second one.
#
#   scripts/package.sh                      release build in build-package/, .deb in build-package/deb/
#   scripts/package.sh --build-dir DIR      package an existing build (its prefix must be /usr)
#   scripts/package.sh --output DIR         where the .deb goes
#   scripts/package.sh --version VERSION    package version (default: meson's project version)
#
# Prints the .deb's path on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
source_root=$PWD
build=
output=
version=
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build=$2; shift 2 ;;
    --output) output=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    *) echo "package: unknown argument '$1' (see the head of $0)" >&2; exit 2 ;;
  esac
done
fail() { echo "package: $*" >&2; exit 1; }

if [ -z "$build" ]; then
  build="build-package"
  [ -d "$build" ] || meson setup "$build" --buildtype=release --prefix=/usr -Dtests=false -Dguest_tests=false
  ninja -C "$build" >&2
fi
build=$(cd "$build" && pwd)
output=${output:-$build/deb}
mkdir -p "$output"
output=$(cd "$output" && pwd)

option() {
  meson introspect "$build" --buildoptions |
    python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"]==sys.argv[1]))' "$1"
}
# Debian's layout: binaries under /usr, configuration under /etc (meson
# puts sysconfdir at /etc when the prefix is /usr).
[ "$(option prefix)" = /usr ] ||
  fail "$build installs under $(option prefix); a package installs under /usr (meson configure $build -Dprefix=/usr)"
[ "$(option sysconfdir)" = /etc ] || fail "$build's sysconfdir is $(option sysconfdir), not /etc"
version=${version:-$(meson introspect "$build" --projectinfo | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')}
arch=$(dpkg --print-architecture)
package=inception

work=$(mktemp -d /tmp/inception-package-XXXXXX)
trap 'rm -rf "$work"' EXIT
stage=$work/stage
meson install -C "$build" --destdir "$stage" --no-rebuild --quiet >/dev/null
# As debhelper would: binaries stripped (debug info is most of their size),
# man pages compressed.
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/sbin/inceptiond" \
  "$stage/usr/bin/inceptionctl"
gzip -9n "$stage"/usr/share/man/man*/*

# Runtime dependencies: dpkg-shlibdeps maps the libraries the binaries link
# to the Debian packages that ship them, at the versions their symbols need.
# It wants a debian/control naming the package.
mkdir -p "$work/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$package" "$package" > "$work/debian/control"
shlibs=$(cd "$work" && dpkg-shlibdeps -O -e"$stage/usr/sbin/inceptiond" -e"$stage/usr/bin/inceptionctl" 2>&1) ||
  fail "dpkg-shlibdeps: $shlibs"
shlibs=$(sed -n 's/^shlibs:Depends=//p' <<< "$shlibs")
[ -n "$shlibs" ] || fail "dpkg-shlibdeps found no dependency"
# What the binaries do not link but DPDK's EAL loads at start-up from its
# driver directory, so dpkg-shlibdeps cannot see it: the buses, the mempool
# handler every packet pool needs, and the drivers of the port types
# (kernel ports: net_tap; the underlay NIC: net_af_packet).
# init-system-helpers: deb-systemd-helper in the maintainer scripts.
plugins="librte-bus-vdev23, librte-bus-pci23, librte-mempool-ring23, librte-net-tap23, librte-net-af-packet23"
depends="$shlibs, $plugins, init-system-helpers"

mkdir -p "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<EOF
Package: $package
Version: $version
Architecture: $arch
Maintainer: Inception dataplane <inception@localhost>
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $depends
Recommends: librte-net-af-xdp23
Suggests: prometheus, bash-completion
Section: net
Priority: optional
Description: DPDK virtual switch for nested clouds
 inceptiond switches the traffic of the nested guests on a rented VM over
 vhost-user ports and of the host's stack over kernel (TAP) ports, keeps
 isolated L2 networks apart and stretches them across rented VMs as VXLAN
 overlays, with floating IPs and SNAT. inceptionctl configures it live; a
 Prometheus endpoint exports its counters.
EOF
# Everything under /etc is the operator's: dpkg keeps their edits on upgrade.
(cd "$stage" && find etc -type f | sed 's|^|/|' | sort) > "$stage/DEBIAN/conffiles"
for script in postinst prerm postrm; do
  install -m 0755 "$source_root/deploy/debian/$script" "$stage/DEBIAN/$script"
done

deb=$output/${package}_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$stage" "$deb" >/dev/null
echo "$deb"
