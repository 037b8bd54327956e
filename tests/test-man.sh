#!/bin/sh
# The man page and the bash completion: doc/vfio-handover.8 lints clean with
# mandoc (and groff where it is installed) and documents every command and
# option of --help; contrib/bash-completion/vfio-handover offers the commands,
# and the display functions of an emulated sysfs tree as selectors.
set -u

: "${VH_BIN:?}" "${MKFIXTURE:?}" "${TESTS_SRCDIR:?}"
man="$TESTS_SRCDIR/../doc/vfio-handover.8"
comp="$TESTS_SRCDIR/../contrib/bash-completion/vfio-handover"
command -v mandoc >/dev/null 2>&1 || { echo "SKIP: mandoc not found (apt-get install mandoc)"; exit 77; }
command -v bash >/dev/null 2>&1 || { echo "SKIP: bash not found"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-man.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
pass=0
fail=0

ok() { echo "ok $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

# --- the man page: lint
if mandoc -Tlint -W warning "$man" > "$tmp/lint" 2>&1 && [ ! -s "$tmp/lint" ]; then
	ok "mandoc -Tlint -W warning"
else
	bad "mandoc -Tlint -W warning:"; cat "$tmp/lint"
fi
if command -v groff >/dev/null 2>&1; then
	if groff -man -ww -z "$man" > "$tmp/lint" 2>&1 && [ ! -s "$tmp/lint" ]; then
		ok "groff -man -ww -z"
	else
		bad "groff -man -ww -z:"; cat "$tmp/lint"
	fi
else
	echo "skip groff -man -ww -z: groff not found"
fi

# --- the man page: every command and option of --help
if ! "$VH_BIN" --help > "$tmp/help" 2>&1; then
	bad "$VH_BIN --help exits non-zero"
fi
# the man page as text: \- as -, font changes and zero-width escapes dropped
sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\&//g' -e 's/\\%//g' "$man" > "$tmp/man"
commands=$(sed -n '/^Commands:/,/^$/{ s/^  \([a-z][a-z-]*\) .*/\1/p; }' "$tmp/help")
options=$(sed -n '/^Options:/,/^$/{ s/^  \(-[^ ]*\(, -[^ ]*\)*\).*/\1/p; }' "$tmp/help" | tr ',' ' ')
[ -n "$commands" ] || bad "no command found in --help"
[ -n "$options" ] || bad "no option found in --help"
for c in $commands; do
	if grep -E -q -e "(^|[^a-z-])$c([^a-z-]|\$)" "$tmp/man"; then
		ok "man page documents command $c"
	else
		bad "man page does not mention command $c"
	fi
done
for o in $options; do
	if grep -E -q -e "(^|[^a-zA-Z-])$o([^a-zA-Z-]|\$)" "$tmp/man"; then
		ok "man page documents option $o"
	else
		bad "man page does not mention option $o"
	fi
done
for n in 0 1 2 3 4 5; do
	if sed -n '/^\.SH "EXIT STATUS"/,/^\.SH /p' "$tmp/man" | grep -q "^\.B $n\$"; then
		ok "man page documents exit status $n"
	else
		bad "man page does not document exit status $n"
	fi
done

# --- the bash completion
if bash -n "$comp" 2> "$tmp/err"; then
	ok "bash -n $comp"
else
	bad "bash -n:"; cat "$tmp/err"
fi
"$MKFIXTURE" rtx4000 "$tmp/sys" > /dev/null || exit 99
# a journal as bind leaves it, with a function the tree does not have
mkdir -p "$tmp/root/run/vfio-handover"
cat > "$tmp/root/run/vfio-handover/state.json" <<EOF
{
  "format_version": 1,
  "pid": 1,
  "functions": [
    {
      "address": "0000:05:00.0",
      "vendor_id": "10de",
      "device_id": "27b0",
      "driver_before": "nvidia",
      "driver_override_before": null,
      "step": "verified"
    }
  ]
}
EOF
# complete LINE: what the completion offers for LINE, the cursor at its end
cat > "$tmp/complete.bash" <<'EOF'
. "$1" || exit 1
spec=$(complete -p vfio-handover) || exit 1
func=${spec#*-F }
func=${func%% *}
COMP_LINE=$2
COMP_POINT=${#COMP_LINE}
read -r -a COMP_WORDS <<<"$COMP_LINE"
[[ $COMP_LINE == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMPREPLY=()
"$func" vfio-handover "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
((${#COMPREPLY[@]} == 0)) || printf '%s\n' "${COMPREPLY[@]}"
EOF
complete_line() {
	bash "$tmp/complete.bash" "$comp" "$1" > "$tmp/offered" 2> "$tmp/err" ||
		{ bad "completing '$1' failed:"; cat "$tmp/err"; }
}
# offers LINE WORD... / offers_not LINE WORD...
offers() {
	line=$1; shift
	complete_line "$line"
	for w in "$@"; do
		if grep -F -x -q -e "$w" "$tmp/offered"; then
			ok "completing '$line' offers $w"
		else
			bad "completing '$line' does not offer $w; it offers: $(tr '\n' ' ' < "$tmp/offered")"
		fi
	done
}
offers_not() {
	line=$1; shift
	complete_line "$line"
	for w in "$@"; do
		if grep -F -x -q -e "$w" "$tmp/offered"; then
			bad "completing '$line' offers $w"
		else
			ok "completing '$line' does not offer $w"
		fi
	done
}
offers "vfio-handover " list check verify bind rollback
offers "vfio-handover --sysfs $tmp/sys bind " 0000:01:00.0 0000:03:00.0 0000:01:00 01:00
offers_not "vfio-handover --sysfs $tmp/sys bind " 0000:00:17.0 0000:01:00.1 0000:05:00.0
offers "vfio-handover --sysfs=$tmp/sys check 0" 0000:01:00.0
offers "vfio-handover list --a" --all
offers_not "vfio-handover bind --a" --all
offers "vfio-handover --sysfs $tmp/sys --root $tmp/root rollback " 0000:05:00.0 0000:01:00.0

echo "man: $pass passed, $fail failed"
[ "$fail" = 0 ]
