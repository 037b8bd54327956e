#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pci-func.h"

/* "0x10de" with at most max as value: hex digits only (strtoul would
 * also take "0x0x10de", "0x 10de", "0x-0"). */
static int parse_hex_attr(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (strncmp(s, "0x", 2) != 0 || !s[2] || strspn(s + 2, "0123456789abcdefABCDEF") != strlen(s + 2))
		return -EINVAL;
	errno = 0;
	v = strtoul(s + 2, &end, 16);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static void read_hex(struct sysfs *sfs, struct pci_func *f, const char *attr,
		     unsigned max, unsigned *out, unsigned badbit)
{
	char buf[64];

	if (sysfs_dev_read(sfs, &f->addr, attr, buf, sizeof(buf)) < 0 ||
	    parse_hex_attr(buf, max, out) < 0) {
		*out = 0;
		f->bad |= badbit;
	}
}

/* The kernel prints a speed from a table ("2.5 GT/s PCIe", "16.0 GT/s"):
 * digits, maybe a point and digits, " GT/s".  Anything else (strtod would
 * take "inf", "nan", "0x10", "1e400") is unknown. */
double pci_parse_speed(const char *s)
{
	const char *p = s;
	double v;

	while (isdigit((unsigned char)*p))
		p++;
	if (p == s || p - s > 4)
		return 0;
	if (*p == '.') {
		const char *frac = ++p;

		while (isdigit((unsigned char)*p))
			p++;
		if (p == frac || p - frac > 4)
			return 0;
	}
	if (strncmp(p, " GT/s", 5) != 0)
		return 0;
	v = strtod(s, NULL);
	/* PCIe 7.0 is 128 GT/s: a thousand leaves room and no absurdity */
	return v > 0 && v < 1000 ? v : 0;
}

int pci_speed_gen(double gts)
{
	static const double gen[] = { 2.5, 5.0, 8.0, 16.0, 32.0, 64.0 };

	for (int i = (int)(sizeof(gen) / sizeof(gen[0])) - 1; i >= 0; i--)
		if (gts >= gen[i] - 0.01)
			return i + 1;
	return 0;
}

static int read_int(struct sysfs *sfs, const struct pci_addr *a, const char *attr, int *out)
{
	char buf[64], *end;
	long v;

	if (sysfs_dev_read(sfs, a, attr, buf, sizeof(buf)) <= 0)
		return -ENOENT;
	/* digits only: strtol would also take " 16", "+16", "-0" */
	if (!isdigit((unsigned char)buf[0]))
		return -EINVAL;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || *end || v < 0 || v > 1 << 20)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* The kernel itself writes "Unknown" for a speed it cannot name. */
static int read_speed(struct sysfs *sfs, const struct pci_addr *a, const char *attr, double *out)
{
	char buf[64];

	if (sysfs_dev_read(sfs, a, attr, buf, sizeof(buf)) <= 0 || strcmp(buf, "Unknown") == 0)
		return 0;
	*out = pci_parse_speed(buf);
	return *out > 0 ? 0 : -EINVAL;
}

static void read_link_state(struct sysfs *sfs, struct pci_func *f)
{
	int bad = 0;

	if (read_speed(sfs, &f->addr, "max_link_speed", &f->link.max_gts) < 0)
		bad = 1;
	if (read_speed(sfs, &f->addr, "current_link_speed", &f->link.cur_gts) < 0)
		bad = 1;
	if (read_int(sfs, &f->addr, "max_link_width", &f->link.max_width) == -EINVAL)
		bad = 1;
	if (read_int(sfs, &f->addr, "current_link_width", &f->link.cur_width) == -EINVAL)
		bad = 1;
	if (bad)
		f->bad |= PCI_BAD_LINK;
}

/* The device above: the parent directory in devices/, if it is a function. */
static void read_upstream(struct sysfs *sfs, struct pci_func *f)
{
	char path[4096], *slash;

	if (sysfs_dev_path(sfs, &f->addr, path, sizeof(path)) < 0)
		return;
	slash = strrchr(path, '/');
	if (!slash)
		return;
	*slash = '\0';
	slash = strrchr(path, '/');
	if (pci_addr_parse(slash ? slash + 1 : path, &f->upstream) == 0)
		f->has_upstream = true;
}

/* n hex digits exactly (uevent's "10DE", "30000" without 0x): the value,
 * or -1. */
static long hex_digits(const char *s, size_t n, unsigned max)
{
	unsigned long v = 0;

	if (n == 0 || n > 8)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int c = tolower((unsigned char)s[i]);

		if (!isxdigit(c))
			return -1;
		v = v * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
	}
	return v <= max ? (long)v : -1;
}

