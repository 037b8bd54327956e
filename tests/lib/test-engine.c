/* The engine against the emulated kernel: the hand-over and the rollback,
 * and for every fault at every step, the host exactly as it was. */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "engine.h"
#include "fake-kernel.h"
#include "root-path.h"
#include "safety.h"
#include "testlib.h"

/* Under valgrind (check-valgrind sets VH_TEST_SLOW) every forked write is
 * slow: timeouts are scaled, and a hanging write is tried at the first and
 * the last step only (each costs a whole timeout). */
static int slow(void)
{
	const char *s = getenv("VH_TEST_SLOW");

	return s && *s ? atoi(s) : 1;
}

struct bench {
	struct tree t;
	struct fake_kernel *fk;
	struct journal j;
	struct engine e;
	char root[256];
	struct pci_addr *fns;
	size_t nfns;
	char before[8192];
};

static void bench_open(struct bench *b, const char *layout, const char *slot)
{
	struct pci_addr s = addr(slot);

	memset(b, 0, sizeof(*b));
	/* where the fixture is too: make check puts both on tmpfs, where the
	 * journal's fsync after every step costs nothing */
	snprintf(b->root, sizeof(b->root), "%s/vh-eng-XXXXXX",
		 getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(b->root));
	tree_open(&b->t, layout);
	b->fk = fk_new(b->t.fx, b->t.sfs);
	ck_assert_ptr_nonnull(b->fk);
	ck_assert_int_eq(safety_slot_functions(&b->t.host, &s, 1, &b->fns, &b->nfns), 0);
	b->e.sfs = b->t.sfs;
	b->e.root = b->root;
	b->e.timeout_ms = 2000 * slow();
	b->e.journal = &b->j;
	b->e.out = stdout;
	fk_snapshot(b->t.sfs, b->before, sizeof(b->before));
}

/* The bench over the first nslots display slots of a layout, each in an
 * IOMMU group of its own: slots[] gets them. */
static void bench_open_many(struct bench *b, const char *layout, size_t nslots,
			    struct pci_addr *slots)
{
	const struct pci_host *h;
	size_t got = 0;

	bench_open(b, layout, "0000:00:00.0");
	h = &b->t.host;
	for (size_t i = 0; i < h->nfuncs && got < nslots; i++) {
		const struct pci_func *f = &h->funcs[i];

		if (!pci_func_is_display(f) || f->boot_vga == 1 || f->iommu_group < 0 ||
		    (got && pci_same_slot(&slots[got - 1], &f->addr)))
			continue;
		slots[got] = f->addr;
		slots[got++].fn = 0;
	}
	ck_assert_uint_eq(got, nslots);
	free(b->fns);
	ck_assert_int_eq(safety_slot_functions(h, slots, nslots, &b->fns, &b->nfns), 0);
}

static void bench_close(struct bench *b)
{
	char cmd[300];

	journal_free(&b->j);
	free(b->fns);
	fk_free(b->fk);
	tree_close(&b->t);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->root);
	ck_assert_int_eq(system(cmd), 0);
}

static void assert_unchanged(struct bench *b, const char *what)
{
	char now[8192];

	fk_snapshot(b->t.sfs, now, sizeof(now));
	ck_assert_msg(strcmp(now, b->before) == 0, "%s: state differs\nbefore:\n%s\nnow:\n%s",
		      what, b->before, now);
}

static void assert_on_vfio(struct bench *b)
{
	tree_reload(&b->t);
	for (size_t i = 0; i < b->nfns; i++) {
		const struct pci_func *f = pci_host_find(&b->t.host, &b->fns[i]);
		ck_assert_str_eq(f->driver, "vfio-pci");
		ck_assert_str_eq(f->override, "vfio-pci");
	}
}

/* The journal on disk, as rollback after a crash would find it. */
static size_t journal_on_disk(struct bench *b)
{
	struct journal j;
	size_t n;

	ck_assert_int_eq(journal_load(b->root, &j, NULL, 0), 0);
	n = j.n;
	journal_free(&j);
	return n;
}

START_TEST(bind_and_rollback)
{
	struct bench b;
	struct journal_entry *je;

	bench_open(&b, "rtx4000", "0000:01:00.0");
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_DONE);
	ck_assert_int_eq(b.e.writes, 6);        /* override, unbind, probe per function */
	assert_on_vfio(&b);
	ck_assert_uint_eq(journal_on_disk(&b), 2);
	je = journal_find(&b.j, &b.fns[1]);
	ck_assert_str_eq(je->driver, "snd_hda_intel");
	ck_assert_int_eq(je->step, STEP_COMPLETE);
	/* again: already there, nothing written */
	b.e.writes = 0;
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_DONE);
	ck_assert_int_eq(b.e.writes, 0);
	ck_assert_msg(engine_rollback(&b.e, b.fns, b.nfns) == ENGINE_DONE, "rollback: %s: %s",
		      b.e.fault.what, strerror(-b.e.fault.err));
	assert_unchanged(&b, "after rollback");
	ck_assert_uint_eq(journal_on_disk(&b), 0);
	bench_close(&b);
}
END_TEST

/* The caller's read under the locks (e->known) is what bind records when
 * it has driver_override; one without it, or of another function, is
 * read again.  Rollback takes its groups from it. */
START_TEST(bind_takes_what_the_caller_read)
{
	struct bench b;
	struct pci_func k[2];
	const struct pci_func *known[2];

	bench_open(&b, "rtx4000", "0000:01:00.0");
	ck_assert_uint_eq(b.nfns, 2);
	for (size_t i = 0; i < 2; i++) {
		ck_assert_int_eq(pci_func_load_needs(b.t.sfs, &b.fns[i], &k[i], PCI_NEED_OVERRIDE), 0);
		known[i] = &k[i];
	}
	/* as if the caller had read another override than the tree has now */
	snprintf(k[0].override, sizeof(k[0].override), "nvidia");
	/* and the second read without it: read here */
	k[1].loaded &= ~PCI_NEED_OVERRIDE;
	snprintf(k[1].override, sizeof(k[1].override), "bogus");
	b.e.known = known;
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_DONE);
	ck_assert_str_eq(journal_find(&b.j, &b.fns[0])->override, "nvidia");
	ck_assert_str_eq(journal_find(&b.j, &b.fns[1])->override, "");
	assert_on_vfio(&b);
	/* rollback's lanes by the known groups: one of its own each */
	k[0].iommu_group = 90;
	k[1].iommu_group = 91;
	ck_assert_msg(engine_rollback(&b.e, b.fns, b.nfns) == ENGINE_DONE, "rollback: %s",
		      b.e.fault.what);
	tree_reload(&b.t);
	ck_assert_str_eq(pci_host_find(&b.t.host, &b.fns[0])->override, "nvidia");
	ck_assert_str_eq(pci_host_find(&b.t.host, &b.fns[1])->driver, "snd_hda_intel");
	/* a known of another function is not taken */
	known[0] = &k[1];
	known[1] = &k[1];
	b.e.known = known;
	ck_assert_int_eq(fx_set_attr(b.t.fx, "0000:01:00.0", "driver_override", "\n"), 0);
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_DONE);
	ck_assert_str_eq(journal_find(&b.j, &b.fns[0])->override, "");
	b.e.known = NULL;
	ck_assert_int_eq(engine_rollback(&b.e, b.fns, b.nfns), ENGINE_DONE);
	bench_close(&b);
}
END_TEST

/* Rollback goes back to the recorded driver, not to the kernel's default. */
/* A GH200 handed to its variant driver: written to driver_override, read
 * back on it, journaled as the driver handed to; then "already" there
 * (any VFIO driver is), and given back to nvidia. */
