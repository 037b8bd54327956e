/* The trees of tree.h: decoded line by line, built with *at() calls below
 * one directory descriptor. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fuzz-util.h"
#include "tree.h"
#include "util.h"

#define MAX_FNS 64
#define MAX_ARGS 3
#define MAX_CHILD_DEPTH 8

/* Attributes a "fn" line may be given, by the name sysfs has for them. */
static const char *const fn_attrs[] = {
	"vendor", "device", "subsystem_vendor", "subsystem_device", "class", "revision",
	"modalias", "boot_vga", "driver_override", "reset_method", "reset",
	"max_link_speed", "current_link_speed", "max_link_width", "current_link_width",
};

struct fnrec {
	char *dir;              /* relative to sys/ */
	char *name;
};

struct builder {
	struct tree *t;
	struct fnrec fns[MAX_FNS];
	size_t nfns;
	char *driver;           /* the last driver's directory, relative to sys/ */
	char *child;            /* the last class device's directory, relative to sys/ */
	FILE *env, *mounts, *swaps, *conf;
	char *env_s, *mounts_s, *swaps_s, *conf_s;
	size_t env_n, mounts_n, swaps_n, conf_n;
};

struct arg {
	char *s;
	size_t len;
};

static int hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* [s, s + n) with its escapes undone, NUL-terminated (the length says
 * where a \x00 is part of it). */
static struct arg unescape(const char *s, size_t n)
{
	struct arg a = { malloc(n + 1), 0 };

	if (!a.s)
		abort();
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '\\' && i + 1 < n) {
			char e = s[++i];

			if (e == 'n')
				c = '\n';
			else if (e == 't')
				c = '\t';
			else if (e == 's')
				c = ' ';
			else if (e == 'x' && i + 2 < n && hexdigit(s[i + 1]) >= 0 && hexdigit(s[i + 2]) >= 0) {
				c = (char)(hexdigit(s[i + 1]) * 16 + hexdigit(s[i + 2]));
				i += 2;
			} else
				c = e;
		}
		a.s[a.len++] = c;
	}
	a.s[a.len] = '\0';
	return a;
}

/* A single path component that goes nowhere else. */
static bool name_ok(const struct arg *a)
{
	return a->len && a->len <= 255 && strlen(a->s) == a->len && !strchr(a->s, '/') &&
	       strcmp(a->s, ".") && strcmp(a->s, "..");
}

/* Components below a function's directory: no ".." and none of the links
 * made there, so that nothing is created through a link. */
static bool child_path_ok(const struct arg *a)
{
	static const char *const links[] = { "driver", "iommu_group", "subsystem", "module" };
	const char *p = a->s;
	int depth = 0;

	if (!a->len || strlen(a->s) != a->len || a->len > 512)
		return false;
	for (;;) {
		size_t n = strcspn(p, "/");

		if (!n || (n == 1 && p[0] == '.') || (n == 2 && !memcmp(p, "..", 2)) || n > 255 ||
		    ++depth > MAX_CHILD_DEPTH)
			return false;
		for (size_t i = 0; i < ARRAY_SIZE(links); i++)
			if (n == strlen(links[i]) && !memcmp(p, links[i], n))
				return false;
		if (!p[n])
			return true;
		p += n + 1;
	}
}

static char *sys_rel(const char *rel)
{
	char *s = xasprintf("sys/%s", rel);

	if (!s)
		abort();
	return s;
}

