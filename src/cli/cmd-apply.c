/* apply: at boot, hand over every persisted device that is present, found
 * by its ids and its place when its bus number moved; the same engine and
 * refusals as bind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cap-ng.h>
#include "apply-record.h"
#include "cli-handover.h"
#include "json-out.h"
#include "log.h"
#include "persist-match.h"
#include "safety.h"
#include "util.h"
#include "vfio-variant.h"

struct apply_run {
	struct persist_fn *fns;
	size_t n;
	struct pci_addr *now;           /* present functions to hand over */
	const struct persist_fn **of;   /* per function of now: what persist recorded */
	size_t nnow;
	struct json_object *devices;
	size_t ambiguous;
	size_t skipped;                 /* GPUs present but skipped: no variant driver */
};

static void device_json(struct apply_run *a, const struct persist_fn *f, const struct persist_match *m)
{
	struct json_object *o = json_object_new_object();
	char ab[PCI_ADDR_LEN], ids[16];

	snprintf(ids, sizeof(ids), "%04x:%04x", f->vendor, f->device);
	json_object_object_add(o, "persisted_address", json_object_new_string(pci_addr_fmt(&f->addr, ab)));
	json_object_object_add(o, "id", json_object_new_string(ids));
	/* the ids as every function object spells them */
	snprintf(ids, sizeof(ids), "%04x", f->vendor);
	json_object_object_add(o, "vendor_id", json_object_new_string(ids));
	snprintf(ids, sizeof(ids), "%04x", f->device);
	json_object_object_add(o, "device_id", json_object_new_string(ids));
	json_object_object_add(o, "match", json_object_new_string(persist_match_name(m->kind)));
	json_object_object_add(o, "address", m->kind == PERSIST_HERE || m->kind == PERSIST_MOVED ?
			       json_object_new_string(pci_addr_fmt(&m->now, ab)) : NULL);
	json_object_object_add(o, "vfio_module", json_object_new_string(persist_fn_variant(f) ?
			       f->vfio_module : VFIO_PCI_MODULE));
	json_object_array_add(a->devices, o);
}

/* Say what became of one persisted function; take it if present. */
static void place_one(struct cli *cli, struct apply_run *a, const struct persist_fn *f,
		      const struct persist_match *m)
{
	char ab[PCI_ADDR_LEN], nb[PCI_ADDR_LEN], fix[128];

	pci_addr_fmt(&f->addr, ab);
	switch (m->kind) {
	case PERSIST_HERE:
		a->of[a->nnow] = f;
		a->now[a->nnow++] = m->now;
		break;
	case PERSIST_MOVED:
		log_info("%s: persisted at %s, found at %s (same ids %04x:%04x, same %s)",
			 pci_addr_fmt(&m->now, nb), ab, nb, f->vendor, f->device,
			 f->path[0] ? "place behind its root port" : "physical slot");
		a->of[a->nnow] = f;
		a->now[a->nnow++] = m->now;
		break;
	case PERSIST_CHANGED: {
		const struct pci_func *p = pci_host_find(&cli->host, &f->addr);

		log_warn(MSG_DEVICE_CHANGED, log_fixf(fix, sizeof(fix), "run vfio-handover persist for "
			 "the new card, or unpersist %s", ab), "%s: persisted as %04x:%04x (subsystem "
			 "%04x:%04x), now %04x:%04x (subsystem %04x:%04x): the hardware changed; skipped",
			 ab, f->vendor, f->device, f->subvendor, f->subdevice, p->vendor, p->device,
			 p->subvendor, p->subdevice);
		break;
	}
	case PERSIST_MISSING:
		log_warn(MSG_DEVICE_MISSING, log_fixf(fix, sizeof(fix), "vfio-handover unpersist %s "
			 "forgets it", ab), "%s: persisted (%04x:%04x) but not present; skipped", ab,
			 f->vendor, f->device);
		break;
	case PERSIST_AMBIGUOUS:
		log_check(LOGL_ERROR, MSG_REFUSED, check_id_name(CHECK_AMBIGUOUS), "vfio-handover bind "
			  "the right one by address, then persist it again", "%s: persisted (%04x:%04x), "
			  "and %zu present functions have its ids at its place; refusing to guess which",
			  ab, f->vendor, f->device, m->candidates);
		a->ambiguous++;
		break;
	}
}

