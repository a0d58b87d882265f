/*
 * embed.c - libuzram as a compressed page store inside a program.
 *
 * Builds with:  cc -Iinclude examples/embed.c libuzram.a \
 *                   $(pkg-config --libs liblz4 libzstd lzo2 zlib) -lpthread
 * (or `make` builds it into build/default/examples/embed).
 *
 * It creates one zstd device of 64 MiB, stores pages of a few kinds, reads
 * them back, and prints what zram would: mm_stat and the compression ratio.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uzram.h"

static int fail(const char *what, int err)
{
	fprintf(stderr, "embed: %s: %s\n", what, strerror(-err));
	return 1;
}

int main(void)
{
	static char page[4096], back[4096];
	struct uzram_stats st;
	struct uzram_dev *dev;
	struct uzram *z;
	int ret;

	if ((ret = uzram_new(&z, 1)))
		return fail("uzram_new", ret);
	/* configure as on /sys/block/zram0: algorithm first, then the size */
	if ((ret = uzram_attr_store(z, 0, "comp_algorithm", "zstd", 4)))
		return fail("comp_algorithm", ret);
	if ((ret = uzram_attr_store(z, 0, "disksize", "64M", 3)))
		return fail("disksize", ret);
	if ((ret = uzram_open(z, 0, &dev)))
		return fail("open zram0", ret);

	for (int i = 0; i < 1000; i++) {
		if (i % 10 == 0)
			memset(page, 0, sizeof(page));		/* same-filled: free */
		else
			for (size_t k = 0; k < sizeof(page); k++)
				page[k] = "compressible text, page by page "[(k + i) % 33];
		if ((ret = uzram_write(dev, page, (uint64_t)i * 4096, 4096)))
			return fail("write", ret);
	}
	if ((ret = uzram_read(dev, back, 999 * 4096, 4096)) || memcmp(page, back, 4096))
		return fail("read back", ret ? ret : -5);

	char mm[256];
	uzram_attr_show(z, 0, "mm_stat", mm, sizeof(mm));
	uzram_stats(z, 0, &st);
	printf("mm_stat: %s", mm);
	printf("%llu bytes stored in %llu bytes of memory (ratio %.1f), %llu same-filled pages\n",
	       (unsigned long long)st.orig_data_size, (unsigned long long)st.mem_used_total,
	       (double)st.orig_data_size / (double)st.mem_used_total,
	       (unsigned long long)st.same_pages);
	uzram_close(dev);
	uzram_free(z);
	return 0;
}
