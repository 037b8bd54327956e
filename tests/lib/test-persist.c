/* persist: what each boot file says, and that persist_remove undoes
 * persist_write byte for byte, in a temporary root, never in /etc. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "aleph.h"
#include "atomic-file.h"
#include "leftovers.h"
#include "persist.h"
#include "root-path.h"

#define GPU_KEY "ALEPH_VM_ENABLE_GPU_SUPPORT"
#define SKIP 77

static const char *const host_mods[] = {
	"nouveau", "nvidia", "nvidia_drm", "amdgpu", "radeon", "snd_hda_intel", NULL,
};

/* ---- fixtures ---- */

static struct persist_fn mkfn(const char *a, unsigned v, unsigned d, const char *slot, const char *path)
{
	struct persist_fn fn = { .vendor = v, .device = d, .subvendor = 0x10de, .subdevice = 0x16fa };

	ck_assert_int_eq(pci_addr_parse(a, &fn.addr), 0);
	snprintf(fn.phys_slot, sizeof(fn.phys_slot), "%s", slot);
	snprintf(fn.path, sizeof(fn.path), "%s", path);
	return fn;
}

/* One RTX 4000 SFF Ada: display and HDMI audio. */
static size_t one_gpu(struct persist_fn *f)
{
	f[0] = mkfn("0000:01:00.0", 0x10de, 0x27b0, "1", "0000:00:01.0/0000:01:00.0");
	f[1] = mkfn("0000:01:00.1", 0x10de, 0x22bc, "1", "0000:00:01.0/0000:01:00.1");
	return 2;
}

/* Two identical ones, given out of order. */
static size_t twin_gpus(struct persist_fn *f)
{
	f[0] = mkfn("0000:02:00.1", 0x10de, 0x22bc, "2", "0000:00:03.1/0000:02:00.1");
	f[1] = mkfn("0000:02:00.0", 0x10de, 0x27b0, "2", "0000:00:03.1/0000:02:00.0");
	one_gpu(f + 2);
	return 4;
}

static struct persist_target target(const char *root)
{
	struct persist_target t = {
		.root = root,
		.kernel = "6.8.0-49-generic",
		.ids_exclusive = true,
		.softdep_modules = host_mods,
	};

	return t;
}

static char *mkroot(void)
{
	char tmpl[] = "/tmp/vh-persist-XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	return strdup(tmpl);
}

static void mkdirs(const char *root, const char *rel)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	for (char *p = path + strlen(root) + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
	mkdir(path, 0755);
}

/* ROOT/REL with this content, its directories made as needed. */
static void put(const char *root, const char *rel, const char *content)
{
	char path[4096], dir[4096];
	FILE *fp;

	snprintf(dir, sizeof(dir), "%s", rel);
	*strrchr(dir, '/') = '\0';
	if (dir[0])
		mkdirs(root, dir);
	snprintf(path, sizeof(path), "%s%s", root, rel);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(content, fp);
	ck_assert_int_eq(fclose(fp), 0);
}

static char *slurp(const char *path)
{
	char *s = NULL;
	size_t len = 0;
	FILE *fp = fopen(path, "r"), *mem;
	int c;

	if (!fp)
		return NULL;
	mem = open_memstream(&s, &len);
	while ((c = fgetc(fp)) != EOF)
		fputc(c, mem);
	fclose(mem);
	fclose(fp);
	return s;
}

static char *get(const char *root, const char *rel)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	return slurp(path);
}

static void assert_file(const char *root, const char *rel, const char *want)
{
	char *s = get(root, rel);

	ck_assert_msg(s != NULL, "%s missing", rel);
	ck_assert_str_eq(s, want);
	free(s);
}

static bool exists(const char *root, const char *rel)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	return lstat(path, &st) == 0;
}

/* Every entry under dir: type, mode, path, content or link target. */
struct snap {
	char **v;
	size_t n;
};

static void snap_dir(struct snap *sn, const char *root, const char *rel)
{
	char path[4096], sub[4096], link[4096];
	struct dirent *de;
	struct stat st;
	DIR *d;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		char *e = NULL, *body = NULL;
		ssize_t n;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", rel, de->d_name);
		snprintf(path, sizeof(path), "%s%s", root, sub);
		ck_assert_int_eq(lstat(path, &st), 0);
		if (S_ISLNK(st.st_mode)) {
			n = readlink(path, link, sizeof(link) - 1);
			ck_assert_int_ge(n, 0);
			link[n] = '\0';
			ck_assert_int_gt(asprintf(&e, "l %s -> %s", sub, link), 0);
		} else if (S_ISDIR(st.st_mode)) {
			ck_assert_int_gt(asprintf(&e, "d %04o %s", st.st_mode & 07777, sub), 0);
			snap_dir(sn, root, sub);
		} else {
			body = slurp(path);
			ck_assert_int_gt(asprintf(&e, "f %04o %s [%s]", st.st_mode & 07777, sub,
						  body ? body : "(unreadable)"), 0);
			free(body);
		}
		sn->v = realloc(sn->v, (sn->n + 1) * sizeof(*sn->v));
		sn->v[sn->n++] = e;
	}
	closedir(d);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The whole tree as one string, to compare before and after. */
static char *snapshot(const char *root)
{
	struct snap sn = { NULL, 0 };
	char *s = NULL;
	size_t len = 0;
	FILE *mem;

	snap_dir(&sn, root, "");
	if (sn.n)
		qsort(sn.v, sn.n, sizeof(*sn.v), cmp_str);
	mem = open_memstream(&s, &len);
	for (size_t i = 0; i < sn.n; i++) {
		fprintf(mem, "%s\n", sn.v[i]);
		free(sn.v[i]);
	}
	fclose(mem);
	free(sn.v);
	return s;
}

static void rm_rf(const char *path)
{
	char sub[4096];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (lstat(path, &st) < 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	chmod(path, 0755);
	d = opendir(path);
	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		rm_rf(sub);
	}
	if (d)
		closedir(d);
	rmdir(path);
}

static size_t list_len(char **list)
{
	size_t n = 0;

	while (list && list[n])
		n++;
	return n;
}

static bool list_has(char **list, const char *root, const char *rel)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	for (size_t i = 0; list && list[i]; i++)
		if (!strcmp(list[i], path))
			return true;
	return false;
}

static bool has_line(const char *text, const char *line)
{
	size_t k = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && (p[k] == '\n' || !p[k]))
			return true;
	return false;
}

/* A line starting with prefix. */
static bool has_line_prefix(const char *text, const char *prefix)
{
	for (const char *p = text; (p = strstr(p, prefix)); p++)
		if (p == text || p[-1] == '\n')
			return true;
	return false;
}

/* ---- rendering ---- */

static const char devices_one[] =
	"# Generated by vfio-handover persist; \"vfio-handover unpersist\" removes this file.\n"
	"# The GPU functions handed to vfio-pci at every boot: \"vfio-handover apply\"\n"
	"# (run by its boot-time service) reads this file and hands over each one\n"
	"# present, skipping one that is missing or whose ids changed.\n"
	"#\n"
	"# One function per line, fields separated by spaces:\n"
	"#   ADDRESS VENDOR:DEVICE SUBVENDOR:SUBDEVICE slot=SLOT path=PATH\n"
	"# ADDRESS is domain:bus:device.function, each id 4 hex digits.  SLOT is\n"
	"# the platform slot name, \"-\" if none (a space, \"%\", a byte outside\n"
	"# printable ASCII, or a slot named \"-\", written %XX).  PATH is the chain\n"
	"# of PCI addresses from the root port down to the function itself,\n"
	"# joined by \"/\", \"-\" if unknown.\n"
	"# Lines \"# created directory: DIR\" name the directories persist created,\n"
	"# which unpersist removes when they are empty.  Other lines starting\n"
	"# with \"#\", and empty lines, are ignored.\n"
	"0000:01:00.0 10de:27b0 10de:16fa slot=1 path=0000:00:01.0/0000:01:00.0\n"
	"0000:01:00.1 10de:22bc 10de:16fa slot=1 path=0000:00:01.0/0000:01:00.1\n";

#define MODPROBE_HEAD \
	"# Generated by vfio-handover persist; \"vfio-handover unpersist\" removes this file.\n" \
	"# Loads vfio-pci before each driver that could claim a persisted GPU\n" \
	"# function, so that vfio-pci can take it first at boot.\n" \
	"# No \"blacklist\" lines: blacklisting snd_hda_intel would silence every\n" \
	"# HD-audio device of the host, not only the GPU's; softdep does the job.\n" \
	"softdep nouveau pre: vfio-pci\n" \
	"softdep nvidia pre: vfio-pci\n" \
	"softdep nvidia_drm pre: vfio-pci\n" \
	"softdep amdgpu pre: vfio-pci\n" \
	"softdep radeon pre: vfio-pci\n" \
	"softdep snd_hda_intel pre: vfio-pci\n"

static const char modprobe_one[] = MODPROBE_HEAD
	"# ids= takes every device with these ids: no present device\n"
	"# outside the persisted GPUs has them.\n"
	"options vfio-pci ids=10de:22bc,10de:27b0\n";

static const char modprobe_twin[] = MODPROBE_HEAD
	"# No \"options vfio-pci ids=\": 10de:27b0 also matches 0000:02:00.0, which the host keeps.\n"
	"# (ids= takes every device with those ids, including ones the host keeps.)\n"
	"# \"vfio-handover apply\" hands the persisted functions over by address at boot instead.\n";

static const char modprobe_builtin[] = MODPROBE_HEAD
	"# No \"options vfio-pci ids=\": vfio-pci is built into kernel 6.8.0-49-generic: "
	"modprobe.d options are ignored.\n"
	"# \"vfio-handover apply\" hands the persisted functions over by address at boot instead.\n";

static const char modules_load_68[] =
	"# Generated by vfio-handover persist; \"vfio-handover unpersist\" removes this file.\n"
	"# Modules systemd-modules-load loads at boot, so that vfio-pci is there\n"
	"# when \"vfio-handover apply\" runs.  One module name per line: options\n"
	"# belong in /etc/modprobe.d, not here.  No vfio_virqfd: modprobe loads\n"
	"# it with vfio_pci where the kernel still has it (before Linux 6.2),\n"
	"# and a kernel booted later may not have it.\n"
	"vfio\n"
	"vfio_iommu_type1\n"
	"vfio_pci\n";

static const char initramfs_68[] =
	"# Into the initramfs, to be loaded before the GPU's host drivers.\n"
	"# One module name per line, no arguments.\n"
	"# No vfio_virqfd: kernel 6.8.0-49-generic has no such module (it is part of vfio from Linux 6.2).\n"
	"vfio\n"
	"vfio_iommu_type1\n"
	"vfio_pci\n";

static const char initramfs_61[] =
	"# Into the initramfs, to be loaded before the GPU's host drivers.\n"
	"# One module name per line, no arguments.\n"
	"# vfio_virqfd: kernel 6.1.0-27-amd64 still has it as a module (it is gone from Linux 6.2).\n"
	"vfio\n"
	"vfio_iommu_type1\n"
	"vfio_virqfd\n"
	"vfio_pci\n";

static const char dracut_68[] =
	"# Generated by vfio-handover persist; \"vfio-handover unpersist\" removes this file.\n"
	"# Puts the vfio modules into the initramfs dracut builds, so that vfio-pci\n"
	"# is there before the GPU's host drivers (add_drivers in dracut.conf(5)).\n"
	"# No vfio_virqfd: kernel 6.8.0-49-generic has no such module (it is part of vfio from Linux 6.2).\n"
	"add_drivers+=\" vfio vfio_iommu_type1 vfio_pci \"\n"
	"# And the udev rule that gives the persisted functions to vfio-pci as\n"
	"# they are added (install_items: dracut's udev takes only the rules it knows).\n"
	"install_items+=\" /etc/udev/rules.d/05-vfio-handover.rules \"\n";

/* What no file may say: the guide's mistakes. */
static void assert_no_guide_errors(const char *s)
{
	ck_assert_msg(!has_line_prefix(s, "blacklist"), "blacklist line in:\n%s", s);
	ck_assert_msg(!has_line_prefix(s, "alias"), "alias line in:\n%s", s);
	ck_assert_msg(!strstr(s, "attach"), "attach in:\n%s", s);
	ck_assert_msg(!strstr(s, "nvidia*"), "wildcard in:\n%s", s);
}

START_TEST(render_single_gpu)
{
	struct persist_fn f[2];
	struct persist_target t = target(NULL);
	size_t n = one_gpu(f);
	char *s;

	ck_assert_int_eq(persist_render_devices_conf(f, n, &s), 0);
	ck_assert_str_eq(s, devices_one);
	free(s);
	ck_assert_int_eq(persist_render_modprobe(&t, f, n, &s), 0);
	ck_assert_str_eq(s, modprobe_one);
	assert_no_guide_errors(s);
	free(s);
	ck_assert_int_eq(persist_render_modules_load(&t, &s), 0);
	ck_assert_str_eq(s, modules_load_68);
	assert_no_guide_errors(s);
	free(s);
	ck_assert_int_eq(persist_render_initramfs_block(&t, &s), 0);
	ck_assert_str_eq(s, initramfs_68);
	assert_no_guide_errors(s);
	free(s);
	ck_assert_int_eq(persist_render_dracut(&t, &s), 0);
	ck_assert_str_eq(s, dracut_68);
	free(s);
}
END_TEST

START_TEST(render_twin_gpus)
{
	struct persist_fn f[4];
	struct persist_target t = target(NULL);
	size_t n = twin_gpus(f);
	char *s;

	t.ids_exclusive = false;
	t.ids_reason = "10de:27b0 also matches 0000:02:00.0, which the host keeps";
	ck_assert_int_eq(persist_render_modprobe(&t, f, n, &s), 0);
	ck_assert_str_eq(s, modprobe_twin);
	ck_assert(!has_line_prefix(s, "options"));
	assert_no_guide_errors(s);
	free(s);
	/* every function, sorted by address whatever the order given */
	ck_assert_int_eq(persist_render_devices_conf(f, n, &s), 0);
	ck_assert_ptr_nonnull(strstr(s, "\n0000:01:00.0 10de:27b0 10de:16fa slot=1 path=0000:00:01.0/0000:01:00.0\n"
				     "0000:01:00.1 10de:22bc 10de:16fa slot=1 path=0000:00:01.0/0000:01:00.1\n"
				     "0000:02:00.0 10de:27b0 10de:16fa slot=2 path=0000:00:03.1/0000:02:00.0\n"
				     "0000:02:00.1 10de:22bc 10de:16fa slot=2 path=0000:00:03.1/0000:02:00.1\n"));
	free(s);
	/* a reason that is no line of its own cannot smuggle one in */
	t.ids_reason = "x\noptions vfio-pci ids=dead:beef";
	ck_assert_int_eq(persist_render_modprobe(&t, f, n, &s), 0);
	ck_assert(!has_line_prefix(s, "options"));
	free(s);
	t.ids_reason = NULL;
	ck_assert_int_eq(persist_render_modprobe(&t, f, n, &s), 0);
	ck_assert_ptr_nonnull(strstr(s, "these ids also match devices outside the selection.\n"));
	free(s);
}
END_TEST

