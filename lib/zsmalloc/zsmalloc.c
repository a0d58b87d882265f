/*
 * zsmalloc.c - the compacting object allocator (the kernel's mm/zsmalloc.c
 * model; docs/internals.md §3): size classes, allocation, access to objects
 * and compaction. Memory and tables: zsmalloc_mem.c; statistics and
 * the validator: zsmalloc_stat.c.
 *
 * Geometry. The kernel's, for 4 KiB pages and a chain of 8: class i holds
 * objects of 32 + 16 i bytes (capped at 4096); a zspage of a class is the
 * number of pages, 1..8, that wastes the fewest bytes (the first on a tie,
 * powers of two take 1); classes are built from the largest down and a class
 * with the same pages and objects per zspage as the one above it is merged
 * into it (119 classes remain). A non-huge object starts with an 8-byte
 * header, so zs_malloc looks up size + 8; the classes of one page and one
 * object (3648..4096) are all the 4096 class, "huge", whose object has no
 * header. huge_class_size is the largest non-huge class size minus 7 (3625).
 * The same table means the same mem_used_total as the kernel's for the same
 * object sizes.
 *
 * Layout. A zspage is one contiguous run of 1..8 pages (a slot of a mapped
 * segment, zsmalloc_mem.c), so no object spans a page boundary as far as the
 * caller can tell, and zs_obj_read_begin always returns a direct pointer.
 * Object idx of a zspage lives at base + idx * size. Its first 8 bytes hold
 * (handle << 1) | 1 while allocated and a free-list link (next index << 1)
 * while free. A zspage's descriptor (struct zspage) keeps inuse, the head of
 * that intrusive free list, and a watermark: objects at or above it were never
 * used, so a new zspage needs no initialisation and its pages are touched
 * only as objects are written. A huge zspage is one page holding one object
 * and no header; its descriptor keeps the handle.
 *
 * Memory (zsmalloc_mem.c). zspages are slots of large MAP_NORESERVE mappings
 * (32 MiB, one page count per mapping: few mappings whatever the pool's
 * size); a released zspage's pages go back with MADV_DONTNEED, so the
 * process's RSS follows zs_get_total_pages.
 *
 * Shards. A pool has one set of classes per CPU (at most 4). A thread
 * allocates in shard 0 until it finds a class lock taken by another thread,
 * then moves for good to the shard of the CPU it runs on: a single thread (and any test that
 * compares mem_used_total with the kernel's) places every object exactly as
 * the kernel does, while threads that would fight over the same classes'
 * locks and zspages settle in different shards (two threads: 1.1x -> ~1.5x
 * one thread's rate). A class with no room in its shard takes room in the
 * same class of another shard (trylock) before a new zspage
 * (place_elsewhere), so threads that rewrite each other's pages fill each
 * other's holes instead of growing the pool. Compaction works within a
 * shard. An object is freed, read and written through its own shard, named
 * by the handle.
 *
 * Handles. A handle is ((slot + 1) << 10) | (shard << 8) | class index,
 * never 0 and far from the error range. slot indexes the pool's handle table, whose 8-byte entry
 * holds the object's location (zspage id, object index). Objects never change
 * class, so each class keeps the free list of its handle slots under its own
 * lock; compaction moves an object by copying it and rewriting the entry.
 * Limits: 2^28 handles and 2^26 zspages per pool (then -ENOMEM).
 *
 * Fullness. Each class keeps 12 lists (the kernel's groups: empty, 10%..90%,
 * 99%, full) with a bitmap of the non-empty ones and a table from inuse to
 * group, so allocation from the fullest non-full zspage and the move of a
 * zspage between groups are O(1). A zspage that empties is detached at once
 * (it leaves zs_get_total_pages) and its memory returned to the OS, through
 * a small bounded cache of mapped zspages per shard that zs_compact
 * empties (zsmalloc_mem.c): a class that breathes around a zspage boundary
 * - about one malloc or free in 25 on the page-file sizes - takes back the
 * memory it just gave, under its shard's cache lock only.
 *
 * Locking.
 * - class->lock (one per class, held for tens of nanoseconds; one CAS when
 *   free, waiters spin briefly then sleep on a futex): handle slots, zspage
 *   free lists, inuse, fullness lists and counters of that class. zs_malloc
 *   and zs_free take it once; nothing holds two class locks. Under it a
 *   thread may take its shard's cache lock (released zspages),
 *   pool->mem_lock (zspage memory and descriptors) or pool->ht_lock
 *   (handle-table chunks), one at a time; never the reverse.
 * - zspage->lock (an atomic word): a count of readers and a writer bit.
 *   zs_obj_read_begin/end and zs_obj_write take it shared: read the entry,
 *   count in on the zspage it names, read the entry again and retry if the
 *   object moved meanwhile (descriptors are type-stable, so a stale one is
 *   safe to lock; if the entry names it again after a move back, the object
 *   really is there). No pool-global lock is on that path. Compaction sets
 *   the writer bit only by trylock on a zspage without readers and skips
 *   busy ones; readers that meet the bit wait for it to clear, then re-check.
 *   Compaction holds the class lock while it empties one source zspage (at
 *   most 256 objects), then lets the class's allocations in.
 * - pool->compact_lock: one compaction at a time (another returns 0).
 * - total_pages (atomic, one per shard on its own cache line) counts the
 *   pages of zspages attached to the shard's classes and changes under the
 *   class lock; zs_get_total_pages sums the shards (at most 4 loads).
 *   zspage_events (per shard too) counts those changes, so the validator
 *   (which holds one class lock at a time) can tell whether its sum of the
 *   classes is a consistent snapshot.
 *
 * Compaction (mm/zsmalloc.c: __zs_compact()): classes from the largest
 * index down (each shard's); in each, while the class has freeable pages,
 * move objects from the least used zspage (groups 10% up) into the fullest
 * non-full one (99% down) until the destination is full or the source
 * empty; an emptied source is released and counted.
 */
