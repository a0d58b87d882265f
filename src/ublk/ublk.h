/*
 * ublk.h - `uzram serve --ublk`: every initialised device zramN is also the
 * kernel block device /dev/ublkbN, served through Linux's ublk driver
 * (io_uring URING_CMD on /dev/ublk-control and /dev/ublkcN). docs/ublk.md
 * follows a request from the kernel to zram_write_page and back.
 */
#ifndef UZRAM_SRC_UBLK_H
#define UZRAM_SRC_UBLK_H

#include <stdbool.h>
#include <stddef.h>

#include "uzram.h"

struct iostat;
struct ublksrv_io_desc;
struct ublk_front;

struct ublk_opts {
	unsigned int queues;	/* per device, one thread each; 0 = the CPUs */
	unsigned int depth;	/* requests in flight per queue; 0 = 64 */
	bool read_only;		/* the block devices are read-only */
	bool legacy_opcodes;	/* the 6.0-6.3 command numbers even where the
				 * ioctl-encoded ones work (tests) */
	struct iostat *stats;	/* requests counted here (iostat.h), or NULL;
				 * not owned, must outlive the front */
};

/*
 * Open /dev/ublk-control, learn what the kernel offers, make /dev/ublkbN
 * for every device initialised now and watch the registry for the others
 * (disksize makes one, reset and hot_remove remove it or fail with -EBUSY
 * while it is open). On failure msg says why (no driver: modprobe ublk_drv).
 * Returns 0 or -errno.
 */
int ublk_front_start(struct uzram *z, const struct ublk_opts *o,
		     struct ublk_front **out, char *msg, size_t msg_size);
/* Stop and delete every ublk device (in-flight requests complete first). */
void ublk_front_stop(struct ublk_front *f);
/* What the kernel granted, for the start-up line: "ioctl-encoded opcodes,
 * features 0x..." */
const char *ublk_front_describe(const struct ublk_front *f);

/*
 * One request: the descriptor the kernel filled (op, sectors) against the
 * device, with buf (buf_size bytes) as the data buffer. Returns what the
 * COMMIT carries: the bytes done for READ and WRITE, 0 for FLUSH, DISCARD
 * and WRITE_ZEROES, -EIO when the device failed it (as the kernel's zram
 * ends a bio with BLK_STS_IOERR) or refuses writes (its reserve is full:
 * uzram_write_refused), -EOPNOTSUPP for other operations.
 */
int ublk_serve_io(struct uzram_dev *d, const struct ublksrv_io_desc *iod,
		  void *buf, size_t buf_size);

#endif /* UZRAM_SRC_UBLK_H */
