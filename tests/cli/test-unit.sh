#!/bin/sh
# The boot-time unit: systemd-analyze verify is clean with the unit as built,
# its ExecStart pointing at this build's binary (the installed path may not
# exist yet), and it is ordered before what would grab a GPU.
set -eu
: "${VH_BIN:?}" "${TESTS_SRCDIR:?}"
command -v systemd-analyze >/dev/null || { echo "SKIP: systemd-analyze not found (apt-get install systemd)"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-unit.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
unit=$tmp/vfio-handover.service
sed "s|@sbindir@/vfio-handover|$VH_BIN|" "$TESTS_SRCDIR/../../contrib/systemd/vfio-handover.service.in" >"$unit"
out=$(systemd-analyze verify --man=no "$unit" 2>&1) || { printf '%s\n' "$out"; echo "FAIL: systemd-analyze verify"; exit 1; }
# systemd-analyze exits 0 on some warnings: none may be about our unit
if printf '%s\n' "$out" | grep -q 'vfio-handover'; then printf '%s\n' "$out"; echo "FAIL: warnings about the unit"; exit 1; fi
for before in display-manager.service nvidia-persistenced.service aleph-vm-supervisor.service; do
	grep -q "^Before=.*$before" "$unit" || { echo "FAIL: not ordered before $before"; exit 1; }
done
grep -q "^ExecStart=$VH_BIN apply\$" "$unit" || { echo "FAIL: ExecStart is not 'apply'"; exit 1; }
echo "PASS: unit verified by systemd-analyze, ordered before the GPU's users"
