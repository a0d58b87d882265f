/*
 * nbd_buf.c - a connection's request slots and their payload buffers, and
 * the server's cache of idle buffers (nbd_buf.h).
 *
 * Buffers. NBD_MAX_INFLIGHT slots per connection, each keeping its payload
 * buffer (an anonymous mapping of at least 64 KiB) for the next request;
 * the sum stays within NBD_CONN_BUDGET (64 MiB): the reader frees idle
 * slots' buffers, or waits, before mapping a bigger one (a failed mapping
 * answers the request EIO). When the connection ends its buffers go to a
 * server-wide cache of at most NBD_BUF_CACHE bytes (taken by the next
 * connections, unmapped after NBD_BUF_IDLE_MS unused), the rest back to
 * the system. Nothing else is allocated per request. With keep_buffers
 * (serve --mlock) each connection maps all its slots' buffers when it
 * starts and the cache is never trimmed (what exceeds NBD_BUF_CACHE when
 * a connection ends is still unmapped then, off the I/O path); a request
 * larger than 64 KiB still maps its buffer.
 *
 * Locking. c->lock: the free slots, inflight and buf_bytes; the reader
 * waits on c->cond for a slot (or, in nbd_xmit.c, for the drain).
 * srv->buf_lock: the cache, a leaf lock (taken under c->lock).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "nbd_buf.h"

#define NBD_BUF_MIN	(64u << 10)	/* smallest payload buffer */
#define NBD_BUF_CACHE	(32u << 20)	/* idle buffers the server keeps ... */
#define NBD_BUF_IDLE_MS	2000		/* ... until unused this long */

void nbd_slots_init(struct nbd_conn *c)
{
	for (unsigned int i = 0; i < NBD_MAX_INFLIGHT; i++) {
		c->slots[i].conn = c;
		c->slots[i].next = c->free_slots;
		c->free_slots = &c->slots[i];
	}
}

static size_t buf_size_for(size_t need)
{
	size_t n = (need + NBD_BUF_MIN - 1) & ~(size_t)(NBD_BUF_MIN - 1);

	return n ? n : NBD_BUF_MIN;
}

/*
 * The server keeps up to NBD_BUF_CACHE bytes of buffers that connections
 * gave back, so a new connection (nbdcopy opens several per copy) does not
 * fault its buffers in again: 32 MiB, the buffers of one nbdcopy on two
 * connections (with 16 MiB, half of every copy's buffers were faulted in
 * afresh: about 31,000 server page faults in six reads of a 260 MiB
 * device, against 7,400-10,400 with 32 MiB). Unused for NBD_BUF_IDLE_MS,
 * the cache is unmapped (nbd_buf_trim, from the serve loop through
 * nbd_server_trim). A cached buffer holds its own list link.
 */
struct nbd_cached_buf {
	struct nbd_cached_buf *next;
	size_t cap;
};

static void *buf_cache_get(struct nbd_server *s, size_t cap)
{
	struct nbd_cached_buf **pp, *b = NULL;

	pthread_mutex_lock(&s->buf_lock);
	s->buf_stamp = nbd_coarse_ms();
	for (pp = &s->buf_cache; *pp; pp = &(*pp)->next) {
		if ((*pp)->cap == cap) {
			b = *pp;
			*pp = b->next;
			s->buf_cached -= cap;
			break;
		}
	}
	pthread_mutex_unlock(&s->buf_lock);
	return b;
}

static void buf_cache_put(struct nbd_server *s, void *buf, size_t cap)
{
	struct nbd_cached_buf *b = buf;
	bool was_empty = false;

	pthread_mutex_lock(&s->buf_lock);
	s->buf_stamp = nbd_coarse_ms();
	if (s->buf_cached + cap <= NBD_BUF_CACHE) {
		was_empty = !s->buf_cache;
		b->cap = cap;
		b->next = s->buf_cache;
		s->buf_cache = b;
		s->buf_cached += cap;
		buf = NULL;
	}
	pthread_mutex_unlock(&s->buf_lock);
	if (buf)
		munmap(buf, cap);
	/* The serve loop may be polling without a timeout: wake it to start
	 * the idle clock (nbd_server_trim). */
	if (was_empty)
		nbd_server_signal(s);
}

/* Unmap a detached list of cached buffers. */
static void buf_list_unmap(struct nbd_cached_buf *b)
{
	while (b) {
		struct nbd_cached_buf *next = b->next;

		munmap(b, b->cap);
		b = next;
	}
}

/* Detach the whole cache (buf_lock held). */
static struct nbd_cached_buf *buf_cache_take(struct nbd_server *s)
{
	struct nbd_cached_buf *all = s->buf_cache;

	s->buf_cache = NULL;
	s->buf_cached = 0;
	return all;
}

