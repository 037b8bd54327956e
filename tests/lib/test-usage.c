/* Who uses a function: a real process holding a device node, mounted and
 * swapped disks, interfaces that are up. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "testlib.h"
#include "usage.h"
#include "util.h"

/* A DRM node numbered like /dev/null, so this very process can hold it. */
START_TEST(real_holder)
{
	struct tree t;
	struct pci_addr fn = addr("0000:01:00.0");
	struct usage u;
	struct holder *ho;
	size_t nho;
	int fd, mine = 0;
	struct stat st;
	char comm[64] = "";
	FILE *fp = fopen("/proc/self/comm", "r");

	ck_assert_ptr_nonnull(fp);
	ck_assert_ptr_nonnull(fgets(comm, sizeof(comm), fp));
	fclose(fp);
	comm[strcspn(comm, "\n")] = '\0';

	ck_assert_int_eq(stat("/dev/null", &st), 0);
	tree_open(&t, "rtx4000");
	ck_assert_int_eq(fx_add_drm(t.fx, "0000:01:00.0", "card9", major(st.st_rdev),
				    minor(st.st_rdev)), 0);
	ck_assert_int_eq(usage_collect(t.sfs, NULL, &fn, 1, &u), 0);
	ck_assert_uint_eq(u.nnodes, 3);     /* card1, renderD128, card9 */
	fd = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(usage_find_holders("/proc", &u, &ho, &nho, NULL), 0);
	for (size_t i = 0; i < nho; i++)
		if (ho[i].pid == getpid()) {
			mine++;
			ck_assert_str_eq(ho[i].node, "/dev/dri/card9");
			ck_assert_str_eq(ho[i].comm, comm);
		}
	ck_assert_int_eq(mine, 1);          /* once, however many descriptors */
	free(ho);
	close(fd);
	usage_free(&u);
	tree_close(&t);
}
END_TEST

/* /proc/self/fd larger than one read of the directory (4 KiB of entries):
 * the holder's descriptor is the last one, in a later batch. */
START_TEST(holder_behind_many_descriptors)
{
	struct tree t;
	struct pci_addr fn = addr("0000:01:00.0");
	struct usage u;
	struct holder *ho;
	size_t nho;
	int fds[400], fd, mine = 0;
	struct stat st;

	ck_assert_int_eq(stat("/dev/null", &st), 0);
	tree_open(&t, "rtx4000");
	ck_assert_int_eq(fx_add_drm(t.fx, "0000:01:00.0", "card9", major(st.st_rdev),
				    minor(st.st_rdev)), 0);
	ck_assert_int_eq(usage_collect(t.sfs, NULL, &fn, 1, &u), 0);
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		ck_assert_int_ge((fds[i] = open("/dev/zero", O_RDONLY)), 0);
	fd = open("/dev/null", O_RDONLY);
	ck_assert_int_gt(fd, fds[399]);
	ck_assert_int_eq(usage_find_holders("/proc", &u, &ho, &nho, NULL), 0);
	for (size_t i = 0; i < nho; i++)
		mine += ho[i].pid == getpid();
	ck_assert_int_eq(mine, 1);
	free(ho);
	close(fd);
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		close(fds[i]);
	usage_free(&u);
	tree_close(&t);
}
END_TEST

/* dir/NNNNxxx...: entry i of whole_reads_to_the_end, 1 + i % 255 bytes long
 * (at least its four digits). */
static void iter_path(const char *dir, int i, char *path, size_t len)
{
	char name[300];
	int n = 1 + i % 255;

	snprintf(name, sizeof(name), "%04d", i);
	memset(name + 4, 'x', (size_t)(n > 4 ? n - 4 : 0));
	name[n > 4 ? n : 4] = '\0';
	snprintf(path, len, "%s/%s", dir, name);
}

/* dir_iter_init_whole: a directory of many reads' worth, its names of every
 * length up to the longest, is read to its last entry, each once. */
