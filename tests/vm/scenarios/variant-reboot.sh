#!/bin/sh
# vh-vm-profile: variant
# vh-vm-test-module: variant
# vh-vm-boots: 2
# vh-vm-udev: both
# A VFIO variant driver persisted across a reboot, on a real kernel, with
# vh_variant_vfio (tests/vm/variant: module vh_variant_vfio, PCI driver
# vh-variant-vfio-pci, an override-only entry for 1234:1111).  Boot 1: check
# says which driver --driver auto chooses per function; persist --driver auto
# records the variant for GPU A's display function (its driver's name unknown
# while the module is not loaded), and after bind --driver auto, persist
# without --driver records the variant A is on, with the driver's name the
# kernel gave; the module goes into modules-load.d and the initramfs list
# after vfio_pci, the softdeps name it after vfio-pci, and there is no ids=.
# Boot 2 starts from that /etc: modules-load.d loaded the variant; with
# udevd, the udev rule persist wrote gave the display function to the
# variant (by its driver's name) and the audio function to vfio-pci before
# apply, which finds them there; without, apply hands them over; verify,
# check and the journal say so, rollback gives the host drivers back; a
# kernel whose index lacks the variant: apply skips the GPU, says why.
# shellcheck source=../guest-lib.sh
. /vh-lib.sh

MOD=vh_variant_vfio
DRV=vh-variant-vfio-pci
A=$(vh_short "$GPU_A")
drivers() {	# SLOT -> "bochs-drm snd_hda_intel"
	for f in $(vh_funcs "$1"); do printf '%s ' "$(vh_driver "$f")"; done | sed 's/ $//'
}
# update-initramfs as persist runs it (no shell)
stub_initramfs() {
	mkdir -p /usr/local/sbin
	printf '#!/bin/sh\necho "update-initramfs: $*"\n' >/usr/local/sbin/update-initramfs
	chmod 755 /usr/local/sbin/update-initramfs
}
LINE0="^$GPU_A.0 1234:1111 1af4:1100 slot=[^ ]* path=[^ ]*/$GPU_A.0"

boot1() {
	stub_initramfs
	vh_run 0 "$VH_BIN" check "$A"
	vh_out_has "check: auto chooses the variant for the display function" \
		"^PASS  vfio-driver   $GPU_A.0 .*--driver auto chooses the VFIO variant driver $MOD, which kernel $(uname -r | sed 's/[.+]/\\&/g') has \\(vfio_pci:v00001234d00001111sv\\*sd\\*bc\\*sc\\*i\\*\\)"
	vh_out_has "check: vfio-pci for the audio function" \
		"^PASS  vfio-driver   $GPU_A.1 .*--driver auto chooses vfio-pci: no VFIO variant driver"
	vh_run 3 "$VH_BIN" persist --aleph --driver auto "$A"
	vh_out_has "persist --aleph refuses the variant" "refused: $GPU_A.0: --aleph and the VFIO variant driver $MOD"
	vh_check "refused: nothing written" test ! -e /etc/vfio-handover/devices.conf

	vh_run 0 "$VH_BIN" persist --driver auto "$A"
	vh_check "devices.conf: the variant, its driver's name unknown (not loaded)" \
		grep -q "$LINE0 driver=- module=$MOD\$" /etc/vfio-handover/devices.conf
	vh_check "devices.conf: the audio function for vfio-pci" \
		grep -q "^$GPU_A.1 8086:293e 1af4:1100 slot=[^ ]* path=[^ ]*/$GPU_A.1\$" /etc/vfio-handover/devices.conf
	vh_check "persist loads nothing" test ! -e "/sys/module/$MOD"
	vh_eq "persist changes no driver" "$(drivers "$GPU_A")" "bochs-drm snd_hda_intel"

	vh_run 0 "$VH_BIN" bind --driver auto "$A"
	vh_eq "bind: the display function on the variant" "$(drivers "$GPU_A")" "$DRV vfio-pci"
	vh_run 0 "$VH_BIN" persist "$A"
	vh_check "persist without --driver: the variant A is on, named by the kernel" \
		grep -q "$LINE0 driver=$DRV module=$MOD\$" /etc/vfio-handover/devices.conf
	vh_eq "modules-load.d: the variant after vfio_pci" \
		"$(grep -v '^#' /etc/modules-load.d/vfio-handover.conf | tr '\n' ' ')" \
		"vfio vfio_iommu_type1 vfio_pci $MOD "
	vh_check "the initramfs list has it too" \
		sh -c "sed -n '/^# BEGIN/,/^# END/p' /etc/initramfs-tools/modules | grep -qx $MOD"
	vh_check "softdep: the variant after vfio-pci" \
		grep -qx "softdep bochs pre: vfio-pci $MOD" /etc/modprobe.d/vfio-handover.conf
	vh_check "no ids= (the console and the twins share 1234:1111)" \
		sh -c '! grep -q "^options vfio-pci" /etc/modprobe.d/vfio-handover.conf'
	vh_check "the udev rule gives $GPU_A.0 to $DRV" \
		grep -q "ATTR{\\[pci/$GPU_A.0\\]driver_override}=\"$DRV\", " /etc/udev/rules.d/05-vfio-handover.rules
	vh_check "and loads $MOD" grep -q "RUN{builtin}+=\"kmod load $MOD\"" /etc/udev/rules.d/05-vfio-handover.rules
	vh_run 0 "$VH_BIN" rollback "$A"
	vh_eq "rollback: A on its host drivers" "$(drivers "$GPU_A")" "bochs-drm snd_hda_intel"
	rmmod "$MOD" 2>/dev/null
	vh_check "the variant unloaded before the reboot" test ! -e "/sys/module/$MOD"
	vh_say "rebooting with this /etc"
	[ "$VH_FAILS" -eq 0 ] && vh_carry /etc/vfio-handover /etc/modprobe.d /etc/modules-load.d \
		/etc/initramfs-tools /etc/udev/rules.d/05-vfio-handover.rules
	vh_finish
}