START_TEST(bind_to_variant)
{
	static const char *const drivers[] = { "nvgrace_gpu_vfio_pci" };
	struct bench b;
	const struct pci_func *f;
	struct journal disk;

	bench_open(&b, "gh200", "0009:01:00.0");
	ck_assert_uint_eq(b.nfns, 1);
	b.e.drivers = drivers;
	ck_assert_msg(engine_bind(&b.e, b.fns, b.nfns) == ENGINE_DONE, "bind: %s", b.e.fault.what);
	tree_reload(&b.t);
	f = pci_host_find(&b.t.host, &b.fns[0]);
	ck_assert_str_eq(f->driver, "nvgrace_gpu_vfio_pci");
	ck_assert_str_eq(f->override, "nvgrace_gpu_vfio_pci");
	ck_assert(f->vfio);
	ck_assert_str_eq(journal_find(&b.j, &b.fns[0])->vfio_driver, "nvgrace_gpu_vfio_pci");
	ck_assert_int_eq(journal_load(b.root, &disk, NULL, 0), 0);
	ck_assert_str_eq(journal_find(&disk, &b.fns[0])->vfio_driver, "nvgrace_gpu_vfio_pci");
	journal_free(&disk);
	b.e.writes = 0;
	b.e.drivers = NULL;
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_DONE);
	ck_assert_int_eq(b.e.writes, 0);
	ck_assert_int_eq(engine_rollback(&b.e, b.fns, b.nfns), ENGINE_DONE);
	assert_unchanged(&b, "after rollback");
	bench_close(&b);
}
END_TEST

/* Read back on the driver asked for, not on any VFIO driver: handed to
 * vfio-pci's name, a probe that ends on the variant is a failure, undone. */
START_TEST(variant_read_back_exactly)
{
	static const char *const drivers[] = { "vfio-pci" };
	struct bench b;

	bench_open(&b, "gh200", "0009:01:00.0");
	b.e.drivers = drivers;
	/* the override names vfio-pci, the probe binds another VFIO driver */
	fk_wrong_driver(b.fk, "nvgrace_gpu_vfio_pci");
	fk_fail(b.fk, 3, FK_WRONG_DRIVER, 0);
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_FAILED);
	ck_assert_ptr_nonnull(strstr(b.e.fault.what, "nvgrace_gpu_vfio_pci instead of vfio-pci"));
	assert_unchanged(&b, "after the undo");
	bench_close(&b);
}
END_TEST

/* Without a journal entry, rollback takes a function off whatever VFIO
 * driver it is on, and the kernel picks its driver again. */
START_TEST(unjournaled_variant_released)
{
	static const char *const drivers[] = { "nvgrace_gpu_vfio_pci" };
	struct bench b;

	bench_open(&b, "gh200", "0009:01:00.0");
	b.e.drivers = drivers;
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_DONE);
	journal_free(&b.j);
	ck_assert_int_eq(engine_rollback(&b.e, b.fns, b.nfns), ENGINE_DONE);
	assert_unchanged(&b, "after rollback without a journal");
	bench_close(&b);
}
END_TEST

START_TEST(rollback_to_recorded_driver)
{
	struct bench b;

	bench_open(&b, "rtx4000", "0000:01:00.0");
	/* the host had the audio function on vfio-pci's rival pci-stub, by override */
	ck_assert_int_eq(fx_add_driver(b.t.fx, "pci-stub"), 0);
	ck_assert_int_eq(fx_set_driver(b.t.fx, "0000:01:00.1", "pci-stub"), 0);
	ck_assert_int_eq(fx_set_attr(b.t.fx, "0000:01:00.1", "driver_override", "pci-stub\n"), 0);
	fk_snapshot(b.t.sfs, b.before, sizeof(b.before));
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_DONE);
	assert_on_vfio(&b);
	ck_assert_int_eq(engine_rollback(&b.e, b.fns, b.nfns), ENGINE_DONE);
	assert_unchanged(&b, "rollback to pci-stub");
	bench_close(&b);
}
END_TEST

/* After a boot where vfio-pci took the GPU by its ids= option: no journal,
 * and a plain re-probe would give it to vfio-pci again.  rollback drops
 * the ids from vfio-pci and the host drivers get the GPU back. */
START_TEST(rollback_after_ids_boot)
{
	struct bench b;

	bench_open(&b, "rtx4000", "0000:01:00.0");
	ck_assert_int_eq(fk_vfio_ids(b.fk, "10de 27b0\n10de 22bc\n"), 0);
	ck_assert_int_eq(fx_set_driver(b.t.fx, "0000:01:00.0", "vfio-pci"), 0);
	ck_assert_int_eq(fx_set_driver(b.t.fx, "0000:01:00.1", "vfio-pci"), 0);
	ck_assert_int_eq(engine_rollback(&b.e, b.fns, b.nfns), ENGINE_DONE);
	/* per function: unbind, probe (vfio-pci again), remove_id, unbind, probe */
	ck_assert_int_eq(b.e.writes, 10);
	assert_unchanged(&b, "rollback after an ids= boot");
	bench_close(&b);
}
END_TEST

START_TEST(unbound_function)
{
	struct bench b;

	bench_open(&b, "consumer4", "0000:01:00.0");
	ck_assert_int_eq(fx_set_driver(b.t.fx, "0000:01:00.3", NULL), 0);
	fk_snapshot(b.t.sfs, b.before, sizeof(b.before));
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_DONE);
	ck_assert_int_eq(b.e.writes, 11);       /* no unbind for the unbound one */
	assert_on_vfio(&b);
	ck_assert_int_eq(engine_rollback(&b.e, b.fns, b.nfns), ENGINE_DONE);
	assert_unchanged(&b, "unbound stays unbound");
	bench_close(&b);
}
END_TEST

static const struct { enum fk_fault kind; int err; const char *name; } faults[] = {
	{ FK_ERRNO, EBUSY, "EBUSY" },
	{ FK_ERRNO, ENODEV, "ENODEV" },
	{ FK_ERRNO, EINVAL, "EINVAL" },
	{ FK_WRONG_DRIVER, 0, "probe binds another driver" },
	{ FK_HANG, 0, "write never returns" },
};

/* For every fault at every write of a clean hand-over: exit 1, host as before. */
static void fault_matrix(const char *layout, int writes)
{
	for (size_t f = 0; f < sizeof(faults) / sizeof(faults[0]); f++) {
		for (int at = 1; at <= writes; at++) {
			struct bench b;
			char what[128];

			if (faults[f].kind == FK_WRONG_DRIVER && at % 3)
				continue;   /* only probes can bind the wrong driver */
			if (faults[f].kind == FK_HANG && slow() > 1 && at != 1 && at != writes)
				continue;
			bench_open(&b, layout, "0000:01:00.0");
			/* short only where a write hangs on purpose; a loaded machine
			 * (parallel tests, valgrind) must not time out a normal one */
			b.e.timeout_ms = (faults[f].kind == FK_HANG ? 1000 : 10000) * slow();
			fk_fail(b.fk, at, faults[f].kind, faults[f].err);
			snprintf(what, sizeof(what), "%s: %s at write %d", layout, faults[f].name, at);
			ck_assert_msg(engine_bind(&b.e, b.fns, b.nfns) == ENGINE_FAILED, "%s: not FAILED", what);
			ck_assert_msg(b.e.fault.err != 0, "%s: no fault reported", what);
			if (faults[f].kind == FK_HANG)
				ck_assert_int_eq(b.e.fault.err, -ETIMEDOUT);
			assert_unchanged(&b, what);
			ck_assert_msg(journal_on_disk(&b) == 0, "%s: journal not emptied", what);
			bench_close(&b);
		}
	}
}

START_TEST(faults_two_functions)
{
	fault_matrix("rtx4000", 6);
}
END_TEST

START_TEST(faults_four_functions)
{
	fault_matrix("consumer4", 12);
}
END_TEST

