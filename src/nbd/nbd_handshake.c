/*
 * nbd_handshake.c - option haggling: fixed newstyle with NO_ZEROES, and
 * the options EXPORT_NAME, ABORT, LIST, INFO, GO, STRUCTURED_REPLY,
 * LIST_META_CONTEXT and SET_META_CONTEXT with base:allocation, and
 * STARTTLS (the NBD specification, doc/proto.md of NetworkBlockDevice/nbd,
 * "Option haggling").
 *
 * It runs on the connection thread with blocking I/O through c->io (which
 * is TLS once STARTTLS succeeded) and touches only the negotiation fields
 * of the connection, and dev and size when it ends in transmission.
 * With --tls=require a network client gets ERR_TLS_REQD for every option
 * but STARTTLS and ABORT (c->tls_required).
 *
 * Bounds. Option data is bounded (NBD_MAX_OPTION parsed, up to
 * NBD_MAX_OPTION_SKIP read and discarded, more is a hard disconnect); no
 * length a client sends makes the server allocate more than that.
 *
 * Exports are the initialised devices, named zramN; the empty name is
 * zram0. A device is opened when the client ends option haggling (GO or
 * EXPORT_NAME) and closed when the connection ends, so a device in use
 * cannot be reset, as an open /dev/zramN.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbd_handshake.h"

/* ---- exports ---- */

/* "zramN" (canonical decimal) or "" (zram0) to an id; -1 if neither. */
static int export_id(const char *name, size_t len)
{
	int id = len ? uzram_name_id(name, len) : 0;	/* "" is zram0 */

	return id < 0 ? -1 : id;
}

/* disksize of an initialised device; 0 if it does not exist or is not. */
static uint64_t export_size(struct uzram *z, int id)
{
	char buf[64];

	if (uzram_attr_show(z, id, "disksize", buf, sizeof(buf)) <= 0)
		return 0;
	return strtoull(buf, NULL, 10);
}

/* Open an export for transmission (or to describe it). */
static int export_open(struct nbd_conn *c, int id, struct uzram_dev **dev,
		       uint64_t *size)
{
	int ret;

	if (id < 0)
		return -ENOENT;
	ret = uzram_open(c->srv->z, id, dev);
	if (ret)
		return ret == -ENODEV ? -ENOENT : ret;
	*size = uzram_dev_size(*dev);
	if (*size == 0) {
		uzram_close(*dev);
		*dev = NULL;
		return -ENXIO;	/* exists, not initialised */
	}
	return 0;
}

static uint16_t export_flags(struct nbd_conn *c)
{
	uint16_t f = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA |
		     NBD_FLAG_CAN_MULTI_CONN | NBD_FLAG_SEND_CACHE;

	if (c->srv->read_only)
		f |= NBD_FLAG_READ_ONLY;
	else
		f |= NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES |
		     NBD_FLAG_SEND_FAST_ZERO;
	if (c->structured)
		f |= NBD_FLAG_SEND_DF;
	return f;
}

static void export_description(struct nbd_conn *c, int id, char *buf,
			       size_t size)
{
	struct uzram_stats st;

	if (uzram_stats(c->srv->z, id, &st) == 0)
		snprintf(buf, size, "uzram zram%d: %" PRIu64 " bytes, %s", id,
			 st.disksize, st.algorithm);
	else
		snprintf(buf, size, "uzram zram%d", id);
}

/* ---- option replies ---- */

static int opt_reply(struct nbd_conn *c, uint32_t opt, uint32_t type,
		     const void *data, size_t len)
{
	uint8_t h[20];
	int ret;

	nbd_put64(h, NBD_REP_MAGIC);
	nbd_put32(h + 8, opt);
	nbd_put32(h + 12, type);
	nbd_put32(h + 16, (uint32_t)len);
	ret = nbd_io_write(&c->io, h, sizeof(h));
	if (!ret && len)
		ret = nbd_io_write(&c->io, data, len);
	return ret;
}

