/* --driver: which VFIO driver each function goes to (vfio-pci, the variant
 * its modalias finds in the kernel's index, or the one named), refused
 * where the choice cannot be kept, and the variants' modules loaded, their
 * PCI drivers' names read from the kernel. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cli-handover.h"
#include "json-out.h"
#include "kmod-dl.h"
#include "log.h"
#include "safety.h"

static bool is_plain(const char *asked)
{
	return !asked || kmodules_name_eq(asked, VFIO_PCI_MODULE);
}

static void set_plain(struct vfio_target *t)
{
	snprintf(t->module, sizeof(t->module), "%s", VFIO_PCI_MODULE);
	snprintf(t->driver, sizeof(t->driver), "%s", VFIO_PCI_DRIVER);
	t->alias[0] = '\0';
	t->variant = false;
}

/* A refusal of the choice: on stderr and in the document's "refusals". */
__attribute__((format(printf, 5, 6)))
static void refuse_choice(struct json_object *jref, enum check_id id, const struct pci_addr *a,
			  const char *fix, const char *fmt, ...)
{
	char ab[PCI_ADDR_LEN], text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_check(LOGL_ERROR, MSG_REFUSED, check_id_name(id), fix, "%s", text);
	json_refusal(jref, check_id_name(id), pci_addr_fmt(a, ab), text, fix, false);
}

/* Why the index could not be read, in words. */
static void index_problem(const struct vfio_choice_run *c, char *buf, size_t len)
{
	if (c->index_err == -ENOENT)
		snprintf(buf, len, "no module index (modules.dep.bin) for kernel %s", c->kver);
	else if (c->index_err == -ENOPKG)
		snprintf(buf, len, "libkmod cannot be loaded: %s", kmod_dl_error());
	else
		snprintf(buf, len, "the module index of kernel %s cannot be read: %s", c->kver,
			 strerror(-c->index_err));
}

static void index_warning(struct vfio_choice_run *c)
{
	char why[512];

	if (c->warned)
		return;
	c->warned = true;
	index_problem(c, why, sizeof(why));
	log_warn(MSG_VARIANT_LOOKUP, "run depmod for that kernel (or install libkmod2) to have its "
		 "variant drivers looked up", "--driver auto: %s: every function goes to vfio-pci", why);
}

/* The module behind NAME: a registered PCI driver's (its name may differ
 * from its module's), else NAME itself, a module's name or alias. */
static void named_module(struct cli *cli, const char *name, char *buf, size_t len)
{
	if (!sysfs_driver_registered(cli->sfs, name) || sysfs_driver_module(cli->sfs, name, buf, len))
		snprintf(buf, len, "%s", name);
}

/* What the run does with a function, for the fixes: bind and apply hand
 * it over now, persist at every boot. */
static const char *verb(const struct vfio_choice_run *c)
{
	return c->boot ? "persist it" : "hand it over";
}

/* --driver NAME for f: kept, or refused (-EPERM) with the reason. */
static int choose_named(struct cli *cli, struct vfio_choice_run *c, const struct pci_func *f,
			struct vfio_target *t)
{
	char mod[64], aliases[1024], fix[256], ab[PCI_ADDR_LEN];
	struct vfio_pick p;
	int err;

	pci_addr_fmt(&f->addr, ab);
	named_module(cli, t->asked, mod, sizeof(mod));
	log_fixf(fix, sizeof(fix), "%s with --driver auto (the variant made for it, else "
		 "vfio-pci), or name the driver its model needs", verb(c));
	if (c->index_err) {
		char why[512];

		index_problem(c, why, sizeof(why));
		refuse_choice(c->jref, CHECK_VFIO_DRIVER, &f->addr, "run depmod for that kernel, or "
			      "install libkmod2", "%s: cannot check that %s takes it: %s", ab, t->asked,
			      why);
		return -EPERM;
	}
	err = vfio_variant_named(&c->ix, mod, f->modalias, &p, aliases, sizeof(aliases));
	if (err == -ENOENT)
		refuse_choice(c->jref, CHECK_VFIO_DRIVER, &f->addr, fix, "%s: kernel %s has no module "
			      "%s (%s)", ab, c->kver, mod, c->ix.shown);
	else if (err == -EDOM && !aliases[0])
		refuse_choice(c->jref, CHECK_VFIO_DRIVER, &f->addr, fix, "%s: %s is no VFIO driver: it "
			      "declares no vfio_pci: alias", ab, p.module);
	else if (err == -EDOM)
		refuse_choice(c->jref, CHECK_VFIO_DRIVER, &f->addr, fix, "%s: %s is not made for it: "
			      "none of its aliases (%s) matches vfio_%s", ab, p.module, aliases,
			      f->modalias);
	else if (err < 0)
		refuse_choice(c->jref, CHECK_VFIO_DRIVER, &f->addr, fix, "%s: cannot look %s up in "
			      "kernel %s's modules: %s", ab, mod, c->kver, strerror(-err));
	if (err)
		return -EPERM;
	snprintf(t->module, sizeof(t->module), "%s", p.module);
	snprintf(t->alias, sizeof(t->alias), "%s", p.alias);
	t->variant = vfio_pick_variant(&p);
	if (!t->variant)
		set_plain(t);
	return 0;
}

