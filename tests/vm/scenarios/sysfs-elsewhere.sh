#!/bin/sh
# Runs in the test guest.  The running kernel's sysfs mounted a second time,
# as a privileged container mounts the host's (mount -t sysfs sysfs
# /host/sys): --sysfs pointing there is the live kernel all the same, so
# every refusal of the live tree holds (a process holding the GPU, a host
# NIC that is up in the group, an unprivileged caller, a VM holding the
# group at rollback, no procfs to look in) and a hand-over through it is
# made and verified.
# vh-vm-profile: default
# shellcheck source=../guest-lib.sh
. /vh-lib.sh

S=/host/sys
mkdir -p "$S"
vh_check "sysfs mounted a second time at $S" mount -t sysfs sysfs "$S"
VH="$VH_BIN --sysfs $S"
A=$(vh_short "$GPU_A")
host_drivers() {	# SLOT -> "bochs-drm snd_hda_intel"
	for f in $(vh_funcs "$1"); do printf '%s ' "$(vh_driver "$f")"; done | sed 's/ $//'
}
on_host() { vh_eq "$1: $2 on its host drivers" "$(host_drivers "$2")" "bochs-drm snd_hda_intel"; }
on_vfio() { vh_eq "$1: $2 on vfio-pci" "$(host_drivers "$2")" "vfio-pci vfio-pci"; }

# --- a process holding the GPU's DRM node ---------------------------------------
CARD=$(ls "$SYSPCI/$GPU_A.0/drm" | grep '^card' | head -n 1)
vh_hold "/dev/dri/$CARD"
HOLDER=$VH_HOLDER
# shellcheck disable=SC2086  # $VH is the command and its --sysfs
vh_run 1 $VH check "$A"
vh_out_has "check: the holder is a FAIL, not 'not checked'" "^FAIL +in-use +$GPU_A.0 .*PID $HOLDER \\(sleep\\)"
# shellcheck disable=SC2086
vh_run 3 $VH bind "$A"
vh_out_has "bind: the holder of /dev/dri/$CARD is named" "PID $HOLDER \\(sleep\\) holds /dev/dri/$CARD"
on_host "held GPU untouched" "$GPU_A"
kill "$HOLDER"
wait "$HOLDER" 2>/dev/null

# --- the host's NIC, up, in the group of the GPU named with it ------------------
NIC=$GPU_C.2
IFACE=$(ls "$SYSPCI/$NIC/net")
vh_check "ip link set $IFACE up" ip link set "$IFACE" up
# shellcheck disable=SC2086
vh_run 3 $VH bind "$GPU_C.0" "$GPU_C.1" "$NIC"
vh_out_has "bind: the NIC that is up refuses" "$NIC carries network interface $IFACE, which is up"
vh_eq "the NIC keeps its driver" "$(vh_driver "$NIC")" e1000e
ip link set "$IFACE" down

# --- an unprivileged caller -------------------------------------------------------
grep -q '^nobody:' /etc/passwd 2>/dev/null || echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >>/etc/passwd
grep -q '^nogroup:' /etc/group 2>/dev/null || echo 'nogroup:x:65534:' >>/etc/group
vh_run 5 su -s /bin/sh nobody -c "$VH bind $A"
vh_out_has "unprivileged bind: says what is missing" 'needs root \(CAP_DAC_OVERRIDE'
on_host "unprivileged bind" "$GPU_A"

# --- no procfs at /proc: who holds the GPU cannot be known: refused --------------
# (an AddressSanitizer build's leak check at exit needs /proc itself, and
# the sanitizers read their options from /proc/self/environ, not from the
# environment: a file there, in the tmpfs, turns the leak check off)
vh_run 3 unshare -m sh -c "mount -t tmpfs none /proc && mkdir /proc/self &&
	printf 'ASAN_OPTIONS=detect_leaks=0\\0' >/proc/self/environ && $VH bind $A"
vh_out_has "bind without a procfs: refused, saying why" "/proc is not a procfs"
on_host "bind without a procfs" "$GPU_A"

# --- a hand-over through the second mount, and a VM holding the group ------------
# shellcheck disable=SC2086
vh_run 0 $VH bind "$A"
on_vfio "bind through $S" "$GPU_A"
on_host "bind through $S: the twin" "$GPU_B"
# shellcheck disable=SC2086
vh_run 0 $VH verify "$A"
G=$(vh_group "$GPU_A.0")
vh_check "/dev/vfio/$G exists" vh_wait 5 test -e "/dev/vfio/$G"
vh_hold "/dev/vfio/$G"
VM=$VH_HOLDER
# shellcheck disable=SC2086
vh_run 3 $VH rollback
vh_out_has "rollback: the VM's PID is named" "PID $VM \\(sleep\\) holds /dev/vfio/$G"
on_vfio "rollback refused while the VM runs" "$GPU_A"
kill "$VM"
wait "$VM" 2>/dev/null
# shellcheck disable=SC2086
vh_run 0 $VH rollback
on_host "rollback through $S" "$GPU_A"

umount "$S"
vh_finish
