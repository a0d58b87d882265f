/*
 * ctl_transport.c - where `uzram ctl` finds the devices: one interface
 * (struct ctl_transport in ctl.h), two implementations.
 *
 *   socket  the control socket of `uzram serve` (control.h): one request
 *           per show, store or list.
 *   tree    a sysfs-like directory: DIR/zramN/ATTR and DIR/zram-control/
 *           ATTR, read whole and written with one write(2), as zramctl
 *           does /sys/block/zramN; a FUSE tree of `uzram serve --mount`,
 *           or /sys/block itself (the kernel's zram, whose zram-control is
 *           /sys/class/zram-control). A missing device directory is
 *           ENODEV, as the socket says.
 *
 * MOUNTPOINT differs too: a loop device on TREE/zramN/disk of any mounted
 * uzram tree (socket), or of this tree, after the device's own block device
 * (tree: DIR/zramN/dev, the kernel's /dev/zramN).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/control.h"
#include "ctl.h"
#include "mounts.h"
#include "uzram.h"

/* ---- helpers ---- */

int ctl_parse_name(const char *s)
{
	int id;

	if (!strncmp(s, "/dev/", 5))
		s += 5;
	id = uzram_name_id(s, strlen(s));
	return id < 0 ? -1 : id;
}

/* A growing list of device ids. */
struct ids {
	int *v;
	size_t n, cap;
};

/* name's id appended if it names a device; 0 or -ENOMEM. */
static int ids_add(struct ids *ids, const char *name)
{
	int id = ctl_parse_name(name);

	if (id < 0)
		return 0;
	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? ids->cap * 2 : 16;
		int *nv = realloc(ids->v, cap * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		ids->v = nv;
		ids->cap = cap;
	}
	ids->v[ids->n++] = id;
	return 0;
}

/* ---- the control socket ---- */

static int sock_show(struct ctl *c, const char *dev, const char *attr,
		     char **out, size_t *len)
{
	return control_request(c->path, "show", dev, attr, NULL, 0, out, len);
}

static int sock_store(struct ctl *c, const char *dev, const char *attr, const char *val)
{
	return control_request(c->path, "store", dev, attr, val, strlen(val), NULL, NULL);
}

/* The "list" reply: one "zramN" per line. */
static long sock_list(struct ctl *c, int **out)
{
	struct ids ids = { 0 };
	char *reply = NULL, *line, *save = NULL;
	int ret = control_request(c->path, "list", NULL, NULL, NULL, 0, &reply, NULL);

	for (line = ret ? NULL : strtok_r(reply, "\n", &save); line && !ret;
	     line = strtok_r(NULL, "\n", &save))
		ret = ids_add(&ids, line);
	free(reply);
	if (ret) {
		free(ids.v);
		return ret;
	}
	*out = ids.v;
	return (long)ids.n;
}

/* A loop device on the disk of any uzram tree mounted here. */
static char *sock_mountpoint(struct ctl *c, int id)
{
	size_t n;
	char **trees = uzram_trees(&n);
	char *mp = ctl_loop_mountpoint(trees, n, id);

	uzram_trees_free(trees, n);
	return mp;
}

static const struct ctl_transport socket_transport = {
	.show = sock_show,
	.store = sock_store,
	.list = sock_list,
	.mountpoint = sock_mountpoint,
};

/* The default directory is trusted as the server trusts it: ours, 0700. */
static bool default_dir_unsafe(void)
{
	char dir[PATH_MAX];
	struct stat st;
	int ret;

	if (control_runtime_dir(dir, sizeof(dir)))
		return false;
	ret = control_dir_check(dir, &st);
	if (ret != -EPERM)
		return false;	/* absent: the connect says so */
	fprintf(stderr, "%s: %s: not a directory of ours with mode 0700 (owner %u, "
		"mode %04o): refusing to trust a control socket there\n", PROG, dir,
		(unsigned int)st.st_uid, (unsigned int)(st.st_mode & 07777));
	return true;
}

int ctl_open_socket(struct ctl *c, const char *path)
{
	const char *env = getenv("UZRAM_CONTROL");
	int *ids;
	long ret;

	c->t = &socket_transport;
	c->path = path;
	if (!path) {
		if (env && *env)
			snprintf(c->defpath, sizeof(c->defpath), "%s", env);
		else if (control_default_path(c->defpath, sizeof(c->defpath)))
			c->defpath[0] = '\0';
		else if (default_dir_unsafe())
			return -1;
		c->path = c->defpath;
	}
	ret = ctl_list(c, &ids);
	if (ret < 0) {
		fprintf(stderr, "%s: %s: %s\n", PROG, c->path, strerror((int)-ret));
		if (ret == -ENOENT || ret == -ECONNREFUSED)
			fprintf(stderr, "%s: no uzram serve answers at %s; start one, or point "
				"%s at it with --control PATH\n", PROG, c->path, PROG);
		return -1;
	}
	free(ids);
	return 0;
}

/* ---- a sysfs-like tree ---- */

