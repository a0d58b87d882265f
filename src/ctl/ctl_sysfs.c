/*
 * ctl_sysfs.c - what `uzram ctl` reads of the kernel's files: a whole
 * attribute file (sysfs, or a FUSE tree's), and MOUNTPOINT as zramctl finds
 * it for /dev/zramN: the filesystem mounted on a block device, from
 * /proc/self/mountinfo. A uzram device has no block device of its own
 * unless a loop device carries its disk file (TREE/zramN/disk of a FUSE
 * tree, found through /sys/block/loopN/loop/backing_file), so the
 * transports (ctl_transport.c) ask for either.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"

/* ---- files ---- */

/* buf grown to twice its capacity cap (plus a NUL); 0 or -ENOMEM. */
static int grow(char **buf, size_t *cap)
{
	char *nb = realloc(*buf, *cap * 2 + 1);

	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap *= 2;
	return 0;
}

/* All of fd into a growing buffer. */
static int read_all(int fd, char **buf, size_t *cap, size_t *len)
{
	for (;;) {
		ssize_t n;

		if (*len == *cap && grow(buf, cap))
			return -ENOMEM;
		n = read(fd, *buf + *len, *cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		*len += (size_t)n;
	}
}

int ctl_read_file(const char *path, char **out, size_t *out_len)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	*out = NULL;
	ret = fd < 0 ? -errno : !buf ? -ENOMEM : read_all(fd, &buf, &cap, &len);
	if (fd >= 0)
		close(fd);
	if (ret) {
		free(buf);
		return ret;
	}
	buf[len] = '\0';
	*out = buf;
	if (out_len)
		*out_len = len;
	return 0;
}

void ctl_trim(char *s)
{
	size_t n = strlen(s);

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

/* ---- mount points ---- */

/* The mount point of the filesystem on block device "maj:min", or NULL. */
/* mountinfo's octal escapes (\040 and friends) undone, malloc'd. */
static char *unescape(const char *s)
{
	char *out = malloc(strlen(s) + 1), *d = out;

	for (; out; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] && s[3]) {
			*d++ = (char)(((s[1] - '0') << 6) | ((s[2] - '0') << 3) | (s[3] - '0'));
			s += 3;
		} else if (!(*d++ = *s)) {
			break;
		}
	}
	return out;
}

char *ctl_mount_of(const char *majmin)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *found = NULL;
	size_t cap = 0;

	if (!f)
		return NULL;
	while (!found && getline(&line, &cap, f) > 0) {
		char dev[64], mnt[PATH_MAX];
		unsigned int a, b;

		if (sscanf(line, "%u %u %63s %*s %4095s", &a, &b, dev, mnt) != 4 ||
		    strcmp(dev, majmin))
			continue;
		found = unescape(mnt);
		if (!found)
			break;
	}
	free(line);
	fclose(f);
	return found;
}

/* A file of /sys/block/NAME (one line, trimmed), malloc'd, or NULL. */
static char *block_attr(const char *name, const char *attr)
{
	char path[PATH_MAX + 64], *s;

	snprintf(path, sizeof(path), "/sys/block/%s/%s", name, attr);
	if (ctl_read_file(path, &s, NULL))
		return NULL;
	ctl_trim(s);
	return s;
}

/* Where loop device loop is mounted, if it carries TREE/zramN/disk of one
 * of the trees; else NULL. */
static char *loop_mount(const char *loop, char **trees, size_t ntrees, int id)
{
	char want[PATH_MAX + 64], *file = block_attr(loop, "loop/backing_file");
	char *dev, *mp = NULL;

	for (size_t i = 0; file && i < ntrees && !mp; i++) {
		snprintf(want, sizeof(want), "%s/zram%d/disk", trees[i], id);
		if (strcmp(file, want))
			continue;
		dev = block_attr(loop, "dev");
		if (dev)
			mp = ctl_mount_of(dev);
		free(dev);
	}
	free(file);
	return mp;
}

char *ctl_loop_mountpoint(char **trees, size_t ntrees, int id)
{
	DIR *d = opendir("/sys/block");
	struct dirent *de;
	char *mp = NULL;

	while (d && !mp && (de = readdir(d)))
		if (!strncmp(de->d_name, "loop", 4))
			mp = loop_mount(de->d_name, trees, ntrees, id);
	if (d)
		closedir(d);
	return mp;
}
