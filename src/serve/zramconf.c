/*
 * zramconf.c - zram-generator.conf(5) (systemd's zram-generator), read for
 * `uzram serve --config FILE` (zramconf.h).
 *
 * The file: lines of "[zramN]" (a section per device), "KEY = VALUE", and
 * comments ('#' or ';' first); blank lines. Keys before any section are
 * zram-generator's directives (set!VAR = PROGRAM), and sections other than
 * [zramN] are ignored, each with a warning. A section given twice is one
 * section; a key given twice keeps its last value. The whole file is read
 * first, then every section becomes the settings of its device (devconf.h):
 *
 *   host-memory-limit (memory-limit)  MiB or none: above it (MemTotal in MiB
 *                             greater), the section is skipped
 *   zram-size                 disksize, an expression in MiB (sizeexpr.h);
 *                             default min(ram / 2, 4096); 0 skips the section
 *   zram-fraction, max-zram-size  the obsolete form of zram-size (either one
 *                             given: fraction (0.5) x ram, at most max (4096))
 *   zram-resident-limit       mem_limit, an expression in MiB; 0: none
 *   compression-algorithm     "ALG[(P,...)] [ALG[(P,...)]...] [(P,...)]": the
 *                             first is comp_algorithm, the next up to three
 *                             recomp_algorithm priorities 1, 2, 3; each
 *                             one's parameters go to algorithm_params at its
 *                             priority; "(P,...)" alone (global
 *                             recompression parameters) is not applied
 *   writeback-device          backing_dev (an absolute path)
 *   swap-priority, mount-point, fs-type, options   what zram-generator does
 *                             with the device after it is made: ignored
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sizeexpr.h"
#include "zramconf.h"

#define PROG		"uzram serve"
#define DEFAULT_SIZE	"min(ram / 2, 4096)"	/* zram-generator's */
#define MIB		1048576.0

enum zkey {
	ZK_HOST_LIMIT, ZK_SIZE, ZK_RESIDENT, ZK_ALGORITHM, ZK_WRITEBACK,
	ZK_FRACTION, ZK_MAX_SIZE, ZK_N,
	ZK_IGNORED = ZK_N
};

static const struct {
	const char *name;
	enum zkey key;
} zkeys[] = {
	{ "host-memory-limit", ZK_HOST_LIMIT },
	{ "memory-limit", ZK_HOST_LIMIT },	/* its old name */
	{ "zram-size", ZK_SIZE },
	{ "zram-resident-limit", ZK_RESIDENT },
	{ "compression-algorithm", ZK_ALGORITHM },
	{ "writeback-device", ZK_WRITEBACK },
	{ "zram-fraction", ZK_FRACTION },
	{ "max-zram-size", ZK_MAX_SIZE },
	{ "swap-priority", ZK_IGNORED },
	{ "mount-point", ZK_IGNORED },
	{ "fs-type", ZK_IGNORED },
	{ "options", ZK_IGNORED },
};

/* One [zramN] section as written. */
struct zsect {
	unsigned int id;
	int line;			/* of its first header */
	char *val[ZK_N];		/* NULL: not given */
	const char *name[ZK_N];		/* the key as written */
	int vline[ZK_N];
};

struct zreader {
	const char *path;
	int line;
	uint64_t ram;			/* MiB */
	struct zsect *sect;
	size_t n;
	long cur;			/* the section being read; -1: none */
	bool global;			/* before the first section */
	bool warned_ignored;
};

/* ---- messages ---- */

/* "uzram serve: FILE:LINE: ..." on stderr; -1. */
static int __attribute__((format(printf, 3, 4)))
zerr(const struct zreader *r, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": %s:%d: ", r->path, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static void __attribute__((format(printf, 2, 3)))
zwarn(const struct zreader *r, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": warning: %s:%d: ", r->path, r->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- reading ---- */

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && strchr(" \t\r\n", end[-1]))
		end--;
	*end = '\0';
	return s;
}

/* [zramN]: the section (merged with an earlier one of the same device). */
static int zram_section(struct zreader *r, unsigned int id)
{
	struct zsect *grown;

	for (size_t i = 0; i < r->n; i++)
		if (r->sect[i].id == id) {
			r->cur = (long)i;
			return 0;
		}
	grown = realloc(r->sect, (r->n + 1) * sizeof(*r->sect));
	if (!grown)
		return zerr(r, r->line, "%s", strerror(ENOMEM));
	r->sect = grown;
	r->sect[r->n] = (struct zsect){ .id = id, .line = r->line };
	r->cur = (long)r->n++;
	return 0;
}

