/*
 * codec.c - compression speed and ratio of every zram algorithm on a page
 * file, through zcomp (what a uzram device pays per page) beside the raw
 * codec calls with a reused state (the floor), plus liblzo2's lzo1x_1 as the
 * yardstick for our LZO-RLE.
 *
 *   build/default/bench/codec [--reps N] [--all] [--algorithms "A B"] PAGEFILE...
 *
 * Pages that zram stores without compressing (one repeated 8-byte word) are
 * left out unless --all. Every figure is the best of N repetitions (default
 * 5), zcomp and raw runs interleaved. --algorithms limits the table to the
 * names given (liblzo2's line comes with lzo-rle). MB = 10^6 bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef HAVE_LZ4_FASTRESET
#define LZ4_STATIC_LINKING_ONLY
#define LZ4_HC_STATIC_LINKING_ONLY
#endif
#include <lz4.h>
#include <lz4hc.h>
#include <lzo/lzo1x.h>
#include <zlib.h>
#include <zstd.h>

#include "lzo/lzo.h"
#include "842/sw842.h"
#include "zcomp/zcomp.h"

#define PAGE	UZ_PAGE_SIZE

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t *pages;		/* the pages measured */
static size_t nr_pages;
static uint8_t *cbuf;		/* compressed pages, 2 * PAGE each */
static uint32_t *clen;

/* ---- the raw codecs, state reused across pages ---- */

struct raw {
	const char *name;
	int (*comp)(const uint8_t *src, uint8_t *dst, size_t *dlen);
	int (*decomp)(const uint8_t *src, size_t slen, uint8_t *dst);
};

static void *lzo_wrk;
static LZ4_stream_t *lz4_state;
static LZ4_streamHC_t *lz4hc_state;
static ZSTD_CCtx *zcctx;
static ZSTD_DCtx *zdctx;
static z_stream zdef, zinf;
static void *sw842_wrk;

static int raw_lzorle_c(const uint8_t *s, uint8_t *d, size_t *n)
{
	return uz_lzorle1x_1_compress(s, PAGE, d, n, lzo_wrk);
}

static int raw_lzo_c(const uint8_t *s, uint8_t *d, size_t *n)
{
	return uz_lzo1x_1_compress(s, PAGE, d, n, lzo_wrk);
}

static int raw_lzo_d(const uint8_t *s, size_t sl, uint8_t *d)
{
	size_t n = PAGE;
	return uz_lzo1x_decompress_safe(s, sl, d, &n) || n != PAGE;
}

static int liblzo2_c(const uint8_t *s, uint8_t *d, size_t *n)
{
	lzo_uint out = 0;
	int r = lzo1x_1_compress(s, PAGE, d, &out, lzo_wrk);
	*n = out;
	return r;
}

static int liblzo2_d(const uint8_t *s, size_t sl, uint8_t *d)
{
	lzo_uint n = PAGE;
	return lzo1x_decompress_safe(s, sl, d, &n, NULL) || n != PAGE;
}

/* The library's fastest call for one block on a reused state. */
static int raw_lz4_c(const uint8_t *s, uint8_t *d, size_t *n)
{
#ifdef HAVE_LZ4_FASTRESET
	int r = LZ4_compress_fast_extState_fastReset(lz4_state, (const char *)s,
						     (char *)d, PAGE, 2 * PAGE, 1);
#else
	int r = LZ4_compress_fast_extState(lz4_state, (const char *)s, (char *)d,
					   PAGE, 2 * PAGE, 1);
#endif
	*n = (size_t)r;
	return r <= 0;
}

static int raw_lz4_d(const uint8_t *s, size_t sl, uint8_t *d)
{
	return LZ4_decompress_safe((const char *)s, (char *)d, (int)sl, PAGE) != PAGE;
}

static int raw_lz4hc_c(const uint8_t *s, uint8_t *d, size_t *n)
{
#ifdef HAVE_LZ4_FASTRESET
	int r = LZ4_compress_HC_extStateHC_fastReset(lz4hc_state, (const char *)s,
						     (char *)d, PAGE, 2 * PAGE,
						     LZ4HC_CLEVEL_DEFAULT);
#else
	LZ4_resetStreamHC_fast(lz4hc_state, LZ4HC_CLEVEL_DEFAULT);
	int r = LZ4_compress_HC_continue(lz4hc_state, (const char *)s, (char *)d,
					 PAGE, 2 * PAGE);
#endif
	*n = (size_t)r;
	return r <= 0;
}

static int raw_zstd_c(const uint8_t *s, uint8_t *d, size_t *n)
{
	*n = ZSTD_compressCCtx(zcctx, d, 2 * PAGE, s, PAGE, ZSTD_CLEVEL_DEFAULT);
	return ZSTD_isError(*n);
}

static int raw_zstd_d(const uint8_t *s, size_t sl, uint8_t *d)
{
	return ZSTD_decompressDCtx(zdctx, d, PAGE, s, sl) != PAGE;
}

