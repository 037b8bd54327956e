#!/bin/sh
# Runs in the test guest (see handover-vs-raw.sh): alternately, the tool's
# bind + rollback of GPU A, the bare kernel sequence (override, unbind,
# drivers_probe, read back, and back) on the identical GPU B, and, where
# the guest has them, Debian's driverctl doing the same to GPU B.
# shellcheck source=../tests/vm/guest-lib.sh
. /vh-lib.sh
runs=9    # handover-vs-raw.sh rewrites this line
readback() {	# SLOT DRIVER0 DRIVER1: driver links and modaliases, as the tool reads back
	[ "$(vh_driver "$1.0")" = "$2" ] && [ "$(vh_driver "$1.1")" = "$3" ] &&
		cat "$SYSPCI/$1.0/modalias" "$SYSPCI/$1.1/modalias" >/dev/null
}
settle() {	# outside the timings: let the sound card re-probe (a work item)
	vh_wait 5 readback "$GPU_A" bochs-drm snd_hda_intel && vh_wait 5 readback "$GPU_B" bochs-drm snd_hda_intel
	sleep 0.3
}
# HD-audio power saving (1 s in Debian's kernel) powers the codec down about a
# second after a probe, and an unbind in that window waits ~0.6 s for it under
# emulation: the same for both sides but at a random phase, so turn it off.
echo 0 >/sys/module/snd_hda_intel/parameters/power_save || exit 1
slot_a=$(vh_short "$GPU_A")    # outside the timings: a fork of the shell
"$VH_BIN" bind "$slot_a" >/dev/null && "$VH_BIN" rollback >/dev/null || exit 1  # loads vfio-pci
settle
i=0
while [ $i -lt "$runs" ]; do
	t0=$(vh_now_ns)
	out=$("$VH_BIN" bind "$slot_a") || exit 1
	"$VH_BIN" rollback >/dev/null || exit 1
	t1=$(vh_now_ns)
	# the bind's own figure: from the first kernel write to the last read-back
	inside=${out##*handed over in }
	inside=${inside%% ms*}
	settle
	# what two starts of the binary cost with no work (dynamic linking
	# included), in the same shapes as bind and rollback above
	t4=$(vh_now_ns)
	v=$("$VH_BIN" --version) || exit 1
	"$VH_BIN" --version >/dev/null || exit 1
	t5=$(vh_now_ns)
	: "$v"
	t2=$(vh_now_ns)
	vh_raw_to_vfio "$GPU_B.0" "$GPU_B.1" || exit 1
	readback "$GPU_B" vfio-pci vfio-pci || exit 1
	# given back in the tool's order, the audio function first: the sound
	# driver's probe starts a modprobe in the background (the HD-audio
	# codec's modules), tens of milliseconds of emulated CPU that then fall
	# inside both timings alike, not after the last read-back of one only
	vh_raw_back "$GPU_B.1" "$GPU_B.0" || exit 1
	readback "$GPU_B" bochs-drm snd_hda_intel || exit 1
	t3=$(vh_now_ns)
	settle
	# Debian's driverctl, where the benchmark gave the guest bash and it:
	# set-override and unset-override of both functions of the twin
	dctl=0
	if [ -x /usr/sbin/driverctl ] && [ -x /usr/bin/bash ]; then
		t6=$(vh_now_ns)
		for f in "$GPU_B.0" "$GPU_B.1"; do
			driverctl --nosave set-override "$f" vfio-pci || exit 1
		done
		readback "$GPU_B" vfio-pci vfio-pci || exit 1
		for f in "$GPU_B.0" "$GPU_B.1"; do
			driverctl --nosave unset-override "$f" || exit 1
		done
		readback "$GPU_B" bochs-drm snd_hda_intel || exit 1
		t7=$(vh_now_ns)
		dctl=$(((t7 - t6) / 1000))
		settle
	fi
	echo "BENCH tool $(((t1 - t0) / 1000)) raw $(((t3 - t2) / 1000)) bind-inside $((inside * 1000)) starts $(((t5 - t4) / 1000)) driverctl $dctl"
	i=$((i + 1))
done
exit 0
