/*
 * analyze.c - `uzram analyze --pid PID | FILE [--json] [--algorithm NAME]...`:
 * what zram would do with these pages, for every algorithm - so a user can
 * choose one and size a device from the real workload.
 *
 * The figures are not estimates: each algorithm gets a real device the size
 * of the pages, the pages are written into it as `uzram bench` does (1 MiB
 * requests), and mm_stat is read back - the allocator's own accounting. The
 * codec speeds are measured apart, on the pages zram compresses (same-filled
 * pages are stored without it), one thread, best of three. MB = 10^6 bytes.
 */
#define _GNU_SOURCE	/* memfd_create */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cmd.h"
#include "opt.h"
#include "util/common.h"
#include "uzram.h"

#define MAX_RESULTS	16		/* algorithms */
#define SPEED_SAMPLE	(64u << 20)	/* codec speeds on at most 64 MB */
#define SPEED_REPS	3
#define NOISY		0.15		/* a spread worth a warning */

struct result {
	const char *algorithm;
	struct uzram_stats st;
	double compress_mbps, decompress_mbps;	/* best of SPEED_REPS */
	double spread;		/* (best - worst) / best, of either speed */
	int err;
};

static bool same_filled(const uint8_t *p)
{
	uint64_t v, w;

	memcpy(&v, p, 8);
	for (unsigned int i = 8; i < UZRAM_PAGE_SIZE; i += 8) {
		memcpy(&w, p + i, 8);
		if (w != v)
			return false;
	}
	return true;
}

static int fill_device(const char *alg, const uint8_t *data, size_t len,
		       struct uzram_stats *st)
{
	struct uzram *z;
	struct uzram_dev *d = NULL;
	char size[32];
	int ret = uzram_new(&z, 1);

	if (ret)
		return ret;
	snprintf(size, sizeof(size), "%zu", len);
	ret = uzram_attr_store(z, 0, "comp_algorithm", alg, strlen(alg));
	if (!ret)
		ret = uzram_attr_store(z, 0, "disksize", size, strlen(size));
	if (!ret)
		ret = uzram_open(z, 0, &d);
	for (size_t off = 0; !ret && off < len; off += 1u << 20)
		ret = uzram_write(d, data + off, off, UZ_MIN((size_t)1 << 20, len - off));
	if (!ret)
		ret = uzram_stats(z, 0, st);
	uzram_close(d);
	uzram_free(z);
	return ret;
}

/* The pages zram compresses (not same-filled ones), up to SPEED_SAMPLE,
 * with room for each one's compressed form. */
struct sample {
	const uint8_t **pages;
	size_t *clen;
	uint8_t *out;		/* 2 pages per page */
	size_t n;
};

static int sample_new(struct sample *sm, const uint8_t *data, size_t len)
{
	size_t cap = UZ_MIN(len, (size_t)SPEED_SAMPLE) / UZRAM_PAGE_SIZE;

	sm->n = 0;
	sm->pages = malloc(cap * sizeof(*sm->pages) + 1);
	sm->clen = malloc(cap * sizeof(*sm->clen) + 1);
	sm->out = malloc(cap * 2 * UZRAM_PAGE_SIZE + 1);
	if (!sm->pages || !sm->clen || !sm->out)
		return -ENOMEM;
	for (size_t off = 0; off < len && sm->n < cap; off += UZRAM_PAGE_SIZE)
		if (!same_filled(data + off))
			sm->pages[sm->n++] = data + off;
	return 0;
}

static void sample_free(struct sample *sm)
{
	free(sm->pages);
	free(sm->clen);
	free(sm->out);
}

/* One timed pass over the sample; its MB/s, or 0 after an error (*ret). */
static double timed_pass(struct uzram_codec *c, struct sample *sm, bool decompress,
			 int *ret)
{
	uint8_t page[UZRAM_PAGE_SIZE];
	double t = now_seconds();

	for (size_t i = 0; i < sm->n && !*ret; i++) {
		uint8_t *out = sm->out + i * 2 * UZRAM_PAGE_SIZE;

		if (decompress)
			*ret = uzram_codec_decompress(c, out, sm->clen[i], page);
		else
			*ret = uzram_codec_compress(c, sm->pages[i], out, &sm->clen[i]);
	}
	t = now_seconds() - t;
	return *ret ? 0 : sm->n * UZRAM_PAGE_SIZE / t / 1e6;
}

/* Compression and decompression speeds of r's algorithm, best of
 * SPEED_REPS, and how far apart the repetitions were. */
