/*
 * test_faults.c - the device with faults injected on its write and read
 * paths (lib/util/fault.h; docs/internals.md §9.2). Linked with the library
 * built with -DUZRAM_FAULT_INJECT ($(BUILD)/fault/libuzram.a).
 *
 * The randomised model of test_model.c (reads, whole and partial writes,
 * discards, write-zeroes from several threads, each op under the test's
 * per-page locks), while another thread marks pages idle, writes them back
 * to a backing file, recompresses and compacts. Every Nth zs_malloc, new
 * zspage, compression, backing write and backing read fails (-EIO, or half
 * a page). Checked:
 *
 *  - a call fails exactly when a fault was injected in that call (counted
 *    per thread): no failure comes from nowhere, none is swallowed;
 *  - a write or read that succeeded is exact against the model, also for
 *    pages whose writeback failed (the whole device is compared after each
 *    writeback that met a fault);
 *  - a failed write leaves its pages as the kernel's bio does: the pages
 *    before the failing one written, the failing one and those after it
 *    as they were (zram_bio_write stops at the first failing segment;
 *    zram_write_page frees the old object only once the new one is
 *    stored);
 *  - failed_writes and failed_reads equal the failed calls the test saw;
 *    bd_writes counts the backing writes that succeeded, bd_reads every
 *    backing read issued (the kernel's read_from_bdev), bd_count the WB
 *    slots of block_state;
 *  - with the default spec, every site injected at least one fault.
 *
 * UZRAM_SEED replays a run; UZRAM_FAULTS="pool_alloc=7,bd_read=3,..." sets
 * the periods (uz_fault_configure); UZRAM_LONG=1 runs longer.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "devutil.h"
#include "util/fault.h"

#define PAGE		4096
#define NPAGES		256
#define THREADS		3
#define MAX_PIECES	20
#define OPS_PER_ACTION	200	/* model ops per writeback, recompress, ... */

static const char default_faults[] =
	"pool_alloc=31,zspage=3,compress=43,bd_write=5,bd_write_short=11,"
	"bd_read=13,bd_read_short=17";

static struct uzram *z;
static struct uzram_dev *d;
static uint8_t *ref;			/* the model's bytes */
static bool allocated[NPAGES];		/* the model's slot state */
static pthread_mutex_t page_lock[NPAGES];
/* Held shared by every model request, exclusively by verify_all: one lock
 * instead of all the page locks at once (ThreadSanitizer follows at most
 * 64 locks held by one thread). */
static pthread_rwlock_t all_pages = PTHREAD_RWLOCK_INITIALIZER;
static uint64_t run_seed;
static long ops_per_thread;
static _Atomic long failures;
static _Atomic int model_done;
static _Atomic long progress;		/* model ops done */
/* What the test saw fail: to compare with io_stat. */
static _Atomic uint64_t seen_failed_reads, seen_failed_writes;
static _Atomic uint64_t wb_failed, wb_calls, recomp_failed, verifies;

static char dir[] = "/tmp/uzram-faults-XXXXXX";
static char bfile[300];

static void fail(const char *what, uint64_t off, uint64_t len, int ret)
{
	failures++;
	fprintf(stderr, "MISMATCH: %s at %" PRIu64 "+%" PRIu64 " (ret %d)\n", what,
		off, len, ret);
}

static void lock_range(uint64_t off, uint64_t len)
{
	pthread_rwlock_rdlock(&all_pages);
	for (uint64_t p = off / PAGE; p < (off + len + PAGE - 1) / PAGE; p++)
		pthread_mutex_lock(&page_lock[p]);
}

static void unlock_range(uint64_t off, uint64_t len)
{
	for (uint64_t p = off / PAGE; p < (off + len + PAGE - 1) / PAGE; p++)
		pthread_mutex_unlock(&page_lock[p]);
	pthread_rwlock_unlock(&all_pages);
}

/*
 * One call's outcome against the faults this thread was given during it:
 * a failure needs exactly one (the device stops at the first), a success
 * none. Failures are counted as io_stat should count them.
 */
static void account(int ret, uint64_t faults_before, bool is_read,
		    const char *what, uint64_t off, uint64_t len)
{
	uint64_t got = uz_fault_thread_injected() - faults_before;

	if (!ret) {
		if (got)
			fail("fault swallowed", off, len, ret);
		return;
	}
	if (is_read)
		seen_failed_reads++;
	else
		seen_failed_writes++;
	if (got != 1)
		fail(what, off, len, ret);
	else if (is_read ? ret != -EIO
			 : ret != -EIO && ret != -ENOMEM && ret != -EINVAL)
		fail("unexpected error", off, len, ret);
}

