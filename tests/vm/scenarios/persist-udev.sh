#!/bin/sh
# vh-vm-udev: both
# vh-vm-boots: 2
# vh-vm-boot2-append: dyndbg="file drivers/base/dd.c +p" log_buf_len=4M
# vh-vm-kernels: all
# The udev rule persist writes (issue 16): a GPU persisted at boot 1 never
# touches its host driver at boot 2, while its identical twin keeps its own.
# Boot 1 persists GPU A: its twin B and the console have its ids, so there
# is no ids= line.  With udevd, one add event (of GPU A's first function
# only) gives both functions to vfio-pci, and none with "vfio_handover.off"
# on the kernel command line.  Boot 1 also adds a rule of the test's own
# that holds GPU A's own add events back until the twin has its host
# drivers: the other devices' events come first, and load bochs and
# snd_hda_intel, which bind whatever they find without a driver and without
# an override (as on any host where the events of the console, the onboard
# audio or a twin win the race).
# Boot 2 starts from boot 1's /etc without modules-load.d, the order of an
# initramfs that runs udev before it loads its module list: only the rule
# loads vfio-pci.  The kernel logs every probe (dyndbg, drivers/base/dd.c).
#   With udevd: GPU A is on vfio-pci before apply runs; bochs-drm and
#   snd_hda_intel were never asked to probe it, though they bound the twin
#   before GPU A's own add event ran; apply finds it there (outcome
#   "already", no journal), and check says so; rollback gives it to its host
#   drivers; unpersist removes the rule.
#   Without udevd nothing runs the rule: the host drivers take GPU A and
#   apply hands it over live, the unbind the rule spares.
# shellcheck source=../guest-lib.sh
. /vh-lib.sh

RULE=/etc/udev/rules.d/05-vfio-handover.rules

# update-initramfs as persist runs it (no shell)
stub_initramfs() {
	mkdir -p /usr/local/sbin
	printf '#!/bin/sh\necho "update-initramfs: Generating /boot/initrd.img-$(uname -r)"\n' \
		>/usr/local/sbin/update-initramfs
	chmod 755 /usr/local/sbin/update-initramfs
}
udevd_runs() { grep -q 'vh.udev=1' /proc/cmdline; }
override() { vh_override "$1"; }
not() { ! "$@"; }
before() { [ "$1" -gt 0 ] && [ "$1" -lt "$2" ]; }

# GPU A's functions unbound and without override, then one add event of
# its first function, with these kernel command-line words seen by udev
add_event() {	# CMDLINE_WORDS
	for f in $(vh_funcs "$GPU_A"); do
		[ ! -e "$SYSPCI/$f/driver" ] || echo "$f" >"$SYSPCI/$f/driver/unbind"
	done
	printf '%s %s\n' "$(cat /proc/cmdline)" "$1" >/run/vh-cmdline
	mount --bind /run/vh-cmdline /proc/cmdline
	udevadm trigger --action=add --settle "$SYSPCI/$GPU_A.0"
	umount /proc/cmdline
}

boot1() {
	vh_say "boot 1: persist GPU A $GPU_A; twin $GPU_B, console $BOOT_VGA (all 1234:1111)"
	stub_initramfs
	vh_run 0 "$VH_BIN" persist "$(vh_short "$GPU_A")"
	vh_out_has "persist wrote the udev rule" "^  wrote $RULE\$"
	vh_out_has "no ids= line (the twin and the console have the ids)" "no 'options vfio-pci ids=' line"
	vh_check "the rule has a line for $GPU_A.0" grep -q "^# $GPU_A.0 1234:1111, of GPU $GPU_A (2 functions persisted)\$" "$RULE"
	vh_check "and for $GPU_A.1" grep -q "^# $GPU_A.1 8086:293e, of GPU $GPU_A (2 functions persisted)\$" "$RULE"
	vh_check "the rule names neither the twin nor the console" \
		sh -c "! grep -q -e '$GPU_B' -e '$BOOT_VGA' '$RULE'"

	if udevd_runs; then
		udevadm control --reload
		add_event vfio_handover.off
		vh_eq "vfio_handover.off: $GPU_A.0 left without a driver" "$(vh_driver "$GPU_A.0")" none
		vh_eq "and its driver_override untouched" "$(override "$GPU_A.0")" "(null)"
		for f in $(vh_funcs "$GPU_A"); do echo "$f" >/sys/bus/pci/drivers_probe; done
		vh_eq "probed again, $GPU_A.0 is on" "$(vh_driver "$GPU_A.0")" bochs-drm
		add_event ""
		for f in $(vh_funcs "$GPU_A"); do
			vh_eq "one add event of $GPU_A.0: $f on" "$(vh_driver "$f")" vfio-pci
			vh_eq "$f's driver_override" "$(override "$f")" vfio-pci
		done
		vh_eq "the twin's $GPU_B.0 stays on" "$(vh_driver "$GPU_B.0")" bochs-drm
		vh_run 0 "$VH_BIN" rollback "$(vh_short "$GPU_A")"
		vh_eq "rollback gives $GPU_A.0 back to" "$(vh_driver "$GPU_A.0")" bochs-drm
		vh_eq "and $GPU_A.1 to" "$(vh_driver "$GPU_A.1")" snd_hda_intel
	fi

	# GPU A's own add events, held back until the twin has its host drivers
	# shellcheck disable=SC2046 # (one argument per function)
	vh_hold_add_events "$GPU_A" $(vh_funcs "$GPU_B")
	echo "$GPU_A" >/etc/vh-test/boot1
	vh_say "rebooting with this /etc, modules-load.d left behind"
	[ "$VH_FAILS" -eq 0 ] && vh_carry /etc/vfio-handover /etc/modprobe.d /etc/initramfs-tools \
		/etc/udev /etc/vh-test
	vh_finish
}

