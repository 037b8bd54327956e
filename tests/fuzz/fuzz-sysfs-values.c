/* The attribute values of the function model.  A fixed small tree (a GPU
 * behind a root port, with a DRM node, a network interface and a disk
 * below it, in a platform slot); the input's first line names one of its
 * files or links, the rest is what that file holds (or where the link
 * points).  The model read from it must say what the text says, or mark
 * the attribute unreadable: garbage never becomes a value, and nothing
 * infinite, NaN or out of range gets in. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "fuzz-util.h"
#include "model-check.h"
#include "pci-func.h"
#include "tree.h"
#include "usage.h"
#include "util.h"

#define FN_DIR "sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0"
#define FN_UP "../../../../"    /* from FN_DIR to sys/ */

static const char tree_text[] =
	"fn 0000:00:01.0\n"
	"vendor 0x8086\n"
	"device 0x1901\n"
	"class 0x060400\n"
	"max_link_speed 16.0 GT/s PCIe\n"
	"max_link_width 16\n"
	"fn 0000:01:00.0 0000:00:01.0\n"
	"vendor 0x10de\n"
	"device 0x27b0\n"
	"subsystem_vendor 0x10de\n"
	"subsystem_device 0x16fa\n"
	"class 0x030000\n"
	"revision 0xa1\n"
	"modalias pci:v000010DEd000027B0sv000010DEsd000016FAbc03sc00i00\n"
	"boot_vga 0\n"
	"driver_override (null)\n"
	"reset_method flr bus\n"
	"max_link_speed 16.0 GT/s PCIe\n"
	"current_link_speed 2.5 GT/s PCIe\n"
	"max_link_width 16\n"
	"current_link_width 16\n"
	"driver nvidia\n"
	"group 12\n"
	"child drm drm/card0 226:0\n"
	"child net net/eth0\n"
	"cattr flags 0x1002\n"
	"cattr operstate up\n"
	"child block nvme/nvme0/nvme0n1 259:0\n"
	"slot 3 0000:01:00\n";

enum kind { HEX, MODALIAS, BOOT_VGA, OVERRIDE, RESET_METHOD, SPEED, WIDTH, DRIVER, GROUP,
	    DEVNUM, FLAGS, OPERSTATE, SLOT };

static const struct file {
	const char *name;       /* the input's first line */
	const char *rel;        /* below the scratch directory */
	enum kind kind;
	unsigned max, bit;      /* HEX: the largest value, the bad bit */
	const char *dflt;       /* what the fixed tree has there */
} files[] = {
	{ "vendor", FN_DIR "/vendor", HEX, 0xffff, PCI_BAD_VENDOR, "0x10de\n" },
	{ "device", FN_DIR "/device", HEX, 0xffff, PCI_BAD_DEVICE, "0x27b0\n" },
	{ "subsystem_vendor", FN_DIR "/subsystem_vendor", HEX, 0xffff, PCI_BAD_SUBVENDOR, "0x10de\n" },
	{ "subsystem_device", FN_DIR "/subsystem_device", HEX, 0xffff, PCI_BAD_SUBDEVICE, "0x16fa\n" },
	{ "class", FN_DIR "/class", HEX, 0xffffff, PCI_BAD_CLASS, "0x030000\n" },
	{ "revision", FN_DIR "/revision", HEX, 0xff, 0, "0xa1\n" },
	{ "modalias", FN_DIR "/modalias", MODALIAS, 0, 0,
	  "pci:v000010DEd000027B0sv000010DEsd000016FAbc03sc00i00\n" },
	{ "boot_vga", FN_DIR "/boot_vga", BOOT_VGA, 0, 0, "0\n" },
	{ "driver_override", FN_DIR "/driver_override", OVERRIDE, 0, 0, "(null)\n" },
	{ "reset_method", FN_DIR "/reset_method", RESET_METHOD, 0, 0, "flr bus\n" },
	{ "max_link_speed", FN_DIR "/max_link_speed", SPEED, 0, 0, "16.0 GT/s PCIe\n" },
	{ "current_link_speed", FN_DIR "/current_link_speed", SPEED, 0, 0, "2.5 GT/s PCIe\n" },
	{ "max_link_width", FN_DIR "/max_link_width", WIDTH, 0, 0, "16\n" },
	{ "current_link_width", FN_DIR "/current_link_width", WIDTH, 0, 0, "16\n" },
	{ "driver", FN_DIR "/driver", DRIVER, 0, 0, "nvidia" },
	{ "iommu_group", FN_DIR "/iommu_group", GROUP, 0, 0, "12" },
	{ "drm_dev", FN_DIR "/drm/card0/dev", DEVNUM, 0, 0, "226:0\n" },
	{ "block_dev", FN_DIR "/nvme/nvme0/nvme0n1/dev", DEVNUM, 0, 0, "259:0\n" },
	{ "flags", FN_DIR "/net/eth0/flags", FLAGS, 0, 0, "0x1002\n" },
	{ "operstate", FN_DIR "/net/eth0/operstate", OPERSTATE, 0, 0, "up\n" },
	{ "slot_address", "sys/bus/pci/slots/3/address", SLOT, 0, 0, "0000:01:00\n" },
};