static int section(struct zreader *r, char *s)
{
	size_t len = strlen(s), digits;
	unsigned long id;

	if (s[len - 1] != ']')
		return zerr(r, r->line, "'%s': a section header without ']'", s);
	s[len - 1] = '\0';
	r->global = false;
	r->cur = -1;
	digits = strncmp(s + 1, "zram", 4) ? 0 : strspn(s + 5, "0123456789");
	if (digits == 0 || s[5 + digits]) {
		zwarn(r, "section [%s] ignored (devices are [zramN])", s + 1);
		return 0;
	}
	id = digits > 4 ? ULONG_MAX : strtoul(s + 5, NULL, 10);
	if (id >= DEVCONF_MAX_DEVICES)
		return zerr(r, r->line, "[%s]: uzram has zram0 to zram%d", s + 1,
			    DEVCONF_MAX_DEVICES - 1);
	return zram_section(r, (unsigned int)id);
}

/* A key before the first section, or in a section that is not [zramN]. */
static void outside_key(struct zreader *r, const char *key)
{
	if (!r->global)
		return;		/* the section was ignored, with a warning */
	if (!strncmp(key, "set!", 4))
		zwarn(r, "%s: set! directives are not supported (uzram runs no programs): "
		      "ignored", key);
	else
		zwarn(r, "%s before any [zramN] section: ignored", key);
}

static void ignored_key(struct zreader *r, const char *key)
{
	if (r->warned_ignored)
		return;
	r->warned_ignored = true;
	zwarn(r, "%s ignored: swap-priority, mount-point, fs-type and options say what to "
	      "do with the device once it is made, and uzram makes no swap area or file "
	      "system (mkswap and swapon, or mkfs and mount, /dev/ublkbN or /dev/nbdN "
	      "yourself); warned once", key);
}

static int zram_key(struct zreader *r, const char *key, const char *val)
{
	struct zsect *z = &r->sect[r->cur];
	char *copy;

	for (size_t i = 0; i < sizeof(zkeys) / sizeof(zkeys[0]); i++) {
		enum zkey k = zkeys[i].key;

		if (strcmp(key, zkeys[i].name))
			continue;
		if (k == ZK_IGNORED) {
			ignored_key(r, key);
			return 0;
		}
		copy = strdup(val);
		if (!copy)
			return zerr(r, r->line, "%s", strerror(ENOMEM));
		free(z->val[k]);
		z->val[k] = copy;
		z->name[k] = zkeys[i].name;
		z->vline[k] = r->line;
		return 0;
	}
	zwarn(r, "unknown key %s in [zram%u]: ignored", key, z->id);
	return 0;
}

static int read_line(struct zreader *r, char *line)
{
	char *s = trim(line), *eq;

	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (*s == '[')
		return section(r, s);
	eq = strchr(s, '=');
	if (!eq || eq == s)
		return zerr(r, r->line, "'%s': not a [section], KEY = VALUE or a comment", s);
	*eq = '\0';
	s = trim(s);
	if (!*s)
		return zerr(r, r->line, "'=%s': no key before '='", eq + 1);
	if (r->cur < 0) {
		outside_key(r, s);
		return 0;
	}
	return zram_key(r, s, trim(eq + 1));
}

static int read_file(struct zreader *r)
{
	FILE *f = fopen(r->path, "re");
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	if (!f) {
		fprintf(stderr, PROG ": --config %s: %s\n", r->path, strerror(errno));
		return -1;
	}
	while (!ret && getline(&line, &cap, f) >= 0) {
		r->line++;
		ret = read_line(r, line);
	}
	if (!ret && ferror(f)) {
		fprintf(stderr, PROG ": --config %s: %s\n", r->path, strerror(errno));
		ret = -1;
	}
	free(line);
	fclose(f);
	return ret;
}

/* ---- sections into settings ---- */

/* "FILE:LINE: KEY = VALUE", the label of what key of z sets. */
static char *label_of(const struct zreader *r, const struct zsect *z, enum zkey k)
{
	char *label;

	if (asprintf(&label, "%s:%d: %s = %s", r->path, z->vline[k], z->name[k],
		     z->val[k]) < 0)
		return NULL;
	return label;
}

static int set_item(const struct zreader *r, const struct zsect *z, enum zkey k,
		    struct devconf *d, enum devconf_key key, const char *value)
{
	char *label = label_of(r, z, k);
	int ret = label ? devconf_set(d, key, value, label, true) : -ENOMEM;

	free(label);
	return ret ? zerr(r, z->vline[k], "%s", strerror(-ret)) : 0;
}

