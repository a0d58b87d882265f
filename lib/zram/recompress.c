/*
 * recompress.c - the recompress attribute: recompress stored pages with a
 * secondary algorithm (recomp_algorithm, priorities 1-3), keeping the result
 * only when it lands in a smaller zsmalloc class (the kernel's
 * recompress_store() and recompress_slot(), with the 7.3 kernel's
 * single-target rules; docs/internals.md §5.4).
 *
 * Runs under dev_lock (write). Candidates are queued by size (pp.c) and
 * taken largest first; each is read, recompressed and replaced under its
 * slot lock, so readers and writers of other slots go on meanwhile. A slot
 * remembers its algorithm in two priority bits; reads decompress with it.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "util/parse.h"
#include "util/reason.h"
#include "pp.h"
#include "zram_drv.h"

/* The highest priority with an algorithm (INCOMPRESSIBLE is set there). */
static unsigned int highest_priority_algorithm(struct zram *zram)
{
	unsigned int prio = ZRAM_PRIMARY_COMP;

	for (unsigned int p = ZRAM_SECONDARY_COMP; p < ZRAM_MAX_COMPS; p++)
		if (zram->comps[p])
			prio = p;
	return prio;
}

/* Queue the slots in memory, not yet tried at prio or above, with every
 * flag of need. */
static int scan_slots_for_recompress(struct zram *zram, struct pp_ctl *ctl,
				     uint32_t need, unsigned int prio)
{
	const struct zram_pp_filter f = {
		.need = need,
		.skip = (1u << ZRAM_WB) | (1u << ZRAM_SAME) |
			(1u << ZRAM_INCOMPRESSIBLE),
		.below_prio = prio,
	};

	return zram_pp_scan(zram, ctl, 0, zram->nr_pages, &f);
}

/*
 * Recompress one slot (locked, still selected). *max_pages counts attempts.
 * Returns 0 (also when the slot is kept as it was) or an error that ends the
 * command.
 */
static int recompress_slot(struct zram *zram, uint32_t index, unsigned int prio,
			   unsigned int threshold, unsigned long long *max_pages,
			   uint8_t *page)
{
	struct zcomp *comp = zram->comps[prio];
	unsigned int old_size = zram_get_obj_size(zram, index);
	unsigned int new_len, class_old, class_new;
	struct zcomp_strm *zstrm;
	unsigned long handle;
	int ret;

	if (!zram->table[index].handle)
		return -EINVAL;
	if (threshold && old_size < threshold)
		return 0;	/* not worth it; does not count against max_pages */
	ret = zram_read_page_locked(zram, index, page);
	if (ret)
		return ret;
	zram_clear_flag(zram, index, ZRAM_IDLE);

	zstrm = zcomp_stream_get(comp);
	ret = zcomp_compress(comp, zstrm, page, &new_len);
	(*max_pages)--;
	if (ret) {
		zcomp_stream_put(zstrm);
		return ret;
	}
	/* The kernel's comparison: class indexes without the handle header. */
	class_old = zs_lookup_class_index(zram->mem_pool, old_size);
	class_new = zs_lookup_class_index(zram->mem_pool, new_len);
	if (class_new >= class_old || (threshold && new_len >= threshold)) {
		zcomp_stream_put(zstrm);
		if (prio == highest_priority_algorithm(zram))
			zram_set_flag(zram, index, ZRAM_INCOMPRESSIBLE);
		return 0;
	}
	handle = zs_malloc_write(zram->mem_pool, zstrm->buffer, new_len);
	zcomp_stream_put(zstrm);
	if (ZS_IS_ERR(handle))
		return ZS_ERR(handle);

	/* As the kernel's recompress_slot(): not an access, ac_time stays 0. */
	zram_slot_replace(zram, index, handle, new_len,
			  (prio & ZRAM_COMP_PRIORITY_MASK) << ZRAM_COMP_PRIORITY_BIT1);
	return 0;
}

