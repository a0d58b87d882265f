/*
 * test_842.c - the 842 codec of lib/842/sw842.c.
 *
 *  - golden vectors: streams derived by hand from the format description
 *    (the comment at the top of lib/842/sw842.c), checked both ways: the encoder
 *    must produce exactly these bytes and the decoder must read them back;
 *  - hand-built decoder streams for what our encoder never writes or writes
 *    rarely: ring wrap-around of every index kind, indices after a SHORT_DATA
 *    in mid-stream, REPEAT of a block just copied, invalid opcodes, indices
 *    past the output, trailing bytes;
 *  - round trips over seeded generated pages (zero, same-filled, text,
 *    structured binary, small alphabets, random, mixtures, long periods) and
 *    odd lengths, with exact-capacity and one-byte-short checks both ways;
 *  - page files named in argv or in UZRAM_PAGEFILES (colon-separated),
 *    round-tripped page by page;
 *  - every prefix of some streams, bit flips and random bytes: the decoder
 *    returns an error (or, for flips in padding, the same data) and never
 *    touches memory it should not (run under ASan by `make SAN=...`).
 *
 * The reference CRC here is the bit-at-a-time definition, independent of
 * the library's table-driven one.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "842/sw842.h"

#define PAGE	4096
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)	((a) < (b) ? (a) : (b))

static void *wrk;
static uint64_t rng;

/* ------------------------------------------------------------------ */
/* Helpers.                                                            */

/* CRC-32, polynomial 0x04c11db7, MSB first, register from 0, no xor. */
static uint32_t ref_crc(const uint8_t *p, size_t n)
{
	uint32_t r = 0;

	for (size_t i = 0; i < n; i++) {
		r ^= (uint32_t)p[i] << 24;
		for (int k = 0; k < 8; k++)
			r = (r & 0x80000000u) ? (r << 1) ^ 0x04c11db7u : r << 1;
	}
	return r;
}

/* The largest stream our encoder can write for n bytes. */
static size_t bound(size_t n)
{
	size_t bits = 69 * (n / 8) + (n % 8 ? 8 + 8 * (n % 8) : 0) + 37;

	return ((bits + 7) / 8 + 7) & ~(size_t)7;
}

/* A stream builder: fields appended MSB first. */
struct sb {
	uint8_t buf[4 * PAGE];
	size_t bits;
};

static void sb_init(struct sb *s)
{
	memset(s, 0, sizeof(*s));
}

static void sb_put(struct sb *s, uint64_t v, unsigned int n)
{
	while (n--) {
		if ((v >> n) & 1)
			s->buf[s->bits / 8] |= (uint8_t)(0x80 >> (s->bits % 8));
		s->bits++;
	}
}

/* END, the CRC of data, and padding to 8 bytes; returns the length. */
static size_t sb_end(struct sb *s, const uint8_t *data, size_t n)
{
	sb_put(s, 0x1e, 5);
	sb_put(s, ref_crc(data, n), 32);
	return (((s->bits + 7) / 8) + 7) & ~(size_t)7;
}

static void dump(const char *what, const uint8_t *p, size_t n)
{
	fprintf(stderr, "%s (%zu):", what, n);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, " %02x", p[i]);
	fputc('\n', stderr);
}

