#!/bin/sh
# /init of the vfio-handover test guest (busybox sh, PID 1).
#
# Mounts the kernel filesystems, brings the PCI drivers up either the way
# udev does (vh.udev=1 on the kernel command line: systemd-udevd plus a
# coldplug trigger) or without any daemon (every PCI function's modalias
# handed to the real modprobe, which is what udev's 80-drivers.rules would
# do), then runs /scenario.sh, prints "VH-SCENARIO-EXIT <code>" and powers
# the machine off.  Built into the initramfs by tests/vm/guest.sh.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin
HOME=/root
TERM=dumb
export PATH HOME TERM

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
# (no tmpfs on /tmp: the root is already in memory, and an install tree
# with a prefix under /tmp, as make distcheck's, lives there)
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null

# The console belongs to the scenario: kernel messages go to dmesg only
# (vh.verbose=1 keeps them on the console).
udev=0
verbose=0
for arg in $(cat /proc/cmdline); do
	case $arg in
	vh.udev=1) udev=1 ;;
	vh.verbose=1) verbose=1 ;;
	esac
done
[ "$verbose" = 1 ] || dmesg -n 1
hostname vh-guest

# Like systemd-modules-load on a Debian host: the modules of modules-load.d,
# one name per line, with the real kmod (which reads modprobe.d).
for conf in /etc/modules-load.d/*.conf; do
	[ -f "$conf" ] || continue
	# shellcheck disable=SC2046
	/usr/sbin/modprobe -a -b $(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$conf") ||
		echo "vh-init: modules-load: $conf did not load" >&2
done

if [ "$udev" = 1 ]; then
	if [ -x /usr/lib/systemd/systemd-udevd ]; then
		/usr/lib/systemd/systemd-udevd --daemon --resolve-names=never
		udevadm trigger --type=subsystems --action=add
		udevadm trigger --type=devices --action=add
		udevadm settle --timeout=60
	else
		echo "vh-init: this initramfs has no systemd-udevd" >&2
		echo "VH-SCENARIO-EXIT 77"
		printf '\000' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
		poweroff -f
	fi
else
	# shellcheck disable=SC2046
	/usr/sbin/modprobe -a -q -b $(cat /sys/bus/pci/devices/*/modalias) 2>/dev/null
fi

echo "VH-GUEST-READY uptime=$(cut -d' ' -f1 /proc/uptime)s udev=$udev kernel=$(uname -r)"
cd /
if [ -f /scenario.sh ]; then
	sh /scenario.sh
	rc=$?
else
	echo "vh-init: no /scenario.sh in the initramfs" >&2
	rc=99
fi
echo "VH-SCENARIO-EXIT $rc"
# QEMU's isa-debug-exit port ends the machine at once; a power-off is the
# fallback, and should even that return, PID 1 exiting panics the kernel,
# which ends QEMU too (panic=-1, -no-reboot).
printf '\000' | dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
poweroff -f
exit "$rc"
