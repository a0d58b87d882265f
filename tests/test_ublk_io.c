/*
 * test_ublk_io.c - ublk_serve_io (src/ublk/ublk_io.c), the request
 * dispatch of `uzram serve --ublk`, driven with descriptors as the kernel's
 * ublk driver fills them (ublk_setup_iod): every op, FUA, bounds, errors.
 * The kernel side is tested in the VM suite (tests/vm/t_ublk_*.sh).
 */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "devutil.h"
#include "../src/ublk/ublk.h"
#include "../src/ublk/ublk_uapi.h"

#define PAGE 4096
#define BUF (64u << 10)

static struct ublksrv_io_desc iod(unsigned int op, unsigned int flags, uint64_t sector,
				  uint32_t sectors)
{
	struct ublksrv_io_desc d = { .op_flags = op | flags, .nr_sectors = sectors,
				     .start_sector = sector };
	return d;
}

int main(void)
{
	static uint8_t buf[BUF], data[BUF];
	struct ublksrv_io_desc d;
	struct uzram *z;
	struct uzram_dev *dev;
	struct uzram_stats st;
	uint64_t seed = check_seed();

	REQUIRE(uzram_new(&z, 1) == 0, "new");
	REQUIRE(store(z, 0, "disksize", "4M") == 0, "disksize");
	REQUIRE(uzram_open(z, 0, &dev) == 0, "open");

	/* WRITE then READ: the bytes done, the data back. */
	fill_random(data, BUF, &seed);
	memcpy(buf, data, BUF);
	d = iod(UBLK_IO_OP_WRITE, 0, 8, BUF / 512);
	CHECK_EQ(ublk_serve_io(dev, &d, buf, BUF), BUF);
	memset(buf, 0, BUF);
	d = iod(UBLK_IO_OP_READ, 0, 8, BUF / 512);
	CHECK_EQ(ublk_serve_io(dev, &d, buf, BUF), BUF);
	CHECK(!memcmp(buf, data, BUF), "read back what was written");

	/* FUA writes are plain writes; FLUSH succeeds with 0. */
	memset(buf, 0x11, PAGE);
	d = iod(UBLK_IO_OP_WRITE, UBLK_IO_F_FUA, 0, PAGE / 512);
	CHECK_EQ(ublk_serve_io(dev, &d, buf, BUF), PAGE);
	d = iod(UBLK_IO_OP_FLUSH, 0, 0, 0);
	CHECK_EQ(ublk_serve_io(dev, &d, buf, BUF), 0);

	/* DISCARD frees the pages; WRITE_ZEROES makes them read as zeros. */
	d = iod(UBLK_IO_OP_DISCARD, 0, 8, BUF / 512);
	CHECK_EQ(ublk_serve_io(dev, &d, buf, BUF), 0);
	uzram_stats(z, 0, &st);
	CHECK_EQ(st.orig_data_size, PAGE);	/* the FUA page is left */
	CHECK_EQ(st.notify_free, BUF / PAGE);
	d = iod(UBLK_IO_OP_WRITE_ZEROES, 0, 0, PAGE / 512);
	CHECK_EQ(ublk_serve_io(dev, &d, buf, BUF), 0);
	d = iod(UBLK_IO_OP_READ, 0, 0, PAGE / 512);
	memset(buf, 0xff, PAGE);
	CHECK_EQ(ublk_serve_io(dev, &d, buf, BUF), PAGE);
	CHECK(buf[0] == 0 && !memcmp(buf, buf + 1, PAGE - 1), "zeros after WRITE_ZEROES");

	/* Past the end of the device, or larger than the buffer: -EIO, as a
	 * failed bio of the kernel's zram; unknown ops: -EOPNOTSUPP. */
	d = iod(UBLK_IO_OP_READ, 0, (4u << 20) / 512, 8);
	CHECK_EQ(ublk_serve_io(dev, &d, buf, BUF), -EIO);
	d = iod(UBLK_IO_OP_WRITE, 0, 0, BUF / 512 + 8);
	CHECK_EQ(ublk_serve_io(dev, &d, buf, BUF), -EIO);
	d = iod(UBLK_IO_OP_WRITE_SAME, 0, 0, 8);
	CHECK_EQ(ublk_serve_io(dev, &d, buf, BUF), -EOPNOTSUPP);
	d = iod(13, 0, 0, 8);		/* UBLK_IO_OP_ZONE_RESET */
	CHECK_EQ(ublk_serve_io(dev, &d, buf, BUF), -EOPNOTSUPP);

	/* A write the device refuses (mem_limit reached): -EIO. */
	CHECK_EQ(store(z, 0, "mem_limit", "4K"), 0);
	fill_random(buf, BUF, &seed);
	d = iod(UBLK_IO_OP_WRITE, 0, 64, BUF / 512);
	CHECK_EQ(ublk_serve_io(dev, &d, buf, BUF), -EIO);

	uzram_close(dev);

	/* A full reserve: a write is refused before it is tried (same-filled
	 * pages too), counted, and reads still work. */
	uzram_set_reserve(z, 1u << 20);
	CHECK_EQ(store(z, 0, "reset", "1"), 0);
	REQUIRE(store(z, 0, "disksize", "4M") == 0, "disksize with a reserve");
	REQUIRE(uzram_open(z, 0, &dev) == 0, "open");
	for (unsigned int i = 0; i < 16; i++) {
		fill_random(buf, BUF, &seed);
		d = iod(UBLK_IO_OP_WRITE, 0, (uint64_t)i * BUF / 512, BUF / 512);
		CHECK_EQ(ublk_serve_io(dev, &d, buf, BUF), BUF);	/* 1 MiB fits */
	}
	d = iod(UBLK_IO_OP_WRITE, 0, 16 * BUF / 512, BUF / 512);
	CHECK_EQ(ublk_serve_io(dev, &d, buf, BUF), -EIO);	/* the pool is full */
	uzram_stats(z, 0, &st);
	unsigned long long failed = st.failed_writes;
	memset(buf, 0x77, PAGE);
	d = iod(UBLK_IO_OP_WRITE, 0, 17 * BUF / 512, PAGE / 512);
	CHECK_EQ(ublk_serve_io(dev, &d, buf, BUF), -EIO);	/* refused unseen */
	uzram_stats(z, 0, &st);
	CHECK_EQ(st.failed_writes, failed + 1);
	d = iod(UBLK_IO_OP_READ, 0, 0, BUF / 512);
	CHECK_EQ(ublk_serve_io(dev, &d, buf, BUF), BUF);
	d = iod(UBLK_IO_OP_DISCARD, 0, 0, BUF / 512);
	CHECK_EQ(ublk_serve_io(dev, &d, buf, BUF), 0);
	memset(buf, 0x77, PAGE);
	d = iod(UBLK_IO_OP_WRITE, 0, 17 * BUF / 512, PAGE / 512);
	CHECK_EQ(ublk_serve_io(dev, &d, buf, BUF), PAGE);	/* room again */
	uzram_close(dev);
	uzram_free(z);
	return check_summary();
}