static int opt_error(struct nbd_conn *c, uint32_t opt, uint32_t type,
		     const char *msg)
{
	return opt_reply(c, opt, type, msg, strlen(msg));
}

static int opt_ack(struct nbd_conn *c, uint32_t opt)
{
	return opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
}

static int opt_list(struct nbd_conn *c, uint32_t opt)
{
	struct uzram *z = c->srv->z;
	int *ids;
	long n = uzram_list_all(z, &ids);
	int ret = 0;

	if (n < 0)
		return (int)n;
	for (long i = 0; i < n && !ret; i++) {
		uint8_t rec[4 + 16 + 128];
		int len;

		if (!export_size(z, ids[i]))
			continue;
		len = snprintf((char *)rec + 4, sizeof(rec) - 4, "zram%d", ids[i]);
		nbd_put32(rec, (uint32_t)len);
		export_description(c, ids[i], (char *)rec + 4 + len,
				   sizeof(rec) - 4 - (size_t)len);
		ret = opt_reply(c, opt, NBD_REP_SERVER, rec,
				4 + (size_t)len + strlen((char *)rec + 4 + len));
	}
	free(ids);
	return ret ? ret : opt_ack(c, opt);
}

/*
 * Option haggling ends on export id: transmission uses dev. A meta context
 * chosen for another export does not carry over.
 */
static int export_select(struct nbd_conn *c, int id, struct uzram_dev *dev,
			 uint64_t size)
{
	if (c->meta_export != id)
		c->meta_alloc = false;
	c->dev = dev;
	c->size = size;
	return 1;
}

/* What INFO and GO ask for: u32 namelen, name, u16 nreq, nreq x u16. */
struct info_req {
	const char *name;
	uint32_t namelen;
	bool want_name, want_desc;
};

/* Parse the data of INFO or GO into q: NULL, or what is wrong with it. */
static const char *info_parse(const uint8_t *d, uint32_t len,
			      struct info_req *q)
{
	uint16_t nreq;

	if (len < 6 || (q->namelen = nbd_get32(d)) > len - 6)
		return "malformed INFO/GO request";
	nreq = nbd_get16(d + 4 + q->namelen);
	if ((uint64_t)4 + q->namelen + 2 + 2ull * nreq != len)
		return "INFO/GO: information request list does not match the length";
	for (uint32_t i = 0; i < nreq; i++) {
		uint16_t t = nbd_get16(d + 6 + q->namelen + 2 * i);
		q->want_name |= t == NBD_INFO_NAME;
		q->want_desc |= t == NBD_INFO_DESCRIPTION;
	}
	if (q->namelen > NBD_MAX_STRING)
		return "export name too long";
	q->name = (const char *)d + 4;
	return NULL;
}

/* ERR_UNKNOWN for an export that export_open() refused with err. */
static int info_unknown(struct nbd_conn *c, uint32_t opt,
			const struct info_req *q, int err)
{
	char msg[NBD_MAX_STRING + 64];

	snprintf(msg, sizeof(msg), "export '%.*s': %s", (int)q->namelen, q->name,
		 err == -ENOENT ? "no such export (exports are zram0, zram1, ...)" :
		 err == -ENXIO ? "the device is not initialised (set its disksize)" :
		 err == -EBUSY ? "the device is being reset or removed" :
		 strerror(-err));
	return opt_error(c, opt, NBD_REP_ERR_UNKNOWN, msg);
}

