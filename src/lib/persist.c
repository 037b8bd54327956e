/* The boot configuration on disk: every change planned and checked before
 * the first write, written all or nothing under --root, read back, and
 * removed exactly (the files' formats are in persist-render.c,
 * devices-conf.c and managed-block.c). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "atomic-file.h"
#include "leftovers.h"
#include "persist-text.h"
#include "root-path.h"
#include "util.h"

/* Every directory persist may create, parents first: devices.conf names
 * those it did create, so that unpersist removes them and no other. */
static const char *const known_dirs[] = {
	"/etc", "/etc/dracut.conf.d", "/etc/initramfs-tools", "/etc/modprobe.d",
	"/etc/modules-load.d", "/etc/udev", "/etc/udev/rules.d", "/etc/vfio-handover",
};
#define NDIRS ARRAY_SIZE(known_dirs)

/* ---- files ---- */

/* A whole regular file at rel inside the root, *text NULL when there is
 * none.  A symlink at rel is refused with -ELOOP unless follow (then it
 * is followed inside the root). */
static int read_text(int rootfd, const char *rel, bool follow, char **text, struct stat *st)
{
	size_t len;
	int err = root_read_file(rootfd, rel, follow ? 0 : O_NOFOLLOW, MAX_TEXT, text, &len, st);

	if (err)
		return err == -ENOENT ? 0 : err;
	/* not text: a C string could not give it back byte for byte */
	if (memchr(*text, '\0', len)) {
		free(*text);
		*text = NULL;
		return -EBADMSG;
	}
	return 0;
}

/* The name itself: a symlink planted there is removed, not followed. */
static int remove_file(int rootfd, const char *rel)
{
	int err = root_unlink(rootfd, rel);

	return err == -ENOENT ? 0 : err;
}

static bool is_ours(const char *text)
{
	return !strncmp(text, PERSIST_HEADER, strlen(PERSIST_HEADER));
}

/* ---- a plan: every change computed and checked before the first write ---- */

/* The file the last failure was about, and the line in the way, for the message. */
static char last_path[PATH_MAX];
static struct persist_problem last_problem;

const char *persist_last_path(void)
{
	return last_path;
}

const struct persist_problem *persist_last_problem(void)
{
	return &last_problem;
}

struct op {
	char rel[PATH_MAX];     /* path under the root */
	char path[PATH_MAX];
	char *old, *new;        /* contents before and after; NULL: no file */
	struct stat st;         /* of the old file */
	bool done;
};

struct plan {
	const char *root;
	int rootfd;                /* every path is resolved inside it */
	struct op *op;
	size_t nop, cap;
	unsigned mkdirs, made;     /* bits of known_dirs: to create, created */
	unsigned rmdirs, gone;     /* to remove when empty, removed */
};

/* For messages and the lists of files: ROOT/etc/... */
static int dir_path(const struct plan *p, size_t i, char *buf, size_t len)
{
	return root_show_path(p->root, known_dirs[i], buf, len);
}

/* A directory there, or a link to one inside the root? */
static int is_dir(const struct plan *p, const char *rel)
{
	struct stat st;
	int fd = root_open(p->rootfd, rel, O_PATH, 0), err = 0;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		err = -errno;
	close(fd);
	return err ? err : S_ISDIR(st.st_mode);
}

static int plan_open(struct plan *p, const char *root)
{
	memset(p, 0, sizeof(*p));
	p->root = root;
	p->rootfd = root_dir_open(root);
	if (p->rootfd < 0)
		snprintf(last_path, sizeof(last_path), "%s", root ? root : "/");
	return p->rootfd < 0 ? p->rootfd : 0;
}

/* The op of the file at rel, NULL if there is none yet. */
static struct op *plan_find(struct plan *p, const char *rel)
{
	for (size_t i = 0; i < p->nop; i++)
		if (!strcmp(p->op[i].rel, rel))
			return &p->op[i];
	return NULL;
}

/* Read the file at rel into a new op: *op is the new one, also on an
 * error (then its rel and path say which file). */
