/* check: the pre-flight, each item PASS/WARN/FAIL with the fix. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cap-ng.h>
#include "checks.h"
#include "cli.h"
#include "json-out.h"
#include "log.h"

static void print_human(const struct check_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct check_item *it = &r->items[i];

		printf("%s  %-9s  %-12s  %s\n", check_status_name(it->status), check_id_name(it->id),
		       it->device[0] ? it->device : "host", it->message);
		if (it->fix)
			printf("%*sfix: %s\n", 31, "", it->fix);
	}
	printf("\nsummary: %d PASS, %d WARN, %d FAIL\n", r->count[CHECK_PASS],
	       r->count[CHECK_WARN], r->count[CHECK_FAIL]);
}

static int print_json(const struct check_report *r)
{
	struct json_object *doc = json_doc_new("check"), *items = json_object_new_array();
	struct json_object *sum = json_object_new_object();

	json_object_object_add(doc, "ok", json_object_new_boolean(r->count[CHECK_FAIL] == 0));
	json_object_object_add(sum, "pass", json_object_new_int(r->count[CHECK_PASS]));
	json_object_object_add(sum, "warn", json_object_new_int(r->count[CHECK_WARN]));
	json_object_object_add(sum, "fail", json_object_new_int(r->count[CHECK_FAIL]));
	json_object_object_add(doc, "summary", sum);
	for (size_t i = 0; i < r->n; i++) {
		const struct check_item *it = &r->items[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "status", json_object_new_string(check_status_name(it->status)));
		json_object_object_add(o, "check", json_object_new_string(check_id_name(it->id)));
		json_object_object_add(o, "device", json_str_or_null(it->device));
		json_object_object_add(o, "message", json_object_new_string(it->message));
		json_object_object_add(o, "fix", json_str_or_null(it->fix));
		json_object_array_add(items, o);
	}
	json_object_object_add(doc, "items", items);
	return json_print(doc);
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
	cli_check_env(cli, &env);
	err = check_run(&env, slots, nslots, &r);
	free(slots);
	if (err < 0) {
		log_error(MSG_SYSTEM_ERROR, NULL, "check could not finish: %s", strerror(-err));
		return EXIT_FAILED;
	}
	if (cli->json)
		print_json(&r);
	else
		print_human(&r);
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
		 "boot-vga, in-use, host-use, pcie-link, model, reset, aleph.",
	.exits = {
		[0] = "no item failed",
		[1] = "an item failed, or the checks could not run",
		[2] = "usage error or bad selector",
	},
	.run = run_check,
	.caps = check_caps,
	.ncaps = sizeof(check_caps) / sizeof(check_caps[0]),
};