/* The INFO replies about export id (of size bytes), then the ACK. */
static int info_send(struct nbd_conn *c, uint32_t opt, int id, uint64_t size,
		     const struct info_req *q)
{
	uint8_t buf[256];
	int ret;

	nbd_put16(buf, NBD_INFO_EXPORT);
	nbd_put64(buf + 2, size);
	nbd_put16(buf + 10, export_flags(c));
	ret = opt_reply(c, opt, NBD_REP_INFO, buf, 12);
	if (!ret && q->want_name) {
		int n = snprintf((char *)buf + 2, sizeof(buf) - 2, "zram%d", id);
		nbd_put16(buf, NBD_INFO_NAME);
		ret = opt_reply(c, opt, NBD_REP_INFO, buf, 2 + (size_t)n);
	}
	if (!ret && q->want_desc) {
		nbd_put16(buf, NBD_INFO_DESCRIPTION);
		export_description(c, id, (char *)buf + 2, sizeof(buf) - 2);
		ret = opt_reply(c, opt, NBD_REP_INFO, buf, 2 + strlen((char *)buf + 2));
	}
	if (!ret) {
		nbd_put16(buf, NBD_INFO_BLOCK_SIZE);
		nbd_put32(buf + 2, NBD_MIN_BLOCK);
		nbd_put32(buf + 6, NBD_PREF_BLOCK);
		nbd_put32(buf + 10, NBD_MAX_PAYLOAD);
		ret = opt_reply(c, opt, NBD_REP_INFO, buf, 14);
	}
	return ret ? ret : opt_ack(c, opt);
}

/*
 * INFO and GO. Returns 1 when GO succeeded (the device is open), 0 to go
 * on with options, -errno to drop.
 */
static int opt_info_go(struct nbd_conn *c, uint32_t opt, const uint8_t *d,
		       uint32_t len)
{
	struct info_req q = { 0 };
	const char *bad = info_parse(d, len, &q);
	struct uzram_dev *dev = NULL;
	uint64_t size = 0;
	int id, ret;

	if (bad)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, bad);
	id = export_id(q.name, q.namelen);
	ret = export_open(c, id, &dev, &size);
	if (ret)
		return info_unknown(c, opt, &q, ret);
	ret = info_send(c, opt, id, size, &q);
	if (ret || opt == NBD_OPT_INFO) {
		uzram_close(dev);
		return ret;
	}
	return export_select(c, id, dev, size);
}

/* EXPORT_NAME: no error path; an unknown export ends the connection. */
static int opt_export_name(struct nbd_conn *c, const uint8_t *d, uint32_t len)
{
	uint8_t buf[10 + 124] = { 0 };
	struct uzram_dev *dev = NULL;
	uint64_t size;
	int id = len > NBD_MAX_STRING ? -1 : export_id((const char *)d, len);
	int ret = export_open(c, id, &dev, &size);

	if (ret)
		return ret;
	nbd_put64(buf, size);
	nbd_put16(buf + 8, export_flags(c));
	ret = nbd_io_write(&c->io, buf, c->no_zeroes ? 10 : sizeof(buf));
	if (ret) {
		uzram_close(dev);
		return ret;
	}
	return export_select(c, id, dev, size);
}

/*
 * LIST_META_CONTEXT and SET_META_CONTEXT: u32 namelen, name, u32 nqueries,
 * nqueries x (u32 len, query). The only context is base:allocation.
 */
#define META_CTX	NBD_META_BASE_ALLOCATION
#define META_CTX_LEN	(sizeof(META_CTX) - 1)

/*
 * The queries of a meta context request, from d + p on: does one select
 * base:allocation (SET: only its full name; LIST: "base:" as well; no
 * query at all lists everything and sets nothing)? NULL, or what is wrong.
 */
static const char *meta_queries(const uint8_t *d, uint32_t len, uint32_t p,
				bool set, bool *match)
{
	uint32_t nq = nbd_get32(d + p);

	p += 4;
	if (nq == 0)
		*match = !set;
	for (uint32_t i = 0; i < nq; i++) {
		uint32_t ql;

		if (len - p < 4 || (ql = nbd_get32(d + p)) > len - p - 4)
			return "meta context query overruns the option";
		p += 4;
		if ((ql == META_CTX_LEN && !memcmp(d + p, META_CTX, ql)) ||
		    (!set && ql == 5 && !memcmp(d + p, "base:", 5)))
			*match = true;
		p += ql;
	}
	return p != len ? "meta context request has trailing data" : NULL;
}

