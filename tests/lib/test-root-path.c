/* Paths inside a root: --root and --sysfs resolved as if each were "/",
 * by openat2(RESOLVE_IN_ROOT) and by the component walk used where the
 * kernel has no openat2; and which --root is the host. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "atomic-file.h"
#include "kmodules.h"
#include "persist-target.h"
#include "root-path.h"
#include "testlib.h"
#include "util.h"

static char *mkroot(void)
{
	char tmpl[] = "/tmp/vh-rootpath-XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	return strdup(tmpl);
}

static void rm_rf(char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	free(dir);
}

/* The host is "/" by identity, whatever the spelling. */
START_TEST(host_by_identity)
{
	char *root = mkroot(), path[4096];

	ck_assert(root_is_host(NULL));
	ck_assert(root_is_host(""));
	ck_assert(root_is_host("/"));
	ck_assert(root_is_host("/."));
	ck_assert(root_is_host("//"));
	ck_assert(root_is_host("/usr/.."));
	ck_assert(root_is_host("/tmp/.."));
	snprintf(path, sizeof(path), "%s/slash", root);
	ck_assert_int_eq(symlink("/", path), 0);
	ck_assert(root_is_host(path));
	ck_assert(!root_is_host(root));
	snprintf(path, sizeof(path), "%s/.", root);
	ck_assert(!root_is_host(path));
	ck_assert(!root_is_host("/tmp"));
	ck_assert(!root_is_host("/nonexistent-vh-root"));
	rm_rf(root);
}
END_TEST

/* ---- a root with links of every kind, and a directory beside it ---- */

struct box {
	char *top;              /* the temporary directory holding both */
	char root[256], outside[256];
	int rootfd;
	char *before;           /* what outside held */
};

static void put(const char *dir, const char *rel, const char *text)
{
	char path[1024];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	fp = fopen(path, "w");
	ck_assert_msg(fp != NULL, "%s: %s", path, strerror(errno));
	fputs(text, fp);
	ck_assert_int_eq(fclose(fp), 0);
}

static void link_at(const char *dir, const char *rel, const char *target)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	ck_assert_msg(symlink(target, path) == 0, "%s: %s", path, strerror(errno));
}

static void dir_at(const char *dir, const char *rel)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	ck_assert_int_eq(mkdir(path, 0755), 0);
}

static bool exists_at(const char *dir, const char *rel)
{
	char path[1024];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return lstat(path, &st) == 0;
}

/* A ".NAME.XXXXXX" left in dir/rel by an atomic write. */
static bool temp_left(const char *dir, const char *rel)
{
	char path[1024];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	d = opendir(path);
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (de->d_name[0] == '.' && strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			found = true;
	closedir(d);
	return found;
}

/* Every path under dir with its type, size, link target and content. */
static char *listing(const char *dir)
{
	char cmd[600], *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len), *in;
	int c;

	snprintf(cmd, sizeof(cmd), "cd '%s' && find . -printf '%%p %%y %%s %%l\\n' | sort && "
		 "find . -type f -exec md5sum {} + | sort", dir);
	in = popen(cmd, "r");
	ck_assert_ptr_nonnull(in);
	while ((c = fgetc(in)) != EOF)
		fputc(c, out);
	ck_assert_int_eq(pclose(in), 0);
	fclose(out);
	return text;
}

/*
 * ROOT/etc/file            "inside"
 * ROOT/elsewhere/file      "re-rooted"      where /elsewhere leads
 * ROOT/outside/file        "clamped"        where ../../outside leads
 * ROOT/abs -> OUTSIDE (its absolute path), ROOT/abs-in -> /elsewhere
 * ROOT/etc/up -> ../../outside, ROOT/etc/far -> ../../../../../../../../../..OUTSIDE
 * ROOT/loop1 <-> ROOT/loop2, ROOT/self -> self, ROOT/dangling -> /made-by-create
 * ROOT/magic -> /proc/self/root, ROOT/magic-fd -> /proc/self/fd/0
 * OUTSIDE/file "outside", OUTSIDE/unbind "precious": never read, written
 * or removed through the root (box_close checks).
 */
