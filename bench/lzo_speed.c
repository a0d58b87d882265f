/*
 * lzo_speed.c - uzram's LZO1X / LZO-RLE codec against liblzo2, page by page.
 *
 *   lzo_speed [--reps N] [--pages N] FILE...
 *
 * Each FILE is a page file (concatenated 4096-byte pages, e.g. from
 * `uzram dump`). Every page is compressed separately, as zram does, with
 * liblzo2's lzo1x_1_compress, uz_lzo1x_1_compress ("lzo") and
 * uz_lzorle1x_1_compress ("lzo-rle"); then our v0 streams are decoded with
 * liblzo2's lzo1x_decompress_safe and with uz_lzo1x_decompress_safe, and our
 * v1 streams with ours. Each figure is the best of N passes over all pages
 * (default 5), in MB/s of uncompressed data (MB = 10^6 bytes); ratio is
 * original / compressed bytes. Decoded pages are verified once.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lzo/lzo1x.h>

#include "lzo/lzo.h"

#define PAGE 4096

struct streams {
	uint8_t *buf;		/* compressed pages back to back */
	size_t *off;		/* npages + 1 offsets */
	size_t total;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fprintf(stderr, "lzo_speed: out of memory\n");
		exit(1);
	}
	return p;
}

enum { ENC_LZO2, ENC_UZ_V0, ENC_UZ_V1, NENC };

static int encode(int enc, const uint8_t *in, uint8_t *out, size_t *olen,
		  void *wrk_lzo2, void *wrk_uz)
{
	lzo_uint l;
	int ret;

	switch (enc) {
	case ENC_LZO2:
		ret = lzo1x_1_compress(in, PAGE, out, &l, wrk_lzo2);
		*olen = l;
		return ret;
	case ENC_UZ_V0:
		return uz_lzo1x_1_compress(in, PAGE, out, olen, wrk_uz);
	default:
		return uz_lzorle1x_1_compress(in, PAGE, out, olen, wrk_uz);
	}
}

/* One compression pass over all pages; keeps the streams. */
static double encode_pass(int enc, const uint8_t *pages, size_t npages,
			  struct streams *s, void *wrk_lzo2, void *wrk_uz)
{
	size_t pos = 0;
	double t0 = now();

	for (size_t i = 0; i < npages; i++) {
		size_t olen;

		s->off[i] = pos;
		if (encode(enc, pages + i * PAGE, s->buf + pos, &olen,
			   wrk_lzo2, wrk_uz) != 0) {
			fprintf(stderr, "lzo_speed: compress failed\n");
			exit(1);
		}
		pos += olen;
	}
	s->off[npages] = pos;
	s->total = pos;
	return now() - t0;
}

/*
 * One decompression pass: liblzo2's decoder (lzo2) or ours. The first pass
 * (verify) writes every page to its place in out and compares; later passes
 * decode into one page, as zram does.
 */
static double decode_pass(int lzo2, const uint8_t *pages, size_t npages,
			  const struct streams *s, uint8_t *out, int verify)
{
	double t0 = now();

	for (size_t i = 0; i < npages; i++) {
		const uint8_t *src = s->buf + s->off[i];
		size_t slen = s->off[i + 1] - s->off[i];
		uint8_t *dst = out + (verify ? i * PAGE : 0);
		int ret;

		if (lzo2) {
			lzo_uint l = PAGE;

			ret = lzo1x_decompress_safe(src, slen, dst, &l, NULL);
			ret |= l != PAGE;
		} else {
			size_t l = PAGE;

			ret = uz_lzo1x_decompress_safe(src, slen, dst, &l);
			ret |= l != PAGE;
		}
		if (ret) {
			fprintf(stderr, "lzo_speed: decode of page %zu failed\n", i);
			exit(1);
		}
	}
	t0 = now() - t0;
	if (verify && memcmp(out, pages, npages * PAGE)) {
		fprintf(stderr, "lzo_speed: decoded pages differ\n");
		exit(1);
	}
	return t0;
}