static int codec_speeds(struct result *r, const uint8_t *data, size_t len)
{
	struct sample sm = { .n = 0 };
	struct uzram_codec *c;
	double cmin = 1e300, dmin = 1e300;
	int ret = uzram_codec_new(r->algorithm, &c);

	if (ret)
		return ret;
	ret = sample_new(&sm, data, len);
	if (sm.n && !ret) {	/* untimed: the output buffers' first touch */
		timed_pass(c, &sm, false, &ret);
		timed_pass(c, &sm, true, &ret);
	}
	for (int rep = 0; rep < SPEED_REPS && sm.n && !ret; rep++) {
		double cm = timed_pass(c, &sm, false, &ret);
		double dm = timed_pass(c, &sm, true, &ret);

		r->compress_mbps = UZ_MAX(r->compress_mbps, cm);
		r->decompress_mbps = UZ_MAX(r->decompress_mbps, dm);
		cmin = UZ_MIN(cmin, cm);
		dmin = UZ_MIN(dmin, dm);
	}
	if (!ret && r->compress_mbps > 0 && r->decompress_mbps > 0)
		r->spread = UZ_MAX(1 - cmin / r->compress_mbps,
				   1 - dmin / r->decompress_mbps);
	sample_free(&sm);
	uzram_codec_free(c);
	return ret;
}

static int load(const char *file, long pid, uint8_t **data, size_t *len)
{
	if (!file) {
		char path[64];
		int fd = memfd_create("uzram-analyze", MFD_CLOEXEC);
		if (fd < 0)
			return -errno;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		bool out_failed;
		long pages = dump_process((int)pid, path, &out_failed);
		int ret = pages < 0 ? (int)pages : pages == 0 ? -ENODATA :
			  read_page_file(path, data, len);
		close(fd);
		return ret;
	}
	return read_page_file(file, data, len);
}

/* ---- options ---- */

struct analyze_args {
	const char *file;
	long pid;
	bool json;
	const char *only[MAX_RESULTS];	/* --algorithm */
	size_t nonly;
};

static int set_pid(void *ctx, const char *val)
{
	struct analyze_args *a = ctx;

	return parse_pid("uzram analyze", val, &a->pid);
}

static bool known_algorithm(const char *name)
{
	for (size_t i = 0; i < uzram_algorithm_count(); i++)
		if (!strcmp(uzram_algorithm_name(i), name))
			return true;
	return false;
}

static int add_algorithm(void *ctx, const char *val)
{
	struct analyze_args *a = ctx;

	if (!known_algorithm(val)) {
		fprintf(stderr, "uzram analyze: --algorithm %s: no such algorithm (one of:", val);
		for (size_t i = 0; i < uzram_algorithm_count(); i++)
			fprintf(stderr, " %s", uzram_algorithm_name(i));
		fprintf(stderr, ")\n");
		return OPT_ERR;
	}
	if (a->nonly == MAX_RESULTS) {
		fprintf(stderr, "uzram analyze: --algorithm %s: at most %d\n", val, MAX_RESULTS);
		return OPT_ERR;
	}
	a->only[a->nonly++] = val;
	return 0;
}

static int set_file(void *ctx, const char *arg)
{
	struct analyze_args *a = ctx;

	if (a->file) {
		fprintf(stderr, "uzram analyze: %s: one FILE only (%s was given first)\n",
			arg, a->file);
		return OPT_ERR;
	}
	a->file = arg;
	return 0;
}

static const struct opt analyze_options[] = {
	{ .name = "pid", .arg = "PID", .kind = OPT_CALL, .call = set_pid,
	  .help = "analyze the memory of process PID (as uzram dump copies it)" },
	{ .name = "json", OPT_FLAG_AT(struct analyze_args, json),
	  .help = "a JSON array instead of the table" },
	{ .name = "algorithm", .arg = "NAME", .kind = OPT_CALL, .call = add_algorithm,
	  .help = "only this algorithm (repeatable; default: all)" },
	{ .name = "help", .key = 'h', .kind = OPT_SHOW_HELP, .help = "this help" },
	{ .name = NULL }
};

static const struct opt_cmd analyze_cmd = {
	.prog = "uzram analyze",
	.opts = analyze_options,
	.flags = OPT_SAY_UNKNOWN | OPT_SAY_MISSING,
	.operand = set_file,
};

static void usage(FILE *f)
{
	fprintf(f, "usage: uzram analyze --pid PID | FILE [--json] [--algorithm NAME]...\n"
		"What zram would do with these pages, for each algorithm: a real device\n"
		"filled with them (mm_stat) and the codec's speeds (MB/s, 1 MB = 10^6\n"
		"bytes), then a recommendation.\n");
	opt_usage(f, analyze_options, 22);
}

/* 0 to go on, else the exit code (usage said). */
static int parse(int argc, char **argv, struct analyze_args *a)
{
	int ret = opt_parse(&analyze_cmd, argc, argv, a);

	if (ret == OPT_HELP) {
		usage(stdout);
		return -1;
	}
	if (ret < 0)
		return try_help(analyze_cmd.prog);
	if (!a->file && a->pid <= 0)
		return usage_error(analyze_cmd.prog, "--pid PID or FILE is needed");
	if (a->file && a->pid > 0)
		return usage_error(analyze_cmd.prog, "--pid %ld and %s: one or the other",
				   a->pid, a->file);
	return 0;
}

