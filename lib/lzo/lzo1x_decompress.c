/*
 * lzo1x_decompress.c - the bounds-checked LZO1X decoder for bitstream v0
 * ("lzo") and v1 ("lzo-rle"), written for uzram (the kernel's is
 * lib/lzo/lzo1x_decompress_safe.c: lzo1x_decompress_safe()).
 *
 * Design: a single pass over the instruction stream with the kernel's
 * "state" (literals copied by the previous instruction: 0, 1..3 or 4).
 * Every read of the input and every write of the output is checked:
 *   - before an opcode is read at least 3 input bytes remain (opcode plus
 *     the shortest operand plus one more), which every instruction
 *     re-establishes before it returns to the loop (as the kernel does);
 *   - 255-extended lengths check each extension byte;
 *   - a match is checked against the start of the output (lookbehind) and
 *     its end against the capacity, literal runs against both buffers.
 * Copies use 8- and 16-byte words, overshooting by up to 15 bytes, only when
 * both buffers have that much room; otherwise an exact copy is used. Match
 * copies whose distance is below 8 first lay down enough of the repeating
 * pattern to continue with word copies at a multiple of the distance.
 * On every return *out_len holds the bytes produced so far.
 */
#include "util/common.h"
#include "lzo.h"

#define LZO_M2_MAX_OFFSET	0x0800
#define LZO_MIN_ZERO_RUN	4
#define LZO_MAX_255_COUNT	((SIZE_MAX / 255) - 2)

#define lzo_always_inline	inline __attribute__((always_inline))

static lzo_always_inline void lzo_copy8(uint8_t *d, const uint8_t *s)
{
	uz_put_le64(d, uz_get_le64(s));
}

static lzo_always_inline void lzo_copy16(uint8_t *d, const uint8_t *s)
{
	uint64_t a = uz_get_le64(s), b = uz_get_le64(s + 8);

	uz_put_le64(d, a);
	uz_put_le64(d + 8, b);
}

/*
 * For a match distance d < 8: the smallest multiple of d that is >= 8.
 * Once that many bytes minus d of the match are written one by one, the
 * rest can be copied in 8-byte words from that larger distance.
 */
static const uint8_t lzo_pattern_dist[8] = { 0, 8, 8, 9, 8, 10, 12, 14 };

