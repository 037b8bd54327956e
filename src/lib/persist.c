#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "atomic-file.h"
#include "kmodules.h"
#include "persist.h"
#include "util.h"

#define HEADER_LINE PERSIST_HEADER "; \"vfio-handover unpersist\" removes this file.\n"
#define BLOCK_BEGIN "# BEGIN vfio-handover"
#define BLOCK_END "# END vfio-handover"
#define BLOCK_NOTE ": \"vfio-handover unpersist\" removes this block"
#define NOTE_NONL " (the file had no final newline)"
#define NOTE_CREATED " (and the file, which it created)"
#define WAS "# was: "
#define CREATED_DIR "# created directory: "
#define APPLY_INSTEAD \
	"# \"vfio-handover apply\" hands the persisted functions over by address at boot instead.\n"
#define MAX_TEXT (1 << 20)

/* Every directory persist may create, parents first: devices.conf names
 * those it did create, so that unpersist removes them and no other. */
static const char *const known_dirs[] = {
	"/etc", "/etc/dracut.conf.d", "/etc/initramfs-tools", "/etc/modprobe.d",
	"/etc/modules-load.d", "/etc/vfio-handover",
};
#define NDIRS ARRAY_SIZE(known_dirs)

/* ---- text built in memory ---- */

struct text {
	FILE *f;
	char *s;
	size_t len;
};

static int text_open(struct text *x)
{
	x->s = NULL;
	x->len = 0;
	x->f = open_memstream(&x->s, &x->len);
	return x->f ? 0 : -ENOMEM;
}

/* Hand the string over, or free it when err or stdio failed. */
static int text_close(struct text *x, int err, char **out)
{
	if (fclose(x->f) != 0 && !err)
		err = -ENOMEM;
	if (err) {
		free(x->s);
		return err;
	}
	*out = x->s;
	return 0;
}

/* Caller-supplied text in a comment: a newline would end the comment and
 * turn the rest into a configuration line. */
static void put_comment_text(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s, f);
}

static void put_kernel(FILE *f, const struct persist_target *t)
{
	if (!t->kernel || !t->kernel[0]) {
		fputs("the target kernel", f);
		return;
	}
	fputs("kernel ", f);
	put_comment_text(f, t->kernel);
}

/* ---- rendering ---- */

/* What loads vfio-pci early; vfio_virqfd is its own module before 6.2 */
static const char *const vfio_modules_plain[] = { "vfio", "vfio_iommu_type1", "vfio_pci", NULL };
static const char *const vfio_modules_virqfd[] = {
	"vfio", "vfio_iommu_type1", "vfio_virqfd", "vfio_pci", NULL,
};

static const char *const *vfio_modules(const struct persist_target *t)
{
	return t->has_virqfd ? vfio_modules_virqfd : vfio_modules_plain;
}

static void put_virqfd_note(FILE *f, const struct persist_target *t)
{
	fputs(t->has_virqfd ? "# vfio_virqfd: " : "# No vfio_virqfd: ", f);
	put_kernel(f, t);
	fputs(t->has_virqfd ? " still has it as a module (it is gone from Linux 6.2).\n" :
			      " has no such module (it is part of vfio from Linux 6.2).\n", f);
}

static void put_module_lines(FILE *f, const char *const *mods)
{
	for (const char *const *m = mods; *m; m++)
		fprintf(f, "%s\n", *m);
}

int persist_render_modules_load(const struct persist_target *t, char **out)
{
	struct text x;
	int err = text_open(&x);

	if (err)
		return err;
	fputs(HEADER_LINE
	      "# Modules systemd-modules-load loads at boot, so that vfio-pci is there\n"
	      "# when \"vfio-handover apply\" runs.  One module name per line: options\n"
	      "# belong in /etc/modprobe.d, not here.  No vfio_virqfd: modprobe loads\n"
	      "# it with vfio_pci where the kernel still has it (before Linux 6.2),\n"
	      "# and a kernel booted later may not have it.\n", x.f);
	put_module_lines(x.f, vfio_modules_plain);
	return text_close(&x, 0, out);
}

int persist_render_initramfs_block(const struct persist_target *t, char **out)
{
	struct text x;
	int err = text_open(&x);

	if (err)
		return err;
	fputs("# Into the initramfs, to be loaded before the GPU's host drivers.\n"
	      "# One module name per line, no arguments.\n", x.f);
	put_virqfd_note(x.f, t);
	put_module_lines(x.f, vfio_modules(t));
	return text_close(&x, 0, out);
}