/* The undo fails too: exit 4, and the journal keeps what rollback needs. */
START_TEST(undo_fails)
{
	for (int at = 1; at <= 6; at++) {
		struct bench b;
		enum engine_outcome o;

		bench_open(&b, "rtx4000", "0000:01:00.0");
		fk_fail(b.fk, at, FK_ERRNO_FROM, EIO);
		o = engine_bind(&b.e, b.fns, b.nfns);
		if (at == 1) {          /* nothing had changed: nothing to undo */
			ck_assert_int_eq(o, ENGINE_FAILED);
			assert_unchanged(&b, "fault at the first write");
		} else {
			ck_assert_int_eq(o, ENGINE_UNRESTORED);
			ck_assert_uint_ge(journal_on_disk(&b), 1);
			/* once the kernel behaves again, rollback restores it all */
			fk_fail(b.fk, 0, FK_NONE, 0);
			ck_assert_int_eq(engine_rollback(&b.e, b.fns, b.nfns), ENGINE_DONE);
			assert_unchanged(&b, "rollback after a failed undo");
		}
		bench_close(&b);
	}
}
END_TEST

START_TEST(device_vanishes)
{
	struct bench b;

	bench_open(&b, "rtx4000", "0000:01:00.0");
	fk_fail(b.fk, 4, FK_VANISH, 0);       /* the audio function's override */
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_UNRESTORED);
	ck_assert_int_eq(b.e.fault.err, -ENODEV);
	ck_assert_int_eq(pci_addr_cmp(&b.e.fault.fn, &b.fns[1]), 0);
	/* the function still there was given back */
	tree_reload(&b.t);
	ck_assert_str_eq(func(&b.t, "0000:01:00.0")->driver, "nvidia");
	bench_close(&b);
}
END_TEST

/* One writer process does every write of a run, not this process: a write
 * blocked in the kernel cannot hold the tool. */
START_TEST(one_writer_for_a_run)
{
	struct bench b;
	pid_t last;

	bench_open(&b, "rtx4000", "0000:01:00.0");
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_DONE);
	ck_assert_int_eq(engine_rollback(&b.e, b.fns, b.nfns), ENGINE_DONE);
	ck_assert_int_eq(fk_writes(b.fk), 12);
	ck_assert_int_eq(fk_writers(b.fk, &last), 1);
	ck_assert_int_ne(last, getpid());
	bench_close(&b);
	/* stopped and reaped with the tree */
	ck_assert_int_eq(kill(last, 0), -1);
	ck_assert_int_eq(errno, ESRCH);
}
END_TEST

/* A writer that timed out is abandoned; the undo runs in a new one. */
START_TEST(new_writer_after_a_hang)
{
	struct bench b;

	bench_open(&b, "rtx4000", "0000:01:00.0");
	b.e.timeout_ms = 300 * slow();
	fk_fail(b.fk, 3, FK_HANG, 0);
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_FAILED);
	ck_assert_int_eq(b.e.fault.err, -ETIMEDOUT);
	ck_assert_int_eq(fk_writers(b.fk, NULL), 2);
	assert_unchanged(&b, "undo after a hang");
	bench_close(&b);
}
END_TEST

/* The writer keeps the tree, its socket and the backend's descriptor, with
 * stdio on /dev/null: left blocked in the kernel, it holds no lock of ours
 * and no pipe of a caller's. */
START_TEST(writer_holds_nothing_else)
{
	struct bench b;
	char path[64], link[256];
	int lock = open("/dev/zero", O_RDONLY), n = 0;
	struct rlimit lim;
	pid_t w;
	struct dirent *de;
	DIR *d;

	ck_assert_int_ge(lock, 0);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &lim), 0);
	bench_open(&b, "rtx4000", "0000:01:00.0");
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_DONE);
	fk_writers(b.fk, &w);
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)w);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		char p[400];
		ssize_t len;

		/* valgrind keeps its own above the limit it gives the program */
		if (de->d_name[0] == '.' || (rlim_t)fd >= lim.rlim_cur)
			continue;
		n++;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		len = readlink(p, link, sizeof(link) - 1);
		ck_assert_int_gt(len, 0);
		link[len] = '\0';
		if (fd <= 2)
			ck_assert_str_eq(link, "/dev/null");
		else
			ck_assert_msg(strncmp(link, "socket:", 7) == 0 ||
				      strcmp(link, fx_root(b.t.fx)) == 0,
				      "the writer holds fd %d: %s", fd, link);
	}
	closedir(d);
	ck_assert_int_eq(n, 6);     /* stdio, the tree twice (sysfs, fixture), the socket */
	bench_close(&b);
	close(lock);
}
END_TEST

/* driver_override waits on the device's lock, which a blocked unbind holds:
 * on a live sysfs it is read through the writer within the limit, and the
 * function comes out unreadable instead of the tool hanging. */
START_TEST(override_read_that_blocks)
{
	struct bench b;
	struct pci_func f;
	struct pci_addr audio = addr("0000:01:00.1"), display = addr("0000:01:00.0");
	pid_t parent = getpid();

	bench_open(&b, "rtx4000", "0000:01:00.0");
	fk_locked_reads(b.fk, true);    /* as on /sys */
	sysfs_set_read_timeout(b.t.sfs, 300 * slow());
	fk_hang_override_reads(b.fk, "0000:01:00.1");
	ck_assert_int_eq(pci_func_load(b.t.sfs, &audio, &f), 0);
	ck_assert_uint_eq(f.bad, PCI_BAD_OVERRIDE);
	ck_assert(f.blocked);
	ck_assert_int_eq(getpid(), parent);
	/* the next read is answered by a new writer */
	ck_assert_int_eq(pci_func_load(b.t.sfs, &display, &f), 0);
	ck_assert_uint_eq(f.bad, 0);
	ck_assert(!f.blocked);
	ck_assert_str_eq(f.override, "");
	/* the whole tree in one request: the blocked function comes out
	 * unreadable, those before and after it as they are */
	pci_host_free(&b.t.host);
	ck_assert_int_eq(pci_host_load(b.t.sfs, &b.t.host), 0);
	for (size_t i = 0; i < b.t.host.nfuncs; i++) {
		const struct pci_func *g = &b.t.host.funcs[i];

		if (pci_addr_cmp(&g->addr, &audio) == 0) {
			ck_assert(g->blocked);
			ck_assert_uint_eq(g->bad, PCI_BAD_OVERRIDE);
		} else {
			ck_assert(!g->blocked);
			ck_assert_uint_eq(g->bad & PCI_BAD_OVERRIDE, 0);
		}
	}
	ck_assert_uint_gt(b.t.host.nfuncs, 3);
	ck_assert_int_gt(pci_addr_cmp(&b.t.host.funcs[b.t.host.nfuncs - 1].addr, &audio), 0);
	fk_hang_override_reads(b.fk, NULL);
	ck_assert_int_eq(pci_func_load(b.t.sfs, &audio, &f), 0);
	ck_assert_uint_eq(f.bad, 0);
	/* and what the writer reads is the text itself */
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_DONE);
	pci_host_free(&b.t.host);
	ck_assert_int_eq(pci_host_load(b.t.sfs, &b.t.host), 0);
	ck_assert_str_eq(pci_host_find(&b.t.host, &audio)->override, "vfio-pci");
	ck_assert_str_eq(pci_host_find(&b.t.host, &display)->override, "vfio-pci");
	bench_close(&b);
}
END_TEST

/* On a live tree, with reads of driver_override answered within the limit. */
static void bench_live(struct bench *b)
{
	fk_locked_reads(b->fk, true);
	sysfs_set_read_timeout(b->t.sfs, 300 * slow());
	b->e.timeout_ms = 300 * slow();
}

/* The audio function's unbind never returns and holds the device's lock:
 * the undo cannot read its driver_override (it is vfio-pci), and unknown
 * is not "unset": exit 4, the function named, nothing written to it. */
