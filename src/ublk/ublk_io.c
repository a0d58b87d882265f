/*
 * ublk_io.c - one ublk request against a zram device: the op and sectors of
 * the kernel's descriptor (struct ublksrv_io_desc) turned into the library's
 * block I/O, and the result into what COMMIT_AND_FETCH_REQ carries. Apart
 * from ublk.c so that it is tested without a kernel (tests/test_ublk_io.c).
 */
#include <errno.h>

#include "ublk.h"
#include "ublk_uapi.h"

int ublk_serve_io(struct uzram_dev *d, const struct ublksrv_io_desc *iod,
		  void *buf, size_t buf_size)
{
	uint64_t off = iod->start_sector << 9;
	uint64_t len = (uint64_t)iod->nr_sectors << 9;
	int ret;

	/* FUA (UBLK_IO_F_FUA) needs nothing more: a completed write is in
	 * the device's memory, which is as durable as the device gets. */
	switch (ublksrv_get_op(iod)) {
	case UBLK_IO_OP_READ:
		if (len > buf_size)
			return -EIO;
		ret = uzram_read(d, buf, off, (size_t)len);
		return ret ? -EIO : (int)len;
	case UBLK_IO_OP_WRITE:
		/* The reserve is full: refused at once (docs/swap.md). */
		if (len > buf_size || uzram_write_refused(d))
			return -EIO;
		ret = uzram_write(d, buf, off, (size_t)len);
		return ret ? -EIO : (int)len;
	case UBLK_IO_OP_FLUSH:
		return uzram_flush(d) ? -EIO : 0;
	case UBLK_IO_OP_DISCARD:
		return uzram_discard(d, off, len) ? -EIO : 0;
	case UBLK_IO_OP_WRITE_ZEROES:
		return uzram_write_zeroes(d, off, len) ? -EIO : 0;
	default:
		return -EOPNOTSUPP;
	}
}
