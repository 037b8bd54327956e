/* Steps that bind and rollback share. */
#pragma once
#include <stdio.h>
#include "cli.h"
#include "engine.h"

/* EXIT_NOPERM, with the message, when the live kernel would be changed
 * without the privileges for it. */
int cli_need_privileges(struct cli *cli, const char *cmd);
int cli_lock(struct cli *cli, int *fd);
int cli_load_journal(struct cli *cli, struct journal *j);
int cli_ensure_vfio(struct cli *cli, FILE *out);
void cli_report_fault(struct cli *cli, const struct engine *e);
/* Per function: the driver and override it is on now. */
void cli_report_positions(struct cli *cli, const struct pci_addr *fns, size_t n);
void cli_wait_udev(struct cli *cli, const struct pci_addr *fns, size_t n);
void cli_aleph_after(struct cli *cli, FILE *out);
