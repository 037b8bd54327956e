/* What bind and rollback share: privileges, the run lock, the vfio-pci
 * module, reporting a failure, waiting for udev, the Aleph supervisor. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cap-ng.h>
#include <libudev.h>
#include "cli-handover.h"
#include "safety.h"
#include "json-out.h"
#include "checks.h"
#include "kmod-dl.h"
#include "kmodules.h"
#include "locks.h"
#include "log.h"
#include "usage.h"
#include "util.h"

extern char **environ;

int cli_need_privileges(struct cli *cli, const char *cmd)
{
	/* an emulated or captured tree is files: no kernel to change */
	if (!sysfs_is_live(cli->sfs) || cli->dry_run)
		return EXIT_DONE;
	if (geteuid() == 0 || capng_have_capability(CAPNG_EFFECTIVE, CAP_DAC_OVERRIDE))
		return EXIT_DONE;
	log_error(MSG_NOT_PERMITTED, "run it with sudo",
		  "%s changes which driver holds a device, through root-only files in /sys: "
		  "it needs root (CAP_DAC_OVERRIDE, and CAP_SYS_MODULE to load vfio-pci)", cmd);
	return EXIT_NOPERM;
}

/* Told once for each lock the run waits for. */
static void say_waiting(const struct lock_key *key, const struct lock_holder *h, void *data)
{
	struct cli *cli = data;
	char name[64], what[64];

	if (key->kind == LOCK_GROUP)
		snprintf(what, sizeof(what), "IOMMU group %d", key->group);
	else if (key->kind == LOCK_FUNCTION)
		pci_addr_fmt(&key->fn, what);
	else
		snprintf(what, sizeof(what), "the persisted files");
	if (h->pid > 0)
		log_info("waiting for PID %d: %s (it holds %s; %s/%s), up to %g s", (int)h->pid,
			 h->what[0] ? h->what : "another run", what, JOURNAL_DIR,
			 lock_file_name(key, name, sizeof(name)), cli->timeout);
	else
		log_info("waiting for another process, which holds %s/%s (%s), up to %g s",
			 JOURNAL_DIR, lock_file_name(key, name, sizeof(name)), what, cli->timeout);
}

/* "bind 0000:01:00 0000:02:00": the run, as the lock files say it. */
static void describe_run(const char *cmd, const struct pci_addr *fns, size_t n, char *buf,
			 size_t len)
{
	size_t off = (size_t)snprintf(buf, len, "%s", cmd);
	char sb[PCI_SLOT_LEN];

	for (size_t i = 0; i < n && off < len; i++) {
		if (i && pci_same_slot(&fns[i - 1], &fns[i]))
			continue;
		off += (size_t)snprintf(buf + off, len - off, " %s", pci_slot_fmt(&fns[i], sb));
	}
}

int cli_lock_run(struct cli *cli, const char *cmd, const struct pci_addr *fns, size_t n,
		 bool persist, bool *waited)
{
	struct lock_key *keys;
	struct lock_holder h = { 0 };
	struct lockset **ls = persist ? &cli->persist_lock : &cli->group_locks;
	char what[160], who[200];
	size_t nk = 0;
	int err;

	*waited = false;
	if (cli->dry_run)
		return EXIT_DONE;        /* changes nothing, not even a lock file */
	keys = calloc(n + 1, sizeof(*keys));
	if (!keys) {
		log_error(MSG_OUT_OF_MEMORY, NULL, "out of memory");
		return EXIT_FAILED;
	}
	if (persist)
		keys[nk++].kind = LOCK_PERSIST;
	for (size_t i = 0; i < n; i++) {
		const struct pci_func *f = pci_host_find(&cli->host, &fns[i]);

		/* a function gone from the bus, or without a group: itself */
		if (f && f->iommu_group >= 0)
			keys[nk++] = (struct lock_key){ .kind = LOCK_GROUP, .group = f->iommu_group };
		else
			keys[nk++] = (struct lock_key){ .kind = LOCK_FUNCTION, .fn = fns[i] };
	}
	describe_run(cmd, fns, n, what, sizeof(what));
	err = locks_take(cli->root, keys, nk, what, (int)(cli->timeout * 1000), say_waiting, cli,
			 ls, &h, waited);
	free(keys);
	if (err == -ETIMEDOUT) {
		if (h.pid > 0)
			snprintf(who, sizeof(who), "PID %d%s%s%s", (int)h.pid, h.what[0] ? " (" : "",
				 h.what, h.what[0] ? ")" : "");
		else
			snprintf(who, sizeof(who), "another process");
		log_error(MSG_LOCKED, "run it again once that run has finished, or raise --timeout",
			  "gave up after %g s waiting for %s: nothing was touched", cli->timeout, who);
		return EXIT_FAILED;
	}
	if (err < 0) {
		log_error(MSG_LOCK_FAILED, "is " JOURNAL_DIR " writable?",
			  "cannot take the locks in %s: %s", JOURNAL_DIR, strerror(-err));
		return EXIT_FAILED;
	}
	return EXIT_DONE;
}

