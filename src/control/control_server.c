/*
 * control_server.c - the server of the control socket (control.h): a line
 * protocol over the library's attribute table, so `uzram ctl --control`
 * can do whatever the FUSE tree can, where FUSE is not available.
 *
 * Threads. The server has one accept thread, which polls the listening
 * socket and a wake pipe, and one thread per connection (at most
 * CONTROL_MAX_CONNS; more are closed at once). A connection handles one
 * request at a time: read a line (at most CONTROL_MAX_LINE bytes) and a
 * payload (at most CONTROL_MAX_PAYLOAD), call the library, answer. A save
 * or restore runs in its connection's thread for as long as it takes (the
 * device's size); stopping the server waits for it.
 *
 * Locking. cs->lock guards the connection list (their descriptors) and
 * count. Stopping wakes the accept thread, joins it, then shuts down every
 * connection's socket under the lock, so a descriptor is never touched after
 * its thread closed it (a thread leaves the list before closing), and waits
 * for the count to reach zero.
 *
 * Buffers. Each connection reads through a fixed buffer of one line; show
 * uses a 4 KiB page as sysfs does, except block_state, which is paged
 * through the library into a growing buffer (its size is the device's, not
 * the client's choice).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "control_int.h"
#include "refusal.h"
#include "util/common.h"

#define CONTROL_MAX_CONNS	64

struct control_conn {
	struct control_server *cs;
	struct control_conn *next;
	int fd;
	char line[CONTROL_MAX_LINE + 1];
	char in[CONTROL_MAX_LINE + CONTROL_MAX_PAYLOAD];	/* read buffer */
	size_t in_pos, in_len;
};

struct control_server {
	struct uzram *z;
	char *path;
	int listen_fd;
	struct sock_file file;		/* the socket file, removed at the stop */
	int wake[2];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct control_conn *conns;
	unsigned int nconns;
};

/* ---- the server's connections ---- */

/* One byte through the connection's buffer: 1, 0 at EOF, -errno. */
static int conn_getc(struct control_conn *cc, char *ch)
{
	if (cc->in_pos == cc->in_len) {
		ssize_t n;

		do
			n = recv(cc->fd, cc->in, sizeof(cc->in), 0);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			return n < 0 ? -errno : 0;
		cc->in_pos = 0;
		cc->in_len = (size_t)n;
	}
	*ch = cc->in[cc->in_pos++];
	return 1;
}

/* A request line without its LF: its length, -1 at EOF, -E2BIG if too long. */
static long conn_line(struct control_conn *cc)
{
	size_t n = 0;
	char ch;

	for (;;) {
		int ret = conn_getc(cc, &ch);
		if (ret <= 0)
			return -1;
		if (ch == '\n')
			break;
		if (n == CONTROL_MAX_LINE)
			return -E2BIG;
		cc->line[n++] = ch;
	}
	cc->line[n] = '\0';
	return (long)n;
}

static int conn_payload(struct control_conn *cc, char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (conn_getc(cc, &buf[i]) <= 0)
			return -1;
	return 0;
}

static int reply_ok(struct control_conn *cc, const char *data, size_t len)
{
	char h[32];
	int n = snprintf(h, sizeof(h), "ok %zu\n", len);
	int ret = control_write_all(cc->fd, h, (size_t)n);

	return ret || !len ? ret : control_write_all(cc->fd, data, len);
}

static int reply_err(struct control_conn *cc, int err, const char *what)
{
	char msg[CONTROL_MAX_LINE + 128];
	int n;

	if (err < 0)
		err = -err;
	n = snprintf(msg, sizeof(msg), "err %d %s%s%s\n", err, what ? what : "",
		     what ? ": " : "", strerror(err));
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = snprintf(msg, sizeof(msg), "err %d %s\n", err, strerror(err));
	for (int i = 0; i < n - 1; i++)	/* keep it one line */
		if (msg[i] == '\n')
			msg[i] = ' ';
	return control_write_all(cc->fd, msg, (size_t)n);
}

