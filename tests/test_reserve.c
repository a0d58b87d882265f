/*
 * test_reserve.c - memory taken up front for swap (uzram_set_reserve,
 * zs_create_pool_reserve; docs/swap.md) and the registry's observer
 * (uzram_set_observer, uzram_open_releasable), which the ublk front end
 * hangs its block devices on.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "check.h"
#include "devutil.h"
#include "zsmalloc/zsmalloc.h"

#define PAGE 4096
#define ZS_RES_PAGES 128	/* pages in one chunk of the reserve */

/* The pool alone: fills its reserve and no more, hands chunks from one
 * page count to another, and keeps every object's bytes. */
static void test_pool_reserve(void)
{
	const size_t reserve = 2u << 20;	/* 4 chunks of 128 pages */
	static unsigned long h[1 << 16];
	static uint8_t buf[PAGE], rd[PAGE];
	struct zs_pool *pool;
	size_t n = 0, sizes[] = { 100, 3000, 4096 };
	uint64_t seed = 1;
	int err = 0;

	pool = zs_create_pool_reserve("reserve", reserve, 1 << 16, &err);
	REQUIRE(pool && !err, "zs_create_pool_reserve: %d", err);
	CHECK_EQ(zs_reserve_pages(pool), reserve / PAGE);
	for (size_t round = 0; round < 3; round++) {
		/* Objects of one size until the reserve is used up: 100 bytes,
		 * 3000 (3-page zspages), then huge ones (1 page each): the
		 * chunks move from one page count to the next. */
		size_t size = sizes[round], got = 0;

		CHECK(!zs_reserve_full(pool), "round %zu starts with room", round);
		for (n = 0; n < sizeof(h) / sizeof(h[0]); n++) {
			uint64_t s2 = seed + n;
			fill_random(buf, size, &s2);
			h[n] = zs_malloc_write(pool, buf, size);
			if (ZS_IS_ERR(h[n]))
				break;
			got++;
		}
		REQUIRE(n < sizeof(h) / sizeof(h[0]), "round %zu: the reserve never ran out", round);
		CHECK_EQ(ZS_ERR(h[n]), -ENOMEM);
		CHECK(zs_reserve_full(pool), "round %zu: full after -ENOMEM", round);
		CHECK(zs_get_total_pages(pool) <= reserve / PAGE,
		      "round %zu: %lu pages in a reserve of %zu", round,
		      zs_get_total_pages(pool), reserve / PAGE);
		/* Most of the reserve was used (2 % waste at most in chunks of
		 * a page count that does not divide 128). */
		CHECK(zs_get_total_pages(pool) >= reserve / PAGE * 9 / 10,
		      "round %zu: %zu objects of %zu in %lu pages", round, got, size,
		      zs_get_total_pages(pool));
		CHECK_EQ(zs_validate(pool), 0);
		for (size_t i = 0; i < got; i++) {
			uint64_t s2 = seed + i;
			const void *p;

			fill_random(buf, size, &s2);
			p = zs_obj_read_begin(pool, h[i], rd);
			CHECK(!memcmp(p, buf, size), "round %zu object %zu", round, i);
			zs_obj_read_end(pool, h[i], p);
		}
		for (size_t i = 0; i < got; i++)
			zs_free(pool, h[i]);
		CHECK(!zs_reserve_full(pool), "round %zu: room after frees", round);
		CHECK_EQ(zs_get_total_pages(pool), 0);
		seed += 1000003;
	}
	zs_destroy_pool(pool);

	CHECK(!zs_create_pool_reserve("zero", 0, 16, &err), "a reserve of 0 bytes");
	CHECK_EQ(err, -EINVAL);
}

