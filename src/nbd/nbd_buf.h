/*
 * nbd_buf.h - request slots and payload buffers (nbd_buf.c). The slots
 * are c->slots[], the free list c->free_slots (struct nbd_conn,
 * nbd_conn.h); the cache of idle buffers hangs off the server.
 */
#ifndef UZRAM_NBD_BUF_H
#define UZRAM_NBD_BUF_H

#include "nbd_conn.h"

/* Put every slot of a new connection on its free list. */
void nbd_slots_init(struct nbd_conn *c);
/*
 * A free slot with a buffer of at least need bytes (the reader); waits
 * while NBD_MAX_INFLIGHT requests or NBD_CONN_BUDGET bytes are in flight.
 * When a mapping fails the slot has no buffer and *err is set to NBD_EIO.
 */
struct nbd_req *nbd_slot_get(struct nbd_conn *c, size_t need, uint32_t *err);
/* The slot's request is over (its reply sent or dropped). */
void nbd_slot_put(struct nbd_conn *c, struct nbd_req *r);
/* serve --mlock: map every slot's smallest buffer now, faulted in. */
void nbd_slots_map(struct nbd_conn *c);
/* The connection ends: its buffers go to the server's cache (or away). */
void nbd_slots_free(struct nbd_conn *c);

/* nbd_server_trim(): unmap the cache once idle; ms to the next call, or -1. */
int nbd_buf_trim(struct nbd_server *s);
/* Unmap the whole cache (the server is freed). */
void nbd_buf_cache_free(struct nbd_server *s);

#endif /* UZRAM_NBD_BUF_H */
