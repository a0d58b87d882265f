/*
 * lzo1x_compress.c - the kernel's LZO1X-1 encoder, bitstream v0 ("lzo") and
 * v1 ("lzo-rle"), written for uzram (the kernel's is lib/lzo/lzo1x_compress.c:
 * lzo1x_1_do_compress(); the format, Documentation/staging/lzo.rst).
 *
 * Design: one always_inline generic encoder takes the bitstream version as a
 * compile-time constant, so each public entry point is a specialised copy
 * with no per-byte version tests. The algorithm, and therefore the output,
 * is the kernel's on x86-64/arm64:
 *   - the input is cut into chunks of m4_max_offset + 1 bytes; each chunk
 *     restarts an 8192-entry dictionary of u16 chunk offsets (D_BITS 13),
 *     and pending literals carry from one chunk into the next;
 *   - probe positions advance by 1 + (literals pending >> 5) (the skip
 *     heuristic), a match needs 4 equal bytes and is extended 8 bytes at a
 *     time with ctz64 (the LZO_USE_CTZ64 path, whose stop rule near the end
 *     of a chunk we copy exactly);
 *   - v1 replaces a probe that sees four zero bytes by a zero-run
 *     instruction of 4..2051 bytes, whose S bits live 3 bytes back;
 *   - the last <= 20 bytes of each chunk, and whatever was not matched,
 *     become literal runs; the stream ends with 11 00 00.
 * Literal copies may store up to 15 bytes past their end (at most 10 past
 * the end of the stream); UZ_LZO1X_WORST(in_len) leaves room for that, and
 * it also covers v1's worst case, which the kernel's lzo1x_worst_compress()
 * does not (see lzo.h).
 */
#include "util/common.h"
#include "lzo.h"

#define LZO_D_BITS		13
#define LZO_D_SIZE		(1u << LZO_D_BITS)
#define LZO_D_MASK		(LZO_D_SIZE - 1)
#define LZO_M2_MAX_LEN		8
#define LZO_M3_MAX_LEN		33
#define LZO_M4_MAX_LEN		9
#define LZO_M2_MAX_OFFSET	0x0800
#define LZO_M3_MAX_OFFSET	0x4000
#define LZO_M4_MAX_OFFSET_V0	0xbfff
#define LZO_M4_MAX_OFFSET_V1	0xbffe
#define LZO_M3_MARKER		32
#define LZO_M4_MARKER		16
#define LZO_MIN_ZERO_RUN	4
#define LZO_MAX_ZERO_RUN	(2047 + LZO_MIN_ZERO_RUN)

#define lzo_always_inline	inline __attribute__((always_inline))

static lzo_always_inline uint32_t lzo_hash(uint32_t dv)
{
	return ((dv * 0x1824429du) >> (32 - LZO_D_BITS)) & LZO_D_MASK;
}

static lzo_always_inline void lzo_copy16(uint8_t *d, const uint8_t *s)
{
	uint64_t a = uz_get_le64(s), b = uz_get_le64(s + 8);

	uz_put_le64(d, a);
	uz_put_le64(d + 8, b);
}

/* Emit 0 then n as a 255-run: n > 255 costs one 0x00 byte per 255. */
static lzo_always_inline uint8_t *lzo_put_255_run(uint8_t *op, size_t n)
{
	while (unlikely(n > 255)) {
		n -= 255;
		*op++ = 0;
	}
	*op++ = (uint8_t)n;
	return op;
}

/*
 * Copy t >= 17 literals with 16-byte stores (the last may overshoot by up
 * to 15 bytes on both sides; the callers guarantee the room).
 */
static lzo_always_inline uint8_t *lzo_copy_long(uint8_t *op, const uint8_t *ii,
					       size_t t)
{
	uint8_t *end = op + t;

	do {
		lzo_copy16(op, ii);
		op += 16;
		ii += 16;
	} while (op < end);
	return end;
}

