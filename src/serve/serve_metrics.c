/*
 * serve_metrics.c - what `uzram serve` does for --metrics (serve_metrics.h):
 * the listening socket first (a bad address or a busy port stops the start
 * before any front end runs), the counters handed to the front ends, then
 * the HTTP thread once they all run.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "listen.h"
#include "metrics/metrics.h"
#include "serve_metrics.h"

#define OPS_NBD	(IOSTAT_OP(IOSTAT_READ) | IOSTAT_OP(IOSTAT_WRITE) | \
		 IOSTAT_OP(IOSTAT_DISCARD) | IOSTAT_OP(IOSTAT_WRITE_ZEROES) | \
		 IOSTAT_OP(IOSTAT_FLUSH) | IOSTAT_OP(IOSTAT_BLOCK_STATUS) | \
		 IOSTAT_OP(IOSTAT_CACHE) | IOSTAT_OP(IOSTAT_OTHER))
#define OPS_UBLK (IOSTAT_OP(IOSTAT_READ) | IOSTAT_OP(IOSTAT_WRITE) | \
		  IOSTAT_OP(IOSTAT_DISCARD) | IOSTAT_OP(IOSTAT_WRITE_ZEROES) | \
		  IOSTAT_OP(IOSTAT_FLUSH) | IOSTAT_OP(IOSTAT_OTHER))
#define OPS_FUSE (IOSTAT_OP(IOSTAT_READ) | IOSTAT_OP(IOSTAT_WRITE) | \
		  IOSTAT_OP(IOSTAT_DISCARD) | IOSTAT_OP(IOSTAT_WRITE_ZEROES) | \
		  IOSTAT_OP(IOSTAT_FLUSH))

int serve_metrics_prepare(struct serve_metrics *sm, struct uzram *z, const char *spec,
			  bool allow_remote, bool ublk, bool fuse)
{
	memset(sm, 0, sizeof(*sm));
	if (!spec)
		return 0;
	sm->fd = listen_tcp_socket("metrics", spec, !allow_remote);
	if (sm->fd < 0)
		return -1;
	if (metrics_new(z, &sm->m) ||
	    !(sm->nbd = metrics_add_front(sm->m, "nbd", OPS_NBD, true)) ||
	    (ublk && !(sm->ublk = metrics_add_front(sm->m, "ublk", OPS_UBLK, false))) ||
	    (fuse && !(sm->fuse = metrics_add_front(sm->m, "fuse", OPS_FUSE, true)))) {
		fprintf(stderr, "uzram serve: --metrics: out of memory\n");
		close(sm->fd);
		metrics_free(sm->m);
		memset(sm, 0, sizeof(*sm));
		return -1;
	}
	return 0;
}

int serve_metrics_start(struct serve_metrics *sm)
{
	char addr[128] = "?", msg[256];

	if (!sm->m)
		return 0;
	listen_address(sm->fd, addr, sizeof(addr));
	sm->started = true;	/* the HTTP server owns the socket now */
	if (metrics_start(sm->m, sm->fd, msg, sizeof(msg))) {
		fprintf(stderr, "uzram serve: --metrics: %s\n", msg);
		return -1;
	}
	fprintf(stderr, "uzram serve: metrics on http://%s/metrics\n", addr);
	return 0;
}

void serve_metrics_stop(struct serve_metrics *sm)
{
	if (!sm->m)
		return;		/* no --metrics, or never prepared */
	if (!sm->started)
		close(sm->fd);
	metrics_free(sm->m);
	memset(sm, 0, sizeof(*sm));
}
