#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include "checks.h"
#include "cli.h"
#include "json-out.h"
#include "locks.h"
#include "log.h"
#include "persist.h"
#include "safety.h"
#include "util.h"

/* /proc, when it is a procfs: decided by the filesystem, as for sysfs. */
static const char *proc_mounted(void)
{
	struct statfs fs;

	if (statfs("/proc", &fs) == 0 && fs.f_type == PROC_SUPER_MAGIC)
		return "/proc";
	log_warn(MSG_NO_PROCFS, "mount it (mount -t proc proc /proc)",
		 "/proc is not a procfs: the processes that hold devices cannot be looked at");
	return NULL;
}

int cli_open(struct cli *cli, bool names, unsigned needs, bool lean)
{
	char fix[4200];
	int err;

	err = sysfs_open(cli->sysfs, &cli->sfs);
	if (err < 0) {
		log_error(MSG_SYSFS_UNREADABLE, "pass --sysfs with the root of a sysfs tree",
			  "cannot open sysfs at %s: %s", cli->sysfs, strerror(-err));
		return EXIT_FAILED;
	}
	sysfs_set_read_timeout(cli->sfs, (int)(cli->timeout * 1000));
	/* a failure here is the first request's to report */
	if (cli->cmd && cli->cmd->writes && sysfs_is_live(cli->sfs) && !cli->dry_run)
		sysfs_writer_start(cli->sfs);
	cli->procroot = sysfs_is_live(cli->sfs) ? proc_mounted() : NULL;
	cli->lean = lean;
	err = lean ? pci_host_list(cli->sfs, &cli->host) :
		     pci_host_load_needs(cli->sfs, &cli->host, needs);
	if (err < 0) {
		log_error(MSG_SYSFS_UNREADABLE, log_fixf(fix, sizeof(fix), "is %s a sysfs tree?", cli->sysfs),
			  "cannot read %s/bus/pci/devices: %s", cli->sysfs, strerror(-err));
		return EXIT_FAILED;
	}
	/* names are a help, not a need: stable output without them on request */
	if (names && !getenv("VFIO_HANDOVER_NO_HWDB"))
		cli->names = names_open();
	return EXIT_DONE;
}

int cli_reload(struct cli *cli)
{
	int err;

	/* (read whole: what another run changed may be anywhere) */
	pci_host_free(&cli->host);
	cli->lean = false;
	err = pci_host_load_needs(cli->sfs, &cli->host, cli->json ? PCI_NEED_ALL : cli->cmd->needs);
	if (err < 0) {
		log_error(MSG_SYSFS_UNREADABLE, NULL, "cannot read %s/bus/pci/devices again: %s",
			  cli->sysfs, strerror(-err));
		return EXIT_FAILED;
	}
	return EXIT_DONE;
}

int cli_reread(struct cli *cli, const struct pci_addr *fns, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct pci_func *f = pci_host_find(&cli->host, &fns[i]);

		/* one gone meanwhile keeps what was read: the engine finds it gone */
		if (f) {
			struct pci_func now;

			if (pci_func_load_needs(cli->sfs, &fns[i], &now, f->loaded) == 0)
				*f = now;
		}
	}
	return EXIT_DONE;
}

void cli_close(struct cli *cli)
{
	locks_release(cli->group_locks);
	locks_release(cli->persist_lock);
	cli->group_locks = cli->persist_lock = NULL;
	pci_host_free(&cli->host);
	sysfs_close(cli->sfs);
	names_close(cli->names);
	free(cli->named);
	cli->named = NULL;
	for (size_t i = 0; i < cli->nforced; i++)
		free(cli->forced[i].message);
	free(cli->forced);
	cli->forced = NULL;
	cli->nforced = 0;
	cli->sfs = NULL;
	cli->names = NULL;
}

int cli_resolve(struct cli *cli, struct pci_addr **slots, size_t *nslots)
{
	struct selector *sels;
	char why[160];
	size_t bad = 0;
	int err, rc = EXIT_DONE;

	*slots = NULL;
	*nslots = 0;
	if (!cli->nargs)
		return EXIT_DONE;
	sels = calloc((size_t)cli->nargs, sizeof(*sels));
	if (!sels) {
		log_error(MSG_OUT_OF_MEMORY, NULL, "out of memory");
		return EXIT_FAILED;
	}
	for (int i = 0; i < cli->nargs; i++)
		if (selector_parse(cli->args[i], &sels[i], why, sizeof(why)) < 0) {
			log_error(MSG_BAD_SELECTOR, NULL, "bad selector '%s': %s", cli->args[i], why);
			rc = EXIT_USAGE;
			goto out;
		}
	/* a listed host: vendor:device needs every function's ids */
	for (int i = 0; cli->lean && i < cli->nargs; i++)
		if (sels[i].kind == SEL_ID)
			pci_host_read_all(&cli->host, cli->cmd->needs);
	err = selector_resolve(&cli->host, sels, (size_t)cli->nargs, slots, nslots, &bad);
	if (!err)
		err = selector_named(sels, (size_t)cli->nargs, &cli->named, &cli->nnamed);
	/* a listed host: the GPUs selected read, with their IOMMU groups */
	if (!err && cli->lean)
		err = pci_host_read(&cli->host, *slots, *nslots, cli->cmd->needs);
	if (err == -ENOENT) {
		log_error(MSG_NO_SUCH_DEVICE, "vfio-handover list --all shows the functions there",
			  "selector '%s' matches no PCI function in %s", cli->args[bad], cli->sysfs);
		rc = EXIT_USAGE;
	} else if (err < 0) {
		log_error(MSG_SYSTEM_ERROR, NULL, "cannot resolve selectors: %s", strerror(-err));
		rc = EXIT_FAILED;
	}
out:
	free(sels);
	return rc;
}