START_TEST(render_virqfd_by_kernel)
{
	struct persist_target t = target(NULL);
	char *s;

	t.kernel = "6.1.0-27-amd64";
	t.has_virqfd = true;
	ck_assert_int_eq(persist_render_initramfs_block(&t, &s), 0);
	ck_assert_str_eq(s, initramfs_61);
	free(s);
	/* modules-load.d: never, the same list for every kernel (SPEC) */
	ck_assert_int_eq(persist_render_modules_load(&t, &s), 0);
	ck_assert(!has_line(s, "vfio_virqfd"));
	ck_assert_str_eq(s, modules_load_68);
	free(s);
	ck_assert_int_eq(persist_render_dracut(&t, &s), 0);
	ck_assert(has_line(s, "add_drivers+=\" vfio vfio_iommu_type1 vfio_virqfd vfio_pci \""));
	free(s);
	/* 6.2 and later: no such module anywhere */
	t.kernel = "6.8.0-49-generic";
	t.has_virqfd = false;
	ck_assert_int_eq(persist_render_initramfs_block(&t, &s), 0);
	ck_assert(!has_line(s, "vfio_virqfd"));
	free(s);
	ck_assert_int_eq(persist_render_modules_load(&t, &s), 0);
	ck_assert(!has_line(s, "vfio_virqfd"));
	free(s);
	ck_assert_int_eq(persist_render_dracut(&t, &s), 0);
	ck_assert(!strstr(s, " vfio_virqfd "));
	free(s);
}
END_TEST

START_TEST(render_builtin_vfio)
{
	struct persist_fn f[2];
	struct persist_target t = target(NULL);
	size_t n = one_gpu(f);
	char *s;

	t.vfio_builtin = true;
	ck_assert_int_eq(persist_render_modprobe(&t, f, n, &s), 0);
	ck_assert_str_eq(s, modprobe_builtin);
	ck_assert(!has_line_prefix(s, "options"));
	free(s);
	/* builtin wins over exclusive ids, and the kernel may be unknown */
	t.kernel = NULL;
	ck_assert_int_eq(persist_render_modprobe(&t, f, n, &s), 0);
	ck_assert_ptr_nonnull(strstr(s, "built into the target kernel: modprobe.d options are ignored"));
	free(s);
}
END_TEST

START_TEST(render_softdeps)
{
	static const char *const mods[] = { "nvidia", "nvidia", "vfio-pci", "snd-hda-intel",
					    "snd_hda_intel", "vfio_pci", NULL };
	static const char *const wild[] = { "nvidia*", NULL };
	static const char *const spaced[] = { "nvidia drm", NULL };
	static const char *const empty[] = { "", NULL };
	struct persist_fn f[2];
	struct persist_target t = target(NULL);
	size_t n = one_gpu(f);
	char *s;

	t.softdep_modules = mods;
	ck_assert_int_eq(persist_render_modprobe(&t, f, n, &s), 0);
	ck_assert_ptr_nonnull(strstr(s, "\nsoftdep nvidia pre: vfio-pci\nsoftdep snd-hda-intel pre: vfio-pci\n#"));
	ck_assert(!strstr(s, "softdep vfio"));
	free(s);
	t.softdep_modules = wild;
	ck_assert_int_eq(persist_render_modprobe(&t, f, n, &s), -EINVAL);
	t.softdep_modules = spaced;
	ck_assert_int_eq(persist_render_modprobe(&t, f, n, &s), -EINVAL);
	t.softdep_modules = empty;
	ck_assert_int_eq(persist_render_modprobe(&t, f, n, &s), -EINVAL);
	t.softdep_modules = NULL;
	ck_assert_int_eq(persist_render_modprobe(&t, f, n, &s), 0);
	ck_assert(!has_line_prefix(s, "softdep"));
	free(s);
}
END_TEST

START_TEST(parse_softdeps_back)
{
	static const char *const mods[] = { "bochs", "nvidia", "snd-hda-intel", NULL };
	struct persist_fn f[2];
	struct persist_target t = target(NULL);
	size_t n = one_gpu(f);
	char *s, **got;

	/* what render writes reads back, in its order */
	t.softdep_modules = mods;
	ck_assert_int_eq(persist_render_modprobe(&t, f, n, &s), 0);
	ck_assert_int_eq(persist_parse_softdeps(s, &got), 0);
	ck_assert_str_eq(got[0], "bochs");
	ck_assert_str_eq(got[1], "nvidia");
	ck_assert_str_eq(got[2], "snd-hda-intel");
	ck_assert_ptr_null(got[3]);
	persist_free_list(got);
	free(s);
	/* only the exact lines: no other module's softdep, no comment, no spaces;
	 * a VFIO variant driver's module after vfio-pci */
	ck_assert_int_eq(persist_parse_softdeps("# softdep a pre: vfio-pci\n"
						"softdep b pre: vfio-pci nvgrace_gpu_vfio_pci\n"
						"softdep b2 pre: vfio-pci  x\n"
						"softdep b3 pre: vfio-pci x*\n"
						"softdep b4 pre: nvgrace_gpu_vfio_pci vfio-pci\n"
						"softdep c  pre: vfio-pci\n"
						"softdep d pre: other\n"
						" softdep e pre: vfio-pci\n"
						"softdep f* pre: vfio-pci\n"
						"softdep g pre: vfio-pci", &got), 0);
	ck_assert_str_eq(got[0], "b");
	ck_assert_str_eq(got[1], "g");
	ck_assert_ptr_null(got[2]);
	persist_free_list(got);
	ck_assert_int_eq(persist_parse_softdeps("", &got), 0);
	ck_assert_ptr_null(got[0]);
	persist_free_list(got);
}
END_TEST

START_TEST(render_bad_functions)
{
	struct persist_fn f[2];
	struct persist_target t = target(NULL);
	char *s = NULL;

	one_gpu(f);
	f[1].device = 0x10000;
	ck_assert_int_eq(persist_render_devices_conf(f, 2, &s), -EINVAL);
	ck_assert_int_eq(persist_render_modprobe(&t, f, 2, &s), -EINVAL);
	one_gpu(f);
	snprintf(f[1].path, sizeof(f[1].path), "0000:00:01.0/0000:01:00.0");   /* not the function */
	ck_assert_int_eq(persist_render_devices_conf(f, 2, &s), -EINVAL);
	snprintf(f[1].path, sizeof(f[1].path), "0000:00:01.0//0000:01:00.1");
	ck_assert_int_eq(persist_render_devices_conf(f, 2, &s), -EINVAL);
	one_gpu(f);
	f[1].addr = f[0].addr;
	snprintf(f[1].path, sizeof(f[1].path), "%s", f[0].path);
	ck_assert_int_eq(persist_render_devices_conf(f, 2, &s), -EINVAL);
	/* ids= needs ids */
	ck_assert_int_eq(persist_render_modprobe(&t, f, 0, &s), -EINVAL);
	ck_assert_ptr_null(s);
}
END_TEST

/* The rule of the function at addr: from its comment to the next blank line. */
static char *rule_of(const char *text, const char *addr)
{
	char head[64];
	const char *b, *e;

	snprintf(head, sizeof(head), "\n# %s ", addr);
	b = strstr(text, head);
	if (!b)
		return NULL;
	e = strstr(b + 1, "\n\n");
	return strndup(b + 1, e ? (size_t)(e - b) : strlen(b + 1));
}

static size_t count_of(const char *text, const char *what)
{
	size_t n = 0;

	for (const char *p = text; (p = strstr(p, what)); p++)
		n++;
	return n;
}

/* One line per function, in address order, each matching the ids of every
 * function of its GPU and of no other, taking only its own function, and
 * the whole file skipped on its kernel command-line word. */
START_TEST(render_udev_rule)
{
	static const char *const addrs[] = {
		"0000:01:00.0", "0000:01:00.1", "0000:02:00.0", "0000:02:00.1",
	};
	struct persist_fn f[4];
	size_t n = twin_gpus(f);
	const char *last = NULL;
	char *s, *r, want[256];

	ck_assert_int_eq(persist_render_udev_rule(f, n, &s), 0);
	ck_assert(!strncmp(s, PERSIST_HEADER, strlen(PERSIST_HEADER)));
	ck_assert(has_line_prefix(s, "ACTION!=\"add\", GOTO=\"vfio_handover_end\"\n"));
	ck_assert(has_line_prefix(s, "SUBSYSTEM!=\"pci\", GOTO=\"vfio_handover_end\"\n"));
	ck_assert(has_line_prefix(s, "IMPORT{cmdline}=\"vfio_handover.off\", ENV{vfio_handover.off}=\"\", "
				  "GOTO=\"vfio_handover_end\"\n"));
	ck_assert_uint_eq(count_of(s, "RUN{builtin}+=\"kmod load vfio_pci\""), 4);
	ck_assert(strlen(s) > 26 && !strcmp(s + strlen(s) - 27, "\nLABEL=\"vfio_handover_end\"\n"));
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		const char *other = i < 2 ? "[pci/0000:02:00." : "[pci/0000:01:00.";
		char slot[16];

		r = rule_of(s, addrs[i]);
		ck_assert_msg(r, "no line for %s in:\n%s", addrs[i], s);
		ck_assert(!last || strstr(s, last) < strstr(s, r));
		snprintf(slot, sizeof(slot), "%.10s", addrs[i]);
		for (int fn = 0; fn < 2; fn++) {
			snprintf(want, sizeof(want), "ATTR{[pci/%s.%d]device}==\"0x%s\"", slot, fn,
				 fn ? "22bc" : "27b0");
			ck_assert_msg(strstr(r, want), "%s lacks %s:\n%s", addrs[i], want, r);
			snprintf(want, sizeof(want), "ATTR{[pci/%s.%d]subsystem_device}==\"0x16fa\"", slot, fn);
			ck_assert_msg(strstr(r, want), "%s lacks %s:\n%s", addrs[i], want, r);
		}
		ck_assert_msg(!strstr(r, other), "%s names the other GPU:\n%s", addrs[i], r);
		snprintf(want, sizeof(want), "TEST!=\"[pci/%s]driver\", ATTR{[pci/%s]driver_override}==\"(null)\"",
			 addrs[i], addrs[i]);
		ck_assert_msg(strstr(r, want), "%s lacks %s:\n%s", addrs[i], want, r);
		snprintf(want, sizeof(want), "ATTR{[pci/%s]driver_override}=\"vfio-pci\"", addrs[i]);
		ck_assert_uint_eq(count_of(r, "driver_override}=\"vfio-pci\""), 1);
		ck_assert_msg(strstr(r, want), "%s lacks %s:\n%s", addrs[i], want, r);
		snprintf(want, sizeof(want), "ATTR{[subsystem/pci]drivers_probe}=\"%s\"", addrs[i]);
		ck_assert_msg(strstr(r, want), "%s lacks %s:\n%s", addrs[i], want, r);
		/* continued lines only: udev joins them into one rule */
		for (const char *p = r; (p = strchr(p, '\n')) && p[1]; p++)
			ck_assert_msg(p[-1] == '\\' || p[1] == 'A', "a line of %s is not continued:\n%s", addrs[i], r);
		last = strstr(s, r);
		free(r);
	}
	free(s);
	/* one function of a GPU persisted: its own ids only */
	ck_assert_int_eq(persist_render_udev_rule(f + 2, 1, &s), 0);
	ck_assert_ptr_nonnull(strstr(s, "\n# 0000:01:00.0 10de:27b0, of GPU 0000:01:00 (1 function persisted)\n"));
	ck_assert_uint_eq(count_of(s, "]vendor}=="), 1);
	free(s);
}
END_TEST

/* A function for a VFIO variant driver is given to that driver, by the
 * name the kernel gave, and its module loaded; one whose driver's name is
 * not known yet gets no line that could name a driver wrongly. */
START_TEST(render_udev_rule_variant)
{
	struct persist_fn f[2];
	size_t n = one_gpu(f);
	char *s, *r;

	snprintf(f[0].vfio_module, sizeof(f[0].vfio_module), "vh_variant_vfio");
	snprintf(f[0].vfio_driver, sizeof(f[0].vfio_driver), "vh-variant-vfio-pci");
	ck_assert_int_eq(persist_render_udev_rule(f, n, &s), 0);
	ck_assert_ptr_nonnull(strstr(s, "# A function persisted for a VFIO variant driver"));
	r = rule_of(s, "0000:01:00.0");
	ck_assert_ptr_nonnull(r);
	ck_assert_msg(strstr(r, "ATTR{[pci/0000:01:00.0]driver_override}=\"vh-variant-vfio-pci\""), "%s", r);
	ck_assert_msg(strstr(r, "RUN{builtin}+=\"kmod load vh_variant_vfio\"\n"), "%s", r);
	ck_assert(!strstr(r, "vfio_pci"));
	free(r);
	r = rule_of(s, "0000:01:00.1");
	ck_assert_msg(strstr(r, "ATTR{[pci/0000:01:00.1]driver_override}=\"vfio-pci\""), "%s", r);
	ck_assert_msg(strstr(r, "RUN{builtin}+=\"kmod load vfio_pci\"\n"), "%s", r);
	free(r);
	free(s);
	/* the driver's name unknown: a comment, no rule for that function */
	f[0].vfio_driver[0] = '\0';
	ck_assert_int_eq(persist_render_udev_rule(f, n, &s), 0);
	r = rule_of(s, "0000:01:00.0");
	ck_assert_ptr_nonnull(r);
	ck_assert(!strstr(r, "driver_override}="));
	ck_assert(!strstr(r, "TEST"));
	ck_assert_msg(strstr(r, "the kernel has not said the name of the PCI driver vh_variant_vfio "
			     "registers"), "%s", r);
	free(r);
	ck_assert_uint_eq(count_of(s, "driver_override}=\"vfio-pci\""), 1);
	free(s);
	/* names a rule could be broken by */
	snprintf(f[0].vfio_driver, sizeof(f[0].vfio_driver), "x\", RUN+=\"/bin/sh");
	ck_assert_int_eq(persist_render_udev_rule(f, n, &s), -EINVAL);
}
END_TEST

