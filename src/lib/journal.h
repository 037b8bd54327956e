/* The journal of a hand-over (/run/vfio-handover/state.json): for each
 * function, the driver and driver_override it had before and the step
 * reached, so that rollback can restore it exactly, even after a crash.
 * And the lock (/run/vfio-handover/lock) that keeps runs one at a time. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "pci-addr.h"
#include "sysfs.h"

#define JOURNAL_DIR "/run/vfio-handover"

enum handover_step {
	STEP_RECORDED,       /* state before noted; nothing written yet */
	STEP_OVERRIDE,       /* driver_override = vfio-pci written */
	STEP_UNBOUND,        /* unbound from the host driver */
	STEP_PROBED,         /* drivers_probe written */
	STEP_VERIFIED,       /* read back on vfio-pci */
	STEP_COMPLETE,       /* and so is every function of its run: a failed bind
			      * later leaves it where this one put it */
};

struct journal_entry {
	struct pci_addr addr;
	unsigned vendor, device;
	char driver[64];     /* before the hand-over, "" when unbound */
	char module[64];     /* the driver's module, "" when built in or unbound */
	bool module_known;   /* false: not recorded (a version 1 journal) */
	char override[SYSFS_ATTR_MAX]; /* driver_override before, "" when unset */
	enum handover_step step;
};

struct journal {
	struct journal_entry *e;
	size_t n;
};

/* A journal bigger than this is not one journal_save wrote. */
#define JOURNAL_MAX_SIZE (16u << 20)
/* The longest driver_override an entry records (and restores) exactly. */
#define JOURNAL_OVERRIDE_MAX (sizeof(((struct journal_entry *)0)->override) - 2)

/* A missing journal is an empty one.  -EBADMSG when it is not a valid
 * journal (see journal_parse; why says what is wrong, may be NULL). */
int journal_load(const char *root, struct journal *j, char *why, size_t whylen);
/* The journal's text, validated whole before anything uses it: its
 * format_version (1, or 2 which adds driver_module), pid, and each entry's
 * address (canonical, once), ids (four hex digits), driver before and its
 * module (null or a name), driver_override before, step.
 * -EBADMSG with why (the entry's index and address, the field, what is
 * wrong) and j empty; -ENOMEM. */
int journal_parse(const char *text, size_t len, struct journal *j, char *why, size_t whylen);
/* Can this driver_override be recorded and restored exactly? */
bool journal_override_valid(const char *s);
/* Is this a kernel module's name (letters, digits, _ and -)? */
bool journal_module_valid(const char *s);
/* Atomically (temporary file, fsync, rename); an empty journal removes the file. */
int journal_save(const char *root, const struct journal *j);
void journal_free(struct journal *j);
struct journal_entry *journal_find(struct journal *j, const struct pci_addr *a);
/* Add, or keep the existing entry of that function (it holds the real "before"). */
int journal_add(struct journal *j, const struct journal_entry *e);
void journal_remove(struct journal *j, const struct pci_addr *a);
const char *journal_step_name(enum handover_step s);

/* Take the run lock without waiting: a file descriptor, or -EWOULDBLOCK
 * with *holder the PID of the run that has it (0 if unknown). */
int journal_lock(const char *root, pid_t *holder);
void journal_unlock(int fd);
