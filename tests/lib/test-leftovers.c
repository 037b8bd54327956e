/* leftovers: the lines of a hand-made VFIO setup found in each file the
 * guides edit, taken out with a note and put back byte for byte. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "leftovers.h"
#include "root-path.h"
#include "testlib.h"

static const char *const host_mods[] = {
	"nouveau", "nvidia", "nvidia_drm", "amdgpu", "radeon", "snd_hda_intel", NULL,
};
static const struct leftover_ctx ctx = { .host_drivers = host_mods, .kernel = "6.1.0-18-amd64" };

/* The operators' guide, file by file, exactly as it says. */
#define GUIDE_INITRAMFS "attach : vfio vfio_iommu_type1 vfio_virqfd vfio_pci ids=10de:27b0,10de:22bc\n"
#define GUIDE_MODULES "# /etc/modules: kernel modules to load at boot time.\n#\n" \
	"attach: vfio vfio_iommu_type1 vfio_pci ids=10de:27b0,10de:22bc\n"
#define GUIDE_NVIDIA "softdep nouveau pre: vfio-pci\nsoftdep nvidia pre: vfio-pci\n" \
	"softdep nvidia* pre: vfio-pci\n"
#define GUIDE_VFIO "blacklist nouveau\nblacklist snd_hda_intel\n" \
	"alias pci:v000010DEd000027B0sv000010DEsd000016FAbc03sc00i00 vfio-pci\n" \
	"options vfio-pci ids=10de:27b0,10de:22bc\n"

struct parsed {
	struct leftover *v;
	size_t n;
};

static struct parsed parse(enum leftover_format fmt, const char *file, const char *text)
{
	struct parsed p;

	ck_assert_int_eq(leftovers_parse(fmt, file, text, &ctx, &p.v, &p.n), 0);
	return p;
}

/* take every finding out, then put every one back: the text itself */
static void roundtrip(const char *file, const char *text, const struct parsed *p)
{
	struct persist_problem why = { 0 };
	char *out, *back;

	ck_assert_int_eq(leftovers_take_out(text, file, p->v, p->n, &out), 0);
	for (size_t i = 0; i < p->n; i++)
		if (!p->v[i].cmdline)
			ck_assert_ptr_nonnull(strstr(out, "# vfio-handover migrate "));
	ck_assert_int_eq(leftovers_marked(out), p->n && !p->v[0].cmdline);
	ck_assert_int_eq(leftovers_put_back(out, file, &back, &why), 0);
	ck_assert_str_eq(back, text);
	free(out);
	free(back);
}

START_TEST(guide_modprobe)
{
	struct parsed p = parse(LF_MODPROBE, "/etc/modprobe.d/vfio.conf", GUIDE_VFIO);
	struct parsed q = parse(LF_MODPROBE, "/etc/modprobe.d/nvidia.conf", GUIDE_NVIDIA);

	ck_assert_uint_eq(p.n, 4);
	for (unsigned i = 0; i < 4; i++) {
		ck_assert_uint_eq(p.v[i].line, i + 1);
		ck_assert(p.v[i].fail && p.v[i].vfio && !p.v[i].cmdline);
		ck_assert_ptr_null(p.v[i].replacement);
	}
	ck_assert_int_eq(p.v[0].check, CHECK_BLACKLIST);
	ck_assert_int_eq(p.v[1].check, CHECK_BLACKLIST);
	ck_assert_int_eq(p.v[2].check, CHECK_IDS_BINDING);
	ck_assert_str_eq(p.v[2].modalias, "pci:v000010DEd000027B0sv000010DEsd000016FAbc03sc00i00");
	ck_assert_int_eq(p.v[3].check, CHECK_IDS_BINDING);
	ck_assert_uint_eq(p.v[3].nids, 2);
	ck_assert_uint_eq(p.v[3].ids[0].vendor, 0x10de);
	ck_assert_uint_eq(p.v[3].ids[0].device, 0x27b0);
	ck_assert_uint_eq(p.v[3].ids[1].device, 0x22bc);
	ck_assert_uint_eq(p.v[3].ids[1].subvendor, LEFTOVER_ANY);
	ck_assert_str_eq(p.v[3].text, "options vfio-pci ids=10de:27b0,10de:22bc");
	roundtrip("/etc/modprobe.d/vfio.conf", GUIDE_VFIO, &p);
	/* the softdeps: warnings, migrate's to take out */
	ck_assert_uint_eq(q.n, 3);
	for (unsigned i = 0; i < 3; i++)
		ck_assert(q.v[i].check == CHECK_SOFTDEP && !q.v[i].fail && q.v[i].vfio);
	roundtrip("/etc/modprobe.d/nvidia.conf", GUIDE_NVIDIA, &q);
	leftovers_free(p.v, p.n);
	leftovers_free(q.v, q.n);
}
END_TEST

