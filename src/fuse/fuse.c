/*
 * fuse.c - the FUSE tree of `uzram serve --mount DIR` (PRODUCT.md): the
 * devices laid out like sysfs, so that shell sessions and scripts written
 * for /sys/block/zramN work unchanged.
 *
 *	DIR/zram-control/hot_add	0400  reading creates a device, shows its id
 *	DIR/zram-control/hot_remove	0200  writing an id removes that device
 *	DIR/zramN/<attribute>		the library's attribute table, kernel modes
 *	DIR/zramN/block_state		0400  the kernel's debugfs format, paged
 *	DIR/zramN/disk			0600  the device as a regular file
 *
 * Everything goes through the library's one attribute table
 * (uzram_attr_show / uzram_attr_store), as the control socket and `uzram
 * ctl` do; this file only maps files onto it.
 *
 * Attribute files behave as kernfs does (only chmod and chown, which sysfs
 * allows, are refused: EPERM). Opening checks the direction
 * (EACCES for a write to a read-only attribute, even by root). A read at
 * offset 0 calls show and keeps the text for the reads that follow, as
 * seq_file does; every write(2) is one store of at most a page, its offset
 * ignored, and a failed store fails write(2) with the attribute's errno.
 * They are direct_io files: the kernel caches nothing and does not clip
 * reads to the 4096 bytes stat reports (sysfs's size too).
 *
 * `disk` is opened with uzram_open, so an open disk holds the device open
 * exactly as an open /dev/zramN does: reset and hot_remove give EBUSY until
 * the last close. Closed, it costs nothing and stat shows disksize, so
 * its size follows disksize and reset. Its blocks are mem_used_total, so du
 * shows what the device really costs. Reads and writes map straight onto
 * uzram_read / uzram_write: aligned requests (all of a loop device's, with
 * --direct-io=on) go through untouched; unaligned ones, which buffered
 * writers like `dd bs=1` send, read, modify and write back the partial
 * sectors at their edges under an exclusive lock that aligned writes take
 * shared. The page cache serves buffered opens and is dropped at each open
 * (keep_cache off), so it cannot see what NBD clients write meanwhile;
 * O_DIRECT opens bypass it. O_TRUNC is ignored, as a block device ignores
 * it, and --read-only refuses disk's writes (EROFS) but not attribute
 * stores. fallocate PUNCH_HOLE is a discard (partial
 * pages are zeroed, so the hole reads as zeros as a file's must), ZERO_RANGE
 * is write-zeroes, and SEEK_DATA/SEEK_HOLE see unwritten pages as holes.
 * Writes past the end fail with ENOSPC, as on a block device; errors of the
 * device itself (mem_limit) are EIO, as the kernel's bio status is.
 *
 * FUSE sends RELEASE asynchronously: close(2) returns before the handle is
 * gone. So that `mkfs.ext4 disk; echo 1 > reset` does not race, a reset or
 * hot_remove refused with EBUSY while this tree's only handles on the device
 * have all seen their close (FLUSH) waits up to half a second for them and
 * tries once more.
 *
 * Threads: a fixed pool of workers reads requests from the non-blocking
 * /dev/fuse descriptor, polling it beside an eventfd that stop signals, so
 * stopping never depends on the kernel waking a blocked read. Stop joins
 * the workers, then unmounts (lazily, as libfuse does: a busy mount is
 * detached and its connection aborted), then closes every handle the
 * kernel never released.
 */
#define _GNU_SOURCE	/* O_DIRECT, SEEK_DATA, FALLOC_FL_* */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "fuse.h"

#ifndef HAVE_FUSE3

int fuse_front_start(struct uzram *z, const char *mountpoint, bool read_only,
		     struct fuse_front **out)
{
	*out = NULL;
	return -ENOSYS;
}

void fuse_front_stop(struct fuse_front *f)
{
}

#else /* HAVE_FUSE3 */

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>