void cli_unlock_groups(struct cli *cli)
{
	locks_release(cli->group_locks);
	cli->group_locks = NULL;
}

int cli_load_journal(struct cli *cli, struct journal *j)
{
	char path[4096], why[512];
	int err = journal_load(cli->root, j, why, sizeof(why));

	if (root_show_path(cli->root, JOURNAL_DIR "/state.json", path, sizeof(path)) < 0)
		snprintf(path, sizeof(path), "%s/state.json", JOURNAL_DIR);
	if (err == -EBADMSG) {
		log_error(MSG_JOURNAL_INVALID, "it records what rollback restores: look at it, fix or "
			  "remove it; only then give the devices back by hand with vfio-handover "
			  "rollback SELECTOR", "the journal %s is not valid, nothing was changed: %s",
			  path, why);
		return EXIT_FAILED;
	}
	if (err < 0) {
		log_error(MSG_JOURNAL_UNREADABLE, NULL, "cannot read the journal %s: %s; nothing was changed",
			  path, strerror(-err));
		return EXIT_FAILED;
	}
	return EXIT_DONE;
}

static void wait_registered(struct cli *cli, const char *driver)
{
	long waited = 0;

	while (!sysfs_driver_registered(cli->sfs, driver) && waited < (long)(cli->timeout * 1000)) {
		struct timespec ts = { 0, 10 * 1000000L };
		nanosleep(&ts, NULL);
		waited += 10;
	}
}

int cli_ensure_vfio(struct cli *cli)
{
	int err;

	if (sysfs_driver_registered(cli->sfs, "vfio-pci"))
		return EXIT_DONE;
	if (cli->dry_run) {
		cli_plan(cli, "load", NULL, NULL, "vfio-pci", NULL,
			 "load module vfio-pci (libkmod, with its dependencies)");
		return EXIT_DONE;
	}
	if (!sysfs_is_live(cli->sfs)) {
		log_error(MSG_VFIO_PCI_MISSING, NULL, "vfio-pci is not registered in %s/bus/pci/drivers, "
			  "and modules are loaded only into the running kernel", cli->sysfs);
		return EXIT_FAILED;
	}
	err = kmodules_load("vfio-pci");
	if (err == -ENOPKG) {
		log_error(MSG_VFIO_PCI_MISSING, "install libkmod (on Debian: libkmod2)",
			  "cannot load vfio-pci: %s", kmod_dl_error());
		return EXIT_FAILED;
	}
	if (!err)
		wait_registered(cli, "vfio-pci");
	if (err || !sysfs_driver_registered(cli->sfs, "vfio-pci")) {
		log_error(MSG_VFIO_PCI_MISSING, "install the kernel's modules package (vfio-handover "
			  "check says more)", "cannot load vfio-pci: %s",
			  err ? strerror(-err) : "driver did not appear");
		return EXIT_FAILED;
	}
	log_info("loaded vfio-pci");
	return EXIT_DONE;
}

