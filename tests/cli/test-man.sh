#!/bin/sh
# The man page and the bash completion: doc/vfio-handover.8 lints clean with
# mandoc (and groff where it is installed) and documents every command and
# option of --help, every file persist writes (src/lib/persist.h) and the boot
# service; contrib/bash-completion/vfio-handover offers the commands, the
# display functions of an emulated sysfs tree as selectors, the persisted
# addresses for unpersist, and the kernels under ROOT/lib/modules for --kernel.
set -u

: "${VH_BIN:?}" "${MKFIXTURE:?}" "${TESTS_SRCDIR:?}"
man="$TESTS_SRCDIR/../../doc/vfio-handover.8"
comp="$TESTS_SRCDIR/../../contrib/bash-completion/vfio-handover"
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

# every file persist writes is in FILES, and the boot service has a section
persist_h="$TESTS_SRCDIR/../../src/lib/persist.h"
paths=$(sed -n 's/^#define PERSIST_[A-Z_]* "\(\/[^"]*\)"$/\1/p' "$persist_h")
[ -n "$paths" ] || bad "no path read from $persist_h"
sed -n '/^\.SH FILES/,/^\.SH /p' "$tmp/man" > "$tmp/files"
hook=$(sed -n 's|^kernelpostinst_SCRIPTS = contrib/kernel/||p' "$TESTS_SRCDIR/../../Makefile.am")
[ -n "$hook" ] || bad "no kernelpostinst_SCRIPTS in Makefile.am"
for f in $paths /run/vfio-handover/state.json /run/vfio-handover/lock /run/vfio-handover/apply.json \
	"/etc/kernel/postinst.d/$hook"; do
	if grep -q "^\.I $f\$" "$tmp/files"; then
		ok "man page FILES lists $f"
	else
		bad "man page FILES does not list $f"
	fi
done
sed -n '/^\.SH "BOOT SERVICE"/,/^\.SH /p' "$tmp/man" > "$tmp/boot"
for w in 'systemctl enable vfio-handover.service' 'vfio-handover apply' \
	'ConditionPathExists=/etc/vfio-handover/devices.conf' 'ConditionKernelCommandLine=!vfio_handover.off' \
	sysinit.target nvidia-persistenced.service aleph-vm-supervisor.service; do
	if grep -q -F -e "$w" "$tmp/boot"; then
		ok "man page BOOT SERVICE says $w"
	else
		bad "man page BOOT SERVICE does not say $w"
	fi
done
# RECOVERY: the kernel command-line words that skip the hand-over at boot,
# then how to get the GPUs back
sed -n '/^\.SH RECOVERY/,/^\.SH /p' "$tmp/man" > "$tmp/recovery"
for w in vfio_handover.off systemd.mask=vfio-handover.service module_blacklist=vfio_pci \
	modprobe.blacklist=vfio_pci 'vfio-handover check' 'vfio-handover rollback' \
	'vfio-handover unpersist' ids=; do
	if grep -q -F -e "$w" "$tmp/recovery"; then
		ok "man page RECOVERY says $w"
	else
		bad "man page RECOVERY does not say $w"
	fi
done
# the guides name the paths of the installed package, not the sources
aleph="$TESTS_SRCDIR/../../doc/aleph-node.md"
for f in "$aleph" "$TESTS_SRCDIR/../../doc/json.md" "$TESTS_SRCDIR/../../doc/libvirt.md"; do
	if grep -E -n '(^|[ (`])(doc|contrib|src|tests|debian)/' "$f" > "$tmp/paths"; then
		bad "${f##*/} names source paths:"; cat "$tmp/paths"
	else
		ok "${f##*/} names no source path"
	fi
done
for w in /usr/share/doc/vfio-handover/json.md /usr/share/doc/vfio-handover/aleph-node.md; do
	if grep -q -F -e "$w" "$tmp/man"; then ok "man page names $w"; else bad "man page does not name $w"; fi
done
# the Aleph guide: an install step, persist adds, and the recovery words
sed -n '/^## Install/,/^## /p' "$aleph" > "$tmp/install"
for w in 'apt install ./vfio-handover_' 'make install' 'apt purge vfio-handover'; do
	if grep -q -F -e "$w" "$tmp/install"; then ok "aleph-node.md Install says $w"; else bad "aleph-node.md Install does not say $w"; fi
