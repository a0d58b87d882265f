/*
 * test_lzo.c - LZO1X (v0, "lzo") and LZO-RLE (v1, "lzo-rle"): uzram's encoder
 * and decoder (lib/lzo/lzo1x_compress.c, lib/lzo/lzo1x_decompress.c) against
 * the kernel's (lib/lzo/lzo1x_compress.c, lib/lzo/lzo1x_decompress_safe.c).
 *
 *   - round trips of both versions over seeded generated pages (zero, same
 *     filled, text, structured binary, random, mixtures, zero runs of many
 *     lengths at many places, short periods), over odd input lengths up to
 *     100 KiB (chunking, M4), and over the page files named in argv or in
 *     UZRAM_PAGEFILES (colon-separated);
 *   - cross-decoding with liblzo2: our v0 output through its
 *     lzo1x_decompress_safe, its lzo1x_1 and lzo1x_999 output through ours;
 *   - golden vectors: the exact bytes the kernel encoder emits for zero runs,
 *     worked out by hand from the kernel's lzo1x_1_do_compress() (not
 *     captured from our encoder);
 *   - the kernel facts: empty input and incompressible page sizes;
 *   - hostile input: every prefix of several streams, random byte flips,
 *     random bytes, too-small output buffers; buffers are allocated at their
 *     exact size so that ASan sees any overrun.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lzo/lzo1x.h>

#include "check.h"
#include "util/common.h"
#include "lzo/lzo.h"

#define PAGE 4096
/* The kernel's lzo1x_worst_compress(): a bound for v0 only (see lzo.h). */
#define KERNEL_WORST(n)	((n) + (n) / 16 + 64 + 3 + 2)

static uint64_t rng;
static void *wrkmem;
static void *lzo2_wrkmem;
static void *lzo2_999_wrkmem;
static unsigned long pages_tested;

typedef int (*compress_fn)(const uint8_t *, size_t, uint8_t *, size_t *, void *);
static const compress_fn encoders[2] = { uz_lzo1x_1_compress, uz_lzorle1x_1_compress };

static unsigned rnd(unsigned n)
{
	return n ? (unsigned)(check_rand(&rng) % n) : 0;
}

/* Compress with version v into a buffer of exactly the worst-case size. */
static uint8_t *compress_v(int v, const uint8_t *in, size_t len, size_t *clen)
{
	uint8_t *out = malloc(UZ_LZO1X_WORST(len));

	REQUIRE(out != NULL, "malloc");
	*clen = 0;
	CHECK_EQ(encoders[v](in, len, out, clen, wrkmem), UZ_LZO_E_OK);
	CHECK(*clen <= UZ_LZO1X_WORST(len), "v%d: %zu > worst %zu", v, *clen,
	      (size_t)UZ_LZO1X_WORST(len));
	return out;
}

/* Decode into a buffer of exactly cap bytes; returns the code. */
static int decompress_cap(const uint8_t *src, size_t slen, size_t cap,
			  uint8_t **outp, size_t *olen)
{
	uint8_t *in = malloc(slen ? slen : 1);
	uint8_t *out = malloc(cap ? cap : 1);
	int ret;

	REQUIRE(in && out, "malloc");
	memcpy(in, src, slen);
	*olen = cap;
	ret = uz_lzo1x_decompress_safe(in, slen, out, olen);
	free(in);
	if (outp)
		*outp = out;
	else
		free(out);
	return ret;
}

/* Round-trip one input through both versions (and v0 through liblzo2). */
static void roundtrip(const uint8_t *in, size_t len, const char *what)
{
	for (int v = 0; v < 2; v++) {
		size_t clen, olen;
		uint8_t *c = compress_v(v, in, len, &clen), *d;
		int ret;

		if (v) {
			CHECK(clen >= 5 && c[0] == 0x11 && c[1] == 0x01,
			      "%s: v1 header", what);
		} else {
			CHECK(clen <= KERNEL_WORST(len), "%s: v0 %zu bytes > %zu",
			      what, clen, (size_t)KERNEL_WORST(len));
		}
		CHECK(clen >= 3 && c[clen - 3] == 0x11 && c[clen - 2] == 0 &&
		      c[clen - 1] == 0, "%s v%d: end marker", what, v);

		ret = decompress_cap(c, clen, len, &d, &olen);
		CHECK(ret == UZ_LZO_E_OK && olen == len && !memcmp(d, in, len),
		      "%s v%d len %zu: decode ret %d olen %zu", what, v, len,
		      ret, olen);
		free(d);

		/* One byte short of room: the decoder must say so. */
		if (len > 0) {
			ret = decompress_cap(c, clen, len - 1, NULL, &olen);
			CHECK(ret == UZ_LZO_E_OUTPUT_OVERRUN,
			      "%s v%d: short output gave %d", what, v, ret);
		}

		if (v == 0) {
			lzo_uint l2 = len;

			d = malloc(len ? len : 1);
			REQUIRE(d != NULL, "malloc");
			ret = lzo1x_decompress_safe(c, clen, d, &l2, NULL);
			CHECK(ret == LZO_E_OK && l2 == len && !memcmp(d, in, len),
			      "%s: liblzo2 decode of our v0: ret %d len %lu",
			      what, ret, (unsigned long)l2);
			free(d);
		}
		free(c);
	}
	pages_tested++;
}

/*
 * Instruction counts of a valid stream, to show which instructions a test
 * exercised: literal run, 2-byte M1 (after 1..3 literals), 3-byte M1 (after
 * a literal run), M2, M3, M4, zero run.
 */
enum { OP_LIT, OP_M1_2, OP_M1_3, OP_M2, OP_M3, OP_M4, OP_RLE, OP_NR };
static const char *const op_names[OP_NR] = {
	"literal run", "M1 (2 bytes)", "M1 (3 bytes)", "M2", "M3", "M4", "zero run",
};
static unsigned long lzo2_ops[OP_NR];

static const uint8_t *skip_255_run(const uint8_t *ip)
{
	while (*ip == 0)
		ip++;
	return ip + 1;
}

