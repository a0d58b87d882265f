/*
 * nbd_xmit.c - the NBD transmission phase: requests read in order by the
 * connection thread, executed by a worker pool shared by all connections,
 * replies sent in any order.
 *
 * Threads.
 *   reader   (the connection thread) reads a request header, checks it,
 *            takes a slot, reads a WRITE payload into the slot's buffer and
 *            queues the slot for the workers, or, while at least as many
 *            connections are busy as there are workers, executes it
 *            itself (run_inline: the connections then keep the CPUs busy
 *            without a handoff per request). A request with an error
 *            (bad range, flag, command) is answered by the reader itself;
 *            its WRITE payload is read and discarded (up to 32 MiB; a
 *            larger one drops the connection). A request is queued only
 *            once wholly received, so a client that vanishes in the middle
 *            of a write changes nothing.
 *   workers  (--threads, shared) execute a request against the device and
 *            queue its reply on the connection's output queue; if nobody
 *            is sending, the worker becomes the sender and sends the queue
 *            without blocking (MSG_DONTWAIT), several replies per
 *            sendmsg(2) when they pile up. What the socket does not take
 *            is left to the writer. A worker never blocks on a client.
 *   writer   (one per connection, started the first time it is needed,
 *            so an idle connection costs one thread) sends the output
 *            queue with blocking writes when the socket was full, and
 *            everything on TLS connections and pipes. A client that does
 *            not read its replies stalls only its own writer, then its own
 *            reader (no free slot).
 *
 * Locking. c->lock: the free slots, inflight and buf_bytes (nbd_buf.c;
 * the reader waits on c->cond for a slot or for the drain). c->out_lock:
 * the output queue, the sender role (sending, writer_wanted) and dead; one
 * thread at a time is the sender, so the bytes of replies never
 * interleave, and it drops out_lock only around the system call.
 * srv->qlock: the work queue. srv->buf_lock: the buffer cache (a leaf,
 * taken under c->lock). No other two are nested, except out_lock inside
 * srv->lock (nbd_server_abort).
 *
 * Buffers: each request slot keeps its payload buffer (nbd_buf.c); the
 * reader takes a slot before it reads a WRITE payload, whoever sent the
 * reply gives it back. Reads and writes go through the connection's byte
 * stream (nbd_io.h), which alone knows whether TLS is on.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "iostat.h"
#include "nbd_buf.h"
#include "nbd_xmit.h"

#define NBD_SEND_IOV	64		/* iovecs per sendmsg(2) */
#define NBD_BUSY_MS	10		/* a connection is busy this long */
#define NBD_WRITER_STACK (256u << 10)	/* a writer thread's stack */

/* A library -errno as the NBD error sent to clients. */
static uint32_t nbd_errno(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return 0;
	case EPERM:
	case EROFS:
	case EACCES:
		return NBD_EPERM;
	case EINVAL:
	case ERANGE:
		return NBD_EINVAL;
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
	case ENOMEM:	/* mem_limit reached: the device is full */
		return NBD_ENOSPC;
	case EOVERFLOW:
		return NBD_EOVERFLOW;
	case ENOTSUP:
		return NBD_ENOTSUP;
	case ESHUTDOWN:
		return NBD_ESHUTDOWN;
	default:
		return NBD_EIO;
	}
}

/* ---- replies ---- */

static void reply_simple(struct nbd_req *r, uint32_t err)
{
	nbd_put32(r->hdr, NBD_SIMPLE_REPLY_MAGIC);
	nbd_put32(r->hdr + 4, err);
	nbd_put64(r->hdr + 8, r->cookie);
	r->iov[0].iov_base = r->hdr;
	r->iov[0].iov_len = 16;
	r->iov_cnt = 1;
	r->iov_idx = 0;
}

/* The 20-byte header of the only (DONE) chunk of a structured reply. */
static void reply_chunk(struct nbd_req *r, uint16_t type, uint32_t len)
{
	nbd_put32(r->hdr, NBD_STRUCTURED_REPLY_MAGIC);
	nbd_put16(r->hdr + 4, NBD_REPLY_FLAG_DONE);
	nbd_put16(r->hdr + 6, type);
	nbd_put64(r->hdr + 8, r->cookie);
	nbd_put32(r->hdr + 16, len);
	r->iov_cnt = 1;
	r->iov_idx = 0;
}

