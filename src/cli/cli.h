/* The command-line front end: global options, the command table, and the
 * steps every command shares. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
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

struct cli {
	bool json, dry_run, force, all, no_initramfs, aleph;
	int verbose;
	bool quiet;
	double timeout;
	const char *sysfs;
	const char *root;
	const char *kernel;     /* --kernel: target kernel release */
	char **args;            /* selectors */
	int nargs;
	/* set up by cli_open() */
	struct sysfs *sfs;
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

struct command {
	const char *name;
	const char *args;       /* synopsis of the operands */
	const char *help;
	int (*run)(struct cli *cli);
	const int *caps;        /* capabilities kept while it runs */
	size_t ncaps;
	bool takes_all;         /* accepts --all */
	bool names;             /* prints hwdb names (list, verify) */
	/* NULL: it reads sysfs; else whether this run does (unpersist
	 * without a selector needs none: a purge in a chroot has no /sys) */
	bool (*needs_sysfs)(const struct cli *cli);
};

extern const struct command cmd_list, cmd_check, cmd_verify, cmd_bind, cmd_rollback,
	cmd_persist, cmd_unpersist, cmd_apply;

/* Open the sysfs tree and read every function; prints the error. */
int cli_open(struct cli *cli, bool names);
void cli_close(struct cli *cli);
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
struct persist_problem;
/* devices.conf could not be read (err), or does not parse (why, from
 * persist_read_devices): "FILE:LINE: what is wrong; OUTCOME: the way out"
 * (correct the line, or unpersist everything), outcome saying what the
 * command did instead ("apply hands nothing over"). */
void cli_persisted_error(const struct cli *cli, int err, const struct persist_problem *why,
			 const char *outcome);