static int plan_add(struct plan *p, const char *rel, struct op **op)
{
	struct op *o;
	int err;

	if (p->nop == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 8;
		struct op *v = realloc(p->op, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->op = v;
		p->cap = cap;
	}
	o = *op = &p->op[p->nop];
	memset(o, 0, sizeof(*o));
	if (strlen(rel) >= sizeof(o->rel))
		return -ENAMETOOLONG;
	strcpy(o->rel, rel);
	err = root_show_path(p->root, rel, o->path, sizeof(o->path));
	snprintf(last_path, sizeof(last_path), "%s", o->path);
	if (!err)
		err = read_text(p->rootfd, rel, false, &o->old, &o->st);
	if (err == -EBADMSG)
		problem_set(&last_problem, 0, "it holds a NUL byte: it is not text vfio-handover can "
			    "edit; remove the NUL bytes");
	if (err == -EFBIG)
		problem_set(&last_problem, 0, "it is larger than 1 MiB: not a file vfio-handover edits; "
			    "move it away");
	if (err)
		return err;
	p->nop++;
	return 0;
}

static void plan_drop_last(struct plan *p)
{
	struct op *o = &p->op[--p->nop];

	free(o->old);
	free(o->new);
}

static void plan_free(struct plan *p)
{
	while (p->nop)
		plan_drop_last(p);
	free(p->op);
	p->op = NULL;
	if (p->rootfd >= 0)
		close(p->rootfd);
	p->rootfd = -1;
}

/* A file the tool owns whole, *content taken. */
static int add_owned(struct plan *p, const char *rel, char **content)
{
	struct op *o;
	int err = plan_add(p, rel, &o);

	if (err)
		return err;
	/* the user's own file at our path: not ours to replace */
	if (o->old && !is_ours(o->old))
		return -EEXIST;
	o->new = *content;
	*content = NULL;
	return 0;
}

/* A check of the text persist made itself failed: not the user's to fix. */
static int our_fault(int err)
{
	size_t len = strlen(last_problem.what);

	if (err == -EBADMSG)
		snprintf(last_problem.what + len, sizeof(last_problem.what) - len,
			 ": a bug of vfio-handover, please report it");
	return err;
}

/* Before a file shared with the user is written: unpersist must be able
 * to cut the block back out exactly.  The user's text in the way is named
 * by its line (block_set refused it already); the new text is ours. */
static int check_shared(const struct op *o)
{
	int err = persist_check_managed(o->old, o->new, &last_problem);

	return err == -EBADMSG && !last_problem.line ? our_fault(err) : err;
}

/* The text of o's file with the lines of t->takeout in it taken out
 * (migrate): *out malloc'ed, NULL when the file has none of them. */
static int taken_out(const struct persist_target *t, const struct op *o, char **out)
{
	bool any = false;
	int err;

	*out = NULL;
	for (size_t i = 0; i < t->ntakeout && !any; i++)
		any = !strcmp(t->takeout[i].file, o->rel);
	if (!any)
		return 0;
	if (!o->old)
		return -EINVAL;
	err = leftovers_take_out(o->old, o->rel, t->takeout, t->ntakeout, out);
	/* the file changed since its lines were read: nothing is written */
	if (err == -EINVAL)
		problem_set(&last_problem, 0, "it changed since vfio-handover read it; run this again");
	return err == -EINVAL ? -EBADMSG : err;
}

static int add_block(struct plan *p, const struct persist_target *t, const char *rel,
		     const char *body)
{
	char *base = NULL, *old;
	struct op *o;
	int err = plan_add(p, rel, &o);

	if (!err)
		err = taken_out(t, o, &base);
	/* the block goes into the file as migrate leaves it: what unpersist
	 * cuts it out of, before it puts the lines back */
	if (!err && base) {
		old = o->old;
		o->old = base;
		err = block_set(base, body, false, &o->new, &last_problem);
		if (!err)
			err = check_shared(o);
		o->old = old;
		free(base);
		return err;
	}
	if (!err)
		err = block_set(o->old ? o->old : "", body, !o->old, &o->new, &last_problem);
	if (!err)
		err = check_shared(o);
	return err;
}

/* The other files whose lines migrate takes out, each once. */
static int add_takeouts(struct plan *p, const struct persist_target *t)
{
	int err = 0;

	for (size_t i = 0; i < t->ntakeout && !err; i++) {
		struct op *o;

		if (t->takeout[i].cmdline || plan_find(p, t->takeout[i].file))
			continue;
		err = plan_add(p, t->takeout[i].file, &o);
		if (!err && !o->old)
			err = -ENOENT;
		if (!err)
			err = taken_out(t, o, &o->new);
	}
	return err;
}

/* supervisor.env: only on a node that has one, and only if not already True. */
static int add_env(struct plan *p)
{
	struct block b;
	struct op *o;
	int err = plan_add(p, PERSIST_SUPERVISOR_ENV, &o);

	if (err || !o->old) {
		if (!err)
			plan_drop_last(p);
		return err;
	}
	err = persist_set_env(o->old, "ALEPH_VM_ENABLE_GPU_SUPPORT", "True", &o->new, &last_problem);
	if (err)
		return err;
	/* already True in the user's own lines */
	if (block_find(o->new, &b) == 0) {
		plan_drop_last(p);
		return 0;
	}
	return check_shared(o);
}

/* Is known_dirs[d] missing (and to be made)?  A link there is followed
 * inside the root; one that leads nowhere is refused (-ENOTDIR): what
 * persist would make through it, unpersist could not find again. */
static int dir_missing(struct plan *p, size_t d)
{
	const char *name;
	struct stat st;
	int err = is_dir(p, known_dirs[d]), dfd;

	if (err != -ENOENT)
		return err < 0 ? err : err ? 0 : -ENOTDIR;
	dfd = root_open_parent(p->rootfd, known_dirs[d], &name);
	if (dfd >= 0) {
		err = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? -ENOTDIR : 1;
		close(dfd);
		return err;
	}
	/* its parent is missing too: made first, it is in known_dirs */
	return dfd == -ENOENT ? 1 : dfd;
}

/* The directories missing above every file to write. */
static int plan_dirs(struct plan *p)
{
	for (size_t i = 0; i < p->nop; i++) {
		if (!p->op[i].new)
			continue;
		for (size_t d = 0; d < NDIRS; d++) {
			size_t k = strlen(known_dirs[d]);
			int missing;

			if (strncmp(p->op[i].rel, known_dirs[d], k) || p->op[i].rel[k] != '/')
				continue;
			missing = dir_missing(p, d);
			if (missing < 0) {
				dir_path(p, d, last_path, sizeof(last_path));
				return missing;
			}
			if (missing)
				p->mkdirs |= 1u << d;
		}
	}
	return 0;
}

/* The directories a devices.conf says persist created. */
static unsigned read_created(const char *text)
{
	size_t pos = 0, s, e, k = strlen(CREATED_DIR);
	unsigned mask = 0;

	while (text_next_line(text, &pos, &s, &e)) {
		if (e - s <= k || memcmp(text + s, CREATED_DIR, k))
			continue;
		while (e > s + k && isspace((unsigned char)text[e - 1]))
			e--;
		for (size_t d = 0; d < NDIRS; d++)
			if (e - s - k == strlen(known_dirs[d]) &&
			    !memcmp(text + s + k, known_dirs[d], e - s - k))
				mask |= 1u << d;
	}
	return mask;
}

/* devices.conf, and the directories created this time or by an earlier
 * persist (those still there), so that persisting twice changes nothing. */
static int finish_devices(struct plan *p, struct op *o)
{
	unsigned mask = p->mkdirs, before = o->old ? read_created(o->old) : 0;
	struct text x;

	for (size_t d = 0; d < NDIRS; d++)
		if (before & 1u << d && is_dir(p, known_dirs[d]) == 1)
			mask |= 1u << d;
	if (text_open(&x))
		return -ENOMEM;
	fputs(o->new, x.f);
	for (size_t d = 0; d < NDIRS; d++)
		if (mask & 1u << d)
			fprintf(x.f, CREATED_DIR "%s\n", known_dirs[d]);
	free(o->new);
	o->new = NULL;
	return text_close(&x, 0, &o->new);
}

/* devices.conf as it will be written reads back to the functions given:
 * what apply will hand over at boot. */
static int check_devices(const struct op *o, const struct persist_fn *fns, size_t n)
{
	struct persist_problem why;
	int err = persist_check_devices_conf(o->new, fns, n, &why);

	if (err == -EBADMSG) {
		snprintf(last_path, sizeof(last_path), "%s", o->path);
		problem_set(&last_problem, 0, "the text persist rendered would not read back "
			    "(its line %u: %.400s)", why.line, why.what);
		our_fault(err);
	}
	return err;
}

static int plan_write(struct plan *p, const struct persist_target *t, const struct persist_fn *fns,
		      size_t n)
{
	char *dev = NULL, *mp = NULL, *ml = NULL, *rd = NULL, *rule = NULL;
	int err;

	/* migrate with no GPU to persist: its lines alone */
	if (!n)
		return add_takeouts(p, t);
	err = persist_render_devices_conf(fns, n, &dev);
	if (!err)
		err = persist_render_udev_rule(fns, n, &rule);
	if (!err)
		err = persist_render_modprobe(t, fns, n, &mp);
	if (!err)
		err = persist_render_modules_load(t, &ml);
	if (!err)
		err = t->dracut ? persist_render_dracut(t, &rd) :
				  persist_render_initramfs_block(t, &rd);
	if (!err)
		err = add_owned(p, PERSIST_DEVICES_CONF, &dev);
	if (!err)
		err = add_owned(p, PERSIST_MODPROBE_CONF, &mp);
	if (!err)
		err = add_owned(p, PERSIST_MODULES_LOAD_CONF, &ml);
	if (!err)
		err = t->dracut ? add_owned(p, PERSIST_DRACUT_CONF, &rd) :
				  add_block(p, t, PERSIST_INITRAMFS_MODULES, rd);
				  	if (!err)
		err = add_owned(p, PERSIST_UDEV_RULE, &rule);
	if (!err && t->aleph)
		err = add_env(p);
	if (!err)
		err = add_takeouts(p, t);
	if (!err)
		err = plan_dirs(p);
	if (!err)
		err = finish_devices(p, &p->op[0]);
	if (!err)
		err = check_devices(&p->op[0], fns, n);
	free(dev);
	free(mp);
	free(ml);
	free(rd);
	free(rule);
	return err;
}

/* A symlink at rel: refused only if it leads to something of ours, which
 * persist_remove would then have to write through. */
static int remove_check_link(const struct plan *p, const struct op *o, bool owned)
{
	struct block b;
	struct stat st;
	char *text;
	bool ours;

	if (read_text(p->rootfd, o->rel, true, &text, &st) < 0 || !text)
		return 0;
	ours = owned ? is_ours(text) : block_find(text, &b) != 0;
	free(text);
	return ours ? -ELOOP : 0;
}

static int remove_one(struct plan *p, const char *rel, bool owned)
{
	struct op *o = NULL;
	bool created;
	int err = plan_add(p, rel, &o);

	if (err == -ELOOP)
		return remove_check_link(p, o, owned);
	if (err)
		return err;
	if (o->old && owned && is_ours(o->old))
		return 0;       /* delete */
	if (o->old && !owned) {
		err = block_cut(o->old, &o->new, &created, &last_problem);
		if (err)
			return err;
		if (strcmp(o->new, o->old) != 0) {
			if (created && !o->new[0]) {
				free(o->new);
				o->new = NULL;
			}
			return 0;
		}
	}
	plan_drop_last(p);
	return 0;
}

/* Every line migrate took out, put back where its note is (in the text
 * remove_one left of a file persist wrote in too). */
static int plan_put_back(struct plan *p)
{
	char **files;
	int err = leftovers_editable_files(p->rootfd, &files);

	for (char **f = files; !err && f && *f; f++) {
		struct op *o = plan_find(p, *f);
		char *back;

		if (o) {
			snprintf(last_path, sizeof(last_path), "%s", o->path);
			if (!o->new || !leftovers_marked(o->new))
				continue;
			err = leftovers_put_back(o->new, o->rel, &back, &last_problem);
			if (!err) {
				free(o->new);
				o->new = back;
			}
			continue;
		}
		err = plan_add(p, *f, &o);
		/* not text (a NUL byte, over 1 MiB): no note of migrate's is in it */
		if (err == -EBADMSG || err == -EFBIG || err == -ENOENT) {
			memset(&last_problem, 0, sizeof(last_problem));
			err = 0;
			continue;
		}
		if (!err && (!o->old || !leftovers_marked(o->old)))
			plan_drop_last(p);
		else if (!err)
			err = leftovers_put_back(o->old, o->rel, &o->new, &last_problem);
	}
	persist_free_list(files);
	return err;
}

static int plan_remove(struct plan *p)
{
	int err;

	err = remove_one(p, PERSIST_SUPERVISOR_ENV, false);
	if (!err)
		err = remove_one(p, PERSIST_UDEV_RULE, true);
	if (!err)
		err = remove_one(p, PERSIST_INITRAMFS_MODULES, false);
	if (!err)
		err = remove_one(p, PERSIST_DRACUT_CONF, true);
	if (!err)
		err = remove_one(p, PERSIST_MODULES_LOAD_CONF, true);
	if (!err)
		err = remove_one(p, PERSIST_MODPROBE_CONF, true);
	if (!err)
		err = plan_put_back(p);
	if (!err)
		err = remove_one(p, PERSIST_DEVICES_CONF, true);
	/* last, so that it names the directories until everything else is gone */
	if (!err && p->nop && !strcmp(p->op[p->nop - 1].rel, PERSIST_DEVICES_CONF))
		p->rmdirs = read_created(p->op[p->nop - 1].old);
	return err;
}

/* Replace the file at o->rel with content, by name in its directory. */
static int op_replace(struct plan *p, const struct op *o, const char *content,
		      const struct stat *keep)
{
	const char *name;
	int dfd = root_open_parent(p->rootfd, o->rel, &name), err;

	if (dfd < 0)
		return dfd;
	err = atomic_replace_at(dfd, name, content, keep);
	close(dfd);
	return err;
}

static int op_apply(struct plan *p, struct op *o)
{
	int err;
	char *back;
	struct stat st;

	if (o->new && o->old && !strcmp(o->new, o->old))
		return 0;
	snprintf(last_path, sizeof(last_path), "%s", o->path);
	if (!o->new) {
		err = remove_file(p->rootfd, o->rel);
		o->done = !err;
		return err;
	}
	err = op_replace(p, o, o->new, o->old ? &o->st : NULL);
	if (err)
		return err;
	o->done = true;
	/* read back what the next boot will read */
	err = read_text(p->rootfd, o->rel, false, &back, &st);
	if (!err && (!back || strcmp(back, o->new)))
		err = -EIO;
	free(back);
	return err;
}

static void op_undo(struct plan *p, struct op *o)
{
	if (!o->done)
		return;
	if (o->old)
		op_replace(p, o, o->old, &o->st);
	else
		remove_file(p->rootfd, o->rel);
}

/* One directory of known_dirs, 0755 whatever the umask: what reads /etc
 * at boot is not always root.  Noted in p->made as soon as it is made. */
static int make_dir(struct plan *p, size_t d)
{
	const char *name;
	int dfd = root_open_parent(p->rootfd, known_dirs[d], &name), fd, err = 0;

	if (dfd < 0)
		return dfd;
	if (mkdirat(dfd, name, 0755) < 0) {
		err = errno == EEXIST ? 0 : -errno;
		goto out;
	}
	p->made |= 1u << d;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchmod(fd, 0755) < 0)
		err = -errno;
	if (fd >= 0)
		close(fd);
	atomic_fsync_dir(dfd);
out:
	close(dfd);
	return err;
}

