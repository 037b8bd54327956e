/* The locks of concurrent runs (locks.c) and the journal they share
 * (journal_update): runs on different IOMMU groups go on together, a run
 * waits for one that holds its group and is told who, gives up at its
 * limit, and two runs never lose each other's journal entries. */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "journal.h"
#include "locks.h"
#include "testlib.h"

static char *make_root(void)
{
	char *root = strdup("/tmp/vh-locks-XXXXXX");

	ck_assert_ptr_nonnull(root);
	ck_assert_ptr_nonnull(mkdtemp(root));
	return root;
}

/* A forked run's end: what it holds of the parent's freed first, so that
 * valgrind's leak check at the child's exit (make check-valgrind) finds
 * nothing and the child's status stays the test's own. */
static void child_exit(int status, char *root, struct journal *j)
{
	if (j)
		journal_free(j);
	free(root);
	_exit(status);
}

static void drop_root(char *root)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
	free(root);
}

static struct lock_key group(int g)
{
	return (struct lock_key){ .kind = LOCK_GROUP, .group = g };
}

struct told {
	int calls;
	struct lock_key key;
	struct lock_holder h;
};

static void record_wait(const struct lock_key *key, const struct lock_holder *h, void *data)
{
	struct told *t = data;

	t->calls++;
	t->key = *key;
	t->h = *h;
}

/* Different groups: both at once, no wait. */
START_TEST(different_groups_together)
{
	char *root = make_root();
	struct lock_key a[] = { group(14) }, b[] = { group(15), group(3) };
	struct lockset *la, *lb;
	bool waited = true;

	ck_assert_int_eq(locks_take(root, a, 1, "bind 0000:01:00", 1000, NULL, NULL, &la, NULL,
				    &waited), 0);
	ck_assert(!waited);
	ck_assert_int_eq(locks_take(root, b, 2, "bind 0000:02:00", 1000, NULL, NULL, &lb, NULL,
				    &waited), 0);
	ck_assert(!waited);
	locks_release(la);
	locks_release(lb);
	drop_root(root);
}
END_TEST

/* The same group: the second is told who holds it, once, and gives up at
 * its limit holding nothing (not even the keys it got before). */
START_TEST(same_group_waits_and_gives_up)
{
	char *root = make_root();
	struct lock_key a[] = { group(14) }, b[] = { group(2), group(14) };
	struct lock_holder h;
	struct lockset *la, *lb, *lc;
	struct told t = { 0 };
	bool waited = false;

	ck_assert_int_eq(locks_take(root, a, 1, "bind 0000:01:00", 1000, NULL, NULL, &la, NULL,
				    NULL), 0);
	ck_assert_int_eq(locks_take(root, b, 2, "rollback 0000:01:00", 200, record_wait, &t, &lb, &h,
				    &waited), -ETIMEDOUT);
	ck_assert_ptr_null(lb);
	ck_assert(waited);
	ck_assert_int_eq(t.calls, 1);
	ck_assert_int_eq(t.key.group, 14);
	ck_assert_int_eq(t.h.pid, getpid());
	ck_assert_str_eq(t.h.what, "bind 0000:01:00");
	ck_assert_int_eq(h.pid, getpid());
	ck_assert_str_eq(h.what, "bind 0000:01:00");
	/* group 2 was let go with the rest */
	ck_assert_int_eq(locks_take(root, (struct lock_key[]){ group(2) }, 1, "x", 100, NULL, NULL,
				    &lc, NULL, NULL), 0);
	locks_release(lc);
	locks_release(la);
	drop_root(root);
}
END_TEST

/* A run that waits goes on once the other lets go, and says it waited:
 * the state it read before may have changed. */
START_TEST(waits_then_goes_on)
{
	char *root = make_root();
	struct lock_key a[] = { group(7) };
	struct lockset *la;
	struct told t = { 0 };
	int ready[2], status;
	bool waited = false;
	pid_t holder;
	char c;

	ck_assert_int_eq(pipe(ready), 0);
	holder = fork();
	ck_assert_int_ge(holder, 0);
	if (holder == 0) {
		struct lockset *l;

		if (locks_take(root, a, 1, "bind 0000:41:00", 1000, NULL, NULL, &l, NULL, NULL))
			child_exit(1, root, NULL);
		(void)!write(ready[1], "x", 1);
		usleep(300 * 1000);
		locks_release(l);
		child_exit(0, root, NULL);
	}
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	ck_assert_int_eq(locks_take(root, a, 1, "bind 0000:41:00", 10000, record_wait, &t, &la,
				    NULL, &waited), 0);
	ck_assert(waited);
	ck_assert_int_eq(t.calls, 1);
	ck_assert_int_eq(t.h.pid, holder);
	ck_assert_str_eq(t.h.what, "bind 0000:41:00");
	locks_release(la);
	ck_assert_int_eq(waitpid(holder, &status, 0), holder);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	drop_root(root);
}
END_TEST

