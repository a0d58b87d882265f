/*
 * devconf.h - the devices `uzram serve` configures at start (devconf.c):
 * --device zramN:KEY=VALUE,... on the command line, --size and --algorithm
 * (zram0's), and the [zramN] sections of a zram-generator.conf (zramconf.c).
 *
 * Each device's settings are attribute stores, made in the kernel's order
 * (the ones that must precede disksize first, disksize last):
 * comp_algorithm, recomp_algorithm (priorities 1..3), algorithm_params
 * (priorities 0..3), backing_dev, mem_limit, disksize. A setting from the
 * command line is never replaced by one from the file; every setting keeps
 * the words it came from (its label), which its error message quotes.
 */
#ifndef UZRAM_DEVCONF_H
#define UZRAM_DEVCONF_H

#include <stdbool.h>
#include <stddef.h>

#include "uzram.h"

#define DEVCONF_MAX_DEVICES	1024	/* ids 0..1023, as --devices */
#define DEVCONF_MAX_RECOMP	3	/* recompression priorities 1..3 */

/* The settings, in the order they are stored. */
enum devconf_key {
	DC_ALGORITHM,					/* comp_algorithm */
	DC_RECOMP,					/* recomp_algorithm, priority 1.. */
	DC_PARAMS = DC_RECOMP + DEVCONF_MAX_RECOMP,	/* algorithm_params, priority 0.. */
	DC_BACKING_DEV = DC_PARAMS + 1 + DEVCONF_MAX_RECOMP,
	DC_MEM_LIMIT,
	DC_DISKSIZE,
	DC_NKEYS
};

struct devconf_item {
	char *value;		/* what is stored; NULL: nothing */
	char *label;		/* where it came from, e.g. "--device zram1:size=1G" */
	bool from_file;
};

struct devconf {
	unsigned int id;
	bool named;		/* on the command line: created even without settings */
	bool skipped;		/* its [zramN] section was skipped (host-memory-limit, size 0) */
	struct devconf_item item[DC_NKEYS];
};

/* The configured devices, by ascending id. */
struct devconf_set {
	struct devconf *dev;
	size_t n;
};

/*
 * --device SPEC: "zramN" or "zramN:KEY=VALUE[,KEY=VALUE...]", keys size,
 * algorithm, algorithm-params, mem-limit, backing-dev, recomp-algorithm
 * (repeatable: priorities 1, 2, 3) or the attributes' own names. Syntax
 * errors are said ("uzram serve: --device ...: why"): OPT_ERR, a usage error.
 */
int devconf_parse_device(struct devconf_set *s, const char *spec);
/*
 * --size and --algorithm, zram0's: added to its settings as if from the
 * command line; either one together with --device zram0's own is a usage
 * error (said; OPT_ERR).
 */
int devconf_zram0_options(struct devconf_set *s, const char *size, const char *algorithm);

/* Device id, added if it is not there; NULL when out of memory. */
struct devconf *devconf_get(struct devconf_set *s, unsigned int id);
/*
 * Set key of d to value, labelled label (both copied); a file's setting does
 * not replace the command line's. 0 or -ENOMEM.
 */
int devconf_set(struct devconf *d, enum devconf_key key, const char *value,
		const char *label, bool from_file);
/* zram0's disksize when nothing set it and no [zram0] was skipped. */
int devconf_default_size(struct devconf_set *s, const char *size);

/* How many devices the settings need: the highest id configured + 1. */
unsigned int devconf_count(const struct devconf_set *s);
/*
 * Make every device's stores, in order; at the first failure say which
 * setting and why ("uzram serve: LABEL: REASON") and return -1.
 */
int devconf_apply(const struct devconf_set *s, struct uzram *z);
void devconf_free(struct devconf_set *s);

#endif /* UZRAM_DEVCONF_H */
