#!/bin/sh
# The boot-time unit: systemd-analyze verify is clean with the unit as built,
# its ExecStart pointing at this build's binary (the installed path may not
# exist yet), and it is ordered before what would grab a GPU.  A failing
# apply fails the unit and nothing else: nothing requires it, it has a start
# timeout.  Its sandbox holds: the exposure systemd-analyze security gives
# it stays at 3.0 or below; apply, run as the unit runs it (on an emulated
# tree, under a root of its own), keeps working within the unit's capability
# bounding set, uses no system call outside its SystemCallFilter= (strace),
# and writes nowhere but /run/vfio-handover (ProtectSystem=strict,
# RuntimeDirectory=).
set -eu
: "${VH_BIN:?}" "${TESTS_SRCDIR:?}" "${MKFIXTURE:?}"
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not found (apt-get install systemd)"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-unit.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
top=$TESTS_SRCDIR/../..
unit=$tmp/vfio-handover.service
sed "s|@sbindir@/vfio-handover|$VH_BIN|" "$top/contrib/systemd/vfio-handover.service.in" >"$unit"
out=$(systemd-analyze verify --man=no "$unit" 2>&1) || { printf '%s\n' "$out"; echo "FAIL: systemd-analyze verify"; exit 1; }
# systemd-analyze exits 0 on some warnings: none may be about our unit
if printf '%s\n' "$out" | grep -q 'vfio-handover'; then printf '%s\n' "$out"; echo "FAIL: warnings about the unit"; exit 1; fi
for before in display-manager.service nvidia-persistenced.service aleph-vm-supervisor.service; do
	grep -q "^Before=.*$before" "$unit" || { echo "FAIL: not ordered before $before"; exit 1; }
done
grep -q "^ExecStart=$VH_BIN apply\$" "$unit" || { echo "FAIL: ExecStart is not 'apply'"; exit 1; }

# a failing apply fails this unit, and the boot goes on
timeout=$(sed -n 's/^TimeoutStartSec=\([0-9][0-9]*\)$/\1/p' "$unit")
if [ -z "$timeout" ] || [ "$timeout" -le 0 ]; then echo "FAIL: no TimeoutStartSec= in seconds"; exit 1; fi
grep -q '^WantedBy=sysinit.target$' "$unit" || { echo "FAIL: not WantedBy=sysinit.target"; exit 1; }
if grep -E -q '^(RequiredBy|FailureAction|SuccessAction|OnFailure|StartLimitAction)=' "$unit"; then
	echo "FAIL: the unit's failure must not stop the boot"; exit 1
fi
if ! grep -q '^RuntimeDirectory=vfio-handover$' "$unit" || ! grep -q '^RuntimeDirectoryPreserve=yes$' "$unit"; then
	echo "FAIL: /run/vfio-handover must be the unit's runtime directory, kept when it stops (the journal)"
	exit 1
fi

# the sandbox's exposure (0-10, 3.0 when this was written)
score=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
systemd-analyze security --offline=yes --threshold=30 "$unit" >/dev/null 2>&1 ||
	{ echo "FAIL: systemd-analyze security: exposure $score, above 3.0"; exit 1; }
echo "ok systemd-analyze security: exposure $score"

# apply, as the unit runs it: an emulated tree and a root that persisted a
# GPU (the hand-over then fails on plain files: status 1, its undo done)
"$MKFIXTURE" rtx4000 "$tmp/sys" >/dev/null
root=$tmp/root
mkdir -p "$root/lib/modules/6.1.0-18-amd64"
printf 'module kernel/drivers/vfio/%s\n' vfio.ko vfio_iommu_type1.ko vfio_virqfd.ko pci/vfio-pci.ko \
	>"$root/lib/modules/6.1.0-18-amd64/fake-modules"
# shellcheck source=fake-kernels.sh
. "$TESTS_SRCDIR/fake-kernels.sh"
fake_kernels_setup && fake_kernels "$root"
"$VH_BIN" --sysfs "$tmp/sys" --root "$root" persist 01:00 >/dev/null 2>&1 ||
	{ echo "FAIL: persist 01:00 on the emulated tree"; exit 1; }
