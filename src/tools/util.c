/*
 * util.c - small helpers shared by the subcommands.
 */
#include <stdint.h>
#include <time.h>

#include "cmd.h"
#include "util/file.h"

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
