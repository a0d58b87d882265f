/*
 * test_device.c - the device's data semantics and counters against the
 * kernel's rules (drivers/block/zram/zram_drv.c; docs/internals.md §2, §4,
 * §5.1; LTP's zram03).
 */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "devutil.h"

#define PAGE 4096

static struct uzram *z;
static struct uzram_dev *d;

static void setup(const char *alg, const char *size)
{
	REQUIRE(uzram_new(&z, 1) == 0, "new");
	REQUIRE(store(z, 0, "comp_algorithm", alg) == 0, "algorithm %s", alg);
	REQUIRE(store(z, 0, "disksize", size) == 0, "disksize");
	REQUIRE(uzram_open(z, 0, &d) == 0, "open");
}

static void teardown(void)
{
	uzram_close(d);
	uzram_free(z);
	d = NULL;
	z = NULL;
}

/* LTP zram03: 512 MiB of 'a' through the device, the last byte 0. */
static void test_zram03(void)
{
	const size_t size = 512u << 20, chunk = 1u << 20;
	uint8_t *buf = malloc(chunk);
	struct mm m;

	setup("lzo-rle", "512M");
	memset(buf, 'a', chunk);
	for (size_t off = 0; off < size; off += chunk) {
		if (off + chunk == size)
			buf[chunk - 1] = 0;
		REQUIRE(uzram_write(d, buf, off, chunk) == 0, "write at %zu", off);
	}
	m = mm_stat(z, 0);
	CHECK_EQ(m.orig, size);
	CHECK_EQ(m.same, size / PAGE - 1);	/* 0x61..61 is one repeated word */
	CHECK(m.compr > 0 && m.compr < 200, "one page compressed: %" PRIu64, m.compr);
	CHECK(m.used > 0 && m.used <= 8 * PAGE, "one small zspage: %" PRIu64, m.used);
	CHECK_EQ(m.huge, 0);
	CHECK(m.max >= m.used, "mem_used_max >= mem_used_total");

	size_t bad = 0;
	for (size_t off = 0; off < size; off += chunk) {
		REQUIRE(uzram_read(d, buf, off, chunk) == 0, "read");
		for (size_t i = 0; i < chunk; i++)
			bad += buf[i] != (off + i == size - 1 ? 0 : 'a');
	}
	CHECK_EQ(bad, 0);

	struct uzram_stats s;
	uzram_stats(z, 0, &s);
	CHECK_EQ(s.write_ios, size / chunk);
	CHECK_EQ(s.read_ios, size / chunk);
	CHECK_EQ(s.write_sectors, size / 512);
	uzram_close(d);
	d = NULL;
	CHECK_EQ(store(z, 0, "reset", "1"), 0);
	CHECK(!strcmp(show(z, 0, "mm_stat"),
		      "       0        0        0        0        0        0        0        0        0\n"),
	      "reset: mm_stat all zero: %s", show(z, 0, "mm_stat"));
	CHECK(!strcmp(show(z, 0, "stat"), "       0        0        0        0        0        0        0        0        0        0        0        0        0        0        0        0        0\n"),
	      "reset: block stat zeroed");
	uzram_free(z);
	z = NULL;
	free(buf);
}