START_TEST(whole_reads_to_the_end)
{
	char dir[] = "/tmp/vh-iter.XXXXXX", path[600];
	const struct dirent64 *de;
	struct dir_iter it;
	static bool seen[700];
	size_t n = 0;
	int fd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	for (int i = 0; i < 700; i++) {
		iter_path(dir, i, path, sizeof(path));
		fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		ck_assert_int_ge(fd, 0);
		close(fd);
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	dir_iter_init_whole(&it, fd);
	while ((de = dir_iter_next(&it))) {
		int i = atoi(de->d_name);

		ck_assert(i >= 0 && i < 700 && !seen[i]);
		seen[i] = true;
		n++;
	}
	ck_assert_int_eq(errno, 0);
	ck_assert_uint_eq(n, 700);
	close(fd);
	for (int i = 0; i < 700; i++) {
		iter_path(dir, i, path, sizeof(path));
		unlink(path);
	}
	rmdir(dir);
}
END_TEST

START_TEST(no_nodes_no_scan)
{
	struct usage u = { 0 };
	struct holder *ho;
	size_t nho;

	ck_assert_int_eq(usage_find_holders("/nonexistent", &u, &ho, &nho, NULL), 0);
	ck_assert_uint_eq(nho, 0);
}
END_TEST

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
}

START_TEST(disks_and_interfaces)
{
	struct tree t;
	struct pci_addr fns[2] = { addr("0000:00:17.0"), addr("0000:00:1f.6") };
	char proc[] = "/tmp/vh-proc-XXXXXX", self[64], cmd[128];
	struct usage u;
	int mounted = 0;

	ck_assert_ptr_nonnull(mkdtemp(proc));
	snprintf(self, sizeof(self), "%s/self", proc);
	ck_assert_int_eq(mkdir(self, 0755), 0);
	write_file(self, "mountinfo", "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n");
	write_file(proc, "swaps", "Filename\tType\tSize\tUsed\tPriority\n");
	tree_open(&t, "rtx4000");
	ck_assert_int_eq(usage_collect(t.sfs, NULL, fns, 2, &u), 0);
	ck_assert_uint_eq(u.nifs, 1);
	ck_assert_str_eq(u.ifs[0].name, "eno1");
	ck_assert(u.ifs[0].up);
	ck_assert_uint_eq(u.ndisks, 2);     /* sda and sda1 */
	ck_assert_int_eq(usage_disk_use(t.sfs, proc, &u), 0);
	for (size_t i = 0; i < u.ndisks; i++)
		if (strcmp(u.disks[i].name, "sda1") == 0) {
			ck_assert_str_eq(u.disks[i].use, "mounted on /");
			mounted++;
		} else {
			ck_assert_str_eq(u.disks[i].use, "");
		}
	ck_assert_int_eq(mounted, 1);
	usage_free(&u);
	/* swap counts as use */
	write_file(self, "mountinfo", "");
	write_file(proc, "swaps", "Filename\tType\tSize\tUsed\tPriority\n/dev/sda1 partition 1024 0 -2\n");
	ck_assert_int_eq(usage_collect(t.sfs, NULL, fns, 1, &u), 0);
	ck_assert_int_eq(usage_disk_use(t.sfs, proc, &u), 0);
	for (size_t i = 0; i < u.ndisks; i++)
		if (strcmp(u.disks[i].name, "sda1") == 0)
			ck_assert_str_eq(u.disks[i].use, "in use as swap");
	usage_free(&u);
	/* an interface that is down is not in use */
	ck_assert_int_eq(fx_add_net(t.fx, "0000:01:00.0", "usb0", 0), 0);
	ck_assert_int_eq(usage_collect(t.sfs, NULL, fns, 1, &u), 0);
	usage_free(&u);
	fns[0] = addr("0000:01:00.0");
	ck_assert_int_eq(usage_collect(t.sfs, NULL, fns, 1, &u), 0);
	ck_assert_uint_eq(u.nifs, 1);
	ck_assert(!u.ifs[0].up);
	usage_free(&u);
	tree_close(&t);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", proc);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* A class device's "dev" is MAJ:MIN in decimal: anything else (sscanf's
 * %u took signs, spaces, and numbers past 32 bits) is no device number. */
START_TEST(device_numbers)
{
	static const char *const bad[] = { "-1:-1\n", " 226:1\n", "226:+1\n", "99999999999:1\n", "226:\n" };
	struct tree t;
	struct pci_addr gpu = addr("0000:01:00.0");
	struct usage u;

	tree_open(&t, "rtx4000");
	ck_assert_int_eq(usage_collect(t.sfs, NULL, &gpu, 1, &u), 0);
	ck_assert_uint_eq(u.nnodes, 2);     /* card1 and renderD128 */
	usage_free(&u);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(fx_set_attr(t.fx, "0000:01:00.0", "drm/card1/dev", bad[i]), 0);
		ck_assert_int_eq(usage_collect(t.sfs, NULL, &gpu, 1, &u), 0);
		ck_assert_msg(u.nnodes == 1 && u.nodes[0].dev == makedev(226, 128),
			      "dev \"%s\" taken for a device number", bad[i]);
		usage_free(&u);
	}
	tree_close(&t);
}
END_TEST

