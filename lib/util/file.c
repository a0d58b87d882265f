/*
 * file.c - reading a whole file into memory, and replacing one whole
 * (see file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "file.h"

static bool size_ok(const struct stat *st, size_t max, size_t unit)
{
	uint64_t size = (uint64_t)st->st_size;

	if (!S_ISREG(st->st_mode) || size > max)
		return false;
	return !unit || (size && !(size & (unit - 1)));
}

/* Read exactly len bytes of fd into p: 0, -errno, or -EIO at an early end. */
static int read_all(int fd, uint8_t *p, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		got += (size_t)n;
	}
	return 0;
}

int read_whole_fd(int fd, size_t max, size_t unit, void **data, size_t *len)
{
	struct stat st;
	uint8_t *p;
	size_t size;
	int ret;

	if (fstat(fd, &st) != 0)
		return -errno;
	if (!size_ok(&st, max, unit))
		return -EINVAL;
	size = (size_t)st.st_size;
	p = unit ? aligned_alloc(unit, size) : malloc(size ? size : 1);
	if (!p)
		return -ENOMEM;
	ret = read_all(fd, p, size);
	if (ret) {
		free(p);
		return ret;
	}
	*data = p;
	*len = size;
	return 0;
}

int read_whole_file(const char *path, size_t max, size_t unit, void **data,
		    size_t *len)
{
	int ret, fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);	/* a FIFO: no wait */

	if (fd < 0)
		return -errno;
	ret = read_whole_fd(fd, max, unit, data, len);
	close(fd);
	return ret;
}

int file_replace_begin(int dirfd, const char *name, char *tmp, size_t size)
{
	struct timespec ts;
	unsigned int r;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	r = (unsigned int)ts.tv_nsec ^ ((unsigned int)getpid() << 12);
	for (int tries = 0; tries < 64; tries++, r = r * 1103515245u + 12345u) {
		int n = snprintf(tmp, size, ".%s.%08x.tmp", name, r);
		int fd;

		if (n < 0 || (size_t)n >= size || n > 255)
			return -ENAMETOOLONG;
		fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : -errno;
	}
	return -EEXIST;
}

int file_replace_commit(int dirfd, int fd, const char *tmp, const char *name)
{
	int ret = fsync(fd) ? -errno : 0;

	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && renameat(dirfd, tmp, dirfd, name))
		ret = -errno;
	if (ret) {
		unlinkat(dirfd, tmp, 0);
		return ret;
	}
	return fsync(dirfd) ? -errno : 0;
}

void file_replace_abort(int dirfd, int fd, const char *tmp)
{
	close(fd);
	unlinkat(dirfd, tmp, 0);
}
