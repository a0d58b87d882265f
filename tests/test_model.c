/*
 * test_model.c - the device against a flat reference, from several threads.
 *
 * A: random reads, writes (whole and partial pages), discards and
 *    write-zeroes over a small device, applied to the device and to a
 *    reference buffer under the test's own per-page locks, so operations on
 *    different pages run concurrently and the reference stays exact. Every
 *    read is compared; at the end the whole device, pages_stored and
 *    same_pages are checked against the model.
 * B: writers of different sectors of the same pages at once (read-modify-
 *    write must lose nothing), and readers that must never see a torn page.
 *
 * UZRAM_SEED replays a run; UZRAM_LONG=1 (make test) runs a million ops.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "check.h"
#include "devutil.h"

#define PAGE		4096
#define NPAGES		256
#define THREADS		4

static struct uzram *z;
static struct uzram_dev *d;
static uint8_t *ref;			/* the model's bytes */
static bool allocated[NPAGES];		/* the model's slot state */
static pthread_mutex_t page_lock[NPAGES];
static uint64_t base_seed;
static long ops_per_thread;
static _Atomic long failures;

static void lock_range(uint64_t off, uint64_t len)
{
	for (uint64_t p = off / PAGE; p < (off + len + PAGE - 1) / PAGE; p++)
		pthread_mutex_lock(&page_lock[p]);
}

static void unlock_range(uint64_t off, uint64_t len)
{
	for (uint64_t p = off / PAGE; p < (off + len + PAGE - 1) / PAGE; p++)
		pthread_mutex_unlock(&page_lock[p]);
}

static void fail(const char *what, uint64_t off, uint64_t len, int ret)
{
	failures++;
	fprintf(stderr, "MISMATCH: %s at %" PRIu64 "+%" PRIu64 " (ret %d)\n", what,
		off, len, ret);
}

static void *model_thread(void *arg)
{
	uint64_t rs = base_seed + (uintptr_t)arg * 0x9e3779b97f4a7c15ull;
	uint8_t *buf = malloc(64 * 1024), *rd = malloc(64 * 1024);

	for (long n = 0; n < ops_per_thread && failures < 10; n++) {
		unsigned int op = check_rand(&rs) % 10;
		uint64_t sectors = 1 + check_rand(&rs) % (op < 3 ? 128 : 24);
		uint64_t len = sectors * 512;
		uint64_t off = (check_rand(&rs) % (NPAGES * 8 - sectors + 1)) * 512;
		int ret;

		if (check_rand(&rs) % 3 == 0) {	/* page-aligned, whole pages */
			off &= ~(uint64_t)(PAGE - 1);
			len = (1 + check_rand(&rs) % 4) * PAGE;
			if (off + len > (uint64_t)NPAGES * PAGE)
				off = (uint64_t)NPAGES * PAGE - len;
		}
		lock_range(off, len);
		switch (op) {
		case 0: case 1: case 2: case 3:	/* read */
			ret = uzram_read(d, rd, off, len);
			if (ret || memcmp(rd, ref + off, len))
				fail("read", off, len, ret);
			break;
		case 4: case 5: case 6: case 7:	/* write */
			make_data(buf, len, &rs);
			ret = uzram_write(d, buf, off, len);
			if (ret)
				fail("write", off, len, ret);
			memcpy(ref + off, buf, len);
			for (uint64_t p = off / PAGE; p < (off + len + PAGE - 1) / PAGE; p++)
				allocated[p] = true;
			break;
		case 8:					/* discard */
			ret = uzram_discard(d, off, len);
			if (ret)
				fail("discard", off, len, ret);
			for (uint64_t p = (off + PAGE - 1) / PAGE; p < (off + len) / PAGE; p++) {
				memset(ref + p * PAGE, 0, PAGE);
				allocated[p] = false;
			}
			break;
		case 9:					/* write-zeroes */
			ret = uzram_write_zeroes(d, off, len);
			if (ret)
				fail("write_zeroes", off, len, ret);
			memset(ref + off, 0, len);
			for (uint64_t p = off / PAGE; p < (off + len + PAGE - 1) / PAGE; p++) {
				bool whole = p * PAGE >= off && (p + 1) * PAGE <= off + len;
				allocated[p] = whole ? false : true;
			}
			break;
		}
		unlock_range(off, len);
	}
	free(buf);
	free(rd);
	return NULL;
}

