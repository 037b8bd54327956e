/* The lines of a hand-made VFIO setup: found, taken out with a note, put
 * back (leftovers.h). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "kmodules.h"
#include "leftovers.h"
#include "persist-target.h"
#include "persist-text.h"
#include "root-path.h"
#include "util.h"

/* migrate's notes: the rest of the line is the line it took out or changed,
 * as it was, byte for byte */
#define NOTE_TOOK "# vfio-handover migrate took this line out: "
#define NOTE_CHANGED "# vfio-handover migrate changed the next line; it was: "

#define MAX_WORDS 64

#define FIX_MIGRATE "vfio-handover migrate takes it out (vfio-handover unpersist puts it back); " \
	"or delete it yourself"
#define FIX_IDS "vfio-handover migrate persists the GPUs it meant, per device, and takes the " \
	"line out (vfio-handover unpersist puts it back); or delete it, then vfio-handover " \
	"persist SELECTOR"
#define NOT_UNDONE "and vfio-handover unpersist cannot take it back"

static const char *const vfio_modules[] = {
	"vfio", "vfio_pci", "vfio_iommu_type1", "vfio_virqfd", NULL,
};

/* ---- words ---- */

struct words {
	char *buf;              /* the line, cut into words in place */
	char *w[MAX_WORDS];
	size_t n;
};

/* Split s[0..len) at the characters of seps; past MAX_WORDS the rest is
 * one last word. */
static int words_split(const char *s, size_t len, const char *seps, struct words *w)
{
	char *p;

	w->n = 0;
	w->buf = strndup(s, len);
	if (!w->buf)
		return -ENOMEM;
	for (p = w->buf; *p;) {
		p += strspn(p, seps);
		if (!*p)
			break;
		w->w[w->n++] = p;
		if (w->n == MAX_WORDS)
			break;
		p += strcspn(p, seps);
		if (*p)
			*p++ = '\0';
	}
	return 0;
}

static bool is_module_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

static bool in_list(const char *const *list, const char *name)
{
	for (; list && *list; list++)
		if (kmodules_name_eq(*list, name))
			return true;
	return false;
}

static bool is_vfio_pci(const char *m)
{
	return kmodules_name_eq(m, "vfio_pci");
}

/* ---- ids ---- */

/* "10de:27b0,10de:22bc" into l->ids: the entries vfio-pci would take
 * (vendor:device[:subvendor[:subdevice[:class[:class_mask]]]], hex). */