#include <inttypes.h>
#include <linux/falloc.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define NR_WORKERS	4
#define ATTR_BUF	4096		/* sysfs's buffer: one page */
#define SECTOR		512u
#define PAGE		4096u
#define BS_CHUNK	(64u << 10)	/* block_state generated per step */
#define RELEASE_WAIT_MS	500

#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))

/* Inode numbers: fixed by position, so nothing is allocated per inode. */
#define INO_ROOT	1
#define INO_CONTROL	2
#define INO_HOT_ADD	3
#define INO_HOT_REMOVE	4
#define INO_DEV_BASE	64
#define INO_PER_DEV	64	/* slot 0 the directory, 1..n attributes, 63 disk */
#define SLOT_DISK	(INO_PER_DEV - 1)

enum node_kind { N_ROOT, N_CONTROL, N_HOT_ADD, N_HOT_REMOVE, N_DEV, N_ATTR, N_DISK };

struct node {
	enum node_kind kind;
	int id;					/* N_DEV, N_ATTR, N_DISK */
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
	uint8_t *buf;			/* scratch for disk I/O */
	size_t cap;
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
};

static __thread struct worker *cur_worker;

static struct fuse_front *front_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* ---- inodes ---- */

static fuse_ino_t dev_ino(int id, unsigned int slot)
{
	return INO_DEV_BASE + (fuse_ino_t)id * INO_PER_DEV + slot;
}

/* The node of an inode number, if it names something that exists now. */
static bool node_of(struct fuse_front *f, fuse_ino_t ino, struct node *n)
{
	uint64_t rel, id, slot;

	memset(n, 0, sizeof(*n));
	switch (ino) {
	case INO_ROOT:
		n->kind = N_ROOT;
		return true;
	case INO_CONTROL:
		n->kind = N_CONTROL;
		return true;
	case INO_HOT_ADD:
		n->kind = N_HOT_ADD;
		return true;
	case INO_HOT_REMOVE:
		n->kind = N_HOT_REMOVE;
		return true;
	}
	if (ino < INO_DEV_BASE)
		return false;
	rel = ino - INO_DEV_BASE;
	id = rel / INO_PER_DEV;
	slot = rel % INO_PER_DEV;
	if (id > INT_MAX || !uzram_exists(f->z, (int)id))
		return false;
	n->id = (int)id;
	if (slot == 0) {
		n->kind = N_DEV;
	} else if (slot == SLOT_DISK) {
		n->kind = N_DISK;
	} else if (slot <= f->nr_attrs) {
		n->kind = N_ATTR;
		n->attr = uzram_attr_at(slot - 1);
	} else {
		return false;
	}
	return true;
}

static void fill_stat(struct fuse_front *f, fuse_ino_t ino,
		      const struct node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = f->uid;
	st->st_gid = f->gid;
	st->st_atim = st->st_mtim = st->st_ctim = f->start;
	st->st_blksize = PAGE;
	switch (n->kind) {
	case N_ROOT:
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 3 + uzram_list(f->z, NULL, 0);
		break;
	case N_CONTROL:
	case N_DEV:
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		break;
	case N_HOT_ADD:
		st->st_mode = S_IFREG | 0400;
		st->st_nlink = 1;
		st->st_size = ATTR_BUF;
		break;
	case N_HOT_REMOVE:
		st->st_mode = S_IFREG | 0200;
		st->st_nlink = 1;
		st->st_size = ATTR_BUF;
		break;
	case N_ATTR:
		st->st_mode = S_IFREG | n->attr->mode;
		st->st_nlink = 1;
		st->st_size = ATTR_BUF;
		break;
	case N_DISK: {
		struct uzram_stats s;

		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		if (uzram_stats(f->z, n->id, &s) == 0) {
			st->st_size = (off_t)s.disksize;
			st->st_blocks = (blkcnt_t)(s.mem_used_total / 512);
		}
		break;
	}
	}
}