/* mkdir -p of rel below the scratch directory. */
static int mkdirs(int basefd, const char *rel)
{
	char *parent, *slash;
	int err;

	if (mkdirat(basefd, rel, 0755) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -errno;
	parent = strdup(rel);
	if (!parent)
		abort();
	slash = strrchr(parent, '/');
	err = -ENOENT;
	if (slash) {
		*slash = '\0';
		err = mkdirs(basefd, parent);
	}
	free(parent);
	if (!err && mkdirat(basefd, rel, 0755) < 0 && errno != EEXIST)
		err = -errno;
	return err;
}

static int sys_mkdirs(struct builder *b, const char *rel)
{
	char *p = sys_rel(rel);
	int err = mkdirs(b->t->basefd, p);

	free(p);
	return err;
}

/* The link at sys/link pointing at sys/target, relative as kernfs makes
 * them: as many "../" as the link's directory is deep, then the target. */
static int sys_link(struct builder *b, const char *link, const char *target)
{
	char *text, *p, *rel;
	size_t ups = 0;
	int err = 0;

	for (const char *s = link; *s; s++)
		ups += *s == '/';
	text = malloc(ups * 3 + strlen(target) + 1);
	if (!text)
		abort();
	p = text;
	for (size_t i = 0; i < ups; i++, p += 3)
		memcpy(p, "../", 3);
	strcpy(p, target);
	rel = sys_rel(link);
	if (symlinkat(text, b->t->basefd, rel) < 0)
		err = -errno;
	free(rel);
	free(text);
	return err;
}

static int sys_file(struct builder *b, const char *dir, const char *name, const struct arg *val)
{
	char *rel = xasprintf("sys/%s/%s", dir, name), *content;
	int err;

	if (!rel)
		abort();
	/* the kernel ends every attribute with a newline */
	content = malloc(val->len + 1);
	if (!content)
		abort();
	memcpy(content, val->s, val->len);
	content[val->len] = '\n';
	err = fuzz_write_at(b->t->basefd, rel, content, val->len + 1);
	free(content);
	free(rel);
	return err;
}

static struct fnrec *cur_fn(struct builder *b)
{
	return b->nfns ? &b->fns[b->nfns - 1] : NULL;
}

static void add_fn(struct builder *b, const struct arg *name, const struct arg *parent, bool plain)
{
	struct fnrec *f, *up = NULL;
	char *link;

	if (b->nfns == MAX_FNS || !name_ok(name))
		return;
	for (size_t i = 0; parent && i < b->nfns; i++)
		if (strcmp(b->fns[i].name, parent->s) == 0)
			up = &b->fns[i];
	f = &b->fns[b->nfns];
	if (plain)
		f->dir = xasprintf("bus/pci/devices/%s", name->s);
	else
		f->dir = xasprintf("%s/%s", up ? up->dir : "devices/pci0000:00", name->s);
	f->name = strdup(name->s);
	if (!f->dir || !f->name)
		abort();
	if (sys_mkdirs(b, f->dir) < 0) {
		free(f->dir);
		free(f->name);
		return;
	}
	b->nfns++;
	free(b->child);
	b->child = NULL;
	if (plain)
		return;
	link = xasprintf("bus/pci/devices/%s", name->s);
	if (!link)
		abort();
	sys_link(b, link, f->dir);
	free(link);
}

static void add_driver(struct builder *b, struct fnrec *f, const struct arg *name)
{
	char *dir, *link;

	if (!name_ok(name))
		return;
	dir = xasprintf("bus/pci/drivers/%s", name->s);
	link = xasprintf("%s/driver", f->dir);
	if (!dir || !link)
		abort();
	sys_mkdirs(b, dir);
	if (sys_link(b, link, dir) == 0) {
		free(b->driver);
		b->driver = dir;
		dir = NULL;
	}
	free(dir);
	free(link);
}

static void add_module(struct builder *b, const struct arg *name)
{
	char *link, *target;

	if (!b->driver || !name_ok(name))
		return;
	link = xasprintf("%s/module", b->driver);
	target = xasprintf("module/%s", name->s);
	if (!link || !target)
		abort();
	sys_mkdirs(b, target);
	sys_link(b, link, target);
	free(link);
	free(target);
}

/* The function's iommu_group link, and (full) the group's side of it. */
static void add_group(struct builder *b, struct fnrec *f, const struct arg *n, bool full)
{
	char *group, *link, *member;
	const char *p;

	/* grouplink may name a path below the group: never "..", never absolute */
	if (!n->len || strlen(n->s) != n->len || n->s[0] == '/' || n->len > 512)
		return;
	for (p = n->s; *p; p += strcspn(p, "/"), p += *p == '/')
		if (!strncmp(p, "..", 2) && (!p[2] || p[2] == '/'))
			return;
	if (full && !name_ok(n))
		return;
	group = xasprintf("kernel/iommu_groups/%s", n->s);
	link = xasprintf("%s/iommu_group", f->dir);
	member = xasprintf("%s/devices/%s", group ? group : "", f->name);
	if (!group || !link || !member)
		abort();
	sys_link(b, link, group);
	if (full) {
		char *devs = xasprintf("%s/devices", group);

		if (!devs)
			abort();
		sys_mkdirs(b, devs);
		sys_link(b, member, f->dir);
		free(devs);
	} else {
		/* the groups directory exists, or the IOMMU is off */
		sys_mkdirs(b, "kernel/iommu_groups");
	}
	free(group);
	free(link);
	free(member);
}

static void add_child(struct builder *b, struct fnrec *f, struct arg *args, int nargs)
{
	char *dir, *link, *target;

	if (nargs < 2 || !name_ok(&args[0]) || !child_path_ok(&args[1]))
		return;
	dir = xasprintf("%s/%s", f->dir, args[1].s);
	link = xasprintf("%s/subsystem", dir ? dir : "");
	target = xasprintf("class/%s", args[0].s);
	if (!dir || !link || !target)
		abort();
	if (sys_mkdirs(b, dir) == 0) {
		sys_mkdirs(b, target);
		sys_link(b, link, target);
		if (nargs > 2)
			sys_file(b, dir, "dev", &args[2]);
		free(b->child);
		b->child = dir;
		dir = NULL;
	}
	free(dir);
	free(link);
	free(target);
}

static void add_holder(struct builder *b, const struct arg *disk, const struct arg *name)
{
	char *dir;

	if (!name_ok(disk) || !name_ok(name))
		return;
	dir = xasprintf("class/block/%s/holders/%s", disk->s, name->s);
	if (!dir)
		abort();
	sys_mkdirs(b, dir);
	free(dir);
}

static void add_slot(struct builder *b, const struct arg *name, const struct arg *addr)
{
	char *dir;

	if (!name_ok(name))
		return;
	dir = xasprintf("bus/pci/slots/%s", name->s);
	if (!dir)
		abort();
	if (sys_mkdirs(b, dir) == 0)
		sys_file(b, dir, "address", addr);
	free(dir);
}

static void add_line(FILE *f, const struct arg *a)
{
	fwrite(a->s, 1, a->len, f);
	fputc('\n', f);
}

static void add_nvidia(struct builder *b, struct fnrec *f, const struct arg *line)
{
	char *dir = xasprintf("proc/driver/nvidia/gpus/%s", f->name), *rel;

	if (!dir)
		abort();
	rel = xasprintf("%s/information", dir);
	if (!rel)
		abort();
	if (mkdirs(b->t->basefd, dir) == 0) {
		/* one line is enough for the parser: later lines replace it */
		char *content = malloc(line->len + 1);

		if (!content)
			abort();
		memcpy(content, line->s, line->len);
		content[line->len] = '\n';
		fuzz_write_at(b->t->basefd, rel, content, line->len + 1);
		free(content);
		b->t->has_proc = true;
	}
	free(dir);
	free(rel);
}

/* Split the line after its keyword into at most max arguments, the last
 * one taking the rest of the line. */
static int split_args(const char *s, size_t n, struct arg *args, int max)
{
	int nargs = 0;

	while (n && nargs < max) {
		const char *sp = nargs == max - 1 ? NULL : memchr(s, ' ', n);
		size_t len = sp ? (size_t)(sp - s) : n;

		args[nargs++] = unescape(s, len);
		if (len == n)
			break;
		s += len + 1;
		n -= len + 1;
	}
	return nargs;
}

static int max_args(const char *kw)
{
	if (!strcmp(kw, "fn") || !strcmp(kw, "cattr") || !strcmp(kw, "holder") || !strcmp(kw, "slot"))
		return 2;
	if (!strcmp(kw, "child"))
		return 3;
	return 1;
}

static void do_line(struct builder *b, const char *kw, struct arg *args, int nargs)
{
	struct fnrec *f = cur_fn(b);

	if (!strcmp(kw, "refusals")) {
		b->t->refusals_only = true;
		return;
	}
	if (!strcmp(kw, "fn") || !strcmp(kw, "fndir")) {
		add_fn(b, &args[0], nargs > 1 ? &args[1] : NULL, kw[2] == 'd');
	} else if (!strcmp(kw, "env")) {
		add_line(b->env, &args[0]);
	} else if (!strcmp(kw, "conf")) {
		add_line(b->conf, &args[0]);
	} else if (!strcmp(kw, "mount")) {
		add_line(b->mounts, &args[0]);
	} else if (!strcmp(kw, "swap")) {
		add_line(b->swaps, &args[0]);
	} else if (!strcmp(kw, "sel")) {
		char **v = realloc(b->t->sels, (b->t->nsels + 1) * sizeof(*v));

		if (!v)
			abort();
		b->t->sels = v;
		v[b->t->nsels++] = strdup(args[0].s);
	} else if (!strcmp(kw, "loaded")) {
		if (name_ok(&args[0])) {
			char *dir = xasprintf("bus/pci/drivers/%s", args[0].s);

			if (!dir)
				abort();
			sys_mkdirs(b, dir);
			free(b->driver);
			b->driver = dir;
		}
	} else if (!strcmp(kw, "module")) {
		add_module(b, &args[0]);
	} else if (!strcmp(kw, "holder")) {
		if (nargs == 2)
			add_holder(b, &args[0], &args[1]);
	} else if (!strcmp(kw, "slot")) {
		if (nargs == 2)
			add_slot(b, &args[0], &args[1]);
	} else if (!f) {
		return;         /* the rest are facts of a function */
	} else if (!strcmp(kw, "driver")) {
		add_driver(b, f, &args[0]);
	} else if (!strcmp(kw, "group") || !strcmp(kw, "grouplink")) {
		add_group(b, f, &args[0], kw[5] == '\0');
	} else if (!strcmp(kw, "child")) {
		add_child(b, f, args, nargs);
	} else if (!strcmp(kw, "cattr")) {
		if (b->child && nargs == 2 && name_ok(&args[0]) && strcmp(args[0].s, "subsystem"))
			sys_file(b, b->child, args[0].s, &args[1]);
	} else if (!strcmp(kw, "nvidia")) {
		add_nvidia(b, f, &args[0]);
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(fn_attrs); i++)
			if (!strcmp(kw, fn_attrs[i]))
				sys_file(b, f->dir, kw, &args[0]);
	}
}