/* A GPU goes whole or not at all: its functions all found, in one slot. */
static bool gpu_whole(const struct apply_run *a, const struct persist_match *m, size_t i)
{
	for (size_t k = 0; k < a->n; k++) {
		if (!pci_same_slot(&a->fns[k].addr, &a->fns[i].addr))
			continue;
		if (m[k].kind != PERSIST_HERE && m[k].kind != PERSIST_MOVED)
			return false;
		if (!pci_same_slot(&m[k].now, &m[i].now))
			return false;
	}
	return true;
}

static int locate(struct cli *cli, struct apply_run *a)
{
	struct persist_match *m = calloc(a->n ? a->n : 1, sizeof(*m));
	char ab[PCI_ADDR_LEN], sb[PCI_SLOT_LEN];
	int rc = EXIT_DONE;

	a->now = calloc(a->n ? a->n : 1, sizeof(*a->now));
	a->of = calloc(a->n ? a->n : 1, sizeof(*a->of));
	if (!a->now || !a->of || !m) {
		free(m);
		return EXIT_FAILED;
	}
	for (size_t i = 0; i < a->n && !rc; i++) {
		int err = persist_match(cli->sfs, &cli->host, a->fns, a->n, i, &m[i]);

		if (err < 0) {
			log_error(MSG_SYSTEM_ERROR, NULL, "cannot look for the persisted devices in "
				  "sysfs: %s", strerror(-err));
			rc = EXIT_FAILED;
		}
	}
	for (size_t i = 0; i < a->n && !rc; i++) {
		bool found = m[i].kind == PERSIST_HERE || m[i].kind == PERSIST_MOVED;

		if (found && !gpu_whole(a, m, i)) {
			/* an audio function's ids are common to many cards: never alone */
			log_warn(MSG_GPU_INCOMPLETE, NULL, "%s: skipped with the rest of the GPU persisted at %s",
				 pci_addr_fmt(&m[i].now, ab), pci_slot_fmt(&a->fns[i].addr, sb));
			m[i].kind = PERSIST_CHANGED;
		} else {
			place_one(cli, a, &a->fns[i], &m[i]);
		}
		device_json(a, &a->fns[i], &m[i]);
	}
	free(m);
	if (rc)
		return rc;
	return a->ambiguous ? EXIT_REFUSED : EXIT_DONE;
}

/* Take the GPU of now[k] out of the hand-over. */
static void drop_gpu(struct apply_run *a, size_t k)
{
	struct pci_addr slot = a->now[k];
	size_t kept = 0;

	for (size_t i = 0; i < a->nnow; i++) {
		if (pci_same_slot(&a->now[i], &slot))
			continue;
		a->of[kept] = a->of[i];
		a->now[kept++] = a->now[i];
	}
	a->nnow = kept;
}

/* A GPU persisted for a VFIO variant driver the running kernel does not
 * have is skipped, said with what to do: on vfio-pci its VM would not get
 * the device it was persisted for. */
static void skip_missing_variants(struct cli *cli, struct apply_run *a)
{
	char kbuf[256], ab[PCI_ADDR_LEN], sb[PCI_SLOT_LEN], fix[300];
	const char *kver = kmodules_running_release(kbuf, sizeof(kbuf));

	for (size_t k = 0; k < a->nnow;) {
		enum kmod_where where;
		const struct persist_fn *f = a->of[k];

		if (!persist_fn_variant(f) || (kmodules_lookup(cli->root, kver, f->vfio_module, &where,
							       NULL, 0) == 0 && where != KMOD_ABSENT)) {
			k++;
			continue;
		}
		pci_slot_fmt(&a->now[k], sb);
		log_fixf(fix, sizeof(fix), "boot a kernel with %s, or vfio-handover persist %s --driver "
			 "vfio-pci", f->vfio_module, sb);
		log_warn(MSG_VARIANT_MISSING, fix, "%s: persisted for the VFIO variant driver %s, which "
			 "kernel %s does not have; GPU %s skipped (its host driver keeps it)",
			 pci_addr_fmt(&a->now[k], ab), f->vfio_module, kver, sb);
		drop_gpu(a, k);
		a->skipped++;
	}
}

/* Each function's recorded driver, unless --driver says otherwise. */
static struct driver_ask *asks_of(struct cli *cli, const struct apply_run *a, size_t *n)
{
	struct driver_ask *asks = calloc(a->nnow ? a->nnow : 1, sizeof(*asks));

