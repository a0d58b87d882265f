/*
 * test_zcomp.c - the compression frontend: the backend table in the kernel's
 * order, lookup and listing, parameters and their errors, round trips of
 * every algorithm over a seeded page generator (and page files named in argv
 * or UZRAM_PAGEFILES), cross-decoding with the reference libraries, and
 * every decoder fed truncated, corrupted and random objects
 * (drivers/block/zram/zcomp.c, backend_*.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>
#include <zlib.h>
#include <zstd.h>

#include "check.h"
#include "zcomp/zcomp.h"

#define PAGE UZ_PAGE_SIZE

enum kind { ZERO, SAME_WORD, TEXT, STRUCT, RANDOM, MIXED, NR_KINDS };

/* Pages of the kinds real memory holds. */
static void gen_page(uint8_t *p, enum kind k, uint64_t *rs)
{
	switch (k) {
	case ZERO:
		memset(p, 0, PAGE);
		break;
	case SAME_WORD: {
		uint64_t w = check_rand(rs);
		for (unsigned int i = 0; i < PAGE; i += 8)
			memcpy(p + i, &w, 8);
		break;
	}
	case TEXT: {
		static const char *w[] = { "zram ", "page ", "compress ", "the ", "memory ", "kernel\n" };
		unsigned int i = 0;
		while (i < PAGE) {
			const char *s = w[check_rand(rs) % 6];
			for (; *s && i < PAGE; s++)
				p[i++] = (uint8_t)*s;
		}
		break;
	}
	case STRUCT:	/* pointers, small integers, doubles */
		for (unsigned int i = 0; i < PAGE; i += 8) {
			uint64_t v;
			switch (check_rand(rs) % 3) {
			case 0:
				v = 0x00007f0000000000ull | (check_rand(rs) & 0xfffff8);
				break;
			case 1:
				v = check_rand(rs) % 1000;
				break;
			default: {
				double d = (double)(check_rand(rs) % 10000) / 7.0;
				memcpy(&v, &d, 8);
			}
			}
			memcpy(p + i, &v, 8);
		}
		break;
	case RANDOM:
		for (unsigned int i = 0; i < PAGE; i += 8) {
			uint64_t v = check_rand(rs);
			memcpy(p + i, &v, 8);
		}
		break;
	default:	/* a mixture, in 512-byte pieces */
		for (unsigned int i = 0; i < PAGE; i += 512) {
			uint8_t tmp[PAGE];
			gen_page(tmp, (enum kind)(check_rand(rs) % MIXED), rs);
			memcpy(p + i, tmp + i, 512);
		}
		break;
	}
}

static void test_table(void)
{
	static const char *order[] = { "lzo-rle", "lzo", "lz4", "lz4hc", "zstd", "deflate", "842" };
	char buf[256];

	CHECK_EQ(zcomp_nr_backends(), 7);
	for (size_t i = 0; i < 7; i++) {
		CHECK(!strcmp(zcomp_backend(i)->name, order[i]), "backend %zu is %s", i, order[i]);
		CHECK(zcomp_lookup(order[i]) == zcomp_backend(i), "lookup %s", order[i]);
	}
	CHECK(zcomp_backend(7) == NULL, "end of table");
	CHECK(zcomp_lookup("lz4\n") == &backend_lz4, "one trailing newline");
	CHECK(zcomp_lookup("lz4 ") == NULL, "no trailing space");
	CHECK(zcomp_lookup("LZ4") == NULL, "case matters");
	CHECK(zcomp_lookup("") == NULL, "empty");
	size_t n = zcomp_available_show("zstd", buf, sizeof(buf));
	CHECK(!strcmp(buf, "lzo-rle lzo lz4 lz4hc [zstd] deflate 842 \n"), "listing: %s", buf);
	CHECK_EQ(n, strlen(buf));
	n = zcomp_available_show("zstd", buf, 10);	/* truncated, length still whole */
	CHECK_EQ(n, strlen("lzo-rle lzo lz4 lz4hc [zstd] deflate 842 \n"));
	CHECK_EQ(strlen(buf), 9);
}

