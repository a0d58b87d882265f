/*
 * bench.c - `uzram bench FILE [--algorithm NAME] [--threads N] [--passes N]
 * [--churn] [--json]`: write a page file into a fresh device sized to it, in
 * 1 MiB requests, read it back, verify it, and print throughput and mm_stat.
 *
 * Threads split the file into contiguous ranges. The read figure times reads
 * alone; verification is a second, untimed pass. MB = 10^6 bytes. The
 * options are a table parsed by opt.c.
 *
 * Steady state (issue 23): swap never stops at one fill of an empty device.
 * --passes N writes the file N - 1 more times over the full device, so that
 * every write replaces an object (the kernel's zram_write_page() frees the
 * slot's old object in zram_slot_free() after allocating the new one) and
 * zsmalloc reuses the room it freed; the figure is the median of those
 * passes. --churn then mixes, in equal number, 4 KiB discards and 4 KiB
 * writes of random pages of the file at random slots (a discard of slot p,
 * then a write to p, as fio's rw=randtrimwrite does): swap-in-and-free plus
 * swap-out, in pages per second. Verification follows what was written.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "opt.h"
#include "util/common.h"
#include "uzram.h"

#define REQ_SIZE	(1u << 20)
#define MAX_THREADS	1024u
#define MAX_PASSES	1000u

enum { OP_WRITE, OP_READ, OP_VERIFY, OP_CHURN };

struct worker {
	pthread_t tid;
	struct uzram_dev *dev;
	const uint8_t *data;
	uint64_t file_pages;	/* of the whole file */
	uint64_t start, end;	/* byte range of the device */
	uint32_t *map;		/* device page i holds file page map[i] */
	uint64_t seed;		/* --churn's random sequence */
	int op;
	int err;
	bool mismatch;
	double t_start, t_end;	/* this worker's own clock readings */
	pthread_barrier_t *barrier;
};

/* xorshift64* (Vigna): the same sequence for a seed, and nothing next to a
 * page's compression. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/*
 * As many discard-then-write pairs as the range has pages: slot p (random
 * in the range) is discarded, then written with file page src (random in
 * the file).
 */
static void churn_range(struct worker *w)
{
	uint64_t first = w->start / UZRAM_PAGE_SIZE;
	uint64_t n = (w->end - w->start) / UZRAM_PAGE_SIZE;
	uint64_t seed = w->seed;

	for (uint64_t i = 0; i < n && !w->err; i++) {
		uint64_t p = first + next_random(&seed) % n;
		uint32_t src = (uint32_t)(next_random(&seed) % w->file_pages);

		w->err = uzram_discard(w->dev, p * UZRAM_PAGE_SIZE, UZRAM_PAGE_SIZE);
		if (!w->err)
			w->err = uzram_write(w->dev, w->data + (uint64_t)src * UZRAM_PAGE_SIZE,
					     p * UZRAM_PAGE_SIZE, UZRAM_PAGE_SIZE);
		w->map[p] = src;
	}
}

/* Does buf, read from device offset off, hold what was written there? */
static bool holds(const struct worker *w, const uint8_t *buf, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i += UZRAM_PAGE_SIZE) {
		uint64_t src = w->map[(off + i) / UZRAM_PAGE_SIZE];

		if (memcmp(buf + i, w->data + src * UZRAM_PAGE_SIZE, UZRAM_PAGE_SIZE))
			return false;
	}
	return true;
}

static void io_range(struct worker *w, uint8_t *buf)
{
	for (uint64_t off = w->start; off < w->end && !w->err; off += REQ_SIZE) {
		size_t n = (size_t)UZ_MIN((uint64_t)REQ_SIZE, w->end - off);

		if (w->op == OP_WRITE) {
			w->err = uzram_write(w->dev, w->data + off, off, n);
		} else {
			w->err = uzram_read(w->dev, buf, off, n);
			if (w->op == OP_VERIFY && !w->err && !holds(w, buf, off, n))
				w->mismatch = true;
		}
	}
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	uint8_t *buf = aligned_alloc(UZRAM_PAGE_SIZE, REQ_SIZE);

	if (!buf) {
		w->err = -ENOMEM;
		pthread_barrier_wait(w->barrier);
		return NULL;
	}
	pthread_barrier_wait(w->barrier);
	w->t_start = now_seconds();
	if (w->op == OP_CHURN)
		churn_range(w);
	else
		io_range(w, buf);
	w->t_end = now_seconds();
	free(buf);
	return NULL;
}

/*
 * Run op on every worker; returns the wall time from the first worker's
 * start to the last one's end (the workers read the clock themselves: with
 * as many workers as CPUs, this thread may not run until they are done).
 */
