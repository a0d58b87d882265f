/*
 * zramconf.h - systemd's zram-generator.conf(5) read into the devices'
 * settings (zramconf.c, devconf.h): `uzram serve --config FILE`.
 */
#ifndef UZRAM_ZRAMCONF_H
#define UZRAM_ZRAMCONF_H

#include <stdint.h>

#include "devconf.h"

/* MemTotal of /proc/meminfo in MiB (rounded down), zram-generator's ram;
 * 0 when it cannot be read. */
uint64_t zramconf_ram_mib(void);

/*
 * Read path's [zramN] sections into s (settings the command line gave are
 * kept) with ram = ram_mib. Warnings (ignored keys and sections) and what
 * was skipped are said on stderr. Returns 0, or -1 after saying
 * "uzram serve: FILE:LINE: why" (or "uzram serve: --config FILE: why").
 */
int zramconf_read(struct devconf_set *s, const char *path, uint64_t ram_mib);

#endif /* UZRAM_ZRAMCONF_H */
