#!/bin/sh
# Runs in the test guest.  VFIO variant drivers (--driver) on a real
# kernel.  vh_variant_vfio (tests/vm/variant, built against Debian's
# linux-headers package of this kernel, in the module index from boot) is a
# minimal variant built on vfio-pci-core: its id table has one override-only
# entry for QEMU's display adapter (1234:1111), which Kbuild writes to
# modules.alias as a vfio_pci: alias, and its PCI driver is called
# vh-variant-vfio-pci, not after its module.  bind --driver auto finds it by
# the function's modalias, loads it, learns the driver's name from the
# kernel, hands the display function to it (the audio function to
# vfio-pci); verify, list and the journal say so, /dev/vfio/GROUP appears,
# rollback gives the recorded host drivers back.  A named driver: taken when
# made for every function of the GPU (GPU D, one function), refused (exit 3,
# nothing touched) when not; --aleph refuses a variant.
# vh-vm-profile: variant
# vh-vm-test-module: variant
# shellcheck source=../guest-lib.sh
. /vh-lib.sh

MOD=vh_variant_vfio
DRV=vh-variant-vfio-pci
A=$(vh_short "$GPU_A")
# GPU D: the profile's single-function display adapter
D=""
for s in $GPUS; do
	[ "$(vh_funcs "$s" | wc -l)" = 1 ] && D=$s
done
[ -n "$D" ] || { vh_fail "the variant profile's single-function GPU D (GPUs: $GPUS)"; vh_finish; }
vh_say "A $GPU_A, B $GPU_B, D $D (single function)"
drivers() {	# SLOT -> "bochs-drm snd_hda_intel"
	for f in $(vh_funcs "$1"); do printf '%s ' "$(vh_driver "$f")"; done | sed 's/ $//'
}
vh_dmesg_mark

# --- what the kernel has before: the alias in the index, nothing loaded -------
vh_check "modules.alias has $MOD's override-only alias" \
	grep -qx "alias vfio_pci:v00001234d00001111sv\\*sd\\*bc\\*sc\\*i\\* $MOD" "/lib/modules/$(uname -r)/modules.alias"
vh_check "$MOD is not loaded at boot (an override-only entry never matches by itself)" \
	test ! -e "/sys/module/$MOD"
vh_eq "GPU A on its host drivers" "$(drivers "$GPU_A")" "bochs-drm snd_hda_intel"

# --- --driver NAME not made for the device: refused, nothing touched ----------
# (a driver named for a GPU takes every function: the audio function is no
# 1234:1111)
vh_run 3 "$VH_BIN" bind --driver "$MOD" "$A"
vh_out_has "the function it is not made for is named, with the aliases" \
	"refused: $GPU_A.1: $MOD is not made for it: none of its aliases \\(vfio_pci:v00001234d00001111sv\\*sd\\*bc\\*sc\\*i\\*\\) matches vfio_pci:v00008086d0000293E"
vh_out_has "the fix: --driver auto" 'fix: hand it over with --driver auto'
vh_run 3 "$VH_BIN" bind --driver snd_hda_intel "$A"
vh_out_has "a host driver is no VFIO driver" "refused: $GPU_A.0: snd_hda_intel is no VFIO driver"
vh_run 3 "$VH_BIN" bind --driver no_such_vfio_pci "$A"
vh_out_has "a module the kernel does not have" "refused: $GPU_A.0: kernel $(uname -r) has no module no_such_vfio_pci"
vh_eq "refused: GPU A untouched" "$(drivers "$GPU_A")" "bochs-drm snd_hda_intel"
vh_check "refused: $MOD still not loaded" test ! -e "/sys/module/$MOD"
vh_check "refused: no journal" test ! -e /run/vfio-handover/state.json

# --- --aleph: the supervisor counts only functions on vfio-pci itself ----------
vh_run 3 "$VH_BIN" --aleph bind --driver auto "$A"
vh_out_has "--aleph with a variant refused" "refused: $GPU_A.0: --aleph and the VFIO variant driver $MOD: the Aleph supervisor counts only functions whose driver is exactly vfio-pci"
vh_eq "--aleph refused: GPU A untouched" "$(drivers "$GPU_A")" "bochs-drm snd_hda_intel"

