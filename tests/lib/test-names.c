/* Human names from the udev hwdb, and the built-in class names without one. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "names.h"
#include "testlib.h"

static struct pci_func gpu(void)
{
	struct pci_func f = { .vendor = 0x10de, .device = 0x27b0, .subvendor = 0x10de,
			      .subdevice = 0x16fa, .class = 0x030000 };
	return f;
}

START_TEST(without_hwdb)
{
	struct pci_func f = gpu();
	struct func_names n;
	char buf[256];

	names_lookup(NULL, &f, &n);
	ck_assert_str_eq(n.class_name, "VGA compatible controller");
	ck_assert_str_eq(n.vendor, "");
	ck_assert_str_eq(names_describe(&n, buf, sizeof(buf)), "");
	f.class = 0x0c8000;
	names_lookup(NULL, &f, &n);
	ck_assert_str_eq(n.class_name, "Serial bus controller");
	f.class = 0xff0000;
	names_lookup(NULL, &f, &n);
	ck_assert_str_eq(n.class_name, "Class ff00");
	f.bad = PCI_BAD_CLASS;
	names_lookup(NULL, &f, &n);
	ck_assert_str_eq(n.class_name, "Unknown class");
}
END_TEST

START_TEST(with_hwdb)
{
	struct names *names = names_open();
	struct pci_func f = gpu();
	struct func_names n;
	char buf[256];

	ck_assert_msg(names != NULL, "no udev hwdb (install udev)");
	names_lookup(names, &f, &n);
	ck_assert_str_eq(n.vendor, "NVIDIA Corporation");
	ck_assert_str_eq(n.device, "AD104GL [RTX 4000 SFF Ada Generation]");
	ck_assert_str_eq(n.class_name, "VGA compatible controller");
	ck_assert_str_eq(n.subvendor, "NVIDIA Corporation");
	ck_assert_str_eq(names_describe(&n, buf, sizeof(buf)),
			 "NVIDIA Corporation AD104GL [RTX 4000 SFF Ada Generation]");
	f.device = 0x22bc;
	f.class = 0x040300;
	names_lookup(names, &f, &n);
	ck_assert_str_eq(n.class_name, "Audio device");
	/* an unreadable id is not looked up */
	f.bad = PCI_BAD_VENDOR;
	names_lookup(names, &f, &n);
	ck_assert_str_eq(n.vendor, "");
	names_close(names);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("names");
	TCase *tc = tcase_create("core");
	struct names *probe = names_open();

	tcase_add_test(tc, without_hwdb);
	/* the hwdb comes with udev; CI installs it, elsewhere say why it is skipped */
	if (probe || getenv("CI"))
		tcase_add_test(tc, with_hwdb);
	else
		fprintf(stderr, "test-names: no udev hwdb here; hwdb lookups not tested\n");
	names_close(probe);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