START_TEST(guide_module_lists)
{
	struct parsed p = parse(LF_INITRAMFS, PERSIST_INITRAMFS_MODULES, GUIDE_INITRAMFS);
	struct parsed q = parse(LF_MODULES_LOAD, "/etc/modules", GUIDE_MODULES);

	ck_assert_uint_eq(p.n, 1);
	ck_assert_int_eq(p.v[0].check, CHECK_MODULE_LINE);
	ck_assert(p.v[0].fail && p.v[0].vfio);
	ck_assert_ptr_nonnull(strstr(p.v[0].what, "':' is no argument of attach"));
	/* what the line meant, broken as it is */
	ck_assert_uint_eq(p.v[0].nids, 2);
	roundtrip(PERSIST_INITRAMFS_MODULES, GUIDE_INITRAMFS, &p);
	ck_assert_uint_eq(q.n, 1);
	ck_assert_uint_eq(q.v[0].line, 3);
	ck_assert_int_eq(q.v[0].check, CHECK_MODULE_LINE);
	ck_assert(q.v[0].fail);
	ck_assert_ptr_nonnull(strstr(q.v[0].what, "its ids= never reach vfio-pci"));
	roundtrip("/etc/modules", GUIDE_MODULES, &q);
	leftovers_free(p.v, p.n);
	leftovers_free(q.v, q.n);
}
END_TEST

/* options with more than ids=: the rest stays, the line changed; unpersist
 * refuses a changed line that was edited since */
START_TEST(changed_line)
{
	static const char text[] = "options vfio-pci ids=10de:1b80 disable_vga=1\n"
				   "options kvm ignore_msrs=1";
	struct parsed p = parse(LF_MODPROBE, "/etc/modprobe.d/vfio.conf", text);
	struct persist_problem why = { 0 };
	char *out, *back, *edited;

	ck_assert_uint_eq(p.n, 1);
	ck_assert_str_eq(p.v[0].replacement, "options vfio-pci disable_vga=1");
	ck_assert_int_eq(leftovers_take_out(text, "/etc/modprobe.d/vfio.conf", p.v, p.n, &out), 0);
	ck_assert_str_eq(out, "# vfio-handover migrate changed the next line; it was: options "
			 "vfio-pci ids=10de:1b80 disable_vga=1\noptions vfio-pci disable_vga=1\n"
			 "options kvm ignore_msrs=1");
	roundtrip("/etc/modprobe.d/vfio.conf", text, &p);
	edited = strdup(out);
	memcpy(strstr(edited, "disable_vga=1\noptions kvm"), "disable_vga=0", 13);
	ck_assert_int_eq(leftovers_put_back(edited, "/etc/modprobe.d/vfio.conf", &back, &why),
			 -ENOMSG);
	ck_assert_uint_eq(why.line, 1);
	ck_assert_ptr_nonnull(strstr(why.what, "options vfio-pci ids=10de:1b80 disable_vga=1"));
	/* initramfs-tools: vfio_pci keeps its other arguments */
	leftovers_free(p.v, p.n);
	p = parse(LF_INITRAMFS, PERSIST_INITRAMFS_MODULES, "vfio_pci ids=1002:67df disable_vga=1\n");
	ck_assert_uint_eq(p.n, 1);
	ck_assert_int_eq(p.v[0].check, CHECK_IDS_BINDING);
	ck_assert_str_eq(p.v[0].replacement, "vfio_pci disable_vga=1");
	roundtrip(PERSIST_INITRAMFS_MODULES, "vfio_pci ids=1002:67df disable_vga=1\n", &p);
	leftovers_free(p.v, p.n);
	/* a carriage return is a blank for the parse, so for the change too (the
	 * fuzzer's: "\rids=" stayed, and the changed line bound ids again) */
	p = parse(LF_INITRAMFS, PERSIST_INITRAMFS_MODULES, "vfio_pci ids=10de:1b80 a=1 \r\rids=10de:1b81");
	ck_assert_uint_eq(p.n, 1);
	ck_assert_str_eq(p.v[0].replacement, "vfio_pci a=1");
	leftovers_free(p.v, p.n);
	free(out);
	free(edited);
}
END_TEST

