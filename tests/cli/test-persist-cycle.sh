#!/bin/sh
# persist, then persist again, then unpersist, through the command line on
# emulated trees: the second persist changes nothing, and unpersist gives
# back every file and directory under the root byte for byte, mode for
# mode, including the user's own content; also for a subset (unpersist one
# GPU of two, then the other).
set -u
: "${VH_BIN:?}" "${MKFIXTURE:?}" "${TESTS_SRCDIR:?}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-cycle.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
pass=0
fail=0

# DIR: every path, type, mode, size, link target, content hash; a
# directory's size aside (its entries are listed), and the lock files of
# run/vfio-handover, which coordinate runs and hold no state
snapshot() {
	(cd "$1" && find . \( -type d -printf '%p %y %m\n' \) -o -printf '%p %y %m %s %l\n' |
		grep -v -e '^\./run/vfio-handover/lock\.' -e '^\./run d ' -e '^\./run/vfio-handover d ' |
		LC_ALL=C sort &&
		find . -type f ! -path './run/vfio-handover/lock.*' -exec md5sum {} + | LC_ALL=C sort)
}
check() {	# WHAT COMMAND...
	what=$1
	shift
	if "$@"; then pass=$((pass + 1)); echo "ok $what"; else fail=$((fail + 1)); echo "FAIL $what"; fi
}
vh() {	# TREE ROOT ARGS...
	t=$1 r=$2
	shift 2
	VFIO_HANDOVER_NO_HWDB=1 "$VH_BIN" --sysfs "$t" --root "$r" "$@" >"$tmp/out" 2>&1 ||
		{ cat "$tmp/out"; return 1; }
}
# shellcheck source=fake-kernels.sh
. "$TESTS_SRCDIR/fake-kernels.sh"
fake_kernels_setup || exit 99
kernel_root() {	# CASE DEST: a golden case's root, its kernels made
	cp -R "$TESTS_SRCDIR/roots/$1/." "$2/"
	chmod -R u+w "$2"       # make distcheck's source tree is read-only
	fake_kernels "$2"
}

cycle() {	# NAME LAYOUT ROOTCASE PERSIST-ARGS...
	name=$1 layout=$2 rootcase=$3
	shift 3
	t=$tmp/tree-$name r=$tmp/root-$name
	mkdir -p "$r"
	"$MKFIXTURE" "$layout" "$t" >/dev/null || { echo "FAIL $name: mkfixture"; fail=$((fail + 1)); return; }
	kernel_root "$rootcase" "$r" || { echo "FAIL $name: depmod"; fail=$((fail + 1)); return; }
	snapshot "$r" > "$tmp/before"
	check "$name: persist $*" vh "$t" "$r" persist "$@"
	snapshot "$r" > "$tmp/persisted"
	check "$name: persist changed the root" sh -c "! cmp -s '$tmp/before' '$tmp/persisted'"
	check "$name: persist again" vh "$t" "$r" persist "$@"
	snapshot "$r" > "$tmp/again"
	check "$name: persisting twice changes nothing" cmp -s "$tmp/persisted" "$tmp/again"
	check "$name: unpersist" vh "$t" "$r" unpersist
	snapshot "$r" > "$tmp/after"
	check "$name: unpersist leaves the root byte-identical" diff -u "$tmp/before" "$tmp/after"
}

cycle empty-root rtx4000 rw-persist-rtx4000 01:00
cycle user-content rtx4000 rw-persist-user-content --aleph 01:00
cycle dracut rtx4000 rw-persist-dracut 01:00
cycle builtin rtx4000 rw-persist-builtin 01:00
cycle twins-both twins rw-persist-twins 10de:27b0
# the host's own udev rules beside the one persist writes
cycle udev-user-rules rtx4000 rw-persist-udev-user-rules 01:00

# a subset: unpersist one GPU of two, then the other
t=$tmp/tree-subset r=$tmp/root-subset
mkdir -p "$r"
"$MKFIXTURE" twins "$t" >/dev/null && kernel_root rw-persist-user-content "$r" || exit 99
snapshot "$r" > "$tmp/before"
check "subset: persist both twins" vh "$t" "$r" persist 01:00 02:00
check "subset: both ids= (no other device has them)" grep -q '^options vfio-pci ids=10de:22bc,10de:27b0$' \
	"$r/etc/modprobe.d/vfio-handover.conf"
check "subset: unpersist 02:00" vh "$t" "$r" unpersist 02:00
check "subset: 01:00 stays persisted" grep -q '^0000:01:00.0 ' "$r/etc/vfio-handover/devices.conf"
check "subset: 02:00 is gone" sh -c "! grep -q '^0000:02:00' '$r/etc/vfio-handover/devices.conf'"
check "subset: no ids= now (02:00 stays on the host)" sh -c "! grep -q '^options' '$r/etc/modprobe.d/vfio-handover.conf'"
check "subset: unpersist 01:00" vh "$t" "$r" unpersist 01:00
snapshot "$r" > "$tmp/after"
check "subset: byte-identical at the end" diff -u "$tmp/before" "$tmp/after"

# a devices.conf that no longer parses: unpersist (no selector) still gives
# the root back byte for byte, the directories persist created included
t=$tmp/tree-malformed r=$tmp/root-malformed
mkdir -p "$r"
"$MKFIXTURE" rtx4000 "$t" >/dev/null && kernel_root rw-persist-user-content "$r" || exit 99
snapshot "$r" > "$tmp/before"
check "malformed: persist" vh "$t" "$r" persist --aleph 01:00
sed -i 's/^0000:01:00.1 10de:22bc /0000:01:00.1 zzzz:22bc /' "$r/etc/vfio-handover/devices.conf"
check "malformed: the line is broken" grep -q '^0000:01:00.1 zzzz:22bc ' "$r/etc/vfio-handover/devices.conf"
check "malformed: persist refuses" sh -c "! VFIO_HANDOVER_NO_HWDB=1 '$VH_BIN' --sysfs '$t' --root '$r' persist 01:00 >/dev/null 2>&1"
check "malformed: unpersist 01:00 refuses" sh -c "! VFIO_HANDOVER_NO_HWDB=1 '$VH_BIN' --sysfs '$t' --root '$r' unpersist 01:00 >/dev/null 2>&1"
check "malformed: unpersist" vh "$t" "$r" unpersist
snapshot "$r" > "$tmp/after"
check "malformed: unpersist leaves the root byte-identical" diff -u "$tmp/before" "$tmp/after"

echo "cycle: $pass passed, $fail failed"
[ "$fail" = 0 ]