/* Compaction in a reserve: freed zspages give their pages back to it. */
static void test_pool_reserve_compact(void)
{
	static unsigned long h[4096];
	static uint8_t buf[PAGE];
	struct zs_pool *pool;
	unsigned long before, freed;
	int err;

	pool = zs_create_pool_reserve("compact", 4u << 20, 4096, &err);
	REQUIRE(pool, "zs_create_pool_reserve: %d", err);
	memset(buf, 0x5c, sizeof(buf));
	for (size_t i = 0; i < 4096; i++) {
		h[i] = zs_malloc_write(pool, buf, 200 + i % 600);
		REQUIRE(!ZS_IS_ERR(h[i]), "object %zu", i);
	}
	for (size_t i = 0; i < 4096; i += 2)
		zs_free(pool, h[i]);
	before = zs_get_total_pages(pool);
	freed = zs_compact(pool);
	CHECK(freed > 0, "compaction freed pages");
	CHECK_EQ(zs_get_total_pages(pool), before - freed);
	CHECK_EQ(zs_validate(pool), 0);
	for (size_t i = 1; i < 4096; i += 2) {
		const void *p = zs_obj_read_begin(pool, h[i], buf);
		CHECK(((const uint8_t *)p)[0] == 0x5c, "object %zu after compaction", i);
		zs_obj_read_end(pool, h[i], p);
		zs_free(pool, h[i]);
	}
	CHECK_EQ(zs_get_total_pages(pool), 0);
	zs_destroy_pool(pool);
}

struct worker {
	struct zs_pool *pool;
	uint64_t seed;
	unsigned long bad, full;
};

/* Allocate and free objects of random sizes, each filled with its own
 * byte and checked before it is freed. */
static void *churn(void *arg)
{
	struct worker *w = arg;
	static __thread unsigned long h[512];
	static __thread size_t len[512];
	uint8_t buf[PAGE], tmp[PAGE];

	memset(h, 0, sizeof(h));
	for (unsigned int step = 0; step < 200000; step++) {
		unsigned int i = (unsigned int)(check_rand(&w->seed) % 512);

		if (h[i]) {
			const uint8_t *p = zs_obj_read_begin(w->pool, h[i], tmp);
			for (size_t b = 0; b < len[i]; b++)
				w->bad += p[b] != (uint8_t)i;
			zs_obj_read_end(w->pool, h[i], p);
			zs_free(w->pool, h[i]);
			h[i] = 0;
			continue;
		}
		len[i] = 32 + check_rand(&w->seed) % (PAGE - 32);
		memset(buf, (uint8_t)i, len[i]);
		h[i] = zs_malloc_write(w->pool, buf, len[i]);
		if (ZS_IS_ERR(h[i])) {
			w->full++;
			h[i] = 0;
		}
	}
	for (unsigned int i = 0; i < 512; i++)
		zs_free(w->pool, h[i]);
	return NULL;
}

/* Two threads in a reserve that is too small for both: allocations fail
 * now and then, nothing is corrupted, and all of it comes back. */
static void test_pool_reserve_threads(void)
{
	struct worker w[2];
	pthread_t t[2];
	struct zs_pool *pool;
	int err;

	pool = zs_create_pool_reserve("threads", 2u << 20, 1024, &err);
	REQUIRE(pool, "zs_create_pool_reserve: %d", err);
	for (int i = 0; i < 2; i++) {
		w[i] = (struct worker){ .pool = pool, .seed = check_seed() + (uint64_t)i };
		REQUIRE(pthread_create(&t[i], NULL, churn, &w[i]) == 0, "thread");
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(w[0].bad + w[1].bad, 0);
	CHECK(w[0].full + w[1].full > 0, "the reserve ran out now and then");
	CHECK_EQ(zs_validate(pool), 0);
	CHECK_EQ(zs_get_total_pages(pool), 0);
	zs_destroy_pool(pool);
}

struct racer {
	struct zs_pool *pool;
	pthread_barrier_t *go;
	unsigned long handle;	/* in: the object to free (freer) */
	unsigned long got;	/* out: what the allocation gave (allocator) */
};

static void *race_alloc(void *arg)
{
	struct racer *r = arg;
	static __thread uint8_t page[PAGE];

	pthread_barrier_wait(r->go);
	r->got = zs_malloc_write(r->pool, page, PAGE);
	return NULL;
}

static void *race_free(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->go);
	zs_free(r->pool, r->handle);
	return NULL;
}

