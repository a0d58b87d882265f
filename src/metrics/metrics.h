/*
 * metrics.h - `uzram serve --metrics`: /metrics over HTTP in Prometheus's
 * text exposition format 0.0.4 (docs/metrics.md), served by libmicrohttpd.
 *
 *	struct metrics *m;
 *	metrics_new(z, &m);
 *	nbd_opts.stats = metrics_add_front(m, "nbd", ops, true);	// before start
 *	metrics_start(m, listen_fd, msg, sizeof(msg));		// HTTP thread
 *	...
 *	metrics_free(m);	// stops the thread first
 *
 * Every scrape reads each device with uzram_stats() (a snapshot taken under
 * the device's read lock, which the I/O path never takes) and each front
 * end's counters (iostat.h, relaxed atomics), then formats with no lock
 * held. The front ends' counters belong to struct metrics: a front end
 * must be stopped before metrics_free.
 */
#ifndef UZRAM_METRICS_H
#define UZRAM_METRICS_H

#include <stdbool.h>
#include <stddef.h>

#include "iostat.h"
#include "uzram.h"

#define METRICS_MAX_FRONTS	4
/* What the HTTP server lets a client cost: connections at once (and per
 * address), seconds a connection may stay idle, bytes of a request's
 * header (beyond it the library answers 431 and closes). */
#define METRICS_CONNECTIONS	16
#define METRICS_PER_IP		8
#define METRICS_TIMEOUT_S	10
#define METRICS_MEMORY		(32u << 10)

struct metrics;

/* 0, -ENOMEM; *out is NULL on failure. */
int metrics_new(struct uzram *z, struct metrics **out);

/*
 * Counters for a front end labelled frontend="name" (a static string), with
 * the operations ops (an OR of IOSTAT_OP()) and, if connections, its
 * connections; they are exported from then on. NULL when m is NULL or
 * METRICS_MAX_FRONTS are taken. Call before metrics_start.
 */
struct iostat *metrics_add_front(struct metrics *m, const char *name,
				 unsigned int ops, bool connections);

/*
 * Serve HTTP on listen_fd, a bound and listening TCP socket, from an
 * internal thread (libmicrohttpd's epoll loop); the socket is the HTTP
 * server's from then on, even on failure. 0, or -errno with msg saying
 * why (-ENOSYS: built without libmicrohttpd).
 */
int metrics_start(struct metrics *m, int listen_fd, char *msg, size_t msg_size);

/* The text of one scrape, as /metrics answers it: a malloc'd string of
 * *len bytes (free it), or NULL (out of memory). */
char *metrics_render(struct metrics *m, size_t *len);

/* Stop the HTTP thread (if started) and free; NULL is fine. */
void metrics_free(struct metrics *m);

#endif /* UZRAM_METRICS_H */