int main(int argc, char **argv)
{
	int reps = 5;
	size_t max_pages = SIZE_MAX;
	void *wrk_lzo2 = xmalloc(LZO1X_1_MEM_COMPRESS);
	void *wrk_uz = xmalloc(UZ_LZO1X_1_MEM_COMPRESS);
	int files = 0;

	if (lzo_init() != LZO_E_OK) {
		fprintf(stderr, "lzo_speed: lzo_init failed\n");
		return 1;
	}
	printf("%-14s %7s | %-23s | %-26s | %-23s\n", "", "",
	       "ratio", "compress MB/s", "decompress MB/s");
	printf("%-14s %7s | %7s %7s %7s | %8s %8s %8s | %7s %7s %7s\n", "file",
	       "pages", "lzo2-1", "uz-lzo", "uz-rle", "lzo2-1", "uz-lzo",
	       "uz-rle", "lzo2 v0", "uz v0", "uz v1");
	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--reps") && a + 1 < argc) {
			reps = atoi(argv[++a]);
			continue;
		}
		if (!strcmp(argv[a], "--pages") && a + 1 < argc) {
			max_pages = strtoull(argv[++a], NULL, 0);
			continue;
		}

		FILE *f = fopen(argv[a], "rb");
		if (!f) {
			perror(argv[a]);
			return 1;
		}
		fseek(f, 0, SEEK_END);
		size_t npages = (size_t)ftell(f) / PAGE;
		fseek(f, 0, SEEK_SET);
		if (npages > max_pages)
			npages = max_pages;
		uint8_t *pages = xmalloc(npages * PAGE);
		if (fread(pages, PAGE, npages, f) != npages) {
			fprintf(stderr, "%s: short read\n", argv[a]);
			return 1;
		}
		fclose(f);

		struct streams s[NENC];
		double ct[NENC], dt[3];
		uint8_t *out = xmalloc(npages * PAGE);

		for (int e = 0; e < NENC; e++) {
			s[e].buf = xmalloc(npages * UZ_LZO1X_WORST(PAGE));
			s[e].off = xmalloc((npages + 1) * sizeof(size_t));
			ct[e] = 1e30;
		}
		for (int d = 0; d < 3; d++)
			dt[d] = 1e30;
		/*
		 * The variants take turns within each repetition, so that load
		 * from other processes hits them alike; the best pass counts.
		 */
		for (int r = 0; r < reps; r++) {
			for (int e = 0; e < NENC; e++) {
				double t = encode_pass(e, pages, npages, &s[e],
						       wrk_lzo2, wrk_uz);
				ct[e] = t < ct[e] ? t : ct[e];
			}
			for (int d = 0; d < 3; d++) {
				double t = decode_pass(d == 0, pages, npages,
						       &s[d == 2 ? ENC_UZ_V1 : ENC_UZ_V0],
						       out, r == 0);
				dt[d] = t < dt[d] ? t : dt[d];
			}
		}

		const char *name = strrchr(argv[a], '/');
		double mb = (double)npages * PAGE / 1e6;

		name = name ? name + 1 : argv[a];
		printf("%-14s %7zu | %7.3f %7.3f %7.3f | %8.0f %8.0f %8.0f | %7.0f %7.0f %7.0f\n",
		       name, npages,
		       (double)npages * PAGE / (double)s[ENC_LZO2].total,
		       (double)npages * PAGE / (double)s[ENC_UZ_V0].total,
		       (double)npages * PAGE / (double)s[ENC_UZ_V1].total,
		       mb / ct[ENC_LZO2], mb / ct[ENC_UZ_V0], mb / ct[ENC_UZ_V1],
		       mb / dt[0], mb / dt[1], mb / dt[2]);
		fflush(stdout);
		for (int e = 0; e < NENC; e++) {
			free(s[e].buf);
			free(s[e].off);
		}
		free(out);
		free(pages);
		files++;
	}
	free(wrk_lzo2);
	free(wrk_uz);
	if (!files) {
		fprintf(stderr, "usage: lzo_speed [--reps N] [--pages N] FILE...\n");
		return 1;
	}
	return 0;
}
