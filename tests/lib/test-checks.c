/* check's items on every layout: the right verdict for the right device. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include "checks.h"
#include "testlib.h"

struct run {
	struct tree t;
	struct check_report r;
	char root[32];
};

static void run_checks(struct run *run, const char *layout, const char *const *sel, size_t nsel)
{
	struct pci_addr slots[8];
	struct check_env env = { 0 };

	snprintf(run->root, sizeof(run->root), "/tmp/vh-root-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(run->root));
	tree_open(&run->t, layout);
	for (size_t i = 0; i < nsel; i++)
		slots[i] = addr(sel[i]);
	env.host = &run->t.host;
	env.root = run->root;
	env.procroot = NULL;      /* an emulated tree is not the running kernel's */
	env.kernel = NULL;        /* the running one: the tree's registered vfio-pci counts */
	ck_assert_int_eq(check_run(&env, slots, nsel, &run->r), 0);
}

/* The first item of this id and status whose message starts with text. */
static const struct check_item *find_item(const struct check_report *r, enum check_id id,
					  enum check_status st, const char *text)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->items[i].id == id && r->items[i].status == st &&
		    !strncmp(r->items[i].message, text, strlen(text)))
			return &r->items[i];
	return NULL;
}

/* How many items of this id have this status. */
static int count_items(const struct check_report *r, enum check_id id, enum check_status st)
{
	int n = 0;

	for (size_t i = 0; i < r->n; i++)
		n += r->items[i].id == id && r->items[i].status == st;
	return n;
}

/* ROOT/var/lib/dpkg/status with qemu-system-x86 of this version installed. */
static void write_dpkg_status(const char *root, const char *version)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "mkdir -p '%s/var/lib/dpkg'", root);
	ck_assert_int_eq(system(path), 0);
	snprintf(path, sizeof(path), "%s/var/lib/dpkg/status", root);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "Package: qemu-system-x86\nStatus: install ok installed\nVersion: %s\n\n", version);
	ck_assert_int_eq(fclose(f), 0);
}

static void run_done(struct run *run)
{
	char cmd[64];

	check_report_free(&run->r);
	tree_close(&run->t);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", run->root);
	ck_assert_int_eq(system(cmd), 0);
}

/* The status of the item with this id and device ("" for the host);
 * -1 when there is none. */
static int status(const struct run *run, enum check_id id, const char *device)
{
	for (size_t i = 0; i < run->r.n; i++)
		if (run->r.items[i].id == id &&
		    strcmp(run->r.items[i].device, device) == 0)
			return (int)run->r.items[i].status;
	return -1;
}

static const struct check_item *item(const struct run *run, enum check_id id, const char *device)
{
	for (size_t i = 0; i < run->r.n; i++)
		if (run->r.items[i].id == id &&
		    strcmp(run->r.items[i].device, device) == 0)
			return &run->r.items[i];
	ck_abort_msg("no %s item for '%s'", check_id_name(id), device);
	return NULL;
}