static void count_ops(const uint8_t *s, size_t n, unsigned long cnt[OP_NR])
{
	const uint8_t *ip = s, *end = s + n;
	unsigned state = 0, version = 0, t, x;

	if (n >= 5 && s[0] == 17) {
		version = s[1];
		ip += 2;
	}
	if (*ip > 17) {
		t = *ip++ - 17u;
		ip += t;
		state = t < 4 ? t : 4;
		cnt[OP_LIT]++;
	}
	while (ip < end) {
		t = *ip++;
		if (t >= 64) {
			cnt[OP_M2]++;
			ip++;
			state = t & 3;
		} else if (t >= 32) {
			cnt[OP_M3]++;
			if ((t & 31) == 0)
				ip = skip_255_run(ip);
			state = ip[0] & 3;
			ip += 2;
		} else if (t >= 16) {
			x = ip[0] | ip[1] << 8;
			if (version && (t & 0xf8) == 0x18 && (x & 0xfffc) == 0xfffc) {
				cnt[OP_RLE]++;
				state = x & 3;
				ip += 3;
			} else {
				if ((t & 7) == 0)
					ip = skip_255_run(ip);
				x = ip[0] | ip[1] << 8;
				ip += 2;
				if (!(t & 8) && (x >> 2) == 0)
					return;
				cnt[OP_M4]++;
				state = x & 3;
			}
		} else if (state == 0) {
			unsigned long l = t + 3;

			if (t == 0) {
				const uint8_t *p = ip;

				ip = skip_255_run(ip);
				l = 18 + 255 * (unsigned long)(ip - 1 - p) + ip[-1];
			}
			cnt[OP_LIT]++;
			ip += l;
			state = 4;
			continue;
		} else {
			cnt[state == 4 ? OP_M1_3 : OP_M1_2]++;
			ip++;
			state = t & 3;
		}
		ip += state;
	}
}

/* Decode liblzo2's lzo1x_1 and lzo1x_999 output with our decoder. */
static void lzo2_cross(const uint8_t *in, size_t len, const char *what)
{
	lzo_uint clen;
	uint8_t *c = malloc(len + len / 16 + 64 + 3);
	uint8_t *d;
	size_t olen;
	int ret;

	REQUIRE(c != NULL, "malloc");
	for (int k = 0; k < 2; k++) {
		clen = 0;
		ret = k ? lzo1x_999_compress(in, len, c, &clen, lzo2_999_wrkmem)
			: lzo1x_1_compress(in, len, c, &clen, lzo2_wrkmem);
		REQUIRE(ret == LZO_E_OK, "liblzo2 compress %d", ret);
		count_ops(c, clen, lzo2_ops);
		ret = decompress_cap(c, clen, len, &d, &olen);
		CHECK(ret == UZ_LZO_E_OK && olen == len && !memcmp(d, in, len),
		      "%s: our decode of liblzo2 %s: ret %d olen %zu", what,
		      k ? "lzo1x_999" : "lzo1x_1", ret, olen);
		free(d);
	}
	free(c);
}

/* ---- page generator ---- */

static const char *const words[] = {
	"the", "zram", "page", "of", "memory", "compressed", "kernel", "and",
	"struct", "return", "int", "static", "void", "if", "else", "for",
	"0x", "NULL", "size_t", "uint8_t", "{", "}", ";", "(", ")", "\n\t",
};

static void fill_text(uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const char *w = words[rnd(UZ_ARRAY_SIZE(words))];
		size_t l = strlen(w);

		for (size_t k = 0; k < l && i < n; k++)
			p[i++] = (uint8_t)w[k];
		if (i < n)
			p[i++] = rnd(8) ? ' ' : '\n';
	}
}

static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)check_rand(&rng);
}

/* Pointers, small integers, floats and padding: heap-like records. */
static void fill_struct(uint8_t *p, size_t n)
{
	uint64_t base = 0x00007f0000000000ull | ((uint64_t)rnd(1u << 24) << 12);
	size_t i = 0;

	while (i < n) {
		uint64_t w;
		float f;

		switch (rnd(5)) {
		case 0:
			w = base + (uint64_t)rnd(1 << 16) * 16;
			break;
		case 1:
			w = rnd(100);
			break;
		case 2:
			f = (float)rnd(1000) / 8.0f;
			memcpy(&w, &f, sizeof(f));
			w |= (uint64_t)rnd(4) << 32;
			break;
		case 3:
			w = 0;
			break;
		default:
			w = rnd(3) ? 0xffffffffffffffffull : (uint64_t)rnd(1u << 20);
			break;
		}
		for (int k = 0; k < 8 && i < n; k++)
			p[i++] = (uint8_t)(w >> (8 * k));
	}
}

/* Short periods: exercises overlapping match copies of every distance. */
static void fill_period(uint8_t *p, size_t n)
{
	unsigned period = 1 + rnd(rnd(2) ? 8 : 40);
	uint8_t pat[40];

	fill_random(pat, period);
	for (size_t i = 0; i < n; i++)
		p[i] = pat[i % period];
	for (unsigned k = rnd(4); k; k--)
		p[rnd((unsigned)n)] ^= (uint8_t)(1 + rnd(255));
}

/* Zero runs of interesting lengths at start, end and in between. */
static const unsigned run_lengths[] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 19, 20, 21, 24, 31, 32, 33,
	63, 64, 255, 256, 260, 1000, 2046, 2047, 2050, 2051, 2052, 2053,
	2055, 2059, 2060, 3000, 4000, 4095,
};

static void fill_kind(uint8_t *p, size_t n, unsigned kind);

static void fill_zero_runs(uint8_t *p, size_t n)
{
	fill_kind(p, n, 2 + rnd(3));	/* text, struct or random */
	for (unsigned k = 1 + rnd(6); k; k--) {
		size_t l = run_lengths[rnd(UZ_ARRAY_SIZE(run_lengths))];
		size_t at;

		if (l > n)
			l = n;
		switch (rnd(4)) {
		case 0:
			at = 0;
			break;
		case 1:
			at = n - l;
			break;
		default:
			at = rnd((unsigned)(n - l + 1));
			break;
		}
		memset(p + at, 0, l);
	}
}

