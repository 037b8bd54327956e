/* Selectors on the command line, each naming whole GPUs (slots). */
#pragma once
#include <stddef.h>
#include "pci-host.h"

enum selector_kind {
	SEL_FUNCTION,   /* 0000:01:00.0 or 01:00.0 */
	SEL_SLOT,       /* 01:00 or 0000:01:00 */
	SEL_ID,         /* 10de:27b0 */
};

struct selector {
	enum selector_kind kind;
	struct pci_addr addr;
	unsigned vendor, device;
	const char *text;
};

/* 0, or -EINVAL with a reason in why (for the usage message). */
int selector_parse(const char *s, struct selector *sel, char *why, size_t whylen);

/* Expand selectors to the slots they name (function 0 address of each, sorted,
 * unique).  A selector that matches nothing: -ENOENT and *bad its index. */
int selector_resolve(const struct pci_host *host, const struct selector *sels, size_t nsels,
		     struct pci_addr **slots, size_t *nslots, size_t *bad);
/* The functions named by their own address (0000:01:00.2, 01:00.2). */
int selector_named(const struct selector *sels, size_t nsels, struct pci_addr **named,
		   size_t *nnamed);