static int check_encoding(const char *name, const uint8_t *in, size_t n,
			  const uint8_t *want, size_t wlen)
{
	static uint8_t got[4 * PAGE], back[4 * PAGE];
	size_t glen = sizeof(got), blen = sizeof(back);
	int ret = uz_sw842_compress(in, n, got, &glen, wrk);

	CHECK(ret == 0, "%s: compress returned %d", name, ret);
	CHECK(glen == wlen && !memcmp(got, want, wlen),
	      "%s: encoding differs from the hand-derived one", name);
	if (glen != wlen || memcmp(got, want, wlen)) {
		dump("want", want, wlen);
		dump("got ", got, glen);
	}
	ret = uz_sw842_decompress(want, wlen, back, &blen);
	CHECK(ret == 0 && blen == n && (!n || !memcmp(back, in, n)),
	      "%s: decoding the hand-derived stream failed (%d)", name, ret);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Golden vectors.                                                     */

static void test_golden(void)
{
	/*
	 * Empty input: just END (11110) and the CRC of nothing (0, the
	 * register's start value), 37 bits:
	 *   11110000 00000000 00000000 00000000 00000 + 3 pad bits
	 * = f0 00 00 00 00, padded with zero bytes to 8.
	 */
	static const uint8_t empty[] = { 0xf0, 0, 0, 0, 0, 0, 0, 0 };

	/*
	 * One byte 0x01: shorter than 8, so SHORT_DATA (11101), count 1
	 * (001), the byte (00000001), END (11110), CRC.  The CRC of the
	 * single byte 0x01 from register 0: the register becomes 0x01000000,
	 * seven shifts bring the 1 to bit 31 without a feedback, the eighth
	 * shifts it out and feeds the polynomial back: 0x04c11db7.
	 *   11101001 00000001 11110000 00100110 00001000 11101101 10111000
	 *   |op ||c| |byte  | |END||-- crc 00000100 11000001 00011101 10110111
	 * = e9 01 f0 26 08 ed b8, 53 bits, padded to 8 bytes.
	 */
	static const uint8_t one[] = { 0xe9, 0x01, 0xf0, 0x26, 0x08, 0xed,
				       0xb8, 0x00 };
	static const uint8_t one_in[] = { 0x01 };

	/*
	 * A zero page: 512 zero blocks.  Block 0 is ZEROS (11100); blocks
	 * 1..511 repeat it: runs of 64 blocks are REPEAT with field 63
	 * (11011 111111) and seven such runs cover blocks 1..448; blocks
	 * 449..511 (63 blocks) are REPEAT 62 (11011 111110).  Then END and
	 * the CRC of zeros from register 0, which stays 0.  130 bits:
	 *   11100 11011111111 (x7) 11011111110 11110 0 (x32)
	 *   11100110 11111111 11011111 11111011 11111111 01111111 11101111
	 *   11111101 11111111 10111111 11110111 11110111 10000000 ...
	 * = e6 ff df fb ff 7f ef fd ff bf f7 f7 80, then zeros: 130 bits are
	 * 17 bytes, padded to 24.
	 */
	static const uint8_t zero_page[24] = { 0xe6, 0xff, 0xdf, 0xfb, 0xff,
					       0x7f, 0xef, 0xfd, 0xff, 0xbf,
					       0xf7, 0xf7, 0x80 };
	static uint8_t zeros[PAGE];
	static uint8_t in[600];
	struct sb s;
	size_t len;

	check_encoding("empty", NULL, 0, empty, sizeof(empty));
	check_encoding("one byte", one_in, 1, one, sizeof(one));
	check_encoding("zero page", zeros, PAGE, zero_page, sizeof(zero_page));

	/*
	 * 59 bytes exercising each kind of op:
	 *   block 0 @0   11 22 33 44 55 66 77 88   nothing earlier: D8
	 *            op 00000, 64 bits of data
	 *   block 1 @8   99 aa bb cc dd ee ff 01   no match: D8
	 *   block 2 @16  11 22 33 44 55 66 77 88   same 8 bytes as block 0
	 *            (I8 entry 0/8 = 0): op 0x19 I8, index 0
	 *   block 3 @24  55 66 77 88 | 99 aa 12 34
	 *            first half 55667788 is in I4 entries 4/4 = 1 and
	 *            20/4 = 5; the latest is 5.  Second half: no I4 match;
	 *            99aa is I2 entry 8/2 = 4, 1234 is nowhere: I2 D2.
	 *            op 5 * 4 (I4) + 2 (I2 D2) = 0x16 (I4 I2 D2):
	 *            I4 5 (9 bits), I2 4 (8 bits), data 1234 (16 bits)
	 *   block 4 @32  zeros: ZEROS (11100)
	 *   block 5 @40  zeros again: a run of one repeat...
	 *   block 6 @48  77 88 ab cd | 11 22 33 44
	 *            ...ended here: REPEAT with field 0.  Then the block:
	 *            7788 is I2 entry 6/2 = 3, 22/2 = 11 and 26/2 = 13:
	 *            latest 13; abcd nowhere: I2 D2.  11223344 is I4
	 *            entry 0 and 16/4 = 4: latest 4.
	 *            op 5 * 2 (I2 D2) + 4 (I4) = 0x0e (I2 D2 I4):
	 *            I2 13, data abcd, I4 4
	 *   tail @56     de ad be: SHORT_DATA, count 3, three bytes
	 *   END, CRC of the 59 bytes.
	 */
	{
		static const uint8_t data[59] = {
			0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
			0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01,
			0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
			0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0x12, 0x34,
			0, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 0, 0,
			0x77, 0x88, 0xab, 0xcd, 0x11, 0x22, 0x33, 0x44,
			0xde, 0xad, 0xbe,
		};

		sb_init(&s);
		sb_put(&s, 0x00, 5);
		sb_put(&s, 0x1122334455667788ull, 64);
		sb_put(&s, 0x00, 5);
		sb_put(&s, 0x99aabbccddeeff01ull, 64);
		sb_put(&s, 0x19, 5);
		sb_put(&s, 0, 8);
		sb_put(&s, 0x16, 5);
		sb_put(&s, 5, 9);
		sb_put(&s, 4, 8);
		sb_put(&s, 0x1234, 16);
		sb_put(&s, 0x1c, 5);
		sb_put(&s, 0x1b, 5);
		sb_put(&s, 0, 6);
		sb_put(&s, 0x0e, 5);
		sb_put(&s, 13, 8);
		sb_put(&s, 0xabcd, 16);
		sb_put(&s, 4, 9);
		sb_put(&s, 0x1d, 5);
		sb_put(&s, 3, 3);
		sb_put(&s, 0xdeadbe, 24);
		len = sb_end(&s, data, sizeof(data));
		check_encoding("mixed ops", data, sizeof(data), s.buf, len);
	}

	/*
	 * 66 copies of one 8-byte block: D8, then a run of 65 repeats, cut
	 * at 64 (REPEAT 63) and the rest (REPEAT 0).
	 */
	for (int k = 0; k < 66; k++)
		memcpy(in + 8 * k, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	sb_init(&s);
	sb_put(&s, 0x00, 5);
	sb_put(&s, 0x0102030405060708ull, 64);
	sb_put(&s, 0x1b, 5);
	sb_put(&s, 63, 6);
	sb_put(&s, 0x1b, 5);
	sb_put(&s, 0, 6);
	len = sb_end(&s, in, 66 * 8);
	check_encoding("repeat 65", in, 66 * 8, s.buf, len);

	/*
	 * Quarters and halves, 24 bytes:
	 *   block 0 @0   0001 0002 0003 0004: nothing earlier, D8.  Now I2
	 *            entries 0..3 hold 0001 0002 0003 0004, I4 entries 0 and 1
	 *            hold 00010002 and 00030004.
	 *   block 1 @8   0003 0004 | 0002 0002: the first half is I4 entry 1;
	 *            the second is no I4 entry, but 0002 is I2 entry 1, for
	 *            both quarters: I2 I2.  op 5 * 4 (I4) + 3 (I2 I2) = 0x17
	 *            (I4 I2 I2): I4 1, I2 1, I2 1.  I2 entries 4..7 now hold
	 *            0003 0004 0002 0002.
	 *   block 2 @16  0009 0004 | 0001 0009: 0009 is nowhere, 0004 is in I2
	 *            entries 3 and 5, latest 5: D2 I2.  0001 is I2 entry 0 and
	 *            0009 nowhere (its own block does not count yet): I2 D2.
	 *            op 5 * 1 (D2 I2) + 2 (I2 D2) = 0x07 (D2 I2 I2 D2):
	 *            data 0009, I2 5, I2 0, data 0009.
	 */
	{
		static const uint8_t data[24] = {
			0, 1, 0, 2, 0, 3, 0, 4,
			0, 3, 0, 4, 0, 2, 0, 2,
			0, 9, 0, 4, 0, 1, 0, 9,
		};

		sb_init(&s);
		sb_put(&s, 0x00, 5);
		sb_put(&s, 0x0001000200030004ull, 64);
		sb_put(&s, 0x17, 5);
		sb_put(&s, 1, 9);
		sb_put(&s, 1, 8);
		sb_put(&s, 1, 8);
		sb_put(&s, 0x07, 5);
		sb_put(&s, 0x0009, 16);
		sb_put(&s, 5, 8);
		sb_put(&s, 0, 8);
		sb_put(&s, 0x0009, 16);
		len = sb_end(&s, data, sizeof(data));
		check_encoding("halves", data, sizeof(data), s.buf, len);
	}
}

/* ------------------------------------------------------------------ */
/* Hand-built streams for the decoder.                                 */

static int decode(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
		  size_t *olen)
{
	*olen = cap;
	return uz_sw842_decompress(in, n, out, olen);
}

/* Byte o of the literal prefix of the ring tests. */
static uint8_t lit(size_t o)
{
	return (uint8_t)(o * 7 + (o >> 8) * 13 + 1);
}

static void put_literal_blocks(struct sb *s, uint8_t *want, size_t blocks)
{
	for (size_t k = 0; k < blocks; k++) {
		sb_put(s, 0x00, 5);
		for (int j = 0; j < 8; j++) {
			want[8 * k + j] = lit(8 * k + j);
			sb_put(s, want[8 * k + j], 8);
		}
	}
}

static void test_decoder_streams(void)
{
	static uint8_t want[4 * PAGE], out[4 * PAGE];
	struct sb s;
	size_t len, olen, n;
	int ret;

	/*
	 * 80 literal blocks (640 bytes), then indices against a ring that
	 * has wrapped (I2: 512 bytes) or not (I4, I8: 2048 bytes).
	 */
	sb_init(&s);
	put_literal_blocks(&s, want, 80);
	n = 640;
	/*
	 * T = 640, I2 ring 512: T mod 512 = 128.  Offsets below 128 were
	 * rewritten in this lap (at 512 + off), the others are from the last
	 * one:  index 0 -> 512, 63 -> 512 + 126 = 638, 64 -> 128, 255 -> 510.
	 * op 0x12 = I2 I2 I2 I2.
	 */
	sb_put(&s, 0x12, 5);
	sb_put(&s, 0, 8);
	sb_put(&s, 63, 8);
	sb_put(&s, 64, 8);
	sb_put(&s, 255, 8);
	memcpy(want + n + 0, want + 512, 2);
	memcpy(want + n + 2, want + 638, 2);
	memcpy(want + n + 4, want + 128, 2);
	memcpy(want + n + 6, want + 510, 2);
	n += 8;
	/* T = 648 < 2048: I4 index 161 -> 644 (the last whole entry), 0 -> 0. */
	sb_put(&s, 0x18, 5);
	sb_put(&s, 161, 9);
	sb_put(&s, 0, 9);
	memcpy(want + n, want + 644, 4);
	memcpy(want + n + 4, want, 4);
	n += 8;
	/* T = 656: I8 index 81 -> 648, the block just made. */
	sb_put(&s, 0x19, 5);
	sb_put(&s, 81, 8);
	memcpy(want + n, want + 648, 8);
	n += 8;
	/* SHORT_DATA in mid-stream: 3 bytes; the output is now 667 bytes. */
	sb_put(&s, 0x1d, 5);
	sb_put(&s, 3, 3);
	sb_put(&s, 0xa1a2a3, 24);
	want[n++] = 0xa1;
	want[n++] = 0xa2;
	want[n++] = 0xa3;
	/*
	 * Indices now see T = 667 rounded down to 664: I8 index 82 -> 656,
	 * whose 8 bytes end at 664 (valid); written at 667.
	 */
	sb_put(&s, 0x19, 5);
	sb_put(&s, 82, 8);
	memcpy(want + n, want + 656, 8);
	n += 8;
	/* REPEAT 1: the last 8 bytes (667..674) twice more. */
	sb_put(&s, 0x1b, 5);
	sb_put(&s, 1, 6);
	memcpy(want + n, want + n - 8, 8);
	n += 8;
	memcpy(want + n, want + n - 8, 8);
	n += 8;
	/* D4 I4 (op 0x04): data, then I4 index 1 -> 4. */
	sb_put(&s, 0x04, 5);
	sb_put(&s, 0xc0c1c2c3, 32);
	sb_put(&s, 1, 9);
	memcpy(want + n, "\xc0\xc1\xc2\xc3", 4);
	memcpy(want + n + 4, want + 4, 4);
	n += 8;
	len = sb_end(&s, want, n);
	ret = decode(s.buf, len, out, sizeof(out), &olen);
	CHECK(ret == 0 && olen == n && !memcmp(out, want, n),
	      "ring stream: ret %d olen %zu want %zu", ret, olen, n);
	/* Trailing bytes after the stream are ignored. */
	ret = decode(s.buf, len + 64, out, sizeof(out), &olen);
	CHECK(ret == 0 && olen == n, "trailing bytes: ret %d", ret);
	/* The exact output capacity suffices, one byte less does not. */
	ret = decode(s.buf, len, out, n, &olen);
	CHECK(ret == 0 && olen == n, "exact capacity: ret %d", ret);
	ret = decode(s.buf, len, out, n - 1, &olen);
	CHECK_EQ(ret, -ENOSPC);
	CHECK_EQ(olen, 0);

	/*
	 * 300 literal blocks (2400 bytes): the I8 and I4 rings (2048 bytes)
	 * have wrapped.  T = 2400, T mod 2048 = 352: I8 index 0 -> 2048.
	 * T = 2408 (mod 2048 = 360): I8 index 44 (offset 352 < 360) ->
	 * 2048 + 352 = 2400, the block just made.  T = 2416 (368): I8 index
	 * 46 (368, not below 368) -> 368.  T = 2424 (376): I4 I4 with
	 * index 93 (372 < 376) -> 2420 and 94 (376) -> 376.
	 */
	sb_init(&s);
	put_literal_blocks(&s, want, 300);
	n = 2400;
	sb_put(&s, 0x19, 5);
	sb_put(&s, 0, 8);
	memcpy(want + n, want + 2048, 8);
	n += 8;
	sb_put(&s, 0x19, 5);
	sb_put(&s, 44, 8);
	memcpy(want + n, want + 2400, 8);
	n += 8;
	sb_put(&s, 0x19, 5);
	sb_put(&s, 46, 8);
	memcpy(want + n, want + 368, 8);
	n += 8;
	sb_put(&s, 0x18, 5);
	sb_put(&s, 93, 9);
	sb_put(&s, 94, 9);
	memcpy(want + n, want + 2420, 4);
	memcpy(want + n + 4, want + 376, 4);
	n += 8;
	len = sb_end(&s, want, n);
	ret = decode(s.buf, len, out, sizeof(out), &olen);
	CHECK(ret == 0 && olen == n && !memcmp(out, want, n),
	      "wrapped I8/I4 stream: ret %d olen %zu", ret, olen);

	/* Invalid streams. */
	struct {
		const char *what;
		unsigned int blocks;	/* literal blocks first */
		uint32_t op, f1;
		unsigned int b1;
		uint32_t f2;
		unsigned int b2;
	} bad[] = {
		{ "opcode 0x1a", 1, 0x1a, 0, 0, 0, 0 },
		{ "opcode 0x1f", 1, 0x1f, 0, 0, 0, 0 },
		{ "REPEAT first", 0, 0x1b, 0, 6, 0, 0 },
		{ "SHORT_DATA of 0", 1, 0x1d, 0, 3, 0, 0 },
		{ "I8 first", 0, 0x19, 0, 8, 0, 0 },
		{ "I8 past the end", 3, 0x19, 3, 8, 0, 0 },
		{ "I4 past the end", 3, 0x18, 5, 9, 6, 9 },
		{ "I2 past the end", 1, 0x12, 4, 8, 0, 8 },
		{ "I2 into its own block", 1, 0x13, 0, 8, 4, 8 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		sb_init(&s);
		put_literal_blocks(&s, want, bad[i].blocks);
		n = 8 * bad[i].blocks;
		sb_put(&s, bad[i].op, 5);
		if (bad[i].b1)
			sb_put(&s, bad[i].f1, bad[i].b1);
		if (bad[i].b2)
			sb_put(&s, bad[i].f2, bad[i].b2);
		/* Whatever the op would make, pad with END/CRC and zeros. */
		len = sb_end(&s, want, n) + 16;
		ret = decode(s.buf, len, out, sizeof(out), &olen);
		CHECK(ret == -EINVAL, "%s: ret %d", bad[i].what, ret);
	}

	/* A wrong CRC, and a stream without END. */
	sb_init(&s);
	put_literal_blocks(&s, want, 4);
	sb_put(&s, 0x1e, 5);
	sb_put(&s, ref_crc(want, 32) ^ 0x100, 32);
	ret = decode(s.buf, 48, out, sizeof(out), &olen);
	CHECK_EQ(ret, -EINVAL);
	sb_init(&s);
	put_literal_blocks(&s, want, 4);
	ret = decode(s.buf, (s.bits + 7) / 8, out, sizeof(out), &olen);
	CHECK_EQ(ret, -EINVAL);

	/* Output too small for ZEROS, REPEAT, SHORT_DATA, a template. */
	sb_init(&s);
	sb_put(&s, 0x1c, 5);
	sb_put(&s, 0x1b, 5);
	sb_put(&s, 2, 6);
	sb_put(&s, 0x1d, 5);
	sb_put(&s, 2, 3);
	sb_put(&s, 0x0505, 16);
	sb_put(&s, 0x00, 5);
	sb_put(&s, 0x0102030405060708ull, 64);
	memset(want, 0, 32);
	want[32] = want[33] = 5;
	memcpy(want + 34, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	len = sb_end(&s, want, 42);
	for (size_t cap = 0; cap <= 42; cap++) {
		ret = decode(s.buf, len, out, cap, &olen);
		if (cap < 42)
			CHECK(ret == -ENOSPC, "cap %zu: ret %d", cap, ret);
		else
			CHECK(ret == 0 && olen == 42 && !memcmp(out, want, 42),
			      "cap %zu: ret %d", cap, ret);
	}

	/* Bad arguments. */
	olen = 8;
	CHECK_EQ(uz_sw842_decompress(NULL, 8, out, &olen), -EINVAL);
	olen = 8;
	CHECK_EQ(uz_sw842_decompress(s.buf, len, NULL, &olen), -EINVAL);
	CHECK_EQ(uz_sw842_decompress(s.buf, len, out, NULL), -EINVAL);
	olen = 0;
	CHECK_EQ(uz_sw842_decompress(NULL, 0, NULL, &olen), -EINVAL);
	olen = sizeof(out);
	CHECK_EQ(uz_sw842_compress(NULL, 8, out, &olen, wrk), -EINVAL);
	olen = sizeof(out);
	CHECK_EQ(uz_sw842_compress(want, 8, NULL, &olen, wrk), -EINVAL);
	CHECK_EQ(uz_sw842_compress(want, 8, out, NULL, wrk), -EINVAL);
	olen = sizeof(out);
	CHECK_EQ(uz_sw842_compress(want, 8, out, &olen, NULL), -EINVAL);
	olen = sizeof(out);
	CHECK_EQ(uz_sw842_compress(want, 8, out, &olen, (char *)wrk + 1),
		 -EINVAL);
}

/* ------------------------------------------------------------------ */
/* Generated pages.                                                    */

static uint64_t rnd(void)
{
	return check_rand(&rng);
}

static const char *const words[] = {
	"the", "of", "zram", "page", "swap", "compress", "memory", "kernel",
	"struct", "return", "int", "static", "void", "if", "else", "for",
	"while", "NULL", "size_t", "uint64_t", "{", "}", ";", "(", ")", "842",
};

static void gen_text(uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		const char *w = words[rnd() % ARRAY_SIZE(words)];
		size_t l = strlen(w);

		for (size_t j = 0; j < l && i < n; j++)
			p[i++] = (uint8_t)w[j];
		if (i < n)
			p[i++] = rnd() % 9 ? ' ' : '\n';
	}
}

static void gen_struct(uint8_t *p, size_t n)
{
	uint64_t base = 0x00007f0000000000ull | (rnd() & 0xfffff000);
	size_t i = 0;

	while (i < n) {
		uint8_t rec[24];
		uint64_t ptr = base + (rnd() % 64) * 64;
		uint32_t cnt = (uint32_t)(rnd() % 5);
		uint16_t flags = (uint16_t)(0x8000 >> (rnd() % 3));
		uint16_t type = (uint16_t)(rnd() % 2);
		uint64_t tail = rnd() % 4 ? 0 : rnd();

		memcpy(rec, &ptr, 8);
		memcpy(rec + 8, &cnt, 4);
		memcpy(rec + 12, &flags, 2);
		memcpy(rec + 14, &type, 2);
		memcpy(rec + 16, &tail, 8);
		for (size_t j = 0; j < sizeof(rec) && i < n; j++)
			p[i++] = rec[j];
	}
}

static void gen_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)rnd();
}

/* Small alphabets of 2-, 4- or 8-byte values: many index hits. */
static void gen_alphabet(uint8_t *p, size_t n)
{
	unsigned int w = 2u << (rnd() % 3), k = 2 + (unsigned int)(rnd() % 30);
	uint64_t vals[32];

	for (unsigned int i = 0; i < k; i++)
		vals[i] = rnd();
	for (size_t i = 0; i < n; i += w) {
		uint64_t v = vals[rnd() % k];

		memcpy(p + i, &v, MIN(w, n - i));
	}
}

/* A period longer than the rings: old copies have left them. */
static void gen_period(uint8_t *p, size_t n)
{
	size_t period = 8 * (1 + rnd() % 600) + (rnd() % 2) * 2;

	gen_random(p, MIN(period, n));
	for (size_t i = period; i < n; i++)
		p[i] = p[i - period];
}

static void gen_kind(uint8_t *p, size_t n, unsigned int kind);

static void gen_mix(uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t want = 64 + rnd() % 1024;	/* MIN evaluates twice */
		size_t l = MIN(want, n - i);

		if (i >= 64 && rnd() % 4 == 0) {
			size_t from = rnd() % (i - 32);

			l = MIN(l, i - from);
			memmove(p + i, p + from, l);
		} else {
			gen_kind(p + i, l, (unsigned int)(rnd() % 8));
		}
		i += l;
	}
}

