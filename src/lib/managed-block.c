/* The managed block a file shared with the user carries (between "# BEGIN
 * vfio-handover" and "# END vfio-handover"), and KEY=VALUE settings in an
 * env file: set, replaced in place, and cut out exactly. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "aleph.h"
#include "persist-text.h"
#include "util.h"

bool text_next_line(const char *text, size_t *pos, size_t *s, size_t *e)
{
	const char *nl;

	if (!text[*pos])
		return false;
	*s = *pos;
	nl = strchr(text + *pos, '\n');
	*e = nl ? (size_t)(nl - text) + 1 : *pos + strlen(text + *pos);
	*pos = *e;
	return true;
}

const char *text_shown(const char *s, size_t len, char buf[SHOWN_LEN])
{
	size_t o = 0;

	if (len && s[len - 1] == '\n')
		len--;
	if (len && s[len - 1] == '\r')
		len--;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i == SHOWN_MAX) {
			o += (size_t)sprintf(buf + o, "...");
			break;
		}
		if (c == '\r' || c == '\t')
			o += (size_t)sprintf(buf + o, "\\%c", c == '\r' ? 'r' : 't');
		else if (c < 0x20 || c >= 0x7f)
			o += (size_t)sprintf(buf + o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o] = '\0';
	return buf;
}

static bool is_begin(const char *l, size_t len)
{
	size_t k = strlen(BLOCK_BEGIN);

	return len >= k && !memcmp(l, BLOCK_BEGIN, k) && (len == k || strchr(":( \r\n", l[k]));
}

static bool is_end(const char *l, size_t len)
{
	size_t k = strlen(BLOCK_END);

	if (len < k || memcmp(l, BLOCK_END, k))
		return false;
	for (size_t i = k; i < len; i++)
		if (!isspace((unsigned char)l[i]))
			return false;
	return true;
}

static bool line_has(const char *l, size_t len, const char *what)
{
	return memmem(l, len, what, strlen(what)) != NULL;
}

int block_scan(const char *text, struct block *b, struct persist_problem *why)
{
	size_t pos = 0, s, e;
	unsigned line = 0, begun = 0, ended = 0;
	char sb[SHOWN_LEN];
	int state = 0;      /* 0 before, 1 inside, 2 after the block */

	while (text_next_line(text, &pos, &s, &e)) {
		line++;
		if (is_begin(text + s, e - s)) {
			if (state == 1)
				return problem_set(why, line, "'%s' inside the vfio-handover block begun on "
						   "line %u", text_shown(text + s, e - s, sb), begun);
			if (state == 2)
				return problem_set(why, line, "'%s' begins a second vfio-handover block (the "
						   "first is lines %u to %u)", text_shown(text + s, e - s, sb),
						   begun, ended);
			b->begin = s;
			b->body = e;
			b->nonl = line_has(text + s, e - s, NOTE_NONL);
			b->created = line_has(text + s, e - s, NOTE_CREATED);
			begun = line;
			state = 1;
		} else if (is_end(text + s, e - s)) {
			if (state != 1)
				return problem_set(why, line, "'%s' ends a vfio-handover block that no '"
						   BLOCK_BEGIN "' line begins", text_shown(text + s, e - s, sb));
			b->end = s;
			b->after = e;
			ended = line;
			state = 2;
		}
	}
	if (state == 1)
		return problem_set(why, begun, "'%s' begins a vfio-handover block that no '" BLOCK_END
				   "' line ends", text_shown(text + b->begin, b->body - b->begin, sb));
	return state == 2;
}

static bool is_was(const char *l, size_t len)
{
	return len >= strlen(WAS) && !memcmp(l, WAS, strlen(WAS));
}

/* The lines cutting the block puts back must not be markers: the text
 * given back would have a block no persist wrote, or half of one. */