/* "vvvv:dddd" of uevent: both or nothing. */
static bool uevent_pair(const char *v, unsigned *a, unsigned *b)
{
	long x, y;

	if (strlen(v) != 9 || v[4] != ':')
		return false;
	x = hex_digits(v, 4, 0xffff);
	y = hex_digits(v + 5, 4, 0xffff);
	if (x < 0 || y < 0)
		return false;
	*a = (unsigned)x;
	*b = (unsigned)y;
	return true;
}

/* Identity from the function's one uevent file (PCI_ID, PCI_SUBSYS_ID,
 * PCI_CLASS, MODALIAS): one read instead of six.  Only on a captured tree:
 * some kernels show uevent under the device's lock, as driver_override,
 * which a blocked unbind holds; on /sys the single attributes, which take
 * no lock, are read.  false when it is not there, or not all of it parses:
 * the single files then, whatever uevent said. */
static bool read_uevent_identity(struct sysfs *sfs, struct pci_func *f)
{
	char buf[1024], *save = NULL, *line;
	unsigned seen = 0, v, d, sv, sd;
	struct pci_func got = { 0 };
	long cls = -1;

	if (sysfs_is_live(sfs) || sysfs_dev_read(sfs, &f->addr, "uevent", buf, sizeof(buf)) <= 0)
		return false;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "PCI_ID=", 7) && uevent_pair(line + 7, &v, &d))
			seen |= 1;
		else if (!strncmp(line, "PCI_SUBSYS_ID=", 14) && uevent_pair(line + 14, &sv, &sd))
			seen |= 2;
		else if (!strncmp(line, "PCI_CLASS=", 10) &&
			 (cls = hex_digits(line + 10, strlen(line + 10), 0xffffff)) >= 0)
			seen |= 4;
		else if (!strncmp(line, "MODALIAS=pci:v", 14) && strlen(line + 9) < sizeof(got.modalias)) {
			snprintf(got.modalias, sizeof(got.modalias), "%s", line + 9);
			seen |= 8;
		}
	}
	if (seen != 15)
		return false;
	f->vendor = v;
	f->device = d;
	f->subvendor = sv;
	f->subdevice = sd;
	f->class = (unsigned)cls;
	memcpy(f->modalias, got.modalias, sizeof(f->modalias));
	return true;
}

static void read_modalias(struct sysfs *sfs, struct pci_func *f)
{
	if (sysfs_dev_read(sfs, &f->addr, "modalias", f->modalias, sizeof(f->modalias)) <= 0 ||
	    strncmp(f->modalias, "pci:v", 5) != 0) {
		f->modalias[0] = '\0';
		f->bad |= PCI_BAD_MODALIAS;
	}
}

static void read_identity(struct sysfs *sfs, struct pci_func *f)
{
	if (read_uevent_identity(sfs, f))
		return;
	read_hex(sfs, f, "vendor", 0xffff, &f->vendor, PCI_BAD_VENDOR);
	read_hex(sfs, f, "device", 0xffff, &f->device, PCI_BAD_DEVICE);
	read_hex(sfs, f, "subsystem_vendor", 0xffff, &f->subvendor, PCI_BAD_SUBVENDOR);
	read_hex(sfs, f, "subsystem_device", 0xffff, &f->subdevice, PCI_BAD_SUBDEVICE);
	read_hex(sfs, f, "class", 0xffffff, &f->class, PCI_BAD_CLASS);
	read_modalias(sfs, f);
}

/* The driver link, and whether that driver is a VFIO driver. */
static void read_driver(struct sysfs *sfs, struct pci_func *f)
{
	int err;

	err = sysfs_dev_link(sfs, &f->addr, "driver", f->driver, sizeof(f->driver));
	if (err < 0) {
		f->driver[0] = '\0';
		if (err != -ENOENT)
			f->bad |= PCI_BAD_DRIVER;
	}
	switch (sysfs_driver_vfio(sfs, f->driver)) {
	case SYSFS_VFIO_YES:
		f->vfio = true;
		break;
	case SYSFS_VFIO_ASK:
		/* vfio-pci-core built in: a VFIO driver registered the device */
		f->vfio = sysfs_dev_has(sfs, &f->addr, "vfio-dev");
		break;
	case SYSFS_VFIO_NO:
		break;
	}
}

