#!/bin/sh
# Figures, not a test: over emulated 1,000-function sysfs trees, taken in
# turns with `lspci -k` over the same tree:
#   list --all            (target: <= 0.5 x lspci -k)
#   check, no selector     (every GPU of the tree)
#   check, no selector, on a tree whose one IOMMU group holds every
#     function (no ACS)    (target: <= 1 s)
# Medians and quartiles of the runs, and the ratio per run.
# usage: bench/list-vs-lspci.sh [BUILDDIR] [RUNS]
set -eu
top=${1:-.}
runs=${2:-21}
bin="$top/vfio-handover"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
"$top/tests/lib/mkfixture" big1000 "$tmp/sys" >/dev/null
"$top/tests/lib/mkfixture" group1000 "$tmp/group" >/dev/null
mkdir -p "$tmp/root"

now_ns() { date +%s%N; }
lspci_k() { lspci -A linux-sysfs -O sysfs.path="$1/bus/pci" -k >/dev/null 2>&1; }
# time_us COMMAND...: its wall time in microseconds (output dropped)
time_us() {
	t0=$(now_ns)
	"$@" >/dev/null 2>&1 || true
	echo $((($(now_ns) - t0) / 1000))
}
stats() {	# FILE -> "median (quartiles lo-hi)"
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		lo = int((NR + 3) / 4); printf "%d us (median; quartiles %d-%d)", v[int((NR + 1) / 2)], v[lo], v[NR + 1 - lo] }'
}
ratios() {	# A B -> median and quartiles of A[i] / B[i]
	paste "$1" "$2" | awk '{ print $1 / $2 }' | sort -g | awk '{ v[NR] = $1 } END {
		lo = int((NR + 3) / 4); printf "median %.2f, quartiles %.2f-%.2f", v[int((NR + 1) / 2)], v[lo], v[NR + 1 - lo] }'
}

for f in list lspci check lspcig checkg; do : >"$tmp/$f"; done
i=0
while [ $i -lt "$runs" ]; do
	time_us "$bin" --sysfs "$tmp/sys" list --all >>"$tmp/list"
	time_us lspci_k "$tmp/sys" >>"$tmp/lspci"
	time_us "$bin" --sysfs "$tmp/sys" --root "$tmp/root" check >>"$tmp/check"
	time_us lspci_k "$tmp/group" >>"$tmp/lspcig"
	time_us "$bin" --sysfs "$tmp/group" --root "$tmp/root" check >>"$tmp/checkg"
	i=$((i + 1))
done
lines=$("$bin" --sysfs "$tmp/sys" list --all | grep -c '^[0-9a-f]\{4\}:')
echo "functions listed:                   $lines ($runs runs each, in turns)"
echo "vfio-handover list --all:           $(stats "$tmp/list")"
echo "lspci -k, same tree:                $(stats "$tmp/lspci")"
echo "list --all / lspci -k, per run:     $(ratios "$tmp/list" "$tmp/lspci") (target <= 0.5)"
echo "vfio-handover check (every GPU):    $(stats "$tmp/check")"
echo "check / lspci -k, per run:          $(ratios "$tmp/check" "$tmp/lspci")"
echo "check, one 1,000-function group:    $(stats "$tmp/checkg") (target <= 1 s)"
echo "that check / lspci -k on its tree:  $(ratios "$tmp/checkg" "$tmp/lspcig")"
