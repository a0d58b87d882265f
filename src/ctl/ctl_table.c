/*
 * ctl_table.c - the status table of `uzram ctl`, as zramctl prints it
 * (sys-utils/zramctl.c of util-linux 2.38 and libsmartcols).
 *
 * The columns, their order, alignment and the width rules of libsmartcols:
 * a column is as wide as its widest cell or header, or as zramctl's width
 * hint when both are narrower; right-aligned numbers, one space between,
 * no padding after a left-aligned last column; --raw: single spaces and
 * \xHH escapes; never truncated. --json is libsmartcols' layout (table
 * "zramdevices"): sizes are numbers with --bytes, counts always.
 *
 * A table is an array of rows x ncolumns cells, each a malloc'd string or
 * NULL for an empty one, filled through the transport (ctl_transport.c):
 * mm_stat once per row, the other attributes per column.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ctl.h"
#include "units.h"
#include "util/common.h"

#define FL_RIGHT	1
#define FL_NUMBER	2	/* a JSON number when printed in bytes */
#define FL_COUNT	4	/* a JSON number always */

/*
 * hint: zramctl's width hint. libsmartcols widens a column whose cells and
 * header are all narrower than a hint >= 1 to the hint (DATA is 5 wide even
 * when "3.9M" and "DATA" are 4); fractional hints (NAME, MOUNTPOINT) apply
 * only to a maximised table on a terminal, which zramctl never asks for.
 */
static const struct colinfo {
	const char *name;
	unsigned int hint;
	int flags;
	const char *help;
} infos[NR_COLS] = {
	[COL_NAME]       = { "NAME", 0, 0, "zram device name" },
	[COL_DISKSIZE]   = { "DISKSIZE", 5, FL_RIGHT | FL_NUMBER, "limit on the uncompressed amount of data" },
	[COL_ORIG_SIZE]  = { "DATA", 5, FL_RIGHT | FL_NUMBER, "uncompressed size of stored data" },
	[COL_COMP_SIZE]  = { "COMPR", 5, FL_RIGHT | FL_NUMBER, "compressed size of stored data" },
	[COL_ALGORITHM]  = { "ALGORITHM", 3, 0, "the selected compression algorithm" },
	[COL_STREAMS]    = { "STREAMS", 3, FL_RIGHT | FL_COUNT, "number of concurrent compress operations" },
	[COL_ZEROPAGES]  = { "ZERO-PAGES", 3, FL_RIGHT | FL_COUNT, "empty pages with no allocated memory" },
	[COL_MEMTOTAL]   = { "TOTAL", 5, FL_RIGHT | FL_NUMBER, "all memory including allocator fragmentation and metadata overhead" },
	[COL_MEMLIMIT]   = { "MEM-LIMIT", 5, FL_RIGHT | FL_NUMBER, "memory limit used to store compressed data" },
	[COL_MEMUSED]    = { "MEM-USED", 5, FL_RIGHT | FL_NUMBER, "memory zram have been consumed to store compressed data" },
	[COL_MIGRATED]   = { "MIGRATED", 5, FL_RIGHT | FL_NUMBER, "number of objects migrated by compaction" },
	[COL_MOUNTPOINT] = { "MOUNTPOINT", 0, 0, "where the device is mounted" },
};

/* The mm_stat field of each column that shows one. */
static const int mm_field[NR_COLS] = {
	[COL_NAME] = -1, [COL_DISKSIZE] = -1, [COL_ORIG_SIZE] = 0, [COL_COMP_SIZE] = 1,
	[COL_ALGORITHM] = -1, [COL_STREAMS] = -1, [COL_ZEROPAGES] = 5, [COL_MEMTOTAL] = 2,
	[COL_MEMLIMIT] = 3, [COL_MEMUSED] = 4, [COL_MIGRATED] = 6, [COL_MOUNTPOINT] = -1,
};

struct table {
	char **cells;		/* rows x ncolumns, NULL for an empty cell */
	size_t rows, cap;
};

static int column_id(const char *name, size_t len)
{
	for (int i = 0; i < NR_COLS; i++)
		if (!strncasecmp(name, infos[i].name, len) && !infos[i].name[len])
			return i;
	fprintf(stderr, "%s: unknown column: %.*s\n", PROG, (int)len, name);
	return -1;
}

