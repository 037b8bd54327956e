/* The lines of a hand-made VFIO setup (leftovers.c) in a user's file.  The
 * input's first byte (mod 6; the digits 0-5 as themselves) picks the file:
 * 0 modprobe.d, 1 /etc/modules, 2 the initramfs-tools list, 3 dracut.conf.d,
 * 4 /etc/default/grub, 5 /etc/kernel/cmdline.  The rest is the file.
 *  - every finding is within the text, says what is wrong and the fix, and
 *    a line on the kernel command line is never one migrate edits;
 *  - taking every finding out and putting the notes back gives the text
 *    back, byte for byte (for a text without notes of migrate's already);
 *  - the text taken out holds no line of a VFIO setup migrate would take
 *    out again, and taking out nothing changes nothing;
 *  - putting back a text that migrate's notes were never in changes
 *    nothing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz-util.h"
#include "leftovers.h"

static const struct {
	enum leftover_format fmt;
	const char *file;
} files[] = {
	{ LF_MODPROBE, "/etc/modprobe.d/vfio.conf" },
	{ LF_MODULES_LOAD, "/etc/modules" },
	{ LF_INITRAMFS, "/etc/initramfs-tools/modules" },
	{ LF_DRACUT, "/etc/dracut.conf.d/vfio.conf" },
	{ LF_GRUB, "/etc/default/grub" },
	{ LF_KERNEL_CMDLINE, "/etc/kernel/cmdline" },
};

static const char *const host_drivers[] = {
	"nouveau", "nvidia", "nvidia_drm", "amdgpu", "radeon", "snd_hda_intel", NULL,
};

static unsigned count_lines(const char *text)
{
	unsigned n = 0;

	for (const char *p = text; *p; p++)
		n += *p == '\n';
	return n + (*text && text[strlen(text) - 1] != '\n');
}

static void check_findings(const char *text, const struct leftover *v, size_t n, size_t f)
{
	unsigned lines = count_lines(text);

	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(v[i].line >= 1 && v[i].nlines >= 1 && v[i].line + v[i].nlines - 1 <= lines,
			   "finding %zu: lines %u+%u of a text of %u", i, v[i].line, v[i].nlines, lines);
		FUZZ_CHECK(v[i].what && v[i].fix && v[i].text, "finding %zu says nothing", i);
		FUZZ_CHECK(v[i].cmdline == (files[f].fmt >= LF_DRACUT),
			   "finding %zu: a kernel command line is reported, never edited", i);
		FUZZ_CHECK(!v[i].fail || v[i].vfio, "finding %zu fails and is no VFIO setup's", i);
	}
}

static void check_roundtrip(const char *text, const struct leftover *v, size_t n, size_t f)
{
	const struct leftover_ctx ctx = { .host_drivers = host_drivers, .kernel = "6.12.0-1-amd64",
					  .virqfd_gone = true };
	struct persist_problem why = { 0 };
	struct leftover *again = NULL;
	size_t nagain = 0;
	char *out = NULL, *back = NULL;

	FUZZ_CHECK(leftovers_take_out(text, files[f].file, v, n, &out) == 0,
		   "taking out what the parse found fails");
	FUZZ_CHECK(leftovers_put_back(out, files[f].file, &back, &why) == 0,
		   "putting back what migrate took out is refused (line %u: %s)", why.line, why.what);
	FUZZ_CHECK(!strcmp(back, text), "put back is not the text");
	FUZZ_CHECK(leftovers_parse(files[f].fmt, files[f].file, out, &ctx, &again, &nagain) == 0,
		   "the text taken out does not parse");
	for (size_t i = 0; i < nagain; i++)
		FUZZ_CHECK(again[i].cmdline || !again[i].vfio,
			   "line %u is still a VFIO setup's once taken out: %.80s", again[i].line,
			   again[i].text);
	leftovers_free(again, nagain);
	free(back);
	free(out);
	/* nothing taken out: the text as it was */
	FUZZ_CHECK(leftovers_take_out(text, files[f].file, v, 0, &out) == 0 && !strcmp(out, text),
		   "taking out nothing changes the text");
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct leftover_ctx ctx = { .host_drivers = host_drivers, .kernel = "6.12.0-1-amd64",
					  .virqfd_gone = true };
	struct persist_problem why = { 0 };
	struct leftover *v = NULL;
	size_t n = 0, f;
	char *text, *back = NULL;
	int err;

	if (!size)
		return 0;
	f = (data[0] >= '0' && data[0] <= '5' ? (size_t)(data[0] - '0') : data[0]) % 6;
	text = fuzz_cstr(data + 1, size - 1);
	FUZZ_CHECK(leftovers_parse(files[f].fmt, files[f].file, text, &ctx, &v, &n) == 0,
		   "the parse fails");
	check_findings(text, v, n, f);
	if (!leftovers_marked(text)) {
		check_roundtrip(text, v, n, f);
		err = leftovers_put_back(text, files[f].file, &back, &why);
		FUZZ_CHECK(err == 0 && !strcmp(back, text), "putting back without a note changes the text");
		free(back);
	}
	leftovers_free(v, n);
	free(text);
	return 0;
}
