/* Capabilities: each command keeps only what it needs, before touching sysfs. */
#pragma once
#include <stddef.h>

/* Drop every capability but keep[0..n-1].  No-op for an unprivileged caller
 * (there is nothing to drop).  0 or -errno. */
int privs_limit(const int *keep, size_t n);