# --- --dry-run: the load planned, nothing done -----------------------------------
vh_run 0 "$VH_BIN" --dry-run bind --driver auto "$A"
vh_out_has "dry run plans the load" "^load module $MOD "
vh_check "dry run: $MOD not loaded" test ! -e "/sys/module/$MOD"

# --- --driver auto: found by modalias, loaded, the driver's name from the kernel
vh_run 0 "$VH_BIN" bind --driver auto "$A"
vh_out_has "bind loads the variant and names its PCI driver" "loaded $MOD: PCI driver $DRV"
vh_out_has "bind names both drivers" "^$GPU_A: 2 functions on $DRV and vfio-pci"
vh_check "$MOD registered $DRV" test -e "/sys/module/$MOD/drivers/pci:$DRV"
vh_eq "GPU A: display on the variant, audio on vfio-pci" "$(drivers "$GPU_A")" "$DRV vfio-pci"
vh_eq "driver_override of $GPU_A.0 is the driver's name" "$(vh_override "$GPU_A.0")" "$DRV"
vh_eq "GPU B untouched" "$(drivers "$GPU_B")" "bochs-drm snd_hda_intel"
G=$(vh_group "$GPU_A.0")
vh_check "/dev/vfio/$G appears for the variant" vh_wait 5 test -e "/dev/vfio/$G"
vh_check "the journal records the variant for $GPU_A.0" \
	grep -q "\"vfio_driver\": *\"$DRV\"" /run/vfio-handover/state.json
vh_run 0 "$VH_BIN" verify "$A"
vh_out_has "verify reads the variant back" "Kernel driver in use: $DRV"
vh_out_has "verify counts it" '^2 of 2 functions on a VFIO driver'
vh_run 0 "$VH_BIN" list
vh_out_has "list: state vfio on the variant" "^$GPU_A.0 .* $DRV +[0-9]+ +vfio "
vh_run 0 "$VH_BIN" bind "$A"
vh_out_has "bind again: already on a VFIO driver" "^already on $DRV and vfio-pci: nothing to do"
vh_run 0 "$VH_BIN" --json bind --driver auto "$A"
vh_out_has "--json: vfio_driver of the display function" "\"vfio_driver\": \"$DRV\""
vh_run 0 "$VH_BIN" rollback "$A"
vh_out_has "rollback names the host driver" "$GPU_A.0: back on bochs-drm"
vh_eq "rollback: GPU A on its host drivers" "$(drivers "$GPU_A")" "bochs-drm snd_hda_intel"
vh_eq "rollback: driver_override cleared" "$(vh_override "$GPU_A.0")" "(null)"
vh_check "rollback: the journal is gone" test ! -e /run/vfio-handover/state.json

# --- --driver NAME made for the device: by module name and by driver name ------
for name in "$MOD" "$DRV"; do
	vh_run 0 "$VH_BIN" bind --driver "$name" "$(vh_short "$D")"
	vh_eq "--driver $name: D on $DRV" "$(vh_driver "$D.0")" "$DRV"
	vh_check "--driver $name: /dev/vfio/$(vh_group "$D.0")" vh_wait 5 test -e "/dev/vfio/$(vh_group "$D.0")"
	vh_run 0 "$VH_BIN" rollback "$(vh_short "$D")"
	vh_eq "--driver $name: rollback: D back on bochs-drm" "$(vh_driver "$D.0")" bochs-drm
done

# --- rollback without a journal entry takes a function off the variant ---------
vh_run 0 "$VH_BIN" bind --driver auto "$(vh_short "$D")"
rm -f /run/vfio-handover/state.json
vh_run 0 "$VH_BIN" rollback "$(vh_short "$D")"
vh_eq "unjournaled: D back on bochs-drm" "$(vh_driver "$D.0")" bochs-drm

vh_dmesg_clean "variant"
vh_finish
