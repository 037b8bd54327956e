/* The managed blocks of the files persist shares with the user.  The
 * input's first byte (mod 8; the digits 0-7 as themselves) picks the shape:
 * 1 is /etc/aleph-vm/supervisor.env (persist_set_env of
 * ALEPH_VM_ENABLE_GPU_SUPPORT=True), the others a block body for
 * persist_set_block: 0 none, 2 and 3 the /etc/initramfs-tools/modules
 * block (6.1, and 5.10 with vfio_virqfd), 4 modprobe.d, 5 dracut,
 * 6 modules-load.d, 7 one line.  The rest is the user's file.  Where the
 * set does not refuse the text, what it returns:
 *  - holds exactly one block (supervisor.env: or none, the value already
 *    set outside a block), and setting the same again changes nothing;
 *  - cuts back to what the text cuts to: the text itself, exactly, when it
 *    has no block of ours (unpersist gives every file back byte for byte);
 *  - supervisor.env: is what setting it in the text without its block
 *    gives, and the file's reader (check) then reads the setting as True. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "aleph.h"
#include "compat.h"
#include "fuzz-util.h"

#define KEY "ALEPH_VM_ENABLE_GPU_SUPPORT"

static char *bodies[8];    /* NULL: supervisor.env */
static size_t nbodies;
static char *root, *env_path;

static void add_body(char *body)
{
	if (!body)
		abort();
	bodies[nbodies++] = body;
}

/* Cut; NULL when refused (markers that do not pair up). */
static char *cut(const char *text)
{
	char *out;

	return fz_cut_block(text, &out) == 0 ? out : NULL;
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

/* out, which set returned, holds one block (or none, where allowed) and
 * cuts to what text cuts to (plain). */
static void check_result(const char *what, const char *text, const char *plain, const char *out,
			 bool may_have_none)
{
	char *c1 = cut(out), *c2 = c1 ? cut(c1) : NULL;

	FUZZ_CHECK(c1 != NULL, "%s: the result does not cut", what);
	FUZZ_CHECK(may_have_none || strcmp(c1, out) != 0, "%s: the result has no block", what);
	FUZZ_CHECK(c2 && !strcmp(c1, c2), "%s: the result holds more than one block", what);
	FUZZ_CHECK(!strcmp(c1, plain), "%s: cutting the result does not give back %s: differs at: %.80s",
		   what, strcmp(plain, text) ? "what cutting the text gives" : "the text",
		   first_diff(c1, plain));
	free(c2);
	free(c1);
}

static void check_block(const char *text, const char *plain, const char *body)
{
	char *s1 = NULL, *s2 = NULL;

	if (fz_set_block(text, body, &s1) != 0)
		return;
	check_result("set_block", text, plain, s1, false);
	FUZZ_CHECK(fz_set_block(s1, body, &s2) == 0 && !strcmp(s1, s2),
		   "setting the block twice changes the text at: %.80s", first_diff(s2 ? s2 : "", s1));
	free(s2);
	free(s1);
}

/* Does supervisor.env with this text say GPU support is on? */
static bool aleph_sees_true(const char *text, struct aleph_env *a)
{
	FILE *f = fopen(env_path, "we");

	if (!f || fputs(text, f) == EOF || fclose(f) != 0)
		abort();
	return aleph_env_read(root, a) == 0 && a->has_gpu_support && aleph_truthy(a->gpu_support);
}

static void check_env(const char *text, const char *plain)
{
	char *e1 = NULL, *e2 = NULL, *e3 = NULL;
	struct aleph_env a;

	if (fz_set_env(text, KEY, "True", &e1) != 0)
		return;
	/* already True outside a block: the result may have none */
	check_result("set_env", text, plain, e1, true);
	FUZZ_CHECK(fz_set_env(e1, KEY, "True", &e2) == 0 && !strcmp(e1, e2),
		   "setting %s=True twice changes the text at: %.80s", KEY, first_diff(e2 ? e2 : "", e1));
	/* set works from the file as it was before persist */
	FUZZ_CHECK(fz_set_env(plain, KEY, "True", &e3) == 0 && !strcmp(e1, e3),
		   "setting %s=True in the text and in the text without its block differ", KEY);
	FUZZ_CHECK(aleph_sees_true(e1, &a), "persist set %s=True, check reads %s", KEY,
		   a.has_gpu_support ? a.gpu_support : "it unset");
	free(e3);
	free(e2);
	free(e1);
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
	bodies[nbodies++] = NULL;
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
	add_body(strdup("vfio_pci\n"));
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
	char *text, *plain;

	if (!size)
		return 0;
	text = fuzz_cstr(data + 1, size - 1);
	plain = cut(text);
	/* a text refused by the cut is refused by the sets too: nothing to check */
	if (plain && bodies[data[0] % nbodies])
		check_block(text, plain, bodies[data[0] % nbodies]);
	else if (plain)
		check_env(text, plain);
	free(plain);
	free(text);
	return 0;
}