#define KINDS 10
static const char *const kind_names[KINDS] = {
	"zero", "same byte", "same 8 bytes", "text", "struct", "random",
	"alphabet", "period", "sparse", "mix",
};

static void gen_kind(uint8_t *p, size_t n, unsigned int kind)
{
	uint64_t v;

	switch (kind) {
	case 0:
		memset(p, 0, n);
		break;
	case 1:
		memset(p, (int)(rnd() & 0xff), n);
		break;
	case 2:
		v = rnd();
		for (size_t i = 0; i < n; i++)
			p[i] = (uint8_t)(v >> (8 * (i % 8)));
		break;
	case 3:
		gen_text(p, n);
		break;
	case 4:
		gen_struct(p, n);
		break;
	case 5:
		gen_random(p, n);
		break;
	case 6:
		gen_alphabet(p, n);
		break;
	case 7:
		gen_period(p, n);
		break;
	case 8:
		memset(p, 0, n);
		for (size_t k = rnd() % 16; k > 0 && n >= 8; k--) {
			v = rnd();
			memcpy(p + (rnd() % (n / 8)) * 8, &v, 8);
		}
		break;
	default:
		gen_mix(p, n);
		break;
	}
}

static size_t total_in, total_out;

/* Round trip with capacity checks; returns the compressed length. */
static size_t roundtrip(const uint8_t *in, size_t n, const char *what,
			bool edges)
{
	static uint8_t c[5 * PAGE], c2[5 * PAGE];
	static uint8_t d[4 * PAGE];
	size_t clen = bound(n), c2len, dlen = n;
	int ret;

	if (clen > sizeof(c) || n > sizeof(d)) {
		CHECK(0, "%s: %zu bytes is too long for the test", what, n);
		return 0;
	}
	ret = uz_sw842_compress(in, n, c, &clen, wrk);
	CHECK(ret == 0, "%s (%zu bytes): compress returned %d", what, n, ret);
	if (ret)
		return 0;
	CHECK(clen % 8 == 0 && clen <= bound(n),
	      "%s: compressed length %zu", what, clen);
	ret = uz_sw842_decompress(c, clen, d, &dlen);
	CHECK(ret == 0 && dlen == n && (!n || !memcmp(d, in, n)),
	      "%s (%zu bytes): round trip failed: ret %d len %zu", what, n,
	      ret, dlen);
	total_in += n;
	total_out += clen;
	if (!edges)
		return clen;

	/* Same output again with an exact capacity; ENOSPC one byte short. */
	c2len = clen;
	ret = uz_sw842_compress(in, n, c2, &c2len, wrk);
	CHECK(ret == 0 && c2len == clen && !memcmp(c, c2, clen),
	      "%s: exact-capacity compress differs (%d)", what, ret);
	c2len = clen - 1;
	ret = uz_sw842_compress(in, n, c2, &c2len, wrk);
	CHECK(ret == -ENOSPC && c2len == 0,
	      "%s: capacity %zu of %zu: ret %d", what, clen - 1, clen, ret);
	if (n) {
		dlen = n - 1;
		ret = uz_sw842_decompress(c, clen, d, &dlen);
		CHECK(ret == -ENOSPC, "%s: decode into %zu: ret %d", what,
		      n - 1, ret);
	}
	return clen;
}

