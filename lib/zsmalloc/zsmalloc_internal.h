/*
 * zsmalloc_internal.h - the allocator's data structures, shared by its three
 * files, which call each other in one direction only:
 *
 *   zsmalloc_stat.c   statistics and the validator         (calls both below)
 *   zsmalloc.c        classes, alloc/free/access, compaction (calls the next)
 *   zsmalloc_mem.c    zspage memory (segments, the reserve, the cache of
 *                     released zspages), descriptors, the handle table
 *
 * The memory layer knows zspages by page count and shard, never a class.
 * What both layers read or change on their hot paths (handle and location
 * encoding, the pool's page count, the reserve's room) is inline here. The
 * design is described at the top of zsmalloc.c and zsmalloc_mem.c.
 */
#ifndef UZRAM_ZSMALLOC_INTERNAL_H
#define UZRAM_ZSMALLOC_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/common.h"
#include "zsmalloc.h"

/* Geometry: the kernel's for 4 KiB pages, 64-bit, CONFIG_ZSMALLOC_CHAIN_SIZE 8. */
#define ZS_HANDLE_SIZE		8
#define ZS_MIN_ALLOC_SIZE	32
#define ZS_MAX_ALLOC_SIZE	UZ_PAGE_SIZE
#define ZS_SIZE_CLASS_DELTA	16
#define ZS_SIZE_CLASSES		255
#define ZS_CHAIN_SIZE		8
#define ZS_MAX_OBJS		256	/* most objects in one zspage (class 48, 80, 112) */
#define ZS_OBJ_NONE		0xffffu	/* end of a zspage's free list */

/* Fullness groups: 0 = empty, 1..10 = <10% .. >=90%, 11 = full. */
#define ZS_INUSE_RATIO_0	0
#define ZS_INUSE_RATIO_99	10
#define ZS_INUSE_RATIO_100	11
#define ZS_NONFULL_MASK		0x7feu	/* groups 1..10 */

/*
 * Shards: up to ZS_SHARDS independent sets of classes per pool (one per CPU
 * at most). A thread allocates in shard 0 until it meets another thread on
 * a class lock, then moves to the next shard, so a single thread places
 * objects exactly as the kernel would, and threads that would fight over
 * the same classes spread out.
 */
#define ZS_SHARDS		4
#define ZS_HANDLE_SHARD_BITS	2

/*
 * Handle = ((slot + 1) << 10) | (shard << 8) | class index. slot indexes the
 * pool's handle table, whose entry holds the object's location. Entries:
 *   live:  (zspage id << ZS_LOC_IDX_BITS | object index) << 1   (bit 0 clear)
 *   free:  (1 + next free slot of the class) << 1 | 1           (0 = end)
 */
#define ZS_HANDLE_CLASS_BITS	8
#define ZS_LOC_IDX_BITS		9
#define ZS_HT_CHUNK_SHIFT	10	/* 1024 entries (8 KiB) per chunk */
#define ZS_HT_DIR_SHIFT		18
#define ZS_HT_MAX		(1ull << (ZS_HT_CHUNK_SHIFT + ZS_HT_DIR_SHIFT))
#define ZS_HT_BATCH		64	/* slots a class takes from the pool at once */

/* zspage descriptors: a table of chunks that are never freed (type-stable). */
/* Small chunks: the unused tail of the last one is resident memory that
 * zs_get_total_pages does not count (it was up to 64 + 32 KiB). */
#define ZS_ZD_CHUNK_SHIFT	8	/* 256 descriptors (16 KiB) per chunk */
#define ZS_ZD_DIR_SHIFT		18
#define ZS_ZD_MAX		(1u << (ZS_ZD_CHUNK_SHIFT + ZS_ZD_DIR_SHIFT))

/* Memory segments: reserved address space carved into zspage slots. */
#define ZS_SEG_SIZE		(32ul << 20)
/* The reserve (zs_create_pool_reserve) is searched in chunks of this many
 * pages, each with a bitmap; no zspage crosses from one chunk to the next. */