/* A device known to need its variant goes to vfio-pci: its VM would get
 * a broken device.  Said, with what to do. */
static void warn_known(struct vfio_choice_run *c, const struct pci_func *f)
{
	const struct vfio_known_variant *k = vfio_known_variant(f->vendor, f->device);
	char ab[PCI_ADDR_LEN], fix[256];

	if (!k)
		return;
	log_fixf(fix, sizeof(fix), "boot a kernel that has %s (%s), or %s with --driver vfio-pci "
		 "knowingly", k->module, k->kernel, verb(c));
	log_warn(MSG_VARIANT_MISSING, fix, "%s: a %s is made for %s, which kernel %s does not have: "
		 "--driver auto gives it to vfio-pci, and a VM gets a GPU whose memory is not exposed "
		 "the way its driver needs", pci_addr_fmt(&f->addr, ab), k->model, k->module, c->kver);
}

/* --driver auto for f: the most specific, vfio-pci when none is better or
 * the index cannot be read (said once). */
static void choose_auto(struct vfio_choice_run *c, const struct pci_func *f, struct vfio_target *t)
{
	struct vfio_pick p;
	int err = c->index_err;

	set_plain(t);
	if (err) {
		index_warning(c);
		return;
	}
	err = vfio_variant_auto(&c->ix, f->modalias, &p);
	if (!err && vfio_pick_variant(&p)) {
		snprintf(t->module, sizeof(t->module), "%s", p.module);
		snprintf(t->alias, sizeof(t->alias), "%s", p.alias);
		t->driver[0] = '\0';
		t->variant = true;
		return;
	}
	warn_known(c, f);
	/* -ENOENT: not even vfio-pci has a vfio_pci: alias (before 5.15) */
	if (err && err != -ENOENT && !c->warned) {
		c->warned = true;
		log_warn(MSG_VARIANT_LOOKUP, NULL, "--driver auto: cannot look %s up in kernel %s's "
			 "modules: %s; vfio-pci", f->modalias, c->kver, strerror(-err));
	}
}

static int choose_one(struct cli *cli, struct vfio_choice_run *c, const struct pci_func *f,
		      struct vfio_target *t)
{
	char ab[PCI_ADDR_LEN];

	if (is_plain(t->asked)) {
		set_plain(t);
		return 0;
	}
	if (strcmp(t->asked, "auto") == 0)
		choose_auto(c, f, t);
	else if (choose_named(cli, c, f, t) < 0)
		return -EPERM;
	if (t->variant && cli->aleph) {
		char fix[300];

		pci_addr_fmt(&f->addr, ab);
		log_fixf(fix, sizeof(fix), "for the Aleph network, %s with --driver vfio-pci (a GPU "
			 "made for its variant, such as a GH200, may not work in a VM on plain vfio-pci); "
			 "for a VM of your own, without --aleph", verb(c));
		refuse_choice(c->jref, CHECK_ALEPH_DRIVER, &f->addr, fix, "%s: --aleph and the VFIO "
			      "variant driver %s: the Aleph supervisor counts only functions whose driver "
			      "is exactly vfio-pci, and would not offer this GPU", ab, t->module);
		return -EPERM;
	}
	return 0;
}

/* persist, for the running kernel: the name of the PCI driver a variant's
 * module registered, when it is loaded (else the boot learns it). */
static void boot_driver_name(struct cli *cli, const struct vfio_choice_run *c, struct vfio_target *t)
{
	char kbuf[256];

	t->driver[0] = '\0';
	if (t->variant && !strcmp(c->kver, kmodules_running_release(kbuf, sizeof(kbuf))) &&
	    sysfs_module_pci_driver(cli->sfs, t->module, t->driver, sizeof(t->driver)) < 0)
		t->driver[0] = '\0';
}

static int choose_all(struct cli *cli, struct vfio_choice_run *c, const struct pci_addr *fns,
		      size_t n, char *const *asked, struct vfio_target **out)
{
	struct vfio_target *t = calloc(n ? n : 1, sizeof(*t));
	bool any = false, refused = false;

	*out = t;
	if (!t) {
		log_error(MSG_OUT_OF_MEMORY, NULL, "out of memory");
		return EXIT_FAILED;
	}
	for (size_t i = 0; i < n; i++) {
		/* (persist's asked already says what --driver says) */
		const char *a = asked && asked[i] ? asked[i] : c->boot ? NULL : cli->driver;

		snprintf(t[i].asked, sizeof(t[i].asked), "%s", a ? a : VFIO_PCI_DRIVER);
		any |= !is_plain(t[i].asked);
	}
	if (any)
		c->index_err = kmodules_index_open(cli->root, c->kver, &c->ix);
	for (size_t i = 0; i < n; i++) {
		const struct pci_func *f = pci_host_find(&cli->host, &fns[i]);

		/* bind: already on a VFIO driver, it stays there */
		if (!f || (f->vfio && !c->boot))
			set_plain(&t[i]);
		else if (choose_one(cli, c, f, &t[i]) < 0)
			refused = true;
		else if (c->boot)
			boot_driver_name(cli, c, &t[i]);
	}
	if (!c->index_err)
		kmodules_index_close(&c->ix);
	return refused ? EXIT_REFUSED : EXIT_DONE;
}

