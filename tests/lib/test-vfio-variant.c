/* The vfio driver chosen for a function through libkmod (vfio-variant.h):
 * on indexes built with depmod from modules carrying the aliases the
 * variant drivers declare (tests/lib/kernel-index.sh fake), and on the
 * real index of Debian's kernel package, alone and with those variant
 * drivers added (Debian's amd64 kernels build none of them). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "testlib.h"
#include "vfio-variant.h"

#define GH200 "pci:v000010DEd00002342sv000010DEsd000016EBbc03sc02i00"
#define CX7 "pci:v000015B3d00001021sv000015B3sd00000041bc02sc07i00"
#define HISI_SEC_VF "pci:v000019E5d0000A256sv000019E5sd00000000bc10sc00i00"
#define RTX4000 "pci:v000010DEd000027B0sv000010DEsd000016FAbc03sc00i00"
#define QEMU_VGA "pci:v00001234d00001111sv00001AF4sd00001100bc03sc80i00"

static char fake_root[256];

/* ROOT for kernel-index.sh's MODE, or "" when it cannot be had (exit 77). */
static void index_root(const char *mode, const char *arg, char *out, size_t len)
{
	char cmd[1024];
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "sh '%s/lib/kernel-index.sh' %s %s", TESTS_SRCDIR, mode, arg);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	out[0] = '\0';
	if (!fgets(out, (int)len, p))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	st = pclose(p);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
		out[0] = '\0';
		return;
	}
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed", cmd);
}

static void setup_fake(void)
{
	char tmpl[] = "/tmp/vh-variant.XXXXXX", ignored[16];
	const char *t = getenv("TMPDIR");

	if (t && strlen(t) < 200)
		snprintf(fake_root, sizeof(fake_root), "%s/vh-variant.XXXXXX", t);
	else
		snprintf(fake_root, sizeof(fake_root), "%s", tmpl);
	ck_assert_ptr_nonnull(mkdtemp(fake_root));
	index_root("fake", fake_root, ignored, sizeof(ignored));
}

static void teardown_fake(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fake_root);
	ck_assert_int_eq(system(cmd), 0);
}

static void open_index(const char *root, const char *kver, struct kmodules_index *ix)
{
	int err = kmodules_index_open(root, kver, ix);

	ck_assert_msg(err == 0, "index of %s/lib/modules/%s: %s", root, kver, strerror(-err));
}

static void expect_auto(struct kmodules_index *ix, const char *modalias, const char *module,
			const char *alias)
{
	struct vfio_pick p;

	ck_assert_int_eq(vfio_variant_auto(ix, modalias, &p), 0);
	ck_assert_str_eq(p.module, module);
	ck_assert_str_eq(p.alias, alias);
}

START_TEST(auto_most_specific)
{
	struct kmodules_index ix;
	struct vfio_pick p;

	open_index(fake_root, "6.9.0-vh-fake", &ix);
	/* GH200: its variant's vendor:device beats vfio-pci's catch-all */
	expect_auto(&ix, "pci:v000010DEd00002345sv000010DEsd000016EBbc12sc00i00",
		    "nvgrace_gpu_vfio_pci", "vfio_pci:v000010DEd00002345sv*sd*bc*sc*i*");
	expect_auto(&ix, CX7, "mlx5_vfio_pci", "vfio_pci:v000015B3d00001021sv*sd*bc*sc*i*");
	expect_auto(&ix, HISI_SEC_VF, "hisi_acc_vfio_pci", "vfio_pci:v000019E5d0000A256sv*sd*bc*sc*i*");
	/* a class match (4 wildcards) is more specific than vendor:device (5) */
	expect_auto(&ix, GH200, "vh_class_vfio", "vfio_pci:v000010DEd*sv*sd*bc03sc02i*");
	/* no variant: vfio-pci, over the other catch-all (a tie goes to vfio-pci) */
	expect_auto(&ix, RTX4000, "vfio_pci", "vfio_pci:v*d*sv*sd*bc*sc*i*");
	ck_assert_int_eq(vfio_variant_auto(&ix, RTX4000, &p), 0);
	ck_assert(!vfio_pick_variant(&p));
	ck_assert_int_eq(p.wildcards, 7);
	/* two variants alike: by module name, whatever the index's order */
	expect_auto(&ix, "pci:v00001234d00005678sv00000000sd00000000bc03sc00i00", "vh_a_vfio",
		    "vfio_pci:v00001234d00005678sv*sd*bc*sc*i*");
	ck_assert_int_eq(vfio_variant_auto(&ix, "usb:v1D6Bp0002", &p), -EINVAL);
	kmodules_index_close(&ix);

	/* before 5.15 no driver has a vfio_pci: alias: nothing found */
	open_index(fake_root, "5.10.0-vh-old", &ix);
	ck_assert_int_eq(vfio_variant_auto(&ix, GH200, &p), -ENOENT);
	kmodules_index_close(&ix);
}
END_TEST