static int parse_ids(struct leftover *l, const char *list)
{
	const char *p = list;

	while (*p) {
		size_t len = strcspn(p, ",");
		unsigned f[6] = { 0, 0, LEFTOVER_ANY, LEFTOVER_ANY, 0, 0 };
		char entry[64], *q = entry, *end = entry;
		int nf = 0;
		bool ok = len && len < sizeof(entry);

		if (ok) {
			memcpy(entry, p, len);
			entry[len] = '\0';
		}
		while (ok && nf < 6) {
			unsigned long v;

			ok = isxdigit((unsigned char)*q);
			v = ok ? strtoul(q, &end, 16) : 0;
			ok = ok && end - q <= 8 && (*end == ':' || !*end);
			if (ok)
				f[nf++] = (unsigned)v;
			if (!ok || !*end)
				break;
			q = end + 1;
		}
		/* at least vendor:device, and nothing left over */
		if (ok && nf >= 2 && !*end) {
			struct leftover_id *v = realloc(l->ids, (l->nids + 1) * sizeof(*v));

			if (!v)
				return -ENOMEM;
			l->ids = v;
			v[l->nids++] = (struct leftover_id){ f[0], f[1], f[2], f[3], f[4], f[5] };
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

static bool id_eq(unsigned want, unsigned have)
{
	return want == LEFTOVER_ANY || want == have;
}

bool leftover_names(const struct leftover *l, const struct pci_func *f)
{
	if (l->modalias && f->modalias[0] && fnmatch(l->modalias, f->modalias, 0) == 0)
		return true;
	for (size_t i = 0; i < l->nids; i++) {
		const struct leftover_id *id = &l->ids[i];

		if (id_eq(id->vendor, f->vendor) && id_eq(id->device, f->device) &&
		    id_eq(id->subvendor, f->subvendor) && id_eq(id->subdevice, f->subdevice) &&
		    ((f->class ^ id->class) & id->class_mask) == 0)
			return true;
	}
	return false;
}

/* The ids= of the words, as the line's intent (where the line is broken too). */
static int words_ids(struct leftover *l, const struct words *w)
{
	int err = 0;

	for (size_t i = 0; i < w->n && !err; i++) {
		const char *v = strstr(w->w[i], "ids=");

		if (v && (v == w->w[i] || v[-1] == '.'))
			err = parse_ids(l, v + 4);
	}
	return err;
}

/* ---- findings ---- */

struct found {
	struct leftover *v;
	size_t n;
	const char *file;
	enum leftover_format fmt;
	const struct leftover_ctx *ctx;
};

/* A new finding: lines [line, line + nlines) whose text is s[0..len). */
static struct leftover *found_add(struct found *fd, unsigned line, unsigned nlines, const char *s,
				  size_t len, enum check_id check, bool fail, bool vfio)
{
	struct leftover *v = realloc(fd->v, (fd->n + 1) * sizeof(*v)), *l;

	if (!v)
		return NULL;
	fd->v = v;
	l = &v[fd->n];
	memset(l, 0, sizeof(*l));
	snprintf(l->file, sizeof(l->file), "%s", fd->file);
	l->format = fd->fmt;
	l->line = line;
	l->nlines = nlines;
	l->check = check;
	l->fail = fail;
	l->vfio = vfio;
	l->cmdline = fd->fmt == LF_DRACUT || fd->fmt == LF_GRUB || fd->fmt == LF_KERNEL_CMDLINE;
	l->text = strndup(s, len);
	if (!l->text)
		return NULL;
	fd->n++;
	return l;
}

/* Its message parts (fmt for what, then the fix as given). */
__attribute__((format(printf, 3, 4)))
static int found_say(struct leftover *l, const char *fix, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (!l)
		return -ENOMEM;
	va_start(ap, fmt);
	r = vasprintf(&l->what, fmt, ap);
	va_end(ap);
	if (r < 0) {
		l->what = NULL;
		return -ENOMEM;
	}
	l->fix = strdup(fix);
	return l->fix ? 0 : -ENOMEM;
}

/* ---- the line migrate leaves instead of one it changes ---- */

/* The options of vfio-pci without ids= (modprobe.d), or vfio_pci with its
 * other arguments (initramfs-tools): NULL when nothing else is left, the
 * line is not of that kind, or it ends in a backslash (which would join
 * the line after it). */
static char *rewrite(enum leftover_format fmt, const char *line, size_t len)
{
	struct words w;
	size_t first = fmt == LF_MODPROBE ? 2 : 1, kept = 0;
	char *out = NULL;
	bool ids = false;

	if ((fmt != LF_MODPROBE && fmt != LF_INITRAMFS) || (len && line[len - 1] == '\\'))
		return NULL;
	/* the words as the parse of its format splits them (initramfs_line
	 * takes "\r" for a blank): no ids= the parse would find may stay */
	if (words_split(line, len, fmt == LF_MODPROBE ? " \t\n" : " \t\r", &w) < 0)
		return NULL;
	if (w.n <= first || w.n == MAX_WORDS ||
	    (fmt == LF_MODPROBE && strcmp(w.w[0], "options")) || !is_vfio_pci(w.w[first - 1]))
		goto out;
	for (size_t i = first; i < w.n; i++)
		ids |= !strncmp(w.w[i], "ids=", 4);
	if (!ids)
		goto out;
	out = strdup(fmt == LF_MODPROBE ? "options" : "");
	for (size_t i = first - 1; out && i < w.n; i++) {
		char *next;

		if (i >= first && !strncmp(w.w[i], "ids=", 4))
			continue;
		next = xasprintf("%s%s%s", out, *out ? " " : "", w.w[i]);
		free(out);
		out = next;
		kept += i >= first;
	}
	if (out && !kept) {
		free(out);
		out = NULL;
	}
out:
	free(w.buf);
	return out;
}

/* ---- modprobe.d ---- */

/* The logical line at *pos: physical lines joined where one ends in a
 * backslash (kmod reads them as one, without the backslash and newline).
 * *raw is the text as in the file, *joined the line kmod reads. */
static bool modprobe_line(const char *text, size_t *pos, size_t *s, size_t *e, unsigned *nlines,
			  char **joined)
{
	size_t ls, le;

	if (!text_next_line(text, pos, &ls, &le))
		return false;
	*s = ls;
	*nlines = 1;
	while (le - ls >= 2 && text[le - 1] == '\n' && text[le - 2] == '\\' &&
	       text_next_line(text, pos, &ls, &le))
		(*nlines)++;
	*e = le;
	*joined = malloc(le - *s + 1);
	if (*joined) {
		size_t o = 0;

		for (size_t i = *s; i < le; i++) {
			if (text[i] == '\\' && i + 1 < le && text[i + 1] == '\n') {
				i++;
				continue;
			}
			(*joined)[o++] = text[i];
		}
		(*joined)[o] = '\0';
	}
	return true;
}

static bool is_false_binary(const char *cmd)
{
	static const char *const bins[] = {
		"/bin/false", "/bin/true", "/usr/bin/false", "/usr/bin/true", "false", "true",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bins); i++)
		if (!strcmp(cmd, bins[i]))
			return true;
	return false;
}

/* softdep MODULE pre: ... vfio-pci ... [post: ...] */
static bool softdep_on_vfio(const struct words *w)
{
	bool pre = false;

	for (size_t i = 2; i < w->n; i++) {
		if (!strcmp(w->w[i], "pre:"))
			pre = true;
		else if (!strcmp(w->w[i], "post:"))
			pre = false;
		else if (pre && is_vfio_pci(w->w[i]))
			return true;
	}
	return false;
}

static int modprobe_directive(struct found *fd, const struct words *w, unsigned line,
			      unsigned nlines, const char *raw, size_t rawlen)
{
	const struct leftover_ctx *ctx = fd->ctx;
	struct leftover *l;
	const char *cmd = w->w[0];
	int err;

	if (w->n >= 3 && !strcmp(cmd, "options") && is_vfio_pci(w->w[1])) {
		bool ids = false;

		for (size_t i = 2; i < w->n; i++)
			ids |= !strncmp(w->w[i], "ids=", 4);
		if (!ids)
			return 0;
		l = found_add(fd, line, nlines, raw, rawlen, CHECK_IDS_BINDING, true, true);
		err = found_say(l, FIX_IDS, "hands every device with these ids to vfio-pci when it "
				"loads, identical cards the host keeps among them, " NOT_UNDONE);
		if (!err)
			err = words_ids(l, w);
		if (!err && nlines == 1)
			l->replacement = rewrite(LF_MODPROBE, raw, rawlen);
		return err;
	}
	if (w->n >= 3 && !strcmp(cmd, "alias") && is_vfio_pci(w->w[2]) &&
	    !strncmp(w->w[1], "pci:", 4)) {
		l = found_add(fd, line, nlines, raw, rawlen, CHECK_IDS_BINDING, true, true);
		err = found_say(l, FIX_IDS, "makes vfio-pci the module of every device with that "
				"modalias: its host driver is never loaded for it, an identical card "
				"the host keeps included, " NOT_UNDONE);
		if (!err && !(l->modalias = strdup(w->w[1])))
			err = -ENOMEM;
		return err;
	}
	if (w->n == 2 && !strcmp(cmd, "blacklist") && in_list(ctx->host_drivers, w->w[1])) {
		l = found_add(fd, line, nlines, raw, rawlen, CHECK_BLACKLIST, true, true);
		return found_say(l, FIX_MIGRATE, "keeps %s from being loaded for any device, those "
				 "the host keeps included, " NOT_UNDONE " (vfio-handover persist "
				 "orders vfio-pci before it with a softdep instead)", w->w[1]);
	}
	if (w->n == 3 && !strcmp(cmd, "install") && in_list(ctx->host_drivers, w->w[1]) &&
	    is_false_binary(w->w[2])) {
		l = found_add(fd, line, nlines, raw, rawlen, CHECK_BLACKLIST, true, true);
		return found_say(l, FIX_MIGRATE, "makes every load of %s fail, for the devices the "
				 "host keeps too, " NOT_UNDONE " (vfio-handover persist orders "
				 "vfio-pci before it with a softdep instead)", w->w[1]);
	}
	if (w->n >= 4 && !strcmp(cmd, "softdep") && softdep_on_vfio(w)) {
		l = found_add(fd, line, nlines, raw, rawlen, CHECK_SOFTDEP, false, true);
		return found_say(l, FIX_MIGRATE, "loads vfio-pci before %s, as vfio-handover's own "
				 "%s does; it stays after vfio-handover unpersist", w->w[1],
				 PERSIST_MODPROBE_CONF);
	}
	return 0;
}

static int parse_modprobe(struct found *fd, const char *text)
{
	size_t pos = 0, s, e;
	unsigned line = 1, nlines;
	char *joined;
	int err = 0;

	while (!err && modprobe_line(text, &pos, &s, &e, &nlines, &joined)) {
		struct words w = { 0 };
		size_t rawlen = e - s - (e > s && text[e - 1] == '\n');

		if (!joined || words_split(joined, strlen(joined), " \t\n", &w) < 0)
			err = -ENOMEM;
		else if (w.n && w.w[0][0] != '#')
			err = modprobe_directive(fd, &w, line, nlines, text + s, rawlen);
		free(w.buf);
		free(joined);
		line += nlines;
	}
	return err;
}

/* ---- module lists ---- */

static bool names_vfio(const struct words *w)
{
	for (size_t i = 0; i < w->n; i++)
		if (strstr(w->w[i], "vfio") || strstr(w->w[i], "ids="))
			return true;
	return false;
}

/* vfio_virqfd named for a kernel that has none */
static int virqfd_gone(struct found *fd, unsigned line, const char *s, size_t len)
{
	struct leftover *l = found_add(fd, line, 1, s, len, CHECK_MODULE_LINE, false, true);

	return found_say(l, "vfio-handover migrate takes it out (persist lists vfio_virqfd only "
			 "for kernels that have it; vfio-handover unpersist puts it back); or delete "
			 "it yourself", "names vfio_virqfd, which kernel %s does not have (merged into "
			 "vfio in Linux 6.2): loading it fails at every boot",
			 fd->ctx->kernel ? fd->ctx->kernel : "");
}

/* /etc/modules, modules-load.d: one module name a line, nothing else */
static int modules_load_line(struct found *fd, unsigned line, const char *s, size_t len)
{
	size_t a = 0, b = len;
	struct leftover *l;
	struct words w;
	bool vfio;
	int err;

	while (a < b && strchr(" \t\r", s[a]))
		a++;
	while (b > a && strchr(" \t\r", s[b - 1]))
		b--;
	if (a == b || s[a] == '#' || s[a] == ';')
		return 0;
	if (words_split(s + a, b - a, " \t", &w) < 0)
		return -ENOMEM;
	if (w.n == 1 && is_module_name(w.w[0])) {
		err = fd->ctx->virqfd_gone && kmodules_name_eq(w.w[0], "vfio_virqfd") ?
		      virqfd_gone(fd, line, s, len) : 0;
		free(w.buf);
		return err;
	}
	vfio = names_vfio(&w);
	l = found_add(fd, line, 1, s, len, CHECK_MODULE_LINE, vfio, vfio);
	err = found_say(l, vfio ? "vfio-handover migrate takes it out (persist lists vfio, "
			"vfio_iommu_type1 and vfio_pci in " PERSIST_MODULES_LOAD_CONF "; "
			"vfio-handover unpersist puts it back); or delete it yourself" :
			"write one module name a line (a module's options go in /etc/modprobe.d: "
			"options MODULE NAME=VALUE), or delete it",
			"is not a module line: systemd-modules-load reads one module name a line, "
			"without arguments, so this one loads nothing and fails at every boot%s",
			strstr(s, "ids=") ? "; its ids= never reach vfio-pci" : "");
	if (!err && vfio)
		err = words_ids(l, &w);
	free(w.buf);
	return err;
}

static int parse_modules_load(struct found *fd, const char *text)
{
	size_t pos = 0, s, e;
	unsigned line = 0;
	int err = 0;

	while (!err && text_next_line(text, &pos, &s, &e))
		err = modules_load_line(fd, ++line, text + s, e - s - (text[e - 1] == '\n'));
	return err;
}

/* An argument initramfs-tools passes to modprobe: NAME or NAME=VALUE. */
static bool is_argument(const char *a)
{
	size_t n = strcspn(a, "=");

	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)a[i]) && a[i] != '_' && a[i] != '-' && a[i] != '.')
			return false;
	return n > 0;
}