static void test_generated(void)
{
	static uint8_t buf[4 * PAGE];
	static const size_t lens[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16,
				       17, 100, 511, 512, 513, 4095, 4096,
				       4097, 8192, 16384 };
	unsigned int pages = check_long() ? 4000 : 600;
	size_t sum[KINDS] = { 0 }, cnt[KINDS] = { 0 };

	for (unsigned int i = 0; i < pages; i++) {
		unsigned int kind = i % KINDS;
		char what[64];

		gen_kind(buf, PAGE, kind);
		snprintf(what, sizeof(what), "page %u (%s)", i,
			 kind_names[kind]);
		sum[kind] += roundtrip(buf, PAGE, what, i < 100);
		cnt[kind]++;
	}
	for (unsigned int k = 0; k < KINDS; k++)
		printf("  %-12s mean compressed %6.1f bytes of %d\n",
		       kind_names[k], (double)sum[k] / (double)cnt[k], PAGE);

	for (size_t l = 0; l < ARRAY_SIZE(lens); l++)
		for (unsigned int kind = 0; kind < KINDS; kind++) {
			char what[64];

			gen_kind(buf, lens[l], kind);
			snprintf(what, sizeof(what), "length %zu (%s)", lens[l],
				 kind_names[kind]);
			roundtrip(buf, lens[l], what, true);
		}
	for (unsigned int i = 0; i < 300; i++) {
		size_t n = rnd() % (3 * PAGE);

		gen_kind(buf, n, (unsigned int)(rnd() % KINDS));
		roundtrip(buf, n, "random length", true);
	}

	/* The same wrkmem across inputs leaves nothing behind. */
	{
		static uint8_t a[PAGE], c1[8192], c2[8192];
		size_t l1 = sizeof(c1), l2 = sizeof(c2);

		gen_kind(a, PAGE, 3);
		CHECK_EQ(uz_sw842_compress(a, PAGE, c1, &l1, wrk), 0);
		gen_kind(buf, PAGE, 9);
		l2 = sizeof(c2);
		CHECK_EQ(uz_sw842_compress(buf, PAGE, c2, &l2, wrk), 0);
		l2 = sizeof(c2);
		CHECK_EQ(uz_sw842_compress(a, PAGE, c2, &l2, wrk), 0);
		CHECK(l1 == l2 && !memcmp(c1, c2, l1),
		      "compressing again after another input differs");
	}
}