static int checked_read(uint8_t *buf, uint64_t off, uint64_t len)
{
	uint64_t before = uz_fault_thread_injected();
	int ret = uzram_read(d, buf, off, len);

	account(ret, before, true, "read failure without one fault", off, len);
	return ret;
}

/*
 * A read that must come through: page by page (a read of many written-back
 * pages meets a fault almost surely), each retried past injected faults.
 */
static int read_through(uint8_t *buf, uint64_t off, uint64_t len)
{
	while (len) {
		uint64_t in = PAGE - off % PAGE < len ? PAGE - off % PAGE : len;
		int ret = -EIO;

		for (int tries = 0; tries < 64 && ret; tries++)
			ret = checked_read(buf, off, in);
		if (ret)
			return ret;
		buf += in;
		off += in;
		len -= in;
	}
	return 0;
}

struct piece {
	uint64_t off, len;
};

/* A write's pieces, in the order the device writes them: page by page. */
static int write_pieces(uint64_t off, uint64_t len, struct piece *pc)
{
	int n = 0;

	while (len) {
		uint64_t in = PAGE - off % PAGE < len ? PAGE - off % PAGE : len;
		pc[n++] = (struct piece){ off, in };
		off += in;
		len -= in;
	}
	return n;
}

/* Write-zeroes's (zram_io_write_zeroes): a partial head page, a partial
 * tail page, then the whole pages between. */
static int zeroes_pieces(uint64_t off, uint64_t len, struct piece *pc)
{
	uint64_t first = (off + PAGE - 1) / PAGE, end = (off + len) / PAGE;
	int n = 0;

	if (end < first) {
		pc[0] = (struct piece){ off, len };
		return 1;
	}
	if (off % PAGE)
		pc[n++] = (struct piece){ off, first * PAGE - off };
	if ((off + len) % PAGE)
		pc[n++] = (struct piece){ end * PAGE, off + len - end * PAGE };
	for (uint64_t q = first; q < end; q++)
		pc[n++] = (struct piece){ q * PAGE, PAGE };
	return n;
}

/*
 * After a failed write of want over [off, off + len) (range locked): the
 * pieces read back are the new content up to some piece and the old one
 * from there on. The model takes what the device holds.
 */
static void reconcile(const uint8_t *want, uint64_t off, uint64_t len,
		      const struct piece *pc, int n, uint8_t *rd)
{
	int k = 0;

	if (read_through(rd, off, len)) {
		fail("read after a failed write", off, len, -EIO);
		return;
	}
	while (k < n && !memcmp(rd + (pc[k].off - off), want + (pc[k].off - off), pc[k].len))
		k++;
	for (int i = k; i < n; i++)
		if (memcmp(rd + (pc[i].off - off), ref + pc[i].off, pc[i].len))
			fail("failed write: a piece neither old nor in order",
			     pc[i].off, pc[i].len, i);
	memcpy(ref + off, rd, len);
	for (uint64_t p = off / PAGE; p < (off + len + PAGE - 1) / PAGE; p++)
		allocated[p] = uzram_page_state(d, p * PAGE) != UZRAM_PAGE_UNWRITTEN;
}

static void op_write(uint8_t *buf, uint8_t *rd, uint64_t off, uint64_t len,
		     uint64_t *rs)
{
	struct piece pc[MAX_PIECES];
	uint64_t before = uz_fault_thread_injected();
	int ret;

	make_data(buf, len, rs);
	ret = uzram_write(d, buf, off, len);
	account(ret, before, false, "write failure without one fault", off, len);
	if (ret) {
		reconcile(buf, off, len, pc, write_pieces(off, len, pc), rd);
		return;
	}
	memcpy(ref + off, buf, len);
	for (uint64_t p = off / PAGE; p < (off + len + PAGE - 1) / PAGE; p++)
		allocated[p] = true;
}

static void op_write_zeroes(uint8_t *buf, uint8_t *rd, uint64_t off, uint64_t len)
{
	struct piece pc[MAX_PIECES];
	uint64_t before = uz_fault_thread_injected();
	int ret = uzram_write_zeroes(d, off, len);

	account(ret, before, false, "write_zeroes failure without one fault", off, len);
	if (ret) {
		memset(buf, 0, len);
		reconcile(buf, off, len, pc, zeroes_pieces(off, len, pc), rd);
		return;
	}
	memset(ref + off, 0, len);
	for (uint64_t p = off / PAGE; p < (off + len + PAGE - 1) / PAGE; p++) {
		bool whole = p * PAGE >= off && (p + 1) * PAGE <= off + len;
		allocated[p] = !whole;
	}
}

