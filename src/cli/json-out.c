#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "json-out.h"
#include "log.h"

struct json_object *json_str_or_null(const char *s)
{
	return s && s[0] ? json_object_new_string(s) : NULL;
}

struct json_object *json_doc_new(void)
{
	struct json_object *doc = json_object_new_object();

	/* in this order, before the command's own keys; values at the end */
	json_object_object_add(doc, "format_version", json_object_new_int(JSON_FORMAT_VERSION));
	json_object_object_add(doc, "command", NULL);
	json_object_object_add(doc, "ok", json_object_new_boolean(false));
	json_object_object_add(doc, "exit_status", NULL);
	json_object_object_add(doc, "changed", json_object_new_boolean(false));
	json_object_object_add(doc, "messages", json_object_new_array());
	return doc;
}

void json_set(struct cli *cli, const char *key, struct json_object *v)
{
	if (cli->doc)
		json_object_object_add(cli->doc, key, v);
	else
		json_object_put(v);
}

struct json_object *json_doc_array(struct cli *cli, const char *key)
{
	struct json_object *a;

	if (!cli->doc || !json_object_object_get_ex(cli->doc, key, &a) ||
	    !json_object_is_type(a, json_type_array))
		return NULL;
	return a;
}

struct json_object *json_messages(size_t max)
{
	struct json_object *arr = json_object_new_array();
	const struct log_msg *m;
	size_t n;

	m = log_kept(&n);
	for (size_t i = 0; i < n && i < max; i++) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "level", json_object_new_string(log_level_name(m[i].level)));
		json_object_object_add(o, "code", json_object_new_string(log_code_name(m[i].code)));
		json_object_object_add(o, "check", json_str_or_null(m[i].check));
		json_object_object_add(o, "text", json_object_new_string(m[i].text));
		json_object_object_add(o, "fix", json_str_or_null(m[i].fix));
		json_object_array_add(arr, o);
	}
	return arr;
}

void json_doc_finish(struct cli *cli, int rc)
{
	static const char *const outcomes[] = {
		"done", "failed", "usage", "refused", "unrestored", "not-permitted",
	};
	struct json_object *o;

	json_set(cli, "command", cli->cmd ? json_object_new_string(cli->cmd->name) : NULL);
	json_set(cli, "ok", json_object_new_boolean(rc == EXIT_DONE));
	json_set(cli, "exit_status", json_object_new_int(rc));
	json_set(cli, "changed", json_object_new_boolean(cli->changed));
	json_set(cli, "messages", json_messages(SIZE_MAX));
	if (cli->doc && json_object_object_get_ex(cli->doc, "outcome", &o) && !o &&
	    rc >= 0 && rc < (int)(sizeof(outcomes) / sizeof(outcomes[0])))
		json_set(cli, "outcome", json_object_new_string(outcomes[rc]));
}

void json_print(struct json_object *doc)
{
	puts(json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(doc);
}

struct json_object *json_number(double v, int decimals)
{
	char buf[64];

	if (!isfinite(v))
		return NULL;
	snprintf(buf, sizeof(buf), "%.*f", decimals, v);
	return json_object_new_double_s(v, buf);
}

static struct json_object *hex_or_null(unsigned v, int digits, int bad)
{
	char buf[16];

	if (bad)
		return NULL;
	snprintf(buf, sizeof(buf), "%0*x", digits, v);
	return json_object_new_string(buf);
}

static struct json_object *words(const char *s)
{
	struct json_object *a = json_object_new_array();
	char buf[64], *save = NULL, *w;

	snprintf(buf, sizeof(buf), "%s", s);
	for (w = strtok_r(buf, " ", &save); w; w = strtok_r(NULL, " ", &save))
		json_object_array_add(a, json_object_new_string(w));
	return a;
}

/* A speed in GT/s as the kernel gives it (2.5, 8.0, 16.0), null when
 * unknown: JSON has no infinity or NaN. */
static struct json_object *gts_json(double gts)
{
	return isfinite(gts) && gts > 0 ? json_number(gts, 1) : NULL;
}

static struct json_object *link_json(const struct pci_link *l)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "current_gts", gts_json(l->cur_gts));
	json_object_object_add(o, "current_width", l->cur_width > 0 ? json_object_new_int(l->cur_width) : NULL);
	json_object_object_add(o, "max_gts", gts_json(l->max_gts));
	json_object_object_add(o, "max_width", l->max_width > 0 ? json_object_new_int(l->max_width) : NULL);
	return o;
}

static struct json_object *unreadable(unsigned bad)
{
	struct json_object *a = json_object_new_array();
	char buf[256], *save = NULL, *w;

