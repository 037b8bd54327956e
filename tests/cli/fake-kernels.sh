# Sourced by the shell tests: kernels libkmod can read, under a root.
# A root's lib/modules/VER/fake-modules ("module PATH [ALIAS...]" or
# "builtin PATH" per line) becomes empty objects at PATH, a module's with
# its aliases in its .modinfo as Kbuild writes them, and the indexes depmod
# builds from them.  A directory lib/modules/RUNNING is the running
# kernel's (uname -r).  Needs $tmp (a scratch directory) and a C compiler.
# shellcheck shell=sh

fake_kernels_setup() {
	echo 'int vh_fake_module;' > "$tmp/empty.c"
	${CC:-cc} -c "$tmp/empty.c" -o "$tmp/empty.o"
}

# fake_module PATH ALIAS...: an object whose modinfo lists the aliases
fake_module() {
	fm_out=$1
	shift
	[ $# -gt 0 ] || { cp "$tmp/empty.o" "$fm_out"; return; }
	fm_n=0
	for fm_a in "$@"; do
		fm_n=$((fm_n + 1))
		printf 'static const char a%d[] __attribute__((section(".modinfo"), used, aligned(1))) = "alias=%s";\n' \
			"$fm_n" "$fm_a"
	done > "$tmp/fake-module.c"
	${CC:-cc} -c "$tmp/fake-module.c" -o "$fm_out"
}

# fake_kernels ROOT: turn every fake-modules spec under ROOT into a kernel
fake_kernels() {
	[ ! -d "$1/lib/modules/RUNNING" ] || mv "$1/lib/modules/RUNNING" "$1/lib/modules/$(uname -r)"
	for spec in "$1"/lib/modules/*/fake-modules; do
		[ -f "$spec" ] || continue
		dir=${spec%/fake-modules}
		: > "$dir/modules.order"
		: > "$dir/modules.builtin"
		# (aliases hold '*': no globbing)
		set -f
		while read -r kind path aliases; do
			case $kind in
			module)	mkdir -p "$dir/${path%/*}"
				# shellcheck disable=SC2086
				fake_module "$dir/$path" $aliases || { set +f; return 1; }
				echo "$path" >> "$dir/modules.order" ;;
			builtin) echo "$path" >> "$dir/modules.builtin" ;;
			esac
		done < "$spec"
		set +f
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