START_TEST(render_udev_rule_refused)
{
	struct persist_fn f[2];
	char *s = NULL;

	one_gpu(f);
	ck_assert_int_eq(persist_render_udev_rule(f, 0, &s), -EINVAL);
	f[1].subdevice = 0x10000;
	ck_assert_int_eq(persist_render_udev_rule(f, 2, &s), -EINVAL);
	one_gpu(f);
	f[1].addr.fn = 8;
	ck_assert_int_eq(persist_render_udev_rule(f, 2, &s), -EINVAL);
	one_gpu(f);
	f[1].addr = f[0].addr;
	ck_assert_int_eq(persist_render_udev_rule(f, 2, &s), -EINVAL);
	ck_assert_ptr_null(s);
}
END_TEST

/* ---- devices.conf parsed back ---- */

static int parse(const char *text, struct persist_fn **fns, size_t *n, struct persist_problem *why)
{
	return persist_parse_devices_conf(text, strlen(text), fns, n, why);
}

static void assert_fn_eq(const struct persist_fn *a, const struct persist_fn *b)
{
	ck_assert_int_eq(pci_addr_cmp(&a->addr, &b->addr), 0);
	ck_assert_uint_eq(a->vendor, b->vendor);
	ck_assert_uint_eq(a->device, b->device);
	ck_assert_uint_eq(a->subvendor, b->subvendor);
	ck_assert_uint_eq(a->subdevice, b->subdevice);
	ck_assert_str_eq(a->phys_slot, b->phys_slot);
	ck_assert_str_eq(a->path, b->path);
}

START_TEST(parse_roundtrip)
{
	struct persist_fn f[6], *got;
	size_t n = twin_gpus(f), ngot;
	char *s;

	/* slots that need escaping, and functions with no slot or path */
	snprintf(f[0].phys_slot, sizeof(f[0].phys_slot), "PCIe Slot 2%%");
	snprintf(f[1].phys_slot, sizeof(f[1].phys_slot), "-");
	f[2].phys_slot[0] = '\0';
	f[2].path[0] = '\0';
	f[n] = mkfn("0000:c1:00.0", 0x1002, 0x744c, "", "0000:c0:01.1/0000:c1:00.0");
	f[n++].subvendor = 0xabcd;
	ck_assert_int_eq(persist_render_devices_conf(f, n, &s), 0);
	ck_assert_ptr_nonnull(strstr(s, "slot=PCIe%20Slot%202%25 "));
	ck_assert_ptr_nonnull(strstr(s, "slot=%2d "));
	ck_assert_ptr_nonnull(strstr(s, "0000:01:00.0 10de:27b0 10de:16fa slot=- path=-\n"));
	ck_assert_int_eq(parse(s, &got, &ngot, NULL), 0);
	ck_assert_uint_eq(ngot, n);
	/* in file order, which is address order */
	assert_fn_eq(&got[0], &f[2]);
	assert_fn_eq(&got[1], &f[3]);
	assert_fn_eq(&got[2], &f[1]);
	assert_fn_eq(&got[3], &f[0]);
	assert_fn_eq(&got[4], &f[4]);
	free(got);
	free(s);
	/* hand edits: blank lines, comments, tabs, CRLF, upper-case hex */
	ck_assert_int_eq(parse("\n  # note\r\n0000:01:00.0\t10DE:27B0  10de:16fa slot=1 "
			       "path=0000:00:01.0/0000:01:00.0\r\n\n", &got, &ngot, NULL), 0);
	ck_assert_uint_eq(ngot, 1);
	ck_assert_uint_eq(got[0].device, 0x27b0);
	free(got);
	ck_assert_int_eq(parse("", &got, &ngot, NULL), 0);
	ck_assert_uint_eq(ngot, 0);
	free(got);
}
END_TEST

#define GOOD0 "0000:01:00.0 10de:27b0 10de:16fa slot=1 path=0000:00:01.0/0000:01:00.0\n"
#define GOOD1 "0000:01:00.1 10de:22bc 10de:16fa slot=1 path=0000:00:01.0/0000:01:00.1\n"
#define FIELDS "(a line is ADDRESS VENDOR:DEVICE SUBVENDOR:SUBDEVICE slot=SLOT path=PATH)"

/* Each error: the first bad line, and what is wrong there. */
START_TEST(parse_errors)
{
	static const struct {
		const char *text;
		size_t len;             /* 0: strlen(text) */
		unsigned line;
		const char *what;
	} bad[] = {
		{ "garbage\n", 0, 1, "the address 'garbage' is not DOMAIN:BUS:DEVICE.FUNCTION in hex "
		  "(as 0000:01:00.0)" },
		{ "01:00.0 10de:27b0 10de:16fa slot=1 path=-\n", 0, 1, "the address '01:00.0' is not "
		  "DOMAIN:BUS:DEVICE.FUNCTION in hex (as 0000:01:00.0)" },
		{ "# c\n\n0000:01:00.8 10de:27b0 10de:16fa slot=1 path=-\n", 0, 3,
		  "the address '0000:01:00.8' has function 8: a function is 0 to 7" },
		{ "0000:01:20.0 10de:27b0 10de:16fa slot=1 path=-\n", 0, 1,
		  "the address '0000:01:20.0' has device 20: a device is 00 to 1f" },
		{ GOOD0 "0000:01:00.1 zzzz:0001 10de:16fa slot=1 path=-\n", 0, 2,
		  "the vendor:device ids 'zzzz:0001' are not four hex digits each" },
		{ "0000:01:00.0 10de:27b 10de:16fa slot=1 path=-\n", 0, 1,
		  "the vendor:device ids '10de:27b' are not four hex digits each" },
		{ "0000:01:00.0 10de:27b0 10de16fa0 slot=1 path=-\n", 0, 1,
		  "the subsystem ids '10de16fa0' are not four hex digits each" },
		{ "0000:01:00.0\n", 0, 1, "the field VENDOR:DEVICE is missing " FIELDS },
		{ "0000:01:00.0 10de:27b0 10de:16fa slot=1\n", 0, 1, "the field path=PATH is missing " FIELDS },
		{ "0000:01:00.0 10de:27b0 10de:16fa slot=1 path=- extra\n", 0, 1,
		  "an extra field 'extra' after path=PATH " FIELDS },
		{ "0000:01:00.0 10de:27b0 10de:16fa 1 path=-\n", 0, 1, "the field '1' is not slot=SLOT" },
		{ "0000:01:00.0 10de:27b0 10de:16fa slot= path=-\n", 0, 1,
		  "the slot is empty: slot=- means none" },
		{ "0000:01:00.0 10de:27b0 10de:16fa slot=%zz path=-\n", 0, 1,
		  "the slot '%zz' has a bad escape: '%' takes two hex digits, not 00" },
		{ "0000:01:00.0 10de:27b0 10de:16fa slot=a%00 path=-\n", 0, 1,
		  "the slot 'a%00' has a bad escape: '%' takes two hex digits, not 00" },
		{ "0000:01:00.0 10de:27b0 10de:16fa slot=a%2 path=-\n", 0, 1,
		  "the slot 'a%2' has a bad escape: '%' takes two hex digits, not 00" },
		{ "0000:01:00.0 10de:27b0 10de:16fa slot=123456789012345678901234567890123 path=-\n", 0, 1,
		  "the slot '123456789012345678901234567890123' is longer than 31 bytes" },
		{ "0000:01:00.0 10de:27b0 10de:16fa slot=1 0000:01:00.0\n", 0, 1,
		  "the field '0000:01:00.0' is not path=PATH" },
		{ "0000:01:00.0 10de:27b0 10de:16fa slot=1 path=\n", 0, 1,
		  "the path is empty: path=- means unknown" },
		{ "0000:01:00.0 10de:27b0 10de:16fa slot=1 path=0000:00:01.0/\n", 0, 1,
		  "the path '0000:00:01.0/' is not PCI addresses joined by '/'" },
		{ "0000:01:00.0 10de:27b0 10de:16fa slot=1 path=0000:00:01.0/0000:01:00.1\n", 0, 1,
		  "the path '0000:00:01.0/0000:01:00.1' does not end at 0000:01:00.0 itself" },
		{ "0000:01:00.0 10de:27b0 10de:16fa slot=1 path=0000:00:01.0/0000:00:01.0/0000:00:01.0/"
		  "0000:00:01.0/0000:00:01.0/0000:00:01.0/0000:00:01.0/0000:00:01.0/0000:00:01.0/0000:00:01.0/"
		  "0000:00:01.0/0000:00:01.0/0000:00:01.0/0000:00:01.0/0000:00:01.0/0000:00:01.0/0000:00:01.0/"
		  "0000:00:01.0/0000:00:01.0/0000:01:00.0\n", 0, 1,
		  "the path '0000:00:01.0/0000:00:01.0/0000:00:01.0/0000:00:01.0/0000:00:01.0/0000:00:01.0/00...' "
		  "is longer than 255 bytes" },
		{ GOOD0 GOOD1 "# again\n" GOOD0, 0, 4, "0000:01:00.0 is listed twice (line 1)" },
		{ GOOD0 "0000:01:00.1 10de\0:22bc 10de:16fa slot=1 path=-\n", sizeof(GOOD0) + 45, 2,
		  "a NUL byte: devices.conf is text" },
		{ GOOD0 "\0", sizeof(GOOD0), 2, "a NUL byte: devices.conf is text" },
		{ "0000:01:00.0\r10de:27b0 10de:16fa slot=1 path=-\r\n", 0, 1,
		  "the address '0000:01:00.0\\r10de:27b0' is not DOMAIN:BUS:DEVICE.FUNCTION in hex "
		  "(as 0000:01:00.0)" },
		{ "0000:01:00.0 10de:27b0 10de:16fa slot=\x01\xff path=-\n", 0, 1,
		  "the slot '\\x01\\xff' is not printable ASCII: write each other byte as %XX" },
		{ GOOD0 "attach : vfio vfio_pci\n", 0, 2, "the address 'attach' is not "
		  "DOMAIN:BUS:DEVICE.FUNCTION in hex (as 0000:01:00.0)" },
	};
	struct persist_fn *got = NULL;
	size_t n = 99;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct persist_problem why = { .line = 99 };
		size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);

		ck_assert_msg(persist_parse_devices_conf(bad[i].text, len, &got, &n, &why) == -EBADMSG,
			      "accepted: %s", bad[i].text);
		ck_assert_msg(why.line == bad[i].line, "%s: line %u, not %u", bad[i].text, why.line, bad[i].line);
		ck_assert_str_eq(why.what, bad[i].what);
		/* and without a problem to fill */
		ck_assert_int_eq(persist_parse_devices_conf(bad[i].text, len, &got, &n, NULL), -EBADMSG);
	}
	/* outputs untouched on failure */
	ck_assert_uint_eq(n, 99);
	ck_assert_ptr_null(got);
}
END_TEST

/* A line too long for devices.conf, comment or not, and CRLF endings. */
START_TEST(parse_long_lines_and_crlf)
{
	struct persist_problem why;
	struct persist_fn f[2], *got, *crgot;
	size_t n = one_gpu(f), ngot, ncr;
	char *text = NULL, *s, *cr;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	fputs(GOOD0 "# ", m);
	for (int i = 0; i < 1100; i++)
		fputc('x', m);
	fputs("\n", m);
	fclose(m);
	ck_assert_int_eq(parse(text, &got, &ngot, &why), -EBADMSG);
	ck_assert_uint_eq(why.line, 2);
	ck_assert_str_eq(why.what, "the line is longer than 1024 bytes");
	/* one byte over the limit, then up to it */
	text[strlen(GOOD0) + 1025] = '\n';
	text[strlen(GOOD0) + 1026] = '\0';
	ck_assert_int_eq(parse(text, &got, &ngot, &why), -EBADMSG);
	text[strlen(GOOD0) + 1024] = '\n';
	text[strlen(GOOD0) + 1025] = '\0';
	ck_assert_int_eq(parse(text, &got, &ngot, &why), 0);
	ck_assert_uint_eq(ngot, 1);
	free(got);
	free(text);
	/* a file edited on Windows: the same list, and lines counted alike */
	ck_assert_int_eq(persist_render_devices_conf(f, n, &s), 0);
	cr = malloc(2 * strlen(s) + 1);
	{
		char *o = cr;

		for (const char *p = s; *p; p++) {
			if (*p == '\n')
				*o++ = '\r';
			*o++ = *p;
		}
		*o = '\0';
	}
	ck_assert_int_eq(parse(s, &got, &ngot, NULL), 0);
	ck_assert_int_eq(parse(cr, &crgot, &ncr, NULL), 0);
	ck_assert_uint_eq(ncr, ngot);
	for (size_t i = 0; i < ngot; i++)
		assert_fn_eq(&crgot[i], &got[i]);
	free(got);
	free(crgot);
	free(s);
	free(cr);
	ck_assert_int_eq(parse("# c\r\n" GOOD0 "0000:01:00.9 10de:22bc 10de:16fa slot=1 path=-\r\n", &got,
			       &ngot, &why), -EBADMSG);
	ck_assert_uint_eq(why.line, 3);
	ck_assert_str_eq(why.what, "the address '0000:01:00.9' has function 9: a function is 0 to 7");
}
END_TEST

/* persist_check_devices_conf: the text says exactly these functions. */
START_TEST(check_devices_conf)
{
	struct persist_problem why;
	struct persist_fn f[4];
	size_t n = twin_gpus(f);
	char *s;

	ck_assert_int_eq(persist_render_devices_conf(f, n, &s), 0);
	ck_assert_int_eq(persist_check_devices_conf(s, f, n, &why), 0);
	/* one function fewer, or one that differs */
	ck_assert_int_eq(persist_check_devices_conf(s, f, n - 1, &why), -EBADMSG);
	ck_assert_str_eq(why.what, "it lists 4 functions, not 3");
	f[1].phys_slot[0] = '\0';
	ck_assert_int_eq(persist_check_devices_conf(s, f, n, &why), -EBADMSG);
	ck_assert_uint_eq(why.line, 18);
	ck_assert_str_eq(why.what, "0000:02:00.0 does not read back as it was rendered");
	ck_assert_int_eq(persist_check_devices_conf("garbage\n", f, n, &why), -EBADMSG);
	ck_assert_uint_eq(why.line, 1);
	free(s);
	/* a function no address can name: not rendered at all */
	f[0].addr.dev = 0x28;
	ck_assert_int_eq(persist_render_devices_conf(f, n, &s), -EINVAL);
}
END_TEST

