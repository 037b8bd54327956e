#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include "kmod-dl.h"
#include "kmodules.h"
#include "root-path.h"
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

	/* registered now says something of the running kernel only */
	if (!kver && sysfs_driver_registered(sfs, "vfio-pci")) {
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
		return root_show_path(root, rel, detail, len);
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
	/* every module the name or alias resolves to, as modprobe inserts
	 * them (a modalias may name several): done when one of them is in */
	for (it = list; it; it = k->kmod_list_next(list, it)) {
		struct kmod_module *mod = k->kmod_module_get_module(it);
		/* options from modprobe.d apply, as with modprobe */
		int r = k->kmod_module_probe_insert_module(mod, KMOD_PROBE_APPLY_BLACKLIST_ALIAS_ONLY,
							NULL, NULL, NULL, NULL);

		k->kmod_module_unref(mod);
		if (it == list || err < 0)
			err = r;
	}
	k->kmod_module_unref_list(list);
	k->kmod_unref(ctx);
	return err < 0 ? err : 0;
}

/* ROOT/lib/modules/KVER as libkmod is to open it: it takes a directory
 * path and opens the indexes below it itself.  Under --root the directory
 * is resolved inside the root first, and libkmod given /proc/self/fd/N of
 * it, so that a link on the way (ROOT/lib -> /usr/lib, absolute) cannot
 * lead it to the host's modules.  *dfd: that directory, open while libkmod
 * reads it.  shown: the path for messages. */
static int modules_dir(const char *root, const char *kver, int *dfd, char *dir, size_t dlen,
		       char *shown, size_t slen)
{
	char rel[512];
	int rootfd, fd, err;

	*dfd = -1;
	if (snprintf(rel, sizeof(rel), "/lib/modules/%s/modules.dep.bin", kver) >= (int)sizeof(rel))
		return -ENAMETOOLONG;
	rootfd = root_dir_open(root);
	if (rootfd < 0)
		return rootfd;
	/* libkmod finds nothing without the index: say so rather than "absent" */
	fd = root_open(rootfd, rel, O_RDONLY | O_NONBLOCK, 0);
	*strrchr(rel, '/') = '\0';
	if (fd >= 0) {
		close(fd);
		fd = root_open(rootfd, rel, O_PATH | O_DIRECTORY, 0);
	}
	close(rootfd);
	if (fd < 0)
		return fd;
	err = root_show_path(root, rel, shown, slen);
	if (!err && root_is_host(root))
		err = snprintf(dir, dlen, "%s", rel) >= (int)dlen ? -ENAMETOOLONG : 0;
	else if (!err)
		err = snprintf(dir, dlen, "/proc/self/fd/%d", fd) >= (int)dlen ? -ENAMETOOLONG : 0;
	if (!err && access(dir, X_OK) < 0)
		err = -errno;           /* no /proc to reach it through */
	if (err) {
		close(fd);
		return err;
	}
	*dfd = fd;
	return 0;
}

int kmodules_index_open(const char *root, const char *kver, struct kmodules_index *ix)
{
	const struct kmod_dl *k = kmod_dl();
	char dir[64 + 512];
	int err;

	ix->ctx = NULL;
	ix->dfd = -1;
	if (!k)
		return -ENOPKG;
	err = modules_dir(root, kver, &ix->dfd, dir, sizeof(dir), ix->shown, sizeof(ix->shown));
	if (err)
		return err;
	ix->ctx = k->kmod_new(dir, NULL);
	if (!ix->ctx) {
		close(ix->dfd);
		ix->dfd = -1;
		return -ENOMEM;
	}
	k->kmod_set_log_fn(ix->ctx, kmod_quiet, NULL);
	return 0;
}

void kmodules_index_close(struct kmodules_index *ix)
{
	if (ix->ctx)
		kmod_dl()->kmod_unref(ix->ctx);
	if (ix->dfd >= 0)
		close(ix->dfd);
	ix->ctx = NULL;
	ix->dfd = -1;
}

