#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include "kmod-dl.h"
#include "kmodules.h"
#include "util.h"

const char *kmodules_running_release(char *buf, size_t len)
{
	struct utsname u;

	if (uname(&u) < 0)
		snprintf(buf, len, "unknown");
	else
		snprintf(buf, len, "%s", u.release);
	return buf;
}

/* libkmod prints its own errors by default; ours say more. */
static void kmod_quiet(void *data, int priority, const char *file, int line,
		       const char *fn, const char *format, va_list args)
{
	(void)data; (void)priority; (void)file; (void)line; (void)fn; (void)format; (void)args;
}

int kmodules_vfio_pci(struct sysfs *sfs, const char *root, const char *kver,
		      enum vfio_avail *st, char *detail, size_t len)
{
	char rel[512], kbuf[256], path[4096];
	enum kmod_where where = KMOD_ABSENT;
	int err;

	if (sysfs_driver_registered(sfs, "vfio-pci")) {
		*st = VFIO_LOADED;
		snprintf(detail, len, "driver vfio-pci is registered");
		return 0;
	}
	if (!kver)
		kver = kmodules_running_release(kbuf, sizeof(kbuf));
	err = kmodules_lookup(root, kver, "vfio-pci", &where, path, sizeof(path));
	if (err == -ENOPKG) {
		snprintf(detail, len, "%s", kmod_dl_error());
		return err;
	}
	if (err == -ENAMETOOLONG)
		return err;
	/* no readable module index there: nothing to load vfio-pci from */
	switch (err < 0 ? KMOD_ABSENT : where) {
	case KMOD_FILE:
		*st = VFIO_MODULE;
		snprintf(detail, len, "%s", path);
		break;
	case KMOD_BUILTIN:
		*st = VFIO_BUILTIN;
		snprintf(detail, len, "built into %s", kver);
		break;
	case KMOD_ABSENT:
		*st = VFIO_MISSING;
		snprintf(rel, sizeof(rel), "/lib/modules/%s", kver);
		return root_path(root, rel, detail, len);
	}
	return 0;
}

int kmodules_load(const char *name)
{
	const struct kmod_dl *k = kmod_dl();
	struct kmod_ctx *ctx;
	struct kmod_list *list = NULL, *it;
	int err;

	if (!k)
		return -ENOPKG;
	ctx = k->kmod_new(NULL, NULL);
	if (!ctx)
		return -ENOMEM;
	k->kmod_set_log_fn(ctx, kmod_quiet, NULL);
	err = k->kmod_module_new_from_lookup(ctx, name, &list);
	if (err == 0 && !list)
		err = -ENOENT;
	for (it = list; it; it = k->kmod_list_next(list, it)) {
		struct kmod_module *mod = k->kmod_module_get_module(it);

		/* options from modprobe.d apply, as with modprobe */
		err = k->kmod_module_probe_insert_module(mod, KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY,
						      NULL, NULL, NULL, NULL);
		k->kmod_module_unref(mod);
		if (err >= 0)
			break;
	}
	k->kmod_module_unref_list(list);
	k->kmod_unref(ctx);
	return err < 0 ? err : 0;
}

int kmodules_lookup(const char *root, const char *kver, const char *name,
		    enum kmod_where *where, char *path, size_t len)
{
	const struct kmod_dl *k = kmod_dl();
	char rel[512], dir[4096], idx[4200];
	struct kmod_ctx *ctx;
	struct kmod_list *list = NULL;
	const char *file;
	int err;

	if (!k)
		return -ENOPKG;
	snprintf(rel, sizeof(rel), "/lib/modules/%s", kver);
	err = root_path(root, rel, dir, sizeof(dir));
	if (err)
		return err;
	/* libkmod finds nothing without the index: say so rather than "absent" */
	snprintf(idx, sizeof(idx), "%s/modules.dep.bin", dir);
	if (access(idx, R_OK) < 0)
		return -errno;
	ctx = k->kmod_new(dir, NULL);
	if (!ctx)
		return -ENOMEM;
	k->kmod_set_log_fn(ctx, kmod_quiet, NULL);
	*where = KMOD_ABSENT;
	if (path && len)
		path[0] = '\0';
	err = k->kmod_module_new_from_lookup(ctx, name, &list);
	if (err >= 0 && list) {
		struct kmod_module *mod = k->kmod_module_get_module(list);

		file = k->kmod_module_get_path(mod);
		*where = file ? KMOD_FILE : KMOD_BUILTIN;
		if (file && path)
			snprintf(path, len, "%s", file);
		k->kmod_module_unref(mod);
		k->kmod_module_unref_list(list);
	}
	k->kmod_unref(ctx);
	return 0;
}

void kmodules_free_list(char **list)
{
	for (size_t i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}

int kmodules_releases(const char *root, char ***list)
{
	char dir[4096];
	struct dirent **names;
	size_t k = 0;
	int n, err = root_path(root, "/lib/modules", dir, sizeof(dir));

	*list = NULL;
	if (err)
		return err;
	/* no ROOT/lib/modules: no kernel */
	n = scandir(dir, &names, NULL, versionsort);
	if (n < 0 && errno != ENOENT)
		return -errno;
	*list = calloc(n > 0 ? (size_t)n + 1 : 1, sizeof(**list));
	for (int i = 0; i < n; i++) {
		char sub[4400];
		struct stat st;

		snprintf(sub, sizeof(sub), "%s/%s", dir, names[i]->d_name);
		if (*list && names[i]->d_name[0] != '.' && stat(sub, &st) == 0 && S_ISDIR(st.st_mode) &&
		    !((*list)[k++] = strdup(names[i]->d_name))) {
			kmodules_free_list(*list);
			*list = NULL;
		}
		free(names[i]);
	}
	if (n >= 0)
		free(names);
	return *list ? 0 : -ENOMEM;
}

int kmodules_newest_release(const char *root, char *buf, size_t len)
{
	char **list;
	size_t n = 0;
	int err = kmodules_releases(root, &list);

	if (err)
		return err;
	while (list[n])
		n++;
	if (n)
		snprintf(buf, len, "%s", list[n - 1]);
	kmodules_free_list(list);
	return n ? 0 : -ENOENT;
}

bool kmodules_name_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (*a != *b && !((*a == '-' || *a == '_') && (*b == '-' || *b == '_')))
			return false;
	return *a == *b;
}