/* "zramN" to an id, -1 for "zram-control", -2 otherwise. */
static int parse_dev(const char *s)
{
	int id;

	if (!strcmp(s, "zram-control"))
		return -1;
	id = uzram_name_id(s, strlen(s));
	return id < 0 ? -2 : id;
}

static int do_block_state(struct control_conn *cc, int id)
{
	struct uzram *z = cc->cs->z;
	size_t cap = 1 << 16, len = 0;
	uint64_t pos = 0;
	char *buf = malloc(cap);
	int ret;

	if (!buf)
		return reply_err(cc, ENOMEM, "block_state");
	for (;;) {
		long n;

		if (cap - len < UZ_PAGE_SIZE) {
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return reply_err(cc, ENOMEM, "block_state");
			}
			buf = nb;
			cap *= 2;
		}
		n = uzram_block_state(z, id, &pos, buf + len, cap - len);
		if (n < 0) {
			free(buf);
			return reply_err(cc, (int)n, "block_state");
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	ret = reply_ok(cc, buf, len);
	free(buf);
	return ret;
}

static int do_show(struct control_conn *cc, const char *dev, const char *attr)
{
	struct uzram *z = cc->cs->z;
	char buf[UZ_PAGE_SIZE];
	int id = parse_dev(dev);
	long n;

	if (id == -2)
		return reply_err(cc, ENODEV, dev);
	if (id == -1) {
		n = uzram_control_show(z, attr, buf, sizeof(buf));
	} else if (!strcmp(attr, "block_state")) {
		if (!uzram_exists(z, id))
			return reply_err(cc, ENODEV, dev);
		return do_block_state(cc, id);
	} else {
		n = uzram_attr_show(z, id, attr, buf, sizeof(buf));
	}
	if (n < 0)
		return reply_err(cc, (int)n, attr);
	return reply_ok(cc, buf, UZ_MIN((size_t)n, sizeof(buf)));
}

static int do_store(struct control_conn *cc, const char *dev, const char *attr,
		    const char *val, size_t len)
{
	struct uzram *z = cc->cs->z;
	int id = parse_dev(dev), ret;

	if (id == -2)
		return reply_err(cc, ENODEV, dev);
	if (id == -1)
		ret = uzram_control_store(z, attr, val, len);
	else
		ret = uzram_attr_store(z, id, attr, val, len);
	if (ret)
		refusal_log(id, attr, ret);
	return ret ? reply_err(cc, ret, attr) : reply_ok(cc, NULL, 0);
}

static int do_list(struct control_conn *cc)
{
	int *ids;
	long n = uzram_list_all(cc->cs->z, &ids);
	char *out = n < 0 ? NULL : malloc(16 * ((size_t)n + 1));
	size_t len = 0;
	int ret;

	if (!out) {
		free(ids);
		return reply_err(cc, ENOMEM, "list");
	}
	for (long i = 0; i < n; i++)
		len += (size_t)sprintf(out + len, "zram%d\n", ids[i]);
	ret = reply_ok(cc, out, len);
	free(ids);
	free(out);
	return ret;
}

static int do_attrs(struct control_conn *cc)
{
	size_t n = uzram_attr_count(), len = 0, cap = 64 * (n + 1);
	char *out = malloc(cap);
	int ret;

	if (!out)
		return reply_err(cc, ENOMEM, "attrs");
	for (size_t i = 0; i < n; i++) {
		const struct uzram_attr_info *a = uzram_attr_at(i);
		len += (size_t)snprintf(out + len, cap - len, "%s %o\n", a->name, a->mode);
	}
	ret = reply_ok(cc, out, len);
	free(out);
	return ret;
}

/*
 * The LEN of a request and its payload into payload (CONTROL_MAX_PAYLOAD
 * bytes): 0, 1 when refused (answered), -1 to close.
 */
static int get_payload(struct control_conn *cc, const char *lenstr, char *payload,
		       size_t *len)
{
	char *end;

	errno = 0;
	*len = strtoul(lenstr, &end, 10);
	if (*end || errno || lenstr[0] < '0' || lenstr[0] > '9')
		return reply_err(cc, EINVAL, "bad length") ? -1 : 1;
	if (*len > CONTROL_MAX_PAYLOAD) {
		reply_err(cc, E2BIG, "payload longer than 4096 bytes");
		return -1;
	}
	return conn_payload(cc, payload, *len) ? -1 : 0;
}

/* "store DEV ATTR LEN" and its payload: 0 to go on, -1 to close. */
static int handle_store(struct control_conn *cc, const char *dev, const char *attr,
			const char *lenstr)
{
	char payload[CONTROL_MAX_PAYLOAD];
	size_t len;
	int ret = get_payload(cc, lenstr, payload, &len);

	if (ret)
		return ret < 0 ? -1 : 0;
	return do_store(cc, dev, attr, payload, len) ? -1 : 0;
}

/*
 * "save DEV LEN" or "restore DEV LEN", the payload a path: the device to or
 * from an image file (docs/image.md), through the library's path
 * allow-list. Logged either way; a refusal's reason goes to the client.
 */
static int handle_image(struct control_conn *cc, const char *verb, const char *dev,
			const char *lenstr)
{
	char payload[CONTROL_MAX_PAYLOAD + 1];
	bool save = !strcmp(verb, "save");
	int id = parse_dev(dev), ret;
	const char *why;
	size_t len;

	ret = get_payload(cc, lenstr, payload, &len);
	if (ret)
		return ret < 0 ? -1 : 0;
	payload[len] = '\0';
	if (id < 0)
		return reply_err(cc, ENODEV, dev) ? -1 : 0;
	if (!len || strlen(payload) != len)
		return reply_err(cc, EINVAL, "not a path") ? -1 : 0;
	ret = save ? uzram_save_file(cc->cs->z, id, payload) :
		     uzram_restore_file(cc->cs->z, id, payload);
	why = uzram_store_reason();
	if (!ret) {
		fprintf(stderr, "uzram serve: %s %s %s\n", dev, save ? "saved to" :
			"restored from", payload);
		return reply_ok(cc, NULL, 0) ? -1 : 0;
	}
	fprintf(stderr, "uzram serve: %s: %s %s: %s%s%s%s\n", dev, verb, payload,
		strerror(-ret), why ? " (" : "", why ? why : "", why ? ")" : "");
	return reply_err(cc, ret, why ? why : verb) ? -1 : 0;
}

/* One request: 0 to go on, -1 to close the connection. */
static int handle_request(struct control_conn *cc)
{
	char *argv[5], *save = NULL, *tok;
	long n = conn_line(cc);
	int argc = 0;

	if (n == -E2BIG) {
		reply_err(cc, E2BIG, "request line longer than 4096 bytes");
		return -1;
	}
	if (n < 0)
		return -1;
	for (tok = strtok_r(cc->line, " \t\r", &save); tok && argc < 5;
	     tok = strtok_r(NULL, " \t\r", &save))
		argv[argc++] = tok;
	if (tok)
		return reply_err(cc, EINVAL, "too many words in the request") ? -1 : 0;
	if (argc == 0)
		return reply_err(cc, EINVAL, "empty request") ? -1 : 0;

	if (!strcmp(argv[0], "show") && argc == 3)
		return do_show(cc, argv[1], argv[2]) ? -1 : 0;
	if (!strcmp(argv[0], "store") && argc == 4)
		return handle_store(cc, argv[1], argv[2], argv[3]);
	if (!strcmp(argv[0], "list") && argc == 1)
		return do_list(cc) ? -1 : 0;
	if (!strcmp(argv[0], "attrs") && argc == 1)
		return do_attrs(cc) ? -1 : 0;
	if ((!strcmp(argv[0], "save") || !strcmp(argv[0], "restore")) && argc == 3)
		return handle_image(cc, argv[0], argv[1], argv[2]);
	return reply_err(cc, EINVAL, "unknown request (show DEV ATTR | store DEV ATTR LEN"
			 " | list | attrs | save DEV LEN | restore DEV LEN)") ? -1 : 0;
}

static void *conn_thread(void *arg)
{
	struct control_conn *cc = arg, **pp;
	struct control_server *cs = cc->cs;

	pthread_setname_np(pthread_self(), "ctl-conn");

	while (handle_request(cc) == 0)
		;
	pthread_mutex_lock(&cs->lock);
	for (pp = &cs->conns; *pp != cc; pp = &(*pp)->next)
		;
	*pp = cc->next;
	close(cc->fd);
	free(cc);
	cs->nconns--;
	pthread_cond_broadcast(&cs->cond);
	pthread_mutex_unlock(&cs->lock);
	return NULL;
}

/* A thread for the accepted connection fd, unless CONTROL_MAX_CONNS are
 * open (then it is closed at once). */
static void conn_add(struct control_server *cs, int fd)
{
	struct control_conn *cc = calloc(1, sizeof(*cc));
	pthread_attr_t attr;
	pthread_t tid;

	pthread_mutex_lock(&cs->lock);
	if (!cc || cs->nconns >= CONTROL_MAX_CONNS) {
		pthread_mutex_unlock(&cs->lock);
		free(cc);
		close(fd);
		return;
	}
	cc->cs = cs;
	cc->fd = fd;
	cc->next = cs->conns;
	cs->conns = cc;
	cs->nconns++;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &attr, conn_thread, cc)) {
		cs->conns = cc->next;
		cs->nconns--;
		close(fd);
		free(cc);
	}
	pthread_attr_destroy(&attr);
	pthread_mutex_unlock(&cs->lock);
}

