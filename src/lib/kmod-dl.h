/* libkmod, loaded on first use.  Debian's libkmod pulls in libcrypto, zstd
 * and lzma: linking it would make every run pay for relocating them, while
 * only loading vfio-pci and resolving module names need it. */
#pragma once
#include <libkmod.h>

#define KMOD_DL_SYMBOLS(X) \
	X(kmod_new) X(kmod_unref) X(kmod_set_log_fn) X(kmod_list_next) \
	X(kmod_module_new_from_lookup) X(kmod_module_new_from_name) \
	X(kmod_module_get_module) X(kmod_module_get_path) X(kmod_module_get_name) \
	X(kmod_module_unref) X(kmod_module_unref_list) \
	X(kmod_module_probe_insert_module) \
	X(kmod_module_get_info) X(kmod_module_info_get_key) X(kmod_module_info_get_value) \
	X(kmod_module_info_free_list)

struct kmod_dl {
#define KMOD_DL_FIELD(sym) __typeof__(sym) *sym;
	KMOD_DL_SYMBOLS(KMOD_DL_FIELD)
#undef KMOD_DL_FIELD
};

/* The library's functions, or NULL when it cannot be loaded (errno set;
 * kmod_dl_error() says why, for the message). */
const struct kmod_dl *kmod_dl(void);
const char *kmod_dl_error(void);