static int create(struct zcomp **c, struct zcomp_params *p, const char *alg, int level)
{
	zcomp_params_init(p);
	p->level = level;
	return zcomp_create(c, alg, p, 2);
}

static void test_params(void)
{
	struct zcomp_params p;
	struct zcomp *c;

	CHECK_EQ(create(&c, &p, "nope", ZCOMP_PARAM_NOT_SET), -EINVAL);
	CHECK_EQ(create(&c, &p, "lzo", 1), -EOPNOTSUPP);
	CHECK_EQ(create(&c, &p, "lzo-rle", 3), -EOPNOTSUPP);
	CHECK_EQ(create(&c, &p, "lz4", 0), -EINVAL);
	CHECK_EQ(create(&c, &p, "lz4", -1), -EINVAL);
	CHECK_EQ(create(&c, &p, "lz4hc", 17), -EINVAL);
	CHECK_EQ(create(&c, &p, "lz4hc", 0), -EINVAL);
	CHECK_EQ(create(&c, &p, "zstd", ZSTD_maxCLevel() + 1), -EINVAL);
	CHECK_EQ(create(&c, &p, "deflate", 10), -EINVAL);
	CHECK_EQ(create(&c, &p, "deflate", -2), -EINVAL);
	static const struct { const char *alg; int level; } ok[] = {
		{ "lz4", 1 }, { "lz4", 65537 }, { "lz4hc", 1 }, { "lz4hc", 16 }, { "zstd", 1 },
		{ "zstd", 19 }, { "zstd", -5 }, { "deflate", 0 }, { "deflate", 9 }, { "deflate", -1 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK(create(&c, &p, ok[i].alg, ok[i].level) == 0, "%s level %d", ok[i].alg, ok[i].level);
		zcomp_destroy(c);
	}
	/* lzo with a dictionary; lz4 with one over 64 KiB */
	zcomp_params_init(&p);
	p.dict = calloc(1, 100);
	p.dict_sz = 100;
	CHECK_EQ(zcomp_create(&c, "lzo", &p, 1), -EOPNOTSUPP);
	zcomp_params_release(&p);
	p.dict = calloc(1, 70000);
	p.dict_sz = 70000;
	CHECK_EQ(zcomp_create(&c, "lz4", &p, 1), -EINVAL);
	CHECK_EQ(zcomp_create(&c, "lz4hc", &p, 1), -EINVAL);
	CHECK_EQ(zcomp_create(&c, "zstd", &p, 1), 0);
	zcomp_destroy(c);
	zcomp_params_release(&p);
	/* deflate window bits */
	zcomp_params_init(&p);
	p.deflate_winbits = -15;
	CHECK_EQ(zcomp_create(&c, "deflate", &p, 1), 0);
	zcomp_destroy(c);
	zcomp_params_init(&p);
	p.deflate_winbits = 15;		/* zlib-wrapped */
	CHECK_EQ(zcomp_create(&c, "deflate", &p, 1), 0);
	zcomp_destroy(c);
	zcomp_params_init(&p);
	p.deflate_winbits = 42;
	CHECK_EQ(zcomp_create(&c, "deflate", &p, 1), -EINVAL);
}

/* Round trip; returns the compressed size or -1. */
static int round_trip(struct zcomp *c, const uint8_t *page)
{
	struct zcomp_strm *s = zcomp_stream_get(c);
	uint8_t out[PAGE];
	unsigned int n;
	int ret = zcomp_compress(c, s, page, &n);

	if (ret == 0)
		ret = zcomp_decompress(c, s, s->buffer, n, out);
	zcomp_stream_put(s);
	if (ret || memcmp(page, out, PAGE))
		return -1;
	return (int)n;
}

static void test_round_trips(uint64_t seed, int argc, char **argv)
{
	uint8_t page[PAGE];

	for (size_t b = 0; b < zcomp_nr_backends(); b++) {
		const char *alg = zcomp_backend(b)->name;
		struct zcomp_params p;
		struct zcomp *c;
		uint64_t rs = seed + b;
		REQUIRE(create(&c, &p, alg, ZCOMP_PARAM_NOT_SET) == 0, "create %s", alg);
		int bad = 0, n = check_long() ? 20000 : 1500;
		for (int i = 0; i < n; i++) {
			enum kind k = (enum kind)(i % NR_KINDS);
			gen_page(page, k, &rs);
			int len = round_trip(c, page);
			if (len < 0)
				bad++;
			if (k == ZERO && len >= 0)
				CHECK(len < 100, "%s: a zero page compresses to %d", alg, len);
		}
		CHECK(bad == 0, "%s: %d of %d pages failed the round trip", alg, bad, n);
		/* page files: argv, then UZRAM_PAGEFILES */
		const char *env = getenv("UZRAM_PAGEFILES");
		char *files = env ? strdup(env) : NULL;
		for (int a = 1; a <= argc; a++) {
			char *path = a < argc ? argv[a] : NULL;
			if (!path && files)
				path = files;
			for (char *f = path ? strtok(path == files ? files : path, ":") : NULL; f;
			     f = path == files ? strtok(NULL, ":") : NULL) {
				FILE *fp = fopen(f, "rb");
				long pages = 0, failed = 0;
				while (fp && fread(page, 1, PAGE, fp) == PAGE) {
					pages++;
					failed += round_trip(c, page) < 0;
				}
				if (fp)
					fclose(fp);
				CHECK(failed == 0, "%s: %s: %ld of %ld pages failed", alg, f, failed, pages);
			}
			if (!path)
				break;
		}
		free(files);
		zcomp_destroy(c);
	}
}

/* What our backends write, the reference libraries read. */
static void test_cross_decoding(uint64_t seed)
{
	uint8_t page[PAGE], out[PAGE];
	uint64_t rs = seed;
	struct zcomp_params p;
	struct zcomp *lz4, *zstd, *defl;

	REQUIRE(create(&lz4, &p, "lz4", ZCOMP_PARAM_NOT_SET) == 0, "lz4");
	struct zcomp_params pz, pd;
	REQUIRE(create(&zstd, &pz, "zstd", ZCOMP_PARAM_NOT_SET) == 0, "zstd");
	REQUIRE(create(&defl, &pd, "deflate", ZCOMP_PARAM_NOT_SET) == 0, "deflate");
	int bad_lz4 = 0, bad_zstd = 0, bad_defl = 0, bad_back = 0;
	for (int i = 0; i < 300; i++) {
		gen_page(page, (enum kind)(i % NR_KINDS), &rs);
		unsigned int n;
		struct zcomp_strm *s = zcomp_stream_get(lz4);
		zcomp_compress(lz4, s, page, &n);
		bad_lz4 += LZ4_decompress_safe((char *)s->buffer, (char *)out, (int)n, PAGE) != PAGE ||
			   memcmp(out, page, PAGE);
		/* and liblz4's own output decodes through zcomp */
		char ref[LZ4_COMPRESSBOUND(PAGE)];
		int rn = LZ4_compress_default((char *)page, ref, PAGE, sizeof(ref));
		bad_back += zcomp_decompress(lz4, s, ref, (unsigned int)rn, out) || memcmp(out, page, PAGE);
		zcomp_stream_put(s);

		s = zcomp_stream_get(zstd);
		zcomp_compress(zstd, s, page, &n);
		bad_zstd += ZSTD_decompress(out, PAGE, s->buffer, n) != PAGE || memcmp(out, page, PAGE);
		CHECK(ZSTD_getFrameContentSize(s->buffer, n) == PAGE, "zstd frame has its content size");
		zcomp_stream_put(s);

		s = zcomp_stream_get(defl);
		zcomp_compress(defl, s, page, &n);
		z_stream zs = { 0 };
		inflateInit2(&zs, -15);	/* any smaller raw window is accepted */
		zs.next_in = s->buffer;
		zs.avail_in = n;
		zs.next_out = out;
		zs.avail_out = PAGE;
		bad_defl += inflate(&zs, Z_FINISH) != Z_STREAM_END || zs.total_out != PAGE ||
			    memcmp(out, page, PAGE);
		inflateEnd(&zs);
		zcomp_stream_put(s);
	}
	CHECK_EQ(bad_lz4, 0);
	CHECK_EQ(bad_back, 0);
	CHECK_EQ(bad_zstd, 0);
	CHECK_EQ(bad_defl, 0);
	zcomp_destroy(lz4);
	zcomp_destroy(zstd);
	zcomp_destroy(defl);
}

/* Damaged objects: an error (or, rarely, a page), never an overrun (ASan). */
static void test_bad_input(uint64_t seed)
{
	uint8_t page[PAGE], out[PAGE];
	uint64_t rs = seed ^ 0x5555;

	for (size_t b = 0; b < zcomp_nr_backends(); b++) {
		const char *alg = zcomp_backend(b)->name;
		struct zcomp_params p;
		struct zcomp *c;
		REQUIRE(create(&c, &p, alg, ZCOMP_PARAM_NOT_SET) == 0, "create");
		struct zcomp_strm *s = zcomp_stream_get(c);
		unsigned int n, odd = 0;
		gen_page(page, TEXT, &rs);
		zcomp_compress(c, s, page, &n);
		uint8_t *obj = malloc(n);
		memcpy(obj, s->buffer, n);
		/* every truncation: the object is copied to a buffer of that size */
		for (unsigned int len = 0; len < n; len++) {
			uint8_t *t = malloc(len ? len : 1);
			memcpy(t, obj, len);
			int r = zcomp_decompress(c, s, t, len, out);
			CHECK(r == 0 || r == -EINVAL, "%s truncated to %u: %d", alg, len, r);
			/* 842 pads to 8 bytes: cutting padding alone loses nothing */
			odd += r == 0 && memcmp(out, page, PAGE);
			free(t);
		}
		/* flips and random objects */
		for (int i = 0; i < 2000; i++) {
			uint8_t *t = malloc(n);
			memcpy(t, obj, n);
			t[check_rand(&rs) % n] ^= (uint8_t)(1 + check_rand(&rs) % 255);
			int r = zcomp_decompress(c, s, t, n, out);
			CHECK(r == 0 || r == -EINVAL, "%s corrupted: %d", alg, r);
			free(t);
			unsigned int rl = (unsigned int)(check_rand(&rs) % 600);
			t = malloc(rl + 1);
			for (unsigned int k = 0; k < rl; k++)
				t[k] = (uint8_t)check_rand(&rs);
			r = zcomp_decompress(c, s, t, rl, out);
			CHECK(r == 0 || r == -EINVAL, "%s random: %d", alg, r);
			free(t);
		}
		CHECK(odd == 0, "%s: %u truncations decoded to a wrong page", alg, odd);
		free(obj);
		zcomp_stream_put(s);
		zcomp_destroy(c);
	}
}

/* Streams: a thread takes a free one; all of them in use, it waits. */
static void test_streams(void)
{
	struct zcomp_params p;
	struct zcomp *c;
	REQUIRE(create(&c, &p, "lz4", ZCOMP_PARAM_NOT_SET) == 0, "create");
	struct zcomp_strm *a = zcomp_stream_get(c), *b = zcomp_stream_get(c);
	CHECK(a != b, "two streams in use at once");
	CHECK(a->buffer && b->buffer && a->local_copy, "buffers made up front");
	zcomp_stream_put(a);
	struct zcomp_strm *again = zcomp_stream_get(c);
	CHECK(again == a, "the free one is taken");
	zcomp_stream_put(again);
	zcomp_stream_put(b);
	zcomp_destroy(c);
}

int main(int argc, char **argv)
{
	uint64_t seed = check_seed();

	test_table();
	test_params();
	test_round_trips(seed, argc, argv);
	test_cross_decoding(seed);
	test_bad_input(seed);
	test_streams();
	return check_summary();
}