/* flags that are not a number say nothing: operstate decides, never a
 * number strtoul made up from the garbage (0: down). */
START_TEST(garbled_flags)
{
	struct tree t;
	struct pci_addr nic = addr("0000:00:1f.6");
	struct usage u;

	tree_open(&t, "rtx4000");
	ck_assert_int_eq(fx_set_attr(t.fx, "0000:00:1f.6", "net/eno1/flags", "zzz\n"), 0);
	ck_assert_int_eq(usage_collect(t.sfs, NULL, &nic, 1, &u), 0);
	ck_assert_uint_eq(u.nifs, 1);
	ck_assert_msg(u.ifs[0].up, "eno1 with flags \"zzz\" and operstate up taken as down");
	usage_free(&u);
	ck_assert_int_eq(fx_set_attr(t.fx, "0000:00:1f.6", "net/eno1/operstate", "down\n"), 0);
	ck_assert_int_eq(usage_collect(t.sfs, NULL, &nic, 1, &u), 0);
	ck_assert(!u.ifs[0].up);
	usage_free(&u);
	tree_close(&t);
}
END_TEST

START_TEST(nvidia_minor)
{
	struct tree t;
	struct pci_addr fn = addr("0000:01:00.0");
	char proc[] = "/tmp/vh-proc-XXXXXX", dir[256], cmd[300];
	struct usage u;

	ck_assert_ptr_nonnull(mkdtemp(proc));
	snprintf(dir, sizeof(dir), "%s/driver/nvidia/gpus/0000:01:00.0", proc);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	write_file(dir, "information", "Model: \t\t NVIDIA RTX 4000 SFF Ada Generation\n"
		   "IRQ:   \t\t 160\nDevice Minor: \t 3\nBus Location: \t 0000:01:00.0\n");
	tree_open(&t, "rtx4000");
	ck_assert_int_eq(usage_collect(t.sfs, proc, &fn, 1, &u), 0);
	ck_assert_uint_eq(u.nnodes, 3);
	ck_assert_str_eq(u.nodes[2].name, "/dev/nvidia3");
	ck_assert(u.nodes[2].dev == makedev(195, 3));
	usage_free(&u);
	tree_close(&t);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", proc);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* A VM's hold on /dev/vfio/<group>: a node numbered like /dev/null, held by us. */
START_TEST(vfio_group_holder)
{
	char dev[] = "/tmp/vh-dev-XXXXXX", path[128], cmd[160];
	struct holder *ho;
	size_t n;
	int fd, mine = 0;

	ck_assert_ptr_nonnull(mkdtemp(dev));
	snprintf(path, sizeof(path), "%s/vfio", dev);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/vfio/14", dev);
	ck_assert_int_eq(symlink("/dev/null", path), 0);
	fd = open("/dev/null", O_RDWR);
	ck_assert_int_eq(usage_vfio_group_holders(dev, "/proc", 14, &ho, &n, NULL), 0);
	for (size_t i = 0; i < n; i++)
		if (ho[i].pid == getpid()) {
			mine++;
			ck_assert_str_eq(ho[i].node, path);
		}
	ck_assert_int_eq(mine, 1);
	free(ho);
	close(fd);
	/* no such group node: nobody holds it */
	ck_assert_int_eq(usage_vfio_group_holders(dev, "/proc", 15, &ho, &n, NULL), 0);
	ck_assert_uint_eq(n, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dev);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* A process that holds a file on a FUSE mount whose daemon never answers
 * (a hung NFS server looks the same): a stat of its descriptor would wait
 * for good, so the scan must not stat what is not a device node.  The
 * mount lives in a mount namespace of this test's own. */
START_TEST(holder_on_hung_mount)
{
	char dir[] = "/tmp/vh-hung-XXXXXX", opts[96];
	struct devnode node = { 0 };
	struct usage u = { .nodes = &node, .nnodes = 1 };
	struct holder_scan scan = { .deadline_ms = monotonic_ms() + 5000 };
	struct holder *ho;
	struct stat st;
	size_t nho;
	pid_t holder;
	int fuse;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	fuse = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", fuse);
	if (fuse < 0 || unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("vh-hung", dir, "fuse", MS_NOSUID | MS_NODEV, opts) < 0) {
		fprintf(stderr, "holder_on_hung_mount: no FUSE mount here (%s): not tested\n",
			strerror(errno));
		rmdir(dir);
		return;
	}
	holder = fork();
	ck_assert_int_ge(holder, 0);
	if (holder == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* the mount's root needs no answer from the daemon to be held */
		if (open(dir, O_PATH | O_DIRECTORY) < 0)
			_exit(1);
		pause();
		_exit(0);
	}
	/* the node looked for: /dev/null, held by nobody in particular */
	ck_assert_int_eq(stat("/dev/null", &st), 0);
	node.dev = st.st_rdev;
	snprintf(node.name, sizeof(node.name), "/dev/null");
	usleep(200 * 1000);
	ck_assert_int_eq(usage_find_holders("/proc", &u, &ho, &nho, &scan), 0);
	ck_assert_int_eq(scan.unscanned, 0);
	free(ho);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	close(fuse);            /* aborts the connection */
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}
END_TEST

/* Past the deadline the rest of the processes are counted, not read. */
START_TEST(scan_deadline)
{
	struct devnode node = { 0 };
	struct usage u = { .nodes = &node, .nnodes = 1 };
	struct holder_scan scan = { .deadline_ms = 1 };   /* long past */
	struct holder *ho;
	struct stat st;
	size_t nho;
	int fd;

	ck_assert_int_eq(stat("/dev/null", &st), 0);
	node.dev = st.st_rdev;
	fd = open("/dev/null", O_RDONLY);
	ck_assert_int_eq(usage_find_holders("/proc", &u, &ho, &nho, &scan), 0);
	ck_assert_uint_eq(nho, 0);
	ck_assert_int_gt(scan.unscanned, 0);
	free(ho);
	scan.deadline_ms = monotonic_ms() + 10000;
	ck_assert_int_eq(usage_find_holders("/proc", &u, &ho, &nho, &scan), 0);
	ck_assert_int_eq(scan.unscanned, 0);
	ck_assert_uint_gt(nho, 0);
	free(ho);
	close(fd);
}
END_TEST

/* rollback's check for a running VM looks at every IOMMU group of the
 * selection, however many: here the last of 900-odd groups is held. */
START_TEST(vm_holders_every_group)
{
	char dev[] = "/tmp/vh-dev-XXXXXX", path[128], cmd[160];
	struct pci_addr *fns, last = { 0 };
	struct holder *ho;
	struct tree t;
	size_t n, nho, mine = 0;
	int fd, groups = 0, group = -1;

	tree_open(&t, "big1000");
	fns = calloc(t.host.nfuncs, sizeof(*fns));
	ck_assert_ptr_nonnull(fns);
	for (n = 0; n < t.host.nfuncs; n++) {
		fns[n] = t.host.funcs[n].addr;
		if (t.host.funcs[n].iommu_group > group) {
			group = t.host.funcs[n].iommu_group;
			last = fns[n];
			groups++;
		}
	}
	ck_assert_int_gt(groups, 64);
	ck_assert_ptr_nonnull(mkdtemp(dev));
	snprintf(path, sizeof(path), "%s/vfio", dev);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/vfio/%d", dev, group);
	ck_assert_int_eq(symlink("/dev/null", path), 0);
	fd = open("/dev/null", O_RDWR);
	ck_assert_int_eq(usage_vm_holders(&t.host, fns, n, dev, "/proc", &ho, &nho, NULL), 0);
	for (size_t i = 0; i < nho; i++)
		if (ho[i].pid == getpid()) {
			mine++;
			ck_assert_str_eq(ho[i].node, path);
			ck_assert_int_eq(pci_addr_cmp(&ho[i].fn, &last), 0);
		}
	ck_assert_uint_eq(mine, 1);
	free(ho);
	close(fd);
	free(fns);
	tree_close(&t);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dev);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("usage");
	TCase *tc = tcase_create("core");

	/* the scans read every process of this machine: slow when it is busy */
	tcase_set_timeout(tc, 60);

	tcase_add_test(tc, real_holder);
	tcase_add_test(tc, holder_behind_many_descriptors);
	tcase_add_test(tc, whole_reads_to_the_end);
	tcase_add_test(tc, no_nodes_no_scan);
	tcase_add_test(tc, disks_and_interfaces);
	tcase_add_test(tc, nvidia_minor);
	tcase_add_test(tc, device_numbers);
	tcase_add_test(tc, garbled_flags);
	tcase_add_test(tc, vfio_group_holder);
	tcase_add_test(tc, holder_on_hung_mount);
	tcase_add_test(tc, scan_deadline);
	suite_add_tcase(s, tc);

	/* it reads every descriptor of every process in /proc: on a loaded
	 * machine that takes more than Check's default 4 s */
	tc = tcase_create("every-process");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, vm_holders_every_group);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
