/*
 * refusal.h - the server's log of refused attribute stores.
 *
 * The kernel's zram logs why it refuses a store (pr_info in
 * drivers/block/zram/zram_drv.c: "Cannot change disksize for initialized
 * device", ...); `uzram serve` does the same on its standard error for every
 * store it makes for a client (the control socket, the FUSE tree), with the
 * library's words (uzram_store_reason):
 *
 *   uzram serve: zram0/disksize: store refused: EBUSY (cannot change disksize for initialized device)
 *
 * Each cause - device, attribute, errno, reason - is logged once. The causes
 * seen are kept in a table of REFUSAL_MAX_CAUSES entries, so that a client
 * can neither grow the server nor flood its log: once the table is full, one
 * line says so and new causes go unlogged (the client still gets its errno).
 * Stores to names that are no attribute are not logged (the name is the
 * client's, the table is not).
 */
#ifndef UZRAM_REFUSAL_H
#define UZRAM_REFUSAL_H

#define REFUSAL_MAX_CAUSES	128

/*
 * A store to attr of device id (-1: zram-control) failed with err (-errno):
 * log it unless its cause was logged before. Call it in the thread that made
 * the store, before that thread makes another (the reason is per thread).
 */
void refusal_log(int id, const char *attr, int err);

#endif /* UZRAM_REFUSAL_H */
