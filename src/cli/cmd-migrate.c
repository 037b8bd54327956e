/* migrate: take over a host set up by hand (the operators' guide's ids=,
 * blacklists and broken module lines, and guides like it).  The GPUs
 * those lines meant are persisted per device (never the host's console,
 * never a card the host keeps), and the lines are taken out, each leaving
 * a note that quotes it, from which unpersist puts it back byte for byte
 * (leftovers.h).  Lines on the kernel command line are the user's to
 * edit: migrate refuses while one is there. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cap-ng.h>
#include "checks.h"
#include "cli-handover.h"
#include "cli-persist.h"
#include "json-out.h"
#include "leftovers.h"
#include "log.h"
#include "safety.h"
#include "util.h"

/* A device the lines meant: a GPU (the functions of its board: display,
 * audio, USB-C, UCSI), or a function that is no GPU's (a NIC, also one in
 * a GPU's slot), by its address. */
struct meant {
	struct pci_addr slot;           /* fn 0 */
	struct pci_addr fn;             /* the first function a line names */
	bool gpu;
	const struct leftover *line;    /* the first line that names it */
	enum check_id refused;          /* why it is not persisted; CHECK_ID_COUNT: it is */
	char *why;
};

struct migration {
	struct leftover *lines;         /* every line found */
	size_t nlines;
	struct leftover *takeout;       /* migrate's to take out (shallow copies of lines) */
	size_t ntakeout;
	struct meant *m;
	size_t nm;
	struct persist_run p;
};

static bool takes_out(const struct leftover *l)
{
	return l->vfio && !l->cmdline;
}

static const char *action(const struct leftover *l)
{
	return l->cmdline ? "refuse" : !l->vfio ? "leave" : l->replacement ? "change" : "take-out";
}

/* "ROOT/etc/modprobe.d/vfio.conf:4" */
static const char *where(const struct cli *cli, const struct leftover *l, char *buf, size_t len)
{
	char file[4096];

	root_show_path(cli->root, l->file, file, sizeof(file));
	snprintf(buf, len, "%s:%u", file, l->line);
	return buf;
}

/* ---- the devices the lines meant ---- */