static void fill_kind(uint8_t *p, size_t n, unsigned kind)
{
	uint64_t w;

	switch (kind) {
	case 0:
		memset(p, 0, n);
		break;
	case 1:
		w = check_rand(&rng);
		if (rnd(2))
			w = (w & 0xff) * 0x0101010101010101ull;
		for (size_t i = 0; i < n; i++)
			p[i] = (uint8_t)(w >> (8 * (i & 7)));
		break;
	case 2:
		fill_text(p, n);
		break;
	case 3:
		fill_struct(p, n);
		break;
	case 4:
		fill_random(p, n);
		break;
	case 5:
		/* mixture of segments of the other kinds */
		for (size_t i = 0; i < n;) {
			size_t l = 1 + rnd(rnd(2) ? 64 : 1024);

			if (l > n - i)
				l = n - i;
			fill_kind(p + i, l, rnd(5));
			i += l;
		}
		break;
	case 6:
		fill_zero_runs(p, n);
		break;
	case 7:
		/* sparse: zeros with a few scattered bytes */
		memset(p, 0, n);
		for (unsigned k = rnd(40); k; k--)
			p[rnd((unsigned)n)] = (uint8_t)(1 + rnd(255));
		break;
	default:
		fill_period(p, n);
		break;
	}
}

#define NKINDS 9

static void test_generated_pages(void)
{
	static uint8_t page[PAGE];
	unsigned n = check_long() ? 20000 : 2700;
	char what[64];

	for (unsigned i = 0; i < n; i++) {
		unsigned kind = i % NKINDS;

		fill_kind(page, PAGE, kind);
		snprintf(what, sizeof(what), "page %u kind %u", i, kind);
		roundtrip(page, PAGE, what);
		if (i % 8 == 0)
			lzo2_cross(page, PAGE, what);
	}
}

/* Zero runs of every length 0..64 and near 2051, at every small position. */
static void test_zero_run_sweep(void)
{
	static uint8_t page[PAGE];
	static const unsigned lens[] = { 2045, 2046, 2047, 2048, 2049, 2050,
					 2051, 2052, 2053, 2054, 2055, 2056,
					 2058, 2060, 4096 - 40, 4096 - 25 };
	char what[64];

	for (unsigned l = 0; l <= 64; l++) {
		for (unsigned at = 0; at + l <= PAGE; at += (at < 48 ? 1 : 997)) {
			fill_text(page, PAGE);
			memset(page + at, 0, l);
			snprintf(what, sizeof(what), "zero run %u at %u", l, at);
			roundtrip(page, PAGE, what);
		}
		/* and ending exactly at the page end */
		fill_text(page, PAGE);
		memset(page + PAGE - l, 0, l);
		roundtrip(page, PAGE, "zero run at end");
	}
	for (unsigned i = 0; i < UZ_ARRAY_SIZE(lens); i++) {
		for (unsigned at = 0; at + lens[i] <= PAGE; at += 1 + rnd(300)) {
			fill_random(page, PAGE);
			memset(page + at, 0, lens[i]);
			snprintf(what, sizeof(what), "zero run %u at %u", lens[i], at);
			roundtrip(page, PAGE, what);
		}
	}
}

static void test_lengths(void)
{
	static const size_t lens[] = { 0, 1, 2, 3, 4, 5, 19, 20, 21, 22, 23, 24,
				       25, 31, 32, 33, 100, 255, 256, 1000,
				       4095, 4097, 8192, 16384, 16385, 49151,
				       49152, 49153, 65536, 100 * 1024,
				       3 * 49151 + 7 };
	uint8_t *buf = malloc(3 * 49151 + 7);
	char what[64];

	REQUIRE(buf != NULL, "malloc");
	for (unsigned i = 0; i < UZ_ARRAY_SIZE(lens); i++) {
		for (unsigned kind = 0; kind < NKINDS; kind++) {
			fill_kind(buf, lens[i], kind);
			snprintf(what, sizeof(what), "len %zu kind %u", lens[i], kind);
			roundtrip(buf, lens[i], what);
			if (lens[i] >= 16384 || kind == 5)
				lzo2_cross(buf, lens[i], what);
		}
	}
	for (unsigned i = 0; i < 200; i++) {
		size_t l = rnd(i < 150 ? 300 : 70000);

		fill_kind(buf, l, rnd(NKINDS));
		snprintf(what, sizeof(what), "random len %zu", l);
		roundtrip(buf, l, what);
	}
	free(buf);
}

/*
 * Inputs over 16 KiB with far repeats: the encoders emit M4 (distance
 * 16 KiB..48 KiB), and liblzo2's lzo1x_999 emits every instruction.
 */
static void test_m4(void)
{
	size_t n = 100 * 1024;
	uint8_t *buf = malloc(n);
	size_t clen;
	unsigned long ops[2][OP_NR] = { { 0 } };

	REQUIRE(buf != NULL, "malloc");
	for (int round = 0; round < 6; round++) {
		size_t block = 16384 + 1 + rnd(30000);

		fill_kind(buf, block, 2 + round % 3);
		for (size_t i = block; i < n; i++)
			buf[i] = buf[i - block];
		for (unsigned k = rnd(50); k; k--)
			buf[rnd((unsigned)n)] ^= 0x5a;
		roundtrip(buf, n, "m4");
		lzo2_cross(buf, n, "m4");
		for (int v = 0; v < 2; v++) {
			uint8_t *c = compress_v(v, buf, n, &clen);

			count_ops(c, clen, ops[v]);
			free(c);
		}
	}
	CHECK(ops[0][OP_M4] > 0, "v0: far repeats gave no M4");
	CHECK(ops[1][OP_M4] > 0, "v1: far repeats gave no M4");
	CHECK(ops[0][OP_RLE] == 0, "v0 has no zero runs");
	free(buf);
}

