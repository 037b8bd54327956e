/* The sysfs layer and the PCI model on emulated trees: every attribute,
 * slots, groups, upstream ports, class devices, and garbage. */
#include <check.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>
#include <errno.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "testlib.h"

START_TEST(rtx4000_gpu)
{
	struct tree t;
	const struct pci_func *f;
	size_t first, count;

	tree_open(&t, "rtx4000");
	ck_assert(pci_host_iommu_on(&t.host));
	f = func(&t, "0000:01:00.0");
	ck_assert_uint_eq(f->vendor, 0x10de);
	ck_assert_uint_eq(f->device, 0x27b0);
	ck_assert_uint_eq(f->subvendor, 0x10de);
	ck_assert_uint_eq(f->subdevice, 0x16fa);
	ck_assert_uint_eq(f->class, 0x030000);
	ck_assert_uint_eq(f->revision, 0xa1);
	ck_assert_str_eq(f->driver, "nvidia");
	ck_assert_str_eq(f->override, "");
	ck_assert_str_eq(f->modalias, "pci:v000010DEd000027B0sv000010DEsd000016FAbc03sc00i00");
	ck_assert_int_eq(f->boot_vga, 0);
	ck_assert_int_eq(f->iommu_group, 14);
	ck_assert(f->has_reset_method);
	ck_assert_str_eq(f->reset_method, "bus");
	ck_assert_double_eq_tol(f->link.max_gts, 16.0, 1e-9);
	ck_assert_double_eq_tol(f->link.cur_gts, 2.5, 1e-9);
	ck_assert_int_eq(f->link.max_width, 16);
	ck_assert(f->has_upstream);
	ck_assert_int_eq(pci_addr_cmp(&f->upstream, &(struct pci_addr){ 0, 0, 1, 0 }), 0);
	ck_assert_uint_eq(f->bad, 0);
	ck_assert_str_eq(pci_func_state(f), "host");
	ck_assert(pci_func_is_display(f));
	first = pci_host_slot(&t.host, &f->addr, &count);
	ck_assert_uint_eq(count, 2);
	ck_assert_str_eq(t.host.funcs[first + 1].driver, "snd_hda_intel");
	ck_assert(pci_host_slot_is_display(&t.host, first, count));
	/* the console on the BMC, behind two bridges */
	f = func(&t, "0000:03:00.0");
	ck_assert_int_eq(f->boot_vga, 1);
	ck_assert(f->has_upstream);
	ck_assert_uint_eq(f->upstream.bus, 2);
	ck_assert(pci_func_is_bridge(func(&t, "0000:02:00.0")));
	ck_assert(!pci_func_is_bridge(func(&t, "0000:00:00.0")));   /* a host bridge is not */
	tree_close(&t);
}
END_TEST

static int count_child(const struct sysfs_child *c, void *data)
{
	char *seen = data;

	if (strcmp(c->subsystem, "drm") == 0 && c->has_dev) {
		if (strcmp(c->name, "card1") == 0 && c->dev == makedev(226, 1))
			strcat(seen, "c");
		if (strcmp(c->name, "renderD128") == 0 && c->dev == makedev(226, 128))
			strcat(seen, "r");
	}
	return 0;
}

START_TEST(class_devices)
{
	struct tree t;
	char seen[16] = "";
	struct pci_addr a;

	tree_open(&t, "rtx4000");
	a = addr("0000:01:00.0");
	ck_assert_int_eq(sysfs_walk_children(t.sfs, &a, count_child, seen), 0);
	ck_assert_uint_eq(strlen(seen), 2);
	/* the root port's walk does not descend into the GPU below it */
	seen[0] = '\0';
	a = addr("0000:00:01.0");
	ck_assert_int_eq(sysfs_walk_children(t.sfs, &a, count_child, seen), 0);
	ck_assert_str_eq(seen, "");
	tree_close(&t);
}
END_TEST