/* ---- VFIO variant drivers (--driver) ---- */

/* A GH200's GPU for nvgrace_gpu_vfio_pci (its PCI driver named as the
 * kernel said), and an RTX 4000 for vfio-pci. */
static size_t variant_set(struct persist_fn *f)
{
	f[0] = mkfn("0009:01:00.0", 0x10de, 0x2342, "", "0009:00:00.0/0009:01:00.0");
	snprintf(f[0].vfio_module, sizeof(f[0].vfio_module), "nvgrace_gpu_vfio_pci");
	snprintf(f[0].vfio_driver, sizeof(f[0].vfio_driver), "nvgrace_gpu_vfio_pci");
	one_gpu(f + 1);
	return 3;
}

static const char *const gh200_variants[] = { "nvgrace_gpu_vfio_pci", NULL };
#define APPLY_LINE "# \"vfio-handover apply\" hands the persisted functions over by address at boot instead.\n"

START_TEST(render_variant_devices_conf)
{
	struct persist_fn f[4], *got;
	size_t n = variant_set(f), ngot;
	char *s, *plain;

	ck_assert_int_eq(persist_render_devices_conf(f, n, &s), 0);
	/* the fields after path, for the variant only; vfio-pci's lines as before */
	ck_assert_ptr_nonnull(strstr(s, "\n0000:01:00.0 10de:27b0 10de:16fa slot=1 path=0000:00:01.0/0000:01:00.0\n"
				     "0000:01:00.1 10de:22bc 10de:16fa slot=1 path=0000:00:01.0/0000:01:00.1\n"
				     "0009:01:00.0 10de:2342 10de:16fa slot=- path=0009:00:00.0/0009:01:00.0 "
				     "driver=nvgrace_gpu_vfio_pci module=nvgrace_gpu_vfio_pci\n"));
	ck_assert_ptr_nonnull(strstr(s, "#   driver=DRIVER module=MODULE\n"));
	ck_assert_int_eq(parse(s, &got, &ngot, NULL), 0);
	ck_assert_uint_eq(ngot, 3);
	ck_assert_str_eq(got[2].vfio_module, "nvgrace_gpu_vfio_pci");
	ck_assert_str_eq(got[2].vfio_driver, "nvgrace_gpu_vfio_pci");
	ck_assert_str_eq(got[0].vfio_module, "");
	ck_assert_str_eq(got[0].vfio_driver, "");
	free(got);
	ck_assert_int_eq(persist_check_devices_conf(s, f, n, NULL), 0);
	/* the driver's name is part of what must read back */
	snprintf(f[0].vfio_driver, sizeof(f[0].vfio_driver), "nvgrace-gpu-vfio-pci");
	ck_assert_int_eq(persist_check_devices_conf(s, f, n, NULL), -EBADMSG);
	free(s);
	/* a name the kernel has not said yet: "-"; a module named unlike its driver */
	f[0].vfio_driver[0] = '\0';
	ck_assert_int_eq(persist_render_devices_conf(f, n, &s), 0);
	ck_assert_ptr_nonnull(strstr(s, " driver=- module=nvgrace_gpu_vfio_pci\n"));
	ck_assert_int_eq(parse(s, &got, &ngot, NULL), 0);
	ck_assert_str_eq(got[2].vfio_driver, "");
	ck_assert_str_eq(got[2].vfio_module, "nvgrace_gpu_vfio_pci");
	free(got);
	free(s);
	/* no variant: the file is byte for byte what it was before variants */
	ck_assert_int_eq(persist_render_devices_conf(f + 1, 2, &plain), 0);
	ck_assert_str_eq(plain, devices_one);
	free(plain);
	/* names a line could hide something in: not rendered */
	snprintf(f[0].vfio_module, sizeof(f[0].vfio_module), "nv grace");
	ck_assert_int_eq(persist_render_devices_conf(f, n, &s), -EINVAL);
	snprintf(f[0].vfio_module, sizeof(f[0].vfio_module), "nvgrace_gpu_vfio_pci");
	snprintf(f[0].vfio_driver, sizeof(f[0].vfio_driver), "a\nb");
	ck_assert_int_eq(persist_render_devices_conf(f, n, &s), -EINVAL);
	/* a driver without its module */
	snprintf(f[0].vfio_driver, sizeof(f[0].vfio_driver), "nvgrace_gpu_vfio_pci");
	f[0].vfio_module[0] = '\0';
	ck_assert_int_eq(persist_render_devices_conf(f, n, &s), -EINVAL);
}
END_TEST

START_TEST(parse_variant_fields)
{
	static const struct {
		const char *text;
		const char *what;
	} bad[] = {
		{ "0000:01:00.0 10de:27b0 10de:16fa slot=1 path=- driver=x\n",
		  "the field module=MODULE is missing after driver=DRIVER (a function for a VFIO variant "
		  "driver ends with driver=DRIVER module=MODULE)" },
		{ "0000:01:00.0 10de:27b0 10de:16fa slot=1 path=- module=x driver=y\n",
		  "the field 'module=x' is not driver=DRIVER (a function for a VFIO variant driver ends "
		  "with driver=DRIVER module=MODULE)" },
		{ "0000:01:00.0 10de:27b0 10de:16fa slot=1 path=- driver=x module=y z\n",
		  "an extra field 'z' after module=MODULE " FIELDS },
		{ "0000:01:00.0 10de:27b0 10de:16fa slot=1 path=- driver=x module=\n",
		  "the module '' is not a module's name (letters, digits, '_' and '-')" },
		{ "0000:01:00.0 10de:27b0 10de:16fa slot=1 path=- driver=x* module=y\n",
		  "the driver 'x*' is not a driver's name (letters, digits, '_' and '-'), nor '-'" },
		{ "0000:01:00.0 10de:27b0 10de:16fa slot=1 path=- driver=- module=-\n",
		  "the module '-' is not a module's name (letters, digits, '_' and '-')" },
	};
	struct persist_fn *got;
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct persist_problem why = { 0 };

		ck_assert_msg(parse(bad[i].text, &got, &n, &why) == -EBADMSG, "accepted: %s", bad[i].text);
		ck_assert_uint_eq(why.line, 1);
		ck_assert_str_eq(why.what, bad[i].what);
	}
	/* an old file, without the fields: vfio-pci */
	ck_assert_int_eq(parse(GOOD0, &got, &n, NULL), 0);
	ck_assert_str_eq(got[0].vfio_module, "");
	free(got);
	/* vfio-pci written out is vfio-pci: no variant */
	ck_assert_int_eq(parse("0000:01:00.0 10de:27b0 10de:16fa slot=1 path=- driver=vfio-pci "
			       "module=vfio-pci\n", &got, &n, NULL), 0);
	ck_assert_str_eq(got[0].vfio_module, "");
	ck_assert_str_eq(got[0].vfio_driver, "");
	free(got);
	ck_assert_int_eq(parse("0000:01:00.0 10de:27b0 10de:16fa slot=1 path=- driver=vh-variant-vfio-pci "
			       "module=vh_variant_vfio\n", &got, &n, NULL), 0);
	ck_assert_str_eq(got[0].vfio_module, "vh_variant_vfio");
	ck_assert_str_eq(got[0].vfio_driver, "vh-variant-vfio-pci");
	free(got);
}
END_TEST

/* The boot files for a variant: loaded early like vfio-pci, never in ids=. */
START_TEST(render_variant_modules)
{
	struct persist_fn f[4];
	struct persist_target t = target(NULL);
	size_t n = variant_set(f);
	char *s, **mods;

	t.variant_modules = gh200_variants;
	ck_assert_int_eq(persist_render_modprobe(&t, f, n, &s), 0);
	ck_assert(has_line(s, "softdep nvidia pre: vfio-pci nvgrace_gpu_vfio_pci"));
	ck_assert(has_line(s, "softdep snd_hda_intel pre: vfio-pci nvgrace_gpu_vfio_pci"));
	/* ids= would hand the GH200 to vfio-pci first: only the RTX's ids */
	ck_assert(has_line(s, "options vfio-pci ids=10de:22bc,10de:27b0"));
	assert_no_guide_errors(s);
	/* and persist reads its softdeps back */
	ck_assert_int_eq(persist_parse_softdeps(s, &mods), 0);
	ck_assert_str_eq(mods[0], "nouveau");
	persist_free_list(mods);
	free(s);
	ck_assert_int_eq(persist_render_modules_load(&t, &s), 0);
	ck_assert_ptr_nonnull(strstr(s, "\nvfio_pci\n# A VFIO variant driver of a persisted function "
				     "(devices.conf's module=):\nnvgrace_gpu_vfio_pci\n"));
	free(s);
	ck_assert_int_eq(persist_render_initramfs_block(&t, &s), 0);
	ck_assert_ptr_nonnull(strstr(s, "\nvfio_pci\n# A VFIO variant driver of a persisted function "
				     "(devices.conf's module=):\nnvgrace_gpu_vfio_pci\n"));
	free(s);
	ck_assert_int_eq(persist_render_dracut(&t, &s), 0);
	ck_assert(has_line(s, "add_drivers+=\" vfio vfio_iommu_type1 vfio_pci nvgrace_gpu_vfio_pci \""));
	free(s);
	/* only variants: no ids= at all, and why */
	ck_assert_int_eq(persist_render_modprobe(&t, f, 1, &s), 0);
	ck_assert(!has_line_prefix(s, "options"));
	ck_assert_ptr_nonnull(strstr(s, "# No \"options vfio-pci ids=\": every persisted function goes "
				     "to a VFIO variant driver, and ids= would give it to vfio-pci first.\n"
				     APPLY_LINE));
	free(s);
	/* a vfio-pci function with a variant's ids: ids= would take both */
	f[1].device = 0x2342;
	ck_assert_int_eq(persist_render_modprobe(&t, f, n, &s), 0);
	ck_assert(!has_line_prefix(s, "options"));
	ck_assert_ptr_nonnull(strstr(s, "# No \"options vfio-pci ids=\": 10de:2342 is also 0009:01:00.0, "
				     "which goes to the VFIO variant driver nvgrace_gpu_vfio_pci: ids= would "
				     "give it to vfio-pci first.\n" APPLY_LINE));
	free(s);
	/* a module name a line could hide something in */
	t.variant_modules = (const char *const[]){ "nv grace", NULL };
	ck_assert_int_eq(persist_render_modules_load(&t, &s), -EINVAL);
}
END_TEST

/* ---- managed blocks ---- */

#define BEGIN_LINE "# BEGIN vfio-handover: \"vfio-handover unpersist\" removes this block"
#define NONL " (the file had no final newline)"

static void assert_block_roundtrip(const char *text, const char *body, const char *want)
{
	char *set, *again, *cut;

	ck_assert_int_eq(persist_set_block(text, body, &set, NULL), 0);
	if (want)
		ck_assert_str_eq(set, want);
	ck_assert_int_eq(persist_set_block(set, body, &again, NULL), 0);
	ck_assert_str_eq(again, set);
	ck_assert_int_eq(persist_cut_block(set, &cut, NULL), 0);
	ck_assert_str_eq(cut, text);
	free(set);
	free(again);
	free(cut);
}

START_TEST(block_set_and_cut)
{
	char *s, *t2, *cut;

	assert_block_roundtrip("", "vfio\n", BEGIN_LINE "\nvfio\n# END vfio-handover\n");
	assert_block_roundtrip("# List of modules\nloop\n", "vfio\n",
			       "# List of modules\nloop\n" BEGIN_LINE "\nvfio\n# END vfio-handover\n");
	assert_block_roundtrip("# List of modules\nloop", "vfio\n",
			       "# List of modules\nloop\n" BEGIN_LINE NONL "\nvfio\n# END vfio-handover\n");
	assert_block_roundtrip("\n\n", "", NULL);
	assert_block_roundtrip("a\r\nb", "vfio\n", NULL);
	/* replaced in place, text around it unchanged */
	ck_assert_int_eq(persist_set_block("a\n", "old\n", &s, NULL), 0);
	t2 = NULL;
	ck_assert_int_eq(asprintf(&t2, "%sz\n", s), (int)strlen(s) + 2);
	free(s);
	ck_assert_int_eq(persist_set_block(t2, "new\nlines\n", &s, NULL), 0);
	ck_assert_str_eq(s, "a\n" BEGIN_LINE "\nnew\nlines\n# END vfio-handover\nz\n");
	ck_assert_int_eq(persist_cut_block(s, &cut, NULL), 0);
	ck_assert_str_eq(cut, "a\nz\n");
	free(cut);
	free(s);
	free(t2);
	/* the user wrote after a block that had to add a newline: it stays */
	ck_assert_int_eq(persist_set_block("a", "vfio\n", &s, NULL), 0);
	ck_assert_int_eq(asprintf(&t2, "%sb\n", s), (int)strlen(s) + 2);
	ck_assert_int_eq(persist_cut_block(t2, &cut, NULL), 0);
	ck_assert_str_eq(cut, "a\nb\n");
	free(cut);
	free(t2);
	free(s);
	/* no block: a copy */
	ck_assert_int_eq(persist_cut_block("x\ny", &cut, NULL), 0);
	ck_assert_str_eq(cut, "x\ny");
	free(cut);
}
END_TEST

