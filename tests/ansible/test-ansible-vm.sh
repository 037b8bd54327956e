#!/bin/bash
# The collection vfio_handover.gpu on a real kernel: the QEMU guest of
# tests/vm (Debian's kernel, an emulated IOMMU, multi-function GPUs), reached
# by Ansible as a fleet host is, over SSH: Debian's dropbear in the guest
# with a throwaway key made for this run, Debian's python3 in the guest,
# QEMU's user network (restricted: the guest reaches nothing) forwarding a
# port of this machine's loopback to the guest's 22.  The playbook
# tests/ansible/vm.yml hands GPUs A and B over live and persists them,
# verifies them on vfio-pci, and gives them back; each run's PLAY RECAP is
# checked: check mode changed=1 (nothing touched), the hand-over changed=1,
# again changed=0, back changed=1, again changed=0.
#
# Needs VH_DESTDIR (a `make install DESTDIR=` tree), QEMU and the guest's
# kernel (tests/vm/guest.sh), ansible-playbook, ssh, ssh-keygen, dropbear
# and /usr/bin/python3 (Debian's).  Exit 77 (SKIP) when one is missing.
set -u
here=$(cd "$(dirname "$0")" && pwd)
collection=$here/../../contrib/ansible
guest=$here/../vm/guest.sh

skip() { echo "test-ansible-vm.sh: SKIP: $*"; exit 77; }
[ -n "${VH_DESTDIR:-}" ] || { echo "test-ansible-vm.sh: VH_DESTDIR is not set"; exit 99; }
for t in ansible-playbook ansible-galaxy ssh ssh-keygen cpio; do
	command -v $t >/dev/null 2>&1 || skip "$t not found (contrib/install-deps)"