int uz_lzo1x_decompress_safe(const uint8_t *in, size_t in_len, uint8_t *out,
			     size_t *out_len)
{
	const uint8_t *ip = in;
	const uint8_t *const ip_end = in + in_len;
	uint8_t *op = out;
	uint8_t *const op_end = out + *out_len;
	const uint8_t *m_pos;
	size_t t, next, dist;
	unsigned int state = 0;
	unsigned int version = 0;
	int ret;

#define HAVE_IP(n)	((size_t)(ip_end - ip) >= (size_t)(n))
#define HAVE_OP(n)	((size_t)(op_end - op) >= (size_t)(n))
#define NEED_IP(n)	do { if (unlikely(!HAVE_IP(n))) goto input_overrun; } while (0)
#define NEED_OP(n)	do { if (unlikely(!HAVE_OP(n))) goto output_overrun; } while (0)
/* Reads a 255-extended count into t (adds 255 per zero byte plus the last). */
#define READ_255_RUN(base)						\
	do {								\
		const uint8_t *ip_last = ip;				\
		size_t zeros;						\
		while (unlikely(*ip == 0)) {				\
			ip++;						\
			NEED_IP(1);					\
		}							\
		zeros = (size_t)(ip - ip_last);				\
		if (unlikely(zeros > LZO_MAX_255_COUNT))		\
			goto error;					\
		t = (base) + zeros * 255 + *ip++;			\
	} while (0)

	if (unlikely(in_len < 3))
		goto input_overrun;
	if (in_len >= 5 && ip[0] == 17) {
		version = ip[1];
		ip += 2;
	}
	if (*ip > 17) {
		t = *ip++ - 17u;
		if (t < 4) {
			next = t;
			goto match_next;
		}
		goto copy_literal_run;
	}

	for (;;) {
		/* Invariant: at least 3 input bytes remain. */
		t = *ip++;
		if (t >= 64) {
			/* M2: length 3..8, distance 1..2048. */
			next = t & 3;
			dist = 1 + ((t >> 2) & 7) + ((size_t)*ip++ << 3);
			t = (t >> 5) + 1;
		} else if (t >= 32) {
			/* M3: distance 1..16384. */
			t &= 31;
			if (unlikely(t == 0))
				READ_255_RUN(31);
			t += 2;
			NEED_IP(2);
			next = uz_get_le16(ip);
			ip += 2;
			dist = 1 + (next >> 2);
			next &= 3;
		} else if (t >= 16) {
			/* M4, end of stream, or (v1) a zero run. */
			next = uz_get_le16(ip);
			if (version && (t & 0xf8) == 0x18 &&
			    (next & 0xfffc) == 0xfffc) {
				NEED_IP(3);
				t = (((size_t)ip[2] << 3) | (t & 7)) +
				    LZO_MIN_ZERO_RUN;
				NEED_OP(t);
				memset(op, 0, t);
				op += t;
				next &= 3;
				ip += 3;
				goto match_next;
			}
			dist = (t & 8) << 11;
			t &= 7;
			if (unlikely(t == 0))
				READ_255_RUN(7);
			t += 2;
			NEED_IP(2);
			next = uz_get_le16(ip);
			ip += 2;
			dist += next >> 2;
			next &= 3;
			if (dist == 0)
				goto eof_found;
			dist += 0x4000;
		} else if (state == 0) {
			/* Literal run of 4 or more bytes. */
			if (unlikely(t == 0))
				READ_255_RUN(15);
			t += 3;
copy_literal_run:
			if (likely(HAVE_IP(t + 15) && HAVE_OP(t + 15))) {
				uint8_t *end = op + t;

				do {
					lzo_copy16(op, ip);
					op += 16;
					ip += 16;
				} while (op < end);
				ip -= op - end;
				op = end;
			} else {
				NEED_OP(t);
				NEED_IP(t + 3);
				memcpy(op, ip, t);
				op += t;
				ip += t;
			}
			state = 4;
			continue;
		} else if (state != 4) {
			/* After 1..3 literals: a 2-byte match within 1 KiB. */
			next = t & 3;
			dist = 1 + (t >> 2) + ((size_t)*ip++ << 2);
			if (unlikely(dist > (size_t)(op - out)))
				goto lookbehind_overrun;
			NEED_OP(2);
			m_pos = op - dist;
			op[0] = m_pos[0];
			op[1] = m_pos[1];
			op += 2;
			goto match_next;
		} else {
			/* After a literal run: a 3-byte match past 2 KiB. */
			next = t & 3;
			dist = 1 + LZO_M2_MAX_OFFSET + (t >> 2) +
			       ((size_t)*ip++ << 2);
			t = 3;
		}

		/* Copy the match: t bytes from dist back. */
		if (unlikely(dist > (size_t)(op - out)))
			goto lookbehind_overrun;
		m_pos = op - dist;
		if (likely(HAVE_OP(t + 8))) {
			uint8_t *end = op + t;

			if (unlikely(dist < 8)) {
				size_t d = lzo_pattern_dist[dist];
				size_t n = d - dist;	/* 1..7 */

				do
					*op++ = *m_pos++;
				while (--n && op < end);
				m_pos = op - d;
			}
			while (op < end) {
				lzo_copy8(op, m_pos);
				op += 8;
				m_pos += 8;
			}
			op = end;
		} else {
			NEED_OP(t);
			do
				*op++ = *m_pos++;
			while (--t);
		}

match_next:
		/* next (0..3) trailing literals, then the next opcode. */
		state = (unsigned int)next;
		if (likely(HAVE_IP(6) && HAVE_OP(4))) {
			uz_put_le32(op, uz_get_le32(ip));
			op += next;
			ip += next;
		} else {
			NEED_IP(next + 3);
			NEED_OP(next);
			while (next) {
				*op++ = *ip++;
				next--;
			}
		}
	}

eof_found:
	/* 11 00 00 (length 3) is the only end marker. */
	if (t != 3)
		ret = UZ_LZO_E_ERROR;
	else if (ip == ip_end)
		ret = UZ_LZO_E_OK;
	else if (ip < ip_end)
		ret = UZ_LZO_E_INPUT_NOT_CONSUMED;
	else
		ret = UZ_LZO_E_INPUT_OVERRUN;
	goto done;
input_overrun:
	ret = UZ_LZO_E_INPUT_OVERRUN;
	goto done;
output_overrun:
	ret = UZ_LZO_E_OUTPUT_OVERRUN;
	goto done;
lookbehind_overrun:
	ret = UZ_LZO_E_LOOKBEHIND_OVERRUN;
	goto done;
error:
	ret = UZ_LZO_E_ERROR;
done:
	*out_len = (size_t)(op - out);
	return ret;

#undef HAVE_IP
#undef HAVE_OP
#undef NEED_IP
#undef NEED_OP
#undef READ_255_RUN
}
