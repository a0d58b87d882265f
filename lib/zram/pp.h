/*
 * pp.h - post-processing candidate lists, shared by writeback and
 * recompression (the kernel's struct zram_pp_ctl and its buckets in
 * drivers/block/zram/zram_drv.c: place_pp_slot(), select_pp_slot()).
 *
 * Layout. Slot indexes queued by object size in 64-byte buckets, each a
 * growing array; they are taken from the largest bucket down, the last
 * queued first within a bucket. A list belongs to one command (writeback,
 * recompress), which runs under dev_lock: it has no lock of its own.
 *
 * The lists know nothing of slots: the device marks its candidates
 * ZRAM_PP_SLOT under their slot lock as it queues them, and unmarks the
 * ones left over (zram_pp_scan(), zram_pp_release() in zram_drv.c). Any
 * access to or free of a slot clears ZRAM_PP_SLOT, which tells the
 * post-processor to skip it.
 */
#ifndef UZRAM_PP_H
#define UZRAM_PP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/common.h"

#define PP_BUCKET_SIZE_RANGE	64
#define NUM_PP_BUCKETS		((int)(UZ_PAGE_SIZE / PP_BUCKET_SIZE_RANGE + 1))

struct pp_ctl {
	uint32_t *slots[NUM_PP_BUCKETS];
	size_t nr[NUM_PP_BUCKETS];
	size_t cap[NUM_PP_BUCKETS];
	int top;	/* highest bucket that may be non-empty */
};

void pp_init(struct pp_ctl *ctl);
/* Queue slot index, whose object has obj_size bytes: 0 or -ENOMEM. */
int pp_add(struct pp_ctl *ctl, uint32_t index, unsigned int obj_size);
/* The next candidate: largest bucket first, LIFO. false when empty. */
bool pp_next(struct pp_ctl *ctl, uint32_t *index);
/* Free the lists (candidates left are dropped) and empty ctl. */
void pp_free(struct pp_ctl *ctl);

#endif /* UZRAM_PP_H */
