/*
 * nbd.c - the NBD server (nbd.h): its lifetime, and each connection's,
 * from the descriptors serve.c hands over to their close. The layers below,
 * bottom to top: nbd_proto.h (the wire), nbd_sock.c (descriptors),
 * nbd_tls.c (GnuTLS), nbd_io.c (the byte stream, TLS or not), nbd_buf.c
 * (request slots and buffers), nbd_handshake.c (option haggling) and
 * nbd_xmit.c (requests, the worker pool, replies).
 *
 * Threads. Each connection is served by one connection thread (spawned, or
 * the caller's in nbd_handle_connection): it runs the handshake with plain
 * blocking I/O, then becomes the request reader of nbd_transmission().
 * The worker pool and the writer thread belong to nbd_xmit.c.
 *
 * Locking. srv->lock guards the connection list and count; shutdown walks
 * the list under it and wakes each reader with shutdown(SHUT_RD) (or the
 * connection's eventfd when the input is not a socket), so a descriptor is
 * never touched after its connection closed it: a connection leaves the
 * list before closing its descriptors.
 *
 * Limits. At most max_connections connections (--max-connections; more
 * are closed at once), and of them at most max_handshakes not through the
 * handshake yet (--max-handshakes; more are closed at once too), so that
 * clients that connect and say nothing cannot take every slot; each must
 * finish the handshake, STARTTLS included, within handshake_timeout_ms of
 * being handed over (--handshake-timeout: a deadline on its byte stream,
 * nbd_sock.c) or is closed. Each connection costs a thread, its 64 KiB
 * read buffer (nbd_io.h), its slots, and their buffers (nbd_buf.c; see
 * docs/security.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "iostat.h"
#include "nbd_buf.h"
#include "nbd_handshake.h"
#include "nbd_xmit.h"

#define NBD_CONN_STACK	(1u << 20)	/* a connection thread's stack */

/* ---- connections ---- */

static struct nbd_conn *conn_new(struct nbd_server *s, int in_fd, int out_fd)
{
	struct nbd_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (nbd_io_open(&c->io, in_fd, out_fd)) {
		free(c);
		return NULL;
	}
	c->srv = s;
	c->tls_required = s->tls_mode == NBD_TLS_REQUIRE &&
			  (nbd_io_network(&c->io) || !s->tls_local_plain);
	c->meta_export = -1;
	nbd_io_set_deadline(&c->io, s->handshake_ms);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	pthread_mutex_init(&c->out_lock, NULL);
	pthread_cond_init(&c->out_cond, NULL);
	nbd_slots_init(c);
	return c;
}

/*
 * Put c on the server's list, counted as in the handshake: 0, or -EAGAIN
 * if shutting down or full, -EBUSY if max_handshakes are in the handshake.
 */
static int conn_register(struct nbd_server *s, struct nbd_conn *c)
{
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	if (atomic_load(&s->shutting_down) || s->nconns >= s->max_conns)
		ret = -EAGAIN;
	else if (s->nhandshakes >= s->max_handshakes)
		ret = -EBUSY;
	if (!ret) {
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->nconns++;
		s->nhandshakes++;
		c->in_handshake = true;
	}
	pthread_mutex_unlock(&s->lock);
	if (!ret)
		iostat_conn(s->stats, 1);
	return ret;
}

/*
 * c is through the handshake, or failed it: its byte stream loses the
 * deadline before transmission begins (no writer thread exists yet), and
 * it is counted out of nhandshakes, once. in_handshake is the connection
 * thread's (set before that thread starts).
 */
static void conn_handshake_over(struct nbd_conn *c)
{
	struct nbd_server *s = c->srv;

	if (!c->in_handshake)
		return;
	nbd_io_set_deadline(&c->io, 0);
	pthread_mutex_lock(&s->lock);
	s->nhandshakes--;
	c->in_handshake = false;
	pthread_mutex_unlock(&s->lock);
}

/* Close and free what c holds. */
static void conn_release(struct nbd_conn *c)
{
	nbd_io_end_tls(&c->io, !atomic_load(&c->killed));
	uzram_close(c->dev);
	nbd_io_close(&c->io);
	nbd_slots_free(c);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->out_lock);
	pthread_cond_destroy(&c->out_cond);
	free(c);
}

/* Leave the list, close and free c; then count it out (touching s last). */
static void conn_destroy(struct nbd_conn *c)
{
	struct nbd_server *s = c->srv;

	conn_handshake_over(c);
	pthread_mutex_lock(&s->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&s->lock);
	conn_release(c);
	iostat_conn(s->stats, -1);

	pthread_mutex_lock(&s->lock);
	s->nconns--;
	pthread_cond_broadcast(&s->cond);
	nbd_server_signal(s);
	pthread_mutex_unlock(&s->lock);
}

static int conn_serve(struct nbd_conn *c)
{
	int ret = nbd_handshake(c);

	conn_handshake_over(c);
	if (ret == 1)
		ret = nbd_transmission(c);
	conn_destroy(c);
	return ret;
}

/* A connection on the descriptors, counted in s; they are closed on error. */
static int conn_admit(struct nbd_server *s, int in_fd, int out_fd,
		      struct nbd_conn **out)
{
	struct nbd_conn *c = conn_new(s, in_fd, out_fd);
	int ret;

	if (!c) {
		nbd_sock_close_fds(in_fd, out_fd);
		return -ENOMEM;
	}
	ret = conn_register(s, c);
	if (ret) {
		conn_release(c);
		return ret;
	}
	*out = c;
	return 0;
}

int nbd_handle_connection(struct nbd_server *s, int in_fd, int out_fd)
{
	struct nbd_conn *c;
	int ret = conn_admit(s, in_fd, out_fd, &c);

	return ret ? ret : conn_serve(c);
}