/* The arguments of recompress (the kernel's recompress_store()). */
struct recompress_args {
	uint32_t mode;			/* the flags its slots must have */
	unsigned long long max_pages;	/* attempts left */
	unsigned int threshold;		/* bytes; 0: none */
	const char *algo;
	unsigned int prio;
	bool prio_given;
};

static int parse_type(const char *val, uint32_t *mode)
{
	if (!strcmp(val, "idle"))
		*mode = 1u << ZRAM_IDLE;
	else if (!strcmp(val, "huge"))
		*mode = 1u << ZRAM_HUGE;
	else if (!strcmp(val, "huge_idle"))
		*mode = (1u << ZRAM_IDLE) | (1u << ZRAM_HUGE);
	else
		return -EINVAL;
	return 0;
}

/* Every key needs a value; unknown keys are ignored. */
static int parse_recompress_args(char *args, struct recompress_args *a)
{
	char *param, *val;
	int ret = 0;

	*a = (struct recompress_args){ .max_pages = ULLONG_MAX };
	while (*args && !ret) {
		args = next_arg(args, &param, &val);
		if (!val || !*val)
			return -EINVAL;
		if (!strcmp(param, "type")) {
			ret = parse_type(val, &a->mode);
		} else if (!strcmp(param, "max_pages")) {
			ret = kstrtoull(val, 10, &a->max_pages);
		} else if (!strcmp(param, "threshold")) {
			ret = kstrtouint(val, 10, &a->threshold);
		} else if (!strcmp(param, "algo")) {
			a->algo = val;
		} else if (!strcmp(param, "priority")) {
			ret = kstrtouint(val, 10, &a->prio);
			a->prio_given = true;
		}
	}
	return ret;
}

/* The priority to recompress at, or -EINVAL; dev_lock held. */
static int recompress_priority(struct zram *zram,
			       const struct recompress_args *a)
{
	int prio;

	/* The device's pool's huge_class_size (the kernel's is module-wide:
	 * the same value, as every pool has the same classes). */
	if (!init_done(zram))
		return uz_refuse(-EINVAL, "device is not initialized");
	if (a->threshold >= zram->huge_class_size)
		return uz_refuse(-EINVAL, "threshold not below huge_class_size");
	prio = zram_select_priority(zram, a->algo, a->prio_given, (int)a->prio,
				    ZRAM_SECONDARY_COMP);
	if (prio < 0 || !zram->comps[prio])
		return uz_refuse(-EINVAL, "no recompression algorithm at that priority or name");
	return prio;
}

/* Recompress the candidates of ctl at prio, largest first, while attempts
 * are left; each under its slot lock, if still selected. */
static int recompress_slots(struct zram *zram, struct pp_ctl *ctl,
			    unsigned int prio, struct recompress_args *a)
{
	uint8_t *page = uz_aligned_alloc(64, UZ_PAGE_SIZE);
	uint32_t index;
	int ret = 0;

	if (!page)
		return -ENOMEM;
	while (!ret && a->max_pages && pp_next(ctl, &index)) {
		zram_slot_lock(zram, index);
		if (zram_test_flag(zram, index, ZRAM_PP_SLOT))
			ret = recompress_slot(zram, index, prio, a->threshold,
					      &a->max_pages, page);
		zram_clear_flag(zram, index, ZRAM_PP_SLOT);
		zram_slot_unlock(zram, index);
	}
	free(page);
	return ret;
}

int zram_recompress_store(struct zram *zram, char *buf, size_t len)
{
	struct recompress_args a;
	struct pp_ctl ctl;
	int prio, ret = parse_recompress_args(skip_spaces(buf), &a);

	if (ret)
		return ret;
	pthread_rwlock_wrlock(&zram->dev_lock);
	prio = recompress_priority(zram, &a);
	if (prio < 0) {
		ret = prio;
	} else {
		pp_init(&ctl);
		ret = scan_slots_for_recompress(zram, &ctl, a.mode,
						(unsigned int)prio);
		if (!ret)
			ret = recompress_slots(zram, &ctl, (unsigned int)prio, &a);
		zram_pp_release(zram, &ctl);
	}
	pthread_rwlock_unlock(&zram->dev_lock);
	return ret;
}
