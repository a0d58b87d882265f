/*
 * zram_drv.c - the zram device: slot locks, the write and read paths,
 * discard, initialisation and reset (the kernel's
 * drivers/block/zram/zram_drv.c; the design is in zram_drv.h).
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pp.h"
#include "zram_drv.h"

const char *const zram_default_comp = "lzo-rle";

/* ---- slot lock: a bit of the flags word, with a futex for sleepers ---- */

#define LOCK_BIT	(1u << ZRAM_ENTRY_LOCK)
#define WAIT_BIT	(1u << ZRAM_LOCK_WAITERS)
#define SPIN_TRIES	64

static void futex_wait(_Atomic uint32_t *addr, uint32_t val)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAIT_PRIVATE, val, NULL,
		NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *addr)
{
	syscall(SYS_futex, (uint32_t *)addr, FUTEX_WAKE_PRIVATE, INT_MAX, NULL,
		NULL, 0);
}

/*
 * Spin a little, then sleep. A thread that has slept takes the lock with the
 * waiters bit set (it cannot know whether others still sleep), so that its
 * unlock wakes them: the classic three-state futex mutex on two bits.
 */
void zram_slot_lock(struct zram *zram, uint32_t index)
{
	_Atomic uint32_t *f = &zram->table[index].flags;
	uint32_t extra = 0;

	for (int spin = 0;; spin++) {
		uint32_t old = atomic_load_explicit(f, memory_order_relaxed);

		if (!(old & LOCK_BIT)) {
			if (atomic_compare_exchange_weak_explicit(
				    f, &old, old | LOCK_BIT | extra,
				    memory_order_acquire, memory_order_relaxed))
				return;
			continue;
		}
		if (spin < SPIN_TRIES) {
			cpu_relax();
			continue;
		}
		if (!(old & WAIT_BIT) &&
		    !atomic_compare_exchange_weak_explicit(f, &old, old | WAIT_BIT,
							   memory_order_relaxed,
							   memory_order_relaxed))
			continue;
		futex_wait(f, old | WAIT_BIT);
		extra = WAIT_BIT;
	}
}

void zram_slot_unlock(struct zram *zram, uint32_t index)
{
	_Atomic uint32_t *f = &zram->table[index].flags;
	uint32_t old = atomic_fetch_and_explicit(f, ~(LOCK_BIT | WAIT_BIT),
						 memory_order_release);

	if (unlikely(old & WAIT_BIT))
		futex_wake_all(f);
}

uint32_t zram_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint32_t)ts.tv_sec;
}

/*
 * After a successful access: not idle, not selected, accessed at now (the
 * request's zram_now(), read once per request rather than once per page: a
 * request of 1 MiB takes a millisecond, ac_time counts seconds).
 */
static void zram_mark_accessed(struct zram *zram, uint32_t index, uint32_t now)
{
	zram_update_flags(zram, index,
			  (1u << ZRAM_IDLE) | (1u << ZRAM_PP_SLOT), 0);
	zram->table[index].ac_time = now;
}

/* ---- post-processing candidates ---- */

/* Slot index (locked) passes f? The flags cannot change under the lock. */
static bool pp_selects(struct zram *zram, uint32_t index,
		       const struct zram_pp_filter *f)
{
	uint32_t flags = atomic_load_explicit(&zram->table[index].flags,
					      memory_order_relaxed);

	return zram_slot_allocated(zram, index) && !(flags & f->skip) &&
	       (flags & f->need) == f->need &&
	       zram_get_priority(zram, index) < f->below_prio;
}

int zram_pp_scan(struct zram *zram, struct pp_ctl *ctl, uint64_t lo,
		 uint64_t hi, const struct zram_pp_filter *f)
{
	int ret = 0;

	for (uint64_t index = lo; index < hi && !ret; index++) {
		uint32_t i = (uint32_t)index;

		zram_slot_lock(zram, i);
		if (pp_selects(zram, i, f)) {
			ret = pp_add(ctl, i, zram_get_obj_size(zram, i));
			if (!ret)
				zram_set_flag(zram, i, ZRAM_PP_SLOT);
		}
		zram_slot_unlock(zram, i);
	}
	return ret;
}

