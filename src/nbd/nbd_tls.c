/*
 * nbd_tls.c - TLS for the NBD server (NBD_OPT_STARTTLS), with GnuTLS.
 *
 * Credentials. nbd_tls_load() reads them once, for every connection:
 *   --tls-certificates DIR   X.509, laid out as nbdkit and qemu lay them
 *                            out: DIR/server-cert.pem, DIR/server-key.pem,
 *                            and, to check client certificates
 *                            (--tls-verify-peer), DIR/ca-cert.pem and
 *                            optionally DIR/ca-crl.pem;
 *   --tls-psk FILE           pre-shared keys, psktool's "identity:hexkey"
 *                            lines (GnuTLS reads the file at each handshake,
 *                            so keys can be added without a restart).
 * Both may be given; the client picks. The priority string is GnuTLS's
 * system default ("NORMAL", which honours the system's crypto policy) plus
 * the PSK key exchanges when there are keys.
 *
 * Sessions. nbd_tls_start() runs the server's handshake on the connection
 * thread right after the ACK of STARTTLS. GnuTLS reaches the descriptors
 * through our pull/push functions, on nbd_sock.c, so shutdown wakes a
 * reader in the middle of a TLS record exactly as it wakes a plaintext
 * one, and stdio works as well as sockets. Afterwards the connection
 * thread is the only receiver and the connection's writer thread the only
 * sender (GnuTLS allows one of each at a time; see nbd_tls.h): replies are
 * gathered into records of up to 16 KiB (the header of a reply and its
 * data, several small replies) rather than one record per piece.
 *
 * Layout. struct nbd_tls: the credentials and the priority cache, read
 * only once loaded. struct nbd_tls_session: the GnuTLS session, the
 * descriptors it runs on, and a 16 KiB staging buffer for small pieces of
 * replies; no lock (one receiver, one sender, as above).
 *
 * Ending. A connection that ends in order sends close_notify, without
 * blocking: a client that stopped reading cannot hold the server. Errors
 * of the handshake (a wrong key, an untrusted certificate) end the
 * connection; nothing is logged per connection.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nbd_proto.h"
#include "nbd_sock.h"
#include "nbd_tls.h"

#ifndef HAVE_GNUTLS

int nbd_tls_load(const struct nbd_tls_opts *o, struct nbd_tls **out,
		 char *msg, size_t msglen)
{
	*out = NULL;
	snprintf(msg, msglen, "TLS is not available in this build (no GnuTLS)");
	return -ENOTSUP;
}

void nbd_tls_free(struct nbd_tls *t)
{
}

int nbd_tls_start(struct nbd_tls *t, struct nbd_sock *k,
		  struct nbd_tls_session **out)
{
	return -ENOTSUP;
}

ssize_t nbd_tls_recv(struct nbd_tls_session *ts, void *buf, size_t len)
{
	return -ENOTSUP;
}

ssize_t nbd_tls_sendv(struct nbd_tls_session *ts, const struct iovec *iov,
		      int cnt)
{
	return -ENOTSUP;
}

void nbd_tls_end(struct nbd_tls_session *ts, bool orderly)
{
}

#else /* HAVE_GNUTLS */

#include <gnutls/gnutls.h>

#define TLS_RECORD		16384u	/* the largest TLS record's payload */
#define TLS_SMALL		4096u	/* pieces up to this size are gathered */
#define TLS_HANDSHAKE_MS	60000u	/* a client gets this long for it */

struct nbd_tls {
	gnutls_certificate_credentials_t x509;
	gnutls_psk_server_credentials_t psk;
	gnutls_priority_t prio;
	bool verify_peer;
};

struct nbd_tls_session {
	gnutls_session_t s;
	struct nbd_sock *sock;		/* the connection's descriptors */
	bool up;			/* the handshake succeeded */
	bool nonblock;			/* push without waiting (close_notify) */
	uint8_t *stage;			/* TLS_RECORD bytes: small pieces */
	size_t staged;
};

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static int tls_err(int gerr, char *msg, size_t msglen, const char *what)
{
	snprintf(msg, msglen, "%s: %s", what, gnutls_strerror(gerr));
	return gerr == GNUTLS_E_FILE_ERROR ? -ENOENT :
	       gerr == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EINVAL;
}

/* 0 if path is readable; else -errno, with a message. */
static int file_readable(const char *path, char *msg, size_t msglen)
{
	int ret;

	if (!access(path, R_OK))
		return 0;
	ret = -errno;
	snprintf(msg, msglen, "%s: %s", path, strerror(-ret));
	return ret;
}

