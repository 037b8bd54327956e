/* Shared by the unit tests: run one suite and turn it into an exit code. */
#pragma once
#include <check.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static inline int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

#include "fixture.h"
#include "pci-host.h"

/* A layout built in a temporary directory, and the host read from it. */
struct tree {
	struct fx *fx;
	struct sysfs *sfs;
	struct pci_host host;
};

static inline void tree_load(struct tree *t)
{
	ck_assert_int_eq(sysfs_open(fx_root(t->fx), &t->sfs), 0);
	ck_assert_int_eq(pci_host_load(t->sfs, &t->host), 0);
}

static inline void tree_open(struct tree *t, const char *layout)
{
	t->fx = fx_new(NULL);
	ck_assert_ptr_nonnull(t->fx);
	ck_assert_int_eq(fx_layout(t->fx, layout), 0);
	tree_load(t);
}

/* Read the host again through the same sysfs handle (and its backend). */
static inline void tree_reload(struct tree *t)
{
	pci_host_free(&t->host);
	ck_assert_int_eq(pci_host_load(t->sfs, &t->host), 0);
}

static inline void tree_close(struct tree *t)
{
	pci_host_free(&t->host);
	sysfs_close(t->sfs);
	fx_free(t->fx);
}

static inline struct pci_addr addr(const char *s)
{
	struct pci_addr a;

	ck_assert_msg(pci_addr_parse(s, &a) == 0, "bad address in test: %s", s);
	return a;
}

static inline const struct pci_func *func(const struct tree *t, const char *s)
{
	struct pci_addr a = addr(s);
	const struct pci_func *f = pci_host_find(&t->host, &a);

	ck_assert_msg(f != NULL, "%s not found", s);
	return f;
}

/* ROOT/etc/aleph-vm/supervisor.env with this text. */
static inline void write_supervisor_env(const char *root, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/etc", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/etc/aleph-vm", root);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/etc/aleph-vm/supervisor.env", root);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
}

/* The link <fn>/<name> pointing where it did, its text ending in '/'
 * ("../../bus/pci/drivers/igb/"): a link that names nothing. */
static inline void slash_link(struct tree *t, const char *fn, const char *name)
{
	char dir[4096], path[4200], text[4096];
	ssize_t n;

	ck_assert_int_eq(fx_func_path(t->fx, fn, dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	n = readlink(path, text, sizeof(text) - 2);
	ck_assert_int_gt(n, 0);
	text[n] = '/';
	text[n + 1] = '\0';
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(symlink(text, path), 0);
}
