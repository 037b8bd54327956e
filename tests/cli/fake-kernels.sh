# Sourced by the shell tests: kernels libkmod can read, under a root.
# A root's lib/modules/VER/fake-modules ("module PATH" or "builtin PATH" per
# line) becomes empty objects at PATH and the indexes depmod builds from
# them.  Needs $tmp (a scratch directory) and a C compiler.
# shellcheck shell=sh

fake_kernels_setup() {
	echo 'int vh_fake_module;' > "$tmp/empty.c"
	${CC:-cc} -c "$tmp/empty.c" -o "$tmp/empty.o"
}

# fake_kernels ROOT: turn every fake-modules spec under ROOT into a kernel
fake_kernels() {
	for spec in "$1"/lib/modules/*/fake-modules; do
		[ -f "$spec" ] || continue
		dir=${spec%/fake-modules}
		: > "$dir/modules.order"
		: > "$dir/modules.builtin"
		while read -r kind path; do
			case $kind in
			module)	mkdir -p "$dir/${path%/*}"
				cp "$tmp/empty.o" "$dir/$path"
				echo "$path" >> "$dir/modules.order" ;;
			builtin) echo "$path" >> "$dir/modules.builtin" ;;
			esac
		done < "$spec"
		rm "$spec"
		# a real kernel always has built-in modinfo; libkmod reads an
		# empty builtin alias index with uninitialised memory (valgrind)
		printf 'vh_fake_builtin.license=GPL\0vh_fake_builtin.alias=vh-fake\0' \
			> "$dir/modules.builtin.modinfo"
		PATH=$PATH:/sbin:/usr/sbin depmod -b "$1" "${dir##*/}" 2>/dev/null || return 1
	done
}

# fake_kernel ROOT RELEASE: a kernel with vfio, vfio_iommu_type1,
# vfio_virqfd and vfio-pci as modules (Debian 12's 6.1)
fake_kernel() {
	mkdir -p "$1/lib/modules/$2"
	printf 'module kernel/drivers/vfio/%s\n' vfio.ko vfio_iommu_type1.ko vfio_virqfd.ko \
		pci/vfio-pci.ko > "$1/lib/modules/$2/fake-modules"
	fake_kernels "$1"
}
