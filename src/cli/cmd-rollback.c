/* rollback: give GPUs back to the drivers the journal recorded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cap-ng.h>
#include "cli-handover.h"
#include "json-out.h"
#include "kmodules.h"
#include "log.h"
#include "safety.h"
#include "usage.h"
#include "util.h"

/* Unbinding from vfio-pci blocks in the kernel while a VM has the group
 * open: refuse rather than hang.  --force does not pass this. */
static int refuse_running_vm(struct cli *cli, const struct pci_addr *fns, size_t n)
{
	struct holder_scan scan = { 0 };
	struct holder *ho;
	size_t nho;
	char ab[PCI_ADDR_LEN];
	int err;

	if (!sysfs_is_live(cli->sfs))
		return EXIT_DONE;
	if (!cli->procroot) {
		log_error("refused: whether a VM holds the IOMMU groups cannot be checked: /proc is "
			  "not a procfs here; an unbind from vfio-pci under a running VM blocks in "
			  "the kernel until the VM exits");
		log_error("  fix: mount it (mount -t proc proc /proc), or run rollback where the "
			  "host's /proc is mounted");
		return EXIT_REFUSED;
	}
	scan.deadline_ms = monotonic_ms() + (long)(cli->timeout * 1000);
	err = usage_vm_holders(&cli->host, fns, n, "/dev", cli->procroot, &ho, &nho, &scan);
	if (err < 0) {
		log_error("cannot look for VMs using the GPUs: %s; run rollback again", strerror(-err));
		return EXIT_FAILED;
	}
	if (scan.unscanned) {
		log_error("refused: whether a VM holds the GPUs' IOMMU groups is unknown: the scan "
			  "of the processes did not finish within --timeout (%d not inspected)",
			  scan.unscanned);
		log_error("  fix: raise --timeout, or make sure no VM uses the GPUs, then run "
			  "rollback again");
		free(ho);
		return EXIT_REFUSED;
	}
	for (size_t k = 0; k < nho; k++) {
		log_error("refused: PID %d (%s) holds %s open: a VM is using %s; unbinding it "
			  "from vfio-pci now would block in the kernel until the VM exits",
			  (int)ho[k].pid, ho[k].comm, ho[k].node, pci_addr_fmt(&ho[k].fn, ab));
		log_error("  fix: shut that VM down (virsh shutdown, qm stop, or stop its "
			  "instance), then run rollback again");
	}
	free(ho);
	return nho ? EXIT_REFUSED : EXIT_DONE;
}

/* No selector: every function the journal holds. */
static int journaled_functions(const struct journal *j, struct pci_addr **fns, size_t *n)
{
	*fns = calloc(j->n ? j->n : 1, sizeof(**fns));
	if (!*fns)
		return -1;
	for (size_t i = 0; i < j->n; i++)
		(*fns)[i] = j->e[i].addr;
	*n = j->n;
	return 0;
}

/* Where each function is: in --json always; as text only when every one
 * is back (on exit 4 stderr says where each is, and stdout claims nothing). */
static void print_back(struct cli *cli, const struct pci_addr *fns, size_t n,
		       struct json_object *arr, bool all_back)
{
	char ab[PCI_ADDR_LEN];

	for (size_t i = 0; i < n; i++) {
		struct pci_func f;

		if (pci_func_load(cli->sfs, &fns[i], &f) < 0)
			continue;
		pci_addr_fmt(&fns[i], ab);
		if (arr) {
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "address", json_object_new_string(ab));
			json_object_object_add(o, "driver", json_str_or_null(f.driver));
			json_object_object_add(o, "driver_override", json_str_or_null(f.override));
			json_object_array_add(arr, o);
		} else if (!cli->dry_run && all_back) {
			printf("%s: back on %s\n", ab, f.driver[0] ? f.driver : "no driver (as before)");
		}
	}
}

static int rollback_run(struct cli *cli, const struct pci_addr *slots, size_t nslots,
			struct journal *j, struct pci_addr **fns, size_t *nfns, struct json_object *doc)
{
	struct engine e = {
		.sfs = cli->sfs, .root = cli->root, .timeout_ms = (int)(cli->timeout * 1000),
		.dry_run = cli->dry_run, .out = cli->json ? stderr : stdout, .journal = j,
		/* modules go into the running kernel only */
		.load_module = cli->sfs->live ? kmodules_load : NULL,
	};
	enum engine_outcome o;
	int rc = EXIT_DONE;

	if (nslots && safety_slot_functions(&cli->host, slots, nslots, fns, nfns) < 0)
		rc = EXIT_FAILED;
	if (!nslots && journaled_functions(j, fns, nfns) < 0)
		rc = EXIT_FAILED;
	if (rc)
		return rc;
	if (!*nfns) {
		if (!cli->json)
			printf("nothing to roll back: the journal is empty\n");
		return EXIT_DONE;
	}
	rc = refuse_running_vm(cli, *fns, *nfns);
	if (rc)
		return rc;
	o = engine_rollback(&e, *fns, *nfns);
	json_object_object_add(doc, "writes", json_object_new_int(e.writes));
	if (o == ENGINE_DONE) {
		cli_wait_udev(cli, NULL, 0);
		cli_aleph_after(cli, e.out);
		return EXIT_DONE;
	}
	cli_report_fault(cli, &e);
	if (o == ENGINE_FAILED) {
		log_error("nothing was changed: a function is unbound from vfio-pci only when its "
			  "recorded driver is there to take it; install or load that module "
			  "(modprobe), then run vfio-handover rollback again");
		return EXIT_FAILED;
	}
	log_error("not every function is back on its recorded driver:");
	cli_report_positions(cli, *fns, *nfns);
	log_error("the journal keeps the rest: fix the cause and run vfio-handover rollback again");
	return EXIT_UNRESTORED;
}

static int run_rollback(struct cli *cli)
{
	struct json_object *doc = json_doc_new("rollback"), *arr = NULL;
	struct journal j = { 0 };
	struct pci_addr *fns = NULL, *slots = NULL;
	size_t nfns = 0, nslots = 0;
	int lockfd = -1, rc;

	/* bad input and missing privileges leave everything untouched */
	rc = cli_resolve(cli, &slots, &nslots);
	if (!rc)
		rc = cli_need_privileges(cli, "rollback");
	if (!rc)
		rc = cli_lock_journal(cli, &lockfd, &j);
	if (!rc)
		rc = rollback_run(cli, slots, nslots, &j, &fns, &nfns, doc);
	free(slots);
	if (cli->json && rc != EXIT_USAGE && rc != EXIT_NOPERM)
		arr = json_object_new_array();
	if (rc == EXIT_DONE || rc == EXIT_UNRESTORED)
		print_back(cli, fns, nfns, arr, rc == EXIT_DONE);
	if (arr) {
		json_object_object_add(doc, "ok", json_object_new_boolean(rc == EXIT_DONE));
		json_object_object_add(doc, "dry_run", json_object_new_boolean(cli->dry_run));
		json_object_object_add(doc, "functions", arr);
		json_print(doc);
		doc = NULL;
	}
	json_object_put(doc);
	journal_unlock(lockfd);
	journal_free(&j);
	free(fns);
	return rc;
}

static const int rollback_caps[] = {
	CAP_DAC_OVERRIDE, CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH,
};

const struct command cmd_rollback = {
	.name = "rollback",
	.args = "[SELECTOR...]",
	.help = "give the GPUs back to the drivers the journal recorded (all without selector)",
	.run = run_rollback,
	.caps = rollback_caps,
	.ncaps = sizeof(rollback_caps) / sizeof(rollback_caps[0]),
};