static bool same_filled(const uint8_t *p)
{
	for (int i = 8; i < PAGE; i += 8)
		if (memcmp(p, p + i, 8))
			return false;
	return true;
}

static void part_a(void)
{
	pthread_t t[THREADS];
	uint8_t *all = malloc(NPAGES * PAGE);

	ref = calloc(NPAGES, PAGE);
	for (int i = 0; i < NPAGES; i++)
		pthread_mutex_init(&page_lock[i], NULL);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, model_thread, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(failures, 0);

	CHECK_EQ(uzram_read(d, all, 0, NPAGES * PAGE), 0);
	CHECK(!memcmp(all, ref, NPAGES * PAGE), "final contents match the model");
	uint64_t stored = 0, same = 0;
	for (int p = 0; p < NPAGES; p++) {
		stored += allocated[p];
		same += allocated[p] && same_filled(ref + p * PAGE);
		int st = uzram_page_state(d, (uint64_t)p * PAGE);
		CHECK(st == (allocated[p] ? (same_filled(ref + p * PAGE) && ref[p * PAGE] == 0 &&
					     !memcmp(ref + p * PAGE, ref + p * PAGE + 1, 7)
						     ? UZRAM_PAGE_ZERO : UZRAM_PAGE_DATA)
					  : UZRAM_PAGE_UNWRITTEN),
		      "page %d state %d", p, st);
	}
	struct mm m = mm_stat(z, 0);
	CHECK_EQ(m.orig, stored * PAGE);
	CHECK_EQ(m.same, same);
	CHECK(m.huge <= stored - same, "huge pages bounded");
	printf("model: %ld ops verified on %d threads; %" PRIu64 " pages stored, %" PRIu64 " same\n",
	       ops_per_thread * THREADS, THREADS, stored, same);
	free(all);
	free(ref);
}

/* ---- B: same-page contention ---- */

#define B_PAGES		4
#define B_WRITERS	4	/* writer k owns sectors 2k and 2k+1 of each page */

static _Atomic int b_stop;
static uint64_t b_last[B_WRITERS][B_PAGES];

static void *sector_writer(void *arg)
{
	long k = (long)arg;
	uint8_t sec[1024];
	uint64_t rs = base_seed ^ (uint64_t)k;

	for (uint64_t seq = 1; seq <= (uint64_t)ops_per_thread / 4; seq++) {
		unsigned int p = (unsigned int)(check_rand(&rs) % B_PAGES);
		for (int i = 0; i < 1024; i += 16) {
			uint64_t tag = ((uint64_t)k << 56) | seq;
			memcpy(sec + i, &tag, 8);
			memcpy(sec + i + 8, &seq, 8);
		}
		int ret = uzram_write(d, sec, (uint64_t)p * PAGE + (uint64_t)k * 1024, 1024);
		if (ret)
			fail("sector write", p, (uint64_t)k, ret);
		b_last[k][p] = seq;
	}
	return NULL;
}

/* Full-page writers: a page is (writer, seq) in its first word and text
 * derived from it; a reader recomputes it, so a torn page shows. */
static void page_content(uint8_t *p, uint64_t tag)
{
	fill_text(p, PAGE, (unsigned int)tag);
	memcpy(p, &tag, 8);
	memcpy(p + PAGE - 8, &tag, 8);
}

static void *page_writer(void *arg)
{
	long k = (long)arg;
	uint8_t page[PAGE];
	uint64_t rs = base_seed ^ ((uint64_t)k << 8);

	for (uint64_t seq = 1; !b_stop && seq <= (uint64_t)ops_per_thread / 4; seq++) {
		unsigned int p = B_PAGES + (unsigned int)(check_rand(&rs) % B_PAGES);
		page_content(page, ((uint64_t)k << 48) | seq);
		int ret = uzram_write(d, page, (uint64_t)p * PAGE, PAGE);
		if (ret)
			fail("page write", p, 0, ret);
	}
	return NULL;
}

