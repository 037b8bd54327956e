#!/bin/sh
# Runs in the test guest.  Many GPUs, many callers (issue "Scale"):
# - two binds on different GPUs started together: both exit 0, both GPUs
#   on vfio-pci, one journal holding both;
# - two binds on the same GPU started together: one hands it over, the
#   other waits for it, finds the work done: both exit 0;
# - a rollback while a bind holds the group: it waits, says for whom, then
#   gives the GPU back;
# - one bind of three GPUs in which one group fails (its audio unbind held
#   open, --force past the check): every other group is back on its host
#   drivers, the failed function reported exactly, exit 4; rollback once
#   the holder lets go gives everything back;
# - SIGKILL during a bind of three GPUs, then rollback: everything back.
# vh-vm-profile: default
# vh-vm-udev: both
# vh-vm-kernels: all
# shellcheck source=../guest-lib.sh
. /vh-lib.sh

A=$(vh_short "$GPU_A")
B=$(vh_short "$GPU_B")
C=$(vh_short "$GPU_C")
host_drivers() {	# SLOT -> "bochs-drm snd_hda_intel"
	for f in $(vh_funcs "$1"); do
		[ "$f" = "$GPU_C.2" ] && continue      # GPU C's NIC
		printf '%s ' "$(vh_driver "$f")"
	done | sed 's/ $//'
}
on_host() { vh_eq "$1: $2 on its host drivers" "$(host_drivers "$2")" "bochs-drm snd_hda_intel"; }
on_vfio() { vh_eq "$1: $2 on vfio-pci" "$(host_drivers "$2")" "vfio-pci vfio-pci"; }
# run_bg OUT COMMAND...: COMMAND in the background, output to OUT
run_bg() { _o=$1; shift; "$@" >"$_o" 2>&1 & }
vh_dmesg_mark
modprobe vfio-pci

# --- two binds on different GPUs, started together ------------------------------
run_bg /tmp/a.out "$VH_BIN" bind "$A"; pa=$!
run_bg /tmp/b.out "$VH_BIN" bind "$B"; pb=$!
wait "$pa"; ra=$?
wait "$pb"; rb=$?
sed 's/^/    A: /' /tmp/a.out; sed 's/^/    B: /' /tmp/b.out
vh_eq "bind $A and bind $B together: exit statuses" "$ra $rb" "0 0"
on_vfio "different GPUs together" "$GPU_A"
on_vfio "different GPUs together" "$GPU_B"
vh_check "neither waited for the other (no lock in common)" sh -c '! grep -q "waiting for" /tmp/a.out /tmp/b.out'
vh_eq "one journal holds both GPUs' functions" \
	"$(grep -c '"address"' /run/vfio-handover/state.json)" 4
run_bg /tmp/a.out "$VH_BIN" rollback "$A"; pa=$!
run_bg /tmp/b.out "$VH_BIN" rollback "$B"; pb=$!
wait "$pa"; ra=$?
wait "$pb"; rb=$?
vh_eq "rollback $A and rollback $B together: exit statuses" "$ra $rb" "0 0"
on_host "rolled back together" "$GPU_A"
on_host "rolled back together" "$GPU_B"
vh_check "the journal is gone" test ! -e /run/vfio-handover/state.json

# --- two binds on the same GPU, started together ----------------------------------
run_bg /tmp/a.out "$VH_BIN" bind "$A"; pa=$!
run_bg /tmp/b.out "$VH_BIN" bind "$A"; pb=$!
wait "$pa"; ra=$?
wait "$pb"; rb=$?
sed 's/^/    1: /' /tmp/a.out; sed 's/^/    2: /' /tmp/b.out
vh_eq "bind $A twice at once: exit statuses" "$ra $rb" "0 0"
on_vfio "the same GPU twice at once" "$GPU_A"
vh_eq "one of them handed it over, the other found it done" \
	"$(cat /tmp/a.out /tmp/b.out | grep -c '^handed over in')$(cat /tmp/a.out /tmp/b.out | grep -c 'already on vfio-pci')" "11"

