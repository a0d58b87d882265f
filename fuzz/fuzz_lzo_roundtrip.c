/*
 * fuzz_lzo_roundtrip.c - libFuzzer target: compress with uz_lzo1x_1_compress
 * (v0) and uz_lzorle1x_1_compress (v1), decompress with
 * uz_lzo1x_decompress_safe, abort() unless the bytes come back; the v0
 * stream must also decode with liblzo2's lzo1x_decompress_safe. Buffers are
 * exact-size heap blocks (output: UZ_LZO1X_WORST), so ASan sees overruns.
 *
 * Inputs that start with 0xA5 are a recipe rather than data, to reach what
 * small inputs cannot (zero runs past 2051 bytes, M4 distances past 16 KiB,
 * several encoder chunks). Each 2-byte step (a, b) appends:
 *   a < 0x80          the two bytes a, b;
 *   0x80 <= a < 0xc0  ((a & 0x3f) << 8 | b) zero bytes;
 *   a >= 0xc0         300 bytes copied from distance ((a & 0x3f) << 8 | b) * 4
 *                     + 1, when that much output exists.
 * The expansion stops at 256 KiB.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lzo/lzo1x.h>

#include "lzo/lzo.h"

#define RECIPE_MAX (256 * 1024)

static size_t expand(const uint8_t *data, size_t size, uint8_t *out)
{
	size_t n = 0;

	for (size_t i = 1; i + 1 < size; i += 2) {
		unsigned a = data[i], b = data[i + 1];
		size_t l, dist;

		if (a < 0x80) {
			if (n + 2 > RECIPE_MAX)
				break;
			out[n++] = (uint8_t)a;
			out[n++] = (uint8_t)b;
		} else if (a < 0xc0) {
			l = (a & 0x3f) << 8 | b;
			if (n + l > RECIPE_MAX)
				break;
			memset(out + n, 0, l);
			n += l;
		} else {
			dist = ((size_t)((a & 0x3f) << 8 | b)) * 4 + 1;
			if (n + 300 > RECIPE_MAX)
				break;
			if (dist > n)
				continue;
			for (l = 0; l < 300; l++, n++)
				out[n] = out[n - dist];
		}
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint64_t wrkmem[UZ_LZO1X_1_MEM_COMPRESS / sizeof(uint64_t)];
	static int lzo2_ready;
	const uint8_t *in = data;
	uint8_t *recipe = NULL;
	size_t len = size;

	if (!lzo2_ready) {
		if (lzo_init() != LZO_E_OK)
			abort();
		lzo2_ready = 1;
	}
	if (size > 0 && data[0] == 0xa5) {
		recipe = malloc(RECIPE_MAX);
		if (!recipe)
			abort();
		len = expand(data, size, recipe);
		in = recipe;
	}

	uint8_t *c = malloc(UZ_LZO1X_WORST(len));
	uint8_t *d = malloc(len ? len : 1);

	if (!c || !d)
		abort();
	for (int v = 0; v < 2; v++) {
		size_t clen = 0, dlen = len;
		int ret = v ? uz_lzorle1x_1_compress(in, len, c, &clen, wrkmem)
			    : uz_lzo1x_1_compress(in, len, c, &clen, wrkmem);

		if (ret != UZ_LZO_E_OK || clen > UZ_LZO1X_WORST(len))
			abort();
		if (v == 1 && (clen < 5 || c[0] != 0x11 || c[1] != 0x01))
			abort();
		ret = uz_lzo1x_decompress_safe(c, clen, d, &dlen);
		if (ret != UZ_LZO_E_OK || dlen != len || memcmp(d, in, len))
			abort();
		/* One byte less room must be refused. */
		if (len > 0) {
			dlen = len - 1;
			if (uz_lzo1x_decompress_safe(c, clen, d, &dlen) !=
			    UZ_LZO_E_OUTPUT_OVERRUN)
				abort();
		}
		if (v == 0) {
			lzo_uint l2 = len;

			memset(d, 0, len);
			ret = lzo1x_decompress_safe(c, clen, d, &l2, NULL);
			if (ret != LZO_E_OK || l2 != len || memcmp(d, in, len))
				abort();
		}
	}
	free(c);
	free(d);
	free(recipe);
	return 0;
}
