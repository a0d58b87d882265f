/*
 * test_recompress.c - recompression with secondary algorithms: every option
 * and error of the recompress attribute, the class-index rule, INCOMPRESSIBLE
 * marking, priorities, and data read back with each slot's own algorithm
 * (docs/attributes.md; docs/internals.md §5.4).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "check.h"
#include "devutil.h"

#define PAGE 4096

static struct uzram *z;
static struct uzram_dev *d;

#define EXPECT_STORE(attr, val, err)						\
	do {									\
		int r_ = store(z, 0, attr, val);				\
		CHECK(r_ == (err), "store '%s' > %s: got %d (%s), want %d",	\
		      val, attr, r_, r_ ? strerror(-r_) : "ok", err);		\
	} while (0)

/*
 * Page kinds: 0 text (lz4 compresses it), 1 random (nothing does), 2 random
 * bytes of 16 symbols (4 bits each: lz4 finds no matches and stores it huge,
 * zstd's entropy coder halves it).
 */
static void page_kind(uint8_t *p, unsigned int k)
{
	uint64_t s = 1000 + k;
	switch (k % 3) {
	case 0:
		fill_text(p, PAGE, k);
		break;
	case 1:
		fill_random(p, PAGE, &s);
		break;
	default:
		fill_random(p, PAGE, &s);
		for (int i = 0; i < PAGE; i++)
			p[i] = (uint8_t)("0123456789abcdef"[p[i] & 15]);
		break;
	}
}

static void setup(const char *secondaries)
{
	REQUIRE(uzram_new(&z, 1) == 0, "new");
	REQUIRE(store(z, 0, "comp_algorithm", "lz4") == 0, "lz4");
	char buf[256];
	snprintf(buf, sizeof(buf), "%s", secondaries);
	for (char *t = strtok(buf, ","); t; t = strtok(NULL, ","))
		REQUIRE(store(z, 0, "recomp_algorithm", t) == 0, "recomp %s", t);
	REQUIRE(store(z, 0, "disksize", "1M") == 0, "disksize");
	REQUIRE(uzram_open(z, 0, &d) == 0, "open");
}

static void teardown(void)
{
	uzram_close(d);
	uzram_free(z);
}

static void write_pages(unsigned int n)
{
	uint8_t p[PAGE];
	for (unsigned int k = 0; k < n; k++) {
		page_kind(p, k);
		REQUIRE(uzram_write(d, p, (uint64_t)k * PAGE, PAGE) == 0, "write");
	}
}

static int verify_pages(unsigned int n)
{
	uint8_t p[PAGE], r[PAGE];
	int bad = 0;
	for (unsigned int k = 0; k < n; k++) {
		page_kind(p, k);
		bad += uzram_read(d, r, (uint64_t)k * PAGE, PAGE) != 0 || memcmp(p, r, PAGE) != 0;
	}
	return bad;
}

static unsigned int count_flag(char flag)
{
	static char buf[1 << 16];
	uint64_t pos = 0;
	long n = uzram_block_state(z, 0, &pos, buf, sizeof(buf) - 1);
	unsigned int c = 0;

	buf[n > 0 ? n : 0] = 0;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		c += strlen(line) >= 6 && strchr(line + strlen(line) - 6, flag) != NULL;
	return c;
}

static void test_errors(void)
{
	REQUIRE(uzram_new(&z, 1) == 0, "new");
	EXPECT_STORE("recompress", "type=huge", -EINVAL);	/* uninitialised */
	REQUIRE(store(z, 0, "disksize", "1M") == 0, "disksize");
	EXPECT_STORE("recompress", "type=huge", -EINVAL);	/* no secondary algorithm */
	EXPECT_STORE("reset", "1", 0);
	REQUIRE(store(z, 0, "recomp_algorithm", "algo=zstd") == 0, "zstd");
	REQUIRE(store(z, 0, "disksize", "1M") == 0, "disksize");
	EXPECT_STORE("recompress", "threshold=3625", -EINVAL);	/* >= huge_class_size */
	EXPECT_STORE("recompress", "threshold=3624", 0);
	EXPECT_STORE("recompress", "threshold=x", -EINVAL);
	EXPECT_STORE("recompress", "type=bogus", -EINVAL);
	EXPECT_STORE("recompress", "type", -EINVAL);		/* valueless */
	EXPECT_STORE("recompress", "type=", -EINVAL);
	EXPECT_STORE("recompress", "max_pages=-1", -EINVAL);
	EXPECT_STORE("recompress", "priority=0", -EINVAL);
	EXPECT_STORE("recompress", "priority=4", -EINVAL);
	EXPECT_STORE("recompress", "priority=2", -EINVAL);	/* none configured there */
	EXPECT_STORE("recompress", "algo=lz4", -EINVAL);	/* not a secondary */
	EXPECT_STORE("recompress", "algo=zstd priority=2", -EINVAL);
	EXPECT_STORE("recompress", "algo=zstd priority=1", 0);
	EXPECT_STORE("recompress", "", 0);
	EXPECT_STORE("recompress", "foo=bar", 0);		/* unknown keys ignored */
	EXPECT_STORE("recompress", "type=idle max_pages=0", 0);
	uzram_free(z);
}

