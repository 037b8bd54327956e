/* The steps persist, unpersist and migrate share (cmd-persist.c): the
 * persisted files' lock, the facts of the target system, the files written
 * all or nothing, the initramfs refreshed, and the --json keys. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "cli.h"
#include "persist-target.h"

struct leftover;

struct persist_run {
	struct persist_facts facts;
	struct persist_fn *pfns;
	size_t n;
	char **files;                   /* written or removed */
	const char *initramfs;          /* "ran", "failed", "skipped", "planned", "not needed" */
	int initramfs_status;
	/* migrate: the lines of a hand-made setup taken out on the way */
	const struct leftover *takeout;
	size_t ntakeout;
};

/* Root for /etc (status 5 without it, unless --dry-run or another --root),
 * then the persisted files' lock (cmd names the run for a waiting one). */
int cli_persist_lock(struct cli *cli, const char *cmd);
/* The facts of the target system and the functions: fns (present on the
 * host) and those persisted earlier. */
int cli_persist_gather(struct cli *cli, struct persist_run *p, const struct pci_addr *fns,
		       size_t n);
/* Every file written (or, under --dry-run, shown), all or nothing; the
 * lines of p->takeout taken out in the same go. */
int cli_persist_write(struct cli *cli, const char *cmd, struct persist_run *p);
/* The notes on stderr: vfio-pci built in, no ids= line, and why. */
void cli_persist_explain(struct cli *cli, const struct persist_facts *pf);
/* Refresh the initramfs (on the host, without --no-initramfs). */
int cli_persist_initramfs(struct cli *cli, struct persist_run *p);
/* "  VERB FILE" per file; verb NULL: "restored" or "removed". */
void cli_persist_print_files(struct cli *cli, char **files, const char *verb);
/* Every file persist, unpersist or migrate may change, as one string, to
 * tell whether a run changed one (NULL: out of memory). */
char *cli_persist_state(const struct cli *cli);
bool cli_persist_changed(const struct cli *cli, const char *before);
/* The --json keys of persist and unpersist (migrate's too). */
void cli_persist_json(struct cli *cli, const struct persist_run *p);
void cli_persist_keys(struct cli *cli);
void cli_persist_free(struct persist_run *p);