START_TEST(block_refusals)
{
	static const char *const broken[] = {
		"# BEGIN vfio-handover\nvfio\n",
		"vfio\n# END vfio-handover\n",
		"# BEGIN vfio-handover\n# BEGIN vfio-handover\n# END vfio-handover\n",
		"# BEGIN vfio-handover\n# END vfio-handover\n# BEGIN vfio-handover\n# END vfio-handover\n",
		"# BEGIN vfio-handover",
	};
	char *s = NULL;

	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
		ck_assert_int_eq(persist_cut_block(broken[i], &s, NULL), -EBADMSG);
		ck_assert_int_eq(persist_set_block(broken[i], "vfio\n", &s, NULL), -EBADMSG);
	}
	/* a body is whole lines, and no marker */
	ck_assert_int_eq(persist_set_block("", "vfio", &s, NULL), -EINVAL);
	ck_assert_int_eq(persist_set_block("", "# END vfio-handover\n", &s, NULL), -EINVAL);
	ck_assert_int_eq(persist_set_block("", "# was: x\n", &s, NULL), -EINVAL);
	ck_assert_ptr_null(s);
	/* lines that only look alike are the user's */
	ck_assert_int_eq(persist_cut_block("# BEGIN vfio-handoverish\n# END vfio-handover.\n", &s, NULL), 0);
	ck_assert_str_eq(s, "# BEGIN vfio-handoverish\n# END vfio-handover.\n");
	free(s);
}
END_TEST

static void assert_env(const char *text, const char *want)
{
	char *set, *again, *cut;

	ck_assert_int_eq(persist_set_env(text, GPU_KEY, "True", &set, NULL), 0);
	if (want)
		ck_assert_str_eq(set, want);
	ck_assert_int_eq(persist_set_env(set, GPU_KEY, "True", &again, NULL), 0);
	ck_assert_str_eq(again, set);
	ck_assert_int_eq(persist_cut_block(set, &cut, NULL), 0);
	ck_assert_str_eq(cut, text);
	free(set);
	free(again);
	free(cut);
}

START_TEST(env_set_and_cut)
{
	char *s;

	/* replaced where it was, so that it stays the last assignment */
	assert_env("A=1\n" GPU_KEY "=False\nB=2\n",
		   "A=1\n" BEGIN_LINE "\n# was: " GPU_KEY "=False\n" GPU_KEY "=True\n# END vfio-handover\nB=2\n");
	assert_env("A=1\n", "A=1\n" BEGIN_LINE "\n" GPU_KEY "=True\n# END vfio-handover\n");
	assert_env("A=1", "A=1\n" BEGIN_LINE NONL "\n" GPU_KEY "=True\n# END vfio-handover\n");
	assert_env("", NULL);
	assert_env("A=1\n" GPU_KEY "=False",
		   "A=1\n" BEGIN_LINE NONL "\n# was: " GPU_KEY "=False\n" GPU_KEY "=True\n# END vfio-handover\n");
	/* only the last of several, whatever its spelling */
	assert_env(GPU_KEY "=True\n# c\n  export " GPU_KEY " = \"no\"  \r\nC=3\n",
		   GPU_KEY "=True\n# c\n" BEGIN_LINE "\n# was:   export " GPU_KEY " = \"no\"  \r\n"
		   GPU_KEY "=True\n# END vfio-handover\nC=3\n");
	/* a comment or a longer name is no assignment */
	assert_env("# " GPU_KEY "=False\n" GPU_KEY "_X=False\n", "# " GPU_KEY "=False\n" GPU_KEY "_X=False\n"
		   BEGIN_LINE "\n" GPU_KEY "=True\n# END vfio-handover\n");
	/* already on: nothing to do */
	ck_assert_int_eq(persist_set_env("A=1\n" GPU_KEY "='true'\n", GPU_KEY, "True", &s, NULL), 0);
	ck_assert_str_eq(s, "A=1\n" GPU_KEY "='true'\n");
	free(s);
	s = NULL;
	ck_assert_int_eq(persist_set_env("", "BAD KEY", "True", &s, NULL), -EINVAL);
	ck_assert_int_eq(persist_set_env("", GPU_KEY, "True\nX=1", &s, NULL), -EINVAL);
	ck_assert_ptr_null(s);
}
END_TEST

/* Marker lines in text, as unpersist reads them: "# BEGIN vfio-handover"
 * then ':', '(', a space or the line's end; "# END vfio-handover" then
 * only spaces. */
static size_t count_markers(const char *text, const char *marker, bool begin)
{
	size_t n = 0, k = strlen(marker);

	for (const char *p = text; (p = strstr(p, marker)); p++) {
		const char *rest = p + k;

		if (p != text && p[-1] != '\n')
			continue;
		if (begin ? strchr(":( \r\n", *rest) != NULL : strspn(rest, " \t\r\v\f") == strcspn(rest, "\n"))
			n++;
	}
	return n;
}

/* A result of set: exactly one block of ours. */
static void assert_one_block(const char *text)
{
	ck_assert_msg(count_markers(text, "# BEGIN vfio-handover", true) == 1, "BEGIN lines in:\n%s", text);
	ck_assert_msg(count_markers(text, "# END vfio-handover", false) == 1, "END lines in:\n%s", text);
}

/* Texts of the user's with no block of ours, the awkward ones. */
static char *awkward_text(size_t i)
{
	static const char *const fixed[] = {
		"", "\n", "\n\n", "a", "a\n", "a\r\n", "a\r\nb", "a\r", "\r\n\r\n", "\t \n",
		"# only\n# comments\n", "# only comments, no final newline",
		"# was: x\n", "# was: # BEGIN vfio-handover\n", "# was: # END vfio-handover",
		"# BEGIN vfio-handoverish\n# END vfio-handover.\n",
		"#BEGIN vfio-handover\n # END vfio-handover\n",
		GPU_KEY "=False", GPU_KEY "=False\n", GPU_KEY "=True\n", "  export " GPU_KEY " = 'no' \r\n",
		GPU_KEY "=False\nA=1\n" GPU_KEY "=0\n", GPU_KEY "=False # END vfio-handover\n",
		GPU_KEY "=\"# BEGIN vfio-handover\"\n", "X=\"# END vfio-handover\"\n# was: " GPU_KEY "=1\n",
	};
	size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
	char *s;

	if (i < nfixed)
		return strdup(fixed[i]);
	if (i - nfixed >= 2)
		return NULL;
	/* a very long line, with and without its newline */
	s = malloc(200002);
	memset(s, 'x', 200000);
	s[200000] = i - nfixed ? '\n' : '\0';
	s[200001] = '\0';
	return s;
}

/* For any text T with no block: cut(set(T)) == T and set(set(T)) == set(T). */
START_TEST(block_inverse_properties)
{
	static const char *const bodies[] = { "vfio\n", "", "a\n# b\n\n" };
	static const char *const values[] = { "True", "# END vfio-handover", "" };
	char *t, *set, *again, *cut;

	for (size_t i = 0; (t = awkward_text(i)); i++) {
		for (size_t k = 0; k < sizeof(bodies) / sizeof(bodies[0]); k++) {
			ck_assert_msg(persist_set_block(t, bodies[k], &set, NULL) == 0, "text %zu", i);
			assert_one_block(set);
			ck_assert_int_eq(persist_check_managed(t, set, NULL), 0);
			ck_assert_int_eq(persist_cut_block(set, &cut, NULL), 0);
			ck_assert_msg(!strcmp(cut, t), "text %zu: cut gave back:\n%s", i, cut);
			ck_assert_int_eq(persist_set_block(set, bodies[k], &again, NULL), 0);
			ck_assert_msg(!strcmp(again, set), "text %zu: set twice:\n%s", i, again);
			free(set);
			free(again);
			free(cut);
		}
		for (size_t k = 0; k < sizeof(values) / sizeof(values[0]); k++) {
			ck_assert_msg(persist_set_env(t, GPU_KEY, values[k], &set, NULL) == 0, "text %zu", i);
			ck_assert_int_eq(persist_cut_block(set, &cut, NULL), 0);
			ck_assert_msg(!strcmp(cut, t), "text %zu: cut gave back:\n%s", i, cut);
			ck_assert_int_eq(persist_set_env(set, GPU_KEY, values[k], &again, NULL), 0);
			ck_assert_msg(!strcmp(again, set), "text %zu: set twice:\n%s", i, again);
			if (strcmp(set, t)) {
				assert_one_block(set);
				ck_assert_int_eq(persist_check_managed(t, set, NULL), 0);
			}
			free(set);
			free(again);
			free(cut);
		}
		free(t);
	}
}
END_TEST

/* A hand-edited block, or a marker line of the user's: set and cut refuse,
 * naming the line in the way, rather than give a text with two blocks or
 * one unpersist would cut back to a marker. */
static const struct {
	const char *text;
	unsigned line;
	const char *what;
} hand_edited[] = {
	/* the issue's: a "# was: " line that puts a marker back */
	{ "A=1\n" BEGIN_LINE "\n# was: # BEGIN vfio-handover\n# was: " GPU_KEY "=False\n" GPU_KEY
	  "=True\n# END vfio-handover\nB=2\n", 3, "'# was: # BEGIN vfio-handover' inside the vfio-handover "
	  "block would put a marker line back when the block is removed" },
	{ BEGIN_LINE "\n# was: # END vfio-handover \n" GPU_KEY "=True\n# END vfio-handover\n", 2,
	  "'# was: # END vfio-handover ' inside the vfio-handover block would put a marker line back when "
	  "the block is removed" },
	{ "# BEGIN vfio-handover\n" GPU_KEY "=False\n", 1, "'# BEGIN vfio-handover' begins a "
	  "vfio-handover block that no '# END vfio-handover' line ends" },
	{ GPU_KEY "=False\n# END vfio-handover\r\n", 2, "'# END vfio-handover' ends a vfio-handover block "
	  "that no '# BEGIN vfio-handover' line begins" },
	{ "# END vfio-handover", 1, "'# END vfio-handover' ends a vfio-handover block that no "
	  "'# BEGIN vfio-handover' line begins" },
	{ "# BEGIN vfio-handover: mine\nA=1\n# END vfio-handover\n" BEGIN_LINE "\nvfio\n# END vfio-handover\n",
	  4, "'" BEGIN_LINE "' begins a second vfio-handover block (the first is lines 1 to 3)" },
	{ BEGIN_LINE "\nvfio\n# BEGIN vfio-handover (copy)\n# END vfio-handover\n", 3,
	  "'# BEGIN vfio-handover (copy)' inside the vfio-handover block begun on line 1" },
	{ BEGIN_LINE "\nvfio\n# END vfio-handover\nloop\n# END vfio-handover\n", 5, "'# END vfio-handover' "
	  "ends a vfio-handover block that no '# BEGIN vfio-handover' line begins" },
};

START_TEST(block_hand_edited_refused)
{
	char *s = NULL;

	for (size_t i = 0; i < sizeof(hand_edited) / sizeof(hand_edited[0]); i++) {
		const char *t = hand_edited[i].text;
		struct persist_problem why[4];

		ck_assert_msg(persist_set_env(t, GPU_KEY, "True", &s, &why[0]) == -EBADMSG, "text %zu gave:\n%s",
			      i, s);
		ck_assert_msg(persist_set_block(t, "vfio\n", &s, &why[1]) == -EBADMSG, "text %zu gave:\n%s",
			      i, s);
		ck_assert_msg(persist_cut_block(t, &s, &why[2]) == -EBADMSG, "text %zu gave:\n%s", i, s);
		ck_assert_int_eq(persist_check_managed(t, "", &why[3]), -EBADMSG);
		for (size_t k = 0; k < 4; k++) {
			ck_assert_msg(why[k].line == hand_edited[i].line, "text %zu: line %u", i, why[k].line);
			ck_assert_str_eq(why[k].what, hand_edited[i].what);
		}
		ck_assert_int_eq(persist_cut_block(t, &s, NULL), -EBADMSG);
		ck_assert_ptr_null(s);
	}
}
END_TEST

/* What the plan checks before writing a file shared with the user. */
START_TEST(check_managed)
{
	struct persist_problem why;
	char *set;

	ck_assert_int_eq(persist_set_block("a\n", "vfio\n", &set, NULL), 0);
	ck_assert_int_eq(persist_check_managed("a\n", set, &why), 0);
	ck_assert_int_eq(persist_check_managed("b\n", set, &why), -EBADMSG);
	ck_assert_uint_eq(why.line, 0);
	ck_assert_str_eq(why.what, "removing the vfio-handover block would not give the file back as it was");
	ck_assert_int_eq(persist_check_managed(set, set, &why), 0);
	free(set);
	ck_assert_int_eq(persist_check_managed("a\n", "a\n", &why), -EBADMSG);
	ck_assert_str_eq(why.what, "the new text would not hold exactly one vfio-handover block");
	ck_assert_int_eq(persist_check_managed("a\n", "a\n" BEGIN_LINE "\n# END vfio-handover\n"
					       BEGIN_LINE "\n# END vfio-handover\n", &why), -EBADMSG);
	ck_assert_uint_eq(why.line, 0);
	ck_assert_str_eq(why.what, "the new text would not hold exactly one vfio-handover block");
	/* no file before: the block alone, noting that persist created the
	 * file, which unpersist then removes; an empty file stays */
	ck_assert_int_eq(persist_set_block(NULL, "vfio\n", &set, NULL), 0);
	ck_assert_int_eq(persist_check_managed(NULL, set, &why), 0);
	ck_assert_int_eq(persist_check_managed("", set, &why), -EBADMSG);
	ck_assert_str_eq(why.what, "the vfio-handover block would not say whether persist created the file");
	free(set);
	ck_assert_int_eq(persist_set_block("", "vfio\n", &set, NULL), 0);
	ck_assert_int_eq(persist_check_managed("", set, &why), 0);
	ck_assert_int_eq(persist_check_managed(NULL, set, &why), -EBADMSG);
	free(set);
}
END_TEST

/* A block replaced in place keeps the lines it was put back with. */
START_TEST(block_keeps_was_lines)
{
	static const char text[] = "a\n" BEGIN_LINE "\n# was: raid1\nold\n# END vfio-handover\nz\n";
	char *set, *cut;

	ck_assert_int_eq(persist_set_block(text, "new\n", &set, NULL), 0);
	ck_assert_str_eq(set, "a\n" BEGIN_LINE "\n# was: raid1\nnew\n# END vfio-handover\nz\n");
	ck_assert_int_eq(persist_cut_block(set, &cut, NULL), 0);
	ck_assert_str_eq(cut, "a\nraid1\nz\n");
	ck_assert_int_eq(persist_check_managed(text, set, NULL), 0);
	free(cut);
	free(set);
}
END_TEST

/* What persist sets, check reads (aleph_env_read, as the supervisor's own
 * reader does): a line that assigns the key with other whitespace than
 * spaces and tabs around it ("KEY\r=False") is an assignment to both;
 * so is "export" and a tab before the key (the fuzzer's, check read it
 * unset); a comment longer than check's old line buffer is one comment. */