#define ZS_RES_CHUNK_PAGES	128u

/*
 * Released zspages kept mapped for reuse (the kernel's per-CPU page lists):
 * at most total_pages / ZS_CACHE_SHARE pages, between ZS_CACHE_MIN and
 * ZS_CACHE_MAX; zs_compact empties it.
 */
#define ZS_CACHE_SHARE		64
#define ZS_CACHE_MIN		512
#define ZS_CACHE_MAX		2048

/* In-object header (non-huge): (handle << 1) | 1 when allocated, else a link. */
#define ZS_OBJ_ALLOCATED	1ull

/* zspage lock: reader count, plus this bit while compaction moves objects out. */
#define ZS_LOCK_WRITER		0x80000000u

struct zs_segment;
struct zs_reserve;

struct zspage {
	atomic_uint lock;		/* readers | ZS_LOCK_WRITER */
	uint32_t id;			/* index in the descriptor table */
	struct zspage *prev, *next;	/* fullness list; next: free list */
	char *base;			/* pages_per_zspage contiguous pages */
	struct zs_segment *seg;		/* the segment holding base (NULL: the
					 * pool's reserve holds it) */
	unsigned long huge_handle;	/* the object's handle (huge class) */
	uint16_t inuse;			/* allocated objects */
	uint16_t freeobj;		/* first free object, or ZS_OBJ_NONE */
	uint16_t watermark;		/* objects [0, watermark) were ever used */
	uint16_t slot;			/* slot in seg */
	uint8_t fullness;		/* group, 0..11 */
	uint8_t class_idx;		/* owning class index; 0xff when free */
	uint8_t shard;			/* owning class's shard */
	uint8_t pages;			/* pages at base */
} __attribute__((aligned(64)));

struct zs_class {
	/* Read-only after pool creation (read by the lock-free access path). */
	unsigned int index;		/* largest index of the merged range */
	unsigned int size;		/* object size, header included */
	unsigned int pages_per_zspage;
	unsigned int objs_per_zspage;
	unsigned int shard;
	bool huge;
	uint8_t group_of[ZS_MAX_OBJS + 1];	/* fullness group by inuse */

	/* Protected by lock. */
	atomic_uint lock __attribute__((aligned(64)));	/* see class_lock */
	unsigned int nonempty;		/* bit g: groups[g] is not empty */
	uint64_t hfree;			/* 1 + first free handle slot; 0 = none */
	uint64_t hnext, hend;		/* fresh handle slots [hnext, hend) */
	unsigned long zspages;
	unsigned long obj_used;
	struct zspage *groups[ZS_NR_FULLNESS_GROUPS];
	uint32_t group_count[ZS_NR_FULLNESS_GROUPS];
} __attribute__((aligned(64)));

/* Segments of one page count (1..ZS_CHAIN_SIZE pages per slot). */
struct zs_seglist {
	struct zs_segment *avail;	/* segments with a free slot */
	struct zs_segment *full;	/* segments without one */
	unsigned long nr;		/* segments mapped */
};

struct zs_pool {
	char name[32];
	/* Per shard, by size index; merged classes are aliases of larger ones. */
	struct zs_class *size_class[ZS_SHARDS][ZS_SIZE_CLASSES];
	unsigned int nr_shards;
	size_t huge_class_size;

	/* Handle table: ht_dir[slot >> CHUNK] -> chunk of atomic entries. */
	_Atomic uint64_t **ht_dir;
	size_t ht_dir_len;		/* entries of ht_dir */
	pthread_mutex_t ht_lock;	/* allocation of chunks */
	atomic_uint_fast64_t ht_next	/* fresh slots, handed out in batches */
		__attribute__((aligned(64)));

