/* bind: hand the selected GPUs over to vfio-pci now. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cap-ng.h>
#include "cli-handover.h"
#include "json-out.h"
#include "log.h"

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000L + (t1.tv_nsec - t0->tv_nsec) / 1000000L;
}

static bool all_on_vfio(const struct pci_host *h, const struct pci_addr *fns, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct pci_func *f = pci_host_find(h, &fns[i]);
		if (!f || !f->vfio)
			return false;
	}
	return true;
}

struct bind_run {
	struct pci_addr *slots, *fns;
	size_t nslots, nfns;
	struct journal j;
	struct json_object *jref;
	const struct driver_ask *asks;  /* apply: each function's driver */
	size_t nasks;
	char **asked;                   /* per function of fns: asks' driver, or NULL */
	struct vfio_target *targets;    /* per function: the VFIO driver chosen */
};

/* Function f's driver after the run: the VFIO driver it was handed to
 * (and read back on); one the run did not hand over (already on a VFIO
 * driver, or not selected) keeps the one read under the locks. */
static const char *driver_after(const struct bind_run *b, const struct pci_func *f)
{
	for (size_t i = 0; b->targets && i < b->nfns; i++)
		if (pci_addr_cmp(&b->fns[i], &f->addr) == 0)
			return f->vfio || !b->targets[i].driver[0] ? f->driver : b->targets[i].driver;
	return f->driver;
}

/* "vfio-pci", "vh-variant-vfio-pci and vfio-pci": the drivers of the
 * slot's functions after the run, each once, in the functions' order. */
static void slot_drivers(struct cli *cli, const struct bind_run *b, size_t first, size_t count,
			 char *buf, size_t len)
{
	char seen[8][64];
	size_t n = 0, off = 0;

	buf[0] = '\0';
	for (size_t i = first; i < first + count; i++) {
		const char *driver = driver_after(b, &cli->host.funcs[i]);
		size_t k;

		if (!driver[0])
			continue;
		for (k = 0; k < n && strcmp(seen[k], driver); k++)
			;
		if (k < n || n == 8)
			continue;
		snprintf(seen[n++], sizeof(seen[0]), "%s", driver);
	}
	for (size_t k = 0; k < n && off < len; k++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", !k ? "" : k + 1 == n ? " and " : ", ",
					seen[k]);
}

static void print_done(struct cli *cli, const struct bind_run *b, long ms)
{
	char sb[PCI_SLOT_LEN], drivers[600];

	for (size_t s = 0; s < b->nslots; s++) {
		size_t count, first = pci_host_slot(&cli->host, &b->slots[s], &count);
		const struct pci_func *f = &cli->host.funcs[first];

		if (!count)
			continue;
		slot_drivers(cli, b, first, count, drivers, sizeof(drivers));
		printf("%s: %zu function%s on %s, IOMMU group %d (/dev/vfio/%d)\n",
		       pci_slot_fmt(&b->slots[s], sb), count, count == 1 ? "" : "s",
		       drivers[0] ? drivers : "vfio-pci", f->iommu_group, f->iommu_group);
	}
	printf("handed over in %ld ms; verified by reading back driver and modalias\n", ms);
}


/* Every function as it is now, the driver it had before the command, and
 * the VFIO driver chosen for it (null where none was). */
static struct json_object *functions_json(struct cli *cli, const struct bind_run *b)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; i < b->nfns; i++) {
		const struct pci_func *before = pci_host_find(&cli->host, &b->fns[i]);
		struct json_object *o = json_func_now(cli, &b->fns[i]);
		const char *chosen = b->targets ? b->targets[i].driver : NULL;

		/* one already on a VFIO driver stays on it */
		if (before && before->vfio)
			chosen = before->driver;
		json_object_object_add(o, "driver_before", before ? json_str_or_null(before->driver) : NULL);
		json_object_object_add(o, "vfio_driver", json_str_or_null(chosen));
		json_object_array_add(arr, o);
	}
	return arr;
}

/* Each function's own driver, from asks (by address). */
static int asked_of(struct bind_run *b)
{
	b->asked = calloc(b->nfns ? b->nfns : 1, sizeof(*b->asked));
	if (!b->asked)
		return -ENOMEM;
	for (size_t i = 0; i < b->nfns; i++)
		for (size_t k = 0; k < b->nasks; k++)
			if (pci_addr_cmp(&b->asks[k].at, &b->fns[i]) == 0)
				b->asked[i] = (char *)b->asks[k].driver;
	return 0;
}