START_TEST(env_agrees_with_check)
{
	static char long_comment[sizeof(GPU_KEY "=True\n") + 1200 + sizeof(GPU_KEY "=False\n")];
	const char *const texts[] = {
		GPU_KEY "=True\n" GPU_KEY "\r=False\n",
		GPU_KEY "=True\n\f" GPU_KEY "=False\n",
		GPU_KEY "=False\n" GPU_KEY "\v= no\n",
		"export\t" GPU_KEY "\t\t=True \t",
		long_comment,
	};
	char *root = mkroot(), *set;
	struct aleph_env a;

	/* KEY=True, then a comment that ends in KEY=False past its 1,023rd byte */
	strcpy(long_comment, GPU_KEY "=True\n#");
	memset(long_comment + strlen(long_comment), 'x', 1022);
	strcat(long_comment, GPU_KEY "=False\n");
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		ck_assert_int_eq(persist_set_env(texts[i], GPU_KEY, "True", &set, NULL), 0);
		put(root, PERSIST_SUPERVISOR_ENV, set);
		ck_assert_int_eq(aleph_env_read(root, &a), 0);
		ck_assert_msg(a.has_gpu_support && aleph_truthy(a.gpu_support),
			      "text %zu: persist set True, check reads %s", i, a.gpu_support);
		free(set);
	}
	rm_rf(root);
	free(root);
}
END_TEST

/* ---- files on disk ---- */

static const char *const owned_paths[] = {
	PERSIST_DEVICES_CONF, PERSIST_MODPROBE_CONF, PERSIST_MODULES_LOAD_CONF, PERSIST_DRACUT_CONF,
	PERSIST_UDEV_RULE,
};

/* persist_write, twice (nothing changes), persist_remove (all as before), and again (no-op). */
static void roundtrip(const struct persist_target *t, const struct persist_fn *f, size_t n,
		      size_t want_written)
{
	char *before = snapshot(t->root), *after, *again, **list;

	ck_assert_int_eq(persist_write(t, f, n, &list), 0);
	ck_assert_uint_eq(list_len(list), want_written);
	persist_free_list(list);
	after = snapshot(t->root);
	ck_assert_int_eq(persist_write(t, f, n, NULL), 0);
	again = snapshot(t->root);
	ck_assert_str_eq(again, after);
	free(again);
	ck_assert_int_eq(persist_remove(t, &list), 0);
	ck_assert_uint_gt(list_len(list), 0);
	persist_free_list(list);
	again = snapshot(t->root);
	ck_assert_str_eq(again, before);
	free(again);
	ck_assert_int_eq(persist_remove(t, &list), 0);
	ck_assert_uint_eq(list_len(list), 0);
	persist_free_list(list);
	again = snapshot(t->root);
	ck_assert_str_eq(again, before);
	free(again);
	free(after);
	free(before);
}

START_TEST(fresh_root_initramfs_tools)
{
	struct persist_fn f[2];
	size_t n = one_gpu(f);
	char *root = mkroot(), **list, *s;
	struct persist_target t = target(root);
	struct persist_fn *got;
	struct stat st;
	char path[4096];

	t.aleph = true;     /* no supervisor.env: not created */
	ck_assert_int_eq(persist_write(&t, f, n, &list), 0);
	ck_assert_uint_eq(list_len(list), 5);
	ck_assert(list_has(list, root, PERSIST_DEVICES_CONF));
	ck_assert(list_has(list, root, PERSIST_MODPROBE_CONF));
	ck_assert(list_has(list, root, PERSIST_MODULES_LOAD_CONF));
	ck_assert(list_has(list, root, PERSIST_INITRAMFS_MODULES));
	ck_assert(list_has(list, root, PERSIST_UDEV_RULE));
	persist_free_list(list);
	ck_assert(!exists(root, PERSIST_DRACUT_CONF));
	ck_assert(!exists(root, "/etc/dracut.conf.d"));
	ck_assert(!exists(root, "/etc/aleph-vm"));
	assert_file(root, PERSIST_MODPROBE_CONF, modprobe_one);
	assert_file(root, PERSIST_MODULES_LOAD_CONF, modules_load_68);
	s = get(root, PERSIST_INITRAMFS_MODULES);
	ck_assert_str_eq(s, "# BEGIN vfio-handover: \"vfio-handover unpersist\" removes this block"
		      " (and the file, which it created)\n" "# Into the initramfs, to be loaded before the GPU's host drivers.\n"
		      "# One module name per line, no arguments.\n"
		      "# No vfio_virqfd: kernel 6.8.0-49-generic has no such module (it is part of vfio from Linux 6.2).\n"
		      "vfio\nvfio_iommu_type1\nvfio_pci\n# END vfio-handover\n");
	free(s);
	/* devices.conf: the functions, and the directories made for them */
	s = get(root, PERSIST_DEVICES_CONF);
	ck_assert(!strncmp(s, devices_one, strlen(devices_one)));
	ck_assert_str_eq(s + strlen(devices_one), "# created directory: /etc\n"
			 "# created directory: /etc/initramfs-tools\n"
			 "# created directory: /etc/modprobe.d\n"
			 "# created directory: /etc/modules-load.d\n"
			 "# created directory: /etc/udev\n"
			 "# created directory: /etc/udev/rules.d\n"
			 "# created directory: /etc/vfio-handover\n");
	ck_assert_int_eq(parse(s, &got, &n, NULL), 0);
	ck_assert_uint_eq(n, 2);
	assert_fn_eq(&got[0], &f[0]);
	assert_fn_eq(&got[1], &f[1]);
	free(got);
	free(s);
	snprintf(path, sizeof(path), "%s%s", root, PERSIST_MODPROBE_CONF);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	snprintf(path, sizeof(path), "%s/etc/modprobe.d", root);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0755);
	/* and nothing left behind, not even the directories */
	ck_assert_int_eq(persist_remove(&t, &list), 0);
	ck_assert_uint_eq(list_len(list), 12);
	ck_assert(list_has(list, root, "/etc"));
	persist_free_list(list);
	s = snapshot(root);
	ck_assert_str_eq(s, "");
	free(s);
	roundtrip(&t, f, 2, 5);
	rm_rf(root);
	free(root);
}
END_TEST

START_TEST(fresh_root_dracut)
{
	struct persist_fn f[4];
	size_t n = twin_gpus(f);
	char *root = mkroot(), **list;
	struct persist_target t = target(root);

	t.dracut = true;
	t.ids_exclusive = false;
	t.ids_reason = "10de:27b0 also matches 0000:02:00.0, which the host keeps";
	ck_assert_int_eq(persist_write(&t, f, n, &list), 0);
	ck_assert_uint_eq(list_len(list), 5);
	ck_assert(list_has(list, root, PERSIST_DRACUT_CONF));
	ck_assert(list_has(list, root, PERSIST_UDEV_RULE));
	persist_free_list(list);
	assert_file(root, PERSIST_DRACUT_CONF, dracut_68);
	assert_file(root, PERSIST_MODPROBE_CONF, modprobe_twin);
	ck_assert(!exists(root, "/etc/initramfs-tools"));
	ck_assert_int_eq(persist_remove(&t, NULL), 0);
	/* with dracut, initramfs-tools' list is not touched */
	put(root, PERSIST_INITRAMFS_MODULES, "loop\n");
	roundtrip(&t, f, n, 5);
	ck_assert_int_eq(persist_write(&t, f, n, NULL), 0);
	assert_file(root, PERSIST_INITRAMFS_MODULES, "loop\n");
	ck_assert_int_eq(persist_remove(&t, NULL), 0);
	rm_rf(root);
	free(root);
}
END_TEST

/* What the user had in the shared files comes back byte for byte. */
START_TEST(user_content_roundtrip)
{
	static const char *const modules[] = {
		"# /etc/initramfs-tools/modules: kernel modules to load\n#\n# Syntax:  module_name [args]\nloop\n",
		"# no final newline\nloop\nraid1",
		"",
		"   \n\tdm_crypt # trailing comment\n",
	};
	static const char *const env[] = {
		"ALEPH_VM_SUPERVISOR_HOST=0.0.0.0\n" GPU_KEY "=False\nALEPH_VM_PAYMENT_RECEIVER_ADDRESS=0xabc\n",
		"ALEPH_VM_SUPERVISOR_HOST=0.0.0.0\nALEPH_VM_NETWORK_INTERFACE=eth0\n",
		"ALEPH_VM_NETWORK_INTERFACE=eth0\n" GPU_KEY "=false",
		"ALEPH_VM_NETWORK_INTERFACE=eth0",
	};
	struct persist_fn f[2];
	size_t n = one_gpu(f);

	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {
		char *root = mkroot(), *s, *before, *after;
		struct persist_target t = target(root);
		char path[4096];

		t.aleph = true;
		t.has_virqfd = i % 2;
		put(root, PERSIST_INITRAMFS_MODULES, modules[i]);
		put(root, PERSIST_SUPERVISOR_ENV, env[i]);
		put(root, "/etc/modprobe.d/blacklist.conf", "blacklist pcspkr\n");
		/* a secret-bearing file keeps its mode */
		snprintf(path, sizeof(path), "%s%s", root, PERSIST_SUPERVISOR_ENV);
		ck_assert_int_eq(chmod(path, 0600), 0);
		before = snapshot(root);
		ck_assert_int_eq(persist_write(&t, f, n, NULL), 0);
		{
			struct stat st;

			ck_assert_int_eq(stat(path, &st), 0);
			ck_assert_uint_eq(st.st_mode & 07777, 0600);
		}
		s = get(root, PERSIST_INITRAMFS_MODULES);
		ck_assert_msg(!strncmp(s, modules[i], strlen(modules[i])), "user lines changed: %s", s);
		ck_assert(has_line(s, "vfio_pci"));
		ck_assert(has_line(s, "vfio_virqfd") == (i % 2));
		free(s);
		s = get(root, PERSIST_SUPERVISOR_ENV);
		ck_assert(has_line(s, GPU_KEY "=True"));
		ck_assert(has_line(s, "ALEPH_VM_NETWORK_INTERFACE=eth0") || has_line(s, "ALEPH_VM_SUPERVISOR_HOST=0.0.0.0"));
		free(s);
		ck_assert_int_eq(persist_remove(&t, NULL), 0);
		after = snapshot(root);
		ck_assert_str_eq(after, before);
		free(after);
		free(before);
		roundtrip(&t, f, n, 6);
		rm_rf(root);
		free(root);
	}
}
END_TEST

START_TEST(supervisor_env_in_place)
{
	struct persist_fn f[2];
	size_t n = one_gpu(f);
	char *root = mkroot(), **list;
	struct persist_target t = target(root);

	t.aleph = true;
	put(root, PERSIST_SUPERVISOR_ENV, "A=1\n" GPU_KEY "=False\nB=2\n");
	ck_assert_int_eq(persist_write(&t, f, n, &list), 0);
	ck_assert(list_has(list, root, PERSIST_SUPERVISOR_ENV));
	persist_free_list(list);
	assert_file(root, PERSIST_SUPERVISOR_ENV, "A=1\n" BEGIN_LINE "\n# was: " GPU_KEY "=False\n" GPU_KEY
		    "=True\n# END vfio-handover\nB=2\n");
	ck_assert_int_eq(persist_remove(&t, NULL), 0);
	assert_file(root, PERSIST_SUPERVISOR_ENV, "A=1\n" GPU_KEY "=False\nB=2\n");
	/* already True: the user's line, not ours to touch or to remove */
	put(root, PERSIST_SUPERVISOR_ENV, GPU_KEY "=True\n");
	ck_assert_int_eq(persist_write(&t, f, n, &list), 0);
	ck_assert(!list_has(list, root, PERSIST_SUPERVISOR_ENV));
	persist_free_list(list);
	assert_file(root, PERSIST_SUPERVISOR_ENV, GPU_KEY "=True\n");
	ck_assert_int_eq(persist_remove(&t, NULL), 0);
	assert_file(root, PERSIST_SUPERVISOR_ENV, GPU_KEY "=True\n");
	/* without --aleph, never read */
	t.aleph = false;
	put(root, PERSIST_SUPERVISOR_ENV, GPU_KEY "=False\n");
	ck_assert_int_eq(persist_write(&t, f, n, NULL), 0);
	assert_file(root, PERSIST_SUPERVISOR_ENV, GPU_KEY "=False\n");
	ck_assert_int_eq(persist_remove(&t, NULL), 0);
	rm_rf(root);
	free(root);
}
END_TEST

START_TEST(directories_kept)
{
	struct persist_fn f[2];
	size_t n = one_gpu(f);
	char *root = mkroot(), *s;
	struct persist_target t = target(root);

	/* /etc and modprobe.d were there: they stay; the others go */
	mkdirs(root, "/etc/modprobe.d");
	ck_assert_int_eq(persist_write(&t, f, n, NULL), 0);
	s = get(root, PERSIST_DEVICES_CONF);
	ck_assert(!strstr(s, "# created directory: /etc\n"));
	ck_assert(!strstr(s, "# created directory: /etc/modprobe.d\n"));
	ck_assert_ptr_nonnull(strstr(s, "# created directory: /etc/modules-load.d\n"));
	free(s);
	/* a file of the user's in a directory persist created keeps it */
	put(root, "/etc/modules-load.d/user.conf", "loop\n");
	ck_assert_int_eq(persist_remove(&t, NULL), 0);
	s = snapshot(root);
	ck_assert_str_eq(s, "d 0755 /etc\nd 0755 /etc/modprobe.d\nd 0755 /etc/modules-load.d\n"
			 "f 0644 /etc/modules-load.d/user.conf [loop\n]\n");
	free(s);
	rm_rf(root);
	free(root);
}
END_TEST

/* A shared file with a hand-edited block or a marker of the user's: persist
 * and unpersist refuse before writing anything, naming the line. */