void cli_fill_slots(struct cli *cli, const struct pci_addr *slots, size_t nslots, unsigned needs)
{
	struct pci_host *h = &cli->host;

	for (size_t i = 0; i < h->nfuncs; i++) {
		struct pci_func *f = &h->funcs[i];
		size_t count, first = pci_host_slot(h, &f->addr, &count);

		/* the selected slots, or (none) every slot check looks at */
		if (nslots ? !safety_in_slots(slots, nslots, &f->addr) :
			     !pci_host_slot_maybe_display(h, first, count))
			continue;
		pci_func_load_more(cli->sfs, f, needs);
		/* the link of the port above: what the GPU's can run at most */
		if (needs & PCI_NEED_LINK && f->has_upstream)
			pci_host_fill(h, &f->upstream, 1, PCI_NEED_LINK);
	}
}

void cli_check_env(struct cli *cli, struct check_env *env)
{
	memset(env, 0, sizeof(*env));
	env->host = &cli->host;
	env->names = cli->names;
	env->root = cli->root;
	env->kernel = cli->kernel;
	env->live = sysfs_is_live(cli->sfs);
	env->timeout_ms = (int)(cli->timeout * 1000);
	env->procroot = cli->procroot;
	env->named = cli->named;
	env->nnamed = cli->nnamed;
}

/* A GPU slot's non-GPU function (a NIC) that was not named stays where it
 * is, even when nothing holds it. */
int cli_functions(struct cli *cli, const struct pci_addr *slots, size_t nslots,
		  struct pci_addr **fns, size_t *nfns)
{
	struct selection sel = { slots, nslots, cli->named, cli->nnamed };
	size_t kept = 0;

	if (safety_slot_functions(&cli->host, slots, nslots, fns, nfns) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < *nfns; i++) {
		const struct pci_func *f = pci_host_find(&cli->host, &(*fns)[i]);

		if (f && safety_selected(&cli->host, &sel, f))
			(*fns)[kept++] = (*fns)[i];
	}
	*nfns = kept;
	return 0;
}

void cli_plan(struct cli *cli, const char *action, const char *path, const char *value,
	      const char *module, const char *command, const char *fmt, ...)
{
	struct json_object *planned = json_doc_array(cli, "planned"), *o;
	va_list ap;

	va_start(ap, fmt);
	vfprintf(cli->json ? stderr : stdout, fmt, ap);
	va_end(ap);
	fputc('\n', cli->json ? stderr : stdout);
	if (!planned)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "action", json_object_new_string(action));
	json_object_object_add(o, "path", path ? json_object_new_string(path) : NULL);
	json_object_object_add(o, "value", value ? json_object_new_string(value) : NULL);
	json_object_object_add(o, "module", module ? json_object_new_string(module) : NULL);
	json_object_object_add(o, "command", command ? json_object_new_string(command) : NULL);
	json_object_array_add(planned, o);
}

void cli_engine_plan(void *data, const char *path, const char *value, const char *text)
{
	struct cli *cli = data;

	if (path)
		cli_plan(cli, "write", path, value, NULL, NULL, "%s", text);
	else
		cli_plan(cli, "load", NULL, NULL, value, NULL, "%s", text);
}

void cli_persisted_error(const struct cli *cli, int err, const struct persist_problem *why,
			 const char *outcome)
{
	const char *root = root_is_host(cli->root) ? "" : cli->root;

	/* one way out, whichever command met the file */
	if (why->what[0] && why->line)
		log_error(MSG_DEVICES_CONF, "correct that line, or remove everything persisted with "
			  "vfio-handover unpersist (no selector)", "%s%s:%u: %s; %s", root,
			  PERSIST_DEVICES_CONF, why->line, why->what, outcome);
	else if (why->what[0])
		log_error(MSG_DEVICES_CONF, NULL, "%s%s: %s; %s", root, PERSIST_DEVICES_CONF, why->what,
			  outcome);
	else
		log_error(MSG_DEVICES_CONF, NULL, "cannot read %s%s: %s; %s", root, PERSIST_DEVICES_CONF,
			  strerror(-err), outcome);
}
