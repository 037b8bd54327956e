#!/bin/bash
# tests/vm/guest.sh: build and boot the QEMU test guest of vfio-handover.
#
# The guest is Debian's own kernel (the package linux-image-amd64 points at,
# downloaded once with apt-get and cached outside the source tree) on an
# emulated q35 machine with an Intel IOMMU and fake multi-function GPUs,
# running an initramfs of busybox, the real kmod, the few modules the tests
# need, and the project's `make install DESTDIR=` tree.  A scenario script
# is appended to that initramfs as a second cpio archive, so switching
# scenarios costs nothing.  Nothing here touches this machine's /sys: every
# sysfs write happens inside the guest.
#
# Usage:
#   guest.sh kernel                       fetch/extract the kernel; print its paths
#   guest.sh build DESTDIR                build (or reuse) the initramfs; print paths
#   guest.sh run [-d DESTDIR | -k KERNEL -i INITRD] [-u|-n] [-v] SCENARIO.sh [PROFILE]
#                                         boot, run SCENARIO.sh in the guest, print
#                                         its output, exit with its exit code
#   guest.sh shell [-d DESTDIR] [-u] [PROFILE]
#                                         boot to an interactive guest shell
#   guest.sh qemu-args [PROFILE]          print the QEMU device profile
#
#   -d DESTDIR  the install tree (default: $VH_DESTDIR)
#   -k, -i      boot this kernel and initramfs, as `build` printed them,
#               instead of checking the cache (what test-vm.sh does)
#   -u          start systemd-udevd in the guest
#   -n          no udevd: the modules are loaded by modalias (the default,
#               unless the scenario has a "# vh-vm-udev: yes" line)
#   -v          keep kernel messages on the console
#   PROFILE     default (IOMMU on), noiommu, shifted (bus numbers moved
#               by a card in front), or aleph (two more VGA controllers);
#               default: the scenario's
#               "# vh-vm-profile: NAME" line, else "default".
#   A scenario with a "# vh-vm-boots: 2" line runs twice, a reboot: what
#   the first boot carries out (vh_carry) is in the second's root, booted
#   with the "# vh-vm-boot2-profile: NAME" profile if there is one.
#   "# vh-vm-append: WORDS" adds kernel parameters to the (first) boot,
#   "# vh-vm-boot2-append: WORDS" to the second.
#   "# vh-vm-test-module: DIR" builds tests/vm/DIR's module against the
#   guest kernel's linux-headers package and adds it to the guest's module
#   tree and index (SKIP without the headers).
#
# Exit status of run: the scenario's (from the guest's "VH-SCENARIO-EXIT N"
# line); 99 when the guest gave no such line (crash, timeout); 77 when QEMU,
# Debian's kernel package or another host tool cannot be had.
#
# Environment: VH_VM_CACHE (cache dir), VH_VM_TIMEOUT (seconds, default 180),
# VH_VM_MEM (MiB, default 512), VH_VM_KERNEL_DEB (use this .deb instead of
# apt-get download), VH_VM_KERNEL_PKG (the kernel package, default
# linux-image-amd64; a meta-package such as linux-image-6.12-amd64 stands
# for the versioned one it depends on), VH_QEMU (the QEMU binary), VH_VM_APPEND
# (more kernel parameters), VH_VM_EXTRA_CPIO (an archive of more files for
# the guest's root: a benchmark's tools), VH_VM_QEMU_ARGS (more QEMU
# arguments, split at white space: a NIC for tests/ansible), VH_VM_ACCEL (kvm or tcg: no probe of /dev/kvm),
# VH_VM_CPU (QEMU's -cpu under KVM, default host), VH_VM_HEADERS (the
# kernel headers a test module is built against, default
# /usr/src/linux-headers-KERNEL).
set -euo pipefail
# depmod lives in /sbin, outside a user's PATH
PATH=$PATH:/usr/sbin:/sbin

VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${VH_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vfio-handover-vm}
QEMU=${VH_QEMU:-qemu-system-x86_64}
TIMEOUT=${VH_VM_TIMEOUT:-180}
MEM=${VH_VM_MEM:-512}

# Modules in the guest, with what modprobe says they depend on.
GUEST_MODULES="vfio-pci vfio_iommu_type1 bochs snd-hda-intel snd-hda-codec-generic e1000e"

skip() { echo "guest.sh: SKIP: $*" >&2; exit 77; }
fail() { echo "guest.sh: $*" >&2; exit 99; }
note() { echo "guest.sh: $*" >&2; }

need_tool() {	# TOOL PACKAGE
	command -v "$1" >/dev/null 2>&1 || skip "$1 not found (apt-get install $2)"
}

unlock_cache() { exec 9>&-; }

lock_cache() {
	mkdir -p "$CACHE"
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$CACHE/.lock"
		flock 9
	fi
}

