#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "table.h"

void table_init(struct table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

static int grow(struct table *t)
{
	char **v;

	if (t->nrows < t->cap)
		return 0;
	t->cap = t->cap ? t->cap * 2 : 16;
	v = realloc(t->cells, t->cap * t->ncols * sizeof(*v));
	if (!v)
		return -ENOMEM;
	t->cells = v;
	return 0;
}

int table_add(struct table *t, ...)
{
	char **row;
	va_list ap;
	int err = grow(t);

	if (err)
		return err;
	row = &t->cells[t->nrows * t->ncols];
	va_start(ap, t);
	for (size_t c = 0; c < t->ncols; c++) {
		const char *s = va_arg(ap, const char *);
		row[c] = strdup(s ? s : "");
		if (!row[c])
			err = -ENOMEM;
	}
	va_end(ap);
	t->nrows++;
	return err;
}

int table_add_blank(struct table *t)
{
	int err = grow(t);

	if (err)
		return err;
	memset(&t->cells[t->nrows * t->ncols], 0, t->ncols * sizeof(char *));
	t->nrows++;
	return 0;
}

void table_print(const struct table *t, FILE *fp)
{
	size_t w[16] = { 0 };

	for (size_t r = 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols && c < 16; c++) {
			const char *s = t->cells[r * t->ncols + c];
			if (s && strlen(s) > w[c])
				w[c] = strlen(s);
		}
	for (size_t r = 0; r < t->nrows; r++) {
		char **row = &t->cells[r * t->ncols];

		if (!row[0]) {
			fputc('\n', fp);
			continue;
		}
		for (size_t c = 0; c < t->ncols; c++) {
			if (c + 1 == t->ncols)
				fprintf(fp, "%s\n", row[c]);
			else
				fprintf(fp, "%-*s  ", (int)w[c], row[c]);
		}
	}
}

void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}
