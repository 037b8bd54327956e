/*
 * The kernel writer (writer.h).  A thread would not do: a process does not
 * exit while one of its threads is blocked in a system call.  One child per
 * writer, over a socket pair: a fork per write cost a millisecond or more on
 * a small VM.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "util.h"
#include "writer.h"

#define REQ_WRITE 'W'               /* request: type, rel, NUL, value, NUL */
#define REQ_READ 'R'                /* request: type, then rel, NUL for each path */

struct writer {
	struct writer_job job;
	pid_t pid, owner;           /* the child, and the process that started it */
	int fd;                     /* our end of the socket pair, -1: no child */
};

struct reply {
	int result;                 /* -errno, or what the job returned */
	char data[WRITER_DATA_MAX]; /* a read's content, NUL-terminated, whole */
};

struct writer *writer_new(const struct writer_job *job)
{
	struct writer *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->job = *job;
	w->fd = -1;
	return w;
}

static void close_fds_between(unsigned from, unsigned to)
{
	long max;

	if (from > to || syscall(SYS_close_range, from, to, 0) == 0)
		return;
	/* kernels before 5.9 */
	max = sysconf(_SC_OPEN_MAX);
	for (long fd = from; fd <= (long)to && fd < max; fd++)
		close((int)fd);
}

static int int_cmp(const void *x, const void *y)
{
	return *(const int *)x - *(const int *)y;
}

/* A child left blocked in the kernel must not keep a lock of the tool's
 * or a caller's pipe ($(vfio-handover ...) waits for every holder of it):
 * stdio on /dev/null, and every descriptor from 3 up closed but the
 * socket and the job's own. */
static void detach(const struct writer *w, int sock)
{
	int keep[4], n = 0, null = open("/dev/null", O_RDWR | O_CLOEXEC);
	unsigned next = 3;

	for (int fd = 0; fd < 3; fd++) {
		if (null >= 0)
			dup2(null, fd);
		else
			close(fd);
	}
	if (null > 2)
		close(null);
	keep[n++] = sock;
	for (int i = 0; i < w->job.nkeep && i < 3; i++)
		if (w->job.keep[i] >= 0)
			keep[n++] = w->job.keep[i];
	qsort(keep, (size_t)n, sizeof(keep[0]), int_cmp);
	for (int i = 0; i < n; i++) {
		if (keep[i] < (int)next)
			continue;
		close_fds_between(next, (unsigned)keep[i] - 1);
		next = (unsigned)keep[i] + 1;
	}
	close_fds_between(next, ~0U);
}

static void serve_reads(const struct writer *w, int sock, const char *rel, const char *end)
{
	struct reply rep;

	/* one reply per path, as each read returns */
	for (; rel < end; rel += strlen(rel) + 1) {
		size_t len = sizeof(rep.result);

		rep.result = w->job.read(w->job.ctx, rel, rep.data, sizeof(rep.data));
		if (rep.result >= 0)
			len += strlen(rep.data) + 1;
		if (send(sock, &rep, len, MSG_NOSIGNAL) != (ssize_t)len)
			_exit(0);
	}
}

static void __attribute__((noreturn)) child_main(const struct writer *w, int sock)
{
	char req[WRITER_MSG_MAX + 1];
	struct reply rep;

	detach(w, sock);
	for (;;) {
		ssize_t n = recv(sock, req, WRITER_MSG_MAX, 0);
		const char *rel = req + 1;
		size_t rlen;

		if (n <= 1)
			_exit(0);
		req[n] = '\0';
		if (req[0] == REQ_READ) {
			serve_reads(w, sock, rel, req + n);
			continue;
		}
		rlen = strlen(rel);
		if (req[0] != REQ_WRITE || rlen + 2 >= (size_t)n)
			rep.result = -EINVAL;
		else
			rep.result = w->job.write(w->job.ctx, rel, rel + rlen + 1);
		if (send(sock, &rep, sizeof(rep.result), MSG_NOSIGNAL) != (ssize_t)sizeof(rep.result))
			_exit(0);
	}
}

static int child_start(struct writer *w)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		int err = -errno;

		close(sv[0]);
		close(sv[1]);
		return err;
	}
	if (pid == 0) {
		close(sv[0]);
		child_main(w, sv[1]);
	}
	close(sv[1]);
	w->pid = pid;
	w->owner = getpid();
	w->fd = sv[0];
	return 0;
}

