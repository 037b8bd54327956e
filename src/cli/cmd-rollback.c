/* rollback: give GPUs back to the drivers the journal recorded. */
#include <stdarg.h>
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

/* One refusal of rollback: on stderr (and in --json, with its device). */
__attribute__((format(printf, 4, 5)))
static void refuse_vm(struct cli *cli, const struct pci_addr *fn, const char *fix,
		      const char *fmt, ...)
{
	char text[1024], ab[PCI_ADDR_LEN] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (fn)
		pci_addr_fmt(fn, ab);
	log_check(LOGL_ERROR, MSG_REFUSED, check_id_name(CHECK_VM_RUNNING), fix, "%s", text);
	json_refusal(json_doc_array(cli, "refusals"), check_id_name(CHECK_VM_RUNNING), ab, text,
		     fix, check_id_refusal(CHECK_VM_RUNNING) == REFUSAL_FORCEABLE);
}

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
		refuse_vm(cli, NULL, "mount it (mount -t proc proc /proc), or run rollback where the "
			  "host's /proc is mounted", "whether a VM holds the IOMMU groups cannot be "
			  "checked: /proc is not a procfs here; an unbind from vfio-pci under a running "
			  "VM blocks in the kernel until the VM exits");
		return EXIT_REFUSED;
	}
	scan.deadline_ms = monotonic_ms() + (long)(cli->timeout * 1000);
	err = usage_vm_holders(&cli->host, fns, n, "/dev", cli->procroot, &ho, &nho, &scan);
	if (err < 0) {
		log_error(MSG_SYSTEM_ERROR, "run rollback again", "cannot look for VMs using the GPUs: %s",
			  strerror(-err));
		return EXIT_FAILED;
	}
	if (scan.unscanned) {
		refuse_vm(cli, NULL, "raise --timeout, or make sure no VM uses the GPUs, then run rollback "
			  "again", "whether a VM holds the GPUs' IOMMU groups is unknown: the scan of "
			  "the processes did not finish within --timeout (%d not inspected)",
			  scan.unscanned);
		free(ho);
		return EXIT_REFUSED;
	}
	for (size_t k = 0; k < nho; k++) {
		refuse_vm(cli, &ho[k].fn, "shut that VM down (virsh shutdown, qm stop, or stop its "
			  "instance), then run rollback again", "PID %d (%s) holds %s open: a VM is "
			  "using %s; unbinding it from vfio-pci now would block in the kernel until the "
			  "VM exits", (int)ho[k].pid, ho[k].comm, ho[k].node, pci_addr_fmt(&ho[k].fn, ab));
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

/* Where each function went back to: a journaled one is on the driver
 * its entry recorded (the engine read that back, and the entry is gone
 * now: the caller took the names before), another on what the kernel
 * chose for it, read here. */
struct back_to {
	bool journaled;
	char driver[64];
};

static struct back_to *recorded_drivers(struct journal *j, const struct pci_addr *fns,
					size_t n)
{
	struct back_to *to = calloc(n ? n : 1, sizeof(*to));

	for (size_t i = 0; to && i < n; i++) {
		const struct journal_entry *je = journal_find(j, &fns[i]);

		if (je) {
			to[i].journaled = true;
			snprintf(to[i].driver, sizeof(to[i].driver), "%s", je->driver);
		}
	}
	return to;
}

/* Where each function is, as text only when every one is back (on exit 4
 * stderr says where each is, and stdout claims nothing). */
static void print_back(struct cli *cli, const struct pci_addr *fns, size_t n,
		       const struct back_to *to)
{
	char ab[PCI_ADDR_LEN];

	for (size_t i = 0; i < n; i++) {
		struct pci_func f;
		const char *driver = to[i].driver;

		if (!to[i].journaled) {
			if (pci_func_load_state(cli->sfs, &fns[i], &f, 0) < 0)
				continue;
			driver = f.driver;
		}
		printf("%s: back on %s\n", pci_addr_fmt(&fns[i], ab),
		       driver[0] ? driver : "no driver (as before)");
	}
}

/* --json: every function of the rollback as it is now, with its driver before. */
static struct json_object *functions_json(struct cli *cli, const struct pci_addr *fns, size_t n)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		const struct pci_func *before = pci_host_find(&cli->host, &fns[i]);
		struct json_object *o = json_func_now(cli, &fns[i]);

		json_object_object_add(o, "driver_before", before ? json_str_or_null(before->driver) : NULL);
		json_object_array_add(arr, o);
	}
	return arr;
}

