/*
 * fuse_internal.h - the FUSE tree's shared structures, for its files, which
 * call each other in one direction only (each only the ones below it):
 *
 *   fuse.c          the session: the ops table, workers, mount, start/stop
 *   fuse_attr.c     attribute files and zram-control's hot_add/hot_remove
 *   fuse_disk.c     the disk file
 *   fuse_handle.c   open and close, the list of open disks
 *   fuse_tree.c     inode numbers, stat, directories
 *
 * Only built with libfuse3 (HAVE_FUSE3); fuse.c has the stubs otherwise.
 */
#ifndef UZRAM_SRC_FUSE_INTERNAL_H
#define UZRAM_SRC_FUSE_INTERNAL_H

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "fuse.h"
#include "iostat.h"
#include "util/common.h"

#define NR_WORKERS	4
#define ATTR_BUF	4096		/* sysfs's buffer: one page */

/* Inode numbers: fixed by position, so nothing is allocated per inode. */
#define INO_ROOT	1
#define INO_CONTROL	2
#define INO_HOT_ADD	3
#define INO_HOT_REMOVE	4
#define INO_DEV_BASE	64
/*
 * A device's slots: 0 its directory, 1..n the attributes in the table's
 * order (those named "queue/NAME" live in queue/), 126 queue/, 127 disk.
 */
#define INO_PER_DEV	128
#define SLOT_QUEUE	(INO_PER_DEV - 2)
#define SLOT_DISK	(INO_PER_DEV - 1)
#define QUEUE_PREFIX	"queue/"

enum node_kind {
	N_ROOT, N_CONTROL, N_HOT_ADD, N_HOT_REMOVE, N_DEV, N_QUEUE, N_ATTR, N_DISK
};

struct node {
	enum node_kind kind;
	int id;					/* N_DEV, N_QUEUE, N_ATTR, N_DISK */
	const struct uzram_attr_info *attr;	/* N_ATTR */
};

/* An open file. */
struct handle {
	struct node node;
	pthread_mutex_t lock;		/* the text and block_state cursor */
	/* attributes and hot_add: the text shown by the last read at 0 */
	char *text;
	size_t len;
	bool have;
	/* block_state: generated text from stream offset pos, and the next slot */
	uint64_t bs_slot, bs_pos;
	/* disk */
	struct uzram_dev *dev;
	bool flushed;			/* a close(2) was seen (FLUSH) */
	struct handle *prev, *next;	/* the list of open disks */
};

struct worker {
	struct fuse_front *front;
	pthread_t tid;
	bool started;
};

struct fuse_front {
	struct uzram *z;
	struct fuse_session *se;
	char *mountpoint;
	bool read_only;
	uid_t uid;
	gid_t gid;
	struct timespec start;
	size_t nr_attrs;
	int stop_fd;
	atomic_bool stopping;
	struct worker workers[NR_WORKERS];
	/* aligned disk writes take it shared, read-modify-writes exclusive */
	pthread_rwlock_t rmw_lock;
	pthread_mutex_t lock;		/* disks */
	pthread_cond_t released;
	struct handle *disks;
	struct iostat *stats;		/* the disk files' counters, or NULL */
};

static inline struct fuse_front *front_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* fuse_tree.c: inodes and directories. */
/* The node of an inode number, if it names something that exists now. */
bool fuse_node_of(struct fuse_front *f, fuse_ino_t ino, struct node *n);
void fuse_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fuse_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fuse_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		     int to_set, struct fuse_file_info *fi);
void fuse_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi);
void fuse_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		   mode_t mode, dev_t rdev);
void fuse_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		   mode_t mode);
void fuse_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fuse_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		    fuse_ino_t newparent, const char *newname,
		    unsigned int flags);
void fuse_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		    mode_t mode, struct fuse_file_info *fi);
void fuse_op_statfs(fuse_req_t req, fuse_ino_t ino);

/* fuse_handle.c: open files. */
void fuse_handle_free(struct handle *h);
/* Take an open disk off f->disks (f->lock held). */
void fuse_disk_unlink(struct fuse_front *f, struct handle *h);
/*
 * After an EBUSY from reset or hot_remove of device id: true when this tree
 * held the device and its handles went away soon enough for another try.
 */
bool fuse_wait_for_release(struct fuse_front *f, int id);
void fuse_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fuse_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fuse_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fuse_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		   struct fuse_file_info *fi);

/* fuse_disk.c: the disk file. */
void fuse_disk_read(fuse_req_t req, struct handle *h, size_t size, off_t off);
void fuse_disk_write(fuse_req_t req, struct handle *h, const char *data,
		     size_t size, off_t off);
/* Free the calling worker's scratch buffer, as it ends. */
void fuse_disk_thread_exit(void);
void fuse_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
		       off_t length, struct fuse_file_info *fi);
void fuse_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		   struct fuse_file_info *fi);

/* fuse_attr.c: attribute files, hot_add and hot_remove. */
void fuse_attr_read(fuse_req_t req, struct handle *h, size_t size, off_t off);
void fuse_attr_write(fuse_req_t req, struct handle *h, const char *buf,
		     size_t size);

#endif /* UZRAM_SRC_FUSE_INTERNAL_H */