START_TEST(undo_override_unknown)
{
	struct pci_addr audio = addr("0000:01:00.1");
	struct bench b;
	char now[8192];

	bench_open(&b, "rtx4000", "0000:01:00.0");
	bench_live(&b);
	fk_fail(b.fk, 5, FK_HANG_LOCKED, 0);    /* the audio function's unbind */
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_UNRESTORED);
	ck_assert_int_eq(b.e.fault.err, -ETIMEDOUT);
	ck_assert_int_eq(pci_addr_cmp(&b.e.fault.fn, &audio), 0);
	/* its entry stays for rollback; the display function was given back */
	ck_assert_uint_eq(journal_on_disk(&b), 1);
	ck_assert_ptr_nonnull(journal_find(&b.j, &audio));
	/* the unbind returns at last: rollback restores the rest */
	fk_fail(b.fk, 0, FK_NONE, 0);
	fk_hang_override_reads(b.fk, NULL);
	fk_snapshot(b.t.sfs, now, sizeof(now));
	ck_assert_ptr_nonnull(strstr(now, "0000:01:00.1 snd_hda_intel vfio-pci\n"));
	ck_assert_int_eq(engine_rollback(&b.e, b.fns, b.nfns), ENGINE_DONE);
	assert_unchanged(&b, "rollback once the unbind returned");
	bench_close(&b);
}
END_TEST

/* rollback meets a function whose driver_override does not answer (someone
 * else's unbind blocked on it): it is not given back blind, and the others
 * are. */
START_TEST(rollback_override_unknown)
{
	struct pci_addr audio = addr("0000:01:00.1");
	struct bench b;
	char now[8192];

	bench_open(&b, "rtx4000", "0000:01:00.0");
	bench_live(&b);
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_DONE);
	fk_hang_override_reads(b.fk, "0000:01:00.1");
	b.e.writes = 0;
	ck_assert_int_eq(engine_rollback(&b.e, b.fns, b.nfns), ENGINE_UNRESTORED);
	ck_assert_int_eq(b.e.fault.err, -ETIMEDOUT);
	ck_assert_int_eq(pci_addr_cmp(&b.e.fault.fn, &audio), 0);
	ck_assert_ptr_nonnull(strstr(b.e.fault.what, "driver_override"));
	ck_assert_int_eq(b.e.writes, 3);        /* the display function's only */
	fk_hang_override_reads(b.fk, NULL);
	fk_snapshot(b.t.sfs, now, sizeof(now));
	ck_assert_ptr_nonnull(strstr(now, "0000:01:00.0 nvidia -\n"));
	ck_assert_ptr_nonnull(strstr(now, "0000:01:00.1 vfio-pci vfio-pci\n"));
	ck_assert_uint_eq(journal_on_disk(&b), 1);
	ck_assert_int_eq(engine_rollback(&b.e, b.fns, b.nfns), ENGINE_DONE);
	assert_unchanged(&b, "rollback once the override answers");
	bench_close(&b);
}
END_TEST

/* The audio function's unbind never returns, as 6.12 shows it: no lock
 * on driver_override, the driver link gone, uevent still naming the
 * driver, a probe that does nothing.  The undo must not take "no driver,
 * driver_override readable" for a function it can give back: it is
 * reported as still unbinding, nothing written to it, its entry kept; a
 * rollback meanwhile says the same; once the unbind ends, rollback
 * restores it. */
START_TEST(undo_while_unbinding)
{
	struct pci_addr audio = addr("0000:01:00.1");
	struct bench b;
	struct pci_func f;
	char now[8192];
	int writes;

	bench_open(&b, "rtx4000", "0000:01:00.0");
	bench_live(&b);
	fk_fail(b.fk, 5, FK_HANG_UNBINDING, 0);    /* the audio function's unbind */
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_UNRESTORED);
	ck_assert_int_eq(b.e.fault.err, -ETIMEDOUT);
	ck_assert_int_eq(pci_addr_cmp(&b.e.fault.fn, &audio), 0);
	ck_assert_uint_eq(journal_on_disk(&b), 1);
	ck_assert_ptr_nonnull(journal_find(&b.j, &audio));
	/* as the tool sees it now */
	ck_assert_int_eq(pci_func_load(b.t.sfs, &audio, &f), 0);
	ck_assert(f.blocked);
	ck_assert_str_eq(f.unbinding, "snd_hda_intel");
	ck_assert_str_eq(f.override, "vfio-pci");
	ck_assert_str_eq(f.driver, "");
	/* a rollback meanwhile writes nothing to it */
	fk_fail(b.fk, 0, FK_NONE, 0);
	writes = fk_writes(b.fk);
	ck_assert_int_eq(engine_rollback(&b.e, b.fns, b.nfns), ENGINE_UNRESTORED);
	ck_assert_int_eq(pci_addr_cmp(&b.e.fault.fn, &audio), 0);
	ck_assert_ptr_nonnull(strstr(b.e.fault.what, "unbind from snd_hda_intel"));
	ck_assert_int_eq(fk_writes(b.fk), writes);
	/* the unbind ends: rollback gives it back */
	fk_finish_unbinding(b.fk);
	fk_snapshot(b.t.sfs, now, sizeof(now));
	ck_assert_ptr_nonnull(strstr(now, "0000:01:00.1 - vfio-pci\n"));
	ck_assert_int_eq(engine_rollback(&b.e, b.fns, b.nfns), ENGINE_DONE);
	assert_unchanged(&b, "rollback once the unbind ended");
	bench_close(&b);
}
END_TEST

/* A function the journal does not hold, on its host driver, whose
 * driver_override does not answer: not "nothing to undo". */
START_TEST(rollback_unjournaled_override_unknown)
{
	struct bench b;

	bench_open(&b, "rtx4000", "0000:01:00.0");
	bench_live(&b);
	fk_hang_override_reads(b.fk, "0000:01:00.1");
	ck_assert_int_eq(engine_rollback(&b.e, b.fns, b.nfns), ENGINE_UNRESTORED);
	ck_assert_int_eq(b.e.fault.err, -ETIMEDOUT);
	ck_assert_int_eq(fk_writes(b.fk), 0);
	fk_hang_override_reads(b.fk, NULL);
	bench_close(&b);
}
END_TEST

