/* check: the pre-flight, each item PASS/WARN/FAIL with the fix. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cap-ng.h>
#include "checks.h"
#include "cli.h"
#include "json-out.h"
#include "log.h"
#include "safety.h"

/* The id column: as wide as the longest id, whichever items a report has. */
static int id_width(void)
{
	int w = 0;

	for (int id = 0; id < CHECK_ID_COUNT; id++)
		if ((int)strlen(check_id_name(id)) > w)
			w = (int)strlen(check_id_name(id));
	return w;
}

static void print_human(const struct check_report *r)
{
	int w = id_width();

	for (size_t i = 0; i < r->n; i++) {
		const struct check_item *it = &r->items[i];

		printf("%s  %-*s  %-12s  %s\n", check_status_name(it->status), w,
		       check_id_name(it->id), it->device[0] ? it->device : "host", it->message);
		if (it->fix)
			printf("%*sfix: %s\n", 4 + 2 + w + 2 + 12 + 2, "", it->fix);
	}
	printf("\nsummary: %d PASS, %d WARN, %d FAIL\n", r->count[CHECK_PASS],
	       r->count[CHECK_WARN], r->count[CHECK_FAIL]);
}

static struct json_object *summary_json(const int count[3])
{
	struct json_object *sum = json_object_new_object();

	json_object_object_add(sum, "pass", json_object_new_int(count[CHECK_PASS]));
	json_object_object_add(sum, "warn", json_object_new_int(count[CHECK_WARN]));
	json_object_object_add(sum, "fail", json_object_new_int(count[CHECK_FAIL]));
	return sum;
}

/* The functions of the GPUs checked: those selected, or every GPU. */
static struct json_object *functions_json(struct cli *cli, const struct pci_addr *slots,
					  size_t nslots)
{
	const struct pci_host *h = &cli->host;
	struct json_object *arr = json_object_new_array();
	struct func_names n;

	for (size_t i = 0; i < h->nfuncs;) {
		size_t count, first = pci_host_slot(h, &h->funcs[i].addr, &count);
		bool checked = nslots ? safety_in_slots(slots, nslots, &h->funcs[first].addr) :
					pci_host_slot_maybe_display(h, first, count);

		for (size_t k = first; checked && k < first + count; k++) {
			names_lookup(cli->names, &h->funcs[k], &n);
			json_object_array_add(arr, json_func(&h->funcs[k], &n));
		}
		i = first + (count ? count : 1);
	}
	return arr;
}

static void set_json(struct cli *cli, const struct check_report *r, const struct pci_addr *slots,
		     size_t nslots)
{
	static const char *const status[] = { "pass", "warn", "fail" };
	struct json_object *items = json_object_new_array();

	json_set(cli, "summary", summary_json(r->count));
	for (size_t i = 0; i < r->n; i++) {
		const struct check_item *it = &r->items[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "status", json_object_new_string(status[it->status]));
		json_object_object_add(o, "check", json_object_new_string(check_id_name(it->id)));
		json_object_object_add(o, "title", json_object_new_string(check_id_title(it->id)));
		json_object_object_add(o, "device", json_str_or_null(it->device));
		json_object_object_add(o, "message", json_object_new_string(it->message));
		json_object_object_add(o, "fix", json_str_or_null(it->fix));
		json_object_array_add(items, o);
	}
	json_set(cli, "items", items);
	json_set(cli, "functions", functions_json(cli, slots, nslots));
}

static void check_keys(struct cli *cli)
{
	static const int none[3];

	json_set(cli, "summary", summary_json(none));
	json_set(cli, "items", json_object_new_array());
	json_set(cli, "functions", json_object_new_array());
}

static int run_check(struct cli *cli)
{
	struct check_env env;
	struct check_report r;
	struct pci_addr *slots;
	size_t nslots;
	int rc, err;

	rc = cli_resolve(cli, &slots, &nslots);
	if (rc)
		return rc;
	/* the GPUs checked, read in full; of the rest, what the checks of
	 * their IOMMU groups need */
	cli_fill_slots(cli, slots, nslots, PCI_NEED_ALL);
	cli_check_env(cli, &env);
	env.leftovers = true;
	err = check_run(&env, slots, nslots, &r);
	if (err < 0) {
		free(slots);
		log_error(MSG_SYSTEM_ERROR, NULL, "check could not finish: %s", strerror(-err));
		return EXIT_FAILED;
	}
	if (cli->json)
		set_json(cli, &r, slots, nslots);
	else
		print_human(&r);
	free(slots);
	rc = r.count[CHECK_FAIL] ? EXIT_FAILED : EXIT_DONE;
	check_report_free(&r);
	return rc;
}

/* to see which processes hold a GPU's device nodes */
static const int check_caps[] = { CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH };

const struct command cmd_check = {
	.name = "check",
	.args = "[SELECTOR...]",
	.help = "pre-flight: IOMMU, vfio-pci, groups, boot VGA, holders, link, model",
	.about = "Pre-flight of the selected GPUs (every GPU without a selector), each\n"
		 "item PASS, WARN or FAIL with the fix: iommu, vfio-pci, sysfs, group,\n"
		 "boot-vga, in-use, host-use, pcie-link, model, reset; on an Aleph node\n"
		 "aleph, aleph-vendor, aleph-qemu.",
	.exits = {
		[0] = "no item failed",
		[1] = "an item failed, or the checks could not run",
		[2] = "usage error or bad selector",
	},
	.run = run_check,
	.needs = PCI_NEED_BOOT_VGA,
	.json_keys = check_keys,
	.caps = check_caps,
	.ncaps = sizeof(check_caps) / sizeof(check_caps[0]),
};