static void box_open(struct box *b, bool walk)
{
	char far[512];

	memset(b, 0, sizeof(*b));
	b->top = mkroot();
	snprintf(b->root, sizeof(b->root), "%s/root", b->top);
	snprintf(b->outside, sizeof(b->outside), "%s/outside", b->top);
	ck_assert_int_eq(mkdir(b->root, 0755), 0);
	ck_assert_int_eq(mkdir(b->outside, 0755), 0);
	put(b->outside, "file", "outside\n");
	put(b->outside, "unbind", "precious\n");
	dir_at(b->root, "etc");
	dir_at(b->root, "elsewhere");
	dir_at(b->root, "outside");
	put(b->root, "etc/file", "inside\n");
	put(b->root, "elsewhere/file", "re-rooted\n");
	put(b->root, "outside/file", "clamped\n");
	link_at(b->root, "abs", b->outside);
	link_at(b->root, "abs-in", "/elsewhere");
	link_at(b->root, "etc/up", "../../outside");
	snprintf(far, sizeof(far), "../../../../../../../../../..%s", b->outside);
	link_at(b->root, "etc/far", far);
	link_at(b->root, "loop1", "loop2");
	link_at(b->root, "loop2", "loop1");
	link_at(b->root, "self", "self");
	link_at(b->root, "dangling", "/made-by-create");
	link_at(b->root, "magic", "/proc/self/root");
	link_at(b->root, "magic-fd", "/proc/self/fd/0");
	b->rootfd = root_dir_open(b->root);
	ck_assert_int_ge(b->rootfd, 0);
	b->before = listing(b->outside);
	root_force_walk(walk);
}

static void box_close(struct box *b)
{
	char *after = listing(b->outside);

	root_force_walk(false);
	ck_assert_msg(strcmp(after, b->before) == 0, "outside the root changed:\n%s\nwas:\n%s",
		      after, b->before);
	free(after);
	free(b->before);
	close(b->rootfd);
	rm_rf(b->top);
}

static const char *way(bool walk)
{
	return walk ? "walk" : "openat2";
}

/* path inside the box's root holds text. */
static void assert_reads(struct box *b, bool walk, const char *path, int flags, const char *text)
{
	char *got = NULL;
	int err = root_read_file(b->rootfd, path, flags, 4096, &got, NULL, NULL);

	ck_assert_msg(err == 0, "%s: %s: %s", way(walk), path, strerror(-err));
	ck_assert_msg(strcmp(got, text) == 0, "%s: %s holds \"%s\", not \"%s\"", way(walk), path,
		      got, text);
	free(got);
}

/* root_open(path, flags) fails with want. */
static void assert_fails(struct box *b, bool walk, const char *path, int flags, int want)
{
	int fd = root_open(b->rootfd, path, flags, 0644);

	if (fd >= 0)
		close(fd);
	ck_assert_msg(fd == want, "%s: %s: %s, expected %s", way(walk), path,
		      fd >= 0 ? "opened" : strerror(-fd), strerror(-want));
}

/* Both ways of resolving: openat2, then the walk of its fallback. */
#define BOTH_WAYS for (int walk = 0; walk < 2; walk++)

START_TEST(links_stay_inside)
{
	BOTH_WAYS {
		struct box b;

		box_open(&b, walk);
		assert_reads(&b, walk, "/etc/file", 0, "inside\n");
		assert_reads(&b, walk, "etc/file", 0, "inside\n");
		assert_reads(&b, walk, "abs-in/file", 0, "re-rooted\n");
		assert_reads(&b, walk, "/etc/up/file", 0, "clamped\n");
		/* ".." stops at the root */
		assert_reads(&b, walk, "../../../../etc/file", 0, "inside\n");
		assert_reads(&b, walk, "/../etc/../../etc/./file", 0, "inside\n");
		assert_reads(&b, walk, "etc/../../../outside/file", 0, "clamped\n");
		/* an absolute link, or enough "..", leads to ROOT/OUTSIDE: not there */
		assert_fails(&b, walk, "abs/file", O_RDONLY, -ENOENT);
		assert_fails(&b, walk, "etc/far/file", O_RDONLY, -ENOENT);
		assert_fails(&b, walk, "abs/unbind", O_WRONLY | O_TRUNC, -ENOENT);
		assert_fails(&b, walk, "etc/far/unbind", O_WRONLY | O_TRUNC, -ENOENT);
		assert_fails(&b, walk, "abs/new", O_WRONLY | O_CREAT, -ENOENT);
		/* a link to a file, as the last component: followed inside */
		link_at(b.root, "etc/to-file", "/elsewhere/file");
		assert_reads(&b, walk, "etc/to-file", 0, "re-rooted\n");
		box_close(&b);
	}
}
END_TEST

