/*
 * serve.h - `uzram serve` and the front ends it starts.
 */
#ifndef UZRAM_SERVE_H
#define UZRAM_SERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "uzram.h"

/*
 * The FUSE tree (fuse.c): DIR/zram-control/{hot_add,hot_remove},
 * DIR/zramN/<attribute>, DIR/zramN/disk. Runs its own threads.
 * Returns 0 or -errno (-ENOSYS when built without libfuse3).
 */
struct fuse_front;
int fuse_front_start(struct uzram *z, const char *mountpoint,
		     bool read_only, struct fuse_front **out);
/* Unmount and stop; safe to call with NULL. */
void fuse_front_stop(struct fuse_front *f);

#endif /* UZRAM_SERVE_H */
