/*
 * util.c - small helpers shared by the subcommands.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"

double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int read_page_file(const char *path, uint8_t **data, size_t *len)
{
	struct stat st;
	uint8_t *p;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		int err = errno;
		close(fd);
		return -err;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0 || st.st_size % 4096) {
		close(fd);
		return -EINVAL;
	}
	p = aligned_alloc(4096, (size_t)st.st_size);
	if (!p) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, p + got, (size_t)st.st_size - got);
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;
			free(p);
			close(fd);
			return -err;
		}
		got += (size_t)n;
	}
	close(fd);
	*data = p;
	*len = got;
	return 0;
}
