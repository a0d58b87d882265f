/*
 * fuzz_device_ops.c - sequences of device operations checked against a model.
 *
 * Each 8-byte record of the input is one operation on a 64 KiB device: op,
 * sector, sector count, and a content byte. Reads compare with a flat
 * reference buffer; writes, discards (whole pages inside the range become
 * zero) and write-zeroes update it; the first mismatch aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uzram.h"

#define DEV_SIZE	(64 * 1024)
#define PAGE		4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void content(uint8_t *buf, size_t len, uint8_t kind, uint32_t seed)
{
	switch (kind & 3) {
	case 0:
		memset(buf, kind >> 2, len);
		break;
	case 1:
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)("zram page text "[(i + seed) % 15]);
		break;
	default: {
		uint32_t x = seed * 2654435761u + 1;
		for (size_t i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			buf[i] = (uint8_t)x;
		}
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const algs[] = { "lzo-rle", "lz4", "zstd", "842", "deflate", "lzo", "lz4hc" };
	static uint8_t ref[DEV_SIZE], buf[DEV_SIZE];
	static struct uzram *z;
	static struct uzram_dev *devs[7];

	if (size < 1)
		return 0;
	/* one device per algorithm, made once, emptied for every input */
	if (!z && uzram_new(&z, 7))
		abort();
	unsigned int a = data[0] % 7;
	if (!devs[a]) {
		const char *alg = algs[a];
		if (uzram_attr_store(z, (int)a, "comp_algorithm", alg, strlen(alg)) ||
		    uzram_attr_store(z, (int)a, "disksize", "64K", 3) ||
		    uzram_open(z, (int)a, &devs[a]))
			abort();
	}
	struct uzram_dev *d = devs[a];
	if (uzram_discard(d, 0, DEV_SIZE))
		abort();
	memset(ref, 0, sizeof(ref));
	for (size_t p = 1; p + 8 <= size; p += 8) {
		const uint8_t *r = data + p;
		uint32_t sector = r[1] % (DEV_SIZE / 512);
		uint32_t count = 1 + r[2] % 24;
		if (sector + count > DEV_SIZE / 512)
			count = DEV_SIZE / 512 - sector;
		uint64_t off = (uint64_t)sector * 512, len = (uint64_t)count * 512;
		uint32_t seed = (uint32_t)r[4] | (uint32_t)r[5] << 8;

		switch (r[0] % 5) {
		case 0:
			if (uzram_read(d, buf, off, len) || memcmp(buf, ref + off, len))
				abort();
			break;
		case 1:
		case 2:
			content(buf, len, r[3], seed);
			if (uzram_write(d, buf, off, len))
				abort();
			memcpy(ref + off, buf, len);
			break;
		case 3:
			if (uzram_discard(d, off, len))
				abort();
			for (uint64_t pg = (off + PAGE - 1) / PAGE; pg < (off + len) / PAGE; pg++)
				memset(ref + pg * PAGE, 0, PAGE);
			break;
		case 4:
			if (uzram_write_zeroes(d, off, len))
				abort();
			memset(ref + off, 0, len);
			break;
		}
		if (r[6] == 0xcc)
			uzram_attr_store(z, (int)a, "compact", "1", 1);
	}
	if (uzram_read(d, buf, 0, DEV_SIZE) || memcmp(buf, ref, DEV_SIZE))
		abort();
	return 0;
}