static struct tree tree;
static const struct pci_addr gpu = { 0, 1, 0, 0 };

/* What sysfs_dev_read hands over from content: one read of len - 1 bytes,
 * trailing newlines and spaces taken off, a C string. *n: the byte count
 * it returns. */
static char *seen(const char *content, size_t clen, size_t len, size_t *n)
{
	size_t k = clen < len - 1 ? clen : len - 1;
	char *s = malloc(len);

	if (!s)
		abort();
	memcpy(s, content, k);
	s[k] = '\0';
	while (k > 0 && (s[k - 1] == '\n' || s[k - 1] == ' '))
		s[--k] = '\0';
	*n = k;
	return s;
}

static bool all_of(const char *s, const char *set)
{
	return *s && strspn(s, set) == strlen(s);
}

#define HEXDIGITS "0123456789abcdefABCDEF"
#define DIGITS "0123456789"

/* "0x" and hex digits, at most max: the value, else -1. */
static long long hex_value(const char *s, unsigned max)
{
	unsigned long long v = 0;

	if (strncmp(s, "0x", 2) || !all_of(s + 2, HEXDIGITS))
		return -1;
	for (s += 2; *s; s++) {
		v = v * 16 + (unsigned)(*s <= '9' ? *s - '0' : (*s | 0x20) - 'a' + 10);
		if (v > max)
			return -1;
	}
	return (long long)v;
}

/* Decimal digits, at most max: the value, else -1. */
static long long dec_value(const char *s, unsigned long long max)
{
	unsigned long long v = 0;

	if (!all_of(s, DIGITS))
		return -1;
	for (; *s; s++) {
		v = v * 10 + (unsigned)(*s - '0');
		if (v > max)
			return -1;
	}
	return (long long)v;
}

static void check_hex(const struct file *fl, const struct pci_func *f, const char *v)
{
	static const struct { const char *name; size_t off; } field[] = {
		{ "vendor", offsetof(struct pci_func, vendor) },
		{ "device", offsetof(struct pci_func, device) },
		{ "subsystem_vendor", offsetof(struct pci_func, subvendor) },
		{ "subsystem_device", offsetof(struct pci_func, subdevice) },
		{ "class", offsetof(struct pci_func, class) },
		{ "revision", offsetof(struct pci_func, revision) },
	};
	long long want = hex_value(v, fl->max);
	unsigned got = 0;

	for (size_t i = 0; i < ARRAY_SIZE(field); i++)
		if (!strcmp(field[i].name, fl->name))
			memcpy(&got, (const char *)f + field[i].off, sizeof(got));
	if (want >= 0)
		FUZZ_CHECK(!(f->bad & fl->bit) && got == want, "%s \"%s\" read as 0x%x (bad 0x%x)",
			   fl->name, v, got, f->bad);
	else
		FUZZ_CHECK((fl->bit ? (f->bad & fl->bit) != 0 : 1) && got == 0,
			   "%s \"%s\" is not \"0x\" and hex digits up to 0x%x, yet read as 0x%x (bad 0x%x)",
			   fl->name, v, fl->max, got, f->bad);
}

