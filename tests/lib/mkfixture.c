/* mkfixture LAYOUT DIR: writes an emulated sysfs tree (see fixture.h). */
#include "fixture.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
	const char *const *n;

	fprintf(f, "usage: mkfixture LAYOUT DIR\n"
		"Writes an emulated /sys for LAYOUT into DIR, which must not "
		"exist or be empty.\nLayouts:\n");
	for (n = fx_layout_names(); *n; n++)
		fprintf(f, "  %s\n", *n);
}

static int known(const char *name)
{
	const char *const *n;

	for (n = fx_layout_names(); *n; n++)
		if (!strcmp(*n, name))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct fx *fx;
	int r;

	if (argc == 2 && (!strcmp(argv[1], "-h") ||
			  !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc != 3 || !known(argv[1]) || !*argv[2]) {
		usage(stderr);
		return 2;
	}
	fx = fx_new(argv[2]);
	if (!fx) {
		fprintf(stderr, "mkfixture: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	r = fx_layout(fx, argv[1]);
	if (r)
		fprintf(stderr, "mkfixture: layout %s: %s\n", argv[1],
			strerror(-r));
	fx_free(fx);
	return r ? 1 : 0;
}
