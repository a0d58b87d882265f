/*
 * fuse_disk.c - DIR/zramN/disk, the device as a regular file. Closed, it
 * costs nothing and stat shows disksize, so its size follows disksize and
 * reset; its blocks are mem_used_total, so du shows what the device really
 * costs (fuse_tree.c). Reads and writes map straight onto uzram_read /
 * uzram_write: aligned requests (all of a loop device's, with
 * --direct-io=on) go through untouched; unaligned ones, which buffered
 * writers like `dd bs=1` send, read, modify and write back the partial
 * sectors at their edges under an exclusive lock (the front's rmw_lock)
 * that aligned writes take shared. The page cache serves buffered opens and
 * is dropped at each open (keep_cache off, fuse_handle.c), so it cannot see
 * what NBD clients write meanwhile; O_DIRECT opens bypass it. O_TRUNC is
 * ignored, as a block device ignores it, and --read-only refuses disk's
 * writes (EROFS). fallocate PUNCH_HOLE is a discard (partial pages are
 * zeroed, so the hole reads as zeros as a file's must), ZERO_RANGE is
 * write-zeroes, and SEEK_DATA/SEEK_HOLE see unwritten pages as holes.
 * Writes past the end fail with ENOSPC, as on a block device; errors of the
 * device itself (mem_limit) are EIO, as the kernel's bio status is.
 *
 * Each worker thread has a scratch buffer for reads, grown on demand and
 * freed when the worker ends (fuse_disk_thread_exit).
 */
#define _GNU_SOURCE	/* SEEK_DATA, FALLOC_FL_* */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuse.h"

#ifdef HAVE_FUSE3

#include <linux/falloc.h>

#include "fuse_internal.h"

/* The calling worker's scratch buffer (see fuse_disk_thread_exit). */
static __thread uint8_t *scratch_buf;
static __thread size_t scratch_cap;

/* The calling worker's scratch buffer, at least n bytes. */
static uint8_t *scratch(size_t n)
{
	if (scratch_cap < n) {
		size_t cap = UZ_MAX(n, (size_t)(1u << 20) + 2 * UZ_PAGE_SIZE);
		uint8_t *p = uz_aligned_alloc(UZ_PAGE_SIZE, cap);

		if (!p)
			return NULL;
		free(scratch_buf);
		scratch_buf = p;
		scratch_cap = cap;
	}
	return scratch_buf;
}

void fuse_disk_thread_exit(void)
{
	free(scratch_buf);
	scratch_buf = NULL;
	scratch_cap = 0;
}

/* The device's own errors reach a file's user as a bio's would: EIO. */
static int io_errno(int ret)
{
	return ret == -ENOMEM ? EIO : -ret;
}

/* Count a request of the disk file: err 0 (done), -errno (the device
 * failed it) or +errno (refused before it reached the device). */
static void disk_count(struct fuse_front *f, enum iostat_op op, int err,
		       uint64_t in, uint64_t out, uint64_t t0)
{
	iostat_done(f->stats, op, !err ? IOSTAT_OK : err > 0 ? IOSTAT_INVALID : IOSTAT_ERROR,
		    err ? 0 : in, err ? 0 : out, err > 0 ? 0 : t0);
}

void fuse_disk_read(fuse_req_t req, struct handle *h, size_t size, off_t off)
{
	struct fuse_front *f = front_of(req);
	uint64_t dsize = uzram_dev_size(h->dev), a0, a1, t0 = iostat_start(f->stats);
	uint8_t *buf;
	size_t len;
	int ret;

	if (off < 0 || (uint64_t)off >= dsize || !size) {
		fuse_reply_buf(req, NULL, 0);
		disk_count(f, IOSTAT_READ, 0, 0, 0, t0);
		return;
	}
	len = (size_t)UZ_MIN((uint64_t)size, dsize - (uint64_t)off);
	a0 = (uint64_t)off & ~(uint64_t)(UZ_SECTOR_SIZE - 1);
	a1 = ((uint64_t)off + len + UZ_SECTOR_SIZE - 1) & ~(uint64_t)(UZ_SECTOR_SIZE - 1);
	buf = scratch((size_t)(a1 - a0));
	ret = buf ? uzram_read(h->dev, buf, a0, (size_t)(a1 - a0)) : -ENOMEM;
	disk_count(f, IOSTAT_READ, ret, 0, len, t0);
	if (ret) {
		fuse_reply_err(req, buf ? io_errno(ret) : ENOMEM);
		return;
	}
	fuse_reply_buf(req, (const char *)buf + ((uint64_t)off - a0), len);
}

