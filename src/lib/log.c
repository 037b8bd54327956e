#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "log.h"

/* Each code: its string (doc/json.md, "Message codes"), and how the
 * message reads on stderr: PREFIX TEXT, then JOINT FIX when it has a fix
 * (a newline in the joint starts a line of its own). */
static const struct log_code_def {
	const char *name;
	const char *prefix;
	const char *joint;
} codes[MSG_CODE_COUNT] = {
	[MSG_UNKNOWN_OPTION]         = { "unknown-option", "", "; " },
	[MSG_MISSING_VALUE]          = { "missing-value", "", "; " },
	[MSG_BAD_VALUE]              = { "bad-value", "", "; " },
	[MSG_NO_COMMAND]             = { "no-command", "", "; " },
	[MSG_UNKNOWN_COMMAND]        = { "unknown-command", "", "; " },
	[MSG_OPTION_NOT_FOR_COMMAND] = { "option-not-for-command", "", "; " },
	[MSG_CONFLICTING_OPTIONS]    = { "conflicting-options", "", "; " },
	[MSG_MISSING_SELECTOR]       = { "missing-selector", "", ", " },
	[MSG_UNEXPECTED_ARGUMENT]    = { "unexpected-argument", "", "; " },
	[MSG_BAD_SELECTOR]           = { "bad-selector", "", "; " },
	[MSG_NO_SUCH_DEVICE]         = { "no-such-device", "", "; " },
	[MSG_NOT_PERMITTED]          = { "not-permitted", "", "; " },
	[MSG_SYSFS_UNREADABLE]       = { "sysfs-unreadable", "", "; " },
	[MSG_ATTRIBUTE_UNREADABLE]   = { "attribute-unreadable", "", "; " },
	[MSG_NO_PROCFS]              = { "no-procfs", "", "; " },
	[MSG_SYSTEM_ERROR]           = { "system-error", "", "; " },
	[MSG_OUT_OF_MEMORY]          = { "out-of-memory", "", "; " },
	[MSG_STDOUT_ERROR]           = { "stdout-error", "", "; " },
	[MSG_LOCKED]                 = { "locked", "", "; " },
	[MSG_LOCK_FAILED]            = { "lock-failed", "", "; " },
	[MSG_JOURNAL_INVALID]        = { "journal-invalid", "", "\n  " },
	[MSG_JOURNAL_UNREADABLE]     = { "journal-unreadable", "", "; " },
	[MSG_VFIO_PCI_MISSING]       = { "vfio-pci-missing", "", "; " },
	[MSG_KERNEL_TIMEOUT]         = { "kernel-timeout", "", "\n  " },
	[MSG_KERNEL_ERROR]           = { "kernel-error", "", "; " },
	[MSG_HOLDER]                 = { "holder", "  ", "; " },
	[MSG_UNDONE]                 = { "undone", "", "; " },
	[MSG_UNRESTORED]             = { "unrestored", "", "; " },
	[MSG_POSITION]               = { "position", "  ", "; " },
	[MSG_JOURNAL_KEPT]           = { "journal-kept", "", ": " },
	[MSG_DRIVER_UNAVAILABLE]     = { "driver-unavailable", "", "; " },
	[MSG_IDS_RETAKEN]            = { "ids-retaken", "", "; " },
	[MSG_UDEV_TIMEOUT]           = { "udev-timeout", "", "; " },
	[MSG_NOT_ON_VFIO_PCI]        = { "not-on-vfio-pci", "", "; " },
	[MSG_VARIANT_LOOKUP]         = { "variant-lookup", "", "; " },
	[MSG_VARIANT_UNAVAILABLE]    = { "variant-unavailable", "", "; " },
	[MSG_VARIANT_MISSING]        = { "variant-missing", "", "; " },
	[MSG_UNRECORDED]             = { "unrecorded", "", "; " },
	[MSG_REFUSED]                = { "refused", "refused: ", "\n  fix: " },
	[MSG_FORCED]                 = { "forced", "--force: going past: ", "; " },
	[MSG_LEFTOVER]               = { "leftover", "", "\n  fix: " },
	[MSG_NOT_MIGRATED]           = { "not-migrated", "", "\n  fix: " },
	[MSG_SUPERVISOR_RESTART]     = { "supervisor-restart", "", "; " },
	[MSG_SUPERVISOR_NOT_RUNNING] = { "supervisor-not-running", "", "; " },
	[MSG_SUPERVISOR_ADDRESS]     = { "supervisor-address", "", "\n  " },
	[MSG_SUPERVISOR_NO_ANSWER]   = { "supervisor-no-answer", "", "\n  " },
	[MSG_SUPERVISOR_NOT_LISTED]  = { "supervisor-not-listed", "", "\n  " },
	[MSG_SUPERVISOR_STILL_LISTED] = { "supervisor-still-listed", "", "\n  " },
	[MSG_SUPERVISOR_INCOMPATIBLE] = { "supervisor-incompatible", "", "; " },
	[MSG_SUPERVISOR_UNKNOWN_VENDOR] = { "supervisor-unknown-vendor", "", "; " },
	[MSG_DEVICES_CONF]           = { "devices-conf", "", ": " },
	[MSG_TARGET_KERNEL]          = { "target-kernel", "", "; " },
	[MSG_FILE_SYMLINK]           = { "file-symlink", "", "; " },
	[MSG_FILE_NOT_OURS]          = { "file-not-ours", "", "; " },
	[MSG_FILE_NOT_DIRECTORY]     = { "file-not-directory", "", "; " },
	[MSG_FILE_EDITED]            = { "file-edited", "", ": " },
	[MSG_FILE_WRITE_FAILED]      = { "file-write-failed", "", "; " },
	[MSG_INITRAMFS_FAILED]       = { "initramfs-failed", "", ": " },
	[MSG_DEVICE_CHANGED]         = { "device-changed", "", "; " },
	[MSG_DEVICE_MISSING]         = { "device-missing", "", "; " },
	[MSG_GPU_INCOMPLETE]         = { "gpu-incomplete", "", "; " },
};

