/*
 * control.c - the control socket (server and client) of control.h: a line
 * protocol over the library's attribute table, so `uzram ctl --control`
 * can do whatever the FUSE tree can, where FUSE is not available.
 *
 * Threads. The server has one accept thread, which polls the listening
 * socket and a wake pipe, and one thread per connection (at most
 * CONTROL_MAX_CONNS; more are closed at once). A connection handles one
 * request at a time: read a line (at most CONTROL_MAX_LINE bytes) and a
 * payload (at most CONTROL_MAX_PAYLOAD), call the library, answer.
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
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

#define CONTROL_MAX_CONNS	64
#define CONTROL_PAGE		4096
#define CONTROL_MAX_REPLY	(1ul << 30)	/* the client's sanity bound */
#define UZ_MIN_SIZE(a, b)	((size_t)(a) < (size_t)(b) ? (size_t)(a) : (size_t)(b))

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
	int wake[2];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct control_conn *conns;
	unsigned int nconns;
};

/* ---- shared helpers ---- */

int control_runtime_dir(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (geteuid() == 0)
		n = snprintf(buf, size, "/run/uzram");
	else if (xdg && xdg[0] == '/')
		n = snprintf(buf, size, "%s/uzram", xdg);
	else
		n = snprintf(buf, size, "/tmp/uzram-%u", (unsigned int)geteuid());
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int control_default_path(char *buf, size_t size)
{
	char dir[PATH_MAX];
	int n, ret = control_runtime_dir(dir, sizeof(dir));

	if (ret)
		return ret;
	n = snprintf(buf, size, "%s/control.sock", dir);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

int control_unix_listen(const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	mode_t old;
	int fd, ret = unix_addr(path, &sa);

	if (ret)
		return ret;
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (ret == 0)
			return -EADDRINUSE;	/* a live server */
		unlink(path);			/* stale */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	old = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret == 0)
		ret = chmod(path, 0600);
	if (ret == 0)
		ret = listen(fd, 128);
	if (ret) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

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
	int ret = write_all(cc->fd, h, (size_t)n);

	return ret || !len ? ret : write_all(cc->fd, data, len);
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
	return write_all(cc->fd, msg, (size_t)n);
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

		if (cap - len < CONTROL_PAGE) {
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
	char buf[CONTROL_PAGE];
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
	return reply_ok(cc, buf, UZ_MIN_SIZE(n, sizeof(buf)));
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

/* One request: 0 to go on, -1 to close the connection. */
static int handle_request(struct control_conn *cc)
{
	char *argv[5], *save = NULL, *tok;
	char payload[CONTROL_MAX_PAYLOAD];
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
	if (!strcmp(argv[0], "store") && argc == 4) {
		char *end;
		unsigned long len;

		errno = 0;
		len = strtoul(argv[3], &end, 10);
		if (*end || errno || argv[3][0] < '0' || argv[3][0] > '9')
			return reply_err(cc, EINVAL, "store: bad length") ? -1 : 0;
		if (len > CONTROL_MAX_PAYLOAD) {
			reply_err(cc, E2BIG, "store: payload longer than 4096 bytes");
			return -1;
		}
		if (conn_payload(cc, payload, len))
			return -1;
		return do_store(cc, argv[1], argv[2], payload, len) ? -1 : 0;
	}
	if (!strcmp(argv[0], "list") && argc == 1)
		return do_list(cc) ? -1 : 0;
	if (!strcmp(argv[0], "attrs") && argc == 1)
		return do_attrs(cc) ? -1 : 0;
	return reply_err(cc, EINVAL, "unknown request (show DEV ATTR | store DEV ATTR LEN"
			 " | list | attrs)") ? -1 : 0;
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

static void *accept_thread(void *arg)
{
	struct control_server *cs = arg;

	pthread_setname_np(pthread_self(), "ctl-accept");

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = cs->listen_fd, .events = POLLIN },
			{ .fd = cs->wake[0], .events = POLLIN },
		};
		struct control_conn *cc;
		pthread_attr_t attr;
		pthread_t tid;
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		fd = accept4(cs->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
				poll(NULL, 0, 100);	/* do not spin */
			continue;
		}
		cc = calloc(1, sizeof(*cc));
		pthread_mutex_lock(&cs->lock);
		if (!cc || cs->nconns >= CONTROL_MAX_CONNS) {
			pthread_mutex_unlock(&cs->lock);
			free(cc);
			close(fd);
			continue;
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
	cs->listen_fd = control_unix_listen(path);
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
		unlink(path);
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
	unlink(cs->path);
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

/* ---- the client ---- */

static int read_full(int fd, char *buf, size_t len)
{
	while (len) {
		ssize_t n = recv(fd, buf, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EPROTO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int control_request(const char *path, const char *verb, const char *dev,
		    const char *attr, const char *payload, size_t payload_len,
		    char **reply, size_t *reply_len)
{
	struct sockaddr_un sa;
	char line[CONTROL_MAX_LINE + 256];
	size_t n = 0, len;
	char *data = NULL, *end;
	int fd, ret, k;

	if (reply)
		*reply = NULL;
	if (reply_len)
		*reply_len = 0;
	if (payload_len > CONTROL_MAX_PAYLOAD)
		return -E2BIG;
	ret = unix_addr(path, &sa);
	if (ret)
		return ret;
	if (!strcmp(verb, "store"))
		k = snprintf(line, sizeof(line), "%s %s %s %zu\n", verb, dev ? dev : "",
			     attr ? attr : "", payload_len);
	else
		k = snprintf(line, sizeof(line), "%s%s%s%s%s\n", verb, dev ? " " : "",
			     dev ? dev : "", attr ? " " : "", attr ? attr : "");
	if (k < 0 || (size_t)k > CONTROL_MAX_LINE + 1 || memchr(line, '\n', (size_t)k - 1))
		return -EINVAL;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ret = -errno;
		goto out;
	}
	ret = write_all(fd, line, (size_t)k);
	if (!ret && payload_len)
		ret = write_all(fd, payload, payload_len);
	if (ret)
		goto out;

	/* The response line. */
	for (;;) {
		if (n == sizeof(line) - 1) {
			ret = -EPROTO;
			goto out;
		}
		ret = read_full(fd, line + n, 1);
		if (ret)
			goto out;
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	if (!strncmp(line, "err ", 4)) {
		long e = strtol(line + 4, &end, 10);
		ret = e > 0 && e < 4096 && (*end == ' ' || !*end) ? -(int)e : -EPROTO;
		goto out;
	}
	if (strncmp(line, "ok ", 3) || line[3] < '0' || line[3] > '9') {
		ret = -EPROTO;
		goto out;
	}
	errno = 0;
	len = strtoul(line + 3, &end, 10);
	if (*end || errno || len > CONTROL_MAX_REPLY) {
		ret = -EPROTO;
		goto out;
	}
	data = malloc(len + 1);
	if (!data) {
		ret = -ENOMEM;
		goto out;
	}
	ret = read_full(fd, data, len);
	if (ret) {
		free(data);
		goto out;
	}
	data[len] = '\0';
	if (reply)
		*reply = data;
	else
		free(data);
	if (reply_len)
		*reply_len = len;
out:
	close(fd);
	return ret;
}