# ---------------------------------------------------------------- profile --
# The QEMU machine every scenario shares.  Root ports sit at fixed slots of
# bus 0 so the guest's bus numbers come out the same on every boot (GPU A
# 01:00, B 02:00, C 03:00), though the scenarios find them from sysfs.
#   00:01.0        VGA (1234:1111), the boot console (boot_vga = 1)
#   rp1 00:10.0 -> GPU A: secondary-vga .0 (class 0380, bochs-drm)
#                         + ich9-intel-hda .1 with an hda-duplex codec
#   rp2 00:11.0 -> GPU B: identical to A
#   rp3 00:12.0 -> GPU C: as A, plus an e1000e NIC as .2 (same IOMMU group)
# Profile "shifted" adds rp9 00:0f.0 -> an e1000e, enumerated first: it
# takes bus 01 and the GPUs move to 02, 03, 04 (physical slots 1, 2, 3 stay).
# Profile "aleph" adds two VGA controllers (class 0300, as aleph-vm's GPU
# detection wants them) without a driver in the guest: rp4 00:13.0 -> an
# ati-vga (1002, a vendor aleph-vm knows) at 04:00.0, rp5 00:14.0 -> a
# cirrus-vga (1013, one its vendor table raises on) at 05:00.0.
# Profile "variant" adds a single-function GPU D: rp4 00:13.0 -> a
# secondary-vga (1234:1111, bochs-drm) at 04:00.0, alone in its IOMMU group,
# for the VFIO variant driver of tests/vm/variant (a driver named for the
# device takes every function of its slot: D has only the one it matches).
# q35 adds its own ICH9 LPC (1f.0), AHCI (1f.2) and SMBus (1f.3).  The
# ISA debug-exit port (0xf4, no PCI function) lets the guest end QEMU at
# once: a real power-off spends 1.6 s in e1000e's shutdown under TCG.
# shellcheck disable=SC2054  # the commas are QEMU's
profile_args() {	# PROFILE -> QEMU_ARGS[] and KERNEL_IOMMU
	local profile=$1 iommu=yes
	case $profile in
	default|shifted|aleph|variant) ;;
	noiommu) iommu=no ;;
	*) fail "unknown profile '$profile' (default, noiommu, shifted, aleph, variant)" ;;
	esac
	QEMU_ARGS=(-machine q35,kernel-irqchip=split -m "$MEM" -smp 1
		-nodefaults -no-user-config -display none -vga none
		-audiodev none,id=snd0
		-device isa-debug-exit,iobase=0xf4,iosize=0x04)
	KERNEL_IOMMU=""
	if [ "$iommu" = yes ]; then
		QEMU_ARGS+=(-device intel-iommu,intremap=on,caching-mode=on)
		KERNEL_IOMMU="intel_iommu=on"
	fi
	QEMU_ARGS+=(-device VGA,bus=pcie.0,addr=01.0)
	# shifted: a card added in a slot enumerated first takes bus 01, and
	# every GPU's bus number moves up by one; their physical slots do not
	[ "$profile" != shifted ] ||
		QEMU_ARGS+=(-device "pcie-root-port,id=rp9,chassis=9,slot=9,bus=pcie.0,addr=0f.0"
			-device "e1000e,bus=rp9,addr=00.0,romfile=")
	local n
	for n in 1 2 3; do
		QEMU_ARGS+=(-device "pcie-root-port,id=rp$n,chassis=$n,slot=$n,bus=pcie.0,addr=$(printf %x $((n + 15))).0"
			-device "secondary-vga,bus=rp$n,addr=00.0,multifunction=on"
			-device "ich9-intel-hda,id=hda$n,bus=rp$n,addr=00.1"
			-device "hda-duplex,bus=hda$n.0,audiodev=snd0")
	done
	QEMU_ARGS+=(-device "e1000e,bus=rp3,addr=00.2,romfile=")
	[ "$profile" != aleph ] ||
		QEMU_ARGS+=(-device "pcie-root-port,id=rp4,chassis=4,slot=4,bus=pcie.0,addr=13.0"
			-device "ati-vga,bus=rp4,addr=00.0,romfile="
			-device "pcie-root-port,id=rp5,chassis=5,slot=5,bus=pcie.0,addr=14.0"
			-device "cirrus-vga,bus=rp5,addr=00.0,romfile=")
	[ "$profile" != variant ] ||
		QEMU_ARGS+=(-device "pcie-root-port,id=rp4,chassis=4,slot=4,bus=pcie.0,addr=13.0"
			-device "secondary-vga,bus=rp4,addr=00.0")
}