	*n = 0;
	for (size_t i = 0; asks && !cli->driver && i < a->nnow; i++) {
		if (!persist_fn_variant(a->of[i]))
			continue;
		asks[*n].at = a->now[i];
		snprintf(asks[*n].driver, sizeof(asks[*n].driver), "%s", a->of[i]->vfio_module);
		(*n)++;
	}
	return asks;
}

/* ---- the record check reads (/run/vfio-handover/apply.json) ---- */

struct apply_record {
	bool on;                /* false: no record (dry run, nothing persisted) */
	long start_s;
};

/* Seconds since the kernel started, suspend included. */
static long uptime_s(void)
{
	struct timespec ts;

	return clock_gettime(CLOCK_BOOTTIME, &ts) == 0 ? (long)ts.tv_sec : -1;
}

/* The errors and warnings of this run (the kept messages of --json). */
static void record_save(struct cli *cli, struct apply_record *rec, const char *outcome, int rc,
			struct json_object *devices)
{
	struct json_object *doc = json_object_new_object();
	char shown[4096];
	int err;

	json_object_object_add(doc, "format_version", json_object_new_int(APPLY_RECORD_FORMAT));
	json_object_object_add(doc, "outcome", json_object_new_string(outcome));
	json_object_object_add(doc, "exit_status", rc < 0 ? NULL : json_object_new_int(rc));
	json_object_object_add(doc, "pid", json_object_new_int((int)getpid()));
	json_object_object_add(doc, "started_s", json_object_new_int64(rec->start_s));
	json_object_object_add(doc, "ended_s", rc < 0 ? NULL : json_object_new_int64(uptime_s()));
	json_object_object_add(doc, "devices", json_object_get(devices));
	/* a record of a boot, not a log: the first ones say what went wrong */
	json_object_object_add(doc, "messages", json_messages(100));
	err = apply_record_save(cli->root, doc);
	json_object_put(doc);
	if (err < 0) {
		root_show_path(cli->root, APPLY_RECORD, shown, sizeof(shown));
		log_warn(MSG_FILE_WRITE_FAILED, "vfio-handover check will not know what apply did",
			 "cannot write %s: %s", shown, strerror(-err));
	}
}

/* Before anything is looked at: a run that never ends (stopped by the
 * unit's start timeout, a crash) leaves "started" behind.  Its messages
 * are the ones --json keeps. */
static void record_start(struct cli *cli, struct apply_record *rec, struct json_object *devices)
{
	if (cli->dry_run)
		return;
	rec->on = true;
	rec->start_s = uptime_s();
	log_keep(true);
	record_save(cli, rec, "started", -1, devices);
}

static void record_end(struct cli *cli, struct apply_record *rec, const char *outcome, int rc,
		       struct json_object *devices)
{
	/* without the privileges there is nothing to write with either */
	if (rec->on && rc != EXIT_NOPERM)
		record_save(cli, rec, outcome, rc, devices);
}

static bool all_on_vfio(struct cli *cli, const struct pci_addr *slots, size_t nslots)
{
	struct pci_addr *fns = NULL;
	size_t n = 0;
	bool all = cli_functions(cli, slots, nslots, &fns, &n) == 0;

	for (size_t i = 0; all && i < n; i++) {
		const struct pci_func *f = pci_host_find(&cli->host, &fns[i]);

		all = f && f->vfio;
	}
	free(fns);
	return all;
}

static const char *outcome_of(int rc, size_t nslots, bool already)
{
	switch (rc) {
	case EXIT_DONE:
		return !nslots ? "nothing" : already ? "already" : "done";
	case EXIT_REFUSED:
		return "refused";
	case EXIT_UNRESTORED:
		return "unrestored";
	default:
		return "failed";
	}
}

/* Slots of the present functions; they are named by address too, so a
 * persisted non-GPU function of a slot goes along. */
