/*
 * nbd_sock.h - a connection's descriptors, below TLS: plain blocking (or,
 * for a worker, non-blocking) reads and writes on the client's socket, or
 * on the pipes or terminal of `uzram serve --stdio`.
 *
 * Layout. struct nbd_sock is embedded in the connection (nbd_io.h): the
 * input and output descriptors (one socket, or stdin and stdout), what
 * they are, an eventfd that wakes a reader whose input is not a socket
 * (shutdown(2) wakes a socket's), another that wakes a writer whose output
 * is not a socket when the connection is cut, a non-blocking description
 * of its own of a pipe output (nbd_sock.c, "Cutting"), and the deadline of
 * the handshake (--handshake-timeout): until it is cleared, every read and
 * write waits with poll(2) for no longer than what is left of it and fails
 * with -ETIMEDOUT once it has passed, so the deadline covers the whole
 * handshake (TLS included, whose transport is this), not each read. No
 * memory of its own.
 *
 * Locking. None here: one thread reads (the connection thread) and one
 * thread at a time writes (nbd_xmit.c's sender role); wake and cut may be
 * called from any thread while both are blocked.
 */
#ifndef UZRAM_NBD_SOCK_H
#define UZRAM_NBD_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct nbd_sock {
	int in_fd, out_fd;	/* the same descriptor for a socket */
	bool in_sock, out_sock;	/* ... is a socket (else a pipe, file, tty) */
	bool out_pipe;		/* out_fd is a pipe (or FIFO) */
	bool network;		/* a TCP (not unix or stdio) client */
	int wake_fd;		/* eventfd waking a non-socket reader, or -1 */
	int cut_fd;		/* eventfd waking a non-socket writer at a cut, or -1 */
	int out_nb_fd;		/* a pipe out_fd opened again O_NONBLOCK, or -1 */
	uint64_t deadline;	/* CLOCK_MONOTONIC ms; 0 = none */
};

/*
 * Set k up on the descriptors (which stay the caller's to close on error):
 * 0 or -errno. A socket's send buffer is enlarged.
 */
int nbd_sock_open(struct nbd_sock *k, int in_fd, int out_fd);
/* Close the descriptors and the eventfd. */
void nbd_sock_close(struct nbd_sock *k);
/* Close in_fd and out_fd, once when they are the same. */
void nbd_sock_close_fds(int in_fd, int out_fd);

/* Reads and writes fail with -ETIMEDOUT after ms from now; 0: never. */
void nbd_sock_set_deadline(struct nbd_sock *k, unsigned int ms);

/* One read: the byte count, 0 at EOF or when nbd_sock_wake() woke it. */
ssize_t nbd_sock_read(struct nbd_sock *k, void *buf, size_t len);
/*
 * Until readable (1), timeout_ms passed (0; -1 waits forever) or -errno
 * (-ETIMEDOUT once the deadline passed).
 */
int nbd_sock_wait(struct nbd_sock *k, int timeout_ms);
/* One write: the byte count, -EAGAIN (only if nonblock) or -errno. */
ssize_t nbd_sock_write(struct nbd_sock *k, const void *buf, size_t len,
		       bool nonblock);
/*
 * One sendmsg(2) or writev(2) of iov: the byte count or -errno; -EAGAIN
 * only if nonblock; -EINTR: nothing was written, call again (also after a
 * wait for a descriptor that was set non-blocking to become writable).
 */
ssize_t nbd_sock_writev(struct nbd_sock *k, const struct iovec *iov, int cnt,
			bool nonblock);

/* Wake the reader: it sees EOF once the bytes already sent are read. */
void nbd_sock_wake(struct nbd_sock *k);
/*
 * Cut the connection: blocked reads and writes return at once, also a
 * writer on a pipe whose reader stopped reading (-EPIPE).
 */
void nbd_sock_cut(struct nbd_sock *k);

#endif /* UZRAM_NBD_SOCK_H */
