/*
 * fuzz_lzo_decompress.c - libFuzzer target: uz_lzo1x_decompress_safe on
 * arbitrary bytes (v0 and v1 streams alike).
 *
 * The input is decoded into a 4096-byte buffer and into a small one
 * (0..255 bytes, from the input's length), both allocated at their exact
 * size so that ASan catches any write past the capacity; the input itself
 * is libFuzzer's exact-size copy, so any read past it is caught too. The
 * result must be a valid code with *out_len within the capacity; a stream
 * that decodes must decode to the same bytes into any large-enough buffer.
 * A successful decode is re-encoded with both encoders and the round trip
 * checked. Any violation abort()s.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lzo/lzo.h"

#define PAGE 4096

static void roundtrip(const uint8_t *data, size_t len)
{
	static uint64_t wrkmem[UZ_LZO1X_1_MEM_COMPRESS / sizeof(uint64_t)];
	uint8_t *c = malloc(UZ_LZO1X_WORST(len));
	uint8_t *d = malloc(len ? len : 1);

	if (!c || !d)
		abort();
	for (int v = 0; v < 2; v++) {
		size_t clen = 0, dlen = len;
		int ret = v ? uz_lzorle1x_1_compress(data, len, c, &clen, wrkmem)
			    : uz_lzo1x_1_compress(data, len, c, &clen, wrkmem);

		if (ret != UZ_LZO_E_OK || clen > UZ_LZO1X_WORST(len))
			abort();
		ret = uz_lzo1x_decompress_safe(c, clen, d, &dlen);
		if (ret != UZ_LZO_E_OK || dlen != len || memcmp(d, data, len))
			abort();
	}
	free(c);
	free(d);
}

static int valid_code(int ret)
{
	return ret == UZ_LZO_E_OK || ret == UZ_LZO_E_ERROR ||
	       ret == UZ_LZO_E_INPUT_OVERRUN || ret == UZ_LZO_E_OUTPUT_OVERRUN ||
	       ret == UZ_LZO_E_LOOKBEHIND_OVERRUN ||
	       ret == UZ_LZO_E_INPUT_NOT_CONSUMED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *page = malloc(PAGE);
	size_t small_cap = size & 0xff;
	uint8_t *small = malloc(small_cap ? small_cap : 1);
	size_t len = PAGE, slen = small_cap;
	int ret, sret;

	if (!page || !small)
		abort();
	ret = uz_lzo1x_decompress_safe(data, size, page, &len);
	if (!valid_code(ret) || len > PAGE)
		abort();
	sret = uz_lzo1x_decompress_safe(data, size, small, &slen);
	if (!valid_code(sret) || slen > small_cap)
		abort();
	/* Whatever fits in both buffers decodes alike. */
	if (memcmp(page, small, len < slen ? len : slen))
		abort();
	/* A stream decodes into the small buffer iff its output fits there. */
	if (sret == UZ_LZO_E_OK && (ret != UZ_LZO_E_OK || slen != len))
		abort();
	if (ret == UZ_LZO_E_OK) {
		if ((len <= small_cap) != (sret == UZ_LZO_E_OK))
			abort();
		roundtrip(page, len);
	}
	free(page);
	free(small);
	return 0;
}