int nbd_buf_trim(struct nbd_server *s)
{
	struct nbd_cached_buf *drop = NULL;
	uint64_t idle;
	int wait = -1;

	if (s->keep_buffers)
		return -1;	/* kept for the next connection, mapped */
	pthread_mutex_lock(&s->buf_lock);
	if (s->buf_cache) {
		idle = nbd_coarse_ms() - s->buf_stamp;
		if (idle >= NBD_BUF_IDLE_MS)
			drop = buf_cache_take(s);
		else
			wait = (int)(NBD_BUF_IDLE_MS - idle);
	}
	pthread_mutex_unlock(&s->buf_lock);
	buf_list_unmap(drop);
	return wait;
}

void nbd_buf_cache_free(struct nbd_server *s)
{
	buf_list_unmap(buf_cache_take(s));	/* no connection left */
}

/* Drop a slot's buffer (c->lock held, or the slot owned and c idle). */
static void buf_drop(struct nbd_conn *c, struct nbd_req *r)
{
	if (r->buf)
		buf_cache_put(c->srv, r->buf, r->cap);
	c->buf_bytes -= r->cap;
	r->buf = NULL;
	r->cap = 0;
}

/*
 * The link to the first free slot whose buffer holds need bytes, else to
 * the first free slot (c->lock held).
 */
static struct nbd_req **slot_pick(struct nbd_conn *c, size_t need)
{
	for (struct nbd_req **pp = &c->free_slots; *pp; pp = &(*pp)->next)
		if ((*pp)->cap >= need)
			return pp;
	return &c->free_slots;
}

/*
 * r, a free slot whose buffer is too small: drop it, and other free slots'
 * buffers while cap more bytes would exceed NBD_CONN_BUDGET. True when cap
 * bytes fit now (c->lock held).
 */
static bool slot_make_room(struct nbd_conn *c, struct nbd_req *r, size_t cap)
{
	buf_drop(c, r);
	for (struct nbd_req *q = c->free_slots;
	     q && c->buf_bytes + cap > NBD_CONN_BUDGET; q = q->next)
		buf_drop(c, q);
	return c->buf_bytes + cap <= NBD_CONN_BUDGET;
}

/* Give r a buffer of cap bytes, already counted in buf_bytes. */
static void slot_map(struct nbd_conn *c, struct nbd_req *r, size_t cap,
		     uint32_t *err)
{
	void *p = buf_cache_get(c->srv, cap);

	if (!p)
		p = mmap(NULL, cap, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		pthread_mutex_lock(&c->lock);
		c->buf_bytes -= cap;
		pthread_mutex_unlock(&c->lock);
		*err = NBD_EIO;
		return;
	}
	r->buf = p;
	r->cap = cap;
}

struct nbd_req *nbd_slot_get(struct nbd_conn *c, size_t need, uint32_t *err)
{
	size_t cap = need ? buf_size_for(need) : 0;
	struct nbd_req *r, **pick;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		pick = slot_pick(c, need);
		r = *pick;
		if (r && r->cap >= need) {
			*pick = r->next;
			c->inflight++;
			pthread_mutex_unlock(&c->lock);
			return r;
		}
		if (r && slot_make_room(c, r, cap))
			break;
		pthread_cond_wait(&c->cond, &c->lock);
	}
	*pick = r->next;
	c->inflight++;
	c->buf_bytes += cap;	/* reserved before mapping */
	pthread_mutex_unlock(&c->lock);
	slot_map(c, r, cap, err);
	return r;
}

/* A slot's request is over (its reply sent or dropped). */
void nbd_slot_put(struct nbd_conn *c, struct nbd_req *r)
{
	pthread_mutex_lock(&c->lock);
	r->next = c->free_slots;
	c->free_slots = r;
	c->inflight--;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

void nbd_slots_free(struct nbd_conn *c)
{
	for (unsigned int i = 0; i < NBD_MAX_INFLIGHT; i++)
		buf_drop(c, &c->slots[i]);
}

/* Every slot's buffer now, faulted in (--mlock: nbd_server_opts.keep_buffers). */
void nbd_slots_map(struct nbd_conn *c)
{
	for (unsigned int i = 0; i < NBD_MAX_INFLIGHT; i++) {
		struct nbd_req *r = &c->slots[i];
		void *p;

		if (r->buf)
			continue;
		p = buf_cache_get(c->srv, NBD_BUF_MIN);
		if (!p)
			p = mmap(NULL, NBD_BUF_MIN, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (p == MAP_FAILED)
			return;		/* nbd_slot_get maps it when needed */
		r->buf = p;
		r->cap = NBD_BUF_MIN;
		c->buf_bytes += NBD_BUF_MIN;
	}
}
