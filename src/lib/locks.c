#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>
#include "journal.h"
#include "locks.h"
#include "root-path.h"
#include "util.h"

/* How often a waiting run tries again: a lock is held for the time of a
 * hand-over, tens of milliseconds to seconds; polling at this rate costs
 * nothing a guest with one CPU would notice. */
#define RETRY_MS 20

struct lockset {
	int *fd;
	size_t n;
};

const char *lock_file_name(const struct lock_key *key, char *buf, size_t len)
{
	char ab[PCI_ADDR_LEN];

	switch (key->kind) {
	case LOCK_PERSIST:
		snprintf(buf, len, "lock.persist");
		break;
	case LOCK_GROUP:
		snprintf(buf, len, "lock.group.%d", key->group);
		break;
	case LOCK_FUNCTION:
		snprintf(buf, len, "lock.function.%s", pci_addr_fmt(&key->fn, ab));
		break;
	}
	return buf;
}

static int key_cmp(const void *x, const void *y)
{
	const struct lock_key *a = x, *b = y;

	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->kind == LOCK_GROUP)
		return a->group < b->group ? -1 : a->group > b->group;
	if (a->kind == LOCK_FUNCTION)
		return pci_addr_cmp(&a->fn, &b->fn);
	return 0;
}

static void read_holder(int fd, struct lock_holder *h)
{
	char buf[200];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char *sp;

	memset(h, 0, sizeof(*h));
	if (n <= 0)
		return;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	h->pid = (pid_t)atoi(buf);
	sp = strchr(buf, ' ');
	if (sp)
		snprintf(h->what, sizeof(h->what), "%s", sp + 1);
}

/* Say who holds it now, for the message of a run that waits. */
static int write_holder(int fd, const char *what)
{
	char buf[200];
	int n = snprintf(buf, sizeof(buf), "%d %s\n", (int)getpid(), what);

	if (n < 0 || (size_t)n >= sizeof(buf))
		n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		return -errno;
	return 0;
}

/* One lock, within the deadline. */
static int take_one(int dfd, const struct lock_key *key, const char *what, long deadline,
		    lock_wait_fn wait, void *data, struct lock_holder *blocker, bool *waited)
{
	struct lock_holder h;
	char name[64];
	bool told = false;
	int fd, err;

	fd = openat(dfd, lock_file_name(key, name, sizeof(name)),
		    O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0644);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		struct timespec ts = { 0, RETRY_MS * 1000000L };

		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			err = -errno;
			close(fd);
			return err;
		}
		read_holder(fd, &h);
		if (!told && wait)
			wait(key, &h, data);
		told = true;
		*waited = true;
		if (monotonic_ms() >= deadline) {
			if (blocker)
				*blocker = h;
			close(fd);
			return -ETIMEDOUT;
		}
		nanosleep(&ts, NULL);
	}
	err = write_holder(fd, what);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int locks_take(const char *root, const struct lock_key *keys, size_t n, const char *what,
	       int timeout_ms, lock_wait_fn wait, void *data, struct lockset **out,
	       struct lock_holder *blocker, bool *waited)
{
	long deadline = monotonic_ms() + timeout_ms;
	struct lock_key *sorted = NULL;
	struct lockset *ls;
	bool any_wait = false;
	int rootfd, dfd = -1, err = 0;

	*out = NULL;
	ls = calloc(1, sizeof(*ls));
	sorted = calloc(n ? n : 1, sizeof(*sorted));
	if (ls)
		ls->fd = calloc(n ? n : 1, sizeof(*ls->fd));
	if (!ls || !sorted || !ls->fd) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(sorted, keys, n * sizeof(*keys));
	qsort(sorted, n, sizeof(*sorted), key_cmp);
	rootfd = root_dir_open(root);
	if (rootfd < 0) {
		err = rootfd;
		goto out;
	}
	dfd = root_mkdir_p(rootfd, JOURNAL_DIR, 0755);
	close(rootfd);
	if (dfd < 0) {
		err = dfd;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int fd;

		if (i && key_cmp(&sorted[i - 1], &sorted[i]) == 0)
			continue;
		fd = take_one(dfd, &sorted[i], what, deadline, wait, data, blocker, &any_wait);
		if (fd < 0) {
			err = fd;
			goto out;
		}
		ls->fd[ls->n++] = fd;
	}
	*out = ls;
	ls = NULL;
out:
	if (waited)
		*waited = any_wait;
	if (dfd >= 0)
		close(dfd);
	free(sorted);
	locks_release(ls);
	return err;
}

void locks_release(struct lockset *ls)
{
	if (!ls)
		return;
	for (size_t i = 0; i < ls->n; i++)
		close(ls->fd[i]);
	free(ls->fd);
	free(ls);
}
