/*
 * control.h - the control socket: a small line protocol over the library's
 * one attribute table, so everything the FUSE tree offers also works where
 * FUSE is not available (`uzram serve --control PATH`, mode 0600). The
 * server is control_server.c, the client control_client.c, what both use
 * control.c.
 *
 * Protocol (unix stream socket; one request at a time per connection, any
 * number of connections):
 *
 *   request   = VERB [SP ARG]* LF [payload]
 *   VERB      = "show" DEV ATTR
 *             | "store" DEV ATTR LEN      followed by exactly LEN bytes
 *             | "list"                    the devices, one "zramN" per line
 *             | "attrs"                   "NAME MODE(octal)" per line
 *             | "save" DEV LEN            followed by LEN bytes: a path; the
 *             | "restore" DEV LEN         device to or from an image there
 *                                         (docs/image.md; --allow-path applies)
 *   DEV       = "zramN" | "zram-control"  (hot_add: show; hot_remove: store)
 *   response  = "ok" SP LEN LF <LEN bytes>            (show, list, attrs; LEN 0 for the rest)
 *             | "err" SP ERRNO SP message LF          (ERRNO positive, e.g. 16; for
 *                                                    save and restore the message
 *                                                    says what is wrong)
 *
 * Requests and payloads are bounded (a line of 4 KiB, a payload of 4 KiB as
 * sysfs's own page): longer ones get "err 7 ..." (E2BIG) and the connection
 * is closed.
 */
#ifndef UZRAM_CONTROL_H
#define UZRAM_CONTROL_H

#include <sys/types.h>

#include "uzram.h"

#define CONTROL_MAX_LINE	4096
#define CONTROL_MAX_PAYLOAD	4096

struct control_server;

/* Listen on path (mode 0600; an existing stale socket is replaced), serve
 * from a thread. Returns 0 or -errno. */
int control_server_start(struct uzram *z, const char *path,
			 struct control_server **out);
/* Stop serving, close connections, remove the socket file. */
void control_server_stop(struct control_server *cs);

/*
 * The client side (uzram ctl): one request, the response's payload in
 * *reply (malloc'd, NUL-terminated) and its length; returns 0 or -errno
 * (the server's errno for "err" replies; -ECONNREFUSED etc. for transport).
 * verb is "show", "store", "list", "attrs", "save" or "restore"; dev and
 * attr are NULL where the verb takes none; payload is the value of a store
 * or the path of a save or restore (NULL for the other verbs). On failure
 * *reply is NULL. reply and reply_len may be NULL when not wanted.
 */
int control_request(const char *path, const char *verb, const char *dev,
		    const char *attr, const char *payload, size_t payload_len,
		    char **reply, size_t *reply_len);
/* The message of the calling thread's last "err" reply (after its errno),
 * or "" (a static buffer, replaced by the next request). */
const char *control_error_message(void);

/*
 * Where `uzram serve` puts its sockets by default: /run/uzram as root, else
 * $XDG_RUNTIME_DIR/uzram, else /tmp/uzram-UID. The NBD socket is DIR/nbd.sock
 * and the control socket DIR/control.sock (also `uzram ctl`'s default).
 * Each returns 0, or -ENAMETOOLONG.
 */
int control_runtime_dir(char *buf, size_t size);
int control_default_path(char *buf, size_t size);
/*
 * Is dir (a runtime directory) safe for sockets: a directory, not a symlink,
 * the effective user's, no access for others (the server makes it 0700)?
 * 0, -EPERM (st says why), or lstat's error. Both ends check: the server
 * before it puts its sockets there, ctl before it trusts the socket it finds.
 */
struct stat;
int control_dir_check(const char *dir, struct stat *st);

/*
 * A socket file we bound, to be removed at the end: its directory, held
 * open (O_PATH), its name there, and its inode. The socket is bound, tested
 * for staleness and removed through that descriptor, and removed only while
 * the name is still our socket: a directory renamed or replaced by a
 * symlink in the meantime, or another file put in the socket's place, is
 * never what gets removed (docs/security.md).
 */
struct sock_file {
	int dir_fd;		/* the directory, or -1: nothing to remove */
	char *name;		/* the socket's name in it */
	dev_t dev;		/* the socket file we bound */
	ino_t ino;
};

/*
 * A listening unix stream socket at path, mode 0600, close-on-exec, and the
 * file it made in *sf. A stale socket file is replaced; a live one (another
 * server answers) is -EADDRINUSE, another kind of file -EEXIST. Returns the
 * descriptor or -errno (and sf->dir_fd = -1).
 */
int control_unix_listen(const char *path, struct sock_file *sf);
/* Remove sf's socket file if it is still the one we bound; close the rest. */
void sock_file_remove(struct sock_file *sf);

#endif /* UZRAM_CONTROL_H */
