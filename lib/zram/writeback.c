/*
 * writeback.c - the backing store and the writeback attributes
 * (the kernel's backing_dev_store(), writeback_store() and
 * zram_writeback_slots(); docs/internals.md §5.3).
 *
 * The backing store is a block device or - unlike the kernel, which users
 * keep tripping on - a regular file, opened O_DIRECT when the filesystem
 * allows it. It is cut into 4 KiB blocks; a bitmap (bitmap_lock) says which
 * hold a written-back slot, and a block is taken lowest first (a hint skips
 * the full words below it). A written-back slot keeps ZRAM_WB, its block
 * number in handle, and its size, priority and ZRAM_HUGE (the 7.3 kernel's
 * completion), so compressed writeback can decompress it when read.
 *
 * `writeback` runs under dev_lock (write), as the kernel's: candidates are
 * queued by size (pp.c) and written largest first with up to
 * writeback_batch_size writes in flight through io_uring (liburing), or one
 * at a time with pwrite where liburing is missing. A slot accessed or freed
 * while its write is in flight loses ZRAM_PP_SLOT and stays in memory; a
 * failed write rolls back the limit and the block and keeps the page: nothing
 * is lost.
 */
#define _GNU_SOURCE	/* O_DIRECT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_LIBURING
#include <liburing.h>
#endif

#include "util/fault.h"
#include "util/parse.h"
#include "util/reason.h"
#include "pp.h"
#include "zram_drv.h"

#define BITS_PER_LONG	(8 * sizeof(unsigned long))
#define WB_MAX_BATCH	256	/* in flight at most, whatever the attribute says */

/* ---- blocks ---- */

static bool alloc_block(struct zram *zram, unsigned long *blk)
{
	size_t words = UZ_DIV_ROUND_UP(zram->bd_nr_pages, BITS_PER_LONG);
	bool found = false;

	pthread_mutex_lock(&zram->bitmap_lock);
	for (size_t w = zram->bd_hint; w < words; w++) {
		unsigned long free_bits = ~zram->bitmap[w];
		if (!free_bits)
			continue;
		unsigned long b = w * BITS_PER_LONG + (unsigned long)__builtin_ctzl(free_bits);
		if (b >= zram->bd_nr_pages)
			break;
		zram->bitmap[w] |= 1ul << (b % BITS_PER_LONG);
		zram->bd_hint = w;
		*blk = b;
		found = true;
		break;
	}
	if (!found)
		zram->bd_hint = words;
	pthread_mutex_unlock(&zram->bitmap_lock);
	if (found)
		atomic_fetch_add(&zram->stats.bd_count, 1);
	return found;
}

void zram_release_bdev_block(struct zram *zram, unsigned long blk)
{
	size_t w = blk / BITS_PER_LONG;

	pthread_mutex_lock(&zram->bitmap_lock);
	zram->bitmap[w] &= ~(1ul << (blk % BITS_PER_LONG));
	if (w < zram->bd_hint)
		zram->bd_hint = w;
	pthread_mutex_unlock(&zram->bitmap_lock);
	atomic_fetch_sub(&zram->stats.bd_count, 1);
}

/*
 * Test builds (util/fault.h): a backing read or write of a page that fails
 * (-EIO) or stops half way, as a bio may end with an error status. n is
 * what the read or write returned.
 */
static ssize_t bd_fault(enum uz_fault_site fail, enum uz_fault_site shorten,
			ssize_t n)
{
	if (uz_fault(fail))
		return -EIO;
	if (n == UZ_PAGE_SIZE && uz_fault(shorten))
		return UZ_PAGE_SIZE / 2;
	return n;
}

/* ---- reading a written-back slot ---- */

/*
 * A block as it lies on the backing store. bd_reads counts every read
 * issued, failed ones too, as the kernel's read_from_bdev() counts before
 * it submits the bio; the failure itself goes to failed_reads (or
 * failed_writes, in a partial write's read) in the caller.
 */
int zram_bdev_read_block(struct zram *zram, unsigned long blk, void *buf)
{
	ssize_t n;

	atomic_fetch_add(&zram->stats.bd_reads, 1);
	if (zram->backing_fd < 0)
		return -EIO;
	n = pread(zram->backing_fd, buf, UZ_PAGE_SIZE, (off_t)blk << UZ_PAGE_SHIFT);
	n = bd_fault(UZ_FAULT_BD_READ, UZ_FAULT_BD_READ_SHORT, n);
	return n == UZ_PAGE_SIZE ? 0 : -EIO;
}

