/* A whole tree: the input describes a small sysfs tree (tree.h), built in
 * a scratch directory, with a scratch --root and, when the input has
 * lines for it, a scratch stand-in for /proc.  Then what list, check and
 * apply do with it: pci_host_load, check_run over every GPU and over the
 * slots the input selects, persist_match of its devices.conf lines, and
 * what persist would record of each function read back.  Everything read
 * must make a sane model and report, and nothing may crash or leak. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "checks.h"
#include "compat.h"
#include "fuzz-util.h"
#include "model-check.h"
#include "persist-match.h"
#include "persist-target.h"
#include "selector.h"
#include "tree.h"

static struct tree tree;

static void check_host(const struct pci_host *h)
{
	for (size_t i = 0; i < h->nfuncs; i++) {
		model_check_func(&h->funcs[i]);
		FUZZ_CHECK(!i || pci_addr_cmp(&h->funcs[i - 1].addr, &h->funcs[i].addr) < 0,
			   "functions not sorted, or listed twice");
		FUZZ_CHECK(pci_host_find(h, &h->funcs[i].addr) == &h->funcs[i], "pci_host_find misses one");
	}
	FUZZ_CHECK(h->ngroups >= 0, "%d IOMMU groups", h->ngroups);
}

static void check_report(const struct check_report *r)
{
	struct pci_addr a;

	FUZZ_CHECK(r->count[CHECK_PASS] + r->count[CHECK_WARN] + r->count[CHECK_FAIL] == (int)r->n,
		   "%zu items, counted %d+%d+%d", r->n, r->count[0], r->count[1], r->count[2]);
	for (size_t i = 0; i < r->n; i++) {
		const struct check_item *it = &r->items[i];

		FUZZ_CHECK(it->status <= CHECK_FAIL && (unsigned)it->id < CHECK_ID_COUNT && it->message, "item %zu is incomplete", i);
		FUZZ_CHECK(!it->device[0] || pci_addr_parse(it->device, &a) == 0, "item %s: device \"%s\"",
			   check_id_name(it->id), it->device);
		/* one line each, whatever the tree's text holds */
		FUZZ_CHECK(!strchr(it->message, '\n') && (!it->fix || !strchr(it->fix, '\n')),
			   "%s %s: a newline in \"%s\" or its fix", check_id_name(it->id), it->device, it->message);
		/* a finding comes with its fix, a pass with none */
		FUZZ_CHECK((it->status == CHECK_PASS) == !it->fix, "%s %s %s: \"%s\", fix \"%s\"",
			   check_status_name(it->status), check_id_name(it->id), it->device, it->message,
			   it->fix ? it->fix : "(none)");
	}
}

static void run_checks(const struct check_env *env, const struct pci_addr *slots, size_t nslots)
{
	struct check_report r;
	int err = check_run(env, slots, nslots, &r);

	FUZZ_CHECK(err == 0 || err == -ENOMEM, "check_run: %s", strerror(-err));
	if (err)
		return;
	check_report(&r);
	check_report_free(&r);
}

/* Every slot of the host, or those the "sel" lines name. */
static void check_selected(const struct check_env *base, const struct pci_host *h)
{
	struct selector *sels = calloc(tree.nsels ? tree.nsels : 1, sizeof(*sels));
	struct pci_addr *slots = NULL, *named = NULL;
	struct check_env env = *base;
	size_t nslots = 0, nnamed = 0, bad = 0;
	char why[128];
	int err = 0;

	if (!sels)
		abort();
	for (size_t i = 0; i < tree.nsels && !err; i++)
		err = selector_parse(tree.sels[i], &sels[i], why, sizeof(why));
	if (err)
		goto out;
	if (tree.nsels) {
		err = selector_resolve(h, sels, tree.nsels, &slots, &nslots, &bad);
		if (err) {
			FUZZ_CHECK(bad < tree.nsels && !slots, "selector_resolve: %d, bad %zu", err, bad);
			goto out;
		}
		for (size_t i = 0; i < nslots; i++)
			FUZZ_CHECK(slots[i].fn == 0 && (!i || pci_addr_cmp(&slots[i - 1], &slots[i]) < 0),
				   "resolved slots not sorted and unique");
		if (selector_named(sels, tree.nsels, &named, &nnamed))
			goto out;
	} else {
		slots = calloc(h->nfuncs ? h->nfuncs : 1, sizeof(*slots));
		if (!slots)
			abort();
		for (size_t i = 0; i < h->nfuncs; i++)
			if (!nslots || !pci_same_slot(&slots[nslots - 1], &h->funcs[i].addr))
				slots[nslots++] = h->funcs[i].addr;
	}
	env.named = named;
	env.nnamed = nnamed;
	if (nslots)
		run_checks(&env, slots, nslots);
out:
	free(named);
	free(slots);
	free(sels);
}

