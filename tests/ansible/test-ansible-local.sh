#!/bin/sh
# The Ansible collection contrib/ansible (vfio_handover.gpu) on this
# machine, connection local, against emulated sysfs trees and roots in a
# temporary directory (never /sys, never /etc): built and installed with
# ansible-galaxy, documented (ansible-doc), then the handover module and
# the node role run as a fleet would run them:
#   - check mode writes nothing and reports what would change (changed=1),
#     with a diff of the boot files
#   - a run persists (changed=1), a second one reports changed=0, and so
#     does check mode then
#   - state host gives the root back byte for byte (changed=1), then
#     changed=0
#   - check mode of a live hand-over reports the planned sysfs writes
#   - a refusal fails the task with the tool's message and fix (exit 3)
#   - the facts: GPUs, drivers, IOMMU groups, pre-flight, what is persisted
#   - the role: persists, sets the Aleph supervisor's GPU setting, its
#     handler runs once for the play; again: changed=0
# Exit 77 (SKIP) without ansible-playbook; in CI that counts as a failure.
set -u
: "${VH_BIN:?}" "${MKFIXTURE:?}" "${TESTS_SRCDIR:?}"
here=$(cd "$(dirname "$0")" && pwd)
collection=$here/../../contrib/ansible
for t in ansible-playbook ansible-galaxy ansible-doc; do
	command -v $t >/dev/null 2>&1 ||
		{ echo "SKIP: $t not found (apt-get install ansible-core)"; exit 77; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-ansible.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT INT TERM
pass=0
fail=0
check() {	# WHAT COMMAND...
	what=$1
	shift
	if "$@"; then pass=$((pass + 1)); echo "ok $what"; else fail=$((fail + 1)); echo "FAIL $what"; fi
}

# Ansible's own state in the scratch directory too
export ANSIBLE_LOCAL_TEMP="$tmp/ansible-local" ANSIBLE_REMOTE_TEMP="$tmp/ansible-remote" \
	ANSIBLE_COLLECTIONS_PATH="$tmp/collections" ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 \
	ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=0 \
	ANSIBLE_DEPRECATION_WARNINGS=0 ANSIBLE_STDOUT_CALLBACK=default ANSIBLE_LOAD_CALLBACK_PLUGINS=0
command -v /usr/bin/python3 >/dev/null 2>&1 || export ANSIBLE_PYTHON_INTERPRETER=auto_silent

# ---- build and install, as an operator would
mkdir -p "$tmp/build"
check "ansible-galaxy collection build" sh -c \
	"ansible-galaxy collection build --output-path '$tmp/build' '$collection' >'$tmp/build.out' 2>&1 || { cat '$tmp/build.out'; exit 1; }"
tarball=$(ls "$tmp"/build/vfio_handover-gpu-*.tar.gz 2>/dev/null | head -n 1)
check "ansible-galaxy collection install" sh -c \
	"ansible-galaxy collection install -p '$tmp/collections' '$tarball' >'$tmp/install.out' 2>&1 || { cat '$tmp/install.out'; exit 1; }"
for m in handover facts; do
	check "ansible-doc vfio_handover.gpu.$m reads" sh -c \
		"ansible-doc vfio_handover.gpu.$m >'$tmp/doc.out' 2>&1 && grep -q 'EXAMPLES' '$tmp/doc.out' && grep -q 'RETURN VALUES' '$tmp/doc.out' && ! grep -q 'ERROR' '$tmp/doc.out' || { cat '$tmp/doc.out'; exit 1; }"
done
check "ansible-doc -t role vfio_handover.gpu.node reads" sh -c \
	"ansible-doc -t role vfio_handover.gpu.node >'$tmp/doc.out' 2>&1 && grep -q 'vfio_handover_gpus' '$tmp/doc.out' || { cat '$tmp/doc.out'; exit 1; }"

# ---- the emulated host: two identical GPUs (01:00, 02:00), a boot VGA
# device (04:00); a root with a kernel
# shellcheck source=../cli/fake-kernels.sh
. "$TESTS_SRCDIR/fake-kernels.sh"
fake_kernels_setup || exit 99
tree=$tmp/tree
root=$tmp/root
"$MKFIXTURE" twins "$tree" >/dev/null || { echo "mkfixture failed"; exit 99; }
mkdir -p "$root"
fake_kernel "$root" 6.1.0-18-amd64 || { echo "fake kernel failed"; exit 99; }

# DIR: every path, type, mode, size, link target and content hash (the
# lock files of run/vfio-handover aside: they coordinate runs, hold no state)
snapshot() {
	(cd "$1" && find . \( -type d -printf '%p %y %m\n' \) -o -printf '%p %y %m %s %l\n' |
		grep -v -e '^\./run/vfio-handover/lock\.' -e '^\./run d ' -e '^\./run/vfio-handover d ' |
		LC_ALL=C sort &&
		find . -type f ! -path './run/vfio-handover/lock.*' -exec md5sum {} + | LC_ALL=C sort)
}

# play NAME CHANGED PLAYBOOK [ansible-playbook ARGS...]: the play ends
# with no failure and CHANGED changed tasks
play() {
	name=$1 want=$2 pb=$3
	shift 3
	ansible-playbook -i localhost, -c local "$here/$pb" \
		-e "vh_bin=$VH_BIN vh_sysfs=$tree vh_root=$root" "$@" >"$tmp/$name.out" 2>&1
	rc=$?
	recap=$(grep -E '^localhost +:' "$tmp/$name.out" | tail -n 1)
	case $recap in
	*" changed=$want "*" failed=0 "*)
		[ $rc -eq 0 ] && return 0 ;;
	esac
	sed 's/^/    | /' "$tmp/$name.out"
	echo "    (exit $rc; wanted changed=$want failed=0)"
	return 1
}
gpu01='-e {"gpus":["01:00"]}'

