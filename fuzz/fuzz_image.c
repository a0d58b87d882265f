/*
 * fuzz_image.c - the image parser (lib/zram/image.c, through uzram_restore)
 * on arbitrary input: a restore either succeeds or fails with the device
 * reset, never reading or writing out of bounds, leaking or hanging. A
 * device restored is read whole (objects that do not decompress fail their
 * reads, no more) and saved again, and that image must restore.
 *
 * Input: an image file. Images whose header claims more than 4 MiB of
 * disksize are skipped, to keep each run short (the parser's checks do not
 * depend on the size). Seeds (fuzz/corpus/fuzz_image): a saved 64 KiB
 * device (lz4, zstd with a dictionary at priority 1; same-filled, huge,
 * compressed, recompressed and idle slots), truncations of it, and a copy
 * with a byte changed.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/common.h"
#include "uzram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd_of(const void *data, size_t size)
{
	int fd = memfd_create("image", MFD_CLOEXEC);

	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	lseek(fd, 0, SEEK_SET);
	return fd;
}

static bool is_reset(struct uzram *z, int id)
{
	struct uzram_stats st;

	return !uzram_stats(z, id, &st) && !st.initialised && !st.disksize;
}

/* Read every page of zram0 (failures allowed), then save it and restore
 * the copy into zram1, which must succeed. */
static void exercise(struct uzram *z)
{
	static uint8_t page[UZ_PAGE_SIZE];
	struct uzram_dev *d;
	uint64_t size;
	int fd;

	if (uzram_open(z, 0, &d))
		abort();
	size = uzram_dev_size(d);
	for (uint64_t off = 0; off < size; off += UZ_PAGE_SIZE)
		uzram_read(d, page, off, UZ_PAGE_SIZE);
	uzram_close(d);
	fd = memfd_create("again", MFD_CLOEXEC);
	if (fd < 0 || uzram_save(z, 0, fd))
		abort();
	lseek(fd, 0, SEEK_SET);
	if (uzram_restore(z, 1, fd))
		abort();
	close(fd);
	if (uzram_attr_store(z, 1, "reset", "1", 1))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct uzram *z;
	int fd, ret;

	if (!z && uzram_new(&z, 2))
		abort();
	if (size >= 32 && uz_get_le64(data + 24) > (4u << 20))
		return 0;
	fd = memfd_of(data, size);
	ret = uzram_restore(z, 0, fd);
	close(fd);
	if (ret) {
		if (!is_reset(z, 0))
			abort();	/* half restored */
		return 0;
	}
	exercise(z);
	if (uzram_attr_store(z, 0, "reset", "1", 1) || !is_reset(z, 0))
		abort();
	return 0;
}
