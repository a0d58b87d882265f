/*
 * nbd_xmit.h - the transmission phase (nbd_xmit.c): the worker pool, a
 * connection's requests and replies.
 */
#ifndef UZRAM_NBD_XMIT_H
#define UZRAM_NBD_XMIT_H

#include "nbd_conn.h"

/* Start s->nthreads workers: 0 or -errno (nbd_pool_stop joins the started). */
int nbd_pool_start(struct nbd_server *s);
/* Stop and join the workers; the queue is empty (no connection left). */
void nbd_pool_stop(struct nbd_server *s);
/* Serve requests until the client leaves; drains before returning. */
int nbd_transmission(struct nbd_conn *c);
/* Cut the connection: replies are dropped, blocked I/O wakes up. */
void nbd_conn_kill(struct nbd_conn *c);

#endif /* UZRAM_NBD_XMIT_H */
