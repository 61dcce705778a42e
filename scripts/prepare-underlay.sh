#!/usr/bin/env bash
# Prepares a kernel interface to be the underlay NIC of inceptiond through a
# packet socket (net_af_packet / net_af_xdp). The switch reads every frame
# the interface receives; the kernel must not answer them too, or the rVM
# replies twice (the weak-host model accepts its address on any interface)
# and ARP answers come from two places.
#
#   scripts/prepare-underlay.sh IFACE
#
# After it, give the rVM's address and routes to the switch's host interface
# ([underlay] host_interface, "inc-host" by default) instead of IFACE.
set -euo pipefail
iface=${1:?usage: prepare-underlay.sh IFACE}
[ -e "/sys/class/net/$iface" ] || { echo "prepare-underlay: no interface $iface" >&2; exit 1; }
# Strict reverse-path filtering drops what arrives on IFACE for addresses
# routed through the host interface; ARP is answered only for addresses on
# IFACE itself (none); no IPv6 of the kernel's own on the wire.
sysctl -qw "net.ipv4.conf.$iface.rp_filter=1" "net.ipv4.conf.$iface.arp_ignore=1" \
  "net.ipv6.conf.$iface.disable_ipv6=1"
# A packet socket sees a locally generated frame before its checksum is
# filled in (CHECKSUM_PARTIAL): have the kernel complete checksums.
ethtool -K "$iface" tx off >/dev/null 2>&1 || true
ip link set "$iface" up
