/* PCI addresses and selectors: every form SPEC lists, and every bad one. */
#include <check.h>
#include "testlib.h"
#include <errno.h>
#include <string.h>
#include "pci-addr.h"
#include "selector.h"

START_TEST(addr_roundtrip)
{
	struct pci_addr a;
	char buf[PCI_ADDR_LEN], sb[PCI_SLOT_LEN];

	ck_assert_int_eq(pci_addr_parse("0000:01:00.1", &a), 0);
	ck_assert_uint_eq(a.domain, 0);
	ck_assert_uint_eq(a.bus, 1);
	ck_assert_uint_eq(a.dev, 0);
	ck_assert_uint_eq(a.fn, 1);
	ck_assert_str_eq(pci_addr_fmt(&a, buf), "0000:01:00.1");
	ck_assert_int_eq(pci_addr_parse("ABCD:FF:1F.7", &a), 0);
	ck_assert_str_eq(pci_addr_fmt(&a, buf), "abcd:ff:1f.7");
	ck_assert_str_eq(pci_slot_fmt(&a, sb), "abcd:ff:1f");
}
END_TEST

START_TEST(addr_rejects)
{
	static const char *const bad[] = {
		"", "0000:01:00", "0000:01:00.8", "0000:01:20.0", "0000:01:00.0 ",
		"000:01:00.0", "0000-01-00.0", "0000:01:00.00", "../../etc", "0000:0g:00.0",
	};
	struct pci_addr a;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(pci_addr_parse(bad[i], &a) == -EINVAL, "accepted '%s'", bad[i]);
	ck_assert_int_eq(pci_addr_parse(NULL, &a), -EINVAL);
}
END_TEST

static struct selector parse_ok(const char *s)
{
	struct selector sel;
	char why[160];

	ck_assert_msg(selector_parse(s, &sel, why, sizeof(why)) == 0, "rejected '%s': %s", s, why);
	return sel;
}

START_TEST(selector_forms)
{
	struct selector s;

	s = parse_ok("0000:01:00.0");
	ck_assert_int_eq(s.kind, SEL_FUNCTION);
	ck_assert_uint_eq(s.addr.bus, 1);
	s = parse_ok("01:00.1");
	ck_assert_int_eq(s.kind, SEL_FUNCTION);
	ck_assert_uint_eq(s.addr.domain, 0);
	ck_assert_uint_eq(s.addr.fn, 1);
	s = parse_ok("01:00");
	ck_assert_int_eq(s.kind, SEL_SLOT);
	ck_assert_uint_eq(s.addr.bus, 1);
	s = parse_ok("0001:3a:1f");
	ck_assert_int_eq(s.kind, SEL_SLOT);
	ck_assert_uint_eq(s.addr.domain, 1);
	ck_assert_uint_eq(s.addr.bus, 0x3a);
	ck_assert_uint_eq(s.addr.dev, 0x1f);
	s = parse_ok("10de:27b0");
	ck_assert_int_eq(s.kind, SEL_ID);
	ck_assert_uint_eq(s.vendor, 0x10de);
	ck_assert_uint_eq(s.device, 0x27b0);
	s = parse_ok("10DE:27B0");
	ck_assert_uint_eq(s.device, 0x27b0);
}
END_TEST

START_TEST(selector_rejects)
{
	static const char *const bad[] = {
		"", "01:00.8", "01:20.0", "0000:01:00.9", "/sys/bus/pci/devices/0000:01:00.0",
		"../0000:01:00.0", "01", "1:00.0", "10de", "10de:27b", "10de:27b00", "gpu0",
		"01:00.0,01:00.1", " 01:00.0", "01:00.0\n", "0000:01:00.0/driver", "-1", "*",
	};
	struct selector sel;
	char why[160];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		ck_assert_msg(selector_parse(bad[i], &sel, why, sizeof(why)) == -EINVAL,
			      "accepted '%s'", bad[i]);
		ck_assert_msg(why[0], "no reason given for '%s'", bad[i]);
	}
	selector_parse("01:20.0", &sel, why, sizeof(why));
	ck_assert_str_eq(why, "device number 20 is above 1f");
	selector_parse("01:00.8", &sel, why, sizeof(why));
	ck_assert_str_eq(why, "function number 8 is above 7");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("selector");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, addr_roundtrip);
	tcase_add_test(tc, addr_rejects);
	tcase_add_test(tc, selector_forms);
	tcase_add_test(tc, selector_rejects);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
