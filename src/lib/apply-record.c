/* The record of apply: a small file of its own next to the journal, in
 * the same directory and written the same way (inside the root, atomic,
 * never through a symlink). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>
#include "apply-record.h"
#include "atomic-file.h"
#include "root-path.h"

/* far more than 100 messages of a few hundred bytes */
#define RECORD_MAX_SIZE (1 << 20)

int apply_record_save(const char *root, struct json_object *doc)
{
	int rootfd = root_dir_open(root), dfd, err;

	if (rootfd < 0)
		return rootfd;
	dfd = root_mkdir_p(rootfd, JOURNAL_DIR, 0755);
	close(rootfd);
	if (dfd < 0)
		return dfd;
	err = atomic_write_at(dfd, "apply.json", json_object_to_json_string_ext(doc,
			      JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	close(dfd);
	return err;
}

int apply_record_load(const char *root, struct json_object **doc)
{
	int rootfd = root_dir_open(root), err;
	char *text = NULL;
	size_t len;

	*doc = NULL;
	if (rootfd < 0)
		return rootfd;
	err = root_read_file(rootfd, APPLY_RECORD, O_NOFOLLOW, RECORD_MAX_SIZE, &text, &len, NULL);
	close(rootfd);
	if (err)
		return err == -ENOENT ? 0 : err;
	*doc = json_tokener_parse(text);
	free(text);
	if (*doc && json_object_is_type(*doc, json_type_object))
		return 0;
	json_object_put(*doc);
	*doc = NULL;
	return -EBADMSG;
}