START_TEST(rtx4000_all)
{
	struct run run;

	run_checks(&run, "rtx4000", NULL, 0);
	ck_assert_int_eq(status(&run, CHECK_IOMMU, ""), CHECK_PASS);
	ck_assert_int_eq(status(&run, CHECK_VFIO_PCI, ""), CHECK_PASS);
	ck_assert_int_eq(status(&run, CHECK_GROUP, "0000:01:00.0"), CHECK_PASS);
	ck_assert_int_eq(status(&run, CHECK_BOOT_VGA, "0000:01:00.0"), CHECK_PASS);
	ck_assert_int_eq(status(&run, CHECK_PCIE_LINK, "0000:01:00.0"), CHECK_PASS);
	ck_assert_int_eq(status(&run, CHECK_MODEL, "0000:01:00.0"), CHECK_PASS);
	ck_assert_int_eq(status(&run, CHECK_RESET, "0000:01:00.0"), CHECK_PASS);
	ck_assert_ptr_nonnull(strstr(item(&run, CHECK_MODEL, "0000:01:00.0")->message, "RTX 4000 ADA"));
	/* the BMC console is no candidate: said once, not checked, not failed */
	ck_assert_int_eq(status(&run, CHECK_BOOT_VGA, "0000:03:00.0"), CHECK_WARN);
	ck_assert_ptr_nonnull(strstr(item(&run, CHECK_BOOT_VGA, "0000:03:00.0")->message,
				     "not a candidate"));
	ck_assert_int_eq(status(&run, CHECK_MODEL, "0000:03:00.0"), -1);
	ck_assert_int_eq(status(&run, CHECK_GROUP, "0000:03:00.0"), -1);
	ck_assert_int_eq(run.r.count[CHECK_FAIL], 0);
	/* captured trees: holders are not looked up in this host's /proc */
	ck_assert_int_eq(status(&run, CHECK_IN_USE, "0000:01:00.0"), CHECK_WARN);
	ck_assert_int_eq(status(&run, CHECK_ALEPH, ""), -1);
	run_done(&run);
}
END_TEST

START_TEST(rtx4000_selected)
{
	static const char *const sel[] = { "0000:01:00.0" };
	struct run run;

	run_checks(&run, "rtx4000", sel, 1);
	ck_assert_int_eq(run.r.count[CHECK_FAIL], 0);
	ck_assert_int_eq(status(&run, CHECK_BOOT_VGA, "0000:03:00.0"), -1);
	run_done(&run);
}
END_TEST

START_TEST(gpu_nic)
{
	static const char *const one[] = { "0000:01:00.0" };
	static const char *const both[] = { "0000:01:00.0", "0000:02:00.0" };
	struct run run;

	run_checks(&run, "gpu-nic", one, 1);
	ck_assert_int_eq(status(&run, CHECK_GROUP, "0000:02:00.0"), CHECK_FAIL);
	ck_assert_ptr_nonnull(strstr(item(&run, CHECK_GROUP, "0000:02:00.0")->message, "igb"));
	ck_assert_int_eq(status(&run, CHECK_HOST_USE, "0000:02:00.0"), CHECK_FAIL);
	ck_assert_ptr_nonnull(strstr(item(&run, CHECK_HOST_USE, "0000:02:00.0")->message, "enp2s0"));
	run_done(&run);
	/* named too, the group is viable, but the NIC's link is still up */
	run_checks(&run, "gpu-nic", both, 2);
	ck_assert_int_eq(status(&run, CHECK_GROUP, "0000:01:00.0"), CHECK_PASS);
	ck_assert_int_eq(status(&run, CHECK_HOST_USE, "0000:02:00.0"), CHECK_FAIL);
	run_done(&run);
}
END_TEST

/* One IOMMU group of 1,000 functions (no ACS): every GPU's group item
 * names the first devices on host drivers and counts the rest, instead of
 * listing every one of them for every GPU; the counts add up. */
START_TEST(large_group_counted)
{
	struct run run;
	size_t gpus = 0, named = 0, counted = 0;

	run_checks(&run, "group1000", NULL, 0);
	for (size_t i = 0; i < run.r.n; i++) {
		const struct check_item *it = &run.r.items[i];
		const char *more;

		if (it->id != CHECK_GROUP || it->status != CHECK_FAIL)
			continue;
		more = strstr(it->message, " more devices on host drivers");
		if (more) {
			gpus++;
			while (more > it->message && more[-1] != ' ')
				more--;
			counted += strtoul(more, NULL, 10);
		} else {
			named++;
		}
	}
	/* 16 GPUs, each: 8 named, the rest of the ~490 on host drivers counted */
	ck_assert_uint_eq(gpus, 16);
	ck_assert_uint_eq(named, 16 * 8);
	ck_assert_uint_gt(counted, 16 * 400);
	ck_assert_uint_lt(run.r.n, 16 * 20);
	run_done(&run);
}
END_TEST