/* The journal's text on disk ("" when there is none). */
static void journal_text(struct bench *b, char *buf, size_t len)
{
	char path[400];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/run/vfio-handover/state.json", b->root);
	f = fopen(path, "r");
	if (f) {
		n = fread(buf, 1, len - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

/* The host driver's module was removed after the hand-over: its driver is
 * not registered.  Where no module can be loaded (a captured tree: no
 * loader), rollback refuses before any write, the journal as it was. */
START_TEST(rollback_driver_missing_no_loader)
{
	char before[4096], after[4096], path[4200], cmd[4300];
	struct bench b;

	bench_open(&b, "rtx4000", "0000:01:00.0");
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_DONE);
	snprintf(path, sizeof(path), "%s/bus/pci/drivers/nvidia", fx_root(b.t.fx));
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	ck_assert_int_eq(system(cmd), 0);
	journal_text(&b, before, sizeof(before));
	ck_assert_uint_gt(strlen(before), 0);
	b.e.writes = 0;
	ck_assert_int_eq(engine_rollback(&b.e, b.fns, b.nfns), ENGINE_FAILED);
	ck_assert_int_eq(b.e.writes, 0);
	ck_assert_int_eq(fk_writes(b.fk), 6);   /* the bind's */
	ck_assert_int_eq(pci_addr_cmp(&b.e.fault.fn, &b.fns[0]), 0);
	ck_assert_ptr_nonnull(strstr(b.e.fault.what, "nvidia"));
	journal_text(&b, after, sizeof(after));
	ck_assert_str_eq(after, before);
	assert_on_vfio(&b);
	bench_close(&b);
}
END_TEST

/* The module loader rollback is given, emulated: what it was asked for,
 * and whether the driver then registers (fx_add_driver) or not. */
static struct {
	struct bench *b;
	int err;                /* what loading returns */
	const char *registers;  /* the driver that then appears, NULL: none */
	char asked[256];
	int calls;
} loader;

static int fake_load_module(const char *name)
{
	loader.calls++;
	snprintf(loader.asked, sizeof(loader.asked), "%s", name);
	if (!loader.err && loader.registers)
		ck_assert_int_eq(fx_add_driver(loader.b->t.fx, loader.registers), 0);
	return loader.err;
}

/* Bound, then the host driver's module removed (its driver unregistered). */
static void bench_driver_removed(struct bench *b, const char *driver)
{
	char path[4200];

	bench_open(b, "rtx4000", "0000:01:00.0");
	ck_assert_int_eq(engine_bind(&b->e, b->fns, b->nfns), ENGINE_DONE);
	snprintf(path, sizeof(path), "rm -rf '%s/bus/pci/drivers/%s'", fx_root(b->t.fx), driver);
	ck_assert_int_eq(system(path), 0);
	memset(&loader, 0, sizeof(loader));
	loader.b = b;
	b->e.load_module = fake_load_module;
	b->e.writes = 0;
}

/* The bind records each host driver's module; built in: none. */
START_TEST(bind_records_modules)
{
	struct bench b;
	struct journal j;

	bench_open(&b, "consumer4", "0000:01:00.0");
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_DONE);
	ck_assert_int_eq(journal_load(b.root, &j, NULL, 0), 0);
	ck_assert_uint_eq(j.n, 4);
	ck_assert(j.e[0].module_known);
	ck_assert_str_eq(j.e[0].module, "nvidia");
	ck_assert_str_eq(j.e[2].driver, "xhci_hcd");
	ck_assert_str_eq(j.e[2].module, "xhci_pci");
	ck_assert_str_eq(j.e[3].driver, "nvidia-gpu");
	ck_assert_str_eq(j.e[3].module, "i2c_nvidia_gpu");
	journal_free(&j);
	bench_close(&b);
}
END_TEST

/* The module loads and the driver registers: rollback goes on. */
START_TEST(rollback_loads_recorded_module)
{
	struct bench b;

	bench_driver_removed(&b, "nvidia");
	loader.registers = "nvidia";
	ck_assert_msg(engine_rollback(&b.e, b.fns, b.nfns) == ENGINE_DONE, "%s", b.e.fault.what);
	ck_assert_int_eq(loader.calls, 1);
	ck_assert_str_eq(loader.asked, "nvidia");
	assert_unchanged(&b, "rollback after loading nvidia");
	ck_assert_uint_eq(journal_on_disk(&b), 0);
	bench_close(&b);
}
END_TEST

/* The module cannot be loaded, or loads without its driver appearing:
 * refused before any write, the journal as it was. */
START_TEST(rollback_module_not_had)
{
	for (int i = 0; i < 2; i++) {
		char before[4096], after[4096];
		struct bench b;

		bench_driver_removed(&b, "nvidia");
		b.e.timeout_ms = 200 * slow();
		loader.err = i == 0 ? -ENOENT : 0;      /* 1: loads, registers nothing */
		journal_text(&b, before, sizeof(before));
		ck_assert_int_eq(engine_rollback(&b.e, b.fns, b.nfns), ENGINE_FAILED);
		ck_assert_int_eq(loader.calls, 1);
		ck_assert_int_eq(b.e.writes, 0);
		ck_assert_int_eq(fk_writes(b.fk), 6);   /* the bind's */
		ck_assert_int_eq(pci_addr_cmp(&b.e.fault.fn, &b.fns[0]), 0);
		ck_assert_ptr_nonnull(strstr(b.e.fault.what, "module nvidia"));
		ck_assert_ptr_nonnull(strstr(b.e.fault.what, "driver nvidia"));
		journal_text(&b, after, sizeof(after));
		ck_assert_str_eq(after, before);
		assert_on_vfio(&b);
		bench_close(&b);
	}
}
END_TEST

/* A version 1 journal has no module: the function's modalias is looked up,
 * as modprobe does. */
START_TEST(rollback_v1_loads_by_modalias)
{
	struct bench b;
	struct journal j;

	bench_driver_removed(&b, "snd_hda_intel");
	ck_assert_int_eq(journal_load(b.root, &j, NULL, 0), 0);
	for (size_t i = 0; i < j.n; i++)
		j.e[i].module_known = false;
	ck_assert_int_eq(journal_save(b.root, &j), 0);
	b.e.journal = &j;
	loader.registers = "snd_hda_intel";
	ck_assert_msg(engine_rollback(&b.e, b.fns, b.nfns) == ENGINE_DONE, "%s", b.e.fault.what);
	ck_assert_int_eq(loader.calls, 1);
	ck_assert_str_eq(loader.asked, func(&b.t, "0000:01:00.1")->modalias);
	assert_unchanged(&b, "rollback after loading by modalias");
	journal_free(&j);
	bench_close(&b);
}
END_TEST

/* --dry-run says it would load the module, and loads nothing. */
START_TEST(rollback_dry_run_loads_nothing)
{
	struct bench b;
	char *text = NULL;
	size_t len = 0;

	bench_driver_removed(&b, "nvidia");
	b.e.dry_run = true;
	b.e.out = open_memstream(&text, &len);
	ck_assert_int_eq(engine_rollback(&b.e, b.fns, b.nfns), ENGINE_DONE);
	fclose(b.e.out);
	ck_assert_int_eq(loader.calls, 0);
	ck_assert_ptr_nonnull(strstr(text, "load module nvidia "));
	ck_assert_int_eq(fk_writes(b.fk), 6);
	free(text);
	bench_close(&b);
}
END_TEST

/* The emulated kernel's driver_override file of a function, as it is. */
static void override_file(struct bench *b, const char *fn, char *buf, size_t len)
{
	char path[4200];
	size_t n = 0;
	FILE *f;

	ck_assert_int_eq(fx_func_path(b->t.fx, fn, path, 4000), 0);
	strcat(path, "/driver_override");
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
}

/* The audio function unbound, its driver_override set to n characters
 * (a name no driver has, so it stays unbound). */
static void set_long_override(struct bench *b, char *ovr, size_t n, char c)
{
	char file[8192];

	memset(ovr, c, n);
	memcpy(ovr, "drv-", 4);
	ovr[n] = '\0';
	snprintf(file, sizeof(file), "%s\n", ovr);
	ck_assert_int_eq(fx_set_driver(b->t.fx, "0000:01:00.1", NULL), 0);
	ck_assert_int_eq(fx_set_attr(b->t.fx, "0000:01:00.1", "driver_override", file), 0);
	fk_free(b->fk);             /* the audio function's default: none */
	b->fk = fk_new(b->t.fx, b->t.sfs);
	ck_assert_ptr_nonnull(b->fk);
}

/* A driver_override of any length the kernel keeps (PAGE_SIZE - 2
 * characters) is recorded and restored exactly: read by this process (a
 * captured tree) and by the writer (live). */
START_TEST(long_override_restored_exactly)
{
	static const size_t lens[] = { 63, 64, 255, 300, 4094 };

	for (int live = 0; live < 2; live++) {
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			char ovr[4100], want[4200], now[8192];
			struct bench b;

			bench_open(&b, "rtx4000", "0000:01:00.0");
			if (live)
				bench_live(&b);
			set_long_override(&b, ovr, lens[i], 'a' + (char)i);
			ck_assert_msg(engine_bind(&b.e, b.fns, b.nfns) == ENGINE_DONE, "%zu: %s",
				      lens[i], b.e.fault.what);
			ck_assert_str_eq(journal_find(&b.j, &b.fns[1])->override, ovr);
			ck_assert_msg(engine_rollback(&b.e, b.fns, b.nfns) == ENGINE_DONE, "%zu: %s",
				      lens[i], b.e.fault.what);
			override_file(&b, "0000:01:00.1", now, sizeof(now));
			snprintf(want, sizeof(want), "%s\n", ovr);
			ck_assert_msg(strcmp(now, want) == 0, "%s, %zu characters: back as %zu",
				      live ? "live" : "captured", lens[i], strlen(now) - 1);
			bench_close(&b);
		}
	}
}
END_TEST