#define _GNU_SOURCE	/* sched_getcpu */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/fault.h"
#include "zsmalloc_internal.h"

/* ---- geometry ---- */

static unsigned int size_index(size_t size)
{
	size_t idx = 0;

	if (likely(size > ZS_MIN_ALLOC_SIZE))
		idx = UZ_DIV_ROUND_UP(size - ZS_MIN_ALLOC_SIZE, ZS_SIZE_CLASS_DELTA);
	return (unsigned int)UZ_MIN(idx, (size_t)ZS_SIZE_CLASSES - 1);
}

/* Pages per zspage: the chain length wasting the fewest bytes. */
static unsigned int chain_pages(unsigned int size)
{
	unsigned int best = 1, min_waste = UINT_MAX;

	if (!(size & (size - 1)))
		return 1;
	for (unsigned int k = 1; k <= ZS_CHAIN_SIZE; k++) {
		unsigned int waste = (k * UZ_PAGE_SIZE) % size;

		if (waste < min_waste) {
			min_waste = waste;
			best = k;
		}
	}
	return best;
}

static struct zs_class *class_new(unsigned int shard, unsigned int index,
				  unsigned int size, unsigned int pages, unsigned int objs)
{
	struct zs_class *class = aligned_alloc(64, sizeof(*class));

	if (!class)
		return NULL;
	memset(class, 0, sizeof(*class));
	class->index = index;
	class->size = size;
	class->pages_per_zspage = pages;
	class->objs_per_zspage = objs;
	class->shard = shard;
	class->huge = pages == 1 && objs == 1;
	for (unsigned int inuse = 0; inuse <= objs; inuse++) {
		unsigned int g;

		if (inuse == 0)
			g = ZS_INUSE_RATIO_0;
		else if (inuse == objs)
			g = ZS_INUSE_RATIO_100;
		else
			g = (100 * inuse / objs) / 10 + 1;
		class->group_of[inuse] = (uint8_t)g;
	}
	atomic_init(&class->lock, 0);
	return class;
}

