/*
 * sw842.c - encoder and decoder of the 842 compression format, as the
 * kernel's lib/842 software implementation (sw842_compress and
 * sw842_decompress) writes and reads it, written for uzram from the format's
 * description.
 *
 * THE FORMAT (the facts this file relies on, in our own words)
 * ------------------------------------------------------------
 * Bits.  A compressed buffer is a bit string.  Bit 7 (the most significant)
 * of byte 0 is the first bit, then bit 6, ... bit 0, then bit 7 of byte 1,
 * and so on.  Every field is written most significant bit first, and literal
 * bytes are written in their memory order (so an n-byte literal is the
 * big-endian reading of those n bytes, as an 8n-bit field).
 *
 * Operations.  The stream is a sequence of operations, each a 5-bit opcode
 * followed by that opcode's fields:
 *
 *   0x00..0x19  template: produces exactly 8 output bytes (one "block"),
 *               described below
 *   0x1a        undefined: a decoder rejects it
 *   0x1b        REPEAT: a 6-bit field r; the last 8 output bytes are
 *               appended again r + 1 times (1..64 copies); invalid when
 *               nothing has been output yet
 *   0x1c        ZEROS: no field; appends 8 zero bytes
 *   0x1d        SHORT_DATA: a 3-bit count c (1..7; 0 is invalid) followed by
 *               c literal bytes of 8 bits each.  Software only (the nx-842
 *               hardware rejects it); it carries a tail of fewer than 8 bytes
 *   0x1e        END: no field; ends the operations
 *   0x1f        undefined: a decoder rejects it
 *
 * After END come 32 bits of CRC, starting at the very next bit.  The CRC is
 * the CRC-32 polynomial 0x04c11db7 computed most significant bit first (not
 * reflected), register starting at 0, no final inversion, over all the
 * decompressed bytes: the kernel's crc32_be(0, data, len).  The writer then
 * pads with zero bits to a byte boundary, and with zero bytes until the
 * total length is a multiple of 8 bytes.  A reader stops after the CRC and
 * ignores whatever follows.
 *
 * Templates.  Each of the 26 templates is a list of actions that together
 * produce 8 bytes.  An action is either a literal "Dn" (an 8n-bit field
 * holding n bytes, n = 2, 4 or 8) or an index "In" (a field naming n bytes
 * already output: 8 bits for I2, 9 bits for I4, 8 bits for I8).  The table
 * (opcode: actions in order):
 *
 *   00 D8           07 D2 I2 I2 D2   0e I2 D2 I4      15 I4 D2 I2
 *   01 D4 D2 I2     08 D2 I2 I2 I2   0f I2 I2 D4      16 I4 I2 D2
 *   02 D4 I2 D2     09 D2 I2 I4      10 I2 I2 D2 I2   17 I4 I2 I2
 *   03 D4 I2 I2     0a I2 D2 D4      11 I2 I2 I2 D2   18 I4 I4
 *   04 D4 I4        0b I2 D4 I2      12 I2 I2 I2 I2   19 I8
 *   05 D2 I2 D4     0c I2 D2 I2 D2   13 I2 I2 I4
 *   06 D2 I2 D2 I2  0d I2 D2 I2 I2   14 I4 D4
 *
 * This table has a regular structure, which this file uses instead of the
 * table itself.  Let a "half" (4 bytes) be coded in one of five ways,
 * numbered  0 = D4,  1 = D2 I2,  2 = I2 D2,  3 = I2 I2,  4 = I4.  Then
 * opcode 5 * h0 + h1 (0x00..0x18) is: first half coded as h0, second half as
 * h1, and 0x19 is I8.  Adjacent literals merge in the table (D4 D4 is
 * written D8 in row 00; D2 then D2 is written D4 in row 0b), which changes
 * nothing in the bits, since a literal field is just the bytes in order.
 * The cost of a half in bits: D4 32, D2 I2 24, I2 D2 24, I2 I2 16, I4 9.
 *
 * Indices.  Each index kind reads a ring of earlier output: I2 a ring of
 * 2^8 entries of 2 bytes (512 bytes), I4 2^9 entries of 4 bytes (2048
 * bytes), I8 2^8 entries of 8 bytes (2048 bytes).  Entry i of a ring of F
 * bytes names the n bytes at an output offset that is congruent to i * n
 * modulo F: the latest such offset lying wholly before T, the output length
 * at the time the index is read rounded down to a multiple of 8 (so the
 * block being produced is never referenced, only earlier blocks).  As a
 * computation: off = i * n; if T > F, let r = T mod F and add T - r to off,
 * minus F when off >= r.  The index is invalid when off + n > T.
 *
 * The kernel's encoder (what this file's encoder reproduces: these are
 * choices, not format rules, but following them gives the same bytes):
 *  - input shorter than 8 bytes: only SHORT_DATA (if not empty), END, CRC;
 *  - otherwise each whole 8-byte block in turn: if it equals the previous
 *    block (the first block never does) it extends a repeat run; a run is
 *    written as one REPEAT when it reaches 64 blocks, or when a different
 *    block (or the end of the blocks) comes.  A block that does not repeat
 *    is ZEROS when all zero, else the template of fewest bits whose index
 *    actions all find their value in the rings.  I8 (13 bits) beats every
 *    other template (at least 23 bits), and the halves are chosen apart;
 *    I2 D2 and D2 I2 can not tie (when both indices exist, I2 I2 is cheaper),
 *    so the cheapest template is unique;
 *  - after a block has been written (whatever op it was written with,
 *    REPEAT and ZEROS included) its values enter the rings: the block as I8
 *    entry (pos / 8) mod 256, its halves as I4 entries (pos / 4) mod 512 and
 *    the next, its quarters as I2 entries (pos / 2) mod 256 and the next
 *    three.  When a value sits in several entries, the one written last is
 *    used (the quarters of one block count as written first to last);
 *  - the len mod 8 trailing bytes become one SHORT_DATA after the blocks;
 *    then END, CRC and the padding to a multiple of 8 bytes.
 *
 * THIS IMPLEMENTATION
 * -------------------
 * The encoder keeps, for each ring, the value of every entry and an exact
 * index from value to entries: hash chains of entries stamped with the
 * order they were written in.  A ring drops its entries oldest first, so a
 * chain walked from its newest entry holds the live entries first and ends
 * at the first one dropped; nothing needs unlinking.  The walk meets the
 * most recently written entry holding a value first, which is the kernel's
 * choice, whatever the hash.  All of it lives in the caller's wrkmem
 * (uz_sw842_wrkmem_size() bytes, aligned for a uint64_t as malloc's are;
 * -EINVAL otherwise); the chain heads are reset on each call, nothing else
 * needs to be.  Bits go out through a 64-bit accumulator, 32 bits at a
 * time.
 *
 * The decoder reads through a 64-bit bit buffer refilled 8 bytes at a time
 * where the input allows and a byte at a time near its end, checks every
 * field against the input's end, every write against the output's
 * capacity, and every index against the output produced so far.  It is
 * stricter than the kernel's only where the kernel would itself read or
 * write out of bounds (REPEAT after fewer than 8 bytes, output overrun by
 * an index or SHORT_DATA).  Truncated input is -EINVAL (the kernel says
 * -EOVERFLOW).
 *
 * The CRC is computed by carry-less multiplication (PCLMULQDQ) where the
 * CPU has it, else 8 bytes at a time from tables; both set up once
 * (pthread_once).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "util/common.h"
#include "sw842.h"

/* Opcodes. */
#define OP_BITS		5
#define OP_I8		0x19
#define OP_REPEAT	0x1b
#define OP_ZEROS	0x1c
#define OP_SHORT_DATA	0x1d
#define OP_END		0x1e