static int check_was_lines(const char *text, const struct block *b, struct persist_problem *why)
{
	size_t pos = 0, s, e, k = strlen(WAS);
	unsigned line = 0;
	char sb[SHOWN_LEN];

	while (text_next_line(text, &pos, &s, &e) && s < b->end) {
		line++;
		if (s < b->body || !is_was(text + s, e - s))
			continue;
		if (is_begin(text + s + k, e - s - k) || is_end(text + s + k, e - s - k))
			return problem_set(why, line, "'%s' inside the vfio-handover block would put a "
					   "marker line back when the block is removed",
					   text_shown(text + s, e - s, sb));
	}
	return 0;
}

/* 1 and *b for a block that cuts cleanly, 0 for none, or -EBADMSG. */
static int block_find_clean(const char *text, struct block *b, struct persist_problem *why)
{
	int r = block_scan(text, b, why);

	if (r == 1 && check_was_lines(text, b, why))
		return -EBADMSG;
	return r;
}

static void put_begin(FILE *f, bool nonl, bool created)
{
	fputs(BLOCK_BEGIN BLOCK_NOTE, f);
	if (nonl)
		fputs(NOTE_NONL, f);
	if (created)
		fputs(NOTE_CREATED, f);
	fputc('\n', f);
}

int block_cut(const char *text, char **out, bool *created, struct persist_problem *why)
{
	struct block b;
	struct text x;
	size_t pos, s, e, n, k = strlen(WAS);
	int r = block_find_clean(text, &b, why);

	*created = false;
	if (r <= 0) {
		if (!r && !(*out = strdup(text)))
			r = -ENOMEM;
		return r;
	}
	r = text_open(&x);
	if (r)
		return r;
	fwrite(text, 1, b.begin, x.f);
	/* the lines the block replaced, where they were */
	for (pos = b.body; pos < b.end && text_next_line(text, &pos, &s, &e);)
		if (is_was(text + s, e - s))
			fwrite(text + s + k, 1, e - s - k, x.f);
	fputs(text + b.after, x.f);
	r = text_close(&x, 0, out);
	if (r)
		return r;
	/* the newline persist had to add, unless the user wrote after the block since */
	n = strlen(*out);
	if (b.nonl && !text[b.after] && n && (*out)[n - 1] == '\n')
		(*out)[n - 1] = '\0';
	*created = b.created;
	return 0;
}

int persist_cut_block(const char *text, char **out, struct persist_problem *why)
{
	bool created;

	return block_cut(text ? text : "", out, &created, why);
}

/* "" or whole lines, none a marker or a "# was: " line. */
static bool body_ok(const char *body)
{
	size_t pos = 0, s, e;

	if (body[0] && body[strlen(body) - 1] != '\n')
		return false;
	while (text_next_line(body, &pos, &s, &e))
		if (is_begin(body + s, e - s) || is_end(body + s, e - s) || is_was(body + s, e - s))
			return false;
	return true;
}

/* The "# was: " lines of the block, where unpersist finds them. */
static void put_was_lines(FILE *f, const char *text, const struct block *b)
{
	size_t pos = b->body, s, e;

	while (pos < b->end && text_next_line(text, &pos, &s, &e))
		if (is_was(text + s, e - s))
			fwrite(text + s, 1, e - s, f);
}

int block_set(const char *text, const char *body, bool created, char **out,
	      struct persist_problem *why)
{
	struct block b;
	struct text x;
	int r;

	if (!body_ok(body))
		return -EINVAL;
	r = block_find_clean(text, &b, why);
	if (r < 0)
		return r;
	if (text_open(&x))
		return -ENOMEM;
	if (r) {
		fwrite(text, 1, b.begin, x.f);
		put_begin(x.f, b.nonl, b.created);
		put_was_lines(x.f, text, &b);
		fputs(body, x.f);
		fputs(text + b.end, x.f);
	} else {
		bool nonl = text[0] && text[strlen(text) - 1] != '\n';

		fputs(text, x.f);
		if (nonl)
			fputc('\n', x.f);
		put_begin(x.f, nonl, created);
		fputs(body, x.f);
		fputs(BLOCK_END "\n", x.f);
	}
	return text_close(&x, 0, out);
}

