#!/bin/sh
# Runs in the test guest.  The libvirt qemu hook (contrib/libvirt/qemu.in),
# called as libvirt calls it: HOOK DOMAIN OPERATION SUB-OPERATION EXTRA, the
# domain XML on stdin, as libvirt formats it.  prepare hands a domain's
# unmanaged PCI host devices over; a second domain is refused the same GPU;
# release gives back exactly what prepare moved; managed='yes' devices, a
# domain without host devices and the other operations do nothing; the
# tool's refusal (GPU C, a NIC in its group) fails the start with its
# message; a GPU already on vfio-pci stays there at release.
# vh-vm-profile: default
# shellcheck source=../guest-lib.sh
. /vh-lib.sh

HOOK=$(find / -xdev -path '*/libexec/vfio-handover/libvirt-qemu-hook' -type f 2>/dev/null | head -n 1)
[ -x "$HOOK" ] || { vh_fail "the installed hook (libexec/vfio-handover/libvirt-qemu-hook)"; vh_finish; }
vh_say "hook: $HOOK"
STATE=/run/vfio-handover/libvirt

bus() { echo "$1" | cut -d: -f2; }
drivers() {	# SLOT -> its functions' drivers
	for f in $(vh_funcs "$1"); do printf '%s ' "$(vh_driver "$f")"; done | sed 's/ $//'
}
# hostdev MANAGED SLOT FUNCTION: a PCI host device as libvirt formats it
hostdev() {
	cat <<EOF
    <hostdev mode='subsystem' type='pci' managed='$1'>
      <driver name='vfio'/>
      <source>
        <address domain='0x0000' bus='0x$(bus "$2")' slot='0x00' function='0x$3'/>
      </source>
      <alias name='hostdev$3'/>
      <address type='pci' domain='0x0000' bus='0x0$((6 + $3))' slot='0x00' function='0x0'/>
    </hostdev>
EOF
}
# domain NAME DEVICES: a domain XML with libvirt's furniture around DEVICES,
# and look-alikes that are not host devices: in metadata, in a comment, a
# NIC's guest address, a managed USB device
domain() {
	cat <<EOF
<domain type='kvm' id='7'>
  <name>$1</name>
  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>
  <metadata>
    <vh:note xmlns:vh="http://example.org/vh">
      <vh:hostdev mode='subsystem' type='pci' managed='no'><vh:source><vh:address domain='0x0000' bus='0x$(bus "$GPU_B")' slot='0x00' function='0x0'/></vh:source></vh:hostdev>
    </vh:note>
  </metadata>
  <memory unit='KiB'>1048576</memory>
  <vcpu placement='static'>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc-q35-9.2'>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <!-- was: <hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x$(bus "$GPU_B")' slot='0x00' function='0x0'/></source></hostdev> -->
    <interface type='network'>
      <mac address='52:54:00:6b:3c:58'/>
      <source network='default'/>
      <model type='virtio'/>
      <address type='pci' domain='0x0000' bus='0x$(bus "$GPU_B")' slot='0x00' function='0x0'/>
    </interface>
    <hostdev mode='subsystem' type='usb' managed='yes'>
      <source>
        <vendor id='0x046d'/>
        <product id='0xc52b'/>
      </source>
      <address type='usb' bus='0' port='1'/>
    </hostdev>
$2
  </devices>
  <seclabel type='dynamic' model='dac' relabel='yes'/>
</domain>
EOF
}
hook() {	# DOMAIN OPERATION SUB-OPERATION < XML: as libvirt runs it
	"$HOOK" "$1" "$2" "$3" -
}
GPU_A_XML="$(hostdev no "$GPU_A" 0)
$(hostdev no "$GPU_A" 1)"

# --- prepare: GPU A to vfio-pci, recorded for vm1 ------------------------------
domain vm1 "$GPU_A_XML" >/tmp/vm1.xml
vh_run 0 hook vm1 prepare begin </tmp/vm1.xml
vh_eq "vm1 prepare: GPU A on vfio-pci" "$(drivers "$GPU_A")" "vfio-pci vfio-pci"
vh_eq "GPU B untouched (metadata, comment, a NIC's address)" "$(drivers "$GPU_B")" "bochs-drm snd_hda_intel"
vh_eq "recorded for vm1" "$(tr '\n' ' ' <"$STATE/$GPU_A")" "vm1 handed "
vh_out_has "said" "domain vm1: handed $GPU_A over to vfio-pci"
vh_check "the journal holds GPU A" grep -q "\"$GPU_A.0\"" /run/vfio-handover/state.json
for op in "start begin" "started begin" "stopped end" "reconnect begin"; do
	# shellcheck disable=SC2086
	vh_run 0 hook vm1 $op </tmp/vm1.xml
done
vh_eq "other operations: nothing moved" "$(drivers "$GPU_A")" "vfio-pci vfio-pci"

# --- a second domain for the same GPU: refused, vm1 keeps it ------------------
domain vm2 "$(hostdev no "$GPU_A" 0)" >/tmp/vm2.xml
vh_run 3 hook vm2 prepare begin </tmp/vm2.xml
vh_out_has "refused, the holder named" "refused: $GPU_A is handed over to domain 'vm1'"
# libvirt calls release after a start that failed: vm1's GPU stays
vh_run 0 hook vm2 release end </tmp/vm2.xml
vh_eq "vm2's release leaves vm1's GPU" "$(drivers "$GPU_A")" "vfio-pci vfio-pci"
vh_eq "still vm1's" "$(sed -n 1p "$STATE/$GPU_A")" vm1