/* ---- the run ---- */

static bool wanted(const struct analyze_args *a, const char *alg)
{
	bool want = a->nonly == 0;

	for (size_t k = 0; k < a->nonly; k++)
		want = want || !strcmp(a->only[k], alg);
	return want;
}

/* Every algorithm wanted, in the registry's order: the results' count. */
static size_t run_all(const struct analyze_args *a, const uint8_t *data, size_t len,
		      struct result *res)
{
	size_t nres = 0;

	for (size_t i = 0; i < uzram_algorithm_count() && nres < MAX_RESULTS; i++) {
		const char *alg = uzram_algorithm_name(i);
		struct result *r = &res[nres];

		if (!wanted(a, alg))
			continue;
		nres++;
		memset(r, 0, sizeof(*r));
		r->algorithm = alg;
		r->err = fill_device(alg, data, len, &r->st);
		if (!r->err)
			r->err = codec_speeds(r, data, len);
		if (r->err)
			fprintf(stderr, "uzram analyze: %s: %s\n", alg, strerror(-r->err));
	}
	return nres;
}

/* orig_data_size / mem_used_total; INFINITY when every page was
 * same-filled (stored in no memory). */
static double ratio(const struct uzram_stats *s)
{
	return s->mem_used_total ? (double)s->orig_data_size / s->mem_used_total
				 : INFINITY;
}

/* A JSON number, or null for what has none (an infinite ratio, the speed
 * of a codec that had no page to compress). */
static const char *json_num(char *buf, size_t size, double v, int prec)
{
	if (isinf(v) || v <= 0)
		return "null";
	snprintf(buf, size, "%.*f", prec, v);
	return buf;
}

static void print_json_one(const struct result *r, uint64_t pages, bool first)
{
	const struct uzram_stats *s = &r->st;
	char rb[32], cb[32], db[32];

	printf("%s\n  {\"algorithm\": \"%s\", \"pages\": %" PRIu64
	       ", \"orig_data_size\": %" PRIu64 ", \"compr_data_size\": %" PRIu64
	       ", \"mem_used_total\": %" PRIu64 ", \"same_pages\": %" PRIu64
	       ", \"huge_pages\": %" PRIu64 ", \"ratio\": %s"
	       ", \"compress_mbps\": %s, \"decompress_mbps\": %s%s%s%s}",
	       first ? "" : ",", r->algorithm, pages, s->orig_data_size,
	       s->compr_data_size, s->mem_used_total, s->same_pages, s->huge_pages,
	       json_num(rb, sizeof(rb), ratio(s), 3),
	       json_num(cb, sizeof(cb), r->compress_mbps, 1),
	       json_num(db, sizeof(db), r->decompress_mbps, 1),
	       r->err ? ", \"error\": \"" : "", r->err ? strerror(-r->err) : "",
	       r->err ? "\"" : "");
}

static void print_json(const struct result *res, size_t nres, uint64_t pages)
{
	printf("[");
	for (size_t i = 0; i < nres; i++)
		print_json_one(&res[i], pages, i == 0);
	printf("\n]\n");
}

/* A column of width w: "%w.pf", or "-" for what has no value. */
static void print_num(int w, double v, int prec)
{
	if (isinf(v))
		printf(" %*s", w, "inf");
	else if (v <= 0)
		printf(" %*s", w, "-");
	else
		printf(" %*.*f", w, prec, v);
}

static void print_row(const struct result *r)
{
	const struct uzram_stats *s = &r->st;

	if (r->err) {
		printf("%-9s error: %s\n", r->algorithm, strerror(-r->err));
		return;
	}
	printf("%-9s", r->algorithm);
	print_num(8, ratio(s), 3);
	printf(" %14" PRIu64 " %14" PRIu64 " %10" PRIu64 " %10" PRIu64,
	       s->mem_used_total, s->compr_data_size, s->same_pages, s->huge_pages);
	print_num(11, r->compress_mbps, 1);
	print_num(11, r->decompress_mbps, 1);
	printf("\n");
}

static void print_table(const char *file, const struct result *res, size_t nres,
			size_t len)
{
	printf("%s: %" PRIu64 " pages (%.1f MiB)\n", file ? file : "process memory",
	       (uint64_t)(len / UZRAM_PAGE_SIZE), len / 1048576.0);
	printf("%-9s %8s %14s %14s %10s %10s %11s %11s\n", "ALGORITHM", "RATIO",
	       "MEM_USED_TOTAL", "COMPR_DATA", "SAME", "HUGE", "COMP MB/s", "DECOMP MB/s");
	for (size_t i = 0; i < nres; i++)
		print_row(&res[i]);
	printf("RATIO = orig_data_size / mem_used_total: what a device of this data costs\n"
	       "(inf: every page same-filled, stored in no memory). MB/s: 10^6 bytes/s,\n"
	       "best of %d, on the pages zram compresses (- : there were none).\n",
	       SPEED_REPS);
}