void zram_pp_unmark(struct zram *zram, uint32_t index)
{
	zram_slot_lock(zram, index);
	zram_clear_flag(zram, index, ZRAM_PP_SLOT);
	zram_slot_unlock(zram, index);
}

void zram_pp_release(struct zram *zram, struct pp_ctl *ctl)
{
	uint32_t index;

	while (pp_next(ctl, &index))
		zram_pp_unmark(zram, index);
	pp_free(ctl);
}

/* ---- slot_free (the kernel's zram_free_page(), slot_free() in the newest
 * kernels) and slot_replace: every counter follows from here ---- */

/* The flags a slot's content owns: all but the lock and waiters bits. */
#define SLOT_CONTENT_FLAGS						\
	(ZRAM_SIZE_MASK | (1u << ZRAM_SAME) | (1u << ZRAM_WB) |		\
	 (1u << ZRAM_PP_SLOT) | (1u << ZRAM_HUGE) | (1u << ZRAM_IDLE) |	\
	 (1u << ZRAM_INCOMPRESSIBLE) |					\
	 (ZRAM_COMP_PRIORITY_MASK << ZRAM_COMP_PRIORITY_BIT1))

/*
 * Give back what a slot with flags f holds - its object, pattern or backing
 * block - and uncount it, but for pages_stored and compr_data_size: returns
 * the bytes compr_data_size loses, and in *held whether a page was stored.
 * The flags word and the handle are the caller's.
 */
static uint32_t slot_content_free(struct zram *zram, struct zram_slot *slot,
				  uint32_t f, bool *held)
{
	*held = true;
	if ((f & (1u << ZRAM_HUGE)) && !(f & (1u << ZRAM_WB)))
		atomic_fetch_sub(&zram->stats.huge_pages, 1);
	if (f & (1u << ZRAM_WB)) {
		zram_release_bdev_block(zram, slot->handle);
		return 0;
	}
	if (f & (1u << ZRAM_SAME)) {
		atomic_fetch_sub(&zram->stats.same_pages, 1);
		return 0;
	}
	*held = slot->handle != 0;
	if (!*held)
		return 0;
	zs_free(zram->mem_pool, slot->handle);
	return f & ZRAM_SIZE_MASK;
}

void zram_slot_free(struct zram *zram, uint32_t index)
{
	struct zram_slot *slot = &zram->table[index];
	uint32_t f = atomic_load_explicit(&slot->flags, memory_order_relaxed);
	bool held;
	uint32_t compr = slot_content_free(zram, slot, f, &held);

	slot->ac_time = 0;
	zram_update_flags(zram, index, SLOT_CONTENT_FLAGS, 0);
	if (compr)
		atomic_fetch_sub(&zram->stats.compr_data_size, compr);
	if (held)
		atomic_fetch_sub(&zram->stats.pages_stored, 1);
	slot->handle = 0;
}

/*
 * zram_slot_free, then the new content, in one update of the flags word and
 * of each counter: a rewrite - the steady state of swap - leaves
 * pages_stored alone and moves compr_data_size by the difference (four
 * atomic operations fewer than a free and a store).
 */
void zram_slot_replace(struct zram *zram, uint32_t index, unsigned long handle,
		       uint32_t size, uint32_t flags)
{
	struct zram_slot *slot = &zram->table[index];
	uint32_t f = atomic_load_explicit(&slot->flags, memory_order_relaxed);
	bool held;
	uint32_t old = slot_content_free(zram, slot, f, &held);
	uint32_t add = flags & (1u << ZRAM_SAME) ? 0 : size;

	slot->ac_time = 0;
	slot->handle = handle;
	zram_update_flags(zram, index, SLOT_CONTENT_FLAGS, size | flags);
	if (add != old)	/* modulo 2^64: a fall is an addition too */
		atomic_fetch_add(&zram->stats.compr_data_size, (uint64_t)add - old);
	if (flags & (1u << ZRAM_SAME)) {
		atomic_fetch_add(&zram->stats.same_pages, 1);
	} else if (flags & (1u << ZRAM_HUGE)) {
		atomic_fetch_add(&zram->stats.huge_pages, 1);
		atomic_fetch_add(&zram->stats.huge_pages_since, 1);
	}
	if (!held)
		atomic_fetch_add(&zram->stats.pages_stored, 1);
}