/* An expression in MiB (key k of z, or expr at line) into bytes. */
static int eval_bytes(const struct zreader *r, int line, const char *key, const char *expr,
		      uint64_t *bytes)
{
	const char *err;
	size_t pos;
	double mib;

	if (sizeexpr_eval(expr, (double)r->ram, &mib, &err, &pos))
		return zerr(r, line, "%s = %s: at column %zu: %s", key, expr, pos + 1, err);
	if (mib < 0)
		return zerr(r, line, "%s = %s: %g MiB, below 0", key, expr, mib);
	if (mib * MIB >= 18446744073709551616.0)
		return zerr(r, line, "%s = %s: %g MiB, too large", key, expr, mib);
	*bytes = (uint64_t)(mib * MIB);
	return 0;
}

/* MiB, or none (UINT64_MAX): host-memory-limit and max-zram-size. */
static int mib_or_none(const struct zreader *r, const struct zsect *z, enum zkey k,
		       uint64_t *out)
{
	const char *v = z->val[k];
	char *end;

	*out = UINT64_MAX;
	if (!v || !strcmp(v, "none"))
		return 0;
	errno = 0;
	*out = strtoull(v, &end, 10);
	if (!*v || *end || errno || *v == '-' || *v == '+')
		return zerr(r, z->vline[k], "%s = %s: not a number of MiB or none",
			    z->name[k], v);
	return 0;
}

/* zram-fraction and max-zram-size, zram-generator's old zram-size. */
static int old_size(const struct zreader *r, const struct zsect *z, uint64_t *bytes)
{
	const char *v = z->val[ZK_FRACTION];
	double fraction = 0.5;
	uint64_t max, mib;
	char *end;

	if (mib_or_none(r, z, ZK_MAX_SIZE, &max))
		return -1;
	if (!z->val[ZK_MAX_SIZE])
		max = 4096;
	if (v) {
		fraction = strtod(v, &end);
		if (!*v || *end || !(fraction >= 0) || fraction > 1e6)
			return zerr(r, z->vline[ZK_FRACTION], "zram-fraction = %s: not a "
				    "number from 0 (e.g. 0.5)", v);
	}
	mib = (uint64_t)(fraction * (double)r->ram);
	*bytes = (mib < max ? mib : max) << 20;
	return 0;
}

/* "[zramN] skipped: why" (not an error: zram-generator makes no device). */
static void __attribute__((format(printf, 4, 5)))
skip(const struct zreader *r, const struct zsect *z, struct devconf *d, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": %s:%d: [zram%u] skipped: ", r->path, z->line, z->id);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	d->skipped = true;
}

/* disksize from zram-size (or the old keys, or the default). */
static int section_size(const struct zreader *r, const struct zsect *z, uint64_t *bytes)
{
	if (z->val[ZK_FRACTION] || z->val[ZK_MAX_SIZE])
		return old_size(r, z, bytes);
	if (z->val[ZK_SIZE])
		return eval_bytes(r, z->vline[ZK_SIZE], "zram-size", z->val[ZK_SIZE], bytes);
	return eval_bytes(r, z->line, "zram-size (the default)", DEFAULT_SIZE, bytes);
}

/* disksize's label when zram-size is the default. */
static int set_default_size(const struct zreader *r, const struct zsect *z,
			    struct devconf *d, const char *bytes)
{
	char *label;
	int ret;

	if (asprintf(&label, "%s:%d: [zram%u] zram-size (the default, " DEFAULT_SIZE ")",
		     r->path, z->line, z->id) < 0)
		return zerr(r, z->line, "%s", strerror(ENOMEM));
	ret = devconf_set(d, DC_DISKSIZE, bytes, label, true);
	free(label);
	return ret ? zerr(r, z->line, "%s", strerror(-ret)) : 0;
}

/* disksize and mem_limit, in bytes. */
static int sizes(const struct zreader *r, const struct zsect *z, struct devconf *d,
		 uint64_t disksize)
{
	enum zkey k = z->val[ZK_FRACTION] ? ZK_FRACTION : z->val[ZK_MAX_SIZE] ? ZK_MAX_SIZE :
		      ZK_SIZE;
	uint64_t limit = 0;
	char num[24];

	snprintf(num, sizeof(num), "%" PRIu64, disksize);
	if (z->val[k] ? set_item(r, z, k, d, DC_DISKSIZE, num) : set_default_size(r, z, d, num))
		return -1;
	if (z->val[ZK_RESIDENT] && eval_bytes(r, z->vline[ZK_RESIDENT], "zram-resident-limit",
					      z->val[ZK_RESIDENT], &limit))
		return -1;
	snprintf(num, sizeof(num), "%" PRIu64, limit);
	return limit ? set_item(r, z, ZK_RESIDENT, d, DC_MEM_LIMIT, num) : 0;
}

