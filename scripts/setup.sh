#!/usr/bin/env bash
# Prepares a Debian 12 machine for inceptiond: packages, hugepages. Needs root.
# Idempotent; skips apt when everything is already installed.
#
#   scripts/setup.sh            build and run dependencies
#   scripts/setup.sh --tests    plus what the tests use (QEMU, ping, socat, clang, ...)
#   scripts/setup.sh --perf     plus the references perf/bench.py measures
#                               against (testpmd, OVS-DPDK), matplotlib, perf
set -euo pipefail

build_packages=(
  meson ninja-build pkg-config g++
  libdpdk-dev dpdk
  libtomlplusplus-dev prometheus-cpp-dev libvirt-dev libxml2-dev
  libcli11-dev nlohmann-json3-dev libfmt-dev libcurl4-openssl-dev libsystemd-dev
  libgtest-dev libgmock-dev
  # The man pages are help2man's reading of the built binaries' --help.
  help2man
)
test_packages=(
  iproute2 iputils-ping tcpdump ethtool iperf3 socat curl procps iptables
  qemu-system-x86 busybox-static cpio
  # A real libvirtd (started privately by the libvirt tests, never as a
  # service) and virsh.
  libvirt-daemon-system libvirt-clients
  clang-tidy cppcheck clang-format
  # The sanitizer build and the fuzz harnesses (scripts/sanitize-build.sh):
  # clang 14, its sanitizer and libFuzzer runtimes, llvm-symbolizer for
  # readable reports.
  clang libclang-rt-14-dev llvm
  # Cluster mode's tests start a private etcd (never the packaged service).
  etcd-server etcd-client
  # promtool and a private Prometheus for deploy/prometheus's rules.
  prometheus
  # A terminal for `inceptionctl top`'s test.
  tmux
  # groff: the install test renders the man pages.
  groff-base
  # The package suite: dpkg-shlibdeps (scripts/package.sh) and a clean
  # Debian 12 root to install the .deb in.
  dpkg-dev mmdebstrap
)

perf_packages=(
  dpdk-dev openvswitch-switch-dpdk python3-matplotlib linux-perf iproute2
)

packages=("${build_packages[@]}")
case "${1:-}" in
  "") ;;
  --tests) packages+=("${test_packages[@]}") ;;
  --perf) packages+=("${perf_packages[@]}") ;;
  *) echo "setup: unknown option '$1' (expected --tests or --perf)" >&2; exit 2 ;;
esac

if [ "$(id -u)" != 0 ]; then
  echo "setup: run as root (it installs packages and mounts hugepages)" >&2
  exit 1
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Hugepages: 1 GiB of 2 MiB pages for the switch (and perf runs).
mkdir -p /dev/hugepages
mountpoint -q /dev/hugepages || mount -t hugetlbfs nodev /dev/hugepages
if [ "$(cat /proc/sys/vm/nr_hugepages)" -lt 512 ]; then
  echo 1024 > /proc/sys/vm/nr_hugepages
fi
echo "setup: done ($(grep HugePages_Free /proc/meminfo | awk '{print $2}') free hugepages)"
