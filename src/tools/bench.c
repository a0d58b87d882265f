/*
 * bench.c - `uzram bench FILE [--algorithm NAME] [--threads N] [--json]`:
 * write a page file into a fresh device sized to it, in 1 MiB requests, read
 * it back, verify it, and print throughput and mm_stat (PRODUCT.md).
 *
 * Threads split the file into contiguous ranges. The read figure times reads
 * alone; verification is a second, untimed pass. MB = 10^6 bytes.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "uzram.h"

#define REQ_SIZE	(1u << 20)

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
	uint8_t *buf = aligned_alloc(4096, REQ_SIZE);

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

static int usage(void)
{
	fprintf(stderr, "usage: uzram bench FILE [--algorithm NAME] [--threads N] [--json]\n");
	return 2;
}

int cmd_bench(int argc, char **argv)
{
	const char *file = NULL, *alg = "lzo-rle";
	unsigned int threads = 1;
	bool json = false;
	struct uzram_stats s;
	struct uzram *z = NULL;
	struct uzram_dev *dev = NULL;
	uint8_t *data;
	size_t len;
	char size[32];
	int ret, err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--algorithm") && i + 1 < argc)
			alg = argv[++i];
		else if (!strncmp(argv[i], "--algorithm=", 12))
			alg = argv[i] + 12;
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			threads = (unsigned int)strtoul(argv[++i], NULL, 10);
		else if (!strncmp(argv[i], "--threads=", 10))
			threads = (unsigned int)strtoul(argv[i] + 10, NULL, 10);
		else if (!strcmp(argv[i], "--json"))
			json = true;
		else if (argv[i][0] != '-' && !file)
			file = argv[i];
		else
			return usage();
	}
	if (!file || threads == 0 || threads > 1024)
		return usage();
	ret = read_page_file(file, &data, &len);
	if (ret) {
		fprintf(stderr, "uzram bench: %s: %s\n", file,
			ret == -EINVAL ? "not a page file (a non-empty multiple of 4096 bytes)"
				       : strerror(-ret));
		return 1;
	}
	ret = uzram_new(&z, 1);
	if (!ret)
		ret = uzram_attr_store(z, 0, "comp_algorithm", alg, strlen(alg));
	if (ret) {
		fprintf(stderr, "uzram bench: algorithm '%s': %s\n", alg, strerror(-ret));
		goto out;
	}
	snprintf(size, sizeof(size), "%zu", len);
	ret = uzram_attr_store(z, 0, "disksize", size, strlen(size));
	if (!ret)
		ret = uzram_open(z, 0, &dev);
	if (ret) {
		fprintf(stderr, "uzram bench: device of %zu bytes: %s\n", len, strerror(-ret));
		goto out;
	}

	struct worker *w = calloc(threads, sizeof(*w));
	uint64_t pages = len / 4096, per = pages / threads;
	for (unsigned int i = 0; i < threads; i++) {
		w[i].dev = dev;
		w[i].data = data;
		w[i].start = i * per * 4096;
		w[i].end = i + 1 == threads ? len : (i + 1) * per * 4096;
	}
	double tw = run_phase(w, threads, 0, &err);
	if (err) {
		fprintf(stderr, "uzram bench: write: %s\n", strerror(-err));
		ret = err;
		free(w);
		goto out;
	}
	uzram_stats(z, 0, &s);
	double tr = run_phase(w, threads, 1, &err);
	if (!err)
		run_phase(w, threads, 2, &err);
	bool verified = !err;
	for (unsigned int i = 0; i < threads; i++)
		verified = verified && !w[i].mismatch;
	free(w);
	if (err)
		fprintf(stderr, "uzram bench: read: %s\n", strerror(-err));

	double wm = len / tw / 1e6, rm = len / tr / 1e6;
	if (json) {
		printf("{\"algorithm\": \"%s\", \"threads\": %u, \"pages\": %" PRIu64
		       ", \"write_mbps\": %.1f, \"read_mbps\": %.1f, \"verified\": %s, "
		       "\"mm_stat\": {\"orig_data_size\": %" PRIu64
		       ", \"compr_data_size\": %" PRIu64 ", \"mem_used_total\": %" PRIu64
		       ", \"mem_limit\": %" PRIu64 ", \"mem_used_max\": %" PRIu64
		       ", \"same_pages\": %" PRIu64 ", \"pages_compacted\": %" PRIu64
		       ", \"huge_pages\": %" PRIu64 ", \"huge_pages_since\": %" PRIu64 "}}\n",
		       s.algorithm, threads, pages, wm, rm, verified ? "true" : "false",
		       s.orig_data_size, s.compr_data_size, s.mem_used_total, s.mem_limit,
		       s.mem_used_max, s.same_pages, s.pages_compacted, s.huge_pages,
		       s.huge_pages_since);
	} else {
		printf("file        %s: %" PRIu64 " pages (%.1f MB)\n", file, pages, len / 1e6);
		printf("algorithm   %s, %u thread%s\n", s.algorithm, threads, threads > 1 ? "s" : "");
		printf("write       %.1f MB/s\n", wm);
		printf("read        %.1f MB/s\n", rm);
		printf("verified    %s\n", verified ? "yes" : "NO");
		printf("ratio       %.3f (orig / mem_used_total)\n",
		       s.mem_used_total ? (double)s.orig_data_size / s.mem_used_total : 0.0);
		printf("mm_stat     orig_data_size %" PRIu64 " compr_data_size %" PRIu64
		       " mem_used_total %" PRIu64 " same_pages %" PRIu64 " huge_pages %" PRIu64 "\n",
		       s.orig_data_size, s.compr_data_size, s.mem_used_total, s.same_pages,
		       s.huge_pages);
	}
	ret = verified ? 0 : -EIO;
out:
	uzram_close(dev);
	uzram_free(z);
	free(data);
	return ret ? 1 : 0;
}