/* Read a written-back slot (slot lock held) into page, decompressed. */
int zram_read_from_bdev(struct zram *zram, uint32_t index, void *page)
{
	uint8_t buf[UZ_PAGE_SIZE] __attribute__((aligned(UZ_PAGE_SIZE)));

	if (zram_bdev_read_block(zram, zram->table[index].handle, buf))
		return -EIO;
	if (!zram->compressed_wb || zram_test_flag(zram, index, ZRAM_HUGE)) {
		memcpy(page, buf, UZ_PAGE_SIZE);
		return 0;
	}

	struct zcomp *comp = zram->comps[zram_get_priority(zram, index)];
	struct zcomp_strm *zstrm;
	int ret;

	if (!comp)
		return -EIO;
	zstrm = zcomp_stream_get(comp);
	ret = zcomp_decompress(comp, zstrm, buf, zram_get_obj_size(zram, index), page);
	zcomp_stream_put(zstrm);
	return ret ? -EIO : 0;
}

void zram_reset_bdev(struct zram *zram)
{
	if (zram->backing_fd >= 0)
		close(zram->backing_fd);
	zram->backing_fd = -1;
	free(zram->bitmap);
	zram->bitmap = NULL;
	free(zram->backing_path);
	zram->backing_path = NULL;
	zram->bd_nr_pages = 0;
	zram->bd_hint = 0;
}

/* ---- backing_dev ---- */

long zram_backing_dev_show(struct zram *zram, char *buf, size_t size)
{
	long n;

	pthread_rwlock_rdlock(&zram->dev_lock);
	n = snprintf(buf, size, "%s\n", zram->backing_path ? zram->backing_path : "none");
	pthread_rwlock_unlock(&zram->dev_lock);
	return n;
}

/*
 * Open a backing store: a block device (O_EXCL: refused while mounted or
 * claimed) or a regular file, as the device's path policy allows
 * (path_policy_open: below an allowed directory, no symlink followed).
 * Type and size come from the descriptor, not from the path, so a file
 * swapped after a check is judged as opened.
 * O_NONBLOCK: opening never waits (a FIFO put in its place).
 */
static int open_backing(struct zram *zram, const char *path, int *fdp,
			uint64_t *bytes)
{
	int flags = O_RDWR | O_LARGEFILE | O_EXCL | O_NONBLOCK;
	struct stat st;
	int fd, err;

	fd = path_policy_open(zram->paths, path, flags | O_DIRECT);
	if (fd == -EINVAL)	/* e.g. tmpfs: no O_DIRECT */
		fd = path_policy_open(zram->paths, path, flags);
	if (fd == -EISDIR)
		return uz_refuse(-ENOTBLK, "neither a block device nor a regular file");
	if (fd < 0)
		return fd;
	err = fstat(fd, &st) ? -errno : 0;
	if (!err && !S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode))
		err = uz_refuse(-ENOTBLK, "neither a block device nor a regular file");
	if (!err && S_ISBLK(st.st_mode) && ioctl(fd, BLKGETSIZE64, bytes))
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	if (S_ISREG(st.st_mode))
		*bytes = (uint64_t)st.st_size;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	*fdp = fd;
	return 0;
}

/*
 * A regular file backs one device at a time, in this process or any other:
 * an open-file-description lock on the whole file, held while it is
 * attached (dropped when backing_fd closes). -EBUSY when another holds it.
 * A block device is exclusive through O_EXCL already.
 */
static int lock_backing(int fd)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct stat st;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return 0;
	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return uz_refuse(-EBUSY, "the file backs another device");
	return -errno;
}