/* A driver_override that cannot be recorded exactly (a control character,
 * bytes past ASCII, longer than a page holds): bind refuses before any
 * write. */
START_TEST(override_not_recordable)
{
	static const char *const bad[] = { "pci\tstub", "pci-st\xc3\xbc" "b" };
	char ovr[4200];

	for (size_t i = 0; i < 3; i++) {
		struct bench b;

		bench_open(&b, "rtx4000", "0000:01:00.0");
		if (i < 2) {
			ck_assert_int_eq(fx_set_driver(b.t.fx, "0000:01:00.1", NULL), 0);
			snprintf(ovr, sizeof(ovr), "%s\n", bad[i]);
			ck_assert_int_eq(fx_set_attr(b.t.fx, "0000:01:00.1", "driver_override", ovr), 0);
		} else {
			set_long_override(&b, ovr, 4095, 'z');     /* a 64 KiB page kernel */
		}
		fk_snapshot(b.t.sfs, b.before, sizeof(b.before));
		ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_FAILED);
		ck_assert_int_eq(fk_writes(b.fk), 0);
		ck_assert_int_eq(pci_addr_cmp(&b.e.fault.fn, &b.fns[1]), 0);
		ck_assert_ptr_nonnull(strstr(b.e.fault.what, "driver_override"));
		ck_assert_uint_eq(journal_on_disk(&b), 0);
		bench_close(&b);
	}
}
END_TEST

/* Killed (SIGKILL) after any write: the journal on disk is enough for
 * rollback to restore the host drivers. */
START_TEST(killed_at_every_step)
{
	for (int at = 1; at <= 6; at++) {
		struct bench b;
		struct journal j;
		int status;
		pid_t pid;

		bench_open(&b, "rtx4000", "0000:01:00.0");
		fk_fail(b.fk, at, FK_KILL, 0);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			engine_bind(&b.e, b.fns, b.nfns);
			_exit(0);
		}
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		fk_fail(b.fk, 0, FK_NONE, 0);
		ck_assert_int_eq(journal_load(b.root, &j, NULL, 0), 0);
		ck_assert_uint_ge(j.n, 1);
		b.e.journal = &j;
		ck_assert_int_eq(engine_rollback(&b.e, b.fns, b.nfns), ENGINE_DONE);
		assert_unchanged(&b, "rollback after SIGKILL");
		ck_assert_uint_eq(j.n, 0);
		journal_free(&j);
		bench_close(&b);
	}
}
END_TEST

/* Run a bind in a child that the emulated kernel kills (SIGKILL) right
 * after write k: the journal on disk stays as the killed run left it. */
static void bind_killed_at(struct bench *b, int k)
{
	int status;
	pid_t pid;

	fk_fail(b->fk, k, FK_KILL, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		engine_bind(&b->e, b->fns, b->nfns);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		      "the first bind was not killed at write %d", k);
	fk_fail(b->fk, 0, FK_NONE, 0);
}

/* A bind killed after write k, then a bind of the same GPU that fails at
 * its write m: the undo gives back everything the journal holds for the
 * selection, the killed run's entries too.  Exit 1 (FAILED) only when
 * the host is exactly as before the first bind, and then the journal
 * holds nothing; otherwise exit 4, and rollback restores the rest. */
static void killed_then_failed(const char *layout, int writes, enum fk_fault kind, int err,
			       const char *fault)
{
	for (int k = 1; k <= writes; k++) {
		bool done = false;

		for (int m = 1; !done; m++) {
			struct bench b;
			struct journal j;
			enum engine_outcome o;
			char now[8192], what[1024];
			bool same;

			ck_assert_int_le(m, 2 * writes + 2);
			bench_open(&b, layout, "0000:01:00.0");
			bind_killed_at(&b, k);
			ck_assert_int_eq(journal_load(b.root, &b.j, NULL, 0), 0);
			ck_assert_uint_ge(b.j.n, 1);
			fk_fail(b.fk, m, kind, err);
			o = engine_bind(&b.e, b.fns, b.nfns);
			fk_fail(b.fk, 0, FK_NONE, 0);
			snprintf(what, sizeof(what), "%s: killed at write %d, then %s at write %d (%s: %s)",
				 layout, k, fault, m, b.e.fault.what, strerror(-b.e.fault.err));
			if (o == ENGINE_DONE) {     /* m is past the second bind's writes */
				assert_on_vfio(&b);
				bench_close(&b);
				done = true;
				continue;
			}
			fk_snapshot(b.t.sfs, now, sizeof(now));
			same = strcmp(now, b.before) == 0;
			ck_assert_msg(o == (same ? ENGINE_FAILED : ENGINE_UNRESTORED),
				      "%s: outcome %s, but the host is %s as before the first bind\n"
				      "before:\n%s\nnow:\n%s", what,
				      o == ENGINE_FAILED ? "FAILED" : "UNRESTORED", same ? "" : "NOT",
				      b.before, now);
			if (same) {
				ck_assert_msg(journal_on_disk(&b) == 0, "%s: restored entries kept", what);
			} else {
				/* the journal keeps what rollback needs, and only that */
				ck_assert_int_eq(journal_load(b.root, &j, NULL, 0), 0);
				tree_reload(&b.t);
				for (size_t i = 0; i < j.n; i++) {
					const struct pci_func *f = pci_host_find(&b.t.host, &j.e[i].addr);

					ck_assert_msg(!f || strcmp(f->driver, j.e[i].driver) ||
						      strcmp(f->override, j.e[i].override), "%s: entry %zu "
						      "kept, its function back as it was", what, i);
				}
				b.e.journal = &j;
				ck_assert_msg(engine_rollback(&b.e, b.fns, b.nfns) == ENGINE_DONE,
					      "%s: rollback: %s", what, b.e.fault.what);
				assert_unchanged(&b, what);
				journal_free(&j);
			}
			bench_close(&b);
		}
	}
}

START_TEST(killed_then_bind_fails)
{
	killed_then_failed("rtx4000", 6, FK_ERRNO, EBUSY, "EBUSY");
	killed_then_failed("rtx4000", 6, FK_WRONG_DRIVER, 0, "probe binds another driver");
	killed_then_failed("rtx4000", 6, FK_ERRNO_FROM, EIO, "EIO from then on");
}
END_TEST

START_TEST(killed_then_bind_fails_four)
{
	killed_then_failed("consumer4", 12, FK_ERRNO, EBUSY, "EBUSY");
}
END_TEST

/* A failed bind gives back what it moved, and only that: a GPU an earlier
 * bind handed over (and verified) was on vfio-pci before this command, so
 * exit 1 ("as before") leaves it there, journaled for rollback. */
