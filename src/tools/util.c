/*
 * util.c - small helpers shared by the subcommands.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cmd.h"
#include "opt.h"
#include "util/file.h"

int parse_pid(const char *prog, const char *val, long *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(val, &end, 10);
	if (errno || end == val || *end || v < 1 || v > INT_MAX) {
		fprintf(stderr, "%s: --pid %s: not a process id (a number from 1 to %d)\n",
			prog, val, INT_MAX);
		return OPT_ERR;
	}
	*pid = v;
	return 0;
}

int process_exists(long pid)
{
	char path[32];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%ld", pid);
	if (stat(path, &st))
		return errno == ENOENT ? -ESRCH : -errno;
	return 0;
}

const char *process_error(int err)
{
	return err == -ESRCH ? "no such process" : strerror(-err);
}

double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int read_page_file(const char *path, uint8_t **data, size_t *len)
{
	void *p;
	int ret = read_whole_file(path, SIZE_MAX, 4096, &p, len);

	if (!ret)
		*data = p;
	return ret;
}