/* ------------------------------------------------------------------ */
/* A reference encoder: the kernel's choices by brute force.           */

/*
 * The latest position q in [from, to) whose n-byte value (at in + n * q)
 * equals the n bytes at v, as a ring entry (q mod entries), or -1.
 */
static int ref_find(const uint8_t *in, const uint8_t *v, unsigned int n,
		    long from, long to, unsigned int entries)
{
	for (long q = to - 1; q >= from && q >= 0; q--)
		if (!memcmp(in + (size_t)q * n, v, n))
			return (int)(q % entries);
	return -1;
}

/*
 * Encode as the format description says the kernel does, with linear
 * scans of the ring windows (I8: the last 256 blocks; I4: the last 512
 * half blocks; I2: the last 256 quarters) instead of hash chains.
 */
static size_t ref_encode(const uint8_t *in, size_t n, struct sb *s)
{
	size_t blocks = n / 8;
	unsigned int run = 0;

	sb_init(s);
	for (size_t k = 0; k < blocks; k++) {
		const uint8_t *p = in + 8 * k;
		long kk = (long)k;
		int i8, i4, a, b;
		unsigned int h[2];
		uint64_t f[2];
		unsigned int nb[2];

		if (k && !memcmp(p, p - 8, 8)) {
			if (++run == 64) {
				sb_put(s, 0x1b, 5);
				sb_put(s, 63, 6);
				run = 0;
			}
			continue;
		}
		if (run) {
			sb_put(s, 0x1b, 5);
			sb_put(s, run - 1, 6);
			run = 0;
		}
		if (!memcmp(p, "\0\0\0\0\0\0\0\0", 8)) {
			sb_put(s, 0x1c, 5);
			continue;
		}
		i8 = ref_find(in, p, 8, kk - 256, kk, 256);
		if (i8 >= 0) {
			sb_put(s, 0x19, 5);
			sb_put(s, (uint64_t)i8, 8);
			continue;
		}
		for (int half = 0; half < 2; half++) {
			const uint8_t *hp = p + 4 * half;
			uint64_t d0 = (uint64_t)hp[0] << 8 | hp[1];
			uint64_t d1 = (uint64_t)hp[2] << 8 | hp[3];

			i4 = ref_find(in, hp, 4, 2 * kk - 512, 2 * kk, 512);
			a = ref_find(in, hp, 2, 4 * kk - 256, 4 * kk, 256);
			b = ref_find(in, hp + 2, 2, 4 * kk - 256, 4 * kk, 256);
			if (i4 >= 0) {
				h[half] = 4, f[half] = (uint64_t)i4, nb[half] = 9;
			} else if (a >= 0 && b >= 0) {
				h[half] = 3;
				f[half] = (uint64_t)a << 8 | (uint64_t)b;
				nb[half] = 16;
			} else if (a >= 0) {
				h[half] = 2, f[half] = (uint64_t)a << 16 | d1;
				nb[half] = 24;
			} else if (b >= 0) {
				h[half] = 1, f[half] = d0 << 8 | (uint64_t)b;
				nb[half] = 24;
			} else {
				h[half] = 0, f[half] = d0 << 16 | d1;
				nb[half] = 32;
			}
		}
		sb_put(s, 5 * h[0] + h[1], 5);
		sb_put(s, f[0], nb[0]);
		sb_put(s, f[1], nb[1]);
	}
	if (run) {
		sb_put(s, 0x1b, 5);
		sb_put(s, run - 1, 6);
	}
	if (n % 8) {
		sb_put(s, 0x1d, 5);
		sb_put(s, n % 8, 3);
		for (size_t i = 8 * blocks; i < n; i++)
			sb_put(s, in[i], 8);
	}
	return sb_end(s, in, n);
}

