/*
 * ctl.c - `uzram ctl`: util-linux zramctl's interface to uzram's devices,
 * over the control socket (--control PATH, by default the one `uzram serve`
 * makes) or over a FUSE tree (--sysfs DIR; `--sysfs /sys/block` drives the
 * kernel's own zram, /sys/class/zram-control standing in for DIR/zram-control).
 *
 *	uzram ctl [options]			the table of initialised devices
 *	uzram ctl [options] NAME		that device's row
 *	uzram ctl --find [--size SIZE [--algorithm ALG]]
 *	uzram ctl NAME --size SIZE [--algorithm ALG]
 *	uzram ctl --reset NAME...
 *	uzram ctl NAME ATTR			print an attribute (block_state too)
 *	uzram ctl NAME ATTR=VALUE		store it; exit 1 with the errno's message
 *
 * Everything follows zramctl 2.38 (sys-utils/zramctl.c): the columns, their
 * order, alignment and the width rules of libsmartcols (a column is as wide
 * as its widest cell or header, or as zramctl's width hint when both are
 * narrower; right-aligned numbers, one space between, no padding after a
 * left-aligned last column; --raw: single spaces and \xHH escapes; never
 * truncated), size_to_human_string's units ("4.1M", "0B": one decimal,
 * rounded half up, powers of 1024), parse_size's SIZE syntax (K/KiB = 1024,
 * KB = 1000, fractions, base-0 numbers), --find taking the first existing
 * unused device before hot-adding one, --reset resetting and then
 * hot-removing, and the error messages. The differences: NAME is the
 * device's name (zram0: uzram has no /dev node; /dev/zramN is accepted on
 * input), --json is added (libsmartcols' layout, table "zramdevices"), and
 * MOUNTPOINT is found through the block devices that carry the device: a
 * loop device on DIR/zramN/disk of the FUSE tree (with --control: of every
 * mounted fuse.uzram tree), or /dev/zramN itself under /sys/block. STREAMS
 * shows max_comp_streams, which kernels since 6.15 and uzram lack: empty,
 * as zramctl shows it on this kernel. Devices are listed in id order (zramctl
 * lists them in readdir order of /dev).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "control/control.h"
#include "uzram.h"

#define PROG	"uzram ctl"

/* ---- where the devices are: the control socket or a sysfs-like tree ---- */

struct ctl {
	const char *control;	/* socket path, or NULL */
	const char *sysfs;	/* tree, or NULL */
	char ctldir[PATH_MAX];	/* the tree's zram-control */
};