/* Who holds the function, for a write that did not return. */
static void name_holders(struct cli *cli, const struct pci_addr *a)
{
	struct holder_scan scan = { .deadline_ms = monotonic_ms() + (long)(cli->timeout * 1000) };
	struct holder *ho = NULL;
	struct usage u;
	size_t nho = 0;
	int earlier = 0;

	if (!cli->procroot || usage_collect(cli->sfs, cli->procroot, a, 1, &u) < 0)
		return;
	if (usage_find_holders(cli->procroot, &u, &ho, &nho, &scan) == 0)
		for (size_t i = 0; i < nho; i++)
			log_error(MSG_HOLDER, NULL, "%s is held open by PID %d (%s)", ho[i].node,
				  (int)ho[i].pid, ho[i].comm);
	/* an unbind under way removes the nodes from sysfs, not from the
	 * processes that hold them: say who held them before */
	for (size_t i = 0; i < cli->nforced && !nho; i++)
		if (pci_same_slot(&cli->forced[i].at, a)) {
			log_error(MSG_HOLDER, NULL, "before the hand-over, --force went past: %s",
				  cli->forced[i].message);
			earlier++;
		}
	if (!nho && !earlier)
		log_error(MSG_HOLDER, NULL, "no process holds its device nodes now; the driver itself "
			  "may be busy (see dmesg)");
	free(ho);
	usage_free(&u);
}

void cli_report_fault(struct cli *cli, const struct engine *e)
{
	char ab[PCI_ADDR_LEN];

	pci_addr_fmt(&e->fault.fn, ab);
	if (e->fault.err == -ETIMEDOUT) {
		log_error(MSG_KERNEL_TIMEOUT, "stop what holds it (for NVIDIA: nvidia-persistenced, "
			  "nvidia-smi, a display server) or raise --timeout, then run this again",
			  "%s: the kernel did not return within %g s from: %s", ab, cli->timeout,
			  e->fault.what);
		name_holders(cli, &e->fault.fn);
		return;
	}
	log_error(MSG_KERNEL_ERROR, NULL, "%s: could not %s: %s", ab, e->fault.what,
		  strerror(-e->fault.err));
}

void cli_report_positions(struct cli *cli, const struct pci_addr *fns, size_t n)
{
	char ab[PCI_ADDR_LEN];

	for (size_t i = 0; i < n; i++) {
		struct pci_func f;

		pci_addr_fmt(&fns[i], ab);
		if (pci_func_load_needs(cli->sfs, &fns[i], &f, PCI_NEED_OVERRIDE) < 0)
			log_error(MSG_POSITION, NULL, "%s: gone from the bus", ab);
		else if (f.unbinding[0])
			log_error(MSG_POSITION, NULL, "%s: now on no driver (its unbind from %s is "
				  "still under way in the kernel), driver_override %s", ab,
				  f.unbinding, f.override[0] ? f.override : "(null)");
		else
			log_error(MSG_POSITION, NULL, "%s: now on %s, driver_override %s", ab,
				  f.driver[0] ? f.driver : "no driver",
				  f.blocked ? "unknown (its read did not return: the device is "
					      "still locked by a blocked unbind)" :
				  f.override[0] ? f.override : "(null)");
	}
}

/* Until udevd's queue is empty and path (if any) exists, for at most *left
 * ms, less the time waited; false when the limit came first. */
static bool udev_wait(struct udev_queue *q, const char *path, long *left)
{
	while (*left > 0 && ((path && access(path, F_OK) < 0) ||
			     (q && !udev_queue_get_queue_is_empty(q)))) {
		struct timespec ts = { 0, 10 * 1000000L };

		nanosleep(&ts, NULL);
		*left -= 10;
	}
	return !(path && access(path, F_OK) < 0) && !(q && !udev_queue_get_queue_is_empty(q));
}

/* Only the running kernel has a /dev, and only a running udevd settles. */
static bool udev_applies(const struct cli *cli)
{
	return sysfs_is_live(cli->sfs) && !cli->dry_run && access("/run/udev/control", F_OK) == 0;
}

void cli_wait_udev(struct cli *cli, const struct pci_addr *fns, size_t n)
{
	struct udev *udev;
	struct udev_queue *q;
	char path[64];
	long left = (long)(cli->timeout * 1000);

	if (!udev_applies(cli))
		return;
	udev = udev_new();
	q = udev ? udev_queue_new(udev) : NULL;
	if (!fns && !udev_wait(q, NULL, &left))
		log_debug("udev still had events queued after %g s", cli->timeout);
	for (size_t i = 0; fns && i < n; i++) {
		/* the group as read: a function keeps its group while on the bus */
		const struct pci_func *f = pci_host_find(&cli->host, &fns[i]);

		if (!f || f->iommu_group < 0)
			continue;
		snprintf(path, sizeof(path), "/dev/vfio/%d", f->iommu_group);
		if (!udev_wait(q, path, &left) && access(path, F_OK) < 0)
			log_warn(MSG_UDEV_TIMEOUT, "see udevadm monitor", "%s did not appear within %g s; "
				 "a VM manager cannot open the group yet", path, cli->timeout);
	}
	udev_queue_unref(q);
	udev_unref(udev);
}