/* Is fd the file this device already uses as its backing store? */
static bool same_backing(struct zram *zram, int fd)
{
	struct stat a, b;

	return zram->backing_fd >= 0 && !fstat(zram->backing_fd, &a) &&
	       !fstat(fd, &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int zram_backing_dev_store(struct zram *zram, char *buf, size_t len)
{
	size_t sz = strlen(buf);
	unsigned long *bitmap;
	uint64_t bytes = 0, nr_pages;
	char *path;
	int fd = -1, ret;

	if (sz > 0 && buf[sz - 1] == '\n')
		buf[--sz] = '\0';
	if (sz >= 4096)
		return -ENAMETOOLONG;
	pthread_rwlock_wrlock(&zram->dev_lock);
	if (init_done(zram)) {
		/* the kernel's backing_dev_store() */
		ret = uz_refuse(-EBUSY, "can't setup backing device for initialized device");
		goto out;
	}
	ret = open_backing(zram, buf, &fd, &bytes);
	if (ret)
		goto out;
	nr_pages = bytes >> UZ_PAGE_SHIFT;
	ret = nr_pages ? 0 : uz_refuse(-EINVAL, "smaller than a page");
	if (!ret && !same_backing(zram, fd))
		ret = lock_backing(fd);
	if (ret) {
		close(fd);
		goto out;
	}
	bitmap = calloc(UZ_DIV_ROUND_UP(nr_pages, BITS_PER_LONG), sizeof(unsigned long));
	path = strdup(buf);
	if (!bitmap || !path) {
		free(bitmap);
		free(path);
		close(fd);
		ret = -ENOMEM;
		goto out;
	}
	if (same_backing(zram, fd)) {
		/* The same file again: its lock goes with the old descriptor. */
		zram_reset_bdev(zram);
		ret = lock_backing(fd);
		if (ret) {
			free(bitmap);
			free(path);
			close(fd);
			goto out;
		}
	}
	zram_reset_bdev(zram);
	zram->backing_fd = fd;
	zram->backing_path = path;
	zram->bitmap = bitmap;
	zram->bd_nr_pages = nr_pages;
	ret = 0;
out:
	pthread_rwlock_unlock(&zram->dev_lock);
	return ret;
}

/* ---- the limit, batch and format attributes ---- */

long zram_writeback_limit_show(struct zram *zram, char *buf, size_t size)
{
	uint64_t v;

	pthread_mutex_lock(&zram->wb_limit_lock);
	v = zram->bd_wb_limit;
	pthread_mutex_unlock(&zram->wb_limit_lock);
	return snprintf(buf, size, "%" PRIu64 "\n", v);
}

int zram_writeback_limit_store(struct zram *zram, char *buf, size_t len)
{
	unsigned long long val;
	int ret = kstrtoull(buf, 10, &val);

	if (ret)
		return -EINVAL;
	/* 4 KiB units, a multiple of PAGE_SIZE/4096: nothing to round here */
	pthread_mutex_lock(&zram->wb_limit_lock);
	zram->bd_wb_limit = val;
	pthread_mutex_unlock(&zram->wb_limit_lock);
	return 0;
}

long zram_writeback_limit_enable_show(struct zram *zram, char *buf, size_t size)
{
	bool v;

	pthread_mutex_lock(&zram->wb_limit_lock);
	v = zram->wb_limit_enable;
	pthread_mutex_unlock(&zram->wb_limit_lock);
	return snprintf(buf, size, "%d\n", v);
}

int zram_writeback_limit_enable_store(struct zram *zram, char *buf, size_t len)
{
	unsigned long long val;

	if (kstrtoull(buf, 10, &val))
		return -EINVAL;
	pthread_mutex_lock(&zram->wb_limit_lock);
	zram->wb_limit_enable = val != 0;
	pthread_mutex_unlock(&zram->wb_limit_lock);
	return 0;
}

long zram_writeback_batch_size_show(struct zram *zram, char *buf, size_t size)
{
	unsigned int v;

	pthread_rwlock_rdlock(&zram->dev_lock);
	v = zram->wb_batch_size;
	pthread_rwlock_unlock(&zram->dev_lock);
	return snprintf(buf, size, "%u\n", v);
}

int zram_writeback_batch_size_store(struct zram *zram, char *buf, size_t len)
{
	unsigned int val;

	if (kstrtouint(buf, 10, &val) || val == 0)
		return -EINVAL;
	pthread_rwlock_wrlock(&zram->dev_lock);
	zram->wb_batch_size = val;
	pthread_rwlock_unlock(&zram->dev_lock);
	return 0;
}

long zram_compressed_writeback_show(struct zram *zram, char *buf, size_t size)
{
	bool v;

	pthread_rwlock_rdlock(&zram->dev_lock);
	v = zram->compressed_wb;
	pthread_rwlock_unlock(&zram->dev_lock);
	return snprintf(buf, size, "%d\n", v);
}

int zram_compressed_writeback_store(struct zram *zram, char *buf, size_t len)
{
	bool val;
	int ret = kstrtobool(buf, &val);

	if (ret)
		return ret;
	pthread_rwlock_wrlock(&zram->dev_lock);
	if (init_done(zram)) {
		pthread_rwlock_unlock(&zram->dev_lock);
		return uz_refuse(-EBUSY, "can't change compressed_writeback for initialized device");
	}
	zram->compressed_wb = val;
	pthread_rwlock_unlock(&zram->dev_lock);
	return 0;
}

/* ---- writeback ---- */

/* The writeback modes, as the flags their slots must have. */
static int parse_mode(const char *s, uint32_t *need)
{
	if (!strcmp(s, "idle"))
		*need = 1u << ZRAM_IDLE;
	else if (!strcmp(s, "huge"))
		*need = 1u << ZRAM_HUGE;
	else if (!strcmp(s, "huge_idle"))
		*need = (1u << ZRAM_IDLE) | (1u << ZRAM_HUGE);
	else if (!strcmp(s, "incompressible"))
		*need = 1u << ZRAM_INCOMPRESSIBLE;
	else
		return -EINVAL;
	return 0;
}

/* Queue the slots of [lo, hi) in memory with every flag of need (0: all). */
static int scan_slots_for_writeback(struct zram *zram, struct pp_ctl *ctl,
				    uint64_t lo, uint64_t hi, uint32_t need)
{
	const struct zram_pp_filter f = {
		.need = need,
		.skip = (1u << ZRAM_WB) | (1u << ZRAM_SAME),
		.below_prio = ZRAM_MAX_COMPS,
	};

	return zram_pp_scan(zram, ctl, lo, hi, &f);
}

struct wb_req {
	uint8_t *page;		/* aligned for O_DIRECT */
	unsigned long blk;
	uint32_t index;
	bool busy;
};

struct wb_ctl {
	struct zram *zram;
	struct wb_req *reqs;
	unsigned int nr_reqs;
	unsigned int inflight;
#ifdef HAVE_LIBURING
	struct io_uring ring;
	bool ring_ok;		/* the ring exists: completions come from it */
	bool submit_ok;		/* and new writes may go through it */
#endif
};

/*
 * Fault injection for tests (zram_drv.h): the next n io_uring_submit calls
 * fail with -EIO, the next m io_uring_wait_cqe calls with -EIO. Atomic, as
 * tests set them from another thread than the writeback's.
 */
static _Atomic int inject_submit, inject_wait;

void zram_wb_inject_faults(int submit_failures, int wait_failures)
{
	atomic_store(&inject_submit, submit_failures);
	atomic_store(&inject_wait, wait_failures);
}

static bool injected(_Atomic int *n)
{
	int v = atomic_load(n);

	while (v > 0)
		if (atomic_compare_exchange_weak(n, &v, v - 1))
			return true;
	return false;
}

static bool limit_reached(struct zram *zram)
{
	bool r;

	pthread_mutex_lock(&zram->wb_limit_lock);
	r = zram->wb_limit_enable && zram->bd_wb_limit == 0;
	pthread_mutex_unlock(&zram->wb_limit_lock);
	return r;
}

static void limit_adjust(struct zram *zram, int64_t delta)
{
	pthread_mutex_lock(&zram->wb_limit_lock);
	if (zram->wb_limit_enable && (delta > 0 || zram->bd_wb_limit > 0))
		zram->bd_wb_limit += (uint64_t)delta;
	pthread_mutex_unlock(&zram->wb_limit_lock);
}

/*
 * A write finished with result res (bytes or -errno): a pwrite's or an
 * io_uring completion's. Anything but a whole page is a failure.
 */
static int wb_complete(struct wb_ctl *wb, struct wb_req *req, long res)
{
	struct zram *zram = wb->zram;
	uint32_t index = req->index;

	req->busy = false;
	wb->inflight--;
	res = bd_fault(UZ_FAULT_BD_WRITE, UZ_FAULT_BD_WRITE_SHORT, res);
	if (res != UZ_PAGE_SIZE) {
		limit_adjust(zram, +(int64_t)(UZ_PAGE_SIZE / 4096));
		zram_release_bdev_block(zram, req->blk);
		zram_pp_unmark(zram, index);
		return res < 0 ? (int)res : -EIO;
	}
	atomic_fetch_add(&zram->stats.bd_writes, 1);
	zram_slot_lock(zram, index);
	if (!zram_test_flag(zram, index, ZRAM_PP_SLOT)) {
		/* accessed or freed meanwhile: it stays in memory */
		zram_release_bdev_block(zram, req->blk);
	} else {
		unsigned int size = zram_get_obj_size(zram, index);

		zram_clear_flag(zram, index, ZRAM_IDLE);
		if (zram_test_flag(zram, index, ZRAM_HUGE))
			atomic_fetch_sub(&zram->stats.huge_pages, 1);
		atomic_fetch_sub(&zram->stats.compr_data_size, size);
		zs_free(zram->mem_pool, zram->table[index].handle);
		zram->table[index].handle = req->blk;
		zram_set_flag(zram, index, ZRAM_WB);
		zram_clear_flag(zram, index, ZRAM_PP_SLOT);
	}
	zram_slot_unlock(zram, index);
	return 0;
}

/*
 * The ring cannot tell what became of the writes still in flight: each
 * counts as failed, its slot stays in memory (nothing is lost), and its
 * block stays taken until the backing device is reset - a write the kernel
 * may still carry out must not land on a block given to another slot. The
 * ring is torn down (which cancels or finishes what it holds) and no
 * longer used.
 */
static void wb_abandon(struct wb_ctl *wb)
{
#ifdef HAVE_LIBURING
	if (wb->ring_ok)
		io_uring_queue_exit(&wb->ring);
	wb->ring_ok = wb->submit_ok = false;
#endif
	for (unsigned int i = 0; i < wb->nr_reqs; i++) {
		struct wb_req *req = &wb->reqs[i];

		if (!req->busy)
			continue;
		req->busy = false;
		wb->inflight--;
		limit_adjust(wb->zram, +(int64_t)(UZ_PAGE_SIZE / 4096));
		zram_pp_unmark(wb->zram, req->index);
	}
}

#ifdef HAVE_LIBURING
/*
 * A completion, when io_uring_wait_cqe keeps failing: polled for up to 5 s
 * (the writes in flight finish by then or the ring is broken). 0 and *cqe,
 * or -ETIMEDOUT.
 */
static int wb_poll_cqe(struct wb_ctl *wb, struct io_uring_cqe **cqe)
{
	for (int ms = 0; ms < 5000; ms++) {
		if (io_uring_peek_cqe(&wb->ring, cqe) == 0)
			return 0;
		usleep(1000);
	}
	return -ETIMEDOUT;
}
#endif

/*
 * Wait for one write to complete; returns its error (0 on success). After
 * three failed waits (not EINTR) the completion is polled for; when none
 * comes, everything in flight is abandoned, so the callers' loops end.
 */
static int wb_reap_one(struct wb_ctl *wb)
{
#ifdef HAVE_LIBURING
	struct io_uring_cqe *cqe;
	int ret, errors = 0;

	if (!wb->ring_ok) {
		wb_abandon(wb);
		return -EIO;
	}
	for (;;) {
		ret = injected(&inject_wait) ? -EIO :
		      io_uring_wait_cqe(&wb->ring, &cqe);
		if (!ret)
			break;
		if (ret != -EINTR && ++errors == 3) {
			ret = wb_poll_cqe(wb, &cqe);
			if (!ret)
				break;
			wb_abandon(wb);
			return -EIO;
		}
	}
	struct wb_req *req = io_uring_cqe_get_data(cqe);
	long res = cqe->res;
	io_uring_cqe_seen(&wb->ring, cqe);
	return wb_complete(wb, req, res);
#else
	wb_abandon(wb);
	return -EIO;
#endif
}

#ifdef HAVE_LIBURING
/*
 * Queue req's write on the ring: true when submitted. Once a submit fails,
 * the SQE it made visible may still be taken by a later submit, so the
 * ring takes no more writes (submit_ok): the SQE stays unsubmitted until
 * the ring is torn down, and req is written with pwrite instead.
 */
static bool wb_ring_write(struct wb_ctl *wb, struct wb_req *req, off_t off)
{
	struct io_uring_sqe *sqe;

	if (!wb->submit_ok || !(sqe = io_uring_get_sqe(&wb->ring)))
		return false;
	io_uring_prep_write(sqe, wb->zram->backing_fd, req->page, UZ_PAGE_SIZE,
			    (uint64_t)off);
	io_uring_sqe_set_data(sqe, req);
	if ((injected(&inject_submit) ? -EIO : io_uring_submit(&wb->ring)) == 1)
		return true;
	wb->submit_ok = false;
	return false;
}
#endif

static int wb_submit(struct wb_ctl *wb, struct wb_req *req)
{
	off_t off = (off_t)req->blk << UZ_PAGE_SHIFT;

	req->busy = true;
	wb->inflight++;
#ifdef HAVE_LIBURING
	if (wb_ring_write(wb, req, off))
		return 0;
#endif
	ssize_t n = pwrite(wb->zram->backing_fd, req->page, UZ_PAGE_SIZE, off);
	return wb_complete(wb, req, n < 0 ? -errno : n);
}

/* Copy slot index into req->page (slot lock held): raw, or compressed bytes. */
static int wb_fill(struct zram *zram, uint32_t index, uint8_t *page)
{
	if (zram->compressed_wb && !zram_test_flag(zram, index, ZRAM_HUGE)) {
		unsigned int size = zram_get_obj_size(zram, index);
		unsigned long h = zram->table[index].handle;
		const void *src = zs_obj_read_begin(zram->mem_pool, h, NULL);

		memcpy(page, src, size);
		zs_obj_read_end(zram->mem_pool, h, src);
		memset(page + size, 0, UZ_PAGE_SIZE - size);
		return 0;
	}
	return zram_read_page_locked(zram, index, page);
}

static int wb_ctl_init(struct wb_ctl *wb, struct zram *zram)
{
	unsigned int batch = UZ_MIN(zram->wb_batch_size, WB_MAX_BATCH);

	memset(wb, 0, sizeof(*wb));
	wb->zram = zram;
	wb->reqs = calloc(batch, sizeof(*wb->reqs));
	if (!wb->reqs)
		return -ENOMEM;
	for (unsigned int i = 0; i < batch; i++) {
		wb->reqs[i].page = uz_aligned_alloc(UZ_PAGE_SIZE, UZ_PAGE_SIZE);
		if (!wb->reqs[i].page)
			break;
		wb->nr_reqs++;
	}
	if (!wb->nr_reqs) {
		free(wb->reqs);
		return -ENOMEM;
	}
#ifdef HAVE_LIBURING
	wb->ring_ok = io_uring_queue_init(wb->nr_reqs, &wb->ring, 0) == 0;
	wb->submit_ok = wb->ring_ok;
#endif
	return 0;
}

static void wb_ctl_destroy(struct wb_ctl *wb)
{
#ifdef HAVE_LIBURING
	if (wb->ring_ok)
		io_uring_queue_exit(&wb->ring);
#endif
	for (unsigned int i = 0; i < wb->nr_reqs; i++)
		free(wb->reqs[i].page);
	free(wb->reqs);
}

/* A free request, reaping completions until there is one; their errors
 * go to *ret. */
static struct wb_req *wb_get_req(struct wb_ctl *wb, int *ret)
{
	struct wb_req *req = NULL;
	int err;

	while (!req) {
		for (unsigned int i = 0; i < wb->nr_reqs && !req; i++)
			if (!wb->reqs[i].busy)
				req = &wb->reqs[i];
		if (!req && (err = wb_reap_one(wb)))
			*ret = err;
	}
	return req;
}

/*
 * Copy slot index into req for block blk, if it is still selected. If not
 * (accessed or freed since the scan) or unreadable, unmark it, give blk
 * back and return false.
 */
static bool wb_prepare(struct zram *zram, uint32_t index, struct wb_req *req,
		       unsigned long blk)
{
	zram_slot_lock(zram, index);
	if (!zram_test_flag(zram, index, ZRAM_PP_SLOT) ||
	    wb_fill(zram, index, req->page)) {
		zram_clear_flag(zram, index, ZRAM_PP_SLOT);
		zram_slot_unlock(zram, index);
		zram_release_bdev_block(zram, blk);
		return false;
	}
	zram_slot_unlock(zram, index);
	req->blk = blk;
	req->index = index;
	return true;
}

/* Write the candidates of ctl, largest first (the kernel's
 * zram_writeback_slots()). */
static int zram_writeback_slots(struct zram *zram, struct pp_ctl *ctl)
{
	struct wb_ctl wb;
	uint32_t index;
	int ret = wb_ctl_init(&wb, zram), err;

	if (ret)
		return ret;
	while (pp_next(ctl, &index)) {
		struct wb_req *req;
		unsigned long blk;

		if (limit_reached(zram)) {
			ret = uz_refuse(-EIO, "writeback_limit reached");
			goto stop;
		}
		req = wb_get_req(&wb, &ret);
		if (!alloc_block(zram, &blk)) {
			ret = uz_refuse(-ENOSPC, "the backing device is full");
			goto stop;
		}
		if (!wb_prepare(zram, index, req, blk))
			continue;
		limit_adjust(zram, -(int64_t)(UZ_PAGE_SIZE / 4096));
		if ((err = wb_submit(&wb, req)))
			ret = err;
		continue;
stop:
		/* this candidate was taken off the list: unmark it */
		zram_pp_unmark(zram, index);
		break;
	}
	while (wb.inflight)
		if ((err = wb_reap_one(&wb)))
			ret = err;
	wb_ctl_destroy(&wb);
	return ret;
}

/* page_index=N: [lo, hi) = [N, N + 1). */
static int parse_page_index(const char *val, uint64_t nr_pages, uint64_t *lo,
			    uint64_t *hi)
{
	unsigned long index;
	int ret = kstrtoul(val, 10, &index);

	if (ret)
		return ret;
	if (index >= nr_pages)
		return -ERANGE;
	*lo = index;
	*hi = index + 1;
	return 0;
}

/* page_indexes=A-B: [lo, hi) = [A, B + 1). */
static int parse_page_indexes(char *val, uint64_t nr_pages, uint64_t *lo,
			      uint64_t *hi)
{
	char *dash = strchr(val, '-');
	unsigned long a, b;
	int ret;

	if (!dash)
		return -EINVAL;
	*dash = '\0';
	ret = kstrtoul(val, 10, &a);
	if (!ret)
		ret = kstrtoul(dash + 1, 10, &b);
	if (ret)
		return ret;
	if (a >= nr_pages || b >= nr_pages || a > b)
		return -ERANGE;
	*lo = a;
	*hi = b + 1;
	return 0;
}

/*
 * Queue what the arguments of writeback name (the kernel's
 * writeback_store()): each page_index= or page_indexes= its range, every
 * stored slot of it; a mode (type=, or a legacy keyword: idle, huge, ...)
 * the slots of that mode in the last range given (the whole device if
 * none), and ends the arguments. Other keys are ignored.
 */
static int writeback_select(struct zram *zram, struct pp_ctl *ctl, char *args)
{
	uint64_t lo = 0, hi = zram->nr_pages;
	char *param, *val;
	uint32_t mode;
	int ret;

	while (*args) {
		args = next_arg(args, &param, &val);
		if (!val || !strcmp(param, "type")) {
			ret = parse_mode(val ? val : param, &mode);
			if (!ret)
				ret = scan_slots_for_writeback(zram, ctl, lo, hi, mode);
			return ret;
		}
		if (!strcmp(param, "page_index"))
			ret = parse_page_index(val, zram->nr_pages, &lo, &hi);
		else if (!strcmp(param, "page_indexes"))
			ret = parse_page_indexes(val, zram->nr_pages, &lo, &hi);
		else
			continue;
		if (!ret)
			ret = scan_slots_for_writeback(zram, ctl, lo, hi, 0);
		if (ret)
			return ret;
	}
	return 0;
}

int zram_writeback_store(struct zram *zram, char *buf, size_t len)
{
	struct pp_ctl ctl;
	int ret;

	pthread_rwlock_wrlock(&zram->dev_lock);
	if (!init_done(zram)) {
		ret = uz_refuse(-EINVAL, "device is not initialized");
	} else if (zram->backing_fd < 0) {
		ret = uz_refuse(-ENODEV, "no backing_dev set");
	} else {
		pp_init(&ctl);
		ret = writeback_select(zram, &ctl, skip_spaces(buf));
		if (!ret)
			ret = zram_writeback_slots(zram, &ctl);
		zram_pp_release(zram, &ctl);
	}
	pthread_rwlock_unlock(&zram->dev_lock);
	return ret;
}