/* ---- same-filled pages (the kernel's page_same_filled()) ---- */

/* One repeated 8-byte word? First against last, then every word. */
static bool page_same_filled(const void *mem, unsigned long *element)
{
	const uint8_t *p = mem;
	const unsigned int last = UZ_PAGE_SIZE / 8 - 1;
	uint64_t val = uz_get_le64(p);

	if (val != uz_get_le64(p + last * 8))
		return false;
	for (unsigned int pos = 1; pos < last; pos += 7) {
		uint64_t diff = 0;
		unsigned int end = UZ_MIN(pos + 7, last);
		for (unsigned int k = pos; k < end; k++)
			diff |= uz_get_le64(p + k * 8) ^ val;
		if (diff)
			return false;
	}
	*element = (unsigned long)val;
	return true;
}

static void fill_page(void *mem, unsigned long value)
{
	uint64_t *p = mem;

	if (value == 0) {
		memset(mem, 0, UZ_PAGE_SIZE);
		return;
	}
	for (unsigned int i = 0; i < UZ_PAGE_SIZE / 8; i++)
		p[i] = value;
}

/* ---- mem_limit (the kernel's update_used_max(), limit_pages) ---- */

static bool zram_can_store_page(struct zram *zram)
{
	uint64_t alloced = zs_get_total_pages(zram->mem_pool);
	uint64_t old = atomic_load_explicit(&zram->stats.max_used_pages,
					    memory_order_relaxed);
	uint64_t limit;

	while (alloced > old &&
	       !atomic_compare_exchange_weak(&zram->stats.max_used_pages, &old,
					     alloced))
		;
	limit = atomic_load_explicit(&zram->limit_pages, memory_order_relaxed);
	return !limit || alloced <= limit;
}

/* ---- write path (the kernel's zram_write_page()) ---- */

/*
 * A written page's new content into the slot, accessed now. `locked`: the
 * caller already holds the slot lock (partial writes).
 */
static void slot_install(struct zram *zram, uint32_t index, bool locked,
			 unsigned long handle, uint32_t size, uint32_t flags,
			 uint32_t now)
{
	if (!locked)
		zram_slot_lock(zram, index);
	/* zram_mark_accessed without its flags: the replace cleared them. */
	zram_slot_replace(zram, index, handle, size, flags);
	zram->table[index].ac_time = now;
	if (!locked)
		zram_slot_unlock(zram, index);
}

static int write_same_filled_page(struct zram *zram, unsigned long fill,
				  uint32_t index, bool locked, uint32_t now)
{
	slot_install(zram, index, locked, fill, 0, 1u << ZRAM_SAME, now);
	return 0;
}

static int write_incompressible_page(struct zram *zram, const void *mem,
				     uint32_t index, bool locked, uint32_t now)
{
	unsigned long handle = zs_malloc_write(zram->mem_pool, mem, UZ_PAGE_SIZE);

	if (ZS_IS_ERR(handle))
		return ZS_ERR(handle);
	if (!zram_can_store_page(zram)) {
		zs_free(zram->mem_pool, handle);
		return -ENOMEM;
	}
	slot_install(zram, index, locked, handle, UZ_PAGE_SIZE, 1u << ZRAM_HUGE, now);
	return 0;
}

static int zram_write_page(struct zram *zram, const void *mem, uint32_t index,
			   bool locked, uint32_t now)
{
	struct zcomp *comp = zram->comps[ZRAM_PRIMARY_COMP];
	struct zcomp_strm *zstrm;
	unsigned long element, handle;
	unsigned int comp_len;
	int ret;

	if (page_same_filled(mem, &element))
		return write_same_filled_page(zram, element, index, locked, now);
	/* The reserve is used up (docs/swap.md): fail now, not after the
	 * compression, like the allocation that would fail after it. */
	if (unlikely(zs_reserve_full(zram->mem_pool)))
		return -ENOMEM;

	zstrm = zcomp_stream_get(comp);
	ret = zcomp_compress(comp, zstrm, mem, &comp_len);
	if (unlikely(ret)) {
		zcomp_stream_put(zstrm);
		return ret;
	}
	if (comp_len >= zram->huge_class_size) {
		zcomp_stream_put(zstrm);
		return write_incompressible_page(zram, mem, index, locked, now);
	}
	/* Filled before the mem_limit check (the kernel copies after it):
	 * one class lock instead of a lock and a pin; a refused page only
	 * costs a copy. */
	handle = zs_malloc_write(zram->mem_pool, zstrm->buffer, comp_len);
	zcomp_stream_put(zstrm);
	if (unlikely(ZS_IS_ERR(handle)))
		return ZS_ERR(handle);
	if (!zram_can_store_page(zram)) {
		zs_free(zram->mem_pool, handle);
		return -ENOMEM;
	}

	slot_install(zram, index, locked, handle, comp_len, 0, now);
	return 0;
}