/*
 * The kernel's lzo1x_1_do_compress(), v1 only: an M4 match of 261..264
 * bytes whose offset o has (o & 0x403f) == 0x403f is cut to 260. Build one: o = 0x403f, i.e. a
 * distance of 0x803f. Bytes: 'z' * 100 (matched from position 0), then a
 * 262-byte random block B at X = 100, then 'z' up to p = X + 0x803f (covered
 * by matches that end exactly at p), then B again, then 'y' filler. At p the
 * dictionary points at X, the match is 262 bytes long (B, then 'z' vs 'y').
 * v0 emits M4 with length 262: 18 (0x10 | H), FD (262 - 9), FC|S (o << 2),
 * 00 (o >> 6 & 0xff); v1 must emit length 260: 18 FB FC|S 00.
 */
static void test_m4_rle_ambiguity(void)
{
	size_t x = 100, p = x + 0x803f, n = p + 262 + 1000;
	uint8_t *buf = malloc(n);
	int found[2] = { 0, 0 };

	REQUIRE(buf != NULL, "malloc");
	for (int attempt = 0; attempt < 20 && !(found[0] && found[1]); attempt++) {
		memset(buf, 'z', p);
		fill_random(buf + x, 262);
		buf[x] = 'a';	/* differs from 'z' */
		memcpy(buf + p, buf + x, 262);
		memset(buf + p + 262, 'y', n - p - 262);
		roundtrip(buf, n, "m4 261..264");
		for (int v = 0; v < 2; v++) {
			size_t clen;
			uint8_t *c = compress_v(v, buf, n, &clen);
			uint8_t len_byte = v ? 0xfb : 0xfd;

			for (size_t i = 0; i + 4 <= clen; i++) {
				if (c[i] == 0x18 && c[i + 1] == len_byte &&
				    (c[i + 2] & 0xfc) == 0xfc && c[i + 3] == 0)
					found[v] = 1;
			}
			/* v1 must never carry the v0 form. */
			if (v) {
				for (size_t i = 2; i + 4 <= clen; i++)
					CHECK(!(c[i] == 0x18 && c[i + 1] == 0xfd &&
						(c[i + 2] & 0xfc) == 0xfc && c[i + 3] == 0),
					      "v1 emitted an ambiguous M4 at %zu", i);
			}
			free(c);
		}
	}
	CHECK(found[0], "v0: M4 of length 262 at offset 0x803f not found");
	CHECK(found[1], "v1: M4 cut to 260 at offset 0x803f not found");
	free(buf);
}

/* ---- golden vectors (the kernel's encoder, worked by hand) ---- */

struct golden {
	const char *name;
	int version;
	size_t in_len;
	uint8_t in[8192];
	size_t out_len;
	uint8_t out[8192];
};

static struct golden g;

static void g_begin(const char *name, int version)
{
	memset(&g, 0, sizeof(g));
	g.name = name;
	g.version = version;
	if (version) {
		g.out[g.out_len++] = 0x11;
		g.out[g.out_len++] = 0x01;
	}
}

/* Literal bytes: distinct and non-zero (so no 4-byte window repeats). */
static uint8_t g_lit_next;

static void g_in_lit(size_t n)
{
	for (size_t i = 0; i < n; i++)
		g.in[g.in_len++] = g_lit_next++;
}

static void g_in_zero(size_t n)
{
	memset(g.in + g.in_len, 0, n);
	g.in_len += n;
}

static void g_out(const uint8_t *b, size_t n)
{
	memcpy(g.out + g.out_len, b, n);
	g.out_len += n;
}

#define G_OUT(...)							\
	do {								\
		static const uint8_t b_[] = { __VA_ARGS__ };		\
		g_out(b_, sizeof(b_));					\
	} while (0)

/* Copy the input bytes [from, from + n) into the expected output. */
static void g_out_in(size_t from, size_t n)
{
	g_out(g.in + from, n);
}

static void g_check(void)
{
	size_t clen, olen;
	uint8_t *c = compress_v(g.version, g.in, g.in_len, &clen), *d;
	int ret;

	CHECK(clen == g.out_len && !memcmp(c, g.out, clen),
	      "golden %s: %zu bytes, expected %zu", g.name, clen, g.out_len);
	if (clen != g.out_len || memcmp(c, g.out, clen)) {
		for (size_t i = 0; i < UZ_MAX(clen, g.out_len); i++) {
			if (i >= clen || i >= g.out_len || c[i] != g.out[i]) {
				fprintf(stderr, "  first difference at %zu\n", i);
				break;
			}
		}
	}
	ret = decompress_cap(g.out, g.out_len, g.in_len, &d, &olen);
	CHECK(ret == UZ_LZO_E_OK && olen == g.in_len && !memcmp(d, g.in, olen),
	      "golden %s: decoding the expected bytes: ret %d", g.name, ret);
	free(d);
	free(c);
}

