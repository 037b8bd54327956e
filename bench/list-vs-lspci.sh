#!/bin/sh
# Figures, not a test: `vfio-handover list --all` against `lspci -k` over the
# same emulated 1,000-function sysfs tree, runs alternated, median of each and
# their ratio (target: <= 1.0).
# usage: bench/list-vs-lspci.sh [BUILDDIR] [RUNS]
set -eu
top=${1:-.}
runs=${2:-21}
bin="$top/vfio-handover"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
"$top/tests/lib/mkfixture" big1000 "$tmp/sys" >/dev/null

now_ns() { date +%s%N; }
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

: >"$tmp/ours"
: >"$tmp/lspci"
i=0
while [ $i -lt "$runs" ]; do
	t0=$(now_ns)
	"$bin" --sysfs "$tmp/sys" list --all >/dev/null
	t1=$(now_ns)
	lspci -A linux-sysfs -O sysfs.path="$tmp/sys/bus/pci" -k >/dev/null 2>&1
	t2=$(now_ns)
	echo $(((t1 - t0) / 1000)) >>"$tmp/ours"
	echo $(((t2 - t1) / 1000)) >>"$tmp/lspci"
	i=$((i + 1))
done
ours=$(median <"$tmp/ours")
theirs=$(median <"$tmp/lspci")
lines=$("$bin" --sysfs "$tmp/sys" list --all | grep -c '^[0-9a-f]\{4\}:')
echo "functions listed:            $lines"
echo "vfio-handover list --all:    ${ours} us (median of $runs)"
echo "lspci -k, same tree:         ${theirs} us (median of $runs)"
awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "ratio vfio-handover / lspci: %.2f (target <= 1.0)\n", a / b }'
