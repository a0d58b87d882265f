/*
 * lzo.h - LZO1X (bitstream v0) and LZO-RLE (v1), the kernel's lib/lzo formats
 * (lib/lzo/lzo1x_compress.c, lib/lzo/lzo1x_decompress_safe.c and
 * Documentation/staging/lzo.rst), written for uzram.
 *
 * The encoder is the kernel's lzo1x_1 / lzorle1x_1 algorithm (D_BITS 13,
 * 16 KiB dictionary); the decoder is the bounds-checked lzo1x_decompress_safe
 * that reads both versions. Names carry a uz_ prefix so that a program can link
 * liblzo2 beside us (the tests do, for cross-decoding).
 */
#ifndef UZRAM_LZO_H
#define UZRAM_LZO_H

#include <stddef.h>
#include <stdint.h>

#define UZ_LZO1X_1_MEM_COMPRESS	(8192 * sizeof(uint16_t))
/*
 * Worst-case output of the encoders for in_len input bytes. The kernel's
 * lzo1x_worst_compress() (in_len + in_len / 16 + 64 + 3 + 2) holds for v0
 * only: in v1 a zero run of 4 bytes costs a 4-byte instruction, so units of
 * 4 unmatched literals + 4 zeros cost 9 bytes per 8 (a crafted 4096-byte
 * page gives 4611 bytes, over that bound by 190; tests/test_lzo.c builds
 * one). Each literal run of t >= 4 bytes adds at most max(1, 2 + t / 255)
 * bytes, and the instruction after it never emits more bytes than it
 * consumes (>= 4), so the overhead is at most in_len / 8 plus the header,
 * the tail and the end marker; the encoders' 16-byte literal stores may
 * reach 10 bytes past the end of the output. This bound covers both
 * versions.
 */
#define UZ_LZO1X_WORST(in_len)	((in_len) + ((in_len) / 8) + 64 + 3 + 2)

/* Return codes, as the kernel's (and liblzo2's) LZO_E_*. */
#define UZ_LZO_E_OK			0
#define UZ_LZO_E_ERROR			(-1)
#define UZ_LZO_E_OUT_OF_MEMORY		(-2)
#define UZ_LZO_E_NOT_COMPRESSIBLE	(-3)
#define UZ_LZO_E_INPUT_OVERRUN		(-4)
#define UZ_LZO_E_OUTPUT_OVERRUN		(-5)
#define UZ_LZO_E_LOOKBEHIND_OVERRUN	(-6)
#define UZ_LZO_E_EOF_NOT_FOUND		(-7)
#define UZ_LZO_E_INPUT_NOT_CONSUMED	(-8)
#define UZ_LZO_E_NOT_YET_IMPLEMENTED	(-9)
#define UZ_LZO_E_INVALID_ARGUMENT	(-10)

/*
 * Compress in[0..in_len) into out; *out_len is set to the bytes written.
 * out must hold UZ_LZO1X_WORST(in_len) bytes; wrkmem is UZ_LZO1X_1_MEM_COMPRESS
 * bytes (any alignment of 8 or more). Returns UZ_LZO_E_OK.
 */
int uz_lzo1x_1_compress(const uint8_t *in, size_t in_len, uint8_t *out,
			size_t *out_len, void *wrkmem);
int uz_lzorle1x_1_compress(const uint8_t *in, size_t in_len, uint8_t *out,
			   size_t *out_len, void *wrkmem);

/*
 * Decompress a v0 or v1 stream. On entry *out_len is the capacity of out; on
 * return the bytes produced. Never reads past in + in_len nor writes past
 * out + capacity. Returns UZ_LZO_E_OK or a negative UZ_LZO_E_* code.
 */
int uz_lzo1x_decompress_safe(const uint8_t *in, size_t in_len, uint8_t *out,
			     size_t *out_len);

#endif /* UZRAM_LZO_H */