/* ---- read path (the kernel's zram_read_page()) ---- */

static int read_compressed_page(struct zram *zram, uint32_t index, void *page)
{
	struct zram_slot *slot = &zram->table[index];
	unsigned int size = zram_get_obj_size(zram, index);
	unsigned int prio = zram_get_priority(zram, index);
	struct zcomp *comp = zram->comps[prio];
	struct zcomp_strm *zstrm;
	const void *src;
	int ret;

	if (unlikely(!comp))
		return -EINVAL;
	zstrm = zcomp_stream_get(comp);
	src = zs_obj_read_begin(zram->mem_pool, slot->handle, zstrm->local_copy);
	ret = zcomp_decompress(comp, zstrm, src, size, page);
	zs_obj_read_end(zram->mem_pool, slot->handle, src);
	zcomp_stream_put(zstrm);
	return ret;
}

static int read_incompressible_page(struct zram *zram, uint32_t index,
				    void *page)
{
	unsigned long handle = zram->table[index].handle;
	const void *src = zs_obj_read_begin(zram->mem_pool, handle, NULL);

	memcpy(page, src, UZ_PAGE_SIZE);
	zs_obj_read_end(zram->mem_pool, handle, src);
	return 0;
}

int zram_read_page_locked(struct zram *zram, uint32_t index, void *page)
{
	struct zram_slot *slot = &zram->table[index];

	if (zram_test_flag(zram, index, ZRAM_WB))
		return zram_read_from_bdev(zram, index, page);
	if (zram_test_flag(zram, index, ZRAM_SAME) || !slot->handle) {
		fill_page(page, slot->handle);
		return 0;
	}
	if (!zram_test_flag(zram, index, ZRAM_HUGE))
		return read_compressed_page(zram, index, page);
	return read_incompressible_page(zram, index, page);
}

static int zram_read_page(struct zram *zram, uint32_t index, void *page,
			  uint32_t now)
{
	int ret;

	zram_slot_lock(zram, index);
	ret = zram_read_page_locked(zram, index, page);
	if (ret == 0)
		zram_mark_accessed(zram, index, now);
	zram_slot_unlock(zram, index);
	return ret;
}

/* ---- partial pages: read-modify-write under the slot lock ---- */

static int zram_write_partial(struct zram *zram, uint32_t index,
			      unsigned int offset, const void *src,
			      unsigned int len, uint32_t now)
{
	uint8_t page[UZ_PAGE_SIZE] __attribute__((aligned(64)));
	int ret;

	zram_slot_lock(zram, index);
	ret = zram_read_page_locked(zram, index, page);
	if (ret == 0) {
		if (src)
			memcpy(page + offset, src, len);
		else
			memset(page + offset, 0, len);
		ret = zram_write_page(zram, page, index, true, now);
	}
	zram_slot_unlock(zram, index);
	return ret;
}

/* ---- the byte-addressed I/O API ---- */

static int check_range(struct zram *zram, uint64_t offset, uint64_t len)
{
	uint64_t size = atomic_load_explicit(&zram->disksize,
					     memory_order_acquire);

	if ((offset | len) & (UZ_SECTOR_SIZE - 1))
		return -EINVAL;
	if (offset > size || len > size - offset)
		return -EINVAL;
	return 0;
}

