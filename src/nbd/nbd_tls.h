/*
 * nbd_tls.h - TLS for the NBD server (NBD_OPT_STARTTLS), with GnuTLS
 * (nbd_tls.c; without HAVE_GNUTLS every call fails with -ENOTSUP).
 *
 * Credentials (struct nbd_tls) are loaded once by serve.c, through nbd.h,
 * and shared read-only by every connection. A session (struct nbd_tls_session)
 * is one connection's TLS over its descriptors (nbd_sock.h); nbd_io.c owns
 * it. GnuTLS allows one receiving and one sending thread at a time: the
 * connection thread receives, and only the thread holding the connection's
 * sender role sends (nbd_xmit.c gives that role to the writer thread on a
 * TLS connection).
 */
#ifndef UZRAM_NBD_TLS_H
#define UZRAM_NBD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct nbd_tls_opts {
	const char *certificates;	/* DIR: server-cert.pem, server-key.pem,
					   ca-cert.pem (verify_peer), ca-crl.pem */
	const char *psk_file;		/* psktool's "identity:hexkey" lines */
	bool verify_peer;		/* require a client certificate of ca-cert.pem */
};

struct nbd_tls;
struct nbd_tls_session;
struct nbd_sock;

/*
 * Load the credentials: 0, or -errno with a message naming the file and
 * the reason in msg. -ENOTSUP when built without GnuTLS.
 */
int nbd_tls_load(const struct nbd_tls_opts *o, struct nbd_tls **out,
		 char *msg, size_t msglen);
void nbd_tls_free(struct nbd_tls *t);

/*
 * The server's side of the TLS handshake on k, after the ACK of STARTTLS
 * (connection thread): 0 or -errno (the connection is then dropped). *out
 * is set as soon as a session exists, also on failure: nbd_tls_end frees it.
 */
int nbd_tls_start(struct nbd_tls *t, struct nbd_sock *k,
		  struct nbd_tls_session **out);
/* As nbd_sock_read, through TLS: 0 at close_notify, EOF or a wakeup. */
ssize_t nbd_tls_recv(struct nbd_tls_session *ts, void *buf, size_t len);
/* All of iov through TLS, blocking: the byte count or -errno. */
ssize_t nbd_tls_sendv(struct nbd_tls_session *ts, const struct iovec *iov,
		      int cnt);
/*
 * close_notify, without blocking, if the handshake had succeeded and the
 * connection ended in order (orderly); then free the session.
 */
void nbd_tls_end(struct nbd_tls_session *ts, bool orderly);

#endif /* UZRAM_NBD_TLS_H */