/* a line continued with a backslash is one for kmod, and goes whole; the
 * last line without its newline comes back without it */
START_TEST(continued_and_unterminated)
{
	static const char text[] = "# vfio\r\noptions vfio-pci \\\n\tids=10de:2204\n"
				   "blacklist snd_hda_intel";
	struct parsed p = parse(LF_MODPROBE, "/etc/modprobe.d/x.conf", text);

	ck_assert_uint_eq(p.n, 2);
	ck_assert_uint_eq(p.v[0].line, 2);
	ck_assert_uint_eq(p.v[0].nlines, 2);
	ck_assert_uint_eq(p.v[0].nids, 1);
	ck_assert_ptr_null(p.v[0].replacement);
	ck_assert_uint_eq(p.v[1].line, 4);
	roundtrip("/etc/modprobe.d/x.conf", text, &p);
	leftovers_free(p.v, p.n);
}
END_TEST

/* what is no leftover: other modules, comments, vfio-handover's block */
START_TEST(not_leftovers)
{
	static const char modprobe[] = "blacklist pcspkr\n# options vfio-pci ids=10de:1b80\n"
				       "options vfio-pci disable_vga=1\nsoftdep drm pre: i2c_core\n"
				       "install nouveau /sbin/modprobe --ignore-install nouveau\n"
				       "alias pci:v000010DE* nvidia\n";
	static const char modules[] = "loop\n; comment\n  i2c-dev  \n\nvfio_pci\n";
	static const char initramfs[] = "nvme\nvfio_pci\n# BEGIN vfio-handover: x\n"
					"vfio_pci ids=10de:27b0\n# END vfio-handover\n";
	struct parsed p = parse(LF_MODPROBE, "/etc/modprobe.d/x.conf", modprobe);

	ck_assert_uint_eq(p.n, 0);
	free(p.v);
	p = parse(LF_MODULES_LOAD, "/etc/modules", modules);
	ck_assert_uint_eq(p.n, 0);
	free(p.v);
	p = parse(LF_INITRAMFS, PERSIST_INITRAMFS_MODULES, initramfs);
	ck_assert_uint_eq(p.n, 0);
	free(p.v);
}
END_TEST

/* lines that are wrong but no VFIO setup's: reported, not migrate's */
START_TEST(unrelated_module_lines)
{
	struct parsed p = parse(LF_MODULES_LOAD, "/etc/modules", "loop max_loop=64\n");

	ck_assert_uint_eq(p.n, 1);
	ck_assert(!p.v[0].fail && !p.v[0].vfio);
	leftovers_free(p.v, p.n);
	p = parse(LF_INITRAMFS, PERSIST_INITRAMFS_MODULES, "nvme: x\n");
	ck_assert_uint_eq(p.n, 1);
	ck_assert(!p.v[0].fail && !p.v[0].vfio);
	leftovers_free(p.v, p.n);
}
END_TEST

START_TEST(install_false_and_virqfd)
{
	struct leftover_ctx c = ctx;
	struct parsed p = parse(LF_MODPROBE, "/etc/modprobe.d/x.conf",
				"install snd_hda_intel /bin/false\ninstall nouveau /bin/true\n");

	ck_assert_uint_eq(p.n, 2);
	ck_assert(p.v[0].check == CHECK_BLACKLIST && p.v[1].check == CHECK_BLACKLIST);
	leftovers_free(p.v, p.n);
	c.virqfd_gone = true;
	ck_assert_int_eq(leftovers_parse(LF_MODULES_LOAD, "/etc/modules", "vfio\nvfio_virqfd\n", &c,
					 &p.v, &p.n), 0);
	ck_assert_uint_eq(p.n, 1);
	ck_assert_uint_eq(p.v[0].line, 2);
	ck_assert(!p.v[0].fail && p.v[0].vfio);
	roundtrip("/etc/modules", "vfio\nvfio_virqfd\n", &p);
	leftovers_free(p.v, p.n);
}
END_TEST