/* The META_CONTEXT reply naming base:allocation (id 0 for LIST). */
static int meta_reply(struct nbd_conn *c, uint32_t opt, bool set)
{
	uint8_t rec[4 + META_CTX_LEN];

	nbd_put32(rec, set ? NBD_META_ID_BASE_ALLOCATION : 0);
	memcpy(rec + 4, META_CTX, META_CTX_LEN);
	return opt_reply(c, opt, NBD_REP_META_CONTEXT, rec, sizeof(rec));
}

static int opt_meta(struct nbd_conn *c, uint32_t opt, const uint8_t *d,
		    uint32_t len)
{
	bool set = opt == NBD_OPT_SET_META_CONTEXT, match = false;
	uint32_t namelen;
	const char *bad;
	int ret;

	if (set)
		c->meta_alloc = false;	/* replaced, even on failure */
	if (!c->structured)
		return opt_error(c, opt, NBD_REP_ERR_INVALID,
				 "meta contexts need structured replies first");
	if (len < 8 || (namelen = nbd_get32(d)) > len - 8)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, "malformed meta context request");
	bad = meta_queries(d, len, 4 + namelen, set, &match);
	if (bad)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, bad);
	if (match && (ret = meta_reply(c, opt, set)))
		return ret;
	if (set && match) {
		c->meta_alloc = true;
		c->meta_export = namelen > NBD_MAX_STRING ? -1 :
				 export_id((const char *)d + 4, namelen);
	}
	return opt_ack(c, opt);
}

/*
 * STARTTLS: ACK, then the TLS handshake on the same descriptors; what
 * was negotiated before is forgotten (structured replies, meta contexts),
 * as the client renegotiates it under TLS. Bytes the client sent after
 * STARTTLS without waiting for the ACK are already in the read buffer, in
 * plaintext: taking them for TLS-protected options would be the classic
 * STARTTLS injection, so such a client is dropped.
 */
static int opt_starttls(struct nbd_conn *c, uint32_t opt, uint32_t len)
{
	int ret;

	if (c->srv->tls_mode == NBD_TLS_OFF)
		return opt_error(c, opt, NBD_REP_ERR_UNSUP, "TLS is not enabled on this server");
	if (len)
		return opt_error(c, opt, NBD_REP_ERR_INVALID, "STARTTLS takes no data");
	if (nbd_io_is_tls(&c->io))
		return opt_error(c, opt, NBD_REP_ERR_INVALID, "TLS is already on");
	if (nbd_io_buffered(&c->io))
		return -EPROTO;
	ret = opt_ack(c, opt);
	if (!ret)
		ret = nbd_io_starttls(&c->io, c->srv->tls_creds);
	if (ret)
		return ret;
	c->structured = false;
	c->meta_alloc = false;
	c->meta_export = -1;
	return 0;
}

/* Option data beyond NBD_MAX_OPTION: read and refused, or a drop. */
static int opt_too_big(struct nbd_conn *c, uint32_t opt, uint32_t len)
{
	int ret;

	if (len > NBD_MAX_OPTION_SKIP || opt == NBD_OPT_EXPORT_NAME)
		return -EMSGSIZE;
	ret = nbd_io_skip(&c->io, len);
	if (ret)
		return ret;
	return opt_error(c, opt, NBD_REP_ERR_TOO_BIG, "option data too long");
}

/*
 * Options refused whatever they are: all but ABORT at shutdown, all but
 * STARTTLS and ABORT while TLS is required and not up. True, with the
 * option's result in *ret, when opt is refused.
 */
static bool opt_refused(struct nbd_conn *c, uint32_t opt, int *ret)
{
	if (atomic_load(&c->srv->shutting_down) && opt != NBD_OPT_ABORT) {
		*ret = opt == NBD_OPT_EXPORT_NAME ? -ESHUTDOWN :
		       opt_error(c, opt, NBD_REP_ERR_SHUTDOWN, "the server is shutting down");
		return true;
	}
	if (c->tls_required && !nbd_io_is_tls(&c->io) && opt != NBD_OPT_STARTTLS &&
	    opt != NBD_OPT_ABORT) {
		/* FORCEDTLS: EXPORT_NAME has no error reply, so it ends here. */
		*ret = opt == NBD_OPT_EXPORT_NAME ? -EACCES :
		       opt_error(c, opt, NBD_REP_ERR_TLS_REQD,
				 "this server requires TLS: use STARTTLS (nbds://)");
		return true;
	}
	return false;
}