/* What is wrong with a line of the initramfs-tools list, or NULL. */
static char *initramfs_wrong(const struct words *w)
{
	if (!is_module_name(w->w[0]))
		return xasprintf("'%s' is no module name", w->w[0]);
	for (size_t i = 1; i < w->n; i++) {
		if (!is_argument(w->w[i]))
			return xasprintf("'%s' is no argument of %s (NAME or NAME=VALUE)", w->w[i],
					 w->w[0]);
		if (!strchr(w->w[i], '=') && in_list(vfio_modules, w->w[i]))
			return xasprintf("%s is a module, taken here as an argument of %s",
					 w->w[i], w->w[0]);
	}
	return NULL;
}

static int initramfs_line(struct found *fd, unsigned line, const char *s, size_t len)
{
	struct leftover *l;
	struct words w;
	char *wrong;
	bool vfio, ids = false;
	int err = 0;

	if (words_split(s, len, " \t\r", &w) < 0)
		return -ENOMEM;
	if (!w.n || w.w[0][0] == '#')
		goto out;
	vfio = names_vfio(&w);
	wrong = initramfs_wrong(&w);
	if (wrong) {
		l = found_add(fd, line, 1, s, len, CHECK_MODULE_LINE, vfio, vfio);
		err = found_say(l, vfio ? "vfio-handover migrate takes it out (persist's block in "
				"this file lists the vfio modules, one a line; vfio-handover unpersist "
				"puts it back); or delete it yourself" :
				"correct it (a module name, then its NAME=VALUE arguments), or delete it",
				"is not a module line: %s; initramfs-tools reads a module name and its "
				"arguments a line, so this one loads nothing early", wrong);
		free(wrong);
		if (!err && vfio)
			err = words_ids(l, &w);
		goto out;
	}
	for (size_t i = 1; i < w.n; i++)
		ids |= !strncmp(w.w[i], "ids=", 4);
	if (is_vfio_pci(w.w[0]) && ids) {
		l = found_add(fd, line, 1, s, len, CHECK_IDS_BINDING, true, true);
		err = found_say(l, FIX_IDS, "loads vfio-pci in the initramfs with these ids: it "
				"takes every device that has them, identical cards the host keeps among "
				"them, " NOT_UNDONE);
		if (!err)
			err = words_ids(l, &w);
		if (!err)
			l->replacement = rewrite(LF_INITRAMFS, s, len);
	} else if (fd->ctx->virqfd_gone && w.n == 1 && kmodules_name_eq(w.w[0], "vfio_virqfd")) {
		err = virqfd_gone(fd, line, s, len);
	}
out:
	free(w.buf);
	return err;
}