int cli_vfio_choose(struct cli *cli, const struct pci_addr *fns, size_t n, char *const *asked,
		    struct json_object *jref, struct vfio_target **out)
{
	char kbuf[256];
	/* the running kernel's index: bind and apply hand over now */
	struct vfio_choice_run c = {
		.jref = jref, .index_err = -ENOENT, .kver = kmodules_running_release(kbuf, sizeof(kbuf)),
	};

	return choose_all(cli, &c, fns, n, asked, out);
}

int cli_vfio_choose_boot(struct cli *cli, const char *kver, const struct pci_addr *fns, size_t n,
			 char *const *asked, struct json_object *jref, struct vfio_target **out)
{
	struct vfio_choice_run c = { .jref = jref, .index_err = -ENOENT, .kver = kver, .boot = true };

	return choose_all(cli, &c, fns, n, asked, out);
}

/* Until the module has a PCI driver registered, within --timeout. */
static int wait_module_driver(struct cli *cli, const char *module, char *drv, size_t len)
{
	for (long waited = 0;; waited += 10) {
		struct timespec ts = { 0, 10 * 1000000L };

		if (sysfs_module_pci_driver(cli->sfs, module, drv, len) == 0)
			return 0;
		if (waited >= (long)(cli->timeout * 1000))
			return -ENOENT;
		nanosleep(&ts, NULL);
	}
}

/* One variant's module in the kernel, its driver's name from it. */
static int load_variant(struct cli *cli, struct vfio_target *t)
{
	int err;

	if (sysfs_module_pci_driver(cli->sfs, t->module, t->driver, sizeof(t->driver)) == 0)
		return EXIT_DONE;
	if (cli->dry_run) {
		/* its driver's name is the kernel's to say, once it is loaded */
		snprintf(t->driver, sizeof(t->driver), "%s", t->module);
		cli_plan(cli, "load", NULL, NULL, t->module, NULL, "load module %s (libkmod, with its "
			 "dependencies); driver_override then names the PCI driver it registers "
			 "(/sys/module/%s/drivers/pci:NAME)", t->module, t->module);
		return EXIT_DONE;
	}
	if (!sysfs_is_live(cli->sfs)) {
		log_error(MSG_VARIANT_UNAVAILABLE, NULL, "%s has registered no PCI driver in %s/module, "
			  "and modules are loaded only into the running kernel", t->module, cli->sysfs);
		return EXIT_FAILED;
	}
	err = kmodules_load(t->module);
	if (!err)
		err = wait_module_driver(cli, t->module, t->driver, sizeof(t->driver));
	if (err) {
		log_error(MSG_VARIANT_UNAVAILABLE, "see dmesg; --driver vfio-pci hands it over without "
			  "the variant", "cannot load %s: %s", t->module,
			  err == -ENOPKG ? kmod_dl_error() : err == -ENOENT ? "it registered no PCI "
			  "driver" : strerror(-err));
		return EXIT_FAILED;
	}
	log_info("loaded %s: PCI driver %s", t->module, t->driver);
	return EXIT_DONE;
}

/* The driver a variant module registered is a VFIO driver: the kernel says
 * so (its module holds vfio_pci_core), whatever it is called. */
static int check_vfio(struct cli *cli, const struct vfio_target *t)
{
	if (cli->dry_run && strcmp(t->driver, t->module) == 0 &&
	    !sysfs_driver_registered(cli->sfs, t->driver))
		return EXIT_DONE;       /* not loaded: nothing to ask yet */
	if (sysfs_driver_vfio(cli->sfs, t->driver) != SYSFS_VFIO_NO)
		return EXIT_DONE;
	log_error(MSG_VARIANT_UNAVAILABLE, "name a VFIO variant driver, or use --driver auto",
		  "%s registered the PCI driver %s, which is no VFIO driver (its module does not "
		  "hold vfio_pci_core): nothing was handed over", t->module, t->driver);
	return EXIT_FAILED;
}

int cli_vfio_load(struct cli *cli, const struct pci_addr *fns, size_t n, struct vfio_target *t)
{
	bool plain = false;
	int rc = EXIT_DONE;

	for (size_t i = 0; i < n && !rc; i++) {
		const struct pci_func *f = pci_host_find(&cli->host, &fns[i]);

		if (f && f->vfio)
			continue;
		if (!t[i].variant) {
			plain = true;
			continue;
		}
		/* the same module for another function: its driver known already */
		for (size_t k = 0; k < i; k++)
			if (t[k].variant && t[k].driver[0] && !strcmp(t[k].module, t[i].module))
				snprintf(t[i].driver, sizeof(t[i].driver), "%s", t[k].driver);
		if (!t[i].driver[0])
			rc = load_variant(cli, &t[i]);
		if (!rc)
			rc = check_vfio(cli, &t[i]);
	}
	if (!rc && plain)
		rc = cli_ensure_vfio(cli);
	return rc;
}