START_TEST(hand_edited_files_refused)
{
	static const struct {
		const char *rel, *text;
		unsigned line;
	} files[] = {
		{ PERSIST_SUPERVISOR_ENV, "A=1\n" BEGIN_LINE "\n# was: # BEGIN vfio-handover\n# was: " GPU_KEY
		  "=False\n" GPU_KEY "=True\n# END vfio-handover\nB=2\n", 3 },
		{ PERSIST_SUPERVISOR_ENV, "A=1\n# BEGIN vfio-handover: mine\n" GPU_KEY "=False\n", 2 },
		{ PERSIST_INITRAMFS_MODULES, "# modules\nloop\n# END vfio-handover\n", 3 },
		{ PERSIST_INITRAMFS_MODULES, "# BEGIN vfio-handover\nloop\n", 1 },
		{ PERSIST_INITRAMFS_MODULES, "loop\n" BEGIN_LINE "\nvfio\n# was: # END vfio-handover\n"
		  "# END vfio-handover\n", 4 },
		{ PERSIST_INITRAMFS_MODULES, BEGIN_LINE "\nvfio\n# END vfio-handover\n# BEGIN vfio-handover\n"
		  "# END vfio-handover\n", 4 },
	};
	struct persist_fn f[2];
	size_t n = one_gpu(f);

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *root = mkroot(), *before, *after, path[4096], **list = (char **)&list;
		struct persist_target t = target(root);
		const struct persist_problem *why;

		t.aleph = true;
		put(root, files[i].rel, files[i].text);
		snprintf(path, sizeof(path), "%s%s", root, files[i].rel);
		before = snapshot(root);
		ck_assert_msg(persist_write(&t, f, n, &list) == -EBADMSG, "file %zu written", i);
		ck_assert_ptr_null(list);
		ck_assert_str_eq(persist_last_path(), path);
		why = persist_last_problem();
		ck_assert_msg(why->line == files[i].line, "file %zu: line %u", i, why->line);
		ck_assert(why->what[0]);
		after = snapshot(root);
		ck_assert_str_eq(after, before);
		free(after);
		ck_assert_int_eq(persist_remove(&t, NULL), -EBADMSG);
		ck_assert_str_eq(persist_last_path(), path);
		ck_assert_uint_eq(persist_last_problem()->line, files[i].line);
		after = snapshot(root);
		ck_assert_str_eq(after, before);
		free(after);
		/* a good run after clears the problem */
		put(root, files[i].rel, "loop\n");
		ck_assert_int_eq(persist_write(&t, f, n, NULL), 0);
		ck_assert_str_eq(persist_last_problem()->what, "");
		ck_assert_int_eq(persist_remove(&t, NULL), 0);
		free(before);
		rm_rf(root);
		free(root);
	}
}
END_TEST

/* A shared file that is not text: refused, saying so, nothing written. */
START_TEST(shared_file_not_text)
{
	struct persist_fn f[2];
	size_t n = one_gpu(f);
	char *root = mkroot(), *before, *after, path[4096];
	struct persist_target t = target(root);
	FILE *fp;

	put(root, PERSIST_INITRAMFS_MODULES, "");
	snprintf(path, sizeof(path), "%s%s", root, PERSIST_INITRAMFS_MODULES);
	fp = fopen(path, "w");
	ck_assert_int_eq(fwrite("loop\n\0\n", 1, 7, fp), 7);
	ck_assert_int_eq(fclose(fp), 0);
	before = snapshot(root);
	ck_assert_int_eq(persist_write(&t, f, n, NULL), -EBADMSG);
	ck_assert_str_eq(persist_last_path(), path);
	ck_assert_uint_eq(persist_last_problem()->line, 0);
	ck_assert_str_eq(persist_last_problem()->what, "it holds a NUL byte: it is not text vfio-handover "
			 "can edit; remove the NUL bytes");
	after = snapshot(root);
	ck_assert_str_eq(after, before);
	free(after);
	free(before);
	rm_rf(root);
	free(root);
}
END_TEST

/* unpersist needs no parsed list: a devices.conf that no longer parses is
 * removed all the same, with the directories its lines name. */
START_TEST(remove_malformed_devices_conf)
{
	struct persist_fn f[2], *got = NULL;
	size_t n = one_gpu(f), ngot = 99;
	char *root = mkroot(), *before, *after, *s, *p;
	struct persist_target t = target(root);
	struct persist_problem why;

	put(root, PERSIST_INITRAMFS_MODULES, "loop\n");
	before = snapshot(root);
	ck_assert_int_eq(persist_write(&t, f, n, NULL), 0);
	s = get(root, PERSIST_DEVICES_CONF);
	p = strstr(s, "10de:22bc");
	memcpy(p, "zzzz", 4);
	put(root, PERSIST_DEVICES_CONF, s);
	free(s);
	ck_assert_int_eq(persist_read_devices(root, &got, &ngot, &why), -EBADMSG);
	ck_assert_ptr_null(got);
	ck_assert_uint_eq(why.line, 17);
	ck_assert_str_eq(why.what, "the vendor:device ids 'zzzz:22bc' are not four hex digits each");
	ck_assert_int_eq(persist_remove(&t, NULL), 0);
	after = snapshot(root);
	ck_assert_str_eq(after, before);
	free(after);
	/* a NUL byte: not text, before any line is parsed */
	put(root, PERSIST_DEVICES_CONF, "");
	snprintf(why.what, sizeof(why.what), "x");
	{
		char path[4096];
		FILE *fp;

		snprintf(path, sizeof(path), "%s%s", root, PERSIST_DEVICES_CONF);
		fp = fopen(path, "w");
		ck_assert_int_eq(fwrite(GOOD0 "\0\n", 1, sizeof(GOOD0) + 1, fp), sizeof(GOOD0) + 1);
		ck_assert_int_eq(fclose(fp), 0);
	}
	ck_assert_int_eq(persist_read_devices(root, &got, &ngot, &why), -EBADMSG);
	ck_assert_uint_eq(why.line, 0);
	ck_assert_str_eq(why.what, "it holds a NUL byte: it is not the text persist wrote; remove the NUL bytes");
	ck_assert_ptr_null(got);
	free(before);
	rm_rf(root);
	free(root);
}
END_TEST

/* The target moved from initramfs-tools to dracut between two persists:
 * unpersist still removes both. */
START_TEST(initramfs_tool_changed)
{
	struct persist_fn f[2];
	size_t n = one_gpu(f);
	char *root = mkroot(), *before, *after;
	struct persist_target t = target(root);

	put(root, PERSIST_INITRAMFS_MODULES, "# mine\nloop");
	before = snapshot(root);
	ck_assert_int_eq(persist_write(&t, f, n, NULL), 0);
	t.dracut = true;
	t.has_virqfd = true;
	ck_assert_int_eq(persist_write(&t, f, n, NULL), 0);
	ck_assert(exists(root, PERSIST_DRACUT_CONF));
	t.dracut = false;
	ck_assert_int_eq(persist_remove(&t, NULL), 0);
	after = snapshot(root);
	ck_assert_str_eq(after, before);
	free(after);
	free(before);
	rm_rf(root);
	free(root);
}
END_TEST

/* ---- migrate: lines of a hand-made setup taken out with persist_write,
 * put back by persist_remove ---- */

#define GUIDE_VFIO "blacklist nouveau\nblacklist snd_hda_intel\n" \
	"alias pci:v000010DEd000027B0sv000010DEsd000016FAbc03sc00i00 vfio-pci\n" \
	"options vfio-pci ids=10de:27b0,10de:22bc\n"
#define GUIDE_ATTACH "attach : vfio vfio_iommu_type1 vfio_virqfd vfio_pci ids=10de:27b0,10de:22bc\n"

/* A root set up as the guide says, and a Proxmox-style file of mode 600
 * without a final newline. */
static char *guide_root(void)
{
	char *root = mkroot(), path[4096];

	put(root, "/etc/modprobe.d/vfio.conf", GUIDE_VFIO);
	put(root, "/etc/modprobe.d/nvidia.conf", "softdep nouveau pre: vfio-pci\n");
	put(root, "/etc/modprobe.d/proxmox.conf", "options vfio-pci ids=1002:67df disable_vga=1");
	put(root, "/etc/modules", "# /etc/modules\nattach: vfio vfio_pci ids=10de:27b0,10de:22bc\n");
	put(root, PERSIST_INITRAMFS_MODULES, GUIDE_ATTACH);
	snprintf(path, sizeof(path), "%s/etc/modprobe.d/proxmox.conf", root);
	ck_assert_int_eq(chmod(path, 0600), 0);
	return root;
}

/* The lines of the root's hand-made setup: all of them migrate's here. */
static size_t takeout_of(const char *root, struct leftover **v)
{
	struct leftover_env env = { .root = root, .kernel = "6.1.0-test-amd64" };
	size_t n;

	ck_assert_int_eq(leftovers_scan(&env, v, &n), 0);
	for (size_t i = 0; i < n; i++)
		ck_assert((*v)[i].vfio && !(*v)[i].cmdline);
	return n;
}

START_TEST(migrate_takeout_roundtrip)
{
	char *root = guide_root(), *before = snapshot(root), *s, *after, path[4096];
	struct persist_target t = target(root);
	struct persist_fn f[2];
	size_t n = one_gpu(f);
	struct leftover *v;
	size_t nv = takeout_of(root, &v);
	struct stat st;
	char **written;

	ck_assert_uint_eq(nv, 8);
	t.takeout = v;
	t.ntakeout = nv;
	ck_assert_int_eq(persist_write(&t, f, n, &written), 0);
	ck_assert(list_has(written, root, "/etc/modprobe.d/vfio.conf"));
	ck_assert(list_has(written, root, "/etc/modules"));
	persist_free_list(written);
	s = get(root, "/etc/modprobe.d/vfio.conf");
	ck_assert(has_line(s, "# vfio-handover migrate took this line out: blacklist snd_hda_intel"));
	ck_assert(!has_line(s, "blacklist snd_hda_intel"));
	free(s);
	/* the initramfs list: the note, then persist's block */
	s = get(root, PERSIST_INITRAMFS_MODULES);
	ck_assert(!strncmp(s, "# vfio-handover migrate took this line out: attach : vfio", 57));
	ck_assert(has_line(s, "vfio_pci"));
	free(s);
	assert_file(root, "/etc/modprobe.d/proxmox.conf", "# vfio-handover migrate changed the next "
		    "line; it was: options vfio-pci ids=1002:67df disable_vga=1\noptions vfio-pci "
		    "disable_vga=1");
	snprintf(path, sizeof(path), "%s/etc/modprobe.d/proxmox.conf", root);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	/* nothing left of the setup for a scan, and persisting again keeps the notes */
	leftovers_free(v, nv);
	ck_assert_uint_eq(takeout_of(root, &v), 0);
	free(v);
	t.takeout = NULL;
	t.ntakeout = 0;
	ck_assert_int_eq(persist_write(&t, f, n, NULL), 0);
	ck_assert_int_eq(persist_remove(&t, NULL), 0);
	after = snapshot(root);
	ck_assert_str_eq(after, before);
	free(after);
	free(before);
	rm_rf(root);
	free(root);
}
END_TEST

/* no GPU to persist: the lines alone; and the whole of it or nothing */
START_TEST(migrate_takeout_alone_and_refused)
{
	char *root = guide_root(), *before = snapshot(root), *mid, *after;
	struct persist_target t = target(root);
	struct leftover *v;
	size_t nv = takeout_of(root, &v);

	t.takeout = v;
	t.ntakeout = nv;
	ck_assert(!exists(root, PERSIST_DEVICES_CONF));
	ck_assert_int_eq(persist_write(&t, NULL, 0, NULL), 0);
	ck_assert(!exists(root, PERSIST_DEVICES_CONF));
	ck_assert(!exists(root, PERSIST_MODPROBE_CONF));
	/* a changed line edited since: refused, and no other file is put back */
	put(root, "/etc/modprobe.d/proxmox.conf", "# vfio-handover migrate changed the next line; "
	    "it was: options vfio-pci ids=1002:67df disable_vga=1\noptions vfio-pci disable_vga=0");
	mid = snapshot(root);
	ck_assert_int_eq(persist_remove(&t, NULL), -ENOMSG);
	ck_assert_uint_eq(persist_last_problem()->line, 1);
	ck_assert_ptr_nonnull(strstr(persist_last_path(), "/etc/modprobe.d/proxmox.conf"));
	after = snapshot(root);
	ck_assert_str_eq(after, mid);
	free(after);
	/* put back as the note says: then it all comes back */
	put(root, "/etc/modprobe.d/proxmox.conf", "# vfio-handover migrate changed the next line; "
	    "it was: options vfio-pci ids=1002:67df disable_vga=1\noptions vfio-pci disable_vga=1");
	ck_assert_int_eq(persist_remove(&t, NULL), 0);
	/* (proxmox.conf was rewritten by hand: its mode is the test's now) */
	assert_file(root, "/etc/modprobe.d/vfio.conf", GUIDE_VFIO);
	assert_file(root, PERSIST_INITRAMFS_MODULES, GUIDE_ATTACH);
	assert_file(root, "/etc/modprobe.d/proxmox.conf", "options vfio-pci ids=1002:67df disable_vga=1");
	free(mid);
	/* a file that changed between the scan and the write: nothing written */
	leftovers_free(v, nv);
	nv = takeout_of(root, &v);
	t.takeout = v;
	t.ntakeout = nv;
	put(root, "/etc/modprobe.d/vfio.conf", "blacklist nouveau\n");
	mid = snapshot(root);
	ck_assert_int_eq(persist_write(&t, NULL, 0, NULL), -EBADMSG);
	after = snapshot(root);
	ck_assert_str_eq(after, mid);
	free(after);
	free(mid);
	free(before);
	leftovers_free(v, nv);
	rm_rf(root);
	free(root);
}
END_TEST

START_TEST(nothing_to_remove)
{
	char *root = mkroot(), *before, *after, **list;
	struct persist_target t = target(root);

	ck_assert_int_eq(persist_remove(&t, &list), 0);
	ck_assert_uint_eq(list_len(list), 0);
	persist_free_list(list);
	put(root, PERSIST_INITRAMFS_MODULES, "loop\n");
	put(root, PERSIST_SUPERVISOR_ENV, GPU_KEY "=True\n");
	put(root, PERSIST_MODPROBE_CONF, "options snd_hda_intel power_save=0\n");
	before = snapshot(root);
	ck_assert_int_eq(persist_remove(&t, &list), 0);
	ck_assert_uint_eq(list_len(list), 0);
	persist_free_list(list);
	after = snapshot(root);
	ck_assert_str_eq(after, before);
	free(before);
	free(after);
	rm_rf(root);
	free(root);
}
END_TEST

