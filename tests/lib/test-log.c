/* The messages: every code named once, each message shown on stderr in
 * its code's form, and under --json kept with its code, check and fix. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "testlib.h"

/* What the calls in fn print on stderr. */
static char *stderr_of(void (*fn)(void))
{
	static char buf[4096];
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO);
	size_t n;

	ck_assert_ptr_nonnull(tmp);
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[n] = '\0';
	fclose(tmp);
	return buf;
}

START_TEST(codes_named_once)
{
	for (int i = 0; i < MSG_CODE_COUNT; i++) {
		const char *name = log_code_name((enum msg_code)i);

		ck_assert_str_ne(name, "unknown");
		ck_assert_int_eq((int)strspn(name, "abcdefghijklmnopqrstuvwxyz-"), (int)strlen(name));
		for (int k = 0; k < i; k++)
			ck_assert_str_ne(name, log_code_name((enum msg_code)k));
	}
	ck_assert_str_eq(log_code_name(MSG_CODE_COUNT), "unknown");
}
END_TEST

static void some_messages(void)
{
	log_error(MSG_LOCKED, "wait for it to finish and run this again",
		  "another vfio-handover run (PID %d) is changing drivers now", 42);
	log_check(LOGL_ERROR, MSG_REFUSED, "boot-vga", "pass --force", "%s is the boot VGA device",
		  "0000:03:00.0");
	log_warn(MSG_UDEV_TIMEOUT, NULL, "/dev/vfio/%d did not appear", 14);
	log_error(MSG_POSITION, NULL, "0000:01:00.0: now on %s", "vfio-pci");
	log_info("said but not kept");
}

START_TEST(shown_in_the_code_form)
{
	log_setup(0, false);
	ck_assert_str_eq(stderr_of(some_messages),
		"vfio-handover: another vfio-handover run (PID 42) is changing drivers now; "
		"wait for it to finish and run this again\n"
		"vfio-handover: refused: 0000:03:00.0 is the boot VGA device\n"
		"vfio-handover:   fix: pass --force\n"
		"vfio-handover: warning: /dev/vfio/14 did not appear\n"
		"vfio-handover:   0000:01:00.0: now on vfio-pci\n"
		"vfio-handover: said but not kept\n");
}
END_TEST

START_TEST(kept_under_json_even_quiet)
{
	const struct log_msg *m;
	size_t n;

	log_setup(0, true);
	log_keep(true);
	/* -q: the errors are shown, without their fixes; the warning and the info are not */
	ck_assert_str_eq(stderr_of(some_messages),
		"vfio-handover: another vfio-handover run (PID 42) is changing drivers now\n"
		"vfio-handover: refused: 0000:03:00.0 is the boot VGA device\n"
		"vfio-handover:   0000:01:00.0: now on vfio-pci\n");
	m = log_kept(&n);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(m[0].level, LOGL_ERROR);
	ck_assert_str_eq(log_code_name(m[0].code), "locked");
	ck_assert_str_eq(m[0].text, "another vfio-handover run (PID 42) is changing drivers now");
	ck_assert_str_eq(m[0].fix, "wait for it to finish and run this again");
	ck_assert_ptr_null(m[0].check);
	ck_assert_str_eq(log_code_name(m[1].code), "refused");
	ck_assert_str_eq(m[1].check, "boot-vga");
	ck_assert_str_eq(m[1].text, "0000:03:00.0 is the boot VGA device");
	ck_assert_int_eq(m[2].level, LOGL_WARN);
	ck_assert_ptr_null(m[2].fix);
	ck_assert_str_eq(m[3].text, "0000:01:00.0: now on vfio-pci");
	log_kept_free();
	log_keep(false);
	log_error(MSG_SYSTEM_ERROR, NULL, "not kept");
	log_kept(&n);
	ck_assert_uint_eq(n, 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("messages");

	tcase_add_test(tc, codes_named_once);
	tcase_add_test(tc, shown_in_the_code_form);
	tcase_add_test(tc, kept_under_json_even_quiet);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
