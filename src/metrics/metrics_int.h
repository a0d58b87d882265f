/*
 * metrics_int.h - what the files of src/metrics share, from the top down:
 *
 *   metrics.c        the HTTP server (libmicrohttpd), start, stop, render
 *   metrics_dev.c    the device families (uzram_stats, one line per device)
 *   metrics_front.c  the front-end families (iostat.h)
 *   metrics_text.c   the exposition format: a growing buffer, families,
 *                    escaped label values
 *
 * struct metrics is written before the HTTP thread starts (the fronts) and
 * only read after; a scrape's text lives in its own buffer.
 */
#ifndef UZRAM_METRICS_INT_H
#define UZRAM_METRICS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

struct MHD_Daemon;

struct metrics {
	struct uzram *z;
	struct iostat *fronts[METRICS_MAX_FRONTS];	/* aligned_alloc'd */
	unsigned int nfronts;
	struct MHD_Daemon *daemon;			/* NULL until started */
};

/* A text that grows; after an allocation failure it stays failed. */
struct mtext {
	char *p;
	size_t len, cap;
	bool failed;
};

void mt_printf(struct mtext *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "# HELP name help" and "# TYPE name type" */
void mt_family(struct mtext *t, const char *name, const char *type, const char *help);
/* v with \, " and newline escaped, as a label value must be */
void mt_label_value(struct mtext *t, const char *v);

void metrics_devices(struct mtext *t, struct uzram *z);
void metrics_fronts(struct mtext *t, struct iostat *const *fronts, unsigned int n);

#endif /* UZRAM_METRICS_INT_H */
