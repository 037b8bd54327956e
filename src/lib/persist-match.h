/* apply's question: where is a persisted function now?  Bus numbers move
 * when a card is added or a firmware setting changes, so a function is
 * known by its ids and its place (platform slot, or the shape of its
 * bridge chain), not by its address alone. */
#pragma once
#include <stddef.h>
#include "pci-host.h"
#include "persist.h"

enum persist_match_kind {
	PERSIST_HERE,           /* at its address, same ids */
	PERSIST_MOVED,          /* the one present function with its ids at its place */
	PERSIST_CHANGED,        /* its address holds other hardware, nothing matches */
	PERSIST_MISSING,        /* not there, nothing matches */
	PERSIST_AMBIGUOUS,      /* several present functions could be it */
};

struct persist_match {
	enum persist_match_kind kind;
	struct pci_addr now;    /* HERE, MOVED: where it is */
	size_t candidates;      /* MOVED, AMBIGUOUS: how many matched */
};

/* fns[0..n-1]: the whole devices.conf (a function persisted at its own
 * address is never taken for another one that moved). */
int persist_match(struct sysfs *sfs, const struct pci_host *h, const struct persist_fn *fns,
		  size_t n, size_t which, struct persist_match *m);
/* Same place: the same chain of bridges from the same root port, by
 * device and function (the bus numbers below the root port may differ);
 * where no chain was recorded, the same platform slot name. */
bool persist_same_place(const struct persist_fn *was, const struct persist_fn *now);
const char *persist_match_name(enum persist_match_kind k);
