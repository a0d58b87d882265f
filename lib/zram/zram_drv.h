/*
 * zram_drv.h - the device: its slot table, flags, statistics and locks
 * (the kernel's drivers/block/zram/zram_drv.h; docs/internals.md §4).
 *
 * Layout. One 16-byte slot per 4 KiB page of the disk:
 *
 *	handle (8 bytes)  zsmalloc handle | same-filled pattern | backing block
 *	flags  (4 bytes)  bits 0-12 object size, 13.. the ZRAM_* flags below
 *	ac_time (4 bytes) last access, CLOCK_BOOTTIME seconds
 *
 * The table is an anonymous mapping: pages of it that were never touched
 * cost no memory (the kernel's vzalloc does commit them).
 *
 * Locking. dev_lock (rwlock) guards configuration, as the kernel's: written
 * by disksize, reset, the algorithm and backing-store attributes, writeback
 * and recompress; read by the stat shows, compact, idle, mem_used_max. The
 * I/O path takes no device lock: I/O needs an open handle, and reset and
 * removal refuse a device that is open. Each slot has its own lock, a bit in
 * its flags word (ZRAM_ENTRY_LOCK) with a waiters bit and a futex, so the
 * table costs nothing extra; a holder may sleep. Compression and allocation
 * run outside the slot lock (last writer wins), except for a partial-page
 * write, which holds it across its read-modify-write so that writers of
 * different sectors of one page never lose each other's data.
 */
#ifndef UZRAM_ZRAM_DRV_H
#define UZRAM_ZRAM_DRV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/common.h"
#include "util/path_policy.h"
#include "uzram.h"
#include "zcomp/zcomp.h"
#include "zsmalloc/zsmalloc.h"

#define ZRAM_FLAG_SHIFT		(UZ_PAGE_SHIFT + 1)	/* 13: size field width */
#define ZRAM_SIZE_MASK		((1u << ZRAM_FLAG_SHIFT) - 1)

enum zram_pageflags {
	ZRAM_SAME = ZRAM_FLAG_SHIFT,	/* 13: one repeated word, kept in handle */
	ZRAM_ENTRY_LOCK,		/* 14: the slot lock */
	ZRAM_WB,			/* 15: on the backing store, handle = block */
	ZRAM_PP_SLOT,			/* 16: selected for writeback/recompress */
	ZRAM_HUGE,			/* 17: stored uncompressed */
	ZRAM_IDLE,			/* 18: marked idle */
	ZRAM_INCOMPRESSIBLE,		/* 19: recompression could not shrink it */
	ZRAM_COMP_PRIORITY_BIT1,	/* 20: algorithm priority, 2 bits */
	ZRAM_COMP_PRIORITY_BIT2,	/* 21 */
	ZRAM_LOCK_WAITERS,		/* 22: uzram's: someone sleeps on the lock */
	__NR_ZRAM_PAGEFLAGS,
};

#define ZRAM_COMP_PRIORITY_MASK	0x3u
#define ZRAM_PRIMARY_COMP	0
#define ZRAM_SECONDARY_COMP	1
#define ZRAM_MAX_COMPS		UZRAM_MAX_COMPS
#define ZRAM_MAX_ALGO_NAME_SZ	128

struct zram_slot {
	unsigned long handle;
	_Atomic uint32_t flags;
	uint32_t ac_time;
};
_Static_assert(sizeof(struct zram_slot) == 16, "a slot is 16 bytes");
_Static_assert(__NR_ZRAM_PAGEFLAGS <= 32, "flags fit in 32 bits");

/*
 * The counters of mm_stat, io_stat, debug_stat, bd_stat and stat: one for
 * each C() entry of UZRAM_STATS (include/uzram.h), by its counter name.
 * Relaxed atomics, each a count on its own; reset zeroes them all.
 */
#define ZRAM_STATS_COUNTER(field, counter, unit)	_Atomic uint64_t counter;
#define ZRAM_STATS_VALUE(field)
struct zram_stats {
	UZRAM_STATS(ZRAM_STATS_COUNTER, ZRAM_STATS_VALUE)
};
#undef ZRAM_STATS_COUNTER
#undef ZRAM_STATS_VALUE

struct zram {
	struct zram_slot *table;
	size_t table_bytes;
	struct zs_pool *mem_pool;
	struct zcomp *comps[ZRAM_MAX_COMPS];
	struct zcomp_params params[ZRAM_MAX_COMPS];
	const char *comp_algs[ZRAM_MAX_COMPS];	/* static backend names */
	pthread_rwlock_t dev_lock;
	_Atomic uint64_t limit_pages;		/* mem_limit, pages; 0 = none */
	struct zram_stats stats;
	_Atomic uint64_t disksize;		/* bytes; 0 = uninitialised */
	uint64_t nr_pages;
	size_t huge_class_size;			/* its pool's; set at init */
	unsigned int nr_streams;
	int id;
	char name[16];				/* "zram0" */

	/* Pool memory taken at init (uzram_set_reserve): bytes, 0 = on
	 * demand, UZRAM_RESERVE_MEM_LIMIT = the mem_limit then set. */
	uint64_t reserve;

