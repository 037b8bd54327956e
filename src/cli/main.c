/* vfio-handover: hand GPUs over to vfio-pci live, prove it, give them back. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "config.h"
#include "cli.h"
#include "json-out.h"
#include "log.h"
#include "privs.h"
#include "util.h"

/* Every command, in the order help lists them. */
static const struct command *const commands[] = {
	&cmd_list,
	&cmd_check,
	&cmd_verify,
	&cmd_bind,
	&cmd_rollback,
	&cmd_persist,
	&cmd_unpersist,
	&cmd_apply,
	&cmd_migrate,
	&cmd_help,
};

/* Every option, in the order help lists them, and the commands it means
 * something to (NULL: all); an option given to another command is a usage
 * error naming these.  Its index here is its getopt value (+ OPT_BASE). */
static const struct option_def option_defs[] = {
	{ "all", 0, NULL, "every PCI function, not only GPUs", "list" },
	{ "json", 0, NULL, "one JSON document on stdout (doc/json.md)", NULL },
	{ "dry-run", 0, NULL, "print every change, make none",
	  "bind rollback persist unpersist apply migrate" },
	{ "force", 0, NULL, "go past the boot-VGA and device-in-use refusals", "bind" },
	{ "timeout", 0, "SEC", "limit for each kernel step (default 10)", NULL },
	{ "sysfs", 0, "DIR", "read the PCI tree from DIR instead of /sys", NULL },
	{ "root", 0, "DIR", "prefix for configuration and state paths", NULL },
	{ "no-initramfs", 0, NULL, "do not refresh the initramfs", "persist unpersist migrate" },
	{ "kernel", 0, "VERSION", "the kernel the next boot runs", "check persist unpersist migrate" },
	{ "aleph", 0, NULL, "also manage the Aleph supervisor",
	  "bind rollback persist unpersist migrate" },
	{ "driver", 0, "NAME", "the VFIO driver: vfio-pci (default), auto (the variant made for "
	  "each function, by modalias) or a variant's module", "bind apply persist" },
	{ "verbose", 'v', NULL, "say more", NULL },
	{ "quiet", 'q', NULL, "say only errors", NULL },
	{ "help", 'h', NULL, "this help; with a command, that command's", NULL },
	{ "version", 'V', NULL, "print the version", NULL },
	{ NULL, 0, NULL, NULL, NULL }
};

enum {
	OPT_BASE = 256,
	OPT_ALL = OPT_BASE, OPT_JSON, OPT_DRY_RUN, OPT_FORCE, OPT_TIMEOUT, OPT_SYSFS, OPT_ROOT,
	OPT_NO_INITRAMFS, OPT_KERNEL, OPT_ALEPH, OPT_DRIVER, OPT_VERBOSE, OPT_QUIET, OPT_HELP, OPT_VERSION,
	OPT_END
};

const struct command *const *cli_commands(size_t *n)
{
	*n = ARRAY_SIZE(commands);
	return commands;
}

const struct option_def *cli_options(void)
{
	return option_defs;
}

const struct command *cli_find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

