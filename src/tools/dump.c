/*
 * dump.c - `uzram dump --pid PID OUT`: the resident private anonymous pages
 * of a live process, as a page file (4096-byte pages, concatenated).
 *
 * This is what zram holds on a real machine: anonymous memory pushed out by
 * swap. Mappings come from /proc/PID/maps (private, readable, no backing
 * file: the heap, the stack, anonymous and [anon:...] regions), residency
 * from /proc/PID/pagemap (present, not a file or shared-anonymous page), the
 * bytes from /proc/PID/mem. pagemap has an entry per page of the host: a
 * host with pages of UZRAM_PAGE_SIZE (4 KiB) is assumed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "opt.h"
#include "util/common.h"
#include "uzram.h"

#define PM_PRESENT	(1ull << 63)
#define PM_SWAPPED	(1ull << 62)
#define PM_FILE_SHARED	(1ull << 61)
#define PAGES_AT_ONCE	512	/* pagemap entries, pages copied */

static bool anonymous_private(const char *perms, const char *path)
{
	if (perms[0] != 'r' || perms[3] != 'p')
		return false;
	if (!*path)
		return true;
	return !strcmp(path, "[heap]") || !strcmp(path, "[stack]") ||
	       !strncmp(path, "[anon:", 6);
}

static bool resident(uint64_t pm)
{
	return (pm & PM_PRESENT) && !(pm & (PM_SWAPPED | PM_FILE_SHARED));
}

/* The resident ones of np pages at address a (their pagemap entries in
 * pm), copied to out in runs through buf; returns pages or -EIO. */
static long copy_resident(int mem, FILE *out, uint8_t *buf, const uint64_t *pm,
			  size_t np, uint64_t a)
{
	long pages = 0;

	for (size_t i = 0, j; i < np; i = j) {
		size_t len, whole;
		ssize_t got;

		for (j = i; j < np && resident(pm[j]); j++)
			;
		if (j == i) {
			j++;
			continue;
		}
		len = (j - i) * UZRAM_PAGE_SIZE;
		got = pread(mem, buf, len, (off_t)(a + i * UZRAM_PAGE_SIZE));
		/* A page can vanish meanwhile: keep what came. */
		if (got <= 0)
			continue;
		whole = (size_t)got / UZRAM_PAGE_SIZE * UZRAM_PAGE_SIZE;
		if (fwrite(buf, 1, whole, out) != whole)
			return errno ? -errno : -EIO;
		pages += (long)(whole / UZRAM_PAGE_SIZE);
	}
	return pages;
}

/* Copy the resident pages of [start, end) to out, through buf
 * (PAGES_AT_ONCE pages); returns pages or -errno. */
static long dump_range(int pagemap, int mem, FILE *out, uint8_t *buf,
		       uint64_t start, uint64_t end)
{
	uint64_t pm[PAGES_AT_ONCE];
	long pages = 0, n;

	for (uint64_t a = start; a < end;) {
		size_t np = (size_t)UZ_MIN((end - a) / UZRAM_PAGE_SIZE, PAGES_AT_ONCE);
		ssize_t r = pread(pagemap, pm, np * 8, (off_t)(a / UZRAM_PAGE_SIZE * 8));

		if (r != (ssize_t)(np * 8))
			return -EIO;
		n = copy_resident(mem, out, buf, pm, np, a);
		if (n < 0)
			return n;
		pages += n;
		a += np * UZRAM_PAGE_SIZE;
	}
	return pages;
}

/* What dump_process reads and writes. */
struct dump_files {
	FILE *maps, *out;
	int pagemap, mem;
	uint8_t *buf;		/* PAGES_AT_ONCE pages */
};

static void dump_close(struct dump_files *f)
{
	free(f->buf);
	if (f->maps)
		fclose(f->maps);
	if (f->pagemap >= 0)
		close(f->pagemap);
	if (f->mem >= 0)
		close(f->mem);
}

/* /proc/PID/{maps,pagemap,mem} and path ("-": stdout); 0 or -errno, and
 * *out_failed when it was path that failed. */
static int dump_open(struct dump_files *f, int pid, const char *path,
		     bool *out_failed)
{
	char fname[64];
	int err = process_exists(pid);

	*f = (struct dump_files){ .pagemap = -1, .mem = -1 };
	if (err)
		return err;
	snprintf(fname, sizeof(fname), "/proc/%d/maps", pid);
	f->maps = fopen(fname, "re");
	snprintf(fname, sizeof(fname), "/proc/%d/pagemap", pid);
	f->pagemap = open(fname, O_RDONLY | O_CLOEXEC);
	snprintf(fname, sizeof(fname), "/proc/%d/mem", pid);
	f->mem = open(fname, O_RDONLY | O_CLOEXEC);
	err = !f->maps || f->pagemap < 0 || f->mem < 0 ? errno : 0;
	if (!err) {
		f->out = strcmp(path, "-") ? fopen(path, "we") : stdout;
		*out_failed = !f->out;
		err = f->out ? 0 : errno;
	}
	/* On the heap, not static: 2 MiB of bss would be part of every
	 * uzram process, a locked `serve --mlock` too. */
	f->buf = err ? NULL : malloc(PAGES_AT_ONCE * UZRAM_PAGE_SIZE);
	if (!err && !f->buf)
		err = ENOMEM;
	if (err) {
		if (f->out && f->out != stdout)
			fclose(f->out);
		dump_close(f);
		return err == ENOENT && !*out_failed ? -ESRCH : -err;
	}
	return 0;
}