static void test_golden(void)
{
	/*
	 * Kernel facts (lzogeneric1x_1_compress()): empty input is just the
	 * end marker 11 00 00, after the 11 01 header for v1.
	 */
	g_begin("empty v0", 0);
	G_OUT(0x11, 0x00, 0x00);
	g_check();
	g_begin("empty v1", 1);
	G_OUT(0x11, 0x00, 0x00);
	g_check();

	/* 1..20 bytes: 17 + t, the literals, end marker (step 4 and 6). */
	g_lit_next = 0x21;
	g_begin("20 bytes v1", 1);
	g_in_lit(20);
	G_OUT(17 + 20);
	g_out_in(0, 20);
	G_OUT(0x11, 0x00, 0x00);
	g_check();

	/*
	 * All-zero 4096-byte page, v1. The first probe is at in + 5 (ip starts
	 * at 4 - ti = 4, [literal] adds 1). dv == 0: limit = min(ip_end =
	 * 4076, 5 + 2052 = 2057), no non-zero byte, run = 2052 -> capped at
	 * 2051. Pending literals [0, 5): t = 5 -> 02 + 5 zeros. RLE r = 2047:
	 * 18|7 = 1F, FC, FF, 2047 >> 3 = FF. ip = 2056; [next] without the
	 * literal step: dv == 0 again, limit = min(4076, 4108) = 4076, run =
	 * 2020, r = 2016: 18|0, FC, FF, 2016 >> 3 = FC. ip = 4076 = ip_end:
	 * exit with 20 pending. Tail t = 20 > 18 (something was emitted):
	 * 00, 20 - 18 = 02, then 20 zeros; end marker.
	 */
	g_begin("zero page v1", 1);
	g_in_zero(4096);
	G_OUT(0x02, 0, 0, 0, 0, 0);
	G_OUT(0x1f, 0xfc, 0xff, 0xff);
	G_OUT(0x18, 0xfc, 0xff, 0xfc);
	G_OUT(0x00, 0x02);
	g_out_in(0, 20);
	G_OUT(0x11, 0x00, 0x00);
	g_check();

	/*
	 * All-zero page, v0 (no RLE): the probe at 5 hashes dv = 0 to a
	 * dictionary entry still 0, so m_pos = in + 0 matches with m_off = 5.
	 * Literals t = 5: 02 + 5 zeros. Extension: m_len = 4 + 8k until
	 * ip + m_len >= ip_end: 5 + 4076 >= 4076 first at m_len = 4076 (4068
	 * gives 4073 < 4076), kept without the ctz step. M3 (m_off <= 0x4000):
	 * o = 4; m_len > 33: 20, then 255-run of 4076 - 33 = 4043 = 15 * 255 +
	 * 218: 15 x 00, DA; then o << 2 = 10, o >> 6 = 00. ip = 4081, past
	 * ip_end: 15 pending. Tail t = 15 <= 18: 15 - 3 = 0C, 15 zeros, end.
	 */
	g_begin("zero page v0", 0);
	g_in_zero(4096);
	G_OUT(0x02, 0, 0, 0, 0, 0);
	G_OUT(0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xda);
	G_OUT(0x10, 0x00);
	G_OUT(0x0c);
	g_out_in(0, 15);
	G_OUT(0x11, 0x00, 0x00);
	g_check();

	/*
	 * L(10) Z(4) L(30), v1 (L = distinct non-zero bytes, so no probe ever
	 * matches). 44 bytes: ip_end = 24. Probes 5..9 miss (skip step 1 while
	 * fewer than 32 literals pend); the probe at 10 sees dv == 0: limit
	 * 24, the first non-zero byte is at 14, run 4. Literals t = 10: 07 +
	 * 10 bytes. RLE r = 0: 18 FC FF 00. Probes 14..23 miss; exit with
	 * 44 - 14 = 30 pending: 00, 30 - 18 = 0C, 30 bytes; end.
	 */
	g_lit_next = 0x21;
	g_begin("L10 Z4 L30 v1", 1);
	g_in_lit(10);
	g_in_zero(4);
	g_in_lit(30);
	G_OUT(0x07);
	g_out_in(0, 10);
	G_OUT(0x18, 0xfc, 0xff, 0x00);
	G_OUT(0x00, 0x0c);
	g_out_in(14, 30);
	G_OUT(0x11, 0x00, 0x00);
	g_check();

	/*
	 * The same input in v0: no RLE, the zero window hashes to an entry
	 * holding 0, whose bytes differ; nothing matches, so the whole input is
	 * the tail: first instruction, t = 44 <= 238 -> 17 + 44 = 3D.
	 */
	{
		uint8_t in[44];

		memcpy(in, g.in, 44);
		g_begin("L10 Z4 L30 v0", 0);
		memcpy(g.in, in, 44);
		g.in_len = 44;
		G_OUT(17 + 44);
		g_out_in(0, 44);
		G_OUT(0x11, 0x00, 0x00);
		g_check();
	}

	/*
	 * L(10) Z(4) L(2) Z(5) L(30), v1: 51 bytes, ip_end = 31. As above up
	 * to the first run (07 + 10 bytes, 18 FC FF 00; ii = ip = 14). The
	 * probes at 14 and 15 miss, at 16 dv == 0: first non-zero at 21, run
	 * 5. Literals t = 2 <= 3: OR 2 into the byte 3 back (state_offset -3
	 * after an RLE instruction: its FC becomes FE) and copy 2 bytes. RLE
	 * r = 1: 19 FC FF 00. Probes 21..30 miss; 30 pending: 00 0C + 30.
	 */
	g_lit_next = 0x21;
	g_begin("L10 Z4 L2 Z5 L30 v1", 1);
	g_in_lit(10);
	g_in_zero(4);
	g_in_lit(2);
	g_in_zero(5);
	g_in_lit(30);
	G_OUT(0x07);
	g_out_in(0, 10);
	G_OUT(0x18, 0xfe, 0xff, 0x00);
	g_out_in(14, 2);
	G_OUT(0x19, 0xfc, 0xff, 0x00);
	G_OUT(0x00, 0x0c);
	g_out_in(21, 30);
	G_OUT(0x11, 0x00, 0x00);
	g_check();

	/*
	 * L(10) Z(2051) L(30), v1: 2091 bytes, ip_end = 2071. The probe at 10:
	 * limit = min(2071, 10 + 2052 = 2062); the first non-zero byte is at
	 * 2061 < limit: run 2051, r = 2047: 1F FC FF FF. Probes 2061..2070
	 * miss; 30 pending: 00 0C + 30.
	 */
	g_lit_next = 0x21;
	g_begin("L10 Z2051 L30 v1", 1);
	g_in_lit(10);
	g_in_zero(2051);
	g_in_lit(30);
	G_OUT(0x07);
	g_out_in(0, 10);
	G_OUT(0x1f, 0xfc, 0xff, 0xff);
	G_OUT(0x00, 0x0c);
	g_out_in(2061, 30);
	G_OUT(0x11, 0x00, 0x00);
	g_check();

	/*
	 * L(10) Z(2052) L(30), v1: 2092 bytes, ip_end = 2072. At 10 the scan
	 * stops at limit 2062 (all zero): run 2052, capped at 2051 (1F FC FF
	 * FF); ip = 2061. The window at 2061 (00 L L L) misses; so do
	 * 2062..2071. Pending 2092 - 2061 = 31: 00, 0D, the zero, 30 bytes.
	 */
	g_lit_next = 0x21;
	g_begin("L10 Z2052 L30 v1", 1);
	g_in_lit(10);
	g_in_zero(2052);
	g_in_lit(30);
	G_OUT(0x07);
	g_out_in(0, 10);
	G_OUT(0x1f, 0xfc, 0xff, 0xff);
	G_OUT(0x00, 0x0d);
	g_out_in(2061, 31);
	G_OUT(0x11, 0x00, 0x00);
	g_check();

	/*
	 * A run at the start: Z(9) L(40), v1. 49 bytes, ip_end = 29. The first
	 * probe is at 5 (so the first 5 zeros are literals): dv == 0, the first
	 * non-zero byte is at 9: run 4. Literals t = 5: 02 + 5 zeros; RLE
	 * 18 FC FF 00; probes 9..28 miss (the window at 9 is compared with
	 * dictionary entry 0, i.e. 00 00 00 00: no match). 40 pending: 00,
	 * 40 - 18 = 16, 40 bytes.
	 */
	g_lit_next = 0x21;
	g_begin("Z9 L40 v1", 1);
	g_in_zero(9);
	g_in_lit(40);
	G_OUT(0x02, 0, 0, 0, 0, 0);
	G_OUT(0x18, 0xfc, 0xff, 0x00);
	G_OUT(0x00, 0x16);
	g_out_in(9, 40);
	G_OUT(0x11, 0x00, 0x00);
	g_check();

	/*
	 * Four zeros at the very start are never probed: Z(4) L(40), v1.
	 * 44 bytes, ip_end = 24, probes 5..23 all miss: 17 + 44 = 3D.
	 */
	g_lit_next = 0x21;
	g_begin("Z4 L40 v1", 1);
	g_in_zero(4);
	g_in_lit(40);
	G_OUT(17 + 44);
	g_out_in(0, 44);
	G_OUT(0x11, 0x00, 0x00);
	g_check();

	/*
	 * A run reaching the end: L(30) Z(100), v1. 130 bytes, ip_end = 110.
	 * Probes 5..29 advance by 1 (fewer than 32 literals pending) and miss;
	 * at 30 dv == 0: limit = min(110, 2082) = 110, all zero: run 80,
	 * r = 76: 18|4 = 1C, FC, FF, 76 >> 3 = 09. Literals t = 30: 00 0C + 30
	 * bytes. ip = 110 = ip_end: exit, 20 pending: 00 02 + 20 zeros.
	 */
	g_lit_next = 0x21;
	g_begin("L30 Z100 v1", 1);
	g_in_lit(30);
	g_in_zero(100);
	G_OUT(0x00, 0x0c);
	g_out_in(0, 30);
	G_OUT(0x1c, 0xfc, 0xff, 0x09);
	G_OUT(0x00, 0x02);
	g_out_in(110, 20);
	G_OUT(0x11, 0x00, 0x00);
	g_check();

	/*
	 * A 4096-byte page: L(10) Z(4086), v1. ip_end = 4076. Probe at 10:
	 * limit = min(4076, 2062): run 2052 -> 2051 (1F FC FF FF), literals
	 * 07 + 10 bytes. ip = 2061: dv == 0, limit = min(4076, 4113) = 4076:
	 * run 2015, r = 2011 = 251 * 8 + 3: 1B FC FF FB. ip = 4076: 20
	 * pending zeros: 00 02 + 20 zeros.
	 */
	g_lit_next = 0x21;
	g_begin("L10 Z4086 v1", 1);
	g_in_lit(10);
	g_in_zero(4086);
	G_OUT(0x07);
	g_out_in(0, 10);
	G_OUT(0x1f, 0xfc, 0xff, 0xff);
	G_OUT(0x1b, 0xfc, 0xff, 0xfb);
	G_OUT(0x00, 0x02);
	g_out_in(4076, 20);
	G_OUT(0x11, 0x00, 0x00);
	g_check();
}

