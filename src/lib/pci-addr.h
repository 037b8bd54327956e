/* PCI addresses: domain:bus:device.function, and slots (domain:bus:device). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct pci_addr {
	uint16_t domain;
	uint8_t bus;
	uint8_t dev;   /* 0..31 */
	uint8_t fn;    /* 0..7 */
};

#define PCI_ADDR_LEN 13    /* "0000:00:00.0" + NUL */
#define PCI_SLOT_LEN 11    /* "0000:00:00" + NUL */

/* Strict parse of the kernel's form "dddd:bb:dd.f" (lower or upper hex). */
int pci_addr_parse(const char *s, struct pci_addr *a);
const char *pci_addr_fmt(const struct pci_addr *a, char buf[PCI_ADDR_LEN]);
const char *pci_slot_fmt(const struct pci_addr *a, char buf[PCI_SLOT_LEN]);
int pci_addr_cmp(const struct pci_addr *a, const struct pci_addr *b);
bool pci_same_slot(const struct pci_addr *a, const struct pci_addr *b);