/* Everything before the first write: functions, refusals, the locks of
 * their IOMMU groups, the journal. */
static int bind_prepare(struct cli *cli, struct bind_run *b, const char *cmd)
{
	bool waited = false;
	int rc = cli_need_privileges(cli, cmd);

	if (rc)
		return rc;
	if (cli_functions(cli, b->slots, b->nslots, &b->fns, &b->nfns) < 0 || asked_of(b) < 0)
		return EXIT_FAILED;
	if (all_on_vfio(&cli->host, b->fns, b->nfns))
		return EXIT_DONE;       /* nothing to change, not even a lock */
	/* udevd's workers open a device's nodes while they handle its events
	 * (a sound card that just came back: alsactl restore), which the
	 * holder check would take for a user: its queue drained first */
	cli_wait_udev(cli, NULL, 0);
	/* a refusal, or an invalid journal, leaves everything untouched, the
	 * lock files included */
	rc = cli_refuse(cli, b->slots, b->nslots, b->jref, false);
	log_debug("safety checks done");
	/* which VFIO driver each goes to: refused, too, before any lock */
	if (!rc)
		rc = cli_vfio_choose(cli, b->fns, b->nfns, b->asked, b->jref, &b->targets);
	if (!rc)
		rc = cli_load_journal(cli, &b->j);
	journal_free(&b->j);
	if (!rc)
		rc = cli_lock_run(cli, cmd, b->fns, b->nfns, false, &waited);
	/* under the locks, the state again: another run may have had these
	 * groups, done the work, or changed what the checks found; one that
	 * had them just before us let us in without a wait */
	if (!rc)
		rc = waited ? cli_reload(cli) : cli_reread(cli, b->fns, b->nfns);
	if (!rc && all_on_vfio(&cli->host, b->fns, b->nfns))
		return EXIT_DONE;
	if (!rc && waited)
		rc = cli_refuse(cli, b->slots, b->nslots, b->jref, false);
	/* under the locks: what runs on other groups journaled meanwhile */
	if (!rc)
		rc = cli_load_journal(cli, &b->j);
	log_debug("locks taken, journal read");
	return rc;
}

static int bind_execute(struct cli *cli, struct bind_run *b, const char **outcome)
{
	struct engine e = {
		.sfs = cli->sfs, .root = cli->root, .timeout_ms = (int)(cli->timeout * 1000),
		.dry_run = cli->dry_run, .plan = cli_engine_plan, .plan_data = cli, .journal = &b->j,
	};
	const char **drivers = calloc(b->nfns ? b->nfns : 1, sizeof(*drivers));
	const struct pci_func **known = calloc(b->nfns ? b->nfns : 1, sizeof(*known));
	struct timespec t0;
	enum engine_outcome o;
	int rc;

	if (all_on_vfio(&cli->host, b->fns, b->nfns)) {
		char on[600];
		size_t count, first;

		*outcome = "already";
		first = pci_host_slot(&cli->host, &b->fns[0], &count);
		slot_drivers(cli, b, first, count, on, sizeof(on));
		if (!cli->json)
			printf("already on %s: nothing to do\n", b->nslots == 1 && on[0] ? on : "vfio-pci");
		free(drivers);
		free(known);
		return EXIT_DONE;
	}
	rc = drivers && known ? cli_vfio_load(cli, b->fns, b->nfns, b->targets) : EXIT_FAILED;
	if (rc) {
		free(drivers);
		free(known);
		return rc;
	}
	for (size_t i = 0; i < b->nfns; i++) {
		drivers[i] = b->targets[i].driver;
		/* as bind_prepare read them under the locks */
		known[i] = pci_host_find(&cli->host, &b->fns[i]);
	}
	e.drivers = drivers;
	e.known = known;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	log_debug("hand-over starts");
	o = engine_bind(&e, b->fns, b->nfns);
	log_debug("hand-over ended: %d kernel writes", e.writes);
	json_set(cli, "writes", json_object_new_int(e.writes));
	json_set(cli, "elapsed_ms", json_object_new_int64(elapsed_ms(&t0)));
	free(drivers);
	free(known);
	/* a failure that was undone changed nothing; one that was not, did */
	cli->changed = !cli->dry_run && e.writes > 0 && o != ENGINE_FAILED;
	if (o == ENGINE_DONE) {
		*outcome = cli->dry_run ? "planned" : "done";
		cli_wait_udev(cli, b->fns, b->nfns);
		log_debug("udev settled");
		if (!cli->json && !cli->dry_run)
			print_done(cli, b, elapsed_ms(&t0));
		return EXIT_DONE;
	}
	cli_report_fault(cli, &e);
	if (o == ENGINE_FAILED) {
		*outcome = "failed";
		log_error(MSG_UNDONE, NULL, "every function is back on the driver it had; nothing was "
			  "handed over");
		return EXIT_FAILED;
	}
	*outcome = "unrestored";
	log_error(MSG_UNRESTORED, NULL, "and the undo failed too: the functions are NOT all back "
		  "where they were:");
	cli_report_positions(cli, b->fns, b->nfns);
	log_error(MSG_JOURNAL_KEPT, "fix the cause, then run vfio-handover rollback",
		  "the journal keeps what they had");
	return EXIT_UNRESTORED;
}

