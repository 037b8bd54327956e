/* persist, unpersist: the boot configuration that makes a hand-over
 * survive a reboot, written and removed exactly (persist.c), then the
 * initramfs refreshed so that early boot sees it too. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cap-ng.h>
#include "aleph.h"
#include "cli-handover.h"
#include "cli-persist.h"
#include "json-out.h"
#include "leftovers.h"
#include "log.h"
#include "persist-target.h"
#include "root-path.h"
#include "util.h"
#include "vfio-variant.h"


/* /etc is root's: say so before anything, like bind does for /sys.  Then
 * the persisted files' lock: what persist and unpersist read, they write
 * back changed, and no other run may change them in between. */
int cli_persist_lock(struct cli *cli, const char *cmd)
{
	bool waited;

	if (root_is_host(cli->root) && !cli->dry_run && geteuid() != 0 &&
	    !capng_have_capability(CAPNG_EFFECTIVE, CAP_DAC_OVERRIDE)) {
		log_error(MSG_NOT_PERMITTED, "run it with sudo", "%s writes the boot configuration "
			  "in /etc and refreshes the initramfs: it needs root", cmd);
		return EXIT_NOPERM;
	}
	return cli_lock_run(cli, cmd, NULL, 0, true, &waited);
}

/* Every file persist writes, with what unpersist does to it; the
 * directories it made go too (devices.conf names them). */
static const struct persisted_file {
	const char *path;
	bool shared;            /* a managed block in a file of the user's */
} persisted_files[] = {
	{ PERSIST_DEVICES_CONF, false },
	{ PERSIST_MODPROBE_CONF, false },
	{ PERSIST_MODULES_LOAD_CONF, false },
	{ PERSIST_DRACUT_CONF, false },
	{ PERSIST_INITRAMFS_MODULES, true },
	{ PERSIST_UDEV_RULE, false },
	{ PERSIST_SUPERVISOR_ENV, true },
};

/* What a file of persisted_files holds now ("" with no file). */
static char *file_now(int rootfd, const char *path)
{
	char *text = NULL;

	if (rootfd < 0 || root_read_file(rootfd, path, O_NOFOLLOW, 1 << 20, &text, NULL, NULL) < 0)
		return strdup("");
	return text ? text : strdup("");
}

/* --dry-run of unpersist: the files whose lines migrate took out, put back. */
static void plan_put_back(struct cli *cli, int rootfd)
{
	char **files = NULL, shown[4096];

	if (leftovers_editable_files(rootfd, &files) < 0)
		return;
	for (char **f = files; *f; f++) {
		char *text = file_now(rootfd, *f);

		root_show_path(cli->root, *f, shown, sizeof(shown));
		if (text && leftovers_marked(text))
			cli_plan(cli, "edit-file", shown, NULL, NULL, NULL, "  put back in %s the lines "
				 "vfio-handover migrate took out", shown);
		free(text);
	}
	persist_free_list(files);
}

/* --dry-run of unpersist without a selector: each file of persist's there. */
static void plan_remove_all(struct cli *cli)
{
	int rootfd = root_dir_open(cli->root);
	char shown[4096];

	fprintf(cli->json ? stderr : stdout, "remove what persist wrote under %s/etc\n",
		root_is_host(cli->root) ? "" : cli->root);
	for (size_t i = 0; rootfd >= 0 && i < ARRAY_SIZE(persisted_files); i++) {
		const struct persisted_file *f = &persisted_files[i];
		char *text = file_now(rootfd, f->path);
		bool ours = f->shared ? text && strstr(text, "# BEGIN vfio-handover") :
				        text && !strncmp(text, PERSIST_HEADER, strlen(PERSIST_HEADER));

		root_show_path(cli->root, f->path, shown, sizeof(shown));
		if (ours)
			cli_plan(cli, f->shared ? "edit-file" : "remove-file", shown, NULL, NULL, NULL,
				 "  %s %s", f->shared ? "edit" : "remove", shown);
		free(text);
	}
	if (rootfd >= 0)
		plan_put_back(cli, rootfd);
	if (rootfd >= 0)
		close(rootfd);
}

/* all + "PATH\nLENGTH\nCONTENT" of a file, all freed; NULL: out of memory. */
static char *state_add(int rootfd, char *all, const char *path)
{
	char *text = all ? file_now(rootfd, path) : NULL, *next;

	next = text ? xasprintf("%s%s\n%zu\n%s", all, path, strlen(text), text) : NULL;
	free(text);
	free(all);
	return next;
}

/* Every persisted file's content, and of the files migrate edits, one
 * string, to tell whether a run changed any (NULL: out of memory, taken
 * as changed). */
char *cli_persist_state(const struct cli *cli)
{
	int rootfd = root_dir_open(cli->root);
	char *all = strdup(""), **edited = NULL;

	for (size_t i = 0; all && i < ARRAY_SIZE(persisted_files); i++)
		all = state_add(rootfd, all, persisted_files[i].path);
	if (rootfd >= 0 && leftovers_editable_files(rootfd, &edited) < 0) {
		free(all);
		all = NULL;
	}
	for (char **f = edited; all && f && *f; f++)
		all = state_add(rootfd, all, *f);
	persist_free_list(edited);
	if (rootfd >= 0)
		close(rootfd);
	return all;
}

