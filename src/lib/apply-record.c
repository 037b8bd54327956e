/* The record of apply: a small file of its own next to the journal, in
 * the same directory and written the same way (atomic, no symlink). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>
#include "apply-record.h"
#include "atomic-file.h"
#include "util.h"

/* mkdir -p of ROOT/run/vfio-handover, as the journal makes it */
static int make_dir(const char *root)
{
	char path[4096];
	int err = root_path(root, JOURNAL_DIR, path, sizeof(path));

	if (err)
		return err;
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

int apply_record_save(const char *root, struct json_object *doc)
{
	char path[4096];
	int err = make_dir(root);

	if (!err)
		err = root_path(root, APPLY_RECORD, path, sizeof(path));
	if (!err)
		err = atomic_write_file(path, json_object_to_json_string_ext(doc,
			JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	return err;
}

int apply_record_load(const char *root, struct json_object **doc)
{
	char path[4096];
	int err = root_path(root, APPLY_RECORD, path, sizeof(path));

	*doc = NULL;
	if (err)
		return err;
	if (access(path, F_OK) < 0)
		return errno == ENOENT ? 0 : -errno;
	*doc = json_object_from_file(path);
	if (*doc && json_object_is_type(*doc, json_type_object))
		return 0;
	json_object_put(*doc);
	*doc = NULL;
	return access(path, R_OK) < 0 ? -errno : -EBADMSG;
}
