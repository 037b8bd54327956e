#include <stdarg.h>
#include <stdio.h>
#include "log.h"

static int log_verbose;
static bool log_quiet;

void log_setup(int verbose, bool quiet)
{
	log_verbose = verbose;
	log_quiet = quiet;
}

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	/* keep the order of what the user sees when both streams share a pipe */
	fflush(stdout);
	fprintf(stderr, "vfio-handover: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	if (log_quiet)
		return;
	va_start(ap, fmt);
	vlog("warning: ", fmt, ap);
	va_end(ap);
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

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog("debug: ", fmt, ap);
	va_end(ap);
}
