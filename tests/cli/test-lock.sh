#!/bin/sh
# Runs at the same time: while another process holds the lock of a GPU's
# IOMMU group (or of the persisted files), a run that needs it says whom it
# waits for, and after --timeout gives up (exit 1) having changed nothing;
# a lock on another group is no business of the run's.  The real kernel
# and two real runs at once: tests/vm/scenarios/concurrent.sh.
set -u
: "${VH_BIN:?}" "${MKFIXTURE:?}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-lock.XXXXXX") || exit 99
holder=""
trap '[ -z "$holder" ] || kill "$holder" 2>/dev/null; rm -rf "$tmp"' EXIT INT TERM
command -v flock >/dev/null || { echo "flock(1) not found (util-linux)"; exit 77; }
"$MKFIXTURE" rtx4000 "$tmp/sys" >/dev/null || exit 99
locks=$tmp/root/run/vfio-handover
mkdir -p "$locks"
pass=0 fail=0
ok() { echo "ok $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; cat "$tmp/err"; fail=$((fail + 1)); }

# hold LOCKFILE: a process holds it, saying "PID test-holder" in it
hold() {
	# (-F: flock becomes the holder itself, so that killing it lets go)
	flock -F "$1" sh -c 'echo "$$ test-holder" >"$1"; exec sleep 30' sh "$1" &
	holder=$!
	for _ in 1 2 3 4 5 6 7 8 9 10; do grep -q test-holder "$1" 2>/dev/null && return; sleep 0.1; done
}
release() { kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null; holder=""; }

# rtx4000: GPU 01:00 is IOMMU group 14
hold "$locks/lock.group.14"
pid=$(cut -d' ' -f1 "$locks/lock.group.14")
for cmd in "bind 01:00" "rollback 01:00"; do
	# shellcheck disable=SC2086
	"$VH_BIN" --sysfs "$tmp/sys" --root "$tmp/root" --timeout 0.5 $cmd 2>"$tmp/err"
	rc=$?
	if [ $rc = 1 ] && grep -q "waiting for PID $pid: test-holder (it holds IOMMU group 14" "$tmp/err" &&
		grep -q "gave up after 0.5 s waiting for PID $pid (test-holder): nothing was touched" "$tmp/err"; then
		ok "$cmd: waits for the holder of group 14, names it, gives up at --timeout"
	else
		bad "$cmd: exit $rc, stderr:"
	fi
done
release

# another group's lock: not this run's business (on plain files the
# hand-over then fails, exit 1, but not for a lock)
hold "$locks/lock.group.99"
"$VH_BIN" --sysfs "$tmp/sys" --root "$tmp/root" --timeout 0.5 bind 01:00 2>"$tmp/err"
rc=$?
if [ $rc = 1 ] && ! grep -q "waiting for\|gave up" "$tmp/err"; then
	ok "bind 01:00: another group's lock does not hold it up"
else
	bad "bind 01:00 beside group 99's lock: exit $rc, stderr:"
fi
release

# the persisted files
hold "$locks/lock.persist"
for cmd in "persist --no-initramfs 01:00" "unpersist --no-initramfs"; do
	# shellcheck disable=SC2086
	"$VH_BIN" --sysfs "$tmp/sys" --root "$tmp/root" --timeout 0.5 $cmd 2>"$tmp/err"
	rc=$?
	if [ $rc = 1 ] && grep -q "waiting for PID [0-9]*: test-holder (it holds the persisted files" "$tmp/err"; then
		ok "${cmd%% *}: waits for the holder of the persisted files"
	else
		bad "$cmd: exit $rc, stderr:"
	fi
done
release

if grep -q vfio-pci "$tmp/sys/bus/pci/devices/0000:01:00.0/driver_override" ||
	[ -e "$tmp/root/etc" ]; then
	echo "FAIL: the tree or the root's /etc was changed while locked"
	fail=$((fail + 1))
fi
echo "lock: $pass passed, $fail failed"
[ $fail = 0 ]