	/* zspage descriptors and memory, under mem_lock. */
	pthread_mutex_t mem_lock __attribute__((aligned(64)));
	struct zspage **zd_dir;
	size_t zd_dir_len;		/* entries of zd_dir */
	uint32_t zd_next;		/* descriptors ever created */
	struct zspage *zd_free;		/* reusable descriptors */
	struct zs_seglist segs[ZS_CHAIN_SIZE + 1];
	/* Released zspages, still mapped, by shard and page count: a zspage
	 * goes back to the shard whose thread last wrote it. Each shard's
	 * cache has its own lock (a leaf), so threads in different shards
	 * meet on mem_lock only to map or unmap memory. */
	struct {
		pthread_mutex_t lock;
		struct zspage *list[ZS_CHAIN_SIZE + 1];
		unsigned long pages;
	} cache[ZS_SHARDS] __attribute__((aligned(64)));

	/*
	 * Pages of the zspages owned by a shard's classes, changed under a
	 * class lock; one cache line per shard, so threads in different
	 * shards do not pass it back and forth (zs_get_total_pages sums).
	 */
	struct {
		atomic_ulong total_pages;
		atomic_ulong zspage_events;	/* attaches + detaches, for the validator */
	} shard_stat[ZS_SHARDS] __attribute__((aligned(64)));
	atomic_ulong pages_compacted __attribute__((aligned(64)));
	pthread_mutex_t compact_lock;	/* one compaction at a time */
	/* Memory taken at creation (zs_create_pool_reserve), under mem_lock;
	 * NULL: mapped on demand. */
	struct zs_reserve *reserve;
	/* The reserve had no zspage for an allocation, and no object has
	 * been freed since (zs_reserve_full); reserve_seq counts the frees,
	 * so that an allocation that fails while one happens clears the flag
	 * it sets (zs_room). */
	atomic_bool reserve_full __attribute__((aligned(64)));
	atomic_ulong reserve_seq;
};

/*
 * The class lock (slow paths in zsmalloc.c): 0 free, 1 held, 2 held with
 * sleepers. Taken with one compare-and-swap when free; a waiter spins
 * briefly (critical sections are tens of nanoseconds), then sleeps on a
 * futex, so a holder that lost its CPU does not make the others burn theirs.
 */
void zs_class_lock_slow(struct zs_class *class);
void zs_class_wake(struct zs_class *class);

/* Returns true when the lock was not free (another thread was there). */
static inline bool class_lock(struct zs_class *class)
{
	unsigned int free_ = 0;

	if (likely(atomic_compare_exchange_strong_explicit(&class->lock, &free_, 1,
							   memory_order_acquire,
							   memory_order_relaxed)))
		return false;
	zs_class_lock_slow(class);
	return true;
}

/* The lock if it is free now; false (and nothing held) if not. */
static inline bool class_trylock(struct zs_class *class)
{
	unsigned int free_ = 0;

	return atomic_compare_exchange_strong_explicit(&class->lock, &free_, 1,
						       memory_order_acquire,
						       memory_order_relaxed);
}

static inline void class_unlock(struct zs_class *class)
{
	if (unlikely(atomic_exchange_explicit(&class->lock, 0, memory_order_release) == 2))
		zs_class_wake(class);
}

/* Handle encoding. */
static inline unsigned int handle_class(unsigned long handle)
{
	return handle & ((1u << ZS_HANDLE_CLASS_BITS) - 1);
}

static inline unsigned int handle_shard(unsigned long handle)
{
	return (handle >> ZS_HANDLE_CLASS_BITS) & ((1u << ZS_HANDLE_SHARD_BITS) - 1);
}

static inline uint64_t handle_slot(unsigned long handle)
{
	return (handle >> (ZS_HANDLE_CLASS_BITS + ZS_HANDLE_SHARD_BITS)) - 1;
}

static inline unsigned long make_handle(uint64_t slot, const struct zs_class *class)
{
	return (unsigned long)((slot + 1) << (ZS_HANDLE_CLASS_BITS + ZS_HANDLE_SHARD_BITS)) |
	       (class->shard << ZS_HANDLE_CLASS_BITS) | class->index;
}