#define REPEAT_BITS	6
#define REPEAT_MAX	64		/* blocks one REPEAT can stand for */
#define SHORT_BITS	3

/* Index widths and ring sizes (entries, bytes). */
#define I2_BITS		8
#define I4_BITS		9
#define I8_BITS		8
#define I2_ENTRIES	(1u << I2_BITS)
#define I4_ENTRIES	(1u << I4_BITS)
#define I8_ENTRIES	(1u << I8_BITS)
#define I2_RING		(2u * I2_ENTRIES)
#define I4_RING		(4u * I4_ENTRIES)
#define I8_RING		(8u * I8_ENTRIES)

/* The ways of coding a half block; opcode = 5 * first + second. */
enum { H_D4, H_D2I2, H_I2D2, H_I2I2, H_I4 };

/* ------------------------------------------------------------------ */
/* Big-endian loads and stores.                                        */

static inline uint16_t be16_load(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap16(v);
#endif
	return v;
}

static inline uint32_t be32_load(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

static inline uint64_t be64_load(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static inline void be16_store(uint8_t *p, uint16_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap16(v);
#endif
	memcpy(p, &v, sizeof(v));
}

static inline void be32_store(uint8_t *p, uint32_t v)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	memcpy(p, &v, sizeof(v));
}

/* ------------------------------------------------------------------ */
/* CRC-32, MSB first, polynomial 0x04c11db7, no inversions.            */

#define CRC_POLY	0x04c11db7u

static uint32_t crc_tab[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* Continue crc over p[0..len) 8 bytes at a time ("slicing by 8"). */
static uint32_t crc32_tables(uint32_t crc, const uint8_t *p, size_t len)
{
	while (len >= 8) {
		uint32_t x = crc ^ be32_load(p);

		crc = crc_tab[7][x >> 24] ^ crc_tab[6][(x >> 16) & 0xff] ^
		      crc_tab[5][(x >> 8) & 0xff] ^ crc_tab[4][x & 0xff] ^
		      crc_tab[3][p[4]] ^ crc_tab[2][p[5]] ^
		      crc_tab[1][p[6]] ^ crc_tab[0][p[7]];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = (crc << 8) ^ crc_tab[0][(crc >> 24) ^ *p++];
	return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_CLMUL_CRC 1

/*
 * With carry-less multiplication.  The CRC of a message M is M(x) * x^32
 * mod P, so M may be replaced by any polynomial congruent to it mod P.
 * Taking M 16 bytes at a time as 128-bit polynomials (first bit highest),
 * X * x^128 + C is congruent to Xhi * (x^192 mod P) + Xlo * (x^128 mod P)
 * + C, again 128 bits: "folding".  Four lanes 64 bytes apart fold by x^512
 * and then into one; the last 128 bits go through the tables as 16 bytes,
 * then the tail.
 */
static uint64_t k_fold128[2], k_fold512[2];	/* { x^(n+64), x^n } mod P */
static bool use_clmul;

static uint64_t xpow_mod(unsigned int n)
{
	uint64_t r = 1;

	while (n--) {
		r <<= 1;
		if (r & (1ull << 32))
			r ^= (1ull << 32) | CRC_POLY;
	}
	return r;
}

__attribute__((target("pclmul,ssse3")))
static inline __m128i clmul_fold(__m128i x, __m128i k, __m128i c)
{
	return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x11),
					   _mm_clmulepi64_si128(x, k, 0x00)),
			     c);
}

__attribute__((target("pclmul,ssse3")))
static uint32_t crc32_clmul(const uint8_t *p, size_t len)
{
	const __m128i rev = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
					 11, 12, 13, 14, 15);
	const __m128i k128 = _mm_set_epi64x((long long)k_fold128[0],
					    (long long)k_fold128[1]);
	__m128i x;
	uint8_t last[16];

#define LOAD(q) _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(q)), rev)
	if (len >= 64) {
		const __m128i k512 = _mm_set_epi64x((long long)k_fold512[0],
						    (long long)k_fold512[1]);
		__m128i x0 = LOAD(p), x1 = LOAD(p + 16);
		__m128i x2 = LOAD(p + 32), x3 = LOAD(p + 48);

		for (p += 64, len -= 64; len >= 64; p += 64, len -= 64) {
			x0 = clmul_fold(x0, k512, LOAD(p));
			x1 = clmul_fold(x1, k512, LOAD(p + 16));
			x2 = clmul_fold(x2, k512, LOAD(p + 32));
			x3 = clmul_fold(x3, k512, LOAD(p + 48));
		}
		x = clmul_fold(x0, k128, x1);
		x = clmul_fold(x, k128, x2);
		x = clmul_fold(x, k128, x3);
	} else {
		x = LOAD(p);
		p += 16;
		len -= 16;
	}
	for (; len >= 16; p += 16, len -= 16)
		x = clmul_fold(x, k128, LOAD(p));
#undef LOAD
	_mm_storeu_si128((__m128i *)last, _mm_shuffle_epi8(x, rev));
	return crc32_tables(crc32_tables(0, last, 16), p, len);
}
#endif