/* A run killed while holding its locks holds nothing: the kernel lets go. */
START_TEST(killed_holder_lets_go)
{
	char *root = make_root();
	struct lock_key a[] = { { .kind = LOCK_PERSIST }, group(9) };
	struct lockset *la;
	int ready[2];
	pid_t holder;
	char c;

	ck_assert_int_eq(pipe(ready), 0);
	holder = fork();
	ck_assert_int_ge(holder, 0);
	if (holder == 0) {
		struct lockset *l;

		if (locks_take(root, a, 2, "apply", 1000, NULL, NULL, &l, NULL, NULL))
			child_exit(1, root, NULL);
		(void)!write(ready[1], "x", 1);
		pause();
		child_exit(0, root, NULL);
	}
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	ck_assert_int_eq(locks_take(root, a, 2, "apply", 1000, NULL, NULL, &la, NULL, NULL), 0);
	locks_release(la);
	drop_root(root);
}
END_TEST

static struct journal_entry entry(const char *addr_text, enum handover_step step)
{
	struct journal_entry e = { .vendor = 0x10de, .device = 0x27b0, .step = step };

	ck_assert_int_eq(pci_addr_parse(addr_text, &e.addr), 0);
	snprintf(e.driver, sizeof(e.driver), "nvidia");
	return e;
}

/* Two runs, each with the journal as it read it at its start, save their
 * own entries in turn: neither loses the other's. */
START_TEST(journal_runs_keep_each_other)
{
	char *root = make_root();
	struct journal a = { 0 }, b = { 0 }, disk;
	struct journal_entry ea = entry("0000:01:00.0", STEP_OVERRIDE),
			     eb = entry("0000:02:00.0", STEP_OVERRIDE);

	/* both start from an empty journal */
	ck_assert_int_eq(journal_add(&a, &ea), 0);
	ck_assert_int_eq(journal_update(root, &a, &ea.addr, 1), 0);
	ck_assert_int_eq(journal_add(&b, &eb), 0);
	ck_assert_int_eq(journal_update(root, &b, &eb.addr, 1), 0);
	/* a's next step: b's entry stays */
	a.e[0].step = STEP_VERIFIED;
	ck_assert_int_eq(journal_update(root, &a, &ea.addr, 1), 0);
	ck_assert_int_eq(journal_load(root, &disk, NULL, 0), 0);
	ck_assert_uint_eq(disk.n, 2);
	ck_assert_int_eq(journal_find(&disk, &ea.addr)->step, STEP_VERIFIED);
	ck_assert_int_eq(journal_find(&disk, &eb.addr)->step, STEP_OVERRIDE);
	journal_free(&disk);
	/* a stale copy of b's entry in a's journal is not a's to write */
	ck_assert_int_eq(journal_add(&a, &eb), 0);
	a.e[1].step = STEP_RECORDED;
	ck_assert_int_eq(journal_update(root, &a, &ea.addr, 1), 0);
	ck_assert_int_eq(journal_load(root, &disk, NULL, 0), 0);
	ck_assert_int_eq(journal_find(&disk, &eb.addr)->step, STEP_OVERRIDE);
	journal_free(&disk);
	/* a gives its function back: its entry goes, b's stays */
	a.e[0].gone = true;
	ck_assert_int_eq(journal_update(root, &a, &ea.addr, 1), 0);
	ck_assert_int_eq(journal_load(root, &disk, NULL, 0), 0);
	ck_assert_uint_eq(disk.n, 1);
	ck_assert_ptr_nonnull(journal_find(&disk, &eb.addr));
	journal_free(&disk);
	journal_free(&a);
	journal_free(&b);
	drop_root(root);
}
END_TEST

/* The text of a journal holding e alone, as journal_save writes it. */
static char *journal_text(const struct journal_entry *e)
{
	char *root = make_root(), path[4096], *text = malloc(65536);
	struct journal j = { 0 };
	FILE *fp;
	size_t n;

	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(journal_add(&j, e), 0);
	ck_assert_int_eq(journal_save(root, &j), 0);
	snprintf(path, sizeof(path), "%s%s/state.json", root, JOURNAL_DIR);
	fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	n = fread(text, 1, 65535, fp);
	text[n] = '\0';
	fclose(fp);
	journal_free(&j);
	drop_root(root);
	return text;
}

/* A run remembers the journal as it wrote it, and reads it again only
 * when it changed: replaced by another run (a new file), edited in place
 * (the same file, new times), or removed.  None of those is lost. */
