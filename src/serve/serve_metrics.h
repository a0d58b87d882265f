/*
 * serve_metrics.h - `uzram serve --metrics [ADDR:]PORT`: the socket
 * (listen.c, loopback unless --metrics-allow-remote), the counters each
 * front end is started with, and the HTTP server (src/metrics). Each
 * function says what failed on stderr and returns -1, or 0.
 */
#ifndef UZRAM_SERVE_METRICS_H
#define UZRAM_SERVE_METRICS_H

#include <stdbool.h>

#include "iostat.h"
#include "uzram.h"

struct metrics;

struct serve_metrics {
	struct metrics *m;		/* NULL: no --metrics (all else unset) */
	int fd;				/* the socket, until the server has it */
	bool started;
	/* the front ends' counters, NULL without --metrics */
	struct iostat *nbd, *ublk, *fuse;
};

/* Without spec, nothing (sm stays empty). Else bind the socket and make
 * the counters of NBD, and of ublk and FUSE when they will run. */
int serve_metrics_prepare(struct serve_metrics *sm, struct uzram *z, const char *spec,
			  bool allow_remote, bool ublk, bool fuse);
/* The HTTP server's thread; says where it listens. */
int serve_metrics_start(struct serve_metrics *sm);
/* Stop and free, after the front ends have stopped; a zeroed sm is fine. */
void serve_metrics_stop(struct serve_metrics *sm);

#endif /* UZRAM_SERVE_METRICS_H */
