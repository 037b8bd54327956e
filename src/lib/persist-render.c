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
	fputs("\"\n"
	      "# And the udev rule that gives the persisted functions to vfio-pci as\n"
	      "# they are added (install_items: dracut's udev takes only the rules it knows).\n"
	      "install_items+=\" " PERSIST_UDEV_RULE " \"\n", x.f);
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

int persist_render_modprobe(const struct persist_target *t, const struct persist_fn *fns, size_t n,
			    char **out)
{
	struct text x;
	int err;

	for (size_t i = 0; i < n; i++)
		if (!persist_fn_ids_ok(&fns[i]))
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


/* "softdep NAME pre: vfio-pci", as put_softdeps writes it: NAME in m */
static bool softdep_line(const char *line, size_t len, char *m, size_t mlen)
{
	static const char head[] = "softdep ", tail[] = " pre: vfio-pci";
	size_t hl = sizeof(head) - 1, tl = sizeof(tail) - 1, nl;

	if (len <= hl + tl || strncmp(line, head, hl) || strncmp(line + len - tl, tail, tl))
		return false;
	nl = len - hl - tl;
	if (nl >= mlen)
		return false;
	memcpy(m, line + hl, nl);
	m[nl] = '\0';
	return module_name_ok(m);
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
