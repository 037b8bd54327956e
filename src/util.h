/* Small helpers shared by every module. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Is --root the real root (NULL, "" or "/")? */
bool root_is_host(const char *root);
/* ROOT + PATH ("/etc/..."), ROOT NULL or "/" meaning the real root. */
int root_path(const char *root, const char *path, char *buf, size_t len);
/* malloc'ed printf; NULL only when out of memory. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