static int parse_initramfs(struct found *fd, const char *text)
{
	struct block b;
	bool block = block_find(text, &b) == 1;
	size_t pos = 0, s, e;
	unsigned line = 0;
	int err = 0;

	while (!err && text_next_line(text, &pos, &s, &e)) {
		line++;
		/* persist's own block */
		if (block && s >= b.begin && s < b.after)
			continue;
		err = initramfs_line(fd, line, text + s, e - s - (text[e - 1] == '\n'));
	}
	return err;
}

/* ---- the kernel command line ---- */

/* How the change takes effect, for each file that holds a command line. */
static int cmdline_fix(const struct found *fd, const char *where, char **fix)
{
	const char *then = fd->fmt == LF_GRUB ? "run update-grub" :
			   fd->fmt == LF_DRACUT ? "run dracut --regenerate-all --force" :
			   "run proxmox-boot-tool refresh (or kernel-install add for each kernel)";

	*fix = xasprintf("remove it from %s in %s, %s and reboot; vfio-handover migrate does not "
			 "edit the kernel command line, it refuses while the word is there", where,
			 fd->file, then);
	return *fix ? 0 : -ENOMEM;
}

static int cmdline_word(struct found *fd, unsigned line, const char *word, const char *where)
{
	static const char *const blacklists[] = {
		"modprobe.blacklist=", "module_blacklist=", "rd.driver.blacklist=",
	};
	struct leftover *l = NULL;
	char drivers[256] = "";
	int err;

	if (!strncmp(word, "vfio-pci.ids=", 13) || !strncmp(word, "vfio_pci.ids=", 13)) {
		l = found_add(fd, line, 1, word, strlen(word), CHECK_IDS_BINDING, true, true);
		if (!l || !(l->what = xasprintf("on the kernel command line (%s) hands every device "
						"with these ids to vfio-pci when it loads, identical "
						"cards the host keeps among them, " NOT_UNDONE, where)))
			return -ENOMEM;
		err = parse_ids(l, word + 13);
		goto fix;
	}
	for (size_t i = 0; i < ARRAY_SIZE(blacklists); i++) {
		const char *p = word + strlen(blacklists[i]);

		if (strncmp(word, blacklists[i], strlen(blacklists[i])))
			continue;
		while (*p) {
			size_t n = strcspn(p, ",");
			char mod[64];

			snprintf(mod, sizeof(mod), "%.*s", (int)(n < sizeof(mod) ? n : 0), p);
			if (mod[0] && in_list(fd->ctx->host_drivers, mod))
				snprintf(drivers + strlen(drivers), sizeof(drivers) - strlen(drivers),
					 "%s%s", drivers[0] ? ", " : "", mod);
			p += n + (p[n] == ',');
		}
	}
	if (!drivers[0])
		return 0;
	l = found_add(fd, line, 1, word, strlen(word), CHECK_BLACKLIST, true, true);
	if (!l || !(l->what = xasprintf("on the kernel command line (%s) keeps %s from being "
					"loaded, for the devices the host keeps too, " NOT_UNDONE,
					where, drivers)))
		return -ENOMEM;
	err = 0;
fix:
	return err ? err : cmdline_fix(fd, where, &l->fix);
}

