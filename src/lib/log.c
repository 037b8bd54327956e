#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "log.h"

static int log_verbose;
static bool log_quiet;
static log_sink_fn log_sink;
static void *log_sink_data;

void log_set_sink(log_sink_fn fn, void *data)
{
	log_sink = fn;
	log_sink_data = data;
}

static void to_sink(enum log_level level, const char *fmt, va_list ap)
{
	va_list cp;
	char *text;

	if (!log_sink)
		return;
	va_copy(cp, ap);
	if (vasprintf(&text, fmt, cp) >= 0) {
		log_sink(level, text, log_sink_data);
		free(text);
	}
	va_end(cp);
}

void log_setup(int verbose, bool quiet)
{
	log_verbose = verbose;
	log_quiet = quiet;
	log_debug("started");
}

__attribute__((format(printf, 2, 0)))
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
	to_sink(LOGL_ERROR, fmt, ap);
	vlog("", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	to_sink(LOGL_WARN, fmt, ap);
	if (!log_quiet)
		vlog("warning: ", fmt, ap);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	to_sink(LOGL_INFO, fmt, ap);
	if (!log_quiet)
		vlog("", fmt, ap);
	va_end(ap);
}

/* -v: what the tool is doing, with the time since it started. */
void log_debug(const char *fmt, ...)
{
	static struct timespec t0;
	struct timespec now;
	char prefix[32];
	va_list ap;

	if (!log_verbose)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!t0.tv_sec)
		t0 = now;
	snprintf(prefix, sizeof(prefix), "[%5ld ms] ",
		 (now.tv_sec - t0.tv_sec) * 1000L + (now.tv_nsec - t0.tv_nsec) / 1000000L);
	va_start(ap, fmt);
	vlog(prefix, fmt, ap);
	va_end(ap);
}
