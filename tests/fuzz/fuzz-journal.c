/* The journal: the input is ROOT/run/vfio-handover/state.json of a scratch
 * root.  What journal_load accepts is a journal rollback can act on (one
 * entry per function, ids of four hex digits, known steps), and saving it
 * to a second root and loading that gives the same entries. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fuzz-util.h"
#include "compat.h"

static char *root_in, *root_out;
static int state_dir = -1;

static void check_entries(const struct journal *j)
{
	char ab[PCI_ADDR_LEN];

	for (size_t i = 0; i < j->n; i++) {
		const struct journal_entry *e = &j->e[i];

		pci_addr_fmt(&e->addr, ab);
		FUZZ_CHECK(e->addr.dev <= 31 && e->addr.fn <= 7, "entry %zu: address %s", i, ab);
		FUZZ_CHECK(e->vendor <= 0xffff && e->device <= 0xffff,
			   "%s: ids %x:%x do not fit the journal's four hex digits", ab, e->vendor, e->device);
		FUZZ_CHECK(e->step <= STEP_COMPLETE, "%s: step %d", ab, (int)e->step);
		FUZZ_CHECK(memchr(e->driver, '\0', sizeof(e->driver)) &&
			   memchr(e->override, '\0', sizeof(e->override)), "%s: string not terminated", ab);
		for (size_t k = 0; k < i; k++)
			FUZZ_CHECK(pci_addr_cmp(&j->e[k].addr, &e->addr) != 0, "%s journaled twice", ab);
	}
}

static void check_same(const struct journal *a, const struct journal *b)
{
	char ab[PCI_ADDR_LEN];

	FUZZ_CHECK(a->n == b->n, "%zu entries saved, %zu loaded back", a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct journal_entry *x = &a->e[i], *y = &b->e[i];

		pci_addr_fmt(&x->addr, ab);
		FUZZ_CHECK(fz_journal_entry_same(x, y),
			   "%s: saved %04x:%04x \"%s\" \"%s\" %s, loaded back %04x:%04x \"%s\" \"%s\" %s",
			   ab, x->vendor, x->device, x->driver, x->override, journal_step_name(x->step),
			   y->vendor, y->device, y->driver, y->override, journal_step_name(y->step));
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char *dir;

	(void)argc;
	(void)argv;
	root_in = fuzz_mkdir("journal/in");
	root_out = fuzz_mkdir("journal/out");
	dir = fuzz_mkdir("journal/in/run/vfio-handover");
	state_dir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (state_dir < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct journal j, again;
	int err;

	if (fuzz_write_at(state_dir, "state.json", data, size))
		abort();
	err = fz_journal_load(root_in, &j);
	if (err) {
		/* refused (-EBADMSG, or whatever validation says): nothing half-loaded */
		FUZZ_CHECK(err < 0 && j.n == 0 && j.e == NULL, "journal_load: %d, %zu entries left", err, j.n);
		return 0;
	}
	check_entries(&j);
	err = journal_save(root_out, &j);
	FUZZ_CHECK(err == 0, "journal_save: %d", err);
	err = fz_journal_load(root_out, &again);
	FUZZ_CHECK(err == 0, "the journal just saved does not load: %d", err);
	check_same(&j, &again);
	journal_free(&again);
	journal_free(&j);
	return 0;
}