static void check_speed(const struct file *fl, const struct pci_func *f, const char *v, size_t n)
{
	double got = strcmp(fl->name, "max_link_speed") ? f->link.cur_gts : f->link.max_gts;

	FUZZ_CHECK(isfinite(got) && got >= 0, "%s \"%s\" read as %g GT/s", fl->name, v, got);
	if (!n || !strcmp(v, "Unknown"))
		FUZZ_CHECK(got == 0 && !(f->bad & PCI_BAD_LINK), "%s \"%s\": %g", fl->name, v, got);
	else if (got == 0)
		FUZZ_CHECK(f->bad & PCI_BAD_LINK, "%s \"%s\" neither read nor marked bad", fl->name, v);
	else
		FUZZ_CHECK(!(f->bad & PCI_BAD_LINK), "%s \"%s\" read as %g and marked bad", fl->name, v, got);
}

static void check_width(const struct file *fl, const struct pci_func *f, const char *v, size_t n)
{
	int got = strcmp(fl->name, "max_link_width") ? f->link.cur_width : f->link.max_width;
	long long want = dec_value(v, 1 << 20);

	if (!n)
		FUZZ_CHECK(got == 0 && !(f->bad & PCI_BAD_LINK), "%s empty, read as %d", fl->name, got);
	else if (want >= 0)
		FUZZ_CHECK(got == want && !(f->bad & PCI_BAD_LINK), "%s \"%s\" read as %d", fl->name, v, got);
	else
		FUZZ_CHECK(got == 0 && (f->bad & PCI_BAD_LINK), "%s \"%s\" is not a number, yet read as %d",
			   fl->name, v, got);
}

/* The last component of a link's text, as sysfs_dev_link takes it. */
static const char *last_part(const char *text)
{
	const char *s = strrchr(text, '/');

	return s ? s + 1 : text;
}

static void check_driver(const struct pci_func *f, const char *text)
{
	const char *name = last_part(text);

	if (f->bad & PCI_BAD_DRIVER)
		FUZZ_CHECK(!f->driver[0], "driver marked bad but \"%s\"", f->driver);
	else
		FUZZ_CHECK(name[0] && !strcmp(f->driver, name),
			   "driver link to \"%s\" read as driver \"%s\"", text, f->driver);
}

static void check_group(const struct pci_func *f, const char *text, const char *target)
{
	struct stat st;
	char *devs = xasprintf("%s/devices", target);
	bool exists = devs && fstatat(tree.basefd, devs, &st, 0) == 0;
	long long want = strlen(last_part(text)) < 64 ? dec_value(last_part(text), 1 << 24) : -1;

	free(devs);
	if (want >= 0 && exists)
		FUZZ_CHECK(f->iommu_group == want && !(f->bad & PCI_BAD_IOMMU_GROUP),
			   "iommu_group link to \"%s\" read as group %d", text, f->iommu_group);
	else
		FUZZ_CHECK(f->iommu_group == -1 && (f->bad & PCI_BAD_IOMMU_GROUP),
			   "iommu_group link to \"%s\" (%s) read as group %d (bad 0x%x)", text,
			   exists ? "a group directory" : "nothing", f->iommu_group, f->bad);
}

static struct sysfs *open_tree(void)
{
	struct sysfs *sfs;
	int err = sysfs_open(tree.sys, &sfs);

	FUZZ_CHECK(err == 0, "sysfs_open %s: %s", tree.sys, strerror(-err));
	/* never the running kernel's: nothing here may reach real devices */
	FUZZ_CHECK(!sfs->live, "%s taken for the live sysfs", tree.sys);
	return sfs;
}

/* The flags of a network interface as strtoul(s, &end, 0) reads them
 * whole: 0x and hex, 0 and octal, or decimal, within 64 bits.  Their
 * IFF_UP bit, else -1. */
static int flags_up_bit(const char *s)
{
	const char *digits = "0123456789";
	unsigned base = 10;
	unsigned long long v = 0;

	if (!strncasecmp(s, "0x", 2)) {
		s += 2;
		base = 16;
		digits = HEXDIGITS;
	} else if (s[0] == '0') {
		base = 8;
		digits = "01234567";
	}
	if (!all_of(s, digits))
		return -1;
	for (; *s; s++) {
		unsigned d = (unsigned)(*s <= '9' ? *s - '0' : (*s | 0x20) - 'a' + 10);

		if (v > (ULLONG_MAX - d) / base)
			return -1;
		v = v * base + d;
	}
	return (int)(v & 1);
}

