/*
 * pp.h - post-processing candidate lists, shared by writeback and
 * recompression (the kernel's pp buckets, kernel-zram.md §4.5).
 *
 * Candidates are marked ZRAM_PP_SLOT under their slot lock and queued by
 * object size in 64-byte buckets; they are taken from the largest bucket
 * down, the last queued first within a bucket. Any access to or free of a
 * slot clears ZRAM_PP_SLOT, which tells the post-processor to skip it.
 */
#ifndef UZRAM_PP_H
#define UZRAM_PP_H

#include <stdint.h>

#include "zram_drv.h"

#define PP_BUCKET_SIZE_RANGE	64
#define NUM_PP_BUCKETS		((int)(UZ_PAGE_SIZE / PP_BUCKET_SIZE_RANGE + 1))

struct pp_ctl {
	uint32_t *slots[NUM_PP_BUCKETS];
	size_t nr[NUM_PP_BUCKETS];
	size_t cap[NUM_PP_BUCKETS];
	int top;	/* highest bucket that may be non-empty */
};

void pp_init(struct pp_ctl *ctl);
/* Queue slot index (locked by the caller, which has set ZRAM_PP_SLOT). */
int pp_add(struct pp_ctl *ctl, uint32_t index, unsigned int obj_size);
/* The next candidate: largest bucket first, LIFO. false when empty. */
bool pp_next(struct pp_ctl *ctl, uint32_t *index);
/* Clear ZRAM_PP_SLOT of every candidate left, and free the lists. */
void pp_release(struct zram *zram, struct pp_ctl *ctl);

#endif /* UZRAM_PP_H */
