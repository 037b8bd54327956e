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
#include "util.h"

struct apply_run {
	struct persist_fn *fns;
	size_t n;
	struct pci_addr *now;           /* present functions to hand over */
	size_t nnow;
	struct json_object *devices;
	size_t ambiguous;
};

static void device_json(struct apply_run *a, const struct persist_fn *f, const struct persist_match *m)
{
	struct json_object *o = json_object_new_object();
	char ab[PCI_ADDR_LEN], ids[16];

	snprintf(ids, sizeof(ids), "%04x:%04x", f->vendor, f->device);
	json_object_object_add(o, "persisted_address", json_object_new_string(pci_addr_fmt(&f->addr, ab)));
	json_object_object_add(o, "id", json_object_new_string(ids));
	json_object_object_add(o, "match", json_object_new_string(persist_match_name(m->kind)));
	json_object_object_add(o, "address", m->kind == PERSIST_HERE || m->kind == PERSIST_MOVED ?
			       json_object_new_string(pci_addr_fmt(&m->now, ab)) : NULL);
	json_object_array_add(a->devices, o);
}

/* Say what became of one persisted function; take it if present. */
static void place_one(struct cli *cli, struct apply_run *a, const struct persist_fn *f,
		      const struct persist_match *m)
{
	char ab[PCI_ADDR_LEN], nb[PCI_ADDR_LEN];

	pci_addr_fmt(&f->addr, ab);
	switch (m->kind) {
	case PERSIST_HERE:
		a->now[a->nnow++] = m->now;
		break;
	case PERSIST_MOVED:
		log_info("%s: persisted at %s, found at %s (same ids %04x:%04x, same %s)",
			 pci_addr_fmt(&m->now, nb), ab, nb, f->vendor, f->device,
			 f->path[0] ? "place behind its root port" : "physical slot");
		a->now[a->nnow++] = m->now;
		break;
	case PERSIST_CHANGED: {
		const struct pci_func *p = pci_host_find(&cli->host, &f->addr);

		log_warn("%s: persisted as %04x:%04x (subsystem %04x:%04x), now %04x:%04x (subsystem "
			 "%04x:%04x): the hardware changed; skipped; run vfio-handover persist for the "
			 "new card, or unpersist %s", ab, f->vendor, f->device, f->subvendor, f->subdevice,
			 p->vendor, p->device, p->subvendor, p->subdevice, ab);
		break;
	}
	case PERSIST_MISSING:
		log_warn("%s: persisted (%04x:%04x) but not present; skipped; vfio-handover unpersist %s "
			 "forgets it", ab, f->vendor, f->device, ab);
		break;
	case PERSIST_AMBIGUOUS:
		log_error("refused: %s: persisted (%04x:%04x), and %zu present functions have its ids "
			  "at its place; refusing to guess which", ab, f->vendor, f->device, m->candidates);
		log_error("  fix: vfio-handover bind the right one by address, then persist it again");
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
	if (!a->now || !m) {
		free(m);
		return EXIT_FAILED;
	}
	for (size_t i = 0; i < a->n && !rc; i++) {
		int err = persist_match(cli->sfs, &cli->host, a->fns, a->n, i, &m[i]);

		if (err < 0) {
			log_error("cannot look for the persisted devices in sysfs: %s", strerror(-err));
			rc = EXIT_FAILED;
		}
	}
	for (size_t i = 0; i < a->n && !rc; i++) {
		bool found = m[i].kind == PERSIST_HERE || m[i].kind == PERSIST_MOVED;

		if (found && !gpu_whole(a, m, i)) {
			/* an audio function's ids are common to many cards: never alone */
			log_warn("%s: skipped with the rest of the GPU persisted at %s",
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

/* ---- the record check reads (/run/vfio-handover/apply.json) ---- */

struct apply_record {
	struct json_object *messages;   /* NULL: no record (dry run, nothing persisted) */
	long start_s;
};

static void record_message(enum log_level level, const char *text, void *data)
{
	static const char *const names[] = { "error", "warning", "info" };
	struct apply_record *rec = data;
	struct json_object *o = json_object_new_object();

	/* a record of a boot, not a log: the first messages say what went wrong */
	if (json_object_array_length(rec->messages) >= 100) {
		json_object_put(o);
		return;
	}
	json_object_object_add(o, "level", json_object_new_string(names[level]));
	json_object_object_add(o, "text", json_object_new_string(text));
	json_object_array_add(rec->messages, o);
}

/* Seconds since the kernel started, suspend included. */
static long uptime_s(void)
{
	struct timespec ts;

	return clock_gettime(CLOCK_BOOTTIME, &ts) == 0 ? (long)ts.tv_sec : -1;
}

static void record_save(struct cli *cli, struct apply_record *rec, const char *outcome, int rc,
			struct json_object *devices)
{
	struct json_object *doc = json_object_new_object();
	int err;

	json_object_object_add(doc, "format_version", json_object_new_int(APPLY_RECORD_FORMAT));
	json_object_object_add(doc, "outcome", json_object_new_string(outcome));
	json_object_object_add(doc, "exit_status", rc < 0 ? NULL : json_object_new_int(rc));
	json_object_object_add(doc, "pid", json_object_new_int((int)getpid()));
	json_object_object_add(doc, "started_s", json_object_new_int64(rec->start_s));
	json_object_object_add(doc, "ended_s", rc < 0 ? NULL : json_object_new_int64(uptime_s()));
	json_object_object_add(doc, "devices", json_object_get(devices));
	json_object_object_add(doc, "messages", json_object_get(rec->messages));
	err = apply_record_save(cli->root, doc);
	json_object_put(doc);
	if (err < 0)
		log_warn("cannot write %s%s: %s; vfio-handover check will not know what apply did",
			 root_is_host(cli->root) ? "" : cli->root, APPLY_RECORD, strerror(-err));
}

/* Before anything is looked at: a run that never ends (stopped by the
 * unit's start timeout, a crash) leaves "started" behind. */
static void record_start(struct cli *cli, struct apply_record *rec, struct json_object *devices)
{
	if (cli->dry_run)
		return;
	rec->messages = json_object_new_array();
	rec->start_s = uptime_s();
	log_set_sink(record_message, rec);
	record_save(cli, rec, "started", -1, devices);
}

static void record_end(struct cli *cli, struct apply_record *rec, const char *outcome, int rc,
		       struct json_object *devices)
{
	if (!rec->messages)
		return;
	log_set_sink(NULL, NULL);
	/* without the privileges there is nothing to write with either */
	if (rc != EXIT_NOPERM)
		record_save(cli, rec, outcome, rc, devices);
	json_object_put(rec->messages);
	rec->messages = NULL;
}

static bool all_on_vfio(struct cli *cli, const struct pci_addr *slots, size_t nslots)
{
	struct pci_addr *fns = NULL;
	size_t n = 0;
	bool all = cli_functions(cli, slots, nslots, &fns, &n) == 0;

	for (size_t i = 0; all && i < n; i++) {
		const struct pci_func *f = pci_host_find(&cli->host, &fns[i]);

		all = f && strcmp(f->driver, "vfio-pci") == 0;
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

static int run_apply(struct cli *cli)
{
	struct apply_run a = { .devices = json_object_new_array() };
	struct json_object *doc = json_doc_new("apply");
	struct persist_problem why = { 0 };
	struct apply_record rec = { 0 };
	struct pci_addr *slots = NULL;
	size_t nslots = 0;
	bool already = false;
	int err, rc = EXIT_DONE;

	if (cli->nargs) {
		log_error("apply takes no selector: it hands over what %s lists "
			  "(vfio-handover bind hands over one GPU now)", PERSIST_DEVICES_CONF);
		rc = EXIT_USAGE;
		goto out;
	}
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
	if (!rc)
		rc = to_slots(cli, &a, &slots, &nslots);
	if (!rc && nslots) {
		size_t handed = nslots;

		already = all_on_vfio(cli, slots, nslots);
		json_object_object_add(doc, "devices", json_object_get(a.devices));
		rc = cli_handover(cli, "apply", doc, slots, nslots);
		doc = NULL;
		slots = NULL;
		nslots = handed;
	} else if (!rc && !cli->json) {
		printf("no persisted device is present: nothing to hand over\n");
	}
out:
	record_end(cli, &rec, outcome_of(rc, nslots, already), rc, a.devices);
	if (doc && cli->json && rc != EXIT_USAGE && rc != EXIT_NOPERM) {
		json_object_object_add(doc, "devices", json_object_get(a.devices));
		json_object_object_add(doc, "ok", json_object_new_boolean(rc == EXIT_DONE));
		json_object_object_add(doc, "dry_run", json_object_new_boolean(cli->dry_run));
		json_object_object_add(doc, "outcome", json_object_new_string(
			rc == EXIT_REFUSED ? "refused" : rc == EXIT_DONE ? "nothing" : "failed"));
		json_print(doc);
		doc = NULL;
	}
	json_object_put(doc);
	json_object_put(a.devices);
	free(slots);
	free(a.now);
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
	.run = run_apply,
	.caps = apply_caps,
	.ncaps = ARRAY_SIZE(apply_caps),
};
