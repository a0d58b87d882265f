/*
 * nbd_handshake.h - option haggling on a new connection (nbd_handshake.c).
 */
#ifndef UZRAM_NBD_HANDSHAKE_H
#define UZRAM_NBD_HANDSHAKE_H

#include "nbd_conn.h"

/*
 * The handshake, from the greeting to the end of option haggling (the
 * connection thread): 1 = transmission begins (c->dev is open), 0 = an
 * orderly end (ABORT), -errno = drop the connection.
 */
int nbd_handshake(struct nbd_conn *c);

#endif /* UZRAM_NBD_HANDSHAKE_H */