static FILE *memfile(char **s, size_t *n)
{
	FILE *f = open_memstream(s, n);

	if (!f)
		abort();
	return f;
}

/* Close a memory stream; write its text to rel when there is any. */
static void flush_file(struct tree *t, FILE *f, char **s, size_t *n, const char *dir,
		       const char *rel)
{
	fclose(f);
	if (*n && mkdirs(t->basefd, dir) == 0) {
		fuzz_write_at(t->basefd, rel, *s, *n);
		if (!strncmp(rel, "proc/", 5))
			t->has_proc = true;
	}
	free(*s);
	*s = NULL;
}

int tree_init(struct tree *t, const char *name)
{
	char *dir = fuzz_mkdir(name);

	memset(t, 0, sizeof(*t));
	t->basefd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->basefd < 0)
		return -errno;
	t->sys = xasprintf("%s/sys", dir);
	t->root = xasprintf("%s/root", dir);
	t->proc = xasprintf("%s/proc", dir);
	free(dir);
	return t->sys && t->root && t->proc ? 0 : -ENOMEM;
}

void tree_reset(struct tree *t)
{
	free(t->conf);
	t->conf = NULL;
	for (size_t i = 0; i < t->nsels; i++)
		free(t->sels[i]);
	free(t->sels);
	t->sels = NULL;
	t->nsels = 0;
	t->has_proc = false;
	t->refusals_only = false;
}