static int cmdline_words(struct found *fd, unsigned line, const char *s, size_t len,
			 const char *where)
{
	struct words w;
	int err = 0;

	if (words_split(s, len, " \t\r", &w) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < w.n && !err; i++)
		err = cmdline_word(fd, line, w.w[i], where);
	free(w.buf);
	return err;
}

/* NAME= or NAME+= at the start of s (after "export " for grub): the
 * value, unquoted, as [*v, *v + *vlen). */
static bool assignment(const char *s, size_t len, const char *name, const char **v, size_t *vlen)
{
	size_t n = strlen(name), k;

	if (len < n + 1 || memcmp(s, name, n))
		return false;
	k = n + (s[n] == '+');
	if (k >= len || s[k] != '=')
		return false;
	*v = s + k + 1;
	*vlen = len - k - 1;
	while (*vlen && strchr(" \t\r", (*v)[*vlen - 1]))
		(*vlen)--;
	if (*vlen >= 2 && (**v == '"' || **v == '\'') && (*v)[*vlen - 1] == **v) {
		(*v)++;
		*vlen -= 2;
	}
	return true;
}

static int parse_cmdline_file(struct found *fd, const char *text)
{
	static const char *const grub_keys[] = { "GRUB_CMDLINE_LINUX_DEFAULT", "GRUB_CMDLINE_LINUX" };
	size_t pos = 0, s, e;
	unsigned line = 0;
	int err = 0;

	while (!err && text_next_line(text, &pos, &s, &e)) {
		const char *p = text + s, *v;
		size_t len = e - s - (text[e - 1] == '\n'), vlen;

		line++;
		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		if (!len || *p == '#')
			continue;
		if (fd->fmt == LF_KERNEL_CMDLINE) {
			err = cmdline_words(fd, line, p, len, "the command line");
			continue;
		}
		if (fd->fmt == LF_DRACUT) {
			if (assignment(p, len, "kernel_cmdline", &v, &vlen))
				err = cmdline_words(fd, line, v, vlen, "kernel_cmdline");
			continue;
		}
		if (len > 7 && !memcmp(p, "export ", 7)) {
			p += 7;
			len -= 7;
		}
		for (size_t k = 0; k < ARRAY_SIZE(grub_keys); k++)
			if (assignment(p, len, grub_keys[k], &v, &vlen)) {
				err = cmdline_words(fd, line, v, vlen, grub_keys[k]);
				break;
			}
	}
	return err;
}

/* ---- parse ---- */