done
if grep -q 'replaces the set' "$aleph"; then bad "aleph-node.md says persist replaces the set (it adds)"; else ok "aleph-node.md: no 'replaces the set'"; fi
if grep -q '`persist` adds to what is persisted' "$aleph"; then ok "aleph-node.md: persist adds"; else bad "aleph-node.md does not say that persist adds"; fi
# variant drivers: the guide says why --aleph refuses them, with the
# refusal the tool prints (tests/cli/golden/bind-variant-aleph.txt)
sed -n '/^### A GPU with a VFIO variant driver/,/^### /p' "$aleph" > "$tmp/avariant"
if grep -q "counts only the functions whose driver is exactly \`vfio-pci\`" "$tmp/avariant"; then
	ok "aleph-node.md: the supervisor counts only functions on exactly vfio-pci"
else
	bad "aleph-node.md does not say that the supervisor counts only functions on exactly vfio-pci"
fi
sed -n '/^vfio-handover: /p' "$TESTS_SRCDIR/golden/bind-variant-aleph.txt" > "$tmp/arefusal"
if [ -s "$tmp/arefusal" ] && grep -q -x -F -f "$tmp/arefusal" "$tmp/avariant" &&
	[ "$(grep -c -x -F -f "$tmp/arefusal" "$tmp/avariant")" = "$(wc -l < "$tmp/arefusal")" ]; then
	ok "aleph-node.md shows the --aleph refusal of a variant as the tool prints it"
else
	bad "aleph-node.md does not show the --aleph refusal of a variant as golden/bind-variant-aleph.txt has it"
fi
sed -n '/^## [0-9]*\.* *Recovery/,/^## /p' "$aleph" > "$tmp/arecovery"
for w in vfio_handover.off systemd.mask=vfio-handover.service module_blacklist=vfio_pci \
	modprobe.blacklist=vfio_pci 'vfio-handover check' 'vfio-handover rollback' \
	'vfio-handover unpersist'; do
	if grep -q -F -e "$w" "$tmp/arecovery"; then ok "aleph-node.md Recovery says $w"; else bad "aleph-node.md Recovery does not say $w"; fi
done
# what that section says, the unit says
unit="$TESTS_SRCDIR/../../contrib/systemd/vfio-handover.service.in"
for w in ConditionPathExists=/etc/vfio-handover/devices.conf WantedBy=sysinit.target \
	'ConditionKernelCommandLine=!vfio_handover.off' \
	nvidia-persistenced.service aleph-vm-supervisor.service 'vfio-handover apply'; do
	if grep -q -F -e "$w" "$unit"; then
		ok "the unit says $w"
	else
		bad "the unit does not say $w (update the BOOT SERVICE section)"
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
# the options of a command only (an option of another is a usage error)
offers "vfio-handover bind --" --dry-run --force --json
offers_not "vfio-handover list --" --dry-run --force --aleph
offers_not "vfio-handover check --" --dry-run --force --all
offers "vfio-handover check --" --kernel --json
offers "vfio-handover " help
offers "vfio-handover help " bind list unpersist
# each command is offered exactly the options its help lists
for c in $commands; do
	[ "$c" = help ] && continue
	"$VH_BIN" help "$c" | sed -n '/^Options:/,/^$/p' | cut -c1-19 |
		grep -o -e '-\{1,2\}[a-zA-Z][a-zA-Z-]*' | sort > "$tmp/helped"
	complete_line "vfio-handover $c -"
	sort "$tmp/offered" > "$tmp/offered.sorted"
	if cmp -s "$tmp/helped" "$tmp/offered.sorted"; then
		ok "completing '$c -' offers the options of help $c"
	else
		bad "completing '$c -' offers other options than help $c: $(diff "$tmp/helped" "$tmp/offered.sorted" | grep '^[<>]' | tr '\n' ' ')"
	fi
done
offers "vfio-handover --sysfs $tmp/sys --root $tmp/root rollback " 0000:05:00.0 0000:01:00.0

# persist, unpersist, apply
# devices.conf as persist writes it, with a GPU the tree does not have
mkdir -p "$tmp/root/etc/vfio-handover"
cat > "$tmp/root/etc/vfio-handover/devices.conf" <<EOF
# Generated by vfio-handover persist; "vfio-handover unpersist" removes this file.
# One function per line, fields separated by spaces:
#   ADDRESS VENDOR:DEVICE SUBVENDOR:SUBDEVICE slot=SLOT path=PATH
0000:07:00.0 10de:27b0 10de:16fa slot=7 path=0000:00:03.0/0000:07:00.0
0000:07:00.1 10de:22bc 10de:16fa slot=7 path=0000:00:03.0/0000:07:00.1
# created directory: /etc/vfio-handover
EOF
# kernels under the root, and a file that is not one
mkdir -p "$tmp/root/lib/modules/6.1.0-18-amd64" "$tmp/root/lib/modules/6.12.0-1-amd64"
: > "$tmp/root/lib/modules/not-a-kernel"
offers "vfio-handover " persist unpersist apply
offers "vfio-handover --sysfs $tmp/sys pers" persist
offers "vfio-handover --sysfs $tmp/sys persist " 0000:01:00.0 0000:03:00.0 0000:01:00 01:00
offers_not "vfio-handover --sysfs $tmp/sys --root $tmp/root persist " 0000:07:00.0 0000:05:00.0 0000:01:00.1
offers "vfio-handover --sysfs $tmp/sys --root $tmp/root unpersist " \
	0000:07:00.0 0000:07:00.1 0000:07:00 07:00