static int raw_deflate_c(const uint8_t *s, uint8_t *d, size_t *n)
{
	deflateReset(&zdef);
	zdef.next_in = (Bytef *)s;
	zdef.avail_in = PAGE;
	zdef.next_out = d;
	zdef.avail_out = 2 * PAGE;
	int r = deflate(&zdef, Z_FINISH);
	*n = zdef.total_out;
	return r != Z_STREAM_END;
}

static int raw_deflate_d(const uint8_t *s, size_t sl, uint8_t *d)
{
	inflateReset(&zinf);
	zinf.next_in = (Bytef *)s;
	zinf.avail_in = (uInt)sl;
	zinf.next_out = d;
	zinf.avail_out = PAGE;
	return inflate(&zinf, Z_SYNC_FLUSH) != Z_STREAM_END || zinf.total_out != PAGE;
}

static int raw_842_c(const uint8_t *s, uint8_t *d, size_t *n)
{
	*n = 2 * PAGE;
	return uz_sw842_compress(s, PAGE, d, n, sw842_wrk);
}

static int raw_842_d(const uint8_t *s, size_t sl, uint8_t *d)
{
	size_t n = PAGE;
	return uz_sw842_decompress(s, sl, d, &n) || n != PAGE;
}

static const struct raw raws[] = {
	{ "lzo-rle", raw_lzorle_c, raw_lzo_d },
	{ "lzo", raw_lzo_c, raw_lzo_d },
	{ "lz4", raw_lz4_c, raw_lz4_d },
	{ "lz4hc", raw_lz4hc_c, raw_lz4_d },
	{ "zstd", raw_zstd_c, raw_zstd_d },
	{ "deflate", raw_deflate_c, raw_deflate_d },
	{ "842", raw_842_c, raw_842_d },
};
static const struct raw liblzo2 = { "liblzo2 lzo1x_1", liblzo2_c, liblzo2_d };

static void raw_init(void)
{
	lzo_init();
	lzo_wrk = aligned_alloc(64, LZO1X_1_MEM_COMPRESS > UZ_LZO1X_1_MEM_COMPRESS ?
				LZO1X_1_MEM_COMPRESS : UZ_LZO1X_1_MEM_COMPRESS);
	lz4_state = LZ4_createStream();
	lz4hc_state = LZ4_createStreamHC();
	zcctx = ZSTD_createCCtx();
	zdctx = ZSTD_createDCtx();
	deflateInit2(&zdef, 6, Z_DEFLATED, -11, 8, Z_DEFAULT_STRATEGY);
	inflateInit2(&zinf, -11);
	sw842_wrk = malloc(uz_sw842_wrkmem_size());
}

/* ---- timing ---- */

/*
 * Compress every page with raw into one scratch buffer (as zcomp does into
 * its stream's buffer): returns seconds and the total compressed size.
 */
static double time_raw_comp(const struct raw *r, uint64_t *total)
{
	static uint8_t scratch[2 * PAGE];
	double t = now();
	uint64_t sum = 0;

	for (size_t i = 0; i < nr_pages; i++) {
		size_t n = 0;
		if (r->comp(pages + i * PAGE, scratch, &n)) {
			fprintf(stderr, "%s: compress failed\n", r->name);
			exit(1);
		}
		sum += n;
	}
	*total = sum;
	return now() - t;
}

/* Untimed: compress every page into cbuf/clen for the decompression runs. */
static void fill_compressed(const struct raw *r)
{
	for (size_t i = 0; i < nr_pages; i++) {
		size_t n = 0;
		if (r->comp(pages + i * PAGE, cbuf + i * 2 * PAGE, &n)) {
			fprintf(stderr, "%s: compress failed\n", r->name);
			exit(1);
		}
		clen[i] = (uint32_t)n;
	}
}

static double time_raw_decomp(const struct raw *r, uint8_t *out)
{
	double t = now();

	for (size_t i = 0; i < nr_pages; i++)
		if (r->decomp(cbuf + i * 2 * PAGE, clen[i], out)) {
			fprintf(stderr, "%s: decompress failed on page %zu\n", r->name, i);
			exit(1);
		}
	return now() - t;
}

static double time_zcomp_comp(struct zcomp *comp, uint64_t *total)
{
	double t = now();
	uint64_t sum = 0;

	for (size_t i = 0; i < nr_pages; i++) {
		struct zcomp_strm *zstrm = zcomp_stream_get(comp);
		unsigned int n;
		if (zcomp_compress(comp, zstrm, pages + i * PAGE, &n)) {
			fprintf(stderr, "zcomp compress failed\n");
			exit(1);
		}
		zcomp_stream_put(zstrm);
		sum += n;
	}
	*total = sum;
	return now() - t;
}

static double time_zcomp_decomp(struct zcomp *comp, uint8_t *out)
{
	double t = now();

	for (size_t i = 0; i < nr_pages; i++) {
		struct zcomp_strm *zstrm = zcomp_stream_get(comp);
		if (zcomp_decompress(comp, zstrm, cbuf + i * 2 * PAGE, clen[i], out)) {
			fprintf(stderr, "zcomp decompress failed on page %zu\n", i);
			exit(1);
		}
		zcomp_stream_put(zstrm);
	}
	return now() - t;
}

