# Helpers for the scenarios that run inside the test guest (busybox sh).
# A scenario starts with `. /vh-lib.sh` (guest.sh puts this file there).
#
# After sourcing, from sysfs (no address is hard-coded):
#   BOOT_VGA   the boot console's display function (boot_vga = 1), 0000:00:01.0
#   GPU_A      slot of the first GPU without a NIC, e.g. 0000:01:00
#   GPU_B      slot of the second, identical one
#   GPU_C      slot of the GPU whose slot also holds a network function
#   GPUS       all GPU slots
# and VH_BIN, the installed vfio-handover.
#
# Checks print "ok   WHAT" or "FAIL WHAT"; vh_finish exits 1 when any
# failed, 0 otherwise.
# shellcheck shell=sh disable=SC2034  # the variables are the scenarios'

VH_BIN=/usr/sbin/vfio-handover
VH_FAILS=0
VH_CHECKS=0
SYSPCI=/sys/bus/pci/devices

vh_say() { echo "# $*"; }
vh_ok() { VH_CHECKS=$((VH_CHECKS + 1)); echo "ok   $*"; }
vh_fail() { VH_CHECKS=$((VH_CHECKS + 1)); VH_FAILS=$((VH_FAILS + 1)); echo "FAIL $*"; }

# vh_check WHAT COMMAND...: ok when COMMAND succeeds
vh_check() {
	_what=$1
	shift
	if "$@"; then vh_ok "$_what"; else vh_fail "$_what"; fi
}

# vh_eq WHAT GOT WANT
vh_eq() {
	if [ "$2" = "$3" ]; then vh_ok "$1 ($2)"; else vh_fail "$1: got '$2', want '$3'"; fi
}

# vh_run WANT_RC COMMAND...: runs COMMAND, shows its output indented, checks
# its exit status; the output (stdout and stderr) is left in $VH_OUT and the
# status in $VH_RC.
vh_run() {
	_want=$1
	shift
	echo "\$ $*"
	VH_OUT=$("$@" 2>&1)
	VH_RC=$?
	# (long outputs, the JSON documents, are cut at 40 lines)
	[ -z "$VH_OUT" ] || printf '%s\n' "$VH_OUT" | awk '
		NR <= 40 { print "    " $0 }
		END { if (NR > 40) printf "    ... %d more lines\n", NR - 40 }'
	vh_eq "exit status of: $*" "$VH_RC" "$_want"
}

# vh_out_has WHAT REGEX: $VH_OUT has a line matching REGEX (grep -E)
vh_out_has() {
	if printf '%s\n' "$VH_OUT" | grep -Eq -- "$2"; then vh_ok "$1"; else vh_fail "$1: no line matches /$2/"; fi
}

# vh_override_locked: does this kernel show driver_override under the
# device's lock, which a blocked unbind holds (its read then blocks too)?
# Debian 12's 6.1 does; its 6.12 does not, and there uevent still names the
# driver whose remove() is under way while the driver link is gone.
vh_override_locked() {
	case $(uname -r) in 6.1.*) return 0 ;; *) return 1 ;; esac
}

# vh_wait SECONDS COMMAND...: poll COMMAND every 0.1 s until it succeeds
vh_wait() {
	_n=$(($1 * 10))
	shift
	while ! "$@"; do
		_n=$((_n - 1))
		[ "$_n" -gt 0 ] || return 1
		sleep 0.1
	done
}

# vh_hold PATH: start a process (sleep) holding PATH open, its PID in
# VH_HOLDER, and return once it does: the shell opens PATH in the child
# before exec, so right after "&" the holder may not hold it yet, or not be
# called sleep yet (a loaded CI host showed both)
vh_holding() {	# PID PATH
	[ "$(cat "/proc/$1/comm" 2>/dev/null)" = sleep ] &&
		[ "$(readlink "/proc/$1/fd/0")" = "$(readlink -f "$2")" ]
}
vh_hold() {
	# shellcheck disable=SC2217 # (the file held open is the point)
	sleep 600 <"$1" &
	VH_HOLDER=$!
	vh_wait 10 vh_holding "$VH_HOLDER" "$1" ||
		vh_fail "PID $VH_HOLDER did not hold $1 open within 10 s"
}

vh_finish() {
	if [ "$VH_FAILS" -eq 0 ]; then
		echo "scenario: $VH_CHECKS checks passed"
		exit 0
	fi
	echo "scenario: $VH_FAILS of $VH_CHECKS checks failed"
	exit 1
}