/* The class devices below the GPU: a DRM node and a disk by their device
 * numbers, a network interface up or down. */
static void check_usage(const struct file *fl, const char *content, size_t clen)
{
	struct sysfs *sfs = open_tree();
	struct usage u;
	int err = usage_collect(sfs, NULL, &gpu, 1, &u);

	FUZZ_CHECK(err == 0, "usage_collect: %s", strerror(-err));
	if (fl->kind == DEVNUM) {
		bool drm = !strcmp(fl->name, "drm_dev");
		size_t count = drm ? u.nnodes : u.ndisks;
		dev_t got = count ? (drm ? u.nodes[0].dev : u.disks[0].dev) : 0;
		long long maj = -1, min = -1;
		char line[64], *colon;
		size_t k = clen < sizeof(line) - 1 ? clen : sizeof(line) - 1;

		/* visit_child reads once and takes the first line */
		memcpy(line, content, k);
		line[k] = '\0';
		line[strcspn(line, "\n")] = '\0';
		colon = strchr(line, ':');
		if (colon) {
			*colon = '\0';
			maj = dec_value(line, UINT_MAX);
			min = dec_value(colon + 1, UINT_MAX);
			*colon = ':';
		}
		if (maj >= 0 && min >= 0)
			FUZZ_CHECK(count == 1 && got == makedev((unsigned)maj, (unsigned)min),
				   "dev \"%s\": %zu found, %u:%u", line, count, major(got), minor(got));
		else
			FUZZ_CHECK(count == 0, "dev \"%s\" is not MAJ:MIN, yet taken as %u:%u", line,
				   major(got), minor(got));
	} else {
		size_t n;
		char *v = seen(content, clen, 64, &n);

		FUZZ_CHECK(u.nifs == 1, "eth0: %zu interfaces", u.nifs);
		if (fl->kind == OPERSTATE) {
			/* read only without flags (removed for this input) */
			FUZZ_CHECK(u.ifs[0].up == (n && !strcmp(v, "up")), "eth0 with operstate \"%s\" taken as %s",
				   v, u.ifs[0].up ? "up" : "down");
		} else if (n && flags_up_bit(v) >= 0) {
			FUZZ_CHECK(u.ifs[0].up == flags_up_bit(v), "eth0 with flags \"%s\" taken as %s",
				   v, u.ifs[0].up ? "up" : "down");
		} else {
			/* flags that say nothing: operstate (up here) decides, never
			 * a number made up from garbage */
			FUZZ_CHECK(u.ifs[0].up, "eth0 with flags \"%s\" and operstate up taken as down", v);
		}
		free(v);
	}
	usage_free(&u);
	sysfs_close(sfs);
}

static void check_slot(const char *content, size_t clen)
{
	struct sysfs *sfs = open_tree();
	char name[64], *v;
	size_t n;
	int err = sysfs_phys_slot(sfs, &gpu, name, sizeof(name));

	v = seen(content, clen, 64, &n);

	FUZZ_CHECK(err == 0, "sysfs_phys_slot: %s", strerror(-err));
	if (!strcasecmp(v, "0000:01:00"))
		FUZZ_CHECK(!strcmp(name, "3"), "slot address \"%s\": slot \"%s\"", v, name);
	else
		FUZZ_CHECK(!name[0], "slot address \"%s\" taken for 0000:01:00", v);
	free(v);
	sysfs_close(sfs);
}