	/* Openers and claim (reset/remove in progress), as the block layer.
	 * releasable: openers whose handles an observer closes on request
	 * (uzram_open_releasable). */
	pthread_mutex_t open_lock;
	unsigned int openers;
	unsigned int releasable;
	bool claim;
	atomic_int refs;			/* registry references */
	struct path_policy *paths;		/* the registry's, for attribute paths */

	/* Writeback (backing store). */
	int backing_fd;				/* -1: none */
	char *backing_path;
	unsigned long *bitmap;			/* one bit per backing block */
	uint64_t bd_nr_pages;
	size_t bd_hint;				/* no free block in words below */
	pthread_mutex_t bitmap_lock;
	bool wb_limit_enable;
	uint64_t bd_wb_limit;			/* 4 KiB units */
	unsigned int wb_batch_size;
	bool compressed_wb;
	pthread_mutex_t wb_limit_lock;
};

/* ---- slot access (zram_drv.c) ---- */

void zram_slot_lock(struct zram *zram, uint32_t index);
void zram_slot_unlock(struct zram *zram, uint32_t index);

static inline bool zram_test_flag(struct zram *zram, uint32_t index,
				  enum zram_pageflags flag)
{
	return atomic_load_explicit(&zram->table[index].flags,
				    memory_order_relaxed) & (1u << flag);
}

static inline void zram_set_flag(struct zram *zram, uint32_t index,
				 enum zram_pageflags flag)
{
	atomic_fetch_or_explicit(&zram->table[index].flags, 1u << flag,
				 memory_order_relaxed);
}

static inline void zram_clear_flag(struct zram *zram, uint32_t index,
				   enum zram_pageflags flag)
{
	atomic_fetch_and_explicit(&zram->table[index].flags, ~(1u << flag),
				  memory_order_relaxed);
}

static inline unsigned int zram_get_obj_size(struct zram *zram, uint32_t index)
{
	return atomic_load_explicit(&zram->table[index].flags,
				    memory_order_relaxed) & ZRAM_SIZE_MASK;
}

/* Replace bits of the flags word under the slot lock (waiters may set theirs). */
static inline void zram_update_flags(struct zram *zram, uint32_t index,
				     uint32_t clear, uint32_t set)
{
	_Atomic uint32_t *f = &zram->table[index].flags;
	uint32_t old = atomic_load_explicit(f, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(f, &old, (old & ~clear) | set,
						      memory_order_relaxed,
						      memory_order_relaxed))
		;
}

static inline void zram_set_obj_size(struct zram *zram, uint32_t index,
				     unsigned int size)
{
	zram_update_flags(zram, index, ZRAM_SIZE_MASK, size);
}

static inline unsigned int zram_get_priority(struct zram *zram, uint32_t index)
{
	return (atomic_load_explicit(&zram->table[index].flags,
				     memory_order_relaxed) >>
		ZRAM_COMP_PRIORITY_BIT1) & ZRAM_COMP_PRIORITY_MASK;
}

static inline bool zram_slot_allocated(struct zram *zram, uint32_t index)
{
	uint32_t f = atomic_load_explicit(&zram->table[index].flags,
					  memory_order_relaxed);
	return (f & ZRAM_SIZE_MASK) || (f & (1u << ZRAM_SAME)) ||
	       (f & (1u << ZRAM_WB));
}

static inline bool init_done(struct zram *zram)
{
	return atomic_load_explicit(&zram->disksize, memory_order_acquire) != 0;
}

/* Seconds of CLOCK_BOOTTIME, the unit of ac_time. */
uint32_t zram_now(void);

/* ---- post-processing candidates (pp.h) ---- */

struct pp_ctl;

/*
 * What writeback and recompress select: allocated slots with every flag of
 * `need`, none of `skip`, and an algorithm priority below `below_prio`
 * (ZRAM_MAX_COMPS: any).
 */
struct zram_pp_filter {
	uint32_t need;			/* 1u << ZRAM_IDLE ... */
	uint32_t skip;
	unsigned int below_prio;
};

/*
 * Queue the slots of [lo, hi) that pass f into ctl by object size, each
 * marked ZRAM_PP_SLOT under its slot lock (the kernel's
 * scan_slots_for_writeback() and scan_slots_for_recompress()). 0, or
 * -ENOMEM: the scan stops there, the slots queued so far stay queued.
 */
int zram_pp_scan(struct zram *zram, struct pp_ctl *ctl, uint64_t lo,
		 uint64_t hi, const struct zram_pp_filter *f);
/* Clear slot index's ZRAM_PP_SLOT, under its lock: no longer a candidate. */
void zram_pp_unmark(struct zram *zram, uint32_t index);
/* Clear ZRAM_PP_SLOT of every candidate left in ctl, and free ctl's lists. */
void zram_pp_release(struct zram *zram, struct pp_ctl *ctl);

/* ---- the device (zram_drv.c) ---- */

struct zram *zram_create(int id, struct path_policy *paths);
void zram_destroy(struct zram *zram);
/* Free what slot index (locked) holds and uncount it: it reads as zeros. */
void zram_slot_free(struct zram *zram, uint32_t index);

