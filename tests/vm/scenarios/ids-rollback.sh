#!/bin/sh
# vh-vm-udev: no
# rollback of a GPU that vfio-pci took by its ids, with no journal: what a
# boot with persist's "options vfio-pci ids=" leaves (here the ids are given
# with new_id, which makes the same dynamic ids).  A plain re-probe would
# hand it to vfio-pci again; rollback must drop the ids and give the GPU
# back to its host drivers, and leave the identical twin alone.
# shellcheck source=../guest-lib.sh
. /vh-lib.sh

# At boot softdep loads vfio-pci before the GPU drivers, so it comes first
# in the bus's driver list and wins a probe: have it so here by loading the
# host drivers again after it.
/usr/sbin/modprobe vfio-pci
vh_wait 5 test -d /sys/bus/pci/drivers/vfio-pci || vh_fail "vfio-pci did not register"
for d in $SYSPCI/*; do
	case $(vh_driver "${d##*/}") in
	bochs-drm|snd_hda_intel) echo "${d##*/}" >"$d/driver/unbind" ;;
	esac
done
vh_check "the host drivers unload" /usr/sbin/modprobe -r bochs snd_hda_intel
for f in $(vh_funcs "$GPU_A"); do
	echo vfio-pci >"$SYSPCI/$f/driver_override"
done
/usr/sbin/modprobe -a bochs snd_hda_intel
for f in $(vh_funcs "$GPU_A"); do
	echo >"$SYSPCI/$f/driver_override"
done
# the ids of both functions, as "options vfio-pci ids=" would give them
for f in $(vh_funcs "$GPU_A"); do
	echo "$(cut -c3-6 "$SYSPCI/$f/vendor") $(cut -c3-6 "$SYSPCI/$f/device")"
done | sort -u | while read -r v d; do
	echo "$v $d" >/sys/bus/pci/drivers/vfio-pci/new_id 2>/dev/null || true
done
for f in $(vh_funcs "$GPU_A"); do
	vh_eq "$f taken by vfio-pci's ids" "$(vh_driver "$f")" vfio-pci
done
vh_eq "the twin keeps its driver" "$(vh_driver "$GPU_B.0")" bochs-drm

vh_run 0 "$VH_BIN" rollback "$(vh_short "$GPU_A")"
vh_out_has "rollback says it dropped the ids" "vfio-pci took it again by its ids.*removed 1234:1111"
vh_eq "$GPU_A.0 back on" "$(vh_driver "$GPU_A.0")" bochs-drm
vh_wait 5 sh -c "[ \"\$(basename \$(readlink $SYSPCI/$GPU_A.1/driver))\" = snd_hda_intel ]"
vh_eq "$GPU_A.1 back on" "$(vh_driver "$GPU_A.1")" snd_hda_intel
vh_eq "the twin still on" "$(vh_driver "$GPU_B.0")" bochs-drm
vh_eq "the console still on" "$(vh_driver "$BOOT_VGA")" bochs-drm
vh_finish