static void reply_error(struct nbd_conn *c, struct nbd_req *r, uint32_t err)
{
	if (c->structured && (r->type == NBD_CMD_READ ||
			      r->type == NBD_CMD_BLOCK_STATUS)) {
		reply_chunk(r, NBD_REPLY_TYPE_ERROR, 6);
		nbd_put32(r->hdr + 20, err);
		nbd_put16(r->hdr + 24, 0);
		r->iov[0].iov_base = r->hdr;
		r->iov[0].iov_len = 26;
	} else {
		reply_simple(r, err);
	}
}

/* ---- the write side ---- */

static void conn_kill_locked(struct nbd_conn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	atomic_store(&c->killed, true);
	nbd_io_cut(&c->io);
	pthread_cond_broadcast(&c->out_cond);
}

void nbd_conn_kill(struct nbd_conn *c)
{
	pthread_mutex_lock(&c->out_lock);
	conn_kill_locked(c);
	pthread_mutex_unlock(&c->out_lock);
}

/* Take every queued reply off the output queue into *done (out_lock held). */
static void outq_drop_all(struct nbd_conn *c, struct nbd_req **done)
{
	while (c->outq) {
		struct nbd_req *r = c->outq;
		c->outq = r->next;
		r->next = *done;
		*done = r;
	}
	c->outq_tail = NULL;
}

/* Account n sent bytes to the replies at the head of the queue. */
static void outq_advance(struct nbd_conn *c, size_t n, struct nbd_req **done)
{
	while (c->outq) {
		struct nbd_req *r = c->outq;

		while (r->iov_idx < r->iov_cnt) {
			struct iovec *v = &r->iov[r->iov_idx];
			if (n < v->iov_len) {
				v->iov_base = (uint8_t *)v->iov_base + n;
				v->iov_len -= n;
				return;
			}
			n -= v->iov_len;
			v->iov_len = 0;
			r->iov_idx++;
		}
		c->outq = r->next;	/* all of r is sent */
		if (!c->outq)
			c->outq_tail = NULL;
		r->next = *done;
		*done = r;
	}
}

/*
 * Send the output queue, as many replies per sendmsg(2) as are queued
 * (replies finished while one call is under way go out with the next).
 * Called by the sender of the moment, with out_lock held (dropped around
 * the system call). Returns 0 with the queue empty, -EAGAIN (nonblock: the
 * socket is full) or -errno; sent replies are moved to *done.
 */
static int outq_send(struct nbd_conn *c, bool nonblock, struct nbd_req **done)
{
	while (c->outq) {
		struct iovec iov[NBD_SEND_IOV];
		ssize_t n;
		int cnt = 0;

		if (c->dead) {
			outq_drop_all(c, done);
			return -EPIPE;
		}
		for (struct nbd_req *r = c->outq; r && cnt + 2 <= NBD_SEND_IOV; r = r->next)
			for (int i = r->iov_idx; i < r->iov_cnt; i++)
				if (r->iov[i].iov_len)
					iov[cnt++] = r->iov[i];
		pthread_mutex_unlock(&c->out_lock);
		n = nbd_io_writev(&c->io, iov, cnt, nonblock);
		pthread_mutex_lock(&c->out_lock);
		if (n == -EINTR)
			continue;
		if (n == -EAGAIN || n == -EWOULDBLOCK)
			return -EAGAIN;
		if (n < 0)
			return (int)n;
		outq_advance(c, (size_t)n, done);
	}
	return 0;
}

static void put_all(struct nbd_conn *c, struct nbd_req *done)
{
	while (done) {
		struct nbd_req *r = done;
		done = r->next;
		nbd_slot_put(c, r);
	}
}

static int writer_start(struct nbd_conn *c);

/*
 * Queue r's reply. If nobody is sending, this thread becomes the sender and
 * sends without blocking; what the socket does not take is left to the
 * writer thread. A worker never blocks on a client.
 */