done
[ -x /usr/sbin/dropbear ] || skip "dropbear not found (apt-get install dropbear-bin)"
py=$(readlink -f /usr/bin/python3 2>/dev/null)
[ -x "$py" ] || skip "Debian's /usr/bin/python3 not found (apt-get install python3)"
pyver=$(basename "$py")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-ansible-vm.XXXXXX") || exit 99
guest_pid=""
cleanup() {
	[ -z "$guest_pid" ] || kill "$guest_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
t0=$(date +%s)

# ---- the guest: tests/vm's, and an archive of more files for its root
"$guest" build "$VH_DESTDIR" >"$tmp/build.out" 2>&1
rc=$?
[ $rc -ne 77 ] || skip "$(sed -n 's/^guest.sh: SKIP: //p' "$tmp/build.out" | tail -n 1)"
[ $rc -eq 0 ] || { cat "$tmp/build.out"; echo "test-ansible-vm.sh: building the guest failed"; exit 99; }
kernel=$(sed -n 's/^kernel=//p' "$tmp/build.out")
initrd=$(sed -n 's/^initrd=//p' "$tmp/build.out")

extra=$tmp/extra
mkdir -p "$extra/usr/bin" "$extra/usr/sbin" "$extra/usr/lib" "$extra/root/.ssh" "$extra/etc"
copy_libs() {	# ELF...: the shared libraries they need, into $extra
	local f lib
	for f in "$@"; do
		{ ldd "$f" 2>/dev/null || true; } |
			sed -n 's/.*=> \(\/[^ ]*\) (.*/\1/p; s/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p' |
			while read -r lib; do
				# where the file is, not through /lib or /lib64: in the
				# guest's root those are links into /usr, and an archive's
				# directory there would replace the link
				lib=$(readlink -f "$(dirname "$lib")")/$(basename "$lib")
				[ -e "$extra$lib" ] && continue
				mkdir -p "$extra$(dirname "$lib")"
				cp -L "$lib" "$extra$lib"
			done
	done
}
# Debian's python3, its standard library (compiled), less what no module needs
cp "$py" "$extra/usr/bin/$pyver"
ln -s "$pyver" "$extra/usr/bin/python3"
tar -C /usr/lib -cf - --exclude="$pyver/dist-packages" --exclude="$pyver/site-packages" \
	--exclude="$pyver/test" --exclude="$pyver/idlelib" --exclude="$pyver/tkinter" \
	--exclude="$pyver/turtledemo" --exclude="$pyver/lib2to3" --exclude="$pyver/ensurepip" \
	--exclude="$pyver/pydoc_data" --exclude="$pyver/config-*" "$pyver" | tar -C "$extra/usr/lib" -xf -
copy_libs "$py" "$extra/usr/lib/$pyver"/lib-dynload/*.so
# Debian's dropbear, and this run's key
cp /usr/sbin/dropbear "$extra/usr/sbin/dropbear"
copy_libs /usr/sbin/dropbear
ssh-keygen -q -t ed25519 -N '' -C vh-ansible-vm -f "$tmp/key" || exit 99
cp "$tmp/key.pub" "$extra/root/.ssh/authorized_keys"
chmod 700 "$extra/root/.ssh"
chmod 600 "$extra/root/.ssh/authorized_keys"
printf '/bin/sh\n' >"$extra/etc/shells"
(cd "$extra" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$tmp/extra.cpio" || exit 99
echo "guest: $(du -sh "$tmp/extra.cpio" | cut -f1) of python3 ($pyver) and dropbear added"

# a free port of the loopback
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# shellcheck disable=SC2054  # QEMU's commas
VH_VM_QEMU_ARGS="-netdev user,id=vhnet,restrict=on,hostfwd=tcp:127.0.0.1:$port-:22 -device e1000e,netdev=vhnet,bus=pcie.0,addr=15.0,romfile=" \
VH_VM_EXTRA_CPIO=$tmp/extra.cpio VH_VM_TIMEOUT=${VH_ANSIBLE_VM_TIMEOUT:-1800} VH_VM_MEM=${VH_VM_MEM:-768} \
	"$guest" run -k "$kernel" -i "$initrd" -n "$here/guest-sshd.sh" >"$tmp/guest.log" 2>&1 </dev/null &
guest_pid=$!

# ---- wait for its SSH server
n=0
until grep -q 'VH-SSH-READY' "$tmp/guest.log" 2>/dev/null; do
	if ! kill -0 "$guest_pid" 2>/dev/null || [ $n -ge 600 ]; then
		tr -d '\r' <"$tmp/guest.log" | sed 's/^/    | /'
		echo "test-ansible-vm.sh: the guest's SSH server did not come up"
		exit 1
	fi
	sleep 1
	n=$((n + 1))
done
echo "guest: $(tr -d '\r' <"$tmp/guest.log" | grep -o 'VH-SSH-READY.*'), after $(($(date +%s) - t0)) s"
ssh_opts="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o LogLevel=ERROR -o ConnectTimeout=30"
# shellcheck disable=SC2086
gssh() { ssh $ssh_opts -i "$tmp/key" -p "$port" root@127.0.0.1 "$@"; }
n=0
until gssh true 2>"$tmp/ssh.err"; do
	[ $n -lt 30 ] || { cat "$tmp/ssh.err"; echo "test-ansible-vm.sh: no SSH login into the guest"; exit 1; }
	sleep 2
	n=$((n + 1))
done

# ---- Ansible, as on a fleet
export ANSIBLE_LOCAL_TEMP="$tmp/ansible-local" ANSIBLE_COLLECTIONS_PATH="$tmp/collections" \
	ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=0 ANSIBLE_PIPELINING=1 ANSIBLE_SSH_TRANSFER_METHOD=piped \
	ANSIBLE_SSH_CONTROL_PATH_DIR="$tmp/cp" ANSIBLE_HOST_KEY_CHECKING=0 ANSIBLE_TIMEOUT=60 \
	ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=0 ANSIBLE_DEPRECATION_WARNINGS=0
ansible-galaxy collection build --output-path "$tmp" "$collection" >/dev/null &&
	ansible-galaxy collection install -p "$tmp/collections" "$tmp"/vfio_handover-gpu-*.tar.gz >/dev/null ||
	{ echo "test-ansible-vm.sh: the collection did not build or install"; exit 1; }
cat >"$tmp/inventory" <<EOF
[gpu_nodes]
guest ansible_host=127.0.0.1 ansible_port=$port ansible_user=root ansible_ssh_private_key_file=$tmp/key ansible_python_interpreter=/usr/bin/python3 ansible_ssh_common_args='$ssh_opts'
EOF

pass=0
fail=0
check() {	# WHAT COMMAND...
	what=$1
	shift
	if "$@"; then pass=$((pass + 1)); echo "ok $what"; else fail=$((fail + 1)); echo "FAIL $what"; fi
}
# play NAME CHANGED [ansible-playbook ARGS...]: vm.yml ends with no
# failure and CHANGED changed tasks
play() {
	local name=$1 want=$2 start=$(date +%s) recap rc
	shift 2
	ansible-playbook -i "$tmp/inventory" "$here/vm.yml" "$@" >"$tmp/$name.out" 2>&1
	rc=$?
	recap=$(grep -E '^guest +:' "$tmp/$name.out" | tail -n 1)
	echo "    $name: $(echo "$recap" | sed 's/  */ /g') ($(($(date +%s) - start)) s)"
	case $recap in
	*" changed=$want "*" failed=0 "*) [ $rc -eq 0 ] && return 0 ;;
	esac
	sed 's/^/    | /' "$tmp/$name.out"
	echo "    (exit $rc; wanted changed=$want failed=0)"
	return 1
}
drivers() { gssh 'for f in /sys/bus/pci/devices/0000:0[12]:00.*; do printf "%s %s\n" "${f##*/}" "$(basename "$(readlink "$f/driver")")"; done'; }

