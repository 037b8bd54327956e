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

# PLAN FILE ROOT: the content a dry run printed for FILE ("write FILE:"
# and the lines up to the next change) is ROOT/FILE's
planned_as_written() {
	awk -v want="write $2:" '$0 == want { on = 1; next }
		on && /^(write |set |run |vfio-handover: )/ { on = 0 } on' "$1" >"$tmp/planned-file"
	[ -s "$tmp/planned-file" ] && cmp -s "$tmp/planned-file" "$3$2"
}
# TREE ROOT ARGS...: a dry run plans no file (it is as persist would write it)
plans_nothing() {
	t=$1 r=$2
	shift 2
	VFIO_HANDOVER_NO_HWDB=1 "$VH_BIN" --sysfs "$t" --root "$r" persist --dry-run "$@" >"$tmp/out" 2>&1 &&
		! grep -q '^write ' "$tmp/out" && grep -q 'no file would change' "$tmp/out" ||
		{ cat "$tmp/out"; return 1; }
}

cycle() {	# NAME LAYOUT ROOTCASE PERSIST-ARGS...
	name=$1 layout=$2 rootcase=$3
	shift 3
	t=$tmp/tree-$name r=$tmp/root-$name
	mkdir -p "$r"
	"$MKFIXTURE" "$layout" "$t" >/dev/null || { echo "FAIL $name: mkfixture"; fail=$((fail + 1)); return; }
	kernel_root "$rootcase" "$r" || { echo "FAIL $name: depmod"; fail=$((fail + 1)); return; }
	snapshot "$r" > "$tmp/before"
	VFIO_HANDOVER_NO_HWDB=1 "$VH_BIN" --sysfs "$t" --root "$r" persist --dry-run "$@" >"$tmp/plan" 2>&1
	check "$name: persist $*" vh "$t" "$r" persist "$@"
	snapshot "$r" > "$tmp/persisted"
	check "$name: persist changed the root" sh -c "! cmp -s '$tmp/before' '$tmp/persisted'"
	check "$name: the dry run planned devices.conf as persist wrote it" \
		planned_as_written "$tmp/plan" /etc/vfio-handover/devices.conf "$r"
	check "$name: a dry run after persisting plans no file" plans_nothing "$t" "$r" "$@"
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
# a GH200 for its VFIO variant driver (--driver auto, the running kernel's
# index has nvgrace_gpu_vfio_pci)
cycle variant gh200 persist-variant-dry-run --driver auto 0009:01:00

# the variant stays: persisted again without --driver, and what apply does
t=$tmp/tree-variant-kept r=$tmp/root-variant-kept
mkdir -p "$r"
"$MKFIXTURE" gh200 "$t" >/dev/null && kernel_root persist-variant-dry-run "$r" || exit 99
snapshot "$r" > "$tmp/before"
check "variant kept: persist --driver auto" vh "$t" "$r" persist --driver auto 0009:01:00
V='^0009:01:00.0 10de:2342 10de:16eb slot=- path=0009:00:00.0/0009:01:00.0 driver=nvgrace_gpu_vfio_pci module=nvgrace_gpu_vfio_pci$'
check "variant kept: devices.conf records it" grep -q "$V" "$r/etc/vfio-handover/devices.conf"
check "variant kept: modules-load.d loads it" grep -qx nvgrace_gpu_vfio_pci "$r/etc/modules-load.d/vfio-handover.conf"
check "variant kept: persist again without --driver" vh "$t" "$r" persist 0009:01:00
check "variant kept: still recorded" grep -q "$V" "$r/etc/vfio-handover/devices.conf"
check "variant kept: apply plans it" sh -c "VFIO_HANDOVER_NO_HWDB=1 '$VH_BIN' --sysfs '$t' --root '$r' apply --dry-run 2>&1 |
	grep -q '^write nvgrace_gpu_vfio_pci to .*/0009:01:00.0/driver_override'"
check "variant kept: persist --driver vfio-pci" vh "$t" "$r" persist --driver vfio-pci 0009:01:00
check "variant kept: now for vfio-pci" grep -qx '0009:01:00.0 10de:2342 10de:16eb slot=- path=0009:00:00.0/0009:01:00.0' \
	"$r/etc/vfio-handover/devices.conf"
check "variant kept: no module line for it" sh -c "! grep -q nvgrace '$r/etc/modules-load.d/vfio-handover.conf'"
check "variant kept: unpersist" vh "$t" "$r" unpersist
snapshot "$r" > "$tmp/after"
check "variant kept: byte-identical at the end" diff -u "$tmp/before" "$tmp/after"

# twins, one GPU for a variant (vh_rtx_vfio, in the index, not loaded: its
# driver's name unknown), the other for vfio-pci: no ids= (they share ids),
# and unpersisting the other keeps the variant's module in the lists
t=$tmp/tree-variant-twins r=$tmp/root-variant-twins
mkdir -p "$r"
"$MKFIXTURE" twins "$t" >/dev/null && kernel_root bind-variant-load-dry-run "$r" || exit 99
snapshot "$r" > "$tmp/before"
check "variant twins: persist --driver auto 01:00" vh "$t" "$r" persist --driver auto 01:00
check "variant twins: its display function recorded, the driver's name unknown" \
	grep -q '^0000:01:00.0 10de:27b0 .* driver=- module=vh_rtx_vfio$' "$r/etc/vfio-handover/devices.conf"
check "variant twins: its audio function for vfio-pci" \
	grep -q '^0000:01:00.1 10de:22bc [^ ]* slot=[^ ]* path=[^ ]*$' "$r/etc/vfio-handover/devices.conf"
check "variant twins: persist --driver vfio-pci 02:00" vh "$t" "$r" persist --driver vfio-pci 02:00
check "variant twins: no ids= (10de:27b0 is the variant's too)" \
	sh -c "! grep -q '^options' '$r/etc/modprobe.d/vfio-handover.conf'"
check "variant twins: unpersist 02:00" vh "$t" "$r" unpersist 02:00
check "variant twins: the variant still loads early" grep -qx vh_rtx_vfio "$r/etc/modules-load.d/vfio-handover.conf"
check "variant twins: and after vfio-pci in the softdeps" \
	grep -qx 'softdep nvidia pre: vfio-pci vh_rtx_vfio' "$r/etc/modprobe.d/vfio-handover.conf"
check "variant twins: unpersist" vh "$t" "$r" unpersist
snapshot "$r" > "$tmp/after"
check "variant twins: byte-identical at the end" diff -u "$tmp/before" "$tmp/after"

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

# migrate on a root set up as the operators' guide says (and as Proxmox's
# pages say): check finds no line of a hand-made setup after it, a second
# migrate changes nothing, unpersist gives the root back byte for byte, mode
# for mode (a file of mode 600, one without a final newline)
migrate_cycle() {	# NAME LAYOUT ROOTCASE MIGRATE-ARGS...
	name=$1 layout=$2 rootcase=$3
	shift 3
	t=$tmp/tree-$name r=$tmp/root-$name
	mkdir -p "$r"
	"$MKFIXTURE" "$layout" "$t" >/dev/null || { echo "FAIL $name: mkfixture"; fail=$((fail + 1)); return; }
	kernel_root "$rootcase" "$r" || { echo "FAIL $name: depmod"; fail=$((fail + 1)); return; }
	find "$r" -name '*.symlink' | while read -r l; do ln -s "$(cat "$l")" "${l%.symlink}" && rm "$l"; done
	[ ! -f "$r/etc/modprobe.d/vfio.conf" ] || chmod 600 "$r/etc/modprobe.d/vfio.conf"
	snapshot "$r" > "$tmp/before"
	check "$name: check reports the lines" sh -c "VFIO_HANDOVER_NO_HWDB=1 '$VH_BIN' --sysfs '$t' \
		--root '$r' check | grep -q -e '^FAIL  ids-binding'"
	check "$name: migrate $*" vh "$t" "$r" migrate "$@"
	snapshot "$r" > "$tmp/migrated"
	check "$name: migrate changed the root" sh -c "! cmp -s '$tmp/before' '$tmp/migrated'"
	check "$name: check finds no line of a hand-made setup" sh -c "! VFIO_HANDOVER_NO_HWDB=1 \
		'$VH_BIN' --sysfs '$t' --root '$r' check | grep -e ids-binding -e blacklist \
		-e softdep -e module-line"
	check "$name: migrate again" vh "$t" "$r" migrate "$@"
	snapshot "$r" > "$tmp/again"
	check "$name: migrating twice changes nothing" cmp -s "$tmp/migrated" "$tmp/again"
	check "$name: unpersist" vh "$t" "$r" unpersist
	snapshot "$r" > "$tmp/after"
	check "$name: unpersist leaves the root byte-identical" diff -u "$tmp/before" "$tmp/after"
}
migrate_cycle guide rtx4000 guide-check --aleph
migrate_cycle guide-console guide-console guide-check
migrate_cycle proxmox twins rw-migrate-changed-line
# links planted to a file outside the root, a binary file, a line of
# 300,000 bytes, CRLF, a line continued with a backslash
mkdir -p "$tmp/root-hostile/lib/modules"
cp -R "$TESTS_SRCDIR/roots/guide-check/lib/modules/." "$tmp/root-hostile/lib/modules/"
migrate_cycle hostile rtx4000 check-leftover-hostile

# the user edits a file after migrate: unpersist puts the lines back where
# the notes are, and keeps the edit
t=$tmp/tree-edited r=$tmp/root-edited
mkdir -p "$r"
"$MKFIXTURE" rtx4000 "$t" >/dev/null && kernel_root guide-check "$r" || exit 99
rm "$r/etc/modules-load.d/modules.conf.symlink"
check "edited: migrate" vh "$t" "$r" migrate
sed -i '2a options kvm ignore_msrs=1' "$r/etc/modprobe.d/vfio.conf"
check "edited: unpersist" vh "$t" "$r" unpersist
printf 'blacklist nouveau\nblacklist snd_hda_intel\noptions kvm ignore_msrs=1\nalias pci:v000010DEd000027B0sv000010DEsd000016FAbc03sc00i00 vfio-pci\noptions vfio-pci ids=10de:27b0,10de:22bc\n' >"$tmp/want"
check "edited: the lines back around the edit" cmp "$tmp/want" "$r/etc/modprobe.d/vfio.conf"

echo "cycle: $pass passed, $fail failed"
[ "$fail" = 0 ]
