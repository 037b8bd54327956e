/* Helpers shared by the fuzz targets: scratch directories, files written
 * below a directory descriptor, and the check that turns a broken
 * property into a finding. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A property of the code under test does not hold: print it and abort,
 * which libFuzzer reports as a crash and keeps the input of. */
#define FUZZ_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond))                                                   \
			fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);     \
	} while (0)

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 4, 5)));

/* A fresh directory for this process, under $TMPDIR (else /dev/shm, else
 * /tmp), removed with everything in it at exit.  Never the real /sys,
 * /etc or /run: every tree and root a target uses lives below it. */
const char *fuzz_scratch(void);
/* mkdir -p of scratch/rel; its path, malloc'ed. */
char *fuzz_mkdir(const char *rel);
/* Remove everything below dirfd's directory (not the directory itself),
 * never following a symbolic link. */
int fuzz_empty_dir(int dirfd);

/* The input as a C string: a NUL-terminated copy that ends at its first
 * NUL byte (the library's parsers take C strings). */
char *fuzz_cstr(const uint8_t *data, size_t size);

/* Write content (len bytes) to rel below dirfd, created or truncated,
 * never through a symbolic link. */
int fuzz_write_at(int dirfd, const char *rel, const void *content, size_t len);