static void read_binding(struct sysfs *sfs, struct pci_func *f)
{
	char buf[64];
	int err;

	read_driver(sfs, f);
	f->iommu_group = -1;
	err = sysfs_dev_link(sfs, &f->addr, "iommu_group", buf, sizeof(buf));
	if (err == 0) {
		char *end;
		long g = strtol(buf, &end, 10);

		/* a link to a group that does not exist is garbage, not a group
		 * (the kernel's own always leads to one) */
		if (*end || g < 0 || g > 1 << 24 ||
		    (!sysfs_is_live(sfs) && !sysfs_dev_has(sfs, &f->addr, "iommu_group/devices")))
			f->bad |= PCI_BAD_IOMMU_GROUP;
		else
			f->iommu_group = (int)g;
	} else if (err != -ENOENT) {
		f->bad |= PCI_BAD_IOMMU_GROUP;
	}
}

void pci_func_take_override(struct pci_func *f, int err)
{
	/* the kernel shows an unset override as "(null)"; kernels before 3.16
	 * have none.  A read that timed out (a blocked unbind holds the device's
	 * lock) leaves the function unknown. */
	if (err < 0 || strcmp(f->override, "(null)") == 0)
		f->override[0] = '\0';
	if (err < 0 && err != -ENOENT)
		f->bad |= PCI_BAD_OVERRIDE;
	/* filled to the last byte: perhaps cut (a kernel with bigger pages) */
	if (strlen(f->override) >= sizeof(f->override) - 1) {
		f->override[0] = '\0';
		f->bad |= PCI_BAD_OVERRIDE;
	}
	f->blocked |= err == -ETIMEDOUT;
	f->loaded |= PCI_NEED_OVERRIDE;
}

void pci_func_check_unbinding(struct sysfs *sfs, struct pci_func *f)
{
	char buf[1024], *save = NULL, *line;
	int n;

	if (f->driver[0] || f->bad & PCI_BAD_DRIVER || !sysfs_read_by_writer(sfs, "uevent"))
		return;
	n = sysfs_dev_read(sfs, &f->addr, "uevent", buf, sizeof(buf));
	if (n == -ETIMEDOUT) {          /* a kernel that shows uevent under the lock */
		f->blocked = true;
		f->bad |= PCI_BAD_DRIVER;
		return;
	}
	if (n <= 0)
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, "DRIVER=", 7) && line[7]) {
			snprintf(f->unbinding, sizeof(f->unbinding), "%s", line + 7);
			f->blocked = true;
			f->bad |= PCI_BAD_DRIVER;
			return;
		}
}

/* driver_override (through the writer on /sys), and whether an unbind of
 * f is under way where the kernel shows no driver. */
static void read_override(struct sysfs *sfs, struct pci_func *f)
{
	pci_func_take_override(f, sysfs_dev_read(sfs, &f->addr, "driver_override", f->override,
						 sizeof(f->override)));
	pci_func_check_unbinding(sfs, f);
}

/* What needs asks beyond what f has, but driver_override (read apart). */
static void load_more(struct sysfs *sfs, struct pci_func *f, unsigned needs)
{
	const struct pci_addr *a = &f->addr;
	char buf[64];

	needs &= ~f->loaded;
	/* only a display function has boot_vga (or one whose class is not
	 * known): no call spent on the rest */
	if (needs & PCI_NEED_BOOT_VGA && (pci_func_is_display(f) || f->bad & PCI_BAD_CLASS) &&
	    sysfs_dev_read(sfs, a, "boot_vga", buf, sizeof(buf)) > 0)
		f->boot_vga = strcmp(buf, "1") == 0;
	if (needs & PCI_NEED_REVISION)
		read_hex(sfs, f, "revision", 0xff, &f->revision, 0);
	if (needs & PCI_NEED_RESET) {
		if (sysfs_dev_read(sfs, a, "reset_method", f->reset_method,
				   sizeof(f->reset_method)) >= 0)
			f->has_reset_method = true;
		else
			f->reset_method[0] = '\0';
		f->has_reset = sysfs_dev_has(sfs, a, "reset");
	}
	if (needs & PCI_NEED_LINK)
		read_link_state(sfs, f);
	if (needs & PCI_NEED_UPSTREAM)
		read_upstream(sfs, f);
	f->loaded |= needs & ~PCI_NEED_OVERRIDE;
}

