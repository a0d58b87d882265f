/*
 * control.c - what both ends of the control socket (control.h) use: where
 * `uzram serve` puts its sockets by default, a listening unix socket, and
 * the socket helpers of control_int.h. The server is control_server.c, the
 * client (`uzram ctl --control`) control_client.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
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

/*
 * sf's directory opened (O_PATH) and its name split off path; *sa the
 * address by which to reach the name through that descriptor
 * (/proc/self/fd/N/NAME, so a directory swapped after this open is not
 * followed), or path itself where that does not fit or /proc is absent.
 */
static int sock_file_open(struct sock_file *sf, const char *path,
			  struct sockaddr_un *sa)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	int n;

	sf->name = strdup(slash ? slash + 1 : path);
	if (!sf->name)
		return -ENOMEM;
	n = snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1,
		     slash ? (slash == path ? "/" : path) : ".");
	if (!sf->name[0] || n < 0 || (size_t)n >= sizeof(dir))
		return -EINVAL;
	sf->dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (sf->dir_fd < 0)
		return -errno;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s",
		     sf->dir_fd, sf->name);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path) ||
	    access("/proc/self/fd", X_OK))
		return control_unix_addr(path, sa);
	return 0;
}

static void sock_file_close(struct sock_file *sf)
{
	if (sf->dir_fd >= 0)
		close(sf->dir_fd);
	free(sf->name);
	sf->dir_fd = -1;
	sf->name = NULL;
}

/* The socket file at sf's name is stale (no server answers): removed;
 * a live one is -EADDRINUSE, another kind of file -EEXIST. */
static int remove_stale(struct sock_file *sf, const struct sockaddr_un *sa)
{
	struct stat st, again;
	int fd, ret;

	if (fstatat(sf->dir_fd, sf->name, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (ret == 0)
		return -EADDRINUSE;	/* a live server */
	/* stale: removed if it is still the socket file just tested */
	if (!fstatat(sf->dir_fd, sf->name, &again, AT_SYMLINK_NOFOLLOW) &&
	    again.st_dev == st.st_dev && again.st_ino == st.st_ino)
		unlinkat(sf->dir_fd, sf->name, 0);
	return 0;
}

/* Bind fd at sa (0600 by the umask; no chmod() by path afterwards, which a
 * symlink swapped in would redirect), listen, and note the file made. */
static int bind_listen(int fd, struct sock_file *sf, const struct sockaddr_un *sa)
{
	struct stat st;
	mode_t old = umask(0177);
	int ret = bind(fd, (const struct sockaddr *)sa, sizeof(*sa));

	umask(old);
	if (ret)
		return -errno;
	if (fstatat(sf->dir_fd, sf->name, &st, AT_SYMLINK_NOFOLLOW) ||
	    !S_ISSOCK(st.st_mode))
		return -ESTALE;		/* the directory changed under us */
	sf->dev = st.st_dev;
	sf->ino = st.st_ino;
	if (listen(fd, 128)) {
		ret = -errno;
		sock_file_remove(sf);
		return ret;
	}
	return 0;
}

int control_unix_listen(const char *path, struct sock_file *sf)
{
	struct sockaddr_un sa;
	int fd, ret;

	*sf = (struct sock_file){ .dir_fd = -1 };
	ret = sock_file_open(sf, path, &sa);
	if (!ret)
		ret = remove_stale(sf, &sa);
	fd = ret ? -1 : socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!ret && fd < 0)
		ret = -errno;
	if (!ret)
		ret = bind_listen(fd, sf, &sa);
	if (ret) {
		if (fd >= 0)
			close(fd);
		sock_file_close(sf);
		return ret;
	}
	return fd;
}

void sock_file_remove(struct sock_file *sf)
{
	struct stat st;

	if (sf->dir_fd >= 0 && sf->name &&
	    !fstatat(sf->dir_fd, sf->name, &st, AT_SYMLINK_NOFOLLOW) &&
	    S_ISSOCK(st.st_mode) && st.st_dev == sf->dev && st.st_ino == sf->ino)
		unlinkat(sf->dir_fd, sf->name, 0);
	sock_file_close(sf);
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
