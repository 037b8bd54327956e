#!/bin/sh
# One run at a time: while another process holds the run lock, bind and
# rollback exit 1 with a message saying so, and change nothing.
set -u
: "${VH_BIN:?}" "${MKFIXTURE:?}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-lock.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
command -v flock >/dev/null || { echo "flock(1) not found (util-linux)"; exit 77; }
"$MKFIXTURE" rtx4000 "$tmp/sys" >/dev/null || exit 99
mkdir -p "$tmp/root/run/vfio-handover"
pass=0 fail=0
for cmd in "bind 01:00" "rollback"; do
	# shellcheck disable=SC2086
	flock "$tmp/root/run/vfio-handover/lock" \
		"$VH_BIN" --sysfs "$tmp/sys" --root "$tmp/root" $cmd 2>"$tmp/err"
	rc=$?
	if [ $rc = 1 ] && grep -q "holds .*/lock; wait for it to finish" "$tmp/err"; then
		echo "ok $cmd: refused while locked"
		pass=$((pass + 1))
	else
		echo "FAIL $cmd: exit $rc, stderr:"; cat "$tmp/err"
		fail=$((fail + 1))
	fi
done
if grep -q vfio-pci "$tmp/sys/bus/pci/devices/0000:01:00.0/driver_override"; then
	echo "FAIL: the tree was changed while locked"
	fail=$((fail + 1))
fi
echo "lock: $pass passed, $fail failed"
[ $fail = 0 ]