int pci_func_load_needs(struct sysfs *sfs, const struct pci_addr *a, struct pci_func *f,
			unsigned needs)
{
	memset(f, 0, sizeof(*f));
	f->addr = *a;
	f->boot_vga = -1;
	if (!sysfs_dev_exists(sfs, a))
		return -ENODEV;
	read_identity(sfs, f);
	read_binding(sfs, f);
	load_more(sfs, f, needs);
	if (needs & PCI_NEED_OVERRIDE)
		read_override(sfs, f);
	return 0;
}

int pci_func_load_state(struct sysfs *sfs, const struct pci_addr *a, struct pci_func *f,
			unsigned state)
{
	memset(f, 0, sizeof(*f));
	f->addr = *a;
	f->boot_vga = -1;
	f->iommu_group = -1;
	f->unread = true;
	if (!sysfs_dev_exists(sfs, a))
		return -ENODEV;
	read_driver(sfs, f);
	if (state & PCI_STATE_MODALIAS)
		read_modalias(sfs, f);
	if (state & PCI_STATE_OVERRIDE)
		read_override(sfs, f);
	return 0;
}

int pci_func_load_more(struct sysfs *sfs, struct pci_func *f, unsigned needs)
{
	if (!sysfs_dev_exists(sfs, &f->addr))
		return -ENODEV;
	load_more(sfs, f, needs);
	if (needs & PCI_NEED_OVERRIDE & ~f->loaded)
		read_override(sfs, f);
	return 0;
}

int pci_func_load(struct sysfs *sfs, const struct pci_addr *a, struct pci_func *f)
{
	return pci_func_load_needs(sfs, a, f, PCI_NEED_ALL);
}

bool pci_func_is_display(const struct pci_func *f)
{
	return !(f->bad & PCI_BAD_CLASS) && pci_base_class(f) == 0x03;
}

/* PCI-to-PCI bridges (root and switch ports): vfio tolerates them in a group. */
bool pci_func_is_bridge(const struct pci_func *f)
{
	if (f->bad & PCI_BAD_CLASS)
		return false;
	return pci_class16(f) == 0x0604 || pci_class16(f) == 0x0609;
}

bool pci_func_is_gpu_part(const struct pci_func *f)
{
	static const unsigned classes[] = { 0x03, 0x04, 0x0b, 0x0c, 0x12 };

	if (f->bad & PCI_BAD_CLASS)
		return false;
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (pci_base_class(f) == classes[i])
			return true;
	return false;
}

const char *pci_func_state(const struct pci_func *f)
{
	if (f->vfio)
		return "vfio";
	if (strcmp(f->driver, "pci-stub") == 0)
		return "stub";
	if (!f->driver[0])
		return "unbound";
	return "host";
}

const char *pci_func_bad_names(unsigned bad, char *buf, size_t len)
{
	static const char *const names[] = {
		"vendor", "device", "subsystem_vendor", "subsystem_device", "class",
		"modalias", "driver_override", "iommu_group", "link", "driver",
	};
	size_t off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(bad & (1u << i)))
			continue;
		int n = snprintf(buf + off, len - off, "%s%s", off ? "," : "", names[i]);
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
	return buf;
}

static const char *id_pair(unsigned v, bool vbad, unsigned d, bool dbad, char buf[10])
{
	char vs[5] = "????", ds[5] = "????";

	if (!vbad)
		snprintf(vs, sizeof(vs), "%04x", v & 0xffffu);
	if (!dbad)
		snprintf(ds, sizeof(ds), "%04x", d & 0xffffu);
	snprintf(buf, 10, "%s:%s", vs, ds);
	return buf;
}

const char *pci_func_id_text(const struct pci_func *f, char buf[10])
{
	return id_pair(f->vendor, f->bad & PCI_BAD_VENDOR, f->device, f->bad & PCI_BAD_DEVICE, buf);
}

const char *pci_func_subsys_text(const struct pci_func *f, char buf[10])
{
	return id_pair(f->subvendor, f->bad & PCI_BAD_SUBVENDOR, f->subdevice,
		       f->bad & PCI_BAD_SUBDEVICE, buf);
}
