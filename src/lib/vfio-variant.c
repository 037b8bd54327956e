#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include "kmod-dl.h"
#include "util.h"
#include "vfio-variant.h"

#define ALIAS_PREFIX "vfio_pci:"

bool vfio_pick_variant(const struct vfio_pick *p)
{
	return !kmodules_name_eq(p->module, VFIO_PCI_MODULE);
}

static int count_wildcards(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '*';
	return n;
}

/* "vfio_" + modalias: what the vfio_pci: aliases are matched against. */
static int want_of(const char *modalias, char *buf, size_t len)
{
	if (strncmp(modalias, "pci:v", 5) != 0)
		return -EINVAL;
	return snprintf(buf, len, "vfio_%s", modalias) >= (int)len ? -ENAMETOOLONG : 0;
}

/* The module's vfio_pci: alias that matches want with the fewest wildcards
 * (into alias), and their number; -1 when none matches.  all (may be
 * NULL): every vfio_pci: alias of it, joined by ", ". */
static int best_alias(struct kmod_module *mod, const char *want, char *alias, size_t len,
		      char *all, size_t alen)
{
	const struct kmod_dl *k = kmod_dl();
	struct kmod_list *info = NULL, *it;
	int best = -1;

	alias[0] = '\0';
	if (all && alen)
		all[0] = '\0';
	if (k->kmod_module_get_info(mod, &info) < 0)
		return -1;
	for (it = info; it; it = k->kmod_list_next(info, it)) {
		const char *key = k->kmod_module_info_get_key(it);
		const char *val = k->kmod_module_info_get_value(it);
		int w;

		if (!key || !val || strcmp(key, "alias") || strncmp(val, ALIAS_PREFIX, strlen(ALIAS_PREFIX)))
			continue;
		if (all && alen && strlen(all) + strlen(val) + 3 < alen)
			snprintf(all + strlen(all), alen - strlen(all), "%s%s", all[0] ? ", " : "", val);
		if (fnmatch(val, want, 0) != 0)
			continue;
		w = count_wildcards(val);
		if (best < 0 || w < best) {
			best = w;
			snprintf(alias, len, "%s", val);
		}
	}
	k->kmod_module_info_free_list(info);
	return best;
}

/* Does a (wildcards, module) come before the pick so far? */
static bool better(int w, const char *module, const struct vfio_pick *p)
{
	bool variant = !kmodules_name_eq(module, VFIO_PCI_MODULE);

	if (!p->module[0] || w != p->wildcards)
		return !p->module[0] || w < p->wildcards;
	if (variant != vfio_pick_variant(p))
		return !variant;
	return strcmp(module, p->module) < 0;
}

int vfio_variant_auto(struct kmodules_index *ix, const char *modalias, struct vfio_pick *p)
{
	const struct kmod_dl *k = kmod_dl();
	struct kmod_list *list = NULL, *it;
	char want[256], alias[256];
	int err = want_of(modalias, want, sizeof(want));

	memset(p, 0, sizeof(*p));
	if (err)
		return err;
	err = k->kmod_module_new_from_lookup(ix->ctx, want, &list);
	if (err < 0)
		return err;
	for (it = list; it; it = k->kmod_list_next(list, it)) {
		struct kmod_module *mod = k->kmod_module_get_module(it);
		const char *name = k->kmod_module_get_name(mod);
		/* the index says it matches; its aliases unread: the least specific */
		int w = best_alias(mod, want, alias, sizeof(alias), NULL, 0);

		if (w < 0)
			w = INT_MAX;
		if (name && strlen(name) < sizeof(p->module) && better(w, name, p)) {
			snprintf(p->module, sizeof(p->module), "%s", name);
			snprintf(p->alias, sizeof(p->alias), "%s", alias);
			p->wildcards = w;
		}
		k->kmod_module_unref(mod);
	}
	k->kmod_module_unref_list(list);
	return p->module[0] ? 0 : -ENOENT;
}

int vfio_variant_named(struct kmodules_index *ix, const char *name, const char *modalias,
		       struct vfio_pick *p, char *aliases, size_t len)
{
	const struct kmod_dl *k = kmod_dl();
	struct kmod_list *list = NULL;
	struct kmod_module *mod;
	const char *modname;
	char want[256];
	int err = want_of(modalias, want, sizeof(want));

	memset(p, 0, sizeof(*p));
	if (len)
		aliases[0] = '\0';
	if (err)
		return err;
	/* a module's name, '-' and '_' alike, or an alias of one */
	err = k->kmod_module_new_from_lookup(ix->ctx, name, &list);
	if (err < 0)
		return err;
	if (!list)
		return -ENOENT;
	mod = k->kmod_module_get_module(list);
	modname = k->kmod_module_get_name(mod);
	snprintf(p->module, sizeof(p->module), "%s", modname ? modname : name);
	p->wildcards = best_alias(mod, want, p->alias, sizeof(p->alias), aliases, len);
	k->kmod_module_unref(mod);
	k->kmod_module_unref_list(list);
	return p->wildcards < 0 ? -EDOM : 0;
}

/* Linux 6.9 added nvgrace_gpu_vfio_pci with the GH200's ids; the Blackwell
 * superchips' came with later kernels. */
/* nvgrace-gpu-vfio-pci depends on ARM64 (drivers/vfio/pci/nvgrace-gpu/Kconfig) */
#define GH200_KERNEL "Linux 6.9 or later for arm64, built with CONFIG_NVGRACE_GPU_VFIO_PCI"
#define GB_KERNEL "Linux for arm64 whose nvgrace_gpu_vfio_pci lists this device, built with " \
	"CONFIG_NVGRACE_GPU_VFIO_PCI"
static const struct vfio_known_variant known[] = {
	{ 0x10de, 0x2342, "nvgrace_gpu_vfio_pci", "GH200 (Grace Hopper)", "6.9", GH200_KERNEL },
	{ 0x10de, 0x2345, "nvgrace_gpu_vfio_pci", "GH200 (Grace Hopper)", "6.9", GH200_KERNEL },
	{ 0x10de, 0x2348, "nvgrace_gpu_vfio_pci", "GH200 (Grace Hopper)", "6.9", GH200_KERNEL },
	{ 0x10de, 0x2941, "nvgrace_gpu_vfio_pci", "GB200 (Grace Blackwell)", NULL, GB_KERNEL },
	{ 0x10de, 0x31c2, "nvgrace_gpu_vfio_pci", "GB300 (Grace Blackwell Ultra)", NULL, GB_KERNEL },
};

const struct vfio_known_variant *vfio_known_variant(unsigned vendor, unsigned device)
{
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (known[i].vendor == vendor && known[i].device == device)
			return &known[i];
	return NULL;
}