# what RuntimeDirectory= makes before apply starts
mkdir -p "$root/run/vfio-handover"
snapshot() { (cd "$root" && find . -path ./run/vfio-handover -prune -o -printf '%p %y %s %m %T@\n' | sort); }
before=$(snapshot)
rc=0
"$VH_BIN" --sysfs "$tmp/sys" --root "$root" apply >"$tmp/out" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$tmp/out"; echo "FAIL: apply on plain files: status $rc, expected 1"; exit 1; }
[ "$(snapshot)" = "$before" ] || { echo "FAIL: apply wrote outside /run/vfio-handover (ProtectSystem=strict)"; exit 1; }
[ -f "$root/run/vfio-handover/apply.json" ] || { echo "FAIL: apply left no record"; exit 1; }
echo "ok apply writes only /run/vfio-handover"

# one word on the kernel command line skips both the unit and persist's udev rule
rule=$root/etc/udev/rules.d/05-vfio-handover.rules
word=$(sed -n 's/^IMPORT{cmdline}="\([^"]*\)".*GOTO="vfio_handover_end"$/\1/p' "$rule")
[ -n "$word" ] || { echo "FAIL: $rule skips itself on no kernel command-line word"; exit 1; }
grep -qx "ConditionKernelCommandLine=!$word" "$unit" ||
	{ echo "FAIL: the unit does not skip itself on '$word', as the udev rule does"; exit 1; }
echo "ok '$word' on the kernel command line skips the unit and the udev rule"

# within the unit's capability bounding set, as root, no new privileges
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$unit")
sed -n '/^static const int apply_caps\[\]/,/};/p' "$top/src/cli/cmd-apply.c" | grep -o 'CAP_[A-Z_]*' >"$tmp/apply-caps"
[ -s "$tmp/apply-caps" ] || { echo "FAIL: no apply_caps in src/cli/cmd-apply.c"; exit 1; }
while read -r c; do
	case " $caps " in *" $c "*) ;; *) echo "FAIL: apply keeps $c, which CapabilityBoundingSet= lacks"; exit 1 ;; esac
done <"$tmp/apply-caps"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	bset=$(echo "$caps" | tr ' ' '\n' | sed 's/^CAP_/+/' | tr '[:upper:]' '[:lower:]' | paste -s -d, -)
	rc=0
	setpriv --bounding-set="-all,$bset" --inh-caps=-all --no-new-privs -- \
		"$VH_BIN" --sysfs "$tmp/sys" --root "$root" apply >"$tmp/out" 2>&1 || rc=$?
	[ "$rc" = 1 ] || { cat "$tmp/out"; echo "FAIL: apply within CapabilityBoundingSet=$caps: status $rc, expected 1"; exit 1; }
	echo "ok apply within CapabilityBoundingSet=$caps"
else
	echo "skip: apply within the bounding set (needs root and setpriv)"
fi

# no system call outside the filter
filter=$(sed -n 's/^SystemCallFilter=//p' "$unit")
if command -v strace >/dev/null 2>&1; then
	expand() {
		systemd-analyze syscall-filter "$1" | sed -e '1d' -e 's/^ *//' -e '/^#/d' -e '/^$/d' |
			while read -r x; do case $x in @*) expand "$x" ;; *) echo "$x" ;; esac; done
	}
	for g in $filter; do expand "$g"; done | sort -u >"$tmp/allowed"
	[ -s "$tmp/allowed" ] || { echo "FAIL: systemd-analyze syscall-filter listed nothing for $filter"; exit 1; }
	rc=0
	strace -f -qq -o "$tmp/trace" "$VH_BIN" --sysfs "$tmp/sys" --root "$root" apply >"$tmp/out" 2>&1 || rc=$?
	if [ "$rc" != 1 ] && grep -q 'PTRACE_TRACEME\|ptrace' "$tmp/out"; then
		echo "skip: strace cannot trace here"
	else
		awk '{ s = $2; sub(/\(.*/, "", s); if (s ~ /^[a-z_0-9]+$/) print s }' "$tmp/trace" | sort -u >"$tmp/used"
		outside=$(comm -23 "$tmp/used" "$tmp/allowed" | tr '\n' ' ')
		[ -z "$outside" ] || { echo "FAIL: apply uses system calls outside SystemCallFilter=$filter: $outside"; exit 1; }
		echo "ok apply's $(wc -l <"$tmp/used") system calls are all in SystemCallFilter=$filter"
	fi
else
	echo "skip: the system calls of apply (needs strace)"
fi
echo "PASS: unit verified by systemd-analyze, ordered before the GPU's users, sandboxed (exposure $score)"
