/* Capabilities: a command keeps what it needs of what it has, and nothing
 * else; the bounding set stays as it was.  Each test runs in a child of
 * its own (Check forks), so the drops do not carry over. */
#include <check.h>
#include <linux/capability.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cap-ng.h>
#include "privs.h"
#include "testlib.h"

static void caps_now(unsigned long long *eff, unsigned long long *perm)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { { 0 } };

	ck_assert_int_eq((int)syscall(SYS_capget, &hdr, d), 0);
	*eff = d[0].effective | (unsigned long long)d[1].effective << 32;
	*perm = d[0].permitted | (unsigned long long)d[1].permitted << 32;
}

#define BIT(c) (1ULL << (c))

/* Root with the capabilities the tests drop, or a line saying why not. */
static bool privileged(const char *test)
{
	unsigned long long eff, perm;

	caps_now(&eff, &perm);
	if ((perm & (BIT(CAP_DAC_OVERRIDE) | BIT(CAP_SYS_MODULE) | BIT(CAP_SYS_ADMIN))) ==
	    (BIT(CAP_DAC_OVERRIDE) | BIT(CAP_SYS_MODULE) | BIT(CAP_SYS_ADMIN)))
		return true;
	printf("skip %s: needs CAP_DAC_OVERRIDE, CAP_SYS_MODULE and CAP_SYS_ADMIN\n", test);
	return false;
}

static const int two[] = { CAP_DAC_OVERRIDE, CAP_SYS_MODULE };

START_TEST(keeps_only_what_is_asked)
{
	unsigned long long eff, perm;

	if (!privileged("keeps_only_what_is_asked"))
		return;
	ck_assert_int_eq(privs_limit(two, 2), 0);
	caps_now(&eff, &perm);
	ck_assert_uint_eq(eff, BIT(CAP_DAC_OVERRIDE) | BIT(CAP_SYS_MODULE));
	ck_assert_uint_eq(perm, BIT(CAP_DAC_OVERRIDE) | BIT(CAP_SYS_MODULE));
	/* libcap-ng's view, which the commands ask, agrees */
	ck_assert_int_eq(capng_have_capability(CAPNG_EFFECTIVE, CAP_DAC_OVERRIDE), 1);
	ck_assert_int_eq(capng_have_capability(CAPNG_EFFECTIVE, CAP_SYS_ADMIN), 0);
	/* the bounding set is the service manager's business */
	ck_assert_int_eq(prctl(PR_CAPBSET_READ, CAP_SYS_ADMIN, 0, 0, 0), 1);
}
END_TEST

/* A caller with some of them (a unit's CapabilityBoundingSet=, a container)
 * keeps those: what needs the others refuses with its own message. */
START_TEST(keeps_what_it_has_of_them)
{
	static const int one[] = { CAP_DAC_OVERRIDE };
	unsigned long long eff, perm;

	if (!privileged("keeps_what_it_has_of_them"))
		return;
	ck_assert_int_eq(privs_limit(one, 1), 0);
	ck_assert_int_eq(privs_limit(two, 2), 0);
	caps_now(&eff, &perm);
	ck_assert_uint_eq(eff, BIT(CAP_DAC_OVERRIDE));
	ck_assert_uint_eq(perm, BIT(CAP_DAC_OVERRIDE));
	ck_assert_int_eq(capng_have_capability(CAPNG_EFFECTIVE, CAP_SYS_MODULE), 0);
}
END_TEST

/* Nothing to drop: not an error, and nothing gained. */
START_TEST(none_stays_none)
{
	unsigned long long eff, perm;

	if (!privileged("none_stays_none"))
		return;
	ck_assert_int_eq(privs_limit(NULL, 0), 0);
	caps_now(&eff, &perm);
	ck_assert_uint_eq(eff | perm, 0);
	ck_assert_int_eq(privs_limit(two, 2), 0);
	caps_now(&eff, &perm);
	ck_assert_uint_eq(eff | perm, 0);
	ck_assert_int_eq(capng_have_capability(CAPNG_EFFECTIVE, CAP_DAC_OVERRIDE), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("privs");
	TCase *tc = tcase_create("limit");

	tcase_add_test(tc, keeps_only_what_is_asked);
	tcase_add_test(tc, keeps_what_it_has_of_them);
	tcase_add_test(tc, none_stays_none);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
