#!/bin/sh
# Runs in the test guest (see parallel.sh).  Three GPUs whose audio
# function's unbind each takes a second: a process keeps the sound card's
# control node open and closes it one second after the kernel started
# tearing the card down (its node gone from sysfs; polled every 50 ms with
# a sleep, so that the guest's one CPU is left to the kernel).  Per round:
# one `bind --force` of the three GPUs (one writer per IOMMU group, at the
# same time), then the same three one at a time (what a run that handed
# them over one after another would take), each followed by a rollback
# outside the timing.
# shellcheck source=../tests/vm/guest-lib.sh
. /vh-lib.sh
runs=5    # parallel.sh rewrites this line

# hold SLOT: until 1 s after the card's teardown began
hold() {
	_card=$(ls -d "$SYSPCI/$1.1"/sound/card* 2>/dev/null | head -n 1)
	_card=${_card##*/card}
	[ -n "$_card" ] || return 1
	(
		exec 3<"/dev/snd/controlC$_card"
		while [ -e "/sys/class/sound/controlC$_card" ]; do sleep 0.05; done
		sleep 1
	) &
}
settle() {
	for s in "$GPU_A" "$GPU_B" "$GPU_C"; do
		vh_wait 10 sh -c "[ \"\$(basename \"\$(readlink $SYSPCI/$s.1/driver 2>/dev/null)\")\" = snd_hda_intel ]" || exit 1
	done
	sleep 0.5
}
echo 0 >/sys/module/snd_hda_intel/parameters/power_save || exit 1
ip link set "$(ls "$SYSPCI/$GPU_C.2/net")" down
modprobe vfio-pci
set -- "$(vh_short "$GPU_A")" "$(vh_short "$GPU_B")" "$GPU_C.0" "$GPU_C.1" "$GPU_C.2"
i=0
while [ $i -lt "$runs" ]; do
	hold "$GPU_A" && hold "$GPU_B" && hold "$GPU_C" || exit 1
	sleep 0.2
	t0=$(vh_now_ns)
	"$VH_BIN" --force bind "$@" >/dev/null 2>&1 || { echo "bind of three failed"; exit 1; }
	t1=$(vh_now_ns)
	wait
	"$VH_BIN" rollback >/dev/null || exit 1
	settle
	# one after another
	hold "$GPU_A" && hold "$GPU_B" && hold "$GPU_C" || exit 1
	sleep 0.2
	t2=$(vh_now_ns)
	"$VH_BIN" --force bind "$1" >/dev/null 2>&1 || exit 1
	"$VH_BIN" --force bind "$2" >/dev/null 2>&1 || exit 1
	"$VH_BIN" --force bind "$3" "$4" "$5" >/dev/null 2>&1 || exit 1
	t3=$(vh_now_ns)
	wait
	"$VH_BIN" rollback >/dev/null || exit 1
	settle
	echo "BENCH together $(((t1 - t0) / 1000)) apart $(((t3 - t2) / 1000))"
	i=$((i + 1))
done
exit 0