/* Let an idle child go: it exits at the end of its socket, and is reaped. */
static void child_stop(struct writer *w)
{
	if (w->fd < 0)
		return;
	if (w->owner == getpid()) {
		/* shutdown reaches the child even if a forked copy holds the socket */
		shutdown(w->fd, SHUT_RDWR);
		close(w->fd);
		while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
			;
	} else {
		close(w->fd);       /* our parent's child: not ours to stop */
	}
	w->fd = -1;
	w->pid = 0;
}

/* A child blocked in the kernel: kill it (it dies when the call returns)
 * and forget it; the next request starts another. */
static void child_abandon(struct writer *w)
{
	kill(w->pid, SIGKILL);
	waitpid(w->pid, NULL, WNOHANG);
	close(w->fd);
	w->fd = -1;
	w->pid = 0;
}

void writer_free(struct writer *w)
{
	if (!w)
		return;
	child_stop(w);
	free(w);
}

int writer_pid(const struct writer *w)
{
	return w->fd >= 0 && w->owner == getpid() ? (int)w->pid : 0;
}

/* The child's answer within timeout_ms: its result (and a read's data in
 * *rep), -ETIMEDOUT, or -EIO when it died. */
static int await_reply(struct writer *w, int timeout_ms, struct reply *rep)
{
	long deadline = monotonic_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = { .fd = w->fd, .events = POLLIN };
		long left = deadline - monotonic_ms();
		ssize_t n;
		int r;

		if (left <= 0) {
			child_abandon(w);
			return -ETIMEDOUT;
		}
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;               /* the deadline is checked above */
		n = recv(w->fd, rep, sizeof(*rep), 0);
		if (n >= (ssize_t)sizeof(rep->result)) {
			rep->data[sizeof(rep->data) - 1] = '\0';
			return rep->result;
		}
		if (n < 0 && errno == EINTR)
			continue;
		child_stop(w);
		return -EIO;
	}
}

int writer_start(struct writer *w)
{
	/* a forked copy of the program starts a child of its own */
	if (w->fd >= 0 && w->owner != getpid())
		child_stop(w);
	return w->fd >= 0 ? 0 : child_start(w);
}

/* Send one request, the child started if need be. */
static int send_request(struct writer *w, const char *req, size_t len)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		int err = writer_start(w);

		if (err)
			return err;
		if (send(w->fd, req, len, MSG_NOSIGNAL) == (ssize_t)len)
			return 0;
		/* a child that died between requests: nothing was done, start another */
		child_stop(w);
	}
	return -EIO;
}

int writer_write(struct writer *w, const char *rel, const char *val, int timeout_ms)
{
	size_t rlen = strlen(rel), vlen = strlen(val);
	char req[WRITER_MSG_MAX];
	struct reply rep;
	int err;

	if (rlen + vlen + 3 > sizeof(req))
		return -ENAMETOOLONG;
	req[0] = REQ_WRITE;
	memcpy(req + 1, rel, rlen + 1);
	memcpy(req + rlen + 2, val, vlen + 1);
	err = send_request(w, req, rlen + vlen + 3);
	return err ? err : await_reply(w, timeout_ms, &rep);
}

void writer_read_each(struct writer *w, const char *const *rels, size_t n, char *bufs, size_t len,
		      int *res, int timeout_ms)
{
	char req[WRITER_MSG_MAX];
	struct reply rep;
	size_t i = 0;

	while (i < n) {
		size_t used = 1, end = i;
		int err;

		req[0] = REQ_READ;
		for (; end < n; end++) {
			size_t rlen = strlen(rels[end]) + 1;

			if (used + rlen > sizeof(req))
				break;
			memcpy(req + used, rels[end], rlen);
			used += rlen;
		}
		if (end == i) {             /* a path that does not fit: cannot be */
			res[i++] = -ENAMETOOLONG;
			continue;
		}
		err = send_request(w, req, used);
		for (; i < end; i++) {
			res[i] = err ? err : await_reply(w, timeout_ms, &rep);
			if (res[i] >= 0)
				snprintf(bufs + i * len, len, "%s", rep.data);
			else
				bufs[i * len] = '\0';
			if (res[i] == -ETIMEDOUT || res[i] == -EIO) {
				i++;                /* that child is gone: ask a new one */
				break;
			}
		}
	}
}
