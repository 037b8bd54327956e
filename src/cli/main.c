/* vfio-handover: hand GPUs over to vfio-pci live, prove it, give them back. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "config.h"
#include "cli.h"
#include "log.h"
#include "privs.h"
#include "util.h"

static const struct command *const commands[] = {
	&cmd_list,
	&cmd_check,
	&cmd_verify,
	&cmd_bind,
	&cmd_rollback,
	&cmd_persist,
	&cmd_unpersist,
	&cmd_apply,
};

#define COMMAND_NAMES "list, check, verify, bind, rollback, persist, unpersist, apply"

enum {
	OPT_JSON = 256, OPT_DRY_RUN, OPT_FORCE, OPT_TIMEOUT, OPT_SYSFS, OPT_ROOT,
	OPT_NO_INITRAMFS, OPT_ALEPH, OPT_ALL, OPT_KERNEL,
};

static const struct option options[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "sysfs", required_argument, NULL, OPT_SYSFS },
	{ "root", required_argument, NULL, OPT_ROOT },
	{ "no-initramfs", no_argument, NULL, OPT_NO_INITRAMFS },
	{ "aleph", no_argument, NULL, OPT_ALEPH },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ 0 }
};

static void usage(FILE *fp)
{
	fprintf(fp, "Usage: vfio-handover [OPTIONS] COMMAND [SELECTOR...]\n\n"
		"Hand GPUs over to vfio-pci at runtime, verify, and give them back.\n\n"
		"Commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(fp, "  %-9s %-14s %s\n", commands[i]->name, commands[i]->args, commands[i]->help);
	fprintf(fp, "\nSelectors name whole GPUs: 0000:01:00.0, 01:00.0, 01:00 (the slot), 10de:27b0\n"
		"(every device with that vendor:device id).\n\n"
		"Options:\n"
		"  --all             list: every PCI function, not only GPUs\n"
		"  --json            one JSON document on stdout\n"
		"  --dry-run         print every change, make none\n"
		"  --force           go past the boot-VGA and device-in-use refusals\n"
		"  --timeout SEC     limit for each kernel step (default 10)\n"
		"  --sysfs DIR       read the PCI tree from DIR instead of /sys\n"
		"  --root DIR        prefix for configuration and state paths\n"
		"  --no-initramfs    persist, unpersist: do not refresh the initramfs\n"
		"  --kernel VERSION  persist, check: the kernel the next boot runs\n"
		"  --aleph           also manage the Aleph supervisor's GPU setting\n"
		"  -v, --verbose     say more\n"
		"  -q, --quiet       say only errors\n"
		"  -h, --help        this help\n"
		"  -V, --version     print the version\n\n"
		"Exit status: 0 done, 1 failed (state restored), 2 bad usage, 3 refused by a\n"
		"safety check, 4 failed and not restored, 5 not permitted.\n"
		"See vfio-handover(8).\n");
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

static int parse_timeout(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	/* the limits are kept in milliseconds: less than one would be none */
	if (errno || end == s || *end || !isfinite(v) || v < 0.001 || v > 86400)
		return -EINVAL;
	*out = v;
	return 0;
}

/* --root names a directory, checked before anything is read or written
 * under it (a typo must not become a new tree of files). */
static int check_root(const char *root)
{
	struct stat st;
	int err = 0;

	if (!root)
		return 0;
	if (stat(root, &st) < 0)
		err = errno;
	else if (!S_ISDIR(st.st_mode))
		err = ENOTDIR;
	if (!err)
		return 0;
	log_error("bad --root '%s': %s; expected the directory that holds the system to configure "
		  "(its /etc and /run, as in a chroot), or / for this host", root, strerror(err));
	return EXIT_USAGE;
}

/* 0 to go on, or the exit code to leave with. */
static int parse_options(int argc, char **argv, struct cli *cli, int *exit_now)
{
	int c;

	*exit_now = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":vqhV", options, NULL)) != -1) {
		switch (c) {
		case OPT_JSON: cli->json = true; break;
		case OPT_DRY_RUN: cli->dry_run = true; break;
		case OPT_FORCE: cli->force = true; break;
		case OPT_NO_INITRAMFS: cli->no_initramfs = true; break;
		case OPT_ALEPH: cli->aleph = true; break;
		case OPT_ALL: cli->all = true; break;
		case OPT_SYSFS: cli->sysfs = optarg; break;
		case OPT_ROOT: cli->root = optarg; break;
		case OPT_KERNEL:
			if (!optarg[0] || strchr(optarg, '/') || !strcmp(optarg, ".") || !strcmp(optarg, "..")) {
				log_error("bad --kernel '%s': expected a kernel release as in /lib/modules, "
					  "e.g. 6.1.0-18-amd64", optarg);
				return EXIT_USAGE;
			}
			cli->kernel = optarg;
			break;
		case 'v': cli->verbose++; break;
		case 'q': cli->quiet = true; break;
		case OPT_TIMEOUT:
			if (parse_timeout(optarg, &cli->timeout) < 0) {
				log_error("bad --timeout '%s': expected a number of seconds from 0.001 (1 ms) up to 86400",
					  optarg);
				return EXIT_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			*exit_now = EXIT_DONE;
			return 0;
		case 'V':
			printf("vfio-handover %s\n", PACKAGE_VERSION);
			*exit_now = EXIT_DONE;
			return 0;
		case ':':
			log_error("option %s needs a value; see vfio-handover --help", argv[optind - 1]);
			return EXIT_USAGE;
		default:
			log_error("unknown option '%s'; see vfio-handover --help", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cli cli = { .timeout = 10, .sysfs = "/sys", .root = NULL };
	const struct command *cmd;
	int rc, exit_now;

	rc = parse_options(argc, argv, &cli, &exit_now);
	if (rc || exit_now >= 0)
		return rc ? rc : exit_now;
	log_setup(cli.verbose, cli.quiet);
	if (optind >= argc) {
		log_error("no command given; expected one of " COMMAND_NAMES " (see --help)");
		return EXIT_USAGE;
	}
	cmd = find_command(argv[optind]);
	if (!cmd) {
		log_error("unknown command '%s'; expected one of " COMMAND_NAMES " (see --help)",
			  argv[optind]);
		return EXIT_USAGE;
	}
	if (cli.all && !cmd->takes_all) {
		log_error("--all is an option of list only");
		return EXIT_USAGE;
	}
	rc = check_root(cli.root);
	if (rc)
		return rc;
	cli.args = argv + optind + 1;
	cli.nargs = argc - optind - 1;
	if (privs_limit(cmd->caps, cmd->ncaps) < 0) {
		log_error("%s: cannot drop capabilities it does not need; refusing to go on", cmd->name);
		return EXIT_NOPERM;
	}
	if (!cmd->needs_sysfs || cmd->needs_sysfs(&cli)) {
		rc = cli_open(&cli, cmd->names);
		log_debug("sysfs read: %zu functions", cli.host.nfuncs);
	}
	if (rc == EXIT_DONE)
		rc = cmd->run(&cli);
	cli_close(&cli);
	log_debug("done, exit status %d", rc);
	return rc;
}