static void conn_send(struct nbd_conn *c, struct nbd_req *r)
{
	struct nbd_req *done = NULL;
	int ret;

	pthread_mutex_lock(&c->out_lock);
	r->next = NULL;
	if (c->outq_tail)
		c->outq_tail->next = r;
	else
		c->outq = r;
	c->outq_tail = r;
	if (c->sending) {
		pthread_mutex_unlock(&c->out_lock);
		return;			/* the sender takes it along */
	}
	c->sending = true;
	/* A worker must not block: the writer sends to pipes and, as TLS
	 * allows one sender, everything on a TLS connection. */
	ret = nbd_io_nonblock_ok(&c->io) ? outq_send(c, true, &done) : -EAGAIN;
	if (ret == -EAGAIN && !c->dead && (c->writer_started || writer_start(c) == 0)) {
		c->writer_wanted = true;	/* stays the sender */
		pthread_cond_signal(&c->out_cond);
	} else {
		if (ret)
			conn_kill_locked(c);
		outq_drop_all(c, &done);	/* only when dead */
		c->sending = false;
	}
	pthread_mutex_unlock(&c->out_lock);
	put_all(c, done);
}

/* The writer: sends with blocking writes what conn_send could not. */
static void *writer_main(void *arg)
{
	struct nbd_conn *c = arg;

	pthread_setname_np(pthread_self(), "nbd-writer");

	pthread_mutex_lock(&c->out_lock);
	for (;;) {
		struct nbd_req *done = NULL;

		while (!c->writer_wanted && !c->writer_stop)
			pthread_cond_wait(&c->out_cond, &c->out_lock);
		if (!c->writer_wanted)
			break;
		if (outq_send(c, false, &done))
			conn_kill_locked(c);
		outq_drop_all(c, &done);	/* only when dead */
		c->writer_wanted = false;
		c->sending = false;
		pthread_mutex_unlock(&c->out_lock);
		put_all(c, done);
		pthread_mutex_lock(&c->out_lock);
	}
	pthread_mutex_unlock(&c->out_lock);
	return NULL;
}

/* Start c's writer (out_lock held); without it the connection is cut. */
static int writer_start(struct nbd_conn *c)
{
	pthread_attr_t attr;
	int ret;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, NBD_WRITER_STACK);
	ret = pthread_create(&c->writer, &attr, writer_main, c);
	pthread_attr_destroy(&attr);
	if (ret)
		return -ret;
	c->writer_started = true;
	return 0;
}

/* ---- execution ---- */

static uint32_t alloc_flags(int state)
{
	switch (state) {
	case UZRAM_PAGE_UNWRITTEN:
		return NBD_STATE_HOLE | NBD_STATE_ZERO;
	case UZRAM_PAGE_ZERO:
		return NBD_STATE_ZERO;
	default:
		return 0;
	}
}

/* Does the whole range read as never written (a hole)? */
static bool range_is_hole(struct nbd_conn *c, uint64_t off, uint64_t len)
{
	uint64_t end = off + len;

	for (uint64_t p = off; p < end; p = (p | (UZRAM_PAGE_SIZE - 1)) + 1)
		if (uzram_page_state(c->dev, p) != UZRAM_PAGE_UNWRITTEN)
			return false;
	return true;
}

static uint32_t exec_read(struct nbd_conn *c, struct nbd_req *r)
{
	int ret;

	if (c->structured && range_is_hole(c, r->offset, r->len)) {
		reply_chunk(r, NBD_REPLY_TYPE_OFFSET_HOLE, 12);
		nbd_put64(r->hdr + 20, r->offset);
		nbd_put32(r->hdr + 28, r->len);
		r->iov[0].iov_base = r->hdr;
		r->iov[0].iov_len = 32;
		return 0;
	}
	ret = uzram_read(c->dev, r->buf, r->offset, r->len);
	if (ret) {
		reply_error(c, r, nbd_errno(ret));
		return nbd_errno(ret);
	}
	if (c->structured) {
		reply_chunk(r, NBD_REPLY_TYPE_OFFSET_DATA, 8 + r->len);
		nbd_put64(r->hdr + 20, r->offset);
		r->iov[0].iov_base = r->hdr;
		r->iov[0].iov_len = 28;
	} else {
		reply_simple(r, 0);
	}
	r->iov[1].iov_base = r->buf;
	r->iov[1].iov_len = r->len;
	r->iov_cnt = 2;
	return 0;
}