static double mbps(double secs)
{
	return (double)nr_pages * PAGE / secs / 1e6;
}

static bool same_filled(const uint8_t *p)
{
	uint64_t v, w;

	memcpy(&v, p, 8);
	for (size_t i = 8; i < PAGE; i += 8) {
		memcpy(&w, p + i, 8);
		if (w != v)
			return false;
	}
	return true;
}

static int load(const char *path, bool all)
{
	FILE *f = fopen(path, "rb");
	uint8_t page[PAGE];
	size_t cap = 0;

	if (!f) {
		perror(path);
		return -1;
	}
	nr_pages = 0;
	while (fread(page, 1, PAGE, f) == PAGE) {
		if (!all && same_filled(page))
			continue;
		if (nr_pages == cap) {
			cap = cap ? cap * 2 : 4096;
			pages = realloc(pages, cap * PAGE);
		}
		memcpy(pages + nr_pages * PAGE, page, PAGE);
		nr_pages++;
	}
	fclose(f);
	free(cbuf);
	free(clen);
	cbuf = malloc(nr_pages * 2 * PAGE + 1);
	clen = malloc(nr_pages * sizeof(*clen) + 1);
	return 0;
}

/* Is name a word of the space-separated list (NULL: every name)? */
static bool wanted(const char *list, const char *name)
{
	size_t n = strlen(name);

	if (!list)
		return true;
	for (const char *p = list; (p = strstr(p, name)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	int reps = 5;
	bool all = false;
	const char *algs = NULL;
	uint8_t out[PAGE];

	raw_init();
	for (int a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--reps") && a + 1 < argc) {
			reps = atoi(argv[++a]);
			continue;
		}
		if (!strcmp(argv[a], "--all")) {
			all = true;
			continue;
		}
		if (!strcmp(argv[a], "--algorithms") && a + 1 < argc) {
			algs = argv[++a];
			continue;
		}
		if (load(argv[a], all))
			return 1;
		printf("\n%s: %zu pages%s\n", argv[a], nr_pages,
		       all ? "" : " (same-filled pages left out, as zram stores them uncompressed)");
		printf("%-16s %7s %11s %11s %7s %11s %11s %7s\n", "algorithm", "ratio",
		       "comp zcomp", "comp raw", "z/raw", "dec zcomp", "dec raw", "z/raw");
		for (size_t b = 0; b < zcomp_nr_backends(); b++) {
			const struct zcomp_ops *ops = zcomp_backend(b);
			const struct raw *r = NULL;
			struct zcomp_params params;
			struct zcomp *comp;
			double zc = 1e9, rc = 1e9, zd = 1e9, rd = 1e9;
			uint64_t total = 0;

			if (!wanted(algs, ops->name))
				continue;
			for (size_t k = 0; k < sizeof(raws) / sizeof(raws[0]); k++)
				if (!strcmp(raws[k].name, ops->name))
					r = &raws[k];
			zcomp_params_init(&params);
			if (!r || zcomp_create(&comp, ops->name, &params, 1)) {
				printf("%-16s (no baseline)\n", ops->name);
				continue;
			}
			fill_compressed(r);
			for (int i = 0; i < reps; i++) {
				double t = time_raw_comp(r, &total);
				rc = t < rc ? t : rc;
				t = time_raw_decomp(r, out);
				rd = t < rd ? t : rd;
				t = time_zcomp_comp(comp, &total);
				zc = t < zc ? t : zc;
				t = time_zcomp_decomp(comp, out);
				zd = t < zd ? t : zd;
			}
			printf("%-16s %7.3f %11.1f %11.1f %7.3f %11.1f %11.1f %7.3f\n",
			       ops->name, (double)nr_pages * PAGE / total, mbps(zc), mbps(rc),
			       rc / zc, mbps(zd), mbps(rd), rd / zd);
			zcomp_destroy(comp);
		}
		/* liblzo2's lzo1x_1, the yardstick for lzo-rle. */
		if (!wanted(algs, "lzo-rle"))
			continue;
		double lc = 1e9, ld = 1e9, oc = 1e9;
		uint64_t total = 0, ltotal = 0;
		fill_compressed(&liblzo2);
		for (int i = 0; i < reps; i++) {
			double t = time_raw_comp(&liblzo2, &ltotal);
			lc = t < lc ? t : lc;
			t = time_raw_decomp(&liblzo2, out);
			ld = t < ld ? t : ld;
			t = time_raw_comp(&raws[0], &total);
			oc = t < oc ? t : oc;
		}
		printf("%-16s %7.3f %11s %11.1f %7s %11s %11.1f\n", liblzo2.name,
		       (double)nr_pages * PAGE / ltotal, "", mbps(lc), "", "", mbps(ld));
		printf("lzo-rle compress speed / liblzo2 lzo1x_1: %.3f\n", lc / oc);
	}
	return 0;
}
