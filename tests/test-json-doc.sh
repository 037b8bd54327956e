#!/bin/sh
# doc/json.md is a promise: every key it lists for a command appears in that
# command's --json document (function-object keys in list's and verify's),
# checked on emulated trees chosen so that no documented array is empty.
set -u
: "${VH_BIN:?}" "${MKFIXTURE:?}" "${TESTS_SRCDIR:?}"
doc="$TESTS_SRCDIR/../doc/json.md"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-jsondoc.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
pass=0 fail=0

for layout in rtx4000 gpu-nic rtx4000-vfio; do
	"$MKFIXTURE" "$layout" "$tmp/$layout" >/dev/null || exit 99
done
run() {	# OUTFILE LAYOUT ARGS...: one --json document appended to OUTFILE
	out=$1 layout=$2
	shift 2
	VFIO_HANDOVER_NO_HWDB=1 "$VH_BIN" --sysfs "$tmp/$layout" --root "$tmp/root" --json "$@" \
		>>"$tmp/$out" 2>/dev/null
}
run list rtx4000 list
run check rtx4000 check 01:00
run verify rtx4000 verify 01:00
run bind rtx4000 --dry-run bind 01:00
run bind gpu-nic bind 01:00                 # refused: fills "refusals"
run rollback rtx4000-vfio --dry-run rollback 01:00
cat "$tmp/list" "$tmp/verify" >"$tmp/function"

# "## `list`" -> list, "## The function object" -> function; rows "| `key`..."
awk '
	/^## The function object/ { sec = "function"; next }
	/^## `/ { sec = $2; gsub(/`/, "", sec); next }
	/^## / { sec = ""; next }
	sec != "" && /^\| `/ {
		split($0, col, "|")
		keys = col[2]
		# an object or array row names its members in the last column
		if (col[3] ~ /^ *(object|array)( or null)? *$/) keys = keys " " col[4]
		while (match(keys, /`[a-z_][a-z_0-9]*`/)) {
			print sec, substr(keys, RSTART + 1, RLENGTH - 2)
			keys = substr(keys, RSTART + RLENGTH)
		}
	}
	/^\| `format_version`|^\| `command`/ { split($0, col, "|"); k = col[2]; gsub(/[ `]/, "", k); print "all", k }
' "$doc" | sort -u >"$tmp/keys"

[ -s "$tmp/keys" ] || { echo "FAIL: no keys read from $doc"; exit 1; }
while read -r sec key; do
	if [ "$sec" = all ]; then files="list check verify bind rollback"; else files=$sec; fi
	for f in $files; do
		if grep -q "\"$key\":" "$tmp/$f"; then
			pass=$((pass + 1))
		else
			echo "FAIL $f --json has no key \"$key\" (doc/json.md, section $sec)"
			fail=$((fail + 1))
		fi
	done
done <"$tmp/keys"
echo "json-doc: $pass passed, $fail failed"
[ "$fail" = 0 ]