# --- a rollback while another run holds the group: it waits, saying for whom ---------
# (a holder of the lock that says who it is, as a bind does: the shell
# that flock runs, for a second)
lock=/run/vfio-handover/lock.group.$(vh_group "$GPU_A.0")
: >"$lock"      # (what the last run wrote there)
flock "$lock" sh -c 'echo "$$ bind '"$GPU_A"'" >"$1"; sleep 1' sh "$lock" &
flocker=$!
vh_wait 5 grep -q "bind $GPU_A" "$lock"
holder=$(cut -d' ' -f1 "$lock")
vh_run 0 "$VH_BIN" rollback "$A"
vh_out_has "it said whom it waited for" "waiting for PID $holder: bind $GPU_A \(it holds IOMMU group"
wait "$flocker"
on_host "rollback after waiting" "$GPU_A"

vh_dmesg_clean "binds and rollbacks at the same time"

# --- one bind of three GPUs; one group fails -------------------------------------------
# GPU B's audio unbind waits for its sound card's files to close: a holder
# keeps one open, and --force goes past the check that would refuse it
card=$(ls -d "$SYSPCI/$GPU_B.1"/sound/card* | head -n 1)
card=${card##*/card}
vh_hold "/dev/snd/controlC$card"
holder=$VH_HOLDER
ip link set "$(ls "$SYSPCI/$GPU_C.2/net")" down
vh_run 4 "$VH_BIN" --force --timeout 3 bind "$A" "$B" "$GPU_C.0" "$GPU_C.1" "$GPU_C.2"
vh_out_has "the failed function is named" "$GPU_B.1: the kernel did not return within 3 s from: write $GPU_B.1 to .*/unbind"
if vh_override_locked; then
	vh_out_has "its position is said, not guessed" "$GPU_B.1: now on no driver, driver_override unknown"
else
	vh_out_has "its position is said, not guessed" \
		"$GPU_B.1: now on no driver \(its unbind from snd_hda_intel is still under way in the kernel\), driver_override vfio-pci"
fi
on_host "a group that did not fail is back" "$GPU_A"
on_host "a group that did not fail is back" "$GPU_C"
vh_eq "GPU C's NIC is back" "$(vh_driver "$GPU_C.2")" e1000e
vh_eq "GPU B's display function is back" "$(vh_driver "$GPU_B.0")" bochs-drm
vh_check "the journal keeps GPU B's audio function" grep -q "\"$GPU_B.1\"" /run/vfio-handover/state.json
kill "$holder"
vh_check "the unbind completes once the card is closed" \
	vh_wait 10 sh -c '! grep -l snd_card_free /proc/[0-9]*/stack 2>/dev/null | grep -q .'
vh_run 0 "$VH_BIN" rollback
vh_check "GPU B's audio function back" \
	vh_wait 5 sh -c "[ \"\$(basename \"\$(readlink $SYSPCI/$GPU_B.1/driver)\")\" = snd_hda_intel ]"
on_host "after rollback" "$GPU_B"
# The held card keeps its codec device registered (hdaudioC<n>D0) until it
# is closed, while its card number is free again: the undo's probe of
# another HD-audio controller can take the number, and the kernel warns
# that the codec's name is taken (a kernel matter, seen one at a time too).
# Any other warning is ours to look at.
vh_dmesg_only_known "a failed group among others" \
	"sysfs: cannot create duplicate filename '/bus/hdaudio/devices/hdaudioC[0-9]*D0'"
vh_dmesg_mark

# --- SIGKILL during a bind of three GPUs, then rollback --------------------------------
for delay in 0.05 0.1 0.2 0.4; do
	"$VH_BIN" bind "$A" "$B" "$GPU_C.0" "$GPU_C.1" "$GPU_C.2" >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	# a writer child outlives its parent by at most the write it was making
	sleep 0.3
	vh_say "killed after ${delay}s: A $(host_drivers "$GPU_A"), B $(host_drivers "$GPU_B"), C $(host_drivers "$GPU_C")"
	vh_run 0 "$VH_BIN" rollback
	for g in "$GPU_A" "$GPU_B" "$GPU_C"; do
		on_host "rollback after SIGKILL at ${delay}s" "$g"
		vh_eq "no override left on $g after SIGKILL at ${delay}s" \
			"$(vh_override "$g.0") $(vh_override "$g.1")" "(null) (null)"
	done
	vh_eq "GPU C's NIC after SIGKILL at ${delay}s" "$(vh_driver "$GPU_C.2")" e1000e
done

vh_dmesg_clean "concurrent scenario"
vh_finish