/* The user's own file where the tool owns the path: never overwritten. */
START_TEST(user_file_at_owned_path)
{
	struct persist_fn f[2];
	size_t n = one_gpu(f);

	for (size_t i = 0; i < sizeof(owned_paths) / sizeof(owned_paths[0]); i++) {
		char *root = mkroot(), *before, *after, **list = (char **)&list;
		struct persist_target t = target(root);

		t.dracut = true;
		put(root, owned_paths[i], "# mine\noptions vfio-pci ids=10de:27b0\n");
		before = snapshot(root);
		ck_assert_int_eq(persist_write(&t, f, n, &list), -EEXIST);
		ck_assert_ptr_null(list);
		after = snapshot(root);
		ck_assert_str_eq(after, before);
		free(after);
		ck_assert_int_eq(persist_remove(&t, NULL), 0);
		after = snapshot(root);
		ck_assert_str_eq(after, before);
		free(after);
		free(before);
		rm_rf(root);
		free(root);
	}
}
END_TEST

/* A symlink at any path persist would write: refused, its target untouched. */
START_TEST(symlink_refused)
{
	static const char *const paths[] = {
		PERSIST_DEVICES_CONF, PERSIST_MODPROBE_CONF, PERSIST_MODULES_LOAD_CONF,
		PERSIST_DRACUT_CONF, PERSIST_INITRAMFS_MODULES, PERSIST_SUPERVISOR_ENV,
	};
	struct persist_fn f[2];
	size_t n = one_gpu(f);

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		char *root = mkroot(), *before, *after, victim[4096], link[4096];
		struct persist_target t = target(root);

		t.dracut = !strcmp(paths[i], PERSIST_DRACUT_CONF);
		t.aleph = true;
		put(root, "/victim", "precious\n");
		put(root, PERSIST_SUPERVISOR_ENV, "A=1\n");
		put(root, paths[i], "");
		/* the link's target as seen from inside the root */
		snprintf(victim, sizeof(victim), "/victim");
		snprintf(link, sizeof(link), "%s%s", root, paths[i]);
		ck_assert_int_eq(unlink(link), 0);
		ck_assert_int_eq(symlink(victim, link), 0);
		before = snapshot(root);
		ck_assert_msg(persist_write(&t, f, n, NULL) == -ELOOP, "followed %s", paths[i]);
		after = snapshot(root);
		ck_assert_str_eq(after, before);
		free(after);
		assert_file(root, "/victim", "precious\n");
		/* a link to something not ours: nothing to remove there */
		ck_assert_int_eq(persist_remove(&t, NULL), 0);
		after = snapshot(root);
		ck_assert_str_eq(after, before);
		free(after);
		free(before);
		rm_rf(root);
		free(root);
	}
}
END_TEST

/* Persisted, then a link put in place of a file holding our block: remove refuses. */
START_TEST(symlink_refused_on_remove)
{
	struct persist_fn f[2];
	size_t n = one_gpu(f);
	char *root = mkroot(), *before, *after, *mine, link[4096], copy[4096];
	struct persist_target t = target(root);

	ck_assert_int_eq(persist_write(&t, f, n, NULL), 0);
	mine = get(root, PERSIST_INITRAMFS_MODULES);
	put(root, "/elsewhere", mine);
	snprintf(link, sizeof(link), "%s%s", root, PERSIST_INITRAMFS_MODULES);
	snprintf(copy, sizeof(copy), "/elsewhere");     /* inside the root */
	ck_assert_int_eq(unlink(link), 0);
	ck_assert_int_eq(symlink(copy, link), 0);
	before = snapshot(root);
	ck_assert_int_eq(persist_remove(&t, NULL), -ELOOP);
	after = snapshot(root);
	ck_assert_str_eq(after, before);
	assert_file(root, "/elsewhere", mine);
	free(after);
	free(before);
	free(mine);
	rm_rf(root);
	free(root);
}
END_TEST

/* Directories of the boot files planted as links that lead out of the
 * root (absolute, or with enough ".."): followed inside the root, as if it
 * were "/", and nothing outside it is written or removed; with openat2,
 * and with the walk that stands in for it. */
START_TEST(dir_links_stay_inside)
{
	for (int walk = 0; walk < 2; walk++) {
		char *top = mkroot(), root[256], outside[256], path[512], *before, *after;
		struct persist_target t;
		struct persist_fn f[2];
		size_t n = one_gpu(f);

		root_force_walk(walk);
		snprintf(root, sizeof(root), "%s/root", top);
		snprintf(outside, sizeof(outside), "%s/outside", top);
		mkdirs(top, "/root/etc");
		put(top, "/outside/vfio-handover.conf", PERSIST_HEADER " (outside: never touched)\n");
		/* etc/modprobe.d -> OUTSIDE, which exists inside the root too */
		snprintf(path, sizeof(path), "%s/etc/modprobe.d", root);
		ck_assert_int_eq(symlink(outside, path), 0);
		mkdirs(root, outside);
		/* etc/modules-load.d -> ../../outside: ROOT/outside, clamped */
		snprintf(path, sizeof(path), "%s/etc/modules-load.d", root);
		ck_assert_int_eq(symlink("../../outside", path), 0);
		mkdirs(root, "/outside");
		t = target(root);
		before = snapshot(outside);
		ck_assert_int_eq(persist_write(&t, f, n, NULL), 0);
		snprintf(path, sizeof(path), "%s/vfio-handover.conf", outside);
		ck_assert_msg(exists(root, path), "%s: modprobe.d not written inside the root",
			      walk ? "walk" : "openat2");
		ck_assert(exists(root, "/outside/vfio-handover.conf"));
		after = snapshot(outside);
		ck_assert_str_eq(after, before);
		free(after);
		ck_assert_int_eq(persist_remove(&t, NULL), 0);
		ck_assert(!exists(root, path));
		ck_assert(!exists(root, "/outside/vfio-handover.conf"));
		ck_assert(exists(root, "/etc/modprobe.d"));      /* the links stay */
		after = snapshot(outside);
		ck_assert_str_eq(after, before);
		free(after);
		free(before);
		root_force_walk(false);
		rm_rf(top);
		free(top);
	}
}
END_TEST

START_TEST(write_atomic_modes)
{
	char *root = mkroot(), *s;
	int dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat st;

	ck_assert_int_ge(dfd, 0);
	ck_assert_int_eq(atomic_write_at(dfd, "new.conf", "a\n"), 0);
	ck_assert_int_eq(fstatat(dfd, "new.conf", &st, 0), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	ck_assert_int_eq(fchmodat(dfd, "new.conf", 0640, 0), 0);
	ck_assert_int_eq(atomic_write_at(dfd, "new.conf", "b\n"), 0);
	ck_assert_int_eq(fstatat(dfd, "new.conf", &st, 0), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0640);
	s = snapshot(root);
	ck_assert_str_eq(s, "f 0640 /new.conf [b\n]\n");      /* no temporary file left */
	free(s);
	ck_assert_int_eq(mkdirat(dfd, "dir", 0755), 0);
	ck_assert_int_eq(atomic_write_at(dfd, "dir", "x"), -EINVAL);
	close(dfd);
	rm_rf(root);
	free(root);
}
END_TEST

/* ---- failures half-way: all or nothing ---- */

static int set_dac_override(bool on)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	if (on)
		d[0].effective |= 1u << CAP_DAC_OVERRIDE;
	else
		d[0].effective &= ~(1u << CAP_DAC_OVERRIDE);
	return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

/* Can this process create a file in dir in spite of its mode? */
static bool bypasses_mode(const char *dir)
{
	char probe[4096];
	int fd;

	if (snprintf(probe, sizeof(probe), "%s/.probe", dir) >= (int)sizeof(probe))
		return false;
	fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0)
		return false;
	close(fd);
	unlink(probe);
	return true;
}

START_TEST(read_only_directory)
{
	struct persist_fn f[2];
	size_t n = one_gpu(f);
	char *root = mkroot(), *before, *after, dir[4096];
	struct persist_target t = target(root);
	bool dropped = false;

	t.aleph = true;
	put(root, PERSIST_SUPERVISOR_ENV, GPU_KEY "=False\n");
	put(root, PERSIST_INITRAMFS_MODULES, "loop\n");
	mkdirs(root, "/etc/modules-load.d");
	snprintf(dir, sizeof(dir), "%s/etc/modules-load.d", root);
	ck_assert_int_eq(chmod(dir, 0555), 0);
	/* root writes anyway (CAP_DAC_OVERRIDE): drop the capability while it runs */
	if (bypasses_mode(dir) && set_dac_override(false) == 0)
		dropped = true;
	if (bypasses_mode(dir)) {
		printf("read_only_directory: skipped: this process writes into a 0555 directory "
		       "(root with CAP_DAC_OVERRIDE that cannot be dropped)\n");
	} else {
		before = snapshot(root);
		ck_assert_int_eq(persist_write(&t, f, n, NULL), -EACCES);
		after = snapshot(root);
		ck_assert_str_eq(after, before);
		free(after);
		free(before);
	}
	if (dropped)
		ck_assert_int_eq(set_dac_override(true), 0);
	rm_rf(root);
	free(root);
}
END_TEST

/* Fill the filesystem, leaving `pages` 4 KiB pages free. */
static int fill(const char *mnt, int pages)
{
	char path[4096], block[4096];
	int i;

	memset(block, 'x', sizeof(block));
	for (i = 0;; i++) {
		int fd, w;

		snprintf(path, sizeof(path), "%s/fill.%d", mnt, i);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			return -errno;
		w = (int)write(fd, block, sizeof(block));
		close(fd);
		if (w != (int)sizeof(block)) {
			unlink(path);
			break;
		}
	}
	for (int k = 0; k < pages && k < i; k++) {
		snprintf(path, sizeof(path), "%s/fill.%d", mnt, k);
		unlink(path);
	}
	return 0;
}

/* In the child, on a 16 KiB tmpfs: no Check assertions here, an exit code. */
static int full_disk_body(const char *mnt)
{
	struct persist_fn f[2];
	size_t n = one_gpu(f);
	struct persist_target t = target(mnt);
	char *before, *after;
	int rc = 0;

	t.aleph = true;
	put(mnt, PERSIST_INITRAMFS_MODULES, "# user\nloop\n");
	put(mnt, PERSIST_SUPERVISOR_ENV, GPU_KEY "=False\n");
	for (int pages = 0; pages <= 1 && !rc; pages++) {
		int err;

		if (fill(mnt, pages) < 0)
			return 2;
		before = snapshot(mnt);
		err = persist_write(&t, f, n, NULL);
		after = snapshot(mnt);
		if (err != -ENOSPC) {
			fprintf(stderr, "full disk, %d page(s) free: persist_write gave %d\n", pages, err);
			rc = 3;
		} else if (strcmp(before, after)) {
			fprintf(stderr, "full disk, %d page(s) free: tree changed:\n%s---\n%s", pages,
				before, after);
			rc = 4;
		}
		free(before);
		free(after);
	}
	return rc;
}

static int full_disk_child(const char *mnt)
{
	int rc;

	/* a private mount namespace: the mount dies with this process */
	if (unshare(CLONE_NEWNS) < 0) {
		printf("full_disk: skipped: unshare(CLONE_NEWNS): %s\n", strerror(errno));
		return SKIP;
	}
	if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", mnt, "tmpfs", MS_NOSUID | MS_NODEV, "size=16k") < 0) {
		printf("full_disk: skipped: cannot mount a tmpfs: %s\n", strerror(errno));
		return SKIP;
	}
	rc = full_disk_body(mnt);
	umount2(mnt, MNT_DETACH);
	return rc;
}

START_TEST(full_disk)
{
	char *mnt = mkroot();
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int rc = full_disk_child(mnt);

		free(mnt);
		fflush(NULL);
		_exit(rc);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	rm_rf(mnt);
	free(mnt);
	ck_assert(WIFEXITED(status));
	ck_assert_msg(WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == SKIP,
		      "full disk: child exit %d", WEXITSTATUS(status));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("persist");
	TCase *render = tcase_create("render");
	TCase *blocks = tcase_create("blocks");
	TCase *files = tcase_create("files");

	tcase_add_test(render, render_single_gpu);
	tcase_add_test(render, render_twin_gpus);
	tcase_add_test(render, render_virqfd_by_kernel);
	tcase_add_test(render, render_builtin_vfio);
	tcase_add_test(render, render_softdeps);
	tcase_add_test(render, parse_softdeps_back);
	tcase_add_test(render, render_bad_functions);
	tcase_add_test(render, render_udev_rule);
	tcase_add_test(render, render_udev_rule_refused);
	tcase_add_test(render, parse_roundtrip);
	tcase_add_test(render, parse_errors);
	tcase_add_test(render, parse_long_lines_and_crlf);
	tcase_add_test(render, check_devices_conf);
	tcase_add_test(render, render_variant_devices_conf);
	tcase_add_test(render, parse_variant_fields);
	tcase_add_test(render, render_variant_modules);
	tcase_add_test(render, render_udev_rule_variant);
	tcase_add_test(blocks, block_set_and_cut);
	tcase_add_test(blocks, block_refusals);
	tcase_add_test(blocks, env_set_and_cut);
	tcase_add_test(blocks, block_inverse_properties);
	tcase_add_test(blocks, block_hand_edited_refused);
	tcase_add_test(blocks, check_managed);
	tcase_add_test(blocks, block_keeps_was_lines);
	tcase_add_test(blocks, env_agrees_with_check);
	tcase_set_timeout(files, 60);
	tcase_add_test(files, fresh_root_initramfs_tools);
	tcase_add_test(files, fresh_root_dracut);
	tcase_add_test(files, user_content_roundtrip);
	tcase_add_test(files, supervisor_env_in_place);
	tcase_add_test(files, directories_kept);
	tcase_add_test(files, hand_edited_files_refused);
	tcase_add_test(files, remove_malformed_devices_conf);
	tcase_add_test(files, shared_file_not_text);
	tcase_add_test(files, initramfs_tool_changed);
	tcase_add_test(files, nothing_to_remove);
	tcase_add_test(files, migrate_takeout_roundtrip);
	tcase_add_test(files, migrate_takeout_alone_and_refused);
	tcase_add_test(files, user_file_at_owned_path);
	tcase_add_test(files, symlink_refused);
	tcase_add_test(files, symlink_refused_on_remove);
	tcase_add_test(files, write_atomic_modes);
	tcase_add_test(files, dir_links_stay_inside);
	tcase_add_test(files, read_only_directory);
	tcase_add_test(files, full_disk);
	suite_add_tcase(s, render);
	suite_add_tcase(s, blocks);
	suite_add_tcase(s, files);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
