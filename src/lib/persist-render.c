/* The boot files persist writes, rendered from what it learned: modprobe.d
 * (softdeps, ids=), modules-load.d, the initramfs module list, dracut. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "kmodules.h"
#include "persist-text.h"

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
	if (!t->has_virqfd && t->virqfd_lacking && t->virqfd_lacking[0]) {
		fputs("# No vfio_virqfd: the initramfs of every installed kernel reads this\n"
		      "# list, and kernel ", f);
		put_comment_text(f, t->virqfd_lacking);
		fputs(" has no such module (it is part of vfio from\n"
		      "# Linux 6.2); where a kernel still has it, as ", f);
		put_kernel(f, t);
		fputs(" does,\n# vfio_pci loads it as a dependency.\n", f);
		return;
	}
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

/* The variants' modules are names a line can hold. */
static int variants_ok(const struct persist_target *t)
{
	for (const char *const *m = t->variant_modules; m && *m; m++)
		if (!persist_name_ok(*m))
			return -EINVAL;
	return 0;
}

/* After vfio_pci: the VFIO variant drivers' modules, one per line. */
static void put_variant_lines(FILE *f, const struct persist_target *t)
{
	if (!t->variant_modules || !t->variant_modules[0])
		return;
	fputs("# A VFIO variant driver of a persisted function (devices.conf's module=):\n", f);
	put_module_lines(f, t->variant_modules);
}

int persist_render_modules_load(const struct persist_target *t, char **out)
{
	struct text x;
	int err = variants_ok(t) ?: text_open(&x);

	if (err)
		return err;
	fputs(HEADER_LINE
	      "# Modules systemd-modules-load loads at boot, so that vfio-pci is there\n"
	      "# when \"vfio-handover apply\" runs.  One module name per line: options\n"
	      "# belong in /etc/modprobe.d, not here.  No vfio_virqfd: modprobe loads\n"
	      "# it with vfio_pci where the kernel still has it (before Linux 6.2),\n"
	      "# and a kernel booted later may not have it.\n", x.f);
	put_module_lines(x.f, vfio_modules_plain);
	put_variant_lines(x.f, t);
	return text_close(&x, 0, out);
}

int persist_render_initramfs_block(const struct persist_target *t, char **out)
{
	struct text x;
	int err = variants_ok(t) ?: text_open(&x);

	if (err)
		return err;
	fputs("# Into the initramfs, to be loaded before the GPU's host drivers.\n"
	      "# One module name per line, no arguments.\n", x.f);
	put_virqfd_note(x.f, t);
	put_module_lines(x.f, vfio_modules(t));
	put_variant_lines(x.f, t);
	return text_close(&x, 0, out);
}

int persist_render_dracut(const struct persist_target *t, char **out)
{
	struct text x;
	int err = variants_ok(t) ?: text_open(&x);

	if (err)
		return err;
	fputs(HEADER_LINE
	      "# Puts the vfio modules into the initramfs dracut builds, so that vfio-pci\n"
	      "# is there before the GPU's host drivers (add_drivers in dracut.conf(5)).\n", x.f);
	put_virqfd_note(x.f, t);
	fputs("add_drivers+=\" ", x.f);
	for (const char *const *m = vfio_modules(t); *m; m++)
		fprintf(x.f, "%s ", *m);
	for (const char *const *m = t->variant_modules; m && *m; m++)
		fprintf(x.f, "%s ", *m);
	fputs("\"\n"
	      "# And the udev rule that gives the persisted functions to vfio-pci as\n"
	      "# they are added (install_items: dracut's udev takes only the rules it knows).\n"
	      "install_items+=\" " PERSIST_UDEV_RULE " \"\n", x.f);
	return text_close(&x, 0, out);
}

/* A name modprobe takes: no wildcard, no space, nothing a line could hide. */
static bool module_name_ok(const char *m)
{
	return persist_name_ok(m);
}


/* A module softdep'ed on itself would loop: vfio-pci, or a variant. */
static bool is_vfio_module(const struct persist_target *t, const char *m)
{
	if (kmodules_name_eq(m, "vfio_pci"))
		return true;
	for (const char *const *v = t->variant_modules; v && *v; v++)
		if (kmodules_name_eq(m, *v))
			return true;
	return false;
}

/* "softdep HOST pre: vfio-pci [VARIANT...]" for each host driver's module. */
static int put_softdeps(FILE *f, const struct persist_target *t)
{
	const char *const *mods = t->softdep_modules;

	for (size_t i = 0; mods && mods[i]; i++) {
		bool seen = is_vfio_module(t, mods[i]);

		if (!module_name_ok(mods[i]))
			return -EINVAL;
		for (size_t j = 0; j < i && !seen; j++)
			seen = kmodules_name_eq(mods[i], mods[j]);
		if (seen)
			continue;
		fprintf(f, "softdep %s pre: vfio-pci", mods[i]);
		for (const char *const *v = t->variant_modules; v && *v; v++)
			fprintf(f, " %s", *v);
		fputc('\n', f);
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The ids of vfio-pci's functions (none of the variants'), sorted. */
static int put_ids(FILE *f, const struct persist_fn *fns, size_t n)
{
	uint32_t *ids;
	size_t k = 0;

	if (!n)
		return -EINVAL;
	ids = calloc(n, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!persist_fn_variant(&fns[i]))
			ids[k++] = (uint32_t)fns[i].vendor << 16 | fns[i].device;
	qsort(ids, k, sizeof(*ids), cmp_u32);
	fputs("options vfio-pci ids=", f);
	for (size_t i = 0; i < k; i++)
		if (!i || ids[i] != ids[i - 1])
			fprintf(f, "%s%04x:%04x", i ? "," : "", ids[i] >> 16, ids[i] & 0xffffu);
	fputc('\n', f);
	free(ids);
	return 0;
}

/* Why ids= would take a function from its variant driver: every function
 * goes to one, or a function for vfio-pci has a variant's ids.  NULL when
 * ids= takes only vfio-pci's. */
const char *persist_variant_ids_conflict(const struct persist_fn *fns, size_t n, char *buf,
					size_t len)
{
	const struct persist_fn *plain = NULL;
	char ab[PCI_ADDR_LEN];

	for (size_t i = 0; i < n && !plain; i++)
		if (!persist_fn_variant(&fns[i]))
			plain = &fns[i];
	if (n && !plain)
		return "every persisted function goes to a VFIO variant driver, and ids= would give it to "
		       "vfio-pci first";
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; persist_fn_variant(&fns[i]) && k < n; k++) {
			if (persist_fn_variant(&fns[k]) || fns[k].vendor != fns[i].vendor ||
			    fns[k].device != fns[i].device)
				continue;
			snprintf(buf, len, "%04x:%04x is also %s, which goes to the VFIO variant driver "
				 "%s: ids= would give it to vfio-pci first", fns[i].vendor, fns[i].device,
				 pci_addr_fmt(&fns[i].addr, ab), fns[i].vfio_module);
			return buf;
		}
	}
	return NULL;
}

