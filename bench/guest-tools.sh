#!/bin/sh
# Used by the benchmarks: an archive of tools for the guest's root that
# its initramfs does not carry: bash (from this machine) and Debian's
# driverctl (its script, from the package, fetched with apt-get download).
# usage: bench/guest-tools.sh OUT.cpio   (prints what it could not add)
set -eu
out=${1:?usage: guest-tools.sh OUT.cpio}
work=$(mktemp -d "${TMPDIR:-/tmp}/vh-tools.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
root=$work/root
mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/etc/driverctl.d"
cp -L "$(command -v bash)" "$root/usr/bin/bash"
# bash's libraries, every one ldd names, under /usr (the guest's /lib and
# /lib64 are links to /usr/lib and /usr/lib64)
ldd "$(command -v bash)" | awk '/=>/ { print $3 } /^\t\// { print $1 }' | while read -r lib; do
	[ -f "$lib" ] || continue
	case $lib in /usr/*) dest=$lib ;; *) dest=/usr$lib ;; esac
	mkdir -p "$root$(dirname "$dest")"
	cp -L "$lib" "$root$dest"
done
deb=""
if (cd "$work" && apt-get download driverctl >/dev/null 2>&1); then
	deb=$(ls "$work"/driverctl_*.deb)
	dpkg-deb -x "$deb" "$work/dctl"
	cp "$work/dctl/usr/sbin/driverctl" "$root/usr/sbin/driverctl"
else
	echo "guest-tools.sh: no driverctl (apt-get download driverctl failed): its figures are left out" >&2
fi
(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet) >"$out"
