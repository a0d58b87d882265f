/*
 * fuse_handle.c - open and close in the FUSE tree. Opening checks the
 * direction as kernfs does (EACCES for a write to a read-only attribute,
 * even by root; EROFS for disk under --read-only). An open disk holds its
 * device open through uzram_open, exactly as an open /dev/zramN does:
 * reset and hot_remove give EBUSY until the last close. The open disks are
 * on the front's list, under its lock.
 *
 * FUSE sends RELEASE asynchronously: close(2) returns before the handle is
 * gone. So that `mkfs.ext4 disk; echo 1 > reset` does not race, a reset or
 * hot_remove refused with EBUSY while this tree's only handles on the device
 * have all seen their close (FLUSH) waits up to half a second for them and
 * tries once more (fuse_wait_for_release).
 */
#define _GNU_SOURCE	/* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"

#ifdef HAVE_FUSE3

#include "fuse_internal.h"

#define RELEASE_WAIT_MS	500

static struct handle *handle_new(const struct node *n)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->node = *n;
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

void fuse_handle_free(struct handle *h)
{
	pthread_mutex_destroy(&h->lock);
	free(h->text);
	free(h);
}

void fuse_disk_unlink(struct fuse_front *f, struct handle *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		f->disks = h->next;
	if (h->next)
		h->next->prev = h->prev;
	h->prev = h->next = NULL;
	iostat_conn(f->stats, -1);
}

void fuse_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fuse_front *f = front_of(req);
	int acc = fi->flags & O_ACCMODE;
	bool rd = acc == O_RDONLY || acc == O_RDWR;
	bool wr = acc == O_WRONLY || acc == O_RDWR;
	unsigned int mode = 0;
	struct handle *h;
	struct node n;
	int ret;

	if (!fuse_node_of(f, ino, &n)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	switch (n.kind) {
	case N_ROOT:
	case N_CONTROL:
	case N_DEV:
	case N_QUEUE:
		fuse_reply_err(req, EISDIR);
		return;
	case N_HOT_ADD:
		mode = 0400;
		break;
	case N_HOT_REMOVE:
		mode = 0200;
		break;
	case N_ATTR:
		mode = n.attr->mode;
		break;
	case N_DISK:
		mode = f->read_only ? 0400 : 0600;
		break;
	}
	/* kernfs refuses the direction an attribute lacks, even to root */
	if ((rd && !(mode & 0444)) || (wr && !(mode & 0222))) {
		fuse_reply_err(req, n.kind == N_DISK ? EROFS : EACCES);
		return;
	}
	h = handle_new(&n);
	if (!h) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (n.kind != N_DISK) {
		fi->direct_io = 1;
		fi->fh = (uintptr_t)h;
		if (fuse_reply_open(req, fi) == -ENOENT)
			fuse_handle_free(h);	/* the opener was interrupted */
		return;
	}

	ret = uzram_open(f->z, n.id, &h->dev);
	if (ret) {
		fuse_handle_free(h);
		fuse_reply_err(req, -ret);
		return;
	}
	pthread_mutex_lock(&f->lock);
	h->next = f->disks;
	if (f->disks)
		f->disks->prev = h;
	f->disks = h;
	pthread_mutex_unlock(&f->lock);
	iostat_conn(f->stats, 1);
	fi->direct_io = (fi->flags & O_DIRECT) ? 1 : 0;
	fi->keep_cache = 0;
	fi->fh = (uintptr_t)h;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		/* the opener was interrupted: no release will come */
		pthread_mutex_lock(&f->lock);
		fuse_disk_unlink(f, h);
		uzram_close(h->dev);
		pthread_cond_broadcast(&f->released);
		pthread_mutex_unlock(&f->lock);
		fuse_handle_free(h);
	}
}

void fuse_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fuse_front *f = front_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	if (h && h->node.kind == N_DISK) {
		pthread_mutex_lock(&f->lock);
		fuse_disk_unlink(f, h);
		uzram_close(h->dev);
		pthread_cond_broadcast(&f->released);
		pthread_mutex_unlock(&f->lock);
	}
	if (h)
		fuse_handle_free(h);
	fuse_reply_err(req, 0);
}

void fuse_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fuse_front *f = front_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	int ret = 0;

	if (h && h->node.kind == N_DISK) {
		ret = uzram_flush(h->dev);
		pthread_mutex_lock(&f->lock);
		h->flushed = true;
		pthread_mutex_unlock(&f->lock);
	}
	fuse_reply_err(req, -ret);
}

void fuse_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		   struct fuse_file_info *fi)
{
	struct fuse_front *f = front_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	uint64_t t0 = iostat_start(f->stats);
	int ret = 0;

	if (h && h->node.kind == N_DISK) {
		ret = uzram_flush(h->dev);
		iostat_done(f->stats, IOSTAT_FLUSH, ret ? IOSTAT_ERROR : IOSTAT_OK, 0, 0, t0);
	}
	fuse_reply_err(req, -ret);
}

/*
 * After an EBUSY from reset or hot_remove of device id: true when this tree
 * held the device, every such handle has seen its close, and they are all
 * released within RELEASE_WAIT_MS - then the store is worth another try.
 */
bool fuse_wait_for_release(struct fuse_front *f, int id)
{
	struct timespec deadline;
	bool seen = false, ok = false;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_nsec += RELEASE_WAIT_MS * 1000000L;
	deadline.tv_sec += deadline.tv_nsec / 1000000000L;
	deadline.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&f->lock);
	for (;;) {
		unsigned int open = 0;
		bool all_closed = true;

		for (struct handle *h = f->disks; h; h = h->next) {
			if (h->node.id != id)
				continue;
			open++;
			all_closed = all_closed && h->flushed;
		}
		if (!open) {
			ok = seen;
			break;
		}
		seen = true;
		if (!all_closed)
			break;
		if (pthread_cond_timedwait(&f->released, &f->lock, &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&f->lock);
	return ok;
}

#endif /* HAVE_FUSE3 */