static void pool_free_classes(struct zs_pool *pool)
{
	/* Upwards: a merged alias points to a larger index, freed after it. */
	for (unsigned int sh = 0; sh < ZS_SHARDS; sh++) {
		for (unsigned int i = 0; i < ZS_SIZE_CLASSES; i++) {
			struct zs_class *class = pool->size_class[sh][i];

			if (class && class->index == i)
				free(class);
		}
	}
}

/* The classes of one shard, from the largest down, merging as the kernel. */
static int shard_init(struct zs_pool *pool, unsigned int sh)
{
	struct zs_class *prev = NULL;

	for (int i = ZS_SIZE_CLASSES - 1; i >= 0; i--) {
		unsigned int size = UZ_MIN(ZS_MIN_ALLOC_SIZE + (unsigned int)i * ZS_SIZE_CLASS_DELTA,
					   (unsigned int)ZS_MAX_ALLOC_SIZE);
		unsigned int pages = chain_pages(size);
		unsigned int objs = pages * UZ_PAGE_SIZE / size;

		/* The first class from the top that is not huge sets the limit. */
		if (pages != 1 && objs != 1 && !pool->huge_class_size)
			pool->huge_class_size = size - (ZS_HANDLE_SIZE - 1);
		if (prev && prev->pages_per_zspage == pages && prev->objs_per_zspage == objs) {
			pool->size_class[sh][i] = prev;
			continue;
		}
		prev = class_new(sh, (unsigned int)i, size, pages, objs);
		if (!prev)
			return -ENOMEM;
		pool->size_class[sh][i] = prev;
	}
	return 0;
}

static struct zs_pool *create_pool(const char *name, size_t reserve,
				   uint64_t max_objects, int *err)
{
	struct zs_pool *pool = aligned_alloc(64, sizeof(*pool));
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	*err = -ENOMEM;
	if (!pool)
		return NULL;
	memset(pool, 0, sizeof(*pool));
	if (name) {
		strncpy(pool->name, name, sizeof(pool->name) - 1);
		pool->name[sizeof(pool->name) - 1] = '\0';
	}
	if (zs_mem_init(pool)) {
		free(pool);
		return NULL;
	}
	for (unsigned int sh = 0; sh < ZS_SHARDS; sh++) {
		atomic_init(&pool->shard_stat[sh].total_pages, 0);
		atomic_init(&pool->shard_stat[sh].zspage_events, 0);
	}
	atomic_init(&pool->pages_compacted, 0);
	atomic_init(&pool->reserve_full, false);
	atomic_init(&pool->reserve_seq, 0);
	pthread_mutex_init(&pool->compact_lock, NULL);

	pool->nr_shards = (unsigned int)UZ_MIN(UZ_MAX(cpus, 1L), (long)ZS_SHARDS);
	for (unsigned int sh = 0; sh < pool->nr_shards; sh++)
		if (shard_init(pool, sh))
			goto fail;
	if (reserve) {
		*err = zs_mem_reserve(pool, reserve, max_objects);
		if (*err)
			goto fail;
	}
	*err = 0;
	return pool;
fail:
	pool_free_classes(pool);
	zs_mem_destroy(pool);
	pthread_mutex_destroy(&pool->compact_lock);
	free(pool);
	return NULL;
}

struct zs_pool *zs_create_pool(const char *name)
{
	int err;

	return create_pool(name, 0, 0, &err);
}

struct zs_pool *zs_create_pool_reserve(const char *name, size_t bytes,
				       uint64_t max_objects, int *err)
{
	if (!bytes) {
		*err = -EINVAL;
		return NULL;
	}
	return create_pool(name, bytes, max_objects, err);
}

void zs_destroy_pool(struct zs_pool *pool)
{
	if (!pool)
		return;
	pool_free_classes(pool);
	zs_mem_destroy(pool);
	pthread_mutex_destroy(&pool->compact_lock);
	free(pool);
}

size_t zs_huge_class_size(struct zs_pool *pool)
{
	return pool->huge_class_size;
}

unsigned int zs_lookup_class_index(struct zs_pool *pool, size_t size)
{
	return pool->size_class[0][size_index(size)]->index;
}

unsigned long zs_get_total_pages(struct zs_pool *pool)
{
	return zs_pool_pages(pool);
}

