/*
 * path_policy.c - the allow-list of directories for attribute paths (see
 * path_policy.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "path_policy.h"
#include "reason.h"

void path_policy_init(struct path_policy *p)
{
	memset(p, 0, sizeof(*p));
	pthread_rwlock_init(&p->lock, NULL);
}

static void free_list(char **allow, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(allow[i]);
	free(allow);
}

void path_policy_destroy(struct path_policy *p)
{
	free_list(p->allow, p->nallow);
	p->allow = NULL;
	p->nallow = 0;
	pthread_rwlock_destroy(&p->lock);
}

int path_policy_set(struct path_policy *p, const char *const *dirs, size_t n)
{
	char **allow = calloc(n ? n : 1, sizeof(*allow));
	int ret = 0;

	if (!allow)
		return -ENOMEM;
	for (size_t i = 0; i < n && !ret; i++) {
		struct stat st;

		allow[i] = realpath(dirs[i], NULL);
		if (!allow[i])
			ret = errno == ENOMEM ? -ENOMEM : -ENOENT;
		else if (stat(allow[i], &st) || !S_ISDIR(st.st_mode))
			ret = -ENOTDIR;		/* nothing could lie below it */
	}
	if (ret) {
		free_list(allow, n);
		return ret;
	}
	pthread_rwlock_wrlock(&p->lock);
	free_list(p->allow, p->nallow);
	p->allow = allow;
	p->nallow = n;
	p->restricted = true;
	pthread_rwlock_unlock(&p->lock);
	return 0;
}

/*
 * Under the read lock: the allowed directory resolved lies in, copied into
 * dir (PATH_MAX bytes); its length, or 0 when none holds it.
 */
static size_t allowed_dir(struct path_policy *p, const char *resolved, char *dir)
{
	size_t found = 0;

	for (size_t i = 0; i < p->nallow && !found; i++) {
		size_t len = strlen(p->allow[i]);
		if (!strncmp(resolved, p->allow[i], len) &&
		    (resolved[len] == '/' || (len == 1 && p->allow[i][0] == '/'))) {
			memcpy(dir, p->allow[i], len + 1);
			found = len;
		}
	}
	return found;
}

/*
 * rel opened below dir, never leaving it and following no symlink, so a
 * component swapped for a link after the check fails (-EPERM) instead of
 * leading elsewhere. Kernels before 5.6 have no openat2: there only the
 * last component is guarded (O_NOFOLLOW).
 */
static int open_beneath(const char *dir, const char *rel, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)flags,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), fd, err;

	if (dfd < 0)
		return -errno;
	fd = (int)syscall(SYS_openat2, dfd, rel, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)
		fd = openat(dfd, rel, flags | O_NOFOLLOW);
	err = errno;
	close(dfd);
	if (fd >= 0)
		return fd;
	if (err == ELOOP || err == EXDEV)
		return uz_refuse(-EPERM, "a symbolic link on the path below the allowed directory");
	return -err;
}

/*
 * path resolved (realpath) into resolved, and the allowed directory holding
 * it into dir (both PATH_MAX bytes): that directory's length; 0 when no list
 * is set (path is opened as it is); -errno, or -EPERM when no allowed
 * directory holds it. as_dir: path is a directory, which may itself be an
 * allowed one.
 */
static long resolve_allowed(struct path_policy *p, const char *path, bool as_dir,
			    char *resolved, char *dir)
{
	size_t len = 0;
	int err = 0;

	pthread_rwlock_rdlock(&p->lock);
	if (p->restricted && !realpath(path, resolved))
		err = -errno;
	else if (p->restricted) {
		len = strlen(resolved);
		if (as_dir && len + 1 < PATH_MAX && len > 1)
			strcpy(resolved + len, "/");	/* found with its slash */
		len = allowed_dir(p, resolved, dir);
		if (!len)
			err = -EPERM;
	}
	pthread_rwlock_unlock(&p->lock);
	if (err == -EPERM)
		return uz_refuse(-EPERM, "path outside the allowed directories");
	return err ? err : (long)len;
}

/* A path with no list set: opened as it is. */
static int open_plain(const char *path, int flags)
{
	int fd = open(path, flags);

	return fd < 0 ? -errno : fd;
}

int path_policy_open(struct path_policy *p, const char *path, int flags)
{
	char resolved[PATH_MAX], dir[PATH_MAX];
	long len = resolve_allowed(p, path, false, resolved, dir);

	flags |= O_CLOEXEC;
	if (len <= 0)
		return len ? (int)len : open_plain(path, flags);
	return open_beneath(dir, resolved + (len == 1 ? 1 : len + 1), flags);
}

/* path's directory part into dir (PATH_MAX bytes) and its last component:
 * 0, -EISDIR (no file named: "", ".", "..", a trailing slash) or
 * -ENAMETOOLONG. */
static int split_path(const char *path, char *dir, const char **name)
{
	const char *slash = strrchr(path, '/');
	size_t dlen = slash ? (size_t)(slash - path) : 0;

	*name = slash ? slash + 1 : path;
	if (!**name || !strcmp(*name, ".") || !strcmp(*name, ".."))
		return -EISDIR;
	if (dlen >= PATH_MAX)
		return -ENAMETOOLONG;
	if (!slash) {
		path = ".";
		dlen = 1;
	} else if (!dlen) {
		dlen = 1;	/* "/" */
	}
	memcpy(dir, path, dlen);
	dir[dlen] = '\0';
	return 0;
}

int path_policy_open_parent(struct path_policy *p, const char *path,
			    const char **name)
{
	char dir[PATH_MAX], resolved[PATH_MAX], allowed[PATH_MAX];
	const int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
	long len;
	int ret = split_path(path, dir, name);

	if (ret)
		return ret;
	len = resolve_allowed(p, dir, true, resolved, allowed);
	if (len <= 0)
		return len ? (int)len : open_plain(dir, flags);
	if (!resolved[len + (len > 1)])
		return open_beneath(allowed, ".", flags);
	return open_beneath(allowed, resolved + (len == 1 ? 1 : len + 1), flags);
}