/*
 * The base:allocation extent at *pos: pages of one state, up to end. Its
 * flags go to *fl and *pos moves to its end; 0, or a page state's -errno.
 */
static int extent_at(struct nbd_conn *c, uint64_t *pos, uint64_t end,
		     uint32_t *fl)
{
	int st = uzram_page_state(c->dev, *pos);
	uint64_t p;

	if (st < 0)
		return st;
	*fl = alloc_flags(st);
	p = (*pos | (UZRAM_PAGE_SIZE - 1)) + 1;
	while (p < end) {
		st = uzram_page_state(c->dev, p);
		if (st < 0 || alloc_flags(st) != *fl)
			break;
		p += UZRAM_PAGE_SIZE;
	}
	*pos = p > end ? end : p;
	return 0;
}

/* base:allocation extents, coalesced per 4 KiB page state. */
static uint32_t exec_block_status(struct nbd_conn *c, struct nbd_req *r)
{
	unsigned int max = r->flags & NBD_CMD_FLAG_REQ_ONE ? 1 : NBD_MAX_EXTENTS;
	uint64_t pos = r->offset, end = r->offset + r->len;
	unsigned int n = 0;

	while (pos < end && n < max) {
		uint64_t start = pos;
		uint32_t fl;
		int ret = extent_at(c, &pos, end, &fl);

		if (ret) {
			reply_error(c, r, nbd_errno(ret));
			return nbd_errno(ret);
		}
		nbd_put32(r->buf + 8 * n, (uint32_t)(pos - start));
		nbd_put32(r->buf + 8 * n + 4, fl);
		n++;
	}
	reply_chunk(r, NBD_REPLY_TYPE_BLOCK_STATUS, 4 + 8 * n);
	nbd_put32(r->hdr + 20, NBD_META_ID_BASE_ALLOCATION);
	r->iov[0].iov_base = r->hdr;
	r->iov[0].iov_len = 24;
	r->iov[1].iov_base = r->buf;
	r->iov[1].iov_len = 8 * (size_t)n;
	r->iov_cnt = 2;
	return 0;
}

/* NO_HOLE: store zero pages (same-filled: no memory, state ZERO). */
static int write_zero_pages(struct nbd_conn *c, uint64_t off, uint64_t len)
{
	int ret = 0;

	while (len && !ret) {
		size_t n = (size_t)UZ_MIN(len, (uint64_t)NBD_ZERO_CHUNK);
		ret = uzram_write(c->dev, c->srv->zeroes, off, n);
		off += n;
		len -= n;
	}
	return ret;
}

/* Run r and make its reply; returns the NBD error the reply carries. */
static uint32_t execute(struct nbd_conn *c, struct nbd_req *r)
{
	int ret = 0;

	if (atomic_load_explicit(&c->killed, memory_order_relaxed)) {
		reply_simple(r, NBD_ESHUTDOWN);	/* dropped: nobody to tell */
		return NBD_ESHUTDOWN;
	}
	switch (r->type) {
	case NBD_CMD_READ:
		return exec_read(c, r);
	case NBD_CMD_BLOCK_STATUS:
		return exec_block_status(c, r);
	case NBD_CMD_WRITE:
		ret = uzram_write(c->dev, r->buf, r->offset, r->len);
		break;
	case NBD_CMD_TRIM:
		ret = uzram_discard(c->dev, r->offset, r->len);
		break;
	case NBD_CMD_WRITE_ZEROES:
		if (r->flags & NBD_CMD_FLAG_NO_HOLE)
			ret = write_zero_pages(c, r->offset, r->len);
		else
			ret = uzram_write_zeroes(c->dev, r->offset, r->len);
		break;
	case NBD_CMD_FLUSH:
		ret = uzram_flush(c->dev);	/* RAM: replied writes are visible */
		break;
	case NBD_CMD_CACHE:
		break;				/* already in memory */
	}
	reply_simple(r, nbd_errno(ret));
	return nbd_errno(ret);
}