START_TEST(phys_slot)
{
	struct tree t;
	char name[32];
	struct pci_addr a;

	tree_open(&t, "twins");
	a = addr("0000:02:00.1");
	ck_assert_int_eq(sysfs_phys_slot(t.sfs, &a, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "2");
	a = addr("0000:04:00.0");
	ck_assert_int_eq(sysfs_phys_slot(t.sfs, &a, name, sizeof(name)), 0);
	ck_assert_str_eq(name, "");
	tree_close(&t);
}
END_TEST

START_TEST(four_functions)
{
	struct tree t;
	size_t first, count;
	static const char *const drivers[] = { "nvidia", "snd_hda_intel", "xhci_hcd", "nvidia-gpu" };

	tree_open(&t, "consumer4");
	first = pci_host_slot(&t.host, &(struct pci_addr){ 0, 1, 0, 0 }, &count);
	ck_assert_uint_eq(count, 4);
	for (size_t i = 0; i < 4; i++) {
		ck_assert_str_eq(t.host.funcs[first + i].driver, drivers[i]);
		ck_assert_int_eq(t.host.funcs[first + i].iommu_group, 15);
	}
	ck_assert_uint_eq(t.host.funcs[first + 2].class, 0x0c0330);
	tree_close(&t);
}
END_TEST

START_TEST(iommu_off)
{
	struct tree t;

	tree_open(&t, "iommu-off");
	ck_assert(!pci_host_iommu_on(&t.host));
	for (size_t i = 0; i < t.host.nfuncs; i++)
		ck_assert_int_eq(t.host.funcs[i].iommu_group, -1);
	ck_assert(!sysfs_driver_registered(t.sfs, "vfio-pci"));
	tree_close(&t);
}
END_TEST

START_TEST(h100_server)
{
	struct tree t;
	int gpus = 0, groups[256] = { 0 };

	tree_open(&t, "h100x8");
	for (size_t i = 0; i < t.host.nfuncs; i++) {
		const struct pci_func *f = &t.host.funcs[i];
		if (f->vendor == 0x10de && f->device == 0x2330) {
			gpus++;
			ck_assert_uint_eq(f->class, 0x030200);
			ck_assert_int_eq(f->boot_vga, -1);   /* 3D controllers have none */
			ck_assert(f->iommu_group >= 0 && f->iommu_group < 256);
			groups[f->iommu_group]++;
		}
	}
	ck_assert_int_eq(gpus, 8);
	for (int g = 0; g < 256; g++)
		ck_assert_int_le(groups[g], 1);
	tree_close(&t);
}
END_TEST

START_TEST(thousand_functions)
{
	struct tree t;

	tree_open(&t, "big1000");
	ck_assert_uint_eq(t.host.nfuncs, 1000);
	for (size_t i = 1; i < t.host.nfuncs; i++)
		ck_assert_int_lt(pci_addr_cmp(&t.host.funcs[i - 1].addr, &t.host.funcs[i].addr), 0);
	tree_close(&t);
}
END_TEST

START_TEST(garbled)
{
	struct tree t;
	const struct pci_func *f;

	tree_open(&t, "garbled");
	f = func(&t, "0000:01:00.0");
	ck_assert(f->bad & PCI_BAD_VENDOR);    /* missing */
	ck_assert(f->bad & PCI_BAD_CLASS);     /* empty */
	ck_assert(f->bad & PCI_BAD_DEVICE);    /* 0xZZZZ */
	ck_assert(!(f->bad & PCI_BAD_LINK));   /* "Unknown" is the kernel's own word */
	ck_assert_double_eq(f->link.max_gts, 0);
	ck_assert(f->bad & PCI_BAD_IOMMU_GROUP);
	ck_assert_int_eq(f->iommu_group, -1);
	ck_assert_str_eq(f->driver, "nvidia");  /* what could be read is kept */
	ck_assert(!pci_func_is_display(f));
	f = func(&t, "0000:01:00.1");
	ck_assert(f->bad & PCI_BAD_MODALIAS);
	ck_assert(f->bad & PCI_BAD_SUBVENDOR);
	ck_assert_str_eq(f->override, "garbage");
	ck_assert_uint_eq(f->device, 0x22bc);
	ck_assert_int_eq(f->iommu_group, 14);
	/* a speed that is neither a speed nor the kernel's "Unknown" */
	ck_assert_int_eq(fx_set_attr(t.fx, "0000:01:00.1", "max_link_speed", "fast\n"), 0);
	tree_reload(&t);
	ck_assert(func(&t, "0000:01:00.1")->bad & PCI_BAD_LINK);
	tree_close(&t);
}
END_TEST

START_TEST(vanished_and_changed)
{
	struct tree t;
	struct pci_addr a = addr("0000:01:00.1");
	struct pci_func f;

	tree_open(&t, "rtx4000");
	ck_assert_int_eq(fx_set_driver(t.fx, "0000:01:00.1", "vfio-pci"), 0);
	ck_assert_int_eq(fx_set_attr(t.fx, "0000:01:00.1", "driver_override", "vfio-pci\n"), 0);
	ck_assert_int_eq(pci_func_load(t.sfs, &a, &f), 0);
	ck_assert_str_eq(f.driver, "vfio-pci");
	ck_assert_str_eq(f.override, "vfio-pci");
	ck_assert_str_eq(pci_func_state(&f), "vfio");
	ck_assert_int_eq(fx_set_driver(t.fx, "0000:01:00.1", NULL), 0);
	ck_assert_int_eq(pci_func_load(t.sfs, &a, &f), 0);
	ck_assert_str_eq(f.driver, "");
	ck_assert_str_eq(pci_func_state(&f), "unbound");
	a = addr("0000:09:00.0");
	ck_assert_int_eq(pci_func_load(t.sfs, &a, &f), -ENODEV);
	tree_close(&t);
}
END_TEST

START_TEST(not_a_tree)
{
	struct sysfs *sfs;
	struct pci_host host;

	ck_assert_int_eq(sysfs_open("/nonexistent-vh", &sfs), -ENOENT);
	ck_assert_int_eq(sysfs_open("/tmp", &sfs), 0);
	ck_assert_int_lt(pci_host_load(sfs, &host), 0);
	ck_assert(!sysfs_is_live(sfs));
	sysfs_close(sfs);
}
END_TEST

/* A sysfs mounted somewhere else (a privileged container's /host/sys) is
 * the running kernel's all the same: its type says so, not its path.
 * Mounted read-only, in a mount namespace of this test's own. */
START_TEST(live_wherever_mounted)
{
	char dir[] = "/tmp/vh-sysfs-XXXXXX";
	struct sysfs *sfs;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("sysfs", dir, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		fprintf(stderr, "live_wherever_mounted: cannot mount a sysfs here (%s): not tested "
			"(tests/vm/scenarios/sysfs-elsewhere.sh tests it on a real kernel)\n",
			strerror(errno));
		rmdir(dir);
		return;
	}
	ck_assert_int_eq(sysfs_open(dir, &sfs), 0);
	ck_assert(sysfs_is_live(sfs));
	sysfs_close(sfs);
	/* and a directory named like it is not */
	umount(dir);
	ck_assert_int_eq(sysfs_open(dir, &sfs), 0);
	ck_assert(!sysfs_is_live(sfs));
	sysfs_close(sfs);
	rmdir(dir);
}
END_TEST

START_TEST(speeds)
{
	ck_assert_double_eq_tol(pci_parse_speed("16.0 GT/s PCIe"), 16.0, 1e-9);
	ck_assert_double_eq_tol(pci_parse_speed("2.5 GT/s"), 2.5, 1e-9);
	ck_assert_double_eq(pci_parse_speed("Unknown"), 0);
	ck_assert_double_eq(pci_parse_speed(""), 0);
	/* what a hostile tree may hold: never infinity, NaN or a huge number */
	static const char *const bad[] = {
		"inf GT/s", "INF GT/s", "nan GT/s", "1e308 GT/s", "1e400 GT/s", "0x10 GT/s",
		"-8.0 GT/s", " 8.0 GT/s", "8.0GT/s", "8. GT/s", ".5 GT/s", "0 GT/s", "99999 GT/s",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(pci_parse_speed(bad[i]) == 0, "'%s' parsed as %g", bad[i],
			      pci_parse_speed(bad[i]));
	ck_assert_double_eq_tol(pci_parse_speed("64.0 GT/s PCIe"), 64.0, 1e-9);
	ck_assert_double_eq_tol(pci_parse_speed("8 GT/s"), 8.0, 1e-9);
	ck_assert_int_eq(pci_speed_gen(2.5), 1);
	ck_assert_int_eq(pci_speed_gen(8.0), 3);
	ck_assert_int_eq(pci_speed_gen(16.0), 4);
	ck_assert_int_eq(pci_speed_gen(32.0), 5);
	ck_assert_int_eq(pci_speed_gen(64.0), 6);
}
END_TEST

/* A captured tree's attribute that is a FIFO: refused at once, never
 * waited on, whether read by this process or written by the writer. */
START_TEST(fifo_attribute)
{
	struct pci_addr a = addr("0000:01:00.0");
	char dir[4096], path[4200], buf[64];
	struct tree t;
	int err;

	tree_open(&t, "rtx4000");
	ck_assert_int_eq(fx_func_path(t.fx, "0000:01:00.0", dir, sizeof(dir)), 0);
	snprintf(path, sizeof(path), "%s/vendor", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkfifo(path, 0644), 0);
	/* a FIFO for uevent too: the identity comes from neither */
	snprintf(path, sizeof(path), "%s/uevent", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkfifo(path, 0644), 0);
	snprintf(path, sizeof(path), "%s/driver_override", dir);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(mkfifo(path, 0644), 0);
	ck_assert_int_eq(sysfs_dev_read(t.sfs, &a, "vendor", buf, sizeof(buf)), -EINVAL);
	err = sysfs_dev_write(t.sfs, &a, "driver_override", "vfio-pci", 2000);
	ck_assert_msg(err == -EINVAL || err == -ENXIO, "write to a FIFO: %s", strerror(-err));
	tree_reload(&t);
	ck_assert(func(&t, "0000:01:00.0")->bad & PCI_BAD_VENDOR);
	tree_close(&t);
}
END_TEST

/* A link whose text ends in '/' names nothing: not the driver "" (an
 * unbound function), not IOMMU group 0. */
START_TEST(links_naming_nothing)
{
	struct tree t;
	const struct pci_func *f;

	tree_open(&t, "rtx4000");
	slash_link(&t, "0000:01:00.0", "driver");
	slash_link(&t, "0000:01:00.0", "iommu_group");
	tree_reload(&t);
	f = func(&t, "0000:01:00.0");
	ck_assert_str_eq(f->driver, "");
	ck_assert_uint_ne(f->bad & PCI_BAD_DRIVER, 0);
	ck_assert_int_eq(f->iommu_group, -1);
	ck_assert_uint_ne(f->bad & PCI_BAD_IOMMU_GROUP, 0);
	tree_close(&t);
}
END_TEST

/* The kernel writes ids as "0x" and hex digits, widths as decimal digits:
 * what strtoul or strtol would still make a number of is garbage. */
START_TEST(strict_values)
{
	static const struct { const char *attr, *text; unsigned bit; } bad[] = {
		{ "vendor", "0x0x10de\n", PCI_BAD_VENDOR },
		{ "device", "0x 27b0\n", PCI_BAD_DEVICE },
		{ "subsystem_vendor", "0x+10de\n", PCI_BAD_SUBVENDOR },
		{ "subsystem_device", "0x-0\n", PCI_BAD_SUBDEVICE },
		{ "class", "0x\t30000\n", PCI_BAD_CLASS },
		{ "max_link_width", " 16\n", PCI_BAD_LINK },
		{ "current_link_width", "+16\n", PCI_BAD_LINK },
	};
	struct tree t;
	const struct pci_func *f;

	tree_open(&t, "rtx4000");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(fx_set_attr(t.fx, "0000:01:00.0", bad[i].attr, bad[i].text), 0);
		tree_reload(&t);
		f = func(&t, "0000:01:00.0");
		ck_assert_msg(f->bad & bad[i].bit, "%s \"%s\" read as a value", bad[i].attr, bad[i].text);
		/* put it back: one garbled value at a time */
		tree_close(&t);
		tree_open(&t, "rtx4000");
	}
	tree_close(&t);
}
END_TEST

/* A handle of its own: what the last one found of each driver is kept. */
static void reopen(struct tree *t)
{
	pci_host_free(&t->host);
	sysfs_close(t->sfs);
	tree_load(t);
}

/* A VFIO driver is known by its module, never by its name: vfio-pci, or
 * a module vfio_pci_core's holders list. */
START_TEST(vfio_drivers)
{
	char path[4096], rel[4200], drv[64];
	struct tree t;
	const struct pci_func *f;

	tree_open(&t, "gh200-variant");
	f = func(&t, "0009:01:00.0");
	ck_assert_str_eq(f->driver, "nvgrace_gpu_vfio_pci");
	ck_assert(f->vfio);
	ck_assert_str_eq(pci_func_state(f), "vfio");
	ck_assert(!func(&t, "0000:03:00.0")->vfio);
	ck_assert_int_eq(sysfs_driver_vfio(t.sfs, "vfio-pci"), SYSFS_VFIO_YES);
	ck_assert_int_eq(sysfs_driver_vfio(t.sfs, "ast"), SYSFS_VFIO_NO);
	ck_assert_int_eq(sysfs_driver_vfio(t.sfs, ""), SYSFS_VFIO_NO);
	ck_assert_int_eq(sysfs_module_pci_driver(t.sfs, "nvgrace_gpu_vfio_pci", drv, sizeof(drv)), 0);
	ck_assert_str_eq(drv, "nvgrace_gpu_vfio_pci");
	ck_assert_int_eq(sysfs_module_pci_driver(t.sfs, "nouveau", drv, sizeof(drv)), -ENOENT);
	ck_assert_int_eq(sysfs_module_pci_driver(t.sfs, "../x", drv, sizeof(drv)), -EINVAL);
	tree_close(&t);

	/* named like a variant, but no holder of vfio_pci_core: a host driver */
	tree_open(&t, "gh200-variant");
	snprintf(path, sizeof(path), "%s/module/vfio_pci_core/holders/nvgrace_gpu_vfio_pci",
		 fx_root(t.fx));
	ck_assert_int_eq(unlink(path), 0);
	reopen(&t);
	ck_assert(!func(&t, "0009:01:00.0")->vfio);
	ck_assert_str_eq(pci_func_state(func(&t, "0009:01:00.0")), "host");
	tree_close(&t);

	/* vfio_pci_core built in (no holders): the device says, by vfio-dev/ */
	tree_open(&t, "gh200-variant");
	snprintf(path, sizeof(path), "%s/module/vfio_pci_core/holders", fx_root(t.fx));
	snprintf(rel, sizeof(rel), "rm -r '%s'", path);
	ck_assert_int_eq(system(rel), 0);
	reopen(&t);
	ck_assert(!func(&t, "0009:01:00.0")->vfio);
	ck_assert_int_eq(fx_set_attr(t.fx, "0009:01:00.0", "vfio-dev/vfio0/dev", "240:0\n"), 0);
	reopen(&t);
	ck_assert(func(&t, "0009:01:00.0")->vfio);
	ck_assert(!func(&t, "0000:03:00.0")->vfio);
	tree_close(&t);
}
END_TEST

/* A read-back (pci_func_load_state): the driver and whether it is a VFIO
 * one, and only what is asked of driver_override and modalias; the
 * identity and the group are not read. */
START_TEST(state_only)
{
	struct tree t;
	struct pci_func f;

	tree_open(&t, "gh200-variant");
	ck_assert_int_eq(pci_func_load_state(t.sfs, &(struct pci_addr){ 9, 1, 0, 0 }, &f, 0), 0);
	ck_assert_str_eq(f.driver, "nvgrace_gpu_vfio_pci");
	ck_assert(f.vfio);
	ck_assert(f.unread);
	ck_assert_uint_eq(f.vendor, 0);
	ck_assert_int_eq(f.iommu_group, -1);
	ck_assert_str_eq(f.modalias, "");
	ck_assert_uint_eq(f.loaded, 0);
	tree_close(&t);

	tree_open(&t, "rtx4000");
	ck_assert_int_eq(fx_set_attr(t.fx, "0000:01:00.1", "driver_override", "vfio-pci\n"), 0);
	ck_assert_int_eq(pci_func_load_state(t.sfs, &(struct pci_addr){ 0, 1, 0, 1 }, &f,
					     PCI_STATE_OVERRIDE | PCI_STATE_MODALIAS), 0);
	ck_assert_str_eq(f.driver, "snd_hda_intel");
	ck_assert(!f.vfio);
	ck_assert_str_eq(f.override, "vfio-pci");
	ck_assert(f.loaded & PCI_NEED_OVERRIDE);
	ck_assert_str_eq(f.modalias, "pci:v000010DEd000022BCsv000010DEsd000016FAbc04sc03i00");
	ck_assert_uint_eq(f.bad, 0);
	/* garbage where the modalias was: said, not taken */
	ck_assert_int_eq(fx_set_attr(t.fx, "0000:01:00.1", "modalias", "usb:v1\n"), 0);
	ck_assert_int_eq(pci_func_load_state(t.sfs, &(struct pci_addr){ 0, 1, 0, 1 }, &f,
					     PCI_STATE_MODALIAS), 0);
	ck_assert_str_eq(f.modalias, "");
	ck_assert(f.bad & PCI_BAD_MODALIAS);
	/* gone */
	ck_assert_int_eq(pci_func_load_state(t.sfs, &(struct pci_addr){ 0, 0x42, 0, 0 }, &f, 0),
			 -ENODEV);
	tree_close(&t);
}
END_TEST

/* pci_host_read_only: the functions asked, not their slots' others nor
 * their groups' members. */
START_TEST(read_only_what_is_asked)
{
	struct tree t = { 0 };
	const struct pci_func *f;
	struct pci_addr gpu = { 0, 1, 0, 0 };

	t.fx = fx_new(NULL);
	ck_assert_ptr_nonnull(t.fx);
	ck_assert_int_eq(fx_layout(t.fx, "rtx4000"), 0);
	ck_assert_int_eq(sysfs_open(fx_root(t.fx), &t.sfs), 0);
	ck_assert_int_eq(pci_host_list(t.sfs, &t.host), 0);
	ck_assert_int_eq(pci_host_read_only(&t.host, &gpu, 1, 0), 0);
	f = pci_host_find(&t.host, &gpu);
	ck_assert(!f->unread);
	ck_assert_str_eq(f->driver, "nvidia");
	ck_assert_int_eq(f->iommu_group, 14);
	ck_assert(pci_host_find(&t.host, &(struct pci_addr){ 0, 1, 0, 1 })->unread);
	ck_assert(pci_host_find(&t.host, &(struct pci_addr){ 0, 0, 1, 0 })->unread);
	/* its group is indexed */
	{
		size_t count;
		const size_t *members = pci_host_group(&t.host, 14, &count);

		ck_assert_uint_eq(count, 1);
		ck_assert_int_eq(pci_addr_cmp(&t.host.funcs[members[0]].addr, &gpu), 0);
	}
	/* read already: nothing more; asked again after a read-all, nothing */
	ck_assert_int_eq(pci_host_read_only(&t.host, &gpu, 1, 0), 0);
	tree_close(&t);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("pci-host");
	TCase *tc = tcase_create("layouts");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, rtx4000_gpu);
	tcase_add_test(tc, class_devices);
	tcase_add_test(tc, phys_slot);
	tcase_add_test(tc, four_functions);
	tcase_add_test(tc, iommu_off);
	tcase_add_test(tc, h100_server);
	tcase_add_test(tc, thousand_functions);
	tcase_add_test(tc, garbled);
	tcase_add_test(tc, vanished_and_changed);
	tcase_add_test(tc, not_a_tree);
	tcase_add_test(tc, live_wherever_mounted);
	tcase_add_test(tc, speeds);
	tcase_add_test(tc, links_naming_nothing);
	tcase_add_test(tc, strict_values);
	tcase_add_test(tc, vfio_drivers);
	tcase_add_test(tc, state_only);
	tcase_add_test(tc, read_only_what_is_asked);
	suite_add_tcase(s, tc);
	tc = tcase_create("captured trees");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, fifo_attribute);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