static void test_reference(void)
{
	static uint8_t buf[3 * PAGE], c[4 * PAGE];
	static struct sb s;
	unsigned int rounds = check_long() ? 600 : 120, same = 0;

	for (unsigned int i = 0; i < rounds; i++) {
		size_t n = i % 3 ? PAGE : rnd() % sizeof(buf), clen = sizeof(c);
		size_t rlen;
		int ret;

		gen_kind(buf, n, i % KINDS);
		rlen = ref_encode(buf, n, &s);
		ret = uz_sw842_compress(buf, n, c, &clen, wrk);
		CHECK(ret == 0 && clen == rlen && !memcmp(c, s.buf, rlen),
		      "%zu bytes (%s): differs from the reference encoder",
		      n, kind_names[i % KINDS]);
		same += ret == 0 && clen == rlen && !memcmp(c, s.buf, rlen);
	}
	printf("  reference encoder: %u of %u identical\n", same, rounds);
}

/* ------------------------------------------------------------------ */
/* Damaged and random input.                                           */

static void test_damage(void)
{
	static uint8_t page[PAGE], c[8192], bad[8192], d[PAGE];
	unsigned int kinds[] = { 3, 4, 6, 9, 2, 0 };

	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
		size_t n = k == 5 ? 100 : PAGE, clen = sizeof(c), dlen, first;
		int ret;

		gen_kind(page, n, kinds[k]);
		ret = uz_sw842_compress(page, n, c, &clen, wrk);
		REQUIRE(ret == 0, "compress: %d", ret);

		/*
		 * Every prefix: those that cut into the CRC fail; those that
		 * only drop padding decode the same.
		 */
		first = clen + 1;
		for (size_t l = 0; l <= clen; l++) {
			dlen = sizeof(d);
			ret = uz_sw842_decompress(c, l, d, &dlen);
			if (ret == 0 && first > clen)
				first = l;
			if (first <= l)
				CHECK(ret == 0 && dlen == n &&
				      !memcmp(d, page, n),
				      "prefix %zu of %zu (%s): ret %d", l,
				      clen, kind_names[kinds[k]], ret);
			else
				CHECK(ret == -EINVAL,
				      "prefix %zu of %zu: ret %d", l, clen,
				      ret);
		}
		CHECK(first <= clen && first + 8 > clen,
		      "the shortest decodable prefix is %zu of %zu", first,
		      clen);

		/*
		 * Bit flips and byte overwrites: an error, or the same data
		 * (a flip in the padding, or an index to an equal value).  All
		 * zeros is the exception the format can not see: the CRC of
		 * zeros from register 0 is 0 at any length, so a changed REPEAT
		 * count or SHORT_DATA length decodes with a valid CRC.  There a
		 * success must still be zeros with the recorded CRC.
		 */
		size_t flips = clen * 8 <= 20000 ? clen * 8 : 20000;
		uint32_t crc = ref_crc(page, n);

		for (size_t f = 0; f < flips + 2000; f++) {
			memcpy(bad, c, clen);
			if (f < flips) {
				size_t bit = clen * 8 <= 20000 ? f :
					     rnd() % (clen * 8);

				bad[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
			} else {
				for (int m = 1 + (int)(rnd() % 4); m > 0; m--)
					bad[rnd() % clen] = (uint8_t)rnd();
			}
			dlen = sizeof(d);
			ret = uz_sw842_decompress(bad, clen, d, &dlen);
			if (ret < 0)
				continue;
			CHECK(ref_crc(d, dlen) == crc,
			      "damage %zu (%s): decoded with a wrong CRC", f,
			      kind_names[kinds[k]]);
			if (kinds[k] != 0)
				CHECK(dlen == n && !memcmp(d, page, n),
				      "damage %zu (%s) went unnoticed", f,
				      kind_names[kinds[k]]);
		}
	}

	/* Random bytes, of random lengths, into outputs of random sizes. */
	unsigned int ok = 0, tries = check_long() ? 200000 : 30000;

	for (unsigned int t = 0; t < tries; t++) {
		size_t n = rnd() % 600, cap = rnd() % 2 ? PAGE : rnd() % 80;
		size_t dlen = cap;
		uint8_t *in = malloc(n ? n : 1), *out = malloc(cap ? cap : 1);
		int ret;

		REQUIRE(in && out, "out of memory");
		for (size_t i = 0; i < n; i++)
			in[i] = (uint8_t)rnd();
		/* Make some start with likely opcodes. */
		if (n && t % 3 == 0)
			in[0] = (uint8_t)((in[0] & 0x07) | (0x19u << 3));
		ret = uz_sw842_decompress(in, n, out, &dlen);
		CHECK(ret == 0 || ret == -EINVAL || ret == -ENOSPC,
		      "random input: ret %d", ret);
		CHECK(ret == 0 || dlen == 0, "error with olen %zu", dlen);
		CHECK(dlen <= cap, "olen %zu > capacity %zu", dlen, cap);
		ok += ret == 0;
		free(in);
		free(out);
	}
	printf("  random inputs: %u of %u decoded\n", ok, tries);
}

