/*
 * nbd.h - the NBD protocol engine of `uzram serve` (src/nbd: nbd.c and
 * the layers below it, listed there), and its TLS credentials (nbd_tls.h).
 *
 * One struct nbd_server serves the initialised devices of a registry as
 * exports zram0, zram1, ... over any number of connections. It knows
 * nothing of sockets, options or signals: serve.c accepts connections and
 * hands each file descriptor over; a fuzz target can drive one connection
 * over a socketpair with nbd_handle_connection().
 *
 *	struct nbd_server *s;
 *	nbd_server_new(z, &opts, &s);	// starts the worker pool
 *	nbd_server_spawn(s, fd, fd);	// serve fd on its own thread
 *	...
 *	nbd_server_shutdown(s);		// stop reading, finish in-flight work
 *	nbd_server_wait(s, 10.0);
 *	nbd_server_free(s);
 */
#ifndef UZRAM_NBD_H
#define UZRAM_NBD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uzram.h"
#include "nbd_tls.h"

struct iostat;

#define NBD_MAX_CONNECTIONS	1024u		/* the default limit */
#define NBD_MIN_HANDSHAKES	16u		/* ... of handshakes at once */

/*
 * TLS (nbd_tls.h, GnuTLS): credentials are loaded once (nbd_tls_load)
 * and shared by every connection. NBD_TLS_ON offers NBD_OPT_STARTTLS;
 * NBD_TLS_REQUIRE refuses every option but STARTTLS and ABORT until TLS is
 * up (NBD_REP_ERR_TLS_REQD; EXPORT_NAME ends the connection). With
 * local_plain, REQUIRE applies to network (TCP) connections only: clients
 * on a unix socket or stdio, whom the socket file's mode already
 * restricts, may still go without TLS.
 */
enum nbd_tls_mode {
	NBD_TLS_OFF,
	NBD_TLS_ON,
	NBD_TLS_REQUIRE,
};

struct nbd_server_opts {
	unsigned int threads;	/* worker pool size; 0 = number of CPUs */
	bool read_only;
	unsigned int max_connections;	/* 0 = NBD_MAX_CONNECTIONS */
	/* Connections not through the handshake yet (GO or EXPORT_NAME) at
	 * once; 0 = max(NBD_MIN_HANDSHAKES, max_connections / 4). */
	unsigned int max_handshakes;
	/* A connection still in the handshake (STARTTLS included) this long
	 * after it was handed over is closed; 0 = never. */
	unsigned int handshake_timeout_ms;
	enum nbd_tls_mode tls;
	struct nbd_tls *tls_creds;	/* needed unless NBD_TLS_OFF; not owned */
	bool tls_local_plain;
	/* serve --mlock: every connection maps the buffers of all its slots
	 * when transmission starts and the server never unmaps buffers, so a
	 * request of up to 64 KiB maps nothing (docs/swap.md). */
	bool keep_buffers;
	/* Connections and requests are counted here (iostat.h); NULL: not
	 * counted. Not owned; must outlive the server. */
	struct iostat *stats;
};

struct nbd_server;

/* A server for the devices of z; starts the worker pool. 0 or -errno. */
int nbd_server_new(struct uzram *z, const struct nbd_server_opts *opts,
		   struct nbd_server **out);

/*
 * Serve one connection on the calling thread, from the handshake to its
 * end (NBD_CMD_DISC, EOF, a protocol violation, or shutdown); in_fd and
 * out_fd (the same descriptor for a socket) are closed before it returns.
 * Returns 0 after an orderly end, -errno otherwise (for logs and tests).
 */
int nbd_handle_connection(struct nbd_server *s, int in_fd, int out_fd);

/*
 * Serve a connection on a new thread. Takes ownership of the descriptors
 * (closed on error too). -EAGAIN when max_connections are open or the
 * server is shutting down, -EBUSY when max_handshakes are in the handshake.
 */
int nbd_server_spawn(struct nbd_server *s, int in_fd, int out_fd);

/* Connections currently served (spawned or on a caller's thread) ... */
unsigned int nbd_server_connections(struct nbd_server *s);
/* ... and those of them still in the handshake. */
unsigned int nbd_server_handshakes(struct nbd_server *s);

/* A descriptor that becomes readable whenever a connection ends (drain it
 * with read(2) of 8 bytes); for poll loops. */
int nbd_server_event_fd(struct nbd_server *s);

/*
 * Unmap the request buffers that ended connections left for the next ones
 * once they have gone unused for NBD_BUF_IDLE_MS. Returns the milliseconds
 * until it should be called again (a poll timeout), -1 with nothing cached.
 * The event descriptor becomes readable when the cache may have grown.
 */
int nbd_server_trim(struct nbd_server *s);

/*
 * Begin shutdown: new connections are refused, connections in the
 * handshake are closed, and connections in transmission stop reading
 * requests, finish the ones in flight, send their replies and close.
 */
void nbd_server_shutdown(struct nbd_server *s);

/* Wait until no connection is left; false after timeout seconds. */
bool nbd_server_wait(struct nbd_server *s, double timeout);

/* Cut every connection at once (after a drain that timed out). */
void nbd_server_abort(struct nbd_server *s);

/* Stop the worker pool and free; no connection may be left. */
void nbd_server_free(struct nbd_server *s);

#endif /* UZRAM_NBD_H */
