#!/bin/bash
# tests/vm/test-vm.sh: the QEMU guest tests, as one automake test.
#
# Takes the project's install tree from VH_DESTDIR (a `make install
# DESTDIR=` tree; building it is the caller's job), builds or reuses the
# guest (tests/vm/guest.sh), boots it once per scenario in
# tests/vm/scenarios/, prints "ok" or "FAIL" per scenario (with the guest's
# whole output for a failure) and a last line "vm: N passed, N failed".
# A scenario whose "# vh-vm-udev:" line says "both" runs twice, without and
# with systemd-udevd; "yes", with it only.  One whose "# vh-vm-kernels:"
# line says "all" runs (each way) on every kernel of VH_VM_KERNELS, the
# others on the first only: where the kernel's behaviour differs (vfio_virqfd
# gone in 6.2, which attributes a blocked unbind's device lock holds up).
#
# Exit status: 0 all passed, 1 a scenario failed, 77 (automake's SKIP) when
# QEMU or Debian's kernel package cannot be had, 99 a harness error.
#
# Environment: VH_DESTDIR (required), VH_VM_JOBS (guests at once, default:
# the number of CPUs, at most 4), VH_VM_ONLY (run only the scenarios whose
# name matches this shell pattern), VH_VM_VERBOSE=1 (print every guest's
# output, not only the failures'), VH_VM_KERNELS (the kernel packages,
# meta-packages or versioned, the first for every scenario; default
# "linux-image-amd64 linux-image-6.12-amd64": Debian 12's kernel and its
# backported 6.12), and guest.sh's VH_VM_* variables but VH_VM_KERNEL_PKG.
# Under CI=true a scenario that cannot run (a kernel that cannot be had)
# fails the test.
set -u

here=$(cd "$(dirname "$0")" && pwd)
guest=$here/guest.sh

if [ -z "${VH_DESTDIR:-}" ]; then
	echo "test-vm.sh: VH_DESTDIR is not set: give it a 'make install DESTDIR=' tree" >&2
	exit 99
fi

jobs=${VH_VM_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ "$jobs" -le 4 ] 2>/dev/null || jobs=4
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1

