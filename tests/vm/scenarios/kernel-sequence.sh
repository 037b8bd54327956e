#!/bin/sh
# Runs in the test guest.  Proves that the guest's (Debian's) kernel does
# what vfio-handover relies on, with raw sysfs writes and no vfio-handover:
# GPU A's two functions go onto vfio-pci by driver_override + unbind +
# drivers_probe, /dev/vfio/<group> appears, GPU B and the rest stay where
# they are; then back: driver_override cleared, unbound from vfio-pci,
# drivers_probe, and bochs-drm and snd_hda_intel drive them again.  Two
# rounds, timed.
# vh-vm-profile: default
# vh-vm-udev: both
# vh-vm-kernels: all
# shellcheck source=../guest-lib.sh
. /vh-lib.sh

vh_say "GPU A $GPU_A, GPU B $GPU_B, GPU C $GPU_C, boot VGA $BOOT_VGA"
vh_show
vh_check "three GPUs and a boot VGA found" test -n "$GPU_A" -a -n "$GPU_B" -a -n "$GPU_C" -a -n "$BOOT_VGA"

A_FUNCS=$(vh_funcs "$GPU_A")
A_DISPLAY=$GPU_A.0
A_AUDIO=$GPU_A.1
vh_eq "GPU A's functions" "$(printf '%s ' $A_FUNCS)" "$A_DISPLAY $A_AUDIO "
GROUP=$(vh_group "$A_DISPLAY")
vh_eq "GPU A's audio is in the display's IOMMU group" "$(vh_group "$A_AUDIO")" "$GROUP"

# Every other function's driver, to prove they do not move.
others() {
	for _d in "$SYSPCI"/*; do
		case ${_d##*/} in "$GPU_A".*) continue ;; esac
		echo "${_d##*/}=$(vh_driver "${_d##*/}")"
	done
}
OTHERS_BEFORE=$(others)

vh_eq "$A_DISPLAY driver at boot" "$(vh_driver "$A_DISPLAY")" bochs-drm
vh_eq "$A_AUDIO driver at boot" "$(vh_driver "$A_AUDIO")" snd_hda_intel
vh_eq "$GPU_B.0 driver at boot" "$(vh_driver "$GPU_B.0")" bochs-drm
vh_eq "$GPU_B.1 driver at boot" "$(vh_driver "$GPU_B.1")" snd_hda_intel
vh_check "$A_DISPLAY has a DRM card" test -d "$SYSPCI/$A_DISPLAY/drm"
vh_check "$A_AUDIO has a sound card" test -d "$SYSPCI/$A_AUDIO/sound"

t=$(vh_now_ns)
vh_check "modprobe vfio-pci" modprobe vfio-pci
vh_say "timing: modprobe vfio-pci $(vh_ms_since "$t") ms"
vh_check "vfio-pci driver registered" test -d /sys/bus/pci/drivers/vfio-pci

step() {	# WHAT VALUE FILE: write VALUE to FILE, timed
	_t=$(vh_now_ns)
	if printf '%s\n' "$2" >"$3"; then
		vh_ok "$1 ($(vh_ms_since "$_t") ms)"
	else
		vh_fail "$1: writing '$2' to $3 failed"
	fi
}

for round in 1 2; do
	vh_say "round $round: to vfio-pci"
	vh_dmesg_mark
	t0=$(vh_now_ns)
	for f in $A_FUNCS; do
		step "$f: driver_override = vfio-pci" vfio-pci "$SYSPCI/$f/driver_override"
	done
	for f in $A_FUNCS; do
		step "$f: unbind from $(vh_driver "$f")" "$f" "$SYSPCI/$f/driver/unbind"
	done
	for f in $A_FUNCS; do
		vh_eq "$f driver after unbind" "$(vh_driver "$f")" none
	done
	for f in $A_FUNCS; do
		step "$f: drivers_probe" "$f" /sys/bus/pci/drivers_probe
	done
	ms=$(vh_ms_since "$t0")
	for f in $A_FUNCS; do
		vh_eq "$f driver" "$(vh_driver "$f")" vfio-pci
		vh_eq "$f driver_override" "$(vh_override "$f")" vfio-pci
	done
	vh_check "/dev/vfio/$GROUP is a character device" test -c "/dev/vfio/$GROUP"
	vh_check "no other function changed driver" test "$(others)" = "$OTHERS_BEFORE"
	vh_eq "$GPU_B.0 driver" "$(vh_driver "$GPU_B.0")" bochs-drm
	vh_eq "$GPU_B.1 driver" "$(vh_driver "$GPU_B.1")" snd_hda_intel
	vh_check "$A_DISPLAY's DRM card is gone" test ! -e "$SYSPCI/$A_DISPLAY/drm"
	vh_dmesg_clean "round $round hand-over"
	vh_say "timing: round $round hand-over of 2 functions: $ms ms"

	vh_say "round $round: back to the host drivers"
	vh_dmesg_mark
	t0=$(vh_now_ns)
	for f in $A_FUNCS; do
		step "$f: clear driver_override" "" "$SYSPCI/$f/driver_override"
	done
	for f in $A_FUNCS; do
		step "$f: unbind from vfio-pci" "$f" /sys/bus/pci/drivers/vfio-pci/unbind
	done
	for f in $A_FUNCS; do
		step "$f: drivers_probe" "$f" /sys/bus/pci/drivers_probe
	done
	ms=$(vh_ms_since "$t0")
	vh_eq "$A_DISPLAY driver" "$(vh_driver "$A_DISPLAY")" bochs-drm
	vh_eq "$A_AUDIO driver" "$(vh_driver "$A_AUDIO")" snd_hda_intel
	for f in $A_FUNCS; do
		vh_eq "$f driver_override" "$(vh_override "$f")" "(null)"
	done
	vh_check "/dev/vfio/$GROUP is gone" test ! -e "/dev/vfio/$GROUP"
	vh_check "$A_DISPLAY has its DRM card again" test -d "$SYSPCI/$A_DISPLAY/drm"
	# snd_hda_intel finishes probing in a work item: give it a moment
	t=$(vh_now_ns)
	vh_check "$A_AUDIO has its sound card again" vh_wait 10 test -d "$SYSPCI/$A_AUDIO/sound"
	vh_say "timing: sound card back after $(vh_ms_since "$t") ms more"
	vh_check "no other function changed driver" test "$(others)" = "$OTHERS_BEFORE"
	vh_dmesg_clean "round $round give-back"
	vh_say "timing: round $round give-back of 2 functions: $ms ms"
done

vh_show
vh_finish
