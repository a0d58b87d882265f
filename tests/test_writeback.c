/*
 * test_writeback.c - backing store, idle tracking and writeback: every mode
 * and error of the writeback attribute, bd_stat and mm_stat transitions,
 * data read back after writeback, and faults on the backing store (a full
 * store, a failing write, a short read) with nothing lost
 * (docs/attributes.md; docs/internals.md §5.1-§5.3).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "devutil.h"
#include "zram/zram_drv.h"

#define PAGE 4096

static char dir[] = "/tmp/uzram-wb-XXXXXX";
static char bfile[256];

static struct uzram *z;
static struct uzram_dev *d;

#define EXPECT_STORE(attr, val, err)						\
	do {									\
		int r_ = store(z, 0, attr, val);				\
		CHECK(r_ == (err), "store '%s' > %s: got %d (%s), want %d",	\
		      val, attr, r_, r_ ? strerror(-r_) : "ok", err);		\
	} while (0)

static void make_file(const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0, "create %s", path);
	REQUIRE(ftruncate(fd, size) == 0, "truncate");
	close(fd);
}

static void setup(const char *backing, const char *alg, bool compressed)
{
	REQUIRE(uzram_new(&z, 1) == 0, "new");
	REQUIRE(store(z, 0, "comp_algorithm", alg) == 0, "alg");
	if (backing)
		REQUIRE(store(z, 0, "backing_dev", backing) == 0, "backing_dev %s", backing);
	if (compressed)
		REQUIRE(store(z, 0, "compressed_writeback", "1") == 0, "compressed_writeback");
	REQUIRE(store(z, 0, "disksize", "1M") == 0, "disksize");
	REQUIRE(uzram_open(z, 0, &d) == 0, "open");
}

static void teardown(void)
{
	uzram_close(d);
	uzram_free(z);
}

static uint64_t bd(int field)
{
	uint64_t v[3] = { ~0ull, ~0ull, ~0ull };
	sscanf(show(z, 0, "bd_stat"), "%" SCNu64 " %" SCNu64 " %" SCNu64, &v[0], &v[1], &v[2]);
	return v[field];
}

/* Page k: text (compressible) when k % 4, random (huge) otherwise. */
static void page_k(uint8_t *p, unsigned int k)
{
	uint64_t s = k * 7919ull;
	if (k % 4)
		fill_text(p, PAGE, k);
	else
		fill_random(p, PAGE, &s);
}

static void write_pages(unsigned int n)
{
	uint8_t p[PAGE];
	for (unsigned int k = 0; k < n; k++) {
		page_k(p, k);
		REQUIRE(uzram_write(d, p, (uint64_t)k * PAGE, PAGE) == 0, "write %u", k);
	}
}

static int verify_pages(unsigned int n)
{
	uint8_t p[PAGE], r[PAGE];
	int bad = 0;
	for (unsigned int k = 0; k < n; k++) {
		page_k(p, k);
		if (uzram_read(d, r, (uint64_t)k * PAGE, PAGE) || memcmp(p, r, PAGE))
			bad++;
	}
	return bad;
}

static unsigned int count_flag(char flag)
{
	static char buf[1 << 16];
	uint64_t pos = 0;
	long n = uzram_block_state(z, 0, &pos, buf, sizeof(buf) - 1);
	unsigned int c = 0;

	if (n < 0)
		return ~0u;
	buf[n] = 0;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		c += strlen(line) >= 6 && strchr(line + strlen(line) - 6, flag) != NULL;
	return c;
}

