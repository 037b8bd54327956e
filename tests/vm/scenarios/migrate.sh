#!/bin/sh
# vh-vm-udev: no
# vh-vm-boots: 2
# A node set up exactly as the operators' guide says (with the guest's ids:
# its GPUs are 1234:1111 + 8086:293e, and so is the console), taken over by
# migrate.  Boot 1: check reports each line, persist refuses, migrate
# persists GPU A only: never the console, never GPU B (a process of the
# host holds it), never GPU C (a NIC on its driver in its IOMMU group), and
# takes the lines out.  Boot 2, from that /etc with the real kmod reading
# modprobe.d and modules-load.d: the guide's blacklist is gone (the audio
# functions get snd_hda_intel), apply hands GPU A over and nothing else;
# unpersist puts every file back byte for byte.
# shellcheck source=../guest-lib.sh
. /vh-lib.sh

ORIG=/etc/vh-test/orig
FILES="etc/modules etc/initramfs-tools/modules etc/modprobe.d/nvidia.conf etc/modprobe.d/vfio.conf"

# update-initramfs as persist runs it (no shell); it says what it was asked
stub_initramfs() {
	mkdir -p /usr/local/sbin
	printf '#!/bin/sh\necho "update-initramfs: Generating /boot/initrd.img-$(uname -r)"\necho "$*" >/run/vh-initramfs.args\n' \
		>/usr/local/sbin/update-initramfs
	chmod 755 /usr/local/sbin/update-initramfs
	rm -f /run/vh-initramfs.args
}

# The guide's files, steps 1, 2, 3 and 5, with the ids of the guest's GPU.
guide() {
	ids=$(cut -c3-6 "$SYSPCI/$GPU_A.0/vendor"):$(cut -c3-6 "$SYSPCI/$GPU_A.0/device")
	ids=$ids,$(cut -c3-6 "$SYSPCI/$GPU_A.1/vendor"):$(cut -c3-6 "$SYSPCI/$GPU_A.1/device")
	mkdir -p /etc/initramfs-tools /etc/modprobe.d /etc/modules-load.d "$ORIG/etc/modprobe.d" \
		"$ORIG/etc/initramfs-tools"
	echo "attach : vfio vfio_iommu_type1 vfio_virqfd vfio_pci ids=$ids" >/etc/initramfs-tools/modules
	printf '# /etc/modules: kernel modules to load at boot time.\n#\n' >/etc/modules
	echo "attach: vfio vfio_iommu_type1 vfio_pci ids=$ids" >>/etc/modules
	ln -s ../modules /etc/modules-load.d/modules.conf
	printf 'softdep nouveau pre: vfio-pci\nsoftdep nvidia pre: vfio-pci\nsoftdep nvidia* pre: vfio-pci\n' \
		>/etc/modprobe.d/nvidia.conf
	{
		echo "blacklist nouveau"
		echo "blacklist snd_hda_intel"
		echo "alias $(cat "$SYSPCI/$GPU_A.0/modalias") vfio-pci"
		echo "options vfio-pci ids=$ids"
	} >/etc/modprobe.d/vfio.conf
	for f in $FILES; do cp -p "/$f" "$ORIG/$f"; done
}