/*
 * The block compressor: in[0..len) is one chunk, ti literals before it
 * (in[-ti..0)) are still pending. Instructions go to *opp; returns the
 * literals left pending at the end of the chunk.
 */
static lzo_always_inline size_t
lzo_block_compress(const uint8_t *in, size_t len, uint8_t **opp, size_t ti,
		   uint16_t *dict, int *state_offset_p, const int version)
{
	const uint8_t *const in_end = in + len;
	const uint8_t *const ip_end = in + len - 20;
	const uint8_t *ip = in;
	const uint8_t *ii = in;
	uint8_t *op = *opp;
	int state_offset = *state_offset_p;

	ip += ti < 4 ? 4 - ti : 0;
	for (;;) {
		const uint8_t *m_pos = NULL;
		size_t t, m_len, m_off;
		uint32_t dv, run = 0;
		uint64_t v;

literal:
		ip += 1 + ((size_t)(ip - ii) >> 5);
next:
		if (unlikely(ip >= ip_end))
			break;
		dv = uz_get_le32(ip);
		if (version && dv == 0) {
			/* Zero run: find the first non-zero byte before limit. */
			const uint8_t *ir = ip + 4;
			const uint8_t *limit = ip_end;

			if ((size_t)(ip_end - ip) > LZO_MAX_ZERO_RUN + 1)
				limit = ip + LZO_MAX_ZERO_RUN + 1;
			for (; ir + 8 <= limit; ir += 8) {
				uint64_t w = uz_get_le64(ir);

				if (w) {
					ir += (unsigned)__builtin_ctzll(w) >> 3;
					goto run_found;
				}
			}
			while (ir < limit && *ir == 0)
				ir++;
run_found:
			run = (uint32_t)(ir - ip);
			if (run > LZO_MAX_ZERO_RUN)
				run = LZO_MAX_ZERO_RUN;
		} else {
			uint32_t h = lzo_hash(dv);

			run = 0;	/* [next] skips the declaration */
			m_pos = in + dict[h];
			dict[h] = (uint16_t)(ip - in);
			if (dv != uz_get_le32(m_pos))
				goto literal;
		}

		/* Pending literals [ii - ti, ip); the carry counts once. */
		ii -= ti;
		ti = 0;
		t = (size_t)(ip - ii);
		if (t != 0) {
			if (t <= 3) {
				op[state_offset] |= (uint8_t)t;
				uz_put_le32(op, uz_get_le32(ii));
				op += t;
			} else if (t <= 16) {
				*op++ = (uint8_t)(t - 3);
				lzo_copy16(op, ii);
				op += t;
			} else {
				if (t <= 18) {
					*op++ = (uint8_t)(t - 3);
				} else {
					*op++ = 0;
					op = lzo_put_255_run(op, t - 18);
				}
				op = lzo_copy_long(op, ii, t);
			}
		}

		if (version && unlikely(run)) {
			uint32_t r = run - LZO_MIN_ZERO_RUN;

			ip += run;
			uz_put_le32(op, (r << 21) | 0xfffc18u | (r & 7));
			op += 4;
			state_offset = -3;
			ii = ip;
			goto next;
		}

		/* Extend the 4-byte match 8 bytes at a time. */
		m_len = 4;
		v = uz_get_le64(ip + m_len) ^ uz_get_le64(m_pos + m_len);
		if (unlikely(v == 0)) {
			do {
				m_len += 8;
				v = uz_get_le64(ip + m_len) ^
				    uz_get_le64(m_pos + m_len);
				if (unlikely(ip + m_len >= ip_end))
					goto m_len_done;
			} while (v == 0);
		}
		m_len += (unsigned)__builtin_ctzll(v) >> 3;
m_len_done:
		m_off = (size_t)(ip - m_pos);
		ip += m_len;
		if (m_len <= LZO_M2_MAX_LEN && m_off <= LZO_M2_MAX_OFFSET) {
			m_off -= 1;
			op[0] = (uint8_t)(((m_len - 1) << 5) | ((m_off & 7) << 2));
			op[1] = (uint8_t)(m_off >> 3);
			op += 2;
		} else if (m_off <= LZO_M3_MAX_OFFSET) {
			m_off -= 1;
			if (m_len <= LZO_M3_MAX_LEN) {
				*op++ = (uint8_t)(LZO_M3_MARKER | (m_len - 2));
			} else {
				*op++ = LZO_M3_MARKER;
				op = lzo_put_255_run(op, m_len - LZO_M3_MAX_LEN);
			}
			op[0] = (uint8_t)(m_off << 2);
			op[1] = (uint8_t)(m_off >> 6);
			op += 2;
		} else {
			m_off -= 0x4000;
			if (m_len <= LZO_M4_MAX_LEN) {
				*op++ = (uint8_t)(LZO_M4_MARKER |
						  ((m_off >> 11) & 8) |
						  (m_len - 2));
			} else {
				/*
				 * v1: lengths 261..264 with these offset bits
				 * would look like a zero run to the decoder.
				 */
				if (version &&
				    unlikely((m_off & 0x403f) == 0x403f &&
					     m_len >= 261 && m_len <= 264)) {
					ip -= m_len - 260;
					m_len = 260;
				}
				*op++ = (uint8_t)(LZO_M4_MARKER |
						  ((m_off >> 11) & 8));
				op = lzo_put_255_run(op, m_len - LZO_M4_MAX_LEN);
			}
			op[0] = (uint8_t)(m_off << 2);
			op[1] = (uint8_t)(m_off >> 6);
			op += 2;
		}
		state_offset = -2;
		ii = ip;
		goto next;
	}
	*opp = op;
	*state_offset_p = state_offset;
	return (size_t)(in_end - (ii - ti));
}

