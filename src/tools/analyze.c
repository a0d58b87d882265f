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
#include "uzram.h"

#define PAGE	4096u
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
	for (unsigned int i = 8; i < PAGE; i += 8) {
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

static int codec_speeds(const char *alg, const uint8_t *data, size_t len,
			double *cmbps, double *dmbps)
{
	struct uzram_codec *c;
	size_t n = 0, bytes = 0;
	uint8_t *out, *lens_base;
	uint8_t page[PAGE];
	int ret = uzram_codec_new(alg, &c);

	if (ret)
		return ret;
	/* the pages zram would compress, up to the sample size */
	size_t cap = UZ_MIN(len, (size_t)SPEED_SAMPLE) / PAGE;
	const uint8_t **pages = malloc(cap * sizeof(*pages) + 1);
	size_t *clen = malloc(cap * sizeof(*clen) + 1);
	out = malloc(cap * 2 * PAGE + 1);
	lens_base = out;
	for (size_t off = 0; off < len && n < cap; off += PAGE)
		if (!same_filled(data + off))
			pages[n++] = data + off;
	*cmbps = *dmbps = 0;
	for (int rep = 0; rep < 3 && n; rep++) {
		double t = now_seconds();
		for (size_t i = 0; i < n && !ret; i++)
			ret = uzram_codec_compress(c, pages[i], out + i * 2 * PAGE, &clen[i]);
		t = now_seconds() - t;
		if (!ret && n * PAGE / t / 1e6 > *cmbps)
			*cmbps = n * PAGE / t / 1e6;
		t = now_seconds();
		for (size_t i = 0; i < n && !ret; i++)
			ret = uzram_codec_decompress(c, out + i * 2 * PAGE, clen[i], page);
		t = now_seconds() - t;
		if (!ret && n * PAGE / t / 1e6 > *dmbps)
			*dmbps = n * PAGE / t / 1e6;
		bytes += n * PAGE;
	}
	free(pages);
	free(clen);
	free(lens_base);
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

static int usage(void)
{
	fprintf(stderr, "usage: uzram analyze --pid PID | FILE [--json] [--algorithm NAME]...\n");
	return 2;
}

int cmd_analyze(int argc, char **argv)
{
	const char *file = NULL, *only[16];
	size_t nonly = 0, len;
	bool json = false;
	long pid = 0;
	uint8_t *data;
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pid") && i + 1 < argc)
			pid = strtol(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--algorithm") && i + 1 < argc && nonly < 16)
			only[nonly++] = argv[++i];
		else if (argv[i][0] != '-' && !file)
			file = argv[i];
		else
			return usage();
	}
	if ((!file) == (pid <= 0))
		return usage();
	ret = load(file, pid, &data, &len);
	if (ret) {
		if (file)
			fprintf(stderr, "uzram analyze: %s: %s\n", file,
				ret == -EINVAL ? "not a page file (a non-empty multiple of 4096 bytes)"
					       : strerror(-ret));
		else
			fprintf(stderr, "uzram analyze: process %ld: %s\n", pid,
				ret == -ENODATA ? "no resident anonymous memory" : strerror(-ret));
		return 1;
	}

	struct result res[16];
	size_t nres = 0;
	for (size_t a = 0; a < uzram_algorithm_count() && nres < 16; a++) {
		const char *alg = uzram_algorithm_name(a);
		bool want = nonly == 0;
		for (size_t k = 0; k < nonly; k++)
			want = want || !strcmp(only[k], alg);
		if (!want)
			continue;
		struct result *r = &res[nres++];
		memset(r, 0, sizeof(*r));
		r->algorithm = alg;
		r->err = fill_device(alg, data, len, &r->st);
		if (!r->err)
			r->err = codec_speeds(alg, data, len, &r->compress_mbps, &r->decompress_mbps);
		if (r->err)
			fprintf(stderr, "uzram analyze: %s: %s\n", alg, strerror(-r->err));
	}
	for (size_t k = 0; k < nonly; k++) {
		bool found = false;
		for (size_t a = 0; a < nres; a++)
			found = found || !strcmp(res[a].algorithm, only[k]);
		if (!found)
			fprintf(stderr, "uzram analyze: no algorithm '%s'\n", only[k]);
	}

	uint64_t pages = len / PAGE;
	if (json) {
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
			       s->mem_used_total ? (double)s->orig_data_size / s->mem_used_total : 0.0,
			       r->compress_mbps, r->decompress_mbps,
			       r->err ? ", \"error\": \"" : "", r->err ? strerror(-r->err) : "",
			       r->err ? "\"" : "");
		}
		printf("\n]\n");
	} else {
		printf("%s: %" PRIu64 " pages (%.1f MB)\n", file ? file : "process memory",
		       pages, len / 1e6);
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
			       " %11.1f %11.1f\n", r->algorithm,
			       s->mem_used_total ? (double)s->orig_data_size / s->mem_used_total : 0.0,
			       s->mem_used_total, s->compr_data_size, s->same_pages, s->huge_pages,
			       r->compress_mbps, r->decompress_mbps);
		}
		printf("RATIO = orig_data_size / mem_used_total: what a device of this data costs.\n");
	}
	free(data);
	for (size_t i = 0; i < nres; i++)
		if (res[i].err)
			return 1;
	return 0;
}
