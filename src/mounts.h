/*
 * mounts.h - the uzram FUSE trees mounted on this machine, as
 * /proc/self/mountinfo lists them (type fuse.uzram): `uzram ctl` looks for
 * the loop devices on their disk files, `uzram serve --mount` refuses to
 * mount over a live one (mounts.c).
 */
#ifndef UZRAM_MOUNTS_H
#define UZRAM_MOUNTS_H

#include <stddef.h>

/* Their mount points, mountinfo's escapes (\040 ...) undone; NULL and *n 0
 * when there are none or mountinfo cannot be read. */
char **uzram_trees(size_t *n);
void uzram_trees_free(char **trees, size_t n);

#endif /* UZRAM_MOUNTS_H */