START_TEST(kernel_command_line)
{
	static const char grub[] = "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet intel_iommu=on "
				   "vfio-pci.ids=10de:1b80,10de:10f0 modprobe.blacklist=nouveau,pcspkr\"\n"
				   "GRUB_CMDLINE_LINUX=\"module_blacklist=vfio_pci\"\n";
	struct parsed p = parse(LF_GRUB, "/etc/default/grub", grub);

	ck_assert_uint_eq(p.n, 2);
	ck_assert_int_eq(p.v[0].check, CHECK_IDS_BINDING);
	ck_assert_str_eq(p.v[0].text, "vfio-pci.ids=10de:1b80,10de:10f0");
	ck_assert(p.v[0].cmdline && p.v[0].fail);
	ck_assert_uint_eq(p.v[0].nids, 2);
	ck_assert_ptr_nonnull(strstr(p.v[0].fix, "update-grub"));
	ck_assert_int_eq(p.v[1].check, CHECK_BLACKLIST);
	ck_assert_ptr_nonnull(strstr(p.v[1].what, "keeps nouveau from"));
	/* the command line is never edited */
	roundtrip("/etc/default/grub", grub, &p);
	leftovers_free(p.v, p.n);
	p = parse(LF_KERNEL_CMDLINE, "/etc/kernel/cmdline", "root=ZFS=rpool/ROOT/pve-1 boot=zfs "
		  "vfio_pci.ids=1002:67df\n");
	ck_assert_uint_eq(p.n, 1);
	ck_assert_ptr_nonnull(strstr(p.v[0].fix, "proxmox-boot-tool refresh"));
	leftovers_free(p.v, p.n);
	p = parse(LF_DRACUT, "/etc/dracut.conf.d/vfio.conf", "kernel_cmdline+=\" rd.driver.pre=vfio-pci "
		  "vfio-pci.ids=10de:1b80 \"\nforce_drivers+=\" vfio_pci \"\n");
	ck_assert_uint_eq(p.n, 1);
	ck_assert_ptr_nonnull(strstr(p.v[0].fix, "dracut --regenerate-all"));
	leftovers_free(p.v, p.n);
}
END_TEST

START_TEST(ids_and_modalias_match)
{
	struct parsed p = parse(LF_MODPROBE, "/etc/modprobe.d/x.conf",
				"options vfio_pci ids=10de:27b0:10de:16fa,ffffffff:ffffffff:ffffffff:"
				"ffffffff:040300:ffffff,zz:1,10de:,1:2:3:4:5:6:7\n"
				"alias pci:v000010DEd000022BC* vfio-pci\n");
	struct pci_func f = { .vendor = 0x10de, .device = 0x27b0, .subvendor = 0x10de,
			      .subdevice = 0x16fa, .class = 0x030000 };

	ck_assert_uint_eq(p.n, 2);
	/* the entries that are not vfio-pci's format are no ids */
	ck_assert_uint_eq(p.v[0].nids, 2);
	ck_assert(leftover_names(&p.v[0], &f));
	f.subdevice = 0x1234;
	ck_assert(!leftover_names(&p.v[0], &f));
	/* any HD-audio device, by class */
	f.class = 0x040300;
	ck_assert(leftover_names(&p.v[0], &f));
	f.class = 0x040100;
	ck_assert(!leftover_names(&p.v[0], &f));
	snprintf(f.modalias, sizeof(f.modalias), "pci:v000010DEd000022BCsv000010DEsd000016FAbc04sc03i00");
	ck_assert(leftover_names(&p.v[1], &f));
	snprintf(f.modalias, sizeof(f.modalias), "pci:v000010DEd000027B0sv000010DEsd000016FAbc03sc00i00");
	ck_assert(!leftover_names(&p.v[1], &f));
	leftovers_free(p.v, p.n);
}
END_TEST

