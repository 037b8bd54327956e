#!/bin/sh
# Runs in the test guest.  The read-only commands of the installed
# vfio-handover on a real kernel: list (text and JSON) shows the boot VGA and
# the three GPUs with their real drivers; check fails the boot VGA and GPU C
# (whose slot carries an e1000e NIC, up); verify of GPU A exits 1 on the host
# drivers and 0 once a raw sysfs hand-over put it on vfio-pci; bad selectors
# exit 2.
# vh-vm-profile: default
# shellcheck source=../guest-lib.sh
. /vh-lib.sh

vh_say "GPU A $GPU_A, GPU B $GPU_B, GPU C $GPU_C, boot VGA $BOOT_VGA"
vh_check "three GPUs and a boot VGA found" test -n "$GPU_A" -a -n "$GPU_B" -a -n "$GPU_C" -a -n "$BOOT_VGA"
A=$(vh_short "$GPU_A")
C=$(vh_short "$GPU_C")
BOOT_SLOT=$(vh_short "${BOOT_VGA%.*}")
NIC=$GPU_C.2
vh_eq "$NIC driver" "$(vh_driver "$NIC")" e1000e

# --- list -------------------------------------------------------------------
vh_run 0 "$VH_BIN" list
# one line per function: ADDRESS ID CLASS... DRIVER GROUP STATE NAME
row() {	# WHAT ADDRESS DRIVER [STATE-REGEX]
	vh_out_has "$1" "^$2 +[0-9a-f]{4}:[0-9a-f]{4} .* $3 +$(vh_group "$2") +${4:-[a-z,-]+} "
}
row "list: boot VGA on bochs-drm, marked boot-vga" "$BOOT_VGA" bochs-drm '[a-z,-]*boot-vga[a-z,-]*'
for s in "$GPU_A" "$GPU_B" "$GPU_C"; do
	row "list: $s.0 on bochs-drm" "$s.0" bochs-drm
	row "list: $s.1 on snd_hda_intel" "$s.1" snd_hda_intel
done
row "list: GPU C's NIC $NIC on e1000e" "$NIC" e1000e
vh_eq "list: the 8 functions of the 4 display slots, no other" "$(printf '%s\n' "$VH_OUT" | grep -c '^0000:')" 8

vh_run 0 "$VH_BIN" list --json
vh_eq "list --json: one document" "$(printf '%s\n' "$VH_OUT" | sed -n '1p;$p' | tr -d '\n')" "{}"
for s in "${BOOT_VGA%.*}" "$GPU_A" "$GPU_B" "$GPU_C"; do
	vh_out_has "list --json: slot $s" "\"slot\": \"$s\""
done
vh_eq "list --json: display slots" "$(printf '%s\n' "$VH_OUT" | grep -c '"display": true')" 4
vh_eq "list --json: functions on bochs-drm" "$(printf '%s\n' "$VH_OUT" | grep -c '"driver": "bochs-drm"')" 4
vh_eq "list --json: functions on snd_hda_intel" "$(printf '%s\n' "$VH_OUT" | grep -c '"driver": "snd_hda_intel"')" 3
vh_eq "list --json: functions on e1000e" "$(printf '%s\n' "$VH_OUT" | grep -c '"driver": "e1000e"')" 1
vh_out_has "list --json: the IOMMU is on" '"iommu_enabled": true'
vh_out_has "list --json: boot_vga" '"boot_vga": true'

vh_run 0 "$VH_BIN" list --all
row "list --all: the first root port on pcieport" "$(basename "$(dirname "$(readlink -f "$SYSPCI/$GPU_A.0")")")" pcieport

# --- check ------------------------------------------------------------------
# (exit 1: GPU C's group holds the NIC; the console is no candidate)
vh_run 1 "$VH_BIN" check
vh_out_has "check: the boot VGA is no candidate (WARN, not FAIL)" \
	"^WARN +boot-vga +$BOOT_VGA .*not a candidate for a hand-over"