static void test_attributes_and_errors(void)
{
	char path[300];

	REQUIRE(uzram_new(&z, 1) == 0, "new");
	CHECK(!strcmp(show(z, 0, "backing_dev"), "none\n"), "backing_dev none");
	CHECK(!strcmp(show(z, 0, "bd_stat"), "       0        0        0\n"), "bd_stat zeros");
	CHECK(!strcmp(show(z, 0, "writeback_limit"), "0\n"), "limit 0");
	CHECK(!strcmp(show(z, 0, "writeback_limit_enable"), "0\n"), "limit disabled");
	CHECK(!strcmp(show(z, 0, "writeback_batch_size"), "32\n"), "batch 32");
	CHECK(!strcmp(show(z, 0, "compressed_writeback"), "0\n"), "compressed off");
	EXPECT_STORE("writeback", "idle", -EINVAL);		/* uninitialised */
	EXPECT_STORE("backing_dev", "/nonexistent/file", -ENOENT);
	EXPECT_STORE("backing_dev", dir, -ENOTBLK);		/* a directory */
	EXPECT_STORE("backing_dev", "/dev/null", -ENOTBLK);	/* a char device */
	snprintf(path, sizeof(path), "%s/empty", dir);
	make_file(path, 0);
	EXPECT_STORE("backing_dev", path, -EINVAL);		/* no whole block */
	make_file(path, PAGE - 1);
	EXPECT_STORE("backing_dev", path, -EINVAL);
	make_file(path, 3 * PAGE + 5);
	snprintf(path + strlen(path), 8, "\n");			/* one newline is stripped */
	EXPECT_STORE("backing_dev", path, 0);
	path[strlen(path) - 1] = 0;
	CHECK(!strncmp(show(z, 0, "backing_dev"), path, strlen(path)), "backing_dev shows the path");

	EXPECT_STORE("writeback_limit", "abc", -EINVAL);
	EXPECT_STORE("writeback_limit", "-1", -EINVAL);
	EXPECT_STORE("writeback_limit", "12\n", 0);
	CHECK(!strcmp(show(z, 0, "writeback_limit"), "12\n"), "limit 12");
	EXPECT_STORE("writeback_limit_enable", "2", 0);
	CHECK(!strcmp(show(z, 0, "writeback_limit_enable"), "1\n"), "non-zero enables");
	EXPECT_STORE("writeback_limit_enable", "on", -EINVAL);
	EXPECT_STORE("writeback_batch_size", "0", -EINVAL);
	EXPECT_STORE("writeback_batch_size", "x", -EINVAL);
	EXPECT_STORE("writeback_batch_size", "4", 0);
	CHECK(!strcmp(show(z, 0, "writeback_batch_size"), "4\n"), "batch 4");
	EXPECT_STORE("compressed_writeback", "maybe", -EINVAL);
	EXPECT_STORE("compressed_writeback", "y", 0);
	CHECK(!strcmp(show(z, 0, "compressed_writeback"), "1\n"), "compressed on");
	EXPECT_STORE("compressed_writeback", "off", 0);
	EXPECT_STORE("disksize", "64K", 0);
	EXPECT_STORE("backing_dev", path, -EBUSY);
	EXPECT_STORE("compressed_writeback", "1", -EBUSY);
	EXPECT_STORE("writeback_batch_size", "8", 0);		/* any time */
	EXPECT_STORE("writeback", "", 0);			/* nothing to do */
	EXPECT_STORE("writeback", "bogus", -EINVAL);
	EXPECT_STORE("writeback", "type=bogus", -EINVAL);
	EXPECT_STORE("writeback", "page_index=16", -ERANGE);	/* 16 pages: 0..15 */
	EXPECT_STORE("writeback", "page_index=abc", -EINVAL);
	EXPECT_STORE("writeback", "page_index=-1", -EINVAL);
	EXPECT_STORE("writeback", "page_indexes=3", -EINVAL);	/* no '-' */
	EXPECT_STORE("writeback", "page_indexes=5-3", -ERANGE);
	EXPECT_STORE("writeback", "page_indexes=3-16", -ERANGE);
	EXPECT_STORE("writeback", "page_indexes=a-3", -EINVAL);
	EXPECT_STORE("writeback", "page_indexes=0-15", 0);	/* nothing stored: nothing written */
	EXPECT_STORE("writeback", "foo=bar", 0);		/* unknown keys ignored */
	EXPECT_STORE("writeback", "type=idle", 0);
	EXPECT_STORE("writeback", "huge_idle", 0);
	EXPECT_STORE("writeback", "incompressible", 0);
	CHECK_EQ(bd(2), 0);
	/* reset keeps the limit settings, drops the backing device */
	EXPECT_STORE("reset", "1", 0);
	CHECK(!strcmp(show(z, 0, "writeback_limit"), "12\n"), "reset keeps writeback_limit");
	CHECK(!strcmp(show(z, 0, "writeback_limit_enable"), "1\n"), "reset keeps the enable");
	CHECK(!strcmp(show(z, 0, "writeback_batch_size"), "8\n"), "reset keeps the batch size");
	CHECK(!strcmp(show(z, 0, "backing_dev"), "none\n"), "reset closes the backing device");
	EXPECT_STORE("disksize", "64K", 0);
	EXPECT_STORE("writeback", "idle", -ENODEV);		/* no backing device */
	uzram_free(z);
}