/* hostile text: every byte but NUL, huge lines, no newlines, notes that lie */
START_TEST(hostile_text)
{
	static const enum leftover_format fmts[] = {
		LF_MODPROBE, LF_MODULES_LOAD, LF_INITRAMFS, LF_DRACUT, LF_GRUB, LF_KERNEL_CMDLINE,
	};
	static const char *const files[] = {
		"/etc/modprobe.d/x.conf", "/etc/modules", PERSIST_INITRAMFS_MODULES,
		"/etc/dracut.conf.d/x.conf", "/etc/default/grub", "/etc/kernel/cmdline",
	};
	size_t len = 300000;
	char *text = malloc(len + 1), *back;
	struct persist_problem why;
	unsigned seed = 1;

	ck_assert_ptr_nonnull(text);
	for (int round = 0; round < 4; round++) {
		for (size_t i = 0; i < len; i++) {
			seed = seed * 1103515245 + 12345;
			text[i] = (char)((seed >> 16) % 255 + 1);
			/* round 1: words that mean something, round 2: one huge line */
			if (round == 1 && i % 97 == 0 && i + 40 < len) {
				memcpy(text + i, "\noptions vfio-pci ids=10de:27b0 x=1\n", 36);
				i += 35;
			}
			if (round == 2 && text[i] == '\n')
				text[i] = ' ';
		}
		text[len] = '\0';
		if (round == 3) {
			static const char note[] = "# vfio-handover migrate changed the next line; "
						   "it was: x\n";

			memcpy(text, note, strlen(note));
		}
		for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++) {
			struct parsed p = parse(fmts[f], files[f], text);

			if (round < 3)
				roundtrip(files[f], text, &p);
			leftovers_free(p.v, p.n);
		}
	}
	/* a note of a changed line that quotes no such line: refused, not guessed */
	ck_assert_int_eq(leftovers_put_back(text, "/etc/modprobe.d/x.conf", &back, &why), -ENOMSG);
	ck_assert_uint_eq(why.line, 1);
	free(text);
}
END_TEST

/* take_out checks the lines are still as they were read */
START_TEST(take_out_stale)
{
	struct parsed p = parse(LF_MODPROBE, "/etc/modprobe.d/vfio.conf", GUIDE_VFIO);
	char *out;

	ck_assert_int_eq(leftovers_take_out("blacklist pcspkr\n", "/etc/modprobe.d/vfio.conf", p.v,
					    p.n, &out), -EINVAL);
	/* another file's findings are not this one's */
	ck_assert_int_eq(leftovers_take_out(GUIDE_VFIO, "/etc/modprobe.d/other.conf", p.v, p.n,
					    &out), 0);
	ck_assert_str_eq(out, GUIDE_VFIO);
	free(out);
	leftovers_free(p.v, p.n);
}
END_TEST

START_TEST(format_of)
{
	ck_assert_int_eq(leftovers_format_of("/etc/modprobe.d/vfio.conf"), LF_MODPROBE);
	ck_assert_int_eq(leftovers_format_of("/etc/modprobe.d/.conf"), -1);
	ck_assert_int_eq(leftovers_format_of("/etc/modprobe.d/vfio.conf.bak"), -1);
	ck_assert_int_eq(leftovers_format_of("/etc/modprobe.d/a/b.conf"), -1);
	ck_assert_int_eq(leftovers_format_of("/etc/modules"), LF_MODULES_LOAD);
	ck_assert_int_eq(leftovers_format_of("/etc/modules-load.d/m.conf"), LF_MODULES_LOAD);
	ck_assert_int_eq(leftovers_format_of(PERSIST_INITRAMFS_MODULES), LF_INITRAMFS);
	ck_assert_int_eq(leftovers_format_of("/etc/default/grub.d/50.cfg"), LF_GRUB);
	ck_assert_int_eq(leftovers_format_of("/etc/kernel/cmdline"), LF_KERNEL_CMDLINE);
	ck_assert_int_eq(leftovers_format_of("/etc/fstab"), -1);
}
END_TEST

/* ---- a root ---- */

