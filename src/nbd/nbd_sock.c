/*
 * nbd_sock.c - the raw descriptors of an NBD connection (nbd_sock.h):
 * send(2)/sendmsg(2) with MSG_NOSIGNAL on sockets, read(2)/write(2)/
 * writev(2) on pipes and terminals. A descriptor someone set non-blocking
 * (stdio may share its file description with another process) is waited
 * for with poll(2), so callers see blocking I/O either way.
 *
 * Waking. Shutdown must wake a connection thread blocked in a read: on a
 * socket, shutdown(SHUT_RD) makes the read return the bytes already
 * received and then EOF; on anything else, the reader polls its input and
 * an eventfd together, and a write to the eventfd is EOF once the input
 * has nothing ready.
 *
 * Cutting. A cut (nbd_server_abort, a protocol error) must also wake a
 * writer blocked on a client that stopped reading: shutdown(2) does on a
 * socket; any other output is written only after a poll(2) that also
 * watches a second eventfd, written by the cut, so that such a writer
 * never sleeps inside write(2). A pipe (--stdio) is written through a
 * non-blocking open file description of its own, got by opening
 * /proc/self/fd/N (the original may be shared with other processes, which
 * must not see O_NONBLOCK appear), or, when that fails, at most PIPE_BUF
 * bytes at a time after POLLOUT, which a pipe with room takes without
 * waiting. A terminal or a file is written as it comes.
 *
 * The deadline. While the handshake's deadline is set, a socket is written
 * with MSG_DONTWAIT and every wait is a poll(2) bounded by what is left of
 * the deadline; past it, reads and writes fail with -ETIMEDOUT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nbd_sock.h"

#define NBD_SNDBUF	(4u << 20)	/* asked for (net.core.wmem_max caps it) */

static bool fd_is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* A TCP (or any non-unix) socket: a client from the network. */
static bool fd_is_network(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	return getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
	       ss.ss_family != AF_UNIX;
}

/*
 * An output that is not a socket: the cut's eventfd, and for a pipe a
 * non-blocking description of its own (see "Cutting" above): 0 or -errno.
 */
static int out_open_plain(struct nbd_sock *k)
{
	struct stat st;
	char path[64];

	k->cut_fd = eventfd(0, EFD_CLOEXEC);
	if (k->cut_fd < 0)
		return -errno;
	k->out_pipe = fstat(k->out_fd, &st) == 0 && S_ISFIFO(st.st_mode);
	if (k->out_pipe) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", k->out_fd);
		k->out_nb_fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	}
	return 0;
}