static double run_phase(struct worker *w, unsigned int n, int op, int *err)
{
	pthread_barrier_t barrier;
	double t0 = 1e300, t1 = 0;

	pthread_barrier_init(&barrier, NULL, n + 1);
	for (unsigned int i = 0; i < n; i++) {
		w[i].op = op;
		w[i].err = 0;
		w[i].barrier = &barrier;
		pthread_create(&w[i].tid, NULL, worker_run, &w[i]);
	}
	pthread_barrier_wait(&barrier);
	for (unsigned int i = 0; i < n; i++) {
		pthread_join(w[i].tid, NULL);
		t0 = w[i].t_start < t0 ? w[i].t_start : t0;
		t1 = w[i].t_end > t1 ? w[i].t_end : t1;
	}
	pthread_barrier_destroy(&barrier);
	*err = 0;
	for (unsigned int i = 0; i < n; i++)
		if (w[i].err)
			*err = w[i].err;
	return t1 - t0;
}

/* ---- options ---- */

struct bench_args {
	const char *file, *algorithm;
	unsigned int threads, passes;
	bool churn, json;
};

static int set_threads(void *ctx, const char *val)
{
	struct bench_args *a = ctx;

	return opt_uint_range("uzram bench", "threads", val, 1, MAX_THREADS,
			      &a->threads);
}

static int set_passes(void *ctx, const char *val)
{
	struct bench_args *a = ctx;

	return opt_uint_range("uzram bench", "passes", val, 1, MAX_PASSES,
			      &a->passes);
}

static int set_file(void *ctx, const char *arg)
{
	struct bench_args *a = ctx;

	if (a->file) {
		fprintf(stderr, "uzram bench: %s: one FILE only (%s was given first)\n",
			arg, a->file);
		return OPT_ERR;
	}
	a->file = arg;
	return 0;
}

static const struct opt bench_options[] = {
	{ .name = "algorithm", .arg = "NAME", OPT_STRING_AT(struct bench_args, algorithm),
	  .help = "the device's comp_algorithm (default lzo-rle)" },
	{ .name = "threads", .arg = "N", .kind = OPT_CALL, .call = set_threads,
	  .help = "threads writing and reading at once, 1 to 1024 (default 1)" },
	{ .name = "passes", .arg = "N", .kind = OPT_CALL, .call = set_passes,
	  .help = "write the file N times over the same device, 1 to 1000\n"
		  "(default 1); passes 2..N give rewrite_mbps" },
	{ .name = "churn", OPT_FLAG_AT(struct bench_args, churn),
	  .help = "then discard and write random pages, one of each\n"
		  "per page of the file: churn_pps" },
	{ .name = "json", OPT_FLAG_AT(struct bench_args, json),
	  .help = "one JSON object instead of the text" },
	{ .name = "help", .key = 'h', .kind = OPT_SHOW_HELP, .help = "this help" },
	{ .name = NULL }
};

static const struct opt_cmd bench_cmd = {
	.prog = "uzram bench",
	.opts = bench_options,
	.flags = OPT_SAY_UNKNOWN | OPT_SAY_MISSING,
	.operand = set_file,
};

static void usage(FILE *f)
{
	fprintf(f, "usage: uzram bench FILE [--algorithm NAME] [--threads N] [--passes N]\n"
		"                   [--churn] [--json]\n"
		"Write the page file FILE into a fresh device in this process (and over\n"
		"it again, with --passes and --churn), read it back, verify it; print\n"
		"throughput (MB/s, 1 MB = 10^6 bytes) and mm_stat.\n");
	opt_usage(f, bench_options, 22);
}

/* ---- the run ---- */

struct bench_result {
	uint64_t pages;
	double write_mbps, read_mbps;
	double pass_mbps[MAX_PASSES];	/* [0]: the fill, then each pass */
	double rewrite_mbps;		/* median of passes 2..N; 0: none */
	double churn_pps;		/* discard-write pairs per second; 0: none */
	bool verified;
	struct uzram_stats st;		/* after the first fill */
	struct uzram_stats last;	/* after the last pass */
	struct uzram_stats churned;	/* after --churn */
};

/* A device of len bytes with the algorithm; said and -errno on failure. */
static int new_device(const char *alg, size_t len, struct uzram **z,
		      struct uzram_dev **dev)
{
	char size[32];
	int ret = uzram_new(z, 1);