static void *conn_thread(void *arg)
{
	pthread_setname_np(pthread_self(), "nbd-conn");
	conn_serve(arg);
	return NULL;
}

int nbd_server_spawn(struct nbd_server *s, int in_fd, int out_fd)
{
	struct nbd_conn *c;
	pthread_attr_t attr;
	pthread_t tid;
	int ret = conn_admit(s, in_fd, out_fd, &c);

	if (ret)
		return ret;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, NBD_CONN_STACK);
	ret = pthread_create(&tid, &attr, conn_thread, c);
	pthread_attr_destroy(&attr);
	if (ret) {
		conn_destroy(c);
		return -ret;
	}
	return 0;
}

/* ---- the server ---- */

/* Take the options; -EINVAL when TLS is asked for without credentials. */
static int server_configure(struct nbd_server *s,
			    const struct nbd_server_opts *opts)
{
	s->read_only = opts->read_only;
	s->max_conns = opts->max_connections ? opts->max_connections : NBD_MAX_CONNECTIONS;
	s->max_handshakes = opts->max_handshakes;
	if (!s->max_handshakes)
		s->max_handshakes = s->max_conns / 4 > NBD_MIN_HANDSHAKES ?
				    s->max_conns / 4 : NBD_MIN_HANDSHAKES;
	s->handshake_ms = opts->handshake_timeout_ms;
	s->tls_mode = opts->tls_creds ? opts->tls : NBD_TLS_OFF;
	s->tls_creds = opts->tls_creds;
	s->tls_local_plain = opts->tls_local_plain;
	s->keep_buffers = opts->keep_buffers;
	s->stats = opts->stats;
	if (opts->tls != NBD_TLS_OFF && !opts->tls_creds)
		return -EINVAL;
	s->nthreads = opts->threads;
	if (!s->nthreads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		s->nthreads = n > 0 ? (unsigned int)n : 1;
	}
	return 0;
}

/* The zeroes of NO_HOLE writes and the event descriptor: 0 or -errno. */
static int server_map(struct nbd_server *s)
{
	/* Read-only zeroes: every page maps the shared zero page. */
	void *zeroes = mmap(NULL, NBD_ZERO_CHUNK, PROT_READ,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ret;

	s->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (zeroes == MAP_FAILED || s->event_fd < 0) {
		ret = -errno;
		if (zeroes != MAP_FAILED)
			munmap(zeroes, NBD_ZERO_CHUNK);
		if (s->event_fd >= 0)
			close(s->event_fd);
		return ret;
	}
	s->zeroes = zeroes;
	return 0;
}

int nbd_server_new(struct uzram *z, const struct nbd_server_opts *opts,
		   struct nbd_server **out)
{
	struct nbd_server *s = calloc(1, sizeof(*s));
	int ret;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->z = z;
	ret = server_configure(s, opts);
	if (!ret)
		ret = server_map(s);
	if (ret) {
		free(s);
		return ret;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	pthread_mutex_init(&s->buf_lock, NULL);
	pthread_mutex_init(&s->qlock, NULL);
	pthread_cond_init(&s->qcond, NULL);
	ret = nbd_pool_start(s);
	if (ret) {
		nbd_server_free(s);
		return ret;
	}
	*out = s;
	return 0;
}

unsigned int nbd_server_connections(struct nbd_server *s)
{
	unsigned int n;

	pthread_mutex_lock(&s->lock);
	n = s->nconns;
	pthread_mutex_unlock(&s->lock);
	return n;
}

unsigned int nbd_server_handshakes(struct nbd_server *s)
{
	unsigned int n;

	pthread_mutex_lock(&s->lock);
	n = s->nhandshakes;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int nbd_server_event_fd(struct nbd_server *s)
{
	return s->event_fd;
}

int nbd_server_trim(struct nbd_server *s)
{
	return nbd_buf_trim(s);
}

void nbd_server_shutdown(struct nbd_server *s)
{
	pthread_mutex_lock(&s->lock);
	atomic_store(&s->shutting_down, true);
	for (struct nbd_conn *c = s->conns; c; c = c->next)
		nbd_io_wake(&c->io);
	pthread_mutex_unlock(&s->lock);
}

/* CLOCK_REALTIME, timeout seconds from now (for pthread_cond_timedwait). */
static void deadline(struct timespec *ts, double timeout)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += (time_t)timeout;
	ts->tv_nsec += (long)((timeout - (double)(time_t)timeout) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

bool nbd_server_wait(struct nbd_server *s, double timeout)
{
	struct timespec ts;
	bool idle;

	deadline(&ts, timeout);
	pthread_mutex_lock(&s->lock);
	while (s->nconns && pthread_cond_timedwait(&s->cond, &s->lock, &ts) != ETIMEDOUT)
		;
	idle = s->nconns == 0;
	pthread_mutex_unlock(&s->lock);
	return idle;
}

void nbd_server_abort(struct nbd_server *s)
{
	pthread_mutex_lock(&s->lock);
	atomic_store(&s->shutting_down, true);
	for (struct nbd_conn *c = s->conns; c; c = c->next) {
		nbd_io_wake(&c->io);
		nbd_conn_kill(c);
	}
	pthread_mutex_unlock(&s->lock);
}

void nbd_server_free(struct nbd_server *s)
{
	if (!s)
		return;
	nbd_pool_stop(s);
	nbd_buf_cache_free(s);
	pthread_mutex_destroy(&s->buf_lock);
	munmap((void *)s->zeroes, NBD_ZERO_CHUNK);
	close(s->event_fd);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->qlock);
	pthread_cond_destroy(&s->qcond);
	free(s);
}