work=$(mktemp -d "${TMPDIR:-/tmp}/vh-test-vm.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The guests, once each, before the scenarios race for them: one per
# kernel, a kernel that cannot be had leaves its runs skipped.
read -r -a kernel_pkgs <<<"${VH_VM_KERNELS:-linux-image-amd64 linux-image-6.12-amd64}"
[ ${#kernel_pkgs[@]} -ge 1 ] || { echo "test-vm.sh: VH_VM_KERNELS is empty"; exit 99; }
t0=$(date +%s%N)
kernels=()	# per kernel: "KERNEL INITRD" or "skip REASON"
klabels=()	# per kernel: its series (6.1, 6.12)
for k in "${!kernel_pkgs[@]}"; do
	VH_VM_KERNEL_PKG=${kernel_pkgs[$k]} "$guest" build "$VH_DESTDIR" >"$work/build.$k.out" 2>&1
	rc=$?
	if [ $rc -eq 77 ]; then
		why=$(sed -n 's/^guest.sh: SKIP: //p' "$work/build.$k.out" | tail -n 1)
		[ "$k" -eq 0 ] && { echo "test-vm.sh: SKIP: $why"; exit 77; }
		kernels+=("skip ${kernel_pkgs[$k]}: $why")
		klabels+=("${kernel_pkgs[$k]}")
		echo "guest: ${kernel_pkgs[$k]}: cannot be had: $why"
		continue
	elif [ $rc -ne 0 ]; then
		cat "$work/build.$k.out"
		echo "test-vm.sh: building the guest of ${kernel_pkgs[$k]} failed (exit $rc)"
		exit 99
	fi
	grep -v '^guest.sh: ' "$work/build.$k.out" | sed 's/^/guest: /'
	kv=$(sed -n 's/^kernel=.*kernel-\([^/]*\)\/.*/\1/p' "$work/build.$k.out")
	# a copy of the initramfs of its own: another tree's test run may prune
	# the cache meanwhile (a hard link where the cache and TMPDIR share a
	# filesystem)
	initrd=$(sed -n 's/^initrd=//p' "$work/build.$k.out")
	ln "$initrd" "$work/initrd.$k.cpio" 2>/dev/null || cp "$initrd" "$work/initrd.$k.cpio" ||
		{ echo "test-vm.sh: cannot copy $initrd into $work"; exit 99; }
	kernels+=("$(sed -n 's/^kernel=//p' "$work/build.$k.out") $work/initrd.$k.cpio")
	klabels+=("$(echo "$kv" | cut -d. -f1-2)")
done
echo "guest: ready in $((($(date +%s%N) - t0) / 1000000)) ms; $jobs at once"

# The runs: NAME SCRIPT UDEV-FLAG KERNEL-INDEX
names=()
scripts=()
flags=()
kidx=()
for s in "$here"/scenarios/*.sh; do
	[ -f "$s" ] || continue
	n=$(basename "$s" .sh)
	# shellcheck disable=SC2254
	case $n in ${VH_VM_ONLY:-*}) ;; *) continue ;; esac
	mode=$(sed -n 's/^# vh-vm-udev:[[:space:]]*\([a-z]*\).*/\1/p' "$s" | head -n 1)
	nk=1
	grep -q '^# vh-vm-kernels:[[:space:]]*all' "$s" && nk=${#kernels[@]}
	for ((k = 0; k < nk; k++)); do
		label=$n
		[ "$k" -gt 0 ] && label="$n@${klabels[$k]}"
		case $mode in
		both)
			names+=("$label" "${label}[udev]"); scripts+=("$s" "$s"); flags+=(-n -u)
			kidx+=("$k" "$k") ;;
		yes)
			names+=("${label}[udev]"); scripts+=("$s"); flags+=(-u); kidx+=("$k") ;;
		*)
			names+=("$label"); scripts+=("$s"); flags+=(-n); kidx+=("$k") ;;
		esac
	done
done
if [ ${#names[@]} -eq 0 ]; then
	echo "test-vm.sh: no scenario in $here/scenarios${VH_VM_ONLY:+ matches $VH_VM_ONLY}"
	exit 99
fi

run_one() {	# INDEX
	local i=$1 start rc kernel initrd
	start=$(date +%s%N)
	read -r kernel initrd <<<"${kernels[${kidx[$i]}]}"
	if [ "$kernel" = skip ]; then
		echo "SKIP: $initrd" >"$work/$i.log"
		rc=77
	else
		"$guest" run -k "$kernel" -i "$initrd" "${flags[$i]}" "${scripts[$i]}" >"$work/$i.log" 2>&1 </dev/null
		rc=$?
	fi
	echo "$rc $((($(date +%s%N) - start) / 1000000))" >"$work/$i.rc"
}

running=0
for i in "${!names[@]}"; do
	if [ $running -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
	run_one "$i" &
	running=$((running + 1))
done
wait

pass=0
failed=0
skipped=0
for i in "${!names[@]}"; do
	read -r rc ms <"$work/$i.rc"
	secs=$(printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)))
	case $rc in
	0)
		pass=$((pass + 1))
		printf 'ok    %-32s %5ss\n' "${names[$i]}" "$secs"
		[ "${VH_VM_VERBOSE:-0}" = 1 ] && sed 's/^/    | /' "$work/$i.log"
		;;
	77)
		skipped=$((skipped + 1))
		printf 'skip  %-32s %5ss  %s\n' "${names[$i]}" "$secs" \
			"$(grep -a 'SKIP' "$work/$i.log" | tail -n 1 | tr -d '\r')"
		;;
	*)
		failed=$((failed + 1))
		what="exit $rc"
		[ "$rc" = 99 ] && what="harness failure: no VH-SCENARIO-EXIT line (exit 99)"
		printf 'FAIL  %-32s %5ss  %s\n' "${names[$i]}" "$secs" "$what"
		tr -d '\r' <"$work/$i.log" | sed 's/^/    | /'
		;;
	esac
done

printf 'vm: wall time %d s\n' $((($(date +%s%N) - t0) / 1000000000))
if [ $skipped -gt 0 ]; then
	echo "vm: $pass passed, $failed failed, $skipped skipped"
else
	echo "vm: $pass passed, $failed failed"
fi
[ $failed -eq 0 ] || exit 1
if [ $skipped -gt 0 ] && [ "${CI:-}" = true ]; then
	echo "vm: in CI every scenario must run: $skipped did not"
	exit 1
fi
[ $pass -gt 0 ] || exit 77
exit 0