int zram_io_read(struct zram *zram, void *buf, uint64_t offset, size_t len)
{
	uint8_t page[UZ_PAGE_SIZE] __attribute__((aligned(64)));
	uint8_t *dst = buf;
	uint32_t now = zram_now();
	int ret = check_range(zram, offset, len);

	if (ret)
		return ret;
	atomic_fetch_add_explicit(&zram->stats.read_ios, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&zram->stats.read_sectors, len >> UZ_SECTOR_SHIFT,
				  memory_order_relaxed);
	while (len) {
		uint32_t index = (uint32_t)(offset >> UZ_PAGE_SHIFT);
		unsigned int off = (unsigned int)(offset & (UZ_PAGE_SIZE - 1));
		unsigned int n = (unsigned int)UZ_MIN((size_t)(UZ_PAGE_SIZE - off), len);

		if (n == UZ_PAGE_SIZE) {
			ret = zram_read_page(zram, index, dst, now);
		} else {
			ret = zram_read_page(zram, index, page, now);
			if (ret == 0)
				memcpy(dst, page + off, n);
		}
		if (unlikely(ret)) {
			atomic_fetch_add(&zram->stats.failed_reads, 1);
			return ret;
		}
		dst += n;
		offset += n;
		len -= n;
	}
	return 0;
}

bool zram_write_refused(struct zram *zram)
{
	struct zs_pool *pool = zram->mem_pool;

	if (!pool || !zs_reserve_full(pool))
		return false;
	atomic_fetch_add(&zram->stats.failed_writes, 1);
	return true;
}

int zram_io_write(struct zram *zram, const void *buf, uint64_t offset,
		  size_t len)
{
	const uint8_t *src = buf;
	uint32_t now = zram_now();
	int ret = check_range(zram, offset, len);

	if (ret)
		return ret;
	atomic_fetch_add_explicit(&zram->stats.write_ios, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&zram->stats.write_sectors, len >> UZ_SECTOR_SHIFT,
				  memory_order_relaxed);
	while (len) {
		uint32_t index = (uint32_t)(offset >> UZ_PAGE_SHIFT);
		unsigned int off = (unsigned int)(offset & (UZ_PAGE_SIZE - 1));
		unsigned int n = (unsigned int)UZ_MIN((size_t)(UZ_PAGE_SIZE - off), len);

		if (n == UZ_PAGE_SIZE)
			ret = zram_write_page(zram, src, index, false, now);
		else
			ret = zram_write_partial(zram, index, off, src, n, now);
		if (unlikely(ret)) {
			atomic_fetch_add(&zram->stats.failed_writes, 1);
			return ret;
		}
		src += n;
		offset += n;
		len -= n;
	}
	return 0;
}

/* Free whole pages [first, first + count) (the kernel's zram_bio_discard()). */
static void free_pages_range(struct zram *zram, uint64_t first, uint64_t count)
{
	for (uint64_t i = 0; i < count; i++) {
		uint32_t index = (uint32_t)(first + i);
		zram_slot_lock(zram, index);
		zram_slot_free(zram, index);
		zram_slot_unlock(zram, index);
		atomic_fetch_add(&zram->stats.notify_free, 1);
	}
}

/*
 * Discard as the kernel's zram_bio_discard: skip a partial head page, free
 * every whole page, ignore a partial tail.
 */
int zram_io_discard(struct zram *zram, uint64_t offset, uint64_t len)
{
	int ret = check_range(zram, offset, len);
	uint64_t first, end;

	if (ret)
		return ret;
	atomic_fetch_add_explicit(&zram->stats.discard_ios, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&zram->stats.discard_sectors,
				  len >> UZ_SECTOR_SHIFT, memory_order_relaxed);
	first = UZ_DIV_ROUND_UP(offset, UZ_PAGE_SIZE);
	end = (offset + len) >> UZ_PAGE_SHIFT;
	if (end > first)
		free_pages_range(zram, first, end - first);
	return 0;
}

/*
 * Write-zeroes: whole pages are freed as by discard (they then read as
 * zeros, as the kernel's); partial head and tail pages are zeroed by
 * read-modify-write, so the whole range reads as zeros. A read-modify-write
 * that fails counts in failed_writes, as a partial write's does.
 */