static void crc_init(void)
{
	for (unsigned int i = 0; i < 256; i++) {
		uint32_t r = (uint32_t)i << 24;

		for (int k = 0; k < 8; k++)
			r = (r & 0x80000000u) ? (r << 1) ^ CRC_POLY : r << 1;
		crc_tab[0][i] = r;
	}
	/* crc_tab[k][i]: byte i followed by k zero bytes. */
	for (int k = 1; k < 8; k++)
		for (unsigned int i = 0; i < 256; i++) {
			uint32_t r = crc_tab[k - 1][i];

			crc_tab[k][i] = (r << 8) ^ crc_tab[0][r >> 24];
		}
#ifdef HAVE_CLMUL_CRC
	k_fold128[0] = xpow_mod(128 + 64);
	k_fold128[1] = xpow_mod(128);
	k_fold512[0] = xpow_mod(512 + 64);
	k_fold512[1] = xpow_mod(512);
	__builtin_cpu_init();
	use_clmul = __builtin_cpu_supports("pclmul") &&
		    __builtin_cpu_supports("ssse3");
#endif
}

/* CRC-32/MSB-first of p[0..len), register from 0, no final inversion. */
static uint32_t crc32_msb(const uint8_t *p, size_t len)
{
	pthread_once(&crc_once, crc_init);
#ifdef HAVE_CLMUL_CRC
	if (use_clmul && len >= 16)
		return crc32_clmul(p, len);
#endif
	return crc32_tables(0, p, len);
}

