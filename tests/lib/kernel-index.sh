#!/bin/sh
# Module indexes for tests/lib/test-vfio-variant: libkmod looks vfio
# drivers up in them as it does in a real /lib/modules/KVER.
#
#   kernel-index.sh fake ROOT      ROOT/lib/modules/6.9.0-vh-fake: empty modules
#                                  carrying the aliases of SPEC below (and a few
#                                  more for the ranking rules), depmod'ed
#   kernel-index.sh debian         prints a root whose lib/modules/KVER is the real
#                                  index of Debian's kernel package (the one the VM
#                                  tests boot), depmod'ed from all its modules
#   kernel-index.sh debian-variants
#                                  the same index with the variant drivers of SPEC
#                                  added, which Debian's amd64 kernels do not build
#                                  (CONFIG_MLX5_VFIO_PCI is off, the others are arm64)
#
# The Debian roots are built once into the VM tests' cache and kept (a few
# MB: the index files and the modules of drivers/vfio, drivers/net/ethernet/
# mellanox and sound/pci/hda; the rest is dropped after depmod).  Exit 77
# when Debian's kernel package cannot be had.
set -eu
PATH=$PATH:/usr/sbin:/sbin
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vh-kindex.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The variant drivers, as Kbuild writes their override-only ids: each
# alias is one PCI_DRIVER_OVERRIDE_DEVICE_VFIO entry of the driver's table.
SPEC='module kernel/drivers/vfio/pci/nvgrace-gpu/nvgrace-gpu-vfio-pci.ko vfio_pci:v000010DEd00002342sv*sd*bc*sc*i* vfio_pci:v000010DEd00002345sv*sd*bc*sc*i* vfio_pci:v000010DEd00002348sv*sd*bc*sc*i* vfio_pci:v000010DEd00002941sv*sd*bc*sc*i* vfio_pci:v000010DEd000031C2sv*sd*bc*sc*i*
module kernel/drivers/vfio/pci/mlx5/mlx5-vfio-pci.ko vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* vfio_pci:v000015B3d0000101Fsv*sd*bc*sc*i* vfio_pci:v000015B3d00001021sv*sd*bc*sc*i* vfio_pci:v000015B3d00001023sv*sd*bc*sc*i*
module kernel/drivers/vfio/pci/hisilicon/hisi-acc-vfio-pci.ko vfio_pci:v000019E5d0000A251sv*sd*bc*sc*i* vfio_pci:v000019E5d0000A256sv*sd*bc*sc*i* vfio_pci:v000019E5d0000A259sv*sd*bc*sc*i*'

# shellcheck source=../cli/fake-kernels.sh
. "$here/../cli/fake-kernels.sh"

fake() {	# ROOT
	fake_kernels_setup
	dir=$1/lib/modules/6.9.0-vh-fake
	mkdir -p "$dir"
	{
		echo 'module kernel/drivers/vfio/pci/vfio-pci.ko vfio_pci:v*d*sv*sd*bc*sc*i*'
		echo "$SPEC"
		# the ranking: a class match is more specific than vendor:device
		# alone; an equal match goes to vfio-pci, then by module name
		echo 'module extra/vh-class-vfio.ko vfio_pci:v000010DEd*sv*sd*bc03sc02i*'
		echo 'module extra/vh-catchall-vfio.ko vfio_pci:v*d*sv*sd*bc*sc*i*'
		echo 'module extra/vh-b-vfio.ko vfio_pci:v00001234d00005678sv*sd*bc*sc*i*'
		echo 'module extra/vh-a-vfio.ko vfio_pci:v00001234d00005678sv*sd*bc*sc*i*'
		# a host driver: aliases, none of them vfio_pci:
		echo 'module kernel/sound/pci/hda/snd-hda-intel.ko pci:v00008086d0000293Esv*sd*bc*sc*i*'
	} >"$dir/fake-modules"
	fake_kernels "$1"
	# a kernel before 5.15: vfio-pci has no vfio_pci: alias yet
	mkdir -p "$1/lib/modules/5.10.0-vh-old"
	echo 'module kernel/drivers/vfio/pci/vfio-pci.ko pci:v*d*sv*sd*bc*sc*i*' \
		>"$1/lib/modules/5.10.0-vh-old/fake-modules"
	fake_kernels "$1"
}