/*
 * zs_reserve_full must never stay set while there is room: one thread
 * allocates a huge object in a full one-chunk reserve (it fails and sets the
 * flag) while another frees one. Whatever the order, afterwards either the
 * flag is clear or an allocation really fails. A stress with a narrow
 * window: before reserve_seq, a free that fell between the failed search and
 * the flag's store was lost and every later write refused - a review's
 * program, its two threads in different shards, hit it 25 times in 200,000
 * rounds; here they are in different shards only when the scheduler puts
 * them there (UZRAM_LONG=1 runs five times as many rounds).
 */
static void test_pool_reserve_full_race(void)
{
	static unsigned long h[ZS_RES_PAGES];
	static uint8_t page[PAGE];
	unsigned int rounds = getenv("UZRAM_LONG") ? 100000 : 20000, stuck = 0;
	pthread_barrier_t go;
	struct zs_pool *pool;
	int err;

	pool = zs_create_pool_reserve("race", ZS_RES_PAGES * PAGE, 1024, &err);
	REQUIRE(pool, "zs_create_pool_reserve: %d", err);
	pthread_barrier_init(&go, NULL, 2);
	for (unsigned int i = 0; i < ZS_RES_PAGES; i++) {
		h[i] = zs_malloc_write(pool, page, PAGE);
		REQUIRE(!ZS_IS_ERR(h[i]), "object %u", i);
	}
	for (unsigned int round = 0; round < rounds; round++) {
		unsigned int victim = round % ZS_RES_PAGES;
		struct racer a = { .pool = pool, .go = &go };
		struct racer f = { .pool = pool, .go = &go, .handle = h[victim] };
		pthread_t ta, tf;

		pthread_create(&ta, NULL, race_alloc, &a);
		pthread_create(&tf, NULL, race_free, &f);
		pthread_join(ta, NULL);
		pthread_join(tf, NULL);
		if (!ZS_IS_ERR(a.got)) {
			h[victim] = a.got;	/* it found the freed page */
			continue;
		}
		/* Failed, but a page is free now: the flag must say so. */
		if (zs_reserve_full(pool))
			stuck++;
		h[victim] = zs_malloc_write(pool, page, PAGE);
		REQUIRE(!ZS_IS_ERR(h[victim]), "round %u: room after the free", round);
	}
	CHECK_EQ(stuck, 0);
	for (unsigned int i = 0; i < ZS_RES_PAGES; i++)
		zs_free(pool, h[i]);
	pthread_barrier_destroy(&go);
	zs_destroy_pool(pool);
}

/* The device: a write that does not fit fails as mem_limit's do, nothing
 * stored is lost, same-filled pages still go in, a discard makes room. */