/* The locks of the functions' IOMMU groups; after a wait, the tree and the
 * journal as the run that held them left them (without a selector, only
 * the functions still journaled: another rollback may have given the
 * others back; a function journaled meanwhile is in a group not locked). */
static int lock_and_reread(struct cli *cli, size_t nslots, struct journal *j,
			   struct pci_addr *fns, size_t *nfns)
{
	bool waited;
	size_t kept = 0;
	int rc = cli_lock_run(cli, "rollback", fns, *nfns, false, &waited);

	if (rc || !waited)
		return rc;
	journal_free(j);
	rc = cli_reload(cli);
	if (!rc)
		rc = cli_load_journal(cli, j);
	for (size_t i = 0; !rc && !nslots && i < *nfns; i++)
		if (journal_find(j, &fns[i]))
			fns[kept++] = fns[i];
	if (!rc && !nslots)
		*nfns = kept;
	return rc;
}

/* An empty journal, and functions on vfio-pci all the same: taken at boot
 * (an ids= line) or by another tool.  Each GPU named, with the rollback
 * that gives it back (a function without a record gets the kernel's
 * choice of driver). */
static void name_unrecorded(struct cli *cli, struct journal *j)
{
	const struct pci_host *h = &cli->host;
	char list[512], ab[PCI_ADDR_LEN], sb[PCI_SLOT_LEN], fix[128];

	if (cli->lean && pci_host_read_all(&cli->host, 0) < 0)
		return;
	for (size_t i = 0; i < h->nfuncs;) {
		size_t count, first = pci_host_slot(h, &h->funcs[i].addr, &count), n = 0;

		list[0] = '\0';
		for (size_t k = first; k < first + count; k++) {
			const struct pci_func *f = &h->funcs[k];

			if (strcmp(f->driver, "vfio-pci") || journal_find(j, &f->addr))
				continue;
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 n++ ? ", " : "", pci_addr_fmt(&f->addr, ab));
		}
		i = first + (count ? count : 1);
		if (!n)
			continue;
		pci_slot_fmt(&h->funcs[first].addr, sb);
		log_warn(MSG_UNRECORDED, log_fixf(fix, sizeof(fix), "give %s back with: "
			 "vfio-handover rollback %s", n == 1 ? "it" : "them", sb),
			 "%s %s on vfio-pci, and the journal has no record of %s: vfio-pci took %s "
			 "at boot (an 'options vfio-pci ids=' line, or vfio-pci.ids= on the kernel "
			 "command line: vfio-handover check names those), or another tool bound %s",
			 list, n == 1 ? "is" : "are", n == 1 ? "it" : "them", n == 1 ? "it" : "them",
			 n == 1 ? "it" : "them");
	}
}

static int rollback_run(struct cli *cli, const struct pci_addr *slots, size_t nslots,
			struct journal *j, struct pci_addr **fns, size_t *nfns)
{
	struct engine e = {
		.sfs = cli->sfs, .root = cli->root, .timeout_ms = (int)(cli->timeout * 1000),
		.dry_run = cli->dry_run, .plan = cli_engine_plan, .plan_data = cli, .journal = j,
		/* modules go into the running kernel only */
		.load_module = sysfs_is_live(cli->sfs) ? kmodules_load : NULL,
	};
	const struct pci_func **known;
	struct back_to *to;
	enum engine_outcome o;
	size_t journaled;
	int rc = EXIT_DONE;