static const char *builder_cmd(bool dracut)
{
	return dracut ? "dracut --regenerate-all --force" : "update-initramfs -u -k all";
}

/* Early boot reads modules and modprobe.d from the initramfs. */
int cli_persist_initramfs(struct cli *cli, struct persist_run *p)
{
	char *upd[] = { "update-initramfs", "-u", "-k", "all", NULL };
	char *drc[] = { "dracut", "--regenerate-all", "--force", NULL };
	const char *cmd = builder_cmd(p->facts.dracut);
	int rc;

	p->initramfs = "skipped";
	if (cli->dry_run) {
		p->initramfs = cli->no_initramfs ? "skipped" : "planned";
		if (!cli->no_initramfs && root_is_host(cli->root))
			cli_plan(cli, "run", NULL, NULL, NULL, cmd, "run %s", cmd);
		return EXIT_DONE;
	}
	if (cli->no_initramfs && cli->kernel) {
		/* the kernel's postinst.d hook: the next hook builds its initramfs */
		log_info("initramfs not refreshed (--no-initramfs): kernel %s boots with these files "
			 "once its initramfs is built (installing it does) or refreshed (%s)",
			 cli->kernel, cmd);
		return EXIT_DONE;
	}
	if (cli->no_initramfs) {
		log_info("initramfs not refreshed (--no-initramfs): run %s before the next boot", cmd);
		return EXIT_DONE;
	}
	if (!root_is_host(cli->root)) {
		log_info("initramfs of %s not refreshed from here: run chroot %s %s", cli->root,
			 cli->root, cmd);
		return EXIT_DONE;
	}
	log_info("running %s", cmd);
	rc = cli_spawn(p->facts.dracut ? drc : upd, cli->json);
	p->initramfs_status = rc;
	if (rc == 0) {
		p->initramfs = "ran";
		return EXIT_DONE;
	}
	p->initramfs = "failed";
	if (rc < 0)
		log_error(MSG_INITRAMFS_FAILED, "install it or run it yourself before the next boot",
			  "cannot run %s: %s; the files are written", cmd, strerror(-rc));
	else
		log_error(MSG_INITRAMFS_FAILED, "fix what it said and run it again before the next "
			  "boot", "%s failed (exit status %d); the files are written", cmd, rc);
	return EXIT_FAILED;
}

