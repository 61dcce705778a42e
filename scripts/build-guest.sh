#!/usr/bin/env bash
# Builds the tiny nested guest (iVM) the end-to-end tests boot under QEMU:
# a Debian cloud kernel and a busybox initramfs whose /init loads the virtio
# drivers, configures eth0 from the kernel command line and gives a shell on
# the serial console.
#
#   scripts/build-guest.sh [OUT_DIR]      (default: build/guest)
#
# Kernel command-line words read by /init:
#   inc_ip=ADDR/PREFIX    address of eth0
#   inc_name=NAME         printed in the ready marker
# Markers on the console: "INCEPTION-GUEST-READY NAME MAC"; after it, each line
# written to the console is run by the shell (eval), output on the console.
set -euo pipefail

out=${1:-build/guest}
mkdir -p "$out"
out=$(cd "$out" && pwd)
stamp="$out/.built-from-$(sha256sum "$0" | cut -c1-16)"
if [ -f "$stamp" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.gz" ]; then
  echo "guest image up to date in $out ($(cat "$out/kernel-version"))"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The meta package moves with Debian point releases; resolve it once and
# record which kernel the image holds.
pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
[ -n "$pkg" ] || { echo "build-guest: cannot resolve linux-image-cloud-amd64 (apt-get update?)" >&2; exit 1; }
(cd "$work" && apt-get download "$pkg" >/dev/null 2>&1) || { echo "build-guest: apt-get download $pkg failed" >&2; exit 1; }
dpkg -x "$work"/linux-image-*.deb "$work/kernel"
kver=$(ls "$work/kernel/lib/modules")
cp "$work/kernel/boot/vmlinuz-$kver" "$out/vmlinuz"

root="$work/root"
mkdir -p "$root"/{bin,proc,sys,dev,tmp,lib/modules}
[ -x /bin/busybox ] || { echo "build-guest: busybox-static is not installed" >&2; exit 1; }
cp /bin/busybox "$root/bin/busybox"
# Debian builds virtio as modules and busybox insmod resolves no
# dependencies: this is the load order.
modules="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover net_failover virtio_net"
for m in $modules; do
  f=$(find "$work/kernel/lib/modules/$kver" -name "$m.ko" | head -1)
  [ -n "$f" ] || { echo "build-guest: module $m not found in $pkg" >&2; exit 1; }
  cp "$f" "$root/lib/modules/"
done

cat > "$root/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $modules; do insmod /lib/modules/\$m.ko; done
ip=; name=guest
for word in \$(cat /proc/cmdline); do
  case "\$word" in
    inc_ip=*) ip=\${word#inc_ip=} ;;
    inc_name=*) name=\${word#inc_name=} ;;
  esac
done
ip link set lo up
ip link set eth0 up
[ -n "\$ip" ] && ip addr add "\$ip" dev eth0
# A command loop on the console rather than an interactive shell as PID 1:
# no job control, no prompt, no terminal games, and nothing a finished
# background job can do to end PID 1 (which would panic the guest).
exec 0</dev/console 1>/dev/console 2>&1
stty -echo 2>/dev/null
echo "INCEPTION-GUEST-READY \$name \$(cat /sys/class/net/eth0/address)"
while :; do
  while read -r line; do eval "\$line"; done
  sleep 1
done
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -H newc -o --quiet | gzip -9) > "$out/initrd.gz"
echo "$pkg" > "$out/kernel-version"
rm -f "$out"/.built-from-*
touch "$stamp"
echo "guest image built in $out ($pkg)"