int kmodules_lookup(const char *root, const char *kver, const char *name,
		    enum kmod_where *where, char *path, size_t len)
{
	const struct kmod_dl *k = kmod_dl();
	char dir[64 + 512], shown[4096];
	struct kmod_ctx *ctx;
	struct kmod_list *list = NULL;
	const char *file;
	int dfd, err;

	if (!k)
		return -ENOPKG;
	err = modules_dir(root, kver, &dfd, dir, sizeof(dir), shown, sizeof(shown));
	if (err)
		return err;
	ctx = k->kmod_new(dir, NULL);
	if (!ctx) {
		close(dfd);
		return -ENOMEM;
	}
	k->kmod_set_log_fn(ctx, kmod_quiet, NULL);
	*where = KMOD_ABSENT;
	if (path && len)
		path[0] = '\0';
	err = k->kmod_module_new_from_lookup(ctx, name, &list);
	if (err >= 0 && list) {
		struct kmod_module *mod = k->kmod_module_get_module(list);
		size_t n = strlen(dir);

		file = k->kmod_module_get_path(mod);
		*where = file ? KMOD_FILE : KMOD_BUILTIN;
		/* the module's path as the user knows it, not through /proc */
		if (file && path)
			snprintf(path, len, "%s%s", strncmp(file, dir, n) ? "" : shown,
				 strncmp(file, dir, n) ? file : file + n);
		k->kmod_module_unref(mod);
		k->kmod_module_unref_list(list);
	}
	k->kmod_unref(ctx);
	close(dfd);
	return 0;
}

void kmodules_free_list(char **list)
{
	for (size_t i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}

static int cmp_release(const void *a, const void *b)
{
	return strverscmp(*(char *const *)a, *(char *const *)b);
}

/* Append a copy of name to the NULL-terminated *list of *n names. */
static int list_add(char ***list, size_t *n, const char *name)
{
	char **v = realloc(*list, (*n + 2) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	*list = v;
	v[*n] = strdup(name);
	if (!v[*n])
		return -ENOMEM;
	v[++*n] = NULL;
	return 0;
}

int kmodules_releases(const char *root, char ***list)
{
	const struct dirent64 *de;
	struct dir_iter it;
	char sub[300];
	size_t n = 0;
	int rootfd, dfd, err = 0;

	*list = calloc(1, sizeof(**list));
	if (!*list)
		return -ENOMEM;
	rootfd = root_dir_open(root);
	if (rootfd < 0) {
		err = rootfd;
		goto out;
	}
	dfd = root_open(rootfd, "/lib/modules", O_RDONLY | O_DIRECTORY, 0);
	if (dfd < 0) {
		/* no ROOT/lib/modules: no kernel */
		err = dfd == -ENOENT ? 0 : dfd;
		goto out;
	}
	dir_iter_init(&it, dfd);
	errno = 0;
	while (!err && (de = dir_iter_next(&it))) {
		int fd;

		if (de->d_name[0] == '.')
			continue;
		/* a directory, or a link to one inside the root */
		snprintf(sub, sizeof(sub), "/lib/modules/%s", de->d_name);
		fd = root_open(rootfd, sub, O_PATH | O_DIRECTORY, 0);
		if (fd < 0)
			continue;
		close(fd);
		err = list_add(list, &n, de->d_name);
	}
	if (!err && errno)
		err = -errno;
	close(dfd);
	qsort(*list, n, sizeof(**list), cmp_release);
out:
	if (rootfd >= 0)
		close(rootfd);
	if (err) {
		kmodules_free_list(*list);
		*list = NULL;
	}
	return err;
}

int kmodules_newest_release(const char *root, char *buf, size_t len)
{
	char **rel;
	size_t n = 0;
	int err = kmodules_releases(root, &rel);

	if (err)
		return err;
	while (rel[n])
		n++;
	/* (kmodules_releases sorts them by version) */
	if (!n)
		err = -ENOENT;
	else if (snprintf(buf, len, "%s", rel[n - 1]) >= (int)len)
		err = -ENAMETOOLONG;
	kmodules_free_list(rel);
	return err;
}

bool kmodules_name_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (*a != *b && !((*a == '-' || *a == '_') && (*b == '-' || *b == '_')))
			return false;
	return *a == *b;
}