static int attr_path(struct ctl *c, const char *dev, const char *attr,
		     char *path, size_t size)
{
	int n;

	if (!strcmp(dev, "zram-control"))
		n = snprintf(path, size, "%s/%s", c->ctldir, attr);
	else
		n = snprintf(path, size, "%s/%s/%s", c->path, dev, attr);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* A missing device directory is ENODEV, as the socket says. */
static int tree_errno(struct ctl *c, const char *dev, int err)
{
	char path[PATH_MAX];
	struct stat st;

	if (err != -ENOENT || !strcmp(dev, "zram-control"))
		return err;
	snprintf(path, sizeof(path), "%s/%s", c->path, dev);
	return stat(path, &st) ? -ENODEV : err;
}

static int tree_show(struct ctl *c, const char *dev, const char *attr,
		     char **out, size_t *len)
{
	char path[PATH_MAX];
	int ret = attr_path(c, dev, attr, path, sizeof(path));

	if (!ret)
		ret = ctl_read_file(path, out, len);
	return ret ? tree_errno(c, dev, ret) : 0;
}

static int tree_store(struct ctl *c, const char *dev, const char *attr, const char *val)
{
	char path[PATH_MAX];
	size_t len = strlen(val);
	ssize_t n;
	int fd, ret = attr_path(c, dev, attr, path, sizeof(path));

	if (ret)
		return ret;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return tree_errno(c, dev, -errno);
	do
		n = write(fd, val, len);
	while (n < 0 && errno == EINTR);
	ret = n < 0 ? -errno : 0;
	close(fd);
	return ret;
}

/* The tree's zramN directories. */
static long tree_list(struct ctl *c, int **out)
{
	struct ids ids = { 0 };
	DIR *d = opendir(c->path);
	struct dirent *de;
	int ret = d ? 0 : -errno;

	while (!ret && (de = readdir(d)))
		ret = ids_add(&ids, de->d_name);
	if (d)
		closedir(d);
	if (ret) {
		free(ids.v);
		return ret;
	}
	*out = ids.v;
	return (long)ids.n;
}

/* The device's own block device (DIR/zramN/dev: the kernel's /dev/zramN
 * under /sys/block; a uzram tree's dev, UZRAM_DEV_MAJOR's, matches no
 * mount), else a loop device on DIR/zramN/disk. */
static char *tree_mountpoint(struct ctl *c, int id)
{
	char path[PATH_MAX + 64], *s, *mp = NULL, *tree;

	snprintf(path, sizeof(path), "%s/zram%d/dev", c->path, id);
	if (!ctl_read_file(path, &s, NULL)) {
		ctl_trim(s);
		mp = ctl_mount_of(s);
		free(s);
		if (mp)
			return mp;
	}
	tree = realpath(c->path, NULL);
	if (tree)
		mp = ctl_loop_mountpoint(&tree, 1, id);
	free(tree);
	return mp;
}

static const struct ctl_transport tree_transport = {
	.show = tree_show,
	.store = tree_store,
	.list = tree_list,
	.mountpoint = tree_mountpoint,
};

int ctl_open_tree(struct ctl *c, const char *dir)
{
	struct stat st;
	char *real;

	c->t = &tree_transport;
	c->path = dir;
	snprintf(c->ctldir, sizeof(c->ctldir), "%s/zram-control", dir);
	if (stat(c->ctldir, &st) && !stat("/sys/class/zram-control", &st)) {
		real = realpath(dir, NULL);
		if (real && !strcmp(real, "/sys/block"))
			snprintf(c->ctldir, sizeof(c->ctldir), "/sys/class/zram-control");
		free(real);
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		int err = stat(dir, &st) ? errno : ENOTDIR;

		fprintf(stderr, "%s: %s: %s\n", PROG, dir, strerror(err));
		return -1;
	}
	return 0;
}

/* ---- through the transport ---- */

bool ctl_is_uzram(const struct ctl *c)
{
	return c->t == &socket_transport || strcmp(c->ctldir, "/sys/class/zram-control");
}

int ctl_show(struct ctl *c, const char *dev, const char *attr, char **out, size_t *len)
{
	*out = NULL;
	return c->t->show(c, dev, attr, out, len);
}

int ctl_store(struct ctl *c, const char *dev, const char *attr, const char *val)
{
	return c->t->store(c, dev, attr, val);
}

int ctl_image(struct ctl *c, const char *verb, const char *dev, const char *path,
	      const char **msg)
{
	int ret;

	*msg = "";
	if (c->t != &socket_transport)
		return -EOPNOTSUPP;
	ret = control_request(c->path, verb, dev, NULL, path, strlen(path), NULL, NULL);
	*msg = control_error_message();
	return ret;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

long ctl_list(struct ctl *c, int **ids)
{
	long n;

	*ids = NULL;
	n = c->t->list(c, ids);
	if (n > 0)
		qsort(*ids, (size_t)n, sizeof(**ids), cmp_int);
	return n;
}

int ctl_u64(struct ctl *c, const char *dev, const char *attr, uint64_t *v)
{
	char *s, *end;
	int ret = ctl_show(c, dev, attr, &s, NULL);

	if (ret)
		return ret;
	errno = 0;
	*v = strtoull(s, &end, 10);
	ret = end == s || errno ? -EINVAL : 0;
	free(s);
	return ret;
}

bool ctl_dev_exists(struct ctl *c, int id)
{
	char name[32], *s;
	int ret;

	snprintf(name, sizeof(name), "zram%d", id);
	ret = ctl_show(c, name, "disksize", &s, NULL);
	free(s);
	return ret != -ENODEV && ret != -ENOENT;
}