/* A NIC whose driver link names nothing still makes the group unviable,
 * and the item says why rather than naming an empty driver. */
START_TEST(gpu_nic_unreadable_driver)
{
	struct pci_addr slot = addr("0000:01:00.0");
	struct check_env env = { 0 };
	struct run run;

	snprintf(run.root, sizeof(run.root), "/tmp/vh-root-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(run.root));
	tree_open(&run.t, "gpu-nic");
	slash_link(&run.t, "0000:02:00.0", "driver");
	tree_reload(&run.t);
	env.host = &run.t.host;
	env.root = run.root;
	env.kernel = "6.1.0-test-amd64";
	ck_assert_int_eq(check_run(&env, &slot, 1, &run.r), 0);
	ck_assert_int_eq(status(&run, CHECK_GROUP, "0000:02:00.0"), CHECK_FAIL);
	ck_assert_ptr_nonnull(strstr(item(&run, CHECK_GROUP, "0000:02:00.0")->message,
				     "on a driver whose link cannot be read"));
	run_done(&run);
}
END_TEST

/* Text read from the tree that holds a newline (reset_method "flr\nbus")
 * stays in the message: only the format's own newline starts the fix, and
 * a PASS has none. */
START_TEST(newline_in_sysfs_text)
{
	struct pci_addr slot = addr("0000:01:00.0");
	struct check_env env = { 0 };
	const struct check_item *it;
	struct run run;

	snprintf(run.root, sizeof(run.root), "/tmp/vh-root-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(run.root));
	tree_open(&run.t, "rtx4000");
	ck_assert_int_eq(fx_set_attr(run.t.fx, "0000:01:00.0", "reset_method", "flr\nrun this\n"), 0);
	tree_reload(&run.t);
	env.host = &run.t.host;
	env.root = run.root;
	env.kernel = "6.1.0-test-amd64";
	ck_assert_int_eq(check_run(&env, &slot, 1, &run.r), 0);
	it = item(&run, CHECK_RESET, "0000:01:00.0");
	ck_assert_int_eq(it->status, CHECK_PASS);
	ck_assert_ptr_null(it->fix);
	ck_assert_str_eq(it->message, "0000:01:00.0 can be reset: flr run this");
	run_done(&run);
}
END_TEST

START_TEST(iommu_off)
{
	struct run run;

	run_checks(&run, "iommu-off", NULL, 0);
	ck_assert_int_eq(status(&run, CHECK_IOMMU, ""), CHECK_FAIL);
	ck_assert_ptr_nonnull(strstr(item(&run, CHECK_IOMMU, "")->fix, "intel_iommu=on"));
	ck_assert_int_eq(status(&run, CHECK_VFIO_PCI, ""), CHECK_FAIL);
	ck_assert_ptr_nonnull(strstr(item(&run, CHECK_VFIO_PCI, "")->message, "/lib/modules/"));
	/* no group at all is the IOMMU's fault, said once */
	ck_assert_int_eq(status(&run, CHECK_GROUP, "0000:01:00.0"), -1);
	/* its one GPU is the console: no candidate without a selector */
	ck_assert_int_eq(status(&run, CHECK_BOOT_VGA, "0000:01:00.0"), CHECK_WARN);
	run_done(&run);
}
END_TEST

/* --kernel: that kernel's modules, not the vfio-pci registered now */
START_TEST(kernel_option)
{
	static const char *const sel[] = { "0000:01:00.0" };
	struct check_env env = { 0 };
	struct run run;
	struct pci_addr slot = addr(sel[0]);

	run_checks(&run, "rtx4000", sel, 1);
	ck_assert_int_eq(status(&run, CHECK_VFIO_PCI, ""), CHECK_PASS);
	check_report_free(&run.r);
	env.host = &run.t.host;
	env.root = run.root;
	env.kernel = "6.1.0-test-amd64";
	ck_assert_int_eq(check_run(&env, &slot, 1, &run.r), 0);
	ck_assert_int_eq(status(&run, CHECK_VFIO_PCI, ""), CHECK_FAIL);
	ck_assert_ptr_nonnull(strstr(item(&run, CHECK_VFIO_PCI, "")->message,
				     "for kernel 6.1.0-test-amd64 (--kernel)"));
	run_done(&run);
}
END_TEST

/* a link the kernel does not give is never a PASS, whatever the port can run */
START_TEST(link_unknown)
{
	static const char *const sel[] = { "0000:01:00.0" };
	struct run run;

	run_checks(&run, "rtx4000-nolink", sel, 1);
	ck_assert_int_eq(status(&run, CHECK_PCIE_LINK, "0000:01:00.0"), CHECK_WARN);
	ck_assert_ptr_nonnull(strstr(item(&run, CHECK_PCIE_LINK, "0000:01:00.0")->message,
				     "unknown"));
	run_done(&run);
}
END_TEST

START_TEST(consumer_link)
{
	static const char *const sel[] = { "0000:01:00.0" };
	struct run run;
	const struct check_item *it;

	/* (the console: checked as a candidate only when selected) */
	run_checks(&run, "consumer4", sel, 1);
	it = item(&run, CHECK_PCIE_LINK, "0000:01:00.0");
	ck_assert_int_eq(it->status, CHECK_WARN);
	ck_assert_ptr_nonnull(strstr(it->message, "PCIe 3.0 x16"));
	ck_assert_ptr_nonnull(strstr(it->message, "now 2.5 GT/s x16"));
	ck_assert_int_eq(status(&run, CHECK_MODEL, "0000:01:00.0"), CHECK_WARN);
	ck_assert_int_eq(status(&run, CHECK_GROUP, "0000:01:00.0"), CHECK_PASS);
	run_done(&run);
}
END_TEST

START_TEST(port_limits_link)
{
	static const char *const sel[] = { "0000:01:00.0" };
	struct run run;
	const struct check_item *it;

	/* a 4.0 card in a slot whose port trains at most 3.0: the port decides */
	run_checks(&run, "rtx4000", sel, 1);
	check_report_free(&run.r);
	ck_assert_int_eq(fx_set_attr(run.t.fx, "0000:00:01.0", "max_link_speed", "8.0 GT/s PCIe\n"), 0);
	ck_assert_int_eq(fx_set_attr(run.t.fx, "0000:00:01.0", "max_link_width", "8\n"), 0);
	tree_reload(&run.t);
	ck_assert_int_eq(check_run(&(struct check_env){ .host = &run.t.host, .root = run.root,
						       .kernel = "6.1.0-test-amd64" },
				   &(struct pci_addr){ 0, 1, 0, 0 }, 1, &run.r), 0);
	it = item(&run, CHECK_PCIE_LINK, "0000:01:00.0");
	ck_assert_int_eq(it->status, CHECK_WARN);
	ck_assert_ptr_nonnull(strstr(it->message, "PCIe 3.0 x8"));
	ck_assert_ptr_nonnull(strstr(it->message, "physical slot 1"));
	run_done(&run);
}
END_TEST

START_TEST(h100_all)
{
	struct run run;
	int gpus = 0;

	run_checks(&run, "h100x8", NULL, 0);
	for (size_t i = 0; i < run.r.n; i++)
		if (run.r.items[i].id == CHECK_MODEL &&
		    strstr(run.r.items[i].message, "H100: premium tier, 24 vCPU"))
			gpus++;
	ck_assert_int_eq(gpus, 8);
	/* the BMC console is no candidate: nothing fails */
	ck_assert_int_eq(run.r.count[CHECK_FAIL], 0);
	ck_assert_int_eq(status(&run, CHECK_BOOT_VGA, "0000:03:00.0"), CHECK_WARN);
	run_done(&run);
}
END_TEST

START_TEST(garbled_no_crash)
{
	struct run run;

	run_checks(&run, "garbled", NULL, 0);
	ck_assert_int_ge((int)run.r.n, 2);
	run_done(&run);
}
END_TEST

START_TEST(aleph_node)
{
	static const char *const sel[] = { "0000:01:00.0" };
	struct check_env env = { .kernel = "6.1.0-test-amd64" };
	struct run run;

	run_checks(&run, "rtx4000", sel, 1);
	write_supervisor_env(run.root, "ALEPH_VM_ENABLE_GPU_SUPPORT=False\n");
	check_report_free(&run.r);
	env.host = &run.t.host;
	env.root = run.root;
	ck_assert_int_eq(check_run(&env, (struct pci_addr[]){ addr(sel[0]) }, 1, &run.r), 0);
	/* GPU support off, no payment address */
	ck_assert_int_eq(count_items(&run.r, CHECK_ALEPH, CHECK_WARN), 2);
	ck_assert_int_eq(count_items(&run.r, CHECK_ALEPH, CHECK_PASS), 0);
	/* no display function on vfio-pci of an unknown vendor */
	ck_assert_int_eq(count_items(&run.r, CHECK_ALEPH_VENDOR, CHECK_PASS), 1);
	/* no QEMU in the root's dpkg database */
	ck_assert_int_eq(count_items(&run.r, CHECK_ALEPH_QEMU, CHECK_WARN), 1);
	write_supervisor_env(run.root, "ALEPH_VM_ENABLE_GPU_SUPPORT=True\n"
		  "ALEPH_VM_PAYMENT_RECEIVER_ADDRESS=0x1234567890abcdef1234567890ABCDEF12345678\n");
	write_dpkg_status(run.root, "1:9.2.1+ds-1");
	check_report_free(&run.r);
	ck_assert_int_eq(check_run(&env, (struct pci_addr[]){ addr(sel[0]) }, 1, &run.r), 0);
	ck_assert_int_eq(count_items(&run.r, CHECK_ALEPH, CHECK_WARN), 0);
	ck_assert_int_eq(count_items(&run.r, CHECK_ALEPH, CHECK_PASS), 2);
	ck_assert_int_eq(count_items(&run.r, CHECK_ALEPH_VENDOR, CHECK_PASS), 1);
	ck_assert_int_eq(count_items(&run.r, CHECK_ALEPH_QEMU, CHECK_PASS), 1);
	/* QEMU 8: the q35 machine aleph-vm uses for GPUs needs 9.0 */
	write_dpkg_status(run.root, "1:8.2.2+ds-0ubuntu1.4");
	check_report_free(&run.r);
	ck_assert_int_eq(check_run(&env, (struct pci_addr[]){ addr(sel[0]) }, 1, &run.r), 0);
	ck_assert_ptr_nonnull(find_item(&run.r, CHECK_ALEPH_QEMU, CHECK_WARN, "QEMU "
					"1:8.2.2+ds-0ubuntu1.4 (package qemu-system-x86) is older than 9.0"));
	run_done(&run);
}
END_TEST

/* The BMC's VGA controller (1a03) on vfio-pci: aleph-vm's detection raises
 * on its vendor; FAIL with GPU support on, WARN with it off, named. */
START_TEST(aleph_unknown_vendor)
{
	static const char *const sel[] = { "0000:01:00.0" };
	struct check_env env = { .kernel = "6.1.0-test-amd64" };
	const struct check_item *it;
	struct run run;

	run_checks(&run, "bmc-vfio", sel, 1);
	write_supervisor_env(run.root, "ALEPH_VM_ENABLE_GPU_SUPPORT=True\n");
	check_report_free(&run.r);
	env.host = &run.t.host;
	env.root = run.root;
	ck_assert_int_eq(check_run(&env, (struct pci_addr[]){ addr(sel[0]) }, 1, &run.r), 0);
	it = find_item(&run.r, CHECK_ALEPH_VENDOR, CHECK_FAIL, "0000:03:00.0 [1a03:2000] is a display "
		       "controller on vfio-pci from a vendor aleph-vm does not know");
	ck_assert_ptr_nonnull(it);
	ck_assert_str_eq(it->device, "0000:03:00.0");
	ck_assert_ptr_nonnull(strstr(it->fix, "vfio-handover rollback --aleph 0000:03:00"));
	write_supervisor_env(run.root, "ALEPH_VM_ENABLE_GPU_SUPPORT=False\n");
	check_report_free(&run.r);
	ck_assert_int_eq(check_run(&env, (struct pci_addr[]){ addr(sel[0]) }, 1, &run.r), 0);
	ck_assert_ptr_nonnull(find_item(&run.r, CHECK_ALEPH_VENDOR, CHECK_WARN, "0000:03:00.0 [1a03:2000]"));
	ck_assert_ptr_null(find_item(&run.r, CHECK_ALEPH_VENDOR, CHECK_FAIL, ""));
	/* the supervisor's trouble: no hand-over refuses on it */
	ck_assert_int_eq(check_id_refusal(CHECK_ALEPH_VENDOR), REFUSAL_NONE);
	run_done(&run);
}
END_TEST

/* The 4000 Ada on vfio-pci, NVIDIA's: no such finding. */
START_TEST(aleph_known_vendor)
{
	static const char *const sel[] = { "0000:01:00.0" };
	struct check_env env = { .kernel = "6.1.0-test-amd64" };
	struct run run;

	run_checks(&run, "rtx4000-vfio", sel, 1);
	write_supervisor_env(run.root, "ALEPH_VM_ENABLE_GPU_SUPPORT=True\n");
	check_report_free(&run.r);
	env.host = &run.t.host;
	env.root = run.root;
	ck_assert_int_eq(check_run(&env, (struct pci_addr[]){ addr(sel[0]) }, 1, &run.r), 0);
	ck_assert_ptr_nonnull(find_item(&run.r, CHECK_ALEPH_VENDOR, CHECK_PASS, "no display controller "
					"on vfio-pci from a vendor aleph-vm does not know"));
	run_done(&run);
}
END_TEST

/* A real process named as the kernel shows nvidia-persistenced (comm is cut
 * at 15 characters) holds the GPU's DRM node: named, with how to release. */
START_TEST(persistenced_holder)
{
	static const char *const sel[] = { "0000:01:00.0" };
	struct check_env env = { .kernel = "6.1.0-test-amd64", .procroot = "/proc" };
	const struct check_item *it;
	struct run run;
	struct stat st;
	int ready[2], found = 0;
	char c;
	pid_t pid;

	ck_assert_int_eq(stat("/dev/null", &st), 0);
	ck_assert_int_eq(pipe(ready), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY);

		prctl(PR_SET_NAME, "nvidia-persistenced");
		if (write(ready[1], "x", 1) != 1 || fd < 0)
			_exit(1);
		pause();
		_exit(0);
	}
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	run_checks(&run, "rtx4000", sel, 1);
	check_report_free(&run.r);
	ck_assert_int_eq(fx_add_drm(run.t.fx, "0000:01:00.0", "card7", major(st.st_rdev),
				    minor(st.st_rdev)), 0);
	env.host = &run.t.host;
	env.root = run.root;
	ck_assert_int_eq(check_run(&env, (struct pci_addr[]){ addr(sel[0]) }, 1, &run.r), 0);
	for (size_t i = 0; i < run.r.n; i++) {
		it = &run.r.items[i];
		if (it->id != CHECK_IN_USE || it->status != CHECK_FAIL || !strstr(it->message, "nvidia-persistenced"))
			continue;
		found++;
		ck_assert_ptr_nonnull(strstr(it->message, "/dev/dri/card7"));
		ck_assert_ptr_nonnull(strstr(it->fix, "systemctl stop nvidia-persistenced"));
		ck_assert_ptr_nonnull(strstr(it->fix, "nvidia-smi -i 0000:01:00.0 -pm 0"));
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ck_assert_int_eq(found, 1);
	run_done(&run);
}
END_TEST

/* bind runs only the checks that can refuse it. */
START_TEST(refusals_only)
{
	struct check_env env = { .kernel = "6.1.0-test-amd64", .refusals_only = true };
	struct run run;

	run_checks(&run, "consumer4", NULL, 0);
	check_report_free(&run.r);
	env.host = &run.t.host;
	env.root = run.root;
	ck_assert_int_eq(check_run(&env, (struct pci_addr[]){ addr("0000:01:00.0") }, 1, &run.r), 0);
	ck_assert_int_eq(status(&run, CHECK_BOOT_VGA, "0000:01:00.0"), CHECK_FAIL);
	ck_assert_int_eq(status(&run, CHECK_GROUP, "0000:01:00.0"), CHECK_PASS);
	ck_assert_int_eq(status(&run, CHECK_IOMMU, ""), CHECK_PASS);
	static const enum check_id not_run[] = {
		CHECK_VFIO_PCI, CHECK_PCIE_LINK, CHECK_MODEL, CHECK_RESET, CHECK_ALEPH,
	};
	for (size_t i = 0; i < sizeof(not_run) / sizeof(not_run[0]); i++)
		for (size_t k = 0; k < run.r.n; k++)
			ck_assert_int_ne(run.r.items[k].id, not_run[i]);
	run_done(&run);
}
END_TEST

/* The running kernel's tree with no procfs to look in: who holds the GPU
 * and what is mounted cannot be known, which must refuse, not pass with a
 * warning as for a captured tree. */
START_TEST(live_without_proc)
{
	struct check_env env = { .kernel = "6.1.0-test-amd64", .refusals_only = true };
	const struct pci_addr gpu = addr("0000:01:00.0");
	struct run run;

	run_checks(&run, "rtx4000", NULL, 0);
	check_report_free(&run.r);
	/* a disk below the GPU's slot, whose mounts cannot be read */
	ck_assert_int_eq(fx_add_nvme(run.t.fx, "0000:01:00.0", "nvme0n1", 259, 0), 0);
	env.host = &run.t.host;
	env.root = run.root;
	ck_assert_int_eq(check_run(&env, &gpu, 1, &run.r), 0);
	ck_assert_int_eq(status(&run, CHECK_IN_USE, "0000:01:00.0"), CHECK_WARN);
	ck_assert_int_eq(status(&run, CHECK_HOST_USE, "0000:01:00.0"), CHECK_WARN);
	check_report_free(&run.r);
	env.live = true;
	ck_assert_int_eq(check_run(&env, &gpu, 1, &run.r), 0);
	ck_assert_int_eq(status(&run, CHECK_IN_USE, "0000:01:00.0"), CHECK_FAIL);
	ck_assert_int_eq(status(&run, CHECK_HOST_USE, "0000:01:00.0"), CHECK_FAIL);
	ck_assert_ptr_nonnull(strstr(item(&run, CHECK_IN_USE, "0000:01:00.0")->message, "/proc is not a procfs"));
	run_done(&run);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("checks");
	TCase *tc = tcase_create("layouts");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, rtx4000_all);
	tcase_add_test(tc, rtx4000_selected);
	tcase_add_test(tc, gpu_nic);
	tcase_add_test(tc, large_group_counted);
	tcase_add_test(tc, gpu_nic_unreadable_driver);
	tcase_add_test(tc, newline_in_sysfs_text);
	tcase_add_test(tc, iommu_off);
	tcase_add_test(tc, kernel_option);
	tcase_add_test(tc, link_unknown);
	tcase_add_test(tc, consumer_link);
	tcase_add_test(tc, port_limits_link);
	tcase_add_test(tc, h100_all);
	tcase_add_test(tc, garbled_no_crash);
	tcase_add_test(tc, aleph_node);
	tcase_add_test(tc, aleph_unknown_vendor);
	tcase_add_test(tc, aleph_known_vendor);
	tcase_add_test(tc, persistenced_holder);
	tcase_add_test(tc, refusals_only);
	tcase_add_test(tc, live_without_proc);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