vh_check "check: no FAIL for the boot VGA" \
	sh -c "! printf '%s\n' \"\$1\" | grep -q '^FAIL .* $BOOT_VGA '" sh "$VH_OUT"
vh_out_has "check: IOMMU on" "^PASS +iommu "
vh_out_has "check: vfio-pci available" "^PASS +vfio-pci "
vh_out_has "check: GPU A's group viable" "^PASS +group +$GPU_A.0 "

vh_run 1 "$VH_BIN" check "$BOOT_SLOT"
vh_out_has "check $BOOT_SLOT: FAIL boot-vga" "^FAIL +boot-vga +$BOOT_VGA "

vh_run 0 "$VH_BIN" check "$A"
vh_out_has "check $A: no FAIL" "^summary: [0-9]+ PASS, [0-9]+ WARN, 0 FAIL"

# GPU C: its slot's third function is the host's NIC.  With the interface
# up, the host would lose it: FAIL naming the e1000e function.
IFACE=$(ls "$SYSPCI/$NIC/net")
vh_check "ip link set $IFACE up" ip link set "$IFACE" up
vh_run 1 "$VH_BIN" check "$C"
vh_out_has "check $C: FAIL naming the e1000e $NIC ($IFACE up)" "^FAIL +[a-z-]+ +$NIC .*$IFACE"
ip link set "$IFACE" down
# With the interface down the tool counts the NIC as one of GPU C's own
# functions (it shares the slot): recorded, not asserted.
VH_OUT=$("$VH_BIN" check "$C" 2>&1)
vh_say "note: with $IFACE down, 'check $C' exits $? and says: $(printf '%s\n' "$VH_OUT" | grep -E '^(FAIL|summary)' | tr '\n' ' ')"

# --- verify, before and after a raw hand-over ----------------------------------
vh_run 1 "$VH_BIN" verify "$A"
vh_out_has "verify $A: 0 of 2 on vfio-pci" "^0 of 2 functions on vfio-pci"

vh_check "modprobe vfio-pci" modprobe vfio-pci
vh_dmesg_mark
# shellcheck disable=SC2046  # one word per function
vh_check "raw hand-over of GPU A" vh_raw_to_vfio $(vh_funcs "$GPU_A")
vh_eq "$GPU_A.0 driver" "$(vh_driver "$GPU_A.0")" vfio-pci
vh_eq "$GPU_A.1 driver" "$(vh_driver "$GPU_A.1")" vfio-pci
vh_run 0 "$VH_BIN" verify "$A"
vh_out_has "verify $A: 2 of 2 on vfio-pci" "^2 of 2 functions on vfio-pci"
vh_run 0 "$VH_BIN" verify "$GPU_A.0"
vh_run 1 "$VH_BIN" verify "$A" "$(vh_short "$GPU_B")"
vh_run 0 "$VH_BIN" list
row "list: $GPU_A.0 on vfio-pci" "$GPU_A.0" vfio-pci
row "list: $GPU_A.1 on vfio-pci" "$GPU_A.1" vfio-pci
vh_run 0 "$VH_BIN" verify --json "$A"
vh_out_has "verify --json: vfio-pci" '"driver": "vfio-pci"'

# shellcheck disable=SC2046
vh_check "raw give-back of GPU A" vh_raw_back $(vh_funcs "$GPU_A")
vh_run 1 "$VH_BIN" verify "$A"
vh_eq "$GPU_A.0 driver after the give-back" "$(vh_driver "$GPU_A.0")" bochs-drm
vh_eq "$GPU_A.1 driver after the give-back" "$(vh_driver "$GPU_A.1")" snd_hda_intel
vh_dmesg_clean "raw hand-over and give-back"

# --- bad usage ------------------------------------------------------------------
vh_run 2 "$VH_BIN" verify
vh_run 2 "$VH_BIN" check gpu0
vh_run 2 "$VH_BIN" verify 7f:00
vh_run 2 "$VH_BIN" verify "$A.7"

vh_finish
