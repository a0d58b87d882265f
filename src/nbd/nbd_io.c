/*
 * nbd_io.c - a connection's byte stream (nbd_io.h): buffered reads and
 * whole writes for the handshake, the read side of transmission, and one
 * writev per attempt for the output queue, each through TLS once STARTTLS
 * succeeded and on the descriptors before.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nbd_io.h"
#include "nbd_proto.h"

int nbd_io_open(struct nbd_io *io, int in_fd, int out_fd)
{
	int ret;

	io->tls = NULL;
	io->rpos = io->rlen = 0;
	io->rbuf = malloc(NBD_RBUF_SIZE);
	if (!io->rbuf)
		return -ENOMEM;
	ret = nbd_sock_open(&io->sock, in_fd, out_fd);
	if (ret) {
		free(io->rbuf);
		io->rbuf = NULL;
	}
	return ret;
}

void nbd_io_end_tls(struct nbd_io *io, bool orderly)
{
	if (!io->tls)
		return;
	nbd_tls_end(io->tls, orderly);
	io->tls = NULL;
}

void nbd_io_close(struct nbd_io *io)
{
	nbd_sock_close(&io->sock);
	free(io->rbuf);
	io->rbuf = NULL;
}

int nbd_io_starttls(struct nbd_io *io, struct nbd_tls *t)
{
	return nbd_tls_start(t, &io->sock, &io->tls);
}

/* One read into buf; 0 at EOF or when shutdown wakes the reader. */
static ssize_t io_read_some(struct nbd_io *io, void *buf, size_t len)
{
	return io->tls ? nbd_tls_recv(io->tls, buf, len)
		       : nbd_sock_read(&io->sock, buf, len);
}

/* Refill the empty read buffer: 0, -ECONNRESET at EOF, or -errno. */
static int io_fill(struct nbd_io *io)
{
	ssize_t n = io_read_some(io, io->rbuf, NBD_RBUF_SIZE);

	if (n <= 0)
		return n < 0 ? (int)n : -ECONNRESET;
	io->rpos = 0;
	io->rlen = (size_t)n;
	return 0;
}

/* Take up to len buffered bytes into d; the count taken. */
static size_t io_take(struct nbd_io *io, uint8_t *d, size_t len)
{
	size_t k = UZ_MIN(io->rlen - io->rpos, len);

	memcpy(d, io->rbuf + io->rpos, k);
	io->rpos += k;
	return k;
}

int nbd_io_read(struct nbd_io *io, void *buf, size_t len)
{
	uint8_t *d = buf;
	size_t k = io_take(io, d, len);

	d += k;
	len -= k;
	while (len) {
		ssize_t n;

		if (len >= NBD_RBUF_SIZE / 2) {	/* big payloads: no copy */
			n = io_read_some(io, d, len);
			if (n <= 0)
				return n < 0 ? (int)n : -ECONNRESET;
			d += n;
			len -= (size_t)n;
			continue;
		}
		n = io_fill(io);
		if (n)
			return (int)n;
		k = io_take(io, d, len);
		d += k;
		len -= k;
	}
	return 0;
}

int nbd_io_skip(struct nbd_io *io, uint64_t len)
{
	while (len) {
		size_t k = io->rlen - io->rpos;

		if (!k) {
			int ret = io_fill(io);

			if (ret)
				return ret;
			continue;
		}
		k = (size_t)UZ_MIN((uint64_t)k, len);
		io->rpos += k;
		len -= k;
	}
	return 0;
}

int nbd_io_write(struct nbd_io *io, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (io->tls) {
		struct iovec v = { .iov_base = (void *)buf, .iov_len = len };
		ssize_t n = nbd_tls_sendv(io->tls, &v, 1);

		return n < 0 ? (int)n : 0;
	}
	while (len) {
		ssize_t n = nbd_sock_write(&io->sock, p, len, false);

		if (n < 0)
			return (int)n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t nbd_io_writev(struct nbd_io *io, const struct iovec *iov, int cnt,
		      bool nonblock)
{
	if (io->tls)			/* only the writer, blocking */
		return nbd_tls_sendv(io->tls, iov, cnt);
	return nbd_sock_writev(&io->sock, iov, cnt, nonblock);
}