static void put(const char *root, const char *rel, const char *content)
{
	char path[512], cmd[600];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	ck_assert_int_eq(system(cmd), 0);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(scan_root)
{
	char root[] = "/tmp/vh-leftovers-XXXXXX", outside[600], link[600], cmd[700];
	struct leftover_env env = { .root = root, .kernel = "6.1.0-18-amd64" };
	struct leftover *v;
	char **files;
	size_t n;
	int rootfd;

	ck_assert_ptr_nonnull(mkdtemp(root));
	put(root, "/etc/modprobe.d/vfio.conf", GUIDE_VFIO);
	put(root, "/etc/modprobe.d/nvidia.conf", GUIDE_NVIDIA);
	put(root, "/etc/modprobe.d/vfio-handover.conf", "# Generated by vfio-handover persist; x\n"
	    "options vfio-pci ids=10de:27b0\n");
	put(root, "/etc/modprobe.d/notes.txt", "options vfio-pci ids=10de:27b0\n");
	put(root, "/etc/modules", GUIDE_MODULES);
	put(root, PERSIST_INITRAMFS_MODULES, GUIDE_INITRAMFS);
	put(root, "/etc/default/grub", "GRUB_CMDLINE_LINUX=\"vfio-pci.ids=10de:27b0\"\n");
	/* Debian's link to /etc/modules: read once, under its own name */
	snprintf(link, sizeof(link), "%s/etc/modules-load.d", root);
	ck_assert_int_eq(mkdir(link, 0755), 0);
	snprintf(link, sizeof(link), "%s/etc/modules-load.d/modules.conf", root);
	ck_assert_int_eq(symlink("../modules", link), 0);
	/* an absolute link stays inside the root: /etc/modules there */
	snprintf(link, sizeof(link), "%s/etc/modules-load.d/abs.conf", root);
	ck_assert_int_eq(symlink("/etc/modules", link), 0);
	/* a binary file is no text to read */
	put(root, "/etc/modprobe.d/zz.conf", "options vfio-pci ids=10de:27b0\n\001\377");
	snprintf(outside, sizeof(outside), "%s/etc/modprobe.d/zz.conf", root);
	ck_assert_int_eq(truncate(outside, 40), 0);
	ck_assert_int_eq(leftovers_scan(&env, &v, &n), 0);
	/* nvidia.conf (3), vfio.conf (4), /etc/modules (1), initramfs (1), grub (1) */
	ck_assert_uint_eq(n, 10);
	ck_assert_str_eq(v[0].file, "/etc/modprobe.d/nvidia.conf");
	ck_assert_str_eq(v[3].file, "/etc/modprobe.d/vfio.conf");
	ck_assert_str_eq(v[7].file, "/etc/modules");
	ck_assert_str_eq(v[8].file, PERSIST_INITRAMFS_MODULES);
	ck_assert_str_eq(v[9].file, "/etc/default/grub");
	ck_assert(v[9].cmdline);
	leftovers_free(v, n);
	/* the files migrate may have edited: regular ones, by their own name */
	rootfd = root_dir_open(root);
	ck_assert_int_ge(rootfd, 0);
	ck_assert_int_eq(leftovers_editable_files(rootfd, &files), 0);
	ck_assert_str_eq(files[0], "/etc/modprobe.d/nvidia.conf");
	ck_assert_str_eq(files[1], "/etc/modprobe.d/vfio-handover.conf");
	ck_assert_str_eq(files[2], "/etc/modprobe.d/vfio.conf");
	ck_assert_str_eq(files[3], "/etc/modprobe.d/zz.conf");
	ck_assert_str_eq(files[4], "/etc/modules");
	ck_assert_str_eq(files[5], PERSIST_INITRAMFS_MODULES);
	ck_assert_ptr_null(files[6]);
	persist_free_list(files);
	close(rootfd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("leftovers");
	TCase *lines = tcase_create("lines"), *files = tcase_create("files");

	tcase_add_test(lines, guide_modprobe);
	tcase_add_test(lines, guide_module_lists);
	tcase_add_test(lines, changed_line);
	tcase_add_test(lines, continued_and_unterminated);
	tcase_add_test(lines, not_leftovers);
	tcase_add_test(lines, unrelated_module_lines);
	tcase_add_test(lines, install_false_and_virqfd);
	tcase_add_test(lines, kernel_command_line);
	tcase_add_test(lines, ids_and_modalias_match);
	tcase_add_test(lines, hostile_text);
	tcase_add_test(lines, take_out_stale);
	tcase_add_test(lines, format_of);
	tcase_set_timeout(lines, 60);
	tcase_add_test(files, scan_root);
	suite_add_tcase(s, lines);
	suite_add_tcase(s, files);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
