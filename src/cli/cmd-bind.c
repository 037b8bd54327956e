/* bind: hand the selected GPUs over to vfio-pci now. */
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
		if (!f || strcmp(f->driver, "vfio-pci") != 0)
			return false;
	}
	return true;
}

static void print_done(struct cli *cli, const struct pci_addr *slots, size_t nslots, long ms)
{
	char sb[PCI_SLOT_LEN];

	for (size_t s = 0; s < nslots; s++) {
		size_t count, first = pci_host_slot(&cli->host, &slots[s], &count);
		struct pci_func f;

		if (pci_func_load(cli->sfs, &cli->host.funcs[first].addr, &f) < 0)
			continue;
		printf("%s: %zu function%s on vfio-pci, IOMMU group %d (/dev/vfio/%d)\n",
		       pci_slot_fmt(&slots[s], sb), count, count == 1 ? "" : "s",
		       f.iommu_group, f.iommu_group);
	}
	printf("handed over in %ld ms; verified by reading back driver and modalias\n", ms);
}

static struct json_object *functions_json(struct cli *cli, const struct pci_addr *fns, size_t n)
{
	struct json_object *arr = json_object_new_array();
	char ab[PCI_ADDR_LEN];

	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();
		const struct pci_func *before = pci_host_find(&cli->host, &fns[i]);
		struct pci_func f;
		int gone = pci_func_load(cli->sfs, &fns[i], &f) < 0;

		json_object_object_add(o, "address", json_object_new_string(pci_addr_fmt(&fns[i], ab)));
		json_object_object_add(o, "driver_before", before ? json_str_or_null(before->driver) : NULL);
		json_object_object_add(o, "driver", gone ? NULL : json_str_or_null(f.driver));
		json_object_object_add(o, "driver_override", gone ? NULL : json_str_or_null(f.override));
		json_object_object_add(o, "present", json_object_new_boolean(!gone));
		json_object_array_add(arr, o);
	}
	return arr;
}

struct bind_run {
	struct pci_addr *slots, *fns;
	size_t nslots, nfns;
	struct journal j;
	int lockfd;
	struct json_object *doc, *jref;
};

/* Everything before the first write: functions, refusals, lock, journal. */
static int bind_prepare(struct cli *cli, struct bind_run *b, const char *cmd)
{
	int rc = cli_need_privileges(cli, cmd);

	if (rc)
		return rc;
	if (cli_functions(cli, b->slots, b->nslots, &b->fns, &b->nfns) < 0)
		return EXIT_FAILED;
	if (all_on_vfio(&cli->host, b->fns, b->nfns))
		return EXIT_DONE;       /* nothing to change, not even the lock */
	/* a refusal leaves everything untouched, the lock file included */
	rc = cli_refuse(cli, b->slots, b->nslots, b->jref, false);
	log_debug("safety checks done");
	if (!rc)
		rc = cli_lock_journal(cli, &b->lockfd, &b->j);
	log_debug("lock taken, journal read");
	return rc;
}

static int bind_execute(struct cli *cli, struct bind_run *b, const char *cmd, const char **outcome)
{
	FILE *plan = cli->json ? stderr : stdout;
	struct engine e = {
		.sfs = cli->sfs, .root = cli->root, .timeout_ms = (int)(cli->timeout * 1000),
		.dry_run = cli->dry_run, .out = plan, .journal = &b->j,
	};
	struct timespec t0;
	enum engine_outcome o;
	int rc;

	if (all_on_vfio(&cli->host, b->fns, b->nfns)) {
		*outcome = "already";
		if (!cli->json)
			printf("already on vfio-pci: nothing to do\n");
		return EXIT_DONE;
	}
	rc = cli_ensure_vfio(cli, plan);
	if (rc)
		return rc;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	log_debug("hand-over starts");
	o = engine_bind(&e, b->fns, b->nfns);
	log_debug("hand-over ended: %d kernel writes", e.writes);
	json_object_object_add(b->doc, "writes", json_object_new_int(e.writes));
	json_object_object_add(b->doc, "elapsed_ms", json_object_new_int64(elapsed_ms(&t0)));
	if (o == ENGINE_DONE) {
		*outcome = cli->dry_run ? "planned" : "done";
		cli_wait_udev(cli, b->fns, b->nfns);
		log_debug("udev settled");
		if (!cli->json && !cli->dry_run)
			print_done(cli, b->slots, b->nslots, elapsed_ms(&t0));
		/* at boot the supervisor has not started yet: it will see the GPU */
		if (strcmp(cmd, "apply") != 0)
			cli_aleph_after(cli, plan);
		return EXIT_DONE;
	}
	cli_report_fault(cli, &e);
	if (o == ENGINE_FAILED) {
		*outcome = "failed";
		log_error("every function is back on the driver it had; nothing was handed over");
		return EXIT_FAILED;
	}
	*outcome = "unrestored";
	log_error("and the undo failed too: the functions are NOT all back where they were:");
	cli_report_positions(cli, b->fns, b->nfns);
	log_error("the journal keeps what they had: fix the cause, then run vfio-handover rollback");
	return EXIT_UNRESTORED;
}

int cli_handover(struct cli *cli, const char *cmd, struct json_object *doc,
		 struct pci_addr *slots, size_t nslots)
{
	struct bind_run b = { .lockfd = -1, .slots = slots, .nslots = nslots, .doc = doc };
	const char *outcome = "usage";
	int rc;

	b.jref = json_object_new_array();
	json_object_object_add(b.doc, "writes", json_object_new_int(0));
	json_object_object_add(b.doc, "elapsed_ms", json_object_new_int(0));
	rc = bind_prepare(cli, &b, cmd);
	if (rc == EXIT_REFUSED)
		outcome = "refused";
	else if (rc == EXIT_FAILED)
		outcome = "failed";
	else if (rc == EXIT_DONE && all_on_vfio(&cli->host, b.fns, b.nfns))
		outcome = "already";
	if (!rc)
		rc = bind_execute(cli, &b, cmd, &outcome);
	if (cli->json && rc != EXIT_USAGE && rc != EXIT_NOPERM) {
		json_object_object_add(b.doc, "ok", json_object_new_boolean(rc == EXIT_DONE));
		json_object_object_add(b.doc, "dry_run", json_object_new_boolean(cli->dry_run));
		json_object_object_add(b.doc, "outcome", json_object_new_string(outcome));
		json_object_object_add(b.doc, "refusals", json_object_get(b.jref));
		json_object_object_add(b.doc, "functions", functions_json(cli, b.fns, b.nfns));
		json_print(b.doc);
		b.doc = NULL;
	}
	json_object_put(b.doc);
	json_object_put(b.jref);
	journal_unlock(b.lockfd);
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
		log_error("bind needs a selector, e.g. vfio-handover bind 01:00 (see vfio-handover list)");
		return EXIT_USAGE;
	}
	rc = cli_resolve(cli, &slots, &nslots);
	if (rc)
		return rc;
	return cli_handover(cli, "bind", json_doc_new("bind"), slots, nslots);
}

/* sysfs writes, module loading, the holder scan */
static const int bind_caps[] = {
	CAP_DAC_OVERRIDE, CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH,
};

const struct command cmd_bind = {
	.name = "bind",
	.args = "SELECTOR...",
	.help = "hand the GPUs over to vfio-pci now (journaled, verified, undone on failure)",
	.run = run_bind,
	.caps = bind_caps,
	.ncaps = sizeof(bind_caps) / sizeof(bind_caps[0]),
};