/* Once the path a link names exists inside the root, that is what opens. */
START_TEST(absolute_link_re_rooted)
{
	BOTH_WAYS {
		char inside[512];
		struct box b;
		int fd;

		box_open(&b, walk);
		fd = root_mkdir_p(b.rootfd, b.outside, 0755);
		ck_assert_int_ge(fd, 0);
		close(fd);
		snprintf(inside, sizeof(inside), "%s%s", b.root, b.outside);
		put(inside, "file", "inside, at the link's path\n");
		assert_reads(&b, walk, "abs/file", 0, "inside, at the link's path\n");
		assert_reads(&b, walk, "etc/far/file", 0, "inside, at the link's path\n");
		box_close(&b);
	}
}
END_TEST

START_TEST(loops_and_dangling)
{
	BOTH_WAYS {
		struct box b;
		char made[512];
		int fd;

		box_open(&b, walk);
		assert_fails(&b, walk, "loop1", O_RDONLY, -ELOOP);
		assert_fails(&b, walk, "loop2/x", O_RDONLY, -ELOOP);
		assert_fails(&b, walk, "self", O_RDONLY, -ELOOP);
		assert_fails(&b, walk, "dangling", O_RDONLY, -ENOENT);
		/* O_NOFOLLOW: a link at the end is refused, links on the way followed */
		assert_fails(&b, walk, "abs-in", O_RDONLY | O_NOFOLLOW, -ELOOP);
		assert_reads(&b, walk, "abs-in/file", O_NOFOLLOW, "re-rooted\n");
		/* O_CREAT through a dangling link makes its target, inside */
		fd = root_open(b.rootfd, "dangling", O_WRONLY | O_CREAT, 0644);
		ck_assert_int_ge(fd, 0);
		close(fd);
		snprintf(made, sizeof(made), "%s/made-by-create", b.root);
		ck_assert_int_eq(access(made, F_OK), 0);
		box_close(&b);
	}
}
END_TEST

/* A magic link is refused (RESOLVE_NO_MAGICLINKS); one planted in the
 * root is resolved inside it, where /proc is not. */