/* --tls-verify-peer: trust ca (which must exist), revoke by crl if it exists. */
static int load_x509_trust(struct nbd_tls *t, const char *ca, const char *crl,
			   char *msg, size_t msglen)
{
	int ret;

	if (!file_exists(ca)) {
		snprintf(msg, msglen, "%s: needed to check client certificates "
			 "(--tls-verify-peer): %s", ca, strerror(ENOENT));
		return -ENOENT;
	}
	ret = gnutls_certificate_set_x509_trust_file(t->x509, ca, GNUTLS_X509_FMT_PEM);
	if (ret <= 0)
		return ret ? tls_err(ret, msg, msglen, ca) :
		       (snprintf(msg, msglen, "%s: no certificate in it", ca), -EINVAL);
	if (file_exists(crl)) {
		ret = gnutls_certificate_set_x509_crl_file(t->x509, crl,
							   GNUTLS_X509_FMT_PEM);
		if (ret < 0)
			return tls_err(ret, msg, msglen, crl);
	}
	return 0;
}

static int load_x509(struct nbd_tls *t, const char *dir, bool verify_peer,
		     char *msg, size_t msglen)
{
	char cert[4096], key[4096], ca[4096], crl[4096];
	int ret;

	if (snprintf(cert, sizeof(cert), "%s/server-cert.pem", dir) >= (int)sizeof(cert) ||
	    snprintf(key, sizeof(key), "%s/server-key.pem", dir) >= (int)sizeof(key) ||
	    snprintf(ca, sizeof(ca), "%s/ca-cert.pem", dir) >= (int)sizeof(ca) ||
	    snprintf(crl, sizeof(crl), "%s/ca-crl.pem", dir) >= (int)sizeof(crl)) {
		snprintf(msg, msglen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	ret = file_readable(cert, msg, msglen);
	if (!ret)
		ret = file_readable(key, msg, msglen);
	if (ret)
		return ret;
	ret = gnutls_certificate_allocate_credentials(&t->x509);
	if (ret)
		return tls_err(ret, msg, msglen, "certificates");
	ret = gnutls_certificate_set_x509_key_file(t->x509, cert, key, GNUTLS_X509_FMT_PEM);
	if (ret < 0)
		return tls_err(ret, msg, msglen, cert);
	if (verify_peer && (ret = load_x509_trust(t, ca, crl, msg, msglen)))
		return ret;
	ret = gnutls_certificate_set_known_dh_params(t->x509, GNUTLS_SEC_PARAM_MEDIUM);
	return ret ? tls_err(ret, msg, msglen, "DH parameters") : 0;
}

/* A line of a PSK file: 1 = identity:hexkey, 0 = blank or comment, -1 = neither. */
static int psk_line(const char *line)
{
	const char *colon = strchr(line, ':');
	size_t hex;

	if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
		return 0;
	hex = colon ? strspn(colon + 1, "0123456789abcdefABCDEF") : 0;
	if (!colon || colon == line || !hex ||
	    (colon[1 + hex] && !strchr("\r\n", colon[1 + hex])))
		return -1;
	return 1;
}

/*
 * GnuTLS reads a PSK file lazily; look at it now so mistakes show at
 * start: 0, or -errno with a message.
 */
static int psk_check(const char *file, char *msg, size_t msglen)
{
	FILE *f = fopen(file, "re");
	char line[1024];
	int ret, keys = 0;

	if (!f) {
		ret = -errno;
		snprintf(msg, msglen, "%s: %s", file, strerror(-ret));
		return ret;
	}
	while (fgets(line, sizeof(line), f)) {
		int k = psk_line(line);

		if (k < 0) {
			fclose(f);
			snprintf(msg, msglen, "%s: not a PSK file (lines of identity:hexkey, "
				 "as psktool writes them)", file);
			return -EINVAL;
		}
		keys += k;
	}
	fclose(f);
	if (!keys) {
		snprintf(msg, msglen, "%s: no keys in it", file);
		return -EINVAL;
	}
	return 0;
}

static int load_psk(struct nbd_tls *t, const char *file, char *msg,
		    size_t msglen)
{
	int ret = psk_check(file, msg, msglen);

	if (ret)
		return ret;
	ret = gnutls_psk_allocate_server_credentials(&t->psk);
	if (!ret)
		ret = gnutls_psk_set_server_credentials_file(t->psk, file);
	if (!ret)
		ret = gnutls_psk_set_server_known_dh_params(t->psk, GNUTLS_SEC_PARAM_MEDIUM);
	return ret ? tls_err(ret, msg, msglen, file) : 0;
}

/* The options make sense: 0, or -EINVAL with a message. */
static int tls_opts_check(const struct nbd_tls_opts *o, char *msg, size_t msglen)
{
	if (!o->certificates && !o->psk_file) {
		snprintf(msg, msglen, "TLS needs --tls-certificates DIR or --tls-psk FILE");
		return -EINVAL;
	}
	if (o->verify_peer && !o->certificates) {
		snprintf(msg, msglen, "--tls-verify-peer needs --tls-certificates DIR");
		return -EINVAL;
	}
	return 0;
}

/* The system's default priorities, plus the PSK key exchanges with keys. */
static int tls_priorities(struct nbd_tls *t, char *msg, size_t msglen)
{
	int g = t->psk ? gnutls_priority_init2(&t->prio, "+ECDHE-PSK:+DHE-PSK:+PSK",
					       NULL, GNUTLS_PRIORITY_INIT_DEF_APPEND)
		       : gnutls_priority_init(&t->prio, NULL, NULL);

	return g ? tls_err(g, msg, msglen, "TLS priorities") : 0;
}

int nbd_tls_load(const struct nbd_tls_opts *o, struct nbd_tls **out,
		 char *msg, size_t msglen)
{
	struct nbd_tls *t = calloc(1, sizeof(*t));
	int ret;

	*out = NULL;
	if (!t) {
		snprintf(msg, msglen, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	ret = tls_opts_check(o, msg, msglen);
	if (!ret && o->certificates)
		ret = load_x509(t, o->certificates, o->verify_peer, msg, msglen);
	if (!ret && o->psk_file)
		ret = load_psk(t, o->psk_file, msg, msglen);
	if (!ret)
		ret = tls_priorities(t, msg, msglen);
	if (ret) {
		nbd_tls_free(t);
		return ret;
	}
	t->verify_peer = o->verify_peer;
	*out = t;
	return 0;
}

void nbd_tls_free(struct nbd_tls *t)
{
	if (!t)
		return;
	if (t->x509)
		gnutls_certificate_free_credentials(t->x509);
	if (t->psk)
		gnutls_psk_free_server_credentials(t->psk);
	if (t->prio)
		gnutls_priority_deinit(t->prio);
	free(t);
}

/* ---- the transport: our descriptors, below GnuTLS ---- */

static ssize_t tls_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct nbd_tls_session *ts = ptr;
	ssize_t n = nbd_sock_read(ts->sock, buf, len);

	if (n < 0) {
		gnutls_transport_set_errno(ts->s, (int)-n);
		return -1;
	}
	return n;
}

static int tls_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
	struct nbd_tls_session *ts = ptr;
	int ret = nbd_sock_wait(ts->sock, ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 :
				ms > 0x7fffffffu ? 0x7fffffff : (int)ms);

	if (ret < 0) {
		gnutls_transport_set_errno(ts->s, -ret);
		return -1;
	}
	return ret;
}

static ssize_t tls_push(gnutls_transport_ptr_t ptr, const void *buf, size_t len)
{
	struct nbd_tls_session *ts = ptr;
	ssize_t n = nbd_sock_write(ts->sock, buf, len, ts->nonblock);

	if (n < 0) {
		gnutls_transport_set_errno(ts->s, (int)-n);
		return -1;
	}
	return n;
}

/* ---- sessions ---- */

/* A session for the credentials t, not started yet; NULL without memory. */
static struct nbd_tls_session *tls_session_new(struct nbd_tls *t,
					       struct nbd_sock *k)
{
	struct nbd_tls_session *ts = calloc(1, sizeof(*ts));

	if (!ts)
		return NULL;
	ts->stage = malloc(TLS_RECORD);
	if (!ts->stage || gnutls_init(&ts->s, GNUTLS_SERVER)) {
		free(ts->stage);
		free(ts);
		return NULL;
	}
	ts->sock = k;
	return ts;
}

/* Credentials, peer verification and our transport functions. */
static int tls_session_setup(struct nbd_tls_session *ts, struct nbd_tls *t)
{
	int ret = gnutls_priority_set(ts->s, t->prio);

	if (!ret && t->x509)
		ret = gnutls_credentials_set(ts->s, GNUTLS_CRD_CERTIFICATE, t->x509);
	if (!ret && t->psk)
		ret = gnutls_credentials_set(ts->s, GNUTLS_CRD_PSK, t->psk);
	if (ret)
		return -EINVAL;
	if (t->verify_peer) {
		gnutls_certificate_server_set_request(ts->s, GNUTLS_CERT_REQUIRE);
		gnutls_session_set_verify_cert(ts->s, NULL, 0);
	}
	gnutls_transport_set_ptr(ts->s, ts);
	gnutls_transport_set_pull_function(ts->s, tls_pull);
	gnutls_transport_set_pull_timeout_function(ts->s, tls_pull_timeout);
	gnutls_transport_set_push_function(ts->s, tls_push);
	gnutls_handshake_set_timeout(ts->s, TLS_HANDSHAKE_MS);
	return 0;
}

int nbd_tls_start(struct nbd_tls *t, struct nbd_sock *k,
		  struct nbd_tls_session **out)
{
	struct nbd_tls_session *ts = tls_session_new(t, k);
	int ret;

	if (!ts)
		return -ENOMEM;
	*out = ts;
	ret = tls_session_setup(ts, t);
	if (ret)
		return ret;	/* nbd_tls_end frees the session */
	do
		ret = gnutls_handshake(ts->s);
	while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret)
		return -ECONNABORTED;
	ts->up = true;
	return 0;
}

ssize_t nbd_tls_recv(struct nbd_tls_session *ts, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = gnutls_record_recv(ts->s, buf, len);

		if (n >= 0)
			return n;	/* 0: close_notify */
		if (n == GNUTLS_E_PREMATURE_TERMINATION)
			return 0;	/* EOF (or shutdown) without close_notify */
		if (n == GNUTLS_E_REHANDSHAKE)
			return -EPROTO;	/* no renegotiation: it would need the sender */
		if (!gnutls_error_is_fatal((int)n))
			continue;	/* EAGAIN, EINTR, a warning alert */
		return -ECONNRESET;
	}
}