/* Is a file of the list (ROOT/etc/...) still there, found inside the root? */
static bool still_there(int rootfd, const struct cli *cli, const char *shown)
{
	size_t k = root_is_host(cli->root) ? 0 : strlen(cli->root);
	int fd;

	if (rootfd < 0 || strncmp(shown, cli->root ? cli->root : "", k))
		return false;
	fd = root_open(rootfd, shown + k, O_PATH, 0);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* verb NULL: "restored" for what is still there (edited back), else "removed" */
void cli_persist_print_files(struct cli *cli, char **files, const char *verb)
{
	int rootfd;

	if (cli->json)
		return;
	rootfd = verb ? -1 : root_dir_open(cli->root);
	for (char **f = files; f && *f; f++)
		printf("  %s %s\n", verb ? verb : still_there(rootfd, cli, *f) ? "restored" : "removed", *f);
	if (rootfd >= 0)
		close(rootfd);
}

void cli_persist_explain(struct cli *cli, const struct persist_facts *pf)
{
	if (pf->vfio_builtin)
		log_info("vfio-pci is built into kernel %s: it ignores modprobe.d options, so the udev "
			 "rule (as the GPU is added) and the boot service (vfio-handover apply) hand the "
			 "GPU over", pf->kernel);
	else if (!pf->ids_exclusive)
		log_info("no 'options vfio-pci ids=' line: %s; the udev rule (as the GPU is added) and "
			 "the boot service (vfio-handover apply) hand the GPU over by address",
			 pf->ids_reason);
	if (!cli->json && !cli->dry_run && root_is_host(cli->root))
		printf("at the next boot vfio-handover.service runs apply; if it is not enabled: "
		       "systemctl enable vfio-handover.service\n");
}

/* ids= and softdeps, for every function p->pfns holds. */
static int facts_of_set(struct cli *cli, struct persist_run *p)
{
	char conflict[256];
	const char *why;
	struct pci_addr *addrs = calloc(p->n ? p->n : 1, sizeof(*addrs));
	struct journal j = { 0 };
	int err;

	if (!addrs)
		return -ENOMEM;
	for (size_t i = 0; i < p->n; i++)
		addrs[i] = p->pfns[i].addr;
	persist_facts_ids(&cli->host, addrs, p->n, &p->facts);
	/* ids= would give a variant's function to vfio-pci first */
	why = persist_variant_ids_conflict(p->pfns, p->n, conflict, sizeof(conflict));
	if (p->facts.ids_exclusive && why) {
		snprintf(p->facts.ids_reason, sizeof(p->facts.ids_reason), "%s", why);
		p->facts.ids_exclusive = false;
	}
	/* a function already on vfio-pci: its host driver is in the journal */
	err = cli_load_journal(cli, &j) ? -EBADMSG : 0;
	if (!err)
		err = persist_facts_softdeps(cli->sfs, &cli->host, &j, addrs, p->n, &p->facts);
	journal_free(&j);
	free(addrs);
	return err;
}

/* GPUs persisted earlier stay persisted: persist adds to the set. */
static int keep_earlier(struct cli *cli, struct persist_run *p, size_t *kept)
{
	struct persist_problem why = { 0 };
	struct persist_fn *old, *v;
	size_t nold;
	int err = persist_read_devices(cli->root, &old, &nold, &why);

	*kept = 0;
	if (err == -ENOENT)
		return 0;
	if (err < 0) {
		cli_persisted_error(cli, err, &why, "persist changed nothing");
		return err;
	}
	v = realloc(p->pfns, (p->n + nold) * sizeof(*v));
	if (!v) {
		free(old);
		return -ENOMEM;
	}
	p->pfns = v;
	for (size_t i = 0; i < nold; i++) {
		bool again = false;

		for (size_t k = 0; k < p->n - *kept && !again; k++)
			again = pci_same_slot(&old[i].addr, &p->pfns[k].addr);
		if (!again) {
			p->pfns[p->n++] = old[i];
			(*kept)++;
		}
	}
	free(old);
	return 0;
}

/* The softdeps an earlier persist wrote stay, first and in their order: a
 * GPU that vfio-pci took at boot (ids=) has no host driver to read now. */
static int keep_softdeps(struct cli *cli, struct persist_run *p)
{
	char **mods;
	int err = persist_read_softdeps(cli->root, &mods);

	/* a file that cannot be read: the write reports it */
	if (err == -ENOMEM)
		return err;
	if (!err)
		err = persist_facts_add_softdeps(&p->facts, mods);
	persist_free_list(mods);
	return err == -ENOMEM ? err : 0;
}

/* Without --driver, what a function goes to at boot: the variant it is on
 * now (bind --driver put it there), else the one it was persisted for,
 * else vfio-pci (NULL).  buf: room for a module's name. */
static const char *default_driver(struct cli *cli, const struct pci_addr *a,
				  const struct persist_fn *old, size_t nold, char *buf, size_t len)
{
	const struct pci_func *f = pci_host_find(&cli->host, a);

	if (cli->driver)
		return cli->driver;
	if (f && f->vfio && strcmp(f->driver, VFIO_PCI_DRIVER) &&
	    sysfs_driver_module(cli->sfs, f->driver, buf, len) == 0)
		return buf;
	for (size_t i = 0; i < nold; i++)
		if (!pci_addr_cmp(&old[i].addr, a) && persist_fn_variant(&old[i]))
			return snprintf(buf, len, "%s", old[i].vfio_module), buf;
	return NULL;
}

/* The VFIO driver each function of fns goes to at the target kernel's
 * boots (cli_vfio_choose_boot): into p->pfns[0..n).  EXIT_REFUSED (said,
 * and in "refusals") when it cannot be kept. */
static int choose_drivers(struct cli *cli, struct persist_run *p, const struct pci_addr *fns,
			  size_t n)
{
	char (*mods)[64] = calloc(n ? n : 1, sizeof(*mods)), **asked = calloc(n ? n : 1, sizeof(*asked));
	struct persist_fn *old = NULL;
	struct vfio_target *t = NULL;
	size_t nold = 0;
	int rc = EXIT_FAILED;

	if (!mods || !asked)
		goto out;
	/* (a devices.conf that does not parse: keep_earlier says so) */
	if (persist_read_devices(cli->root, &old, &nold, NULL) < 0)
		nold = 0;
	for (size_t i = 0; i < n; i++)
		asked[i] = (char *)default_driver(cli, &fns[i], old, nold, mods[i], sizeof(mods[i]));
	rc = cli_vfio_choose_boot(cli, p->facts.kernel, fns, n, asked, json_doc_array(cli, "refusals"),
				  &t);
	for (size_t i = 0; !rc && i < n; i++) {
		if (!t[i].variant)
			continue;
		snprintf(p->pfns[i].vfio_module, sizeof(p->pfns[i].vfio_module), "%s", t[i].module);
		snprintf(p->pfns[i].vfio_driver, sizeof(p->pfns[i].vfio_driver), "%s", t[i].driver);
	}
out:
	free(t);
	free(old);
	free(asked);
	free(mods);
	return rc;
}

/* The variants' modules the target kernel has go into its lists; one it
 * lacks is said, with what its boots do instead. */
static int variant_facts(struct cli *cli, struct persist_run *p)
{
	char ab[PCI_ADDR_LEN], sb[PCI_SLOT_LEN], fix[300];

	for (size_t i = 0; i < p->n; i++) {
		const struct persist_fn *f = &p->pfns[i];
		enum kmod_where where;

		if (!persist_fn_variant(f))
			continue;
		if (kmodules_lookup(cli->root, p->facts.kernel, f->vfio_module, &where, NULL, 0) == 0 &&
		    where != KMOD_ABSENT) {
			if (persist_facts_add_variant(&p->facts, f->vfio_module) < 0)
				return -ENOMEM;
			continue;
		}
		pci_slot_fmt(&f->addr, sb);
		log_fixf(fix, sizeof(fix), "install kernel %s's module %s, or persist %s --driver "
			 "vfio-pci", p->facts.kernel, f->vfio_module, sb);
		log_warn(MSG_VARIANT_MISSING, fix, "%s is persisted for the VFIO variant driver %s, "
			 "which kernel %s does not have: at its boots apply skips GPU %s, and its host "
			 "driver keeps it", pci_addr_fmt(&f->addr, ab), f->vfio_module, p->facts.kernel, sb);
	}
	return 0;
}

/* Facts of the target system, and the functions: these (present on the
 * host) and those persisted earlier. */
int cli_persist_gather(struct cli *cli, struct persist_run *p, const struct pci_addr *fns, size_t n)
{
	char why[600];
	size_t kept;
	int err;

	err = persist_facts_kernel(cli->root, cli->kernel, &p->facts, why, sizeof(why));
	if (err < 0) {
		log_error(MSG_TARGET_KERNEL, NULL, "cannot persist: %s", why);
		return EXIT_FAILED;
	}
	p->pfns = calloc(n ? n : 1, sizeof(*p->pfns));
	if (!p->pfns)
		return EXIT_FAILED;
	for (size_t i = 0; i < n; i++) {
		const struct pci_func *f = pci_host_find(&cli->host, &fns[i]);
		char ab[PCI_ADDR_LEN];

		if (!f || persist_fn_load(cli->sfs, f, &p->pfns[i]) < 0) {
			log_error(MSG_SYSFS_UNREADABLE, NULL, "%s: cannot read its ids and place from sysfs",
				  pci_addr_fmt(&fns[i], ab));
			return EXIT_FAILED;
		}
	}
	p->n = n;
	err = choose_drivers(cli, p, fns, n);
	if (err)
		return err;
	if (keep_earlier(cli, p, &kept) < 0 || keep_softdeps(cli, p) < 0 || variant_facts(cli, p) < 0 ||
	    facts_of_set(cli, p) < 0)
		return EXIT_FAILED;
	if (kept && n)
		log_info("%zu function%s persisted earlier stay%s persisted (vfio-handover unpersist "
			 "SELECTOR removes one GPU)", kept, kept == 1 ? "" : "s", kept == 1 ? "s" : "");
	return EXIT_DONE;
}

static void target_of(const struct cli *cli, const struct persist_facts *pf,
		      struct persist_target *t)
{
	memset(t, 0, sizeof(*t));
	t->root = cli->root;
	t->kernel = pf->kernel;
	t->dracut = pf->dracut;
	t->vfio_builtin = pf->vfio_builtin;
	t->has_virqfd = pf->has_virqfd;
	t->virqfd_lacking = pf->virqfd_lacking;
	t->ids_exclusive = pf->ids_exclusive;
	t->ids_reason = pf->ids_reason;
	t->softdep_modules = (const char *const *)pf->softdeps;
	t->variant_modules = (const char *const *)pf->variants;
	t->aleph = cli->aleph;
}

/* The files a dry run finds persist_write would change, and their content. */
struct changes {
	char *rel[16];
	char *content[16];
	size_t n;
	bool nomem;
};

static void note_change(const char *rel, const char *content, void *ctx)
{
	struct changes *c = ctx;

	if (c->n < sizeof(c->rel) / sizeof(c->rel[0])) {
		/* (rel lives in persist's plan, freed when the call returns) */
		c->rel[c->n] = strdup(rel);
		c->content[c->n] = strdup(content);
		if (!c->rel[c->n] || !c->content[c->n])
			c->nomem = true;
		c->n++;
	}
}

static const char *change_of(const struct changes *c, const char *rel)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->rel[i] && !strcmp(c->rel[i], rel))
			return c->content[i];
	return NULL;
}