	if (nslots && safety_slot_functions(&cli->host, slots, nslots, fns, nfns) < 0)
		rc = EXIT_FAILED;
	if (!nslots && journaled_functions(j, fns, nfns) < 0)
		rc = EXIT_FAILED;
	/* a listed host: what the journal names read (their groups, for the
	 * locks and the VM scan; no safety check needs the groups' others) */
	if (!rc && !nslots && cli->lean &&
	    pci_host_read_only(&cli->host, *fns, *nfns, cli->cmd->needs) < 0)
		rc = EXIT_FAILED;
	if (!rc && *nfns)
		rc = lock_and_reread(cli, nslots, j, *fns, nfns);
	if (rc)
		return rc;
	if (!*nfns) {
		json_set(cli, "outcome", json_object_new_string("nothing"));
		if (!cli->json)
			printf("nothing to roll back: the journal is empty\n");
		if (!nslots)
			name_unrecorded(cli, j);
		return EXIT_DONE;
	}
	log_debug("locks taken");
	rc = refuse_running_vm(cli, *fns, *nfns);
	if (rc)
		return rc;
	log_debug("no VM holds the groups; give-back starts");
	known = calloc(*nfns, sizeof(*known));
	to = recorded_drivers(j, *fns, *nfns);
	if (!known || !to) {
		free(known);
		free(to);
		log_error(MSG_OUT_OF_MEMORY, NULL, "out of memory");
		return EXIT_FAILED;
	}
	/* their groups, as read under the locks */
	for (size_t i = 0; i < *nfns; i++)
		known[i] = pci_host_find(&cli->host, &(*fns)[i]);
	e.known = known;
	journaled = j->n;
	o = engine_rollback(&e, *fns, *nfns);
	log_debug("give-back ended: %d kernel writes", e.writes);
	free(known);
	json_set(cli, "writes", json_object_new_int(e.writes));
	/* a binding, or the journal (an entry of a function already back) */
	cli->changed = !cli->dry_run && (e.writes > 0 || j->n != journaled);
	if (o == ENGINE_DONE) {
		/* said here: an exit 1 of --aleph's confirmation leaves it done */
		json_set(cli, "outcome", json_object_new_string(cli->dry_run ? "planned" : "done"));
		cli_wait_udev(cli, NULL, 0);
		if (!cli->json && !cli->dry_run)
			print_back(cli, *fns, *nfns, to);
		free(to);
		return EXIT_DONE;
	}
	free(to);
	cli_report_fault(cli, &e);
	if (o == ENGINE_FAILED) {
		log_error(MSG_DRIVER_UNAVAILABLE, "install or load that module (modprobe), then run "
			  "vfio-handover rollback again", "nothing was changed: a function is unbound "
			  "from vfio-pci only when its recorded driver is there to take it");
		return EXIT_FAILED;
	}
	log_error(MSG_UNRESTORED, NULL, "not every function is back on its recorded driver:");
	cli_report_positions(cli, *fns, *nfns);
	log_error(MSG_JOURNAL_KEPT, "fix the cause and run vfio-handover rollback again",
		  "the journal keeps the rest");
	return EXIT_UNRESTORED;
}

static void rollback_keys(struct cli *cli)
{
	json_set(cli, "dry_run", json_object_new_boolean(cli->dry_run));
	json_set(cli, "outcome", NULL);
	json_set(cli, "writes", json_object_new_int(0));
	json_set(cli, "refusals", json_object_new_array());
	json_set(cli, "functions", json_object_new_array());
	json_set(cli, "planned", json_object_new_array());
	cli_aleph_keys(cli);
}

static int run_rollback(struct cli *cli)
{
	struct journal j = { 0 };
	struct pci_addr *fns = NULL, *slots = NULL;
	size_t nfns = 0, nslots = 0;
	int rc;

	/* bad input and missing privileges leave everything untouched */
	rc = cli_resolve(cli, &slots, &nslots);
	if (!rc)
		rc = cli_need_privileges(cli, "rollback");
	if (!rc)
		rc = cli_load_journal(cli, &j);
	if (!rc)
		rc = rollback_run(cli, slots, nslots, &j, &fns, &nfns);
	free(slots);
	/* the supervisor after the lock: its restart and answer may take
	 * --timeout; rolled back (or planned), nfns 0 when there was nothing */
	cli_unlock_groups(cli);
	if (rc == EXIT_DONE && nfns)
		rc = cli_aleph_after(cli, fns, nfns, false);
	if (cli->json)
		json_set(cli, "functions", functions_json(cli, fns, nfns));
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
	.about = "Give the selected GPUs (without a selector: everything the journal holds)\n"
		 "back to the drivers the journal recorded; a function it does not hold gets\n"
		 "its driver_override cleared and the kernel's choice of driver.",
	.exits = {
		[0] = "every function is back on its recorded driver",
		[1] = "failed before any change (a recorded driver cannot be loaded, an\n"
		      "     invalid journal, the lock held); with --aleph also: the Aleph\n"
		      "     supervisor did not confirm, and the give-back stays",
		[2] = "usage error or bad selector; nothing touched",
		[3] = "refused: a VM holds an IOMMU group; nothing touched",
		[4] = "not every function is back: the messages say where each is",
		[5] = "not permitted (root is needed); nothing touched",
	},
	.run = run_rollback,
	.needs = 0,
	.lean = true,
	.writes = true,
	.json_keys = rollback_keys,
	.caps = rollback_caps,
	.ncaps = sizeof(rollback_caps) / sizeof(rollback_caps[0]),
};
