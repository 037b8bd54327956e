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
/* The group closure and the intruders, by the group index, are what a
 * pass over every function finds: on every layout, for every slot. */
START_TEST(group_index_agrees)
{
	for (const char *const *l = fx_layout_names(); *l; l++) {
		struct tree t;

		tree_open(&t, *l);
		for (size_t i = 0; i < t.host.nfuncs; i++) {
			const struct pci_func *f = &t.host.funcs[i];
			struct selection sel = { .slots = &f->addr, .nslots = 1 };
			struct group_intruder *in;
			struct pci_addr *fns;
			size_t nfns, nin, want = 0, want_in = 0, count;
			size_t first = pci_host_slot(&t.host, &f->addr, &count);
			bool *found;

			if (first != i)
				continue;       /* once per slot */
			found = calloc(t.host.nfuncs, sizeof(*found));
			ck_assert_ptr_nonnull(found);
			ck_assert_int_eq(safety_group_closure(&t.host, &f->addr, 1, &fns, &nfns), 0);
			ck_assert_int_eq(safety_group_intruders(&t.host, &sel, &in, &nin), 0);
			for (size_t c = 0; c < nfns; c++)
				found[pci_host_find(&t.host, &fns[c]) - t.host.funcs] = true;
			for (size_t k = 0; k < t.host.nfuncs; k++) {
				const struct pci_func *m = &t.host.funcs[k];
				bool member = pci_same_slot(&m->addr, &f->addr);

				/* the slot's functions, and every one sharing a group with one */
				for (size_t s = first; !member && s < first + count; s++)
					member = t.host.funcs[s].iommu_group >= 0 &&
						 t.host.funcs[s].iommu_group == m->iommu_group;
				ck_assert_msg(member == found[k], "%s: closure of slot %zu, function %zu",
					      *l, i, k);
				want += member;
				if (member && !pci_same_slot(&m->addr, &f->addr) &&
				    !safety_selected(&t.host, &sel, m) && !safety_member_tolerated(m))
					want_in++;
			}
			ck_assert_uint_eq(nfns, want);
			ck_assert_uint_eq(nin, want_in);
			free(found);
			free(fns);
			free(in);
		}
		tree_close(&t);
	}
}
END_TEST

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

	tcase_set_timeout(tc, 60);

	tcase_add_test(tc, own_group_is_viable);
	tcase_add_test(tc, nic_in_group);
	tcase_add_test(tc, tolerated_members);
	tcase_add_test(tc, unreadable_driver_blocks);
	tcase_add_test(tc, slot_functions);
	tcase_add_test(tc, nic_in_slot);
	tcase_add_test(tc, check_ids);
	tcase_add_test(tc, group_index_agrees);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
