/*
 * nbd.h - the NBD protocol engine of `uzram serve` (nbd.c, nbd_xmit.c).
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

/* ---- protocol constants (NetworkBlockDevice/nbd doc/proto.md) ---- */

#define NBD_MAGIC		0x4e42444d41474943ull	/* "NBDMAGIC" */
#define NBD_OPTS_MAGIC		0x49484156454f5054ull	/* "IHAVEOPT" */
#define NBD_REP_MAGIC		0x0003e889045565a9ull
#define NBD_REQUEST_MAGIC	0x25609513u
#define NBD_SIMPLE_REPLY_MAGIC	0x67446698u
#define NBD_STRUCTURED_REPLY_MAGIC 0x668e33efu

#define NBD_FLAG_FIXED_NEWSTYLE	(1u << 0)
#define NBD_FLAG_NO_ZEROES	(1u << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE NBD_FLAG_FIXED_NEWSTYLE
#define NBD_FLAG_C_NO_ZEROES	NBD_FLAG_NO_ZEROES

enum {
	NBD_OPT_EXPORT_NAME = 1,
	NBD_OPT_ABORT = 2,
	NBD_OPT_LIST = 3,
	NBD_OPT_STARTTLS = 5,
	NBD_OPT_INFO = 6,
	NBD_OPT_GO = 7,
	NBD_OPT_STRUCTURED_REPLY = 8,
	NBD_OPT_LIST_META_CONTEXT = 9,
	NBD_OPT_SET_META_CONTEXT = 10,
	NBD_OPT_EXTENDED_HEADERS = 11,
};

#define NBD_REP_ACK		1u
#define NBD_REP_SERVER		2u
#define NBD_REP_INFO		3u
#define NBD_REP_META_CONTEXT	4u
#define NBD_REP_ERR(n)		((1u << 31) | (n))
#define NBD_REP_ERR_UNSUP	NBD_REP_ERR(1)
#define NBD_REP_ERR_POLICY	NBD_REP_ERR(2)
#define NBD_REP_ERR_INVALID	NBD_REP_ERR(3)
#define NBD_REP_ERR_PLATFORM	NBD_REP_ERR(4)
#define NBD_REP_ERR_TLS_REQD	NBD_REP_ERR(5)
#define NBD_REP_ERR_UNKNOWN	NBD_REP_ERR(6)
#define NBD_REP_ERR_SHUTDOWN	NBD_REP_ERR(7)
#define NBD_REP_ERR_BLOCK_SIZE_REQD NBD_REP_ERR(8)
#define NBD_REP_ERR_TOO_BIG	NBD_REP_ERR(9)

enum {
	NBD_INFO_EXPORT = 0,
	NBD_INFO_NAME = 1,
	NBD_INFO_DESCRIPTION = 2,
	NBD_INFO_BLOCK_SIZE = 3,
};

/* Transmission flags. */
#define NBD_FLAG_HAS_FLAGS	(1u << 0)
#define NBD_FLAG_READ_ONLY	(1u << 1)
#define NBD_FLAG_SEND_FLUSH	(1u << 2)
#define NBD_FLAG_SEND_FUA	(1u << 3)
#define NBD_FLAG_ROTATIONAL	(1u << 4)
#define NBD_FLAG_SEND_TRIM	(1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES (1u << 6)
#define NBD_FLAG_SEND_DF	(1u << 7)
#define NBD_FLAG_CAN_MULTI_CONN	(1u << 8)
#define NBD_FLAG_SEND_CACHE	(1u << 10)
#define NBD_FLAG_SEND_FAST_ZERO	(1u << 11)

enum {
	NBD_CMD_READ = 0,
	NBD_CMD_WRITE = 1,
	NBD_CMD_DISC = 2,
	NBD_CMD_FLUSH = 3,
	NBD_CMD_TRIM = 4,
	NBD_CMD_CACHE = 5,
	NBD_CMD_WRITE_ZEROES = 6,
	NBD_CMD_BLOCK_STATUS = 7,
};

#define NBD_CMD_FLAG_FUA	(1u << 0)
#define NBD_CMD_FLAG_NO_HOLE	(1u << 1)
#define NBD_CMD_FLAG_DF		(1u << 2)
#define NBD_CMD_FLAG_REQ_ONE	(1u << 3)
#define NBD_CMD_FLAG_FAST_ZERO	(1u << 4)