/* ------------------------------------------------------------------ */
/* Page files.                                                         */

static void test_file(const char *path)
{
	static uint8_t page[PAGE];
	size_t pages = 0, in0 = total_in, out0 = total_out;
	FILE *f = fopen(path, "rb");

	if (!f) {
		CHECK(0, "cannot open page file %s", path);
		return;
	}
	while (fread(page, 1, PAGE, f) == PAGE) {
		char what[64];

		snprintf(what, sizeof(what), "%s page %zu", path, pages);
		roundtrip(page, PAGE, what, pages % 64 == 0);
		if (pages % 64 == 0) {
			static uint8_t c[2 * PAGE];
			static struct sb s;
			size_t clen = sizeof(c), rlen = ref_encode(page, PAGE, &s);

			CHECK(!uz_sw842_compress(page, PAGE, c, &clen, wrk) &&
			      clen == rlen && !memcmp(c, s.buf, rlen),
			      "%s: differs from the reference encoder", what);
		}
		pages++;
	}
	fclose(f);
	printf("  %s: %zu pages, ratio %.3f\n", path, pages,
	       total_out > out0 ? (double)(total_in - in0) /
				  (double)(total_out - out0) : 0.0);
}

int main(int argc, char **argv)
{
	const char *env = getenv("UZRAM_PAGEFILES");

	rng = check_seed();
	wrk = malloc(uz_sw842_wrkmem_size() + 8);
	REQUIRE(wrk, "out of memory");

	test_golden();
	test_decoder_streams();
	test_generated();
	test_reference();
	test_damage();

	for (int i = 1; i < argc; i++)
		test_file(argv[i]);
	if (env && *env) {
		char *list = strdup(env), *save = NULL;

		REQUIRE(list, "out of memory");
		for (char *p = strtok_r(list, ":", &save); p;
		     p = strtok_r(NULL, ":", &save))
			test_file(p);
		free(list);
	}
	printf("  overall: %zu bytes in, %zu out\n", total_in, total_out);
	free(wrk);
	return check_summary();
}
