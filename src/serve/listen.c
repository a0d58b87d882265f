/*
 * listen.c - the NBD listeners of `uzram serve` (listen.h).
 *
 * A unix socket (0600, in a 0700 directory of ours by default), TCP
 * (127.0.0.1 unless an address is given; SO_REUSEADDR), and the sockets of
 * systemd socket activation (LISTEN_PID/LISTEN_FDS: descriptors 3...).
 * listen_tcp_socket binds the TCP sockets of both --listen and --metrics.
 * struct listeners is a fixed array owned by the main thread; a unix socket
 * we created is remembered by its directory's descriptor, name and inode,
 * to be removed at the end only if it is still ours (control.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/control.h"
#include "listen.h"

static int add_listener(struct listeners *ls, int fd, bool tcp,
			const struct sock_file *file)
{
	struct listener *l;

	if (ls->n == MAX_LISTENERS) {
		close(fd);
		if (file) {
			struct sock_file f = *file;

			sock_file_remove(&f);
		}
		fprintf(stderr, "uzram serve: too many listening sockets\n");
		return -1;
	}
	l = &ls->l[ls->n];
	l->fd = fd;
	l->tcp = tcp;
	l->file = file ? *file : (struct sock_file){ .dir_fd = -1 };
	ls->n++;
	return 0;
}

int listen_unix(struct listeners *ls, const char *path)
{
	struct sock_file file;
	int fd = control_unix_listen(path, &file);

	if (fd < 0) {
		fprintf(stderr, "uzram serve: socket %s: %s\n", path,
			fd == -EADDRINUSE ? "another server is listening there" :
			fd == -EEXIST ? "exists and is not a socket" :
			fd == -ESTALE ? "the directory changed while binding" : strerror(-fd));
		return -1;
	}
	return add_listener(ls, fd, false, &file);
}

/* "[ADDR:]PORT" into host (kept at 127.0.0.1 without ADDR) and *port;
 * option names the option in messages. */
static int split_host_port(const char *option, const char *spec, char *host, size_t size,
			   const char **port)
{
	const char *colon = strrchr(spec, ':'), *h = spec;
	size_t hl = colon ? (size_t)(colon - spec) : 0;

	*port = colon ? colon + 1 : spec;
	if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	if (hl >= size) {
		fprintf(stderr, "uzram serve: --%s %s: address too long\n", option, spec);
		return -1;
	}
	if (hl) {
		memcpy(host, h, hl);
		host[hl] = '\0';
	}
	return 0;
}

/* PORT: a decimal from 0 (any free port: the one chosen is printed) to
 * 65535. getaddrinfo takes larger numbers modulo 65536. */
static int check_port(const char *option, const char *spec, const char *port)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(port, &end, 10);
	if (!*port || *end || errno || v > 65535 || port[0] == '-' || port[0] == '+') {
		fprintf(stderr, "uzram serve: --%s %s: port %s is not a number from 1 "
			"to 65535 (or 0: any free port)\n", option, spec, port);
		return -1;
	}
	return 0;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return true;
}

/* A socket bound to res and listening, or -1 with errno set. */
static int bind_listen(const struct addrinfo *res)
{
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, err;

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 128)) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

int listen_tcp_socket(const char *option, const char *spec, bool loopback_only)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *res = NULL;
	char host[256] = "127.0.0.1";
	const char *port;
	int fd, ret;

	if (split_host_port(option, spec, host, sizeof(host), &port) ||
	    check_port(option, spec, port))
		return -1;
	ret = getaddrinfo(host, port, &hints, &res);
	if (ret) {
		fprintf(stderr, "uzram serve: --%s %s: %s\n", option, spec, gai_strerror(ret));
		return -1;
	}
	if (loopback_only && !is_loopback((const struct sockaddr_storage *)res->ai_addr)) {
		fprintf(stderr, "uzram serve: --%s %s: %s is not a loopback address; "
			"give --%s-allow-remote to listen there (docs/security.md)\n",
			option, spec, host, option);
		freeaddrinfo(res);
		return -1;
	}
	fd = bind_listen(res);
	if (fd < 0)
		fprintf(stderr, "uzram serve: --%s %s: %s\n", option, spec, strerror(errno));
	freeaddrinfo(res);
	return fd;
}

int listen_tcp(struct listeners *ls, const char *spec)
{
	int fd = listen_tcp_socket("listen", spec, false);

	return fd < 0 ? -1 : add_listener(ls, fd, true, NULL);
}

static void print_tcp_address(int fd, enum nbd_tls_mode tls)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port,
			sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV))
		return;
	if (!is_loopback(&ss) && tls != NBD_TLS_REQUIRE)
		fprintf(stderr, "uzram serve: warning: NBD on %s without --tls=require: anyone "
			"who reaches this address can read and write the devices\n", host);
	fprintf(stderr, "uzram serve: NBD on tcp %s%s%s:%s (nbd://%s%s%s:%s/zram0)\n",
		ss.ss_family == AF_INET6 ? "[" : "", host,
		ss.ss_family == AF_INET6 ? "]" : "", port,
		ss.ss_family == AF_INET6 ? "[" : "", host,
		ss.ss_family == AF_INET6 ? "]" : "", port);
}

int listen_address(int fd, char *buf, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST], port[NI_MAXSERV];
	bool v6;

	if (getsockname(fd, (struct sockaddr *)&ss, &len) ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port,
			sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV))
		return -1;
	v6 = ss.ss_family == AF_INET6;
	snprintf(buf, size, "%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port);
	return 0;
}

void listen_print_tcp(const struct listeners *ls, enum nbd_tls_mode tls)
{
	for (unsigned int i = 0; i < ls->n; i++)
		if (ls->l[i].tcp)
			print_tcp_address(ls->l[i].fd, tls);
}

/* A passed descriptor: a stream socket, unix or TCP. */
static int add_activated(struct listeners *ls, int fd)
{
	int type = 0;
	socklen_t tl = sizeof(type);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	fcntl(fd, F_SETFD, FD_CLOEXEC);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) || type != SOCK_STREAM) {
		fprintf(stderr, "uzram serve: LISTEN_FDS: descriptor %d is not a stream socket\n", fd);
		return -1;
	}
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	return add_listener(ls, fd, ss.ss_family != AF_UNIX, NULL);
}

int listen_activated(struct listeners *ls)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	long count;

	if (!pid || !fds || strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	count = strtol(fds, NULL, 10);
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	for (long i = 0; i < count && i < MAX_LISTENERS; i++)
		if (add_activated(ls, 3 + (int)i))
			return -1;
	return (int)count;
}

/* /tmp/uzram-UID could have been made by someone else to catch our sockets. */
int listen_make_dir(const char *dir)
{
	struct stat st;
	int ret;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "uzram serve: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	ret = control_dir_check(dir, &st);
	if (ret && ret != -EPERM) {
		fprintf(stderr, "uzram serve: %s: %s\n", dir, strerror(-ret));
		return -1;
	}
	if (ret) {
		fprintf(stderr, "uzram serve: %s: not a directory of ours with mode 0700 "
			"(owner %u, mode %04o): refusing to put sockets there\n", dir,
			(unsigned int)st.st_uid, (unsigned int)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

void listen_close(struct listeners *ls)
{
	for (unsigned int i = 0; i < ls->n; i++) {
		close(ls->l[i].fd);
		sock_file_remove(&ls->l[i].file);
	}
	ls->n = 0;
}
