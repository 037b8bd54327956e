/* What the last apply since boot did (/run/vfio-handover/apply.json), so
 * that check can say what happened at boot: written by apply when it
 * starts ("started") and again when it ends, with its outcome, the
 * persisted devices and where each was found, and its messages. */
#pragma once
#include "journal.h"

#define APPLY_RECORD JOURNAL_DIR "/apply.json"
#define APPLY_RECORD_FORMAT 1

struct json_object;

/* Write doc as ROOT/run/vfio-handover/apply.json, atomically, creating the
 * directory; -errno. */
int apply_record_save(const char *root, struct json_object *doc);
/* Read it back: *doc NULL (and 0) when there is none; -EBADMSG when it is
 * not a JSON object, -errno when it cannot be read. */
int apply_record_load(const char *root, struct json_object **doc);