START_TEST(journal_changed_behind_a_run)
{
	char *root = make_root(), path[4096], *text;
	struct journal a = { 0 }, disk;
	struct journal_entry ea = entry("0000:01:00.0", STEP_OVERRIDE),
			     eb = entry("0000:02:00.0", STEP_OVERRIDE),
			     ec = entry("0000:03:00.0", STEP_PROBED);
	FILE *fp;

	snprintf(path, sizeof(path), "%s%s/state.json", root, JOURNAL_DIR);
	ck_assert_int_eq(journal_add(&a, &ea), 0);
	ck_assert_int_eq(journal_update(root, &a, &ea.addr, 1), 0);
	/* edited in place: b's entry where a's was, same inode */
	text = journal_text(&eb);
	fp = fopen(path, "r+");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(ftruncate(fileno(fp), 0), 0);
	ck_assert_uint_eq(fwrite(text, 1, strlen(text), fp), strlen(text));
	ck_assert_int_eq(fclose(fp), 0);
	free(text);
	a.e[0].step = STEP_UNBOUND;
	ck_assert_int_eq(journal_update(root, &a, &ea.addr, 1), 0);
	ck_assert_int_eq(journal_load(root, &disk, NULL, 0), 0);
	ck_assert_uint_eq(disk.n, 2);
	ck_assert_ptr_nonnull(journal_find(&disk, &eb.addr));
	ck_assert_int_eq(journal_find(&disk, &ea.addr)->step, STEP_UNBOUND);
	journal_free(&disk);
	/* removed: a writes its own again */
	ck_assert_int_eq(unlink(path), 0);
	a.e[0].step = STEP_PROBED;
	ck_assert_int_eq(journal_update(root, &a, &ea.addr, 1), 0);
	ck_assert_int_eq(journal_load(root, &disk, NULL, 0), 0);
	ck_assert_uint_eq(disk.n, 1);
	ck_assert_int_eq(journal_find(&disk, &ea.addr)->step, STEP_PROBED);
	journal_free(&disk);
	/* a removes its entry (no file now); c's run writes one; a's next
	 * update keeps it */
	a.e[0].gone = true;
	ck_assert_int_eq(journal_update(root, &a, &ea.addr, 1), 0);
	ck_assert_int_eq(access(path, F_OK), -1);
	{
		struct journal c = { 0 };

		ck_assert_int_eq(journal_add(&c, &ec), 0);
		ck_assert_int_eq(journal_update(root, &c, &ec.addr, 1), 0);
		journal_free(&c);
	}
	ck_assert_int_eq(journal_update(root, &a, &ea.addr, 1), 0);
	ck_assert_int_eq(journal_load(root, &disk, NULL, 0), 0);
	ck_assert_uint_eq(disk.n, 1);
	ck_assert_int_eq(journal_find(&disk, &ec.addr)->step, STEP_PROBED);
	journal_free(&disk);
	journal_free(&a);
	drop_root(root);
}
END_TEST

/* Many runs saving at once, each its own function, many times: every
 * entry is on disk in the end. */
START_TEST(journal_concurrent_updates)
{
	char *root = make_root();
	enum { RUNS = 6, SAVES = 40 };
	struct journal disk;
	pid_t pids[RUNS];

	for (int r = 0; r < RUNS; r++) {
		pids[r] = fork();
		ck_assert_int_ge(pids[r], 0);
		if (pids[r] == 0) {
			char text[PCI_ADDR_LEN];
			struct journal j = { 0 };
			struct journal_entry e;

			snprintf(text, sizeof(text), "0000:%02x:00.0", r + 1);
			e = entry(text, STEP_RECORDED);
			if (journal_add(&j, &e))
				child_exit(1, root, &j);
			for (int k = 0; k < SAVES; k++) {
				j.e[0].step = (enum handover_step)(k % (STEP_VERIFIED + 1));
				if (journal_update(root, &j, &e.addr, 1))
					child_exit(1, root, &j);
			}
			child_exit(0, root, &j);
		}
	}
	for (int r = 0; r < RUNS; r++) {
		int status;

		ck_assert_int_eq(waitpid(pids[r], &status, 0), pids[r]);
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	ck_assert_int_eq(journal_load(root, &disk, NULL, 0), 0);
	ck_assert_uint_eq(disk.n, RUNS);
	journal_free(&disk);
	drop_root(root);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("locks");
	TCase *tc = tcase_create("runs");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, different_groups_together);
	tcase_add_test(tc, same_group_waits_and_gives_up);
	tcase_add_test(tc, waits_then_goes_on);
	tcase_add_test(tc, killed_holder_lets_go);
	tcase_add_test(tc, journal_runs_keep_each_other);
	tcase_add_test(tc, journal_changed_behind_a_run);
	tcase_add_test(tc, journal_concurrent_updates);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
