/*
 * fuse.c - the FUSE tree of `uzram serve --mount DIR` (README.md): the
 * devices laid out like sysfs, so that shell sessions and scripts written
 * for /sys/block/zramN work unchanged.
 *
 *	DIR/zram-control/hot_add	0400  reading creates a device, shows its id
 *	DIR/zram-control/hot_remove	0200  writing an id removes that device
 *	DIR/zramN/<attribute>		the library's attribute table, kernel modes
 *	DIR/zramN/block_state		0400  the kernel's debugfs format, paged
 *	DIR/zramN/disk			0600  the device as a regular file
 *
 * This file is the session: the ops table, the workers, mount, start and
 * stop. Directories are fuse_tree.c's, open and close fuse_handle.c's,
 * attribute files fuse_attr.c's and disk fuse_disk.c's (the layers are
 * listed in fuse_internal.h).
 *
 * Threads: a fixed pool of workers reads requests from the non-blocking
 * /dev/fuse descriptor, polling it beside an eventfd that stop signals, so
 * stopping never depends on the kernel waking a blocked read. Stop joins
 * the workers, then unmounts (lazily, as libfuse does: a busy mount is
 * detached and its connection aborted), then closes every handle the
 * kernel never released.
 */
#define _GNU_SOURCE	/* pthread_setname_np */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"

#ifndef HAVE_FUSE3

int fuse_front_start(struct uzram *z, const char *mountpoint, bool read_only,
		     struct iostat *stats, struct fuse_front **out)
{
	*out = NULL;
	return -ENOSYS;
}

void fuse_front_stop(struct fuse_front *f)
{
}

#else /* HAVE_FUSE3 */

#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <unistd.h>

#include "fuse_internal.h"
#include "mounts.h"

/* ---- read and write ---- */

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	if (!h) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (h->node.kind == N_DISK)
		fuse_disk_read(req, h, size, off);
	else
		fuse_attr_read(req, h, size, off);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	if (!h) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (h->node.kind == N_DISK)
		fuse_disk_write(req, h, buf, size, off);
	else
		fuse_attr_write(req, h, buf, size);
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	/* no splice, no writeback cache (disk writes go through at once), no
	 * readdirplus (lookups must see devices come and go) */
	conn->want &= ~(unsigned int)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
				      FUSE_CAP_SPLICE_MOVE | FUSE_CAP_WRITEBACK_CACHE |
				      FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	if (conn->capable & FUSE_CAP_ASYNC_DIO)
		conn->want |= FUSE_CAP_ASYNC_DIO;
	conn->max_write = 1u << 20;
	conn->time_gran = 1;
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = fuse_op_lookup,
	.getattr = fuse_op_getattr,
	.setattr = fuse_op_setattr,
	.mknod = fuse_op_mknod,
	.mkdir = fuse_op_mkdir,
	.unlink = fuse_op_unlink,
	.rmdir = fuse_op_unlink,
	.rename = fuse_op_rename,
	.create = fuse_op_create,
	.open = fuse_op_open,
	.read = op_read,
	.write = op_write,
	.flush = fuse_op_flush,
	.release = fuse_op_release,
	.fsync = fuse_op_fsync,
	.readdir = fuse_op_readdir,
	.statfs = fuse_op_statfs,
	.fallocate = fuse_op_fallocate,
	.lseek = fuse_op_lseek,
};

/* ---- the session ---- */

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct fuse_front *f = w->front;
	struct fuse_buf fbuf = { .mem = NULL };
	struct pollfd pfd[2] = {
		{ .fd = fuse_session_fd(f->se), .events = POLLIN },
		{ .fd = f->stop_fd, .events = POLLIN },
	};

	pthread_setname_np(pthread_self(), "fuse-worker");

	while (!atomic_load(&f->stopping) && !fuse_session_exited(f->se)) {
		int ret = poll(pfd, 2, -1);

		if (ret < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		if (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL))
			break;	/* unmounted from outside, or aborted */
		ret = fuse_session_receive_buf(f->se, &fbuf);
		if (ret == -EINTR || ret == -EAGAIN)
			continue;
		if (ret <= 0)
			break;
		fuse_session_process_buf(f->se, &fbuf);
	}
	free(fbuf.mem);
	fuse_disk_thread_exit();
	return NULL;
}

static void stop_workers(struct fuse_front *f)
{
	uint64_t one = 1;

	atomic_store(&f->stopping, true);
	if (write(f->stop_fd, &one, sizeof(one)) < 0)
		perror("uzram: fuse: waking the workers");
	for (unsigned int i = 0; i < NR_WORKERS; i++)
		if (f->workers[i].started)
			pthread_join(f->workers[i].tid, NULL);
}

static void front_free(struct fuse_front *f)
{
	struct handle *h;

	/* handles the kernel never released (the connection is gone) */
	while ((h = f->disks)) {
		fuse_disk_unlink(f, h);
		uzram_close(h->dev);
		fuse_handle_free(h);
	}
	if (f->se)
		fuse_session_destroy(f->se);
	if (f->stop_fd >= 0)
		close(f->stop_fd);
	pthread_rwlock_destroy(&f->rmw_lock);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->released);
	free(f->mountpoint);
	free(f);
}