/* ---- kernel facts ---- */

static void test_kernel_facts(void)
{
	static uint8_t page[PAGE];
	size_t clen;
	uint8_t *c;

	for (int i = 0; i < 4; i++) {
		fill_random(page, PAGE);
		c = compress_v(0, page, PAGE, &clen);
		CHECK_EQ(clen, 4116);
		/* 00, 15 x 00, 4078 - 3825 = 253: a 4096-byte literal run. */
		CHECK(c[0] == 0 && c[16] == 253 && !memcmp(c + 17, page, PAGE),
		      "incompressible v0 layout");
		free(c);
		c = compress_v(1, page, PAGE, &clen);
		CHECK_EQ(clen, 4118);
		free(c);
	}
}

/*
 * v1's worst case exceeds the kernel's lzo1x_worst_compress() (lzo.h): a
 * page of 8-byte units L1 L2 L3 X 00 00 00 00 where no probe matches costs
 * 9 bytes per unit (04-byte literal header + 4 literals, then 18 FC FF 00).
 * Probes at L1.., L2.., L3 X 0 0 and X 0 0 0 come before each zero run;
 * X 0 0 0 repeats after 255 units, so L1..L3 are chosen to make the window
 * L1 L2 L3 X hash (lzo1x_1_do_compress()'s dindex) into the same dictionary
 * slot as X 0 0 0: that slot then holds a position whose bytes differ, and
 * the probe misses.
 */
static uint32_t kernel_hash(uint32_t dv)
{
	return ((dv * 0x1824429du) >> (32 - 13)) & 0x1fff;
}

