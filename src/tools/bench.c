/*
 * bench.c - `uzram bench FILE [--algorithm NAME] [--threads N] [--json]`:
 * write a page file into a fresh device sized to it, in 1 MiB requests, read
 * it back, verify it, and print throughput and mm_stat.
 *
 * Threads split the file into contiguous ranges. The read figure times reads
 * alone; verification is a second, untimed pass. MB = 10^6 bytes. The
 * options are a table parsed by opt.c.
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

struct worker {
	pthread_t tid;
	struct uzram_dev *dev;
	const uint8_t *data;
	uint64_t start, end;	/* byte range of the file */
	int op;			/* 0 write, 1 read, 2 verify */
	int err;
	bool mismatch;
	double t_start, t_end;	/* this worker's own clock readings */
	pthread_barrier_t *barrier;
};

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
	for (uint64_t off = w->start; off < w->end && !w->err; off += REQ_SIZE) {
		size_t n = (size_t)UZ_MIN((uint64_t)REQ_SIZE, w->end - off);

		if (w->op == 0) {
			w->err = uzram_write(w->dev, w->data + off, off, n);
		} else {
			w->err = uzram_read(w->dev, buf, off, n);
			if (w->op == 2 && !w->err && memcmp(buf, w->data + off, n))
				w->mismatch = true;
		}
	}
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
	unsigned int threads;
	bool json;
};

static int set_threads(void *ctx, const char *val)
{
	struct bench_args *a = ctx;

	return opt_uint_range("uzram bench", "threads", val, 1, MAX_THREADS,
			      &a->threads);
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
	fprintf(f, "usage: uzram bench FILE [--algorithm NAME] [--threads N] [--json]\n"
		"Write the page file FILE into a fresh device in this process, read it\n"
		"back, verify it; print throughput (MB/s, 1 MB = 10^6 bytes) and mm_stat.\n");
	opt_usage(f, bench_options, 22);
}

/* ---- the run ---- */

struct bench_result {
	uint64_t pages;
	double write_mbps, read_mbps;
	bool verified;
	struct uzram_stats st;		/* after the writes */
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

/* Write, read, verify with n workers; 0, or -errno after a failed write. */
static int measure(struct uzram *z, struct uzram_dev *dev, const uint8_t *data,
		   size_t len, struct worker *w, unsigned int n, struct bench_result *r)
{
	uint64_t per = r->pages / n;
	double tw, tr;
	int err;

	for (unsigned int i = 0; i < n; i++) {
		w[i].dev = dev;
		w[i].data = data;
		w[i].start = i * per * UZRAM_PAGE_SIZE;
		w[i].end = i + 1 == n ? len : (i + 1) * per * UZRAM_PAGE_SIZE;
	}
	tw = run_phase(w, n, 0, &err);
	if (err) {
		fprintf(stderr, "uzram bench: write: %s\n", strerror(-err));
		return err;
	}
	uzram_stats(z, 0, &r->st);
	tr = run_phase(w, n, 1, &err);
	if (!err)
		run_phase(w, n, 2, &err);
	r->verified = !err;
	for (unsigned int i = 0; i < n; i++)
		r->verified = r->verified && !w[i].mismatch;
	if (err)
		fprintf(stderr, "uzram bench: read: %s\n", strerror(-err));
	r->write_mbps = len / tw / 1e6;
	r->read_mbps = len / tr / 1e6;
	return 0;
}

static void print_json(const struct bench_args *a, const struct bench_result *r)
{
	const struct uzram_stats *s = &r->st;

	printf("{\"algorithm\": \"%s\", \"threads\": %u, \"pages\": %" PRIu64
	       ", \"write_mbps\": %.1f, \"read_mbps\": %.1f, \"verified\": %s, "
	       "\"mm_stat\": {\"orig_data_size\": %" PRIu64
	       ", \"compr_data_size\": %" PRIu64 ", \"mem_used_total\": %" PRIu64
	       ", \"mem_limit\": %" PRIu64 ", \"mem_used_max\": %" PRIu64
	       ", \"same_pages\": %" PRIu64 ", \"pages_compacted\": %" PRIu64
	       ", \"huge_pages\": %" PRIu64 ", \"huge_pages_since\": %" PRIu64 "}}\n",
	       s->algorithm, a->threads, r->pages, r->write_mbps, r->read_mbps,
	       r->verified ? "true" : "false",
	       s->orig_data_size, s->compr_data_size, s->mem_used_total, s->mem_limit,
	       s->mem_used_max, s->same_pages, s->pages_compacted, s->huge_pages,
	       s->huge_pages_since);
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
	printf("read        %.1f MB/s\n", r->read_mbps);
	printf("verified    %s\n", r->verified ? "yes" : "NO");
	if (s->mem_used_total)
		printf("ratio       %.3f (orig_data_size / mem_used_total)\n",
		       (double)s->orig_data_size / s->mem_used_total);
	else
		printf("ratio       inf (every page is same-filled: stored in no memory)\n");
	printf("mm_stat     orig_data_size %" PRIu64 " compr_data_size %" PRIu64
	       " mem_used_total %" PRIu64 " same_pages %" PRIu64 " huge_pages %" PRIu64 "\n",
	       s->orig_data_size, s->compr_data_size, s->mem_used_total, s->same_pages,
	       s->huge_pages);
}

/* The device, the workers, the figures; 0 when the data came back. */
static int bench(const struct bench_args *a, const uint8_t *data, size_t len)
{
	struct bench_result r = { .pages = len / UZRAM_PAGE_SIZE };
	struct uzram *z = NULL;
	struct uzram_dev *dev = NULL;
	struct worker *w = NULL;
	int ret = new_device(a->algorithm, len, &z, &dev);

	if (!ret) {
		w = calloc(a->threads, sizeof(*w));
		ret = w ? measure(z, dev, data, len, w, a->threads, &r) : -ENOMEM;
		if (!w)
			fprintf(stderr, "uzram bench: %s\n", strerror(ENOMEM));
	}
	if (!ret) {
		if (a->json)
			print_json(a, &r);
		else
			print_text(a, &r, len);
		ret = r.verified ? 0 : -EIO;
	}
	free(w);
	uzram_close(dev);
	uzram_free(z);
	return ret;
}

int cmd_bench(int argc, char **argv)
{
	struct bench_args a = { .algorithm = "lzo-rle", .threads = 1 };
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
