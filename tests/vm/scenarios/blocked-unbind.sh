#!/bin/sh
# vh-vm-udev: no
# vh-vm-kernels: all
# An unbind the kernel does not return from: snd_hda_intel's waits until
# every file of its sound card is closed, and a process holds one (--force
# goes past that check).  The tool must give up after --timeout and return
# while the write is still blocked: not wait on it, and not on the device's
# lock, which the blocked unbind holds and which 6.1 takes to show
# driver_override.  6.12 shows it without the lock: there the tool must
# see the unbind under way (the driver link gone, uevent still naming the
# driver) and not take the function for one with no driver.  A second run
# at once must return too, refusing the function.  Once the holder lets
# go, rollback restores the host drivers.
# shellcheck source=../guest-lib.sh
. /vh-lib.sh

blocked() {	# is a task blocked in the sound card's release?
	grep -l snd_card_free /proc/[0-9]*/stack 2>/dev/null | grep -q .
}
slot=$(vh_short "$GPU_A")
card=$(ls -d "$SYSPCI/$GPU_A.1"/sound/card* | head -n 1)
card=${card##*/card}
vh_hold "/dev/snd/controlC$card"
holder=$VH_HOLDER

vh_run 4 "$VH_BIN" --json --force --timeout 2 bind "$slot"
# exit 4 has its document (emulated trees cannot reach it): the functions moved
vh_out_has "--json: exit_status 4" '"exit_status": 4,'
vh_out_has "--json: unrestored" '"outcome": "unrestored"'
vh_out_has "--json: changed" '"changed": true'
vh_out_has "--json: the timeout's code" '"code": "kernel-timeout"'
vh_out_has "the blocked unbind is named" "0000:01:00.1: the kernel did not return within 2 s from: write 0000:01:00.1 to .*/unbind"
if vh_override_locked; then
	vh_out_has "the audio function's state is not guessed" "0000:01:00.1: now on no driver, driver_override unknown \(its read did not return"
else
	vh_out_has "the audio function's state is not guessed" \
		"0000:01:00.1: now on no driver \(its unbind from snd_hda_intel is still under way in the kernel\), driver_override vfio-pci"
fi
vh_out_has "who held the card before is named" "before the hand-over, --force went past: 0000:01:00.1: PID $holder \(sleep\) holds /dev/snd/controlC$card open"
vh_out_has "what is left is said" "rollback"
vh_check "bind returned while the unbind is still blocked" blocked
vh_check "the holder still holds the card" kill -0 "$holder"

# at once, with the unbind still blocked: no hang on the device's lock
vh_run 3 "$VH_BIN" --timeout 2 bind "$slot"
if vh_override_locked; then
	vh_out_has "the blocked function is refused, and why" "0000:01:00.1: reading its driver_override did not return within the --timeout limit: a driver.s unbind or bind of it is still blocked"
else
	vh_out_has "the blocked function is refused, and why" "0000:01:00.1: its unbind from snd_hda_intel is still under way in the kernel \(its driver link is gone, the kernel still names the driver\): a driver.s unbind of it is blocked"
fi
vh_check "the second run returned while the unbind is still blocked" blocked

kill "$holder"
vh_check "the unbind completes once the card is closed" vh_wait 10 sh -c '! grep -l snd_card_free /proc/[0-9]*/stack 2>/dev/null | grep -q .'
vh_run 0 "$VH_BIN" rollback "$slot"
vh_eq "GPU A display back" "$(vh_driver "$GPU_A.0")" bochs-drm
vh_check "GPU A audio back" vh_wait 5 sh -c "[ \"\$(basename \"\$(readlink $SYSPCI/$GPU_A.1/driver)\")\" = snd_hda_intel ]"
vh_eq "the twin keeps its driver" "$(vh_driver "$GPU_B.0")" bochs-drm
vh_finish