int cli_spawn(char *const argv[], bool out_to_stderr)
{
	posix_spawn_file_actions_t fa;
	int status, err;
	pid_t pid;

	fflush(NULL);
	err = posix_spawn_file_actions_init(&fa);
	if (!err && out_to_stderr)
		err = posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
	if (!err)
		err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err)
		return -err;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* One refusal: on stderr, and in the --json list of refusals. */
static void refuse_one(struct json_object *jref, const struct check_item *it, enum refusal kind,
		       const char *why, const char *fix)
{
	log_check(LOGL_ERROR, MSG_REFUSED, check_id_name(it->id), fix, "%s%s", it->message, why);
	json_refusal(jref, check_id_name(it->id), it->device, it->message, fix,
		     kind == REFUSAL_FORCEABLE);
}

/* A holder --force went past, for the report of a write that then blocks. */
static void keep_forced(struct cli *cli, const struct check_item *it)
{
	struct forced_holder *v = realloc(cli->forced, (cli->nforced + 1) * sizeof(*v));

	if (!v)
		return;
	cli->forced = v;
	v += cli->nforced;
	if (pci_addr_parse(it->device, &v->at) == 0 && (v->message = strdup(it->message)))
		cli->nforced++;
}

static bool is_leftover(enum check_id id)
{
	return id == CHECK_IDS_BINDING || id == CHECK_BLACKLIST || id == CHECK_SOFTDEP ||
	       id == CHECK_MODULE_LINE;
}

int cli_refuse(struct cli *cli, const struct pci_addr *slots, size_t nslots,
	       struct json_object *jref, bool for_boot)
{
	struct check_env env;
	struct check_report r;
	char fix[1024];
	int refused = 0, err;

	/* a function whose driver_override does not answer is refused */
	cli_fill_slots(cli, slots, nslots, PCI_NEED_OVERRIDE);
	cli_check_env(cli, &env);
	env.refusals_only = true;   /* link, model, reset: check's business */
	/* a hand-made setup fights what persist writes (not a live hand-over) */
	env.leftovers = for_boot;
	err = check_run(&env, slots, nslots, &r);
	if (err < 0) {
		log_error(MSG_SYSTEM_ERROR, NULL, "could not run the safety checks: %s", strerror(-err));
		return EXIT_FAILED;
	}
	for (size_t i = 0; i < r.n; i++) {
		const struct check_item *it = &r.items[i];
		enum refusal kind = safety_refusal(it);

		/* a process holding the GPU now does not matter for the next boot */
		if (kind == REFUSAL_NONE || (for_boot && it->id == CHECK_IN_USE))
			continue;
		/* at boot apply runs without --force */
		if (kind == REFUSAL_FORCEABLE && cli->force && !for_boot) {
			log_check(LOGL_WARN, MSG_FORCED, check_id_name(it->id), NULL, "%s", it->message);
			if (it->id == CHECK_IN_USE)
				keep_forced(cli, it);
			continue;
		}
		refused = 1;
		if (is_leftover(it->id))
			refuse_one(jref, it, kind, "; it would fight the per-device hand-over "
				   "persist writes", it->fix);
		else if (for_boot && it->id == CHECK_BOOT_VGA)
			refuse_one(jref, it, kind, "; apply would refuse it at every boot",
				   "give the host another primary display in the firmware setup "
				   "(BMC or integrated graphics); apply runs without --force");
		else if (for_boot)
			refuse_one(jref, it, kind, "; apply would refuse it at every boot", it->fix);
		else
			refuse_one(jref, it, kind, "", log_fixf(fix, sizeof(fix), "%s%s", it->fix,
				   kind == REFUSAL_FORCEABLE ? " (--force passes this check)" : ""));
	}
	check_report_free(&r);
	return refused ? EXIT_REFUSED : EXIT_DONE;
}
