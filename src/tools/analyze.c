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

struct result {
	const char *algorithm;
	struct uzram_stats st;
	double compress_mbps, decompress_mbps;
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

/* Compression and decompression speeds, best of three. */
static int codec_speeds(const char *alg, const uint8_t *data, size_t len,
			double *cmbps, double *dmbps)
{
	struct sample sm = { .n = 0 };
	struct uzram_codec *c;
	int ret = uzram_codec_new(alg, &c);

	if (ret)
		return ret;
	ret = sample_new(&sm, data, len);
	*cmbps = *dmbps = 0;
	for (int rep = 0; rep < 3 && sm.n && !ret; rep++) {
		double cm = timed_pass(c, &sm, false, &ret);
		double dm = timed_pass(c, &sm, true, &ret);

		*cmbps = UZ_MAX(*cmbps, cm);
		*dmbps = UZ_MAX(*dmbps, dm);
	}
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
		long pages = dump_process((int)pid, path);
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

	a->pid = strtol(val, NULL, 10);
	return 0;
}

static int add_algorithm(void *ctx, const char *val)
{
	struct analyze_args *a = ctx;

	if (a->nonly == MAX_RESULTS)
		return OPT_ERR;
	a->only[a->nonly++] = val;
	return 0;
}

static int set_file(void *ctx, const char *arg)
{
	struct analyze_args *a = ctx;

	if (a->file)
		return OPT_ERR;
	a->file = arg;
	return 0;
}

static const struct opt analyze_options[] = {
	{ .name = "pid", .arg = "PID", .kind = OPT_CALL, .call = set_pid },
	{ .name = "json", OPT_FLAG_AT(struct analyze_args, json) },
	{ .name = "algorithm", .arg = "NAME", .kind = OPT_CALL, .call = add_algorithm },
	{ .name = NULL }
};

/* "--name VALUE" only */
static const struct opt_cmd analyze_cmd = {
	.prog = "uzram analyze",
	.opts = analyze_options,
	.flags = OPT_NOEQ,
	.operand = set_file,
};

static int usage(void)
{
	fprintf(stderr, "usage: uzram analyze --pid PID | FILE [--json] [--algorithm NAME]...\n");
	return 2;
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
			r->err = codec_speeds(alg, data, len, &r->compress_mbps,
					      &r->decompress_mbps);
		if (r->err)
			fprintf(stderr, "uzram analyze: %s: %s\n", alg, strerror(-r->err));
	}
	return nres;
}

/* --algorithm names that no result has. */
static void say_unknown(const struct analyze_args *a, const struct result *res,
			size_t nres)
{
	for (size_t k = 0; k < a->nonly; k++) {
		bool found = false;

		for (size_t i = 0; i < nres; i++)
			found = found || !strcmp(res[i].algorithm, a->only[k]);
		if (!found)
			fprintf(stderr, "uzram analyze: no algorithm '%s'\n", a->only[k]);
	}
}

static double ratio(const struct uzram_stats *s)
{
	return s->mem_used_total ? (double)s->orig_data_size / s->mem_used_total : 0.0;
}

static void print_json(const struct result *res, size_t nres, uint64_t pages)
{
	printf("[");
	for (size_t i = 0; i < nres; i++) {
		const struct result *r = &res[i];
		const struct uzram_stats *s = &r->st;

		printf("%s\n  {\"algorithm\": \"%s\", \"pages\": %" PRIu64
		       ", \"orig_data_size\": %" PRIu64 ", \"compr_data_size\": %" PRIu64
		       ", \"mem_used_total\": %" PRIu64 ", \"same_pages\": %" PRIu64
		       ", \"huge_pages\": %" PRIu64 ", \"ratio\": %.3f"
		       ", \"compress_mbps\": %.1f, \"decompress_mbps\": %.1f%s%s%s}",
		       i ? "," : "", r->algorithm, pages, s->orig_data_size,
		       s->compr_data_size, s->mem_used_total, s->same_pages, s->huge_pages,
		       ratio(s), r->compress_mbps, r->decompress_mbps,
		       r->err ? ", \"error\": \"" : "", r->err ? strerror(-r->err) : "",
		       r->err ? "\"" : "");
	}
	printf("\n]\n");
}

static void print_text(const char *file, const struct result *res, size_t nres,
		       size_t len)
{
	printf("%s: %" PRIu64 " pages (%.1f MB)\n", file ? file : "process memory",
	       (uint64_t)(len / UZRAM_PAGE_SIZE), len / 1e6);
	printf("%-9s %8s %14s %14s %10s %10s %11s %11s\n", "ALGORITHM", "RATIO",
	       "MEM_USED_TOTAL", "COMPR_DATA", "SAME", "HUGE", "COMP MB/s", "DECOMP MB/s");
	for (size_t i = 0; i < nres; i++) {
		const struct result *r = &res[i];
		const struct uzram_stats *s = &r->st;

		if (r->err) {
			printf("%-9s error: %s\n", r->algorithm, strerror(-r->err));
			continue;
		}
		printf("%-9s %8.3f %14" PRIu64 " %14" PRIu64 " %10" PRIu64 " %10" PRIu64
		       " %11.1f %11.1f\n", r->algorithm, ratio(s), s->mem_used_total,
		       s->compr_data_size, s->same_pages, s->huge_pages,
		       r->compress_mbps, r->decompress_mbps);
	}
	printf("RATIO = orig_data_size / mem_used_total: what a device of this data costs.\n");
}

static int say_load_error(const struct analyze_args *a, int ret)
{
	if (a->file)
		fprintf(stderr, "uzram analyze: %s: %s\n", a->file,
			ret == -EINVAL ? "not a page file (a non-empty multiple of 4096 bytes)"
				       : strerror(-ret));
	else
		fprintf(stderr, "uzram analyze: process %ld: %s\n", a->pid,
			ret == -ENODATA ? "no resident anonymous memory" : strerror(-ret));
	return 1;
}

int cmd_analyze(int argc, char **argv)
{
	struct analyze_args a = { .file = NULL };
	struct result res[MAX_RESULTS];
	size_t nres, len;
	uint8_t *data;
	int ret;

	if (opt_parse(&analyze_cmd, argc, argv, &a) < 0 || (!a.file) == (a.pid <= 0))
		return usage();
	ret = load(a.file, a.pid, &data, &len);
	if (ret)
		return say_load_error(&a, ret);
	nres = run_all(&a, data, len, res);
	say_unknown(&a, res, nres);
	if (a.json)
		print_json(res, nres, len / UZRAM_PAGE_SIZE);
	else
		print_text(a.file, res, nres, len);
	free(data);
	for (size_t i = 0; i < nres; i++)
		if (res[i].err)
			return 1;
	return 0;
}