static void *page_reader(void *unused)
{
	uint8_t page[PAGE], want[PAGE];
	uint64_t rs = base_seed ^ 0xabcdef;

	while (!b_stop) {
		unsigned int p = B_PAGES + (unsigned int)(check_rand(&rs) % B_PAGES);
		int ret = uzram_read(d, page, (uint64_t)p * PAGE, PAGE);
		uint64_t tag;
		memcpy(&tag, page, 8);
		if (ret) {
			fail("page read", p, 0, ret);
			continue;
		}
		if (tag == 0 && !memcmp(page, page + 1, PAGE - 1))
			continue;	/* not written yet */
		page_content(want, tag);
		if (memcmp(page, want, PAGE))
			fail("torn page", p, tag, 0);
	}
	return NULL;
}

static void part_b(void)
{
	pthread_t w[B_WRITERS], pw[2], r;
	uint8_t page[PAGE];

	for (long k = 0; k < B_WRITERS; k++)
		pthread_create(&w[k], NULL, sector_writer, (void *)k);
	for (long k = 0; k < 2; k++)
		pthread_create(&pw[k], NULL, page_writer, (void *)k);
	pthread_create(&r, NULL, page_reader, NULL);
	for (int k = 0; k < B_WRITERS; k++)
		pthread_join(w[k], NULL);
	for (int k = 0; k < 2; k++)
		pthread_join(pw[k], NULL);
	b_stop = 1;
	pthread_join(r, NULL);
	CHECK_EQ(failures, 0);

	/* every sector holds its writer's last write: no update was lost */
	for (int p = 0; p < B_PAGES; p++) {
		CHECK_EQ(uzram_read(d, page, (uint64_t)p * PAGE, PAGE), 0);
		for (int k = 0; k < B_WRITERS; k++) {
			uint64_t tag, seq;
			memcpy(&tag, page + k * 1024, 8);
			memcpy(&seq, page + k * 1024 + 8, 8);
			if (b_last[k][p] == 0)
				CHECK(tag == 0, "page %d sector of %d never written", p, k);
			else
				CHECK(tag == (((uint64_t)k << 56) | b_last[k][p]) &&
				      seq == b_last[k][p],
				      "page %d writer %d: seq %" PRIu64 ", want %" PRIu64, p, k,
				      seq, b_last[k][p]);
		}
		for (int i = B_WRITERS * 1024; i < PAGE; i++)
			if (page[i]) {
				CHECK(0, "page %d byte %d of nobody's sector is %d", p, i, page[i]);
				break;
			}
	}
}

int main(void)
{
	base_seed = check_seed();
	ops_per_thread = check_long() ? 250000 : 25000;
	if (getenv("SAN") && *getenv("SAN"))
		ops_per_thread /= 5;
	REQUIRE(uzram_new(&z, 1) == 0, "new");
	REQUIRE(store(z, 0, "comp_algorithm", "lz4") == 0, "lz4");
	char size[32];
	snprintf(size, sizeof(size), "%d", NPAGES * PAGE);
	REQUIRE(store(z, 0, "disksize", size) == 0, "disksize");
	REQUIRE(uzram_open(z, 0, &d) == 0, "open");
	part_a();
	CHECK_EQ(store(z, 0, "compact", "1"), 0);
	/* B runs on a fresh device */
	uzram_close(d);
	REQUIRE(store(z, 0, "reset", "1") == 0, "reset");
	REQUIRE(store(z, 0, "disksize", "1M") == 0, "disksize");
	REQUIRE(uzram_open(z, 0, &d) == 0, "open");
	part_b();
	uzram_close(d);
	uzram_free(z);
	if (check_failed)
		fprintf(stderr, "replay with UZRAM_SEED=%" PRIu64 "\n", base_seed);
	return check_summary();
}
