#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include "kmod-dl.h"

#define KMOD_SONAME "libkmod.so.2"

static struct kmod_dl kmod_fns;
static char kmod_why[256];

const struct kmod_dl *kmod_dl(void)
{
	static int loaded;      /* 1: loaded, -1: failed, stays failed */
	void *h;

	if (loaded)
		return loaded > 0 ? &kmod_fns : (errno = ENOENT, NULL);
	loaded = -1;
	h = dlopen(KMOD_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(kmod_why, sizeof(kmod_why), "%s", dlerror());
		errno = ENOENT;
		return NULL;
	}
#define KMOD_DL_LOAD(sym)                                                        \
	if (!(kmod_fns.sym = (__typeof__(sym) *)dlsym(h, #sym))) {                  \
		snprintf(kmod_why, sizeof(kmod_why), "%s has no %s", KMOD_SONAME, #sym); \
		errno = ENOENT;                                                      \
		return NULL;                                                         \
	}
	KMOD_DL_SYMBOLS(KMOD_DL_LOAD)
#undef KMOD_DL_LOAD
	loaded = 1;
	return &kmod_fns;
}

const char *kmod_dl_error(void)
{
	return kmod_why[0] ? kmod_why : "libkmod was loaded";
}
