/* The locks that let runs work at the same time (flock on files in
 * ROOT/run/vfio-handover): a run locks the IOMMU groups it changes (a
 * function with no group, itself) and, when it reads or writes them, the
 * persisted files.  Runs on different groups go on together; one that
 * needs what another holds waits within its limit, saying for whom, and
 * gives up after it with nothing touched.  Each lock file says who holds
 * it ("PID what"), for the message of the run that waits.  Keys are taken
 * in one order (the persisted files, then groups, then functions), so two
 * runs never wait for each other. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "pci-addr.h"

enum lock_kind {
	LOCK_PERSIST,        /* the persisted files (persist, unpersist, apply) */
	LOCK_GROUP,          /* an IOMMU group's functions */
	LOCK_FUNCTION,       /* a function that has no IOMMU group */
};

struct lock_key {
	enum lock_kind kind;
	int group;                  /* LOCK_GROUP */
	struct pci_addr fn;         /* LOCK_FUNCTION */
};

/* Who holds a lock, as its file says. */
struct lock_holder {
	pid_t pid;                  /* 0: not known */
	char what[160];             /* "bind 0000:41:00", "" when not known */
};

/* Told once per lock the run has to wait for. */
typedef void (*lock_wait_fn)(const struct lock_key *key, const struct lock_holder *h, void *data);

struct lockset;

/* Take every key (duplicates once), waiting up to timeout_ms in all for
 * those another process holds.  what: this run, written into each lock
 * file.  -ETIMEDOUT with *blocker (may be NULL) saying who held the one
 * it gave up on, and nothing held; -errno when a lock file cannot be
 * made.  *waited (may be NULL): it had to wait, so the state it read
 * before may have changed. */
int locks_take(const char *root, const struct lock_key *keys, size_t n, const char *what,
	       int timeout_ms, lock_wait_fn wait, void *data, struct lockset **out,
	       struct lock_holder *blocker, bool *waited);
void locks_release(struct lockset *ls);
/* The lock file's name, in ROOT/run/vfio-handover ("lock.group.14"). */
const char *lock_file_name(const struct lock_key *key, char *buf, size_t len);
