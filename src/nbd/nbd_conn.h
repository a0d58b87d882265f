/*
 * nbd_conn.h - the state the upper layers of the NBD server share: the
 * server, its connections and their request slots. Not an API (serve.c
 * sees struct nbd_server as opaque, through nbd.h).
 *
 * Objects, their owners and locks:
 *
 *   struct nbd_server   the worker pool and its queue (qlock; nbd_xmit.c),
 *                       the list of connections (lock; nbd.c), the cache
 *                       of idle payload buffers (buf_lock; nbd_buf.c);
 *                       lives until nbd_server_free.
 *   struct nbd_conn     one client: its connection thread reads the
 *                       handshake and then the requests, in order; a writer
 *                       thread sends replies the workers could not send at
 *                       once. Its byte stream (io, nbd_io.h) holds the
 *                       descriptors, the read buffer and, after STARTTLS,
 *                       the TLS session. The negotiation fields are the
 *                       connection thread's; dev and size are fixed once
 *                       transmission starts. Freed by its connection
 *                       thread after every request in flight has completed.
 *   struct nbd_req      one request slot of a connection (NBD_MAX_INFLIGHT
 *                       per connection): header fields, a payload buffer
 *                       that stays with the slot, and the reply's iovec.
 *                       A slot is owned by exactly one of: the free list
 *                       (c->lock), the reader filling (or executing) it,
 *                       the work queue (qlock), a worker, the output queue
 *                       (out_lock, sent by whichever thread is the sender).
 *
 * Lock order: c->lock before srv->buf_lock (a leaf); srv->lock before
 * c->out_lock (nbd_server_abort); no other two are nested.
 */
#ifndef UZRAM_NBD_CONN_H
#define UZRAM_NBD_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "nbd.h"
#include "nbd_proto.h"
#include "nbd_io.h"
#include "uzram.h"

#define NBD_ZERO_CHUNK	(1u << 20)	/* NO_HOLE zeroes are written this big */

struct nbd_conn;
struct nbd_cached_buf;

struct nbd_req {
	struct nbd_conn *conn;
	struct nbd_req *next;		/* free list, work queue, output queue */
	uint16_t flags, type;
	uint64_t cookie, offset;
	uint32_t len;
	uint64_t t0;			/* iostat_start() once wholly received */
	uint8_t *buf;			/* payload buffer (an own mapping) */
	size_t cap;			/* its size; counted in c->buf_bytes */
	/* the reply: hdr (and buf), sent from iov[iov_idx] on */
	uint8_t hdr[32];
	struct iovec iov[2];
	int iov_idx, iov_cnt;
};

struct nbd_conn {
	struct nbd_server *srv;
	struct nbd_conn *prev, *next;	/* srv->conns, under srv->lock */
	struct nbd_io io;		/* the byte stream, plaintext or TLS */

	/* negotiation (connection thread only) */
	bool tls_required;		/* only STARTTLS and ABORT before TLS */
	bool in_handshake;		/* counted in srv->nhandshakes */
	bool fixed, no_zeroes, structured;
	bool meta_alloc;		/* base:allocation selected ... */
	int meta_export;		/* ... for this export id */

	/* transmission (fixed once it starts) */
	struct uzram_dev *dev;
	uint64_t size;

	/* request slots */
	pthread_mutex_t lock;
	pthread_cond_t cond;		/* a slot came back */
	struct nbd_req *free_slots;
	unsigned int inflight;
	size_t buf_bytes;		/* sum of the slots' cap */
	struct nbd_req slots[NBD_MAX_INFLIGHT];

	/* the write side */
	pthread_mutex_t out_lock;
	pthread_cond_t out_cond;
	struct nbd_req *outq, *outq_tail;
	bool sending;			/* a thread owns the send side */
	bool writer_wanted;		/* ... and it is the writer thread */
	bool writer_stop;
	bool writer_started;		/* the writer thread exists */
	bool dead;			/* the connection is cut: drop replies */
	atomic_bool killed;		/* dead, readable without out_lock */
	_Atomic uint64_t last_active;	/* ms of the last request (run_inline) */
	pthread_t writer;
};

struct nbd_server {
	struct uzram *z;
	bool read_only;
	unsigned int max_conns;
	unsigned int max_handshakes;	/* of the connections, in the handshake */
	unsigned int handshake_ms;	/* its deadline; 0 = none */
	enum nbd_tls_mode tls_mode;
	struct nbd_tls *tls_creds;
	bool tls_local_plain;
	bool keep_buffers;		/* nbd_server_opts.keep_buffers */
	struct iostat *stats;		/* nbd_server_opts.stats, or NULL */
	unsigned int nthreads;
	pthread_t *workers;
	const uint8_t *zeroes;		/* NBD_ZERO_CHUNK bytes, never written */

	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct nbd_req *qhead, *qtail;
	bool qstop;
	atomic_uint busy_conns;		/* connections active lately ... */
	_Atomic uint64_t busy_stamp;	/* ... as counted at this ms */

	pthread_mutex_t buf_lock;	/* a leaf lock */
	struct nbd_cached_buf *buf_cache;
	size_t buf_cached;
	uint64_t buf_stamp;		/* ms the cache was last used */

	pthread_mutex_t lock;
	pthread_cond_t cond;		/* nconns changed */
	struct nbd_conn *conns;
	unsigned int nconns;
	unsigned int nhandshakes;	/* of nconns, with in_handshake set */
	atomic_bool shutting_down;
	int event_fd;
};

/*
 * Make the server's event descriptor readable (nbd_server_event_fd): a
 * connection ended, or the buffer cache may have grown.
 */
static inline void nbd_server_signal(struct nbd_server *s)
{
	uint64_t one = 1;

	if (write(s->event_fd, &one, sizeof(one)) < 0) {
		/* only at the counter's limit: it is readable anyway */
	}
}

/*
 * A millisecond clock that costs no system call (CLOCK_MONOTONIC_COARSE,
 * a few ms resolution): buffer idleness and busy connections.
 */
static inline uint64_t nbd_coarse_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif /* UZRAM_NBD_CONN_H */