int nbd_sock_open(struct nbd_sock *k, int in_fd, int out_fd)
{
	int ret;

	k->in_fd = in_fd;
	k->out_fd = out_fd;
	k->in_sock = fd_is_socket(in_fd);
	k->out_sock = fd_is_socket(out_fd);
	k->out_pipe = false;
	k->network = k->in_sock && fd_is_network(in_fd);
	k->wake_fd = k->cut_fd = k->out_nb_fd = -1;
	k->deadline = 0;
	if (!k->in_sock) {
		k->wake_fd = eventfd(0, EFD_CLOEXEC);
		if (k->wake_fd < 0)
			return -errno;
	}
	if (k->out_sock) {
		/* Room for a few big replies: workers then rarely hand off. */
		int sz = NBD_SNDBUF;
		setsockopt(out_fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	} else if ((ret = out_open_plain(k))) {
		if (k->wake_fd >= 0)
			close(k->wake_fd);
		return ret;
	}
	return 0;
}

void nbd_sock_close_fds(int in_fd, int out_fd)
{
	if (in_fd >= 0)
		close(in_fd);
	if (out_fd >= 0 && out_fd != in_fd)
		close(out_fd);
}

void nbd_sock_close(struct nbd_sock *k)
{
	nbd_sock_close_fds(k->in_fd, k->out_fd);
	if (k->wake_fd >= 0)
		close(k->wake_fd);
	if (k->cut_fd >= 0)
		close(k->cut_fd);
	if (k->out_nb_fd >= 0)
		close(k->out_nb_fd);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void nbd_sock_set_deadline(struct nbd_sock *k, unsigned int ms)
{
	k->deadline = ms ? now_ms() + ms : 0;
}

/*
 * A poll(2) timeout: timeout_ms (-1: forever), shortened to what is left
 * of the deadline; -ETIMEDOUT once it has passed.
 */
static int time_left(const struct nbd_sock *k, int timeout_ms)
{
	uint64_t now, left;

	if (!k->deadline)
		return timeout_ms;
	now = now_ms();
	if (now >= k->deadline)
		return -ETIMEDOUT;
	left = k->deadline - now;
	if (left > INT_MAX)
		left = INT_MAX;
	return timeout_ms >= 0 && (uint64_t)timeout_ms < left ? timeout_ms : (int)left;
}

/* poll(2) p until something is ready (> 0): -ETIMEDOUT at the deadline. */
static int poll_deadline(const struct nbd_sock *k, struct pollfd *p, nfds_t n)
{
	for (;;) {
		int ms = time_left(k, -1), ret;

		if (ms == -ETIMEDOUT)
			return ms;
		ret = poll(p, n, ms);
		if (ret > 0)
			return ret;
		if (ret < 0 && errno != EINTR)
			return -errno;
	}
}

/* Wait until fd is ready for events (after EAGAIN): 1 or -errno. */
static int wait_fd(const struct nbd_sock *k, int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll_deadline(k, &p, 1);
}

/*
 * Until an output that is not a socket takes bytes (1), or it was cut
 * (-EPIPE) or the deadline passed (-ETIMEDOUT); -EAGAIN at once if
 * nonblock and it is full.
 */
static int plain_wait(const struct nbd_sock *k, bool nonblock)
{
	struct pollfd p[2] = {
		{ .fd = k->out_fd, .events = POLLOUT },
		{ .fd = k->cut_fd, .events = POLLIN },
	};
	int ret = nonblock ? poll(p, 2, 0) : poll_deadline(k, p, 2);

	if (ret < 0)
		return nonblock ? (errno == EINTR ? -EAGAIN : -errno) : ret;
	if (p[1].revents)
		return -EPIPE;
	return ret ? 1 : -EAGAIN;
}

/* The first bytes of iov, at most PIPE_BUF of them, in one write(2). */
static ssize_t write_pipe_buf(int fd, const struct iovec *iov, int cnt)
{
	for (int i = 0; i < cnt; i++)
		if (iov[i].iov_len)
			return write(fd, iov[i].iov_base,
				     iov[i].iov_len < PIPE_BUF ? iov[i].iov_len : PIPE_BUF);
	return 0;
}

/*
 * One write of iov to an output that is not a socket, never asleep in
 * write(2) (see "Cutting" above): the byte count or -errno.
 */
static ssize_t plain_writev(struct nbd_sock *k, const struct iovec *iov,
			    int cnt, bool nonblock)
{
	bool own_nb = k->out_nb_fd >= 0;
	int ret;

	for (;;) {
		ssize_t n;

		/* Without a non-blocking description, wait for room first. */
		if (!own_nb && (ret = plain_wait(k, nonblock)) < 0)
			return ret;
		if (own_nb)
			n = writev(k->out_nb_fd, iov, cnt);
		else if (k->out_pipe)
			n = write_pipe_buf(k->out_fd, iov, cnt);
		else
			n = writev(k->out_fd, iov, cnt);
		if (n >= 0)
			return n;
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if (own_nb && errno != EINTR && (ret = plain_wait(k, nonblock)) < 0)
			return ret;
	}
}

ssize_t nbd_sock_write(struct nbd_sock *k, const void *buf, size_t len,
		       bool nonblock)
{
	int flags = MSG_NOSIGNAL | (nonblock || k->deadline ? MSG_DONTWAIT : 0);

	if (!k->out_sock) {
		struct iovec v = { .iov_base = (void *)buf, .iov_len = len };

		return plain_writev(k, &v, 1, nonblock);
	}
	for (;;) {
		ssize_t n = send(k->out_fd, buf, len, flags);
		int ret;

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if (nonblock)
			return -EAGAIN;
		ret = wait_fd(k, k->out_fd, POLLOUT);
		if (ret < 0)
			return ret;
	}
}

ssize_t nbd_sock_writev(struct nbd_sock *k, const struct iovec *iov, int cnt,
			bool nonblock)
{
	struct msghdr m = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt };
	ssize_t n;

	if (!k->out_sock)
		return plain_writev(k, iov, cnt, nonblock);
	n = sendmsg(k->out_fd, &m, MSG_NOSIGNAL | (nonblock ? MSG_DONTWAIT : 0));
	if (n >= 0)
		return n;
	if (!nonblock && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		struct pollfd p = { .fd = k->out_fd, .events = POLLOUT };
		poll(&p, 1, -1);	/* a socket set non-blocking: a cut wakes it */
		return -EINTR;
	}
	return -errno;
}

/*
 * Wait for input or the eventfd: 1 to read, 0 when woken with nothing left,
 * -ETIMEDOUT at the deadline.
 */
static int wait_input(struct nbd_sock *k)
{
	struct pollfd p[2] = {
		{ .fd = k->in_fd, .events = POLLIN },
		{ .fd = k->wake_fd, .events = POLLIN },
	};
	int ret = poll_deadline(k, p, k->wake_fd >= 0 ? 2 : 1);

	if (ret < 0)
		return ret;
	if (k->wake_fd >= 0 && p[1].revents &&
	    !(p[0].revents & (POLLIN | POLLHUP)))
		return 0;	/* shutdown, and nothing left to read */
	return 1;
}

ssize_t nbd_sock_read(struct nbd_sock *k, void *buf, size_t len)
{
	for (;;) {
		ssize_t n;
		int ret;

		if (k->wake_fd >= 0 || k->deadline) {
			ret = wait_input(k);
			if (ret <= 0)
				return ret;
		}
		n = read(k->in_fd, buf, len);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		ret = wait_fd(k, k->in_fd, POLLIN);
		if (ret < 0)
			return ret;
	}
}

int nbd_sock_wait(struct nbd_sock *k, int timeout_ms)
{
	struct pollfd p[2] = {
		{ .fd = k->in_fd, .events = POLLIN },
		{ .fd = k->wake_fd, .events = POLLIN },
	};
	int n, ms;

	do {
		ms = time_left(k, timeout_ms);
		if (ms == -ETIMEDOUT)
			return ms;
		n = poll(p, k->wake_fd >= 0 ? 2 : 1, ms);
	} while ((n < 0 && errno == EINTR) || (n == 0 && ms != timeout_ms));
	return n < 0 ? -errno : n > 0;
}

static void wake_write(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) < 0) {
		/* an eventfd write only fails at its counter's limit */
	}
}

void nbd_sock_wake(struct nbd_sock *k)
{
	if (k->in_sock)
		shutdown(k->in_fd, SHUT_RD);
	else
		wake_write(k->wake_fd);
}

void nbd_sock_cut(struct nbd_sock *k)
{
	if (k->out_sock)
		shutdown(k->out_fd, SHUT_RDWR);
	if (k->in_sock && k->in_fd != k->out_fd)
		shutdown(k->in_fd, SHUT_RDWR);
	if (k->wake_fd >= 0)
		wake_write(k->wake_fd);
	if (k->cut_fd >= 0)
		wake_write(k->cut_fd);
}