/* Send all of buf as TLS records. */
static int tls_send_all(struct nbd_tls_session *ts, const uint8_t *buf,
			size_t len)
{
	while (len) {
		ssize_t n = gnutls_record_send(ts->s, buf, len);

		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;	/* the same arguments again, as GnuTLS asks */
		if (n <= 0)
			return -EPIPE;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int tls_flush(struct nbd_tls_session *ts)
{
	int ret = tls_send_all(ts, ts->stage, ts->staged);

	ts->staged = 0;
	return ret;
}

/* A small piece goes to the staged record (sent first when full). */
static int tls_stage(struct nbd_tls_session *ts, const uint8_t *p, size_t len)
{
	int ret = 0;

	if (ts->staged + len > TLS_RECORD)
		ret = tls_flush(ts);
	memcpy(ts->stage + ts->staged, p, len);
	ts->staged += len;
	return ret;
}

/* A big piece fills the staged record, which is sent; then the rest. */
static int tls_send_big(struct nbd_tls_session *ts, const uint8_t *p,
			size_t len)
{
	int ret = 0;

	if (ts->staged) {
		size_t k = UZ_MIN(len, TLS_RECORD - ts->staged);

		memcpy(ts->stage + ts->staged, p, k);
		ts->staged += k;
		p += k;
		len -= k;
		ret = tls_flush(ts);
	}
	return ret ? ret : tls_send_all(ts, p, len);
}

ssize_t nbd_tls_sendv(struct nbd_tls_session *ts, const struct iovec *iov,
		      int cnt)
{
	size_t total = 0;
	int ret = 0;

	for (int i = 0; i < cnt && !ret; i++) {
		if (iov[i].iov_len <= TLS_SMALL)
			ret = tls_stage(ts, iov[i].iov_base, iov[i].iov_len);
		else
			ret = tls_send_big(ts, iov[i].iov_base, iov[i].iov_len);
		total += iov[i].iov_len;
	}
	if (!ret)
		ret = tls_flush(ts);
	return ret ? ret : (ssize_t)total;
}

void nbd_tls_end(struct nbd_tls_session *ts, bool orderly)
{
	if (ts->up && orderly && ts->sock->out_sock) {
		ts->nonblock = true;
		gnutls_bye(ts->s, GNUTLS_SHUT_WR);
	}
	gnutls_deinit(ts->s);
	free(ts->stage);
	free(ts);
}

#endif /* HAVE_GNUTLS */