static enum iostat_op stat_op(uint16_t type)
{
	switch (type) {
	case NBD_CMD_READ:		return IOSTAT_READ;
	case NBD_CMD_WRITE:		return IOSTAT_WRITE;
	case NBD_CMD_TRIM:		return IOSTAT_DISCARD;
	case NBD_CMD_WRITE_ZEROES:	return IOSTAT_WRITE_ZEROES;
	case NBD_CMD_FLUSH:		return IOSTAT_FLUSH;
	case NBD_CMD_BLOCK_STATUS:	return IOSTAT_BLOCK_STATUS;
	case NBD_CMD_CACHE:		return IOSTAT_CACHE;
	default:			return IOSTAT_OTHER;
	}
}

/* Count r, answered with err: refused before it ran (invalid, untimed),
 * or executed (ok or error, timed from r->t0). */
static void count_request(struct nbd_conn *c, struct nbd_req *r, uint32_t err,
			  bool refused)
{
	enum iostat_result res = refused ? IOSTAT_INVALID : err ? IOSTAT_ERROR : IOSTAT_OK;
	bool ok = res == IOSTAT_OK;

	iostat_done(c->srv->stats, stat_op(r->type), res,
		    ok && r->type == NBD_CMD_WRITE ? r->len : 0,
		    ok && r->type == NBD_CMD_READ ? r->len : 0, refused ? 0 : r->t0);
}

/* Execute r, count it, queue its reply. */
static void run_request(struct nbd_conn *c, struct nbd_req *r)
{
	uint32_t err = execute(c, r);

	count_request(c, r, err, false);
	conn_send(c, r);
}

/* ---- the worker pool ---- */

static void queue_push(struct nbd_server *s, struct nbd_req *r)
{
	r->next = NULL;
	pthread_mutex_lock(&s->qlock);
	if (s->qtail)
		s->qtail->next = r;
	else
		s->qhead = r;
	s->qtail = r;
	pthread_cond_signal(&s->qcond);
	pthread_mutex_unlock(&s->qlock);
}

static void *worker_main(void *arg)
{
	struct nbd_server *s = arg;

	pthread_setname_np(pthread_self(), "nbd-worker");

	pthread_mutex_lock(&s->qlock);
	for (;;) {
		struct nbd_req *r;

		while (!s->qhead && !s->qstop)
			pthread_cond_wait(&s->qcond, &s->qlock);
		r = s->qhead;
		if (!r)
			break;
		s->qhead = r->next;
		if (!s->qhead)
			s->qtail = NULL;
		pthread_mutex_unlock(&s->qlock);
		run_request(r->conn, r);
		pthread_mutex_lock(&s->qlock);
	}
	pthread_mutex_unlock(&s->qlock);
	return NULL;
}

int nbd_pool_start(struct nbd_server *s)
{
	s->workers = calloc(s->nthreads, sizeof(*s->workers));
	if (!s->workers)
		return -ENOMEM;
	for (unsigned int i = 0; i < s->nthreads; i++) {
		int ret = pthread_create(&s->workers[i], NULL, worker_main, s);
		if (ret) {
			s->nthreads = i;
			return -ret;
		}
	}
	return 0;
}

void nbd_pool_stop(struct nbd_server *s)
{
	pthread_mutex_lock(&s->qlock);
	s->qstop = true;
	pthread_cond_broadcast(&s->qcond);
	pthread_mutex_unlock(&s->qlock);
	for (unsigned int i = 0; s->workers && i < s->nthreads; i++)
		pthread_join(s->workers[i], NULL);
	free(s->workers);
	s->workers = NULL;
}

/* ---- the reader ---- */

static bool is_write_cmd(uint16_t type)
{
	return type == NBD_CMD_WRITE || type == NBD_CMD_TRIM ||
	       type == NBD_CMD_WRITE_ZEROES;
}

