#!/bin/sh
# The kernel hook (contrib/kernel/postinst.d.in, installed as
# /etc/kernel/postinst.d/50-vfio-handover): built with this build's binary
# pointed at an emulated tree and a root of its own, it writes the persisted
# files again for the kernel it is given (6.1's files for a 6.12), does
# nothing when nothing is persisted or for a kernel package step other than
# configure, never fails the kernel's installation, and run-parts orders it
# before the hooks that build the initramfs (dracut, initramfs-tools).
set -u
: "${VH_BIN:?}" "${MKFIXTURE:?}" "${TESTS_SRCDIR:?}"
src="$TESTS_SRCDIR/../../contrib/kernel/postinst.d.in"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-hook.XXXXXX") || exit 99
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT INT TERM
pass=0 fail=0
ok() { echo "ok $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
check() {	# WHAT COMMAND...
	what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}

# shellcheck source=fake-kernels.sh
. "$TESTS_SRCDIR/fake-kernels.sh"
fake_kernels_setup || exit 99
"$MKFIXTURE" rtx4000 "$tmp/sys" >/dev/null || exit 99
root=$tmp/root
mkdir -p "$root/lib/modules/6.1.0-18-amd64" "$root/lib/modules/6.12.0-1-amd64"
printf 'module kernel/drivers/vfio/%s\n' vfio.ko vfio_iommu_type1.ko vfio_virqfd.ko pci/vfio-pci.ko \
	>"$root/lib/modules/6.1.0-18-amd64/fake-modules"
printf 'module kernel/drivers/vfio/%s\n' vfio.ko vfio_iommu_type1.ko pci/vfio-pci.ko \
	>"$root/lib/modules/6.12.0-1-amd64/fake-modules"
fake_kernels "$root" || exit 99

# the hook as installed (under the name Makefile.am gives it), its binary on
# the emulated tree and the root
name=$(sed -n 's|^kernelpostinst_SCRIPTS = contrib/kernel/||p' "$TESTS_SRCDIR/../../Makefile.am")
[ -n "$name" ] || { echo "FAIL: no kernelpostinst_SCRIPTS in Makefile.am"; exit 1; }
hook=$tmp/$name
sed -e "s|@VFIO_HANDOVER@|$VH_BIN --sysfs $tmp/sys --root $root|" \
	-e "s|@DEVICES_CONF@|$root/etc/vfio-handover/devices.conf|" "$src" >"$hook"
chmod 755 "$hook"
check "sh -n" sh -n "$hook"
if command -v shellcheck >/dev/null 2>&1; then
	check "shellcheck" shellcheck -s sh "$src"
fi
initramfs_mods() { sed -n '/^# BEGIN/,/^# END/p' "$root/etc/initramfs-tools/modules" | grep -v '^#' | tr '\n' ' '; }
snapshot() { find "$root/etc" -type f -exec md5sum {} + 2>/dev/null | sort; }
run_hook() {	# OUT ARGS...: the hook's exit status, its output in $tmp/OUT
	out=$1
	shift
	"$hook" "$@" >"$tmp/$out" 2>&1
}

# nothing persisted: nothing done, nothing said
run_hook none 6.12.0-1-amd64 /boot/vmlinuz-6.12.0-1-amd64
check "nothing persisted: exit 0" [ $? = 0 ]
check "nothing persisted: says nothing" [ ! -s "$tmp/none" ]
check "nothing persisted: writes nothing" [ ! -e "$root/etc" ]

# persisted for 6.1 (vfio_virqfd in the initramfs list while only 6.1 had an
# index: the 6.12 is installed afterwards)
mv "$root/lib/modules/6.12.0-1-amd64" "$tmp/6.12"
"$VH_BIN" --sysfs "$tmp/sys" --root "$root" --kernel 6.1.0-18-amd64 persist 01:00 >/dev/null 2>&1 ||
	{ echo "FAIL: persist for 6.1"; exit 1; }
mv "$tmp/6.12" "$root/lib/modules/6.12.0-1-amd64"
check "6.1's files list vfio_virqfd" [ "$(initramfs_mods)" = "vfio vfio_iommu_type1 vfio_virqfd vfio_pci " ]

# a kernel package step other than configure: nothing
before=$(snapshot)
DEB_MAINT_PARAMS="abort-upgrade 6.1.0-18-amd64" run_hook abort 6.12.0-1-amd64 /boot/vmlinuz-6.12.0-1-amd64
check "abort-upgrade: exit 0" [ $? = 0 ]
check "abort-upgrade: writes nothing" [ "$(snapshot)" = "$before" ]
# no release given: says so, exit 0
run_hook norel
check "no release: exit 0" [ $? = 0 ]
check "no release: says so" grep -q "without a kernel release; nothing written" "$tmp/norel"

# the 6.12 being configured: the files written again for it
DEB_MAINT_PARAMS="configure" run_hook new 6.12.0-1-amd64 /boot/vmlinuz-6.12.0-1-amd64
check "6.12: exit 0" [ $? = 0 ]
check "6.12: says what it wrote" grep -q "^persisted 0000:01:00 again for kernel 6.12.0-1-amd64 (--kernel)" "$tmp/new"
check "6.12: no vfio_virqfd in the initramfs list" [ "$(initramfs_mods)" = "vfio vfio_iommu_type1 vfio_pci " ]
check "6.12: the comment says why" grep -q "^# No vfio_virqfd: kernel 6.12.0-1-amd64 has no such module" \
	"$root/etc/initramfs-tools/modules"
check "6.12: the ids= line stays" grep -q "^options vfio-pci ids=10de:22bc,10de:27b0" \
	"$root/etc/modprobe.d/vfio-handover.conf"
check "6.12: the initramfs is left to the next hook" grep -q "kernel 6.12.0-1-amd64 boots with these files once its initramfs is built" "$tmp/new"

# a kernel without vfio-pci: the files stay, the installation goes on
mkdir -p "$root/lib/modules/6.13.0-1-novfio"
printf 'module kernel/drivers/net/dummy.ko\n' >"$root/lib/modules/6.13.0-1-novfio/fake-modules"
fake_kernels "$root" || exit 99
before=$(snapshot)
run_hook novfio 6.13.0-1-novfio /boot/vmlinuz-6.13.0-1-novfio
check "no vfio-pci: exit 0 (the kernel's installation goes on)" [ $? = 0 ]
check "no vfio-pci: says why" grep -q "kernel 6.13.0-1-novfio has no vfio-pci" "$tmp/novfio"
check "no vfio-pci: says what to run" \
	grep -q "not written for kernel 6.13.0-1-novfio .*run: vfio-handover persist --kernel 6.13.0-1-novfio" "$tmp/novfio"
check "no vfio-pci: the files stay" [ "$(snapshot)" = "$before" ]

# the package removed (the conffile stays): nothing
sed -i "s|^vh=.*|vh=\"$tmp/removed/vfio-handover\"|" "$hook"
run_hook removed 6.12.0-1-amd64 /boot/vmlinuz-6.12.0-1-amd64
check "package removed: exit 0" [ $? = 0 ]
check "package removed: says nothing" [ ! -s "$tmp/removed" ]

# run-parts runs it before the hooks that build the initramfs
if command -v run-parts >/dev/null 2>&1; then
	mkdir "$tmp/postinst.d"
	for h in "$name" apt-auto-removal dkms dracut initramfs-tools unattended-upgrades zz-update-grub; do
		printf '#!/bin/sh\n' >"$tmp/postinst.d/$h"
		chmod 755 "$tmp/postinst.d/$h"
	done
	order=$(LC_ALL=C run-parts --test "$tmp/postinst.d" | sed 's|.*/||' | tr '\n' ' ')
	check "run-parts order: $order" sh -c 'case "$1" in *"$2"*dracut*initramfs-tools*) ;; *) exit 1 ;; esac' - "$order" "$name"
	order=$(LC_ALL=en_US.UTF-8 run-parts --test "$tmp/postinst.d" 2>/dev/null | sed 's|.*/||' | tr '\n' ' ')
	check "run-parts order in en_US.UTF-8" sh -c 'case "$1" in *"$2"*dracut*initramfs-tools*) ;; *) exit 1 ;; esac' - "$order" "$name"
fi

echo "kernel-hook: $pass passed, $fail failed"
[ "$fail" = 0 ]