static inline struct zs_class *handle_class_of(struct zs_pool *pool, unsigned long handle)
{
	return pool->size_class[handle_shard(handle)][handle_class(handle)];
}

static inline _Atomic uint64_t *handle_entry(struct zs_pool *pool, uint64_t slot)
{
	_Atomic uint64_t *chunk = __atomic_load_n(&pool->ht_dir[slot >> ZS_HT_CHUNK_SHIFT],
						  __ATOMIC_ACQUIRE);
	return &chunk[slot & ((1u << ZS_HT_CHUNK_SHIFT) - 1)];
}

/* Location encoding. */
static inline uint64_t make_loc(const struct zspage *zspage, unsigned int idx)
{
	return (((uint64_t)zspage->id << ZS_LOC_IDX_BITS) | idx) << 1;
}

static inline unsigned int loc_idx(uint64_t loc)
{
	return (loc >> 1) & ((1u << ZS_LOC_IDX_BITS) - 1);
}

static inline struct zspage *zspage_by_id(struct zs_pool *pool, uint32_t id)
{
	struct zspage *chunk = __atomic_load_n(&pool->zd_dir[id >> ZS_ZD_CHUNK_SHIFT],
					       __ATOMIC_ACQUIRE);
	return &chunk[id & ((1u << ZS_ZD_CHUNK_SHIFT) - 1)];
}

static inline struct zspage *loc_zspage(struct zs_pool *pool, uint64_t loc)
{
	return zspage_by_id(pool, (uint32_t)(loc >> (ZS_LOC_IDX_BITS + 1)));
}

/* Start of object idx (its header, for non-huge classes). */
static inline char *obj_addr(const struct zs_class *class, const struct zspage *zspage,
			     unsigned int idx)
{
	return zspage->base + (size_t)idx * class->size;
}

/* Pages of the zspages attached to the pool's classes (at most 4 loads). */
static inline unsigned long zs_pool_pages(struct zs_pool *pool)
{
	unsigned long pages = 0;

	for (unsigned int sh = 0; sh < pool->nr_shards; sh++)
		pages += atomic_load_explicit(&pool->shard_stat[sh].total_pages,
					      memory_order_relaxed);
	return pages;
}

/*
 * Something was freed: a reserve that was full may have room again. The
 * count goes first, so that an allocation failing meanwhile either sees it
 * (and clears the flag it sets) or has set the flag before we look.
 */
static inline void zs_room(struct zs_pool *pool)
{
	if (!pool->reserve)
		return;
	atomic_fetch_add(&pool->reserve_seq, 1);
	if (unlikely(atomic_load(&pool->reserve_full)))
		atomic_store(&pool->reserve_full, false);
}

/* zsmalloc_mem.c: descriptors, memory, handle chunks (nothing above it). */
int zs_mem_init(struct zs_pool *pool);
/* Take the reserve now (see zs_create_pool_reserve): 0 or -errno. */
int zs_mem_reserve(struct zs_pool *pool, size_t bytes, uint64_t max_objects);
void zs_mem_destroy(struct zs_pool *pool);
/*
 * A descriptor with pages pages of memory for shard's classes (its base, seg,
 * slot, pages and shard set; the allocator sets the rest), or NULL: no
 * memory, or the reserve is used up (then zs_reserve_full says so).
 */
struct zspage *zs_zspage_create(struct zs_pool *pool, unsigned int pages,
				unsigned int shard);
/* Give a detached zspage's memory back (to the cache or the OS). */
void zs_zspage_release(struct zs_pool *pool, struct zspage *zspage);
/* Give every cached zspage's memory back to the OS. */
void zs_cache_flush(struct zs_pool *pool);
/* Make sure the handle-table chunk holding slot exists; 0 or -ENOMEM. */
int zs_ht_ensure(struct zs_pool *pool, uint64_t slot);

#endif /* UZRAM_ZSMALLOC_INTERNAL_H */