/* ------------------------------------------------------------------ */
/* Encoder: the rings with their exact value index.                    */

#define H8_BITS		10
#define H4_BITS		11
#define H2_BITS		10

/*
 * For each ring: the value of every entry, and chains of entries by hash of
 * value.  The p-th value written to a ring in this call (p from 0) goes to
 * entry p mod entries and is stamped p + entries + 1; with `count` values
 * written so far, an entry stamped s is still in the ring iff s > count,
 * and stamp 0 means none.  head[] holds the stamp of the latest entry of
 * each chain, next[] the stamp of the entry written before it on the same
 * chain.  Entries leave a ring oldest first, so a walk from the head meets
 * the live entries newest first and may stop at the first one gone.
 */
struct sw842_wrk {
	uint32_t head8[1u << H8_BITS];
	uint32_t head4[1u << H4_BITS];
	uint32_t head2[1u << H2_BITS];
	uint32_t next8[I8_ENTRIES];
	uint32_t next4[I4_ENTRIES];
	uint32_t next2[I2_ENTRIES];
	uint64_t val8[I8_ENTRIES];
	uint32_t val4[I4_ENTRIES];
	uint16_t val2[I2_ENTRIES];
};

size_t uz_sw842_wrkmem_size(void)
{
	return sizeof(struct sw842_wrk);
}

static inline unsigned int hash8(uint64_t v)
{
	return (unsigned int)((v * 0x9e3779b97f4a7c15ull) >> (64 - H8_BITS));
}

static inline unsigned int hash4(uint32_t v)
{
	return (v * 0x9e3779b1u) >> (32 - H4_BITS);
}

static inline unsigned int hash2(uint16_t v)
{
	return ((uint32_t)v * 0x9e3779b1u) >> (32 - H2_BITS);
}

/*
 * Generate the per-ring operations: find the entry written last that holds
 * v (or -1), given `count` values written; write the p-th value v.  The
 * walk also stops unless stamps strictly decrease, which they always do
 * below 2^32 values per ring (inputs under 8 GiB); beyond, a stale stamp
 * can only cost a match: any entry found holds v now, which is what an
 * index means.
 */
