/*
 * fuzz_attr_store.c - every attribute's store parser on arbitrary bytes.
 *
 * Input: [selector byte][bytes...]; its low 6 bits pick the attribute (the
 * table's order) and the rest is written to it, as by write(2) to sysfs. A
 * few stores of configuration come first so initialised and uninitialised
 * states are both reached. Whatever the input, the store returns 0 or a
 * -errno and the device stays consistent: every show still works.
 * backing_dev is left out (it opens the path it is given read-write).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uzram.h"

static struct uzram *z;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[1 << 16];

	if (!z && uzram_new(&z, 1))
		abort();
	if (size < 1)
		return 0;
	size_t n = uzram_attr_count();
	const struct uzram_attr_info *a = uzram_attr_at((data[0] & 0x3f) % n);
	if (!strcmp(a->name, "backing_dev"))
		return 0;
	/* keep devices small: the fuzzer finds "1E" quickly */
	if (!strcmp(a->name, "disksize")) {
		char tmp[64];
		size_t k = size - 1 < sizeof(tmp) - 1 ? size - 1 : sizeof(tmp) - 1;
		memcpy(tmp, data + 1, k);
		tmp[k] = 0;
		if (strtoull(tmp, NULL, 0) > (64u << 20) || strpbrk(tmp, "gGtTpPeEmM"))
			return 0;
	}
	int ret = uzram_attr_store(z, 0, a->name, (const char *)data + 1, size - 1);
	if (ret > 0 || ret < -4095)
		abort();
	if (data[0] & 0x80) {
		/* a write to the device, when it is initialised */
		struct uzram_dev *d;
		if (!uzram_open(z, 0, &d)) {
			static uint8_t page[4096];
			memset(page, data[0], sizeof(page));
			if (uzram_dev_size(d) >= 8192) {
				uzram_write(d, page, 4096, 4096);
				uzram_read(d, page, 0, 4096);
			}
			uzram_close(d);
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct uzram_attr_info *s = uzram_attr_at(i);
		if (s->mode & 0444) {
			long r = uzram_attr_show(z, 0, s->name, buf, sizeof(buf));
			if (r < 0 && r != -EINVAL)	/* block_state of an uninitialised device */
				abort();
		}
	}
	/* now and then start over */
	if ((data[0] & 0x3f) == 0x3f)
		uzram_attr_store(z, 0, "reset", "1", 1);
	return 0;
}