boot2() {
	vh_dmesg_mark
	vh_check "modules-load.d loaded the variant at boot" test -e "/sys/module/$MOD/drivers/pci:$DRV"
	vh_check "kmod reads the softdep" sh -c "/usr/sbin/modprobe -c | grep -qx 'softdep bochs pre: vfio-pci $MOD'"
	if grep -q 'vh.udev=1' /proc/cmdline; then
		vh_eq "the udev rule gave A to the variant and vfio-pci at boot" "$(drivers "$GPU_A")" \
			"$DRV vfio-pci"
		vh_run 0 "$VH_BIN" apply
		vh_out_has "apply finds A there" "^already on $DRV and vfio-pci: nothing to do"
		# (no journal: the rule did it) back to the host, for apply to do it live
		vh_run 0 "$VH_BIN" rollback "$A"
	fi
	vh_eq "before apply, A is on its host drivers" "$(drivers "$GPU_A")" "bochs-drm snd_hda_intel"
	vh_run 0 "$VH_BIN" apply
	vh_out_has "apply hands A to the variant and to vfio-pci" "^$GPU_A: 2 functions on $DRV and vfio-pci"
	vh_eq "apply: the display function on the variant, the audio on vfio-pci" "$(drivers "$GPU_A")" \
		"$DRV vfio-pci"
	vh_eq "driver_override of $GPU_A.0" "$(vh_override "$GPU_A.0")" "$DRV"
	vh_check "/dev/vfio/$(vh_group "$GPU_A.0")" vh_wait 5 test -e "/dev/vfio/$(vh_group "$GPU_A.0")"
	vh_check "the journal records the variant" grep -q "\"vfio_driver\": *\"$DRV\"" /run/vfio-handover/state.json
	vh_eq "the twin stays on its host drivers" "$(drivers "$GPU_B")" "bochs-drm snd_hda_intel"
	vh_run 0 "$VH_BIN" verify "$A"
	vh_run 0 "$VH_BIN" check "$A"
	vh_out_has "check: what apply did at this boot" "^PASS  boot .* handed $GPU_A \\(2 functions\\) over to $MOD and vfio-pci"
	vh_run 0 "$VH_BIN" --json apply
	vh_out_has "apply again: already" '"outcome": "already"'
	vh_out_has "apply --json: the recorded module" "\"vfio_module\": \"$MOD\""
	vh_run 0 "$VH_BIN" rollback "$A"
	vh_eq "rollback: A back on its host drivers" "$(drivers "$GPU_A")" "bochs-drm snd_hda_intel"

	# a kernel whose index lacks the variant: apply skips the GPU
	rmmod "$MOD"
	ko=$(find "/lib/modules/$(uname -r)/extra" -name "$MOD.ko*")
	mv "$ko" /run/
	/usr/sbin/depmod  # (kmod's: busybox's writes no .bin index)
	vh_run 0 "$VH_BIN" apply
	vh_out_has "apply says why it skips A" \
		"warning: $GPU_A.0: persisted for the VFIO variant driver $MOD, which kernel .* does not have; GPU $GPU_A skipped"
	vh_out_has "and what to do" "vfio-handover persist $GPU_A --driver vfio-pci"
	vh_eq "skipped: A keeps its host drivers" "$(drivers "$GPU_A")" "bochs-drm snd_hda_intel"
	mv "/run/${ko##*/}" "$ko"
	/usr/sbin/depmod  # (kmod's: busybox's writes no .bin index)

	stub_initramfs
	vh_run 0 "$VH_BIN" unpersist
	vh_check "unpersist removes devices.conf" test ! -e /etc/vfio-handover/devices.conf
	vh_dmesg_clean "variant-reboot"
	vh_finish
}

if [ "$(vh_boot)" = 2 ]; then boot2; else boot1; fi