offers_not "vfio-handover --sysfs $tmp/sys --root $tmp/root unpersist " \
	0000:01:00.0 0000:01:00 0000:05:00.0 "#" Generated created
offers_not "vfio-handover --sysfs $tmp/sys --root $tmp/root unpersist " 07:00.0 07:00.1
offers "vfio-handover --root=$tmp/root unpersist 0" 0000:07:00.0 0000:07:00.1 0000:07:00
offers_not "vfio-handover --root=$tmp/root unpersist 00" 07:00
# readline replaces the word after its last ':' only
offers "vfio-handover --root=$tmp/root unpersist 0000:07:00." 00.0 00.1
offers_not "vfio-handover --sysfs $tmp/sys --root $tmp/root rollback " 0000:07:00.0
offers_nothing() {
	complete_line "$1"
	if [ -s "$tmp/offered" ]; then
		bad "completing '$1' offers: $(tr '\n' ' ' < "$tmp/offered")"
	else
		ok "completing '$1' offers nothing"
	fi
}
offers_nothing "vfio-handover --sysfs $tmp/sys --root $tmp/root apply "
offers_nothing "vfio-handover help bind "
offers_nothing "vfio-handover --sysfs $tmp/sys --root $tmp/root apply 0"
offers "vfio-handover apply --dry" --dry-run
offers "vfio-handover persist --k" --kernel
offers "vfio-handover persist --no" --no-initramfs
offers "vfio-handover --root $tmp/root persist --kernel " 6.1.0-18-amd64 6.12.0-1-amd64
offers_not "vfio-handover --root $tmp/root persist --kernel " not-a-kernel 01:00 persist
offers "vfio-handover --root=$tmp/root --kernel 6.1" 6.1.0-18-amd64 6.12.0-1-amd64
offers_not "vfio-handover --root=$tmp/root --kernel 6.12" 6.1.0-18-amd64
offers "vfio-handover --root $tmp/root persist --kernel=6" 6.1.0-18-amd64 6.12.0-1-amd64
# the command after --kernel VERSION is still the command
offers "vfio-handover --sysfs $tmp/sys --root $tmp/root --kernel 6.1.0-18-amd64 unpersist " 0000:07:00.0
# without --root: the kernels of /lib/modules, not the root's
offers_not "vfio-handover persist --kernel " 6.12.0-1-amd64
for d in /lib/modules/*/; do
	[ -d "$d" ] || continue
	d=${d%/}
	offers "vfio-handover persist --kernel " "${d##*/}"
	break
done
# --driver: vfio-pci, auto, and the running kernel's variant drivers (its
# modules.alias's vfio_pci: aliases), never vfio_pci itself nor a host driver
mkdir -p "$tmp/root/lib/modules/$(uname -r)"
printf '%s\n' '# Aliases extracted from modules themselves.' \
	'alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci' \
	'alias vfio_pci:v000010DEd00002342sv*sd*bc*sc*i* nvgrace_gpu_vfio_pci' \
	'alias vfio_pci:v000010DEd00002345sv*sd*bc*sc*i* nvgrace_gpu_vfio_pci' \
	'alias pci:v000010DEd*sv*sd*bc03sc*i* nouveau' > "$tmp/root/lib/modules/$(uname -r)/modules.alias"
offers "vfio-handover --root $tmp/root bind --driver " vfio-pci auto nvgrace_gpu_vfio_pci
offers_not "vfio-handover --root $tmp/root bind --driver " vfio_pci nouveau 01:00
offers "vfio-handover --root=$tmp/root bind --driver=nv" nvgrace_gpu_vfio_pci
offers "vfio-handover --root=$tmp/root persist --driver=nv" nvgrace_gpu_vfio_pci
offers_not "vfio-handover unpersist --dr" --driver
offers "vfio-handover apply --dr" --driver
offers_not "vfio-handover rollback --" --driver

echo "man: $pass passed, $fail failed"
[ "$fail" = 0 ]