int zram_io_write_zeroes(struct zram *zram, uint64_t offset, uint64_t len)
{
	int ret = check_range(zram, offset, len);
	uint32_t now = zram_now();
	uint64_t first, end;

	if (ret || len == 0)
		return ret;
	first = UZ_DIV_ROUND_UP(offset, UZ_PAGE_SIZE);
	end = (offset + len) >> UZ_PAGE_SHIFT;
	if (end < first) {	/* inside one page */
		ret = zram_write_partial(zram, (uint32_t)(offset >> UZ_PAGE_SHIFT),
					 offset & (UZ_PAGE_SIZE - 1), NULL,
					 (unsigned int)len, now);
		if (ret)
			goto fail;
		return 0;
	}
	if (offset & (UZ_PAGE_SIZE - 1)) {
		unsigned int off = offset & (UZ_PAGE_SIZE - 1);
		ret = zram_write_partial(zram, (uint32_t)(offset >> UZ_PAGE_SHIFT),
					 off, NULL, UZ_PAGE_SIZE - off, now);
		if (ret)
			goto fail;
	}
	if ((offset + len) & (UZ_PAGE_SIZE - 1)) {
		ret = zram_write_partial(zram, (uint32_t)end, 0, NULL,
					 (offset + len) & (UZ_PAGE_SIZE - 1), now);
		if (ret)
			goto fail;
	}
	if (end > first)
		free_pages_range(zram, first, end - first);
	return 0;
fail:
	atomic_fetch_add(&zram->stats.failed_writes, 1);
	return ret;
}

int zram_io_page_state(struct zram *zram, uint64_t offset)
{
	uint32_t index;
	int state;

	if (offset >= atomic_load_explicit(&zram->disksize, memory_order_acquire))
		return -EINVAL;
	index = (uint32_t)(offset >> UZ_PAGE_SHIFT);
	zram_slot_lock(zram, index);
	if (!zram_slot_allocated(zram, index))
		state = UZRAM_PAGE_UNWRITTEN;
	else if (zram_test_flag(zram, index, ZRAM_SAME) &&
		 zram->table[index].handle == 0)
		state = UZRAM_PAGE_ZERO;
	else
		state = UZRAM_PAGE_DATA;
	zram_slot_unlock(zram, index);
	return state;
}

/* ---- lifetime, init and reset ---- */

void zram_comp_algorithm_set(struct zram *zram, unsigned int prio,
			     const char *alg)
{
	zram->comp_algs[prio] = alg;
}

int zram_select_priority(struct zram *zram, const char *algo, bool prio_given,
			 int prio, int lowest)
{
	if (prio_given && (prio < lowest || prio >= ZRAM_MAX_COMPS))
		return -EINVAL;
	if (algo && prio_given)
		return zram->comp_algs[prio] && !strcmp(zram->comp_algs[prio], algo) ?
			       prio : -EINVAL;
	if (algo) {
		for (prio = lowest; prio < ZRAM_MAX_COMPS; prio++)
			if (zram->comp_algs[prio] && !strcmp(zram->comp_algs[prio], algo))
				return prio;
		return -EINVAL;
	}
	return prio_given ? prio : lowest;
}

struct zram *zram_create(int id, struct path_policy *paths)
{
	struct zram *zram = calloc(1, sizeof(*zram));

	if (!zram)
		return NULL;
	zram->id = id;
	zram->paths = paths;
	snprintf(zram->name, sizeof(zram->name), "zram%d", id);
	pthread_rwlock_init(&zram->dev_lock, NULL);
	pthread_mutex_init(&zram->open_lock, NULL);
	pthread_mutex_init(&zram->bitmap_lock, NULL);
	pthread_mutex_init(&zram->wb_limit_lock, NULL);
	for (int i = 0; i < ZRAM_MAX_COMPS; i++)
		zcomp_params_init(&zram->params[i]);
	zram->comp_algs[ZRAM_PRIMARY_COMP] = zram_default_comp;
	zram->backing_fd = -1;
	zram->wb_batch_size = 32;
	atomic_init(&zram->refs, 1);
	return zram;
}

static void zram_destroy_comps(struct zram *zram)
{
	for (int prio = 0; prio < ZRAM_MAX_COMPS; prio++) {
		zcomp_destroy(zram->comps[prio]);
		zram->comps[prio] = NULL;
		zcomp_params_release(&zram->params[prio]);
		zram->comp_algs[prio] = NULL;
	}
}

