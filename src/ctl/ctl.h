/*
 * ctl.h - the parts of `uzram ctl` (ctl.c, the command):
 *
 *   ctl_transport.c  where the devices are: the control socket of `uzram
 *                    serve`, or a sysfs-like tree (a FUSE tree, or the
 *                    kernel's /sys/block); one interface, two implementations
 *   ctl_sysfs.c      the kernel's files: whole attribute files, and for
 *                    MOUNTPOINT which filesystem is mounted on a device
 *   ctl_table.c      the status table: zramctl's columns and layouts
 *   ctl_format.c     util-linux's number formats (parse_size, human sizes)
 *
 * Every message starts with PROG; functions return 0 or -errno unless they
 * say otherwise.
 */
#ifndef UZRAM_CTL_H
#define UZRAM_CTL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PROG	"uzram ctl"

struct ctl;

/* A transport: the attribute files of devices zramN and of zram-control. */
struct ctl_transport {
	/* An attribute's text (NUL-terminated, malloc'd) and its length. */
	int (*show)(struct ctl *c, const char *dev, const char *attr,
		    char **out, size_t *len);
	/* One store, as one write(2). */
	int (*store)(struct ctl *c, const char *dev, const char *attr, const char *val);
	/* The existing devices' ids, in no particular order: the count or -errno. */
	long (*list)(struct ctl *c, int **ids);
	/* Where device id is mounted (malloc'd), or NULL. */
	char *(*mountpoint)(struct ctl *c, int id);
};

struct ctl {
	const struct ctl_transport *t;
	const char *path;		/* the socket, or the tree */
	char ctldir[PATH_MAX];		/* the tree's zram-control */
	char defpath[PATH_MAX];		/* the socket's path when not given */
};

/* ---- ctl_transport.c ---- */

/*
 * The control socket at path (NULL: $UZRAM_CONTROL, else `uzram serve`'s
 * default), tried with a list request; or the tree dir (--sysfs; under
 * /sys/block, zram-control is /sys/class/zram-control). On failure say why
 * and return -1.
 */
int ctl_open_socket(struct ctl *c, const char *path);
int ctl_open_tree(struct ctl *c, const char *dir);

/* Are the devices uzram serve's (the socket, or a tree but /sys/block)? */
bool ctl_is_uzram(const struct ctl *c);
int ctl_show(struct ctl *c, const char *dev, const char *attr, char **out, size_t *len);
int ctl_store(struct ctl *c, const char *dev, const char *attr, const char *val);
/*
 * "save" or "restore" device dev to or from the image at path (absolute:
 * the server opens it), through the control socket only: -EOPNOTSUPP
 * through a tree. *msg: what the server said was wrong ("" if nothing).
 */
int ctl_image(struct ctl *c, const char *verb, const char *dev, const char *path,
	      const char **msg);
/* The existing devices' ids, ascending: the count or -errno. */
long ctl_list(struct ctl *c, int **ids);
/* A decimal attribute. */
int ctl_u64(struct ctl *c, const char *dev, const char *attr, uint64_t *v);
bool ctl_dev_exists(struct ctl *c, int id);
/* "zramN" (or "/dev/zramN") to N; -1 if it is not such a name. */
int ctl_parse_name(const char *s);

/* ---- ctl_sysfs.c ---- */

/* A whole file (NUL-terminated, malloc'd); len may be NULL. */
int ctl_read_file(const char *path, char **out, size_t *len);
/* Remove trailing white space. */
void ctl_trim(char *s);

/* The mount point of the filesystem on block device "maj:min", or NULL. */
char *ctl_mount_of(const char *majmin);
/* The mount point of a loop device on TREE/zramN/disk for one of the
 * trees, or NULL. */
char *ctl_loop_mountpoint(char **trees, size_t ntrees, int id);

/* ---- ctl_table.c ---- */

enum {
	COL_NAME, COL_DISKSIZE, COL_ORIG_SIZE, COL_COMP_SIZE, COL_ALGORITHM,
	COL_STREAMS, COL_ZEROPAGES, COL_MEMTOTAL, COL_MEMLIMIT, COL_MEMUSED,
	COL_MIGRATED, COL_MOUNTPOINT, NR_COLS
};

/* How the table is printed: --raw, --noheadings, --bytes, --json, --output. */
struct ctl_out {
	bool raw, noheadings, bytes, json;
	int columns[NR_COLS * 2];
	int ncolumns;
};

/* --output's comma-separated names (said and -1 when wrong); --output-all;
 * zramctl's default columns. */
int ctl_parse_columns(const char *list, struct ctl_out *o);
void ctl_all_columns(struct ctl_out *o);
void ctl_default_columns(struct ctl_out *o);
/* The table of the initialised devices, or of device only (>= 0): the exit
 * status. */
int ctl_status(struct ctl *c, const struct ctl_out *o, int only);
/* The usage's "Available output columns". */
void ctl_columns_help(FILE *f);

/* ---- ctl_format.c ---- */

/* parse_size() of util-linux: "1G", "512MiB", "100MB", "1.5G", "0x1000". */
int ctl_parse_size(const char *str, uintmax_t *res);

#endif /* UZRAM_CTL_H */