boot1() {
	guide
	vh_say "the guide's ids: $ids; GPU A $GPU_A, B $GPU_B, C $GPU_C, console $BOOT_VGA"
	vh_run 1 "$VH_BIN" check
	vh_out_has "check reports the options line" "^FAIL  ids-binding .*/etc/modprobe.d/vfio.conf:4: 'options vfio-pci ids="
	vh_out_has "check reports the alias line" "^FAIL  ids-binding .*/etc/modprobe.d/vfio.conf:3: 'alias pci:"
	vh_out_has "check reports blacklist snd_hda_intel" "^FAIL  blacklist .*/etc/modprobe.d/vfio.conf:2: 'blacklist snd_hda_intel'"
	vh_out_has "check reports the attach line of /etc/modules" "^FAIL  module-line .*/etc/modules:3: 'attach: vfio"
	vh_out_has "check reports the attach line of the initramfs list" "^FAIL  module-line .*/etc/initramfs-tools/modules:1: 'attach : vfio"
	vh_out_has "check reports the softdeps" "^WARN  softdep .*/etc/modprobe.d/nvidia.conf:3"
	vh_out_has "the console is no candidate" "^WARN  boot-vga +$BOOT_VGA .*not a candidate"
	vh_run 3 "$VH_BIN" persist "$(vh_short "$GPU_A")"
	vh_out_has "persist refuses, naming the line" "refused: /etc/modprobe.d/vfio.conf:4: 'options vfio-pci ids="
	vh_check "persist wrote nothing" [ ! -e /etc/vfio-handover/devices.conf ]

	# a process of the host holds GPU B: a card the host keeps
	card=$(ls "$SYSPCI/$GPU_B.0/drm" | grep '^card' | head -n 1)
	sleep 600 <"/dev/dri/$card" &
	holder=$!
	stub_initramfs
	vh_run 0 "$VH_BIN" migrate --dry-run
	vh_out_has "--dry-run says what it would take out" "^take out /etc/modprobe.d/vfio.conf:4: options vfio-pci ids=$ids"
	vh_check "--dry-run wrote nothing" [ ! -e /etc/vfio-handover/devices.conf ]
	vh_run 0 "$VH_BIN" migrate
	kill "$holder"
	vh_out_has "migrate takes the ids line out" "^took out /etc/modprobe.d/vfio.conf:4: options vfio-pci ids=$ids"
	vh_out_has "and the blacklist" "^took out /etc/modprobe.d/vfio.conf:2: blacklist snd_hda_intel"
	vh_out_has "it persists GPU A" "^persisted $GPU_A for kernel $(uname -r) \(running\)"
	vh_out_has "never the console" "warning: ${BOOT_VGA%.*}: .* is the boot VGA device"
	vh_out_has "never GPU B, which the host uses" "warning: $GPU_B: .*PID $holder \(sleep\) holds /dev/dri/$card open"
	vh_out_has "never GPU C, whose group holds a NIC on its driver" "warning: $GPU_C: .*also holds $GPU_C.2 .* on e1000e"
	vh_eq "update-initramfs was run with" "$(cat /run/vh-initramfs.args 2>/dev/null)" "-u -k all"
	vh_check "devices.conf holds GPU A only" sh -c "grep -q '^$GPU_A.0 ' /etc/vfio-handover/devices.conf &&
		! grep -q -e '^$GPU_B' -e '^$GPU_C' -e '^${BOOT_VGA%.*}' /etc/vfio-handover/devices.conf"
	vh_check "no ids= of vfio-handover's own (the twins and the console share them)" \
		sh -c '! grep -q "^options vfio-pci" /etc/modprobe.d/vfio-handover.conf'
	vh_check "the guide's lines are notes now" \
		grep -qx "# vfio-handover migrate took this line out: options vfio-pci ids=$ids" /etc/modprobe.d/vfio.conf
	vh_check "kmod reads no blacklist of snd_hda_intel" \
		sh -c '! /usr/sbin/modprobe -c | grep -qx "blacklist snd_hda_intel"'
	vh_run 0 "$VH_BIN" check "$(vh_short "$GPU_A")"
	vh_check "check reports no line of a hand-made setup" \
		sh -c "! printf '%s\n' \"\$1\" | grep -e ids-binding -e blacklist -e module-line -e softdep" \
		sh "$VH_OUT"
	vh_run 0 "$VH_BIN" migrate
	vh_out_has "migrate again: nothing" "nothing to migrate"

	vh_say "rebooting with this /etc"
	[ "$VH_FAILS" -eq 0 ] && vh_carry /etc/vfio-handover /etc/modprobe.d /etc/modules-load.d \
		/etc/modules /etc/initramfs-tools /etc/vh-test
	vh_finish
}

boot2() {
	ids=$(sed -n 's/^options vfio-pci ids=//p' "$ORIG/etc/modprobe.d/vfio.conf")
	vh_check "modules-load.d loaded vfio-pci at boot" [ -d /sys/bus/pci/drivers/vfio-pci ]
	vh_eq "no blacklist: GPU A's audio got" "$(vh_driver "$GPU_A.1")" snd_hda_intel
	vh_eq "before apply, GPU A is on" "$(vh_driver "$GPU_A.0")" bochs-drm
	vh_run 0 "$VH_BIN" apply
	for f in $(vh_funcs "$GPU_A"); do
		vh_eq "$f after apply" "$(vh_driver "$f")" vfio-pci
	done
	vh_eq "twin $GPU_B.0 stays on" "$(vh_driver "$GPU_B.0")" bochs-drm
	vh_eq "twin $GPU_B.1 stays on" "$(vh_driver "$GPU_B.1")" snd_hda_intel
	vh_eq "$GPU_C.0 stays on" "$(vh_driver "$GPU_C.0")" bochs-drm
	vh_eq "the console stays on" "$(vh_driver "$BOOT_VGA")" bochs-drm

	stub_initramfs
	vh_run 0 "$VH_BIN" unpersist
	vh_out_has "unpersist puts the guide's lines back" "restored /etc/modprobe.d/vfio.conf"
	for f in $FILES; do
		vh_check "/$f is the guide's again, byte for byte" cmp "/$f" "$ORIG/$f"
	done
	vh_check "the link to /etc/modules is kept" [ "$(readlink /etc/modules-load.d/modules.conf)" = ../modules ]
	vh_check "vfio-handover's own files are gone" \
		sh -c '[ ! -e /etc/vfio-handover ] && [ ! -e /etc/modprobe.d/vfio-handover.conf ]'
	vh_run 1 "$VH_BIN" check "$(vh_short "$GPU_A")"
	vh_out_has "check reports the guide's lines again" "^FAIL  ids-binding .*'options vfio-pci ids=$ids'"
	vh_run 0 "$VH_BIN" rollback
	vh_eq "GPU A back on" "$(vh_driver "$GPU_A.0")" bochs-drm
	vh_finish
}

if [ "$(vh_boot)" = 2 ]; then boot2; else boot1; fi
