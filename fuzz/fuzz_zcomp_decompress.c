/*
 * fuzz_zcomp_decompress.c - every algorithm's decoder, through zcomp, on
 * arbitrary input: a corrupt object must give -EINVAL, never read or write
 * out of bounds; success means exactly one page.
 *
 * Input: [algorithm byte][object bytes]. The object is copied to a buffer of
 * exactly its size, so ASan sees any overread.
 */
#include <stdlib.h>
#include <string.h>

#include "zcomp/zcomp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct zcomp *comps[16];
	static struct zcomp_params params[16];
	static uint8_t out[UZ_PAGE_SIZE];

	if (size < 1)
		return 0;
	size_t n = zcomp_nr_backends(), i = data[0] % n;
	if (!comps[i]) {
		zcomp_params_init(&params[i]);
		if (zcomp_create(&comps[i], zcomp_backend(i)->name, &params[i], 1))
			abort();
	}
	size_t len = size - 1;
	if (len > 2 * UZ_PAGE_SIZE)
		len = 2 * UZ_PAGE_SIZE;
	uint8_t *obj = malloc(len ? len : 1);
	memcpy(obj, data + 1, len);
	struct zcomp_strm *s = zcomp_stream_get(comps[i]);
	int ret = zcomp_decompress(comps[i], s, obj, (unsigned int)len, out);
	if (ret != 0 && ret != -22)
		abort();
	if (ret == 0) {
		/* a valid object: it must survive a round trip */
		unsigned int clen;
		if (zcomp_compress(comps[i], s, out, &clen))
			abort();
		uint8_t *again = malloc(clen);
		memcpy(again, s->buffer, clen);
		static uint8_t out2[UZ_PAGE_SIZE];
		if (zcomp_decompress(comps[i], s, again, clen, out2) || memcmp(out, out2, UZ_PAGE_SIZE))
			abort();
		free(again);
	}
	zcomp_stream_put(s);
	free(obj);
	return 0;
}