static int make_dirs(struct plan *p)
{
	for (size_t d = 0; d < NDIRS; d++) {
		int err;

		if (!(p->mkdirs & 1u << d))
			continue;
		err = make_dir(p, d);
		if (err) {
			dir_path(p, d, last_path, sizeof(last_path));
			return err;
		}
	}
	return 0;
}

/* Children first; a directory that is not empty (or gone) stays. */
static void remove_dirs(struct plan *p, unsigned mask, unsigned *gone)
{
	for (size_t d = NDIRS; d-- > 0;)
		if (mask & 1u << d && root_rmdir(p->rootfd, known_dirs[d]) == 0)
			*gone |= 1u << d;
}

static int plan_run(struct plan *p)
{
	unsigned undone = 0;
	size_t i;
	int err = make_dirs(p);

	for (i = 0; !err && i < p->nop; i++)
		err = op_apply(p, &p->op[i]);
	if (!err) {
		remove_dirs(p, p->rmdirs, &p->gone);
		return 0;
	}
	/* all or nothing: put back what was done, newest first */
	while (i-- > 0)
		op_undo(p, &p->op[i]);
	remove_dirs(p, p->made, &undone);
	return err;
}

static int plan_list(const struct plan *p, char ***list)
{
	size_t n = 0, max = p->nop + NDIRS + 1;
	char **v = calloc(max, sizeof(*v)), path[PATH_MAX];

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < p->nop; i++)
		if (!(v[n++] = strdup(p->op[i].path)))
			goto nomem;
	for (size_t d = NDIRS; d-- > 0;)
		if (p->gone & 1u << d && !dir_path(p, d, path, sizeof(path)) &&
		    !(v[n++] = strdup(path)))
			goto nomem;
	*list = v;
	return 0;