static void op_discard(uint64_t off, uint64_t len)
{
	uint64_t before = uz_fault_thread_injected();
	int ret = uzram_discard(d, off, len);

	if (ret || uz_fault_thread_injected() != before)
		fail("discard", off, len, ret);
	for (uint64_t p = (off + PAGE - 1) / PAGE; p < (off + len) / PAGE; p++) {
		memset(ref + p * PAGE, 0, PAGE);
		allocated[p] = false;
	}
}

/* A random range: up to 64 KiB for reads, 12 KiB otherwise; a third of
 * them whole aligned pages (test_model.c). */
static void pick_range(unsigned int op, uint64_t *rs, uint64_t *offp, uint64_t *lenp)
{
	uint64_t sectors = 1 + check_rand(rs) % (op < 3 ? 128 : 24);
	uint64_t len = sectors * 512;
	uint64_t off = (check_rand(rs) % (NPAGES * 8 - sectors + 1)) * 512;

	if (check_rand(rs) % 3 == 0) {
		off &= ~(uint64_t)(PAGE - 1);
		len = (1 + check_rand(rs) % 4) * PAGE;
		if (off + len > (uint64_t)NPAGES * PAGE)
			off = (uint64_t)NPAGES * PAGE - len;
	}
	*offp = off;
	*lenp = len;
}

static void *model_thread(void *arg)
{
	uint64_t rs = run_seed + (uintptr_t)arg * 0x9e3779b97f4a7c15ull;
	uint8_t *buf = malloc(64 * 1024), *rd = malloc(64 * 1024);

	for (long n = 0; n < ops_per_thread && failures < 10; n++) {
		unsigned int op = check_rand(&rs) % 10;
		uint64_t off, len;

		pick_range(op, &rs, &off, &len);
		lock_range(off, len);
		if (op < 4) {
			if (!checked_read(rd, off, len) && memcmp(rd, ref + off, len))
				fail("read", off, len, 0);
		} else if (op < 8) {
			op_write(buf, rd, off, len, &rs);
		} else if (op == 8) {
			op_discard(off, len);
		} else {
			op_write_zeroes(buf, rd, off, len);
		}
		unlock_range(off, len);
		progress++;
	}
	free(buf);
	free(rd);
	return NULL;
}

/* The whole device against the model, every page locked. */
static void verify_all(const char *when)
{
	uint8_t page[PAGE];

	pthread_rwlock_wrlock(&all_pages);
	for (int p = 0; p < NPAGES; p++) {
		int ret = read_through(page, (uint64_t)p * PAGE, PAGE);

		if (ret || memcmp(page, ref + p * PAGE, PAGE))
			fail(when, (uint64_t)p * PAGE, PAGE, ret);
	}
	pthread_rwlock_unlock(&all_pages);
	verifies++;
}

/* writeback after idle=all: fails exactly when a backing write failed;
 * the pages read back all the same. */
static void do_writeback(uint64_t *rs)
{
	static const char *const modes[] = { "idle", "huge", "huge_idle", "type=idle" };
	char arg[64];
	uint64_t before;
	int ret;

	if (check_rand(rs) % 4 == 0) {
		uint64_t a = check_rand(rs) % NPAGES, b = a + check_rand(rs) % (NPAGES - a);
		snprintf(arg, sizeof(arg), "page_indexes=%" PRIu64 "-%" PRIu64, a, b);
	} else {
		snprintf(arg, sizeof(arg), "%s", modes[check_rand(rs) % 4]);
	}
	if (store(z, 0, "idle", "all"))
		fail("idle", 0, 0, -1);
	before = uz_fault_thread_injected();
	ret = store(z, 0, "writeback", arg);
	wb_calls++;
	if ((ret != 0) != (uz_fault_thread_injected() != before) ||
	    (ret && ret != -EIO))
		fail("writeback", 0, 0, ret);
	if (ret) {
		wb_failed++;
		verify_all("read after a failed writeback");
	}
}

