/* Where a persisted function is now (apply): the bridge chain read from
 * sysfs, "same place", and persist_match on emulated trees with a GPU at
 * its address, moved to another bus, replaced, gone, and an identical twin
 * that must never be taken for it. */
#include <check.h>
#include <errno.h>
#include <string.h>
#include "persist-match.h"
#include "persist-target.h"
#include "testlib.h"

static struct persist_fn pfn(const char *a, unsigned v, unsigned d, const char *slot, const char *path)
{
	struct persist_fn f = { .addr = addr(a), .vendor = v, .device = d,
				.subvendor = 0x10de, .subdevice = 0x16fa };

	snprintf(f.phys_slot, sizeof(f.phys_slot), "%s", slot);
	snprintf(f.path, sizeof(f.path), "%s", path);
	return f;
}

START_TEST(chain_from_link)
{
	char buf[256];

	ck_assert_int_eq(persist_chain_from_link("../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0",
						 buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "0000:00:01.0/0000:01:00.0");
	ck_assert_int_eq(persist_chain_from_link("../../../devices/pci0000:40/0000:40:01.1/0000:41:00.0/"
						 "0000:42:08.0/0000:43:00.1", buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "0000:40:01.1/0000:41:00.0/0000:42:08.0/0000:43:00.1");
	ck_assert_int_eq(persist_chain_from_link("../../../devices/platform/foo", buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(persist_chain_from_link("../../../devices/pci0000:00/0000:00:01.0/notpci",
						 buf, sizeof(buf)), -EINVAL);
	ck_assert_int_eq(persist_chain_from_link("../../../devices/pci0000:00/0000:00:01.0/0000:01:00.0",
						 buf, 12), -ENAMETOOLONG);
}
END_TEST

START_TEST(same_place)
{
	struct persist_fn was = pfn("0000:01:00.0", 0x10de, 0x27b0, "1", "0000:00:01.0/0000:01:00.0");
	struct persist_fn now = pfn("0000:02:00.0", 0x10de, 0x27b0, "1-2", "0000:00:01.0/0000:02:00.0");

	/* a bus number moved, and Linux renamed the slot: the chain decides */
	ck_assert(persist_same_place(&was, &now));
	/* another root port */
	now = pfn("0000:02:00.0", 0x10de, 0x27b0, "1", "0000:00:03.0/0000:02:00.0");
	ck_assert(!persist_same_place(&was, &now));
	/* behind a switch now: another depth */
	now = pfn("0000:03:00.0", 0x10de, 0x27b0, "1", "0000:00:01.0/0000:02:00.0/0000:03:00.0");
	ck_assert(!persist_same_place(&was, &now));
	/* same depth, another downstream port of the switch */
	was = pfn("0000:03:00.0", 0, 0, "", "0000:00:01.0/0000:02:00.0/0000:03:00.0");
	now = pfn("0000:04:00.0", 0, 0, "", "0000:00:01.0/0000:03:08.0/0000:04:00.0");
	ck_assert(!persist_same_place(&was, &now));
	now = pfn("0000:05:00.0", 0, 0, "", "0000:00:01.0/0000:04:00.0/0000:05:00.0");
	ck_assert(persist_same_place(&was, &now));
	/* no chain recorded: the slot name, and only a name */
	was = pfn("0000:01:00.0", 0, 0, "SLOT4", "");
	now = pfn("0000:02:00.0", 0, 0, "SLOT4", "0000:00:09.0/0000:02:00.0");
	ck_assert(persist_same_place(&was, &now));
	now.phys_slot[0] = '\0';
	ck_assert(!persist_same_place(&was, &now));
	was.phys_slot[0] = '\0';
	ck_assert(!persist_same_place(&was, &now));
}
END_TEST

static enum persist_match_kind match1(struct tree *t, const struct persist_fn *fns, size_t n,
				      size_t which, struct persist_match *m)
{
	ck_assert_int_eq(persist_match(t->sfs, &t->host, fns, n, which, m), 0);
	return m->kind;
}

START_TEST(match_rtx4000)
{
	struct tree t;
	struct persist_fn f;
	struct persist_match m;
	char ab[PCI_ADDR_LEN];

	tree_open(&t, "rtx4000");
	ck_assert_int_eq(persist_fn_load(t.sfs, func(&t, "0000:01:00.0"), &f), 0);
	ck_assert_str_eq(f.phys_slot, "1");
	ck_assert_str_eq(f.path, "0000:00:01.0/0000:01:00.0");
	ck_assert_int_eq(match1(&t, &f, 1, 0, &m), PERSIST_HERE);
	ck_assert_str_eq(pci_addr_fmt(&m.now, ab), "0000:01:00.0");

	/* persisted when it sat on bus 05 behind the same root port */
	f.addr = addr("0000:05:00.0");
	snprintf(f.path, sizeof(f.path), "0000:00:01.0/0000:05:00.0");
	ck_assert_int_eq(match1(&t, &f, 1, 0, &m), PERSIST_MOVED);
	ck_assert_str_eq(pci_addr_fmt(&m.now, ab), "0000:01:00.0");
	ck_assert_uint_eq(m.candidates, 1);

	/* its function number must match too: the audio function is not it */
	f.addr = addr("0000:05:00.1");
	snprintf(f.path, sizeof(f.path), "0000:00:01.0/0000:05:00.1");
	ck_assert_int_eq(match1(&t, &f, 1, 0, &m), PERSIST_MISSING);

	/* another card in the slot: other ids at the address */
	ck_assert_int_eq(persist_fn_load(t.sfs, func(&t, "0000:01:00.0"), &f), 0);
	f.device = 0x2684;
	ck_assert_int_eq(match1(&t, &f, 1, 0, &m), PERSIST_CHANGED);
	f.device = 0x27b0;
	f.subdevice = 0x1111;           /* another board of the same chip */
	ck_assert_int_eq(match1(&t, &f, 1, 0, &m), PERSIST_CHANGED);

	/* gone: nothing at the address, nothing like it at its place */
	f = pfn("0000:07:00.0", 0x10de, 0x27b0, "7", "0000:00:07.0/0000:07:00.0");
	ck_assert_int_eq(match1(&t, &f, 1, 0, &m), PERSIST_MISSING);
	/* nothing recorded of its place: never guessed */
	f = pfn("0000:07:00.0", 0x10de, 0x27b0, "", "");
	ck_assert_int_eq(match1(&t, &f, 1, 0, &m), PERSIST_MISSING);
	tree_close(&t);
}
END_TEST

START_TEST(match_twins)
{
	struct tree t;
	struct persist_fn f[2];
	struct persist_match m;
	char ab[PCI_ADDR_LEN];

	tree_open(&t, "twins");
	/* GPU A persisted on bus 07 behind root port 00:01.0: it is A, never
	 * the identical B behind 00:03.0 */
	f[0] = pfn("0000:07:00.0", 0x10de, 0x27b0, "", "0000:00:01.0/0000:07:00.0");
	ck_assert_int_eq(match1(&t, f, 1, 0, &m), PERSIST_MOVED);
	ck_assert_str_eq(pci_addr_fmt(&m.now, ab), "0000:01:00.0");
	/* recorded by its slot name only: slot 2 is B */
	f[0] = pfn("0000:07:00.0", 0x10de, 0x27b0, "2", "");
	ck_assert_int_eq(match1(&t, f, 1, 0, &m), PERSIST_MOVED);
	ck_assert_str_eq(pci_addr_fmt(&m.now, ab), "0000:02:00.0");
	/* both persisted where they are: each is itself */
	ck_assert_int_eq(persist_fn_load(t.sfs, func(&t, "0000:01:00.0"), &f[0]), 0);
	ck_assert_int_eq(persist_fn_load(t.sfs, func(&t, "0000:02:00.0"), &f[1]), 0);
	ck_assert_int_eq(match1(&t, f, 2, 0, &m), PERSIST_HERE);
	ck_assert_int_eq(match1(&t, f, 2, 1, &m), PERSIST_HERE);
	ck_assert_str_eq(pci_addr_fmt(&m.now, ab), "0000:02:00.0");
	/* a function persisted at its own address is never another's match:
	 * B's record names slot 1 (A's) by mistake, A is persisted as itself */
	snprintf(f[1].phys_slot, sizeof(f[1].phys_slot), "1");
	f[1].path[0] = '\0';
	f[1].addr = addr("0000:09:00.0");
	ck_assert_int_eq(match1(&t, f, 2, 1, &m), PERSIST_MISSING);
	tree_close(&t);
}
END_TEST

START_TEST(facts_ids)
{
	struct tree t;
	struct persist_facts pf = { 0 };
	struct pci_addr a[4] = { addr("0000:01:00.0"), addr("0000:01:00.1"),
				 addr("0000:02:00.0"), addr("0000:02:00.1") };

	tree_open(&t, "twins");
	persist_facts_ids(&t.host, a, 2, &pf);
	ck_assert(!pf.ids_exclusive);
	ck_assert_str_eq(pf.ids_reason, "10de:27b0 is also 0000:02:00.0, which stays on the host");
	persist_facts_ids(&t.host, a, 4, &pf);
	ck_assert(pf.ids_exclusive);
	ck_assert_str_eq(pf.ids_reason, "");
	tree_close(&t);
}
END_TEST

static const char *joined(char **v, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; v && v[i]; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? " " : "", v[i]);
	return buf;
}

START_TEST(facts_softdeps)
{
	struct tree t;
	struct persist_facts pf = { 0 };
	struct journal j = { 0 };
	struct journal_entry je = { .addr = addr("0000:01:00.0"), .driver = "nouveau" };
	struct pci_addr a[2] = { addr("0000:01:00.0"), addr("0000:01:00.1") };
	char buf[256];

	tree_open(&t, "rtx4000");
	ck_assert_int_eq(persist_facts_softdeps(t.sfs, &t.host, &j, a, 2, &pf), 0);
	/* the drivers the functions are on now first, then the usual, once each */
	ck_assert_str_eq(joined(pf.softdeps, buf, sizeof(buf)),
			 "nvidia snd_hda_intel nouveau nvidia_drm amdgpu radeon");
	persist_facts_free(&pf);
	tree_close(&t);

	/* already on vfio-pci: the journal says what it was on */
	tree_open(&t, "rtx4000-vfio");
	ck_assert_int_eq(journal_add(&j, &je), 0);
	ck_assert_int_eq(persist_facts_softdeps(t.sfs, &t.host, &j, a, 2, &pf), 0);
	ck_assert_str_eq(joined(pf.softdeps, buf, sizeof(buf)),
			 "nouveau nvidia nvidia_drm amdgpu radeon snd_hda_intel");
	persist_facts_free(&pf);
	journal_free(&j);
	tree_close(&t);
}
END_TEST

START_TEST(match_names)
{
	ck_assert_str_eq(persist_match_name(PERSIST_HERE), "here");
	ck_assert_str_eq(persist_match_name(PERSIST_MOVED), "moved");
	ck_assert_str_eq(persist_match_name(PERSIST_CHANGED), "changed");
	ck_assert_str_eq(persist_match_name(PERSIST_MISSING), "missing");
	ck_assert_str_eq(persist_match_name(PERSIST_AMBIGUOUS), "ambiguous");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("persist-match");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, chain_from_link);
	tcase_add_test(tc, same_place);
	tcase_add_test(tc, match_rtx4000);
	tcase_add_test(tc, match_twins);
	tcase_add_test(tc, facts_ids);
	tcase_add_test(tc, facts_softdeps);
	tcase_add_test(tc, match_names);
	suite_add_tcase(s, tc);
	return run_suite(s);
}