static void test_huge_overwrite_discard(void)
{
	const unsigned int n = 64;
	uint8_t *buf = malloc(n * PAGE), *rd = malloc(n * PAGE);
	uint64_t seed = 42;
	struct mm m;
	struct uzram_stats s;

	setup("lz4", "1M");
	fill_random(buf, n * PAGE, &seed);
	CHECK_EQ(uzram_write(d, buf, 0, n * PAGE), 0);
	m = mm_stat(z, 0);
	CHECK_EQ(m.orig, n * PAGE);
	CHECK_EQ(m.huge, n);
	CHECK_EQ(m.huge_since, n);
	CHECK_EQ(m.compr, (uint64_t)n * PAGE);	/* huge: PAGE_SIZE each */
	CHECK_EQ(m.used, (uint64_t)n * PAGE);	/* one page per huge object */
	CHECK_EQ(m.same, 0);
	CHECK_EQ(uzram_read(d, rd, 0, n * PAGE), 0);
	CHECK(!memcmp(buf, rd, n * PAGE), "random pages read back");

	/* overwrite with zeros: same-filled, huge gone, huge_since stays */
	memset(buf, 0, n * PAGE);
	CHECK_EQ(uzram_write(d, buf, 0, n * PAGE), 0);
	m = mm_stat(z, 0);
	CHECK_EQ(m.orig, n * PAGE);
	CHECK_EQ(m.same, n);
	CHECK_EQ(m.huge, 0);
	CHECK_EQ(m.huge_since, n);
	CHECK_EQ(m.compr, 0);
	CHECK_EQ(m.used, 0);	/* empty zspages released at once */
	CHECK_EQ(uzram_page_state(d, 0), UZRAM_PAGE_ZERO);

	/* a non-zero repeated word is same-filled too, and reads back */
	for (unsigned int i = 0; i < PAGE / 8; i++)
		memcpy(buf + i * 8, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	CHECK_EQ(uzram_write(d, buf, PAGE, PAGE), 0);
	CHECK_EQ(uzram_read(d, rd, PAGE, PAGE), 0);
	CHECK(!memcmp(buf, rd, PAGE), "pattern page reads back");
	CHECK_EQ(uzram_page_state(d, PAGE), UZRAM_PAGE_DATA);
	/* two alternating 4-byte values: same-filled on 64-bit */
	for (unsigned int i = 0; i < PAGE / 4; i++)
		memcpy(buf + i * 4, i & 1 ? "BBBB" : "AAAA", 4);
	CHECK_EQ(uzram_write(d, buf, 2 * PAGE, PAGE), 0);
	CHECK_EQ(mm_stat(z, 0).same, n);
	/* differs only in the last word: not same-filled */
	memset(buf, 0, PAGE);
	buf[PAGE - 1] = 1;
	CHECK_EQ(uzram_write(d, buf, 3 * PAGE, PAGE), 0);
	CHECK_EQ(mm_stat(z, 0).same, n - 1);
	/* differs only in a middle word */
	memset(buf, 0, PAGE);
	buf[2000] = 1;
	CHECK_EQ(uzram_write(d, buf, 4 * PAGE, PAGE), 0);
	CHECK_EQ(mm_stat(z, 0).same, n - 2);

	/* text: compressed, not huge */
	for (unsigned int i = 8; i < 16; i++)
		fill_text(buf + (i - 8) * PAGE, PAGE, i);
	CHECK_EQ(uzram_write(d, buf, 8 * PAGE, 8 * PAGE), 0);
	m = mm_stat(z, 0);
	CHECK_EQ(m.same, n - 10);
	CHECK(m.compr > 0 && m.compr < 8 * 1000, "text compresses: %" PRIu64, m.compr);

	/* discard: whole pages only; a partial head and tail are untouched */
	uzram_stats(z, 0, &s);
	uint64_t nf = s.notify_free;
	CHECK_EQ(uzram_discard(d, 8 * PAGE + 512, 4 * PAGE), 0);	/* frees 9..11 */
	m = mm_stat(z, 0);
	CHECK_EQ(m.orig, (n - 3) * PAGE);
	uzram_stats(z, 0, &s);
	CHECK_EQ(s.notify_free, nf + 3);
	CHECK_EQ(uzram_page_state(d, 8 * PAGE), UZRAM_PAGE_DATA);
	CHECK_EQ(uzram_page_state(d, 9 * PAGE), UZRAM_PAGE_UNWRITTEN);
	CHECK_EQ(uzram_page_state(d, 11 * PAGE), UZRAM_PAGE_UNWRITTEN);
	CHECK_EQ(uzram_page_state(d, 12 * PAGE), UZRAM_PAGE_DATA);
	CHECK_EQ(uzram_read(d, rd, 8 * PAGE, 5 * PAGE), 0);
	fill_text(buf, PAGE, 8);
	CHECK(!memcmp(rd, buf, PAGE), "partial head page untouched");
	CHECK(rd[PAGE] == 0 && !memcmp(rd + PAGE, rd + PAGE + 1, 3 * PAGE - 1), "discarded pages read zeros");
	fill_text(buf, PAGE, 12);
	CHECK(!memcmp(rd + 4 * PAGE, buf, PAGE), "partial tail page untouched");
	/* a discard inside one page does nothing */
	CHECK_EQ(uzram_discard(d, 12 * PAGE + 512, 1024), 0);
	CHECK_EQ(uzram_page_state(d, 12 * PAGE), UZRAM_PAGE_DATA);
	uzram_stats(z, 0, &s);
	CHECK_EQ(s.notify_free, nf + 3);
	/* discarding never-written pages still counts notify_free, touches nothing */
	CHECK_EQ(uzram_discard(d, 200 * PAGE, 2 * PAGE), 0);
	uzram_stats(z, 0, &s);
	CHECK_EQ(s.notify_free, nf + 5);
	CHECK_EQ(mm_stat(z, 0).orig, (n - 3) * PAGE);
	teardown();
	free(buf);
	free(rd);
}

static void test_partial_and_zeroes(void)
{
	uint8_t page[3 * PAGE], ref[3 * PAGE], rd[3 * PAGE];

	setup("zstd", "64K");
	memset(ref, 0, sizeof(ref));
	CHECK_EQ(uzram_read(d, rd, 0, sizeof(rd)), 0);
	CHECK(!memcmp(rd, ref, sizeof(rd)), "unwritten space reads as zeros");
	CHECK_EQ(mm_stat(z, 0).orig, 0);	/* reading allocates nothing */

	fill_text(ref, PAGE, 1);
	fill_text(ref + PAGE, PAGE, 2);
	fill_text(ref + 2 * PAGE, PAGE, 3);
	CHECK_EQ(uzram_write(d, ref, 0, sizeof(ref)), 0);
	/* 512-byte writes: read-modify-write of their page */
	memset(page, 0xAB, 1536);
	CHECK_EQ(uzram_write(d, page, 1024, 512), 0);
	memcpy(ref + 1024, page, 512);
	CHECK_EQ(uzram_write(d, page, PAGE - 512, 1536), 0);	/* across a page boundary */
	memcpy(ref + PAGE - 512, page, 1536);
	CHECK_EQ(uzram_read(d, rd, 0, sizeof(rd)), 0);
	CHECK(!memcmp(rd, ref, sizeof(rd)), "partial writes merged");
	CHECK_EQ(uzram_read(d, rd, 512, 512), 0);
	CHECK(!memcmp(rd, ref + 512, 512), "partial read");
	CHECK_EQ(mm_stat(z, 0).orig, 3 * PAGE);

	/* write-zeroes: partial pages zeroed in place, whole pages freed */
	CHECK_EQ(uzram_write_zeroes(d, 2048, PAGE + 1024), 0);	/* 2048..7168 */
	memset(ref + 2048, 0, PAGE + 1024);
	CHECK_EQ(uzram_read(d, rd, 0, sizeof(rd)), 0);
	CHECK(!memcmp(rd, ref, sizeof(rd)), "write-zeroes range reads zeros, rest kept");
	CHECK_EQ(uzram_write_zeroes(d, PAGE, PAGE), 0);
	memset(ref + PAGE, 0, PAGE);
	CHECK_EQ(uzram_page_state(d, PAGE), UZRAM_PAGE_UNWRITTEN);
	CHECK_EQ(uzram_write_zeroes(d, 2 * PAGE + 512, 512), 0);	/* inside a page */
	memset(ref + 2 * PAGE + 512, 0, 512);
	CHECK_EQ(uzram_read(d, rd, 0, sizeof(rd)), 0);
	CHECK(!memcmp(rd, ref, sizeof(rd)), "write-zeroes inside one page");

	/* bounds and alignment */
	CHECK_EQ(uzram_write(d, page, 100, 512), -EINVAL);
	CHECK_EQ(uzram_write(d, page, 0, 100), -EINVAL);
	CHECK_EQ(uzram_read(d, rd, 64 * 1024, 512), -EINVAL);
	CHECK_EQ(uzram_read(d, rd, 64 * 1024 - 512, 1024), -EINVAL);
	CHECK_EQ(uzram_read(d, rd, 64 * 1024 - 512, 512), 0);
	CHECK_EQ(uzram_read(d, rd, UINT64_MAX - 511, 512), -EINVAL);
	CHECK_EQ(uzram_discard(d, 0, 128 * 1024), -EINVAL);
	CHECK_EQ(uzram_read(d, rd, 0, 0), 0);
	teardown();
}

static void test_mem_limit(void)
{
	uint8_t page[PAGE], rd[PAGE];
	uint64_t seed = 7;
	unsigned int stored = 0;
	int ret = 0;

	setup("lzo-rle", "4M");
	CHECK_EQ(store(z, 0, "mem_limit", "64K"), 0);	/* 16 pages */
	for (unsigned int i = 0; i < 1024; i++) {
		uint64_t s2 = seed + i;
		fill_random(page, PAGE, &s2);
		ret = uzram_write(d, page, (uint64_t)i * PAGE, PAGE);
		if (ret)
			break;
		stored++;
	}
	CHECK_EQ(ret, -ENOMEM);
	CHECK_EQ(stored, 16);	/* the limit is checked after allocation */
	struct uzram_stats s;
	uzram_stats(z, 0, &s);
	CHECK_EQ(s.failed_writes, 1);
	/* overwriting a stored page with new random data fails too... */
	uint64_t s3 = 999;
	fill_random(page, PAGE, &s3);
	CHECK_EQ(uzram_write(d, page, 0, PAGE), -ENOMEM);
	uzram_stats(z, 0, &s);
	CHECK_EQ(s.failed_writes, 2);
	/* ...and nothing stored before is lost */
	for (unsigned int i = 0; i < stored; i++) {
		uint64_t s2 = seed + i;
		fill_random(page, PAGE, &s2);
		CHECK_EQ(uzram_read(d, rd, (uint64_t)i * PAGE, PAGE), 0);
		CHECK(!memcmp(page, rd, PAGE), "page %u intact", i);
	}
	/* same-filled pages need no memory: no limit check */
	memset(page, 0x5a, PAGE);
	CHECK_EQ(uzram_write(d, page, 500 * PAGE, PAGE), 0);
	struct mm m = mm_stat(z, 0);
	CHECK_EQ(m.used, 16 * PAGE);
	CHECK(m.max >= m.used, "max %" PRIu64 " >= used %" PRIu64, m.max, m.used);
	CHECK_EQ(m.max, 17 * PAGE);	/* the refused allocation was counted */
	CHECK_EQ(store(z, 0, "mem_used_max", "0"), 0);
	CHECK_EQ(mm_stat(z, 0).max, m.used);	/* reset to current, not 0 */
	/* raising the limit lets writes through again */
	CHECK_EQ(store(z, 0, "mem_limit", "0"), 0);
	CHECK_EQ(uzram_write(d, page, 0, PAGE), 0);
	teardown();
}

static void test_idle_block_state(void)
{
	uint8_t page[PAGE];
	char buf[4096];
	uint64_t seed = 3, pos = 0;

	setup("lz4", "1M");
	fill_text(page, PAGE, 1);
	CHECK_EQ(uzram_write(d, page, 0, PAGE), 0);
	memset(page, 0, PAGE);
	CHECK_EQ(uzram_write(d, page, 2 * PAGE, PAGE), 0);
	fill_random(page, PAGE, &seed);
	CHECK_EQ(uzram_write(d, page, 5 * PAGE, PAGE), 0);
	CHECK_EQ(store(z, 0, "idle", "all"), 0);
	long n = uzram_block_state(z, 0, &pos, buf, sizeof(buf) - 1);
	REQUIRE(n > 0, "block_state");
	buf[n] = 0;
	unsigned long idx[3], sec[3];
	char fl[3][8];
	int got = sscanf(buf, "%lu %lu.000000 %7s %lu %lu.000000 %7s %lu %lu.000000 %7s",
			 &idx[0], &sec[0], fl[0], &idx[1], &sec[1], fl[1], &idx[2], &sec[2], fl[2]);
	CHECK_EQ(got, 9);
	CHECK(idx[0] == 0 && !strcmp(fl[0], "...i.."), "slot 0 idle: %s", fl[0]);
	CHECK(idx[1] == 2 && !strcmp(fl[1], "s....."), "slot 2 same, never idle: %s", fl[1]);
	CHECK(idx[2] == 5 && !strcmp(fl[2], "..hi.."), "slot 5 huge idle: %s", fl[2]);
	CHECK(strlen(buf) == 3 * 40, "three 40-byte lines: %zu", strlen(buf));
	CHECK(!strncmp(buf, "           0 ", 13), "index is %%12zd");
	CHECK_EQ(pos, 256);
	/* an access clears IDLE */
	CHECK_EQ(uzram_read(d, page, 0, PAGE), 0);
	pos = 0;
	n = uzram_block_state(z, 0, &pos, buf, sizeof(buf) - 1);
	buf[n] = 0;
	CHECK(strstr(buf, "           0 ") && strstr(buf, " ......\n"), "slot 0 not idle after a read: %s", buf);
	/* a buffer too small for a line: stops at that slot */
	pos = 0;
	n = uzram_block_state(z, 0, &pos, buf, 45);
	CHECK_EQ(n, 40);
	CHECK_EQ(pos, 2);
	n = uzram_block_state(z, 0, &pos, buf, 45);
	CHECK_EQ(n, 40);
	CHECK_EQ(pos, 5);
	/* idle by age: nothing is a day old */
	CHECK_EQ(store(z, 0, "idle", "86400"), 0);
	pos = 0;
	n = uzram_block_state(z, 0, &pos, buf, sizeof(buf) - 1);
	buf[n] = 0;
	CHECK(!strchr(buf, 'i'), "nothing idle for a day: %s", buf);
	teardown();
}

static void test_reset_keeps(void)
{
	uint8_t page[PAGE];

	setup("zstd", "1M");
	CHECK_EQ(store(z, 0, "mem_limit", "1M"), 0);
	fill_text(page, PAGE, 5);
	CHECK_EQ(uzram_write(d, page, 0, PAGE), 0);
	CHECK_EQ(store(z, 0, "reset", "1"), -EBUSY);	/* open */
	uzram_close(d);
	d = NULL;
	CHECK_EQ(store(z, 0, "reset", "1"), 0);
	CHECK(!strcmp(show(z, 0, "disksize"), "0\n"), "disksize 0");
	CHECK(!strcmp(show(z, 0, "io_stat"), "       0        0 0        0\n"), "io_stat 0");
	CHECK(!strcmp(show(z, 0, "comp_algorithm"), "[lzo-rle] lzo lz4 lz4hc zstd deflate 842 \n"),
	      "the default algorithm again");
	CHECK_EQ(mm_stat(z, 0).limit, 0);
	/* usable again */
	CHECK_EQ(store(z, 0, "disksize", "2M"), 0);
	CHECK_EQ(uzram_open(z, 0, &d), 0);
	CHECK_EQ(uzram_read(d, page, 0, PAGE), 0);
	CHECK(page[0] == 0 && !memcmp(page, page + 1, PAGE - 1), "old data gone");
	teardown();
}

static void test_every_algorithm(void)
{
	for (size_t a = 0; a < uzram_algorithm_count(); a++) {
		const char *alg = uzram_algorithm_name(a);
		uint8_t buf[16 * PAGE], rd[16 * PAGE];
		uint64_t seed = a;

		setup(alg, "1M");
		for (int i = 0; i < 16; i++) {
			if (i % 4 == 3)
				fill_random(buf + i * PAGE, PAGE, &seed);
			else
				fill_text(buf + i * PAGE, PAGE, (unsigned int)(i + 100 * a));
		}
		CHECK_EQ(uzram_write(d, buf, 0, sizeof(buf)), 0);
		CHECK_EQ(uzram_read(d, rd, 0, sizeof(rd)), 0);
		CHECK(!memcmp(buf, rd, sizeof(buf)), "%s round trip", alg);
		struct mm m = mm_stat(z, 0);
		CHECK(m.huge == 4, "%s: 4 huge pages, got %" PRIu64, alg, m.huge);
		teardown();
	}
}

int main(void)
{
	test_zram03();
	test_huge_overwrite_discard();
	test_partial_and_zeroes();
	test_mem_limit();
	test_idle_block_state();
	test_reset_keeps();
	test_every_algorithm();
	return check_summary();
}