nomem:
	persist_free_list(v);
	return -ENOMEM;
}

void persist_free_list(char **list)
{
	for (char **s = list; s && *s; s++)
		free(*s);
	free(list);
}

int persist_write(const struct persist_target *t, const struct persist_fn *fns, size_t n,
		  char ***written)
{
	struct plan p;
	int err;

	if (written)
		*written = NULL;
	memset(&last_problem, 0, sizeof(last_problem));
	if (!n && !t->ntakeout)
		return -EINVAL;
	err = plan_open(&p, t->root);
	if (err)
		return err;
	err = plan_write(&p, t, fns, n);
	if (!err)
		err = plan_run(&p);
	if (!err && written)
		err = plan_list(&p, written);
	plan_free(&p);
	return err;
}

int persist_plan_write(const struct persist_target *t, const struct persist_fn *fns, size_t n,
		       persist_change_fn *change, void *ctx)
{
	struct plan p;
	int err;

	memset(&last_problem, 0, sizeof(last_problem));
	if (!n)
		return -EINVAL;
	err = plan_open(&p, t->root);
	if (err)
		return err;
	err = plan_write(&p, t, fns, n);
	for (size_t i = 0; !err && i < p.nop; i++)
		if (p.op[i].new && (!p.op[i].old || strcmp(p.op[i].old, p.op[i].new)))
			change(p.op[i].rel, p.op[i].new, ctx);
	plan_free(&p);
	return err;
}