boot2_udev() {
	own=$(vh_dmesg_line "vh-test: the add event of $GPU_A.0 goes on")
	# (the hold ends when the twin has a driver link: made as its probe
	# starts, before "bound device" is logged at its end)
	twin=$(vh_dmesg_line "$(vh_probe_re bochs-drm "$GPU_B.0")")
	vh_check "GPU A's own add event ran (line $own of the kernel log)" [ "$own" -gt 0 ]
	vh_check "after bochs-drm had started probing the twin (line $twin)" before "$twin" "$own"
	for f in $(vh_funcs "$GPU_A"); do
		vh_eq "before apply, $f is on" "$(vh_driver "$f")" vfio-pci
		vh_check "vfio-pci probed $f" vh_probed vfio-pci "$f"
	done
	vh_check "bochs-drm never probed $GPU_A.0" not vh_probed bochs-drm "$GPU_A.0"
	vh_check "snd_hda_intel never probed $GPU_A.1" not vh_probed snd_hda_intel "$GPU_A.1"
	vh_check "while it probed the twin's $GPU_B.1" vh_probed snd_hda_intel "$GPU_B.1"
	vh_check "vfio_pci is loaded (no modules-load.d: the rule, or the softdep of bochs)" \
		grep -q '^vfio_pci ' /proc/modules

	vh_run 0 "$VH_BIN" apply
	vh_out_has "apply finds GPU A there" "already on vfio-pci: nothing to do"
	vh_check "its record: outcome already" grep -q '"outcome":"already"' /run/vfio-handover/apply.json
	vh_check "no journal: apply wrote nothing to sysfs" [ ! -s /run/vfio-handover/state.json ]
	vh_run 0 "$VH_BIN" check "$(vh_short "$GPU_A")"
	vh_out_has "check says GPU A was on vfio-pci already" \
		"^PASS  boot .*found $GPU_A \(2 functions\) on vfio-pci already"
	vh_out_has "and that the rule is there" "^PASS  udev-rule .* gives the 2 persisted functions to vfio-pci"
	vh_run 0 "$VH_BIN" rollback "$(vh_short "$GPU_A")"
	vh_eq "rollback (no journal entry) gives $GPU_A.0 to" "$(vh_driver "$GPU_A.0")" bochs-drm
	vh_eq "and $GPU_A.1 to" "$(vh_driver "$GPU_A.1")" snd_hda_intel
}

boot2_plain() {
	vh_eq "nothing ran the rule: $GPU_A.0 is on" "$(vh_driver "$GPU_A.0")" bochs-drm
	vh_check "bochs-drm probed $GPU_A.0" vh_probed bochs-drm "$GPU_A.0"
	vh_run 0 "$VH_BIN" apply
	vh_out_has "apply hands it over live" "^$GPU_A: 2 functions on vfio-pci"
	vh_check "its record: outcome done" grep -q '"outcome":"done"' /run/vfio-handover/apply.json
	vh_run 0 "$VH_BIN" rollback "$(vh_short "$GPU_A")"
}

boot2() {
	vh_say "boot 2: GPU A $GPU_A (persisted at $(cat /etc/vh-test/boot1)), twin $GPU_B"
	vh_check "GPU A is where it was" [ "$(cat /etc/vh-test/boot1)" = "$GPU_A" ]
	if udevd_runs; then boot2_udev; else boot2_plain; fi
	vh_eq "the twin's $GPU_B.0 is on" "$(vh_driver "$GPU_B.0")" bochs-drm
	vh_eq "the twin's $GPU_B.1 is on" "$(vh_driver "$GPU_B.1")" snd_hda_intel
	vh_eq "the twin's driver_override" "$(override "$GPU_B.0")" "(null)"
	vh_eq "the console $BOOT_VGA is on" "$(vh_driver "$BOOT_VGA")" bochs-drm
	stub_initramfs
	vh_run 0 "$VH_BIN" unpersist
	vh_out_has "unpersist removes the rule" "^  removed $RULE\$"
	vh_check "and it is gone" [ ! -e "$RULE" ]
	vh_check "the test's own rule stays" [ -e /etc/udev/rules.d/04-vh-test-hold.rules ]
	vh_finish
}

if [ "$(vh_boot)" = 2 ]; then boot2; else boot1; fi
