/*
 * zsmalloc.h - the compacting object allocator behind every uzram device
 * (the kernel's mm/zsmalloc.c model; docs/internals.md §3).
 *
 * Objects of 1..4096 bytes live in size classes (32..4096 in 16-byte steps,
 * merged where their geometry is identical). A handle is an indirection: it
 * stays valid while compaction moves the object. Memory is taken from the OS
 * in whole zspages and given back when a zspage empties.
 *
 * Thread safety: every function may be called from any thread at any time,
 * compaction included; objects of one handle must not be freed while being
 * read or written (the caller - zram's slot lock - guarantees that).
 */
#ifndef UZRAM_ZSMALLOC_H
#define UZRAM_ZSMALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zs_pool;

/* zs_malloc's errors are encoded in the handle, as the kernel's IS_ERR_VALUE. */
#define ZS_MAX_ERRNO		4095
#define ZS_IS_ERR(h)		((unsigned long)(h) >= (unsigned long)-ZS_MAX_ERRNO)
#define ZS_ERR(h)		((int)(long)(h))	/* -errno */

#define ZS_NR_FULLNESS_GROUPS	12	/* 0 (empty), 10..90, 99, 100 (full) */

struct zs_pool_stats {
	unsigned long pages_compacted;	/* pages freed by compaction, cumulative */
};

/* One row of the kernel's debugfs zsmalloc/<pool>/classes file. */
struct zs_class_stat {
	unsigned int index;		/* class index, 0..254 */
	unsigned int size;		/* object size of the class */
	unsigned long zspages[ZS_NR_FULLNESS_GROUPS - 1];	/* 10%..99%, 100% */
	unsigned long obj_allocated;	/* objects in this class's zspages */
	unsigned long obj_used;		/* live objects */
	unsigned long pages_used;
	unsigned int pages_per_zspage;
	unsigned int objs_per_zspage;
	unsigned long freeable;		/* pages compaction could free */
};

struct zs_pool *zs_create_pool(const char *name);
/*
 * A pool whose memory is taken now, for a device that backs swap: bytes
 * (rounded up to 512 KiB) mapped, written and locked (mlock), with the
 * zspage descriptors for all of it and handle-table entries for
 * max_objects objects and the classes' batches. Allocations never map memory or fault a page in
 * later; one that does not fit in the reserve fails with -ENOMEM, as the
 * kernel's zs_malloc does when no page can be had. (Handle-table entries
 * past the preallocated ones - a pool whose objects moved between many
 * classes - are still allocated on demand, 8 KiB at a time, up to 64 times
 * the preallocated number; past that allocations fail with -ENOMEM.)
 * Returns NULL with *err = -errno: -ENOMEM (also mlock's over
 * RLIMIT_MEMLOCK), or mlock's -EPERM / -EAGAIN.
 */
struct zs_pool *zs_create_pool_reserve(const char *name, size_t bytes,
				       uint64_t max_objects, int *err);
/* Pages taken by the reserve (0 for an on-demand pool). */
unsigned long zs_reserve_pages(struct zs_pool *pool);
/*
 * The reserve had no memory for a new zspage, and no object has been freed
 * since: an allocation will fail unless its class has room in a zspage it
 * has. zram refuses a write at once then, before compressing: under memory
 * pressure the kernel retries failed swap writes for as long as it cannot
 * decide to kill a task, and each retry should cost it as little as can be.
 */
bool zs_reserve_full(struct zs_pool *pool);
void zs_destroy_pool(struct zs_pool *pool);

/*
 * Allocate an object of size bytes. Returns a handle (never 0), or an error
 * value (ZS_IS_ERR): -EINVAL for size 0, -ENOSPC for size > 4096, -ENOMEM.
 */
unsigned long zs_malloc(struct zs_pool *pool, size_t size);
/* zs_malloc, then the object filled with src's size bytes: one lock, no pin. */
unsigned long zs_malloc_write(struct zs_pool *pool, const void *src, size_t size);
void zs_free(struct zs_pool *pool, unsigned long handle);

/*
 * Read access: returns a pointer to the object's bytes, valid until
 * zs_obj_read_end. The object does not move meanwhile. local_copy (4096
 * bytes) may be used when the object is not contiguous.
 */
const void *zs_obj_read_begin(struct zs_pool *pool, unsigned long handle,
			      void *local_copy);
void zs_obj_read_end(struct zs_pool *pool, unsigned long handle,
		     const void *mem);
/* Copy len bytes (at most the allocated size) into the object. */
void zs_obj_write(struct zs_pool *pool, unsigned long handle, const void *src,
		  size_t len);

/* Pages of memory the pool holds (zspage pages), cheap to call. */
unsigned long zs_get_total_pages(struct zs_pool *pool);
/* Move objects to free zspages; returns the pages freed by this call. */
unsigned long zs_compact(struct zs_pool *pool);
void zs_pool_stats(struct zs_pool *pool, struct zs_pool_stats *stats);

/* Compressed sizes >= this are "huge": zram stores them raw (3625). */
size_t zs_huge_class_size(struct zs_pool *pool);
/* Class index of an object size, without the handle header (recompression). */
unsigned int zs_lookup_class_index(struct zs_pool *pool, size_t size);

/* Per-class statistics; returns the rows written (non-merged classes). */
size_t zs_class_stats(struct zs_pool *pool, struct zs_class_stat *rows,
		      size_t max_rows);
/* The debugfs "classes" table as text; returns its length or -errno. */
long zs_format_classes(struct zs_pool *pool, char *buf, size_t size);
/* Walk every zspage and check its invariants; 0 or -EUCLEAN (tests). */
int zs_validate(struct zs_pool *pool);

#endif /* UZRAM_ZSMALLOC_H */
