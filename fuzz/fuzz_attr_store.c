/*
 * fuzz_attr_store.c - every attribute's store parser on arbitrary bytes.
 *
 * Input: [selector byte][bytes...]; its low 6 bits pick the attribute (the
 * table's order), bit 6 the device (zram0 or zram1), and the rest is
 * written to it, as by write(2) to sysfs. A few stores of configuration come
 * first so initialised and uninitialised states are both reached. Whatever the input, the store returns 0 or a
 * -errno and the device stays consistent: every show still works.
 *
 * Paths (backing_dev, algorithm_params dict=) are confined as `uzram
 * serve` confines them: the registry's allow-list is FUZZ_DIR, which holds
 * a 1 MiB backing file and a dictionary, so the fuzzer reaches writeback and
 * dictionaries there (the corpus names them) and can open nothing else. It
 * also holds what the path checks must refuse (docs/security.md): a FIFO
 * (never waited on), a symlink to the backing file (never followed) and a
 * directory to climb out of with "..". Two devices: zram1 starts with the
 * backing file, so that zram0, its second user, meets its lock (EBUSY).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uzram.h"

#define FUZZ_DIR	"/tmp/uzram-fuzz-attr"

static struct uzram *z;

/* Leave nothing behind in /tmp (a replay in `make check`, a fuzzing run). */
static void cleanup(void)
{
	unlink(FUZZ_DIR "/dict");
	unlink(FUZZ_DIR "/backing");
	unlink(FUZZ_DIR "/fifo");
	unlink(FUZZ_DIR "/link");
	rmdir(FUZZ_DIR "/sub");
	rmdir(FUZZ_DIR);
}

static void setup(void)
{
	static const char dict[] = "zram compressed page dictionary zstd lz4 lzo ";
	const char *dirs[] = { FUZZ_DIR };
	int fd;

	if (uzram_new(&z, 2))
		abort();
	if (mkdir(FUZZ_DIR, 0700) && errno != EEXIST)
		abort();
	if ((mkfifo(FUZZ_DIR "/fifo", 0600) && errno != EEXIST) ||
	    (symlink("backing", FUZZ_DIR "/link") && errno != EEXIST) ||
	    (mkdir(FUZZ_DIR "/sub", 0700) && errno != EEXIST))
		abort();
	fd = open(FUZZ_DIR "/dict", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	for (int i = 0; fd >= 0 && i < 64; i++)
		if (write(fd, dict, sizeof(dict) - 1) != (ssize_t)sizeof(dict) - 1)
			abort();
	if (fd < 0 || close(fd))
		abort();
	fd = open(FUZZ_DIR "/backing", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, 1 << 20) || close(fd))
		abort();
	if (uzram_set_path_allowlist(z, dirs, 1))
		abort();
	/* zram1 starts with the backing file: zram0's store of it is EBUSY */
	if (uzram_attr_store(z, 1, "backing_dev", FUZZ_DIR "/backing",
			     strlen(FUZZ_DIR "/backing")))
		abort();
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[1 << 16];

	if (!z)
		setup();
	if (size < 1)
		return 0;
	size_t n = uzram_attr_count();
	const struct uzram_attr_info *a = uzram_attr_at((data[0] & 0x3f) % n);
	/* keep devices small: the fuzzer finds "1E" quickly */
	if (!strcmp(a->name, "disksize")) {
		char tmp[64];
		size_t k = size - 1 < sizeof(tmp) - 1 ? size - 1 : sizeof(tmp) - 1;
		memcpy(tmp, data + 1, k);
		tmp[k] = 0;
		if (strtoull(tmp, NULL, 0) > (64u << 20) || strpbrk(tmp, "gGtTpPeEmM"))
			return 0;
	}
	unsigned int dev = (data[0] & 0x40) ? 1 : 0;
	int ret = uzram_attr_store(z, dev, a->name, (const char *)data + 1, size - 1);
	if (ret > 0 || ret < -4095)
		abort();
	if (data[0] & 0x80) {
		/* a write to the device, when it is initialised */
		struct uzram_dev *d;
		if (!uzram_open(z, dev, &d)) {
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
			long r = uzram_attr_show(z, dev, s->name, buf, sizeof(buf));
			if (r < 0 && r != -EINVAL)	/* block_state of an uninitialised device */
				abort();
		}
	}
	/* now and then start over */
	if ((data[0] & 0x3f) == 0x3f)
		uzram_attr_store(z, dev, "reset", "1", 1);
	return 0;
}
