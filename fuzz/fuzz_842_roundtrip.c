/*
 * fuzz_842_roundtrip.c - libFuzzer target: the input is data to compress
 * with the 842 encoder (lib/842/sw842.c); the stream must be a multiple of 8
 * bytes, no longer than the format's worst case, decode to the input into a
 * buffer of exactly the input's size, and compressing into one byte less
 * than the stream must say -ENOSPC without writing past it.  Buffers are
 * heap-allocated at their exact sizes so ASan sees any overrun.  Any
 * violation abort()s.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "842/sw842.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The worst case: 69 bits per 8-byte block (opcode and 64 bits of data),
 * 8 + 8 * tail bits of SHORT_DATA, 37 bits of END and CRC, padded to a
 * multiple of 8 bytes.
 */
static size_t bound(size_t n)
{
	size_t bits = 69 * (n / 8) + (n % 8 ? 8 + 8 * (n % 8) : 0) + 37;

	return ((bits + 7) / 8 + 7) & ~(size_t)7;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void *wrk;
	size_t cap = bound(size), clen = cap, dlen = size, slen;
	uint8_t *comp, *out, *small;

	if (!wrk) {
		wrk = malloc(uz_sw842_wrkmem_size());
		if (!wrk)
			abort();
	}
	comp = malloc(cap);
	out = malloc(size ? size : 1);
	if (!comp || !out)
		abort();

	if (uz_sw842_compress(data, size, comp, &clen, wrk) || clen % 8 ||
	    clen > cap || clen < 8)
		abort();
	if (uz_sw842_decompress(comp, clen, out, &dlen) || dlen != size ||
	    (size && memcmp(out, data, size)))
		abort();

	slen = clen - 1;
	small = malloc(slen);
	if (!small)
		abort();
	if (uz_sw842_compress(data, size, small, &slen, wrk) != -ENOSPC ||
	    slen != 0)
		abort();

	free(small);
	free(comp);
	free(out);
	return 0;
}
