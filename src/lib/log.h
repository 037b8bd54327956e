/* Every message the user reads goes through here, in one voice:
 * "vfio-handover: <device>: what happened; what to do next". */
#pragma once
#include <stdbool.h>

void log_setup(int verbose, bool quiet);
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A second reader of the messages (apply keeps them in its record): each
 * error, warning and info, without the prefix, also under -q; fn NULL
 * stops it. */
enum log_level { LOGL_ERROR, LOGL_WARN, LOGL_INFO };
typedef void (*log_sink_fn)(enum log_level level, const char *text, void *data);
void log_set_sink(log_sink_fn fn, void *data);
