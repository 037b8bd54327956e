#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "qemu-version.h"
#include "root-path.h"
#include "util.h"

/* dpkg's database lists every package: a few MiB on a big host */
#define DPKG_STATUS_MAX (64u << 20)

/* "7.2+dfsg-7" or "10.0.2" after the epoch: MAJOR.MINOR[.MICRO] */
static int parse_numbers(const char *s, struct qemu_version *v)
{
	const char *colon = strchr(s, ':');
	char *end;

	if (colon && colon - s < 4)
		s = colon + 1;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	v->major = (int)strtol(s, &end, 10);
	if (*end != '.' || !isdigit((unsigned char)end[1]))
		return -EINVAL;
	v->minor = (int)strtol(end + 1, &end, 10);
	v->micro = *end == '.' && isdigit((unsigned char)end[1]) ? (int)strtol(end + 1, NULL, 10) : 0;
	return 0;
}

/* One stanza's field: its value, trimmed, or "" (fields end at the line). */
static void field(const char *stanza, size_t len, const char *name, char *out, size_t outlen)
{
	size_t n = strlen(name);

	out[0] = '\0';
	for (const char *p = stanza; p < stanza + len; ) {
		const char *eol = memchr(p, '\n', (size_t)(stanza + len - p));
		size_t l = eol ? (size_t)(eol - p) : (size_t)(stanza + len - p);

		if (l > n && !strncasecmp(p, name, n) && p[n] == ':') {
			const char *v = p + n + 1;

			while (v < p + l && (*v == ' ' || *v == '\t'))
				v++;
			snprintf(out, outlen, "%.*s", (int)(p + l - v), v);
			return;
		}
		p += l + 1;
	}
}

/* "qemu-kvm, qemu-system-x86-64 (= 1:9.2), foo" names want */
static bool provides(const char *list, const char *want)
{
	size_t n = strlen(want);

	for (const char *p = list; (p = strstr(p, want)); p += n) {
		bool start = p == list || p[-1] == ' ' || p[-1] == ',';
		bool end = !p[n] || p[n] == ',' || p[n] == ' ';

		if (start && end)
			return true;
	}
	return false;
}

int qemu_version_from_dpkg(const char *text, size_t len, struct qemu_version *v)
{
	char pkg[128], status[128], version[64], prov[1024];
	char found_pkg[128] = "", found_version[64] = "";
	const char *p = text, *end = text + len;

	memset(v, 0, sizeof(*v));
	while (p < end) {
		/* stanzas are separated by a blank line */
		const char *next = p, *stop = end;

		for (const char *q = p; q < end; q++)
			if (*q == '\n' && (q + 1 == end || q[1] == '\n')) {
				stop = q + 1;
				break;
			}
		next = stop < end ? stop + 1 : end;
		field(p, (size_t)(stop - p), "Package", pkg, sizeof(pkg));
		field(p, (size_t)(stop - p), "Status", status, sizeof(status));
		field(p, (size_t)(stop - p), "Version", version, sizeof(version));
		field(p, (size_t)(stop - p), "Provides", prov, sizeof(prov));
		p = next;
		/* "install ok installed", "hold ok installed"; not config-files */
		if (!strstr(status, " installed") || strstr(status, "not-installed"))
			continue;
		if (!strcmp(pkg, "qemu-system-x86")) {
			snprintf(found_pkg, sizeof(found_pkg), "%s", pkg);
			snprintf(found_version, sizeof(found_version), "%s", version);
			break;
		}
		if (!found_pkg[0] && provides(prov, "qemu-system-x86-64")) {
			snprintf(found_pkg, sizeof(found_pkg), "%s", pkg);
			snprintf(found_version, sizeof(found_version), "%s", version);
		}
	}
	if (!found_pkg[0])
		return -ENOENT;
	snprintf(v->text, sizeof(v->text), "%s", found_version);
	snprintf(v->source, sizeof(v->source), "package %s", found_pkg);
	return parse_numbers(found_version, v);
}

int qemu_version_from_banner(const char *out, struct qemu_version *v)
{
	const char *p = strstr(out, "QEMU emulator version ");
	size_t n;

	if (!p)
		return -EINVAL;
	p += strlen("QEMU emulator version ");
	n = strcspn(p, " \n");
	snprintf(v->text, sizeof(v->text), "%.*s", (int)n, p);
	return parse_numbers(v->text, v);
}

/* path --version's first KiB of output, within timeout_ms */
static int run_version(const char *path, int timeout_ms, char *out, size_t outlen)
{
	char *argv[] = { (char *)path, "--version", NULL };
	char *envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
	int n = spawn_read(path, argv, envp, true, timeout_ms, out, outlen);

	return n < 0 ? n : n ? 0 : -EIO;
}

int qemu_version_find(const char *root, int timeout_ms, struct qemu_version *v)
{
	static const char *const dirs[] = { "/usr/local/bin", "/usr/bin", "/bin" };
	int rootfd = root_dir_open(root), err;
	char *text, out[1024], path[64];
	size_t len;

	memset(v, 0, sizeof(*v));
	if (rootfd < 0)
		return rootfd;
	err = root_read_file(rootfd, QEMU_DPKG_STATUS, 0, DPKG_STATUS_MAX, &text, &len, NULL);
	close(rootfd);
	if (!err) {
		err = qemu_version_from_dpkg(text, len, v);
		free(text);
		if (err != -ENOENT)
			return err;
	}
	if (!root_is_host(root))
		return -ENOENT;
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof(path), "%s/qemu-system-x86_64", dirs[i]);
		if (access(path, X_OK) < 0)
			continue;
		snprintf(v->source, sizeof(v->source), "%s --version", path);
		if (run_version(path, timeout_ms > 0 ? timeout_ms : 10000, out, sizeof(out)) < 0)
			return -EIO;
		return qemu_version_from_banner(out, v);
	}
	return -ENOENT;
}