# ----------------------------------------------------------------- kernel --
# Sets KVER, VMLINUZ (what QEMU boots: the uncompressed ELF vmlinux when it
# could be had, see below, else the package's bzImage), KMODROOT (a tree
# holding usr/lib/modules/$KVER with only GUEST_MODULES and their
# dependencies, depmod'ed).
kernel_deb() {	# -> path of the kernel .deb, downloading it if needed
	local pkg meta="" series debs=$CACHE/debs deb why
	mkdir -p "$debs"
	if [ -n "${VH_VM_KERNEL_DEB:-}" ]; then
		[ -f "$VH_VM_KERNEL_DEB" ] || skip "VH_VM_KERNEL_DEB=$VH_VM_KERNEL_DEB: no such file"
		echo "$VH_VM_KERNEL_DEB"
		return
	fi
	pkg=${VH_VM_KERNEL_PKG:-linux-image-amd64}
	# a meta-package (linux-image-amd64, linux-image-6.12-amd64): the
	# versioned package it depends on
	case $pkg in
	linux-image-amd64 | linux-image-[0-9]*.[0-9]*-amd64)
		meta=$pkg
		pkg=""
		command -v apt-cache >/dev/null 2>&1 &&
			pkg=$(apt-cache depends "$meta" 2>/dev/null |
				sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n 1)
		# remembered for a run without apt's lists
		if [ -n "$pkg" ]; then
			echo "$pkg" >"$debs/$meta.resolved"
		elif [ -f "$debs/$meta.resolved" ]; then
			pkg=$(cat "$debs/$meta.resolved")
		fi
		;;
	esac
	if [ -n "$pkg" ]; then
		deb=$(ls -t "$debs/${pkg}_"*_amd64.deb 2>/dev/null | head -n 1 || true)
		if [ -z "$deb" ] && command -v apt-get >/dev/null 2>&1; then
			note "downloading $pkg into $debs"
			(cd "$debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2) ||
				note "apt-get download $pkg failed"
			deb=$(ls -t "$debs/${pkg}_"*_amd64.deb 2>/dev/null | head -n 1 || true)
		fi
		[ -n "$deb" ] && { echo "$deb"; return; }
		why="apt-get download $pkg failed"
	else
		why="apt knows no $meta (run apt-get update)"
	fi
	# Offline, and no package known for the meta-package: a kernel of its
	# series cached before (any at all for linux-image-amd64)
	series=linux-image-
	case $meta in linux-image-[0-9]*) series=${meta%-amd64}. ;; esac
	deb=$(ls -t "$debs/$series"*_amd64.deb 2>/dev/null | head -n 1 || true)
	[ -n "$deb" ] && { note "using the cached $(basename "$deb")"; echo "$deb"; return; }
	skip "no Debian kernel package: $why, and none is cached in $debs"
}

