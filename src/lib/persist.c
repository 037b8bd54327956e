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
#include "persist-text.h"
#include "util.h"

/* Every directory persist may create, parents first: devices.conf names
 * those it did create, so that unpersist removes them and no other. */
static const char *const known_dirs[] = {
	"/etc", "/etc/dracut.conf.d", "/etc/initramfs-tools", "/etc/modprobe.d",
	"/etc/modules-load.d", "/etc/vfio-handover",
};
#define NDIRS ARRAY_SIZE(known_dirs)

/* ---- files ---- */

/* A whole regular file, *text NULL when there is none.  A symlink is
 * refused with -ELOOP unless follow. */
static int read_text(const char *path, bool follow, char **text, struct stat *st)
{
	size_t len = 0, cap = 0;
	char *buf = NULL;
	ssize_t r;
	int fd, err = 0;

	*text = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (follow ? 0 : O_NOFOLLOW));
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, st) < 0) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st->st_mode)) {
		err = -EINVAL;
		goto out;
	}
	for (;;) {
		if (len == cap) {
			char *nb;

			/* too big for a configuration file: never edited */
			if (cap > MAX_TEXT) {
				err = -EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 4096;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				err = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		r = read(fd, buf + len, cap - len);
		if (r == 0)
			break;
		if (r < 0 && errno != EINTR) {
			err = -errno;
			goto out;
		}
		len += r > 0 ? (size_t)r : 0;
	}
	/* not text: a C string could not give it back byte for byte */
	if (len > MAX_TEXT)
		err = -EFBIG;
	else if (memchr(buf, '\0', len))
		err = -EBADMSG;
out:
	close(fd);
	if (err) {
		free(buf);
		return err;
	}
	buf[len] = '\0';
	*text = buf;
	return 0;
}


static int remove_file(const char *path)
{
	char dir[PATH_MAX];
	int err = path_parent(path, dir, sizeof(dir));

	if (err)
		return err;
	if (unlink(path) < 0)
		return errno == ENOENT ? 0 : -errno;
	return atomic_fsync_dir(dir);
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
	const char *rel;        /* path under the root */
	char path[PATH_MAX];
	char *old, *new;        /* contents before and after; NULL: no file */
	struct stat st;         /* of the old file */
	bool done;
};

struct plan {
	const char *root;
	struct op op[6];
	size_t nop;
	unsigned mkdirs, made;     /* bits of known_dirs: to create, created */
	unsigned rmdirs, gone;     /* to remove when empty, removed */
};

static int dir_path(const struct plan *p, size_t i, char *buf, size_t len)
{
	return root_path(p->root, known_dirs[i], buf, len);
}

/* Read the file at rel into a new op. */
static int plan_add(struct plan *p, const char *rel, struct op **op)
{
	struct op *o = &p->op[p->nop];
	int err;

	if (p->nop == sizeof(p->op) / sizeof(p->op[0]))
		return -E2BIG;
	memset(o, 0, sizeof(*o));
	o->rel = rel;
	err = root_path(p->root, rel, o->path, sizeof(o->path));
	snprintf(last_path, sizeof(last_path), "%s", o->path);
	if (!err)
		err = read_text(o->path, false, &o->old, &o->st);
	if (err == -EBADMSG)
		problem_set(&last_problem, 0, "it holds a NUL byte: it is not text vfio-handover can "
			    "edit; remove the NUL bytes");
	if (err == -EFBIG)
		problem_set(&last_problem, 0, "it is larger than 1 MiB: not a file vfio-handover edits; "
			    "move it away");
	if (err)
		return err;
	p->nop++;
	*op = o;
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

static int add_block(struct plan *p, const char *rel, const char *body)
{
	struct op *o;
	int err = plan_add(p, rel, &o);

	if (!err)
		err = block_set(o->old ? o->old : "", body, !o->old, &o->new, &last_problem);
	if (!err)
		err = check_shared(o);
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

/* The directories missing above every file to write. */
static int plan_dirs(struct plan *p)
{
	char path[PATH_MAX];
	struct stat st;

	for (size_t i = 0; i < p->nop; i++) {
		if (!p->op[i].new)
			continue;
		for (size_t d = 0; d < NDIRS; d++) {
			size_t k = strlen(known_dirs[d]);

			if (strncmp(p->op[i].rel, known_dirs[d], k) || p->op[i].rel[k] != '/')
				continue;
			if (dir_path(p, d, path, sizeof(path)))
				return -ENAMETOOLONG;
			if (stat(path, &st) == 0) {
				if (S_ISDIR(st.st_mode))
					continue;
				return -ENOTDIR;
			}
			if (errno != ENOENT)
				return -errno;
			if (lstat(path, &st) == 0)
				return -ENOTDIR;    /* a dangling symlink */
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
	char path[PATH_MAX];
	struct stat st;
	struct text x;

	for (size_t d = 0; d < NDIRS; d++)
		if (before & 1u << d && !dir_path(p, d, path, sizeof(path)) && stat(path, &st) == 0 &&
		    S_ISDIR(st.st_mode))
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
	char *dev = NULL, *mp = NULL, *ml = NULL, *rd = NULL;
	int err;

	err = persist_render_devices_conf(fns, n, &dev);
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
				  add_block(p, PERSIST_INITRAMFS_MODULES, rd);
	if (!err && t->aleph)
		err = add_env(p);
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
	return err;
}

/* A symlink at rel: refused only if it leads to something of ours, which
 * persist_remove would then have to write through. */
static int remove_check_link(const struct op *o, bool owned)
{
	struct block b;
	struct stat st;
	char *text;
	bool ours;

	if (read_text(o->path, true, &text, &st) < 0 || !text)
		return 0;
	ours = owned ? is_ours(text) : block_find(text, &b) != 0;
	free(text);
	return ours ? -ELOOP : 0;
}

static int remove_one(struct plan *p, const char *rel, bool owned)
{
	struct op *o = &p->op[p->nop];
	bool created;
	int err = plan_add(p, rel, &o);

	if (err == -ELOOP)
		return remove_check_link(o, owned);
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

static int plan_remove(struct plan *p)
{
	int err;

	err = remove_one(p, PERSIST_SUPERVISOR_ENV, false);
	if (!err)
		err = remove_one(p, PERSIST_INITRAMFS_MODULES, false);
	if (!err)
		err = remove_one(p, PERSIST_DRACUT_CONF, true);
	if (!err)
		err = remove_one(p, PERSIST_MODULES_LOAD_CONF, true);
	if (!err)
		err = remove_one(p, PERSIST_MODPROBE_CONF, true);
	if (!err)
		err = remove_one(p, PERSIST_DEVICES_CONF, true);
	/* last, so that it names the directories until everything else is gone */
	if (!err && p->nop && !strcmp(p->op[p->nop - 1].rel, PERSIST_DEVICES_CONF))
		p->rmdirs = read_created(p->op[p->nop - 1].old);
	return err;
}

static int op_apply(struct op *o)
{
	int err;
	char *back;
	struct stat st;

	if (o->new && o->old && !strcmp(o->new, o->old))
		return 0;
	snprintf(last_path, sizeof(last_path), "%s", o->path);
	if (!o->new) {
		err = remove_file(o->path);
		o->done = !err;
		return err;
	}
	err = atomic_replace(o->path, o->new, o->old ? &o->st : NULL);
	if (err)
		return err;
	o->done = true;
	/* read back what the next boot will read */
	err = read_text(o->path, false, &back, &st);
	if (!err && (!back || strcmp(back, o->new)))
		err = -EIO;
	free(back);
	return err;
}

static void op_undo(struct op *o)
{
	if (!o->done)
		return;
	if (o->old)
		atomic_replace(o->path, o->old, &o->st);
	else
		remove_file(o->path);
}

static int make_dirs(struct plan *p)
{
	char path[PATH_MAX], dir[PATH_MAX];

	for (size_t d = 0; d < NDIRS; d++) {
		if (!(p->mkdirs & 1u << d))
			continue;
		if (dir_path(p, d, path, sizeof(path)) || path_parent(path, dir, sizeof(dir)))
			return -ENAMETOOLONG;
		if (mkdir(path, 0755) < 0) {
			if (errno == EEXIST)
				continue;
			return -errno;
		}
		p->made |= 1u << d;
		/* 0755 whatever the umask: what reads /etc at boot is not always root */
		if (chmod(path, 0755) < 0)
			return -errno;
		atomic_fsync_dir(dir);
	}
	return 0;
}

/* Children first; a directory that is not empty (or gone) stays. */
static void remove_dirs(struct plan *p, unsigned mask, unsigned *gone)
{
	char path[PATH_MAX];

	for (size_t d = NDIRS; d-- > 0;)
		if (mask & 1u << d && !dir_path(p, d, path, sizeof(path)) && rmdir(path) == 0)
			*gone |= 1u << d;
}

static int plan_run(struct plan *p)
{
	unsigned undone = 0;
	size_t i;
	int err = make_dirs(p);

	for (i = 0; !err && i < p->nop; i++)
		err = op_apply(&p->op[i]);
	if (!err) {
		remove_dirs(p, p->rmdirs, &p->gone);
		return 0;
	}
	/* all or nothing: put back what was done, newest first */
	while (i-- > 0)
		op_undo(&p->op[i]);
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
	struct plan p = { .root = t->root };
	int err;

	if (written)
		*written = NULL;
	memset(&last_problem, 0, sizeof(last_problem));
	if (!n)
		return -EINVAL;
	err = plan_write(&p, t, fns, n);
	if (!err)
		err = plan_run(&p);
	if (!err && written)
		err = plan_list(&p, written);
	plan_free(&p);
	return err;
}

int persist_remove(const struct persist_target *t, char ***removed)
{
	struct plan p = { .root = t->root };
	int err;

	if (removed)
		*removed = NULL;
	memset(&last_problem, 0, sizeof(last_problem));
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
	char path[PATH_MAX], *text;
	struct stat st;
	int err = root_path(root, PERSIST_DEVICES_CONF, path, sizeof(path));

	*fns = NULL;
	*n = 0;
	if (!err)
		err = read_text(path, false, &text, &st);
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
	char path[PATH_MAX], *text = NULL;
	struct stat st;
	int err = root_path(root, PERSIST_MODPROBE_CONF, path, sizeof(path));

	*mods = NULL;
	if (!err)
		err = read_text(path, false, &text, &st);
	if (err)
		return err;
	/* a file of the user's there says nothing: persist refuses to replace it */
	err = persist_parse_softdeps(text && is_ours(text) ? text : "", mods);
	free(text);
	return err;
}
