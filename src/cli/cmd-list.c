/* list: GPUs (every slot with a display-class function) or, with --all,
 * every PCI function, with driver, IOMMU group and state. */
#include <stdio.h>
#include <string.h>
#include "cli.h"
#include "json-out.h"
#include "log.h"
#include "models.h"
#include "table.h"

static bool slot_wanted(const struct cli *cli, size_t first, size_t count)
{
	return cli->all || pci_host_slot_maybe_display(&cli->host, first, count);
}

static void state_text(const struct pci_func *f, char *buf, size_t len)
{
	const char *st = pci_func_state(f);

	if (f->boot_vga == 1)
		snprintf(buf, len, "%s,boot-vga", st);
	else if (f->override[0] && strcmp(f->override, f->driver) != 0)
		/* a column: a long override is cut, and says so */
		snprintf(buf, len, "%s,override=%.32s%s", st, f->override,
			 strlen(f->override) > 32 ? "..." : "");
	else
		snprintf(buf, len, "%s", st);
}

static void warn_unreadable(const struct pci_func *f)
{
	char ab[PCI_ADDR_LEN], bad[256];

	if (f->bad)
		log_warn(MSG_ATTRIBUTE_UNREADABLE, NULL, "%s: could not read %s from sysfs; shown with what could be read",
			 pci_addr_fmt(&f->addr, ab), pci_func_bad_names(f->bad, bad, sizeof(bad)));
}

static int add_row(struct cli *cli, struct table *t, const struct pci_func *f)
{
	struct func_names n;
	char ab[PCI_ADDR_LEN], id[16], grp[16] = "-", st[96], desc[320];

	names_lookup(cli->names, f, &n);
	pci_func_id_text(f, id);
	if (f->iommu_group >= 0)
		snprintf(grp, sizeof(grp), "%d", f->iommu_group);
	state_text(f, st, sizeof(st));
	names_describe(&n, desc, sizeof(desc));
	warn_unreadable(f);
	return table_add(t, pci_addr_fmt(&f->addr, ab), id, n.class_name,
			 f->driver[0] ? f->driver : "-", grp, st, desc[0] ? desc : "-");
}

static int list_human(struct cli *cli)
{
	const struct pci_host *h = &cli->host;
	struct table t;
	size_t shown = 0;
	int err = 0;

	table_init(&t, 7);
	err = table_add(&t, "ADDRESS", "ID", "CLASS", "DRIVER", "GROUP", "STATE", "NAME");
	for (size_t i = 0; i < h->nfuncs && !err;) {
		size_t count, first = pci_host_slot(h, &h->funcs[i].addr, &count);

		if (slot_wanted(cli, first, count)) {
			/* slots apart for GPUs, one block for --all like lspci */
			if (shown && !cli->all)
				err = table_add_blank(&t);
			for (size_t k = first; k < first + count && !err; k++)
				err = add_row(cli, &t, &h->funcs[k]);
			shown++;
		}
		i = first + (count ? count : 1);
	}
	if (!err && shown)
		table_print(&t, stdout);
	else if (!err)
		log_info("no display-class PCI function in %s; vfio-handover list --all shows every function",
			 cli->sysfs);
	table_free(&t);
	return err ? EXIT_FAILED : EXIT_DONE;
}

static struct json_object *model_json(const struct gpu_model *m)
{
	struct json_object *o;

	if (!m)
		return NULL;
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(m->name));
	json_object_object_add(o, "tier", json_object_new_string(m->tier));
	json_object_object_add(o, "vcpu", json_object_new_int(m->vcpu));
	json_object_object_add(o, "ram_gb", json_object_new_int(m->ram_gb));
	json_object_object_add(o, "vram_gb", json_object_new_int(m->vram_gb));
	/* a price in ALEPH to the cent, as gpu-models.tsv gives it */
	json_object_object_add(o, "aleph_per_hour", json_number(m->aleph_per_hour, 2));
	return o;
}

static struct json_object *slot_json(struct cli *cli, size_t first, size_t count)
{
	const struct pci_host *h = &cli->host;
	struct json_object *o = json_object_new_object(), *fns = json_object_new_array();
	const struct gpu_model *model = NULL;
	char sb[PCI_SLOT_LEN], phys[64];
	bool display = pci_host_slot_is_display(h, first, count);

	for (size_t k = first; k < first + count; k++) {
		const struct pci_func *f = &h->funcs[k];
		struct func_names n;

		names_lookup(cli->names, f, &n);
		json_object_array_add(fns, json_func(f, &n));
		if (!model && pci_func_is_display(f))
			model = gpu_model_find(f->vendor, f->device);
		warn_unreadable(f);
	}
	sysfs_phys_slot(h->sfs, &h->funcs[first].addr, phys, sizeof(phys));
	json_object_object_add(o, "slot", json_object_new_string(pci_slot_fmt(&h->funcs[first].addr, sb)));
	json_object_object_add(o, "physical_slot", json_str_or_null(phys));
	json_object_object_add(o, "display", json_object_new_boolean(display));
	json_object_object_add(o, "model", model_json(model));
	json_object_object_add(o, "functions", fns);
	return o;
}

static int list_json(struct cli *cli)
{
	const struct pci_host *h = &cli->host;
	struct json_object *slots = json_object_new_array();

	json_set(cli, "iommu_enabled", json_object_new_boolean(pci_host_iommu_on(h)));
	json_set(cli, "iommu_groups", json_object_new_int(h->ngroups));
	for (size_t i = 0; i < h->nfuncs;) {
		size_t count, first = pci_host_slot(h, &h->funcs[i].addr, &count);

		if (slot_wanted(cli, first, count))
			json_object_array_add(slots, slot_json(cli, first, count));
		i = first + (count ? count : 1);
	}
	json_set(cli, "slots", slots);
	return EXIT_DONE;
}

static void list_keys(struct cli *cli)
{
	json_set(cli, "all", json_object_new_boolean(cli->all));
	json_set(cli, "iommu_enabled", json_object_new_boolean(false));
	json_set(cli, "iommu_groups", json_object_new_int(0));
	json_set(cli, "slots", json_object_new_array());
}

static int run_list(struct cli *cli)
{
	if (cli->nargs) {
		log_error(MSG_UNEXPECTED_ARGUMENT, "use check or verify for one GPU",
			  "list takes no selector (got '%s')", cli->args[0]);
		return EXIT_USAGE;
	}
	return cli->json ? list_json(cli) : list_human(cli);
}

const struct command cmd_list = {
	.name = "list",
	.args = "[--all]",
	.help = "GPUs and their functions: ids, driver, IOMMU group, state",
	.about = "Show each GPU (a slot with a display-class function) and its functions:\n"
		 "address, [vendor:device], class, driver, IOMMU group, state and name;\n"
		 "with --all, every PCI function.",
	.exits = {
		[0] = "sysfs was read",
		[1] = "sysfs could not be read, or the output not written",
		[2] = "usage error",
	},
	.run = run_list,
	.json_keys = list_keys,
	.names = true,
};