/* Read a whole file; 0 or -errno. */
static int read_file(const char *path, char **out, size_t *out_len)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*out = NULL;
	if (fd < 0 || !buf) {
		int err = fd < 0 ? errno : ENOMEM;

		if (fd >= 0)
			close(fd);
		free(buf);
		return -err;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nb = realloc(buf, cap * 2 + 1);

			if (!nb) {
				free(buf);
				close(fd);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;

			free(buf);
			close(fd);
			return -err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	if (out_len)
		*out_len = len;
	return 0;
}

static int attr_path(struct ctl *c, const char *dev, const char *attr,
		     char *path, size_t size)
{
	int n;

	if (!strcmp(dev, "zram-control"))
		n = snprintf(path, size, "%s/%s", c->ctldir, attr);
	else
		n = snprintf(path, size, "%s/%s/%s", c->sysfs, dev, attr);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* A missing device directory is ENODEV, as the socket says. */
static int sysfs_errno(struct ctl *c, const char *dev, int err)
{
	char path[PATH_MAX];
	struct stat st;

	if (err != -ENOENT || !strcmp(dev, "zram-control"))
		return err;
	snprintf(path, sizeof(path), "%s/%s", c->sysfs, dev);
	return stat(path, &st) ? -ENODEV : err;
}

/* An attribute's text (NUL-terminated, malloc'd); 0 or -errno. */
static int ctl_show(struct ctl *c, const char *dev, const char *attr,
		    char **out, size_t *len)
{
	char path[PATH_MAX];
	int ret;

	*out = NULL;
	if (c->control)
		return control_request(c->control, "show", dev, attr, NULL, 0, out, len);
	ret = attr_path(c, dev, attr, path, sizeof(path));
	if (!ret)
		ret = read_file(path, out, len);
	return ret ? sysfs_errno(c, dev, ret) : 0;
}

/* One store, as one write(2); 0 or -errno. */
static int ctl_store(struct ctl *c, const char *dev, const char *attr,
		     const char *val)
{
	char path[PATH_MAX];
	size_t len = strlen(val);
	ssize_t n;
	int fd, ret;

	if (c->control)
		return control_request(c->control, "store", dev, attr, val, len, NULL, NULL);
	ret = attr_path(c, dev, attr, path, sizeof(path));
	if (ret)
		return ret;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return sysfs_errno(c, dev, -errno);
	do
		n = write(fd, val, len);
	while (n < 0 && errno == EINTR);
	ret = n < 0 ? -errno : 0;
	close(fd);
	return ret;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* "zramN" (or "/dev/zramN") to N; -1 if it is not such a name. */
static int parse_name(const char *s)
{
	int id;

	if (!strncmp(s, "/dev/", 5))
		s += 5;
	id = uzram_name_id(s, strlen(s));
	return id < 0 ? -1 : id;
}

/* The existing devices' ids, ascending; the count or -errno. */
static long ctl_list(struct ctl *c, int **ids)
{
	size_t n = 0, cap = 16;
	int *v = malloc(cap * sizeof(*v));
	char *reply = NULL, *line, *save = NULL;
	int ret;

	*ids = NULL;
	if (!v)
		return -ENOMEM;
	if (c->control) {
		ret = control_request(c->control, "list", NULL, NULL, NULL, 0, &reply, NULL);
		if (ret) {
			free(v);
			return ret;
		}
		for (line = strtok_r(reply, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			int id = parse_name(line);

			if (id < 0)
				continue;
			if (n == cap) {
				int *nv = realloc(v, (cap *= 2) * sizeof(*v));

				if (!nv) {
					free(v);
					free(reply);
					return -ENOMEM;
				}
				v = nv;
			}
			v[n++] = id;
		}
		free(reply);
	} else {
		DIR *d = opendir(c->sysfs);
		struct dirent *de;

		if (!d) {
			ret = -errno;
			free(v);
			return ret;
		}
		while ((de = readdir(d))) {
			int id = parse_name(de->d_name);

			if (id < 0)
				continue;
			if (n == cap) {
				int *nv = realloc(v, (cap *= 2) * sizeof(*v));

				if (!nv) {
					free(v);
					closedir(d);
					return -ENOMEM;
				}
				v = nv;
			}
			v[n++] = id;
		}
		closedir(d);
	}
	qsort(v, n, sizeof(*v), cmp_int);
	*ids = v;
	return (long)n;
}

static bool dev_exists(struct ctl *c, int id)
{
	char name[32], *s;
	int ret;

	snprintf(name, sizeof(name), "zram%d", id);
	ret = ctl_show(c, name, "disksize", &s, NULL);
	free(s);
	return ret != -ENODEV && ret != -ENOENT;
}

static int ctl_u64(struct ctl *c, const char *dev, const char *attr, uint64_t *v)
{
	char *s, *end;
	int ret = ctl_show(c, dev, attr, &s, NULL);

	if (ret)
		return ret;
	errno = 0;
	*v = strtoull(s, &end, 10);
	ret = end == s || errno ? -EINVAL : 0;
	free(s);
	return ret;
}

static void trim(char *s)
{
	size_t n = strlen(s);

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

/* ---- util-linux's number formats ---- */

/* size_to_human_string(SIZE_SUFFIX_1LETTER, bytes) */
static void human_size(uint64_t bytes, char *buf, size_t size)
{
	static const char letters[] = "BKMGTPE";
	int shift, exp;
	unsigned int dec;
	uint64_t frac;

	for (shift = 10; shift <= 60; shift += 10)
		if (bytes < (1ull << shift))
			break;
	exp = shift - 10;
	dec = exp ? (unsigned int)(bytes >> exp) : (unsigned int)bytes;
	frac = exp ? bytes & ((1ull << exp) - 1) : 0;
	if (frac) {
		if (frac >= UINT64_MAX / 1000)
			frac = ((frac / 1024) * 1000) / (1ull << (exp - 10));
		else
			frac = (frac * 1000) / (1ull << exp);
		frac = ((frac + 50) / 100) * 10;	/* one digit, 4/5 rounding */
		if (frac == 100) {
			dec++;
			frac = 0;
		}
	}
	if (frac)
		snprintf(buf, size, "%u.%" PRIu64 "%c", dec, frac / 10, letters[exp / 10]);
	else
		snprintf(buf, size, "%u%c", dec, letters[exp / 10]);
}

static int scale(uintmax_t *x, unsigned int base, int power)
{
	while (power--) {
		if (*x > UINTMAX_MAX / base)
			return -ERANGE;
		*x *= base;
	}
	return 0;
}

/* parse_size() of util-linux: "1G", "512MiB", "100MB", "1.5G", "0x1000". */
static int parse_size(const char *str, uintmax_t *res)
{
	static const char suf[] = "KMGTPEZY", suf2[] = "kmgtpezy";
	const char *p = str, *sp;
	char *end;
	uintmax_t x, frac = 0;
	unsigned int base = 1024;
	int pwr, frac_zeros = 0, ret;

	*res = 0;
	if (!str || !*str)
		return -EINVAL;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '-')
		return -EINVAL;
	errno = 0;
	x = strtoumax(str, &end, 0);
	if (end == str || (errno && (x == UINTMAX_MAX || x == 0)))
		return errno ? -errno : -EINVAL;
	if (!*end) {
		*res = x;
		return 0;
	}
	p = end;
check_suffix:
	if (p[1] == 'i' && (p[2] == 'B' || p[2] == 'b') && !p[3]) {
		base = 1024;
	} else if ((p[1] == 'B' || p[1] == 'b') && !p[2]) {
		base = 1000;
	} else if (p[1]) {
		if (frac == 0 && *p == '.') {
			const char *fstr;

			for (p++; *p == '0'; p++)
				frac_zeros++;
			fstr = p;
			if (isdigit((unsigned char)*fstr)) {
				errno = 0;
				frac = strtoumax(fstr, &end, 0);
				if (end == fstr || (errno && (frac == UINTMAX_MAX || frac == 0)))
					return errno ? -errno : -EINVAL;
			} else {
				end = (char *)p;
			}
			if (frac && !*end)
				return -EINVAL;	/* a fraction without a suffix */
			p = end;
			goto check_suffix;
		}
		return -EINVAL;
	}
	sp = strchr(suf, *p);
	if (*p && sp) {
		pwr = (int)(sp - suf) + 1;
	} else {
		sp = strchr(suf2, *p);
		if (!*p || !sp)
			return -EINVAL;
		pwr = (int)(sp - suf2) + 1;
	}
	ret = scale(&x, base, pwr);
	if (ret)
		return ret;
	if (frac) {
		uintmax_t frac_div = 10, frac_poz = 1, frac_base = 1;

		scale(&frac_base, base, pwr);
		while (frac_div < frac)
			frac_div *= 10;
		for (int i = 0; i < frac_zeros; i++)
			frac_div *= 10;
		do {
			unsigned int seg = (unsigned int)(frac % 10);
			uintmax_t seg_div = frac_div / frac_poz;

			frac /= 10;
			frac_poz *= 10;
			if (seg && seg_div / seg)
				x += frac_base / (seg_div / seg);
		} while (frac);
	}
	*res = x;
	return 0;
}

/* ---- the table ---- */

enum {
	COL_NAME, COL_DISKSIZE, COL_ORIG_SIZE, COL_COMP_SIZE, COL_ALGORITHM,
	COL_STREAMS, COL_ZEROPAGES, COL_MEMTOTAL, COL_MEMLIMIT, COL_MEMUSED,
	COL_MIGRATED, COL_MOUNTPOINT, NR_COLS
};

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

struct opts {
	bool raw, noheadings, bytes, json;
	int columns[NR_COLS * 2];
	int ncolumns;
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

/* --output: comma-separated column names. */
static int parse_columns(const char *list, struct opts *o)
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
		if (o->ncolumns == (int)(sizeof(o->columns) / sizeof(o->columns[0]))) {
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

static void print_table(const struct opts *o, const struct table *t)
{
	size_t width[NR_COLS * 2];
	int nc = o->ncolumns;

	if (o->json) {
		printf("{\n   \"zramdevices\": [\n");
		for (size_t r = 0; r < t->rows; r++) {
			printf("%s", r ? "      },{\n" : "      {\n");
			for (int i = 0; i < nc; i++) {
				const struct colinfo *ci = &infos[o->columns[i]];
				const char *cell = t->cells[r * (size_t)nc + (size_t)i];

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
				printf("%s\n", i + 1 < nc ? "," : "");
			}
			if (r + 1 == t->rows)
				printf("      }\n");
		}
		printf("   ]\n}\n");
		return;
	}
	if (o->raw) {
		if (!o->noheadings)
			for (int i = 0; i < nc; i++)
				printf("%s%s", i ? " " : "", infos[o->columns[i]].name);
		if (!o->noheadings)
			putchar('\n');
		for (size_t r = 0; r < t->rows; r++) {
			for (int i = 0; i < nc; i++) {
				const char *cell = t->cells[r * (size_t)nc + (size_t)i];

				if (i)
					putchar(' ');
				if (cell)
					put_encoded(stdout, cell, true);
			}
			putchar('\n');
		}
		return;
	}
	/* libsmartcols' count_column_width(): the widest cell; at least the
	 * header (printed or not); else the hint, if header and cells are
	 * all narrower than it */
	for (int i = 0; i < nc; i++) {
		const struct colinfo *ci = &infos[o->columns[i]];
		size_t min = strlen(ci->name);

		width[i] = 0;
		for (size_t r = 0; r < t->rows; r++) {
			const char *cell = t->cells[r * (size_t)nc + (size_t)i];

			if (cell && encoded_len(cell, false) > width[i])
				width[i] = encoded_len(cell, false);
		}
		if (width[i] < min)
			width[i] = min;
		else if (ci->hint >= 1 && width[i] < ci->hint && min < ci->hint)
			width[i] = ci->hint;
	}
	for (size_t r = o->noheadings ? 1 : 0; r <= t->rows; r++) {
		for (int i = 0; i < nc; i++) {
			const struct colinfo *ci = &infos[o->columns[i]];
			const char *cell = r ? t->cells[(r - 1) * (size_t)nc + (size_t)i] : ci->name;
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

/* ---- MOUNTPOINT ---- */

/* The mount point of the filesystem on block device "maj:min", or NULL. */
static char *mount_of(const char *majmin)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *found = NULL;
	size_t cap = 0;

	if (!f)
		return NULL;
	while (!found && getline(&line, &cap, f) > 0) {
		char dev[64], mnt[PATH_MAX];
		unsigned int a, b;

		if (sscanf(line, "%u %u %63s %*s %4095s", &a, &b, dev, mnt) != 4 ||
		    strcmp(dev, majmin))
			continue;
		/* unescape \040 and friends */
		found = malloc(strlen(mnt) + 1);
		if (!found)
			break;
		for (char *s = mnt, *d = found;; s++) {
			if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] && s[3]) {
				*d++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
				s += 3;
			} else if (!(*d++ = *s)) {
				break;
			}
		}
	}
	free(line);
	fclose(f);
	return found;
}

/* The mount points of every FUSE tree uzram serves (fuse.uzram). */
static char **uzram_trees(size_t *n)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, **v = NULL;
	size_t cap = 0;

	*n = 0;
	if (!f)
		return NULL;
	while (getline(&line, &cap, f) > 0) {
		char mnt[PATH_MAX], *sep = strstr(line, " - ");
		char **nv;

		if (!sep || strncmp(sep + 3, "fuse.uzram ", 11) ||
		    sscanf(line, "%*u %*u %*s %*s %4095s", mnt) != 1)
			continue;
		nv = realloc(v, (*n + 1) * sizeof(*v));
		if (!nv)
			break;
		v = nv;
		v[*n] = strdup(mnt);
		if (!v[*n])
			break;
		(*n)++;
	}
	free(line);
	fclose(f);
	return v;
}

static char *mountpoint_of(struct ctl *c, int id)
{
	char path[PATH_MAX + 64], want[PATH_MAX + 64], *s = NULL, *mp = NULL;
	char **trees = NULL;
	size_t ntrees = 0;
	DIR *d;
	struct dirent *de;

	/* the kernel's /dev/zramN, under --sysfs /sys/block */
	if (c->sysfs) {
		snprintf(path, sizeof(path), "%s/zram%d/dev", c->sysfs, id);
		if (!read_file(path, &s, NULL)) {
			trim(s);
			mp = mount_of(s);
			free(s);
			if (mp)
				return mp;
		}
		trees = malloc(sizeof(*trees));
		if (!trees || !(trees[0] = realpath(c->sysfs, NULL))) {
			free(trees);
			return NULL;
		}
		ntrees = 1;
	} else {
		trees = uzram_trees(&ntrees);
	}
	/* loop devices on TREE/zramN/disk */
	d = opendir("/sys/block");
	while (d && !mp && (de = readdir(d))) {
		if (strncmp(de->d_name, "loop", 4))
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/loop/backing_file", de->d_name);
		if (read_file(path, &s, NULL))
			continue;
		trim(s);
		for (size_t i = 0; i < ntrees && !mp; i++) {
			snprintf(want, sizeof(want), "%s/zram%d/disk", trees[i], id);
			if (!strcmp(s, want)) {
				char *dev;

				snprintf(path, sizeof(path), "/sys/block/%s/dev", de->d_name);
				if (!read_file(path, &dev, NULL)) {
					trim(dev);
					mp = mount_of(dev);
					free(dev);
				}
			}
		}
		free(s);
	}
	if (d)
		closedir(d);
	for (size_t i = 0; i < ntrees; i++)
		free(trees[i]);
	free(trees);
	return mp;
}

/* ---- status ---- */

static void add_row(struct ctl *c, const struct opts *o, struct table *t, int id)
{
	char name[32], *s, *mm[9] = { NULL }, *mmbuf = NULL;
	int nc = o->ncolumns;
	char **row;

	if (t->rows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		char **nv = realloc(t->cells, cap * (size_t)nc * sizeof(*nv));

		if (!nv)
			return;
		t->cells = nv;
		t->cap = cap;
	}
	row = t->cells + t->rows * (size_t)nc;
	memset(row, 0, (size_t)nc * sizeof(*row));
	t->rows++;
	snprintf(name, sizeof(name), "zram%d", id);
	if (!ctl_show(c, name, "mm_stat", &mmbuf, NULL)) {
		char *save = NULL, *tok = strtok_r(mmbuf, " \t\n", &save);

		for (int i = 0; tok && i < 9; i++, tok = strtok_r(NULL, " \t\n", &save))
			mm[i] = tok;
	}
	for (int i = 0; i < nc; i++) {
		int col = o->columns[i];
		char num[32];
		uint64_t v;

		s = NULL;
		switch (col) {
		case COL_NAME:
			s = strdup(name);
			break;
		case COL_DISKSIZE:
			if (!ctl_u64(c, name, "disksize", &v)) {
				if (o->bytes)
					snprintf(num, sizeof(num), "%" PRIu64, v);
				else
					human_size(v, num, sizeof(num));
				s = strdup(num);
			}
			break;
		case COL_ALGORITHM: {
			char *alg, *l, *r;

			if (ctl_show(c, name, "comp_algorithm", &alg, NULL))
				break;
			l = strrchr(alg, '[');
			r = strrchr(alg, ']');
			if (l && r && r - l > 1)
				s = strndup(l + 1, (size_t)(r - l - 1));
			free(alg);
			break;
		}
		case COL_STREAMS:
			if (!ctl_show(c, name, "max_comp_streams", &s, NULL))
				trim(s);
			break;
		case COL_MOUNTPOINT:
			s = mountpoint_of(c, id);
			break;
		default: {
			const char *f = mm[mm_field[col]];

			if (!f)
				break;
			/* zero pages are a count; everything else sizes */
			if (o->bytes || col == COL_ZEROPAGES) {
				s = strdup(f);
			} else {
				human_size(strtoull(f, NULL, 10), num, sizeof(num));
				s = strdup(num);
			}
			break;
		}
		}
		row[i] = s;
	}
	free(mmbuf);
}

static int status(struct ctl *c, const struct opts *o, int only)
{
	struct table t = { 0 };
	int *ids = NULL;
	long n;

	if (only >= 0) {
		add_row(c, o, &t, only);
	} else {
		n = ctl_list(c, &ids);
		if (n < 0) {
			fprintf(stderr, "%s: listing devices: %s\n", PROG, strerror((int)-n));
			return 1;
		}
		for (long i = 0; i < n; i++) {
			char name[32];
			uint64_t size;

			snprintf(name, sizeof(name), "zram%d", ids[i]);
			if (!ctl_u64(c, name, "disksize", &size) && size > 0)
				add_row(c, o, &t, ids[i]);
		}
		free(ids);
	}
	print_table(o, &t);
	for (size_t i = 0; i < t.rows * (size_t)o->ncolumns; i++)
		free(t.cells[i]);
	free(t.cells);
	return 0;
}

/* ---- actions ---- */

/* The first existing unused device, else a hot-added one; -errno. */
static int find_free(struct ctl *c)
{
	for (int id = 0;; id++) {
		char name[32], *s;
		uint64_t size;
		long ret;

		snprintf(name, sizeof(name), "zram%d", id);
		if (!dev_exists(c, id)) {
			ret = ctl_show(c, "zram-control", "hot_add", &s, NULL);
			if (ret)
				return (int)ret;
			id = atoi(s);
			free(s);
			return id;
		}
		if (!ctl_u64(c, name, "disksize", &size) && size == 0)
			return id;
	}
}

static int do_attr(struct ctl *c, int id, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char name[32], attr[256], *s;
	size_t len;
	int ret;

	if (id < 0)
		snprintf(name, sizeof(name), "zram-control");
	else
		snprintf(name, sizeof(name), "zram%d", id);
	len = eq ? (size_t)(eq - arg) : strlen(arg);
	if (!len || len >= sizeof(attr) || memchr(arg, '/', len)) {
		fprintf(stderr, "%s: %s: %.*s: not an attribute name\n", PROG, name, (int)len, arg);
		return 1;
	}
	memcpy(attr, arg, len);
	attr[len] = '\0';
	if (eq) {
		ret = ctl_store(c, name, attr, eq + 1);
	} else {
		ret = ctl_show(c, name, attr, &s, &len);
		if (!ret) {
			fwrite(s, 1, len, stdout);
			free(s);
		}
	}
	if (ret) {
		fprintf(stderr, "%s: %s: %s: %s\n", PROG, name, attr, strerror(-ret));
		return 1;
	}
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"\nUsage:\n"
		" uzram ctl [options] <device>\n"
		" uzram ctl -r <device> [...]\n"
		" uzram ctl [options] -f | <device> -s <size>\n"
		" uzram ctl [options] <device> <attribute>[=<value>]\n"
		"\nSet up and control uzram devices, as zramctl does zram's.\n"
		"\nOptions:\n"
		" -a, --algorithm <alg>     compression algorithm to use\n"
		" -b, --bytes               print sizes in bytes rather than in human readable format\n"
		" -f, --find                find a free device\n"
		" -n, --noheadings          don't print headings\n"
		" -o, --output <list>       columns to use for status output\n"
		"     --output-all          output all columns\n"
		"     --raw                 use raw status output format\n"
		" -J, --json                use JSON output format\n"
		" -r, --reset               reset all specified devices (and remove them)\n"
		" -s, --size <size>         device size\n"
		" -t, --streams <number>    number of compression streams\n"
		"     --control <path>      the control socket of `uzram serve`\n"
		"     --sysfs <dir>         a FUSE tree (`uzram serve --mount`) or /sys/block\n"
		"\n -h, --help                display this help\n"
		" -V, --version             display version\n"
		"\nArguments:\n"
		" <size> arguments may be followed by the suffixes for\n"
		"   GiB, TiB, PiB, EiB, ZiB, and YiB (the \"iB\" is optional)\n"
		" <device> is zramN (or /dev/zramN); zram-control names hot_add and hot_remove\n"
		" <alg> specify algorithm, supported are:\n"
		"   lzo-rle, lzo, lz4, lz4hc, zstd, deflate and 842\n"
		"\nAvailable output columns:\n");
	for (int i = 0; i < NR_COLS; i++)
		fprintf(out, " %11s  %s\n", infos[i].name, infos[i].help);
}

static int try_help(void)
{
	fprintf(stderr, "Try '%s --help' for more information.\n", PROG);
	return 1;
}

enum { OPT_RAW = 256, OPT_OUTPUT_ALL, OPT_CONTROL, OPT_SYSFS };

enum { A_NONE, A_STATUS, A_CREATE, A_FINDONLY, A_RESET, A_ATTR };

static int check_exclusive(int c, int *seen_a, int *seen_b)
{
	/* zramctl: { find, output, reset } and { output, reset, size } */
	static const int ga[] = { 'f', 'o', 'r' }, gb[] = { 'o', 'r', 's' };
	static const char *const na = "--find --output --reset";
	static const char *const nb = "--output --reset --size";

	for (int i = 0; i < 3; i++) {
		if (c == ga[i]) {
			if (*seen_a && *seen_a != c) {
				fprintf(stderr, "%s: mutually exclusive arguments: %s\n", PROG, na);
				return -1;
			}
			*seen_a = c;
		}
		if (c == gb[i]) {
			if (*seen_b && *seen_b != c) {
				fprintf(stderr, "%s: mutually exclusive arguments: %s\n", PROG, nb);
				return -1;
			}
			*seen_b = c;
		}
	}
	return 0;
}

int cmd_ctl(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "algorithm", required_argument, NULL, 'a' },
		{ "bytes", no_argument, NULL, 'b' },
		{ "find", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'J' },
		{ "output", required_argument, NULL, 'o' },
		{ "output-all", no_argument, NULL, OPT_OUTPUT_ALL },
		{ "noheadings", no_argument, NULL, 'n' },
		{ "reset", no_argument, NULL, 'r' },
		{ "raw", no_argument, NULL, OPT_RAW },
		{ "size", required_argument, NULL, 's' },
		{ "streams", required_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "control", required_argument, NULL, OPT_CONTROL },
		{ "sysfs", required_argument, NULL, OPT_SYSFS },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o = { 0 };
	struct ctl c = { 0 };
	char control[PATH_MAX], *s;
	const char *algorithm = NULL;
	uintmax_t size = 0, nstreams = 0;
	int opt, act = A_NONE, rc = 0, seen_a = 0, seen_b = 0, id;
	bool find = false;

	argv[0] = (char *)PROG;	/* getopt's messages name the command */
	optind = 0;
	while ((opt = getopt_long(argc, argv, "a:bfhJo:nrs:t:V", longopts, NULL)) != -1) {
		if (check_exclusive(opt, &seen_a, &seen_b))
			return 1;
		switch (opt) {
		case 'a':
			algorithm = optarg;
			break;
		case 'b':
			o.bytes = true;
			break;
		case 'f':
			find = true;
			break;
		case 'J':
			o.json = true;
			break;
		case 'o':
			if (parse_columns(optarg, &o))
				return 1;
			break;
		case OPT_OUTPUT_ALL:
			for (o.ncolumns = 0; o.ncolumns < NR_COLS; o.ncolumns++)
				o.columns[o.ncolumns] = o.ncolumns;
			break;
		case 's': {
			int ret = parse_size(optarg, &size);

			if (ret) {
				fprintf(stderr, "%s: failed to parse size: '%s': %s\n", PROG,
					optarg, strerror(-ret));
				return 1;
			}
			act = A_CREATE;
			break;
		}
		case 't': {
			char *end;

			errno = 0;
			nstreams = strtoumax(optarg, &end, 10);
			if (!*optarg || *end || errno || optarg[0] == '-') {
				fprintf(stderr, "%s: failed to parse streams: '%s'\n", PROG, optarg);
				return 1;
			}
			break;
		}
		case 'r':
			act = A_RESET;
			break;
		case OPT_RAW:
			o.raw = true;
			break;
		case 'n':
			o.noheadings = true;
			break;
		case OPT_CONTROL:
			c.control = optarg;
			break;
		case OPT_SYSFS:
			c.sysfs = optarg;
			break;
		case 'V':
			printf("uzram ctl from uzram %s\n", UZRAM_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return try_help();
		}
	}

	if (c.control && c.sysfs) {
		fprintf(stderr, "%s: --control and --sysfs are mutually exclusive\n", PROG);
		return 1;
	}
	if (c.sysfs) {
		struct stat st;

		snprintf(c.ctldir, sizeof(c.ctldir), "%s/zram-control", c.sysfs);
		if (stat(c.ctldir, &st) && !stat("/sys/class/zram-control", &st)) {
			char *real = realpath(c.sysfs, NULL);

			if (real && !strcmp(real, "/sys/block"))
				snprintf(c.ctldir, sizeof(c.ctldir), "/sys/class/zram-control");
			free(real);
		}
		if (stat(c.sysfs, &st) || !S_ISDIR(st.st_mode)) {
			int err = stat(c.sysfs, &st) ? errno : ENOTDIR;

			fprintf(stderr, "%s: %s: %s\n", PROG, c.sysfs, strerror(err));
			return 1;
		}
	} else {
		int *ids, ret;

		if (!c.control) {
			s = getenv("UZRAM_CONTROL");
			if (s && *s)
				snprintf(control, sizeof(control), "%s", s);
			else if (control_default_path(control, sizeof(control)))
				control[0] = '\0';
			c.control = control;
		}
		ret = (int)ctl_list(&c, &ids);
		if (ret < 0) {
			fprintf(stderr, "%s: %s: %s\n", PROG, c.control, strerror(-ret));
			return 1;
		}
		free(ids);
	}

	if (find && optind < argc) {
		fprintf(stderr, "%s: option --find is mutually exclusive with <device>\n", PROG);
		return 1;
	}
	if (act == A_NONE)
		act = find ? A_FINDONLY : A_STATUS;
	if (act == A_STATUS && argc - optind == 2)
		act = A_ATTR;
	if (act != A_RESET && argc - optind > (act == A_ATTR ? 2 : 1)) {
		fprintf(stderr, "%s: only one <device> at a time is allowed\n", PROG);
		return 1;
	}
	if ((act == A_STATUS || act == A_FINDONLY || act == A_ATTR) && (algorithm || nstreams)) {
		fprintf(stderr, "%s: options --algorithm and --streams must be combined with --size\n",
			PROG);
		return 1;
	}

	switch (act) {
	case A_STATUS:
		if (!o.ncolumns) {
			static const int defaults[] = {
				COL_NAME, COL_ALGORITHM, COL_DISKSIZE, COL_ORIG_SIZE,
				COL_COMP_SIZE, COL_MEMTOTAL, COL_STREAMS, COL_MOUNTPOINT,
			};

			for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
				o.columns[o.ncolumns++] = defaults[i];
		}
		id = -1;
		if (optind < argc) {
			id = parse_name(argv[optind]);
			if (id < 0 || !dev_exists(&c, id)) {
				fprintf(stderr, "%s: %s: %s\n", PROG, argv[optind], strerror(ENODEV));
				return 1;
			}
		}
		return status(&c, &o, id);

	case A_ATTR:
		if (!strcmp(argv[optind], "zram-control"))
			return do_attr(&c, -1, argv[optind + 1]);
		id = parse_name(argv[optind]);
		if (id < 0) {
			fprintf(stderr, "%s: %s: %s\n", PROG, argv[optind], strerror(ENODEV));
			return 1;
		}
		return do_attr(&c, id, argv[optind + 1]);

	case A_RESET:
		if (optind == argc) {
			fprintf(stderr, "%s: no device specified\n", PROG);
			return 1;
		}
		for (; optind < argc; optind++) {
			char name[32], idstr[16];
			int ret;

			id = parse_name(argv[optind]);
			if (id < 0) {
				fprintf(stderr, "%s: %s: failed to reset: %s\n", PROG,
					argv[optind], strerror(ENODEV));
				rc = 1;
				continue;
			}
			snprintf(name, sizeof(name), "zram%d", id);
			ret = dev_exists(&c, id) ? ctl_store(&c, name, "reset", "1") : -ENODEV;
			if (ret) {
				fprintf(stderr, "%s: %s: failed to reset: %s\n", PROG, name,
					strerror(-ret));
				rc = 1;
			}
			/* as zramctl: the device goes too (an error here is not reported) */
			snprintf(idstr, sizeof(idstr), "%d", id);
			ctl_store(&c, "zram-control", "hot_remove", idstr);
		}
		return rc;

	case A_FINDONLY:
		id = find_free(&c);
		if (id < 0) {
			fprintf(stderr, "%s: no free zram device found\n", PROG);
			return 1;
		}
		printf("zram%d\n", id);
		return 0;

	case A_CREATE: {
		char name[32], num[32];
		int ret;

		if (find) {
			id = find_free(&c);
			if (id < 0) {
				fprintf(stderr, "%s: no free zram device found\n", PROG);
				return 1;
			}
		} else if (optind == argc) {
			fprintf(stderr, "%s: no device specified\n", PROG);
			return 1;
		} else {
			id = parse_name(argv[optind]);
			if (id < 0 || !dev_exists(&c, id)) {
				fprintf(stderr, "%s: %s: %s\n", PROG, argv[optind], strerror(ENODEV));
				return 1;
			}
		}
		snprintf(name, sizeof(name), "zram%d", id);
		ret = ctl_store(&c, name, "reset", "1");
		if (ret) {
			fprintf(stderr, "%s: %s: failed to reset: %s\n", PROG, name, strerror(-ret));
			return 1;
		}
		if (nstreams) {
			snprintf(num, sizeof(num), "%ju", nstreams);
			ret = ctl_store(&c, name, "max_comp_streams", num);
			if (ret) {
				fprintf(stderr, "%s: %s: failed to set number of streams: %s\n",
					PROG, name, strerror(-ret));
				return 1;
			}
		}
		if (algorithm) {
			ret = ctl_store(&c, name, "comp_algorithm", algorithm);
			if (ret) {
				fprintf(stderr, "%s: %s: failed to set algorithm: %s\n", PROG, name,
					strerror(-ret));
				return 1;
			}
		}
		snprintf(num, sizeof(num), "%ju", size);
		ret = ctl_store(&c, name, "disksize", num);
		if (ret) {
			fprintf(stderr, "%s: %s: failed to set disksize (%ju bytes): %s\n", PROG,
				name, size, strerror(-ret));
			return 1;
		}
		if (find)
			printf("%s\n", name);
		return 0;
	}
	}
	return 0;
}
