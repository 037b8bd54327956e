/* Steps that bind and rollback share. */
#pragma once
#include <stdbool.h>
#include <stdio.h>
#include "cli.h"
#include "engine.h"
#include "kmodules.h"
#include "vfio-variant.h"

/* EXIT_NOPERM, with the message, when the live kernel would be changed
 * without the privileges for it. */
int cli_need_privileges(struct cli *cli, const char *cmd);
/* Lock what a run of cmd on fns changes: their IOMMU groups (a function
 * without one, itself), and with persist the persisted files too; wait
 * within --timeout for another run that holds one, saying for whom.  The
 * locks are the cli's until cli_close.  *waited: the state read before
 * may have changed meanwhile.  Nothing under --dry-run. */
int cli_lock_run(struct cli *cli, const char *cmd, const struct pci_addr *fns, size_t n,
		 bool persist, bool *waited);
/* Let the groups' locks go before the run ends (it waits on something
 * else now: the Aleph supervisor). */
void cli_unlock_groups(struct cli *cli);
/* The journal, validated (an invalid one: the message, EXIT_FAILED). */
int cli_load_journal(struct cli *cli, struct journal *j);
int cli_ensure_vfio(struct cli *cli);

/* The VFIO driver one function is handed to (--driver). */
struct vfio_target {
	char asked[64];         /* vfio-pci, auto, or the name given */
	char module[64];        /* its module: vfio_pci, nvgrace_gpu_vfio_pci */
	char driver[64];        /* the PCI driver's name as the kernel says it; "" until
				 * the module is loaded (cli_vfio_load) */
	char alias[256];        /* the module's vfio_pci: alias that matched */
	bool variant;           /* not vfio-pci itself */
};
/* What cli_vfio_choose works with (cli-vfio.c). */
struct vfio_choice_run {
	struct json_object *jref;
	const char *kver;
	struct kmodules_index ix;
	int index_err;          /* the index could not be opened: why */
	bool warned;
	bool boot;              /* persist: for the boots of kver, a function on a VFIO
				 * driver now included */
};
/* The driver of each function of fns (asked[i], NULL: cli->driver, NULL:
 * vfio-pci) in the running kernel: auto's pick, a name checked against its
 * aliases.  *out (malloc'ed, n entries) even on an error.  EXIT_REFUSED
 * (said, and in jref) when a named driver is not made for a function or
 * --aleph meets a variant; nothing is touched. */
int cli_vfio_choose(struct cli *cli, const struct pci_addr *fns, size_t n, char *const *asked,
		    struct json_object *jref, struct vfio_target **out);
/* persist: the same for the boots of kernel kver, each function whatever
 * it is on now; asked[i] NULL: vfio-pci (the caller puts --driver, or the
 * variant a function is on now or was persisted for, in asked).  A
 * variant's driver name is the kernel's where kver is the running kernel
 * and its module is loaded, else "". */
int cli_vfio_choose_boot(struct cli *cli, const char *kver, const struct pci_addr *fns, size_t n,
			 char *const *asked, struct json_object *jref, struct vfio_target **out);
/* Every chosen driver there: vfio-pci loaded (cli_ensure_vfio), each
 * variant's module loaded and the name of the PCI driver it registered
 * read from the kernel (module/M/drivers/pci:NAME), which must be a VFIO
 * driver; the plan under --dry-run. */
int cli_vfio_load(struct cli *cli, const struct pci_addr *fns, size_t n, struct vfio_target *t);
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
/* A function's own --driver (apply: devices.conf's driver=). */
struct driver_ask {
	struct pci_addr at;
	char driver[64];
};
/* bind's work on resolved slots, for bind and apply: refusals, the VFIO
 * driver of each function (asks, else --driver), lock, journal, engine,
 * udev, report (in cli->doc too).  Takes slots (malloc'ed) over. */
int cli_handover(struct cli *cli, const char *cmd, struct pci_addr *slots, size_t nslots,
		 const struct driver_ask *asks, size_t nasks);
/* The keys of bind's --json document (apply's too). */
void cli_handover_keys(struct cli *cli);
/* Run argv (PATH searched, no shell), its output shown (on stderr when
 * out_to_stderr: stdout carries --json); its exit status, or -errno. */
int cli_spawn(char *const argv[], bool out_to_stderr);