# --- sysfs readers --------------------------------------------------------
vh_driver() {	# ADDR -> driver name or "none"
	if [ -e "$SYSPCI/$1/driver" ]; then basename "$(readlink "$SYSPCI/$1/driver")"; else echo none; fi
}
vh_group() {	# ADDR -> IOMMU group number or "none"
	if [ -e "$SYSPCI/$1/iommu_group" ]; then basename "$(readlink "$SYSPCI/$1/iommu_group")"; else echo none; fi
}
vh_override() {	# ADDR -> driver_override ("(null)" when unset)
	cat "$SYSPCI/$1/driver_override"
}
vh_funcs() {	# SLOT -> its functions' addresses
	for _d in "$SYSPCI/$1".*; do [ -e "$_d" ] && echo "${_d##*/}"; done
}
vh_short() {	# 0000:01:00 -> 01:00
	echo "${1#0000:}"
}

# nanoseconds of CLOCK_MONOTONIC (busybox date has no %N: /proc/timer_list)
vh_now_ns() {
	sed -n 's/^now at \([0-9]*\) nsecs$/\1/p; /^now at/q' /proc/timer_list
}
vh_ms_since() {	# START_NS -> milliseconds elapsed
	echo $((($(vh_now_ns) - $1) / 1000000))
}

# --- the raw kernel sequence the tool relies on -------------------------
# vh_raw_to_vfio ADDR...: driver_override = vfio-pci, unbind, drivers_probe
vh_raw_to_vfio() {
	for _a in "$@"; do echo vfio-pci >"$SYSPCI/$_a/driver_override" || return 1; done
	for _a in "$@"; do
		[ -e "$SYSPCI/$_a/driver" ] || continue
		echo "$_a" >"$SYSPCI/$_a/driver/unbind" || return 1
	done
	for _a in "$@"; do echo "$_a" >/sys/bus/pci/drivers_probe || return 1; done
}
# vh_raw_back ADDR...: clear driver_override, unbind from vfio-pci, drivers_probe
vh_raw_back() {
	for _a in "$@"; do echo >"$SYSPCI/$_a/driver_override" || return 1; done
	for _a in "$@"; do
		[ "$(vh_driver "$_a")" = vfio-pci ] || continue
		echo "$_a" >/sys/bus/pci/drivers/vfio-pci/unbind || return 1
	done
	for _a in "$@"; do echo "$_a" >/sys/bus/pci/drivers_probe || return 1; done
}

# --- kernel log -----------------------------------------------------------
vh_dmesg_mark() { VH_DMESG_LINES=$(dmesg | wc -l); }
# vh_dmesg_clean WHAT: no oops, BUG or WARNING since vh_dmesg_mark
# vh_dmesg_only_known WHAT REGEX: every warning since vh_dmesg_mark comes
# with a line matching REGEX (a kernel warning a scenario provokes on purpose)
vh_dmesg_only_known() {
	_new=$(dmesg | tail -n +$((${VH_DMESG_LINES:-0} + 1)))
	_traces=$(printf '%s\n' "$_new" | grep -c 'Call Trace' || true)
	_known=$(printf '%s\n' "$_new" | grep -c "$2" || true)
	_other=$(printf '%s\n' "$_new" | grep -E 'BUG:|Oops|general protection|refcount_t' || true)
	if [ "$_traces" -le "$_known" ] && [ -z "$_other" ]; then
		vh_ok "$1: kernel log clean but for $_known known warning(s)"
	else
		vh_fail "$1: kernel log has $_traces call traces, $_known of them known:"
		printf '%s\n' "$_new" | sed 's/^/    dmesg: /'
	fi
}
vh_dmesg_clean() {
	_new=$(dmesg | tail -n +$((${VH_DMESG_LINES:-0} + 1)))
	_bad=$(printf '%s\n' "$_new" | grep -E 'Call Trace|BUG:|WARNING:|Oops|general protection|refcount_t' || true)
	if [ -z "$_bad" ]; then
		vh_ok "$1: kernel log clean"
	else
		vh_fail "$1: kernel log has:"
		printf '%s\n' "$_new" | sed 's/^/    dmesg: /'
	fi
}