static void test_modes(bool compressed)
{
	const unsigned int n = 32;
	struct mm before, after;

	setup(bfile, "lz4", compressed);
	write_pages(n);
	before = mm_stat(z, 0);
	CHECK_EQ(before.huge, n / 4);

	/* huge: the random pages go, and huge_pages counts them out */
	CHECK_EQ(store(z, 0, "writeback", "huge"), 0);
	after = mm_stat(z, 0);
	CHECK_EQ(bd(0), n / 4);
	CHECK_EQ(bd(2), n / 4);
	CHECK_EQ(after.huge, 0);
	CHECK_EQ(after.huge_since, n / 4);
	CHECK_EQ(after.orig, before.orig);	/* still stored */
	CHECK_EQ(after.compr, before.compr - (n / 4) * PAGE);
	CHECK(after.used < before.used, "memory freed: %" PRIu64 " < %" PRIu64, after.used, before.used);
	CHECK_EQ(count_flag('w'), n / 4);
	CHECK_EQ(count_flag('h'), n / 4);	/* HUGE is kept on written-back slots */

	/* idle: nothing is idle yet; after idle=all every remaining page is */
	CHECK_EQ(store(z, 0, "writeback", "type=idle"), 0);
	CHECK_EQ(bd(2), n / 4);
	CHECK_EQ(store(z, 0, "idle", "all"), 0);
	CHECK_EQ(count_flag('i'), n - n / 4);	/* written-back slots are not marked */
	/* an access un-idles a page */
	uint8_t p[PAGE];
	CHECK_EQ(uzram_read(d, p, 1 * PAGE, PAGE), 0);
	CHECK_EQ(store(z, 0, "writeback", "idle"), 0);
	CHECK_EQ(bd(2), n - 1);
	CHECK_EQ(bd(0), n - 1);
	CHECK_EQ(count_flag('w'), n - 1);
	CHECK_EQ(count_flag('i'), 0);		/* writeback clears IDLE */
	after = mm_stat(z, 0);
	CHECK(after.compr < PAGE, "one page left in memory: compr %" PRIu64, after.compr);

	/* everything reads back, from the backing store */
	uint64_t reads = bd(1);
	CHECK_EQ(verify_pages(n), 0);
	CHECK_EQ(bd(1), reads + n - 1);

	/* overwrite and discard release blocks */
	page_k(p, 1000);
	CHECK_EQ(uzram_write(d, p, 2 * PAGE, PAGE), 0);
	CHECK_EQ(bd(0), n - 2);
	CHECK_EQ(uzram_discard(d, 3 * PAGE, PAGE), 0);
	CHECK_EQ(bd(0), n - 3);
	CHECK_EQ(mm_stat(z, 0).orig, (uint64_t)(n - 1) * PAGE);
	/* freed blocks are reused lowest first */
	CHECK_EQ(store(z, 0, "writeback", "page_index=2"), 0);
	CHECK_EQ(bd(0), n - 2);
	CHECK_EQ(uzram_read(d, p, 2 * PAGE, PAGE), 0);
	uint8_t q[PAGE];
	page_k(q, 1000);
	CHECK(!memcmp(p, q, PAGE), "rewritten page read back from the store");
	teardown();
}

