/*
 * control.c - what both ends of the control socket (control.h) use: where
 * `uzram serve` puts its sockets by default, a listening unix socket, and
 * the socket helpers of control_int.h. The server is control_server.c, the
 * client (`uzram ctl --control`) control_client.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "control_int.h"

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

int control_dir_check(const char *dir, struct stat *st)
{
	if (lstat(dir, st))
		return -errno;
	if (!S_ISDIR(st->st_mode) || st->st_uid != geteuid() || (st->st_mode & 0077))
		return -EPERM;
	return 0;
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

int control_unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

/* A socket file at path that no server answers is removed; a live one is
 * -EADDRINUSE, another kind of file -EEXIST. */
static int remove_stale(const char *path, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, ret;

	if (lstat(path, &st))
		return 0;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (ret == 0)
		return -EADDRINUSE;	/* a live server */
	unlink(path);			/* stale */
	return 0;
}

int control_unix_listen(const char *path)
{
	struct sockaddr_un sa;
	mode_t old;
	int fd, ret = control_unix_addr(path, &sa);

	if (!ret)
		ret = remove_stale(path, &sa);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Created 0600 by the umask; no chmod() by path after the bind,
	 * which a symlink swapped in would redirect. */
	old = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret == 0)
		ret = listen(fd, 128);
	if (ret) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int control_write_all(int fd, const void *buf, size_t len)
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