/* A line of maps: the range, if it is private anonymous memory. */
static bool anonymous_range(const char *line, uint64_t *start, uint64_t *end)
{
	char perms[8] = "", pathname[4096] = "";
	const char *p = pathname;

	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %*s %*s %*s %4095[^\n]",
		   start, end, perms, pathname) < 3)
		return false;
	while (*p == ' ')
		p++;
	return anonymous_private(perms, p);
}

long dump_process(int pid, const char *path, bool *out_failed)
{
	struct dump_files f;
	char line[4096];
	long total = 0, n;
	int ret;

	*out_failed = false;
	ret = dump_open(&f, pid, path, out_failed);

	if (ret)
		return ret;
	while (fgets(line, sizeof(line), f.maps)) {
		uint64_t start, end;

		if (!anonymous_range(line, &start, &end))
			continue;
		n = dump_range(f.pagemap, f.mem, f.out, f.buf, start, end);
		if (n < 0) {
			total = n;
			*out_failed = ferror(f.out);
			break;
		}
		total += n;
	}
	dump_close(&f);
	if (f.out != stdout && fclose(f.out) != 0 && total >= 0) {
		total = -errno;
		*out_failed = true;
	}
	return total;
}

/* ---- the command ---- */

struct dump_args {
	long pid;
	const char *out;
};

static int set_pid(void *ctx, const char *val)
{
	struct dump_args *a = ctx;

	return parse_pid("uzram dump", val, &a->pid);
}

/* OUT: one only. */
static int set_out(void *ctx, const char *arg)
{
	struct dump_args *a = ctx;

	if (a->out) {
		fprintf(stderr, "uzram dump: %s: one OUT only (%s was given first)\n",
			arg, a->out);
		return OPT_ERR;
	}
	a->out = arg;
	return 0;
}

static const struct opt dump_options[] = {
	{ .name = "pid", .arg = "PID", .kind = OPT_CALL, .call = set_pid,
	  .help = "the process whose memory is copied" },
	{ .name = "help", .key = 'h', .kind = OPT_SHOW_HELP, .help = "this help" },
	{ .name = NULL }
};

/* "-" is an OUT: stdout. */
static const struct opt_cmd dump_cmd = {
	.prog = "uzram dump",
	.opts = dump_options,
	.flags = OPT_DASH | OPT_SAY_UNKNOWN | OPT_SAY_MISSING,
	.operand = set_out,
};

static void usage(FILE *f)
{
	fprintf(f, "usage: uzram dump --pid PID OUT\n"
		"Copy the resident private anonymous pages of process PID (what swap\n"
		"would push to zram) to the page file OUT (\"-\": standard output).\n");
	opt_usage(f, dump_options, 16);
}

static int parse(int argc, char **argv, struct dump_args *a)
{
	int ret = opt_parse(&dump_cmd, argc, argv, a);

	if (ret == OPT_HELP) {
		usage(stdout);
		return 0;
	}
	if (ret < 0)
		return try_help(dump_cmd.prog);
	if (a->pid <= 0)
		return usage_error(dump_cmd.prog, "--pid PID is missing");
	if (!a->out)
		return usage_error(dump_cmd.prog, "OUT is missing (a file, or - for "
				   "standard output)");
	return -1;
}

int cmd_dump(int argc, char **argv)
{
	struct dump_args a = { .pid = -1 };
	bool out_failed;
	long pages;
	int ret = parse(argc, argv, &a);

	if (ret >= 0)
		return ret;
	pages = dump_process((int)a.pid, a.out, &out_failed);
	if (pages < 0 && out_failed) {
		fprintf(stderr, "uzram dump: %s: %s\n", a.out, strerror((int)-pages));
		return 1;
	}
	if (pages < 0) {
		fprintf(stderr, "uzram dump: process %ld: %s\n", a.pid,
			process_error((int)pages));
		return 1;
	}
	fprintf(stderr, "uzram dump: %ld pages (%.1f MiB) from process %ld to %s\n",
		pages, pages * (double)UZRAM_PAGE_SIZE / (1 << 20), a.pid, a.out);
	return 0;
}
