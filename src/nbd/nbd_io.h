/*
 * nbd_io.h - a connection's byte stream, plaintext or TLS: the one place
 * that chooses between the descriptors (nbd_sock.h) and the TLS session
 * (nbd_tls.h). The handshake and transmission read and write through it
 * and never ask which one it is, except to learn whether a thread may send
 * without blocking (nbd_io_nonblock_ok).
 *
 * Layout. struct nbd_io is embedded in the connection: the descriptors,
 * the TLS session once STARTTLS succeeded (NULL before, fixed after), and
 * a read buffer of NBD_RBUF_SIZE bytes (rbuf[rpos..rlen) not yet
 * consumed), so small requests cost one read(2) for many; payloads of half
 * the buffer or more are read straight into the caller's buffer.
 *
 * Locking. None here. The read side (read, skip, the read buffer) is the
 * connection thread's; writes come from the connection thread during the
 * handshake, then from whichever thread holds the sender role (nbd_xmit.c).
 */
#ifndef UZRAM_NBD_IO_H
#define UZRAM_NBD_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "nbd_sock.h"
#include "nbd_tls.h"

#define NBD_RBUF_SIZE	(64u << 10)	/* the connection's read buffer */

struct nbd_io {
	struct nbd_sock sock;		/* the descriptors, below TLS */
	struct nbd_tls_session *tls;	/* set by STARTTLS, fixed afterwards */
	uint8_t *rbuf;			/* the read buffer ... */
	size_t rpos, rlen;		/* ... and what of it is unread */
};

/* Set io up on the descriptors (the caller closes them on error): 0/-errno. */
int nbd_io_open(struct nbd_io *io, int in_fd, int out_fd);
/* End TLS (close_notify if orderly) and free the session, if there is one. */
void nbd_io_end_tls(struct nbd_io *io, bool orderly);
/* Close the descriptors and free the read buffer. */
void nbd_io_close(struct nbd_io *io);

/* Exactly len bytes: 0, or -ECONNRESET at EOF (also in the middle), -errno. */
int nbd_io_read(struct nbd_io *io, void *buf, size_t len);
/* Read and discard len bytes. */
int nbd_io_skip(struct nbd_io *io, uint64_t len);
/* All of buf, blocking: 0 or -errno. */
int nbd_io_write(struct nbd_io *io, const void *buf, size_t len);
/*
 * One attempt at iov: the byte count or -errno; -EAGAIN only if nonblock
 * (never through TLS, see nbd_io_nonblock_ok), -EINTR: call again.
 */
ssize_t nbd_io_writev(struct nbd_io *io, const struct iovec *iov, int cnt,
		      bool nonblock);

/* STARTTLS: the TLS handshake on io's descriptors with the credentials t. */
int nbd_io_starttls(struct nbd_io *io, struct nbd_tls *t);

static inline bool nbd_io_is_tls(const struct nbd_io *io)
{
	return io->tls != NULL;
}

/* Bytes read from the client and not consumed yet. */
static inline size_t nbd_io_buffered(const struct nbd_io *io)
{
	return io->rlen - io->rpos;
}

/*
 * May a worker send without blocking? Only on a socket (MSG_DONTWAIT) and
 * without TLS (GnuTLS has one sender, the writer thread).
 */
static inline bool nbd_io_nonblock_ok(const struct nbd_io *io)
{
	return io->sock.out_sock && !io->tls;
}

/* Is the client on the network (TCP), not on a unix socket or stdio? */
static inline bool nbd_io_network(const struct nbd_io *io)
{
	return io->sock.network;
}

/* Reads and writes fail with -ETIMEDOUT after ms from now; 0: never. */
static inline void nbd_io_set_deadline(struct nbd_io *io, unsigned int ms)
{
	nbd_sock_set_deadline(&io->sock, ms);
}

/* Shutdown: the reader sees EOF once the bytes already sent are read. */
static inline void nbd_io_wake(struct nbd_io *io)
{
	nbd_sock_wake(&io->sock);
}

/* Cut the connection: blocked reads and writes return at once. */
static inline void nbd_io_cut(struct nbd_io *io)
{
	nbd_sock_cut(&io->sock);
}

#endif /* UZRAM_NBD_IO_H */