static void zram_meta_free(struct zram *zram)
{
	if (zram->table) {
		/* Backing blocks are released with the backing store; the
		 * pool goes as a whole. */
		munmap(zram->table, zram->table_bytes);
		zram->table = NULL;
	}
	if (zram->mem_pool) {
		zs_destroy_pool(zram->mem_pool);
		zram->mem_pool = NULL;
	}
	zram->nr_pages = 0;
}

static unsigned int default_streams(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned int)n : 1;
}

/*
 * The pool, on demand or with its memory taken now (the reserve, for a
 * device that backs swap: the kernel has no counterpart, its zram
 * allocates with GFP_NOIO and may reclaim; docs/swap.md says
 * why a process cannot). With a reserve the slot table is made resident and
 * locked too, so that a write touches no page that is not there.
 */
static int create_pool(struct zram *zram, uint64_t disksize)
{
	uint64_t reserve = __atomic_load_n(&zram->reserve, __ATOMIC_RELAXED);
	int ret;

	if (reserve == UZRAM_RESERVE_MEM_LIMIT)
		reserve = atomic_load(&zram->limit_pages) << UZ_PAGE_SHIFT;
	if (!reserve) {
		zram->mem_pool = zs_create_pool(zram->name);
		return zram->mem_pool ? 0 : -ENOMEM;
	}
	if (mlock(zram->table, zram->table_bytes))
		return -errno;
	zram->mem_pool = zs_create_pool_reserve(zram->name, UZ_MIN(reserve, disksize),
						zram->nr_pages, &ret);
	return ret;
}

/* disksize store (the kernel's disksize_store()), under dev_lock (write). */
int zram_init_device(struct zram *zram, uint64_t disksize)
{
	int ret = zram_setup_device(zram, disksize);

	if (!ret)
		atomic_store_explicit(&zram->disksize, disksize, memory_order_release);
	return ret;
}

int zram_setup_device(struct zram *zram, uint64_t disksize)
{
	uint64_t nr_pages = disksize >> UZ_PAGE_SHIFT;
	int ret;

	if (nr_pages > UINT32_MAX)
		return -EINVAL;	/* slot indexes are 32-bit */
	zram->table_bytes = UZ_PAGE_ALIGN(nr_pages * sizeof(struct zram_slot));
	zram->table = mmap(NULL, zram->table_bytes, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (zram->table == MAP_FAILED) {
		zram->table = NULL;
		return -ENOMEM;
	}
	zram->nr_pages = nr_pages;
	ret = create_pool(zram, disksize);
	if (ret) {
		zram_meta_free(zram);
		return ret;
	}
	zram->huge_class_size = zs_huge_class_size(zram->mem_pool);
	if (!zram->nr_streams)
		zram->nr_streams = default_streams();
	for (int prio = 0; prio < ZRAM_MAX_COMPS; prio++) {
		if (!zram->comp_algs[prio])
			continue;
		ret = zcomp_create(&zram->comps[prio], zram->comp_algs[prio],
				   &zram->params[prio], zram->nr_streams);
		if (ret) {
			/*
			 * The kernel's disksize_store() leaves no primary
			 * algorithm behind here; restore the default instead.
			 */
			zram_destroy_comps(zram);
			zram->comp_algs[ZRAM_PRIMARY_COMP] = zram_default_comp;
			zram_meta_free(zram);
			return ret;
		}
	}
	return 0;
}

/* reset (the kernel's zram_reset_device()), under dev_lock (write), no
 * openers. */
void zram_reset_device(struct zram *zram)
{
	atomic_store(&zram->limit_pages, 0);
	atomic_store_explicit(&zram->disksize, 0, memory_order_release);
	zram_meta_free(zram);
	zram_destroy_comps(zram);
	memset(&zram->stats, 0, sizeof(zram->stats));
	zram_reset_bdev(zram);
	zram->comp_algs[ZRAM_PRIMARY_COMP] = zram_default_comp;
}

void zram_destroy(struct zram *zram)
{
	if (!zram)
		return;
	zram_reset_device(zram);
	zram_destroy_comps(zram);
	pthread_rwlock_destroy(&zram->dev_lock);
	pthread_mutex_destroy(&zram->open_lock);
	pthread_mutex_destroy(&zram->bitmap_lock);
	pthread_mutex_destroy(&zram->wb_limit_lock);
	free(zram);
}