START_TEST(failed_bind_keeps_earlier_handover)
{
	struct pci_addr slots[2] = { addr("0000:01:00.0"), addr("0000:02:00.0") }, *both;
	char after_a[8192], now[8192];
	size_t nboth;
	struct bench b;

	bench_open(&b, "twins", "0000:01:00.0");
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_DONE);
	fk_snapshot(b.t.sfs, after_a, sizeof(after_a));
	ck_assert_int_eq(safety_slot_functions(&b.t.host, slots, 2, &both, &nboth), 0);
	ck_assert_uint_eq(nboth, 4);
	/* GPU B's unbind of its display function fails */
	fk_fail(b.fk, 2, FK_ERRNO, EBUSY);
	ck_assert_int_eq(engine_bind(&b.e, both, nboth), ENGINE_FAILED);
	fk_snapshot(b.t.sfs, now, sizeof(now));
	ck_assert_msg(strcmp(now, after_a) == 0, "not as before the failed bind\nbefore:\n%s\nnow:\n%s",
		      after_a, now);
	ck_assert_uint_eq(journal_on_disk(&b), 2);      /* GPU A's entries, for rollback */
	ck_assert_int_eq(engine_rollback(&b.e, b.fns, b.nfns), ENGINE_DONE);
	assert_unchanged(&b, "after rollback");
	free(both);
	bench_close(&b);
}
END_TEST

/* Two GPUs, each in an IOMMU group of its own, are handed over at the same
 * time, and given back at the same time: GPU A's first write returns only
 * once a write about GPU B was made (one after another, it would wait
 * 30 s and the engine's 2 s limit would fail the run). */
START_TEST(groups_at_once)
{
	static const struct { const char *layout; size_t nslots; } cases[] = {
		{ "twins", 2 }, { "h100x8", 8 },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct pci_addr slots[8];
		char slot[PCI_SLOT_LEN];
		struct bench b;

		bench_open_many(&b, cases[c].layout, cases[c].nslots, slots);
		pci_slot_fmt(&slots[0], slot);
		fk_rendezvous(b.fk, slot);
		ck_assert_msg(engine_bind(&b.e, b.fns, b.nfns) == ENGINE_DONE, "%s: bind: %s: %s",
			      cases[c].layout, b.e.fault.what, strerror(-b.e.fault.err));
		assert_on_vfio(&b);
		ck_assert_uint_eq(journal_on_disk(&b), b.nfns);
		fk_rendezvous(b.fk, slot);
		ck_assert_msg(engine_rollback(&b.e, b.fns, b.nfns) == ENGINE_DONE, "%s: rollback: %s",
			      cases[c].layout, b.e.fault.what);
		assert_unchanged(&b, "rolled back at once");
		ck_assert_uint_eq(journal_on_disk(&b), 0);
		bench_close(&b);
	}
}
END_TEST

/* A fault at every write of one GPU while the other's hand-over is in
 * flight: the run is one transaction, so both are back as before (exit
 * 1), the fault is the first one, and the journal is empty. */
static void faults_in_flight(const char *layout, size_t nslots)
{
	for (size_t f = 0; f < sizeof(faults) / sizeof(faults[0]); f++) {
		for (size_t s = 0; s < nslots; s++) {
			struct pci_addr slots[8];
			char slot[PCI_SLOT_LEN], what[160];
			struct bench b;
			int writes;

			bench_open_many(&b, layout, nslots, slots);
			pci_slot_fmt(&slots[s], slot);
			writes = 0;
			for (size_t i = 0; i < b.nfns; i++)
				writes += pci_same_slot(&b.fns[i], &slots[s]) ? 3 : 0;
			bench_close(&b);
			for (int at = 1; at <= writes; at++) {
				if (faults[f].kind == FK_WRONG_DRIVER && at % 3)
					continue;
				if (faults[f].kind == FK_HANG && at != 1 && at != writes)
					continue;
				bench_open_many(&b, layout, nslots, slots);
				b.e.timeout_ms = (faults[f].kind == FK_HANG ? 1000 : 10000) * slow();
				fk_rendezvous(b.fk, slot);
				fk_fail_slot(b.fk, slot, at, faults[f].kind, faults[f].err);
				snprintf(what, sizeof(what), "%s: %s at write %d of %s", layout,
					 faults[f].name, at, slot);
				ck_assert_msg(engine_bind(&b.e, b.fns, b.nfns) == ENGINE_FAILED,
					      "%s: not FAILED (%s)", what, b.e.fault.what);
				ck_assert_msg(strncmp(pci_addr_fmt(&b.e.fault.fn, (char[PCI_ADDR_LEN]){ 0 }),
						      slot, strlen(slot)) == 0,
					      "%s: the fault reported is %s", what, b.e.fault.what);
				assert_unchanged(&b, what);
				ck_assert_msg(journal_on_disk(&b) == 0, "%s: journal not emptied", what);
				bench_close(&b);
			}
		}
	}
}

START_TEST(faults_groups_in_flight)
{
	faults_in_flight("twins", 2);
}
END_TEST

START_TEST(dry_run)
{
	struct bench b;
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	bench_open(&b, "rtx4000", "0000:01:00.0");
	b.e.dry_run = true;
	b.e.out = out;
	ck_assert_int_eq(engine_bind(&b.e, b.fns, b.nfns), ENGINE_DONE);
	fclose(out);
	ck_assert_int_eq(fk_writes(b.fk), 0);
	assert_unchanged(&b, "dry run");
	ck_assert_uint_eq(journal_on_disk(&b), 0);
	ck_assert_ptr_nonnull(strstr(text, "write vfio-pci       to "));
	ck_assert_ptr_nonnull(strstr(text, "/bus/pci/devices/0000:01:00.1/driver/unbind"));
	ck_assert_ptr_nonnull(strstr(text, "/bus/pci/drivers_probe"));
	ck_assert_int_eq(b.e.writes, 6);
	free(text);
	bench_close(&b);
}
END_TEST

