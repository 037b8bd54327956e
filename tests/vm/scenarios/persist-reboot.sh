#!/bin/sh
# vh-vm-udev: both
# vh-vm-boots: 2
# vh-vm-boot2-profile: shifted
# vh-vm-kernels: all
# Persistence across a reboot.  Boot 1 persists GPU A and carries /etc out.
# Boot 2 starts from that /etc on a machine where a card added in front
# moved every GPU's bus number: guest-init loads modules-load.d with the
# real kmod and coldplugs every device by its modalias (udev, or modprobe
# as udev would), so modprobe.d is read for real; then `apply` must find
# GPU A at its new address by its place (root port and the chain below
# it; the kernel's slot names shift with the new card) and hand it over, while
# its identical twin, the console and the new card keep their drivers.  The
# udev rule persist wrote (read by udevd in the [udev] run) names GPU A's old
# address, where the new card's ids do not match it: it takes nothing there,
# and the moved GPU is apply's (persist-udev proves the rule where GPU A stays).
# shellcheck source=../guest-lib.sh
. /vh-lib.sh

# update-initramfs as persist runs it (no shell); it says what it was asked
stub_initramfs() {	# EXIT_STATUS
	mkdir -p /usr/local/sbin
	printf '#!/bin/sh\necho "update-initramfs: Generating /boot/initrd.img-$(uname -r)"\necho "$*" >/run/vh-initramfs.args\nexit %s\n' "$1" \
		>/usr/local/sbin/update-initramfs
	chmod 755 /usr/local/sbin/update-initramfs
	rm -f /run/vh-initramfs.args
}

root_port() {	# SLOT -> the root port above it
	_l=$(readlink "$SYSPCI/$1.0")
	_l=${_l%/*}
	echo "${_l##*/}"
}

boot1() {
	vh_say "boot 1: GPU A $GPU_A (behind root port $(root_port "$GPU_A")), twin $GPU_B"
	# a Debian host's own initramfs module list, which persist must keep
	mkdir -p /etc/initramfs-tools /etc/vh-test
	printf '# List of modules that you want to include in your initramfs.\nraid1\n' \
		>/etc/initramfs-tools/modules
	cp /etc/initramfs-tools/modules /etc/vh-test/orig-modules
	echo "$GPU_A $(root_port "$GPU_A")" >/etc/vh-test/boot1
	stub_initramfs 0

	vh_run 0 "$VH_BIN" persist "$(vh_short "$GPU_A")"
	vh_out_has "persist names the kernel it wrote for" "^persisted $GPU_A for kernel $(uname -r | sed 's/[.+]/\\&/g') \(running\)"
	# (the console is a 1234:1111 as well, and it is found first)
	vh_out_has "a device the host keeps rules out ids=" "no 'options vfio-pci ids=' line: 1234:1111 is also $BOOT_VGA"
	vh_out_has "the initramfs tool's output is shown" "Generating /boot/initrd.img-"
	vh_eq "update-initramfs was run with" "$(cat /run/vh-initramfs.args 2>/dev/null)" "-u -k all"
	vh_check "GPU A is still on its host driver (persist changes no driver)" \
		[ "$(vh_driver "$GPU_A.0")" = bochs-drm ]
	vh_check "softdep for the driver the GPU is on now (bochs)" \
		grep -qx 'softdep bochs pre: vfio-pci' /etc/modprobe.d/vfio-handover.conf
	vh_check "softdep for snd_hda_intel" \
		grep -qx 'softdep snd_hda_intel pre: vfio-pci' /etc/modprobe.d/vfio-handover.conf
	vh_check "no ids= line (the twin would be taken too)" \
		sh -c '! grep -q "^options vfio-pci" /etc/modprobe.d/vfio-handover.conf'
	vh_eq "modules-load.d: one module per line" \
		"$(grep -v '^#' /etc/modules-load.d/vfio-handover.conf | tr '\n' ' ')" \
		"vfio vfio_iommu_type1 vfio_pci "
	# vfio_virqfd is a module of its own before 6.2 only
	case $(uname -r) in
	6.1.*) want_modules="vfio vfio_iommu_type1 vfio_virqfd vfio_pci " ;;
	*) want_modules="vfio vfio_iommu_type1 vfio_pci " ;;
	esac
	vh_eq "the initramfs list for kernel $(uname -r)" \
		"$(sed -n '/^# BEGIN/,/^# END/p' /etc/initramfs-tools/modules | grep -v '^#' | tr '\n' ' ')" \
		"$want_modules"
	vh_check "the user's initramfs module list is kept above the block" \
		sh -c 'head -2 /etc/initramfs-tools/modules | cmp -s - /etc/vh-test/orig-modules'
	vh_check "the udev rule takes GPU A at its address" \
		grep -q "^# $GPU_A.0 1234:1111, of GPU $GPU_A" /etc/udev/rules.d/05-vfio-handover.rules
	vh_check "devices.conf records the chain from root port $(root_port "$GPU_A")" \
		grep -q "^$GPU_A.0 1234:1111 .* path=$(root_port "$GPU_A")/$GPU_A.0\$" /etc/vfio-handover/devices.conf

	# a failing initramfs refresh: exit 1, the files stay as written
	cp /etc/modprobe.d/vfio-handover.conf /etc/vh-test/modprobe.copy
	stub_initramfs 3
	vh_run 1 "$VH_BIN" persist "$(vh_short "$GPU_A")"
	vh_out_has "the failure says what to run" "update-initramfs -u -k all failed \(exit status 3\).*run it again"
	vh_check "the files stay written" cmp -s /etc/modprobe.d/vfio-handover.conf /etc/vh-test/modprobe.copy

	vh_say "rebooting with this /etc"
	[ "$VH_FAILS" -eq 0 ] && vh_carry /etc/vfio-handover /etc/modprobe.d /etc/modules-load.d \
		/etc/initramfs-tools /etc/udev /etc/vh-test
	vh_finish
}

