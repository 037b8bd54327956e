/* Aleph compute nodes: the supervisor's settings in /etc/aleph-vm/supervisor.env. */
#pragma once
#include <stdbool.h>

#define ALEPH_SUPERVISOR_ENV "/etc/aleph-vm/supervisor.env"

struct aleph_env {
	bool present;                 /* the file exists: this is an Aleph node */
	bool has_gpu_support;
	char gpu_support[64];
	bool has_receiver;
	char receiver[128];
	/* where the supervisor listens (aleph-vm's settings SUPERVISOR_HOST and
	 * SUPERVISOR_PORT); "" when the file does not set them */
	char supervisor_host[128];
	char supervisor_port[16];
};

/* One line [l, l + len) of an environment file read as a shell or systemd
 * reads KEY=VALUE: blanks around the key and the value ("\r", "\f" too),
 * an optional "export" and blanks before the key, one pair of quotes
 * around the value taken off.  false for a line that assigns nothing
 * (blank, a comment, no '=').  The one reading of supervisor.env, for
 * check (aleph_env_read) and for persist (managed-block.c). */
struct env_assign {
	const char *key, *val;
	size_t klen, vlen;
};
bool env_line_parse(const char *l, size_t len, struct env_assign *a);

int aleph_env_read(const char *root, struct aleph_env *env);
bool aleph_truthy(const char *v);
/* An Ethereum-style address: 0x and 40 hex digits. */
bool aleph_address_valid(const char *v);