static int add_meant(struct migration *mg, const struct pci_host *h, size_t i,
		     const struct leftover *l)
{
	size_t count, first = pci_host_slot(h, &h->funcs[i].addr, &count);
	bool gpu = pci_host_slot_is_display(h, first, count) && pci_func_is_gpu_part(&h->funcs[i]);
	struct meant *v;

	for (size_t k = 0; k < mg->nm; k++)
		if (gpu ? mg->m[k].gpu && pci_same_slot(&mg->m[k].slot, &h->funcs[i].addr) :
			  !pci_addr_cmp(&mg->m[k].fn, &h->funcs[i].addr))
			return 0;
	v = realloc(mg->m, (mg->nm + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	mg->m = v;
	v += mg->nm++;
	memset(v, 0, sizeof(*v));
	v->slot = h->funcs[first].addr;
	v->slot.fn = 0;
	v->fn = h->funcs[i].addr;
	v->gpu = gpu;
	v->line = l;
	v->refused = CHECK_ID_COUNT;
	return 0;
}

/* Every present function a line of migrate's names by ids or modalias. */
static int find_meant(struct cli *cli, struct migration *mg)
{
	const struct pci_host *h = &cli->host;
	int err = 0;

	for (size_t i = 0; i < h->nfuncs && !err; i++)
		for (size_t k = 0; k < mg->nlines; k++)
			if (takes_out(&mg->lines[k]) && leftover_names(&mg->lines[k], &h->funcs[i])) {
				err = add_meant(mg, h, i, &mg->lines[k]);
				break;
			}
	return err;
}

/* The functions persisted: a GPU's own (never a NIC of its slot the lines
 * do not name), or the one named. */
static int meant_functions(const struct cli *cli, const struct migration *mg,
			   struct pci_addr **fns, size_t *n)
{
	const struct pci_host *h = &cli->host;

	*n = 0;
	*fns = calloc(h->nfuncs ? h->nfuncs : 1, sizeof(**fns));
	if (!*fns)
		return -ENOMEM;
	for (size_t k = 0; k < mg->nm; k++) {
		const struct meant *m = &mg->m[k];
		size_t count, first = pci_host_slot(h, &m->slot, &count);

		if (m->refused != CHECK_ID_COUNT)
			continue;
		for (size_t i = m->gpu ? first : 0; i < (m->gpu ? first + count : 0); i++)
			if (pci_func_is_gpu_part(&h->funcs[i]))
				(*fns)[(*n)++] = h->funcs[i].addr;
		if (!m->gpu)
			(*fns)[(*n)++] = m->fn;
	}
	return 0;
}

/* The first refusal of a hand-over at boot of this device, with the
 * others kept alongside: the boot VGA device, a group not viable, a disk
 * or NIC of the host, an unreadable function, and here also a process
 * holding it (the host uses it).  0, 1 when it refused, -errno. */
static int refused(struct cli *cli, struct meant *m, const struct pci_addr *named, size_t nnamed)
{
	struct check_env env;
	struct check_report r;
	int err;

	cli_check_env(cli, &env);
	env.refusals_only = true;
	env.named = named;
	env.nnamed = nnamed;
	err = check_run(&env, &m->slot, 1, &r);
	for (size_t i = 0; !err && i < r.n; i++) {
		if (safety_refusal(&r.items[i]) == REFUSAL_NONE)
			continue;
		m->refused = r.items[i].id;
		m->why = strdup(r.items[i].message);
		err = m->why ? 1 : -ENOMEM;
		break;
	}
	if (err >= 0)
		check_report_free(&r);
	return err;
}

/* Leave out, one round after another, each device a hand-over would be
 * refused for (one left out changes what its IOMMU group holds). */
static int leave_out_unsafe(struct cli *cli, struct migration *mg)
{
	bool again = true;
	int err = 0;

	/* a function whose driver_override does not answer is refused */
	for (size_t k = 0; k < mg->nm; k++)
		cli_fill_slots(cli, &mg->m[k].slot, 1, PCI_NEED_OVERRIDE);
	while (again && !err) {
		struct pci_addr *named;
		size_t nnamed;

		again = false;
		err = meant_functions(cli, mg, &named, &nnamed);
		for (size_t k = 0; k < mg->nm && !err; k++) {
			if (mg->m[k].refused != CHECK_ID_COUNT)
				continue;
			err = refused(cli, &mg->m[k], named, nnamed);
			again |= err == 1;
			err = err == 1 ? 0 : err;
		}
		free(named);
	}
	return err;
}

/* ---- what the run says ---- */

static void say_left_out(struct cli *cli, const struct migration *mg)
{
	char sb[PCI_ADDR_LEN], at[4200], fix[256];

	for (size_t k = 0; k < mg->nm; k++) {
		const struct meant *m = &mg->m[k];

		if (m->refused == CHECK_ID_COUNT)
			continue;
		if (m->gpu)
			pci_slot_fmt(&m->slot, sb);
		else
			pci_addr_fmt(&m->fn, sb);
		log_check(LOGL_WARN, MSG_NOT_MIGRATED, check_id_name(m->refused),
			  log_fixf(fix, sizeof(fix), "nothing to do where the host keeps it; to lend it, "
				   "fix that, then vfio-handover persist %s", sb),
			  "%s: %s names it, but it is not persisted: %s; the host keeps it at the next "
			  "boot", sb, where(cli, m->line, at, sizeof(at)), m->why);
	}
}

static void say_done(struct cli *cli, const struct migration *mg)
{
	char at[4200], sb[PCI_ADDR_LEN];
	size_t persisted = 0;

	if (cli->json || cli->dry_run)
		return;
	for (size_t i = 0; i < mg->ntakeout; i++) {
		const struct leftover *l = &mg->takeout[i];

		if (l->replacement)
			printf("changed %s: %s (now: %s)\n", where(cli, l, at, sizeof(at)), l->text,
			       l->replacement);
		else
			printf("took out %s: %s\n", where(cli, l, at, sizeof(at)), l->text);
	}
	for (size_t k = 0; k < mg->nm; k++) {
		const struct meant *m = &mg->m[k];

		if (m->refused != CHECK_ID_COUNT)
			continue;
		printf("persisted %s for kernel %s (%s), which %s names\n",
		       m->gpu ? pci_slot_fmt(&m->slot, sb) : pci_addr_fmt(&m->fn, sb),
		       mg->p.facts.kernel, mg->p.facts.kernel_from, where(cli, m->line, at, sizeof(at)));
		persisted++;
	}
	if (!persisted)
		printf("persisted nothing: %s\n", mg->nm ? "no device the lines name is one to hand "
		       "over (the warnings say why)" : "the lines name no device present here");
	cli_persist_print_files(cli, mg->p.files, "wrote");
	printf("vfio-handover unpersist puts the lines back as they were\n");
}

/* The lines migrate leaves: not a VFIO setup's (check reports them). */
static void say_left(struct cli *cli, const struct migration *mg)
{
	for (size_t i = 0; i < mg->nlines; i++) {
		const struct leftover *l = &mg->lines[i];
		char *msg = l->vfio ? NULL : leftover_message(l, cli->root, &cli->host);

		if (msg)
			log_check(LOGL_WARN, MSG_LEFTOVER, check_id_name(l->check), l->fix,
				  "%s; it is no VFIO setup's: migrate leaves it", msg);
		free(msg);
	}
}

/* A line on the kernel command line: migrate does not edit it. */
static int refuse_cmdline(struct cli *cli, const struct migration *mg)
{
	struct json_object *jref = json_doc_array(cli, "refusals");
	int refused = 0;

	for (size_t i = 0; i < mg->nlines; i++) {
		const struct leftover *l = &mg->lines[i];
		char *msg;

		if (!l->cmdline || !l->fail)
			continue;
		msg = leftover_message(l, cli->root, &cli->host);
		log_check(LOGL_ERROR, MSG_REFUSED, check_id_name(l->check), l->fix,
			  "%s", msg ? msg : l->text);
		json_refusal(jref, check_id_name(l->check), NULL, msg ? msg : l->text, l->fix, false);
		free(msg);
		refused = 1;
	}
	return refused ? EXIT_REFUSED : EXIT_DONE;
}

static int refuse_iommu_off(struct cli *cli)
{
	static const char fix[] = "enable VT-d (Intel) or AMD-Vi/IOMMU (AMD) in the firmware setup, "
		"add intel_iommu=on (Intel) and iommu=pt to GRUB_CMDLINE_LINUX in /etc/default/grub, "
		"run update-grub and reboot; then run migrate again";
	static const char text[] = "IOMMU is off: the kernel made no IOMMU groups, so no device "
		"the lines meant can be handed to a VM";

	log_check(LOGL_ERROR, MSG_REFUSED, check_id_name(CHECK_IOMMU), fix, "%s", text);
	json_refusal(json_doc_array(cli, "refusals"), check_id_name(CHECK_IOMMU), NULL, text, fix,
		     false);
	return EXIT_REFUSED;
}

/* ---- the run ---- */

static int pick_takeout(struct migration *mg)
{
	mg->takeout = calloc(mg->nlines ? mg->nlines : 1, sizeof(*mg->takeout));
	if (!mg->takeout)
		return -ENOMEM;
	for (size_t i = 0; i < mg->nlines; i++)
		if (takes_out(&mg->lines[i]))
			mg->takeout[mg->ntakeout++] = mg->lines[i];
	mg->p.takeout = mg->takeout;
	mg->p.ntakeout = mg->ntakeout;
	return 0;
}

static int persist_meant(struct cli *cli, struct migration *mg)
{
	struct pci_addr *fns = NULL;
	size_t nfns;
	int rc;

	if (meant_functions(cli, mg, &fns, &nfns) < 0)
		return EXIT_FAILED;
	rc = cli_persist_gather(cli, &mg->p, fns, nfns);
	free(fns);
	if (rc)
		return rc;
	if (cli->dry_run && !cli->json)
		for (size_t k = 0; k < mg->nm; k++) {
			char sb[PCI_ADDR_LEN], at[4200];

			if (mg->m[k].refused == CHECK_ID_COUNT)
				printf("persist %s, which %s names\n", mg->m[k].gpu ?
				       pci_slot_fmt(&mg->m[k].slot, sb) : pci_addr_fmt(&mg->m[k].fn, sb),
				       where(cli, mg->m[k].line, at, sizeof(at)));
		}
	return cli_persist_write(cli, "migrate", &mg->p);
}

static int migrate(struct cli *cli, struct migration *mg)
{
	struct leftover_env le = { .root = cli->root, .kernel = cli->kernel, .host = &cli->host };
	int rc = cli_persist_lock(cli, "migrate");

	if (rc)
		return rc;
	if (leftovers_scan(&le, &mg->lines, &mg->nlines) < 0) {
		log_error(MSG_SYSTEM_ERROR, NULL, "migrate could not read the files under %s/etc",
			  root_is_host(cli->root) ? "" : cli->root);
		return EXIT_FAILED;
	}
	rc = refuse_cmdline(cli, mg);
	if (rc)
		return rc;
	if (pick_takeout(mg) < 0 || find_meant(cli, mg) < 0)
		return EXIT_FAILED;
	say_left(cli, mg);
	if (!mg->ntakeout) {
		json_set(cli, "outcome", json_object_new_string("nothing"));
		if (!cli->json)
			printf("no line of a VFIO setup made by hand under %s/etc: nothing to migrate\n",
			       root_is_host(cli->root) ? "" : cli->root);
		return EXIT_DONE;
	}
	if (mg->nm && !pci_host_iommu_on(&cli->host))
		return refuse_iommu_off(cli);
	if (leave_out_unsafe(cli, mg) < 0) {
		log_error(MSG_SYSTEM_ERROR, NULL, "could not run the safety checks");
		return EXIT_FAILED;
	}
	say_left_out(cli, mg);
	rc = persist_meant(cli, mg);
	if (rc)
		return rc;
	json_set(cli, "outcome", json_object_new_string(cli->dry_run ? "planned" : "done"));
	say_done(cli, mg);
	cli_persist_explain(cli, &mg->p.facts);
	return cli_persist_initramfs(cli, &mg->p);
}

/* ---- --json ---- */

static struct json_object *lines_json(const struct cli *cli, const struct migration *mg)
{
	static const char *const status[] = { "pass", "warn", "fail" };
	struct json_object *arr = json_object_new_array();
	char file[4096];

	for (size_t i = 0; i < mg->nlines; i++) {
		const struct leftover *l = &mg->lines[i];
		struct json_object *o = json_object_new_object();
		char *msg = leftover_message(l, cli->root, &cli->host);

		root_show_path(cli->root, l->file, file, sizeof(file));
		json_object_object_add(o, "file", json_object_new_string(file));
		json_object_object_add(o, "line", json_object_new_int((int)l->line));
		json_object_object_add(o, "check", json_object_new_string(check_id_name(l->check)));
		json_object_object_add(o, "status", json_object_new_string(status[l->fail ? 2 : 1]));
		json_object_object_add(o, "text", json_object_new_string(l->text));
		json_object_object_add(o, "message", json_str_or_null(msg));
		json_object_object_add(o, "fix", json_str_or_null(l->fix));
		json_object_object_add(o, "action", json_object_new_string(action(l)));
		json_object_object_add(o, "replacement", json_str_or_null(l->replacement));
		json_object_array_add(arr, o);
		free(msg);
	}
	return arr;
}

static struct json_object *gpus_json(const struct cli *cli, const struct migration *mg)
{
	struct json_object *arr = json_object_new_array();
	char sb[PCI_ADDR_LEN], ab[PCI_ADDR_LEN], at[4200];

	for (size_t k = 0; k < mg->nm; k++) {
		const struct meant *m = &mg->m[k];
		struct json_object *o = json_object_new_object();
		bool kept = m->refused == CHECK_ID_COUNT;

		json_object_object_add(o, "slot", json_object_new_string(pci_slot_fmt(&m->slot, sb)));
		json_object_object_add(o, "function", json_object_new_string(pci_addr_fmt(&m->fn, ab)));
		json_object_object_add(o, "gpu", json_object_new_boolean(m->gpu));
		json_object_object_add(o, "named_by", json_object_new_string(where(cli, m->line, at,
											 sizeof(at))));
		json_object_object_add(o, "persisted", json_object_new_boolean(kept && !cli->dry_run));
		json_object_object_add(o, "check", kept ? NULL :
				       json_object_new_string(check_id_name(m->refused)));
		json_object_object_add(o, "reason", kept ? NULL : json_object_new_string(m->why));
		json_object_array_add(arr, o);
	}
	return arr;
}

static void migrate_keys(struct cli *cli)
{
	cli_persist_keys(cli);
	json_set(cli, "lines", json_object_new_array());
	json_set(cli, "gpus", json_object_new_array());
}

static void migration_free(struct migration *mg)
{
	for (size_t k = 0; k < mg->nm; k++)
		free(mg->m[k].why);
	free(mg->m);
	free(mg->takeout);
	leftovers_free(mg->lines, mg->nlines);
	cli_persist_free(&mg->p);
}

static int run_migrate(struct cli *cli)
{
	struct migration mg = { 0 };
	char *before = NULL;
	int rc;

	if (cli->nargs) {
		log_error(MSG_UNEXPECTED_ARGUMENT, "vfio-handover migrate works out the GPUs itself; "
			  "vfio-handover persist SELECTOR persists one", "migrate takes no selector: "
			  "'%s'", cli->args[0]);
		return EXIT_USAGE;
	}
	before = cli_persist_state(cli);
	rc = migrate(cli, &mg);
	cli->changed = !cli->dry_run && cli_persist_changed(cli, before);
	if (cli->json) {
		cli_persist_json(cli, &mg.p);
		json_set(cli, "lines", lines_json(cli, &mg));
		json_set(cli, "gpus", gpus_json(cli, &mg));
	}
	free(before);
	migration_free(&mg);
	return rc;
}

/* files under /etc, replaced keeping owner and mode; the processes that
 * hold a GPU (the host keeps one it uses) */
static const int migrate_caps[] = {
	CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_CHOWN, CAP_FOWNER, CAP_FSETID, CAP_SYS_PTRACE,
};

const struct command cmd_migrate = {
	.name = "migrate",
	.args = "",
	.help = "take over a host set up by hand (the guide's ids=, blacklists): persist per device",
	.about = "Take over a host set up by hand: the GPUs that the lines of a hand-made\n"
		 "VFIO setup meant (options vfio-pci ids=, alias ... vfio-pci, vfio_pci ids=)\n"
		 "are persisted per device, never the host's console or a card the host\n"
		 "keeps, and those lines, the blacklists of host drivers, the softdeps on\n"
		 "vfio-pci and the broken module lines are taken out, each leaving a note\n"
		 "from which unpersist puts it back byte for byte.  Refused while the\n"
		 "kernel command line holds such a setting.",
	.exits = {
		[0] = "the lines are taken out and the GPUs persisted, or there was nothing\n"
		      "     to take over",
		[1] = "failed; the files are as they were (or written, and the initramfs\n"
		      "     refresh failed: the messages say which)",
		[2] = "usage error; nothing touched",
		[3] = "refused: a setting on the kernel command line, or the IOMMU off;\n"
		      "     nothing touched",
		[5] = "not permitted (root is needed); nothing touched",
	},
	.run = run_migrate,
	.needs = PCI_NEED_BOOT_VGA,
	.json_keys = migrate_keys,
	.caps = migrate_caps,
	.ncaps = ARRAY_SIZE(migrate_caps),
};
