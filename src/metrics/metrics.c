/*
 * metrics.c - the /metrics endpoint of `uzram serve --metrics` (metrics.h):
 * libmicrohttpd parses HTTP (no parser of ours), on its own thread with an
 * epoll loop, on a socket serve.c bound (127.0.0.1 unless told otherwise,
 * listen.c). GET or HEAD of /metrics answers 200 with the text of
 * metrics_render; another method on /metrics answers 405, any other path
 * 404. The library bounds what a client costs: METRICS_CONNECTIONS
 * connections (METRICS_PER_IP from one address), each closed after
 * METRICS_TIMEOUT_S idle, with METRICS_MEMORY for its request (a larger
 * header is refused, 431); malformed requests get its 400 and a close.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics_int.h"

#define CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

int metrics_new(struct uzram *z, struct metrics **out)
{
	*out = calloc(1, sizeof(**out));
	if (!*out)
		return -ENOMEM;
	(*out)->z = z;
	return 0;
}

struct iostat *metrics_add_front(struct metrics *m, const char *name,
				 unsigned int ops, bool connections)
{
	struct iostat *st;

	if (!m || m->nfronts == METRICS_MAX_FRONTS)
		return NULL;
	st = aligned_alloc(_Alignof(struct iostat), sizeof(*st));
	if (!st)
		return NULL;
	iostat_init(st, name, ops, connections);
	m->fronts[m->nfronts++] = st;
	return st;
}

char *metrics_render(struct metrics *m, size_t *len)
{
	struct mtext t = { .p = NULL };

	mt_family(&t, "uzram_build_info", "gauge", "Always 1; labels: the uzram version.");
	mt_printf(&t, "uzram_build_info{version=\"%s\"} 1\n", UZRAM_VERSION);
	metrics_devices(&t, m->z);
	metrics_fronts(&t, m->fronts, m->nfronts);
	if (t.failed) {
		free(t.p);
		return NULL;
	}
	*len = t.len;
	return t.p;
}

#ifndef HAVE_MICROHTTPD

int metrics_start(struct metrics *m, int listen_fd, char *msg, size_t msg_size)
{
	close(listen_fd);
	snprintf(msg, msg_size, "this build has no libmicrohttpd (install libmicrohttpd-dev "
		 "and rebuild)");
	return -ENOSYS;
}

static void metrics_stop(struct metrics *m)
{
}

#else

#include <microhttpd.h>

typedef enum MHD_Result MHD_RESULT;	/* 0.9.71 and later (Debian 12: 0.9.75) */

/* A short text/plain answer (404, 405, 500). */
static MHD_RESULT reply_status(struct MHD_Connection *conn, unsigned int status,
			       const char *text)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), (void *)text,
								  MHD_RESPMEM_PERSISTENT);
	MHD_RESULT ret;

	if (!r)
		return MHD_NO;	/* the library closes the connection */
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static MHD_RESULT on_request(void *cls, struct MHD_Connection *conn, const char *url,
			     const char *method, const char *version,
			     const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct MHD_Response *r;
	MHD_RESULT ret;
	size_t len;
	char *body;

	if (strcmp(url, "/metrics"))
		return reply_status(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n");
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_status(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: GET /metrics\n");
	body = metrics_render(cls, &len);
	if (!body)
		return reply_status(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

int metrics_start(struct metrics *m, int listen_fd, char *msg, size_t msg_size)
{
	/* the epoll loop accepts until EAGAIN */
	fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
	m->daemon = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD, 0, NULL, NULL,
				     on_request, m,
				     MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd,
				     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_CONNECTIONS,
				     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)METRICS_PER_IP,
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_TIMEOUT_S,
				     MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_MEMORY,
				     MHD_OPTION_END);
	if (!m->daemon) {
		close(listen_fd);
		snprintf(msg, msg_size, "libmicrohttpd could not start its server thread");
		return -EIO;
	}
	return 0;
}

static void metrics_stop(struct metrics *m)
{
	if (m->daemon)
		MHD_stop_daemon(m->daemon);	/* closes the listening socket */
	m->daemon = NULL;
}

#endif /* HAVE_MICROHTTPD */

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	metrics_stop(m);
	for (unsigned int i = 0; i < m->nfronts; i++)
		free(m->fronts[i]);
	free(m);
}
