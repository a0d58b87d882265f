/*
 * listen.h - the NBD listening sockets of `uzram serve` (listen.c): a unix
 * socket, TCP, systemd socket activation, and the default socket directory.
 * Each function says what failed on stderr ("uzram serve: ...") and returns
 * -1, or 0.
 */
#ifndef UZRAM_LISTEN_H
#define UZRAM_LISTEN_H

#include <stdbool.h>
#include <stddef.h>

#include "control/control.h"
#include "nbd/nbd.h"

#define MAX_LISTENERS	16

struct listener {
	int fd;
	bool tcp;
	struct sock_file file;	/* a unix socket file we created (dir_fd -1:
				 * none), removed by listen_close */
};

struct listeners {
	struct listener l[MAX_LISTENERS];
	unsigned int n;
};

/* A unix socket at path, mode 0600 (control_unix_listen). */
int listen_unix(struct listeners *ls, const char *path);
/* "[ADDR:]PORT", ADDR may be [IPv6]; ADDR defaults to 127.0.0.1. */
int listen_tcp(struct listeners *ls, const char *spec);
/* The same for --option (named in messages): the listening descriptor, or
 * -1. With loopback_only, an address outside 127.0.0.0/8 and ::1 is
 * refused (said, naming --option-allow-remote). */
int listen_tcp_socket(const char *option, const char *spec, bool loopback_only);
/* "ADDR:PORT" ("[ADDR]:PORT" for IPv6) a socket is bound to: 0, or -1. */
int listen_address(int fd, char *buf, size_t size);
/* systemd's LISTEN_PID/LISTEN_FDS: the sockets passed (descriptors 3...),
 * or -1. */
int listen_activated(struct listeners *ls);
/* The default socket directory: made 0700, or, if it exists, a real
 * directory of ours that nobody else can write. */
int listen_make_dir(const char *dir);
/* "NBD on tcp ADDR:PORT (nbd://...)" for each TCP socket, with a warning
 * when it is not a loopback address and TLS is not required. */
void listen_print_tcp(const struct listeners *ls, enum nbd_tls_mode tls);
/* Close them all and remove the socket files we created. */
void listen_close(struct listeners *ls);

#endif /* UZRAM_LISTEN_H */