int persist_render_modprobe(const struct persist_target *t, const struct persist_fn *fns, size_t n,
			    char **out)
{
	char conflict[256];
	const char *variant_why;
	struct text x;
	int err;

	for (size_t i = 0; i < n; i++)
		if (!persist_fn_ids_ok(&fns[i]))
			return -EINVAL;
	err = variants_ok(t) ?: text_open(&x);
	if (err)
		return err;
	variant_why = persist_variant_ids_conflict(fns, n, conflict, sizeof(conflict));
	fputs(HEADER_LINE
	      "# Loads vfio-pci before each driver that could claim a persisted GPU\n"
	      "# function, so that vfio-pci can take it first at boot.\n"
	      "# No \"blacklist\" lines: blacklisting snd_hda_intel would silence every\n"
	      "# HD-audio device of the host, not only the GPU's; softdep does the job.\n", x.f);
	err = put_softdeps(x.f, t);
	if (err)
		return text_close(&x, err, out);
	if (t->vfio_builtin) {
		fputs("# No \"options vfio-pci ids=\": vfio-pci is built into ", x.f);
		put_kernel(x.f, t);
		fputs(": modprobe.d options are ignored.\n" APPLY_INSTEAD, x.f);
	} else if (!t->ids_exclusive || variant_why) {
		const char *why = variant_why ? variant_why : t->ids_reason && t->ids_reason[0] ?
				  t->ids_reason : "these ids also match devices outside the selection";

		fputs("# No \"options vfio-pci ids=\": ", x.f);
		put_comment_text(x.f, why);
		fputs(why[strlen(why) - 1] == '.' ? "\n" : ".\n", x.f);
		if (!variant_why)
			fputs("# (ids= takes every device with those ids, including ones the host keeps.)\n", x.f);
		fputs(APPLY_INSTEAD, x.f);
	} else {
		fputs("# ids= takes every device with these ids: no present device\n"
		      "# outside the persisted GPUs has them.\n", x.f);
		err = put_ids(x.f, fns, n);
	}
	return text_close(&x, err, out);
}


/* The rest of a softdep line after "pre: vfio-pci": " MODULE" each, the
 * VFIO variant drivers put_softdeps adds, one space before each. */
static bool variant_tail(const char *s, size_t len)
{
	char m[64];

	while (len) {
		size_t k = 1;

		if (s[0] != ' ')
			return false;
		while (k < len && s[k] != ' ')
			k++;
		if (k - 1 >= sizeof(m))
			return false;
		memcpy(m, s + 1, k - 1);
		m[k - 1] = '\0';
		if (!module_name_ok(m))
			return false;
		s += k;
		len -= k;
	}
	return true;
}

/* "softdep NAME pre: vfio-pci [VARIANT...]", as put_softdeps writes it:
 * NAME in m */
static bool softdep_line(const char *line, size_t len, char *m, size_t mlen)
{
	static const char head[] = "softdep ", mid[] = " pre: vfio-pci";
	size_t hl = sizeof(head) - 1, ml = sizeof(mid) - 1, nl;
	const char *sp;

	if (len <= hl + ml || strncmp(line, head, hl))
		return false;
	sp = memchr(line + hl, ' ', len - hl);
	if (!sp || (size_t)(line + len - sp) < ml || strncmp(sp, mid, ml))
		return false;
	nl = (size_t)(sp - line) - hl;
	if (nl >= mlen)
		return false;
	memcpy(m, line + hl, nl);
	m[nl] = '\0';
	return module_name_ok(m) && variant_tail(sp + ml, (size_t)(line + len - sp) - ml);
}

int persist_parse_softdeps(const char *text, char ***mods)
{
	char **v = calloc(1, sizeof(*v)), m[64];
	size_t n = 0;

	for (const char *p = text; v && *p;) {
		const char *eol = strchrnul(p, '\n');

		if (softdep_line(p, (size_t)(eol - p), m, sizeof(m))) {
			char **nv = realloc(v, (n + 2) * sizeof(*v));

			if (!nv || !(nv[n] = strdup(m))) {
				persist_free_list(nv ? nv : v);
				v = NULL;
				break;
			}
			v = nv;
			v[++n] = NULL;
		}
		p = *eol ? eol + 1 : eol;
	}
	*mods = v;
	return v ? 0 : -ENOMEM;
}
