#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "aleph.h"
#include "util.h"

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* KEY=VALUE with optional "export " and quotes, as a shell or systemd reads it. */
static int parse_line(char *line, char **key, char **val)
{
	char *eq, *v;
	size_t n;

	line = trim(line);
	if (!*line || *line == '#')
		return 0;
	if (strncmp(line, "export ", 7) == 0)
		line = trim(line + 7);
	eq = strchr(line, '=');
	if (!eq)
		return 0;
	*eq = '\0';
	*key = trim(line);
	v = trim(eq + 1);
	n = strlen(v);
	if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
		v[n - 1] = '\0';
		v++;
	}
	*val = v;
	return 1;
}

int aleph_env_read(const char *root, struct aleph_env *env)
{
	char path[4096], line[1024], *key, *val;
	FILE *fp;
	int err;

	memset(env, 0, sizeof(*env));
	err = root_path(root, ALEPH_SUPERVISOR_ENV, path, sizeof(path));
	if (err)
		return err;
	fp = fopen(path, "re");
	if (!fp)
		return errno == ENOENT ? 0 : -errno;
	env->present = true;
	while (fgets(line, sizeof(line), fp)) {
		if (!parse_line(line, &key, &val))
			continue;
		/* the last assignment wins, as in the shell */
		if (strcmp(key, "ALEPH_VM_ENABLE_GPU_SUPPORT") == 0) {
			env->has_gpu_support = true;
			snprintf(env->gpu_support, sizeof(env->gpu_support), "%s", val);
		} else if (strcmp(key, "ALEPH_VM_PAYMENT_RECEIVER_ADDRESS") == 0) {
			env->has_receiver = val[0] != '\0';
			snprintf(env->receiver, sizeof(env->receiver), "%s", val);
		}
	}
	fclose(fp);
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