void cli_handover_keys(struct cli *cli)
{
	json_set(cli, "dry_run", json_object_new_boolean(cli->dry_run));
	json_set(cli, "outcome", NULL);
	json_set(cli, "writes", json_object_new_int(0));
	json_set(cli, "elapsed_ms", json_object_new_int(0));
	json_set(cli, "refusals", json_object_new_array());
	json_set(cli, "functions", json_object_new_array());
	json_set(cli, "planned", json_object_new_array());
	/* apply's stays null: at boot the supervisor has not started yet */
	cli_aleph_keys(cli);
}

int cli_handover(struct cli *cli, const char *cmd, struct pci_addr *slots, size_t nslots,
		 const struct driver_ask *asks, size_t nasks)
{
	struct bind_run b = { .slots = slots, .nslots = nslots, .asks = asks, .nasks = nasks };
	const char *outcome = NULL;
	int rc;

	b.jref = json_doc_array(cli, "refusals");
	rc = bind_prepare(cli, &b, cmd);
	if (rc == EXIT_REFUSED)
		outcome = "refused";
	else if (rc == EXIT_FAILED)
		outcome = "failed";
	else if (rc == EXIT_DONE && all_on_vfio(&cli->host, b.fns, b.nfns))
		outcome = "already";
	if (!rc)
		rc = bind_execute(cli, &b, &outcome);
	/* the supervisor after the lock: its restart and answer may take
	 * --timeout; at boot (apply) it has not started yet and will see them */
	if (!rc && outcome && (!strcmp(outcome, "done") || !strcmp(outcome, "planned")) &&
	    strcmp(cmd, "apply")) {
		cli_unlock_groups(cli);
		rc = cli_aleph_after(cli, b.fns, b.nfns, true);
	}
	if (cli->json) {
		json_set(cli, "outcome", outcome ? json_object_new_string(outcome) : NULL);
		json_set(cli, "functions", functions_json(cli, &b));
	}
	free(b.targets);
	free(b.asked);
	journal_free(&b.j);
	free(b.fns);
	free(b.slots);
	return rc;
}

static int run_bind(struct cli *cli)
{
	struct pci_addr *slots;
	size_t nslots;
	int rc;

	if (!cli->nargs) {
		log_error(MSG_MISSING_SELECTOR, "e.g. vfio-handover bind 01:00 (see vfio-handover list)",
			  "bind needs a selector");
		return EXIT_USAGE;
	}
	rc = cli_resolve(cli, &slots, &nslots);
	if (rc)
		return rc;
	return cli_handover(cli, "bind", slots, nslots, NULL, 0);
}

/* sysfs writes, module loading, the holder scan */
static const int bind_caps[] = {
	CAP_DAC_OVERRIDE, CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH,
};

const struct command cmd_bind = {
	.name = "bind",
	.args = "SELECTOR...",
	.help = "hand the GPUs over to vfio-pci now (journaled, verified, undone on failure)",
	.about = "Hand every function of the selected GPUs over to vfio-pci now: the\n"
		 "journal first, then driver_override, unbind and drivers_probe, read back;\n"
		 "on a failure everything is given back.",
	.exits = {
		[0] = "every selected function is on vfio-pci, read back",
		[1] = "failed; every function is back as it was; with --aleph also: the\n"
		      "     Aleph supervisor did not confirm, and the hand-over stays",
		[2] = "usage error or bad selector; nothing touched",
		[3] = "refused by a safety check; nothing touched",
		[4] = "failed and not restored: the messages say where each function is",
		[5] = "not permitted (root is needed); nothing touched",
	},
	.run = run_bind,
	.needs = PCI_NEED_BOOT_VGA,
	.lean = true,
	.writes = true,
	.json_keys = cli_handover_keys,
	.caps = bind_caps,
	.ncaps = sizeof(bind_caps) / sizeof(bind_caps[0]),
};
