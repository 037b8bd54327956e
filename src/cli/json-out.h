/* The --json document (keys in doc/json.md): one per run, whatever its
 * exit status.  main.c makes it and prints it; the commands set their keys. */
#pragma once
#include <json-c/json.h>
#include "cli.h"
#include "names.h"

#define JSON_FORMAT_VERSION 2

/* The keys every document starts with: format_version, command, ok,
 * exit_status, changed and messages (filled by json_doc_finish). */
struct json_object *json_doc_new(void);
/* Set (or replace, in its place) a key of the document; with no document
 * (no --json) the value is released. */
void json_set(struct cli *cli, const char *key, struct json_object *v);
/* The document's array at key, to add to; NULL without a document. */
struct json_object *json_doc_array(struct cli *cli, const char *key);
/* The common keys, from the run: its command, exit status and messages;
 * an "outcome" still null is the exit status's (done, failed, usage, ...). */
void json_doc_finish(struct cli *cli, int rc);
/* Print to stdout, pretty, and release the object. */
void json_print(struct json_object *doc);

/* The function object: one schema in every command.  json_func: as read
 * (present); json_func_now: as sysfs says now, or as it was (cli->host)
 * with present false when it is gone; json_func_absent: what a record
 * says of a function sysfs does not have. */
struct json_object *json_func(const struct pci_func *f, const struct func_names *n);
struct json_object *json_func_now(struct cli *cli, const struct pci_addr *a);
struct json_object *json_func_absent(const struct pci_addr *a, unsigned vendor, unsigned device,
				     unsigned subvendor, unsigned subdevice);
/* A number printed with the decimals it means (2: 0.84); null when not finite. */
struct json_object *json_number(double v, int decimals);
/* A string or JSON null for "" and NULL. */
struct json_object *json_str_or_null(const char *s);
/* The messages logged so far (log_kept), the first MAX of them, each with
 * its level, code, check, text and fix: the document's "messages". */
struct json_object *json_messages(size_t max);
/* One refusal, in the document's "refusals" (jref: that array, or NULL). */
void json_refusal(struct json_object *jref, const char *check, const char *device,
		  const char *message, const char *fix, bool forceable);