snapshot "$root" >"$tmp/before"
check "check mode: changed=1" play check1 1 handover.yml $gpu01 --check --diff
snapshot "$root" >"$tmp/s"
check "check mode wrote nothing" cmp -s "$tmp/before" "$tmp/s"
check "check mode: the diff shows devices.conf to be written" \
	grep -q "^+0000:01:00.0 10de:27b0" "$tmp/check1.out"
check "check mode: the diff names the boot files" grep -q "after: $root/etc/modprobe.d/vfio-handover.conf" "$tmp/check1.out"

check "persist: changed=1" play run1 1 handover.yml $gpu01 --diff
check "persist: devices.conf written" grep -q '^0000:01:00.0 ' "$root/etc/vfio-handover/devices.conf"
check "persist: the diff shows the file written" grep -q "^+0000:01:00.1 10de:22bc" "$tmp/run1.out"
check "persist: the module ran persist only (live: false)" grep -q 'commands=persist files=' "$tmp/run1.out"
snapshot "$root" >"$tmp/persisted"
check "again: changed=0" play run2 0 handover.yml $gpu01 --diff
snapshot "$root" >"$tmp/s"
check "again: the root is unchanged" cmp -s "$tmp/persisted" "$tmp/s"
check "driver auto, nothing made for it: vfio-pci, changed=0" play drvauto 0 handover.yml $gpu01 -e driver=auto --diff
check "driver vfio-pci said: changed=0" play drvpci 0 handover.yml $gpu01 -e driver=vfio-pci
check "check mode after: changed=0" play check2 0 handover.yml $gpu01 --check --diff
check "check mode after: nothing planned" grep -q 'planned=0' "$tmp/check2.out"

check "check mode of a live hand-over: changed=1" play checklive 1 handover.yml $gpu01 -e live=true --check --diff
check "check mode of a live hand-over: the drivers' diff" sh -c \
	"grep -q '^-0000:01:00.0 nvidia' '$tmp/checklive.out' && grep -q '^+0000:01:00.0 vfio-pci' '$tmp/checklive.out'"
check "check mode of a live hand-over: the sysfs writes planned" grep -q 'commands=persist,bind files= planned=6' "$tmp/checklive.out"
snapshot "$root" >"$tmp/s"
check "check mode of a live hand-over wrote nothing" cmp -s "$tmp/persisted" "$tmp/s"

check "facts, and refusals (the boot VGA, a driver the kernel lacks) fail with message and fix" \
	play refusal 0 refusal.yml -e '{"persisted":["0000:01:00"]}'

check "state host, check mode: changed=1" play hostcheck 1 handover.yml $gpu01 -e state=host --check --diff
snapshot "$root" >"$tmp/s"
check "state host, check mode wrote nothing" cmp -s "$tmp/persisted" "$tmp/s"
check "state host: changed=1" play host1 1 handover.yml $gpu01 -e state=host --diff
snapshot "$root" >"$tmp/after"
check "state host: the root is byte-identical to before" diff -u "$tmp/before" "$tmp/after"
check "state host again: changed=0 (nothing persisted)" play host2 0 handover.yml $gpu01 -e state=host
check "state host of a GPU never persisted: changed=0" play host3 0 handover.yml -e '{"gpus":["02:00"]}' -e state=host

# the role, on an Aleph node: the supervisor's setting, one handler run
mkdir -p "$root/etc/aleph-vm"
printf 'ALEPH_VM_SUPERVISOR_HOST=127.0.0.1\nALEPH_VM_ENABLE_GPU_SUPPORT=False\n' >"$root/etc/aleph-vm/supervisor.env"
snapshot "$root" >"$tmp/before-role"
check "role: changed" play role1 1 role.yml -e '{"vfio_handover_gpus":["01:00","02:00"]}'
check "role: both GPUs persisted" sh -c "grep -q '^0000:01:00.0 ' '$root/etc/vfio-handover/devices.conf' && grep -q '^0000:02:00.1 ' '$root/etc/vfio-handover/devices.conf'"
check "role: the Aleph supervisor's GPU setting" grep -q '^ALEPH_VM_ENABLE_GPU_SUPPORT=True$' "$root/etc/aleph-vm/supervisor.env"
check "role: the handler ran once for the play" sh -c \
	"[ \$(grep -c 'RUNNING HANDLER \[vfio_handover.gpu.node : Restart the Aleph supervisor\]' '$tmp/role1.out') = 1 ]"
check "role again: changed=0" play role2 0 role.yml -e '{"vfio_handover_gpus":["01:00","02:00"]}'
check "role again: no handler" sh -c "! grep -q 'RUNNING HANDLER' '$tmp/role2.out'"
check "role, state host: changed" play role3 1 role.yml -e '{"vfio_handover_gpus":["01:00","02:00"],"vfio_handover_state":"host"}'
snapshot "$root" >"$tmp/after-role"
check "role, state host: the root is byte-identical to before" diff -u "$tmp/before-role" "$tmp/after-role"

echo "ansible-local: $pass passed, $fail failed"
[ $fail -eq 0 ]