START_TEST(named_checked)
{
	struct kmodules_index ix;
	struct vfio_pick p;
	char aliases[1024];

	open_index(fake_root, "6.9.0-vh-fake", &ix);
	ck_assert_int_eq(vfio_variant_named(&ix, "nvgrace_gpu_vfio_pci", GH200, &p, aliases,
					    sizeof(aliases)), 0);
	ck_assert_str_eq(p.module, "nvgrace_gpu_vfio_pci");
	ck_assert_str_eq(p.alias, "vfio_pci:v000010DEd00002342sv*sd*bc*sc*i*");
	/* '-' and '_' alike, as for modprobe */
	ck_assert_int_eq(vfio_variant_named(&ix, "nvgrace-gpu-vfio-pci", GH200, &p, aliases,
					    sizeof(aliases)), 0);
	ck_assert_str_eq(p.module, "nvgrace_gpu_vfio_pci");
	/* made for other devices: its aliases said */
	ck_assert_int_eq(vfio_variant_named(&ix, "mlx5_vfio_pci", GH200, &p, aliases,
					    sizeof(aliases)), -EDOM);
	ck_assert_ptr_nonnull(strstr(aliases, "vfio_pci:v000015B3d00001021sv*sd*bc*sc*i*"));
	/* not a vfio driver at all */
	ck_assert_int_eq(vfio_variant_named(&ix, "snd_hda_intel", GH200, &p, aliases,
					    sizeof(aliases)), -EDOM);
	ck_assert_str_eq(aliases, "");
	ck_assert_int_eq(vfio_variant_named(&ix, "no_such_vfio", GH200, &p, aliases,
					    sizeof(aliases)), -ENOENT);
	/* vfio-pci takes everything */
	ck_assert_int_eq(vfio_variant_named(&ix, "vfio-pci", RTX4000, &p, aliases,
					    sizeof(aliases)), 0);
	ck_assert_str_eq(p.module, "vfio_pci");
	kmodules_index_close(&ix);
}
END_TEST

/* The one release under ROOT/lib/modules. */
static void only_release(const char *root, char *buf, size_t len)
{
	ck_assert_int_eq(kmodules_newest_release(root, buf, len), 0);
}

/* Debian's real index: vfio-pci's own alias, read from its vfio-pci.ko;
 * no variant driver in it. */
START_TEST(debian_index)
{
	char root[4096], kver[256], aliases[1024];
	struct kmodules_index ix;
	struct vfio_pick p;

	index_root("debian", "", root, sizeof(root));
	if (!root[0]) {
		ck_assert_msg(!getenv("CI") || strcmp(getenv("CI"), "true") != 0,
			      "Debian's kernel package cannot be had, and CI must test its index");
		fprintf(stderr, "skip: debian_index: Debian's kernel package cannot be had\n");
		return;
	}
	only_release(root, kver, sizeof(kver));
	open_index(root, kver, &ix);
	expect_auto(&ix, GH200, "vfio_pci", "vfio_pci:v*d*sv*sd*bc*sc*i*");
	expect_auto(&ix, QEMU_VGA, "vfio_pci", "vfio_pci:v*d*sv*sd*bc*sc*i*");
	ck_assert_int_eq(vfio_variant_named(&ix, "mlx5_vfio_pci", CX7, &p, aliases,
					    sizeof(aliases)), -ENOENT);
	ck_assert_int_eq(vfio_variant_named(&ix, "snd-hda-intel", GH200, &p, aliases,
					    sizeof(aliases)), -EDOM);
	ck_assert_str_eq(aliases, "");
	ck_assert_int_eq(vfio_variant_named(&ix, "vfio-pci", GH200, &p, aliases, sizeof(aliases)), 0);
	kmodules_index_close(&ix);
}
END_TEST

/* The same index with mlx5_vfio_pci, hisi_acc_vfio_pci and
 * nvgrace_gpu_vfio_pci added, as a kernel that builds them has it. */
START_TEST(debian_index_variants)
{
	char root[4096], kver[256], aliases[1024];
	struct kmodules_index ix;
	struct vfio_pick p;

	index_root("debian-variants", "", root, sizeof(root));
	if (!root[0]) {
		ck_assert_msg(!getenv("CI") || strcmp(getenv("CI"), "true") != 0,
			      "Debian's kernel package cannot be had, and CI must test its index");
		fprintf(stderr, "skip: debian_index_variants: Debian's kernel package cannot be had\n");
		return;
	}
	only_release(root, kver, sizeof(kver));
	open_index(root, kver, &ix);
	expect_auto(&ix, GH200, "nvgrace_gpu_vfio_pci", "vfio_pci:v000010DEd00002342sv*sd*bc*sc*i*");
	expect_auto(&ix, CX7, "mlx5_vfio_pci", "vfio_pci:v000015B3d00001021sv*sd*bc*sc*i*");
	expect_auto(&ix, HISI_SEC_VF, "hisi_acc_vfio_pci", "vfio_pci:v000019E5d0000A256sv*sd*bc*sc*i*");
	expect_auto(&ix, RTX4000, "vfio_pci", "vfio_pci:v*d*sv*sd*bc*sc*i*");
	ck_assert_int_eq(vfio_variant_named(&ix, "mlx5-vfio-pci", GH200, &p, aliases,
					    sizeof(aliases)), -EDOM);
	ck_assert_int_eq(vfio_variant_named(&ix, "hisi_acc_vfio_pci", HISI_SEC_VF, &p, aliases,
					    sizeof(aliases)), 0);
	kmodules_index_close(&ix);
}
END_TEST

START_TEST(known_variants)
{
	const struct vfio_known_variant *k = vfio_known_variant(0x10de, 0x2342);

	ck_assert_ptr_nonnull(k);
	ck_assert_str_eq(k->module, "nvgrace_gpu_vfio_pci");
	ck_assert_str_eq(k->since, "6.9");
	ck_assert_ptr_nonnull(strstr(k->kernel, "arm64"));
	ck_assert_ptr_nonnull(vfio_known_variant(0x10de, 0x31c2));
	ck_assert_ptr_null(vfio_known_variant(0x10de, 0x27b0));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("vfio-variant");
	TCase *tc = tcase_create("fake index");

	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, setup_fake, teardown_fake);
	tcase_add_test(tc, auto_most_specific);
	tcase_add_test(tc, named_checked);
	tcase_add_test(tc, known_variants);
	suite_add_tcase(s, tc);
	tc = tcase_create("Debian's index");
	/* the first run extracts the package and runs depmod over it */
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, debian_index);
	tcase_add_test(tc, debian_index_variants);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