static void reply_entry(fuse_req_t req, fuse_ino_t ino, const struct node *n)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = ino;
	/* Nothing is cached: devices come and go, disk's size changes. */
	e.attr_timeout = 0;
	e.entry_timeout = 0;
	fill_stat(front_of(req), ino, n, &e.attr);
	fuse_reply_entry(req, &e);
}

/* ---- directories ---- */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_front *f = front_of(req);
	struct node p, n;
	fuse_ino_t ino = 0;

	if (!node_of(f, parent, &p)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	switch (p.kind) {
	case N_ROOT:
		if (!strcmp(name, "zram-control")) {
			ino = INO_CONTROL;
		} else {
			int id = uzram_name_id(name, strlen(name));

			if (id >= 0)
				ino = dev_ino(id, 0);
		}
		break;
	case N_CONTROL:
		if (!strcmp(name, "hot_add"))
			ino = INO_HOT_ADD;
		else if (!strcmp(name, "hot_remove"))
			ino = INO_HOT_REMOVE;
		break;
	case N_DEV:
		if (!strcmp(name, "disk")) {
			ino = dev_ino(p.id, SLOT_DISK);
		} else {
			for (size_t i = 0; i < f->nr_attrs; i++)
				if (!strcmp(uzram_attr_at(i)->name, name))
					ino = dev_ino(p.id, (unsigned int)i + 1);
		}
		break;
	default:
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (!ino || !node_of(f, ino, &n)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	reply_entry(req, ino, &n);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fuse_front *f = front_of(req);
	struct node n;
	struct stat st;

	if (!node_of(f, ino, &n)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_stat(f, ino, &n, &st);
	fuse_reply_attr(req, &st, 0);
}

/*
 * As sysfs: truncation and times are accepted and change nothing (`echo >`
 * truncates first). disk keeps its size: only its own size is accepted.
 */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct fuse_front *f = front_of(req);
	struct node n;
	struct stat st;

	if (!node_of(f, ino, &n)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_stat(f, ino, &n, &st);
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (S_ISDIR(st.st_mode)) {
			fuse_reply_err(req, EISDIR);
			return;
		}
		if (n.kind == N_DISK && attr->st_size != st.st_size) {
			fuse_reply_err(req, f->read_only ? EROFS : EINVAL);
			return;
		}
	}
	fuse_reply_attr(req, &st, 0);
}

struct dirent_list {
	char *buf;
	size_t size, used;
	off_t index, from;
	fuse_req_t req;
	bool full;
};

static void add_dirent(struct dirent_list *l, const char *name, fuse_ino_t ino,
		       mode_t mode)
{
	struct stat st;
	size_t n;

	l->index++;
	if (l->full || l->index <= l->from)
		return;
	memset(&st, 0, sizeof(st));
	st.st_ino = ino;
	st.st_mode = mode;
	n = fuse_add_direntry(l->req, l->buf + l->used, l->size - l->used, name,
			      &st, l->index);
	if (n > l->size - l->used) {
		l->full = true;
		return;
	}
	l->used += n;
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct fuse_front *f = front_of(req);
	struct dirent_list l = { .size = size, .from = off, .req = req };
	struct node n;
	char name[32];

	if (!node_of(f, ino, &n)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	l.buf = malloc(size ? size : 1);
	if (!l.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	switch (n.kind) {
	case N_ROOT: {
		int *ids;
		long cnt = uzram_list_all(f->z, &ids);

		if (cnt < 0) {
			free(l.buf);
			fuse_reply_err(req, ENOMEM);
			return;
		}
		add_dirent(&l, ".", INO_ROOT, S_IFDIR);
		add_dirent(&l, "..", INO_ROOT, S_IFDIR);
		add_dirent(&l, "zram-control", INO_CONTROL, S_IFDIR);
		for (long i = 0; i < cnt; i++) {
			snprintf(name, sizeof(name), "zram%d", ids[i]);
			add_dirent(&l, name, dev_ino(ids[i], 0), S_IFDIR);
		}
		free(ids);
		break;
	}
	case N_CONTROL:
		add_dirent(&l, ".", INO_CONTROL, S_IFDIR);
		add_dirent(&l, "..", INO_ROOT, S_IFDIR);
		add_dirent(&l, "hot_add", INO_HOT_ADD, S_IFREG);
		add_dirent(&l, "hot_remove", INO_HOT_REMOVE, S_IFREG);
		break;
	case N_DEV:
		add_dirent(&l, ".", ino, S_IFDIR);
		add_dirent(&l, "..", INO_ROOT, S_IFDIR);
		for (size_t i = 0; i < f->nr_attrs; i++)
			add_dirent(&l, uzram_attr_at(i)->name,
				   dev_ino(n.id, (unsigned int)i + 1), S_IFREG);
		add_dirent(&l, "disk", dev_ino(n.id, SLOT_DISK), S_IFREG);
		break;
	default:
		free(l.buf);
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	fuse_reply_buf(req, l.buf, l.used);
	free(l.buf);
}

/* Nothing may be created, removed or renamed, as in sysfs. */
static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	fuse_reply_err(req, EACCES);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	fuse_reply_err(req, EACCES);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EACCES);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	fuse_reply_err(req, EACCES);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	fuse_reply_err(req, EACCES);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = PAGE;
	sv.f_frsize = PAGE;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

/* ---- open and close ---- */

static struct handle *handle_new(const struct node *n)
{
	struct handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->node = *n;
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

static void handle_free(struct handle *h)
{
	pthread_mutex_destroy(&h->lock);
	free(h->text);
	free(h);
}

static void disk_unlink(struct fuse_front *f, struct handle *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		f->disks = h->next;
	if (h->next)
		h->next->prev = h->prev;
	h->prev = h->next = NULL;
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fuse_front *f = front_of(req);
	int acc = fi->flags & O_ACCMODE;
	bool rd = acc == O_RDONLY || acc == O_RDWR;
	bool wr = acc == O_WRONLY || acc == O_RDWR;
	unsigned int mode = 0;
	struct handle *h;
	struct node n;
	int ret;

	if (!node_of(f, ino, &n)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	switch (n.kind) {
	case N_ROOT:
	case N_CONTROL:
	case N_DEV:
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
			handle_free(h);	/* the opener was interrupted */
		return;
	}

	ret = uzram_open(f->z, n.id, &h->dev);
	if (ret) {
		handle_free(h);
		fuse_reply_err(req, -ret);
		return;
	}
	pthread_mutex_lock(&f->lock);
	h->next = f->disks;
	if (f->disks)
		f->disks->prev = h;
	f->disks = h;
	pthread_mutex_unlock(&f->lock);
	fi->direct_io = (fi->flags & O_DIRECT) ? 1 : 0;
	fi->keep_cache = 0;
	fi->fh = (uintptr_t)h;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		/* the opener was interrupted: no release will come */
		pthread_mutex_lock(&f->lock);
		disk_unlink(f, h);
		uzram_close(h->dev);
		pthread_cond_broadcast(&f->released);
		pthread_mutex_unlock(&f->lock);
		handle_free(h);
	}
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fuse_front *f = front_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	if (h && h->node.kind == N_DISK) {
		pthread_mutex_lock(&f->lock);
		disk_unlink(f, h);
		uzram_close(h->dev);
		pthread_cond_broadcast(&f->released);
		pthread_mutex_unlock(&f->lock);
	}
	if (h)
		handle_free(h);
	fuse_reply_err(req, 0);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
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

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	fuse_reply_err(req, h && h->node.kind == N_DISK ? -uzram_flush(h->dev) : 0);
}

/*
 * After an EBUSY from reset or hot_remove of device id: true when this tree
 * held the device, every such handle has seen its close, and they are all
 * released within RELEASE_WAIT_MS - then the store is worth another try.
 */
static bool wait_for_release(struct fuse_front *f, int id)
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

/* ---- attribute files ---- */

/* block_state, paged by byte offset over the library's slot cursor. */
static void read_block_state(fuse_req_t req, struct handle *h, size_t size,
			     off_t off)
{
	struct fuse_front *f = front_of(req);
	char *out = malloc(size ? size : 1);
	size_t n = 0;

	if (!out) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&h->lock);
	if (!h->text) {
		h->text = malloc(BS_CHUNK);
		if (!h->text) {
			pthread_mutex_unlock(&h->lock);
			free(out);
			fuse_reply_err(req, ENOMEM);
			return;
		}
	}
	/* h->text[0..len) is the stream from offset bs_pos on */
	if (off == 0 || (uint64_t)off < h->bs_pos) {
		h->bs_slot = 0;
		h->bs_pos = 0;
		h->len = 0;
	}
	while (n < size) {
		uint64_t want = (uint64_t)off + n;
		size_t skip, take;

		if (!h->len) {
			long got = uzram_block_state(f->z, h->node.id, &h->bs_slot,
						     h->text, BS_CHUNK);
			if (got < 0) {
				pthread_mutex_unlock(&h->lock);
				free(out);
				fuse_reply_err(req, (int)-got);
				return;
			}
			if (got == 0)
				break;
			h->len = (size_t)got;
		}
		if (h->bs_pos + h->len <= want) {
			h->bs_pos += h->len;
			h->len = 0;
			continue;
		}
		skip = (size_t)(want - h->bs_pos);
		take = MIN(h->len - skip, size - n);
		memcpy(out + n, h->text + skip, take);
		n += take;
		h->bs_pos += skip + take;
		h->len -= skip + take;
		memmove(h->text, h->text + skip + take, h->len);
	}
	pthread_mutex_unlock(&h->lock);
	fuse_reply_buf(req, out, n);
	free(out);
}

/*
 * A read at offset 0 shows afresh; later reads continue that text. The
 * reply is sent from a copy, after the handle is let go: once the reader
 * has its data it may close, and RELEASE may free the handle at once.
 */
static void read_text(fuse_req_t req, struct handle *h, size_t size, off_t off)
{
	struct fuse_front *f = front_of(req);
	char out[ATTR_BUF];
	size_t len = 0;
	long n;

	pthread_mutex_lock(&h->lock);
	if (off == 0 || !h->have) {
		if (!h->text)
			h->text = malloc(ATTR_BUF + 1);
		if (!h->text) {
			pthread_mutex_unlock(&h->lock);
			fuse_reply_err(req, ENOMEM);
			return;
		}
		if (h->node.kind == N_HOT_ADD)
			n = uzram_control_show(f->z, "hot_add", h->text, ATTR_BUF + 1);
		else
			n = uzram_attr_show(f->z, h->node.id, h->node.attr->name,
					    h->text, ATTR_BUF + 1);
		if (n < 0) {
			h->have = false;
			pthread_mutex_unlock(&h->lock);
			fuse_reply_err(req, (int)-n);
			return;
		}
		h->len = MIN((size_t)n, (size_t)ATTR_BUF);
		h->have = true;
	}
	if ((uint64_t)off < h->len) {
		len = MIN(size, h->len - (size_t)off);
		memcpy(out, h->text + off, len);
	}
	pthread_mutex_unlock(&h->lock);
	fuse_reply_buf(req, out, len);
}

/* One store per write(2), at most a page of it, its offset ignored. */
static void write_text(fuse_req_t req, struct handle *h, const char *buf,
		       size_t size)
{
	struct fuse_front *f = front_of(req);
	size_t len = MIN(size, (size_t)ATTR_BUF);
	int ret, busy_id = -1;

	if (h->node.kind == N_HOT_REMOVE) {
		ret = uzram_control_store(f->z, "hot_remove", buf, len);
		if (ret == -EBUSY) {
			char tmp[24];

			snprintf(tmp, sizeof(tmp), "%.*s", (int)MIN(len, sizeof(tmp) - 1), buf);
			busy_id = atoi(tmp);
		}
		if (busy_id >= 0 && wait_for_release(f, busy_id))
			ret = uzram_control_store(f->z, "hot_remove", buf, len);
	} else {
		const char *name = h->node.attr->name;

		ret = uzram_attr_store(f->z, h->node.id, name, buf, len);
		if (ret == -EBUSY && !strcmp(name, "reset") &&
		    wait_for_release(f, h->node.id))
			ret = uzram_attr_store(f->z, h->node.id, name, buf, len);
	}
	if (ret)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_write(req, len);
}

/* ---- disk ---- */

/* The calling worker's scratch buffer, at least n bytes. */
static uint8_t *scratch(size_t n)
{
	struct worker *w = cur_worker;

	if (w->cap < n) {
		size_t cap = MAX(n, (size_t)(1u << 20) + 2 * PAGE);
		uint8_t *p = aligned_alloc(PAGE, (cap + PAGE - 1) & ~(size_t)(PAGE - 1));

		if (!p)
			return NULL;
		free(w->buf);
		w->buf = p;
		w->cap = cap;
	}
	return w->buf;
}

/* The device's own errors reach a file's user as a bio's would: EIO. */
static int io_errno(int ret)
{
	return ret == -ENOMEM ? EIO : -ret;
}

static void disk_read(fuse_req_t req, struct handle *h, size_t size, off_t off)
{
	uint64_t dsize = uzram_dev_size(h->dev), a0, a1;
	uint8_t *buf;
	size_t len;
	int ret;

	if (off < 0 || (uint64_t)off >= dsize || !size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	len = (size_t)MIN((uint64_t)size, dsize - (uint64_t)off);
	a0 = (uint64_t)off & ~(uint64_t)(SECTOR - 1);
	a1 = ((uint64_t)off + len + SECTOR - 1) & ~(uint64_t)(SECTOR - 1);
	buf = scratch((size_t)(a1 - a0));
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ret = uzram_read(h->dev, buf, a0, (size_t)(a1 - a0));
	if (ret) {
		fuse_reply_err(req, io_errno(ret));
		return;
	}
	fuse_reply_buf(req, (const char *)buf + ((uint64_t)off - a0), len);
}

/* Part of one sector: read, modify, write it back (rmw_lock held). */
static int sector_rmw(struct uzram_dev *dev, const uint8_t *data, uint64_t off,
		      size_t len)
{
	uint64_t a = off & ~(uint64_t)(SECTOR - 1);
	uint8_t buf[SECTOR];
	int ret = uzram_read(dev, buf, a, SECTOR);

	if (ret)
		return ret;
	if (data)
		memcpy(buf + (off - a), data, len);
	else
		memset(buf + (off - a), 0, len);
	return uzram_write(dev, buf, a, SECTOR);
}

/* Write len bytes of data (NULL: zeros) at off, within the device. Aligned
 * requests go straight through; otherwise the partial sectors at the edges
 * are read, modified and written back, all under the exclusive lock. */
static int disk_pwrite(struct fuse_front *f, struct uzram_dev *dev,
		       const uint8_t *data, uint64_t off, size_t len)
{
	uint64_t end = off + len, mid0, mid1;
	int ret = 0;

	if (!((off | len) & (SECTOR - 1))) {
		pthread_rwlock_rdlock(&f->rmw_lock);
		ret = data ? uzram_write(dev, data, off, len)
			   : uzram_write_zeroes(dev, off, len);
		pthread_rwlock_unlock(&f->rmw_lock);
		return ret;
	}
	mid0 = (off + SECTOR - 1) & ~(uint64_t)(SECTOR - 1);
	mid1 = end & ~(uint64_t)(SECTOR - 1);
	pthread_rwlock_wrlock(&f->rmw_lock);
	if (mid0 > mid1) {		/* inside one sector */
		ret = sector_rmw(dev, data, off, len);
		goto out;
	}
	if (off < mid0)
		ret = sector_rmw(dev, data, off, (size_t)(mid0 - off));
	if (!ret && mid0 < mid1)
		ret = data ? uzram_write(dev, data + (mid0 - off), mid0, (size_t)(mid1 - mid0))
			   : uzram_write_zeroes(dev, mid0, mid1 - mid0);
	if (!ret && mid1 < end)
		ret = sector_rmw(dev, data ? data + (mid1 - off) : NULL, mid1,
				 (size_t)(end - mid1));
out:
	pthread_rwlock_unlock(&f->rmw_lock);
	return ret;
}

static void disk_write(fuse_req_t req, struct handle *h, const char *data,
		       size_t size, off_t off)
{
	struct fuse_front *f = front_of(req);
	uint64_t dsize = uzram_dev_size(h->dev);
	size_t len;
	int ret;

	if (f->read_only) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (!size) {
		fuse_reply_write(req, 0);
		return;
	}
	if (off < 0 || (uint64_t)off >= dsize) {
		fuse_reply_err(req, off < 0 ? EINVAL : ENOSPC);
		return;
	}
	len = (size_t)MIN((uint64_t)size, dsize - (uint64_t)off);
	ret = disk_pwrite(f, h->dev, (const uint8_t *)data, (uint64_t)off, len);
	if (ret)
		fuse_reply_err(req, io_errno(ret));
	else
		fuse_reply_write(req, len);
}

/* Zero [off, off+len) of the device: whole sectors by write-zeroes. */
static int disk_zero(struct fuse_front *f, struct uzram_dev *dev, uint64_t off,
		     uint64_t len)
{
	return disk_pwrite(f, dev, NULL, off, (size_t)len);
}

/* Punch: whole pages discarded, the partial pages at the edges zeroed. */
static int disk_punch(struct fuse_front *f, struct uzram_dev *dev, uint64_t off,
		      uint64_t len)
{
	uint64_t p0 = (off + PAGE - 1) & ~(uint64_t)(PAGE - 1);
	uint64_t p1 = (off + len) & ~(uint64_t)(PAGE - 1);
	int ret = 0;

	if (p0 >= p1)
		return disk_zero(f, dev, off, len);
	if (off < p0)
		ret = disk_zero(f, dev, off, p0 - off);
	if (!ret) {
		pthread_rwlock_rdlock(&f->rmw_lock);
		ret = uzram_discard(dev, p0, p1 - p0);
		pthread_rwlock_unlock(&f->rmw_lock);
	}
	if (!ret && p1 < off + len)
		ret = disk_zero(f, dev, p1, off + len - p1);
	return ret;
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
			 off_t length, struct fuse_file_info *fi)
{
	struct fuse_front *f = front_of(req);
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	uint64_t dsize, len;
	int ret = 0;

	if (!h || h->node.kind != N_DISK ||
	    (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (off < 0 || length <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	dsize = uzram_dev_size(h->dev);
	len = (uint64_t)length;
	if ((uint64_t)off >= dsize || len > dsize - (uint64_t)off) {
		/* the file cannot grow: only a KEEP_SIZE range is clipped */
		if (!(mode & FALLOC_FL_KEEP_SIZE)) {
			fuse_reply_err(req, ENOSPC);
			return;
		}
		len = (uint64_t)off >= dsize ? 0 : dsize - (uint64_t)off;
	}
	if (len && (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) && f->read_only)
		ret = -EROFS;
	else if (len && (mode & FALLOC_FL_PUNCH_HOLE))
		ret = disk_punch(f, h->dev, (uint64_t)off, len);
	else if (len && (mode & FALLOC_FL_ZERO_RANGE))
		ret = disk_zero(f, h->dev, (uint64_t)off, len);
	/* plain allocation: RAM is allocated as it is written */
	fuse_reply_err(req, ret ? io_errno(ret) : 0);
}

static void op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	uint64_t dsize, page;

	if (whence != SEEK_DATA && whence != SEEK_HOLE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (!h || h->node.kind != N_DISK) {
		/* attributes: all data, the hole at the end */
		if (off < 0 || off >= ATTR_BUF)
			fuse_reply_err(req, ENXIO);
		else
			fuse_reply_lseek(req, whence == SEEK_DATA ? off : ATTR_BUF);
		return;
	}
	dsize = uzram_dev_size(h->dev);
	if (off < 0 || (uint64_t)off >= dsize) {
		fuse_reply_err(req, ENXIO);
		return;
	}
	for (page = (uint64_t)off / PAGE; page * PAGE < dsize; page++) {
		int st = uzram_page_state(h->dev, page * PAGE);

		if (st < 0) {
			fuse_reply_err(req, -st);
			return;
		}
		if ((whence == SEEK_DATA) == (st != UZRAM_PAGE_UNWRITTEN)) {
			fuse_reply_lseek(req, (off_t)MAX(page * PAGE, (uint64_t)off));
			return;
		}
	}
	if (whence == SEEK_DATA)
		fuse_reply_err(req, ENXIO);
	else
		fuse_reply_lseek(req, (off_t)dsize);
}

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
		disk_read(req, h, size, off);
	else if (h->node.kind == N_ATTR && !strcmp(h->node.attr->name, "block_state"))
		read_block_state(req, h, size, off);
	else
		read_text(req, h, size, off);
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
		disk_write(req, h, buf, size, off);
	else if (!size)
		fuse_reply_write(req, 0);
	else
		write_text(req, h, buf, size);
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
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_unlink,
	.rename = op_rename,
	.create = op_create,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.readdir = op_readdir,
	.statfs = op_statfs,
	.fallocate = op_fallocate,
	.lseek = op_lseek,
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

	cur_worker = w;
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
	free(w->buf);
	w->buf = NULL;
	w->cap = 0;
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
		disk_unlink(f, h);
		uzram_close(h->dev);
		handle_free(h);
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
	return 0;
}

int fuse_front_start(struct uzram *z, const char *mountpoint, bool read_only,
		     struct fuse_front **out)
{
	char opts[128];
	char *argv[] = { "uzram", "-o", opts, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct fuse_front *f;
	sigset_t all, old;
	int ret;

	*out = NULL;
	if (uzram_attr_count() + 1 >= SLOT_DISK)
		return -E2BIG;	/* the inode layout has room for 62 attributes */
	if (access("/dev/fuse", F_OK))
		return -ENODEV;
	ret = check_mountpoint(mountpoint);
	if (ret)
		return ret;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->z = z;
	f->read_only = read_only;
	f->uid = geteuid();
	f->gid = getegid();
	f->nr_attrs = uzram_attr_count();
	f->stop_fd = -1;
	clock_gettime(CLOCK_REALTIME, &f->start);
	pthread_rwlock_init(&f->rmw_lock, NULL);
	pthread_mutex_init(&f->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&f->released, &ca);
		pthread_condattr_destroy(&ca);
	}
	f->mountpoint = realpath(mountpoint, NULL);
	f->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (!f->mountpoint || f->stop_fd < 0) {
		ret = -errno;
		goto fail;
	}

	/* root serves everyone as sysfs does, the modes enforced by the kernel */
	snprintf(opts, sizeof(opts), "fsname=uzram,subtype=uzram,default_permissions%s",
		 geteuid() == 0 ? ",allow_other" : "");
	f->se = fuse_session_new(&args, &ops, sizeof(ops), f);
	fuse_opt_free_args(&args);
	if (!f->se) {
		ret = -EINVAL;
		goto fail;
	}
	if (fuse_session_mount(f->se, f->mountpoint)) {
		ret = -EIO;	/* libfuse has said why */
		goto fail;
	}
	if (fcntl(fuse_session_fd(f->se), F_SETFL,
		  fcntl(fuse_session_fd(f->se), F_GETFL) | O_NONBLOCK)) {
		ret = -errno;
		fuse_session_unmount(f->se);
		goto fail;
	}

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
	if (ret) {
		stop_workers(f);
		fuse_session_unmount(f->se);
		goto fail;
	}
	*out = f;
	return 0;

fail:
	front_free(f);
	return ret;
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