static void test_device_reserve(void)
{
	struct uzram *z;
	struct uzram_dev *d;
	struct uzram_stats st;
	uint8_t page[PAGE], rd[PAGE];
	unsigned int stored = 0;
	int ret = 0;

	REQUIRE(uzram_new(&z, 2) == 0, "new");
	uzram_set_reserve(z, 1u << 20);
	REQUIRE(store(z, 0, "disksize", "16M") == 0, "disksize with a reserve");
	REQUIRE(uzram_stats(z, 0, &st) == 0, "stats");
	CHECK_EQ(st.reserve_bytes, 1u << 20);
	REQUIRE(uzram_open(z, 0, &d) == 0, "open");
	for (unsigned int i = 0; i < 4096; i++) {
		uint64_t s = 77 + i;
		fill_random(page, PAGE, &s);
		ret = uzram_write(d, page, (uint64_t)i * PAGE, PAGE);
		if (ret)
			break;
		stored++;
	}
	CHECK_EQ(ret, -ENOMEM);
	CHECK_EQ(stored, 256);		/* 1 MiB of huge pages */
	uzram_stats(z, 0, &st);
	CHECK_EQ(st.failed_writes, 1);
	CHECK_EQ(st.mem_used_total, 1u << 20);
	/* Compressible data fails at once too (no zspage to put it in). */
	fill_text(page, PAGE, 3);
	CHECK_EQ(uzram_write(d, page, 300 * PAGE, PAGE), -ENOMEM);
	/* A front end may ask before it fetches the data: refused, counted. */
	CHECK(uzram_write_refused(d), "a full reserve refuses writes");
	uzram_stats(z, 0, &st);
	CHECK_EQ(st.failed_writes, 3);
	memset(page, 0x33, PAGE);
	CHECK_EQ(uzram_write(d, page, 301 * PAGE, PAGE), 0);
	for (unsigned int i = 0; i < stored; i++) {
		uint64_t s = 77 + i;
		fill_random(page, PAGE, &s);
		CHECK_EQ(uzram_read(d, rd, (uint64_t)i * PAGE, PAGE), 0);
		CHECK(!memcmp(page, rd, PAGE), "page %u intact", i);
	}
	CHECK_EQ(uzram_discard(d, 0, 16 * PAGE), 0);
	CHECK(!uzram_write_refused(d), "room again after a discard");
	fill_text(page, PAGE, 3);
	CHECK_EQ(uzram_write(d, page, 300 * PAGE, PAGE), 0);
	CHECK_EQ(uzram_read(d, rd, 300 * PAGE, PAGE), 0);
	CHECK(!memcmp(page, rd, PAGE), "written after the discard");
	uzram_close(d);

	/* Derived from mem_limit: set before disksize, it is the reserve. */
	uzram_set_reserve(z, UZRAM_RESERVE_MEM_LIMIT);
	CHECK_EQ(store(z, 1, "mem_limit", "2M"), 0);
	CHECK_EQ(store(z, 1, "disksize", "8M"), 0);
	uzram_stats(z, 1, &st);
	CHECK_EQ(st.reserve_bytes, 2u << 20);
	CHECK_EQ(store(z, 1, "reset", "1"), 0);
	CHECK_EQ(store(z, 1, "disksize", "8M"), 0);	/* reset cleared mem_limit */
	uzram_stats(z, 1, &st);
	CHECK_EQ(st.reserve_bytes, 0);
	REQUIRE(uzram_open(z, 1, &d) == 0, "open zram1");
	CHECK(!uzram_write_refused(d), "no reserve: never refused");
	uzram_close(d);
	/* Never more than the disk. */
	uzram_set_reserve(z, 64u << 20);
	CHECK_EQ(store(z, 1, "reset", "1"), 0);
	CHECK_EQ(store(z, 1, "disksize", "1M"), 0);
	uzram_stats(z, 1, &st);
	CHECK_EQ(st.reserve_bytes, 1u << 20);
	uzram_free(z);
}

/* ---- the observer ---- */

static struct {
	struct uzram *z;
	struct uzram_dev *held[4];
	int inits, releases, last_id;
	uint64_t last_size;
	int answer;		/* what release returns */
	bool reopen;		/* release opens a plain handle (a racing opener) */
	struct uzram_dev *racer;
} ob;

static void ob_initialised(void *arg, int id, uint64_t size)
{
	CHECK(arg == &ob, "the observer's argument");
	ob.inits++;
	ob.last_id = id;
	ob.last_size = size;
	if (!ob.held[id])
		CHECK_EQ(uzram_open_releasable(ob.z, id, &ob.held[id]), 0);
}

static int ob_release(void *arg, int id)
{
	ob.releases++;
	ob.last_id = id;
	if (ob.answer)
		return ob.answer;
	uzram_close(ob.held[id]);
	ob.held[id] = NULL;
	if (ob.reopen)
		CHECK_EQ(uzram_open(ob.z, id, &ob.racer), 0);
	return 0;
}

