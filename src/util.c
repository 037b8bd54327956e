#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

bool root_is_host(const char *root)
{
	return !root || !root[0] || strcmp(root, "/") == 0;
}

int root_path(const char *root, const char *path, char *buf, size_t len)
{
	int n;

	if (root_is_host(root))
		root = "";
	n = snprintf(buf, len, "%s%s", root, path);
	return (n < 0 || (size_t)n >= len) ? -ENAMETOOLONG : 0;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}