/*
 * One word of compression-algorithm, "ALG", "ALG(P,...)" or "(P,...)", at
 * priority prio: comp_algorithm or recomp_algorithm, and algorithm_params
 * (the commas made spaces).
 */
static int algorithm_word(const struct zreader *r, const struct zsect *z, struct devconf *d,
			  char *word, int prio)
{
	char *paren = strchr(word, '('), value[512];
	size_t len;

	if (paren) {
		*paren++ = '\0';
		len = strlen(paren);
		if (len && paren[len - 1] == ')')
			paren[len - 1] = '\0';
		for (char *c = paren; *c; c++)
			*c = *c == ',' ? ' ' : *c;
	}
	if (prio > DEVCONF_MAX_RECOMP)
		return zerr(r, z->vline[ZK_ALGORITHM], "compression-algorithm: %s: at most %d "
			    "recompression algorithms", word, DEVCONF_MAX_RECOMP);
	snprintf(value, sizeof(value), "algo=%.128s priority=%d", word, prio);
	if (set_item(r, z, ZK_ALGORITHM, d, prio ? DC_RECOMP + prio - 1 : DC_ALGORITHM,
		     prio ? value : word))
		return -1;
	snprintf(value, sizeof(value), "priority=%d %.480s", prio, paren ? paren : "");
	return paren && *paren ? set_item(r, z, ZK_ALGORITHM, d, DC_PARAMS + prio, value) : 0;
}

static int algorithms(const struct zreader *r, const struct zsect *z, struct devconf *d)
{
	char *list = strdup(z->val[ZK_ALGORITHM]), *save = NULL, *word;
	int prio = 0, ret = 0;

	if (!list)
		return zerr(r, z->vline[ZK_ALGORITHM], "%s", strerror(ENOMEM));
	for (word = strtok_r(list, " \t", &save); word && !ret;
	     word = strtok_r(NULL, " \t", &save)) {
		if (*word == '(')
			fprintf(stderr, PROG ": warning: %s:%d: compression-algorithm: %s: global "
				"recompression parameters are not applied (uzram recompresses "
				"idle pages with --recompress-idle S)\n", r->path,
				z->vline[ZK_ALGORITHM], word);
		else
			ret = algorithm_word(r, z, d, word, prio++);
	}
	free(list);
	return ret;
}

static int writeback(const struct zreader *r, const struct zsect *z, struct devconf *d)
{
	const char *path = z->val[ZK_WRITEBACK];

	if (*path != '/')
		return zerr(r, z->vline[ZK_WRITEBACK], "writeback-device = %s: not an absolute "
			    "path", path);
	return set_item(r, z, ZK_WRITEBACK, d, DC_BACKING_DEV, path);
}

static int apply_section(const struct zreader *r, const struct zsect *z, struct devconf_set *s)
{
	struct devconf *d = devconf_get(s, z->id);
	uint64_t limit, disksize;

	if (!d)
		return zerr(r, z->line, "%s", strerror(ENOMEM));
	if (mib_or_none(r, z, ZK_HOST_LIMIT, &limit))
		return -1;
	if (r->ram > limit) {
		skip(r, z, d, "MemTotal is %" PRIu64 " MiB, above host-memory-limit %" PRIu64,
		     r->ram, limit);
		return 0;
	}
	if (section_size(r, z, &disksize))
		return -1;
	if (disksize == 0) {
		skip(r, z, d, "zram-size is 0 (ram = %" PRIu64 " MiB)", r->ram);
		return 0;
	}
	if (sizes(r, z, d, disksize))
		return -1;
	if (z->val[ZK_ALGORITHM] && algorithms(r, z, d))
		return -1;
	return z->val[ZK_WRITEBACK] ? writeback(r, z, d) : 0;
}

int zramconf_read(struct devconf_set *s, const char *path, uint64_t ram_mib)
{
	struct zreader r = { .path = path, .ram = ram_mib, .cur = -1, .global = true };
	int ret = read_file(&r);

	for (size_t i = 0; i < r.n && !ret; i++)
		ret = apply_section(&r, &r.sect[i], s);
	for (size_t i = 0; i < r.n; i++)
		for (int k = 0; k < ZK_N; k++)
			free(r.sect[i].val[k]);
	free(r.sect);
	return ret;
}

uint64_t zramconf_ram_mib(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	uint64_t kib = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %" SCNu64 " kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib / 1024;
}
