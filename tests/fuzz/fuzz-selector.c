/* Selectors and PCI addresses: selector_parse and pci_addr_parse on any
 * string.  What parses is one of the documented forms exactly (any case),
 * in range, and formats back to the text it came from, which parses again
 * to the same value. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "fuzz-util.h"
#include "selector.h"

static void check_addr(const char *s)
{
	struct pci_addr a, b;
	char buf[PCI_ADDR_LEN];

	if (pci_addr_parse(s, &a) != 0)
		return;
	FUZZ_CHECK(a.dev <= 31 && a.fn <= 7, "pci_addr_parse(\"%s\"): device %u function %u",
		   s, a.dev, a.fn);
	pci_addr_fmt(&a, buf);
	FUZZ_CHECK(strcasecmp(buf, s) == 0, "pci_addr_parse accepted \"%s\", which is not %s", s, buf);
	FUZZ_CHECK(pci_addr_parse(buf, &b) == 0 && pci_addr_cmp(&a, &b) == 0,
		   "%s does not parse back to itself", buf);
}

/* The selector's text is the canonical form, or its short form (no domain
 * when it is 0000), in any case. */
static void check_text(const char *s, const char *canon, bool domain_optional)
{
	FUZZ_CHECK(strcasecmp(s, canon) == 0 ||
		   (domain_optional && strncmp(canon, "0000:", 5) == 0 &&
		    strcasecmp(s, canon + 5) == 0),
		   "selector \"%s\" parsed as %s", s, canon);
}

static void check_selector(const char *s, size_t whylen)
{
	struct selector sel, again;
	char *why = malloc(whylen), canon[PCI_ADDR_LEN], w2[128];

	if (!why)
		abort();
	if (selector_parse(s, &sel, why, whylen) != 0) {
		/* the reason is a string within the buffer */
		FUZZ_CHECK(memchr(why, '\0', whylen) != NULL, "selector_parse(\"%s\"): why not terminated", s);
		free(why);
		return;
	}
	free(why);
	FUZZ_CHECK(sel.text == s, "selector_parse lost its text");
	switch (sel.kind) {
	case SEL_FUNCTION:
		FUZZ_CHECK(sel.addr.dev <= 31 && sel.addr.fn <= 7, "\"%s\": %x.%x", s, sel.addr.dev, sel.addr.fn);
		pci_addr_fmt(&sel.addr, canon);
		check_text(s, canon, true);
		break;
	case SEL_SLOT:
		FUZZ_CHECK(sel.addr.dev <= 31 && sel.addr.fn == 0, "\"%s\": %x.%x", s, sel.addr.dev, sel.addr.fn);
		pci_slot_fmt(&sel.addr, canon);
		check_text(s, canon, true);
		break;
	case SEL_ID:
		FUZZ_CHECK(sel.vendor <= 0xffff && sel.device <= 0xffff, "\"%s\": %x:%x", s,
			   sel.vendor, sel.device);
		snprintf(canon, sizeof(canon), "%04x:%04x", sel.vendor, sel.device);
		check_text(s, canon, false);
		break;
	default:
		FUZZ_CHECK(0, "\"%s\": kind %d", s, (int)sel.kind);
	}
	/* the canonical form is a selector of the same kind and value */
	FUZZ_CHECK(selector_parse(canon, &again, w2, sizeof(w2)) == 0, "%s does not parse: %s", canon, w2);
	FUZZ_CHECK(again.kind == sel.kind && pci_addr_cmp(&again.addr, &sel.addr) == 0 &&
		   again.vendor == sel.vendor && again.device == sel.device,
		   "%s parses to another selector than \"%s\"", canon, s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);

	check_addr(s);
	/* a reason buffer of varying size: a long reason must be cut, not overflow */
	check_selector(s, 1 + size % 97);
	free(s);
	return 0;
}
