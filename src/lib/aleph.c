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
	char line[1024], *key, *val, *text;
	int rootfd = root_dir_open(root), err;
	size_t len;
	FILE *fp;

	memset(env, 0, sizeof(*env));
	if (rootfd < 0)
		return rootfd == -ENOENT ? 0 : rootfd;
	/* found inside --root, and only ever a regular file */
	err = root_read_file(rootfd, ALEPH_SUPERVISOR_ENV, 0, ALEPH_ENV_MAX, &text, &len, NULL);
	close(rootfd);
	if (err)
		return err == -ENOENT ? 0 : err;
	fp = len ? fmemopen(text, len, "r") : NULL;
	if (!fp && len) {
		free(text);
		return -ENOMEM;
	}
	env->present = true;
	while (fp && fgets(line, sizeof(line), fp)) {
		if (!parse_line(line, &key, &val))
			continue;
		/* the last assignment wins, as in the shell */
		if (strcmp(key, "ALEPH_VM_ENABLE_GPU_SUPPORT") == 0) {
			env->has_gpu_support = true;
			snprintf(env->gpu_support, sizeof(env->gpu_support), "%s", val);
		} else if (strcmp(key, "ALEPH_VM_PAYMENT_RECEIVER_ADDRESS") == 0) {
			env->has_receiver = val[0] != '\0';
			snprintf(env->receiver, sizeof(env->receiver), "%s", val);
		} else if (strcasecmp(key, "ALEPH_VM_SUPERVISOR_HOST") == 0) {
			/* pydantic-settings reads aleph-vm's names case-insensitively */
			snprintf(env->supervisor_host, sizeof(env->supervisor_host), "%s", val);
		} else if (strcasecmp(key, "ALEPH_VM_SUPERVISOR_PORT") == 0) {
			snprintf(env->supervisor_port, sizeof(env->supervisor_port), "%s", val);
		}
	}
	if (fp)
		fclose(fp);
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
