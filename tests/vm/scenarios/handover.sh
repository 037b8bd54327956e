#!/bin/sh
# Runs in the test guest.  The live hand-over on a real kernel: bind, verify
# and rollback of GPU A while the identical GPU B keeps its host drivers;
# every selector form; the refusals (a NIC in the group, the boot VGA, a
# process holding the DRM node, a VM holding /dev/vfio/<group>); an
# unprivileged caller (exit 5); --dry-run; the Aleph node's reminder;
# SIGKILL in the middle of a bind, then rollback.
# vh-vm-profile: default
# vh-vm-udev: both
# vh-vm-kernels: all
# shellcheck source=../guest-lib.sh
. /vh-lib.sh

A=$(vh_short "$GPU_A")
host_drivers() {	# SLOT -> "bochs-drm snd_hda_intel"
	for f in $(vh_funcs "$1"); do printf '%s ' "$(vh_driver "$f")"; done | sed 's/ $//'
}
on_host() { vh_eq "$1: $2 on its host drivers" "$(host_drivers "$2")" "bochs-drm snd_hda_intel"; }
on_vfio() { vh_eq "$1: $2 on vfio-pci" "$(host_drivers "$2")" "vfio-pci vfio-pci"; }
vh_dmesg_mark

# --- bind, verify, rollback of one GPU; its twin stays ------------------------
vh_run 0 "$VH_BIN" bind "$A"
vh_out_has "bind says how long it took" '^handed over in [0-9]+ ms'
on_vfio "bind" "$GPU_A"
on_host "bind" "$GPU_B"
vh_eq "driver_override of $GPU_A.0" "$(vh_override "$GPU_A.0")" vfio-pci
G=$(vh_group "$GPU_A.0")
vh_check "/dev/vfio/$G exists after bind" vh_wait 5 test -e "/dev/vfio/$G"
vh_check "the journal holds GPU A" grep -q "\"$GPU_A.1\"" /run/vfio-handover/state.json
vh_run 0 "$VH_BIN" verify "$A"
vh_out_has "verify: lspci -k style" 'Kernel driver in use: vfio-pci'
vh_run 0 "$VH_BIN" bind "$GPU_A.0"
vh_out_has "bind again: nothing to do" 'already on vfio-pci'
vh_run 0 "$VH_BIN" rollback
vh_out_has "rollback names the driver" "$GPU_A.0: back on bochs-drm"
on_host "rollback" "$GPU_A"
vh_eq "driver_override cleared" "$(vh_override "$GPU_A.0")" "(null)"
vh_check "the journal is gone" test ! -e /run/vfio-handover/state.json
vh_run 1 "$VH_BIN" verify "$A"

# --- --json: changed on a first and a repeated run -----------------------------
vh_run 0 "$VH_BIN" --json bind "$A"
vh_out_has "--json bind: one document" '^  "format_version": 2,'
vh_out_has "--json bind: changed" '"changed": true'
vh_out_has "--json bind: done" '"outcome": "done"'
vh_run 0 "$VH_BIN" --json bind "$A"
vh_out_has "--json bind again: not changed" '"changed": false'
vh_out_has "--json bind again: already" '"outcome": "already"'
vh_run 0 "$VH_BIN" --json rollback
vh_out_has "--json rollback: changed" '"changed": true'
vh_out_has "--json rollback: back on the host driver" '"driver": "bochs-drm"'
vh_run 0 "$VH_BIN" --json rollback
vh_out_has "--json rollback again: not changed" '"changed": false'
vh_out_has "--json rollback again: nothing" '"outcome": "nothing"'
on_host "--json rollback" "$GPU_A"

# --- every selector form --------------------------------------------------------
for sel in "$GPU_A.0" "$A.0" "$A" "$GPU_A.1" "$GPU_A"; do
	vh_run 0 "$VH_BIN" bind "$sel"
	on_vfio "bind $sel" "$GPU_A"
	on_host "bind $sel" "$GPU_B"
	vh_run 0 "$VH_BIN" rollback "$sel"
	on_host "rollback $sel" "$GPU_A"
done
# vendor:device names every identical GPU, C's NIC included: refused whole
ID=$(cut -c3- "$SYSPCI/$GPU_A.0/vendor"):$(cut -c3- "$SYSPCI/$GPU_A.0/device")
vh_run 3 "$VH_BIN" bind "$ID"
vh_out_has "vendor:device: refused for GPU C's NIC" "refused: IOMMU group .* also holds $GPU_C.2"
on_host "refused $ID" "$GPU_A"
on_host "refused $ID" "$GPU_B"

# --- refusals -----------------------------------------------------------------
vh_run 3 "$VH_BIN" bind "$(vh_short "$GPU_C")"
vh_out_has "group with a NIC: the NIC named" "$GPU_C.2 .*on e1000e"
vh_eq "the NIC keeps its driver" "$(vh_driver "$GPU_C.2")" e1000e
vh_run 3 "$VH_BIN" bind "$BOOT_VGA"
vh_out_has "boot VGA refused" 'is the boot VGA device'
vh_eq "the console keeps its driver" "$(vh_driver "$BOOT_VGA")" bochs-drm
CARD=$(ls "$SYSPCI/$GPU_A.0/drm" | grep '^card' | head -n 1)
vh_hold "/dev/dri/$CARD"
HOLDER=$VH_HOLDER
vh_run 3 "$VH_BIN" bind "$A"
vh_out_has "a holder of /dev/dri/$CARD is named" "PID $HOLDER \\(sleep\\) holds /dev/dri/$CARD"
on_host "held GPU untouched" "$GPU_A"
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null