bool cli_option_applies(const struct option_def *o, const struct command *cmd)
{
	size_t n = strlen(cmd->name);

	for (const char *p = o->commands; p && (p = strstr(p, cmd->name)); p += n)
		if ((p == o->commands || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
	return !o->commands;
}

/* Edits (insert, delete, replace, swap two neighbours) from a to b. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), d[32][32];

	if (la >= 32 || lb >= 32)
		return (size_t)-1;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[la][lb];
}

/* The nearest of names, within a third of its length (at least 1). */
static const char *nearest(const char *word, const char *const *names, size_t n)
{
	const char *best = NULL;
	size_t bestd = (size_t)-1;

	for (size_t i = 0; i < n; i++) {
		size_t d = edit_distance(word, names[i]), limit = strlen(names[i]) / 3;

		if (d <= (limit ? limit : 1) && d < bestd) {
			best = names[i];
			bestd = d;
		}
	}
	return best;
}

const char *cli_nearest_command(const char *name)
{
	const char *names[ARRAY_SIZE(commands)];

	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		names[i] = commands[i]->name;
	return nearest(name, names, ARRAY_SIZE(commands));
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
	log_error(MSG_BAD_VALUE, "expected the directory that holds the system to configure (its "
		  "/etc and /run, as in a chroot), or / for this host", "bad --root '%s': %s", root,
		  strerror(err));
	return EXIT_USAGE;
}

/* --driver: a module's or driver's name (letters, digits, '_', '-'). */
static bool driver_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= 64 || s[0] == '-')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

/* What the command line asked for besides the cli fields. */
struct request {
	bool seen[OPT_END - OPT_BASE];  /* each option given */
	bool help, version;
	int usage;                      /* the first usage error: EXIT_USAGE, or 0 */
};

static void unknown_option(const char *arg)
{
	const char *names[ARRAY_SIZE(option_defs)], *near;
	char word[64], fix[96];
	size_t n = 0;

	for (const struct option_def *o = option_defs; o->name; o++)
		names[n++] = o->name;
	snprintf(word, sizeof(word), "%s", arg + strspn(arg, "-"));
	word[strcspn(word, "=")] = '\0';
	near = arg[0] == '-' && arg[1] == '-' ? nearest(word, names, n) : NULL;
	if (near)
		log_fixf(fix, sizeof(fix), "did you mean --%s?", near);
	else
		log_fixf(fix, sizeof(fix), "see vfio-handover --help");
	log_error(MSG_UNKNOWN_OPTION, fix, "unknown option '%s'", arg);
}

/* One option: into cli or req.  A usage error is said, and the parse goes
 * on: --json and the command may come after it, and the document names them. */
static void take_option(int c, const char *arg, const char *given, struct cli *cli,
			struct request *req)
{
	if (c >= OPT_BASE && c < OPT_END)
		req->seen[c - OPT_BASE] = true;
	switch (c) {
	case OPT_JSON: cli->json = true; break;
	case OPT_DRY_RUN: cli->dry_run = true; break;
	case OPT_FORCE: cli->force = true; break;
	case OPT_NO_INITRAMFS: cli->no_initramfs = true; break;
	case OPT_ALEPH: cli->aleph = true; break;
	case OPT_ALL: cli->all = true; break;
	case OPT_SYSFS: cli->sysfs = arg; break;
	case OPT_ROOT: cli->root = arg; break;
	case OPT_VERBOSE: cli->verbose++; break;
	case OPT_QUIET: cli->quiet = true; break;
	case OPT_HELP: req->help = true; break;
	case OPT_VERSION: req->version = true; break;
	case OPT_KERNEL:
		if (!arg[0] || strchr(arg, '/') || !strcmp(arg, ".") || !strcmp(arg, "..")) {
			log_error(MSG_BAD_VALUE, NULL, "bad --kernel '%s': expected a kernel release as in "
				  "/lib/modules, e.g. 6.1.0-18-amd64", arg);
			req->usage = EXIT_USAGE;
		}
		cli->kernel = arg;
		break;
	case OPT_DRIVER:
		if (!driver_name_ok(arg)) {
			log_error(MSG_BAD_VALUE, NULL, "bad --driver '%s': expected vfio-pci, auto, or "
				  "the module of a VFIO variant driver, e.g. nvgrace_gpu_vfio_pci", arg);
			req->usage = EXIT_USAGE;
		}
		cli->driver = arg;
		break;
	case OPT_TIMEOUT:
		if (parse_timeout(arg, &cli->timeout) < 0) {
			log_error(MSG_BAD_VALUE, NULL, "bad --timeout '%s': expected a number of seconds "
				  "from 0.001 (1 ms) up to 86400", arg);
			req->usage = EXIT_USAGE;
		}
		break;
	case ':':
		log_error(MSG_MISSING_VALUE, "see vfio-handover --help", "option %s needs a value", given);
		req->usage = EXIT_USAGE;
		break;
	default:
		unknown_option(given);
		req->usage = EXIT_USAGE;
		break;
	}
}

static void parse_options(int argc, char **argv, struct cli *cli, struct request *req)
{
	struct option longopts[ARRAY_SIZE(option_defs)];
	char shortopts[32] = ":";
	size_t n = 0;
	int c;

	for (const struct option_def *o = option_defs; o->name; o++, n++) {
		longopts[n] = (struct option){ o->name, o->arg ? required_argument : no_argument,
					       NULL, OPT_BASE + (int)n };
		if (o->short_name)
			shortopts[strlen(shortopts)] = o->short_name;
	}
	longopts[n] = (struct option){ 0 };
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c > 0 && c < OPT_BASE && c != ':' && c != '?')
			for (size_t i = 0; option_defs[i].name; i++)
				if (option_defs[i].short_name == c)
					c = OPT_BASE + (int)i;
		take_option(c, optarg, argv[optind - 1], cli, req);
	}
}

/* "bind" / "bind and apply" / "bind, persist and apply" */
static void join_names(const char *list, char *buf, size_t len)
{
	char words[128], *save = NULL, *w;
	size_t count = 0, k = 0;

	snprintf(words, sizeof(words), "%s", list);
	for (const char *p = list; *p; p++)
		count += *p == ' ';
	count++;
	buf[0] = '\0';
	for (w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save), k++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
			 !k ? "" : k + 1 == count ? " and " : ", ", w);
}

/* An option that means nothing to the command is a usage error. */
static int check_options(const struct request *req, const struct command *cmd, const struct cli *cli)
{
	char names[160], fix[96];
	int rc = EXIT_DONE;

	for (size_t i = 0; option_defs[i].name; i++) {
		const struct option_def *o = &option_defs[i];

		if (!req->seen[i] || cli_option_applies(o, cmd))
			continue;
		join_names(o->commands, names, sizeof(names));
		log_error(MSG_OPTION_NOT_FOR_COMMAND, log_fixf(fix, sizeof(fix), "see vfio-handover "
			  "help %s", cmd->name), "--%s means nothing to %s: it is an option of %s",
			  o->name, cmd->name, names);
		rc = EXIT_USAGE;
	}
	if (cli->quiet && cli->verbose) {
		log_error(MSG_CONFLICTING_OPTIONS, "give one of them", "-q (--quiet) and -v (--verbose) "
			  "ask for opposite things");
		rc = EXIT_USAGE;
	}
	return rc;
}