static void report_write_error(const char *cmd, int err);

/* --dry-run of migrate: each line it takes out or changes. */
static void show_takeout(struct cli *cli, const struct persist_run *p)
{
	char shown[4096];

	for (size_t i = 0; i < p->ntakeout; i++) {
		const struct leftover *l = &p->takeout[i];

		root_show_path(cli->root, l->file, shown, sizeof(shown));
		if (l->replacement)
			cli_plan(cli, "edit-file", shown, l->text, NULL, NULL, "change %s:%u: %s\n"
				 "  to: %s", shown, l->line, l->text, l->replacement);
		else
			cli_plan(cli, "edit-file", shown, l->text, NULL, NULL, "take out %s:%u: %s",
				 shown, l->line, l->text);
	}
}

/* --dry-run: what persist would write, file by file: only the files whose
 * content would change (the whole content, or the block or setting of a
 * file shared with the user), computed as the run would, with its errors. */
static int show_plan(struct cli *cli, const char *cmd, const struct persist_target *t,
		     const struct persist_run *p)
{
	const char *path[] = { PERSIST_DEVICES_CONF, PERSIST_MODPROBE_CONF, PERSIST_MODULES_LOAD_CONF,
			       t->dracut ? PERSIST_DRACUT_CONF : PERSIST_INITRAMFS_MODULES,
			       PERSIST_UDEV_RULE };
	struct changes changes = { .n = 0 };
	char *block = NULL, shown[4096];
	/* the initramfs list is the user's file: its block alone is shown */
	int err = t->dracut ? 0 : persist_render_initramfs_block(t, &block), planned = 0;

	if (!err) {
		err = persist_plan_write(t, p->pfns, p->n, note_change, &changes);
		if (!err && changes.nomem)
			err = -ENOMEM;
		if (err < 0) {
			report_write_error(cmd, err);
			err = 1;
		}
	}
	for (size_t i = 0; !err && i < ARRAY_SIZE(path); i++) {
		bool in_block = i == 3 && !t->dracut;
		const char *whole = change_of(&changes, path[i]);
		const char *value = in_block ? block : whole;

		if (!whole)
			continue;
		planned++;
		root_show_path(cli->root, path[i], shown, sizeof(shown));
		/* (each text ends with its newline) */
		cli_plan(cli, in_block ? "edit-file" : "write-file", shown, value, NULL, NULL,
			 "write %s%s:\n%.*s", path[i], in_block ? " (its vfio-handover block)" : "",
			 (int)strlen(value) - 1, value);
	}
	if (!err && t->aleph && change_of(&changes, PERSIST_SUPERVISOR_ENV)) {
		planned++;
		root_show_path(cli->root, PERSIST_SUPERVISOR_ENV, shown, sizeof(shown));
		cli_plan(cli, "edit-file", shown, "ALEPH_VM_ENABLE_GPU_SUPPORT=True", NULL, NULL,
			 "set ALEPH_VM_ENABLE_GPU_SUPPORT=True in %s", PERSIST_SUPERVISOR_ENV);
	}
	if (!err && !planned)
		log_info("no file would change: the boot configuration is as %s would write it", cmd);
	free(block);
	for (size_t i = 0; i < changes.n; i++) {
		free(changes.rel[i]);
		free(changes.content[i]);
	}
	return err;
}

