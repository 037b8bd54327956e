#!/bin/sh
# Figures, not a test: in the QEMU guest of tests/vm, the tool's bind +
# rollback of one GPU against the bare kernel sequence on an identical GPU,
# alternated; medians and their ratio (target: <= 1.2).
# usage: bench/handover-vs-raw.sh DESTDIR [RUNS]   (DESTDIR: make install DESTDIR= tree)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
destdir=${1:?usage: handover-vs-raw.sh DESTDIR [RUNS]}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
sed "s/^runs=9 .*/runs=${2:-9}/" "$here/guest-handover.sh" >"$tmp/scenario.sh"
out=$("$here/../tests/vm/guest.sh" run -d "$destdir" "$tmp/scenario.sh")
printf '%s\n' "$out" | grep '^BENCH' | awk '
	{ t[NR] = $3; r[NR] = $5 }
	function median(a, n,   i, j, x) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x }
		return a[int((n + 1) / 2)]
	}
	END {
		if (NR == 0) { print "no figures: the guest run failed"; exit 1 }
		mt = median(t, NR); mr = median(r, NR)
		printf "runs:                        %d (alternated)\n", NR
		printf "vfio-handover bind+rollback: %d us (median)\n", mt
		printf "bare kernel sequence:        %d us (median)\n", mr
		printf "ratio tool / bare:           %.2f (target <= 1.2)\n", mt / mr
	}'
