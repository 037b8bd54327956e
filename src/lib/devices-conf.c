/* /etc/vfio-handover/devices.conf: the persisted functions, one per line,
 * rendered and parsed back. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "persist-text.h"

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
		if (!persist_fn_ids_ok(v[i]) || !memchr(v[i]->phys_slot, '\0', sizeof(v[i]->phys_slot)) ||
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

