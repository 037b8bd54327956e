/* The kernel writer: a child process that makes the tool's writes to
 * sysfs, and the reads that wait on a device's lock, so that one the
 * kernel does not return from (an unbind waiting on a driver that will not
 * let go) cannot hold the tool past its limit.  The tool gives up on the
 * child, reports, and exits; the child is left to the kernel, holding
 * nothing of the tool's (no lock, no caller's pipe).
 *
 * A writer serves many requests over a socket pair, one at a time; after a
 * request timed out it is abandoned and the next request starts another.
 * Several writers work at once: one per IOMMU group of a hand-over. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct writer;

/* What the child runs for each request, with the descriptors it keeps
 * (every other one is closed in the child). */
struct writer_job {
	int (*write)(void *ctx, const char *rel, const char *val);
	/* buf gets the content (len bytes at most, NUL-terminated) */
	int (*read)(void *ctx, const char *rel, char *buf, size_t len);
	void *ctx;
	int keep[3];
	int nkeep;
};

/* The most a read's reply carries, and a request's size. */
#define WRITER_DATA_MAX 4096
#define WRITER_MSG_MAX 4352

/* No child is started until the first request. */
struct writer *writer_new(const struct writer_job *job);
/* Start the child now, where none runs: a fork copies the page tables of
 * what the process has written to, and each of those pages it writes
 * afterwards is copied again; early on that is little.  0 or -errno. */
int writer_start(struct writer *w);
/* An idle child exits and is reaped; a blocked one was abandoned already.
 * In a forked copy of the program the parent's child is left alone. */
void writer_free(struct writer *w);

/* One write, answered within timeout_ms: the job's result (-errno),
 * -ETIMEDOUT (the child is abandoned), or -EIO (it died). */
int writer_write(struct writer *w, const char *rel, const char *val, int timeout_ms);
/* n reads, as few requests as fit, each reply within timeout_ms: res[i]
 * the result, bufs + i * len the content.  After a read that timed out
 * the rest goes to a new child. */
void writer_read_each(struct writer *w, const char *const *rels, size_t n, char *bufs, size_t len,
		      int *res, int timeout_ms);

/* The child now, for tests: 0 when none is running. */
int writer_pid(const struct writer *w);
