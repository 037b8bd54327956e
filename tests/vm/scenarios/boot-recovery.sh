#!/bin/sh
# vh-vm-boots: 2
# vh-vm-append: modprobe.blacklist=vfio_pci
# vh-vm-boot2-append: module_blacklist=vfio_pci
# A boot whose hand-over goes wrong, and the kernel command-line words of
# the RECOVERY section (vfio-handover(8), aleph-node.md), on a real kernel.
# Boot 1, modprobe.blacklist=vfio_pci: GPU A persisted; apply refuses while a
# process holds its sound card's control node (status 3), and check then
# says what happened (FAIL boot, the holder).  What modprobe.blacklist= does
# not stop: a softdep (loading snd_hda_intel by its alias, as udev does,
# loads vfio-pci first) and vfio-handover's own load of vfio-pci (libkmod,
# by name), so apply then hands GPU A over (check: PASS boot).
# Boot 2, from boot 1's /etc, module_blacklist=vfio_pci: the kernel refuses
# vfio_pci to whoever asks, modules-load.d, the softdep (ignored: the host
# driver loads) and apply, which fails with the reason (status 1); check
# says so (FAIL boot); unpersist then takes the hand-over out.
# shellcheck source=../guest-lib.sh
. /vh-lib.sh

# update-initramfs as persist runs it (no shell)
stub_initramfs() {
	mkdir -p /usr/local/sbin
	printf '#!/bin/sh\necho "update-initramfs: Generating /boot/initrd.img-$(uname -r)"\n' \
		>/usr/local/sbin/update-initramfs
	chmod 755 /usr/local/sbin/update-initramfs
}
loaded() { grep -q "^$1 " /proc/modules; }
# the control node of the sound card on FUNCTION (devtmpfs made it)
control_node() {
	for _c in "$SYSPCI/$1"/sound/card*/controlC*; do
		[ -e "$_c" ] && { echo "/dev/snd/${_c##*/}"; return 0; }
	done
	return 1
}

boot1() {
	vh_say "boot 1: $(tr ' ' '\n' </proc/cmdline | grep blacklist)"
	stub_initramfs
	vh_run 0 "$VH_BIN" persist "$(vh_short "$GPU_A")"

	node=$(control_node "$GPU_A.1")
	vh_check "GPU A's sound card has a control node ($node)" [ -c "$node" ]
	vh_hold "$node"
	holder=$VH_HOLDER
	vh_run 3 "$VH_BIN" apply
	vh_out_has "apply names the holder" "refused: $GPU_A.1: PID $holder \(sleep\) holds $node open"
	vh_check "the record says refused" grep -q '"outcome":"refused"' /run/vfio-handover/apply.json
	vh_run 1 "$VH_BIN" check "$(vh_short "$GPU_A")"
	vh_out_has "check: FAIL boot, apply refused, and why" \
		"^FAIL  boot .*refused \(status 3\), nothing was handed over: $GPU_A.1: PID $holder \(sleep\) holds $node open"
	vh_out_has "check: what to do" "fix: stop that process.*then run vfio-handover apply.*vfio_handover.off"
	kill "$holder"
	wait "$holder" 2>/dev/null

	# modprobe.blacklist=: modules-load.d's way (-b) honours it ...
	alias=$(cat "$SYSPCI/$GPU_A.1/modalias")
	/usr/sbin/modprobe -r snd_hda_intel vfio_pci 2>/dev/null
	vh_check "snd_hda_intel and vfio_pci unloaded" sh -c '! grep -q "^\(snd_hda_intel\|vfio_pci\) " /proc/modules'
	/usr/sbin/modprobe -b vfio_pci
	vh_check "modprobe.blacklist stops a load by name with -b (systemd-modules-load)" sh -c '! grep -q "^vfio_pci " /proc/modules'
	# ... a softdep does not: the persisted one loads vfio-pci first
	/usr/sbin/modprobe -b "$alias"
	vh_check "the host driver loaded by its alias (udev's way)" loaded snd_hda_intel
	vh_check "and its softdep loaded vfio_pci, blacklist or not" loaded vfio_pci
	/usr/sbin/modprobe -r vfio_pci
	vh_check "vfio_pci unloaded again" sh -c '! grep -q "^vfio_pci " /proc/modules'
	# nor does it stop vfio-handover's own load
	vh_run 0 "$VH_BIN" apply
	vh_out_has "apply loads vfio-pci itself" "loaded vfio-pci"
	vh_out_has "and hands GPU A over" "^$GPU_A: 2 functions on vfio-pci"
	vh_run 0 "$VH_BIN" check "$(vh_short "$GPU_A")"
	vh_out_has "check: PASS boot" "^PASS  boot .*handed $GPU_A \(2 functions\) over to vfio-pci"
	vh_run 0 "$VH_BIN" rollback "$(vh_short "$GPU_A")"

	vh_say "rebooting with this /etc"
	[ "$VH_FAILS" -eq 0 ] && vh_carry /etc/vfio-handover /etc/modprobe.d /etc/modules-load.d
	vh_finish
}

boot2() {
	vh_say "boot 2: $(tr ' ' '\n' </proc/cmdline | grep blacklist)"
	vh_check "module_blacklist: modules-load.d did not load vfio_pci" sh -c '! grep -q "^vfio_pci " /proc/modules'
	vh_eq "the softdep's failure is ignored: GPU A's audio is on" "$(vh_driver "$GPU_A.1")" snd_hda_intel
	vh_run 1 "$VH_BIN" apply
	vh_out_has "apply says why" "cannot load vfio-pci: Operation not permitted"
	vh_eq "GPU A stays on" "$(vh_driver "$GPU_A.0")" bochs-drm
	vh_run 1 "$VH_BIN" check "$(vh_short "$GPU_A")"
	vh_out_has "check: FAIL boot, apply failed, and why" \
		"^FAIL  boot .*failed \(status 1\), nothing was handed over: cannot load vfio-pci: Operation not permitted"
	stub_initramfs
	vh_run 0 "$VH_BIN" unpersist
	vh_check "unpersist removed devices.conf" [ ! -e /etc/vfio-handover/devices.conf ]
	vh_run 0 "$VH_BIN" check "$(vh_short "$GPU_A")"
	vh_check "check: no boot item once nothing is persisted" sh -c '! printf "%s\n" "$1" | grep -q "  boot "' - "$VH_OUT"
	vh_finish
}

if [ "$(vh_boot)" = 2 ]; then boot2; else boot1; fi
