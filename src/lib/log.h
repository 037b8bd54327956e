/* Every message the user reads goes through here, in one voice:
 * "vfio-handover: <device>: what happened; what to do next". */
#pragma once
#include <stdbool.h>

void log_setup(int verbose, bool quiet);
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
