/*
 * zsmalloc_stat.c - zsmalloc's per-class statistics (the kernel's debugfs
 * zsmalloc/<pool>/classes table) and the validator the tests run.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zsmalloc_internal.h"

/* Add one shard's class to a row (the row of a class sums its shards). */
static void class_stat_add(struct zs_class *class, struct zs_class_stat *row)
{
	unsigned long allocated, used;

	row->index = class->index;
	row->size = class->size;
	row->pages_per_zspage = class->pages_per_zspage;
	row->objs_per_zspage = class->objs_per_zspage;

	class_lock(class);
	for (unsigned int g = 1; g < ZS_NR_FULLNESS_GROUPS; g++)
		row->zspages[g - 1] += class->group_count[g];
	allocated = class->zspages * class->objs_per_zspage;
	used = class->obj_used;
	row->pages_used += class->zspages * class->pages_per_zspage;
	class_unlock(class);

	row->obj_allocated += allocated;
	row->obj_used += used;
	/* Compaction works within a shard: freeable is counted per shard. */
	row->freeable += (allocated - used) / class->objs_per_zspage *
			 class->pages_per_zspage;
}

size_t zs_class_stats(struct zs_pool *pool, struct zs_class_stat *rows, size_t max_rows)
{
	size_t n = 0;

	for (unsigned int i = 0; i < ZS_SIZE_CLASSES && n < max_rows; i++) {
		if (pool->size_class[0][i]->index != i)
			continue;
		memset(&rows[n], 0, sizeof(rows[n]));
		for (unsigned int sh = 0; sh < pool->nr_shards; sh++)
			class_stat_add(pool->size_class[sh][i], &rows[n]);
		n++;
	}
	return n;
}

/* Columns: class, size, 11 fullness groups, then the four counters. */
#define HDR_FMT	"%5s %5s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s " \
		"%13s %10s %10s %16s %8s\n"
#define ROW_FMT	"%5u %5u %8lu %8lu %8lu %8lu %8lu %8lu %8lu %8lu %8lu %8lu %8lu " \
		"%13lu %10lu %10lu %16u %8lu\n"
#define TOT_FMT	"%5s %5s %8lu %8lu %8lu %8lu %8lu %8lu %8lu %8lu %8lu %8lu %8lu " \
		"%13lu %10lu %10lu %16s %8lu\n"

struct out {
	char *buf;
	size_t size, len;
};