static int to_slots(struct cli *cli, struct apply_run *a, struct pci_addr **slots, size_t *nslots)
{
	*slots = calloc(a->nnow ? a->nnow : 1, sizeof(**slots));
	cli->named = calloc(a->nnow ? a->nnow : 1, sizeof(*cli->named));
	if (!*slots || !cli->named)
		return EXIT_FAILED;
	*nslots = 0;
	for (size_t i = 0; i < a->nnow; i++) {
		struct pci_addr s = a->now[i];
		size_t k;

		cli->named[cli->nnamed++] = a->now[i];
		s.fn = 0;
		for (k = 0; k < *nslots && pci_addr_cmp(&(*slots)[k], &s); k++)
			;
		if (k == *nslots)
			(*slots)[(*nslots)++] = s;
	}
	return EXIT_DONE;
}

/* bind's keys, and the persisted devices */
static void apply_keys(struct cli *cli)
{
	cli_handover_keys(cli);
	json_set(cli, "devices", json_object_new_array());
}

static int run_apply(struct cli *cli)
{
	struct apply_run a = { .devices = json_object_new_array() };
	struct persist_problem why = { 0 };
	struct apply_record rec = { 0 };
	struct pci_addr *slots = NULL;
	size_t nslots = 0;
	bool already = false;
	int err, rc = EXIT_DONE;

	if (cli->nargs) {
		log_error(MSG_UNEXPECTED_ARGUMENT, NULL, "apply takes no selector: it hands over what "
			  "%s lists (vfio-handover bind hands over one GPU now)", PERSIST_DEVICES_CONF);
		rc = EXIT_USAGE;
		goto out;
	}
	/* what it reads, no persist or unpersist changes until it is done */
	rc = cli_lock_run(cli, "apply", NULL, 0, true, &(bool){ false });
	if (rc)
		goto out;
	err = persist_read_devices(cli->root, &a.fns, &a.n, &why);
	if (err == -ENOENT) {
		log_info("nothing persisted (no %s): nothing to do", PERSIST_DEVICES_CONF);
		goto out;
	}
	record_start(cli, &rec, a.devices);
	if (err < 0) {
		/* never a part of the list: the rest of a GPU may be on a line not read */
		cli_persisted_error(cli, err, &why, "apply hands nothing over");
		rc = EXIT_FAILED;
		goto out;
	}
	rc = locate(cli, &a);
	if (!rc && !cli->driver)
		skip_missing_variants(cli, &a);
	if (!rc)
		rc = to_slots(cli, &a, &slots, &nslots);
	if (!rc && nslots) {
		size_t handed = nslots, nasks;
		struct driver_ask *asks = asks_of(cli, &a, &nasks);

		already = all_on_vfio(cli, slots, nslots);
		if (asks) {
			rc = cli_handover(cli, "apply", slots, nslots, asks, nasks);
			slots = NULL;
		} else {
			rc = EXIT_FAILED;
		}
		free(asks);
		nslots = handed;
	} else if (!rc && !cli->json) {
		printf("%s: nothing to hand over\n", a.skipped ? "the persisted GPUs present were skipped" :
		       "no persisted device is present");
	}
out:
	record_end(cli, &rec, outcome_of(rc, nslots, already), rc, a.devices);
	json_set(cli, "devices", json_object_get(a.devices));
	if (!rc && !nslots)
		json_set(cli, "outcome", json_object_new_string("nothing"));
	json_object_put(a.devices);
	free(slots);
	free(a.now);
	free(a.of);
	free(a.fns);
	return rc;
}

/* bind's: sysfs writes, module loading, the holder scan */
static const int apply_caps[] = {
	CAP_DAC_OVERRIDE, CAP_SYS_MODULE, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH,
};

const struct command cmd_apply = {
	.name = "apply",
	.args = "",
	.help = "at boot: hand over every device persist recorded (vfio-handover.service)",
	.about = "At boot (vfio-handover.service): hand over every device persist recorded\n"
		 "that is present, found by its ids and place when its bus number moved; a\n"
		 "device missing or changed is skipped with a warning.",
	.exits = {
		[0] = "every present persisted device is on vfio-pci (or none is present)",
		[1] = "failed; every function is back as it was",
		[2] = "usage error",
		[3] = "refused by a safety check, or a persisted device is ambiguous",
		[4] = "failed and not restored: the messages say where each function is",
		[5] = "not permitted (root is needed); nothing touched",
	},
	.run = run_apply,
	.needs = PCI_NEED_BOOT_VGA,
	.writes = true,
	.json_keys = apply_keys,
	.caps = apply_caps,
	.ncaps = ARRAY_SIZE(apply_caps),
};
