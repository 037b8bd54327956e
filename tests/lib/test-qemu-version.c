/* QEMU's version for the aleph check: dpkg's database first (the installed
 * qemu-system-x86, else what provides qemu-system-x86-64), QEMU's banner. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "qemu-version.h"
#include "testlib.h"

#define STANZA(pkg, status, extra, version) \
	"Package: " pkg "\nStatus: " status "\nPriority: optional\n" extra "Version: " version \
	"\nDescription: x\n more text: Version: 0.1\n\n"
#define BUSYBOX STANZA("busybox", "install ok installed", "", "1:1.35.0-4+b3")

static int dpkg(const char *text, struct qemu_version *v)
{
	return qemu_version_from_dpkg(text, strlen(text), v);
}

START_TEST(from_dpkg)
{
	struct qemu_version v;

	ck_assert_int_eq(dpkg(BUSYBOX STANZA("qemu-system-x86", "install ok installed",
		"Provides: qemu-kvm, qemu-system-i386, qemu-system-x86-64\n", "1:7.2+dfsg-7+deb12u18+b3"), &v), 0);
	ck_assert_int_eq(v.major, 7);
	ck_assert_int_eq(v.minor, 2);
	ck_assert_str_eq(v.text, "1:7.2+dfsg-7+deb12u18+b3");
	ck_assert_str_eq(v.source, "package qemu-system-x86");
	/* Ubuntu's, last in the file, no blank line at the end */
	ck_assert_int_eq(dpkg(BUSYBOX "Package: qemu-system-x86\nStatus: hold ok installed\n"
			      "Version: 1:8.2.2+ds-0ubuntu1.4", &v), 0);
	ck_assert_int_eq(v.major * 100 + v.minor * 10 + v.micro, 822);
	/* removed, its configuration kept; a local build provides it */
	ck_assert_int_eq(dpkg(STANZA("qemu-system-x86", "deinstall ok config-files", "", "1:7.2") BUSYBOX
			      STANZA("qemu-local", "install ok installed",
				     "Provides: qemu-system-x86-64 (= 9.1.0)\n", "9.1.0-1"), &v), 0);
	ck_assert_int_eq(v.major, 9);
	ck_assert_str_eq(v.source, "package qemu-local");
	/* the real package wins over one that provides it */
	ck_assert_int_eq(dpkg(STANZA("qemu-local", "install ok installed",
				     "Provides: qemu-system-x86-64\n", "9.1.0-1")
			      STANZA("qemu-system-x86", "install ok installed", "", "1:10.0.2+ds-2"), &v), 0);
	ck_assert_int_eq(v.major, 10);
	ck_assert_str_eq(v.source, "package qemu-system-x86");
	/* none: not installed, a name that only starts the same, nothing */
	ck_assert_int_eq(dpkg(STANZA("qemu-system-x86", "install ok half-installed", "", "1:9.2") BUSYBOX
			      STANZA("qemu-x", "install ok installed",
				     "Provides: qemu-system-x86-64-extra\n", "9.2"), &v), -ENOENT);
	ck_assert_int_eq(dpkg("", &v), -ENOENT);
	ck_assert_int_eq(dpkg(STANZA("qemu-system-x86", "install ok installed", "", "git"), &v), -EINVAL);
	ck_assert_int_eq(dpkg(STANZA("qemu-system-x86", "install ok installed", "", "1:9"), &v), -EINVAL);
}
END_TEST

START_TEST(from_banner)
{
	struct qemu_version v = { 0 };

	ck_assert_int_eq(qemu_version_from_banner("QEMU emulator version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1.4)\n"
						  "Copyright (c) 2003-2023 Fabrice Bellard\n", &v), 0);
	ck_assert_int_eq(v.major, 8);
	ck_assert_int_eq(v.micro, 2);
	ck_assert_str_eq(v.text, "8.2.2");
	ck_assert_int_eq(qemu_version_from_banner("QEMU emulator version 9.0.50\n", &v), 0);
	ck_assert_int_eq(v.major, 9);
	ck_assert_int_eq(qemu_version_from_banner("qemu-system-x86_64: not found\n", &v), -EINVAL);
}
END_TEST

START_TEST(find_under_a_root)
{
	char dir[] = "/tmp/vh-qemu.XXXXXX", path[256];
	struct qemu_version v;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* no database, and a binary under a root is never run */
	ck_assert_int_eq(qemu_version_find(dir, 1000, &v), -ENOENT);
	snprintf(path, sizeof(path), "%s/var", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/var/lib", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/var/lib/dpkg", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s%s", dir, QEMU_DPKG_STATUS);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(STANZA("qemu-system-x86", "install ok installed", "", "1:10.0.2+ds-2"), f);
	fclose(f);
	ck_assert_int_eq(qemu_version_find(dir, 1000, &v), 0);
	ck_assert_int_eq(v.major, 10);
	unlink(path);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	ck_assert_int_eq(system(path), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("qemu-version");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, from_dpkg);
	tcase_add_test(tc, from_banner);
	tcase_add_test(tc, find_under_a_root);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
