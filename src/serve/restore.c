/*
 * restore.c - `uzram serve --restore zramN=FILE` (restore.h): the devices
 * named restored from their images at start, through uzram_restore.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "restore.h"
#include "units.h"

#define PROG	"uzram serve"

int restore_add(struct restore_list *l, const char *val)
{
	const char *eq = strchr(val, '=');
	int id = eq ? uzram_name_id(val, (size_t)(eq - val)) : -EINVAL;

	if (id < 0 || !eq[1]) {
		fprintf(stderr, "%s: --restore %s: not zramN=FILE\n", PROG, val);
		return -1;
	}
	if (restore_has(l, id)) {
		fprintf(stderr, "%s: --restore %s: zram%d is restored once\n", PROG, val, id);
		return -1;
	}
	if (l->n == RESTORE_MAX) {
		fprintf(stderr, "%s: --restore: at most %d devices\n", PROG, RESTORE_MAX);
		return -1;
	}
	l->e[l->n].id = id;
	l->e[l->n].path = eq + 1;
	l->n++;
	return 0;
}

bool restore_has(const struct restore_list *l, int id)
{
	for (unsigned int i = 0; i < l->n; i++)
		if (l->e[i].id == id)
			return true;
	return false;
}

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Device id from the file at path: 0, or -1 (said). */
static int restore_one(struct uzram *z, int id, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;
	struct uzram_stats st;
	double t = seconds();
	const char *why;
	char size[32];

	if (fd < 0) {
		fprintf(stderr, "%s: --restore zram%d=%s: %s\n", PROG, id, path, strerror(errno));
		return -1;
	}
	ret = uzram_exists(z, id) ? uzram_restore(z, id, fd) : -ENODEV;
	why = uzram_store_reason();
	close(fd);
	if (ret) {
		fprintf(stderr, "%s: --restore zram%d=%s: %s%s%s%s\n", PROG, id, path,
			ret == -ENODEV ? "no such device (--devices makes zram0 up to "
			"the number given less one)" : strerror(-ret),
			why ? " (" : "", why ? why : "", why ? ")" : "");
		return -1;
	}
	uzram_stats(z, id, &st);
	human_size(st.orig_data_size, size, sizeof(size));
	fprintf(stderr, "%s: zram%d restored from %s: %s of data, %s, in %.2f s\n", PROG,
		id, path, size, st.algorithm, seconds() - t);
	return 0;
}

int restore_devices(struct uzram *z, const struct restore_list *l)
{
	for (unsigned int i = 0; i < l->n; i++)
		if (restore_one(z, l->e[i].id, l->e[i].path))
			return -1;
	return 0;
}