# --- an unprivileged caller ----------------------------------------------------
# (the guest is throwaway: give it a nobody to be)
grep -q '^nobody:' /etc/passwd 2>/dev/null || echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >>/etc/passwd
grep -q '^nogroup:' /etc/group 2>/dev/null || echo 'nogroup:x:65534:' >>/etc/group
for cmd in "bind $A" "rollback"; do
	vh_run 5 su -s /bin/sh nobody -c "$VH_BIN $cmd"
	vh_out_has "unprivileged $cmd: says what is missing" 'needs root \(CAP_DAC_OVERRIDE'
	# exit 5 has its document too (emulated trees cannot reach it)
	vh_run 5 su -s /bin/sh nobody -c "$VH_BIN --json $cmd"
	vh_out_has "unprivileged --json $cmd: exit_status 5" '"exit_status": 5,'
	vh_out_has "unprivileged --json $cmd: not-permitted" '"outcome": "not-permitted"'
	vh_out_has "unprivileged --json $cmd: the message's code" '"code": "not-permitted"'
done
for cmd in "persist $A" "unpersist"; do
	vh_run 5 su -s /bin/sh nobody -c "$VH_BIN --json $cmd"
	vh_out_has "unprivileged --json $cmd: exit_status 5" '"exit_status": 5,'
	vh_out_has "unprivileged --json $cmd: not-permitted" '"outcome": "not-permitted"'
done
on_host "unprivileged bind" "$GPU_A"

# --- dry run ------------------------------------------------------------------
vh_run 0 "$VH_BIN" --dry-run bind "$A"
vh_out_has "dry run prints the override write" "write vfio-pci +to /sys/bus/pci/devices/$GPU_A.0/driver_override"
on_host "dry run" "$GPU_A"
vh_check "dry run leaves no journal" test ! -e /run/vfio-handover/state.json

# --- a VM holding the group blocks rollback -----------------------------------
vh_run 0 "$VH_BIN" bind "$A"
G=$(vh_group "$GPU_A.0")
vh_wait 5 test -e "/dev/vfio/$G"
vh_hold "/dev/vfio/$G"
VM=$VH_HOLDER
vh_run 3 "$VH_BIN" --json rollback
vh_out_has "the VM's PID is named" "PID $VM \\(sleep\\) holds /dev/vfio/$G"
vh_out_has "--json rollback refused: exit_status 3" '"exit_status": 3,'
vh_out_has "--json rollback refused: the refusal's id" '"check": "vm-running"'
# --force passes no refusal of rollback: it is an option of bind only
vh_run 2 "$VH_BIN" --force rollback
vh_out_has "--force names the command it belongs to" '--force means nothing to rollback: it is an option of bind'
on_vfio "rollback refused, and --force is no way past" "$GPU_A"
kill "$VM"
wait "$VM" 2>/dev/null
vh_run 0 "$VH_BIN" rollback
on_host "rollback once the VM is gone" "$GPU_A"

# --- SIGKILL in the middle of a bind, then rollback ----------------------------
for delay in 0.02 0.05 0.08 0.12 0.2; do
	"$VH_BIN" bind "$A" >/dev/null 2>&1 &
	PID=$!
	sleep "$delay"
	kill -9 "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	# a write child outlives its parent by at most that one write, holding the
	# inherited run lock meanwhile: give it the time to end
	sleep 0.3
	vh_say "killed after ${delay}s: $(host_drivers "$GPU_A"), journal: $(test -e /run/vfio-handover/state.json && echo yes || echo no)"
	vh_run 0 "$VH_BIN" rollback "$A"
	on_host "rollback after SIGKILL at ${delay}s" "$GPU_A"
	vh_eq "no override left after SIGKILL at ${delay}s" "$(vh_override "$GPU_A.0") $(vh_override "$GPU_A.1")" "(null) (null)"
done
# --- an Aleph node: its supervisor is told (--aleph: scenarios/aleph.sh) -------
mkdir -p /etc/aleph-vm
echo 'ALEPH_VM_ENABLE_GPU_SUPPORT=True' >/etc/aleph-vm/supervisor.env
vh_run 0 "$VH_BIN" bind "$A"
vh_out_has "an Aleph node is told to restart its supervisor" 'aleph-vm detects GPUs only when its supervisor starts'
vh_run 0 "$VH_BIN" rollback
vh_out_has "and again after a rollback" 'aleph-vm detects GPUs only when its supervisor starts'
on_host "rollback on an Aleph node" "$GPU_A"
rm -rf /etc/aleph-vm

on_host "after it all" "$GPU_B"
vh_dmesg_clean "hand-over scenario"
vh_finish