int leftovers_parse(enum leftover_format fmt, const char *file, const char *text,
		    const struct leftover_ctx *ctx, struct leftover **v, size_t *n)
{
	struct found fd = { .file = file, .fmt = fmt, .ctx = ctx };
	int err;

	switch (fmt) {
	case LF_MODPROBE:
		err = parse_modprobe(&fd, text);
		break;
	case LF_MODULES_LOAD:
		err = parse_modules_load(&fd, text);
		break;
	case LF_INITRAMFS:
		err = parse_initramfs(&fd, text);
		break;
	default:
		err = parse_cmdline_file(&fd, text);
		break;
	}
	/* a finding half made (out of memory) is none */
	for (size_t i = 0; !err && i < fd.n; i++)
		if (!fd.v[i].text || !fd.v[i].what || !fd.v[i].fix)
			err = -ENOMEM;
	if (err) {
		leftovers_free(fd.v, fd.n);
		return err;
	}
	*v = fd.v;
	*n = fd.n;
	return 0;
}

void leftovers_free(struct leftover *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].text);
		free(v[i].what);
		free(v[i].fix);
		free(v[i].replacement);
		free(v[i].ids);
		free(v[i].modalias);
	}
	free(v);
}

/* ---- the files ---- */

static const struct {
	const char *dir;        /* a directory of files, or NULL */
	const char *path;       /* the file, or the suffix of the directory's files */
	enum leftover_format fmt;
	bool editable;          /* migrate may take lines out of it */
} places[] = {
	{ "/etc/modprobe.d", ".conf", LF_MODPROBE, true },
	{ NULL, "/etc/modules", LF_MODULES_LOAD, true },
	{ "/etc/modules-load.d", ".conf", LF_MODULES_LOAD, true },
	{ NULL, PERSIST_INITRAMFS_MODULES, LF_INITRAMFS, true },
	{ "/etc/dracut.conf.d", ".conf", LF_DRACUT, false },
	{ NULL, "/etc/default/grub", LF_GRUB, false },
	{ "/etc/default/grub.d", ".cfg", LF_GRUB, false },
	{ NULL, "/etc/kernel/cmdline", LF_KERNEL_CMDLINE, false },
};