#define RING_OPS(N, T, ENTRIES)						\
static inline int ring##N##_find(const struct sw842_wrk *w, T v,	\
				 uint32_t count)			\
{									\
	uint32_t s = w->head##N[hash##N(v)];				\
									\
	while (s > count) {						\
		unsigned int e = (s - 1) % (ENTRIES);			\
		uint32_t older = w->next##N[e];				\
									\
		if (w->val##N[e] == v)					\
			return (int)e;					\
		if (older >= s)						\
			break;						\
		s = older;						\
	}								\
	return -1;							\
}									\
static inline void ring##N##_put(struct sw842_wrk *w, uint32_t p, T v)	\
{									\
	unsigned int e = p % (ENTRIES), h = hash##N(v);			\
									\
	w->val##N[e] = v;						\
	w->next##N[e] = w->head##N[h];					\
	w->head##N[h] = p + (ENTRIES) + 1;				\
}

RING_OPS(8, uint64_t, I8_ENTRIES)
RING_OPS(4, uint32_t, I4_ENTRIES)
RING_OPS(2, uint16_t, I2_ENTRIES)

/* ------------------------------------------------------------------ */
/* Encoder: bit writer.                                                 */

struct bit_writer {
	uint8_t *out;
	size_t pos, cap;
	uint64_t acc;		/* pending bits in the low `bits` bits */
	unsigned int bits;	/* < 32 between calls */
	bool full;		/* the output did not fit */
};

/* Append the n (<= 32) low bits of v, which has no higher bits set. */
static inline void bw_put(struct bit_writer *bw, uint32_t v, unsigned int n)
{
	bw->acc = (bw->acc << n) | v;
	bw->bits += n;
	if (bw->bits >= 32) {
		bw->bits -= 32;
		if (unlikely(bw->cap - bw->pos < 4)) {
			bw->full = true;
			bw->pos = bw->cap;
			return;
		}
		be32_store(bw->out + bw->pos, (uint32_t)(bw->acc >> bw->bits));
		bw->pos += 4;
	}
}

/* Flush to a byte boundary, then zero-pad to a multiple of 8 bytes. */
static void bw_finish(struct bit_writer *bw)
{
	size_t nbytes = (bw->bits + 7) / 8;
	uint32_t last = bw->bits ? (uint32_t)(bw->acc << (32 - bw->bits)) : 0;
	size_t total;

	if (bw->full)
		return;
	total = bw->pos + nbytes;
	total = (total + 7) & ~(size_t)7;
	if (total > bw->cap || total < bw->pos) {
		bw->full = true;
		return;
	}
	for (size_t i = 0; i < nbytes; i++)
		bw->out[bw->pos++] = (uint8_t)(last >> (24 - 8 * i));
	while (bw->pos < total)
		bw->out[bw->pos++] = 0;
	bw->bits = 0;
}

static inline void put_repeat(struct bit_writer *bw, unsigned int blocks)
{
	bw_put(bw, (OP_REPEAT << REPEAT_BITS) | (blocks - 1),
	       OP_BITS + REPEAT_BITS);
}

/*
 * Choose how to code the half block at p (4 bytes at offset 0 or 4 of the
 * block): the cheapest coding whose indices all find their value.  Returns
 * the half code; *field and *nbits receive the bits to write after the
 * opcode.
 */
static inline unsigned int code_half(const struct sw842_wrk *w,
				     const uint8_t *p, uint32_t n4,
				     uint32_t n2, uint32_t *field,
				     unsigned int *nbits)
{
	int a, b, f = ring4_find(w, uz_get_le32(p), n4);

	if (f >= 0) {
		*field = (uint32_t)f;
		*nbits = I4_BITS;
		return H_I4;
	}
	a = ring2_find(w, uz_get_le16(p), n2);
	b = ring2_find(w, uz_get_le16(p + 2), n2);
	if (a >= 0 && b >= 0) {
		*field = ((uint32_t)a << I2_BITS) | (uint32_t)b;
		*nbits = 2 * I2_BITS;
		return H_I2I2;
	}
	if (a >= 0) {
		*field = ((uint32_t)a << 16) | be16_load(p + 2);
		*nbits = I2_BITS + 16;
		return H_I2D2;
	}
	if (b >= 0) {
		*field = ((uint32_t)be16_load(p) << I2_BITS) | (uint32_t)b;
		*nbits = 16 + I2_BITS;
		return H_D2I2;
	}
	*field = be32_load(p);
	*nbits = 32;
	return H_D4;
}

static inline void put_block(struct bit_writer *bw, const struct sw842_wrk *w,
			     const uint8_t *p, uint64_t v, uint32_t k)
{
	uint32_t f0, f1;
	unsigned int n0, n1, h0, h1;
	int i8 = ring8_find(w, v, k);

	if (i8 >= 0) {
		bw_put(bw, (OP_I8 << I8_BITS) | (uint32_t)i8,
		       OP_BITS + I8_BITS);
		return;
	}
	h0 = code_half(w, p, 2 * k, 4 * k, &f0, &n0);
	h1 = code_half(w, p + 4, 2 * k, 4 * k, &f1, &n1);
	bw_put(bw, 5 * h0 + h1, OP_BITS);
	bw_put(bw, f0, n0);
	bw_put(bw, f1, n1);
}

/* Enter block k (at p) into the three rings. */
static inline void rings_add(struct sw842_wrk *w, uint32_t k, const uint8_t *p,
			     uint64_t v)
{
	ring8_put(w, k, v);
	ring4_put(w, 2 * k, uz_get_le32(p));
	ring4_put(w, 2 * k + 1, uz_get_le32(p + 4));
	for (unsigned int q = 0; q < 4; q++)
		ring2_put(w, 4 * k + q, uz_get_le16(p + 2 * q));
}

int uz_sw842_compress(const uint8_t *in, size_t ilen, uint8_t *out,
		      size_t *olen, void *wrkmem)
{
	struct sw842_wrk *w = wrkmem;
	struct bit_writer bw;
	size_t nblocks, tail;
	unsigned int run = 0;
	uint32_t crc;

	if (!olen)
		return -EINVAL;
	if ((!in && ilen) || (!out && *olen) || !w ||
	    ((uintptr_t)w % _Alignof(struct sw842_wrk))) {
		*olen = 0;
		return -EINVAL;
	}
	bw = (struct bit_writer){ .out = out, .cap = *olen };
	*olen = 0;

	nblocks = ilen >= 8 ? ilen / 8 : 0;
	if (nblocks) {
		uint64_t last = ~uz_get_le64(in);

		memset(w->head8, 0, sizeof(w->head8));
		memset(w->head4, 0, sizeof(w->head4));
		memset(w->head2, 0, sizeof(w->head2));
		for (size_t k = 0; k < nblocks; k++) {
			const uint8_t *p = in + 8 * k;
			uint64_t v = uz_get_le64(p);

			if (v == last) {
				if (++run == REPEAT_MAX) {
					put_repeat(&bw, run);
					run = 0;
				}
			} else {
				if (run) {
					put_repeat(&bw, run);
					run = 0;
				}
				if (v == 0)
					bw_put(&bw, OP_ZEROS, OP_BITS);
				else
					put_block(&bw, w, p, v, (uint32_t)k);
			}
			if (unlikely(bw.full))
				return -ENOSPC;
			rings_add(w, (uint32_t)k, p, v);
			last = v;
		}
		if (run)
			put_repeat(&bw, run);
	}

	tail = ilen - 8 * nblocks;
	if (tail) {
		bw_put(&bw, (OP_SHORT_DATA << SHORT_BITS) | (uint32_t)tail,
		       OP_BITS + SHORT_BITS);
		for (size_t i = 8 * nblocks; i < ilen; i++)
			bw_put(&bw, in[i], 8);
	}
	bw_put(&bw, OP_END, OP_BITS);
	crc = ilen ? crc32_msb(in, ilen) : 0;
	bw_put(&bw, crc >> 16, 16);
	bw_put(&bw, crc & 0xffff, 16);
	bw_finish(&bw);
	if (bw.full)
		return -ENOSPC;
	*olen = bw.pos;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Decoder.                                                            */

struct bit_reader {
	const uint8_t *in;
	size_t pos, len;	/* next byte to load; input length */
	uint64_t acc;		/* next bits, left aligned */
	unsigned int bits;	/* valid bits in acc */
};

static inline void br_refill(struct bit_reader *br)
{
	if (likely(br->len - br->pos >= 8)) {
		/*
		 * Load 8 bytes under the valid bits; count only the whole
		 * bytes taken.  The bits of a byte only partly taken are the
		 * same ones the next refill puts in the same place.
		 */
		br->acc |= be64_load(br->in + br->pos) >> br->bits;
		br->pos += (63 - br->bits) >> 3;
		br->bits |= 56;
	} else {
		while (br->bits <= 56 && br->pos < br->len) {
			br->acc |= (uint64_t)br->in[br->pos++] << (56 - br->bits);
			br->bits += 8;
		}
	}
}

/* Read n (1..32) bits into *v; false when the input ends first. */
static inline bool br_get(struct bit_reader *br, unsigned int n, uint32_t *v)
{
	if (unlikely(br->bits < n)) {
		br_refill(br);
		if (unlikely(br->bits < n))
			return false;
	}
	*v = (uint32_t)(br->acc >> (64 - n));
	br->acc <<= n;
	br->bits -= n;
	return true;
}

/*
 * Resolve index i of n-byte entries in a ring of `ring` bytes against the
 * block start t; false when it names bytes not yet output.
 */
static inline bool ring_offset(size_t t, uint32_t i, size_t n, size_t ring,
			       size_t *off)
{
	size_t o = (size_t)i * n;

	if (t > ring) {
		size_t r = t & (ring - 1);	/* t's place in the ring */
		size_t base = t - r;		/* start of t's lap, >= ring */

		if (o >= r)			/* not yet rewritten this lap */
			base -= ring;
		o += base;
	}
	if (o + n > t)
		return false;
	*off = o;
	return true;
}

/* Copy the n-byte entry named by the next index field to dst. */
static inline int copy_index(struct bit_reader *br, uint8_t *out, size_t t,
			     uint8_t *dst, unsigned int n)
{
	unsigned int bits = n == 2 ? I2_BITS : n == 4 ? I4_BITS : I8_BITS;
	size_t ring = n == 2 ? I2_RING : n == 4 ? I4_RING : I8_RING;
	uint32_t i;
	size_t off;

	if (!br_get(br, bits, &i) || !ring_offset(t, i, n, ring, &off))
		return -EINVAL;
	memcpy(dst, out + off, n);
	return 0;
}

static inline int copy_data(struct bit_reader *br, uint8_t *dst,
			    unsigned int n)
{
	uint32_t v;

	if (!br_get(br, 8 * n, &v))
		return -EINVAL;
	if (n == 2)
		be16_store(dst, (uint16_t)v);
	else
		be32_store(dst, v);
	return 0;
}

/* Decode a half block coded as h into dst (4 bytes). */
static inline int decode_half(struct bit_reader *br, uint8_t *out, size_t t,
			      uint8_t *dst, unsigned int h)
{
	int ret;

	switch (h) {
	case H_D4:
		return copy_data(br, dst, 4);
	case H_D2I2:
		ret = copy_data(br, dst, 2);
		return ret ? ret : copy_index(br, out, t, dst + 2, 2);
	case H_I2D2:
		ret = copy_index(br, out, t, dst, 2);
		return ret ? ret : copy_data(br, dst + 2, 2);
	case H_I2I2:
		ret = copy_index(br, out, t, dst, 2);
		return ret ? ret : copy_index(br, out, t, dst + 2, 2);
	default:
		return copy_index(br, out, t, dst, 4);
	}
}

int uz_sw842_decompress(const uint8_t *in, size_t ilen, uint8_t *out,
			size_t *olen)
{
	struct bit_reader br;
	size_t cap, n = 0;
	uint32_t op, v;
	int ret;

	if (!olen)
		return -EINVAL;
	cap = *olen;
	*olen = 0;
	if ((!in && ilen) || (!out && cap))
		return -EINVAL;
	br = (struct bit_reader){ .in = in, .len = ilen };

	for (;;) {
		if (!br_get(&br, OP_BITS, &op))
			return -EINVAL;
		if (op < OP_I8) {
			size_t t = n & ~(size_t)7;

			if (cap - n < 8)
				return -ENOSPC;
			ret = decode_half(&br, out, t, out + n, op / 5);
			if (!ret)
				ret = decode_half(&br, out, t, out + n + 4,
						  op % 5);
			if (ret)
				return ret;
			n += 8;
			continue;
		}
		switch (op) {
		case OP_I8:
			if (cap - n < 8)
				return -ENOSPC;
			ret = copy_index(&br, out, n & ~(size_t)7, out + n, 8);
			if (ret)
				return ret;
			n += 8;
			break;
		case OP_REPEAT:
			if (!br_get(&br, REPEAT_BITS, &v))
				return -EINVAL;
			if (n < 8)
				return -EINVAL;
			if ((cap - n) / 8 < (size_t)v + 1)
				return -ENOSPC;
			for (uint32_t k = 0; k <= v; k++, n += 8)
				memcpy(out + n, out + n - 8, 8);
			break;
		case OP_ZEROS:
			if (cap - n < 8)
				return -ENOSPC;
			memset(out + n, 0, 8);
			n += 8;
			break;
		case OP_SHORT_DATA:
			if (!br_get(&br, SHORT_BITS, &v) || v == 0)
				return -EINVAL;
			if (cap - n < v)
				return -ENOSPC;
			for (uint32_t k = 0; k < v; k++) {
				uint32_t b;

				if (!br_get(&br, 8, &b))
					return -EINVAL;
				out[n++] = (uint8_t)b;
			}
			break;
		case OP_END:
			if (!br_get(&br, 32, &v))
				return -EINVAL;
			if (v != (n ? crc32_msb(out, n) : 0))
				return -EINVAL;
			*olen = n;
			return 0;
		default:	/* 0x1a, 0x1f */
			return -EINVAL;
		}
	}
}