	pci_func_bad_names(bad, buf, sizeof(buf));
	for (w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save))
		json_object_array_add(a, json_object_new_string(w));
	return a;
}

struct json_object *json_func(const struct pci_func *f, const struct func_names *n)
{
	struct json_object *o = json_object_new_object();
	char ab[PCI_ADDR_LEN], sb[PCI_SLOT_LEN];

	json_object_object_add(o, "address", json_object_new_string(pci_addr_fmt(&f->addr, ab)));
	json_object_object_add(o, "slot", json_object_new_string(pci_slot_fmt(&f->addr, sb)));
	json_object_object_add(o, "present", json_object_new_boolean(true));
	json_object_object_add(o, "vendor_id", hex_or_null(f->vendor, 4, f->bad & PCI_BAD_VENDOR));
	json_object_object_add(o, "device_id", hex_or_null(f->device, 4, f->bad & PCI_BAD_DEVICE));
	json_object_object_add(o, "subsystem_vendor_id", hex_or_null(f->subvendor, 4, f->bad & PCI_BAD_SUBVENDOR));
	json_object_object_add(o, "subsystem_device_id", hex_or_null(f->subdevice, 4, f->bad & PCI_BAD_SUBDEVICE));
	json_object_object_add(o, "class", hex_or_null(f->class, 6, f->bad & PCI_BAD_CLASS));
	json_object_object_add(o, "class_name", json_object_new_string(n->class_name));
	json_object_object_add(o, "vendor_name", json_str_or_null(n->vendor));
	json_object_object_add(o, "device_name", json_str_or_null(n->device));
	json_object_object_add(o, "driver", json_str_or_null(f->driver));
	json_object_object_add(o, "driver_override", json_str_or_null(f->override));
	json_object_object_add(o, "modalias", json_str_or_null(f->modalias));
	json_object_object_add(o, "iommu_group", f->iommu_group >= 0 ? json_object_new_int(f->iommu_group) : NULL);
	json_object_object_add(o, "boot_vga", f->boot_vga >= 0 ? json_object_new_boolean(f->boot_vga) : NULL);
	json_object_object_add(o, "reset_methods", f->has_reset_method ? words(f->reset_method) : NULL);
	json_object_object_add(o, "link", link_json(&f->link));
	json_object_object_add(o, "upstream", f->has_upstream ? json_object_new_string(pci_addr_fmt(&f->upstream, ab)) : NULL);
	json_object_object_add(o, "state", json_object_new_string(pci_func_state(f)));
	json_object_object_add(o, "unreadable", unreadable(f->bad));
	return o;
}

/* Not in sysfs: its record's ids, every attribute unknown. */
struct json_object *json_func_absent(const struct pci_addr *a, unsigned vendor, unsigned device,
				     unsigned subvendor, unsigned subdevice)
{
	struct pci_func f = {
		.addr = *a, .vendor = vendor, .device = device, .subvendor = subvendor,
		.subdevice = subdevice, .boot_vga = -1, .iommu_group = -1,
		.bad = PCI_BAD_CLASS,
	};
	struct func_names n;
	struct json_object *o;

	names_lookup(NULL, &f, &n);
	o = json_func(&f, &n);
	json_object_object_add(o, "present", json_object_new_boolean(false));
	json_object_object_add(o, "class_name", json_object_new_string("unknown"));
	json_object_object_add(o, "state", json_object_new_string("absent"));
	json_object_object_add(o, "unreadable", json_object_new_array());
	return o;
}

struct json_object *json_func_now(struct cli *cli, const struct pci_addr *a)
{
	const struct pci_func *before = pci_host_find(&cli->host, a);
	struct func_names n;
	struct pci_func f;

	if (pci_func_load(cli->sfs, a, &f) == 0) {
		names_lookup(cli->names, &f, &n);
		return json_func(&f, &n);
	}
	/* gone from the bus: the ids it had, and that it is gone */
	if (!before)
		return json_func_absent(a, 0, 0, 0, 0);
	return json_func_absent(a, before->vendor, before->device, before->subvendor,
				before->subdevice);
}

void json_refusal(struct json_object *jref, const char *check, const char *device,
		  const char *message, const char *fix, bool forceable)
{
	struct json_object *o;

	if (!jref)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "check", json_object_new_string(check));
	json_object_object_add(o, "device", json_str_or_null(device));
	json_object_object_add(o, "message", json_object_new_string(message));
	json_object_object_add(o, "fix", json_str_or_null(fix));
	json_object_object_add(o, "forceable", json_object_new_boolean(forceable));
	json_object_array_add(jref, o);
}
