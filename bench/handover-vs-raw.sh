#!/bin/sh
# Figures, not a test: in the QEMU guest of tests/vm, the tool's bind +
# rollback of one GPU against the bare kernel sequence on an identical GPU
# and against Debian's driverctl doing the same (set-override and
# unset-override of both functions), taken in turns; per round the ratios,
# and over the rounds their medians and quartiles.
#   work / bare: (bind + rollback - two starts of the binary) / bare
#     sequence: what the tool adds to the kernel's own work, with the
#     cost of starting a program twice (large under emulation) set apart
#     (target <= 1.1)
#   tool / driverctl: (target <= 0.5)
# usage: bench/handover-vs-raw.sh DESTDIR [RUNS]   (DESTDIR: make install DESTDIR= tree)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
destdir=${1:?usage: handover-vs-raw.sh DESTDIR [RUNS]}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
sed "s/^runs=9 .*/runs=${2:-9}/" "$here/guest-handover.sh" >"$tmp/scenario.sh"
"$here/guest-tools.sh" "$tmp/tools.cpio"
out=$(VH_VM_EXTRA_CPIO=$tmp/tools.cpio "$here/../tests/vm/guest.sh" run -d "$destdir" "$tmp/scenario.sh")
printf '%s\n' "$out" | grep '^BENCH' | awk '
	# each round is taken back to back: the ratios of each round cancel
	# the drift of a shared, emulated machine
	{ n++; t[n] = $3; r[n] = $5; b[n] = $7; s[n] = $9; d[n] = $11
	  w[n] = ($3 - $9) / $5; f[n] = ($5 + $9) / $5; if ($11 > 0) { m++; q[m] = $3 / $11; dd[m] = $11 } }
	function sort(a, k,   i, j, x) {
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x }
	}
	function med(a, k) { return a[int((k + 1) / 2)] }
	function lo(a, k) { return a[int((k + 3) / 4)] }
	function hi(a, k) { return a[k + 1 - int((k + 3) / 4)] }
	END {
		if (n == 0) { print "no figures: the guest run failed"; exit 1 }
		sort(t, n); sort(r, n); sort(w, n); sort(b, n); sort(s, n); sort(f, n)
		printf "rounds:                      %d\n", n
		printf "vfio-handover bind+rollback: %d us (median)\n", med(t, n)
		printf "bare kernel sequence:        %d us (median)\n", med(r, n)
		printf "two starts of the binary, no work (--version twice): %d us (median)\n", med(s, n)
		printf "work / bare, per round:      median %.2f, quartiles %.2f-%.2f (target <= 1.1)\n", med(w, n), lo(w, n), hi(w, n)
		printf "of which bind'"'"'s own writes and read-backs (its \"handed over in\"): %d us (median)\n", med(b, n)
		printf "(tool / bare with the starts: floor (bare + two starts) / bare %.2f)\n", med(f, n)
		if (m) {
			sort(q, m); sort(dd, m)
			printf "driverctl set+unset-override, both functions: %d us (median)\n", med(dd, m)
			printf "tool / driverctl, per round: median %.2f, quartiles %.2f-%.2f (target <= 0.5)\n", med(q, m), lo(q, m), hi(q, m)
		} else {
			print "driverctl: not in the guest (see above)"
		}
	}'