static void test_observer(void)
{
	struct uzram_observer o = { ob_initialised, ob_release, &ob };
	struct uzram_dev *plain;

	REQUIRE(uzram_new(&ob.z, 2) == 0, "new");
	uzram_set_observer(ob.z, &o);

	/* disksize tells it, with the size; a failed store does not. */
	CHECK_EQ(store(ob.z, 0, "disksize", "4M"), 0);
	CHECK_EQ(ob.inits, 1);
	CHECK_EQ(ob.last_id, 0);
	CHECK_EQ(ob.last_size, 4u << 20);
	CHECK_EQ(store(ob.z, 0, "disksize", "8M"), -EBUSY);
	CHECK_EQ(ob.inits, 1);

	/* reset with only its handle open: it is asked, closes, reset goes on. */
	CHECK_EQ(store(ob.z, 0, "reset", "1"), 0);
	CHECK_EQ(ob.releases, 1);
	CHECK(!ob.held[0], "the releasable handle was closed");
	CHECK_EQ(store(ob.z, 0, "disksize", "4M"), 0);
	CHECK_EQ(ob.inits, 2);

	/* A store that would not reset ("0", junk) does not ask. */
	CHECK_EQ(store(ob.z, 0, "reset", "0"), -EINVAL);
	CHECK_EQ(store(ob.z, 0, "reset", "x"), -EINVAL);
	CHECK_EQ(ob.releases, 1);

	/* It refuses (its block device is open): reset fails, untouched. */
	ob.answer = -EBUSY;
	CHECK_EQ(store(ob.z, 0, "reset", "1"), -EBUSY);
	CHECK_EQ(ob.releases, 2);
	CHECK(!strcmp(show(ob.z, 0, "disksize"), "4194304\n"), "still initialised");
	CHECK_EQ(uzram_hot_remove(ob.z, 0), -EBUSY);
	CHECK_EQ(ob.releases, 3);
	CHECK(uzram_exists(ob.z, 0), "hot_remove refused");
	ob.answer = 0;

	/* Another opener: EBUSY without asking the observer. */
	CHECK_EQ(uzram_open(ob.z, 0, &plain), 0);
	CHECK_EQ(store(ob.z, 0, "reset", "1"), -EBUSY);
	CHECK_EQ(uzram_hot_remove(ob.z, 0), -EBUSY);
	CHECK_EQ(ob.releases, 3);
	uzram_close(plain);

	/* Someone opens the device while the observer lets go: reset fails,
	 * and the observer gets the device back (initialised again). */
	ob.reopen = true;
	CHECK_EQ(store(ob.z, 0, "reset", "1"), -EBUSY);
	CHECK_EQ(ob.releases, 4);
	CHECK_EQ(ob.inits, 3);
	CHECK(ob.held[0] != NULL, "the observer holds zram0 again");
	ob.reopen = false;
	uzram_close(ob.racer);

	/* hot_remove: asked, closes, removed. */
	CHECK_EQ(uzram_hot_remove(ob.z, 0), 0);
	CHECK_EQ(ob.releases, 5);
	CHECK(!uzram_exists(ob.z, 0), "removed");

	/* Without an observer nobody can close a releasable handle: it keeps
	 * the device open like any other. */
	uzram_set_observer(ob.z, NULL);
	CHECK_EQ(store(ob.z, 1, "disksize", "1M"), 0);
	CHECK_EQ(ob.inits, 3);
	CHECK_EQ(uzram_open_releasable(ob.z, 1, &plain), 0);
	CHECK_EQ(store(ob.z, 1, "reset", "1"), -EBUSY);
	uzram_close(plain);
	CHECK_EQ(store(ob.z, 1, "reset", "1"), 0);
	uzram_free(ob.z);
}

int main(void)
{
	test_pool_reserve();
	test_pool_reserve_compact();
	test_pool_reserve_threads();
	test_pool_reserve_full_race();
	test_device_reserve();
	test_observer();
	return check_summary();
}
