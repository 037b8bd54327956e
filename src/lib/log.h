/* Every message the user reads goes through here, in one voice:
 * "vfio-handover: <device>: what happened; what to do next".  An error or
 * a warning has a stable code (doc/json.md lists them) and its fix as a
 * string of its own; under --json each is also kept for the document's
 * "messages", -q or not. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

enum log_level { LOGL_ERROR, LOGL_WARN, LOGL_INFO };

/* What happened, for a program: one code per kind of message.  The table
 * in log.c gives each its string and how it reads on stderr. */
enum msg_code {
	/* usage: exit 2 */
	MSG_UNKNOWN_OPTION, MSG_MISSING_VALUE, MSG_BAD_VALUE, MSG_NO_COMMAND,
	MSG_UNKNOWN_COMMAND, MSG_OPTION_NOT_FOR_COMMAND, MSG_CONFLICTING_OPTIONS,
	MSG_MISSING_SELECTOR, MSG_UNEXPECTED_ARGUMENT, MSG_BAD_SELECTOR, MSG_NO_SUCH_DEVICE,
	/* exit 5 */
	MSG_NOT_PERMITTED,
	/* the system as found */
	MSG_SYSFS_UNREADABLE, MSG_ATTRIBUTE_UNREADABLE, MSG_NO_PROCFS, MSG_SYSTEM_ERROR,
	MSG_OUT_OF_MEMORY, MSG_STDOUT_ERROR,
	/* the run lock and the journal */
	MSG_LOCKED, MSG_LOCK_FAILED, MSG_JOURNAL_INVALID, MSG_JOURNAL_UNREADABLE,
	/* the kernel sequence and its outcome */
	MSG_VFIO_PCI_MISSING, MSG_KERNEL_TIMEOUT, MSG_KERNEL_ERROR, MSG_HOLDER, MSG_UNDONE,
	MSG_UNRESTORED, MSG_POSITION, MSG_JOURNAL_KEPT, MSG_DRIVER_UNAVAILABLE,
	MSG_IDS_RETAKEN, MSG_UDEV_TIMEOUT, MSG_NOT_ON_VFIO_PCI, MSG_UNRECORDED,
	/* --driver: a VFIO variant driver */
	MSG_VARIANT_LOOKUP, MSG_VARIANT_UNAVAILABLE, MSG_VARIANT_MISSING,
	/* safety refusals and --force (with the check id) */
	MSG_REFUSED, MSG_FORCED,
	/* a line of a hand-made VFIO setup (with its check id), and a device
	 * migrate does not persist (with the refusal's) */
	MSG_LEFTOVER, MSG_NOT_MIGRATED,
	/* the Aleph supervisor (--aleph) */
	MSG_SUPERVISOR_RESTART, MSG_SUPERVISOR_NOT_RUNNING, MSG_SUPERVISOR_ADDRESS,
	MSG_SUPERVISOR_NO_ANSWER, MSG_SUPERVISOR_NOT_LISTED, MSG_SUPERVISOR_STILL_LISTED,
	MSG_SUPERVISOR_INCOMPATIBLE, MSG_SUPERVISOR_UNKNOWN_VENDOR,
	/* the persisted files */
	MSG_DEVICES_CONF, MSG_TARGET_KERNEL, MSG_FILE_SYMLINK, MSG_FILE_NOT_OURS,
	MSG_FILE_NOT_DIRECTORY, MSG_FILE_EDITED, MSG_FILE_WRITE_FAILED, MSG_INITRAMFS_FAILED,
	/* apply's persisted devices */
	MSG_DEVICE_CHANGED, MSG_DEVICE_MISSING, MSG_GPU_INCOMPLETE,
	MSG_CODE_COUNT
};

/* A kept message (--json). */
struct log_msg {
	enum log_level level;
	enum msg_code code;
	char *check;            /* the check item or refusal it is about, or NULL */
	char *text;
	char *fix;              /* what to do about it, or NULL */
};

void log_setup(int verbose, bool quiet);
/* text from fmt; fix NULL when there is none.  On stderr as
 * "vfio-handover: TEXT; FIX" (each code has its own prefix and joint). */
void log_error(enum msg_code code, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_warn(enum msg_code code, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A message about a check item or refusal: check is its id ("boot-vga"). */
void log_check(enum log_level level, enum msg_code code, const char *check, const char *fix,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A fix with arguments, formatted into buf. */
const char *log_fixf(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

const char *log_code_name(enum msg_code code);
const char *log_level_name(enum log_level level);
/* -q shows errors without their fix.  Keep every error and warning from now on (--json); the kept ones. */
void log_keep(bool on);
const struct log_msg *log_kept(size_t *n);
void log_kept_free(void);