static void test_recompress_zstd(void)
{
	const unsigned int n = 30;
	struct mm before, after;

	setup("algo=zstd");
	write_pages(n);
	before = mm_stat(z, 0);
	CHECK_EQ(before.huge, 20);	/* random and 16-symbol pages */

	/* type=huge: the 16-symbol pages shrink (HUGE cleared), random ones are
	 * marked incompressible (zstd is the highest priority) */
	CHECK_EQ(store(z, 0, "recompress", "type=huge"), 0);
	after = mm_stat(z, 0);
	CHECK_EQ(after.huge, 10);
	CHECK_EQ(after.huge_since, 20);
	CHECK_EQ(count_flag('n'), 10);
	CHECK_EQ(count_flag('r'), 10);
	CHECK(after.compr < before.compr - 10 * 1500,
	      "compr_data_size %" PRIu64 " -> %" PRIu64, before.compr, after.compr);
	CHECK_EQ(after.orig, before.orig);
	CHECK_EQ(verify_pages(n), 0);

	/* again: nothing is a candidate (incompressible, or already priority 1) */
	CHECK_EQ(store(z, 0, "recompress", "type=huge"), 0);
	CHECK_EQ(mm_stat(z, 0).compr, after.compr);

	/* all: the text pages recompress with zstd too (when a class smaller) */
	CHECK_EQ(store(z, 0, "idle", "all"), 0);
	CHECK_EQ(store(z, 0, "recompress", "type=idle max_pages=3"), 0);
	unsigned int r1 = count_flag('r');
	CHECK(r1 <= 13, "max_pages bounds attempts: %u recompressed", r1);
	CHECK_EQ(store(z, 0, "recompress", ""), 0);
	CHECK_EQ(verify_pages(n), 0);
	CHECK_EQ(count_flag('i') + count_flag('r') >= 10, 1);
	/* an overwrite clears priority and INCOMPRESSIBLE */
	uint8_t p[PAGE];
	unsigned int marked = count_flag('n');
	CHECK(marked >= 10, "random pages (and text zstd cannot shrink) marked: %u", marked);
	page_kind(p, 1);
	CHECK_EQ(uzram_write(d, p, 1 * PAGE, PAGE), 0);
	CHECK_EQ(count_flag('n'), marked - 1);
	teardown();
}

static void test_threshold_and_priorities(void)
{
	const unsigned int n = 30;

	setup("algo=lz4hc priority=1,algo=zstd priority=2");
	write_pages(n);
	struct mm before = mm_stat(z, 0);
	/* threshold: only objects of at least 3000 bytes are tried */
	CHECK_EQ(store(z, 0, "recompress", "priority=2 threshold=3000"), 0);
	CHECK_EQ(count_flag('r'), 10);		/* the 16-symbol pages, not the text */
	CHECK_EQ(count_flag('n'), 10);		/* random: zstd (highest) fails */
	CHECK_EQ(verify_pages(n), 0);
	/* priority 1 (lz4hc) is below the slots recompressed at 2: skipped;
	 * random pages are incompressible: skipped; the text may improve */
	CHECK_EQ(store(z, 0, "recompress", "algo=lz4hc"), 0);
	CHECK_EQ(count_flag('n'), 10);
	CHECK_EQ(verify_pages(n), 0);
	struct mm after = mm_stat(z, 0);
	CHECK(after.compr < before.compr, "smaller");
	teardown();

	/* priority 1 only, not the highest: failures are not marked */
	setup("algo=lz4hc priority=1,algo=zstd priority=3");
	write_pages(n);
	CHECK_EQ(store(z, 0, "recompress", "type=huge priority=1"), 0);
	CHECK_EQ(count_flag('n'), 0);
	CHECK_EQ(store(z, 0, "recompress", "type=huge priority=3"), 0);
	CHECK_EQ(count_flag('n'), 10);
	CHECK_EQ(verify_pages(n), 0);
	teardown();
}

/* Recompression and I/O at once: readers and writers never see a wrong page. */
struct io_arg {
	_Atomic int stop;
	_Atomic long bad;
};

static void *io_thread(void *arg)
{
	struct io_arg *a = arg;
	uint8_t p[PAGE], r[PAGE];
	uint64_t rs = 5;

	while (!a->stop) {
		unsigned int k = (unsigned int)(check_rand(&rs) % 30);
		page_kind(p, k);
		if (check_rand(&rs) % 4 == 0) {
			if (uzram_write(d, p, (uint64_t)k * PAGE, PAGE))
				a->bad++;
		} else if (uzram_read(d, r, (uint64_t)k * PAGE, PAGE) || memcmp(p, r, PAGE)) {
			a->bad++;
		}
	}
	return NULL;
}

static void test_concurrent(void)
{
	struct io_arg a = { 0 };
	pthread_t t;

	setup("algo=zstd");
	write_pages(30);
	pthread_create(&t, NULL, io_thread, &a);
	for (int i = 0; i < 50; i++) {
		CHECK_EQ(store(z, 0, "idle", "all"), 0);
		CHECK_EQ(store(z, 0, "recompress", "type=idle"), 0);
		CHECK_EQ(store(z, 0, "compact", "1"), 0);
	}
	a.stop = 1;
	pthread_join(t, NULL);
	CHECK_EQ(a.bad, 0);
	CHECK_EQ(verify_pages(30), 0);
	teardown();
}

int main(void)
{
	test_errors();
	test_recompress_zstd();
	test_threshold_and_priorities();
	test_concurrent();
	return check_summary();
}