START_TEST(journal_roundtrip)
{
	char root[] = "/tmp/vh-jr-XXXXXX", path[128], cmd[64];
	struct journal j = { 0 }, k;
	struct journal_entry e = { .vendor = 0x10de, .device = 0x27b0, .driver = "nvidia",
				   .step = STEP_UNBOUND };
	FILE *fp;

	ck_assert_ptr_nonnull(mkdtemp(root));
	e.addr = addr("0000:01:00.0");
	ck_assert_int_eq(journal_add(&j, &e), 0);
	e.addr = addr("0000:01:00.1");
	strcpy(e.driver, "");
	strcpy(e.override, "pci-stub");
	ck_assert_int_eq(journal_add(&j, &e), 0);
	ck_assert_int_eq(journal_save(root, &j), 0);
	ck_assert_int_eq(journal_load(root, &k, NULL, 0), 0);
	ck_assert_uint_eq(k.n, 2);
	ck_assert_str_eq(k.e[0].driver, "nvidia");
	ck_assert_int_eq(k.e[0].step, STEP_UNBOUND);
	ck_assert_str_eq(k.e[1].driver, "");
	ck_assert_str_eq(k.e[1].override, "pci-stub");
	ck_assert_uint_eq(k.e[1].device, 0x27b0);
	journal_free(&k);
	/* garbage is reported, not trusted */
	snprintf(path, sizeof(path), "%s/run/vfio-handover/state.json", root);
	fp = fopen(path, "w");
	fputs("{\"functions\": [{\"address\": \"../../etc\"}]}", fp);
	fclose(fp);
	ck_assert_int_eq(journal_load(root, &k, NULL, 0), -EBADMSG);
	/* a symlink planted at state.json is refused, never written through */
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(symlink("/dev/null", path), 0);
	ck_assert_int_eq(journal_save(root, &j), -ELOOP);
	ck_assert_int_eq(unlink(path), 0);
	/* an empty journal is no file */
	journal_free(&j);
	ck_assert_int_eq(journal_save(root, &j), 0);
	ck_assert_int_eq(access(path, F_OK), -1);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* The file a crafted link leads to still says "precious". */
static void assert_untouched(const char *path, const char *after)
{
	char text[64] = "";
	FILE *fp = fopen(path, "r");

	ck_assert_ptr_nonnull(fp);
	text[fread(text, 1, sizeof(text) - 1, fp)] = '\0';
	fclose(fp);
	ck_assert_msg(strcmp(text, "precious\n") == 0, "after %s: %s now holds \"%s\"", after, path, text);
}

/* A crafted tree whose function's driver link leads out of it (absolute,
 * or with enough "..") at a directory holding a file named unbind: bind and
 * rollback on the tree's plain files (the default backend, sysfs's real
 * write path) never write, nor truncate, that file. */
static void link_out_of_tree(bool absolute)
{
	char out[] = "/tmp/vh-out-XXXXXX", root[] = "/tmp/vh-eng-XXXXXX", unbind[128], link[4096],
	     target[4096];
	struct pci_addr slot = addr("0000:01:00.0");
	struct pci_addr *fns;
	struct journal j = { 0 };
	struct engine e = { 0 };
	struct tree t;
	size_t n;
	FILE *fp;

	ck_assert_ptr_nonnull(mkdtemp(out));
	ck_assert_ptr_nonnull(mkdtemp(root));
	snprintf(unbind, sizeof(unbind), "%s/unbind", out);
	fp = fopen(unbind, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("precious\n", fp);
	ck_assert_int_eq(fclose(fp), 0);
	tree_open(&t, "rtx4000");
	ck_assert_int_eq(fx_func_path(t.fx, "0000:01:00.0", link, sizeof(link) - 8), 0);
	strcat(link, "/driver");
	/* the function's directory is less than 16 levels below "/" */
	snprintf(target, sizeof(target), "%s%s", absolute ? "" :
		 "../../../../../../../../../../../../../../../..", out);
	ck_assert_int_eq(unlink(link), 0);
	ck_assert_int_eq(symlink(target, link), 0);
	tree_reload(&t);
	ck_assert_int_eq(safety_slot_functions(&t.host, &slot, 1, &fns, &n), 0);
	e.sfs = t.sfs;
	e.root = root;
	e.timeout_ms = 2000 * slow();
	e.journal = &j;
	e.out = stdout;
	engine_bind(&e, fns, n);
	assert_untouched(unbind, absolute ? "bind, absolute link" : "bind, relative link");
	ck_assert_int_lt(sysfs_dev_write(t.sfs, &slot, "driver/unbind", "0000:01:00.0", e.timeout_ms), 0);
	assert_untouched(unbind, "a write to driver/unbind");
	engine_rollback(&e, fns, n);
	assert_untouched(unbind, "rollback");
	free(fns);
	journal_free(&j);
	tree_close(&t);
	snprintf(target, sizeof(target), "rm -rf '%s' '%s'", out, root);
	ck_assert_int_eq(system(target), 0);
}

START_TEST(driver_link_out_of_tree)
{
	for (int walk = 0; walk < 2; walk++) {
		/* openat2, then the walk that stands in for it on older kernels */
		root_force_walk(walk);
		link_out_of_tree(true);
		link_out_of_tree(false);
	}
	root_force_walk(false);
}
END_TEST

/* Nothing in a directory (but . and ..)? */
static bool dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n == 0;
}

/* ROOT/run/vfio-handover planted as an absolute link out of the root, or
 * ROOT/run as a relative one: the journal and the lock land inside the
 * root, as if it were "/", and nothing is made outside it. */
START_TEST(journal_dir_links_stay_inside)
{
	for (int walk = 0; walk < 2; walk++) {
		for (int relative = 0; relative < 2; relative++) {
			char top[] = "/tmp/vh-jl-XXXXXX", root[64], outside[64], link[128], want[256];
			struct journal_entry e = { .vendor = 0x10de, .device = 0x27b0, .driver = "nvidia" };
			struct journal j = { 0 }, back;
			struct stat st;

			ck_assert_ptr_nonnull(mkdtemp(top));
			snprintf(root, sizeof(root), "%s/root", top);
			snprintf(outside, sizeof(outside), "%s/outside", top);
			ck_assert_int_eq(mkdir(root, 0755), 0);
			ck_assert_int_eq(mkdir(outside, 0755), 0);
			if (relative) {
				snprintf(link, sizeof(link), "%s/run", root);
				ck_assert_int_eq(symlink("../outside", link), 0);
				snprintf(want, sizeof(want), "%s/outside/vfio-handover/state.json", root);
			} else {
				snprintf(link, sizeof(link), "%s/run", root);
				ck_assert_int_eq(mkdir(link, 0755), 0);
				strcat(link, "/vfio-handover");
				ck_assert_int_eq(symlink(outside, link), 0);
				snprintf(want, sizeof(want), "%s%s/state.json", root, outside);
			}
			root_force_walk(walk);
			e.addr = addr("0000:01:00.0");
			ck_assert_int_eq(journal_add(&j, &e), 0);
			ck_assert_int_eq(journal_update(root, &j, &e.addr, 1), 0);
			ck_assert_int_eq(journal_load(root, &back, NULL, 0), 0);
			ck_assert_uint_eq(back.n, 1);
			root_force_walk(false);
			ck_assert_msg(stat(want, &st) == 0, "%s: no %s", walk ? "walk" : "openat2", want);
			ck_assert_msg(dir_empty(outside), "%s: %s link: written outside the root",
				      walk ? "walk" : "openat2", relative ? "relative" : "absolute");
			journal_free(&back);
			journal_free(&j);
			snprintf(want, sizeof(want), "rm -rf '%s'", top);
			ck_assert_int_eq(system(want), 0);
		}
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("emulated kernel");

	tcase_set_timeout(tc, 300 * slow());
	tcase_add_test(tc, bind_and_rollback);
	tcase_add_test(tc, bind_takes_what_the_caller_read);
	tcase_add_test(tc, bind_to_variant);
	tcase_add_test(tc, variant_read_back_exactly);
	tcase_add_test(tc, unjournaled_variant_released);
	tcase_add_test(tc, rollback_to_recorded_driver);
	tcase_add_test(tc, rollback_after_ids_boot);
	tcase_add_test(tc, unbound_function);
	tcase_add_test(tc, faults_two_functions);
	tcase_add_test(tc, faults_four_functions);
	tcase_add_test(tc, undo_fails);
	tcase_add_test(tc, device_vanishes);
	tcase_add_test(tc, killed_at_every_step);
	tcase_add_test(tc, one_writer_for_a_run);
	tcase_add_test(tc, new_writer_after_a_hang);
	tcase_add_test(tc, writer_holds_nothing_else);
	tcase_add_test(tc, override_read_that_blocks);
	tcase_add_test(tc, undo_override_unknown);
	tcase_add_test(tc, rollback_override_unknown);
	tcase_add_test(tc, rollback_unjournaled_override_unknown);
	tcase_add_test(tc, undo_while_unbinding);
	tcase_add_test(tc, rollback_driver_missing_no_loader);
	tcase_add_test(tc, bind_records_modules);
	tcase_add_test(tc, rollback_loads_recorded_module);
	tcase_add_test(tc, rollback_module_not_had);
	tcase_add_test(tc, rollback_v1_loads_by_modalias);
	tcase_add_test(tc, rollback_dry_run_loads_nothing);
	tcase_add_test(tc, long_override_restored_exactly);
	tcase_add_test(tc, override_not_recordable);
	tcase_add_test(tc, dry_run);
	tcase_add_test(tc, groups_at_once);
	tcase_add_test(tc, faults_groups_in_flight);
	tcase_add_test(tc, failed_bind_keeps_earlier_handover);
	tcase_add_test(tc, journal_roundtrip);
	tcase_add_test(tc, driver_link_out_of_tree);
	tcase_add_test(tc, journal_dir_links_stay_inside);
	suite_add_tcase(s, tc);
	/* a killed run, then another that fails: many runs of the engine */
	tc = tcase_create("interrupted runs");
	tcase_set_timeout(tc, 600 * slow());
	tcase_add_test(tc, killed_then_bind_fails);
	tcase_add_test(tc, killed_then_bind_fails_four);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