static void report_write_error(const char *cmd, int err)
{
	const char *path = persist_last_path();
	const struct persist_problem *why = persist_last_problem();

	if (err == -ELOOP)
		log_error(MSG_FILE_SYMLINK, "remove the link and run this again", "%s: %s is a "
			  "symbolic link: refusing to write through it; nothing was changed", cmd, path);
	else if (err == -EEXIST)
		log_error(MSG_FILE_NOT_OURS, "move it away and run this again", "%s: %s exists and was "
			  "not written by vfio-handover: nothing was changed", cmd, path);
	else if (err == -ENOTDIR)
		log_error(MSG_FILE_NOT_DIRECTORY, "make it a directory and run this again", "%s: %s is "
			  "not a directory, nor a symbolic link to one (links are followed inside the "
			  "root, as if it were /): nothing was changed", cmd, path);
	else if (err == -ENOMSG)
		log_error(MSG_FILE_EDITED, "put that line back as the note quotes it and delete the "
			  "note (the other notes of vfio-handover migrate are put back as they are), then "
			  "run this again", "%s: %s:%u: %s; nothing was changed", cmd, path, why->line,
			  why->what);
	else if (err == -EBADMSG && why->what[0] && why->line)
		log_error(MSG_FILE_EDITED, "edit or remove that line (the lines from '# BEGIN "
			  "vfio-handover' to '# END vfio-handover' are vfio-handover's), then run this "
			  "again", "%s: %s:%u: %s; nothing was changed", cmd, path, why->line, why->what);
	else if (why->what[0])
		log_error(MSG_FILE_EDITED, NULL, "%s: %s: %s; nothing was changed", cmd, path, why->what);
	else
		log_error(MSG_FILE_WRITE_FAILED, NULL, "%s: cannot write %s: %s; every file is as it "
			  "was before", cmd, path, strerror(-err));
}

static bool listed(char **files, const char *rel)
{
	size_t n = strlen(rel);

	for (char **f = files; f && *f; f++)
		if (strlen(*f) >= n && strcmp(*f + strlen(*f) - n, rel) == 0)
			return true;
	return false;
}

int cli_persist_write(struct cli *cli, const char *cmd, struct persist_run *p)
{
	struct persist_target t;
	struct aleph_env env;
	int err;

	target_of(cli, &p->facts, &t);
	t.takeout = p->takeout;
	t.ntakeout = p->ntakeout;
	if (cli->dry_run) {
		show_takeout(cli, p);
		return p->n && show_plan(cli, cmd, &t, p) ? EXIT_FAILED : EXIT_DONE;
	}
	err = persist_write(&t, p->pfns, p->n, &p->files);
	if (err < 0) {
		report_write_error(cmd, err);
		return EXIT_FAILED;
	}
	if (t.aleph && !listed(p->files, PERSIST_SUPERVISOR_ENV) && aleph_env_read(cli->root, &env) >= 0)
		log_info("--aleph: %s%s %s", root_is_host(cli->root) ? "" : cli->root, PERSIST_SUPERVISOR_ENV,
			 env.present ? "already enables GPU support" :
			 "does not exist (aleph-vm is not installed): nothing set there");
	return EXIT_DONE;
}

/* The function object (as sysfs says now, or absent), and what
 * devices.conf records of it. */
static struct json_object *fns_json(struct cli *cli, const struct persist_run *p)
{
	struct json_object *arr = json_object_new_array();
	char ids[16], sub[16];

