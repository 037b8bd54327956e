#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>
#include "aleph.h"
#include "root-path.h"

/* an env file is a few lines; more is not one */
#define ALEPH_ENV_MAX (1u << 20)

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && isspace((unsigned char)*p))
		p++;
	return p;
}

bool env_line_parse(const char *l, size_t len, struct env_assign *a)
{
	const char *end = l + len, *eq, *k;

	l = skip_blanks(l, end);
	if (l == end || *l == '#')
		return false;
	if (end - l > 6 && !memcmp(l, "export", 6) && isspace((unsigned char)l[6]))
		l = skip_blanks(l + 6, end);
	eq = memchr(l, '=', (size_t)(end - l));
	if (!eq)
		return false;
	for (k = eq; k > l && isspace((unsigned char)k[-1]); k--)
		;
	a->key = l;
	a->klen = (size_t)(k - l);
	l = skip_blanks(eq + 1, end);
	while (end > l && isspace((unsigned char)end[-1]))
		end--;
	if (end - l >= 2 && (*l == '"' || *l == '\'') && end[-1] == *l) {
		l++;
		end--;
	}
	a->val = l;
	a->vlen = (size_t)(end - l);
	return true;
}

static bool key_is(const struct env_assign *a, const char *key, bool anycase)
{
	return a->klen == strlen(key) &&
	       !(anycase ? strncasecmp(a->key, key, a->klen) : strncmp(a->key, key, a->klen));
}

int aleph_env_read(const char *root, struct aleph_env *env)
{
	int rootfd = root_dir_open(root), err;
	struct env_assign a;
	char *text;
	size_t len;

	memset(env, 0, sizeof(*env));
	if (rootfd < 0)
		return rootfd == -ENOENT ? 0 : rootfd;
	/* found inside --root, and only ever a regular file */
	err = root_read_file(rootfd, ALEPH_SUPERVISOR_ENV, 0, ALEPH_ENV_MAX, &text, &len, NULL);
	close(rootfd);
	if (err)
		return err == -ENOENT ? 0 : err;
	env->present = true;
	/* line by line, whatever their length; the last assignment wins, as
	 * in the shell */
	for (size_t pos = 0, e; pos < len; pos = e + 1) {
		const char *nl = memchr(text + pos, '\n', len - pos);

		e = nl ? (size_t)(nl - text) : len;
		if (!env_line_parse(text + pos, e - pos, &a))
			continue;
		if (key_is(&a, "ALEPH_VM_ENABLE_GPU_SUPPORT", false)) {
			env->has_gpu_support = true;
			snprintf(env->gpu_support, sizeof(env->gpu_support), "%.*s", (int)a.vlen, a.val);
		} else if (key_is(&a, "ALEPH_VM_PAYMENT_RECEIVER_ADDRESS", false)) {
			env->has_receiver = a.vlen > 0;
			snprintf(env->receiver, sizeof(env->receiver), "%.*s", (int)a.vlen, a.val);
		} else if (key_is(&a, "ALEPH_VM_SUPERVISOR_HOST", true)) {
			/* pydantic-settings reads aleph-vm's names case-insensitively */
			snprintf(env->supervisor_host, sizeof(env->supervisor_host), "%.*s",
				 (int)a.vlen, a.val);
		} else if (key_is(&a, "ALEPH_VM_SUPERVISOR_PORT", true)) {
			snprintf(env->supervisor_port, sizeof(env->supervisor_port), "%.*s",
				 (int)a.vlen, a.val);
		}
	}
	free(text);
	return 0;
}

bool aleph_truthy(const char *v)
{
	return !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes") ||
	       !strcasecmp(v, "on");
}

bool aleph_address_valid(const char *v)
{
	if (strncmp(v, "0x", 2) != 0 || strlen(v) != 42)
		return false;
	for (const char *p = v + 2; *p; p++)
		if (!isxdigit((unsigned char)*p))
			return false;
	return true;
}