int leftovers_format_of(const char *file)
{
	const char *slash = strrchr(file, '/');

	for (size_t i = 0; slash && i < ARRAY_SIZE(places); i++) {
		size_t dl = places[i].dir ? strlen(places[i].dir) : 0, sl = strlen(places[i].path);

		if (!places[i].dir && !strcmp(file, places[i].path))
			return (int)places[i].fmt;
		if (places[i].dir && (size_t)(slash - file) == dl && !strncmp(file, places[i].dir, dl) &&
		    strlen(slash + 1) > sl && !strcmp(file + strlen(file) - sl, places[i].path))
			return (int)places[i].fmt;
	}
	return -1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Append path to the list *v of *n. */
static int list_add(char ***v, size_t *n, char *path)
{
	char **nv;

	if (!path)
		return -ENOMEM;
	nv = realloc(*v, (*n + 2) * sizeof(*nv));
	if (!nv) {
		free(path);
		return -ENOMEM;
	}
	nv[(*n)++] = path;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

/* The files of place i that exist under the root, sorted by name. */
static int place_files(int rootfd, size_t i, char ***v, size_t *n)
{
	struct dir_iter it;
	const struct dirent64 *de;
	size_t first = *n, sl = strlen(places[i].path);
	int fd, err = 0;

	if (!places[i].dir)
		return list_add(v, n, strdup(places[i].path));
	fd = root_open(rootfd, places[i].dir, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return 0;
	dir_iter_init(&it, fd);
	while (!err && (de = dir_iter_next(&it))) {
		size_t len = strlen(de->d_name);

		if (len > sl && !strcmp(de->d_name + len - sl, places[i].path) && de->d_name[0] != '.')
			err = list_add(v, n, xasprintf("%s/%s", places[i].dir, de->d_name));
	}
	close(fd);
	if (!err && *v)
		qsort(*v + first, *n - first, sizeof(**v), cmp_str);
	return err;
}

int leftovers_editable_files(int rootfd, char ***list)
{
	char **all = NULL, **v = NULL;
	size_t nall = 0, n = 0;
	int err = 0;

	*list = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(places) && !err; i++)
		if (places[i].editable)
			err = place_files(rootfd, i, &all, &nall);
	for (size_t i = 0; i < nall && !err; i++) {
		const char *name;
		struct stat st;
		int dfd = root_open_parent(rootfd, all[i], &name);

		/* a regular file by that name: one migrate may have written */
		if (dfd < 0)
			continue;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			err = list_add(&v, &n, strdup(all[i]));
		close(dfd);
	}
	persist_free_list(all);
	if (!err && !v && !(v = calloc(1, sizeof(*v))))
		err = -ENOMEM;
	if (err) {
		persist_free_list(v);
		return err;
	}
	*list = v;
	return 0;
}

/* ---- the scan ---- */

struct seen {
	dev_t dev;
	ino_t ino;
};

/* The host drivers a blacklist must leave alone: the usual GPU modules and
 * the modules of the drivers of the host's display slots; nouveau not
 * where the kernel has NVIDIA's own driver (which needs nouveau off). */
static int host_drivers(const struct leftover_env *env, const char *kernel, char ***v)
{
	const char *const *usual = persist_usual_gpu_modules();
	const struct pci_host *h = env->host;
	enum kmod_where where;
	bool nvidia = kmodules_lookup(env->root, kernel, "nvidia", &where, NULL, 0) == 0 &&
		      where == KMOD_FILE;
	size_t n = 0;
	int err = 0;

	*v = NULL;
	for (size_t i = 0; usual[i] && !err; i++)
		if (!(nvidia && !strcmp(usual[i], "nouveau")))
			err = list_add(v, &n, strdup(usual[i]));
	for (size_t i = 0; h && i < h->nfuncs && !err;) {
		size_t count, first = pci_host_slot(h, &h->funcs[i].addr, &count);
		char mod[128];

		for (size_t k = first; pci_host_slot_is_display(h, first, count) && k < first + count &&
		     !err; k++) {
			const char *drv = h->funcs[k].driver;

			if (!drv[0] || !strcmp(drv, "vfio-pci") || !strcmp(drv, "pci-stub") ||
			    sysfs_driver_module(h->sfs, drv, mod, sizeof(mod)) < 0 ||
			    in_list((const char *const *)*v, mod) || (nvidia && !strcmp(mod, "nouveau")))
				continue;
			err = list_add(v, &n, strdup(mod));
		}
		i = first + (count ? count : 1);
	}
	if (!err && !*v)
		err = (*v = calloc(1, sizeof(**v))) ? 0 : -ENOMEM;
	return err;
}

/* Read the file inside the root (links followed there), once per file. */
static int read_once(int rootfd, const char *path, struct seen **seen, size_t *nseen, char **text)
{
	struct stat st;
	struct seen *v;
	size_t len;
	int err = root_read_file(rootfd, path, 0, MAX_TEXT, text, &len, &st);

	if (err)
		return err == -ENOMEM ? err : 0;
	for (size_t i = 0; i < *nseen; i++)
		if ((*seen)[i].dev == st.st_dev && (*seen)[i].ino == st.st_ino)
			goto skip;
	v = realloc(*seen, (*nseen + 1) * sizeof(*v));
	if (!v) {
		free(*text);
		*text = NULL;
		return -ENOMEM;
	}
	*seen = v;
	v[(*nseen)++] = (struct seen){ st.st_dev, st.st_ino };
	/* not text; or vfio-handover's own file */
	if (!memchr(*text, '\0', len) && strncmp(*text, PERSIST_HEADER, strlen(PERSIST_HEADER)))
		return 0;
skip:
	free(*text);
	*text = NULL;
	return 0;
}

static int scan_file(const struct leftover_ctx *ctx, int rootfd, const char *path,
		     enum leftover_format fmt, struct seen **seen, size_t *nseen,
		     struct leftover **v, size_t *n)
{
	struct leftover *found, *nv;
	size_t nfound;
	char *text = NULL;
	int err = read_once(rootfd, path, seen, nseen, &text);

	if (err || !text)
		return err;
	err = leftovers_parse(fmt, path, text, ctx, &found, &nfound);
	free(text);
	if (err || !nfound) {
		if (!err)
			free(found);
		return err;
	}
	nv = realloc(*v, (*n + nfound) * sizeof(*nv));
	if (!nv) {
		leftovers_free(found, nfound);
		return -ENOMEM;
	}
	memcpy(nv + *n, found, nfound * sizeof(*found));
	free(found);
	*v = nv;
	*n += nfound;
	return 0;
}

int leftovers_scan(const struct leftover_env *env, struct leftover **v, size_t *n)
{
	struct leftover_ctx ctx = { 0 };
	struct seen *seen = NULL;
	char kbuf[256], **drivers = NULL, **files = NULL;
	const char *kernel = env->kernel ? env->kernel : kmodules_running_release(kbuf, sizeof(kbuf));
	enum kmod_where where;
	size_t nseen = 0, nfiles = 0;
	int rootfd = root_dir_open(env->root), err;

	*v = NULL;
	*n = 0;
	if (rootfd < 0)
		return rootfd;
	err = host_drivers(env, kernel, &drivers);
	ctx.host_drivers = (const char *const *)drivers;
	ctx.kernel = kernel;
	ctx.virqfd_gone = kmodules_lookup(env->root, kernel, "vfio_virqfd", &where, NULL, 0) == 0 &&
			  where == KMOD_ABSENT;
	for (size_t i = 0; i < ARRAY_SIZE(places) && !err; i++) {
		size_t first = nfiles;

		err = place_files(rootfd, i, &files, &nfiles);
		for (size_t k = first; k < nfiles && !err; k++)
			err = scan_file(&ctx, rootfd, files[k], places[i].fmt, &seen, &nseen, v, n);
	}
	persist_free_list(files);
	persist_free_list(drivers);
	free(seen);
	close(rootfd);
	if (err) {
		leftovers_free(*v, *n);
		*v = NULL;
		*n = 0;
	}
	return err;
}

/* The present functions a line names, "0000:01:00.0, 0000:01:00.1", the
 * first few of them; "" for none. */
static void named_here(const struct pci_host *h, const struct leftover *l, char *buf, size_t len)
{
	char ab[PCI_ADDR_LEN];
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; h && i < h->nfuncs; i++) {
		if (!leftover_names(l, &h->funcs[i]))
			continue;
		if (n++ < 6)
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", n > 1 ? ", " : "",
				 pci_addr_fmt(&h->funcs[i].addr, ab));
	}
	if (n > 6)
		snprintf(buf + strlen(buf), len - strlen(buf), " and %zu more", n - 6);
}