	if (!ret)
		ret = uzram_attr_store(*z, 0, "comp_algorithm", alg, strlen(alg));
	if (ret) {
		fprintf(stderr, "uzram bench: algorithm '%s': %s\n", alg, strerror(-ret));
		return ret;
	}
	snprintf(size, sizeof(size), "%zu", len);
	ret = uzram_attr_store(*z, 0, "disksize", size, strlen(size));
	if (!ret)
		ret = uzram_open(*z, 0, dev);
	if (ret)
		fprintf(stderr, "uzram bench: device of %zu bytes: %s\n", len, strerror(-ret));
	return ret;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The median of v[0..n) (n > 0), v left as it was. */
static double median(const double *v, unsigned int n)
{
	double s[MAX_PASSES];

	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* The fill, then passes 2..N and --churn: 0 or -errno, said. */
static int write_phases(const struct bench_args *a, struct uzram *z,
			struct worker *w, size_t len, struct bench_result *r)
{
	int err;

	for (unsigned int p = 0; p < a->passes; p++) {
		double t = run_phase(w, a->threads, OP_WRITE, &err);

		if (err) {
			fprintf(stderr, "uzram bench: write (pass %u): %s\n", p + 1,
				strerror(-err));
			return err;
		}
		r->pass_mbps[p] = len / t / 1e6;
		if (p == 0)
			uzram_stats(z, 0, &r->st);
	}
	r->write_mbps = r->pass_mbps[0];
	if (a->passes > 1)
		r->rewrite_mbps = median(r->pass_mbps + 1, a->passes - 1);
	uzram_stats(z, 0, &r->last);
	if (a->churn) {
		double t = run_phase(w, a->threads, OP_CHURN, &err);

		if (err) {
			fprintf(stderr, "uzram bench: churn: %s\n", strerror(-err));
			return err;
		}
		r->churn_pps = r->pages / t;
		uzram_stats(z, 0, &r->churned);
	}
	return 0;
}

/* Write, read, verify with the workers; 0, or -errno after a failed write. */
static int measure(const struct bench_args *a, struct uzram *z, struct uzram_dev *dev,
		   const uint8_t *data, size_t len, struct worker *w, uint32_t *map,
		   struct bench_result *r)
{
	unsigned int n = a->threads;
	uint64_t per = r->pages / n;
	double tr;
	int err;

	for (uint64_t i = 0; i < r->pages; i++)
		map[i] = (uint32_t)i;
	for (unsigned int i = 0; i < n; i++) {
		w[i].dev = dev;
		w[i].data = data;
		w[i].file_pages = r->pages;
		w[i].map = map;
		w[i].seed = 0x9e3779b97f4a7c15ull * (i + 1);
		w[i].start = i * per * UZRAM_PAGE_SIZE;
		w[i].end = i + 1 == n ? len : (i + 1) * per * UZRAM_PAGE_SIZE;
	}
	err = write_phases(a, z, w, len, r);
	if (err)
		return err;
	tr = run_phase(w, n, OP_READ, &err);
	if (!err)
		run_phase(w, n, OP_VERIFY, &err);
	r->verified = !err;
	for (unsigned int i = 0; i < n; i++)
		r->verified = r->verified && !w[i].mismatch;
	if (err)
		fprintf(stderr, "uzram bench: read: %s\n", strerror(-err));
	r->read_mbps = len / tr / 1e6;
	return 0;
}

static void print_mm_stat_json(const char *key, const struct uzram_stats *s)
{
	printf("\"%s\": {\"orig_data_size\": %" PRIu64
	       ", \"compr_data_size\": %" PRIu64 ", \"mem_used_total\": %" PRIu64
	       ", \"mem_limit\": %" PRIu64 ", \"mem_used_max\": %" PRIu64
	       ", \"same_pages\": %" PRIu64 ", \"pages_compacted\": %" PRIu64
	       ", \"huge_pages\": %" PRIu64 ", \"huge_pages_since\": %" PRIu64 "}",
	       key, s->orig_data_size, s->compr_data_size, s->mem_used_total,
	       s->mem_limit, s->mem_used_max, s->same_pages, s->pages_compacted,
	       s->huge_pages, s->huge_pages_since);
}

/* A figure, or null where it was not measured. */
static void print_figure(const char *key, double v, int decimals)
{
	printf(", \"%s\": ", key);
	if (v > 0)
		printf("%.*f", decimals, v);
	else
		printf("null");
}

static void print_json(const struct bench_args *a, const struct bench_result *r)
{
	printf("{\"algorithm\": \"%s\", \"threads\": %u, \"pages\": %" PRIu64
	       ", \"passes\": %u, \"write_mbps\": %.1f",
	       r->st.algorithm, a->threads, r->pages, a->passes, r->write_mbps);
	print_figure("rewrite_mbps", r->rewrite_mbps, 1);
	print_figure("churn_pps", r->churn_pps, 0);
	printf(", \"pass_mbps\": [");
	for (unsigned int p = 0; p < a->passes; p++)
		printf("%s%.1f", p ? ", " : "", r->pass_mbps[p]);
	printf("], \"read_mbps\": %.1f, \"verified\": %s, ", r->read_mbps,
	       r->verified ? "true" : "false");
	print_mm_stat_json("mm_stat", &r->st);
	printf(", ");
	print_mm_stat_json("mm_stat_last", &r->last);
	if (a->churn) {
		printf(", ");
		print_mm_stat_json("mm_stat_churn", &r->churned);
	}
	printf("}\n");
}

static void print_mm_stat(const char *label, const struct uzram_stats *s)
{
	printf("%-11s orig_data_size %" PRIu64 " compr_data_size %" PRIu64
	       " mem_used_total %" PRIu64 " same_pages %" PRIu64 " huge_pages %" PRIu64 "\n",
	       label, s->orig_data_size, s->compr_data_size, s->mem_used_total,
	       s->same_pages, s->huge_pages);
}

static void print_steady(const struct bench_args *a, const struct bench_result *r)
{
	if (a->passes > 1) {
		printf("rewrite     %.1f MB/s (median of passes 2..%u:", r->rewrite_mbps,
		       a->passes);
		for (unsigned int p = 1; p < a->passes; p++)
			printf(" %.1f", r->pass_mbps[p]);
		printf(")\n");
	}
	if (a->churn)
		printf("churn       %.0f pages/s (a discard and a 4 KiB write each)\n",
		       r->churn_pps);
}

static void print_text(const struct bench_args *a, const struct bench_result *r,
		       size_t len)
{
	const struct uzram_stats *s = &r->st;

	printf("file        %s: %" PRIu64 " pages (%.1f MiB)\n", a->file, r->pages,
	       len / 1048576.0);
	printf("algorithm   %s, %u thread%s\n", s->algorithm, a->threads,
	       a->threads > 1 ? "s" : "");
	printf("write       %.1f MB/s (1 MB = 10^6 bytes)\n", r->write_mbps);
	print_steady(a, r);
	printf("read        %.1f MB/s\n", r->read_mbps);
	printf("verified    %s\n", r->verified ? "yes" : "NO");
	if (s->mem_used_total)
		printf("ratio       %.3f (orig_data_size / mem_used_total)\n",
		       (double)s->orig_data_size / s->mem_used_total);
	else
		printf("ratio       inf (every page is same-filled: stored in no memory)\n");
	print_mm_stat("mm_stat", s);
	if (a->passes > 1)
		print_mm_stat("after pass", &r->last);
	if (a->churn)
		print_mm_stat("after churn", &r->churned);
}

/* The device, the workers, the figures; 0 when the data came back. */
static int bench(const struct bench_args *a, const uint8_t *data, size_t len)
{
	struct bench_result *r = calloc(1, sizeof(*r));
	struct uzram *z = NULL;
	struct uzram_dev *dev = NULL;
	struct worker *w = calloc(a->threads, sizeof(*w));
	uint32_t *map = malloc(len / UZRAM_PAGE_SIZE * sizeof(*map));
	int ret = r && w && map ? 0 : -ENOMEM;

	if (ret)
		fprintf(stderr, "uzram bench: %s\n", strerror(ENOMEM));
	else
		ret = new_device(a->algorithm, len, &z, &dev);
	if (!ret) {
		r->pages = len / UZRAM_PAGE_SIZE;
		ret = measure(a, z, dev, data, len, w, map, r);
	}
	if (!ret) {
		if (a->json)
			print_json(a, r);
		else
			print_text(a, r, len);
		ret = r->verified ? 0 : -EIO;
	}
	free(map);
	free(w);
	free(r);
	uzram_close(dev);
	uzram_free(z);
	return ret;
}

int cmd_bench(int argc, char **argv)
{
	struct bench_args a = { .algorithm = "lzo-rle", .threads = 1, .passes = 1 };
	uint8_t *data;
	size_t len;
	int ret;

	ret = opt_parse(&bench_cmd, argc, argv, &a);
	if (ret == OPT_HELP) {
		usage(stdout);
		return 0;
	}
	if (ret < 0)
		return try_help(bench_cmd.prog);
	if (!a.file)
		return usage_error(bench_cmd.prog, "FILE is missing (a page file, "
				   "e.g. from uzram dump)");
	ret = read_page_file(a.file, &data, &len);
	if (ret) {
		fprintf(stderr, "uzram bench: %s: %s\n", a.file,
			ret == -EINVAL ? "not a page file (a non-empty multiple of 4096 bytes)"
				       : strerror(-ret));
		return 1;
	}
	ret = bench(&a, data, len);
	free(data);
	return ret ? 1 : 0;
}