static void test_v1_worst(void)
{
	static uint8_t page[PAGE], used2[65536];
	size_t clen;
	uint8_t *c;

	memset(page, 0, PAGE);
	memset(used2, 0, sizeof(used2));
	for (unsigned u = 0; u < PAGE / 8; u++) {
		uint32_t x = 1 + u % 255;

		for (;;) {
			uint64_t r = check_rand(&rng);
			uint32_t l1 = 1 + r % 255, l2 = 1 + (r >> 16) % 255;
			uint32_t l3 = 1 + (r >> 32) % 255;
			uint32_t w0 = l1 | l2 << 8 | l3 << 16 | x << 24;

			if (kernel_hash(w0) != kernel_hash(x) || used2[l3 | x << 8])
				continue;
			used2[l3 | x << 8] = 1;
			page[u * 8] = (uint8_t)l1;
			page[u * 8 + 1] = (uint8_t)l2;
			page[u * 8 + 2] = (uint8_t)l3;
			page[u * 8 + 3] = (uint8_t)x;
			break;
		}
	}
	c = compress_v(1, page, PAGE, &clen);
	printf("crafted page: v1 %zu bytes (kernel bound %d, ours %d)\n", clen,
	       KERNEL_WORST(PAGE), (int)UZ_LZO1X_WORST(PAGE));
	CHECK(clen > KERNEL_WORST(PAGE), "crafted page: v1 only %zu bytes", clen);
	free(c);
	roundtrip(page, PAGE, "crafted v1 worst case");
}

/* ---- decoder: handcrafted streams and error codes ---- */

static void expect_decode(const char *name, const uint8_t *s, size_t n,
			  size_t cap, int want_ret, const char *want, size_t want_len)
{
	size_t olen;
	uint8_t *d;
	int ret = decompress_cap(s, n, cap, &d, &olen);

	CHECK(ret == want_ret, "%s: ret %d, want %d", name, ret, want_ret);
	if (want) {
		CHECK(olen == want_len && !memcmp(d, want, want_len),
		      "%s: output %zu bytes", name, olen);
	}
	free(d);
}

static void test_decoder_vectors(void)
{
	/* first byte 17 + 5: five literals; M2 len 3 dist 1 (40 00); eof */
	static const uint8_t s1[] = { 22, 'a', 'b', 'c', 'd', 'e', 0x40, 0x00,
				      0x11, 0, 0 };
	/* 3 literals (state 3) then a 2-byte M1 match dist 3 (t = 2 << 2), eof */
	static const uint8_t s2[] = { 20, 'x', 'y', 'z', 0x08, 0x00, 0x11, 0, 0 };
	/* M2 at distance 16 with only 5 bytes out: lookbehind */
	static const uint8_t s3[] = { 22, 'a', 'b', 'c', 'd', 'e', 0x5c, 0x01,
				      0x11, 0, 0 };
	/* end marker with length 4 (0x12): error */
	static const uint8_t s4[] = { 22, 'a', 'b', 'c', 'd', 'e', 0x12, 0, 0 };
	/* bytes after the end marker */
	static const uint8_t s5[] = { 22, 'a', 'b', 'c', 'd', 'e', 0x11, 0, 0, 0 };
	/* v1 zero run of 4 + S = 2 trailing literals: 18 FE FF 00 */
	static const uint8_t s6[] = { 0x11, 0x01, 22, 'a', 'b', 'c', 'd', 'e',
				      0x18, 0xfe, 0xff, 0x00, 'f', 'g', 0x11, 0, 0 };
	/* the same zero-run bytes in a v0 stream are an M4 (lookbehind) */
	static const uint8_t s7[] = { 22, 'a', 'b', 'c', 'd', 'e',
				      0x18, 0xfe, 0xff, 0x00, 'f', 'g', 0x11, 0, 0 };
	/* M3 long length: 20 00 01 = 33 + 255 + 1 = 289 bytes, dist 1 */
	static const uint8_t s8[] = { 18, 'q', 0x20, 0x00, 0x01, 0x00, 0x00,
				      0x11, 0, 0 };
	/* literal run 00 00 01: 18 + 255 + 1 = 274 bytes (truncated input) */
	static const uint8_t s9[] = { 0x00, 0x00, 0x01, 'a', 'b', 'c' };
	char want[300];

	expect_decode("s1", s1, sizeof(s1), 64, UZ_LZO_E_OK, "abcdeeee", 8);
	expect_decode("s1 short", s1, sizeof(s1), 7, UZ_LZO_E_OUTPUT_OVERRUN, NULL, 0);
	expect_decode("s2", s2, sizeof(s2), 64, UZ_LZO_E_OK, "xyzxy", 5);
	expect_decode("s3", s3, sizeof(s3), 64, UZ_LZO_E_LOOKBEHIND_OVERRUN, NULL, 0);
	expect_decode("s4", s4, sizeof(s4), 64, UZ_LZO_E_ERROR, NULL, 0);
	expect_decode("s5", s5, sizeof(s5), 64, UZ_LZO_E_INPUT_NOT_CONSUMED,
		      "abcde", 5);
	memcpy(want, "abcde\0\0\0\0fg", 11);
	expect_decode("s6", s6, sizeof(s6), 64, UZ_LZO_E_OK, want, 11);
	expect_decode("s6 short", s6, sizeof(s6), 10, UZ_LZO_E_OUTPUT_OVERRUN, NULL, 0);
	expect_decode("s7", s7, sizeof(s7), 1 << 17, UZ_LZO_E_LOOKBEHIND_OVERRUN,
		      NULL, 0);
	want[0] = 'q';
	memset(want + 1, 'q', 289);
	expect_decode("s8", s8, sizeof(s8), 300, UZ_LZO_E_OK, want, 290);
	expect_decode("s9", s9, sizeof(s9), 300, UZ_LZO_E_INPUT_OVERRUN, NULL, 0);
	expect_decode("len 0", s1, 0, 64, UZ_LZO_E_INPUT_OVERRUN, NULL, 0);
	expect_decode("len 2", s1, 2, 64, UZ_LZO_E_INPUT_OVERRUN, NULL, 0);
	expect_decode("eof only", (const uint8_t *)"\x11\0\0", 3, 0, UZ_LZO_E_OK,
		      "", 0);
}