static int opt_structured(struct nbd_conn *c, uint32_t opt, uint32_t len)
{
	if (len)
		return opt_error(c, opt, NBD_REP_ERR_INVALID,
				 "STRUCTURED_REPLY takes no data");
	c->structured = true;
	return opt_ack(c, opt);
}

/* Run one option with its data; as handle_option(). */
static int opt_run(struct nbd_conn *c, uint32_t opt, const uint8_t *d,
		   uint32_t len)
{
	switch (opt) {
	case NBD_OPT_EXPORT_NAME:
		return opt_export_name(c, d, len);
	case NBD_OPT_ABORT:
		opt_ack(c, opt);	/* the client may already be gone */
		return 2;
	case NBD_OPT_LIST:
		return len ? opt_error(c, opt, NBD_REP_ERR_INVALID, "LIST takes no data")
			   : opt_list(c, opt);
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
		return opt_info_go(c, opt, d, len);
	case NBD_OPT_STRUCTURED_REPLY:
		return opt_structured(c, opt, len);
	case NBD_OPT_LIST_META_CONTEXT:
	case NBD_OPT_SET_META_CONTEXT:
		return opt_meta(c, opt, d, len);
	case NBD_OPT_STARTTLS:
		return opt_starttls(c, opt, len);
	default:
		return opt_error(c, opt, NBD_REP_ERR_UNSUP, "unsupported option");
	}
}

/* One option; 1 = transmission begins, 0 = next option, 2 = ABORT, <0 drop. */
static int handle_option(struct nbd_conn *c, uint32_t opt, uint32_t len)
{
	uint8_t *d;
	int ret;

	if (len > NBD_MAX_OPTION)
		return opt_too_big(c, opt, len);
	d = malloc(len + 1);
	if (!d)
		return -ENOMEM;
	ret = nbd_io_read(&c->io, d, len);
	if (!ret && !opt_refused(c, opt, &ret))
		ret = opt_run(c, opt, d, len);
	free(d);
	return ret;
}

/* The greeting, and the client's flags: 0 or -errno. */
static int greet(struct nbd_conn *c)
{
	uint8_t buf[18];
	uint32_t cflags;
	int ret;

	nbd_put64(buf, NBD_MAGIC);
	nbd_put64(buf + 8, NBD_OPTS_MAGIC);
	nbd_put16(buf + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	ret = nbd_io_write(&c->io, buf, 18);
	if (!ret)
		ret = nbd_io_read(&c->io, buf, 4);
	if (ret)
		return ret;
	cflags = nbd_get32(buf);
	if (cflags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES))
		return -EPROTO;		/* MUST drop */
	c->fixed = cflags & NBD_FLAG_C_FIXED_NEWSTYLE;
	c->no_zeroes = cflags & NBD_FLAG_C_NO_ZEROES;
	return 0;
}

int nbd_handshake(struct nbd_conn *c)
{
	int ret = greet(c);

	while (!ret) {
		uint8_t buf[16];
		uint32_t opt, len;

		ret = nbd_io_read(&c->io, buf, 16);
		if (ret)
			return ret;
		if (nbd_get64(buf) != NBD_OPTS_MAGIC)
			return -EPROTO;
		opt = nbd_get32(buf + 8);
		len = nbd_get32(buf + 12);
		/* Without fixed newstyle no error can be sent. */
		if (!c->fixed && opt != NBD_OPT_EXPORT_NAME)
			return -EPROTO;
		ret = handle_option(c, opt, len);
	}
	return ret == 2 ? 0 : ret;
}
