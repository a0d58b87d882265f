/*
 * reason.h - why an attribute store was refused, in a few words, for the
 * front ends to show (include/uzram.h: uzram_store_reason).
 *
 * The kernel's zram says why in its log: pr_info() in
 * drivers/block/zram/zram_drv.c, e.g. disksize_store()'s "Cannot change
 * disksize for initialized device". A library prints nothing, so the place
 * that decides the errno records the words instead: a static string, one
 * per thread, which the facade (lib/uzram.c) clears when a store begins and
 * when it succeeds. The kernel's own texts are quoted, lower-cased; where
 * the kernel says nothing, the words are ours.
 */
#ifndef UZRAM_REASON_H
#define UZRAM_REASON_H

/* Record why (a string literal) and return err: return uz_refuse(-EBUSY, ...). */
int uz_refuse(int err, const char *why);
/* The words recorded since the last clear in this thread, or NULL. */
const char *uz_reason(void);
void uz_reason_clear(void);

#endif /* UZRAM_REASON_H */