/* ---- hostile input ---- */

static void hostile_stream(const uint8_t *s, size_t n, size_t cap, const char *what)
{
	uint8_t *buf = malloc(n);
	size_t olen;
	int ret;

	REQUIRE(buf != NULL, "malloc");
	/*
	 * Every prefix (for long streams: the first and last 3000 and a
	 * sample). A proper prefix can only fail, except that one shorter than
	 * 5 bytes loses the v1 header: "11 01 00" reads as an empty v0 stream.
	 */
	for (size_t k = 0; k < n; k++) {
		if (n > 6000 && k >= 3000 && k + 3000 < n && rnd(16))
			continue;
		ret = decompress_cap(s, k, cap, NULL, &olen);
		CHECK(ret != UZ_LZO_E_OK || (k < 5 && olen == 0),
		      "%s: prefix %zu of %zu decoded", what, k, n);
		CHECK(olen <= cap, "%s: olen", what);
	}
	/* random byte flips */
	for (int i = 0; i < 300; i++) {
		memcpy(buf, s, n);
		for (unsigned f = 1 + rnd(3); f; f--)
			buf[rnd((unsigned)n)] ^= (uint8_t)(1 + rnd(255));
		ret = decompress_cap(buf, n, cap, NULL, &olen);
		CHECK(ret <= 0 && olen <= cap, "%s: flip ret %d", what, ret);
	}
	free(buf);
}

static void test_hostile(void)
{
	static uint8_t page[PAGE];
	uint8_t *buf;
	size_t olen, n;

	for (unsigned kind = 0; kind < NKINDS; kind++) {
		for (int v = 0; v < 2; v++) {
			size_t clen;
			uint8_t *c;

			fill_kind(page, PAGE, kind);
			c = compress_v(v, page, PAGE, &clen);
			hostile_stream(c, clen, PAGE, "page stream");
			free(c);
		}
	}
	/* liblzo2 lzo1x_999 streams carry every instruction */
	n = 40 * 1024;
	buf = malloc(n);
	REQUIRE(buf != NULL, "malloc");
	for (int i = 0; i < 3; i++) {
		uint8_t *c = malloc(n + n / 16 + 67);
		lzo_uint clen;

		REQUIRE(c != NULL, "malloc");
		fill_kind(buf, n, 5);
		for (size_t k = 20001; k < n; k++)
			if (rnd(8))
				buf[k] = buf[k - 20000 - rnd(2)];
		REQUIRE(lzo1x_999_compress(buf, n, c, &clen, lzo2_999_wrkmem) == LZO_E_OK,
			"lzo1x_999");
		if (i == 0)
			hostile_stream(c, clen, n, "999 stream");
		else
			hostile_stream(c, UZ_MIN(clen, (size_t)3000), n, "999 head");
		free(c);
	}
	free(buf);
	/* purely random input, with and without a v1 header */
	for (int i = 0; i < 20000; i++) {
		size_t l = rnd(i < 10000 ? 64 : 600);
		uint8_t in[600];

		fill_random(in, l);
		if (l >= 2 && rnd(2)) {
			in[0] = 0x11;
			in[1] = 0x01;
		}
		decompress_cap(in, l, rnd(2) ? PAGE : rnd(64), NULL, &olen);
	}
}

/* ---- page files ---- */

static void test_page_file(const char *path)
{
	static uint8_t page[PAGE];
	FILE *f = fopen(path, "rb");
	unsigned long n = 0;
	char what[300];

	CHECK(f != NULL, "%s: %s", path, strerror(errno));
	if (!f)
		return;
	while (fread(page, 1, PAGE, f) == PAGE) {
		snprintf(what, sizeof(what), "%s page %lu", path, n);
		roundtrip(page, PAGE, what);
		n++;
	}
	fclose(f);
	printf("%s: %lu pages\n", path, n);
}

int main(int argc, char **argv)
{
	const char *env = getenv("UZRAM_PAGEFILES");

	rng = check_seed();
	REQUIRE(lzo_init() == LZO_E_OK, "lzo_init");
	wrkmem = aligned_alloc(64, UZ_LZO1X_1_MEM_COMPRESS);
	lzo2_wrkmem = malloc(LZO1X_1_MEM_COMPRESS);
	lzo2_999_wrkmem = malloc(LZO1X_999_MEM_COMPRESS);
	REQUIRE(wrkmem && lzo2_wrkmem && lzo2_999_wrkmem, "malloc");

	test_golden();
	test_kernel_facts();
	test_v1_worst();
	test_decoder_vectors();
	test_lengths();
	test_m4();
	test_m4_rle_ambiguity();
	test_zero_run_sweep();
	test_generated_pages();
	test_hostile();

	for (int i = 1; i < argc; i++)
		test_page_file(argv[i]);
	if (env && *env) {
		char *list = strdup(env), *save = NULL;

		REQUIRE(list != NULL, "strdup");
		for (char *p = strtok_r(list, ":", &save); p;
		     p = strtok_r(NULL, ":", &save))
			test_page_file(p);
		free(list);
	}
	printf("round-tripped %lu inputs\n", pages_tested);
	/* liblzo2 streams exercised every instruction of our decoder */
	for (int i = 0; i < OP_NR; i++) {
		printf("liblzo2 streams: %-13s %lu\n", op_names[i], lzo2_ops[i]);
		CHECK(i == OP_RLE ? lzo2_ops[i] == 0 : lzo2_ops[i] > 0,
		      "liblzo2 streams: %s count %lu", op_names[i], lzo2_ops[i]);
	}

	free(wrkmem);
	free(lzo2_wrkmem);
	free(lzo2_999_wrkmem);
	return check_summary_named("test_lzo");
}