static void do_recompress(uint64_t *rs)
{
	uint64_t before;
	uint64_t got;
	int ret;

	if (store(z, 0, "idle", "all"))
		fail("idle", 0, 0, -1);
	before = uz_fault_thread_injected();
	ret = store(z, 0, "recompress", check_rand(rs) % 2 ? "type=idle" : "type=huge");
	got = uz_fault_thread_injected() - before;

	if (ret ? got != 1 || (ret != -ENOMEM && ret != -EINVAL) : got != 0)
		fail("recompress", 0, 0, ret);
	recomp_failed += ret != 0;
}

/*
 * Background work, one action per OPS_PER_ACTION model ops, so that a run
 * does as much of it whatever the speed of the machine: writeback (half),
 * recompression, compaction, a full verify.
 */
static void *maint_thread(void *arg)
{
	uint64_t rs = run_seed ^ 0x5eed;

	for (long next = OPS_PER_ACTION; !model_done && failures < 10;
	     next += OPS_PER_ACTION) {
		unsigned int op = check_rand(&rs) % 8;

		while (progress < next && !model_done)
			usleep(100);
		if (op < 4)
			do_writeback(&rs);
		else if (op < 6)
			do_recompress(&rs);
		else if (op == 6 && store(z, 0, "compact", "1"))
			fail("compact", 0, 0, -1);
		else if (op == 7)
			verify_all("verify");
	}
	return NULL;
}