#define NBD_REPLY_FLAG_DONE	(1u << 0)
#define NBD_REPLY_TYPE_NONE	0u
#define NBD_REPLY_TYPE_OFFSET_DATA 1u
#define NBD_REPLY_TYPE_OFFSET_HOLE 2u
#define NBD_REPLY_TYPE_BLOCK_STATUS 5u
#define NBD_REPLY_TYPE_ERROR	0x8001u

#define NBD_STATE_HOLE		(1u << 0)
#define NBD_STATE_ZERO		(1u << 1)

#define NBD_EPERM		1u
#define NBD_EIO			5u
#define NBD_ENOMEM		12u
#define NBD_EINVAL		22u
#define NBD_ENOSPC		28u
#define NBD_EOVERFLOW		75u
#define NBD_ENOTSUP		95u
#define NBD_ESHUTDOWN		108u

/* ---- what this server advertises and enforces ---- */

#define NBD_MIN_BLOCK		512u
#define NBD_PREF_BLOCK		4096u
#define NBD_MAX_PAYLOAD		(32u << 20)	/* READ/WRITE; larger WRITE = drop */
#define NBD_MAX_STRING		4096u		/* export names, queries */
#define NBD_MAX_OPTION		(64u << 10)	/* option data we parse */
#define NBD_MAX_OPTION_SKIP	(1u << 20)	/* option data we read and discard */
#define NBD_MAX_INFLIGHT	64u		/* requests per connection */
#define NBD_CONN_BUDGET		(64u << 20)	/* buffer bytes per connection */
#define NBD_MAX_EXTENTS		4096u		/* per BLOCK_STATUS reply */
#define NBD_MAX_CONNECTIONS	1024u		/* the default limit */
#define NBD_META_BASE_ALLOCATION "base:allocation"
#define NBD_META_ID_BASE_ALLOCATION 1u

/*
 * TLS (nbd_tls.c, GnuTLS): credentials are loaded once and shared by every
 * connection. NBD_TLS_ON offers NBD_OPT_STARTTLS; NBD_TLS_REQUIRE refuses
 * every option but STARTTLS and ABORT until TLS is up (NBD_REP_ERR_TLS_REQD;
 * EXPORT_NAME ends the connection). With local_plain, REQUIRE applies to
 * network (TCP) connections only: clients on a unix socket or stdio, whom
 * the socket file's mode already restricts, may still go without TLS.
 */
enum nbd_tls_mode {
	NBD_TLS_OFF,
	NBD_TLS_ON,
	NBD_TLS_REQUIRE,
};

struct nbd_tls_opts {
	const char *certificates;	/* DIR: server-cert.pem, server-key.pem,
					   ca-cert.pem (verify_peer), ca-crl.pem */
	const char *psk_file;		/* psktool's "identity:hexkey" lines */
	bool verify_peer;		/* require a client certificate of ca-cert.pem */
};

struct nbd_tls;

/*
 * Load the credentials: 0, or -errno with a message naming the file and
 * the reason in msg. -ENOTSUP when built without GnuTLS.
 */
int nbd_tls_load(const struct nbd_tls_opts *o, struct nbd_tls **out,
		 char *msg, size_t msglen);
void nbd_tls_free(struct nbd_tls *t);

struct nbd_server_opts {
	unsigned int threads;	/* worker pool size; 0 = number of CPUs */
	bool read_only;
	unsigned int max_connections;	/* 0 = NBD_MAX_CONNECTIONS */
	enum nbd_tls_mode tls;
	struct nbd_tls *tls_creds;	/* needed unless NBD_TLS_OFF; not owned */
	bool tls_local_plain;
	/* serve --mlock: every connection maps the buffers of all its slots
	 * when transmission starts and the server never unmaps buffers, so a
	 * request of up to 64 KiB maps nothing (docs/swap.md). */
	bool keep_buffers;
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
 * server is shutting down.
 */
int nbd_server_spawn(struct nbd_server *s, int in_fd, int out_fd);

/* Connections currently served (spawned or on a caller's thread). */
unsigned int nbd_server_connections(struct nbd_server *s);

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

/* Map a library -errno onto the NBD error sent to clients. */
uint32_t nbd_errno(int err);

#endif /* UZRAM_NBD_H */
