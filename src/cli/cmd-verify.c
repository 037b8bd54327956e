/* verify: read back, like lspci -k, whether every function of the selected
 * GPUs is on vfio-pci. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "checks.h"
#include "cli.h"
#include "json-out.h"
#include "log.h"
#include "safety.h"

static bool on_vfio(const struct pci_func *f)
{
	return f->vfio;
}

/* A function on a VFIO driver other than vfio-pci itself? */
static bool any_variant(struct cli *cli, const struct pci_addr *fns, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct pci_func *f = pci_host_find(&cli->host, &fns[i]);

		if (f && f->vfio && strcmp(f->driver, "vfio-pci") != 0)
			return true;
	}
	return false;
}

static void print_func(struct cli *cli, const struct pci_func *f)
{
	struct func_names n;
	char ab[PCI_ADDR_LEN], desc[320], id[10], sub[10], cls[8] = "????";

	names_lookup(cli->names, f, &n);
	names_describe(&n, desc, sizeof(desc));
	if (!(f->bad & PCI_BAD_CLASS))
		snprintf(cls, sizeof(cls), "%04x", pci_class16(f));
	/* the layout of lspci -nnk */
	printf("%s %s [%s]: %s [%s] (rev %02x)\n", pci_addr_fmt(&f->addr, ab), n.class_name, cls,
	       desc[0] ? desc : "Device", pci_func_id_text(f, id), f->revision);
	printf("\tSubsystem: %s%s[%s]\n", n.subvendor, n.subvendor[0] ? " Device " : "",
	       pci_func_subsys_text(f, sub));
	if (f->driver[0])
		printf("\tKernel driver in use: %s\n", f->driver);
	else
		printf("\tKernel driver in use: none\n");
	printf("\tdriver_override: %s\n", f->override[0] ? f->override : "(null)");
	printf("\tmodalias: %s\n", f->modalias[0] ? f->modalias : "(unreadable)");
	if (f->iommu_group >= 0)
		printf("\tIOMMU group: %d\n", f->iommu_group);
	else
		printf("\tIOMMU group: none\n");
}

/* What bind of this GPU alone would refuse (a hard refusal before one
 * --force passes): the item's message and fix, strdup'ed; false when bind
 * would go ahead, or the checks could not run (then bind says why). */
static bool bind_refusal(struct cli *cli, const struct pci_addr *slot, char **message,
			 char **fix, bool *forceable)
{
	const struct check_item *pick = NULL;
	struct check_env env;
	struct check_report r;

	*message = *fix = NULL;
	cli_check_env(cli, &env);
	env.refusals_only = true;
	if (check_run(&env, slot, 1, &r) < 0)
		return false;
	for (size_t i = 0; i < r.n; i++) {
		enum refusal kind = safety_refusal(&r.items[i]);

		if (kind == REFUSAL_HARD || (kind == REFUSAL_FORCEABLE && !pick))
			pick = &r.items[i];
		if (kind == REFUSAL_HARD)
			break;
	}
	if (pick) {
		*forceable = safety_refusal(pick) == REFUSAL_FORCEABLE;
		*message = strdup(pick->message);
		*fix = pick->fix ? strdup(pick->fix) : NULL;
	}
	check_report_free(&r);
	return *message != NULL;
}

/* What is wrong with a function that should be on vfio-pci, and what to
 * do: bind, where bind would hand it over; else what bind would refuse. */
static void explain(struct cli *cli, const struct pci_func *f)
{
	char ab[PCI_ADDR_LEN], sb[PCI_SLOT_LEN], fix[1200], on[96], *why, *why_fix;
	bool forceable = false;

	pci_addr_fmt(&f->addr, ab);
	pci_slot_fmt(&f->addr, sb);
	if (f->driver[0])
		snprintf(on, sizeof(on), "is on %s", f->driver);
	else
		snprintf(on, sizeof(on), "has no driver");
	if (!bind_refusal(cli, &f->addr, &why, &why_fix, &forceable)) {
		log_error(MSG_NOT_ON_VFIO_PCI, log_fixf(fix, sizeof(fix), "hand it over with: "
			  "vfio-handover bind %s", sb), "%s %s, not vfio-pci", ab, on);
		return;
	}
	log_error(MSG_NOT_ON_VFIO_PCI, why_fix ? log_fixf(fix, sizeof(fix), "%s%s", why_fix,
		  forceable ? " (bind --force passes this check)" : "") : NULL,
		  "%s %s, not vfio-pci; vfio-handover bind %s would refuse it: %s", ab, on, sb, why);
	free(why);
	free(why_fix);
}

static int verify_slots(struct cli *cli, const struct pci_addr *fns, size_t nfns,
			struct json_object *arr)
{
	size_t good = 0;

	for (size_t i = 0; i < nfns; i++) {
		const struct pci_func *f = pci_host_find(&cli->host, &fns[i]);
		struct func_names n;
		struct json_object *o;

		if (!f)
			continue;
		if (arr) {
			names_lookup(cli->names, f, &n);
			o = json_func(f, &n);
			json_object_object_add(o, "on_vfio_pci", json_object_new_boolean(on_vfio(f)));
			json_object_array_add(arr, o);
		} else {
			print_func(cli, f);
		}
		if (on_vfio(f))
			good++;
		else
			explain(cli, f);
	}
	return (int)good;
}

static void verify_keys(struct cli *cli)
{
	json_set(cli, "functions", json_object_new_array());
}

static int run_verify(struct cli *cli)
{
	struct json_object *arr = NULL;
	struct pci_addr *slots = NULL, *fns = NULL;
	size_t nslots, nfns;
	int rc, good;

	if (!cli->nargs) {
		log_error(MSG_MISSING_SELECTOR, "e.g. vfio-handover verify 01:00", "verify needs a selector");
		return EXIT_USAGE;
	}
	rc = cli_resolve(cli, &slots, &nslots);
	if (rc)
		return rc;
	if (safety_slot_functions(&cli->host, slots, nslots, &fns, &nfns) < 0) {
		free(slots);
		log_error(MSG_OUT_OF_MEMORY, NULL, "out of memory");
		return EXIT_FAILED;
	}
	pci_host_fill(&cli->host, fns, nfns, PCI_NEED_ALL);
	if (cli->json)
		arr = json_object_new_array();
	good = verify_slots(cli, fns, nfns, arr);
	rc = (size_t)good == nfns ? EXIT_DONE : EXIT_FAILED;
	if (arr) {
		json_set(cli, "functions", arr);
	} else {
		printf("\n%d of %zu functions on %s\n", good, nfns,
		       any_variant(cli, fns, nfns) ? "a VFIO driver (vfio-pci or a variant)" : "vfio-pci");
	}
	free(fns);
	free(slots);
	return rc;
}

const struct command cmd_verify = {
	.name = "verify",
	.args = "SELECTOR...",
	.help = "read back driver, driver_override and modalias of every function",
	.about = "Read back, like lspci -k, the driver, driver_override and modalias of\n"
		 "every function of the selected GPUs.",
	.exits = {
		[0] = "every function is on vfio-pci",
		[1] = "a function is not on vfio-pci",
		[2] = "usage error or bad selector",
	},
	.run = run_verify,
	.needs = PCI_NEED_BOOT_VGA,
	.lean = true,
	.json_keys = verify_keys,
	.names = true,
};
