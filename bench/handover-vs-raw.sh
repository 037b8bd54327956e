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
	# each run is a pair (tool, then bare) taken back to back: the ratio of
	# each pair cancels the drift of a shared, emulated machine
	{ t[NR] = $3; r[NR] = $5; q[NR] = $3 / $5; b[NR] = $7; s[NR] = $9; f[NR] = ($5 + $9) / $5 }
	function sort(a, n,   i, j, x) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x }
	}
	END {
		if (NR == 0) { print "no figures: the guest run failed"; exit 1 }
		n = NR; sort(t, n); sort(r, n); sort(q, n); sort(b, n); sort(s, n); sort(f, n)
		lo = int((n + 3) / 4); mid = int((n + 1) / 2); hi = n + 1 - lo
		printf "runs:                        %d pairs, alternated\n", n
		printf "vfio-handover bind+rollback: %d us (median)\n", t[mid]
		printf "bare kernel sequence:        %d us (median)\n", r[mid]
		printf "ratio tool / bare, per pair: median %.2f, quartiles %.2f-%.2f (target <= 1.2)\n", q[mid], q[lo], q[hi]
		printf "of which bind'"'"'s own writes and read-backs (its \"handed over in\"): %d us (median)\n", b[mid]
		# what starting this binary twice costs before any work: the lowest ratio it could reach
		printf "two starts of the binary, no work (--version twice): %d us (median)\n", s[mid]
		printf "floor, (bare + two starts) / bare, per pair: median %.2f\n", f[mid]
	}'