boot2() {
	read -r was_addr was_port </etc/vh-test/boot1
	vh_say "boot 2: GPU A now $GPU_A (behind root port $(root_port "$GPU_A")), was $was_addr"
	vh_check "the bus number moved ($was_addr -> $GPU_A)" [ "$was_addr" != "$GPU_A" ]
	vh_eq "GPU A's root port" "$(root_port "$GPU_A")" "$was_port"
	vh_check "modules-load.d loaded vfio-pci at boot" [ -d /sys/bus/pci/drivers/vfio-pci ]
	vh_check "kmod reads the persisted softdep" \
		sh -c '/usr/sbin/modprobe -c | grep -qx "softdep bochs pre: vfio-pci"'
	# the udev rule names GPU A's old address, which now holds other ids
	vh_eq "before apply, GPU A is on" "$(vh_driver "$GPU_A.0")" bochs-drm
	vh_eq "the new card at $was_addr.0: its driver_override (the rule's ids do not match)" \
		"$(vh_override "$was_addr.0")" "(null)"

	vh_run 0 "$VH_BIN" apply
	vh_out_has "apply finds the moved GPU by its place" \
		"persisted at $was_addr.0, found at $GPU_A.0 \(same ids 1234:1111, same place behind its root port\)"
	vh_out_has "and hands it over" "^$GPU_A: 2 functions on vfio-pci"
	for f in $(vh_funcs "$GPU_A"); do
		vh_eq "$f after apply" "$(vh_driver "$f")" vfio-pci
	done
	vh_eq "twin $GPU_B.0 stays on" "$(vh_driver "$GPU_B.0")" bochs-drm
	vh_eq "twin $GPU_B.1 stays on" "$(vh_driver "$GPU_B.1")" snd_hda_intel
	vh_eq "the console $BOOT_VGA stays on" "$(vh_driver "$BOOT_VGA")" bochs-drm
	vh_eq "the new card at ${was_addr}.0 stays on" "$(vh_driver "$was_addr.0")" e1000e
	vh_run 0 "$VH_BIN" check "$(vh_short "$GPU_A")"
	vh_out_has "check says what apply did at this boot" \
		"^PASS  boot .*handed $GPU_A \(2 functions\) over to vfio-pci"
	vh_run 0 "$VH_BIN" verify "$(vh_short "$GPU_A")"
	vh_run 0 "$VH_BIN" --json apply
	vh_out_has "apply again changes nothing" '"outcome": "already"'
	vh_out_has "apply again: changed is false" '"changed": false'
	vh_check "and records it" grep -q '"outcome":"already"' /run/vfio-handover/apply.json
	# --json: a first run that hands over says so
	vh_run 0 "$VH_BIN" rollback "$(vh_short "$GPU_A")"
	vh_run 0 "$VH_BIN" --json apply
	vh_out_has "apply after a rollback hands over" '"outcome": "done"'
	vh_out_has "apply after a rollback: changed is true" '"changed": true'
	vh_out_has "apply --json: the moved device's new address" "\"address\": \"$GPU_A.0\""

	# unpersist: the exact inverse, the user's module list byte for byte
	stub_initramfs 0
	vh_run 0 "$VH_BIN" unpersist
	vh_check "the initramfs was refreshed again" [ -f /run/vh-initramfs.args ]
	vh_check "initramfs-tools/modules is the user's again, byte for byte" \
		cmp -s /etc/initramfs-tools/modules /etc/vh-test/orig-modules
	for f in /etc/vfio-handover/devices.conf /etc/modprobe.d/vfio-handover.conf \
		/etc/modules-load.d/vfio-handover.conf /etc/udev/rules.d/05-vfio-handover.rules; do
		vh_check "$f removed" [ ! -e "$f" ]
	done
	vh_run 0 "$VH_BIN" rollback
	vh_eq "GPU A back on" "$(vh_driver "$GPU_A.0")" bochs-drm
	vh_finish
}

if [ "$(vh_boot)" = 2 ]; then boot2; else boot1; fi