/* A mount point left by a server that died reads ENOTCONN: detach it. */
/* Is a uzram tree mounted at the directory path resolves to? */
static bool uzram_tree_at(const char *path)
{
	char real[PATH_MAX], **trees;
	size_t n;
	bool found = false;

	if (!realpath(path, real))
		return false;
	trees = uzram_trees(&n);
	for (size_t i = 0; i < n && !found; i++)
		found = !strcmp(trees[i], real);
	uzram_trees_free(trees, n);
	return found;
}

/* A directory, with no live uzram tree on it (-EBUSY: mounting over one
 * would hide its devices); a stale mount of ours is detached (root). */
static int check_mountpoint(const char *path)
{
	struct stat st;

	if (stat(path, &st) && errno == ENOTCONN && geteuid() == 0 &&
	    umount2(path, MNT_DETACH) == 0)
		fprintf(stderr, "uzram: %s: detached the stale FUSE mount there\n", path);
	if (stat(path, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	return uzram_tree_at(path) ? -EBUSY : 0;
}

/* A front with its locks, mount point and stop eventfd, or NULL (*err). */
static struct fuse_front *front_new(struct uzram *z, const char *mountpoint,
				    bool read_only, int *err)
{
	struct fuse_front *f = calloc(1, sizeof(*f));
	pthread_condattr_t ca;

	*err = -ENOMEM;
	if (!f)
		return NULL;
	f->z = z;
	f->read_only = read_only;
	f->uid = geteuid();
	f->gid = getegid();
	f->nr_attrs = uzram_attr_count();
	f->stop_fd = -1;
	clock_gettime(CLOCK_REALTIME, &f->start);
	pthread_rwlock_init(&f->rmw_lock, NULL);
	pthread_mutex_init(&f->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&f->released, &ca);
	pthread_condattr_destroy(&ca);
	f->mountpoint = realpath(mountpoint, NULL);
	f->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (!f->mountpoint || f->stop_fd < 0) {
		*err = -errno;
		front_free(f);
		return NULL;
	}
	*err = 0;
	return f;
}

/* The session, mounted at f->mountpoint, its descriptor non-blocking. */
static int session_mount(struct fuse_front *f)
{
	char opts[128];
	char *argv[] = { "uzram", "-o", opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);

	/* root serves everyone as sysfs does, the modes enforced by the kernel */
	snprintf(opts, sizeof(opts), "fsname=uzram,subtype=uzram,default_permissions%s",
		 geteuid() == 0 ? ",allow_other" : "");
	f->se = fuse_session_new(&args, &ops, sizeof(ops), f);
	fuse_opt_free_args(&args);
	if (!f->se)
		return -EINVAL;
	if (fuse_session_mount(f->se, f->mountpoint))
		return -EIO;	/* libfuse has said why */
	if (fcntl(fuse_session_fd(f->se), F_SETFL,
		  fcntl(fuse_session_fd(f->se), F_GETFL) | O_NONBLOCK)) {
		int ret = -errno;

		fuse_session_unmount(f->se);
		return ret;
	}
	return 0;
}

/* The workers, or none (those started are stopped again): 0 or -errno. */
static int start_workers(struct fuse_front *f)
{
	sigset_t all, old;
	int ret = 0;

	/* the workers leave signals to the server's own threads */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned int i = 0; i < NR_WORKERS; i++) {
		f->workers[i].front = f;
		ret = -pthread_create(&f->workers[i].tid, NULL, worker_main, &f->workers[i]);
		if (ret)
			break;
		f->workers[i].started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret)
		stop_workers(f);
	return ret;
}

int fuse_front_start(struct uzram *z, const char *mountpoint, bool read_only,
		     struct iostat *stats, struct fuse_front **out)
{
	struct fuse_front *f;
	int ret;

	*out = NULL;
	if (uzram_attr_count() + 1 >= SLOT_QUEUE)
		return -E2BIG;	/* the inode layout has room for 125 attributes */
	if (access("/dev/fuse", F_OK))
		return -ENODEV;
	ret = check_mountpoint(mountpoint);
	if (ret)
		return ret;
	f = front_new(z, mountpoint, read_only, &ret);
	if (!f)
		return ret;
	f->stats = stats;
	ret = session_mount(f);
	if (!ret) {
		ret = start_workers(f);
		if (ret)
			fuse_session_unmount(f->se);
	}
	if (ret) {
		front_free(f);
		return ret;
	}
	*out = f;
	return 0;
}

void fuse_front_stop(struct fuse_front *f)
{
	if (!f)
		return;
	stop_workers(f);
	/* closes /dev/fuse (aborting the connection), then detaches the mount */
	fuse_session_unmount(f->se);
	front_free(f);
}

#endif /* HAVE_FUSE3 */