kernel_prepare() {
	need_tool dpkg-deb dpkg
	need_tool depmod kmod
	need_tool modprobe kmod
	local deb kdir stamp want tmp ver m paths
	deb=$(kernel_deb)
	ver=$(dpkg-deb -f "$deb" Package)
	ver=${ver#linux-image-}
	ver=${ver%-unsigned}
	KVER=$ver
	kdir=$CACHE/kernel-$KVER
	want="2 $(basename "$deb") $GUEST_MODULES"
	stamp=$kdir/stamp
	KMODROOT=$kdir/root
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
		VMLINUZ=$(cat "$kdir/boot-image")
		return
	fi
	note "extracting $(basename "$deb")"
	rm -rf "$kdir"
	tmp=$CACHE/extract.$$
	rm -rf "$tmp"
	# shellcheck disable=SC2064 # the local's value, now: the trap runs outside
	trap "rm -rf '$tmp'" EXIT
	mkdir -p "$tmp" "$kdir"
	dpkg-deb -x "$deb" "$tmp"
	[ -f "$tmp/boot/vmlinuz-$KVER" ] || fail "$(basename "$deb") has no boot/vmlinuz-$KVER"
	[ -d "$tmp/lib/modules/$KVER" ] || fail "$(basename "$deb") has no lib/modules/$KVER"
	depmod -b "$tmp" "$KVER"
	paths=""
	for m in $GUEST_MODULES; do
		paths="$paths $(modprobe -d "$tmp" -S "$KVER" --show-depends "$m" |
			sed -n 's/^insmod \([^ ]*\).*/\1/p')" ||
			fail "kernel $KVER has no module $m"
	done
	mkdir -p "$KMODROOT/usr/lib/modules/$KVER"
	for m in $(printf '%s\n' $paths | sort -u); do
		m=${m#"$tmp/lib/modules/$KVER/"}
		mkdir -p "$KMODROOT/usr/lib/modules/$KVER/$(dirname "$m")"
		cp "$tmp/lib/modules/$KVER/$m" "$KMODROOT/usr/lib/modules/$KVER/$m"
	done
	for m in modules.builtin modules.builtin.modinfo modules.order; do
		[ -f "$tmp/lib/modules/$KVER/$m" ] && cp "$tmp/lib/modules/$KVER/$m" "$KMODROOT/usr/lib/modules/$KVER/"
	done
	depmod -b "$KMODROOT/usr" "$KVER"
	cp "$tmp/boot/vmlinuz-$KVER" "$kdir/vmlinuz"
	cp "$tmp/boot/config-$KVER" "$kdir/config"
	VMLINUZ=$kdir/vmlinuz
	if grep -q '^CONFIG_PVH=y' "$kdir/config" && extract_vmlinux "$kdir/vmlinuz" >"$kdir/vmlinux"; then
		VMLINUZ=$kdir/vmlinux
	else
		rm -f "$kdir/vmlinux"
		note "booting the compressed bzImage: slower under TCG"
	fi
	echo "$VMLINUZ" >"$kdir/boot-image"
	rm -rf "$tmp"
	trap - EXIT
	echo "$want" >"$stamp"
}

# The ELF vmlinux inside a bzImage, as the kernel's scripts/extract-vmlinux
# finds it.  QEMU boots it through its PVH entry point, which spares the
# guest unpacking the kernel: under TCG that XZ decompression alone takes
# about 4.5 of the 8 seconds a bzImage boot takes.
extract_vmlinux() {	# BZIMAGE -> vmlinux on stdout
	local img=$1 magic tool pos
	for magic in "xz:\3757zXZ" "gzip:\037\213\010" "zstd:\050\265\057\375"; do
		tool=${magic%%:*}
		command -v "$tool" >/dev/null 2>&1 || continue
		for pos in $(LC_ALL=C grep -abo "$(printf "${magic#*:}")" "$img" 2>/dev/null | cut -d: -f1); do
			tail -c +$((pos + 1)) "$img" | "$tool" -dc 2>/dev/null >"$img.elf" || true
			if [ "$(head -c 4 "$img.elf" | tr -d '\177')" = ELF ]; then
				cat "$img.elf"
				rm -f "$img.elf"
				return 0
			fi
		done
	done
	rm -f "$img.elf"
	return 1
}

# -------------------------------------------------------------- initramfs --
copy_libs() {	# ROOT ELF...: copy the shared libraries and loader ELF needs
	local root=$1 f lib
	shift
	for f in "$@"; do
		# (ldd fails on a static binary: nothing to copy then)
		{ ldd "$f" 2>/dev/null || true; } |
			sed -n 's/.*=> \(\/[^ ]*\) (.*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' |
			while read -r lib; do
				[ -e "$root$lib" ] && continue
				mkdir -p "$root$(dirname "$lib")"
				cp -L "$lib" "$root$lib"
			done
	done
}

is_elf() { [ "$(head -c 4 "$1" 2>/dev/null | tr -d '\177')" = ELF ]; }

# Builds $CACHE/initrd-<key>.cpio (uncompressed: TCG unpacks it faster than
# it gunzips) unless one for the same inputs exists.  Sets INITRD.
initrd_build() {	# DESTDIR
	local destdir=$1 key root f a busybox udevd
	local bin
	bin=$(cd "$destdir" && find . -path '*/sbin/vfio-handover' -type f | head -n 1)
	[ -n "$bin" ] || fail "$destdir has no sbin/vfio-handover: give it a 'make install DESTDIR=$destdir' tree"
	need_tool cpio cpio
	need_tool ldd libc-bin
	need_tool flock util-linux
	busybox=$(command -v busybox || true)
	[ -n "$busybox" ] || skip "busybox not found (apt-get install busybox-static)"
	udevd=""
	for f in /usr/lib/systemd/systemd-udevd /lib/systemd/systemd-udevd; do
		[ -x "$f" ] && command -v udevadm >/dev/null 2>&1 && { udevd=$f; break; }
	done
	hwdb_file() { for h in /usr/lib/udev/hwdb.bin /lib/udev/hwdb.bin; do [ -f "$h" ] && { echo "$h"; return; }; done; }
	key=$({
		echo "$KVER $(cat "$CACHE/kernel-$KVER/stamp")"
		declare -f initrd_build copy_libs is_elf
		cat "$VM_DIR/guest-init.sh"
		ls -l "$busybox" "$(command -v kmod)" "$(command -v flock)" ${udevd:+"$(command -v udevadm)"} \
			$(hwdb_file)
		tar -C "$destdir" --sort=name -cf - .
	} | sha256sum | cut -c1-16)
	INITRD=$CACHE/initrd-$key.cpio
	# (touched: the pruning below goes by age, and a reused image is young)
	[ -f "$INITRD" ] && { touch "$INITRD"; return; }
	note "building the initramfs from $destdir"
	root=$CACHE/root.$$
	rm -rf "$root"
	# shellcheck disable=SC2064 # the local's value, now: the trap runs outside
	trap "rm -rf '$root' '$INITRD.tmp'" EXIT
	mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{dev,proc,sys,run,tmp,etc,root,var,mnt}
	ln -s usr/bin "$root/bin"
	ln -s usr/sbin "$root/sbin"
	ln -s usr/lib "$root/lib"
	ln -s usr/lib64 "$root/lib64"
	ln -s ../run "$root/var/run"
	chmod 1777 "$root/tmp"

	# busybox for the shell and the tools, the real kmod for the module ones
	cp -L "$busybox" "$root/usr/bin/busybox"
	copy_libs "$root" "$busybox"
	cp -L "$(command -v kmod)" "$root/usr/bin/kmod"
	copy_libs "$root" "$(command -v kmod)"
	for a in modprobe insmod rmmod lsmod modinfo depmod; do
		ln -s ../bin/kmod "$root/usr/sbin/$a"
	done
	# util-linux's flock, for scenarios that hold a lock of the tool's
	# (busybox has none)
	cp -L "$(command -v flock)" "$root/usr/bin/flock"
	copy_libs "$root" "$(command -v flock)"
	for a in $("$busybox" --list); do
		[ -e "$root/usr/bin/$a" ] || [ -e "$root/usr/sbin/$a" ] || ln -s busybox "$root/usr/bin/$a"
	done

	# systemd-udevd, for the scenarios that want udev running
	if [ -n "$udevd" ]; then
		cp -L "$(command -v udevadm)" "$root/usr/bin/udevadm"
		copy_libs "$root" "$(command -v udevadm)"
		mkdir -p "$root/usr/lib/systemd" "$root/usr/lib/udev/rules.d" "$root/etc/udev"
		ln -s ../../bin/udevadm "$root/usr/lib/systemd/systemd-udevd"
		for d in /usr/lib/udev/rules.d /lib/udev/rules.d; do
			[ -d "$d" ] && cp -n "$d"/*.rules "$root/usr/lib/udev/rules.d/" 2>/dev/null || true
		done
	fi

	# the hwdb, for the names lspci would show (udev or not)
	if [ -n "$(hwdb_file)" ]; then
		mkdir -p "$root/usr/lib/udev"
		cp "$(hwdb_file)" "$root/usr/lib/udev/hwdb.bin"
	fi

	# the kernel's modules
	cp -a "$KMODROOT/usr/lib/modules" "$root/usr/lib/"

	# the project, and what its programs link against
	tar -C "$destdir" -cf - . | tar -C "$root" --keep-directory-symlink -xf -
	# (an if, not "is_elf && copy_libs": a last file that is no ELF would
	# end the loop, and with set -e the build, with status 1)
	find "$destdir" -type f -perm -u+x | while read -r f; do
		if is_elf "$f"; then copy_libs "$root" "$f"; fi
	done

	# /usr/sbin/vfio-handover, whatever the prefix was
	[ -e "$root/usr/sbin/vfio-handover" ] || ln -s "/${bin#./}" "$root/usr/sbin/vfio-handover"

	# the harness
	cp "$VM_DIR/guest-init.sh" "$root/init"
	chmod 0755 "$root/init"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
	# the groups udev's rules name, so that udevd does not complain
	printf '%s\n' root:x:0: tty:x:5: disk:x:6: kmem:x:15: dialout:x:20: cdrom:x:24: \
		tape:x:26: audio:x:29: video:x:44: input:x:101: render:x:102: sgx:x:103: \
		kvm:x:104: >"$root/etc/group"
	: >"$root/etc/fstab"
	ln -s /proc/self/mounts "$root/etc/mtab"

	(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$INITRD.tmp"
	mv "$INITRD.tmp" "$INITRD"
	rm -rf "$root"
	trap - EXIT
	# images unused for a day go: not "all but the newest N", which would
	# take an image from under another checkout's test run (a guest per
	# kernel, several trees tested at once)
	find "$CACHE" -maxdepth 1 -name 'initrd-*.cpio' -mmin +1440 -delete 2>/dev/null || true
}

# ------------------------------------------------------------ test module --
# test_module DIR: an out-of-tree module of tests/vm (DIR holds its Kbuild
# and sources), built against Debian's linux-headers package of the guest's
# kernel (VH_VM_HEADERS, default /usr/src/linux-headers-$KVER), installed in
# the guest's module tree as extra/NAME.ko and depmod'ed there with the
# others, so that the guest's modules.alias and its .bin index have it from
# boot.  Sets MODULE_CPIO: an archive of extra/ and the new index files,
# unpacked over the initramfs; cached per kernel, headers and source.
# Without the headers: SKIP (a failure under CI=true, test-vm.sh).
test_module() {	# DIR
	local dir=$1 name headers key tmp kdir=$CACHE/kernel-$KVER
	name=$(basename "$dir")
	headers=${VH_VM_HEADERS:-/usr/src/linux-headers-$KVER}
	[ -f "$headers/Makefile" ] ||
		skip "no headers of the guest's kernel in $headers, to build the test module $name against: apt-get install linux-headers-$KVER (contrib/install-deps does)"
	need_tool make make
	need_tool gcc gcc
	key=$({
		echo "$KVER $(cat "$kdir/stamp")"
		declare -f test_module
		ls -l --time-style=+%s "$headers/Makefile" "$headers/Module.symvers"
		cat "$dir"/*
	} | sha256sum | cut -c1-16)
	MODULE_CPIO=$kdir/module-$name-$key.cpio
	[ -f "$MODULE_CPIO" ] && return
	note "building the test module $name against $headers"
	tmp=$CACHE/module.$$
	rm -rf "$tmp"
	# shellcheck disable=SC2064 # the local's value, now: the trap runs outside
	trap "rm -rf '$tmp'" EXIT
	mkdir -p "$tmp/src" "$tmp/root/usr/lib/modules"
	cp "$dir"/* "$tmp/src/"
	if ! make -C "$headers" M="$tmp/src" modules >"$tmp/build.log" 2>&1; then
		sed 's/^/guest.sh: make: /' "$tmp/build.log" >&2
		fail "the test module $name did not build against $headers"
	fi
	cp -a "$KMODROOT/usr/lib/modules/$KVER" "$tmp/root/usr/lib/modules/"
	mkdir -p "$tmp/root/usr/lib/modules/$KVER/extra"
	cp "$tmp/src"/*.ko "$tmp/root/usr/lib/modules/$KVER/extra/"
	depmod -b "$tmp/root/usr" "$KVER"
	(cd "$tmp/root" && {
		find "usr/lib/modules/$KVER/extra"
		find "usr/lib/modules/$KVER" -maxdepth 1 -type f -name 'modules.*'
	} | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$MODULE_CPIO.tmp"
	mv "$MODULE_CPIO.tmp" "$MODULE_CPIO"
	rm -rf "$tmp"
	trap - EXIT
}

# ------------------------------------------------------------------- boot --
# boot SCENARIO_FILE PROFILE UDEV VERBOSE LOG [EXTRA_CPIO]: the guest's
# console goes to stdout (and LOG); returns QEMU's exit status.
boot() {
	local scenario=$1 profile=$2 udev=$3 verbose=$4 log=$5 extra=${6:-} work img accel="" append
	need_tool "$QEMU" qemu-system-x86
	work=$(mktemp -d "${TMPDIR:-/tmp}/vh-vm.XXXXXX")
	# the scenario and the scenarios' helpers first, as an archive of their
	# own; the kernel unpacks the two in turn
	mkdir -p "$work/s"
	cp "$scenario" "$work/s/scenario.sh"
	cp "$VM_DIR/guest-lib.sh" "$work/s/vh-lib.sh"
	img=$work/initrd
	(cd "$work/s" && printf '%s\n' scenario.sh vh-lib.sh | cpio -o -H newc -R 0:0 --quiet) >"$img"
	cat "$INITRD" >>"$img"
	# a test module and the module index that has it (test_module)
	[ -z "${MODULE_CPIO:-}" ] || cat "$MODULE_CPIO" >>"$img"
	# files carried over from an earlier boot: unpacked last, they win
	[ -z "$extra" ] || cat "$extra" >>"$img"
	profile_args "$profile"
	# more devices, from the caller (tests/ansible: a NIC with a port forwarded)
	# shellcheck disable=SC2206  # words, split on purpose
	[ -z "${VH_VM_QEMU_ARGS:-}" ] || QEMU_ARGS+=(${VH_VM_QEMU_ARGS})
	accel=${ACCEL:-tcg}
	QEMU_ARGS[1]="${QEMU_ARGS[1]},accel=$accel"
	[ "$accel" != kvm ] || QEMU_ARGS+=(-cpu "${VH_VM_CPU:-host}")
	# (the crypto self-tests take a second of TCG time and test nothing of ours)
	# (no_timer_check: under TCG on a loaded host the kernel's check that the
	# timer interrupt arrives through the remapped IO-APIC can time out, and
	# with interrupt remapping on it panics: "timer doesn't work through
	# Interrupt-remapped IO-APIC", seen in 3 of 10 boots with both cores busy)
	append="console=ttyS0 panic=-1 cryptomgr.notests 8250.nr_uarts=1 no_timer_check $KERNEL_IOMMU"
	append="$append vh.udev=$udev vh.verbose=$verbose ${BOOT_APPEND:-} ${VH_VM_APPEND:-}"
	[ "$verbose" = 1 ] || append="$append quiet"
	local rc=0
	if [ "$log" = - ]; then
		"$QEMU" "${QEMU_ARGS[@]}" -no-reboot -serial mon:stdio \
			-kernel "$VMLINUZ" -initrd "$img" -append "$append" \
			2> >(grep -v 'nic e1000e.[0-9]* has no peer' >&2) || rc=$?
		# 1 is the debug-exit port's "0"
		[ "$rc" != 1 ] || rc=0
	else
		{
			timeout --foreground -k 5 "$TIMEOUT" "$QEMU" "${QEMU_ARGS[@]}" -no-reboot \
				-serial stdio -kernel "$VMLINUZ" -initrd "$img" -append "$append" \
				</dev/null 2>"$work/qemu.err" | tee "$log"
			rc=${PIPESTATUS[0]}
		} || true
		if [ -s "$work/qemu.err" ]; then
			# (the e1000e is deliberately not connected to anything)
			grep -v 'nic e1000e.[0-9]* has no peer' "$work/qemu.err" | sed 's/^/qemu: /' >&2 || true
		fi
	fi
	rm -rf "$work"
	return "$rc"
}

scenario_header() {	# FILE KEY -> value of "# vh-vm-KEY: value"
	sed -n "s/^# vh-vm-$2:[[:space:]]*\([^[:space:]]*\).*/\1/p" "$1" | head -n 1
}
scenario_words() {	# FILE KEY -> the rest of the line "# vh-vm-KEY: words"
	sed -n "s/^# vh-vm-$2:[[:space:]]*//p" "$1" | head -n 1
}

parse_opts() {	# sets DESTDIR UDEV VERBOSE; leaves ARGS
	DESTDIR=${VH_DESTDIR:-}
	VMLINUZ=""
	INITRD=""
	UDEV=""
	VERBOSE=0
	ARGS=()
	while [ $# -gt 0 ]; do
		case $1 in
		-d) DESTDIR=$2; shift ;;
		-k) VMLINUZ=$2; shift ;;
		-i) INITRD=$2; shift ;;
		-u) UDEV=1 ;;
		-n) UDEV=0 ;;
		-v) VERBOSE=1 ;;
		-*) fail "unknown option $1" ;;
		*) ARGS+=("$1") ;;
		esac
		shift
	done
	if [ -n "$VMLINUZ" ] || [ -n "$INITRD" ]; then
		[ -f "$VMLINUZ" ] && [ -f "$INITRD" ] || fail "-k and -i need an existing kernel and initramfs"
		# (as build printed it: $CACHE/kernel-$KVER/vmlinux)
		KVER=$(basename "$(dirname "$VMLINUZ")")
		KVER=${KVER#kernel-}
		KMODROOT=$(dirname "$VMLINUZ")/root
		return
	fi
	[ -n "$DESTDIR" ] || fail "no install tree: give -d DESTDIR or set VH_DESTDIR"
	[ -d "$DESTDIR" ] || fail "$DESTDIR: no such directory"
	DESTDIR=$(cd "$DESTDIR" && pwd)
}