int ctl_parse_columns(const char *list, struct ctl_out *o)
{
	const char *p = list;

	o->ncolumns = 0;
	while (*p) {
		size_t len = strcspn(p, ",");
		int id;

		if (!len) {
			fprintf(stderr, "%s: unknown column: %s\n", PROG, p);
			return -1;
		}
		id = column_id(p, len);
		if (id < 0)
			return -1;
		if (o->ncolumns == (int)UZ_ARRAY_SIZE(o->columns)) {
			fprintf(stderr, "%s: too many columns\n", PROG);
			return -1;
		}
		o->columns[o->ncolumns++] = id;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

void ctl_all_columns(struct ctl_out *o)
{
	for (o->ncolumns = 0; o->ncolumns < NR_COLS; o->ncolumns++)
		o->columns[o->ncolumns] = o->ncolumns;
}

void ctl_default_columns(struct ctl_out *o)
{
	static const int defaults[] = {
		COL_NAME, COL_ALGORITHM, COL_DISKSIZE, COL_ORIG_SIZE,
		COL_COMP_SIZE, COL_MEMTOTAL, COL_STREAMS, COL_MOUNTPOINT,
	};

	for (size_t i = 0; i < UZ_ARRAY_SIZE(defaults); i++)
		o->columns[o->ncolumns++] = defaults[i];
}

void ctl_columns_help(FILE *f)
{
	for (int i = 0; i < NR_COLS; i++)
		fprintf(f, " %11s  %s\n", infos[i].name, infos[i].help);
}

/* Encode what a terminal should not see (and, for --raw, spaces) as \xHH. */
static void put_encoded(FILE *f, const char *s, bool raw)
{
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch == 0x7f || (raw && (ch == ' ' || ch == '\\')))
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
}

static size_t encoded_len(const char *s, bool raw)
{
	size_t n = 0;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		n += (ch < 0x20 || ch == 0x7f || (raw && (ch == ' ' || ch == '\\'))) ? 4 : 1;
	}
	return n;
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* ---- printing ---- */

static const char *cell_at(const struct ctl_out *o, const struct table *t,
			   size_t r, int i)
{
	return t->cells[r * (size_t)o->ncolumns + (size_t)i];
}

static void json_cell(const struct ctl_out *o, const struct colinfo *ci, const char *cell)
{
	printf("         \"");
	for (const char *p = ci->name; *p; p++)
		putchar(tolower((unsigned char)*p));
	printf("\": ");
	if (!cell || !*cell)
		printf("null");
	else if ((ci->flags & FL_COUNT) || ((ci->flags & FL_NUMBER) && o->bytes))
		printf("%s", cell);
	else
		json_string(stdout, cell);
}

static void print_json(const struct ctl_out *o, const struct table *t)
{
	int nc = o->ncolumns;

	printf("{\n   \"zramdevices\": [\n");
	for (size_t r = 0; r < t->rows; r++) {
		printf("%s", r ? "      },{\n" : "      {\n");
		for (int i = 0; i < nc; i++) {
			json_cell(o, &infos[o->columns[i]], cell_at(o, t, r, i));
			printf("%s\n", i + 1 < nc ? "," : "");
		}
		if (r + 1 == t->rows)
			printf("      }\n");
	}
	printf("   ]\n}\n");
}

static void print_raw(const struct ctl_out *o, const struct table *t)
{
	int nc = o->ncolumns;

	if (!o->noheadings) {
		for (int i = 0; i < nc; i++)
			printf("%s%s", i ? " " : "", infos[o->columns[i]].name);
		putchar('\n');
	}
	for (size_t r = 0; r < t->rows; r++) {
		for (int i = 0; i < nc; i++) {
			const char *cell = cell_at(o, t, r, i);

			if (i)
				putchar(' ');
			if (cell)
				put_encoded(stdout, cell, true);
		}
		putchar('\n');
	}
}

/* libsmartcols' count_column_width(): the widest cell; at least the header
 * (printed or not); else the hint, if header and cells are all narrower
 * than it. */
static void column_widths(const struct ctl_out *o, const struct table *t, size_t *width)
{
	for (int i = 0; i < o->ncolumns; i++) {
		const struct colinfo *ci = &infos[o->columns[i]];
		size_t min = strlen(ci->name);

		width[i] = 0;
		for (size_t r = 0; r < t->rows; r++) {
			const char *cell = cell_at(o, t, r, i);

			if (cell && encoded_len(cell, false) > width[i])
				width[i] = encoded_len(cell, false);
		}
		if (width[i] < min)
			width[i] = min;
		else if (ci->hint >= 1 && width[i] < ci->hint && min < ci->hint)
			width[i] = ci->hint;
	}
}

static void print_aligned(const struct ctl_out *o, const struct table *t)
{
	size_t width[NR_COLS * 2];
	int nc = o->ncolumns;

	column_widths(o, t, width);
	for (size_t r = o->noheadings ? 1 : 0; r <= t->rows; r++) {
		for (int i = 0; i < nc; i++) {
			const struct colinfo *ci = &infos[o->columns[i]];
			const char *cell = r ? cell_at(o, t, r - 1, i) : ci->name;
			size_t len = cell ? encoded_len(cell, false) : 0;

			if (i)
				putchar(' ');
			if (ci->flags & FL_RIGHT)
				printf("%*s", (int)(width[i] - len), "");
			if (cell)
				put_encoded(stdout, cell, false);
			if (!(ci->flags & FL_RIGHT) && i + 1 < nc)
				printf("%*s", (int)(width[i] - len), "");
		}
		putchar('\n');
	}
}

/* ---- rows ---- */

/* A new row of empty cells, or NULL. */
static char **new_row(struct table *t, int nc)
{
	char **row;

	if (t->rows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		char **nv = realloc(t->cells, cap * (size_t)nc * sizeof(*nv));

		if (!nv)
			return NULL;
		t->cells = nv;
		t->cap = cap;
	}
	row = t->cells + t->rows * (size_t)nc;
	memset(row, 0, (size_t)nc * sizeof(*row));
	t->rows++;
	return row;
}

static char *size_cell(uint64_t v, bool bytes)
{
	char num[32];

	if (bytes)
		snprintf(num, sizeof(num), "%" PRIu64, v);
	else
		human_size(v, num, sizeof(num));
	return strdup(num);
}

/* The selected one of comp_algorithm's list, "lzo [lz4] zstd". */
static char *algorithm_cell(struct ctl *c, const char *name)
{
	char *alg, *l, *r, *s = NULL;

	if (ctl_show(c, name, "comp_algorithm", &alg, NULL))
		return NULL;
	l = strrchr(alg, '[');
	r = strrchr(alg, ']');
	if (l && r && r - l > 1)
		s = strndup(l + 1, (size_t)(r - l - 1));
	free(alg);
	return s;
}

/* A field of mm_stat: zero pages are a count, everything else sizes. */
static char *mm_cell(const char *field, int col, bool bytes)
{
	if (!field)
		return NULL;
	if (bytes || col == COL_ZEROPAGES)
		return strdup(field);
	return size_cell(strtoull(field, NULL, 10), false);
}

static char *cell(struct ctl *c, const struct ctl_out *o, int id, int col, char **mm)
{
	char name[32], *s = NULL;
	uint64_t v;

	snprintf(name, sizeof(name), "zram%d", id);
	switch (col) {
	case COL_NAME:
		return strdup(name);
	case COL_DISKSIZE:
		return ctl_u64(c, name, "disksize", &v) ? NULL : size_cell(v, o->bytes);
	case COL_ALGORITHM:
		return algorithm_cell(c, name);
	case COL_STREAMS:
		if (!ctl_show(c, name, "max_comp_streams", &s, NULL))
			ctl_trim(s);
		return s;
	case COL_MOUNTPOINT:
		return c->t->mountpoint(c, id);
	default:
		return mm_cell(mm[mm_field[col]], col, o->bytes);
	}
}

static void add_row(struct ctl *c, const struct ctl_out *o, struct table *t, int id)
{
	char name[32], *mm[9] = { NULL }, *mmbuf = NULL;
	char **row = new_row(t, o->ncolumns);

	if (!row)
		return;
	snprintf(name, sizeof(name), "zram%d", id);
	if (!ctl_show(c, name, "mm_stat", &mmbuf, NULL)) {
		char *save = NULL, *tok = strtok_r(mmbuf, " \t\n", &save);

		for (int i = 0; tok && i < 9; i++, tok = strtok_r(NULL, " \t\n", &save))
			mm[i] = tok;
	}
	for (int i = 0; i < o->ncolumns; i++)
		row[i] = cell(c, o, id, o->columns[i], mm);
	free(mmbuf);
}

/* A row for every initialised device; -1 if they cannot be listed. */
static int add_initialised(struct ctl *c, const struct ctl_out *o, struct table *t)
{
	int *ids = NULL;
	long n = ctl_list(c, &ids);

	if (n < 0) {
		fprintf(stderr, "%s: listing devices: %s\n", PROG, strerror((int)-n));
		return -1;
	}
	for (long i = 0; i < n; i++) {
		char name[32];
		uint64_t size;

		snprintf(name, sizeof(name), "zram%d", ids[i]);
		if (!ctl_u64(c, name, "disksize", &size) && size > 0)
			add_row(c, o, t, ids[i]);
	}
	free(ids);
	return 0;
}

int ctl_status(struct ctl *c, const struct ctl_out *o, int only)
{
	struct table t = { 0 };

	if (only >= 0)
		add_row(c, o, &t, only);
	else if (add_initialised(c, o, &t))
		return 1;
	if (o->json)
		print_json(o, &t);
	else if (o->raw)
		print_raw(o, &t);
	else
		print_aligned(o, &t);
	for (size_t i = 0; i < t.rows * (size_t)o->ncolumns; i++)
		free(t.cells[i]);
	free(t.cells);
	return 0;
}