int persist_render_dracut(const struct persist_target *t, char **out)
{
	struct text x;
	int err = text_open(&x);

	if (err)
		return err;
	fputs(HEADER_LINE
	      "# Puts the vfio modules into the initramfs dracut builds, so that vfio-pci\n"
	      "# is there before the GPU's host drivers (add_drivers in dracut.conf(5)).\n", x.f);
	put_virqfd_note(x.f, t);
	fputs("add_drivers+=\" ", x.f);
	for (const char *const *m = vfio_modules(t); *m; m++)
		fprintf(x.f, "%s ", *m);
	fputs("\"\n", x.f);
	return text_close(&x, 0, out);
}

/* A name modprobe takes: no wildcard, no space, nothing a line could hide. */
static bool module_name_ok(const char *m)
{
	size_t n = strlen(m);

	if (!n || n >= 64)
		return false;
	for (; *m; m++)
		if (!isalnum((unsigned char)*m) && *m != '_' && *m != '-')
			return false;
	return true;
}


static int put_softdeps(FILE *f, const char *const *mods)
{
	for (size_t i = 0; mods && mods[i]; i++) {
		bool seen = kmodules_name_eq(mods[i], "vfio_pci");    /* no loop on itself */

		if (!module_name_ok(mods[i]))
			return -EINVAL;
		for (size_t j = 0; j < i && !seen; j++)
			seen = kmodules_name_eq(mods[i], mods[j]);
		if (!seen)
			fprintf(f, "softdep %s pre: vfio-pci\n", mods[i]);
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int put_ids(FILE *f, const struct persist_fn *fns, size_t n)
{
	uint32_t *ids;

	if (!n)
		return -EINVAL;
	ids = calloc(n, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		ids[i] = (uint32_t)fns[i].vendor << 16 | fns[i].device;
	qsort(ids, n, sizeof(*ids), cmp_u32);
	fputs("options vfio-pci ids=", f);
	for (size_t i = 0; i < n; i++)
		if (!i || ids[i] != ids[i - 1])
			fprintf(f, "%s%04x:%04x", i ? "," : "", ids[i] >> 16, ids[i] & 0xffffu);
	fputc('\n', f);
	free(ids);
	return 0;
}

static bool ids_ok(const struct persist_fn *fn)
{
	return fn->vendor <= 0xffff && fn->device <= 0xffff && fn->subvendor <= 0xffff &&
	       fn->subdevice <= 0xffff;
}

int persist_render_modprobe(const struct persist_target *t, const struct persist_fn *fns, size_t n,
			    char **out)
{
	struct text x;
	int err;

	for (size_t i = 0; i < n; i++)
		if (!ids_ok(&fns[i]))
			return -EINVAL;
	err = text_open(&x);
	if (err)
		return err;
	fputs(HEADER_LINE
	      "# Loads vfio-pci before each driver that could claim a persisted GPU\n"
	      "# function, so that vfio-pci can take it first at boot.\n"
	      "# No \"blacklist\" lines: blacklisting snd_hda_intel would silence every\n"
	      "# HD-audio device of the host, not only the GPU's; softdep does the job.\n", x.f);
	err = put_softdeps(x.f, t->softdep_modules);
	if (err)
		return text_close(&x, err, out);
	if (t->vfio_builtin) {
		fputs("# No \"options vfio-pci ids=\": vfio-pci is built into ", x.f);
		put_kernel(x.f, t);
		fputs(": modprobe.d options are ignored.\n" APPLY_INSTEAD, x.f);
	} else if (!t->ids_exclusive) {
		const char *why = t->ids_reason && t->ids_reason[0] ? t->ids_reason :
				  "these ids also match devices outside the selection";

		fputs("# No \"options vfio-pci ids=\": ", x.f);
		put_comment_text(x.f, why);
		fputs(why[strlen(why) - 1] == '.' ? "\n" : ".\n", x.f);
		fputs("# (ids= takes every device with those ids, including ones the host keeps.)\n"
		      APPLY_INSTEAD, x.f);
	} else {
		fputs("# ids= takes every device with these ids: no present device\n"
		      "# outside the persisted GPUs has them.\n", x.f);
		err = put_ids(x.f, fns, n);
	}
	return text_close(&x, err, out);
}

/* ---- devices.conf ---- */

/* The path names PCI functions joined by '/', the last one fn itself. */
static bool path_ok(const char *path, const struct pci_addr *fn)
{
	struct pci_addr a;
	char c[PCI_ADDR_LEN];
	size_t len;

	if (!path[0])
		return true;
	for (;;) {
		len = strcspn(path, "/");
		if (len != PCI_ADDR_LEN - 1)
			return false;
		memcpy(c, path, len);
		c[len] = '\0';
		if (pci_addr_parse(c, &a))
			return false;
		if (!path[len])
			return pci_addr_cmp(&a, fn) == 0;
		path += len + 1;
	}
}

/* Printable ASCII as is; a space, '%', any other byte and a lone "-" as %XX. */
static void put_slot(FILE *f, const char *slot)
{
	if (!slot[0]) {
		fputc('-', f);
		return;
	}
	if (strcmp(slot, "-") == 0) {
		fputs("%2d", f);
		return;
	}
	for (const unsigned char *p = (const unsigned char *)slot; *p; p++)
		if (*p > 0x20 && *p < 0x7f && *p != '%')
			fputc(*p, f);
		else
			fprintf(f, "%%%02x", *p);
}

static int cmp_fn(const void *a, const void *b)
{
	return pci_addr_cmp(&(*(const struct persist_fn *const *)a)->addr,
			    &(*(const struct persist_fn *const *)b)->addr);
}

static int check_fns(const struct persist_fn *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!ids_ok(v[i]) || !memchr(v[i]->phys_slot, '\0', sizeof(v[i]->phys_slot)) ||
		    !memchr(v[i]->path, '\0', sizeof(v[i]->path)) ||
		    !path_ok(v[i]->path, &v[i]->addr))
			return -EINVAL;
		if (i && pci_addr_cmp(&v[i - 1]->addr, &v[i]->addr) == 0)
			return -EINVAL;
	}
	return 0;
}

static void put_fn(FILE *f, const struct persist_fn *fn)
{
	char a[PCI_ADDR_LEN];

	fprintf(f, "%s %04x:%04x %04x:%04x slot=", pci_addr_fmt(&fn->addr, a), fn->vendor,
		fn->device, fn->subvendor, fn->subdevice);
	put_slot(f, fn->phys_slot);
	fprintf(f, " path=%s\n", fn->path[0] ? fn->path : "-");
}

int persist_render_devices_conf(const struct persist_fn *fns, size_t n, char **out)
{
	const struct persist_fn **v = calloc(n ? n : 1, sizeof(*v));
	struct text x;
	int err;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = &fns[i];
	/* sorted, so that the same selection always gives the same file */
	qsort(v, n, sizeof(*v), cmp_fn);
	err = check_fns(v, n);
	if (!err)
		err = text_open(&x);
	if (err)
		goto out;
	fputs(HEADER_LINE
	      "# The GPU functions handed to vfio-pci at every boot: \"vfio-handover apply\"\n"
	      "# (run by its boot-time service) reads this file and hands over each one\n"
	      "# present, skipping one that is missing or whose ids changed.\n"
	      "#\n"
	      "# One function per line, fields separated by spaces:\n"
	      "#   ADDRESS VENDOR:DEVICE SUBVENDOR:SUBDEVICE slot=SLOT path=PATH\n"
	      "# ADDRESS is domain:bus:device.function, each id 4 hex digits.  SLOT is\n"
	      "# the platform slot name, \"-\" if none (a space, \"%\", a byte outside\n"
	      "# printable ASCII, or a slot named \"-\", written %XX).  PATH is the chain\n"
	      "# of PCI addresses from the root port down to the function itself,\n"
	      "# joined by \"/\", \"-\" if unknown.\n"
	      "# Lines \"" CREATED_DIR "DIR\" name the directories persist created,\n"
	      "# which unpersist removes when they are empty.  Other lines starting\n"
	      "# with \"#\", and empty lines, are ignored.\n", x.f);
	for (size_t i = 0; i < n; i++)
		put_fn(x.f, v[i]);
	err = text_close(&x, 0, out);
out:
	free(v);
	return err;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "vvvv:dddd", exactly four hex digits each. */
static int parse_ids(const char *s, unsigned *a, unsigned *b)
{
	unsigned v[2] = { 0, 0 };

	if (strlen(s) != 9 || s[4] != ':')
		return -EBADMSG;
	for (int i = 0; i < 9; i++) {
		if (i == 4)
			continue;
		if (hexval((unsigned char)s[i]) < 0)
			return -EBADMSG;
		v[i > 4] = v[i > 4] * 16 + (unsigned)hexval((unsigned char)s[i]);
	}
	*a = v[0];
	*b = v[1];
	return 0;
}

static int parse_slot(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	if (strcmp(s, "-") == 0) {
		buf[0] = '\0';
		return 0;
	}
	for (; *s; s++) {
		int c = (unsigned char)*s;

		if (c == '%') {
			if (hexval((unsigned char)s[1]) < 0 || hexval((unsigned char)s[2]) < 0)
				return -EBADMSG;
			c = hexval((unsigned char)s[1]) * 16 + hexval((unsigned char)s[2]);
			s += 2;
		}
		if (!c || o + 1 >= len)
			return -EBADMSG;
		buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return o ? 0 : -EBADMSG;
}

/* One line of devices.conf: five fields, as put_fn writes them. */
static int parse_fn(char *line, struct persist_fn *fn)
{
	char *f[5], *save = NULL, *tok;
	int nf = 0;

	for (tok = strtok_r(line, " \t\r", &save); tok; tok = strtok_r(NULL, " \t\r", &save)) {
		if (nf == 5)
			return -EBADMSG;
		f[nf++] = tok;
	}
	memset(fn, 0, sizeof(*fn));
	if (nf != 5 || pci_addr_parse(f[0], &fn->addr) ||
	    parse_ids(f[1], &fn->vendor, &fn->device) ||
	    parse_ids(f[2], &fn->subvendor, &fn->subdevice) ||
	    strncmp(f[3], "slot=", 5) ||
	    parse_slot(f[3] + 5, fn->phys_slot, sizeof(fn->phys_slot)) ||
	    strncmp(f[4], "path=", 5) || !f[4][5] || strlen(f[4] + 5) >= sizeof(fn->path))
		return -EBADMSG;
	if (strcmp(f[4] + 5, "-") != 0)
		strcpy(fn->path, f[4] + 5);
	return path_ok(fn->path, &fn->addr) ? 0 : -EBADMSG;
}

static bool blank_or_comment(const char *line)
{
	line += strspn(line, " \t\r");
	return !*line || *line == '#';
}

static int add_fn(struct persist_fn **v, size_t *n, const struct persist_fn *fn)
{
	struct persist_fn *nv;

	for (size_t i = 0; i < *n; i++)
		if (pci_addr_cmp(&(*v)[i].addr, &fn->addr) == 0)
			return -EBADMSG;
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[(*n)++] = *fn;
	return 0;
}

static int parse_line(const char *text, size_t len, struct persist_fn **v, size_t *n)
{
	struct persist_fn fn;
	char *line = strndup(text, len);
	int err = 0;

	if (!line)
		return -ENOMEM;
	if (!blank_or_comment(line)) {
		err = parse_fn(line, &fn);
		if (!err)
			err = add_fn(v, n, &fn);
	}
	free(line);
	return err;
}

int persist_parse_devices_conf(const char *text, struct persist_fn **fns, size_t *n)
{
	struct persist_fn *v = NULL;
	size_t nv = 0;
	int err = 0;

	while (!err && *text) {
		size_t len = strcspn(text, "\n");

		err = parse_line(text, len, &v, &nv);
		text += len + (text[len] == '\n');
	}
	if (err) {
		free(v);
		return err;
	}
	*fns = v;
	*n = nv;
	return 0;
}

/* ---- managed blocks ---- */

struct block {
	size_t begin, body, end, after;    /* BEGIN line, body, END line, past END line */
	bool nonl, created;                /* notes on the BEGIN line */
};

/* The line at *pos: [*s, *e), *e past its '\n' or at the end of text. */
static bool next_line(const char *text, size_t *pos, size_t *s, size_t *e)
{
	const char *nl;

	if (!text[*pos])
		return false;
	*s = *pos;
	nl = strchr(text + *pos, '\n');
	*e = nl ? (size_t)(nl - text) + 1 : *pos + strlen(text + *pos);
	*pos = *e;
	return true;
}

static bool is_begin(const char *l, size_t len)
{
	size_t k = strlen(BLOCK_BEGIN);

	return len >= k && !memcmp(l, BLOCK_BEGIN, k) && (len == k || strchr(":( \r\n", l[k]));
}

static bool is_end(const char *l, size_t len)
{
	size_t k = strlen(BLOCK_END);

	if (len < k || memcmp(l, BLOCK_END, k))
		return false;
	for (size_t i = k; i < len; i++)
		if (!isspace((unsigned char)l[i]))
			return false;
	return true;
}

static bool line_has(const char *l, size_t len, const char *what)
{
	return memmem(l, len, what, strlen(what)) != NULL;
}

/* 1 and *b for a block, 0 for none, -EBADMSG when the markers do not pair up. */
static int find_block(const char *text, struct block *b)
{
	size_t pos = 0, s, e;
	int state = 0;      /* 0 before, 1 inside, 2 after the block */

	while (next_line(text, &pos, &s, &e)) {
		if (is_begin(text + s, e - s)) {
			if (state)
				return -EBADMSG;
			b->begin = s;
			b->body = e;
			b->nonl = line_has(text + s, e - s, NOTE_NONL);
			b->created = line_has(text + s, e - s, NOTE_CREATED);
			state = 1;
		} else if (is_end(text + s, e - s)) {
			if (state != 1)
				return -EBADMSG;
			b->end = s;
			b->after = e;
			state = 2;
		}
	}
	return state == 1 ? -EBADMSG : state == 2;
}

static void put_begin(FILE *f, bool nonl, bool created)
{
	fputs(BLOCK_BEGIN BLOCK_NOTE, f);
	if (nonl)
		fputs(NOTE_NONL, f);
	if (created)
		fputs(NOTE_CREATED, f);
	fputc('\n', f);
}

/* *created: the block says persist created the file. */
static int cut_block(const char *text, char **out, bool *created)
{
	struct block b;
	struct text x;
	size_t pos, s, e, n, k = strlen(WAS);
	int r = find_block(text, &b);

	*created = false;
	if (r <= 0) {
		if (!r && !(*out = strdup(text)))
			r = -ENOMEM;
		return r;
	}
	r = text_open(&x);
	if (r)
		return r;
	fwrite(text, 1, b.begin, x.f);
	/* the lines the block replaced, where they were */
	for (pos = b.body; pos < b.end && next_line(text, &pos, &s, &e);)
		if (e - s >= k && !memcmp(text + s, WAS, k))
			fwrite(text + s + k, 1, e - s - k, x.f);
	fputs(text + b.after, x.f);
	r = text_close(&x, 0, out);
	if (r)
		return r;
	/* the newline persist had to add, unless the user wrote after the block since */
	n = strlen(*out);
	if (b.nonl && !text[b.after] && n && (*out)[n - 1] == '\n')
		(*out)[n - 1] = '\0';
	*created = b.created;
	return 0;
}

int persist_cut_block(const char *text, char **out)
{
	bool created;

	return cut_block(text ? text : "", out, &created);
}

/* "" or whole lines, none a marker or a "# was: " line. */
static bool body_ok(const char *body)
{
	size_t pos = 0, s, e;

	if (body[0] && body[strlen(body) - 1] != '\n')
		return false;
	while (next_line(body, &pos, &s, &e))
		if (is_begin(body + s, e - s) || is_end(body + s, e - s) ||
		    !strncmp(body + s, WAS, strlen(WAS)))
			return false;
	return true;
}

static int set_block(const char *text, const char *body, bool created, char **out)
{
	struct block b;
	struct text x;
	int r;

	if (!body_ok(body))
		return -EINVAL;
	r = find_block(text, &b);
	if (r < 0)
		return r;
	if (text_open(&x))
		return -ENOMEM;
	if (r) {
		fwrite(text, 1, b.begin, x.f);
		put_begin(x.f, b.nonl, b.created);
		fputs(body, x.f);
		fputs(text + b.end, x.f);
	} else {
		bool nonl = text[0] && text[strlen(text) - 1] != '\n';

		fputs(text, x.f);
		if (nonl)
			fputc('\n', x.f);
		put_begin(x.f, nonl, created);
		fputs(body, x.f);
		fputs(BLOCK_END "\n", x.f);
	}
	return text_close(&x, 0, out);
}

int persist_set_block(const char *text, const char *body, char **out)
{
	return set_block(text ? text : "", body, false, out);
}

/* Does the line [l, l + len) assign key, as a shell or systemd reads it?
 * *val, *vlen: the value, unquoted. */
static bool assigns(const char *l, size_t len, const char *key, const char **val, size_t *vlen)
{
	const char *end = l + len, *v;
	size_t k = strlen(key);

	while (l < end && (*l == ' ' || *l == '\t'))
		l++;
	if (end - l > 7 && !memcmp(l, "export", 6) && (l[6] == ' ' || l[6] == '\t'))
		for (l += 6; l < end && (*l == ' ' || *l == '\t'); l++)
			;
	if ((size_t)(end - l) <= k || memcmp(l, key, k))
		return false;
	for (l += k; l < end && (*l == ' ' || *l == '\t'); l++)
		;
	if (l == end || *l != '=')
		return false;
	for (v = l + 1; v < end && isspace((unsigned char)*v); v++)
		;
	while (end > v && isspace((unsigned char)end[-1]))
		end--;
	if (end - v >= 2 && (*v == '"' || *v == '\'') && end[-1] == *v) {
		v++;
		end--;
	}
	*val = v;
	*vlen = (size_t)(end - v);
	return true;
}

static bool env_name_ok(const char *key)
{
	if (!isalpha((unsigned char)*key) && *key != '_')
		return false;
	for (; *key; key++)
		if (!isalnum((unsigned char)*key) && *key != '_')
			return false;
	return true;
}

/* Put the block where line [ls, le) of base was, keeping the line in it. */
static int replace_line(const char *base, size_t ls, size_t le, const char *key, const char *value,
			char **out)
{
	bool nonl = base[le - 1] != '\n';     /* the last line, without its newline */
	struct text x;

	if (text_open(&x))
		return -ENOMEM;
	fwrite(base, 1, ls, x.f);
	put_begin(x.f, nonl, false);
	fputs(WAS, x.f);
	fwrite(base + ls, 1, le - ls - !nonl, x.f);
	fprintf(x.f, "\n%s=%s\n" BLOCK_END "\n", key, value);
	fputs(base + le, x.f);
	return text_close(&x, 0, out);
}

int persist_set_env(const char *text, const char *key, const char *value, char **out)
{
	size_t pos = 0, s, e, ls = 0, le = 0, vlen = 0;
	const char *val = NULL, *v;
	char *base, *body;
	bool created;
	int err;

	if (!env_name_ok(key) || strpbrk(value, "\r\n"))
		return -EINVAL;
	/* from the file as it was before persist: re-setting never loses the line kept */
	err = cut_block(text ? text : "", &base, &created);
	if (err)
		return err;
	/* the last assignment is the one that wins */
	while (next_line(base, &pos, &s, &e))
		if (assigns(base + s, e - s, key, &v, &vlen)) {
			ls = s;
			le = e;
			val = v;
		}
	if (val && strlen(value) == vlen && !strncasecmp(val, value, vlen)) {
		*out = base;
		return 0;
	}
	if (val) {
		err = replace_line(base, ls, le, key, value, out);
	} else {
		body = xasprintf("%s=%s\n", key, value);
		err = body ? set_block(base, body, false, out) : -ENOMEM;
		free(body);
	}
	free(base);
	return err;
}

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

/* The file the last failure was about, for the message. */
static char last_path[PATH_MAX];

const char *persist_last_path(void)
{
	return last_path;
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

static int add_block(struct plan *p, const char *rel, const char *body)
{
	struct op *o;
	int err = plan_add(p, rel, &o);

	if (err)
		return err;
	return set_block(o->old ? o->old : "", body, !o->old, &o->new);
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
	err = persist_set_env(o->old, "ALEPH_VM_ENABLE_GPU_SUPPORT", "True", &o->new);
	if (!err && find_block(o->new, &b) <= 0)
		plan_drop_last(p);
	return err;
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

	while (next_line(text, &pos, &s, &e)) {
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
	ours = owned ? is_ours(text) : find_block(text, &b) != 0;
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
		err = cut_block(o->old, &o->new, &created);
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
	err = plan_remove(&p);
	if (!err)
		err = plan_run(&p);
	if (!err && removed)
		err = plan_list(&p, removed);
	plan_free(&p);
	return err;
}

int persist_read_devices(const char *root, struct persist_fn **fns, size_t *n)
{
	char path[PATH_MAX], *text;
	struct stat st;
	int err = root_path(root, PERSIST_DEVICES_CONF, path, sizeof(path));

	*fns = NULL;
	*n = 0;
	if (!err)
		err = read_text(path, false, &text, &st);
	if (err)
		return err;
	if (!text)
		return -ENOENT;
	err = persist_parse_devices_conf(text, fns, n);
	free(text);
	return err;
}
