/* devices.conf: what persist_parse_devices_conf accepts renders
 * (persist_render_devices_conf) to a file that parses back to the same
 * functions (the renderer sorts them by address), and rendering that
 * again gives the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz-util.h"
#include "compat.h"

static int fn_cmp(const void *x, const void *y)
{
	return pci_addr_cmp(&((const struct persist_fn *)x)->addr, &((const struct persist_fn *)y)->addr);
}

static void check_fn(const struct persist_fn *f)
{
	char ab[PCI_ADDR_LEN];

	pci_addr_fmt(&f->addr, ab);
	FUZZ_CHECK(f->addr.dev <= 31 && f->addr.fn <= 7, "function %s", ab);
	FUZZ_CHECK(f->vendor <= 0xffff && f->device <= 0xffff && f->subvendor <= 0xffff &&
		   f->subdevice <= 0xffff, "%s: ids over four hex digits", ab);
	FUZZ_CHECK(memchr(f->phys_slot, '\0', sizeof(f->phys_slot)) &&
		   memchr(f->path, '\0', sizeof(f->path)), "%s: slot or path not terminated", ab);
	FUZZ_CHECK(memchr(f->vfio_module, '\0', sizeof(f->vfio_module)) &&
		   memchr(f->vfio_driver, '\0', sizeof(f->vfio_driver)) &&
		   (f->vfio_module[0] || !f->vfio_driver[0]), "%s: a VFIO driver without its module", ab);
}

static bool same_fn(const struct persist_fn *a, const struct persist_fn *b)
{
	return pci_addr_cmp(&a->addr, &b->addr) == 0 && a->vendor == b->vendor &&
	       a->device == b->device && a->subvendor == b->subvendor && a->subdevice == b->subdevice &&
	       !strcmp(a->phys_slot, b->phys_slot) && !strcmp(a->path, b->path) &&
	       !strcmp(a->vfio_module, b->vfio_module) && !strcmp(a->vfio_driver, b->vfio_driver);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size), *out = NULL, *out2 = NULL;
	struct persist_fn *fns = NULL, *back = NULL, *back2 = NULL;
	size_t n = 0, nback = 0, nback2 = 0;
	int err;

	if (fz_parse_devices_conf(text, &fns, &n) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		check_fn(&fns[i]);
		for (size_t k = 0; k < i; k++)
			FUZZ_CHECK(pci_addr_cmp(&fns[k].addr, &fns[i].addr) != 0, "a function listed twice");
	}
	err = persist_render_devices_conf(fns, n, &out);
	FUZZ_CHECK(err == 0, "what parsed does not render: %d", err);
	err = fz_parse_devices_conf(out, &back, &nback);
	FUZZ_CHECK(err == 0, "the rendered file does not parse: %d\n%s", err, out);
	FUZZ_CHECK(nback == n, "%zu functions rendered, %zu parsed back", n, nback);
	if (n)
		qsort(fns, n, sizeof(*fns), fn_cmp);
	for (size_t i = 0; i < n; i++) {
		char ab[PCI_ADDR_LEN];

		FUZZ_CHECK(same_fn(&fns[i], &back[i]),
			   "%s: slot \"%s\" path \"%s\" came back as %s slot \"%s\" path \"%s\"",
			   pci_addr_fmt(&fns[i].addr, ab), fns[i].phys_slot, fns[i].path,
			   pci_addr_fmt(&back[i].addr, (char[PCI_ADDR_LEN]){ 0 }), back[i].phys_slot,
			   back[i].path);
	}
	/* the rendered file is a fixed point */
	err = persist_render_devices_conf(back, nback, &out2);
	FUZZ_CHECK(err == 0 && !strcmp(out, out2), "rendering the file read back changes it");
	err = fz_parse_devices_conf(out2, &back2, &nback2);
	FUZZ_CHECK(err == 0 && nback2 == nback, "the second rendering does not parse back");
out:
	free(back2);
	free(out2);
	free(back);
	free(out);
	free(fns);
	free(text);
	return 0;
}
