/* /etc/udev/rules.d/05-vfio-handover.rules: each persisted function given
 * to vfio-pci as it is added, before a host driver can bind it.
 *
 * A line per function, run at the add event of every PCI device (not only
 * its own): udev loads the driver module a device's event asks for after
 * that event's rules, so every module a coldplug loads finds the overrides
 * in place, whichever device's event comes first.  No helper program: the
 * [SUBSYSTEM/SYSNAME] form of udev's ATTR and TEST keys reaches the
 * persisted function from any event. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "persist-text.h"

/* udev's [SUBSYSTEM/SYSNAME]ATTRIBUTE, of the function at a */
#define AT "[pci/%s]"

static const char rule_head[] =
	HEADER_LINE
	"# Gives each persisted GPU function to vfio-pci as it is added, before a\n"
	"# host driver can bind it: at boot (the initramfs carries this file too)\n"
	"# and when the GPU is hot-added, with or without \"options vfio-pci ids=\",\n"
	"# vfio-pci built in or a module.  A line takes its function (sets its\n"
	"# driver_override to vfio-pci, asks the kernel to probe it, loads vfio-pci)\n"
	"# only when every persisted function of its GPU is at its address with the\n"
	"# ids persist recorded, no driver has the function, and nothing overrides\n"
	"# its driver.  The lines run at the add event of every PCI device, not only\n"
	"# of their own: a host driver loaded for another device (an identical card,\n"
	"# the console, the onboard audio) then finds the override in place.\n"
	"# The boot service (\"vfio-handover apply\") hands over what this does not:\n"
	"# a GPU whose bus number moved, or whose host driver is built into the\n"
	"# kernel or was loaded before udev started (it binds the GPU first).\n"
	"# \"vfio_handover.off\" on the kernel command line skips this file and the\n"
	"# boot service for that boot.\n";

static const char rule_start[] =
	"\n"
	"ACTION!=\"add\", GOTO=\"vfio_handover_end\"\n"
	"SUBSYSTEM!=\"pci\", GOTO=\"vfio_handover_end\"\n"
	"IMPORT{cmdline}=\"vfio_handover.off\", ENV{vfio_handover.off}=\"\", GOTO=\"vfio_handover_end\"\n";

static const char rule_tail[] = "\nLABEL=\"vfio_handover_end\"\n";

/* (said only where it applies: a rule without a variant stays as it was) */
static const char variant_note[] =
	"# A function persisted for a VFIO variant driver (devices.conf's driver= and\n"
	"# module=) is given to that driver instead, by the name the kernel gave it,\n"
	"# and its module loaded.\n";

/* The four ids of one function of the GPU, as sysfs spells them. */
static void put_ids(FILE *f, const struct persist_fn *fn)
{
	char a[PCI_ADDR_LEN];

	pci_addr_fmt(&fn->addr, a);
	fprintf(f, "ATTR{" AT "vendor}==\"0x%04x\", ATTR{" AT "device}==\"0x%04x\", \\\n  "
		"ATTR{" AT "subsystem_vendor}==\"0x%04x\", ATTR{" AT "subsystem_device}==\"0x%04x\", \\\n  ",
		a, fn->vendor, a, fn->device, a, fn->subvendor, a, fn->subdevice);
}

/* v[which]'s line; v[first..last) is its GPU (its slot's functions).  A
 * variant whose driver's name no kernel has said yet gets none: a wrong
 * name in driver_override would keep every driver off the function. */
static void put_line(FILE *f, const struct persist_fn *const *v, size_t first, size_t last,
		     size_t which)
{
	const struct persist_fn *fn = v[which];
	const char *drv = persist_fn_variant(fn) ? fn->vfio_driver : "vfio-pci";
	const char *mod = persist_fn_variant(fn) ? fn->vfio_module : "vfio_pci";
	char a[PCI_ADDR_LEN], s[PCI_SLOT_LEN];

	pci_addr_fmt(&fn->addr, a);
	fprintf(f, "\n# %s %04x:%04x, of GPU %s (%zu function%s persisted)\n", a, fn->vendor,
		fn->device, pci_slot_fmt(&fn->addr, s), last - first, last - first == 1 ? "" : "s");
	if (!drv[0]) {
		fprintf(f, "# for the VFIO variant driver of module %s: the kernel has not said the name "
			"of the PCI driver %s registers, so\n# \"vfio-handover apply\" hands it over at "
			"boot (persist it again once %s is loaded)\n", mod, mod, mod);
		return;
	}
	for (size_t k = first; k < last; k++)
		put_ids(f, v[k]);
	fprintf(f, "TEST!=\"" AT "driver\", ATTR{" AT "driver_override}==\"(null)\", \\\n  "
		"ATTR{" AT "driver_override}=\"%s\", \\\n  "
		"ATTR{[subsystem/pci]drivers_probe}=\"%s\", RUN{builtin}+=\"kmod load %s\"\n",
		a, a, a, drv, a, mod);
}

static bool any_variant(const struct persist_fn *const *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (persist_fn_variant(v[i]))
			return true;
	return false;
}

int persist_render_udev_rule(const struct persist_fn *fns, size_t n, char **out)
{
	const struct persist_fn **v;
	struct text x;
	int err = n ? persist_fns_sorted(fns, n, &v) : -EINVAL;

	if (err)
		return err;
	err = text_open(&x);
	if (err)
		goto out;
	fputs(rule_head, x.f);
	if (any_variant(v, n))
		fputs(variant_note, x.f);
	fputs(rule_start, x.f);
	for (size_t first = 0, last; first < n; first = last) {
		for (last = first + 1; last < n && pci_same_slot(&v[first]->addr, &v[last]->addr);)
			last++;
		for (size_t i = first; i < last; i++)
			put_line(x.f, v, first, last, i);
	}
	fputs(rule_tail, x.f);
	err = text_close(&x, 0, out);
out:
	free(v);
	return err;
}