static void *accept_thread(void *arg)
{
	struct control_server *cs = arg;

	pthread_setname_np(pthread_self(), "ctl-accept");

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = cs->listen_fd, .events = POLLIN },
			{ .fd = cs->wake[0], .events = POLLIN },
		};
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		fd = accept4(cs->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			conn_add(cs, fd);
		else if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
			poll(NULL, 0, 100);	/* do not spin */
	}
	return NULL;
}

int control_server_start(struct uzram *z, const char *path,
			 struct control_server **out)
{
	struct control_server *cs = calloc(1, sizeof(*cs));
	int ret;

	*out = NULL;
	if (!cs)
		return -ENOMEM;
	cs->z = z;
	cs->path = strdup(path);
	if (!cs->path) {
		free(cs);
		return -ENOMEM;
	}
	if (pipe2(cs->wake, O_CLOEXEC)) {
		ret = -errno;
		goto out_free;
	}
	cs->listen_fd = control_unix_listen(path, &cs->file);
	if (cs->listen_fd < 0) {
		ret = cs->listen_fd;
		goto out_pipe;
	}
	pthread_mutex_init(&cs->lock, NULL);
	pthread_cond_init(&cs->cond, NULL);
	ret = -pthread_create(&cs->thread, NULL, accept_thread, cs);
	if (ret) {
		pthread_mutex_destroy(&cs->lock);
		pthread_cond_destroy(&cs->cond);
		close(cs->listen_fd);
		sock_file_remove(&cs->file);
		goto out_pipe;
	}
	*out = cs;
	return 0;
out_pipe:
	close(cs->wake[0]);
	close(cs->wake[1]);
out_free:
	free(cs->path);
	free(cs);
	return ret;
}

void control_server_stop(struct control_server *cs)
{
	if (!cs)
		return;
	if (write(cs->wake[1], "x", 1) < 0) {
		/* a pipe with room: cannot fail */
	}
	pthread_join(cs->thread, NULL);
	close(cs->listen_fd);
	sock_file_remove(&cs->file);
	pthread_mutex_lock(&cs->lock);
	for (struct control_conn *cc = cs->conns; cc; cc = cc->next)
		shutdown(cc->fd, SHUT_RDWR);
	while (cs->nconns)
		pthread_cond_wait(&cs->cond, &cs->lock);
	pthread_mutex_unlock(&cs->lock);
	pthread_mutex_destroy(&cs->lock);
	pthread_cond_destroy(&cs->cond);
	close(cs->wake[0]);
	close(cs->wake[1]);
	free(cs->path);
	free(cs);
}
