/*
 * fuse.h - the FUSE tree that `uzram serve --mount DIR` starts.
 */
#ifndef UZRAM_SRC_FUSE_H
#define UZRAM_SRC_FUSE_H

#include <stdbool.h>
#include <stdint.h>

#include "uzram.h"

struct iostat;

/*
 * The FUSE tree (fuse.c and the files it lists):
 * DIR/zram-control/{hot_add,hot_remove}, DIR/zramN/<attribute>,
 * DIR/zramN/disk. Runs its own threads. The disk files' opens and requests
 * are counted in stats (iostat.h; NULL: not counted), which must outlive
 * the tree. Returns 0 or -errno (-ENOSYS when built without libfuse3).
 */
struct fuse_front;
int fuse_front_start(struct uzram *z, const char *mountpoint, bool read_only,
		     struct iostat *stats, struct fuse_front **out);
/* Unmount and stop; safe to call with NULL. */
void fuse_front_stop(struct fuse_front *f);

#endif /* UZRAM_SRC_FUSE_H */