static void command_list(char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? ", " : "", commands[i]->name);
}

/* The command named at argv[optind]; the message and NULL when none. */
static const struct command *pick_command(int argc, char **argv)
{
	const struct command *cmd;
	const char *near;
	char names[160], fix[200];

	command_list(names, sizeof(names));
	if (optind >= argc) {
		log_error(MSG_NO_COMMAND, log_fixf(fix, sizeof(fix), "expected one of %s (see "
			  "vfio-handover help)", names), "no command given");
		return NULL;
	}
	cmd = cli_find_command(argv[optind]);
	if (cmd)
		return cmd;
	near = cli_nearest_command(argv[optind]);
	if (near)
		log_fixf(fix, sizeof(fix), "did you mean %s? (vfio-handover help lists the commands)",
			 near);
	else
		log_fixf(fix, sizeof(fix), "expected one of %s (see vfio-handover help)", names);
	log_error(MSG_UNKNOWN_COMMAND, fix, "unknown command '%s'", argv[optind]);
	return NULL;
}

/* The run up to its exit status; the --json document is printed after. */
static int run(struct cli *cli, int argc, char **argv)
{
	struct request req = { 0 };
	const struct command *cmd = NULL;
	int rc;

	/* kept from the start: --json may come after a bad option */
	log_keep(true);
	parse_options(argc, argv, cli, &req);
	log_setup(cli->quiet ? 0 : cli->verbose, cli->quiet);
	if (cli->json)
		cli->doc = json_doc_new();
	if (req.usage) {
		/* the document names the command all the same, when there is one */
		cli->cmd = optind < argc ? cli_find_command(argv[optind]) : NULL;
		if (cli->doc && cli->cmd && cli->cmd->json_keys)
			cli->cmd->json_keys(cli);
		return req.usage;
	}
	if (req.version) {
		if (cli->doc)
			json_set(cli, "version", json_object_new_string(PACKAGE_VERSION));
		else
			printf("vfio-handover %s\n", PACKAGE_VERSION);
		return EXIT_DONE;
	}
	if (req.help && optind >= argc) {
		cmd = &cmd_help;
	} else {
		cmd = pick_command(argc, argv);
		if (!cmd)
			return EXIT_USAGE;
		optind++;
		cli->cmd = cmd;         /* its keys even for a usage error of its options */
	}
	cli->args = argv + optind;
	cli->nargs = argc - optind;
	/* COMMAND --help: that command's help, whatever else was given */
	if (req.help && cmd != &cmd_help) {
		cli->args = (char **)&cmd->name;
		cli->nargs = 1;
		cmd = &cmd_help;
	}
	if (cmd == &cmd_help)
		cli->cmd = cmd;
	if (cli->doc && cli->cmd->json_keys)
		cli->cmd->json_keys(cli);
	/* help is help, whatever else was given */
	rc = cmd == &cmd_help ? EXIT_DONE : check_options(&req, cmd, cli);
	if (!rc)
		rc = check_root(cli->root);
	if (rc)
		return rc;
	if (privs_limit(cmd->caps, cmd->ncaps) < 0) {
		log_error(MSG_NOT_PERMITTED, NULL, "%s: cannot drop capabilities it does not need; "
			  "refusing to go on", cmd->name);
		return EXIT_NOPERM;
	}
	log_debug("capabilities limited");
	if (!cmd->needs_sysfs || cmd->needs_sysfs(cli)) {
		/* --json: function objects with their names in every command */
		rc = cli_open(cli, cmd->names || cli->json, cli->json ? PCI_NEED_ALL : cmd->needs,
			      cmd->lean);
		log_debug("sysfs read: %zu functions", cli->host.nfuncs);
	}
	if (rc == EXIT_DONE)
		rc = cmd->run(cli);
	return rc;
}

/* What was printed must have reached stdout (a full disk, a closed pipe):
 * otherwise the run failed, as for coreutils' close_stdout. */
static int close_stdout(int rc)
{
	int err = 0;

	if (fflush(stdout) != 0 || ferror(stdout))
		err = errno ? errno : EIO;
	if (fclose(stdout) != 0 && !err)
		err = errno;
	if (!err)
		return rc;
	log_error(MSG_STDOUT_ERROR, "send it where it fits: a file system with room, a pipe "
		  "read to its end", "cannot write to standard output: %s; what it printed is "
		  "incomplete", strerror(err));
	return rc ? rc : EXIT_FAILED;
}

int main(int argc, char **argv)
{
	struct cli cli = { .timeout = 10, .sysfs = "/sys", .root = NULL };
	int rc = run(&cli, argc, argv);

	if (cli.doc) {
		json_doc_finish(&cli, rc);
		json_print(cli.doc);
		cli.doc = NULL;
	}
	cli_close(&cli);
	log_kept_free();
	log_debug("done, exit status %d", rc);
	return close_stdout(rc);
}