prepare() {	# unless -k and -i named them: the kernel and initramfs of DESTDIR
	if [ -z "$INITRD" ]; then
		lock_cache
		kernel_prepare
		initrd_build "$DESTDIR"
		unlock_cache
	fi
	accel_choose
}

# accel_choose: ACCEL=kvm or tcg.  KVM only where /dev/kvm opens and a
# guest that does nothing boots on it: a nested hypervisor may offer
# /dev/kvm and then fail this guest ("KVM internal error ... emulation
# failure" in its kernel's first steps, or an MSR QEMU cannot set), and
# the guest would hang until the timeout.  The verdict is cached per QEMU
# and host kernel; VH_VM_ACCEL=kvm|tcg decides without asking.
accel_choose() {
	local key file probe
	ACCEL=${VH_VM_ACCEL:-}
	[ -z "$ACCEL" ] || return 0
	ACCEL=tcg
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || return 0
	key=$({ "$QEMU" --version | head -n 1; uname -r; } | md5sum | cut -c1-16)
	file=$CACHE/accel-$key
	if [ -f "$file" ]; then
		ACCEL=$(cat "$file")
		return 0
	fi
	probe=$(mktemp "${TMPDIR:-/tmp}/vh-vm-probe.XXXXXX")
	printf '#!/bin/sh\nexit 0\n' >"$probe"
	(ACCEL=kvm TIMEOUT=30 && boot "$probe" default 0 0 "$probe.log") >/dev/null 2>&1 || true
	! grep -q 'VH-SCENARIO-EXIT 0' "$probe.log" 2>/dev/null || ACCEL=kvm
	rm -f "$probe" "$probe.log"
	mkdir -p "$CACHE"
	echo "$ACCEL" >"$file.$$" && mv "$file.$$" "$file"
	echo "guest.sh: /dev/kvm is there; $ACCEL is used (verdict cached in $file)" >&2
}