# --- the driver core's own log ----------------------------------------------
# With dyndbg="file drivers/base/dd.c +p" on the kernel command line (a
# scenario's "# vh-vm-append:" or "# vh-vm-boot2-append:"), the kernel logs
# every probe of every device by every driver from the first one on.
# vh_probe_re DRIVER ADDR: the kernel log line (grep -E) of the driver core's
# dyndbg as DRIVER starts probing ADDR: 6.1 logs "bus: 'pci': really_probe:
# probing driver D with device A", 6.12 "PREFIX A: bus: 'pci': really_probe:
# probing driver D with device"
vh_probe_re() {
	echo "really_probe: probing driver $1 with device $2\$| $2: bus: 'pci': really_probe: probing driver $1 with device\$"
}
# vh_probed DRIVER ADDR: DRIVER was ever asked to probe ADDR since boot
vh_probed() {
	dmesg | grep -q -E "$(vh_probe_re "$1" "$2")"
}
# vh_dmesg_line REGEX: the number of the first kernel log line matching
# REGEX (grep -E), 0 when none does
vh_dmesg_line() {
	_l=$(dmesg | grep -n -m 1 -E -- "$1" | cut -d: -f1)
	echo "${_l:-0}"
}

# vh_hold_add_events SLOT ADDR...: a udev rule, /etc/udev/rules.d/04-vh-test-hold.rules,
# that holds the add event of each of SLOT's functions until every ADDR has
# a driver (20 s at most), then logs "vh-test: the add event of FUNCTION goes
# on" in the kernel log: the other devices' events, and the drivers they
# load, come first.  The script it runs is /etc/vh-test/hold-event.
vh_hold_add_events() {
	_slot=$1
	shift
	mkdir -p /etc/vh-test /etc/udev/rules.d
	# shellcheck disable=SC2016 # (the script's own expansions)
	printf '%s\n' '#!/bin/sh' 'ev=$1' 'shift' 'n=0' 'while [ "$n" -lt 200 ]; do' \
		'	missing=0' \
		'	for a in "$@"; do [ -e "/sys/bus/pci/devices/$a/driver" ] || missing=1; done' \
		'	[ "$missing" = 0 ] && break' '	sleep 0.1' '	n=$((n + 1))' 'done' \
		'echo "vh-test: the add event of $ev goes on" >/dev/kmsg' >/etc/vh-test/hold-event
	chmod 755 /etc/vh-test/hold-event
	printf 'ACTION=="add", SUBSYSTEM=="pci", KERNEL=="%s.*", PROGRAM="/etc/vh-test/hold-event %%k %s"\n' \
		"$_slot" "$*" >/etc/udev/rules.d/04-vh-test-hold.rules
}

# --- discovery --------------------------------------------------------------
vh_discover() {
	BOOT_VGA=""
	GPUS=""
	GPU_A=""
	GPU_B=""
	GPU_C=""
	for _d in "$SYSPCI"/*; do
		_a=${_d##*/}
		case $(cat "$_d/class") in
		0x03*)
			if [ "$(cat "$_d/boot_vga" 2>/dev/null)" = 1 ]; then
				BOOT_VGA=$_a
			else
				case " $GPUS " in *" ${_a%.*} "*) ;; *) GPUS="$GPUS ${_a%.*}" ;; esac
			fi
			;;
		esac
	done
	GPUS=${GPUS# }
	for _s in $GPUS; do
		_nic=no
		for _f in $(vh_funcs "$_s"); do
			case $(cat "$SYSPCI/$_f/class") in 0x02*) _nic=yes ;; esac
		done
		if [ "$_nic" = yes ]; then
			GPU_C=$_s
		elif [ -z "$GPU_A" ]; then
			GPU_A=$_s
		elif [ -z "$GPU_B" ]; then
			GPU_B=$_s
		fi
	done
}

# vh_show: an lspci -k like listing of every PCI function
vh_show() {
	for _d in "$SYSPCI"/*; do
		_a=${_d##*/}
		printf '    %s class %s id %s:%s group %-4s driver %s\n' "$_a" "$(cat "$_d/class")" \
			"$(cut -c3- "$_d/vendor")" "$(cut -c3- "$_d/device")" "$(vh_group "$_a")" "$(vh_driver "$_a")"
	done
}

vh_discover

# --- reboots ("# vh-vm-boots: 2") -----------------------------------------
# vh_boot: 1 or 2
vh_boot() { cat /vh-boot 2>/dev/null || echo 1; }
# vh_carry PATH...: these files and directories (absolute) are in the root
# of the second boot (a tar on the console, which guest.sh unpacks)
vh_carry() {
	_rel=""
	for _p in "$@"; do _rel="$_rel ${_p#/}"; done
	echo "VH-CARRY-BEGIN"
	# shellcheck disable=SC2086
	(cd / && tar -cf - $_rel) | gzip -c | base64
	echo "VH-CARRY-END"
}