START_TEST(magic_links)
{
	BOTH_WAYS {
		int host = root_dir_open("/"), fd = open("/dev/null", O_RDONLY | O_CLOEXEC), got;
		char path[64];
		struct box b;

		box_open(&b, walk);
		assert_fails(&b, walk, "magic/etc", O_RDONLY, -ENOENT);
		assert_fails(&b, walk, "magic-fd", O_RDONLY, -ENOENT);
		ck_assert_int_ge(host, 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ck_assert_int_eq(root_open(host, path, O_RDONLY, 0), -ELOOP);
		ck_assert_int_eq(root_open(host, "/proc/self/root/etc", O_RDONLY, 0), -ELOOP);
		ck_assert_int_eq(root_open(host, "/proc/self/cwd", O_PATH, 0), -ELOOP);
		/* /proc/self itself is a plain link */
		got = root_open(host, "/proc/self/status", O_RDONLY, 0);
		ck_assert_msg(got >= 0, "%s: /proc/self/status: %s", way(walk), strerror(-got));
		close(got);
		close(fd);
		close(host);
		box_close(&b);
	}
}
END_TEST

START_TEST(files_and_directories)
{
	BOTH_WAYS {
		struct box b;
		const char *name;
		struct stat a, c;
		int fd;

		box_open(&b, walk);
		assert_fails(&b, walk, "etc/file", O_RDONLY | O_DIRECTORY, -ENOTDIR);
		assert_fails(&b, walk, "etc/file/x", O_RDONLY, -ENOTDIR);
		assert_fails(&b, walk, "etc/none/x", O_RDONLY, -ENOENT);
		fd = root_open(b.rootfd, "abs-in", O_RDONLY | O_DIRECTORY, 0);
		ck_assert_int_ge(fd, 0);
		close(fd);
		/* O_PATH without O_NOFOLLOW follows the last link too */
		fd = root_open(b.rootfd, "abs-in", O_PATH, 0);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(fstat(fd, &a), 0);
		ck_assert(S_ISDIR(a.st_mode));
		close(fd);
		/* the root itself, however it is named */
		fd = root_open(b.rootfd, "/", O_RDONLY | O_DIRECTORY, 0);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(fstat(fd, &a), 0);
		ck_assert_int_eq(fstat(b.rootfd, &c), 0);
		ck_assert(a.st_ino == c.st_ino && a.st_dev == c.st_dev);
		close(fd);
		fd = root_open(b.rootfd, "etc/..", O_PATH, 0);
		ck_assert_int_eq(fstat(fd, &a), 0);
		ck_assert(a.st_ino == c.st_ino);
		close(fd);
		/* the parent of a path reached through a link, and its last name */
		fd = root_open_parent(b.rootfd, "/abs-in/file", &name);
		ck_assert_int_ge(fd, 0);
		ck_assert_str_eq(name, "file");
		ck_assert_int_eq(fstatat(fd, name, &a, 0), 0);
		ck_assert_int_eq(a.st_size, 10);
		close(fd);
		ck_assert_int_eq(root_open_parent(b.rootfd, "/etc/..", &name), -EINVAL);
		ck_assert_int_eq(root_open_parent(b.rootfd, "/etc/", &name), -EINVAL);
		box_close(&b);
	}
}
END_TEST

/* mkdir -p through a planted directory link makes its target inside. */
START_TEST(mkdir_through_links)
{
	BOTH_WAYS {
		char inside[512];
		struct box b;
		int fd;

		box_open(&b, walk);
		link_at(b.root, "etc/modprobe.d", "/some/where");
		link_at(b.root, "etc/rel.d", "../../outside/sub");
		fd = root_mkdir_p(b.rootfd, "/etc/modprobe.d/deeper", 0755);
		ck_assert_msg(fd >= 0, "%s: %s", way(walk), strerror(-fd));
		close(fd);
		ck_assert(exists_at(b.root, "some/where/deeper"));
		fd = root_mkdir_p(b.rootfd, "/etc/rel.d", 0755);
		ck_assert_int_ge(fd, 0);
		close(fd);
		ck_assert(exists_at(b.root, "outside/sub"));
		/* the absolute link to OUTSIDE: made at ROOT/OUTSIDE */
		fd = root_mkdir_p(b.rootfd, "abs/new", 0755);
		ck_assert_int_ge(fd, 0);
		close(fd);
		snprintf(inside, sizeof(inside), "%s%s", b.root, b.outside);
		ck_assert(exists_at(inside, "new"));
		/* existing: opened; a file on the way: not a directory */
		fd = root_mkdir_p(b.rootfd, "etc", 0755);
		ck_assert_int_ge(fd, 0);
		close(fd);
		ck_assert_int_eq(root_mkdir_p(b.rootfd, "etc/file/x", 0755), -ENOTDIR);
		ck_assert_int_eq(root_mkdir_p(b.rootfd, "loop1/x", 0755), -ELOOP);
		box_close(&b);
	}
}
END_TEST

/* Removing a link removes the link; writing refuses one planted at the
 * target, and replaces the file atomically otherwise. */
START_TEST(remove_and_replace)
{
	BOTH_WAYS {
		const char *name;
		struct box b;
		struct stat st;
		int dfd;

		box_open(&b, walk);
		ck_assert_int_eq(root_unlink(b.rootfd, "/abs"), 0);
		ck_assert(!exists_at(b.root, "abs"));
		ck_assert_int_eq(root_unlink(b.rootfd, "/etc/up"), 0);
		ck_assert(exists_at(b.root, "outside/file"));
		ck_assert_int_eq(root_rmdir(b.rootfd, "/abs-in"), -ENOTDIR);
		ck_assert_int_eq(root_rmdir(b.rootfd, "/etc"), -ENOTEMPTY);
		ck_assert_int_eq(root_unlink(b.rootfd, "/etc/none"), -ENOENT);
		/* a link at the target: refused, its target untouched */
		link_at(b.root, "etc/conf", "/elsewhere/file");
		dfd = root_open_parent(b.rootfd, "/etc/conf", &name);
		ck_assert_int_ge(dfd, 0);
		ck_assert_int_eq(atomic_write_at(dfd, name, "new\n"), -ELOOP);
		assert_reads(&b, walk, "elsewhere/file", 0, "re-rooted\n");
		ck_assert_int_eq(atomic_write_at(dfd, "file", "replaced\n"), 0);
		assert_reads(&b, walk, "etc/file", 0, "replaced\n");
		ck_assert_int_eq(fstatat(dfd, "file", &st, 0), 0);
		ck_assert_uint_eq(st.st_mode & 07777, 0644);
		ck_assert_int_eq(fchmodat(dfd, "file", 0600, 0), 0);
		ck_assert_int_eq(atomic_write_at(dfd, "file", "again\n"), 0);
		ck_assert_int_eq(fstatat(dfd, "file", &st, 0), 0);
		ck_assert_uint_eq(st.st_mode & 07777, 0600);
		ck_assert_int_eq(atomic_write_at(dfd, "..", "x"), -EINVAL);
		/* replace_at puts a file in place of the link itself */
		ck_assert_int_eq(atomic_replace_at(dfd, name, "over the link\n", NULL), 0);
		assert_reads(&b, walk, "etc/conf", O_NOFOLLOW, "over the link\n");
		assert_reads(&b, walk, "elsewhere/file", 0, "re-rooted\n");
		close(dfd);
		ck_assert_msg(!temp_left(b.root, "etc"), "a temporary file was left in etc");
		box_close(&b);
	}
}
END_TEST

/* Reading: whole regular files only, never waiting on a FIFO. */
START_TEST(read_whole_files)
{
	BOTH_WAYS {
		char path[512], *text;
		struct box b;
		size_t len;

		box_open(&b, walk);
		snprintf(path, sizeof(path), "%s/etc/fifo", b.root);
		ck_assert_int_eq(mkfifo(path, 0644), 0);
		ck_assert_int_eq(root_read_file(b.rootfd, "etc/fifo", 0, 100, &text, NULL, NULL), -EINVAL);
		ck_assert_ptr_null(text);
		ck_assert_int_eq(root_read_file(b.rootfd, "etc", 0, 100, &text, NULL, NULL), -EINVAL);
		ck_assert_int_eq(root_read_file(b.rootfd, "etc/file", 0, 3, &text, NULL, NULL), -EFBIG);
		ck_assert_int_eq(root_read_file(b.rootfd, "etc/none", 0, 3, &text, NULL, NULL), -ENOENT);
		ck_assert_int_eq(root_read_file(b.rootfd, "etc/up", O_NOFOLLOW, 100, &text, NULL, NULL),
				 -ELOOP);
		ck_assert_int_eq(root_read_file(b.rootfd, "etc/file", 0, 7, &text, &len, NULL), 0);
		ck_assert_uint_eq(len, 7);
		free(text);
		box_close(&b);
	}
}
END_TEST

/* Below a directory, through plain directories only. */
START_TEST(below_a_directory)
{
	BOTH_WAYS {
		struct box b;
		int dfd, fd;

		box_open(&b, walk);
		dfd = root_open(b.rootfd, "/", O_PATH | O_DIRECTORY, 0);
		ck_assert_int_ge(dfd, 0);
		fd = root_open_below(dfd, "etc/file", O_RDONLY);
		ck_assert_int_ge(fd, 0);
		close(fd);
		ck_assert_int_eq(root_open_below(dfd, "abs-in/file", O_RDONLY), -ELOOP);
		ck_assert_int_eq(root_open_below(dfd, "abs-in", O_RDONLY | O_DIRECTORY), -ELOOP);
		ck_assert_int_eq(root_open_below(dfd, "abs-in", O_PATH), -ELOOP);
		ck_assert_int_eq(root_open_below(dfd, "etc/up", O_RDONLY), -ELOOP);
		ck_assert_int_eq(root_open_below(dfd, "../x", O_RDONLY), -EXDEV);
		ck_assert_int_eq(root_open_below(dfd, "/etc/file", O_RDONLY), -EXDEV);
		ck_assert_int_eq(root_open_below(dfd, "etc/none", O_RDONLY), -ENOENT);
		ck_assert_int_eq(root_open_below(dfd, "etc/file/x", O_RDONLY), -ENOTDIR);
		close(dfd);
		box_close(&b);
	}
}
END_TEST

/* A name longer than a directory entry can be, a path longer than PATH_MAX. */
START_TEST(too_long)
{
	BOTH_WAYS {
		char name[300], *path = malloc(10000);
		struct box b;

		box_open(&b, walk);
		memset(name, 'a', sizeof(name) - 1);
		name[sizeof(name) - 1] = '\0';
		assert_fails(&b, walk, name, O_RDONLY, -ENAMETOOLONG);
		memset(path, '/', 9999);
		path[9999] = '\0';
		ck_assert_int_eq(root_open(b.rootfd, path, O_RDONLY, 0), -ENAMETOOLONG);
		free(path);
		box_close(&b);
	}
}
END_TEST

/* An image whose directories are absolute links: ROOT/lib -> /usr/lib
 * (merged /usr), ROOT/usr/sbin -> /opt/sbin.  Its kernels and its
 * initramfs builder are the image's own, never the host's. */
START_TEST(kernels_and_builders_inside)
{
	BOTH_WAYS {
		char *top = mkroot(), root[300], release[64];

		snprintf(root, sizeof(root), "%s/root", top);
		ck_assert_int_eq(mkdir(root, 0755), 0);
		dir_at(root, "usr");
		dir_at(root, "usr/lib");
		dir_at(root, "usr/lib/modules");
		dir_at(root, "usr/lib/modules/6.1.0-18-amd64");
		dir_at(root, "usr/lib/modules/6.9.0-1-amd64");
		put(root, "usr/lib/modules/6.99.0-not-a-dir", "");
		dir_at(root, "opt");
		dir_at(root, "opt/sbin");
		put(root, "opt/sbin/dracut", "#!/bin/sh\n");
		link_at(root, "lib", "/usr/lib");
		link_at(root, "usr/sbin", "/opt/sbin");
		root_force_walk(walk);
		ck_assert_int_eq(kmodules_newest_release(root, release, sizeof(release)), 0);
		ck_assert_str_eq(release, "6.9.0-1-amd64");
		ck_assert(persist_detect_dracut(root));
		root_force_walk(false);
		rm_rf(top);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("root-path");
	TCase *tc = tcase_create("host");

	tcase_add_test(tc, host_by_identity);
	suite_add_tcase(s, tc);
	tc = tcase_create("inside the root");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, links_stay_inside);
	tcase_add_test(tc, absolute_link_re_rooted);
	tcase_add_test(tc, loops_and_dangling);
	tcase_add_test(tc, magic_links);
	tcase_add_test(tc, files_and_directories);
	tcase_add_test(tc, mkdir_through_links);
	tcase_add_test(tc, remove_and_replace);
	tcase_add_test(tc, read_whole_files);
	tcase_add_test(tc, below_a_directory);
	tcase_add_test(tc, too_long);
	tcase_add_test(tc, kernels_and_builders_inside);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return run_suite(suite());
}
