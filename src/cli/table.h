/* Columns aligned like lspci's and ps's: widths from the content, the last
 * column left ragged. */
#pragma once
#include <stdio.h>

struct table {
	size_t ncols;
	char **cells;        /* row-major; a NULL row start marks a blank line */
	size_t nrows, cap;
};

void table_init(struct table *t, size_t ncols);
/* ncols strings, copied. */
int table_add(struct table *t, ...);
int table_add_blank(struct table *t);
void table_print(const struct table *t, FILE *fp);
void table_free(struct table *t);
