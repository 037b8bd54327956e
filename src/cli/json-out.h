/* JSON documents of --json (keys in doc/json.md). */
#pragma once
#include <json-c/json.h>
#include "names.h"

#define JSON_FORMAT_VERSION 1

/* {"format_version":1,"command":name}: the start of every document. */
struct json_object *json_doc_new(const char *command);
struct json_object *json_func(const struct pci_func *f, const struct func_names *n);
/* Print to stdout, pretty, and release the object. */
int json_print(struct json_object *doc);
/* A string or JSON null for "". */
struct json_object *json_str_or_null(const char *s);