# --- release: back on the recorded host drivers ---------------------------------
vh_run 0 hook vm1 release end </tmp/vm1.xml
vh_eq "vm1 release: GPU A on its host drivers" "$(drivers "$GPU_A")" "bochs-drm snd_hda_intel"
vh_check "the record is gone" test ! -e "$STATE/$GPU_A"
vh_out_has "said" "domain vm1: gave $GPU_A back to their host drivers"
vh_run 0 hook vm1 release end </tmp/vm1.xml
vh_eq "a second release does nothing" "$(drivers "$GPU_A")" "bochs-drm snd_hda_intel"

# --- managed='yes' (libvirt's own), no host device: nothing done ----------------
domain vm3 "$(hostdev yes "$GPU_B" 0)" >/tmp/vm3.xml
vh_run 0 hook vm3 prepare begin </tmp/vm3.xml
vh_eq "managed='yes': GPU B untouched" "$(drivers "$GPU_B")" "bochs-drm snd_hda_intel"
vh_check "no record for it" test ! -e "$STATE/$GPU_B"
domain vm4 "" >/tmp/vm4.xml
vh_run 0 hook vm4 prepare begin </tmp/vm4.xml
vh_eq "no host device: silent" "$VH_OUT" ""

# --- the tool refuses: GPU C's IOMMU group holds its NIC ----------------------
domain vm5 "$(hostdev no "$GPU_C" 0)
$(hostdev no "$GPU_C" 1)" >/tmp/vm5.xml
vh_run 3 hook vm5 prepare begin </tmp/vm5.xml
vh_out_has "the tool's refusal, on stderr" "^vfio-handover: refused: IOMMU group [0-9]+ of $GPU_C also holds $GPU_C.2"
vh_out_has "the start fails" "domain vm5: vfio-handover bind exited 3: see its message above; the domain does not start"
vh_check "no record left" test ! -e "$STATE/$GPU_C"
vh_eq "GPU C untouched" "$(vh_driver "$GPU_C.0")" bochs-drm

# --- a GPU on vfio-pci before the domain: it stays there at release ------------
vh_run 0 "$VH_BIN" bind "$(vh_short "$GPU_B")"
domain vm6 "$(hostdev no "$GPU_B" 0)" >/tmp/vm6.xml
vh_run 0 hook vm6 prepare begin </tmp/vm6.xml
vh_eq "recorded as kept" "$(sed -n 2p "$STATE/$GPU_B")" kept
vh_run 0 hook vm6 release end </tmp/vm6.xml
vh_out_has "left there" "$GPU_B was on vfio-pci before the domain started: left there"
vh_eq "GPU B still on vfio-pci" "$(drivers "$GPU_B")" "vfio-pci vfio-pci"
vh_run 0 "$VH_BIN" rollback "$(vh_short "$GPU_B")"

# --- XML it cannot follow: refused, nothing done --------------------------------
printf '%s\n' "<domain><devices><hostdev mode='subsystem' type='pci'><source>" \
	"<address domain='0x0000' bus='0x$(bus "$GPU_A")' slot='0x00' function='0x0'/>" \
	"</hostdev></devices></domain>" >/tmp/bad.xml
vh_run 2 hook vm7 prepare begin </tmp/bad.xml
vh_out_has "why" "domain vm7: cannot read the domain XML: </hostdev> closes no open element; nothing handed over"
printf '%s\n' "<domain><devices><hostdev mode='subsystem' type='pci'><source>" \
	"<address domain='0x0000' bus='1' slot='0x00' function='0x0'/></source></hostdev></devices></domain>" >/tmp/bad.xml
vh_run 2 hook vm7 prepare begin </tmp/bad.xml
vh_out_has "a bus not as libvirt writes it" "bus='1', not 0x and hex digits"
# no managed attribute: libvirt's default, unmanaged
printf '%s\n' "<domain><devices><hostdev mode=\"subsystem\" type=\"pci\"><source>" \
	"<address domain=\"0x0000\" bus=\"0x$(bus "$GPU_A")\" slot=\"0x00\" function=\"0x0\"/></source></hostdev></devices></domain>" >/tmp/vm8.xml
vh_run 0 hook vm8 prepare begin </tmp/vm8.xml
vh_eq "no managed attribute: handed over" "$(drivers "$GPU_A")" "vfio-pci vfio-pci"
vh_run 0 hook vm8 release end </tmp/vm8.xml
vh_eq "and given back" "$(drivers "$GPU_A")" "bochs-drm snd_hda_intel"

# --- a prepare killed after its bind, before it recorded how: release gives back
vh_run 0 "$VH_BIN" bind "$(vh_short "$GPU_A")"
mkdir -p "$STATE"
printf 'vm9\nclaimed\n' >"$STATE/$GPU_A"
domain vm9 "$GPU_A_XML" >/tmp/vm9.xml
vh_run 0 hook vm9 release end </tmp/vm9.xml
vh_eq "an unfinished prepare's GPU given back" "$(drivers "$GPU_A")" "bochs-drm snd_hda_intel"
vh_check "its record gone" test ! -e "$STATE/$GPU_A"

vh_finish