static unsigned int count_wb_slots(void)
{
	static char buf[1 << 16];
	uint64_t pos = 0;
	unsigned int c = 0;
	long n;

	while ((n = uzram_block_state(z, 0, &pos, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = 0;
		for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
			c += strlen(line) >= 6 && strchr(line + strlen(line) - 6, 'w') != NULL;
	}
	return n < 0 ? ~0u : c;
}

static bool same_filled(const uint8_t *p)
{
	for (int i = 8; i < PAGE; i += 8)
		if (memcmp(p, p + i, 8))
			return false;
	return true;
}

/* The slot states and mm_stat against the model (test_model.c). */
static void check_model_state(void)
{
	uint64_t stored = 0, same = 0;

	for (int p = 0; p < NPAGES; p++) {
		const uint8_t *pg = ref + p * PAGE;
		bool zero = same_filled(pg) && !memcmp(pg, pg + 1, 7) && pg[0] == 0;
		int st = uzram_page_state(d, (uint64_t)p * PAGE);

		stored += allocated[p];
		same += allocated[p] && same_filled(pg);
		CHECK(st == (allocated[p] ? (zero ? UZRAM_PAGE_ZERO : UZRAM_PAGE_DATA)
					  : UZRAM_PAGE_UNWRITTEN),
		      "page %d state %d", p, st);
	}
	struct mm m = mm_stat(z, 0);
	CHECK_EQ(m.orig, stored * PAGE);
	CHECK_EQ(m.same, same);
}

/* io_stat and bd_stat against what the test saw and the sites counted. */
static void check_counters(bool default_spec)
{
	struct uzram_stats s;
	struct uz_fault_count c[UZ_FAULT_NR];

	for (int i = 0; i < UZ_FAULT_NR; i++)
		c[i] = uz_fault_count((enum uz_fault_site)i);
	REQUIRE(uzram_stats(z, 0, &s) == 0, "stats");
	CHECK_EQ(s.failed_reads, seen_failed_reads);
	CHECK_EQ(s.failed_writes, seen_failed_writes);
	CHECK_EQ(s.bd_writes, c[UZ_FAULT_BD_WRITE].calls - c[UZ_FAULT_BD_WRITE].injected -
				      c[UZ_FAULT_BD_WRITE_SHORT].injected);
	CHECK_EQ(s.bd_reads, c[UZ_FAULT_BD_READ].calls);
	CHECK_EQ(s.bd_count, count_wb_slots());
	for (int i = 0; i < UZ_FAULT_NR; i++) {
		printf("  %-15s %7" PRIu64 " calls %6" PRIu64 " failed\n",
		       uz_fault_name((enum uz_fault_site)i), c[i].calls, c[i].injected);
		if (default_spec)
			CHECK(c[i].injected > 0, "site %s injected no fault",
			      uz_fault_name((enum uz_fault_site)i));
	}
	printf("  failed: %" PRIu64 " reads, %" PRIu64 " writes, %" PRIu64 " of %" PRIu64
	       " writebacks, %" PRIu64 " recompressions; %" PRIu64 " full verifies;"
	       " bd_stat %" PRIu64 " %" PRIu64 " %" PRIu64 "\n",
	       (uint64_t)seen_failed_reads, (uint64_t)seen_failed_writes,
	       (uint64_t)wb_failed, (uint64_t)wb_calls, (uint64_t)recomp_failed,
	       (uint64_t)verifies, s.bd_count, s.bd_reads, s.bd_writes);
	if (default_spec)
		CHECK(seen_failed_reads && seen_failed_writes && wb_failed,
		      "failures reached the callers");
}

struct run_cfg {
	const char *alg;
	bool compressed_wb;
	const char *batch;
};

static void setup(const struct run_cfg *cfg)
{
	char size[32];
	int fd = open(bfile, O_RDWR | O_CREAT | O_TRUNC, 0600);

	REQUIRE(fd >= 0 && ftruncate(fd, 2 * NPAGES * PAGE) == 0, "backing file");
	close(fd);
	REQUIRE(uzram_new(&z, 1) == 0, "new");
	REQUIRE(store(z, 0, "comp_algorithm", cfg->alg) == 0, "%s", cfg->alg);
	REQUIRE(store(z, 0, "recomp_algorithm", "algo=zstd") == 0, "recomp zstd");
	REQUIRE(store(z, 0, "backing_dev", bfile) == 0, "backing_dev");
	REQUIRE(store(z, 0, "compressed_writeback", cfg->compressed_wb ? "1" : "0") == 0, "cwb");
	REQUIRE(store(z, 0, "writeback_batch_size", cfg->batch) == 0, "batch");
	snprintf(size, sizeof(size), "%d", NPAGES * PAGE);
	REQUIRE(store(z, 0, "disksize", size) == 0, "disksize");
	REQUIRE(uzram_open(z, 0, &d) == 0, "open");
}

static void run(const struct run_cfg *cfg, bool default_spec)
{
	pthread_t t[THREADS], m;

	setup(cfg);
	memset(ref, 0, NPAGES * PAGE);
	memset(allocated, 0, sizeof(allocated));
	failures = model_done = progress = 0;
	seen_failed_reads = seen_failed_writes = wb_failed = wb_calls = 0;
	recomp_failed = verifies = 0;
	REQUIRE(uz_fault_configure(default_spec ? default_faults : NULL) == 0,
		"UZRAM_FAULTS");
	pthread_create(&m, NULL, maint_thread, NULL);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, model_thread, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	model_done = 1;
	pthread_join(m, NULL);
	/* the last state: on the backing file, or in memory where that failed */
	CHECK_EQ(store(z, 0, "idle", "all"), 0);
	uint64_t before = uz_fault_thread_injected();
	int ret = store(z, 0, "writeback", "idle");
	CHECK_EQ(ret, uz_fault_thread_injected() != before ? -EIO : 0);
	verify_all("final contents");
	CHECK_EQ(failures, 0);
	check_model_state();
	check_counters(default_spec);
	uz_fault_configure("");
	uzram_close(d);
	uzram_free(z);
}

int main(void)
{
	static const struct run_cfg cfgs[] = {
		{ "lz4", false, "8" },
		{ "lzo-rle", true, "1" },
		{ "zstd", true, "32" },
	};
	uint64_t base_seed = check_seed();
	bool default_spec = !getenv("UZRAM_FAULTS");

	ops_per_thread = check_long() ? 200000 : 20000;
	if (getenv("SAN") && *getenv("SAN"))
		ops_per_thread /= 5;
	REQUIRE(mkdtemp(dir), "mkdtemp");
	snprintf(bfile, sizeof(bfile), "%s/backing", dir);
	ref = malloc(NPAGES * PAGE);
	for (int i = 0; i < NPAGES; i++)
		pthread_mutex_init(&page_lock[i], NULL);
	for (unsigned int r = 0; r < sizeof(cfgs) / sizeof(cfgs[0]); r++) {
		run_seed = base_seed + r * 0x632be59bd9b4e019ull;
		printf("run %u: %s, compressed_writeback %d, batch %s, faults %s\n", r,
		       cfgs[r].alg, cfgs[r].compressed_wb, cfgs[r].batch,
		       default_spec ? default_faults : getenv("UZRAM_FAULTS"));
		run(&cfgs[r], default_spec);
	}
	unlink(bfile);
	rmdir(dir);
	free(ref);
	if (check_failed)
		fprintf(stderr, "replay with UZRAM_SEED=%" PRIu64 "\n", base_seed);
	return check_summary();
}
