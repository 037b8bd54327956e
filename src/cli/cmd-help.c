/* help [COMMAND]: the usage of every command, or of one (also COMMAND
 * --help): its synopsis, what it does, its options and exit statuses, all
 * from the tables of main.c and the command's own entry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "json-out.h"
#include "log.h"

static void option_line(FILE *fp, const struct option_def *o, bool prefix)
{
	char names[64], cmds[96] = "";

	if (o->short_name)
		snprintf(names, sizeof(names), "-%c, --%s%s%s", o->short_name, o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
	else
		snprintf(names, sizeof(names), "--%s%s%s", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
	/* in the list of every option: the commands it belongs to, "a, b: " */
	if (prefix && o->commands) {
		const char *p = o->commands;
		size_t len, used;

		for (p += strspn(p, " "); *p; p += len, p += strspn(p, " ")) {
			len = strcspn(p, " ");
			used = strlen(cmds);
			snprintf(cmds + used, sizeof(cmds) - used, "%s%.*s", used ? ", " : "",
				 (int)len, p);
		}
	}
	if (cmds[0])
		snprintf(cmds + strlen(cmds), sizeof(cmds) - strlen(cmds), ": ");
	fprintf(fp, "  %-16s  %s%s\n", names, cmds, o->help);
}

static void usage_all(FILE *fp)
{
	size_t n;
	const struct command *const *cmds = cli_commands(&n);

	fprintf(fp, "Usage: vfio-handover [OPTIONS] COMMAND [SELECTOR...]\n\n"
		"Hand GPUs over to vfio-pci at runtime, verify, and give them back.\n\n"
		"Commands:\n");
	for (size_t i = 0; i < n; i++)
		fprintf(fp, "  %-9s %-14s %s\n", cmds[i]->name, cmds[i]->args, cmds[i]->help);
	fprintf(fp, "\nSelectors name whole GPUs: 0000:01:00.0, 01:00.0, 01:00 (the slot), 10de:27b0\n"
		"(every device with that vendor:device id).\n\nOptions:\n");
	for (const struct option_def *o = cli_options(); o->name; o++)
		option_line(fp, o, true);
	fprintf(fp, "\nAn option that means nothing to the command is a usage error.\n"
		"Exit status: 0 done, 1 failed (state restored), 2 bad usage, 3 refused by a\n"
		"safety check, 4 failed and not restored, 5 not permitted.\n"
		"vfio-handover help COMMAND says more of one command; see also vfio-handover(8).\n");
}

static void usage_one(FILE *fp, const struct command *cmd)
{
	fprintf(fp, "Usage: vfio-handover [OPTIONS] %s%s%s\n\n%s\n\nOptions:\n", cmd->name,
		cmd->args[0] ? " " : "", cmd->args, cmd->about);
	for (const struct option_def *o = cli_options(); o->name; o++)
		if (cli_option_applies(o, cmd))
			option_line(fp, o, false);
	fprintf(fp, "\nExit status:\n");
	for (int i = 0; i < 6; i++)
		if (cmd->exits[i])
			fprintf(fp, "  %d  %s\n", i, cmd->exits[i]);
	fprintf(fp, "\nSee vfio-handover(8).\n");
}

void cli_usage(FILE *fp, const struct command *cmd)
{
	if (cmd)
		usage_one(fp, cmd);
	else
		usage_all(fp);
}

static int run_help(struct cli *cli)
{
	const struct command *cmd = NULL;
	const char *near;
	char fix[160];

	if (cli->nargs > 1) {
		log_error(MSG_UNEXPECTED_ARGUMENT, "e.g. vfio-handover help bind",
			  "help takes one command at most (got '%s')", cli->args[1]);
		return EXIT_USAGE;
	}
	if (cli->nargs && !(cmd = cli_find_command(cli->args[0]))) {
		near = cli_nearest_command(cli->args[0]);
		log_error(MSG_UNKNOWN_COMMAND, near ? log_fixf(fix, sizeof(fix), "did you mean %s?", near) :
			  "vfio-handover help lists the commands", "no command '%s'", cli->args[0]);
		return EXIT_USAGE;
	}
	if (!cli->json) {
		cli_usage(stdout, cmd);
		return EXIT_DONE;
	}
	/* --json: the same text, in the document */
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	if (!mem) {
		log_error(MSG_OUT_OF_MEMORY, NULL, "out of memory");
		return EXIT_FAILED;
	}
	cli_usage(mem, cmd);
	fclose(mem);
	json_set(cli, "topic", cmd ? json_object_new_string(cmd->name) : NULL);
	json_set(cli, "text", json_object_new_string(text ? text : ""));
	free(text);
	return EXIT_DONE;
}

static void help_keys(struct cli *cli)
{
	json_set(cli, "topic", NULL);
	json_set(cli, "text", json_object_new_string(""));
}

static bool no_sysfs(const struct cli *cli)
{
	(void)cli;
	return false;
}

const struct command cmd_help = {
	.name = "help",
	.args = "[COMMAND]",
	.help = "this help, or a command's: usage, options, exit statuses",
	.about = "Say how to use vfio-handover, or one of its commands: its usage, the options\n"
		 "it takes and what its exit statuses mean.  COMMAND --help says the same.",
	.exits = {
		[0] = "the help was printed",
		[1] = "it could not be written to standard output",
		[2] = "no such command",
	},
	.run = run_help,
	.json_keys = help_keys,
	.needs_sysfs = no_sysfs,
};