/* text NULL: there is no file, which unpersist then removes again. */
int persist_set_block(const char *text, const char *body, char **out, struct persist_problem *why)
{
	return block_set(text ? text : "", body, !text, out, why);
}

int persist_check_managed(const char *old, const char *new, struct persist_problem *why)
{
	char *before = NULL, *back = NULL;
	bool created_before, created;
	struct block b;
	int err;

	/* the user's text, as unpersist would give it back now */
	err = block_cut(old ? old : "", &before, &created_before, why);
	if (err)
		return err;
	if (!old)
		created_before = true;
	if (block_scan(new, &b, NULL) != 1)
		err = problem_set(why, 0, "the new text would not hold exactly one vfio-handover block");
	else if (block_cut(new, &back, &created, NULL) || strcmp(back, before))
		err = problem_set(why, 0, "removing the vfio-handover block would not give the file "
				  "back as it was");
	else if (created != created_before)
		err = problem_set(why, 0, "the vfio-handover block would not say whether persist created "
				  "the file");
	free(before);
	free(back);
	return err;
}

/* Does the line [l, l + len) assign key, as check reads it
 * (env_line_parse)?  *val, *vlen: the value, unquoted. */
static bool assigns(const char *l, size_t len, const char *key, const char **val, size_t *vlen)
{
	struct env_assign a;

	if (!env_line_parse(l, len, &a) || a.klen != strlen(key) || memcmp(a.key, key, a.klen))
		return false;
	*val = a.val;
	*vlen = a.vlen;
	return true;
}

static bool env_name_ok(const char *key)
{
	if (!isalpha((unsigned char)*key) && *key != '_')
		return false;
	for (; *key; key++)
		if (!isalnum((unsigned char)*key) && *key != '_')
			return false;
	return true;
}

/* Put the block where line [ls, le) of base was, keeping the line in it. */
static int replace_line(const char *base, size_t ls, size_t le, const char *key, const char *value,
			char **out)
{
	bool nonl = base[le - 1] != '\n';     /* the last line, without its newline */
	struct text x;

	if (text_open(&x))
		return -ENOMEM;
	fwrite(base, 1, ls, x.f);
	put_begin(x.f, nonl, false);
	fputs(WAS, x.f);
	fwrite(base + ls, 1, le - ls - !nonl, x.f);
	fprintf(x.f, "\n%s=%s\n" BLOCK_END "\n", key, value);
	fputs(base + le, x.f);
	return text_close(&x, 0, out);
}

int persist_set_env(const char *text, const char *key, const char *value, char **out,
		    struct persist_problem *why)
{
	size_t pos = 0, s, e, ls = 0, le = 0, vlen = 0;
	const char *val = NULL, *v;
	char *base, *body;
	bool created;
	int err;

	if (!env_name_ok(key) || strpbrk(value, "\r\n"))
		return -EINVAL;
	/* from the file as it was before persist: re-setting never loses the
	 * line kept, and base has no marker (block_cut refuses a text that
	 * would give one back) */
	err = block_cut(text ? text : "", &base, &created, why);
	if (err)
		return err;
	/* the last assignment is the one that wins */
	while (text_next_line(base, &pos, &s, &e))
		if (assigns(base + s, e - s, key, &v, &vlen)) {
			ls = s;
			le = e;
			val = v;
		}
	if (val && strlen(value) == vlen && !strncasecmp(val, value, vlen)) {
		*out = base;
		return 0;
	}
	if (val) {
		err = replace_line(base, ls, le, key, value, out);
	} else {
		body = xasprintf("%s=%s\n", key, value);
		err = body ? block_set(base, body, false, out, why) : -ENOMEM;
		free(body);
	}
	free(base);
	return err;
}

