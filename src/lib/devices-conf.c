/* /etc/vfio-handover/devices.conf: the persisted functions, one per line,
 * rendered and parsed back. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "kmodules.h"
#include "persist-text.h"

enum path_fault { PATH_OK, PATH_MALFORMED, PATH_NOT_FN };

/* The path names PCI functions joined by '/', the last one fn itself. */
static enum path_fault path_check(const char *path, const struct pci_addr *fn)
{
	struct pci_addr a;
	char c[PCI_ADDR_LEN];
	size_t len;

	if (!path[0])
		return PATH_OK;
	for (;;) {
		len = strcspn(path, "/");
		if (len != PCI_ADDR_LEN - 1)
			return PATH_MALFORMED;
		memcpy(c, path, len);
		c[len] = '\0';
		if (pci_addr_parse(c, &a))
			return PATH_MALFORMED;
		if (!path[len])
			return pci_addr_cmp(&a, fn) == 0 ? PATH_OK : PATH_NOT_FN;
		path += len + 1;
	}
}

/* An address the files can say: pci_addr_fmt would change another. */
static bool addr_ok(const struct pci_addr *a)
{
	return a->dev <= 31 && a->fn <= 7;
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

/* A variant's module, and its driver's name when known; both "" or neither
 * for vfio-pci. */
static bool variant_ok(const struct persist_fn *fn)
{
	if (!memchr(fn->vfio_module, '\0', sizeof(fn->vfio_module)) ||
	    !memchr(fn->vfio_driver, '\0', sizeof(fn->vfio_driver)))
		return false;
	if (!fn->vfio_module[0])
		return !fn->vfio_driver[0];
	return persist_name_ok(fn->vfio_module) && (!fn->vfio_driver[0] || persist_name_ok(fn->vfio_driver));
}

int persist_fns_sorted(const struct persist_fn *fns, size_t n, const struct persist_fn ***sorted)
{
	const struct persist_fn **v = calloc(n ? n : 1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = &fns[i];
	qsort(v, n, sizeof(*v), cmp_fn);
	for (size_t i = 0; i < n; i++) {
		if (!addr_ok(&v[i]->addr) || !persist_fn_ids_ok(v[i]) || !variant_ok(v[i]) ||
		    (i && pci_addr_cmp(&v[i - 1]->addr, &v[i]->addr) == 0)) {
			free(v);
			return -EINVAL;
		}
	}
	*sorted = v;
	return 0;
}

/* What devices.conf adds: a slot and a path it can write and read back. */
static int check_fns(const struct persist_fn *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!memchr(v[i]->phys_slot, '\0', sizeof(v[i]->phys_slot)) ||
		    !memchr(v[i]->path, '\0', sizeof(v[i]->path)) ||
		    path_check(v[i]->path, &v[i]->addr) != PATH_OK)
			return -EINVAL;
	return 0;
}

static void put_fn(FILE *f, const struct persist_fn *fn)
{
	char a[PCI_ADDR_LEN];

	fprintf(f, "%s %04x:%04x %04x:%04x slot=", pci_addr_fmt(&fn->addr, a), fn->vendor,
		fn->device, fn->subvendor, fn->subdevice);
	put_slot(f, fn->phys_slot);
	fprintf(f, " path=%s", fn->path[0] ? fn->path : "-");
	if (persist_fn_variant(fn))
		fprintf(f, " driver=%s module=%s", fn->vfio_driver[0] ? fn->vfio_driver : "-",
			fn->vfio_module);
	fputc('\n', f);
}

static bool any_variant(const struct persist_fn *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (persist_fn_variant(v[i]))
			return true;
	return false;
}

int persist_render_devices_conf(const struct persist_fn *fns, size_t n, char **out)
{
	const struct persist_fn **v;
	struct text x;
	int err = persist_fns_sorted(fns, n, &v);

	if (err)
		return err;
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
	/* (said only where it applies: a file without a variant stays as it was) */
	if (any_variant(v, n))
		fputs("# A function handed to a VFIO variant driver instead of vfio-pci\n"
		      "# (--driver) has two more fields:\n"
		      "#   driver=DRIVER module=MODULE\n"
		      "# DRIVER is the PCI driver's name as the kernel gave it (what\n"
		      "# driver_override gets; \"-\" if the module was not loaded to say it:\n"
		      "# apply learns it at boot), MODULE the module that registers it.\n"
		      "# Without them, a function goes to vfio-pci.\n", x.f);
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

/* ---- parsed back: each fault said with the line it is on ---- */

#define DEVICES_LINE_MAX 1024   /* persist writes under 400 bytes a line */
#define FIELDS "(a line is ADDRESS VENDOR:DEVICE SUBVENDOR:SUBDEVICE slot=SLOT path=PATH)"

static const char *const field_names[] = {
	"ADDRESS", "VENDOR:DEVICE", "SUBVENDOR:SUBDEVICE", "slot=SLOT", "path=PATH",
};
#define NFIELDS 5
#define NFIELDS_VARIANT 7       /* driver=DRIVER module=MODULE after path=PATH */
#define VARIANT_FIELDS "(a function for a VFIO variant driver ends with driver=DRIVER module=MODULE)"

static const char *shown(const char *s, char buf[SHOWN_LEN])
{
	return text_shown(s, strlen(s), buf);
}

/* "dddd:bb:dd.f": which part is wrong, when pci_addr_parse says one is. */
static int parse_addr(const char *s, struct pci_addr *a, struct persist_problem *why)
{
	char sb[SHOWN_LEN];
	bool form = strlen(s) == 12 && s[4] == ':' && s[7] == ':' && s[10] == '.';

	if (!pci_addr_parse(s, a))
		return 0;
	for (int i = 0; form && i < 12; i++)
		form = i == 4 || i == 7 || i == 10 || hexval((unsigned char)s[i]) >= 0;
	if (form && hexval((unsigned char)s[11]) > 7)
		return problem_set(why, 0, "the address '%s' has function %c: a function is 0 to 7", s,
				   s[11]);
	if (form)
		return problem_set(why, 0, "the address '%s' has device %.2s: a device is 00 to 1f", s,
				   s + 8);
	return problem_set(why, 0, "the address '%s' is not DOMAIN:BUS:DEVICE.FUNCTION in hex "
			   "(as 0000:01:00.0)", shown(s, sb));
}

/* "vvvv:dddd", exactly four hex digits each. */
static int parse_ids(const char *s, const char *what, unsigned *a, unsigned *b,
		     struct persist_problem *why)
{
	unsigned v[2] = { 0, 0 };
	char sb[SHOWN_LEN];
	bool ok = strlen(s) == 9 && s[4] == ':';

	for (int i = 0; ok && i < 9; i++) {
		if (i == 4)
			continue;
		ok = hexval((unsigned char)s[i]) >= 0;
		v[i > 4] = v[i > 4] * 16 + (unsigned)hexval((unsigned char)s[i]);
	}
	if (!ok)
		return problem_set(why, 0, "the %s ids '%s' are not four hex digits each", what,
				   shown(s, sb));
	*a = v[0];
	*b = v[1];
	return 0;
}

/* put_slot's escapes undone; "-" is none. */
static int parse_slot(const char *s, char *buf, size_t len, struct persist_problem *why)
{
	const char *field = s;
	char sb[SHOWN_LEN];
	size_t o = 0;

	if (strcmp(s, "-") == 0) {
		buf[0] = '\0';
		return 0;
	}
	if (!*s)
		return problem_set(why, 0, "the slot is empty: slot=- means none");
	for (; *s; s++) {
		int c = (unsigned char)*s;

		if (c <= 0x20 || c >= 0x7f)
			return problem_set(why, 0, "the slot '%s' is not printable ASCII: write each other "
					   "byte as %%XX", shown(field, sb));
		if (c == '%') {
			if (hexval((unsigned char)s[1]) < 0 || hexval((unsigned char)s[2]) < 0 ||
			    (s[1] == '0' && s[2] == '0'))
				return problem_set(why, 0, "the slot '%s' has a bad escape: '%%' takes two "
						   "hex digits, not 00", shown(field, sb));
			c = hexval((unsigned char)s[1]) * 16 + hexval((unsigned char)s[2]);
			s += 2;
		}
		if (o + 1 < len)
			buf[o] = (char)c;
		o++;
	}
	if (o + 1 > len)
		return problem_set(why, 0, "the slot '%s' is longer than %zu bytes", shown(field, sb),
				   len - 1);
	buf[o] = '\0';
	return 0;
}

/* "-" is unknown. */
static int parse_path(const char *s, const struct pci_addr *fn, char *buf, size_t len,
		      struct persist_problem *why)
{
	char sb[SHOWN_LEN], ab[PCI_ADDR_LEN];

	if (!*s)
		return problem_set(why, 0, "the path is empty: path=- means unknown");
	if (strcmp(s, "-") == 0) {
		buf[0] = '\0';
		return 0;
	}
	if (strlen(s) >= len)
		return problem_set(why, 0, "the path '%s' is longer than %zu bytes", shown(s, sb), len - 1);
	switch (path_check(s, fn)) {
	case PATH_OK:
		break;
	case PATH_MALFORMED:
		return problem_set(why, 0, "the path '%s' is not PCI addresses joined by '/'", shown(s, sb));
	case PATH_NOT_FN:
		return problem_set(why, 0, "the path '%s' does not end at %s itself", shown(s, sb),
				   pci_addr_fmt(fn, ab));
	}
	strcpy(buf, s);
	return 0;
}

/* driver=DRIVER module=MODULE: "-" is a driver not known yet; vfio-pci
 * spelled out is no variant. */
static int parse_variant(char *const *f, int nf, struct persist_fn *fn, struct persist_problem *why)
{
	char sb[SHOWN_LEN];
	const char *drv, *mod;

	if (strncmp(f[0], "module=", 7) == 0)
		return problem_set(why, 0, "the field '%s' is not driver=DRIVER " VARIANT_FIELDS,
				   shown(f[0], sb));
	if (strncmp(f[0], "driver=", 7))
		return problem_set(why, 0, "an extra field '%s' after path=PATH " FIELDS, shown(f[0], sb));
	if (nf < 2 || strncmp(f[1], "module=", 7))
		return problem_set(why, 0, "the field module=MODULE is missing after driver=DRIVER "
				   VARIANT_FIELDS);
	drv = f[0] + 7;
	mod = f[1] + 7;
	if (strcmp(drv, "-") && !persist_name_ok(drv))
		return problem_set(why, 0, "the driver '%s' is not a driver's name (letters, digits, '_' "
				   "and '-'), nor '-'", shown(drv, sb));
	if (!persist_name_ok(mod))
		return problem_set(why, 0, "the module '%s' is not a module's name (letters, digits, "
				   "'_' and '-')", shown(mod, sb));
	if (nf > 2)
		return problem_set(why, 0, "an extra field '%s' after module=MODULE " FIELDS,
				   shown(f[2], sb));
	if (kmodules_name_eq(mod, "vfio_pci"))
		return 0;
	snprintf(fn->vfio_module, sizeof(fn->vfio_module), "%s", mod);
	snprintf(fn->vfio_driver, sizeof(fn->vfio_driver), "%s", strcmp(drv, "-") ? drv : "");
	return 0;
}

/* One line of devices.conf: five fields, as put_fn writes them, each
 * checked in turn so that the first one wrong is the one named; then a
 * variant's two. */
static int parse_fn(char *line, struct persist_fn *fn, struct persist_problem *why)
{
	char *f[NFIELDS_VARIANT + 1], *save = NULL, *tok, sb[SHOWN_LEN];
	int nf = 0, err = 0;

	for (tok = strtok_r(line, " \t", &save); tok && nf <= NFIELDS_VARIANT;
	     tok = strtok_r(NULL, " \t", &save))
		f[nf++] = tok;
	memset(fn, 0, sizeof(*fn));
	for (int i = 0; !err && i < NFIELDS; i++) {
		if (i >= nf)
			return problem_set(why, 0, "the field %s is missing " FIELDS, field_names[i]);
		if (i == 0)
			err = parse_addr(f[0], &fn->addr, why);
		else if (i == 1)
			err = parse_ids(f[1], "vendor:device", &fn->vendor, &fn->device, why);
		else if (i == 2)
			err = parse_ids(f[2], "subsystem", &fn->subvendor, &fn->subdevice, why);
		else if (i == 3 && strncmp(f[3], "slot=", 5))
			err = problem_set(why, 0, "the field '%s' is not slot=SLOT", shown(f[3], sb));
		else if (i == 3)
			err = parse_slot(f[3] + 5, fn->phys_slot, sizeof(fn->phys_slot), why);
		else if (strncmp(f[4], "path=", 5))
			err = problem_set(why, 0, "the field '%s' is not path=PATH", shown(f[4], sb));
		else
			err = parse_path(f[4] + 5, &fn->addr, fn->path, sizeof(fn->path), why);
	}
	if (!err && nf > NFIELDS)
		err = parse_variant(f + NFIELDS, nf - NFIELDS, fn, why);
	return err;
}

static bool blank_or_comment(const char *line)
{
	line += strspn(line, " \t");
	return !*line || *line == '#';
}

/* The functions parsed so far, and the line each is on. */
struct parsed {
	struct persist_fn *v;
	unsigned *line;
	size_t n;
};

static void parsed_free(struct parsed *p)
{
	free(p->v);
	free(p->line);
}

static int add_fn(struct parsed *p, const struct persist_fn *fn, unsigned line,
		  struct persist_problem *why)
{
	struct persist_fn *nv;
	unsigned *nl;
	char ab[PCI_ADDR_LEN];

	for (size_t i = 0; i < p->n; i++)
		if (pci_addr_cmp(&p->v[i].addr, &fn->addr) == 0)
			return problem_set(why, line, "%s is listed twice (line %u)",
					   pci_addr_fmt(&fn->addr, ab), p->line[i]);
	nv = realloc(p->v, (p->n + 1) * sizeof(*nv));
	if (nv)
		p->v = nv;
	nl = realloc(p->line, (p->n + 1) * sizeof(*nl));
	if (nl)
		p->line = nl;
	if (!nv || !nl)
		return -ENOMEM;
	p->v[p->n] = *fn;
	p->line[p->n++] = line;
	return 0;
}

/* Line number line, [s, s + len) without its '\n'. */
static int parse_line(const char *s, size_t len, unsigned line, struct parsed *p,
		      struct persist_problem *why)
{
	struct persist_fn fn;
	char *copy;
	int err = 0;

	if (memchr(s, '\0', len))
		return problem_set(why, line, "a NUL byte: devices.conf is text");
	if (len > DEVICES_LINE_MAX)
		return problem_set(why, line, "the line is longer than %d bytes", DEVICES_LINE_MAX);
	/* CRLF: a file saved by an editor that writes them */
	if (len && s[len - 1] == '\r')
		len--;
	copy = strndup(s, len);
	if (!copy)
		return -ENOMEM;
	if (!blank_or_comment(copy)) {
		err = parse_fn(copy, &fn, why);
		if (err == -EBADMSG && why)
			why->line = line;
		if (!err)
			err = add_fn(p, &fn, line, why);
	}
	free(copy);
	return err;
}

static int parse_all(const char *text, size_t len, struct parsed *p, struct persist_problem *why)
{
	size_t pos = 0;
	unsigned line = 1;
	int err = 0;

	memset(p, 0, sizeof(*p));
	while (!err && pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl ? (size_t)(nl - text) : len;

		err = parse_line(text + pos, end - pos, line++, p, why);
		pos = end + 1;
	}
	if (err)
		parsed_free(p);
	return err;
}

int persist_parse_devices_conf(const char *text, size_t len, struct persist_fn **fns, size_t *n,
			       struct persist_problem *why)
{
	struct parsed p;
	int err = parse_all(text, len, &p, why);

	if (err)
		return err;
	free(p.line);
	*fns = p.v;
	*n = p.n;
	return 0;
}

static bool fn_same(const struct persist_fn *a, const struct persist_fn *b)
{
	return pci_addr_cmp(&a->addr, &b->addr) == 0 && a->vendor == b->vendor &&
	       a->device == b->device && a->subvendor == b->subvendor &&
	       a->subdevice == b->subdevice && !strcmp(a->phys_slot, b->phys_slot) &&
	       !strcmp(a->path, b->path) && !strcmp(a->vfio_module, b->vfio_module) &&
	       !strcmp(a->vfio_driver, b->vfio_driver);
}

int persist_check_devices_conf(const char *text, const struct persist_fn *fns, size_t n,
			       struct persist_problem *why)
{
	struct parsed p;
	char ab[PCI_ADDR_LEN];
	int err = parse_all(text, strlen(text), &p, why);

	if (err)
		return err;
	if (p.n != n)
		err = problem_set(why, 0, "it lists %zu functions, not %zu", p.n, n);
	for (size_t i = 0; !err && i < p.n; i++) {
		size_t k = 0;

		while (k < n && pci_addr_cmp(&fns[k].addr, &p.v[i].addr))
			k++;
		if (k == n || !fn_same(&fns[k], &p.v[i]))
			err = problem_set(why, p.line[i], "%s does not read back as it was rendered",
					  pci_addr_fmt(&p.v[i].addr, ab));
	}
	parsed_free(&p);
	return err;
}
