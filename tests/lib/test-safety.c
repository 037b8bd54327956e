/* The safety rules: IOMMU group viability, the functions a hand-over takes. */
#include <check.h>
#include <stdlib.h>
#include "checks.h"
#include "safety.h"
#include "testlib.h"

START_TEST(own_group_is_viable)
{
	struct tree t;
	struct group_intruder *in;
	struct pci_addr slot = addr("0000:01:00.0");
	size_t n;

	tree_open(&t, "rtx4000");
	ck_assert_int_eq(safety_group_intruders(&t.host, &(struct selection){ &slot, 1, NULL, 0 }, &in, &n), 0);
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
	ck_assert_int_eq(safety_group_intruders(&t.host, &(struct selection){ slots, 1, NULL, 0 }, &in, &n), 0);
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
	ck_assert_int_eq(safety_group_intruders(&t.host, &(struct selection){ slots, 2, NULL, 0 }, &in, &n), 0);
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
		ck_assert_int_eq(safety_group_intruders(&t.host, &(struct selection){ &slot, 1, NULL, 0 }, &in, &n), 0);
		ck_assert_uint_eq(n, 0);
		free(in);
	}
	tree_close(&t);
}
END_TEST

/* A member whose driver link names nothing ("../drivers/igb/", a garbled
 * or hostile tree) is not one without a driver: it still blocks. */
START_TEST(unreadable_driver_blocks)
{
	struct tree t;
	struct group_intruder *in;
	struct pci_addr slot = addr("0000:01:00.0");
	const struct pci_func *nic;
	size_t n;

	tree_open(&t, "gpu-nic");
	slash_link(&t, "0000:02:00.0", "driver");
	tree_reload(&t);
	nic = func(&t, "0000:02:00.0");
	ck_assert_str_eq(nic->driver, "");
	ck_assert_uint_ne(nic->bad & PCI_BAD_DRIVER, 0);
	ck_assert(!safety_member_tolerated(nic));
	ck_assert_int_eq(safety_group_intruders(&t.host, &(struct selection){ &slot, 1, NULL, 0 }, &in, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(pci_addr_cmp(&in[0].member, &nic->addr), 0);
	free(in);
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

/* A NIC that is a function of the GPU's own slot goes along only when named. */
START_TEST(nic_in_slot)
{
	struct tree t;
	struct group_intruder *in;
	struct pci_addr slot = addr("0000:01:00.0"), nic = addr("0000:01:00.2");
	struct fx_func f = { .addr = "0000:01:00.2", .parent = "0000:00:01.0", .vendor = 0x8086,
			     .device = 0x10d3, .subvendor = 0x8086, .subdevice = 0xa01f,
			     .class = 0x020000, .driver = "e1000e", .iommu_group = 14,
			     .boot_vga = -1 };
	size_t n;

	tree_open(&t, "rtx4000");
	ck_assert_int_eq(fx_add_func(t.fx, &f), 0);
	tree_reload(&t);
	ck_assert(!pci_func_is_gpu_part(func(&t, "0000:01:00.2")));
	ck_assert(pci_func_is_gpu_part(func(&t, "0000:01:00.1")));
	ck_assert_int_eq(safety_group_intruders(&t.host, &(struct selection){ &slot, 1, NULL, 0 },
						&in, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(pci_addr_cmp(&in[0].member, &nic), 0);
	free(in);
	ck_assert_int_eq(safety_group_intruders(&t.host, &(struct selection){ &slot, 1, &nic, 1 },
						&in, &n), 0);
	ck_assert_uint_eq(n, 0);
	free(in);
	tree_close(&t);
}
END_TEST

/* The table of ids: each named once, titled, and refusing as SPEC says. */
START_TEST(check_ids)
{
	for (int i = 0; i < CHECK_ID_COUNT; i++) {
		ck_assert_str_ne(check_id_name((enum check_id)i), "unknown");
		ck_assert_str_ne(check_id_title((enum check_id)i), "unknown");
		for (int k = 0; k < i; k++)
			ck_assert_str_ne(check_id_name((enum check_id)i), check_id_name((enum check_id)k));
	}
	ck_assert_str_eq(check_id_name(CHECK_BOOT_VGA), "boot-vga");
	ck_assert_str_eq(check_id_name(CHECK_ID_COUNT), "unknown");
	ck_assert_int_eq(check_id_refusal(CHECK_BOOT_VGA), REFUSAL_FORCEABLE);
	ck_assert_int_eq(check_id_refusal(CHECK_IN_USE), REFUSAL_FORCEABLE);
	ck_assert_int_eq(check_id_refusal(CHECK_IOMMU), REFUSAL_HARD);
	ck_assert_int_eq(check_id_refusal(CHECK_GROUP), REFUSAL_HARD);
	ck_assert_int_eq(check_id_refusal(CHECK_HOST_USE), REFUSAL_HARD);
	ck_assert_int_eq(check_id_refusal(CHECK_SYSFS), REFUSAL_HARD);
	ck_assert_int_eq(check_id_refusal(CHECK_MODEL), REFUSAL_NONE);
	/* a warning refuses nothing */
	ck_assert_int_eq(safety_refusal(&(struct check_item){ .status = CHECK_WARN,
							      .id = CHECK_BOOT_VGA }), REFUSAL_NONE);
	ck_assert_int_eq(safety_refusal(&(struct check_item){ .status = CHECK_FAIL,
							      .id = CHECK_GROUP }), REFUSAL_HARD);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("safety");
	TCase *tc = tcase_create("groups");

	tcase_add_test(tc, own_group_is_viable);
	tcase_add_test(tc, nic_in_group);
	tcase_add_test(tc, tolerated_members);
	tcase_add_test(tc, unreadable_driver_blocks);
	tcase_add_test(tc, slot_functions);
	tcase_add_test(tc, nic_in_slot);
	tcase_add_test(tc, check_ids);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
