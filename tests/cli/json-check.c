/* For test-json-doc.sh: standard input must be exactly one JSON object
 * (nothing after it but white space).  Prints "top KEY" for each of its
 * keys, "key KEY" for every key at any depth, and "value KEY VALUE" for
 * its scalar keys; exit 1 when the input is not one document. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

static void keys(struct json_object *o)
{
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(o); i++)
			keys(json_object_array_get_idx(o, i));
		return;
	}
	if (!json_object_is_type(o, json_type_object))
		return;
	json_object_object_foreach(o, k, v) {
		printf("key %s\n", k);
		keys(v);
	}
}

int main(void)
{
	static char buf[1 << 24];
	size_t len = fread(buf, 1, sizeof(buf) - 1, stdin);
	struct json_tokener *tok = json_tokener_new();
	struct json_object *doc;
	size_t end;

	buf[len] = '\0';
	doc = json_tokener_parse_ex(tok, buf, (int)len);
	if (!doc || json_tokener_get_error(tok) != json_tokener_success) {
		fprintf(stderr, "not a JSON document: %s\n",
			json_tokener_error_desc(json_tokener_get_error(tok)));
		return 1;
	}
	end = json_tokener_get_parse_end(tok);
	while (end < len && isspace((unsigned char)buf[end]))
		end++;
	if (end != len || !json_object_is_type(doc, json_type_object)) {
		fprintf(stderr, "not exactly one JSON object: more after byte %zu\n", end);
		return 1;
	}
	json_object_object_foreach(doc, k, v) {
		printf("top %s\n", k);
		if (!json_object_is_type(v, json_type_object) && !json_object_is_type(v, json_type_array))
			printf("value %s %s\n", k, v ? json_object_get_string(v) : "null");
	}
	keys(doc);
	json_object_put(doc);
	json_tokener_free(tok);
	return 0;
}