char *leftover_message(const struct leftover *l, const char *root, const struct pci_host *h)
{
	char shown[SHOWN_LEN], file[512], here[200];

	root_show_path(root, l->file, file, sizeof(file));
	named_here(h, l, here, sizeof(here));
	return xasprintf("%s:%u: '%s' %s%s%s%s", file, l->line,
			 text_shown(l->text, strlen(l->text), shown), l->what,
			 here[0] ? " (here: " : "", here, here[0] ? ")" : "");
}

/* ---- taking lines out, putting them back ---- */

static bool starts(const char *s, size_t len, const char *prefix)
{
	size_t k = strlen(prefix);

	return len >= k && !memcmp(s, prefix, k);
}

bool leftovers_marked(const char *text)
{
	size_t pos = 0, s, e;

	while (text_next_line(text, &pos, &s, &e))
		if (starts(text + s, e - s, NOTE_TOOK) || starts(text + s, e - s, NOTE_CHANGED))
			return true;
	return false;
}

/* The finding of this file that starts at line, or NULL. */
static const struct leftover *starting_at(const char *file, const struct leftover *v, size_t n,
					  unsigned line)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].line == line && !v[i].cmdline && !strcmp(v[i].file, file))
			return &v[i];
	return NULL;
}

int leftovers_take_out(const char *text, const char *file, const struct leftover *v, size_t n,
		       char **out)
{
	struct text x;
	size_t pos = 0, s, e, want = 0, found = 0;
	unsigned line = 0;
	int err = 0;

	for (size_t i = 0; i < n; i++)
		want += !v[i].cmdline && !strcmp(v[i].file, file);
	if (text_open(&x))
		return -ENOMEM;
	while (!err && text_next_line(text, &pos, &s, &e)) {
		const struct leftover *l = starting_at(file, v, n, ++line);
		size_t start = s;

		if (!l) {
			fwrite(text + s, 1, e - s, x.f);
			continue;
		}
		found++;
		/* the lines it spans, as the scan read them */
		for (unsigned k = 1; k < l->nlines && text_next_line(text, &pos, &s, &e); k++)
			line++;
		if (strlen(l->text) != e - start - (text[e - 1] == '\n') ||
		    memcmp(l->text, text + start, strlen(l->text))) {
			err = -EINVAL;
			break;
		}
		for (size_t p = start, ls, le; !l->replacement && text_next_line(text, &p, &ls, &le) &&
		     ls < e;) {
			fputs(NOTE_TOOK, x.f);
			fwrite(text + ls, 1, le - ls, x.f);
		}
		if (l->replacement)
			fprintf(x.f, NOTE_CHANGED "%s\n%s%s", l->text, l->replacement,
				text[e - 1] == '\n' ? "\n" : "");
	}
	/* every line of this file as the scan read it, or the file changed since */
	if (!err && found != want)
		err = -EINVAL;
	return text_close(&x, err, out);
}

int leftovers_put_back(const char *text, const char *file, char **out, struct persist_problem *why)
{
	int fmt = leftovers_format_of(file);
	struct text x;
	size_t pos = 0, s, e, kt = strlen(NOTE_TOOK), kc = strlen(NOTE_CHANGED);
	unsigned line = 0;
	int err = 0;

	if (text_open(&x))
		return -ENOMEM;
	while (!err && text_next_line(text, &pos, &s, &e)) {
		size_t ns, ne, len = e - s - (text[e - 1] == '\n');
		char *want, sb[SHOWN_LEN], wb[SHOWN_LEN];

		line++;
		if (starts(text + s, len, NOTE_TOOK)) {
			fwrite(text + s + kt, 1, e - s - kt, x.f);
			continue;
		}
		if (!starts(text + s, len, NOTE_CHANGED)) {
			fwrite(text + s, 1, e - s, x.f);
			continue;
		}
		/* the line migrate left after its note must still be there, as it left it */
		want = fmt < 0 ? NULL : rewrite((enum leftover_format)fmt, text + s + kc, len - kc);
		if (!want) {
			problem_set(why, line, "this note of vfio-handover migrate quotes '%s', a line "
				    "migrate does not change", text_shown(text + s + kc, len - kc, sb));
			err = -ENOMSG;
			break;
		}
		if (!text_next_line(text, &pos, &ns, &ne) ||
		    ne - ns - (text[ne - 1] == '\n') != strlen(want) ||
		    memcmp(text + ns, want, strlen(want))) {
			problem_set(why, line, "the line after vfio-handover migrate's note is not the "
				    "'%s' migrate left there, so the line the note quotes, '%s', "
				    "cannot be put back in its place", text_shown(want, strlen(want), wb),
				    text_shown(text + s + kc, len - kc, sb));
			err = -ENOMSG;
			free(want);
			break;
		}
		free(want);
		line++;
		fwrite(text + s + kc, 1, len - kc, x.f);
		fwrite(text + ne - (text[ne - 1] == '\n'), 1, text[ne - 1] == '\n', x.f);
	}
	return text_close(&x, err, out);
}
