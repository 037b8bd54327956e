/* Which QEMU an Aleph node runs GPU instances with.  aleph-vm starts
 * qemu-system-x86_64 (shutil.which) from the Debian package its own package
 * depends on, qemu-system-x86; with GPUs it uses the q35 machine, which
 * QEMU 8 and older crash on with a passed-through GPU (aleph-vm commit
 * 8680b478, "Requires QEMU >= 9.0").
 *
 * The version comes from dpkg's database first: a file read, no program run
 * from a pre-flight check, and it works under --root (an image being built).
 * Only on the host itself, and only when dpkg knows no such package (a
 * QEMU built from source), is qemu-system-x86_64 --version run. */
#pragma once
#include <stddef.h>

#define QEMU_DPKG_STATUS "/var/lib/dpkg/status"

struct qemu_version {
	int major, minor, micro;
	char text[64];               /* as its source gives it: "1:7.2+dfsg-7+deb12u18" */
	char source[160];            /* "package qemu-system-x86", "/usr/bin/qemu-system-x86_64 --version" */
};

/* The installed qemu-system-x86 of a dpkg status file, else an installed
 * package that provides qemu-system-x86-64.  -ENOENT: none installed;
 * -EINVAL: its version does not start with MAJOR.MINOR. */
int qemu_version_from_dpkg(const char *text, size_t len, struct qemu_version *v);
/* "QEMU emulator version 8.2.2 (Debian 1:8.2.2+ds-0ubuntu1.4)" */
int qemu_version_from_banner(const char *out, struct qemu_version *v);
/* root's dpkg database; then, root being the host, the first of
 * /usr/local/bin, /usr/bin, /bin holding qemu-system-x86_64, run with
 * --version for at most timeout_ms.  -ENOENT: no QEMU found. */
int qemu_version_find(const char *root, int timeout_ms, struct qemu_version *v);