/*
 * The command flags type may carry on c, in *allowed; or the NBD error of
 * a command refused whatever its flags (unknown, BLOCK_STATUS without a
 * context, a write on a read-only server).
 */
static uint32_t check_command(struct nbd_conn *c, uint16_t type,
			      uint16_t *allowed)
{
	*allowed = NBD_CMD_FLAG_FUA;
	switch (type) {
	case NBD_CMD_READ:
		if (c->structured)
			*allowed |= NBD_CMD_FLAG_DF;
		return 0;
	case NBD_CMD_WRITE:
	case NBD_CMD_FLUSH:
	case NBD_CMD_CACHE:
		return 0;
	case NBD_CMD_TRIM:
	case NBD_CMD_WRITE_ZEROES:
		if (c->srv->read_only)
			return NBD_EPERM;	/* not advertised, but a write */
		if (type == NBD_CMD_WRITE_ZEROES)
			*allowed |= NBD_CMD_FLAG_NO_HOLE | NBD_CMD_FLAG_FAST_ZERO;
		return 0;
	case NBD_CMD_BLOCK_STATUS:
		if (!c->meta_alloc)
			return NBD_EINVAL;	/* no context negotiated */
		*allowed |= NBD_CMD_FLAG_REQ_ONE;
		return 0;
	default:
		return NBD_EINVAL;
	}
}

/* The NBD error a request gets before it runs, or 0 if it is valid. */
static uint32_t check_request(struct nbd_conn *c, uint16_t type,
			      uint16_t flags, uint64_t off, uint32_t len)
{
	uint16_t allowed;
	uint32_t err = check_command(c, type, &allowed);

	if (err)
		return err;
	if (flags & ~allowed)
		return NBD_EINVAL;
	if (type == NBD_CMD_FLUSH)
		return off || len ? NBD_EINVAL : 0;
	if (is_write_cmd(type) && c->srv->read_only)
		return NBD_EPERM;
	if (len == 0 || ((off | len) & (NBD_MIN_BLOCK - 1)))
		return NBD_EINVAL;
	if (off > c->size || len > c->size - off)
		return type == NBD_CMD_WRITE || type == NBD_CMD_WRITE_ZEROES ?
		       NBD_ENOSPC : NBD_EINVAL;
	if (type == NBD_CMD_READ && len > NBD_MAX_PAYLOAD)
		return NBD_EINVAL;
	return 0;
}

/* The buffer a valid request needs. */
static size_t request_buffer(uint16_t type, uint16_t flags, uint32_t len)
{
	switch (type) {
	case NBD_CMD_READ:
	case NBD_CMD_WRITE:
		return len;
	case NBD_CMD_BLOCK_STATUS:
		return flags & NBD_CMD_FLAG_REQ_ONE ? 8 : 8 * NBD_MAX_EXTENTS;
	default:
		return 0;
	}
}

/*
 * Who executes a request. With at least as many busy connections (a request
 * in the last NBD_BUSY_MS) as workers, the connections alone keep every CPU
 * busy: the reader runs its own requests, which saves a wakeup and a
 * context switch per request (measured here: 4 KiB writes over 2
 * connections, +20-25% IOPS) and keeps one connection's backlog from
 * delaying the others in the shared queue. With fewer busy connections
 * (say nbdcopy, whose 4 connections carry one 128 MiB work unit at a time)
 * the pool spreads a connection's requests over the workers, so one client
 * gets every CPU. The count is refreshed at most once per clock tick, by
 * whichever reader first sees it stale.
 */
static bool run_inline(struct nbd_conn *c)
{
	struct nbd_server *s = c->srv;
	uint64_t now = nbd_coarse_ms(), stamp;

	if (atomic_load_explicit(&c->last_active, memory_order_relaxed) != now)
		atomic_store_explicit(&c->last_active, now, memory_order_relaxed);
	stamp = atomic_load_explicit(&s->busy_stamp, memory_order_relaxed);
	if (stamp != now && atomic_compare_exchange_strong(&s->busy_stamp, &stamp, now)) {
		unsigned int n = 0;

		pthread_mutex_lock(&s->lock);
		for (struct nbd_conn *o = s->conns; o; o = o->next)
			n += now - atomic_load_explicit(&o->last_active, memory_order_relaxed) <=
			     NBD_BUSY_MS;
		pthread_mutex_unlock(&s->lock);
		atomic_store_explicit(&s->busy_conns, n, memory_order_relaxed);
	}
	return atomic_load_explicit(&s->busy_conns, memory_order_relaxed) >= s->nthreads;
}