static void check_model(const struct file *fl, const char *content, size_t clen, const char *target)
{
	struct sysfs *sfs = open_tree();
	struct pci_func f;
	size_t n;
	char *v = seen(content, clen, fl->kind == MODALIAS ? sizeof(f.modalias) :
			    fl->kind == OVERRIDE ? sizeof(f.override) : 64, &n);
	int err = pci_func_load(sfs, &gpu, &f);

	FUZZ_CHECK(err == 0, "pci_func_load: %s", strerror(-err));
	model_check_func(&f);
	switch (fl->kind) {
	case HEX:
		check_hex(fl, &f, v);
		break;
	case MODALIAS:
		if (n && !strncmp(v, "pci:v", 5))
			FUZZ_CHECK(!strcmp(f.modalias, v) && !(f.bad & PCI_BAD_MODALIAS),
				   "modalias \"%s\" read as \"%s\"", v, f.modalias);
		else
			FUZZ_CHECK(!f.modalias[0] && (f.bad & PCI_BAD_MODALIAS), "modalias \"%s\" kept", v);
		break;
	case BOOT_VGA:
		FUZZ_CHECK(f.boot_vga == (n ? !strcmp(v, "1") : -1), "boot_vga \"%s\" read as %d", v,
			   f.boot_vga);
		break;
	case OVERRIDE:
		/* one that fills the page may have been cut: unknown */
		if (strlen(v) >= sizeof(f.override) - 1)
			FUZZ_CHECK(!f.override[0] && (f.bad & PCI_BAD_OVERRIDE),
				   "a driver_override of %zu bytes taken as known", strlen(v));
		else
			FUZZ_CHECK(!strcmp(f.override, strcmp(v, "(null)") ? v : ""),
				   "driver_override \"%s\" read as \"%s\"", v, f.override);
		break;
	case RESET_METHOD:
		FUZZ_CHECK(f.has_reset_method && !strcmp(f.reset_method, v),
			   "reset_method \"%s\" read as \"%s\"", v, f.reset_method);
		break;
	case SPEED:
		check_speed(fl, &f, v, n);
		break;
	case WIDTH:
		check_width(fl, &f, v, n);
		break;
	case DRIVER:
		check_driver(&f, content);
		break;
	case GROUP:
		check_group(&f, content, target);
		break;
	default:
		break;
	}
	free(v);
	sysfs_close(sfs);
}

/* Point the link at rel to target (sys/... ) written relative to its place. */
static int relink(const char *rel, const char *target)
{
	char *text = xasprintf(FN_UP "%s", target + 4);
	int err = 0;

	if (!text)
		abort();
	unlinkat(tree.basefd, rel, 0);
	if (symlinkat(text, tree.basefd, rel) < 0)
		err = -errno;
	free(text);
	return err;
}

/* A link's text from the input: below the place it points into, never
 * "..", never absolute, so it stays in the tree. */
static bool link_text_ok(const char *s, size_t len)
{
	if (strlen(s) != len || s[0] == '/' || len > 1024)
		return false;
	for (const char *p = s; *p; p += strcspn(p, "/"), p += *p == '/')
		if (!strncmp(p, "..", 2) && (!p[2] || p[2] == '/'))
			return false;
	return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (tree_init(&tree, "sysfs-values") || tree_build(&tree, tree_text, strlen(tree_text)))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	const char *content;
	const struct file *fl = NULL;
	size_t namelen, clen;

	if (!nl)
		return 0;
	namelen = (size_t)(nl - data);
	content = (const char *)nl + 1;
	clen = size - namelen - 1;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		if (strlen(files[i].name) == namelen && !memcmp(files[i].name, data, namelen))
			fl = &files[i];
	if (!fl)
		return 0;
	if (fl->kind == DRIVER || fl->kind == GROUP) {
		char *text = fuzz_cstr((const uint8_t *)content, clen);
		char *target = xasprintf("sys/%s/%s", fl->kind == DRIVER ? "bus/pci/drivers" :
					 "kernel/iommu_groups", text);

		if (!target)
			abort();
		if (link_text_ok(text, clen) && relink(fl->rel, target) == 0)
			check_model(fl, text, strlen(text), target);
		free(target);
		free(text);
		relink(fl->rel, fl->kind == DRIVER ? "sys/bus/pci/drivers/nvidia" :
			"sys/kernel/iommu_groups/12");
		return 0;
	}
	if (tree_write(&tree, fl->rel, content, clen))
		abort();
	if (fl->kind == OPERSTATE)
		unlinkat(tree.basefd, FN_DIR "/net/eth0/flags", 0);
	if (fl->kind == DEVNUM || fl->kind == FLAGS || fl->kind == OPERSTATE)
		check_usage(fl, content, clen);
	else if (fl->kind == SLOT)
		check_slot(content, clen);
	else
		check_model(fl, content, clen, NULL);
	if (tree_write(&tree, fl->rel, fl->dflt, strlen(fl->dflt)) ||
	    (fl->kind == OPERSTATE && tree_write(&tree, FN_DIR "/net/eth0/flags", "0x1002\n", 7)))
		abort();
	return 0;
}