static lzo_always_inline int
lzo_generic_compress(const uint8_t *in, size_t in_len, uint8_t *out,
		     size_t *out_len, void *wrkmem, const int version)
{
	const uint8_t *ip = in;
	uint8_t *op = out;
	uint8_t *data_start;
	uint16_t *dict = wrkmem;
	size_t l = in_len, t = 0;
	size_t m4_max_offset;
	int state_offset = -2;

	if (version) {
		*op++ = 17;
		*op++ = (uint8_t)version;
		m4_max_offset = LZO_M4_MAX_OFFSET_V1;
	} else {
		m4_max_offset = LZO_M4_MAX_OFFSET_V0;
	}
	data_start = op;

	while (l > 20) {
		size_t ll = UZ_MIN(l, m4_max_offset + 1);

		memset(dict, 0, LZO_D_SIZE * sizeof(*dict));
		t = lzo_block_compress(ip, ll, &op, t, dict, &state_offset,
				       version);
		ip += ll;
		l -= ll;
	}
	t += l;

	if (t > 0) {
		const uint8_t *ii = in + in_len - t;

		if (op == data_start && t <= 238) {
			*op++ = (uint8_t)(17 + t);
		} else if (t <= 3) {
			op[state_offset] |= (uint8_t)t;
		} else if (t <= 18) {
			*op++ = (uint8_t)(t - 3);
		} else {
			*op++ = 0;
			op = lzo_put_255_run(op, t - 18);
		}
		/* The input ends here: no over-reading copies. */
		memcpy(op, ii, t);
		op += t;
	}

	op[0] = LZO_M4_MARKER | 1;
	op[1] = 0;
	op[2] = 0;
	op += 3;
	*out_len = (size_t)(op - out);
	return UZ_LZO_E_OK;
}

int uz_lzo1x_1_compress(const uint8_t *in, size_t in_len, uint8_t *out,
			size_t *out_len, void *wrkmem)
{
	return lzo_generic_compress(in, in_len, out, out_len, wrkmem, 0);
}

int uz_lzorle1x_1_compress(const uint8_t *in, size_t in_len, uint8_t *out,
			   size_t *out_len, void *wrkmem)
{
	return lzo_generic_compress(in, in_len, out, out_len, wrkmem, 1);
}