/* ---- the recommendation ---- */

/* The result, of those without error, that beats the others by better(). */
static const struct result *best_by(const struct result *res, size_t nres,
				    bool (*better)(const struct result *,
						   const struct result *))
{
	const struct result *b = NULL;

	for (size_t i = 0; i < nres; i++)
		if (!res[i].err && (!b || better(&res[i], b)))
			b = &res[i];
	return b;
}

static bool better_ratio(const struct result *a, const struct result *b)
{
	return ratio(&a->st) > ratio(&b->st);
}

static bool faster(const struct result *a, const struct result *b)
{
	return a->compress_mbps > b->compress_mbps;
}

static bool decompresses_faster(const struct result *a, const struct result *b)
{
	return a->decompress_mbps > b->decompress_mbps;
}

/*
 * For swap: of the algorithms that decompress at least half as fast as the
 * fastest decompressor (a swap-in waits for it, in a page fault) and
 * compress at least a quarter as fast as the fastest compressor (reclaim
 * runs it when memory is short), the best ratio.
 */
static const struct result *for_swap(const struct result *res, size_t nres)
{
	const struct result *fc = best_by(res, nres, faster);
	const struct result *fd = best_by(res, nres, decompresses_faster);
	const struct result *b = NULL;

	for (size_t i = 0; fc && fd && i < nres; i++) {
		const struct result *r = &res[i];

		if (r->err || r->decompress_mbps < fd->decompress_mbps / 2 ||
		    r->compress_mbps < fc->compress_mbps / 4)
			continue;
		if (!b || better_ratio(r, b))
			b = r;
	}
	return b;
}

static void print_recommendation(const struct result *res, size_t nres)
{
	const struct result *br = best_by(res, nres, better_ratio);
	const struct result *fc = best_by(res, nres, faster);
	const struct result *sw = for_swap(res, nres);

	if (!br)
		return;
	if (!fc || fc->compress_mbps <= 0) {
		printf("\nfor swap    any: every page is same-filled, no algorithm runs "
		       "(lzo-rle is the kernel's default)\n");
		return;
	}
	printf("\nbest ratio  %s (%.3f)\n", br->algorithm, ratio(&br->st));
	printf("fastest     %s (compress %.1f MB/s, decompress %.1f MB/s)\n",
	       fc->algorithm, fc->compress_mbps, fc->decompress_mbps);
	printf("for swap    %s: the best ratio (%.3f) of those decompressing at least "
	       "half as fast as the fastest\n            (a swap-in waits for it) and "
	       "compressing at least a quarter as fast (reclaim runs it)\n",
	       sw->algorithm, ratio(&sw->st));
}

/* Repetitions further apart than NOISY: said on stderr. */
static void warn_noisy(const struct result *res, size_t nres)
{
	double worst = 0;

	for (size_t i = 0; i < nres; i++)
		worst = UZ_MAX(worst, res[i].spread);
	if (worst > NOISY)
		fprintf(stderr, "uzram analyze: warning: codec timings varied by up to "
			"%.0f%% between repetitions (a busy machine?): treat the speeds "
			"and the recommendation as rough\n", worst * 100);
}

static int say_load_error(const struct analyze_args *a, int ret)
{
	if (a->file)
		fprintf(stderr, "uzram analyze: %s: %s\n", a->file,
			ret == -EINVAL ? "not a page file (a non-empty multiple of 4096 bytes)"
				       : strerror(-ret));
	else
		fprintf(stderr, "uzram analyze: process %ld: %s\n", a->pid,
			ret == -ENODATA ? "no resident anonymous memory" :
			process_error(ret));
	return 1;
}

int cmd_analyze(int argc, char **argv)
{
	struct analyze_args a = { .file = NULL };
	struct result res[MAX_RESULTS];
	size_t nres, len;
	uint8_t *data;
	int ret = parse(argc, argv, &a);

	if (ret)
		return ret < 0 ? 0 : ret;
	ret = load(a.file, a.pid, &data, &len);
	if (ret)
		return say_load_error(&a, ret);
	nres = run_all(&a, data, len, res);
	if (a.json) {
		print_json(res, nres, len / UZRAM_PAGE_SIZE);
	} else {
		print_table(a.file, res, nres, len);
		print_recommendation(res, nres);
	}
	warn_noisy(res, nres);
	free(data);
	for (size_t i = 0; i < nres; i++)
		if (res[i].err)
			return 1;
	return 0;
}
