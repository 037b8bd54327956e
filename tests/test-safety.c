/* The safety rules: IOMMU group viability, the functions a hand-over takes. */
#include <check.h>
#include <stdlib.h>
#include "safety.h"
#include "testlib.h"

START_TEST(own_group_is_viable)
{
	struct tree t;
	struct group_intruder *in;
	struct pci_addr slot = addr("0000:01:00.0");
	size_t n;

	tree_open(&t, "rtx4000");
	ck_assert_int_eq(safety_group_intruders(&t.host, &slot, 1, &in, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(in);
	tree_close(&t);
}
END_TEST

START_TEST(nic_in_group)
{
	struct tree t;
	struct group_intruder *in;
	struct pci_addr slots[2] = { addr("0000:01:00.0"), addr("0000:02:00.0") };
	struct pci_addr *fns;
	size_t n, nfns;

	tree_open(&t, "gpu-nic");
	ck_assert_int_eq(safety_group_intruders(&t.host, slots, 1, &in, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(pci_addr_cmp(&in[0].member, &slots[1]), 0);
	ck_assert_str_eq(in[0].driver, "igb");
	ck_assert_int_eq(in[0].group, 12);
	free(in);
	/* the root ports share the group too, but bridges are tolerated */
	ck_assert_int_eq(safety_group_closure(&t.host, slots, 1, &fns, &nfns), 0);
	ck_assert_uint_eq(nfns, 5);    /* 2 GPU functions, 2 root ports, the NIC */
	free(fns);
	/* naming the NIC too makes the group viable */
	ck_assert_int_eq(safety_group_intruders(&t.host, slots, 2, &in, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(in);
	tree_close(&t);
}
END_TEST

START_TEST(tolerated_members)
{
	struct tree t;
	struct group_intruder *in;
	struct pci_addr slot = addr("0000:01:00.0");
	size_t n;

	tree_open(&t, "gpu-nic");
	/* a member already on vfio-pci, pci-stub, or unbound does not block */
	static const char *const ok[] = { "vfio-pci", "pci-stub", NULL };
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(fx_set_driver(t.fx, "0000:02:00.0", ok[i]), 0);
		tree_reload(&t);
		ck_assert_int_eq(safety_group_intruders(&t.host, &slot, 1, &in, &n), 0);
		ck_assert_uint_eq(n, 0);
		free(in);
	}
	tree_close(&t);
}
END_TEST

START_TEST(slot_functions)
{
	struct tree t;
	struct pci_addr slots[2] = { addr("0000:01:00.0"), addr("0000:02:00.0") };
	struct pci_addr *fns;
	size_t n;

	tree_open(&t, "twins");
	ck_assert_int_eq(safety_slot_functions(&t.host, slots, 2, &fns, &n), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(fns[3].bus, 2);
	ck_assert_uint_eq(fns[3].fn, 1);
	ck_assert(safety_in_slots(slots, 2, &fns[1]));
	free(fns);
	tree_close(&t);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("safety");
	TCase *tc = tcase_create("groups");

	tcase_add_test(tc, own_group_is_viable);
	tcase_add_test(tc, nic_in_group);
	tcase_add_test(tc, tolerated_members);
	tcase_add_test(tc, slot_functions);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