int tree_build(struct tree *t, const char *text, size_t len)
{
	struct builder b = { .t = t };
	int err;

	tree_reset(t);
	err = fuzz_empty_dir(t->basefd);
	if (err)
		return err;
	/* the skeleton every kernel has; the rest comes from the text */
	if (mkdirs(t->basefd, "sys/bus/pci/devices") || mkdirs(t->basefd, "sys/devices/pci0000:00") ||
	    mkdirs(t->basefd, "root"))
		return -EIO;
	b.env = memfile(&b.env_s, &b.env_n);
	b.mounts = memfile(&b.mounts_s, &b.mounts_n);
	b.swaps = memfile(&b.swaps_s, &b.swaps_n);
	b.conf = memfile(&b.conf_s, &b.conf_n);
	while (len) {
		const char *nl = memchr(text, '\n', len);
		size_t n = nl ? (size_t)(nl - text) : len, kwlen = 0;
		struct arg args[MAX_ARGS];
		char kw[16];
		int nargs = 0;

		while (kwlen < n && text[kwlen] != ' ')
			kwlen++;
		if (kwlen < sizeof(kw) && !memchr(text, '\0', n)) {
			memcpy(kw, text, kwlen);
			kw[kwlen] = '\0';
			if (kwlen < n)
				nargs = split_args(text + kwlen + 1, n - kwlen - 1, args, max_args(kw));
			if (!nargs)
				args[nargs++] = unescape("", 0);    /* an empty value */
			do_line(&b, kw, args, nargs);
			for (int i = 0; i < nargs; i++)
				free(args[i].s);
		}
		text += n + (nl != NULL);
		len -= n + (nl != NULL);
	}
	flush_file(t, b.env, &b.env_s, &b.env_n, "root/etc/aleph-vm", "root/etc/aleph-vm/supervisor.env");
	flush_file(t, b.mounts, &b.mounts_s, &b.mounts_n, "proc/self", "proc/self/mountinfo");
	flush_file(t, b.swaps, &b.swaps_s, &b.swaps_n, "proc", "proc/swaps");
	fclose(b.conf);
	t->conf = b.conf_s;
	for (size_t i = 0; i < b.nfns; i++) {
		free(b.fns[i].dir);
		free(b.fns[i].name);
	}
	free(b.driver);
	free(b.child);
	return 0;
}

int tree_write(struct tree *t, const char *rel, const void *content, size_t len)
{
	return fuzz_write_at(t->basefd, rel, content, len);
}
