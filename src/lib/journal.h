/* The journal of a hand-over (/run/vfio-handover/state.json): for each
 * function, the driver and driver_override it had before and the step
 * reached, so that rollback can restore it exactly, even after a crash.
 * Runs on different IOMMU groups share it (locks.h): each saves its own
 * entries into it with journal_update. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "pci-addr.h"
#include "sysfs.h"

#define JOURNAL_DIR "/run/vfio-handover"

enum handover_step {
	STEP_RECORDED,       /* state before noted; nothing written yet */
	STEP_OVERRIDE,       /* driver_override = the VFIO driver written */
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
	char vfio_driver[64];/* the VFIO driver it is handed to (vfio-pci, or a
			      * variant); vfio-pci in a journal before version 3 */
	enum handover_step step;
	bool gone;           /* given back by this run: not saved any more */
};

struct journal_seen;

struct journal {
	struct journal_entry *e;
	size_t n;
	/* the file as this run last read or wrote it (journal_load,
	 * journal_update): an update that finds it unchanged neither reads
	 * nor parses it again.  Freed by journal_free. */
	struct journal_seen *seen;
};

/* A journal bigger than this is not one journal_save wrote. */
#define JOURNAL_MAX_SIZE (16u << 20)
/* The longest driver_override an entry records (and restores) exactly. */
#define JOURNAL_OVERRIDE_MAX (sizeof(((struct journal_entry *)0)->override) - 2)

/* A missing journal is an empty one.  -EBADMSG when it is not a valid
 * journal (see journal_parse; why says what is wrong, may be NULL). */
int journal_load(const char *root, struct journal *j, char *why, size_t whylen);
/* The journal's text, validated whole before anything uses it: its
 * format_version (1; 2 adds driver_module; 3 vfio_driver), pid, and each
 * entry's address (canonical, once), ids (four hex digits), driver before
 * and its module (null or a name), driver_override before, the VFIO driver
 * it is handed to (a driver's name), step.
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

/* The journal as j has it for the functions a run owns (those of the
 * IOMMU groups it locked), merged into the one on disk: the entries of
 * other runs are kept as they are there.  Read, merged and written under
 * the journal's own short lock, so that two runs never lose each other's
 * entries.  -EBADMSG when the one on disk is no longer valid. */
int journal_update(const char *root, struct journal *j, const struct pci_addr *owned, size_t n);
/* The longest a run waits for the journal's own lock. */
#define JOURNAL_LOCK_MS 10000