void zs_pool_stats(struct zs_pool *pool, struct zs_pool_stats *stats)
{
	stats->pages_compacted = atomic_load_explicit(&pool->pages_compacted,
						      memory_order_relaxed);
}

void zs_class_lock_slow(struct zs_class *class)
{
	for (unsigned int spins = 0; spins < 128; spins++) {
		unsigned int free_ = 0;

		cpu_relax();
		if (!atomic_load_explicit(&class->lock, memory_order_relaxed) &&
		    atomic_compare_exchange_weak_explicit(&class->lock, &free_, 1,
							  memory_order_acquire,
							  memory_order_relaxed))
			return;
	}
	/* Mark the lock contended; whoever unlocks it wakes one sleeper. */
	while (atomic_exchange_explicit(&class->lock, 2, memory_order_acquire))
		syscall(SYS_futex, &class->lock, FUTEX_WAIT_PRIVATE, 2, NULL, NULL, 0);
}

void zs_class_wake(struct zs_class *class)
{
	syscall(SYS_futex, &class->lock, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* ---- fullness lists (class lock held) ---- */

static void group_add(struct zs_class *class, struct zspage *zspage, unsigned int g)
{
	struct zspage *head = class->groups[g];

	zspage->fullness = (uint8_t)g;
	zspage->prev = NULL;
	zspage->next = head;
	if (head)
		head->prev = zspage;
	class->groups[g] = zspage;
	class->group_count[g]++;
	class->nonempty |= 1u << g;
}

static void group_del(struct zs_class *class, struct zspage *zspage)
{
	unsigned int g = zspage->fullness;

	if (zspage->prev)
		zspage->prev->next = zspage->next;
	else
		class->groups[g] = zspage->next;
	if (zspage->next)
		zspage->next->prev = zspage->prev;
	class->group_count[g]--;
	if (!class->groups[g])
		class->nonempty &= ~(1u << g);
}

static __attribute__((noinline)) void move_group(struct zs_class *class,
						  struct zspage *zspage, unsigned int g)
{
	group_del(class, zspage);
	group_add(class, zspage, g);
}

/* Most calls change nothing: that test is inlined, the move is not. */
static inline void fix_fullness(struct zs_class *class, struct zspage *zspage)
{
	unsigned int g = class->group_of[zspage->inuse];

	if (unlikely(g != zspage->fullness))
		move_group(class, zspage, g);
}

/*
 * A new empty zspage for class, attached to it (the class has no non-full
 * one), or NULL. Its memory comes from zsmalloc_mem.c; the descriptor's
 * lock word is left alone: stale readers may still count on it.
 */
static struct zspage *zspage_attach(struct zs_pool *pool, struct zs_class *class)
{
	struct zspage *zspage = zs_zspage_create(pool, class->pages_per_zspage,
						 class->shard);

	if (unlikely(!zspage))
		return NULL;
	zspage->prev = NULL;
	zspage->next = NULL;
	zspage->huge_handle = 0;
	zspage->inuse = 0;
	zspage->freeobj = ZS_OBJ_NONE;
	zspage->watermark = 0;
	zspage->fullness = ZS_INUSE_RATIO_0;
	zspage->class_idx = (uint8_t)class->index;
	group_add(class, zspage, ZS_INUSE_RATIO_0);
	class->zspages++;
	atomic_fetch_add(&pool->shard_stat[class->shard].zspage_events, 1);
	atomic_fetch_add(&pool->shard_stat[class->shard].total_pages,
			 class->pages_per_zspage);
	return zspage;
}

/* Detach an empty zspage from its class; the caller releases it unlocked. */
static void zspage_detach(struct zs_pool *pool, struct zs_class *class,
			  struct zspage *zspage)
{
	group_del(class, zspage);
	class->zspages--;
	atomic_fetch_add(&pool->shard_stat[class->shard].zspage_events, 1);
	atomic_fetch_sub(&pool->shard_stat[class->shard].total_pages,
			 class->pages_per_zspage);
}

/* ---- objects inside a zspage (class lock held) ---- */

static unsigned int obj_take(struct zs_class *class, struct zspage *zspage)
{
	unsigned int idx = zspage->freeobj;

	if (idx != ZS_OBJ_NONE) {
		uint64_t link;

		memcpy(&link, obj_addr(class, zspage, idx), sizeof(link));
		zspage->freeobj = (uint16_t)(link >> 1);
		/* The next allocation here reads that object's link: fetch it now. */
		if (zspage->freeobj != ZS_OBJ_NONE)
			__builtin_prefetch(obj_addr(class, zspage, zspage->freeobj), 1);
	} else {
		idx = zspage->watermark++;
	}
	zspage->inuse++;
	return idx;
}

static void obj_put(struct zs_class *class, struct zspage *zspage, unsigned int idx)
{
	if (!class->huge) {
		uint64_t link = (uint64_t)zspage->freeobj << 1;

		memcpy(obj_addr(class, zspage, idx), &link, sizeof(link));
		zspage->freeobj = (uint16_t)idx;
	}
	zspage->inuse--;
}

/*
 * The object just freed is the class's next allocation as a rule: zs_malloc
 * takes the fullest non-full zspage, the head of its group, and that zspage
 * just moved there; its free list is LIFO. Under swap churn (and a rewrite
 * pass) the object was written long ago and its lines are cold: without
 * this, the next malloc_copy stalls on their misses at its unlock (the
 * locked exchange waits for the copy's stores). Fetched now, they arrive
 * while the caller compresses its next page. The first line holds the
 * free-list link obj_put just wrote.
 */
static inline void obj_prefetch_reuse(const struct zs_class *class,
				      const struct zspage *zspage, unsigned int idx)
{
	const char *obj = obj_addr(class, zspage, idx);

	for (unsigned int off = 64; off < class->size; off += 64)
		__builtin_prefetch(obj + off, 1, 3);
}

/* ---- handle slots (class lock held) ---- */

static int handle_slot_get(struct zs_pool *pool, struct zs_class *class, uint64_t *slotp)
{
	if (class->hfree) {
		uint64_t slot = class->hfree - 1;
		uint64_t v = atomic_load_explicit(handle_entry(pool, slot),
						  memory_order_relaxed);

		class->hfree = v >> 1;
		*slotp = slot;
		return 0;
	}
	if (unlikely(class->hnext == class->hend)) {
		uint64_t s = atomic_fetch_add_explicit(&pool->ht_next, ZS_HT_BATCH,
						       memory_order_relaxed);

		if (s + ZS_HT_BATCH > ZS_HT_MAX || zs_ht_ensure(pool, s))
			return -ENOMEM;
		class->hnext = s;
		class->hend = s + ZS_HT_BATCH;
	}
	*slotp = class->hnext++;
	return 0;
}

static void handle_slot_put(struct zs_pool *pool, struct zs_class *class, uint64_t slot)
{
	atomic_store_explicit(handle_entry(pool, slot), (class->hfree << 1) | 1,
			      memory_order_relaxed);
	class->hfree = slot + 1;
}

/* ---- allocation ---- */

/*
 * Place an object of size bytes in class (locked) and, if src is not NULL,
 * copy them in before the class lock is dropped: nobody else knows the
 * handle yet and compaction needs the lock, so the object cannot move under
 * the copy, and the pin/unpin of a separate zs_obj_write (two atomic
 * operations and two lookups of the handle) is saved. Unlocks the class.
 * Returns the handle, an error, or 0 when the class has no room in its
 * zspages and may not grow (!grow).
 */
static inline __attribute__((always_inline)) unsigned long
class_place(struct zs_pool *pool, struct zs_class *class, size_t size,
	    const void *src, bool grow)
{
	unsigned int mask = class->nonempty & ZS_NONFULL_MASK, idx;
	struct zspage *zspage;
	unsigned long handle;
	uint64_t slot;
	char *obj;

	if (unlikely(!mask && !grow)) {
		class_unlock(class);
		return 0;
	}
	if (unlikely(handle_slot_get(pool, class, &slot))) {
		class_unlock(class);
		return (unsigned long)-ENOMEM;
	}
	if (likely(mask)) {
		zspage = class->groups[31 - __builtin_clz(mask)];
	} else {
		zspage = zspage_attach(pool, class);
		if (unlikely(!zspage)) {
			handle_slot_put(pool, class, slot);
			class_unlock(class);
			return (unsigned long)-ENOMEM;
		}
	}
	idx = obj_take(class, zspage);
	handle = make_handle(slot, class);
	obj = obj_addr(class, zspage, idx);
	if (class->huge) {
		zspage->huge_handle = handle;
	} else {
		uint64_t hdr = ((uint64_t)handle << 1) | ZS_OBJ_ALLOCATED;

		memcpy(obj, &hdr, sizeof(hdr));
		obj += ZS_HANDLE_SIZE;
	}
	if (src)
		memcpy(obj, src, size);
	class->obj_used++;
	fix_fullness(class, zspage);
	atomic_store_explicit(handle_entry(pool, slot), make_loc(zspage, idx),
			      memory_order_release);
	class_unlock(class);
	return handle;
}

/*
 * The class of this thread's shard is full: before it takes a new zspage,
 * room in the same class of another shard (trylock: a busy one is skipped).
 * Threads that write over each other's pages - an NBD server's workers -
 * otherwise leave holes in one shard while they fill new zspages in
 * another: over NBD, mem_used_total after five rewrites of a file was
 * 1.01-1.10x the fill's. The kernel's pool has no shards (mm/zsmalloc.c's
 * zs_malloc() takes the fullest zspage of the one class).
 */
static __attribute__((noinline)) unsigned long
place_elsewhere(struct zs_pool *pool, unsigned int shard, unsigned int index,
		size_t size, const void *src)
{
	struct zs_class *class;

	for (unsigned int k = 1; k < pool->nr_shards; k++) {
		unsigned long handle;

		class = pool->size_class[(shard + k) % pool->nr_shards][index];
		if (!class_trylock(class))
			continue;
		handle = class_place(pool, class, size, src, false);
		if (handle)
			return handle;
	}
	class = pool->size_class[shard][index];
	class_lock(class);
	return class_place(pool, class, size, src, true);
}

/* The shard this thread allocates in (see ZS_SHARDS). */
static __thread uint8_t tls_shard;

static inline unsigned long malloc_copy(struct zs_pool *pool, size_t size,
					const void *src)
{
	struct zs_class *class;
	unsigned long handle;
	unsigned int shard, index;

	if (unlikely(!size))
		return (unsigned long)-EINVAL;
	if (unlikely(size > ZS_MAX_ALLOC_SIZE))
		return (unsigned long)-ENOSPC;
	/* Test builds: the kernel's zs_malloc() failing with -ENOMEM. */
	if (unlikely(uz_fault(UZ_FAULT_POOL_ALLOC)))
		return (unsigned long)-ENOMEM;
	shard = tls_shard < pool->nr_shards ? tls_shard : 0;
	index = size_index(size + ZS_HANDLE_SIZE);
	class = pool->size_class[shard][index];

	if (unlikely(class_lock(class)) && pool->nr_shards > 1) {
		/*
		 * Another thread is here: allocate from now on in the shard
		 * of the CPU we run on. Two threads running at once are on
		 * two CPUs, so they settle apart; a plain "next shard" made
		 * them leapfrog each other into the same one.
		 */
		int cpu = sched_getcpu();

		tls_shard = (uint8_t)(cpu >= 0 ? (unsigned int)cpu % pool->nr_shards
					      : (shard + 1) % pool->nr_shards);
	}
	handle = class_place(pool, class, size, src, pool->nr_shards == 1);
	if (likely(handle))
		return handle;
	return place_elsewhere(pool, shard, index, size, src);
}

unsigned long zs_malloc(struct zs_pool *pool, size_t size)
{
	return malloc_copy(pool, size, NULL);
}

unsigned long zs_malloc_write(struct zs_pool *pool, const void *src, size_t size)
{
	return malloc_copy(pool, size, src);
}

void zs_free(struct zs_pool *pool, unsigned long handle)
{
	struct zs_class *class;
	struct zspage *zspage, *dead = NULL;
	uint64_t slot, loc;

	if (unlikely(!handle || ZS_IS_ERR(handle)))
		return;
	class = handle_class_of(pool, handle);
	slot = handle_slot(handle);

	class_lock(class);
	loc = atomic_load_explicit(handle_entry(pool, slot), memory_order_relaxed);
	zspage = loc_zspage(pool, loc);
	obj_put(class, zspage, loc_idx(loc));
	obj_prefetch_reuse(class, zspage, loc_idx(loc));
	class->obj_used--;
	handle_slot_put(pool, class, slot);
	if (unlikely(!zspage->inuse)) {
		zspage_detach(pool, class, zspage);
		dead = zspage;
	} else {
		fix_fullness(class, zspage);
	}
	class_unlock(class);
	if (dead)
		zs_zspage_release(pool, dead);	/* room for it too */
	else
		zs_room(pool);
}

/* ---- access ---- */

static void zspage_read_lock(struct zspage *zspage)
{
	for (;;) {
		unsigned int v = atomic_fetch_add_explicit(&zspage->lock, 1,
							   memory_order_acquire);
		if (likely(!(v & ZS_LOCK_WRITER)))
			return;
		atomic_fetch_sub_explicit(&zspage->lock, 1, memory_order_relaxed);
		for (unsigned int spins = 0;
		     atomic_load_explicit(&zspage->lock, memory_order_relaxed) & ZS_LOCK_WRITER;
		     spins++) {
			if (spins < 128)
				cpu_relax();
			else
				sched_yield();
		}
	}
}

static inline void zspage_read_unlock(struct zspage *zspage)
{
	atomic_fetch_sub_explicit(&zspage->lock, 1, memory_order_release);
}

static bool zspage_write_trylock(struct zspage *zspage)
{
	unsigned int expected = 0;

	return atomic_compare_exchange_strong_explicit(&zspage->lock, &expected,
						       ZS_LOCK_WRITER,
						       memory_order_acquire,
						       memory_order_relaxed);
}

static void zspage_write_unlock(struct zspage *zspage)
{
	atomic_fetch_and_explicit(&zspage->lock, ~ZS_LOCK_WRITER, memory_order_release);
}

/*
 * Pin the object of handle: lock the zspage its entry names, then check that
 * the entry still names it (the object may have moved before the lock).
 */
static struct zspage *obj_pin(struct zs_pool *pool, unsigned long handle,
			      unsigned int *idxp)
{
	_Atomic uint64_t *entry = handle_entry(pool, handle_slot(handle));
	uint64_t loc = atomic_load_explicit(entry, memory_order_acquire);

	for (;;) {
		struct zspage *zspage = loc_zspage(pool, loc);
		uint64_t now;

		zspage_read_lock(zspage);
		now = atomic_load_explicit(entry, memory_order_acquire);
		if (likely(now == loc)) {
			*idxp = loc_idx(loc);
			return zspage;
		}
		zspage_read_unlock(zspage);
		loc = now;
	}
}

static void obj_unpin(struct zs_pool *pool, unsigned long handle)
{
	_Atomic uint64_t *entry = handle_entry(pool, handle_slot(handle));

	zspage_read_unlock(loc_zspage(pool, atomic_load_explicit(entry,
								 memory_order_relaxed)));
}

const void *zs_obj_read_begin(struct zs_pool *pool, unsigned long handle,
			      void *local_copy)
{
	const struct zs_class *class = handle_class_of(pool, handle);
	unsigned int idx;
	struct zspage *zspage = obj_pin(pool, handle, &idx);
	const char *obj = obj_addr(class, zspage, idx);

	return class->huge ? obj : obj + ZS_HANDLE_SIZE;
}

void zs_obj_read_end(struct zs_pool *pool, unsigned long handle, const void *mem)
{
	obj_unpin(pool, handle);
}

void zs_obj_write(struct zs_pool *pool, unsigned long handle, const void *src,
		  size_t len)
{
	const struct zs_class *class = handle_class_of(pool, handle);
	size_t cap = class->huge ? class->size : class->size - ZS_HANDLE_SIZE;
	unsigned int idx;
	struct zspage *zspage = obj_pin(pool, handle, &idx);
	char *obj = obj_addr(class, zspage, idx);

	memcpy(class->huge ? obj : obj + ZS_HANDLE_SIZE, src, UZ_MIN(len, cap));
	zspage_read_unlock(zspage);
}

/* ---- compaction ---- */

static unsigned long class_freeable(const struct zs_class *class)
{
	unsigned long allocated = class->zspages * class->objs_per_zspage;

	return (allocated - class->obj_used) / class->objs_per_zspage *
	       class->pages_per_zspage;
}

/* The least used zspage other than dst that has no reader, write-locked. */
static struct zspage *pick_src(struct zs_class *class, struct zspage *dst)
{
	unsigned int tries = 0;

	for (unsigned int g = 1; g <= ZS_INUSE_RATIO_99; g++) {
		for (struct zspage *zs = class->groups[g]; zs; zs = zs->next) {
			if (zs != dst && zspage_write_trylock(zs))
				return zs;
			if (++tries > 64)
				return NULL;
		}
	}
	return NULL;
}

/* Move objects from src (write-locked) to dst until dst is full or src empty. */
static void migrate_objects(struct zs_pool *pool, struct zs_class *class,
			    struct zspage *src, struct zspage *dst)
{
	unsigned int objs = class->objs_per_zspage;

	for (unsigned int idx = 0; idx < src->watermark; idx++) {
		char *from = obj_addr(class, src, idx);
		uint64_t hdr;

		if (!src->inuse || dst->inuse == objs)
			break;
		memcpy(&hdr, from, sizeof(hdr));
		if (!(hdr & ZS_OBJ_ALLOCATED))
			continue;

		unsigned int didx = obj_take(class, dst);
		uint64_t slot = handle_slot((unsigned long)(hdr >> 1));

		memcpy(obj_addr(class, dst, didx), from, class->size);
		atomic_store_explicit(handle_entry(pool, slot), make_loc(dst, didx),
				      memory_order_release);
		obj_put(class, src, idx);
	}
}

static unsigned long compact_class(struct zs_pool *pool, struct zs_class *class)
{
	unsigned long freed = 0, steps = 0, max_steps;

	class_lock(class);
	max_steps = 2 * class->zspages + 16;
	while (class_freeable(class) && steps++ < max_steps) {
		unsigned int mask = class->nonempty & ZS_NONFULL_MASK;
		struct zspage *dst, *src;

		if (!mask)
			break;
		dst = class->groups[31 - __builtin_clz(mask)];
		src = pick_src(class, dst);
		if (!src)
			break;
		migrate_objects(pool, class, src, dst);
		zspage_write_unlock(src);
		fix_fullness(class, dst);
		if (!src->inuse) {
			zspage_detach(pool, class, src);
			class_unlock(class);
			zs_zspage_release(pool, src);
			freed += class->pages_per_zspage;
		} else {
			fix_fullness(class, src);
			class_unlock(class);
		}
		/* Let allocations and frees of this class in between steps. */
		class_lock(class);
	}
	class_unlock(class);
	return freed;
}

unsigned long zs_compact(struct zs_pool *pool)
{
	unsigned long freed = 0;

	if (pthread_mutex_trylock(&pool->compact_lock))
		return 0;
	for (int i = ZS_SIZE_CLASSES - 1; i >= 0; i--) {
		for (unsigned int sh = 0; sh < pool->nr_shards; sh++) {
			struct zs_class *class = pool->size_class[sh][i];

			if (class->index != (unsigned int)i || class->huge)
				continue;
			freed += compact_class(pool, class);
		}
	}
	atomic_fetch_add_explicit(&pool->pages_compacted, freed, memory_order_relaxed);
	/* Compaction is the shrinker: cached zspages go back to the OS too. */
	zs_cache_flush(pool);
	pthread_mutex_unlock(&pool->compact_lock);
	return freed;
}
