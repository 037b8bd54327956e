#!/bin/sh
# make demo, inside the throwaway QEMU guest: what a newcomer does with
# vfio-handover on a host with two identical GPUs and a boot console.
# vh-vm-profile: default
# shellcheck source=guest-lib.sh
. /vh-lib.sh

A=$(vh_short "$GPU_A")
step() {
	printf '\n\033[1m### %s\033[0m\n' "$1"
	shift
	printf '\033[1m# %s\033[0m\n' "$*"
	"$@"
	printf '(exit status %d)\n' $?
}

cat <<EOT

This guest runs Debian's kernel with an IOMMU and three emulated GPUs
(display + HD audio each; GPU C's slot also has a NIC) and a boot console.
Nothing of the machine you run it on is touched.
EOT
step "1. What is there: GPUs, drivers, IOMMU groups" vfio-handover list
step "2. Pre-flight for GPU A ($A)" vfio-handover check "$A"
step "3. Hand GPU A over to vfio-pci, live" vfio-handover bind "$A"
step "4. Proof, read back from the kernel" vfio-handover verify "$A"
step "5. The group a VM manager opens" ls -l /dev/vfio/
step "6. GPU B, identical, still on its host drivers" vfio-handover verify "$(vh_short "$GPU_B")"
step "7. Give GPU A back to the exact drivers it had" vfio-handover rollback
step "8. Back on the host" vfio-handover list
exit 0
