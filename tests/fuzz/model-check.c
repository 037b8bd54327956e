#include <math.h>
#include <string.h>
#include "fuzz-util.h"
#include "model-check.h"

#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)
#define KNOWN_BAD_BITS ((PCI_BAD_DRIVER << 1) - 1)

static void check_id(unsigned v, unsigned max, unsigned bad, unsigned bit, const char *what,
		     const char *ab)
{
	FUZZ_CHECK(v <= max, "%s: %s 0x%x above 0x%x", ab, what, v, max);
	FUZZ_CHECK(!(bad & bit) || v == 0, "%s: %s is marked bad but holds 0x%x", ab, what, v);
}

static void check_speed(double gts, const char *what, const char *ab)
{
	FUZZ_CHECK(isfinite(gts) && gts >= 0, "%s: %s is %g GT/s", ab, what, gts);
}

void model_check_func(const struct pci_func *f)
{
	char ab[PCI_ADDR_LEN];

	pci_addr_fmt(&f->addr, ab);
	FUZZ_CHECK(f->addr.dev <= 31 && f->addr.fn <= 7, "function %s", ab);
	FUZZ_CHECK(!(f->bad & ~KNOWN_BAD_BITS), "%s: bad bits 0x%x", ab, f->bad);
	check_id(f->vendor, 0xffff, f->bad, PCI_BAD_VENDOR, "vendor", ab);
	check_id(f->device, 0xffff, f->bad, PCI_BAD_DEVICE, "device", ab);
	check_id(f->subvendor, 0xffff, f->bad, PCI_BAD_SUBVENDOR, "subsystem_vendor", ab);
	check_id(f->subdevice, 0xffff, f->bad, PCI_BAD_SUBDEVICE, "subsystem_device", ab);
	check_id(f->class, 0xffffff, f->bad, PCI_BAD_CLASS, "class", ab);
	check_id(f->revision, 0xff, 0, 0, "revision", ab);
	FUZZ_CHECK(TERMINATED(f->driver) && TERMINATED(f->override) && TERMINATED(f->modalias) &&
		   TERMINATED(f->reset_method), "%s: a string of the model is not terminated", ab);
	FUZZ_CHECK(!f->modalias[0] || !strncmp(f->modalias, "pci:v", 5), "%s: modalias %s", ab,
		   f->modalias);
	FUZZ_CHECK(!(f->bad & PCI_BAD_MODALIAS) || !f->modalias[0], "%s: bad modalias kept", ab);
	FUZZ_CHECK(strcmp(f->override, "(null)") != 0, "%s: driver_override (null) taken as a driver", ab);
	FUZZ_CHECK(f->boot_vga >= -1 && f->boot_vga <= 1, "%s: boot_vga %d", ab, f->boot_vga);
	FUZZ_CHECK(f->iommu_group >= -1 && f->iommu_group <= 1 << 24, "%s: iommu_group %d", ab,
		   f->iommu_group);
	FUZZ_CHECK(!(f->bad & PCI_BAD_IOMMU_GROUP) || f->iommu_group == -1,
		   "%s: iommu_group marked bad but %d", ab, f->iommu_group);
	FUZZ_CHECK(f->has_reset_method || !f->reset_method[0], "%s: reset_method without the attribute",
		   ab);
	check_speed(f->link.cur_gts, "current_link_speed", ab);
	check_speed(f->link.max_gts, "max_link_speed", ab);
	FUZZ_CHECK(f->link.cur_width >= 0 && f->link.cur_width <= 1 << 20 &&
		   f->link.max_width >= 0 && f->link.max_width <= 1 << 20,
		   "%s: link widths %d, %d", ab, f->link.cur_width, f->link.max_width);
	FUZZ_CHECK(!f->has_upstream || (f->upstream.dev <= 31 && f->upstream.fn <= 7),
		   "%s: upstream %x.%x", ab, f->upstream.dev, f->upstream.fn);
	FUZZ_CHECK(pci_speed_gen(f->link.cur_gts) >= 0 && pci_speed_gen(f->link.max_gts) <= 6,
		   "%s: PCIe generation out of range", ab);
}