/* Part of one sector: read, modify, write it back (rmw_lock held). */
static int sector_rmw(struct uzram_dev *dev, const uint8_t *data, uint64_t off,
		      size_t len)
{
	uint64_t a = off & ~(uint64_t)(UZ_SECTOR_SIZE - 1);
	uint8_t buf[UZ_SECTOR_SIZE];
	int ret = uzram_read(dev, buf, a, UZ_SECTOR_SIZE);

	if (ret)
		return ret;
	if (data)
		memcpy(buf + (off - a), data, len);
	else
		memset(buf + (off - a), 0, len);
	return uzram_write(dev, buf, a, UZ_SECTOR_SIZE);
}

/* Write len bytes of data (NULL: zeros) at off, within the device. Aligned
 * requests go straight through; otherwise the partial sectors at the edges
 * are read, modified and written back, all under the exclusive lock. */
static int disk_pwrite(struct fuse_front *f, struct uzram_dev *dev,
		       const uint8_t *data, uint64_t off, size_t len)
{
	uint64_t end = off + len, mid0, mid1;
	int ret = 0;

	if (!((off | len) & (UZ_SECTOR_SIZE - 1))) {
		pthread_rwlock_rdlock(&f->rmw_lock);
		ret = data ? uzram_write(dev, data, off, len)
			   : uzram_write_zeroes(dev, off, len);
		pthread_rwlock_unlock(&f->rmw_lock);
		return ret;
	}
	mid0 = (off + UZ_SECTOR_SIZE - 1) & ~(uint64_t)(UZ_SECTOR_SIZE - 1);
	mid1 = end & ~(uint64_t)(UZ_SECTOR_SIZE - 1);
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

void fuse_disk_write(fuse_req_t req, struct handle *h, const char *data,
		     size_t size, off_t off)
{
	struct fuse_front *f = front_of(req);
	uint64_t dsize = uzram_dev_size(h->dev), t0 = iostat_start(f->stats);
	size_t len;
	int ret;

	if (f->read_only || (size && (off < 0 || (uint64_t)off >= dsize))) {
		ret = f->read_only ? EROFS : off < 0 ? EINVAL : ENOSPC;
		disk_count(f, IOSTAT_WRITE, ret, 0, 0, t0);
		fuse_reply_err(req, ret);
		return;
	}
	if (!size) {
		fuse_reply_write(req, 0);
		return;
	}
	len = (size_t)UZ_MIN((uint64_t)size, dsize - (uint64_t)off);
	ret = disk_pwrite(f, h->dev, (const uint8_t *)data, (uint64_t)off, len);
	disk_count(f, IOSTAT_WRITE, ret, len, 0, t0);
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
	uint64_t p0 = (off + UZ_PAGE_SIZE - 1) & ~(uint64_t)(UZ_PAGE_SIZE - 1);
	uint64_t p1 = (off + len) & ~(uint64_t)(UZ_PAGE_SIZE - 1);
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

/* fallocate's PUNCH_HOLE (a discard) or ZERO_RANGE (write-zeroes), counted. */
static int disk_clear(struct fuse_front *f, struct uzram_dev *dev, int mode,
		      uint64_t off, uint64_t len)
{
	enum iostat_op op = mode & FALLOC_FL_PUNCH_HOLE ? IOSTAT_DISCARD : IOSTAT_WRITE_ZEROES;
	uint64_t t0 = iostat_start(f->stats);
	int ret;

	if (f->read_only) {
		disk_count(f, op, EROFS, 0, 0, t0);
		return -EROFS;
	}
	ret = op == IOSTAT_DISCARD ? disk_punch(f, dev, off, len) : disk_zero(f, dev, off, len);
	disk_count(f, op, ret, 0, 0, t0);
	return ret;
}

void fuse_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
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
	if (len && (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)))
		ret = disk_clear(f, h->dev, mode, (uint64_t)off, len);
	/* plain allocation: RAM is allocated as it is written */
	fuse_reply_err(req, ret ? io_errno(ret) : 0);
}

void fuse_op_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
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
	for (page = (uint64_t)off / UZ_PAGE_SIZE; page * UZ_PAGE_SIZE < dsize; page++) {
		int st = uzram_page_state(h->dev, page * UZ_PAGE_SIZE);

		if (st < 0) {
			fuse_reply_err(req, -st);
			return;
		}
		if ((whence == SEEK_DATA) == (st != UZRAM_PAGE_UNWRITTEN)) {
			fuse_reply_lseek(req, (off_t)UZ_MAX(page * UZ_PAGE_SIZE, (uint64_t)off));
			return;
		}
	}
	if (whence == SEEK_DATA)
		fuse_reply_err(req, ENXIO);
	else
		fuse_reply_lseek(req, (off_t)dsize);
}

#endif /* HAVE_FUSE3 */