cache=${VH_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vfio-handover-vm}

kernel_deb() {	# the kernel package the VM tests boot, downloaded by them if need be
	deb=""
	if [ -f "$cache/debs/linux-image-amd64.resolved" ]; then
		deb=$(ls -t "$cache/debs/$(cat "$cache/debs/linux-image-amd64.resolved")"_*_amd64.deb 2>/dev/null |
			head -n 1 || true)
	fi
	[ -n "$deb" ] || deb=$(ls -t "$cache"/debs/linux-image-*_amd64.deb 2>/dev/null | head -n 1 || true)
	if [ -z "$deb" ]; then
		"$here/../vm/guest.sh" kernel >&2 || exit 77
		deb=$(ls -t "$cache"/debs/linux-image-*_amd64.deb 2>/dev/null | head -n 1 || true)
	fi
	[ -n "$deb" ] || { echo "kernel-index.sh: no Debian kernel package in $cache/debs" >&2; exit 77; }
	echo "$deb"
}

debian() {	# VARIANTS(yes|no): prints the root
	command -v dpkg-deb >/dev/null 2>&1 && command -v depmod >/dev/null 2>&1 ||
		{ echo "kernel-index.sh: needs dpkg-deb and depmod" >&2; exit 77; }
	deb=$(kernel_deb)
	key=$(printf '%s\n%s\n%s\n' "$(basename "$deb")" "$1" "$SPEC" | sha256sum | cut -c1-12)
	out=$cache/index-$key
	if [ ! -f "$out/done" ]; then
		mkdir -p "$cache"
		exec 9>"$cache/.lock"
		command -v flock >/dev/null 2>&1 && flock 9
		[ -f "$out/done" ] || build_debian "$deb" "$1" "$out"
		exec 9>&-
	fi
	echo "$out"
}

build_debian() {	# DEB VARIANTS OUT
	x=$tmp/x
	mkdir -p "$x"
	dpkg-deb -x "$1" "$x"
	kver=$(ls "$x/lib/modules")
	dir=$x/lib/modules/$kver
	if [ "$2" = yes ]; then
		fake_kernels_setup
		printf '%s\n' "$SPEC" >"$dir/fake-modules.spec"
		set -f
		while read -r kind path aliases; do
			mkdir -p "$dir/${path%/*}"
			# shellcheck disable=SC2086
			fake_module "$dir/$path" $aliases
		done <"$dir/fake-modules.spec"
		set +f
		rm "$dir/fake-modules.spec"
	fi
	depmod -b "$x" "$kver"
	rm -rf "$3" "$3.new"
	mkdir -p "$3.new/lib/modules/$kver"
	cp "$dir"/modules.* "$3.new/lib/modules/$kver/"
	# the modules whose aliases the tests read (modinfo), no more
	(cd "$dir" && find kernel/drivers/vfio kernel/sound/pci/hda kernel/drivers/net/ethernet/mellanox \
		-name '*.ko*' 2>/dev/null | while read -r m; do
			mkdir -p "$3.new/lib/modules/$kver/${m%/*}"
			cp "$m" "$3.new/lib/modules/$kver/$m"
		done)
	touch "$3.new/done"
	mv "$3.new" "$3"
	rm -rf "$x"
}

case ${1:-} in
fake) [ $# -eq 2 ] || exit 2; fake "$2" ;;
debian) debian no ;;
debian-variants) debian yes ;;
*) echo "usage: kernel-index.sh fake ROOT | debian | debian-variants" >&2; exit 2 ;;
esac
