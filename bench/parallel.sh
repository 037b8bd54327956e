#!/bin/sh
# Figures, not a test: in the QEMU guest of tests/vm, one bind --force of
# three GPUs whose audio unbind each takes a second (a holder closes the
# card one second after the kernel began tearing it down), against the
# same three handed over one after another.  Target: together <= 1.5 s,
# about the slowest GPU.
# usage: bench/parallel.sh DESTDIR [RUNS]   (DESTDIR: make install DESTDIR= tree)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
destdir=${1:?usage: parallel.sh DESTDIR [RUNS]}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
sed "s/^runs=5 .*/runs=${2:-5}/" "$here/guest-parallel.sh" >"$tmp/scenario.sh"
out=$(VH_VM_TIMEOUT=${VH_VM_TIMEOUT:-600} "$here/../tests/vm/guest.sh" run -d "$destdir" "$tmp/scenario.sh")
printf '%s\n' "$out" | grep '^BENCH' | awk '
	{ n++; a[n] = $3; b[n] = $5; q[n] = $3 / $5 }
	function sort(v, k,   i, j, x) {
		for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (v[j] < v[i]) { x = v[i]; v[i] = v[j]; v[j] = x }
	}
	function lo(v, k) { return v[int((k + 3) / 4)] }
	function hi(v, k) { return v[k + 1 - int((k + 3) / 4)] }
	END {
		if (n == 0) { print "no figures: the guest run failed"; exit 1 }
		sort(a, n); sort(b, n); sort(q, n); m = int((n + 1) / 2)
		printf "rounds:                               %d\n", n
		printf "bind --force of 3 GPUs together:      %d ms (median; quartiles %d-%d) (target <= 1500)\n", a[m] / 1000, lo(a, n) / 1000, hi(a, n) / 1000
		printf "the same 3, one bind after another:   %d ms (median; quartiles %d-%d)\n", b[m] / 1000, lo(b, n) / 1000, hi(b, n) / 1000
		printf "together / one after another:         median %.2f\n", q[m]
	}'
