/*
 * sw842_speed.c - speed and ratio of the 842 codec (lib/842/sw842.c) on page
 * files: concatenated 4096-byte pages, each compressed and decompressed on
 * its own as zram does.
 *
 *   build/default/bench/sw842_speed [--reps N] [--pages N] [--all] [PAGEFILE...]
 *
 * Without files it measures $UZRAM_PAGEDIR/{python,node,cc1}.pages (default
 * directory /work/pages), skipping those missing.  The pages are taken in
 * chunks of 1024; each chunk is compressed N times (default 5) and
 * decompressed N times, and the best time of each chunk counts, so a busy
 * machine disturbs the figures less.  Every page is checked to round-trip.
 * MB = 10^6 bytes of uncompressed data, for both directions.  "ratio" is
 * uncompressed / compressed bytes over the pages measured; "incompressible"
 * counts pages whose stream is not smaller than the page.  Pages that zram
 * stores without compressing (one repeated 8-byte word) are left out unless
 * --all.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "842/sw842.h"

#define PAGE	4096
#define CHUNK	1024
#define CMAX	(PAGE + 512)	/* > the largest stream of one page */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One 8-byte word repeated: zram keeps such a page as that word alone. */
static int same_filled(const uint8_t *p)
{
	for (size_t i = 8; i < PAGE; i += 8)
		if (memcmp(p, p + i, 8))
			return 0;
	return 1;
}

static int bench_file(const char *path, int reps, size_t max_pages, int all,
		      void *wrk)
{
	static uint8_t cbuf[CHUNK][CMAX], dbuf[PAGE];
	static size_t clen[CHUNK];
	uint8_t *pages;
	size_t nr = 0, cap = 0, total_c = 0, incompressible = 0, skipped = 0;
	double tc = 0, td = 0;
	FILE *f = fopen(path, "rb");

	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	fseek(f, 0, SEEK_END);
	cap = (size_t)ftell(f) / PAGE;
	fseek(f, 0, SEEK_SET);
	if (max_pages && cap > max_pages)
		cap = max_pages;
	pages = malloc(cap ? cap * PAGE : 1);
	if (!pages) {
		fclose(f);
		return -1;
	}
	nr = fread(pages, PAGE, cap, f);
	fclose(f);
	if (!all) {
		size_t kept = 0;

		for (size_t i = 0; i < nr; i++) {
			if (same_filled(pages + i * PAGE))
				continue;
			if (kept != i)
				memcpy(pages + kept * PAGE, pages + i * PAGE,
				       PAGE);
			kept++;
		}
		skipped = nr - kept;
		nr = kept;
	}

	for (size_t base = 0; base < nr; base += CHUNK) {
		size_t n = nr - base < CHUNK ? nr - base : CHUNK;
		double best_c = 1e30, best_d = 1e30;

		for (int r = 0; r < reps; r++) {
			double t0 = now();

			for (size_t i = 0; i < n; i++) {
				clen[i] = CMAX;
				if (uz_sw842_compress(pages + (base + i) * PAGE,
						      PAGE, cbuf[i], &clen[i],
						      wrk)) {
					fprintf(stderr, "%s: page %zu: compress failed\n",
						path, base + i);
					free(pages);
					return -1;
				}
			}
			t0 = now() - t0;
			if (t0 < best_c)
				best_c = t0;
		}
		for (int r = 0; r < reps; r++) {
			double t0 = now();

			for (size_t i = 0; i < n; i++) {
				size_t dlen = PAGE;

				if (uz_sw842_decompress(cbuf[i], clen[i], dbuf,
							&dlen) || dlen != PAGE) {
					fprintf(stderr, "%s: page %zu: decompress failed\n",
						path, base + i);
					free(pages);
					return -1;
				}
			}
			t0 = now() - t0;
			if (t0 < best_d)
				best_d = t0;
		}
		for (size_t i = 0; i < n; i++) {
			size_t dlen = PAGE;

			if (uz_sw842_decompress(cbuf[i], clen[i], dbuf, &dlen) ||
			    memcmp(dbuf, pages + (base + i) * PAGE, PAGE)) {
				fprintf(stderr, "%s: page %zu: round trip differs\n",
					path, base + i);
				free(pages);
				return -1;
			}
			total_c += clen[i];
			incompressible += clen[i] >= PAGE;
		}
		tc += best_c;
		td += best_d;
	}
	free(pages);
	if (!nr) {
		printf("%-28s no pages\n", path);
		return 0;
	}
	printf("%-28s %7zu pages (%zu same-filled left out)  ratio %6.3f  "
	       "incompressible %zu  compress %7.1f MB/s  "
	       "decompress %7.1f MB/s\n", path, nr, skipped,
	       (double)nr * PAGE / (double)total_c,
	       incompressible,
	       (double)nr * PAGE / tc / 1e6, (double)nr * PAGE / td / 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "python", "node", "cc1" };
	int reps = 5, files = 0, ret = 0, all = 0;
	size_t max_pages = 0;
	void *wrk = malloc(uz_sw842_wrkmem_size());

	if (!wrk)
		return 1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			reps = atoi(argv[++i]);
			if (reps < 1)
				reps = 1;
		} else if (!strcmp(argv[i], "--all")) {
			all = 1;
		} else if (!strcmp(argv[i], "--pages") && i + 1 < argc) {
			max_pages = strtoul(argv[++i], NULL, 0);
		} else {
			files++;
			ret |= bench_file(argv[i], reps, max_pages, all, wrk);
		}
	}
	if (!files) {
		const char *dir = getenv("UZRAM_PAGEDIR");
		char path[4096];

		if (!dir)
			dir = "/work/pages";
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			FILE *f;

			snprintf(path, sizeof(path), "%s/%s.pages", dir,
				 names[i]);
			f = fopen(path, "rb");
			if (!f)
				continue;
			fclose(f);
			ret |= bench_file(path, reps, max_pages, all, wrk);
		}
	}
	free(wrk);
	return ret ? 1 : 0;
}