/*
 * A request refused before it runs (err): the reader reads and discards
 * its WRITE payload and answers it. 0, or -errno to end the connection.
 */
static int request_refuse(struct nbd_conn *c, struct nbd_req *r,
			  uint32_t payload, uint32_t err)
{
	int ret;

	if (payload && (ret = nbd_io_skip(&c->io, payload))) {
		nbd_slot_put(c, r);
		return ret;
	}
	reply_error(c, r, err);
	count_request(c, r, err, true);
	conn_send(c, r);
	return 0;
}

/*
 * A valid request: its WRITE payload into the slot's buffer, then run it
 * here or queue it for the workers. 0, or -errno to end the connection.
 */
static int request_start(struct nbd_conn *c, struct nbd_req *r,
			 uint32_t payload)
{
	int ret;

	if (payload && (ret = nbd_io_read(&c->io, r->buf, payload))) {
		nbd_slot_put(c, r);	/* half a write: not applied */
		return ret;
	}
	r->t0 = iostat_start(c->srv->stats);
	if (run_inline(c))
		run_request(c, r);
	else
		queue_push(c->srv, r);
	return 0;
}

/* Read, check and queue requests until the client leaves. */
static int read_requests(struct nbd_conn *c)
{
	uint8_t h[28];

	for (;;) {
		uint16_t flags, type;
		uint64_t offset;
		uint32_t len, err, payload;
		struct nbd_req *r;
		int ret;

		if (atomic_load_explicit(&c->killed, memory_order_relaxed))
			return -ECONNRESET;	/* cut: requests still queued are moot */
		/* At shutdown, SHUT_RD makes this see EOF once the requests
		 * the client already sent are read: they are all served. */
		ret = nbd_io_read(&c->io, h, sizeof(h));
		if (ret)
			return ret == -ECONNRESET ? 0 : ret;
		if (nbd_get32(h) != NBD_REQUEST_MAGIC)
			return -EPROTO;
		flags = nbd_get16(h + 4);
		type = nbd_get16(h + 6);
		offset = nbd_get64(h + 16);
		len = nbd_get32(h + 24);
		if (type == NBD_CMD_DISC)
			return 0;
		payload = type == NBD_CMD_WRITE ? len : 0;
		if (payload > NBD_MAX_PAYLOAD)
			return -EMSGSIZE;	/* too big to swallow: drop */
		err = check_request(c, type, flags, offset, len);
		r = nbd_slot_get(c, err ? 0 : request_buffer(type, flags, len), &err);
		r->flags = flags;
		r->type = type;
		r->cookie = nbd_get64(h + 8);
		r->offset = offset;
		r->len = len;
		ret = err ? request_refuse(c, r, payload, err)
			  : request_start(c, r, payload);
		if (ret)
			return ret;
	}
}

/* Finish what is in flight (every reply sent or dropped), stop the writer. */
static void conn_drain(struct nbd_conn *c)
{
	bool started;

	pthread_mutex_lock(&c->lock);
	while (c->inflight)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);

	pthread_mutex_lock(&c->out_lock);
	c->writer_stop = true;
	started = c->writer_started;
	pthread_cond_signal(&c->out_cond);
	pthread_mutex_unlock(&c->out_lock);
	if (started)
		pthread_join(c->writer, NULL);
}

int nbd_transmission(struct nbd_conn *c)
{
	int ret;

	if (c->srv->keep_buffers)
		nbd_slots_map(c);
	ret = read_requests(c);
	if (ret && ret != -ECONNRESET)
		nbd_conn_kill(c);	/* protocol violation or I/O error */
	conn_drain(c);
	return ret;
}
