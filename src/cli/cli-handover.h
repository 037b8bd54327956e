/* Steps that bind and rollback share. */
#pragma once
#include <stdbool.h>
#include <stdio.h>
#include "cli.h"
#include "engine.h"

/* EXIT_NOPERM, with the message, when the live kernel would be changed
 * without the privileges for it. */
int cli_need_privileges(struct cli *cli, const char *cmd);
int cli_lock(struct cli *cli, int *fd);
/* The journal, validated (an invalid one: the message, EXIT_FAILED). */
int cli_load_journal(struct cli *cli, struct journal *j);
/* The run lock, and the journal read under it; an invalid journal is
 * refused before the lock is taken. */
int cli_lock_journal(struct cli *cli, int *fd, struct journal *j);
int cli_ensure_vfio(struct cli *cli);
void cli_report_fault(struct cli *cli, const struct engine *e);
/* Per function: the driver and override it is on now. */
void cli_report_positions(struct cli *cli, const struct pci_addr *fns, size_t n);
/* Within --timeout, until udevd's queue is empty: after a bind, and until
 * each function's /dev/vfio/GROUP exists; with fns NULL, after a rollback,
 * so that a script's next step finds the host drivers' devices (the sound
 * card, the DRM nodes) made and not held by a udev worker still at work. */
void cli_wait_udev(struct cli *cli, const struct pci_addr *fns, size_t n);
/* After bind (handed_over) or rollback of fns, on an Aleph node: without
 * --aleph a reminder; with it, restart a running supervisor and wait within
 * --timeout until it lists every display function handed over, or none of
 * those given back; the plan under --dry-run (cli_plan).  Under --json the
 * document's "aleph" says what the supervisor saw.  EXIT_DONE, or
 * EXIT_FAILED with what to look at: the command's own work stays. */
int cli_aleph_after(struct cli *cli, const struct pci_addr *fns, size_t nfns, bool handed_over);
/* The "aleph" key of the --json documents of bind, rollback and apply, null. */
void cli_aleph_keys(struct cli *cli);

struct json_object;
/* The safety refusals for these slots, printed (and added to jref when it
 * is not NULL); EXIT_REFUSED if any holds.  for_boot (persist): what apply
 * would meet at boot, where nothing is forced and a holder now is gone. */
int cli_refuse(struct cli *cli, const struct pci_addr *slots, size_t nslots,
	       struct json_object *jref, bool for_boot);
/* bind's work on resolved slots, for bind and apply: refusals, lock,
 * journal, engine, udev, report (in cli->doc too).  Takes slots
 * (malloc'ed) over. */
int cli_handover(struct cli *cli, const char *cmd, struct pci_addr *slots, size_t nslots);
/* The keys of bind's --json document (apply's too). */
void cli_handover_keys(struct cli *cli);
/* Run argv (PATH searched, no shell), its output shown (on stderr when
 * out_to_stderr: stdout carries --json); its exit status, or -errno. */
int cli_spawn(char *const argv[], bool out_to_stderr);
