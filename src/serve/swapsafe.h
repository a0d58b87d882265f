/*
 * swapsafe.h - the process-wide measures of `uzram serve --mlock`
 * (swapsafe.c; docs/swap.md).
 */
#ifndef UZRAM_SWAPSAFE_H
#define UZRAM_SWAPSAFE_H

#include <stddef.h>

/*
 * PR_SET_IO_FLUSHER (inherited by every thread made afterwards),
 * oom_score_adj -1000, no THP, 512 KiB default thread stacks,
 * mlockall(MCL_CURRENT | MCL_FUTURE). Call before any thread exists.
 * Returns 0, or -1 with msg saying which step failed and why. The first two
 * need CAP_SYS_RESOURCE: when they fail, warnings says so ("" otherwise)
 * and the rest is done anyway.
 */
int swapsafe_apply(char *msg, size_t size, char *warnings, size_t wsize);

#endif /* UZRAM_SWAPSAFE_H */