static void test_limit_order_full(void)
{
	char small[300];

	/* limit: enabled with 0 -> EIO; 3 -> three pages then EIO */
	setup(bfile, "lz4", false);
	write_pages(16);
	CHECK_EQ(store(z, 0, "writeback_limit_enable", "1"), 0);
	CHECK_EQ(store(z, 0, "writeback_limit", "0"), 0);
	CHECK_EQ(store(z, 0, "writeback", "page_indexes=0-15"), -EIO);
	CHECK_EQ(bd(2), 0);
	CHECK_EQ(store(z, 0, "writeback_limit", "3"), 0);
	CHECK_EQ(store(z, 0, "writeback", "page_indexes=0-15"), -EIO);
	CHECK_EQ(bd(2), 3);
	CHECK(!strcmp(show(z, 0, "writeback_limit"), "0\n"), "limit used up");
	/* largest first: the three written are three of the four huge pages */
	CHECK_EQ(count_flag('w'), 3);
	static char buf[8192];
	uint64_t pos = 0;
	long nb = uzram_block_state(z, 0, &pos, buf, sizeof(buf) - 1);
	buf[nb > 0 ? nb : 0] = 0;
	unsigned int wh = 0;
	for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
		wh += strstr(l, ".wh") != NULL;
	CHECK_EQ(wh, 3);
	CHECK_EQ(store(z, 0, "writeback_limit_enable", "0"), 0);	/* disabled: no limit */
	CHECK_EQ(store(z, 0, "writeback", "page_index=5 page_index=6"), 0);
	CHECK_EQ(bd(2), 5);
	CHECK_EQ(verify_pages(16), 0);
	teardown();

	/* a full store: 4 blocks for 8 candidates */
	snprintf(small, sizeof(small), "%s/small", dir);
	make_file(small, 4 * PAGE);
	setup(small, "lz4", false);
	write_pages(8);
	CHECK_EQ(store(z, 0, "writeback", "page_indexes=0-7"), -ENOSPC);
	CHECK_EQ(bd(0), 4);
	CHECK_EQ(bd(2), 4);
	CHECK_EQ(count_flag('w'), 4);
	CHECK_EQ(verify_pages(8), 0);
	teardown();
	unlink(small);
}

/* A failing write: a sparse backing file on a 64 KiB tmpfs. */
static void test_failing_write(void)
{
	char mnt[300], file[340];

	if (geteuid() != 0) {
		printf("failing-write case skipped: needs root to mount a small tmpfs\n");
		return;
	}
	snprintf(mnt, sizeof(mnt), "%s/tmpfs", dir);
	mkdir(mnt, 0700);
	if (mount("uzram-test", mnt, "tmpfs", 0, "size=64k") != 0) {
		printf("failing-write case skipped: mount tmpfs: %s\n", strerror(errno));
		return;
	}
	snprintf(file, sizeof(file), "%s/backing", mnt);
	make_file(file, 1 << 20);	/* 256 blocks, but room for only 16 */
	setup(file, "lz4", false);
	write_pages(64);
	struct mm before = mm_stat(z, 0);
	int r = store(z, 0, "writeback", "page_indexes=0-63");
	CHECK(r == -ENOSPC || r == -EIO, "failing writes reported: %d", r);
	CHECK(bd(2) < 64 && bd(2) > 0, "some written (%" PRIu64 "), not all", bd(2));
	CHECK_EQ(bd(0), bd(2));		/* failed blocks released */
	CHECK_EQ(count_flag('w'), bd(2));
	CHECK_EQ(mm_stat(z, 0).orig, before.orig);
	CHECK_EQ(verify_pages(64), 0);	/* nothing lost */
	teardown();
	umount2(mnt, MNT_DETACH);
	rmdir(mnt);
}

/*
 * io_uring failing under writeback (issue 20): a submit that fails after
 * its SQE was made visible, and completion waits that keep failing. Every
 * store returns (no endless loop under the device lock), and nothing is
 * lost or written twice: each page reads back, every WB slot has its own
 * block, and bd_count matches the WB slots.
 */