# run_once SCENARIO PROFILE EXTRA_CPIO: one boot; sets code (the scenario's
# exit status) and keeps the console in $log; exits 99 without that line.
run_once() {
	log=$(mktemp "${TMPDIR:-/tmp}/vh-vm-log.XXXXXX")
	local qrc=0
	boot "$1" "$2" "$UDEV" "$VERBOSE" "$log" "${3:-${VH_VM_EXTRA_CPIO:-}}" || qrc=$?
	code=$(tr -d '\r' <"$log" | sed -n 's/.*VH-SCENARIO-EXIT \([0-9][0-9]*\).*/\1/p' | tail -n 1)
	if [ -z "$code" ]; then
		rm -f "$log"
		if [ "$qrc" = 124 ]; then
			note "the guest did not finish within ${TIMEOUT}s (VH_VM_TIMEOUT)"
		else
			note "the guest ended without a VH-SCENARIO-EXIT line (QEMU exit status $qrc)"
		fi
		exit 99
	fi
}

# run_twice SCENARIO PROFILE PROFILE2: a reboot.  The first boot's
# scenario carries files out (vh_carry: a tar on the console); the second
# boot (PROFILE2, or PROFILE) starts with them in its root, and with
# /vh-boot saying 2.  code is the second boot's status.
run_twice() {
	carry=$(mktemp -d "${TMPDIR:-/tmp}/vh-vm-carry.XXXXXX")
	echo "# --- boot 1 (profile $2)"
	BOOT_APPEND=$(scenario_words "$1" append)
	run_once "$1" "$2" ""
	if [ "$code" != 0 ]; then
		rm -rf "$log" "$carry"
		return
	fi
	mkdir "$carry/root"
	tr -d '\r' <"$log" | sed -n '/^VH-CARRY-BEGIN$/,/^VH-CARRY-END$/p' | sed '1d;$d' |
		base64 -d | gzip -dc | tar -x -C "$carry/root" ||
		{ rm -rf "$log" "$carry"; fail "boot 1 carried no readable files (vh_carry)"; }
	rm -f "$log"
	echo 2 >"$carry/root/vh-boot"
	(cd "$carry/root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$carry/etc.cpio"
	echo "# --- boot 2 (profile ${3:-$2}), from the files boot 1 wrote"
	BOOT_APPEND=$(scenario_words "$1" boot2-append)
	run_once "$1" "${3:-$2}" "$carry/etc.cpio"
	rm -rf "$log" "$carry"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
kernel)
	lock_cache
	kernel_prepare
	echo "kernel=$VMLINUZ"
	echo "modules=$KMODROOT/usr/lib/modules/$KVER"
	echo "version=$KVER"
	;;
build)
	[ $# -eq 1 ] || fail "usage: guest.sh build DESTDIR"
	[ -d "$1" ] || fail "$1: no such directory"
	need_tool "$QEMU" qemu-system-x86
	lock_cache
	kernel_prepare
	initrd_build "$(cd "$1" && pwd)"
	accel_choose
	echo "kernel=$VMLINUZ"
	echo "initrd=$INITRD"
	echo "version=$KVER"
	;;
run)
	parse_opts "$@"
	[ ${#ARGS[@]} -ge 1 ] && [ ${#ARGS[@]} -le 2 ] ||
		fail "usage: guest.sh run [-d DESTDIR | -k KERNEL -i INITRD] [-u|-n] [-v] SCENARIO.sh [PROFILE]"
	scenario=${ARGS[0]}
	[ -f "$scenario" ] || fail "$scenario: no such file"
	profile=${ARGS[1]:-$(scenario_header "$scenario" profile)}
	profile=${profile:-default}
	if [ -z "$UDEV" ]; then
		case $(scenario_header "$scenario" udev) in
		yes) UDEV=1 ;;
		*) UDEV=0 ;;
		esac
	fi
	prepare
	module=$(scenario_header "$scenario" test-module)
	if [ -n "$module" ]; then
		[ -f "$VM_DIR/$module/Kbuild" ] || fail "$scenario: no test module tests/vm/$module (a Kbuild file)"
		lock_cache
		test_module "$VM_DIR/$module"
		unlock_cache
	fi
	# the console went to stdout as it came (boot's tee): its copy, and
	# a reboot's carried files, go however the run ends
	log="" carry=""
	trap 'rm -rf ${log:+"$log"} ${carry:+"$carry"}' EXIT
	boots=$(scenario_header "$scenario" boots)
	if [ "${boots:-1}" = 2 ]; then
		run_twice "$scenario" "$profile" "$(scenario_header "$scenario" boot2-profile)"
	else
		BOOT_APPEND=$(scenario_words "$scenario" append)
		run_once "$scenario" "$profile" ""
	fi
	exit "$code"
	;;
shell)
	parse_opts "$@"
	prepare
	tmp=$(mktemp "${TMPDIR:-/tmp}/vh-vm-shell.XXXXXX")
	printf '. /vh-lib.sh\necho "GPU A $GPU_A, GPU B $GPU_B, GPU C $GPU_C, boot VGA $BOOT_VGA; exit the shell to power off"\nsetsid cttyhack sh -i\n' >"$tmp"
	echo "guest.sh: Ctrl-A X quits QEMU" >&2
	rc=0
	boot "$tmp" "${ARGS[0]:-default}" "${UDEV:-0}" "$VERBOSE" - || rc=$?
	rm -f "$tmp"
	exit "$rc"
	;;
qemu-args)
	profile_args "${1:-default}"
	printf '%s \\\n' "${QEMU_ARGS[@]}"
	echo "-append '... $KERNEL_IOMMU'"
	;;
*)
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
	exit 2
	;;
esac
