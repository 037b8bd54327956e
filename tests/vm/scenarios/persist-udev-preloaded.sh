#!/bin/sh
# vh-vm-udev: yes
# vh-vm-boots: 2
# vh-vm-boot2-append: dyndbg="file drivers/base/dd.c +p; file drivers/base/bus.c +p" log_buf_len=4M
# vh-vm-kernels: all
# The udev rule persist writes, with vfio-pci registered before udev's
# coldplug: as when it is built into the kernel, or when systemd-modules-load
# loads it first (the guest's init loads modules-load.d before it starts
# udevd).  vfio-pci then does not look at a device again when its
# driver_override is set: the rule's probe is what gives it GPU A.  As in
# persist-udev, GPU A's own add events are held back until the twin has its
# host drivers: bochs and snd_hda_intel are loaded by the other devices'
# events first.
# shellcheck source=../guest-lib.sh
. /vh-lib.sh

not() { ! "$@"; }
before() { [ "$1" -gt 0 ] && [ "$1" -lt "$2" ]; }

boot1() {
	mkdir -p /usr/local/sbin /etc/vh-test
	printf '#!/bin/sh\necho "update-initramfs: Generating /boot/initrd.img-$(uname -r)"\n' \
		>/usr/local/sbin/update-initramfs
	chmod 755 /usr/local/sbin/update-initramfs
	vh_run 0 "$VH_BIN" persist "$(vh_short "$GPU_A")"
	vh_out_has "persist wrote the udev rule" "^  wrote /etc/udev/rules.d/05-vfio-handover.rules\$"
	# shellcheck disable=SC2046 # (one argument per function)
	vh_hold_add_events "$GPU_A" $(vh_funcs "$GPU_B")
	[ "$VH_FAILS" -eq 0 ] && vh_carry /etc/vfio-handover /etc/modprobe.d /etc/modules-load.d \
		/etc/initramfs-tools /etc/udev /etc/vh-test
	vh_finish
}

boot2() {
	vfio=$(vh_dmesg_line "bus: 'pci': add driver vfio-pci\$")
	bochs=$(vh_dmesg_line "bus: 'pci': add driver bochs-drm\$")
	own=$(vh_dmesg_line "vh-test: the add event of $GPU_A.0 goes on")
	# (the hold ends when the twin has a driver link: made as its probe
	# starts, before "bound device" is logged at its end)
	twin=$(vh_dmesg_line "$(vh_probe_re bochs-drm "$GPU_B.0")")
	vh_check "vfio-pci was registered (line $vfio) before bochs-drm (line $bochs)" before "$vfio" "$bochs"
	vh_check "bochs-drm probed the twin (line $twin) before GPU A's own add event ran (line $own)" \
		before "$twin" "$own"
	for f in $(vh_funcs "$GPU_A"); do
		vh_eq "before apply, $f is on" "$(vh_driver "$f")" vfio-pci
	done
	vh_check "bochs-drm never probed $GPU_A.0" not vh_probed bochs-drm "$GPU_A.0"
	vh_check "snd_hda_intel never probed $GPU_A.1" not vh_probed snd_hda_intel "$GPU_A.1"
	vh_eq "the twin's $GPU_B.0 is on" "$(vh_driver "$GPU_B.0")" bochs-drm
	vh_eq "the twin's $GPU_B.1 is on" "$(vh_driver "$GPU_B.1")" snd_hda_intel
	vh_run 0 "$VH_BIN" apply
	vh_out_has "apply finds GPU A there" "already on vfio-pci: nothing to do"
	vh_check "its record: outcome already" grep -q '"outcome":"already"' /run/vfio-handover/apply.json
	vh_finish
}

if [ "$(vh_boot)" = 2 ]; then boot2; else boot1; fi