static void test_ring_faults(void)
{
	static const int faults[][2] = { { 1, 0 }, { 3, 0 }, { 0, 3 }, { 0, 100 }, { 2, 100 } };

	for (unsigned int k = 0; k < sizeof(faults) / sizeof(faults[0]); k++) {
		make_file(bfile, 1 << 20);
		setup(bfile, "lz4", false);
		REQUIRE(store(z, 0, "writeback_batch_size", "8") == 0, "batch");
		write_pages(64);
		struct mm before = mm_stat(z, 0);
		zram_wb_inject_faults(faults[k][0], faults[k][1]);
		int r = store(z, 0, "writeback", "page_indexes=0-31");
		CHECK(r == 0 || r == -EIO, "faults %d/%d: writeback returned %d",
		      faults[k][0], faults[k][1], r);
		zram_wb_inject_faults(0, 0);
		CHECK_EQ(bd(0), count_flag('w'));	/* a block per WB slot */
		CHECK_EQ(bd(0), bd(2));
		CHECK_EQ(mm_stat(z, 0).orig, before.orig);
		CHECK_EQ(verify_pages(64), 0);		/* nothing lost */
		/* the device still works: the rest goes out normally */
		CHECK_EQ(store(z, 0, "writeback", "page_indexes=32-63"), 0);
		CHECK_EQ(verify_pages(64), 0);
		teardown();
	}
}

/*
 * A short read: the backing file shrinks under a written-back page. The
 * read fails (failed_reads) and still counts in bd_reads, as the kernel's
 * read_from_bdev() counts the bio it submits.
 */
static void test_short_read(void)
{
	uint8_t p[PAGE];
	struct uzram_stats s;

	make_file(bfile, 1 << 20);
	setup(bfile, "zstd", true);
	write_pages(4);
	CHECK_EQ(store(z, 0, "writeback", "page_index=1"), 0);
	CHECK_EQ(verify_pages(4), 0);
	REQUIRE(truncate(bfile, 0) == 0, "truncate");
	uint64_t reads = bd(1);
	CHECK_EQ(uzram_read(d, p, 1 * PAGE, PAGE), -EIO);
	CHECK_EQ(bd(1), reads + 1);
	uzram_stats(z, 0, &s);
	CHECK_EQ(s.failed_reads, 1);
	CHECK_EQ(uzram_read(d, p, 0, PAGE), 0);	/* the others are fine */
	teardown();
	make_file(bfile, 1 << 20);
}

/* idle by age, with CLOCK_BOOTTIME seconds */
static void test_idle_age(void)
{
	uint8_t p[PAGE];

	setup(bfile, "lz4", false);
	write_pages(8);
	sleep(2);
	CHECK_EQ(uzram_read(d, p, 0, PAGE), 0);	/* page 0 is fresh */
	CHECK_EQ(store(z, 0, "idle", "1"), 0);
	CHECK_EQ(count_flag('i'), 7);
	CHECK_EQ(store(z, 0, "writeback", "type=idle"), 0);
	CHECK_EQ(bd(2), 7);
	CHECK_EQ(verify_pages(8), 0);
	teardown();
}

/*
 * One regular file backs one device at a time (issue 20: two devices on one
 * file overwrote each other's pages): a second device, in this process or
 * another, gets -EBUSY while the first holds it; the holder may name it
 * again; after the holder lets it go, another device may take it.
 */
static void test_shared_backing(void)
{
	struct uzram *z2;
	int status;
	pid_t pid;

	REQUIRE(uzram_new(&z, 2) == 0, "new");
	REQUIRE(store(z, 0, "backing_dev", bfile) == 0, "zram0 backing_dev");
	CHECK_EQ(store(z, 1, "backing_dev", bfile), -EBUSY);
	CHECK_EQ(store(z, 0, "backing_dev", bfile), 0);	/* the holder again */
	CHECK_EQ(store(z, 1, "backing_dev", bfile), -EBUSY);
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		int r = uzram_new(&z2, 1) ? -1 : store(z2, 0, "backing_dev", bfile);
		_exit(r == -EBUSY ? 0 : 1);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "another process gets -EBUSY for a backing file in use");
	uzram_free(z);
	REQUIRE(uzram_new(&z2, 1) == 0, "new");
	CHECK_EQ(store(z2, 0, "backing_dev", bfile), 0);	/* free again */
	uzram_free(z2);
}

int main(void)
{
	REQUIRE(mkdtemp(dir), "mkdtemp");
	snprintf(bfile, sizeof(bfile), "%s/backing", dir);
	make_file(bfile, 1 << 20);
	test_attributes_and_errors();
	test_shared_backing();
	test_modes(false);
	test_modes(true);
	test_limit_order_full();
	test_failing_write();
	test_short_read();
	test_ring_faults();
	test_idle_age();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return check_summary();
}
