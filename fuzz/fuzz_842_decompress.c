/*
 * fuzz_842_decompress.c - libFuzzer target: arbitrary bytes into the 842
 * decoder (lib/842/sw842.c), decoding into a 4096-byte page.
 *
 * The decoder must return 0, -EINVAL or -ENOSPC, leave *olen 0 on error and
 * never touch memory outside its buffers (the input is libFuzzer's exact-
 * size copy, so ASan sees any over-read).  When it succeeds, the output is
 * compressed again and the new stream must decode to the same bytes, the
 * original stream must decode the same with exactly the output's capacity,
 * and must report -ENOSPC with one byte less.  Any violation abort()s.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "842/sw842.h"

#define PAGE	4096
#define CMAX	(PAGE + 512)	/* > the largest stream of one page */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[PAGE], again[PAGE], comp[CMAX];
	static void *wrk;
	size_t olen = PAGE, olen2, clen = CMAX;
	int ret;

	if (!wrk) {
		wrk = malloc(uz_sw842_wrkmem_size());
		if (!wrk)
			abort();
	}

	ret = uz_sw842_decompress(data, size, out, &olen);
	if (ret) {
		if ((ret != -EINVAL && ret != -ENOSPC) || olen != 0)
			abort();
		return 0;
	}
	if (olen > PAGE)
		abort();

	/* The same stream with exactly enough room, then one byte short. */
	olen2 = olen;
	if (uz_sw842_decompress(data, size, again, &olen2) || olen2 != olen ||
	    memcmp(again, out, olen))
		abort();
	if (olen) {
		olen2 = olen - 1;
		if (uz_sw842_decompress(data, size, again, &olen2) != -ENOSPC)
			abort();
	}

	/* Our own encoding of the output decodes to the same bytes. */
	if (uz_sw842_compress(out, olen, comp, &clen, wrk) || clen % 8)
		abort();
	olen2 = PAGE;
	if (uz_sw842_decompress(comp, clen, again, &olen2) || olen2 != olen ||
	    memcmp(again, out, olen))
		abort();
	return 0;
}