static bool same_fn(const struct persist_fn *a, const struct persist_fn *b)
{
	return pci_addr_cmp(&a->addr, &b->addr) == 0 && a->vendor == b->vendor &&
	       a->device == b->device && a->subvendor == b->subvendor && a->subdevice == b->subdevice &&
	       !strcmp(a->phys_slot, b->phys_slot) && !strcmp(a->path, b->path);
}

/* What persist would record of each readable function, and that apply
 * reads it back as written. */
static void check_persist(struct sysfs *sfs, const struct pci_host *h)
{
	struct persist_fn *fns = calloc(h->nfuncs ? h->nfuncs : 1, sizeof(*fns)), *back = NULL;
	size_t n = 0, nback = 0;
	char *text = NULL;

	if (!fns)
		abort();
	for (size_t i = 0; i < h->nfuncs; i++) {
		if (h->funcs[i].bad & (PCI_BAD_VENDOR | PCI_BAD_DEVICE | PCI_BAD_SUBVENDOR | PCI_BAD_SUBDEVICE))
			continue;
		if (persist_fn_load(sfs, &h->funcs[i], &fns[n]) == 0)
			n++;
	}
	if (persist_render_devices_conf(fns, n, &text) == 0) {
		FUZZ_CHECK(fz_parse_devices_conf(text, &back, &nback) == 0 && nback == n,
			   "devices.conf rendered from the tree does not parse back:\n%s", text);
		for (size_t i = 0; i < n; i++)
			FUZZ_CHECK(same_fn(&fns[i], &back[i]), "function %zu of devices.conf reads back otherwise", i);
	}
	free(back);
	free(text);
	free(fns);
}

/* apply's question for each line of the input's devices.conf. */
static void check_apply(struct sysfs *sfs, const struct pci_host *h)
{
	struct persist_fn *fns = NULL;
	size_t n = 0;

	if (!tree.conf || fz_parse_devices_conf(tree.conf, &fns, &n) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct persist_match m;

		if (persist_match(sfs, h, fns, n, i, &m) != 0)
			continue;
		FUZZ_CHECK(m.kind <= PERSIST_AMBIGUOUS, "persist_match: kind %d", (int)m.kind);
		if (m.kind == PERSIST_HERE || m.kind == PERSIST_MOVED)
			FUZZ_CHECK(pci_host_find(h, &m.now) != NULL, "persist_match found a function not there");
		if (m.kind == PERSIST_MOVED)
			FUZZ_CHECK(m.candidates == 1, "moved, with %zu candidates", m.candidates);
	}
	free(fns);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (tree_init(&tree, "tree"))
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sysfs *sfs;
	struct pci_host h;
	int err;

	if (tree_build(&tree, (const char *)data, size))
		abort();
	err = sysfs_open(tree.sys, &sfs);
	FUZZ_CHECK(err == 0, "sysfs_open %s: %s", tree.sys, strerror(-err));
	/* never the running kernel's: nothing here may reach real devices */
	FUZZ_CHECK(!sfs->live, "%s taken for the live sysfs", tree.sys);
	err = pci_host_load(sfs, &h);
	if (err == 0) {
		struct check_env env = {
			.host = &h,
			.root = tree.root,
			.procroot = tree.has_proc ? tree.proc : NULL,
			.kernel = "6.1.0-18-amd64",
			.refusals_only = tree.refusals_only,
		};

		check_host(&h);
		run_checks(&env, NULL, 0);
		check_selected(&env, &h);
		check_persist(sfs, &h);
		check_apply(sfs, &h);
		pci_host_free(&h);
	}
	sysfs_close(sfs);
	tree_reset(&tree);
	return 0;
}