drivers >"$tmp/drivers-before"
check "the guest's GPUs A and B start on their host drivers" sh -c "! grep -q vfio-pci '$tmp/drivers-before'"
check "check mode: changed=1" play check 1 -e want=vfio --check --diff
check "check mode: the drivers' diff" grep -q '^+0000:01:00.0 vfio-pci' "$tmp/check.out"
drivers >"$tmp/s"
check "check mode touched no driver" cmp -s "$tmp/drivers-before" "$tmp/s"
check "check mode wrote no file" gssh '! test -e /etc/vfio-handover/devices.conf'
check "hand over A and B, live and persisted: changed=1" play vfio1 1 -e want=vfio --diff
drivers >"$tmp/s"
check "every function of A and B on vfio-pci" [ "$(grep -c ' vfio-pci$' "$tmp/s")" = 4 ]
check "persisted" gssh 'grep -q "^0000:02:00.1 " /etc/vfio-handover/devices.conf'
check "again: changed=0" play vfio2 0 -e want=vfio --diff
check "give them back: changed=1" play host1 1 -e want=host --diff
drivers >"$tmp/s"
check "back on the drivers they had" diff -u "$tmp/drivers-before" "$tmp/s"
check "nothing persisted" gssh '! test -e /etc/vfio-handover/devices.conf'
check "again: changed=0" play host2 0 -e want=host --diff

# ---- the end: the guest's scenario exits with our status
gssh "echo $([ $fail -eq 0 ] && echo 0 || echo 1) >/run/vh-ansible-done" || true
wait "$guest_pid"
grc=$?
guest_pid=""
tr -d '\r' <"$tmp/guest.log" | grep -E '^(ok|FAIL|scenario:)' | sed 's/^/guest: /'
check "the guest's scenario ended well (kernel log clean)" [ $grc -eq 0 ]
[ $grc -eq 0 ] || tr -d '\r' <"$tmp/guest.log" | tail -n 40 | sed 's/^/    | /'
echo "ansible-vm: wall time $(($(date +%s) - t0)) s"
echo "ansible-vm: $pass passed, $fail failed"
[ $fail -eq 0 ]