	for (size_t i = 0; i < p->n; i++) {
		const struct persist_fn *f = &p->pfns[i];
		const struct pci_func *now = pci_host_find(&cli->host, &f->addr);
		struct func_names names;
		struct json_object *o;

		if (now) {
			names_lookup(cli->names, now, &names);
			o = json_func(now, &names);
		} else {
			o = json_func_absent(&f->addr, f->vendor, f->device, f->subvendor, f->subdevice);
		}
		snprintf(ids, sizeof(ids), "%04x:%04x", f->vendor, f->device);
		snprintf(sub, sizeof(sub), "%04x:%04x", f->subvendor, f->subdevice);
		json_object_object_add(o, "id", json_object_new_string(ids));
		json_object_object_add(o, "subsystem", json_object_new_string(sub));
		json_object_object_add(o, "physical_slot", json_str_or_null(f->phys_slot));
		json_object_object_add(o, "path", json_str_or_null(f->path));
		json_object_object_add(o, "vfio_driver", persist_fn_variant(f) ?
				       json_str_or_null(f->vfio_driver) : json_object_new_string(VFIO_PCI_DRIVER));
		json_object_object_add(o, "vfio_module", json_object_new_string(persist_fn_variant(f) ?
				       f->vfio_module : VFIO_PCI_MODULE));
		json_object_array_add(arr, o);
	}
	return arr;
}

/* The document's keys from what the run found out (all of them, from a
 * run that stopped before finding anything). */
void cli_persist_json(struct cli *cli, const struct persist_run *p)
{
	struct json_object *files = json_object_new_array(), *ir = json_object_new_object();

	for (char **f = p->files; f && *f; f++)
		json_object_array_add(files, json_object_new_string(*f));
	json_set(cli, "dry_run", json_object_new_boolean(cli->dry_run));
	json_set(cli, "kernel", json_str_or_null(p->facts.kernel));
	json_set(cli, "vfio_builtin", json_object_new_boolean(p->facts.vfio_builtin));
	json_set(cli, "ids_option",
		 json_object_new_boolean(p->n && p->facts.ids_exclusive && !p->facts.vfio_builtin));
	json_set(cli, "ids_reason", p->facts.ids_exclusive ? NULL :
		 json_object_new_string(p->facts.ids_reason));
	json_object_object_add(ir, "builder", json_object_new_string(p->facts.dracut ? "dracut" :
								       "initramfs-tools"));
	json_object_object_add(ir, "command", json_object_new_string(builder_cmd(p->facts.dracut)));
	json_object_object_add(ir, "result", json_object_new_string(p->initramfs ? p->initramfs : "skipped"));
	json_object_object_add(ir, "exit_status", p->initramfs && !strcmp(p->initramfs, "failed") &&
			       p->initramfs_status > 0 ? json_object_new_int(p->initramfs_status) : NULL);
	json_set(cli, "initramfs", ir);
	json_set(cli, "files", files);
	json_set(cli, "functions", fns_json(cli, p));
}

void cli_persist_keys(struct cli *cli)
{
	struct persist_run p = { 0 };

	json_set(cli, "outcome", NULL);
	cli_persist_json(cli, &p);
	json_set(cli, "refusals", json_object_new_array());
	json_set(cli, "planned", json_object_new_array());
}

void cli_persist_free(struct persist_run *p)
{
	persist_facts_free(&p->facts);
	persist_free_list(p->files);
	free(p->pfns);
}

/* The lines of a hand-made setup that fight the hand-over: persist SELECTOR
 * refuses on them (cli_refuse); writing the same again does not, it says them. */