static void out_printf(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void out_printf(struct out *o, const char *fmt, ...)
{
	size_t room = o->len < o->size ? o->size - o->len : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

long zs_format_classes(struct zs_pool *pool, char *buf, size_t size)
{
	struct zs_class_stat *rows = malloc(ZS_SIZE_CLASSES * sizeof(*rows)), total;
	struct out o = { buf, size, 0 };
	size_t n;

	if (!rows)
		return -ENOMEM;
	n = zs_class_stats(pool, rows, ZS_SIZE_CLASSES);
	memset(&total, 0, sizeof(total));
	out_printf(&o, HDR_FMT, "class", "size", "10%", "20%", "30%", "40%", "50%",
		   "60%", "70%", "80%", "90%", "99%", "100%", "obj_allocated",
		   "obj_used", "pages_used", "pages_per_zspage", "freeable");
	for (size_t i = 0; i < n; i++) {
		const struct zs_class_stat *r = &rows[i];
		const unsigned long *z = r->zspages;

		out_printf(&o, ROW_FMT, r->index, r->size, z[0], z[1], z[2], z[3], z[4],
			   z[5], z[6], z[7], z[8], z[9], z[10], r->obj_allocated,
			   r->obj_used, r->pages_used, r->pages_per_zspage, r->freeable);
		for (int g = 0; g < ZS_NR_FULLNESS_GROUPS - 1; g++)
			total.zspages[g] += z[g];
		total.obj_allocated += r->obj_allocated;
		total.obj_used += r->obj_used;
		total.pages_used += r->pages_used;
		total.freeable += r->freeable;
	}
	const unsigned long *z = total.zspages;
	out_printf(&o, TOT_FMT, "Total", "", z[0], z[1], z[2], z[3], z[4], z[5], z[6],
		   z[7], z[8], z[9], z[10], total.obj_allocated, total.obj_used,
		   total.pages_used, "", total.freeable);
	free(rows);
	if (o.len >= size)
		return -ENOSPC;
	return (long)o.len;
}

/* ---- validator ---- */

#define BAD()	return -EUCLEAN

/* The class a handle names, or NULL if it names none. */
static struct zs_class *handle_class_checked(struct zs_pool *pool, unsigned long handle)
{
	if (handle_class(handle) >= ZS_SIZE_CLASSES || handle_shard(handle) >= pool->nr_shards)
		return NULL;
	return handle_class_of(pool, handle);
}

/* One zspage of class: lists, counters, free list and every object's handle. */
static int check_zspage(struct zs_pool *pool, struct zs_class *class,
			struct zspage *zs, unsigned int g)
{
	unsigned int objs = class->objs_per_zspage, nfree = 0;
	uint64_t seen[ZS_MAX_OBJS / 64] = { 0 };

	if (zs->class_idx != class->index || zs->shard != class->shard ||
	    zs->fullness != g || !zs->base || (!zs->seg && !pool->reserve))
		BAD();
	if (zs->inuse > zs->watermark || zs->watermark > objs)
		BAD();
	if (class->group_of[zs->inuse] != g || g == ZS_INUSE_RATIO_0)
		BAD();
	if (zs->next && zs->next->prev != zs)
		BAD();
	if (zspage_by_id(pool, zs->id) != zs)
		BAD();

	if (class->huge) {
		unsigned long h = zs->huge_handle;

		if (zs->inuse != 1 || zs->watermark != 1 || zs->freeobj != ZS_OBJ_NONE)
			BAD();
		if (handle_class_checked(pool, h) != class)
			BAD();
		if (atomic_load(handle_entry(pool, handle_slot(h))) != make_loc(zs, 0))
			BAD();
		return 0;
	}

	for (unsigned int idx = zs->freeobj; idx != ZS_OBJ_NONE; nfree++) {
		uint64_t link;

		if (idx >= zs->watermark || nfree >= objs || (seen[idx / 64] >> (idx % 64)) & 1)
			BAD();
		seen[idx / 64] |= 1ull << (idx % 64);
		memcpy(&link, obj_addr(class, zs, idx), sizeof(link));
		if (link & ZS_OBJ_ALLOCATED)
			BAD();
		idx = (unsigned int)(link >> 1);
	}
	if (nfree != (unsigned int)(zs->watermark - zs->inuse))
		BAD();

	for (unsigned int idx = 0; idx < zs->watermark; idx++) {
		uint64_t hdr, slot;

		if ((seen[idx / 64] >> (idx % 64)) & 1)
			continue;
		memcpy(&hdr, obj_addr(class, zs, idx), sizeof(hdr));
		if (!(hdr & ZS_OBJ_ALLOCATED) ||
		    handle_class_checked(pool, (unsigned long)(hdr >> 1)) != class)
			BAD();
		slot = handle_slot((unsigned long)(hdr >> 1));
		if (slot >= atomic_load(&pool->ht_next))
			BAD();
		if (atomic_load(handle_entry(pool, slot)) != make_loc(zs, idx))
			BAD();
	}
	return 0;
}

static int check_class(struct zs_pool *pool, struct zs_class *class)
{
	unsigned long zspages = 0, used = 0, n = 0;
	uint64_t ht_next = atomic_load(&pool->ht_next);

	for (unsigned int g = 0; g < ZS_NR_FULLNESS_GROUPS; g++) {
		unsigned long count = 0;

		if (!!class->groups[g] != !!(class->nonempty & (1u << g)))
			BAD();
		if (class->groups[g] && class->groups[g]->prev)
			BAD();
		for (struct zspage *zs = class->groups[g]; zs; zs = zs->next) {
			if (++count > class->zspages)
				BAD();
			if (check_zspage(pool, class, zs, g))
				BAD();
			used += zs->inuse;
		}
		if (count != class->group_count[g])
			BAD();
		zspages += count;
	}
	if (zspages != class->zspages || used != class->obj_used)
		BAD();
	if (class->hnext > class->hend || class->hend > ht_next)
		BAD();

	for (uint64_t f = class->hfree; f; f = atomic_load(handle_entry(pool, f - 1)) >> 1) {
		if (f - 1 >= ht_next || ++n > ht_next)
			BAD();
		if (!(atomic_load(handle_entry(pool, f - 1)) & 1))
			BAD();
	}
	return 0;
}

/* Attaches and detaches of zspages so far, all shards. */
static unsigned long zspage_events(struct zs_pool *pool)
{
	unsigned long ev = 0;

	for (unsigned int sh = 0; sh < pool->nr_shards; sh++)
		ev += atomic_load(&pool->shard_stat[sh].zspage_events);
	return ev;
}

/*
 * Each class is checked under its own lock (never more than one held). The
 * pool's page total is checked against the classes when no zspage was
 * attached or detached while the classes were summed (zspage_events).
 */
int zs_validate(struct zs_pool *pool)
{
	if (!pool->nr_shards || pool->nr_shards > ZS_SHARDS)
		return -EUCLEAN;
	for (unsigned int sh = 0; sh < pool->nr_shards; sh++) {
		for (unsigned int i = 0; i < ZS_SIZE_CLASSES; i++) {
			struct zs_class *class = pool->size_class[sh][i];
			int ret;

			/* A merged alias points to the next larger class that exists. */
			if (class->index < i || pool->size_class[sh][class->index] != class ||
			    class->shard != sh ||
			    class->index != pool->size_class[0][i]->index)
				return -EUCLEAN;
			if (class->index != i)
				continue;
			class_lock(class);
			ret = check_class(pool, class);
			class_unlock(class);
			if (ret)
				return ret;
		}
	}
	for (int tries = 0; tries < 16; tries++) {
		unsigned long ev = zspage_events(pool), pages = 0, total;

		for (unsigned int sh = 0; sh < pool->nr_shards; sh++) {
			for (unsigned int i = 0; i < ZS_SIZE_CLASSES; i++) {
				struct zs_class *class = pool->size_class[sh][i];

				if (class->index != i)
					continue;
				class_lock(class);
				pages += class->zspages * class->pages_per_zspage;
				class_unlock(class);
			}
		}
		total = zs_get_total_pages(pool);
		if (zspage_events(pool) == ev)
			return pages == total ? 0 : -EUCLEAN;
	}
	return 0;	/* too busy to compare the totals */
}
