/* The managed blocks of the files persist shares with the user
 * (/etc/initramfs-tools/modules, /etc/aleph-vm/supervisor.env; the
 * modprobe.d and dracut shapes too).  The input's first byte picks the
 * block's body, the rest is the user's file.  Where persist_set_block or
 * persist_set_env does not refuse the text:
 *  - a text without a block of ours: cutting the block set gives the text
 *    back exactly, and setting it again changes nothing;
 *  - a text with a block: setting is idempotent and the cut leaves no block;
 *  - setting ALEPH_VM_ENABLE_GPU_SUPPORT=True in it is undone exactly by
 *    the cut, is idempotent, and the supervisor.env reader (check) then
 *    sees it True. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "aleph.h"
#include "fuzz-util.h"
#include "persist.h"

#define KEY "ALEPH_VM_ENABLE_GPU_SUPPORT"

static char *bodies[8];
static size_t nbodies;
static char *root, *env_path;

static void add_body(char *body)
{
	if (!body)
		abort();
	bodies[nbodies++] = body;
}

/* Cut; NULL when the markers do not pair up. */
static char *cut(const char *text)
{
	char *out;

	return persist_cut_block(text, &out) == 0 ? out : NULL;
}

/* The first line where a and b differ, for the report. */
static const char *first_diff(const char *a, const char *b)
{
	size_t i = 0;

	while (a[i] && a[i] == b[i])
		i++;
	while (i && a[i - 1] != '\n')
		i--;
	return a + i;
}

static void check_block(const char *text, const char *body)
{
	char *plain = cut(text), *s1 = NULL, *s2 = NULL, *c1 = NULL, *c2 = NULL;
	bool has_block;

	if (!plain)
		return;         /* unbalanced markers: refused, and that is all */
	has_block = strcmp(plain, text) != 0;
	if (persist_set_block(text, body, &s1) != 0)
		goto out;
	FUZZ_CHECK(persist_set_block(s1, body, &s2) == 0 && !strcmp(s1, s2),
		   "setting the block twice changes the text at: %.80s", first_diff(s2 ? s2 : "", s1));
	c1 = cut(s1);
	FUZZ_CHECK(c1 != NULL, "the text with our block does not cut");
	if (!has_block) {
		FUZZ_CHECK(!strncmp(s1, text, strlen(text)), "setting the block changed the user's text");
		FUZZ_CHECK(!strcmp(c1, text), "cut(set(text)) is not the text: differs at: %.80s",
			   first_diff(c1, text));
	} else {
		/* what the cut leaves has no block left */
		c2 = cut(c1);
		FUZZ_CHECK(c2 && !strcmp(c1, c2), "the cut of a set block leaves a block behind");
	}
out:
	free(c2);
	free(c1);
	free(s2);
	free(s1);
	free(plain);
}

/* Does supervisor.env with this text say GPU support is on? */
static bool aleph_sees_true(const char *text, struct aleph_env *a)
{
	FILE *f = fopen(env_path, "we");

	if (!f || fputs(text, f) == EOF || fclose(f) != 0)
		abort();
	return aleph_env_read(root, a) == 0 && a->has_gpu_support && aleph_truthy(a->gpu_support);
}

static void check_env(const char *text)
{
	char *plain = cut(text), *e1 = NULL, *e2 = NULL, *c1 = NULL, *e3 = NULL;
	struct aleph_env a;

	if (!plain)
		return;
	if (persist_set_env(text, KEY, "True", &e1) != 0)
		goto out;
	FUZZ_CHECK(persist_set_env(e1, KEY, "True", &e2) == 0 && !strcmp(e1, e2),
		   "setting %s=True twice changes the text at: %.80s", KEY, first_diff(e2 ? e2 : "", e1));
	/* set works from the file as it was before persist */
	FUZZ_CHECK(persist_set_env(plain, KEY, "True", &e3) == 0 && !strcmp(e1, e3),
		   "setting %s=True in the text and in the text without its block differ", KEY);
	c1 = cut(e1);
	FUZZ_CHECK(c1 != NULL, "the text with %s=True set does not cut", KEY);
	FUZZ_CHECK(!strcmp(c1, plain), "cut(set_env(text)) is not the text: differs at: %.80s",
		   first_diff(c1, plain));
	FUZZ_CHECK(aleph_sees_true(e1, &a), "persist set %s=True, check reads %s", KEY,
		   a.has_gpu_support ? a.gpu_support : "it unset");
out:
	free(e3);
	free(c1);
	free(e2);
	free(e1);
	free(plain);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const softdeps[] = { "nvidia", "snd_hda_intel", "nouveau", NULL };
	struct persist_target t = {
		.kernel = "6.1.0-18-amd64", .ids_exclusive = true, .softdep_modules = softdeps,
	};
	struct persist_fn fn = { .addr = { 0, 1, 0, 0 }, .vendor = 0x10de, .device = 0x27b0 };
	char *s;
	int err = 0;

	(void)argc;
	(void)argv;
	add_body(strdup(""));
	add_body(strdup(KEY "=True\n"));
	err |= persist_render_initramfs_block(&t, &s);
	add_body(s);
	t.has_virqfd = true;
	t.kernel = "5.10.0-28-amd64";
	err |= persist_render_initramfs_block(&t, &s);
	add_body(s);
	err |= persist_render_modprobe(&t, &fn, 1, &s);
	add_body(s);
	err |= persist_render_dracut(&t, &s);
	add_body(s);
	err |= persist_render_modules_load(&t, &s);
	add_body(s);
	if (err)
		abort();
	root = fuzz_mkdir("managed-block");
	free(fuzz_mkdir("managed-block/etc/aleph-vm"));
	env_path = malloc(strlen(root) + sizeof("/etc/aleph-vm/supervisor.env"));
	if (!env_path)
		abort();
	sprintf(env_path, "%s/etc/aleph-vm/supervisor.env", root);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;

	if (!size)
		return 0;
	text = fuzz_cstr(data + 1, size - 1);
	check_block(text, bodies[data[0] % nbodies]);
	check_env(text);
	free(text);
	return 0;
}