static void warn_leftovers(struct cli *cli)
{
	struct leftover_env le = { .root = cli->root, .kernel = cli->kernel, .host = &cli->host };
	struct leftover *v;
	size_t n;

	if (leftovers_scan(&le, &v, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char *m = v[i].fail ? leftover_message(&v[i], cli->root, &cli->host) : NULL;

		if (m)
			log_check(LOGL_WARN, MSG_LEFTOVER, check_id_name(v[i].check), v[i].fix,
				  "%s; it fights the per-device hand-over persist writes", m);
		free(m);
	}
	leftovers_free(v, n);
}

/* No selector: what devices.conf lists, written again for the target
 * kernel (the kernel's postinst.d hook does this for a kernel it installs). */
static int persist_again(struct cli *cli, struct persist_run *p)
{
	struct persist_problem why = { 0 };
	struct persist_fn *old;
	size_t nold;
	int rc, err = persist_read_devices(cli->root, &old, &nold, &why);

	if (err == -ENOENT) {
		log_error(MSG_MISSING_SELECTOR, "e.g. vfio-handover persist 01:00 (see vfio-handover "
			  "list)", "persist needs a selector (without one it writes again what %s%s "
			  "lists, and there is no such file)", root_is_host(cli->root) ? "" : cli->root,
			  PERSIST_DEVICES_CONF);
		return EXIT_USAGE;
	}
	if (err < 0) {
		cli_persisted_error(cli, err, &why, "persist changed nothing");
		return EXIT_FAILED;
	}
	free(old);
	rc = cli_persist_lock(cli, "persist");
	if (!rc)
		warn_leftovers(cli);
	if (!rc)
		rc = cli_persist_gather(cli, p, NULL, 0);
	if (!rc)
		rc = cli_persist_write(cli, "persist", p);
	if (!rc && !cli->json && !cli->dry_run) {
		char sb[PCI_SLOT_LEN];

		for (size_t i = 0; i < p->n; i++)
			if (!i || !pci_same_slot(&p->pfns[i].addr, &p->pfns[i - 1].addr))
				printf("persisted %s again for kernel %s (%s)\n",
				       pci_slot_fmt(&p->pfns[i].addr, sb), p->facts.kernel,
				       p->facts.kernel_from);
		cli_persist_print_files(cli, p->files, "wrote");
	}
	return rc;
}

static int persist_selection(struct cli *cli, struct persist_run *p)
{
	struct pci_addr *slots = NULL, *fns = NULL;
	size_t nslots = 0, nfns = 0;
	int rc;

	if (!cli->nargs)
		return persist_again(cli, p);
	rc = cli_resolve(cli, &slots, &nslots);
	if (!rc)
		rc = cli_persist_lock(cli, "persist");
	if (!rc && cli_functions(cli, slots, nslots, &fns, &nfns) < 0)
		rc = EXIT_FAILED;
	if (!rc)
		rc = cli_refuse(cli, slots, nslots, json_doc_array(cli, "refusals"), true);
	if (!rc)
		rc = cli_persist_gather(cli, p, fns, nfns);
	if (!rc)
		rc = cli_persist_write(cli, "persist", p);
	if (!rc && !cli->json && !cli->dry_run) {
		char sb[PCI_SLOT_LEN];

		for (size_t s = 0; s < nslots; s++)
			printf("persisted %s for kernel %s (%s)\n", pci_slot_fmt(&slots[s], sb),
			       p->facts.kernel, p->facts.kernel_from);
		cli_persist_print_files(cli, p->files, "wrote");
	}
	free(slots);
	free(fns);
	return rc;
}

/* Did the run change a persisted file?  (The initramfs rebuilt from
 * the same files is the same: its result is told apart, in "initramfs".) */
bool cli_persist_changed(const struct cli *cli, const char *before)
{
	char *after = cli_persist_state(cli);
	bool changed = !before || !after || strcmp(before, after) != 0;

	free(after);
	return changed;
}

static int run_persist(struct cli *cli)
{
	struct persist_run p = { 0 };
	char *before = cli_persist_state(cli);
	int rc = persist_selection(cli, &p);

	if (!rc) {
		cli_persist_explain(cli, &p.facts);
		rc = cli_persist_initramfs(cli, &p);
	}
	cli->changed = !cli->dry_run && cli_persist_changed(cli, before);
	if (cli->json)
		cli_persist_json(cli, &p);
	free(before);
	cli_persist_free(&p);
	return rc;
}

/* ---- unpersist ---- */

static bool selector_matches(const struct selector *s, const struct persist_fn *f)
{
	switch (s->kind) {
	case SEL_FUNCTION:
	case SEL_SLOT:
		return pci_same_slot(&s->addr, &f->addr);
	case SEL_ID:
		return s->vendor == f->vendor && s->device == f->device;
	}
	return false;
}

/* The persisted functions in the slots the selectors name; EXIT_USAGE
 * when one names nothing persisted. */
static int mark_selected(struct cli *cli, const struct persist_fn *fns, size_t n, bool *drop)
{
	char why[160];

	for (int i = 0; i < cli->nargs; i++) {
		struct selector s;
		bool any = false;

		if (selector_parse(cli->args[i], &s, why, sizeof(why)) < 0) {
			log_error(MSG_BAD_SELECTOR, NULL, "bad selector '%s': %s", cli->args[i], why);
			return EXIT_USAGE;
		}
		for (size_t k = 0; k < n; k++)
			if (selector_matches(&s, &fns[k]))
				any = true;
		/* whole GPUs: every persisted function of a matching slot */
		for (size_t k = 0; any && k < n; k++)
			for (size_t m = 0; m < n; m++)
				if (selector_matches(&s, &fns[m]) && pci_same_slot(&fns[m].addr, &fns[k].addr))
					drop[k] = true;
		if (!any) {
			log_error(MSG_NO_SUCH_DEVICE, PERSIST_DEVICES_CONF " lists them",
				  "selector '%s' matches no persisted device", cli->args[i]);
			return EXIT_USAGE;
		}
	}
	return EXIT_DONE;
}

/* The persisted functions.  A devices.conf that does not parse: unpersist
 * without a selector removes everything all the same (it needs no list:
 * the files say what persist added), *malformed then set. */
static int read_persisted(struct cli *cli, struct persist_fn **fns, size_t *n, bool *malformed)
{
	struct persist_problem why = { 0 };
	int err = persist_read_devices(cli->root, fns, n, &why);

	*malformed = false;
	if (err == -ENOENT)
		return EXIT_DONE;
	/* a line that does not parse (a file that is not text stops persist_remove too) */
	if (why.line && !cli->nargs) {
		log_warn(MSG_DEVICES_CONF, NULL, "%s%s:%u: %s; unpersist without a selector removes "
			 "everything persist wrote all the same", root_is_host(cli->root) ? "" : cli->root,
			 PERSIST_DEVICES_CONF, why.line, why.what);
		*malformed = true;
		return EXIT_DONE;
	}
	if (err < 0) {
		cli_persisted_error(cli, err, &why, "unpersist changed nothing");
		return EXIT_FAILED;
	}
	return EXIT_DONE;
}

/* Keep the functions not selected: the files say what persisting those
 * alone would say. */
static int keep_rest(struct cli *cli, struct persist_run *p, struct persist_fn *fns, size_t n,
		     const bool *drop)
{
	char why[600];
	size_t kept = 0;
	int err;

	for (size_t i = 0; i < n; i++)
		if (!drop[i])
			fns[kept++] = fns[i];
	p->pfns = fns;
	p->n = kept;
	err = persist_facts_kernel(cli->root, cli->kernel, &p->facts, why, sizeof(why));
	if (err < 0) {
		log_error(MSG_TARGET_KERNEL, NULL, "cannot rewrite the boot configuration: %s", why);
		return EXIT_FAILED;
	}
	if (variant_facts(cli, p) < 0 || facts_of_set(cli, p) < 0)
		return EXIT_FAILED;
	return cli_persist_write(cli, "unpersist", p);
}

static int remove_all(struct cli *cli, struct persist_run *p)
{
	struct persist_target t = { .root = cli->root };
	int err;

	if (cli->dry_run) {
		plan_remove_all(cli);
		return EXIT_DONE;
	}
	err = persist_remove(&t, &p->files);
	if (err < 0) {
		report_write_error("unpersist", err);
		return EXIT_FAILED;
	}
	return EXIT_DONE;
}

static int unpersist(struct cli *cli, struct persist_run *p)
{
	struct persist_fn *fns;
	bool *drop, malformed;
	size_t n, ndrop = 0;
	int rc = cli_persist_lock(cli, "unpersist");

	if (!rc)
		rc = read_persisted(cli, &fns, &n, &malformed);
	if (rc)
		return rc;
	drop = calloc(n ? n : 1, sizeof(*drop));
	if (!drop) {
		free(fns);
		return EXIT_FAILED;
	}
	for (size_t i = 0; i < n; i++)
		drop[i] = !cli->nargs;
	if (cli->nargs)
		rc = mark_selected(cli, fns, n, drop);
	for (size_t i = 0; i < n; i++)
		ndrop += drop[i];
	p->facts.dracut = persist_detect_dracut(cli->root);
	if (!rc)
		rc = ndrop == n ? remove_all(cli, p) : keep_rest(cli, p, fns, n, drop);
	if (p->pfns != fns)
		free(fns);
	free(drop);
	if (!rc && !cli->json && !cli->dry_run) {
		if (!p->files || !p->files[0])
			printf("nothing persisted: no file changed\n");
		else if (malformed)
			printf("unpersisted every persisted function\n");
		else
			printf("unpersisted %zu function%s\n", ndrop, ndrop == 1 ? "" : "s");
		cli_persist_print_files(cli, p->files, ndrop == n ? NULL : "rewrote");
	}
	return rc;
}

static int run_unpersist(struct cli *cli)
{
	struct persist_run p = { 0 };
	char *before = cli_persist_state(cli);
	int rc = unpersist(cli, &p);

	cli->changed = !cli->dry_run && cli_persist_changed(cli, before);
	/* the initramfs still carries the modules until it is rebuilt */
	if (!rc && (cli->dry_run || cli->changed))
		rc = cli_persist_initramfs(cli, &p);
	if (cli->json)
		cli_persist_json(cli, &p);
	free(before);
	cli_persist_free(&p);
	return rc;
}

/* files under /etc, replaced keeping owner and mode */
static const int persist_caps[] = {
	CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_CHOWN, CAP_FOWNER, CAP_FSETID,
};

const struct command cmd_persist = {
	.name = "persist",
	.args = "[SELECTOR...]",
	.help = "write the boot configuration that hands the GPUs over at every boot (no selector: again)",
	.about = "Write the boot configuration that hands the selected GPUs over at every\n"
		 "boot (devices.conf, modprobe.d, modules-load.d, the initramfs list, the\n"
		 "udev rule that gives them to vfio-pci as they are added; with --aleph the\n"
		 "supervisor's setting), then refresh the initramfs.  It adds to what is\n"
		 "persisted.  Without a selector, write what is persisted again, for the\n"
		 "target kernel (--kernel): the kernel hook does that for a new kernel.",
	.exits = {
		[0] = "the files are written and read back",
		[1] = "failed; the files are as they were (or written, and the initramfs\n"
		      "     refresh failed: the messages say which)",
		[2] = "usage error or bad selector; nothing touched",
		[3] = "refused: apply would refuse the GPU at every boot; nothing touched",
		[5] = "not permitted (root is needed); nothing touched",
	},
	.run = run_persist,
	.needs = PCI_NEED_BOOT_VGA,
	.json_keys = cli_persist_keys,
	.caps = persist_caps,
	.ncaps = ARRAY_SIZE(persist_caps),
};

/* Everything goes by what the files say; one GPU of several needs the
 * host's devices to render the files for the rest. */
static bool unpersist_needs_sysfs(const struct cli *cli)
{
	return cli->nargs > 0;
}

const struct command cmd_unpersist = {
	.name = "unpersist",
	.args = "[SELECTOR...]",
	.help = "remove exactly what persist wrote (no selector: everything)",
	.about = "Remove exactly what persist wrote for the selected GPUs (without a\n"
		 "selector: everything), giving back the files it edited byte for byte.",
	.exits = {
		[0] = "the files are as persist found them, or rewritten for the GPUs left",
		[1] = "failed; the files are as they were",
		[2] = "usage error, or a selector names nothing persisted",
		[5] = "not permitted (root is needed); nothing touched",
	},
	.run = run_unpersist,
	.needs = PCI_NEED_BOOT_VGA,
	.json_keys = cli_persist_keys,
	.caps = persist_caps,
	.ncaps = ARRAY_SIZE(persist_caps),
	.needs_sysfs = unpersist_needs_sysfs,
};