static int log_verbose;
static bool log_quiet;
static bool keeping;
static struct log_msg *kept;
static size_t nkept;

void log_setup(int verbose, bool quiet)
{
	log_verbose = verbose;
	log_quiet = quiet;
	log_debug("started");
}

const char *log_code_name(enum msg_code code)
{
	return (unsigned)code < MSG_CODE_COUNT && codes[code].name ? codes[code].name : "unknown";
}

const char *log_level_name(enum log_level level)
{
	static const char *const names[] = { "error", "warning", "info" };

	return (unsigned)level <= LOGL_INFO ? names[level] : "unknown";
}

void log_keep(bool on)
{
	keeping = on;
}

const struct log_msg *log_kept(size_t *n)
{
	*n = nkept;
	return kept;
}

void log_kept_free(void)
{
	for (size_t i = 0; i < nkept; i++) {
		free(kept[i].check);
		free(kept[i].text);
		free(kept[i].fix);
	}
	free(kept);
	kept = NULL;
	nkept = 0;
}

const char *log_fixf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return buf;
}

/* Out of memory, a message is still shown: only its copy is lost. */
static void keep(enum log_level level, enum msg_code code, const char *check, const char *text,
		 const char *fix)
{
	struct log_msg *v = realloc(kept, (nkept + 1) * sizeof(*v));

	if (!v)
		return;
	kept = v;
	v += nkept;
	memset(v, 0, sizeof(*v));
	v->level = level;
	v->code = code;
	v->text = strdup(text);
	v->check = check ? strdup(check) : NULL;
	v->fix = fix ? strdup(fix) : NULL;
	if (v->text && (!check || v->check) && (!fix || v->fix)) {
		nkept++;
		return;
	}
	free(v->text);
	free(v->check);
	free(v->fix);
}

static void print_line_start(const char *level_prefix)
{
	/* keep the order of what the user sees when both streams share a pipe */
	fflush(stdout);
	fprintf(stderr, "vfio-handover: %s", level_prefix);
}

/* PREFIX TEXT JOINT FIX, a newline of the joint starting a new line. */
static void print_msg(enum log_level level, enum msg_code code, const char *text, const char *fix)
{
	const struct log_code_def *d = &codes[(unsigned)code < MSG_CODE_COUNT ? code : MSG_SYSTEM_ERROR];
	const char *joint = d->joint;

	print_line_start(level == LOGL_WARN ? "warning: " : "");
	fprintf(stderr, "%s%s", d->prefix, text);
	/* -q: what went wrong, without the advice */
	if (fix && !log_quiet) {
		if (*joint == '\n') {
			fputc('\n', stderr);
			print_line_start("");
			joint++;
		}
		fprintf(stderr, "%s%s", joint, fix);
	}
	fputc('\n', stderr);
}

__attribute__((format(printf, 5, 0)))
static void vlog_msg(enum log_level level, enum msg_code code, const char *check, const char *fix,
		     const char *fmt, va_list ap)
{
	char *text;

	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	if (keeping && text && level != LOGL_INFO)
		keep(level, code, check, text, fix);
	if (level == LOGL_ERROR || !log_quiet)
		print_msg(level, code, text ? text : fmt, fix);
	free(text);
}

void log_error(enum msg_code code, const char *fix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_msg(LOGL_ERROR, code, NULL, fix, fmt, ap);
	va_end(ap);
}

void log_warn(enum msg_code code, const char *fix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_msg(LOGL_WARN, code, NULL, fix, fmt, ap);
	va_end(ap);
}

void log_check(enum log_level level, enum msg_code code, const char *check, const char *fix,
	       const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog_msg(level, code, check, fix, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 0)))
static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	print_line_start(prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_quiet)
		return;
	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

/* -v: what the tool is doing, with the time since it started. */
void log_debug(const char *fmt, ...)
{
	static struct timespec t0;
	struct timespec now;
	char prefix[32];
	long us;
	va_list ap;

	if (!log_verbose)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!t0.tv_sec)
		t0 = now;
	/* tenths: a step of a hand-over takes a few milliseconds */
	us = (now.tv_sec - t0.tv_sec) * 1000000L + (now.tv_nsec - t0.tv_nsec) / 1000L;
	snprintf(prefix, sizeof(prefix), "[%5ld.%ld ms] ", us / 1000, us % 1000 / 100);
	va_start(ap, fmt);
	vlog(prefix, fmt, ap);
	va_end(ap);
}