/*
 * Give slot index (locked) a new object: free what it held, then set its
 * handle (or fill pattern), size and flags (ZRAM_SAME, ZRAM_HUGE, the
 * priority bits) and count it - the one place where a slot gains content,
 * as zram_slot_free is where it loses it. ac_time is left 0, as after a
 * free; the flags word changes once.
 */
void zram_slot_replace(struct zram *zram, uint32_t index, unsigned long handle,
		       uint32_t size, uint32_t flags);

/* Read slot index into page (PAGE_SIZE bytes); slot lock held by caller. */
int zram_read_page_locked(struct zram *zram, uint32_t index, void *page);
int zram_init_device(struct zram *zram, uint64_t disksize);
/* The same without publishing disksize: the device stays uninitialised to
 * everyone else (a restore fills it first: image.c). */
int zram_setup_device(struct zram *zram, uint64_t disksize);
void zram_reset_device(struct zram *zram);
void zram_comp_algorithm_set(struct zram *zram, unsigned int prio,
			     const char *alg);
extern const char *const zram_default_comp;
/*
 * The priority an attribute names with algo= and/or priority= (the kernel's
 * algorithm_params_store() and recompress_store()):
 * both must agree; algo alone is looked up from lowest up; neither means
 * lowest. Returns the priority or -EINVAL. Call under dev_lock.
 */
int zram_select_priority(struct zram *zram, const char *algo, bool prio_given,
			 int prio, int lowest);

/* Byte-addressed I/O (the public uzram_read ... call these). */
int zram_io_read(struct zram *zram, void *buf, uint64_t offset, size_t len);
/* The reserve is full: count a failed write and say so (uzram_write_refused). */
bool zram_write_refused(struct zram *zram);
int zram_io_write(struct zram *zram, const void *buf, uint64_t offset,
		  size_t len);
int zram_io_discard(struct zram *zram, uint64_t offset, uint64_t len);
int zram_io_write_zeroes(struct zram *zram, uint64_t offset, uint64_t len);
int zram_io_page_state(struct zram *zram, uint64_t offset);

/* ---- attributes (zram_attr.c) ---- */

/* The attribute table, in the kernel's order (uzram_attr_at ... show it). */
size_t zram_attr_count(void);
const struct uzram_attr_info *zram_attr_info(size_t i);
const struct uzram_attr_info *zram_attr_info_find(const char *name);

long zram_attr_show(struct zram *zram, const char *name, char *buf,
		    size_t size);
int zram_attr_store(struct zram *zram, const char *name, const char *buf,
		    size_t len);
long zram_block_state_show(struct zram *zram, uint64_t *pos, char *buf,
			   size_t size);
void zram_fill_stats(struct zram *zram, struct uzram_stats *st);

/* ---- writeback (writeback.c) ---- */

int zram_read_from_bdev(struct zram *zram, uint32_t index, void *page);
/* Backing block blk into buf (a page, aligned for O_DIRECT), as it lies
 * there: 0 or -EIO. Counted in bd_reads, as every backing read. */
int zram_bdev_read_block(struct zram *zram, unsigned long blk, void *buf);
void zram_release_bdev_block(struct zram *zram, unsigned long blk);
void zram_reset_bdev(struct zram *zram);
long zram_backing_dev_show(struct zram *zram, char *buf, size_t size);
int zram_backing_dev_store(struct zram *zram, char *buf, size_t len);
int zram_writeback_store(struct zram *zram, char *buf, size_t len);
/* Tests only: make the next submit_failures io_uring submits and the next
 * wait_failures completion waits of writeback fail with -EIO (process-wide). */
void zram_wb_inject_faults(int submit_failures, int wait_failures);
long zram_writeback_limit_show(struct zram *zram, char *buf, size_t size);
int zram_writeback_limit_store(struct zram *zram, char *buf, size_t len);
long zram_writeback_limit_enable_show(struct zram *zram, char *buf, size_t size);
int zram_writeback_limit_enable_store(struct zram *zram, char *buf, size_t len);
long zram_writeback_batch_size_show(struct zram *zram, char *buf, size_t size);
int zram_writeback_batch_size_store(struct zram *zram, char *buf, size_t len);
long zram_compressed_writeback_show(struct zram *zram, char *buf, size_t size);
int zram_compressed_writeback_store(struct zram *zram, char *buf, size_t len);

/* ---- recompression (recompress.c) ---- */

int zram_recompress_store(struct zram *zram, char *buf, size_t len);

/* ---- images (image.c, docs/image.md) ---- */

/* Write the device's image to fd: 0 or -errno (-EINVAL: not initialised;
 * -EIO: a written-back page could not be read; write's errors). */
int zram_image_save(struct zram *zram, int fd);
/*
 * Restore the device from the image read from fd. The caller has claimed
 * the device (no openers). 0, or -errno with the device reset: -EBUSY
 * (initialised), -EINVAL (not an image, truncated, malformed), -ENOTSUP
 * (another version), -EBADMSG (a checksum), -ENOMEM, read's errors.
 */
int zram_image_restore(struct zram *zram, int fd);

#endif /* UZRAM_ZRAM_DRV_H */
