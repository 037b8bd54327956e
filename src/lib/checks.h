/* The pre-flight checks of `check`: each item PASS, WARN or FAIL with a fix. */
#pragma once
#include "names.h"
#include "pci-host.h"
#include "safety.h"

enum check_status { CHECK_PASS, CHECK_WARN, CHECK_FAIL };

struct check_item {
	enum check_status status;
	enum check_id id;            /* CHECK_IOMMU, CHECK_GROUP, ... (safety.h) */
	char device[PCI_ADDR_LEN];   /* the slot or function, "" for the host */
	char *message;
	char *fix;                   /* what to do about it, a string of its own; NULL on PASS */
};

struct check_report {
	struct check_item *items;
	size_t n;
	int count[3];                /* by status */
};

struct check_env {
	const struct pci_host *host;
	struct names *names;
	const char *root;            /* --root, NULL for / */
	bool live;                   /* the tree is the running kernel's sysfs */
	const char *procroot;        /* its processes (/proc); NULL: not a running
				      * kernel's tree, or (live) no procfs to look in */
	const char *kernel;          /* release whose modules to look at, NULL: running */
	const struct pci_addr *named;/* functions named by their own address */
	size_t nnamed;
	bool refusals_only;          /* only the items that can refuse a hand-over */
	bool leftovers;              /* the lines of a hand-made VFIO setup under root too
				      * (check, and persist's refusals) */
	int timeout_ms;              /* limit of each scan of the processes; 0: none */
};

int check_run(const struct check_env *env, const struct pci_addr *slots, size_t nslots,
	      struct check_report *r);
void check_report_free(struct check_report *r);
const char *check_status_name(enum check_status s);
