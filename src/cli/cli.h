/* The command-line front end: global options, the command table, and the
 * steps every command shares. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "names.h"
#include "pci-host.h"
#include "selector.h"

enum exit_code {
	EXIT_DONE = 0,
	EXIT_FAILED = 1,
	EXIT_USAGE = 2,
	EXIT_REFUSED = 3,
	EXIT_UNRESTORED = 4,
	EXIT_NOPERM = 5,
};

struct json_object;
struct lockset;
struct command;

struct cli {
	bool json, dry_run, force, all, no_initramfs, aleph;
	int verbose;
	bool quiet;
	const struct command *cmd;      /* the command run, once known */
	/* --json: the one document of the run, printed at its end whatever
	 * the exit status; commands set their keys in it (json_set) */
	struct json_object *doc;
	bool changed;           /* this run changed a binding or a file */
	double timeout;
	const char *sysfs;
	const char *root;
	const char *kernel;     /* --kernel: target kernel release */
	const char *driver;     /* --driver: vfio-pci, auto, or a module's name; NULL:
				 * not given (vfio-pci; apply: devices.conf's) */
	char **args;            /* selectors */
	int nargs;
	/* set up by cli_open() */
	struct sysfs *sfs;
	/* the host was listed, not read: what the command is about is read
	 * when it is known (cli_resolve, pci_host_read) */
	bool lean;
	/* the locks the run holds (cli_lock_run), released by cli_close */
	struct lockset *persist_lock, *group_locks;
	/* "/proc" when the tree is the running kernel's and /proc is a procfs:
	 * the processes that may hold its devices; NULL otherwise */
	const char *procroot;
	struct pci_host host;
	struct names *names;
	struct pci_addr *named;  /* functions named by their own address */
	size_t nnamed;
	/* set by cli_refuse: the "in-use" refusals --force went past, kept for
	 * a write that then does not return (its nodes are gone by then) */
	struct forced_holder { struct pci_addr at; char *message; } *forced;
	size_t nforced;
};

/* One command: a file cmd-NAME.c exporting it, a line in main.c's table.
 * The options each takes are main.c's table of options. */
struct command {
	const char *name;
	const char *args;       /* synopsis of the operands */
	const char *help;       /* one line, in the list of commands */
	const char *about;      /* what `help COMMAND` says it does */
	const char *exits[6];   /* what each exit status means for it; NULL: never */
	int (*run)(struct cli *cli);
	/* --json: every key of its document, with the value it has when the
	 * command stops before finding out more (a usage error) */
	void (*json_keys)(struct cli *cli);
	const int *caps;        /* capabilities kept while it runs */
	size_t ncaps;
	bool names;             /* prints hwdb names (list, verify) */
	/* what it reads of every function beyond the identity, driver and
	 * IOMMU group (enum pci_need); --json reads everything, for the
	 * function objects it prints */
	unsigned needs;
	/* reads only the GPUs it is given and their IOMMU groups */
	bool lean;
	/* changes drivers through the kernel writer (bind, rollback, apply):
	 * its child is started while the process is still small */
	bool writes;
	/* NULL: it reads sysfs; else whether this run does (unpersist
	 * without a selector needs none: a purge in a chroot has no /sys) */
	bool (*needs_sysfs)(const struct cli *cli);
};

extern const struct command cmd_list, cmd_check, cmd_verify, cmd_bind, cmd_rollback,
	cmd_persist, cmd_unpersist, cmd_apply, cmd_migrate, cmd_help;

/* The tables of main.c, for help. */
struct option_def {
	const char *name;       /* "dry-run"; NULL ends the table */
	char short_name;        /* 'v', or 0 */
	const char *arg;        /* "SEC", or NULL for a flag */
	const char *help;
	/* the commands it means something to, by name, space-separated;
	 * NULL: every command */
	const char *commands;
};
const struct command *const *cli_commands(size_t *n);
const struct option_def *cli_options(void);
/* Does the option mean something to the command? */
bool cli_option_applies(const struct option_def *o, const struct command *cmd);
const struct command *cli_find_command(const char *name);
/* The nearest command name, when name is a likely typo of it; or NULL. */
const char *cli_nearest_command(const char *name);
/* The help text: of every command (cmd NULL), or of one. */
void cli_usage(FILE *fp, const struct command *cmd);

/* Open the sysfs tree and read every function (needs: enum pci_need);
 * prints the error. */
int cli_open(struct cli *cli, bool names, unsigned needs, bool lean);
void cli_close(struct cli *cli);
/* Read more of the functions of these slots (enum pci_need), or with
 * nslots 0 of every slot check looks at, and with PCI_NEED_LINK the link
 * of the port above each. */
void cli_fill_slots(struct cli *cli, const struct pci_addr *slots, size_t nslots, unsigned needs);
/* Read the tree again: another run may have changed it (after a wait). */
int cli_reload(struct cli *cli);
/* Read these functions again (drivers, overrides): a lighter reload. */
int cli_reread(struct cli *cli, const struct pci_addr *fns, size_t n);
struct check_env;
/* The environment check runs in: this tree, --root, and /proc only when the
 * tree is the running kernel's (a captured tree's device numbers mean
 * nothing to this host's processes). */
void cli_check_env(struct cli *cli, struct check_env *env);
/* Parse and resolve the selectors to slots; on bad input prints why and
 * returns EXIT_USAGE. */
int cli_resolve(struct cli *cli, struct pci_addr **slots, size_t *nslots);
/* The functions the slots hand over: each slot's GPU functions, and the
 * others only where named by address.  0 or -ENOMEM. */
int cli_functions(struct cli *cli, const struct pci_addr *slots, size_t nslots,
		  struct pci_addr **fns, size_t *nfns);
/* --dry-run: a change the run would make.  Its text is shown (on stdout;
 * on stderr under --json, whose stdout is the document) and, under
 * --json, it is an entry of "planned": action ("write", "load", "run",
 * "write-file", "remove-file", "edit-file"), path, value, module, command
 * (NULL: null). */
void cli_plan(struct cli *cli, const char *action, const char *path, const char *value,
	      const char *module, const char *command, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
/* The engine's plan callback (struct engine's plan; data is the cli). */
void cli_engine_plan(void *cli, const char *path, const char *value, const char *text);
struct persist_problem;
/* devices.conf could not be read (err), or does not parse (why, from
 * persist_read_devices): "FILE:LINE: what is wrong; OUTCOME: the way out"
 * (correct the line, or unpersist everything), outcome saying what the
 * command did instead ("apply hands nothing over"). */
void cli_persisted_error(const struct cli *cli, int err, const struct persist_problem *why,
			 const char *outcome);