int persist_remove(const struct persist_target *t, char ***removed)
{
	struct plan p;
	int err;

	if (removed)
		*removed = NULL;
	memset(&last_problem, 0, sizeof(last_problem));
	err = plan_open(&p, t->root);
	if (err)
		return err;
	err = plan_remove(&p);
	if (!err)
		err = plan_run(&p);
	if (!err && removed)
		err = plan_list(&p, removed);
	plan_free(&p);
	return err;
}

int persist_read_devices(const char *root, struct persist_fn **fns, size_t *n,
			 struct persist_problem *why)
{
	int rootfd = root_dir_open(root), err;
	struct stat st;
	char *text;

	*fns = NULL;
	*n = 0;
	if (rootfd < 0)
		return rootfd;
	err = read_text(rootfd, PERSIST_DEVICES_CONF, false, &text, &st);
	close(rootfd);
	if (err == -EBADMSG)
		problem_set(why, 0, "it holds a NUL byte: it is not the text persist wrote; remove "
			    "the NUL bytes");
	if (err == -EFBIG)
		problem_set(why, 0, "it is larger than 1 MiB: not a file persist wrote; move it away");
	if (err)
		return err;
	if (!text)
		return -ENOENT;
	err = persist_parse_devices_conf(text, strlen(text), fns, n, why);
	free(text);
	return err;
}

int persist_read_softdeps(const char *root, char ***mods)
{
	int rootfd = root_dir_open(root), err;
	struct stat st;
	char *text = NULL;

	*mods = NULL;
	if (rootfd < 0)
		return rootfd;
	err = read_text(rootfd, PERSIST_MODPROBE_CONF, false, &text, &st);
	close(rootfd);
	if (err)
		return err;
	/* a file of the user's there says nothing: persist refuses to replace it */
	err = persist_parse_softdeps(text && is_ours(text) ? text : "", mods);
	free(text);
	return err;
}
