/* The library functions the targets call whose signatures are changing
 * (the journal and persist parsers learn to say why and where they refuse
 * a text): called from here only, so that following such a change is an
 * edit of this file.  The targets check properties, not messages. */
#pragma once
#include <stdbool.h>
#include <string.h>
#include "journal.h"
#include "persist.h"

static inline int fz_journal_load(const char *root, struct journal *j)
{
	return journal_load(root, j, NULL, 0);
}

/* Every field an entry records. */
static inline bool fz_journal_entry_same(const struct journal_entry *a,
					 const struct journal_entry *b)
{
	return pci_addr_cmp(&a->addr, &b->addr) == 0 && a->vendor == b->vendor &&
	       a->device == b->device && a->step == b->step && !strcmp(a->driver, b->driver) &&
	       !strcmp(a->override, b->override) && a->module_known == b->module_known &&
	       !strcmp(a->module, b->module);
}

static inline int fz_parse_devices_conf(const char *text, struct persist_fn **fns, size_t *n)
{
	return persist_parse_devices_conf(text, strlen(text), fns, n, NULL);
}

static inline int fz_set_block(const char *text, const char *body, char **out)
{
	return persist_set_block(text, body, out, NULL);
}

static inline int fz_set_env(const char *text, const char *key, const char *value, char **out)
{
	return persist_set_env(text, key, value, out, NULL);
}

static inline int fz_cut_block(const char *text, char **out)
{
	return persist_cut_block(text, out, NULL);
}
