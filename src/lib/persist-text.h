/* Internal to the persistence files (persist*.c, devices-conf.c,
 * managed-block.c): the markers the files carry, text built in memory,
 * and the managed block as persist.c edits it. */
#pragma once
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include "persist.h"

#define HEADER_LINE PERSIST_HEADER "; \"vfio-handover unpersist\" removes this file.\n"
#define BLOCK_BEGIN "# BEGIN vfio-handover"
#define BLOCK_END "# END vfio-handover"
#define BLOCK_NOTE ": \"vfio-handover unpersist\" removes this block"
#define NOTE_NONL " (the file had no final newline)"
#define NOTE_CREATED " (and the file, which it created)"
#define WAS "# was: "
#define CREATED_DIR "# created directory: "
#define APPLY_INSTEAD \
	"# \"vfio-handover apply\" hands the persisted functions over by address at boot instead.\n"
#define MAX_TEXT (1 << 20)

/* ---- text built in memory ---- */

struct text {
	FILE *f;
	char *s;
	size_t len;
};

static inline int text_open(struct text *x)
{
	x->s = NULL;
	x->len = 0;
	x->f = open_memstream(&x->s, &x->len);
	return x->f ? 0 : -ENOMEM;
}

/* Hand the string over, or free it when err or stdio failed. */
static inline int text_close(struct text *x, int err, char **out)
{
	if (fclose(x->f) != 0 && !err)
		err = -ENOMEM;
	if (err) {
		free(x->s);
		return err;
	}
	*out = x->s;
	return 0;
}

/* ---- problems: what is wrong in a text, and where ---- */

/* Fill why (when not NULL) and return -EBADMSG. */
static inline __attribute__((format(printf, 3, 4)))
int problem_set(struct persist_problem *why, unsigned line, const char *fmt, ...)
{
	va_list ap;

	if (why) {
		why->line = line;
		va_start(ap, fmt);
		vsnprintf(why->what, sizeof(why->what), fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

#define SHOWN_MAX 80            /* bytes of the user's text a message quotes */
#define SHOWN_LEN (SHOWN_MAX * 4 + 4)

/* s[0..len) to quote in a message: a final newline dropped, \r, \t and
 * other bytes outside printable ASCII escaped, cut at SHOWN_MAX with "...". */
const char *text_shown(const char *s, size_t len, char buf[SHOWN_LEN]);

/* A module's or driver's name as the files may say it: no wildcard, no
 * space, nothing a line could hide; shorter than 64 bytes. */
static inline bool persist_name_ok(const char *m)
{
	size_t n = 0;

	for (; m[n]; n++)
		if (!(m[n] >= 'a' && m[n] <= 'z') && !(m[n] >= 'A' && m[n] <= 'Z') &&
		    !(m[n] >= '0' && m[n] <= '9') && m[n] != '_' && m[n] != '-')
			return false;
	return n > 0 && n < 64 && m[0] != '-';
}

/* ids that fit the files' four hex digits */
static inline bool persist_fn_ids_ok(const struct persist_fn *fn)
{
	return fn->vendor <= 0xffff && fn->device <= 0xffff && fn->subvendor <= 0xffff &&
	       fn->subdevice <= 0xffff;
}

/* fns as a malloc'ed array of pointers in address order (*sorted; free
 * it), so that the same selection always gives the same file: -EINVAL
 * when an address cannot be a function's, an id has more than four hex
 * digits, a VFIO variant's module or driver is no name a line can hold,
 * or a function is there twice. */
int persist_fns_sorted(const struct persist_fn *fns, size_t n, const struct persist_fn ***sorted);

/* ---- managed blocks (managed-block.c) ---- */

struct block {
	size_t begin, body, end, after;    /* BEGIN line, body, END line, past END line */
	bool nonl, created;                /* notes on the BEGIN line */
};

/* The line at *pos: [*s, *e), *e past its '\n' or at the end of text. */
bool text_next_line(const char *text, size_t *pos, size_t *s, size_t *e);
/* 1 and *b for a block, 0 for none, -EBADMSG (why: the line) when the
 * markers do not pair up. */
int block_scan(const char *text, struct block *b, struct persist_problem *why);
static inline int block_find(const char *text, struct block *b)
{
	return block_scan(text, b, NULL);
}
/* The text without its block, "# was: " lines restored; *created: the
 * block says persist created the file.  -EBADMSG (why: the line) when the
 * markers do not pair up or a "# was: " line would restore a marker. */
int block_cut(const char *text, char **out, bool *created, struct persist_problem *why);
/* Insert (at the end, noting whether the file was created) or replace the
 * block, keeping its "# was: " lines; refused as block_cut refuses. */
int block_set(const char *text, const char *body, bool created, char **out,
	      struct persist_problem *why);
