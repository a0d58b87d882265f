/*
 * ublk.c - the devices as kernel block devices through Linux's ublk driver
 * (the kernel's drivers/block/ublk_drv.c, Documentation/block/ublk.rst).
 *
 * Layout. One struct ublk_front per server: the control ring (an io_uring
 * of 128-byte entries, which control commands need) on /dev/ublk-control,
 * and a list of struct ublk_dev, one per zram device that has a block
 * device. A ublk_dev holds a releasable handle on the zram device, the
 * character device /dev/ublkcN, and nr_queues struct ublk_queue: one thread
 * each, with its own io_uring, the kernel's descriptor array for the queue
 * (mapped read-only from ublkcN) and one data buffer per tag, allocated and
 * written at start. ublk device id = zram id, so zramN is /dev/ublkbN.
 *
 * The I/O path (docs/ublk.md). A queue thread sends FETCH_REQ for every
 * tag, then waits in io_uring_enter. The kernel completes a tag's command
 * when a request arrives, after copying a WRITE's data into the tag's
 * buffer; the thread reads the descriptor, does the request against the
 * zram device in place (ublk_serve_io: zram_write_page and the rest), and
 * sends COMMIT_AND_FETCH_REQ with the result, which the kernel completes
 * the request with (copying a READ's data out of the buffer) and which
 * fetches the tag's next request. Nothing on this path allocates, maps or
 * faults memory in: the buffers and descriptors exist from the start, and
 * the zram device's pool takes its pages from its reserve when the server
 * was started for swap (docs/swap.md).
 *
 * Lifecycle. The registry's observer hooks drive it: a disksize store
 * makes the block device (ADD_DEV, SET_PARAMS, queues fetching, START_DEV);
 * reset and hot_remove ask to release it, which fails with -EBUSY while
 * /dev/ublkbN is open (mounted, swapped on, held by a process), else stops
 * it (STOP_DEV: the kernel drains in-flight requests through the queue
 * threads, then aborts their fetches), and deletes it (DEL_DEV). A device
 * left by a server that died (ublksrv_flags carries our mark) is deleted
 * when the same id is needed again.
 *
 * Locking. f->lock (a mutex) guards the device list and serialises
 * creation and removal; f->ctrl_lock guards the control ring, one command
 * at a time. Queue threads take neither: they own their ring and tags.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>

#include "ublk.h"
#include "ublk_uapi.h"

#ifndef HAVE_LIBURING

int ublk_front_start(struct uzram *z, const struct ublk_opts *o,
		     struct ublk_front **out, char *msg, size_t msg_size)
{
	*out = NULL;
	snprintf(msg, msg_size, "this build has no liburing (install liburing-dev and rebuild)");
	return -ENOSYS;
}

void ublk_front_stop(struct ublk_front *f)
{
}

const char *ublk_front_describe(const struct ublk_front *f)
{
	return "";
}
#else
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iostat.h"
#include "ublk_uapi.h"

#define DEFAULT_DEPTH	64
#define MAX_QUEUES	64
/* The largest request. With user copy (6.5+) a queue has one buffer of
 * UCOPY_BUF_SIZE, without it one of BUF_SIZE per tag. */
#define UCOPY_BUF_SIZE	(512u << 10)
#define BUF_SIZE	(64u << 10)
#define QUEUE_STACK	(512u << 10)
#define STOP_TAG	0xffffffffull	/* user_data of the stop eventfd's poll */
/* Our mark in ublksrv_flags, which the kernel keeps for the server:
 * "uzram" in ASCII. */
#define UZRAM_MARK	0x757a72616dull
#define BLOCK_SHIFT	12		/* zram's 4096-byte logical blocks */

struct ublk_dev;

struct ublk_queue {
	struct ublk_dev *dev;
	unsigned int qid;
	pthread_t thread;
	bool thread_made;
	int stop_fd;			/* eventfd: leave the loop */
	const struct ublksrv_io_desc *descs;
	size_t descs_len;
	char *bufs;			/* one buffer per tag, or one (user copy) */
	size_t bufs_len;
	unsigned int active;		/* tags with a command in the kernel */
};

struct ublk_dev {
	struct ublk_front *f;
	struct ublk_dev *next;
	int id;
	int cfd;			/* /dev/ublkcN */
	struct uzram_dev *zdev;
	uint64_t size;
	unsigned int nr_queues, depth;
	uint32_t buf_size;
	bool user_copy;			/* data moved by pread/pwrite on ublkcN */
	bool added, started;
	/* queue start-up: how many are fetching, and the first error */
	pthread_mutex_t ready_lock;
	pthread_cond_t ready_cond;
	unsigned int ready, failed;
	int ready_err;
	struct ublk_queue q[];
};

struct ublk_front {
	struct uzram *z;
	struct ublk_opts o;
	int ctrl_fd;
	struct io_uring ctrl;
	bool ctrl_ring;
	pthread_mutex_t ctrl_lock;
	bool encoded;			/* ioctl-encoded opcodes (6.4+) */
	bool sqe128;			/* 128-byte entries on the queue rings
					 * too: 6.0-6.2 demand them */
	uint64_t features;		/* GET_FEATURES (6.5+), else 0 */
	long page;
	pthread_mutex_t lock;
	struct ublk_dev *devs;
	char describe[128];
};

/* ---- the I/O path ---- */

/* An I/O command for tag (FETCH or COMMIT_AND_FETCH) on the fixed file 0. */
static void queue_cmd(struct ublk_queue *q, struct io_uring *ring, unsigned int tag,
		      bool commit, int result)
{
	struct ublk_front *f = q->dev->f;
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct ublksrv_io_cmd *cmd;

	/* The ring holds depth + 1 entries and each tag has at most one
	 * command queued, so there is always room. */
	if (!sqe)
		abort();
	memset(sqe, 0, q->dev->f->sqe128 ? 2 * sizeof(*sqe) : sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = 0;
	sqe->flags = IOSQE_FIXED_FILE;
	if (commit)
		sqe->cmd_op = f->encoded ? UBLK_U_IO_COMMIT_AND_FETCH_REQ :
					   UBLK_IO_COMMIT_AND_FETCH_REQ;
	else
		sqe->cmd_op = f->encoded ? UBLK_U_IO_FETCH_REQ : UBLK_IO_FETCH_REQ;
	sqe->user_data = tag;
	cmd = (struct ublksrv_io_cmd *)sqe->cmd;
	cmd->q_id = (uint16_t)q->qid;
	cmd->tag = (uint16_t)tag;
	cmd->result = result;
	/* Copy mode: the tag's buffer, which the kernel copies into and out
	 * of; user copy: none. */
	cmd->addr = q->dev->user_copy ? 0 :
		    (uint64_t)(uintptr_t)(q->bufs + (size_t)tag * q->dev->buf_size);
}

/*
 * Serve tag's request. In copy mode the kernel has put a WRITE's data in
 * the tag's buffer and takes a READ's from it at commit; with user copy
 * the queue's one buffer is filled and emptied here, by pread and pwrite at
 * the tag's offset in /dev/ublkcN (ublk_ch_read_iter / ublk_ch_write_iter).
 */
static int queue_request_io(struct ublk_queue *q, unsigned int tag)
{
	struct ublk_dev *dev = q->dev;
	const struct ublksrv_io_desc *iod = &q->descs[tag];
	size_t len = (size_t)iod->nr_sectors << 9;
	unsigned int op = ublksrv_get_op(iod);
	off_t pos;
	int res;

	if (!dev->user_copy)
		return ublk_serve_io(dev->zdev, iod, q->bufs + (size_t)tag * dev->buf_size,
				     dev->buf_size);
	pos = (off_t)(UBLKSRV_IO_BUF_OFFSET + ((uint64_t)q->qid << UBLK_QID_OFF) +
		      ((uint64_t)tag << UBLK_TAG_OFF));
	/* A full reserve refuses the write before its data is fetched. */
	if (op == UBLK_IO_OP_WRITE && uzram_write_refused(dev->zdev))
		return -EIO;
	if (op == UBLK_IO_OP_WRITE &&
	    (len > dev->buf_size || pread(dev->cfd, q->bufs, len, pos) != (ssize_t)len))
		return -EIO;
	res = ublk_serve_io(dev->zdev, iod, q->bufs, dev->buf_size);
	if (op == UBLK_IO_OP_READ && res == (int)len &&
	    pwrite(dev->cfd, q->bufs, len, pos) != (ssize_t)len)
		return -EIO;
	return res;
}

static enum iostat_op stat_op(unsigned int op)
{
	switch (op) {
	case UBLK_IO_OP_READ:		return IOSTAT_READ;
	case UBLK_IO_OP_WRITE:		return IOSTAT_WRITE;
	case UBLK_IO_OP_FLUSH:		return IOSTAT_FLUSH;
	case UBLK_IO_OP_DISCARD:	return IOSTAT_DISCARD;
	case UBLK_IO_OP_WRITE_ZEROES:	return IOSTAT_WRITE_ZEROES;
	default:			return IOSTAT_OTHER;
	}
}

/* One request, counted (iostat.h): its result for COMMIT_AND_FETCH_REQ. */
static int queue_request(struct ublk_queue *q, unsigned int tag)
{
	struct iostat *st = q->dev->f->o.stats;
	const struct ublksrv_io_desc *iod = &q->descs[tag];
	enum iostat_op op = stat_op(ublksrv_get_op(iod));
	uint64_t t0 = iostat_start(st), len = (uint64_t)iod->nr_sectors << 9;
	int res = queue_request_io(q, tag);

	iostat_done(st, op, res == -EOPNOTSUPP ? IOSTAT_INVALID : res < 0 ? IOSTAT_ERROR : IOSTAT_OK,
		    res >= 0 && op == IOSTAT_WRITE ? len : 0,
		    res >= 0 && op == IOSTAT_READ ? len : 0, t0);
	return res;
}

static void queue_report(struct ublk_queue *q, int err)
{
	struct ublk_dev *dev = q->dev;

	pthread_mutex_lock(&dev->ready_lock);
	if (err) {
		dev->failed++;
		if (!dev->ready_err)
			dev->ready_err = err;
	} else {
		dev->ready++;
	}
	pthread_cond_broadcast(&dev->ready_cond);
	pthread_mutex_unlock(&dev->ready_lock);
}

static int queue_ring_init(struct ublk_queue *q, struct io_uring *ring)
{
	struct io_uring_params p;
	int ret;

	/* The kernel's work for this ring (ublk dispatches requests as task
	 * work) runs only when this thread waits in io_uring_enter, which it
	 * does between batches anyway: DEFER_TASKRUN (6.1+), else
	 * COOP_TASKRUN (5.19+): no interruption of a request being served. */
	static const unsigned int tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN, 0,
	};

	for (unsigned int i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = tries[i] | (q->dev->f->sqe128 ? IORING_SETUP_SQE128 : 0);
		ret = io_uring_queue_init_params(q->dev->depth + 1, ring, &p);
		if (ret != -EINVAL)
			break;
	}
	if (ret)
		return ret;
	ret = io_uring_register_files(ring, &q->dev->cfd, 1);
	if (ret)
		io_uring_queue_exit(ring);
	return ret;
}

/*
 * Arm the stop poll and a FETCH for every tag: 0, or -errno when the
 * driver refused (then START_DEV must not be sent).
 */
static int queue_fetch_all(struct ublk_queue *q, struct io_uring *ring)
{
	struct ublk_dev *dev = q->dev;
	struct io_uring_sqe *sqe;
	int ret;

	sqe = io_uring_get_sqe(ring);
	if (!sqe)
		abort();
	io_uring_prep_poll_add(sqe, q->stop_fd, POLLIN);
	sqe->user_data = STOP_TAG;
	for (unsigned int tag = 0; tag < dev->depth; tag++)
		queue_cmd(q, ring, tag, false, 0);
	ret = io_uring_submit(ring);
	if (ret >= 0 && ret != (int)dev->depth + 1)
		ret = -EAGAIN;
	if (ret >= 0) {
		/* A FETCH that the driver took completes only with a request,
		 * and there is none before START_DEV: a completion now is a
		 * refusal, and START_DEV would wait for this queue forever. */
		struct __kernel_timespec now = { 0 };
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe_timeout(ring, &cqe, &now) == 0)
			ret = cqe->res < 0 ? cqe->res : -EPROTO;
	}
	return ret < 0 ? ret : 0;
}

static void *queue_main(void *arg)
{
	struct ublk_queue *q = arg;
	struct ublk_dev *dev = q->dev;
	struct io_uring ring;
	char name[16];
	bool stop = false;
	int ret;

	/* PR_SET_IO_FLUSHER, with --mlock, comes from the main thread: every
	 * thread made after it inherits it (docs/swap.md). */
	snprintf(name, sizeof(name), "ublkb%d-q%u", dev->id, q->qid);
	pthread_setname_np(pthread_self(), name);
	ret = queue_ring_init(q, &ring);
	if (ret) {
		queue_report(q, ret);
		return NULL;
	}
	ret = queue_fetch_all(q, &ring);
	if (ret < 0) {
		io_uring_queue_exit(&ring);
		queue_report(q, ret);
		return NULL;
	}
	q->active = dev->depth;
	queue_report(q, 0);

	while (!stop && q->active) {
		struct io_uring_cqe *cqe;
		unsigned int head, seen = 0;

		ret = io_uring_submit_and_wait(&ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY) {
			fprintf(stderr, "uzram serve: ublkb%d queue %u: io_uring: %s\n",
				dev->id, q->qid, strerror(-ret));
			break;
		}
		io_uring_for_each_cqe(&ring, head, cqe) {
			unsigned int tag = (unsigned int)cqe->user_data;

			seen++;
			if (cqe->user_data == STOP_TAG) {
				stop = true;
			} else if (cqe->res == UBLK_IO_RES_OK && tag < dev->depth) {
				queue_cmd(q, &ring, tag, true, queue_request(q, tag));
			} else {
				/* UBLK_IO_RES_ABORT: the device is stopping and
				 * the tag retires; anything else is a refusal of
				 * our command, which retires it too. */
				if (cqe->res != UBLK_IO_RES_ABORT)
					fprintf(stderr, "uzram serve: ublkb%d queue %u tag %u: %s\n",
						dev->id, q->qid, tag, strerror(-cqe->res));
				q->active--;
			}
		}
		io_uring_cq_advance(&ring, seen);
	}
	/* Results of the last requests go out before the ring does. */
	io_uring_submit(&ring);
	io_uring_queue_exit(&ring);
	return NULL;
}

/* ---- the control ring ---- */

static int ctrl_cmd(struct ublk_front *f, unsigned int nr, uint32_t encoded,
		    uint32_t dev_id, uint64_t data0, void *addr, uint16_t len)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	struct ublksrv_ctrl_cmd *cmd;
	int ret;

	pthread_mutex_lock(&f->ctrl_lock);
	sqe = io_uring_get_sqe(&f->ctrl);
	if (!sqe) {	/* one command at a time: cannot happen */
		pthread_mutex_unlock(&f->ctrl_lock);
		return -EBUSY;
	}
	/* A 128-byte entry: the command takes the 80 bytes after byte 48,
	 * and stale ones from an earlier use would reach the kernel. */
	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = f->ctrl_fd;
	sqe->cmd_op = f->encoded ? encoded : nr;
	sqe->user_data = nr;
	cmd = (struct ublksrv_ctrl_cmd *)sqe->cmd;
	cmd->dev_id = dev_id;
	cmd->queue_id = (uint16_t)-1;
	cmd->len = len;
	cmd->addr = (uint64_t)(uintptr_t)addr;
	cmd->data[0] = data0;
	do
		ret = io_uring_submit(&f->ctrl);
	while (ret == -EINTR);
	if (ret == 0)
		ret = -EAGAIN;	/* not taken: nothing to wait for */
	if (ret > 0) {
		do
			ret = io_uring_wait_cqe(&f->ctrl, &cqe);
		while (ret == -EINTR);
		if (!ret) {
			ret = cqe->res;
			io_uring_cqe_seen(&f->ctrl, cqe);
		}
	}
	pthread_mutex_unlock(&f->ctrl_lock);
	return ret;
}

#define CTRL(f, name, id, data0, addr, len) \
	ctrl_cmd(f, UBLK_CMD_##name, UBLK_U_CMD_##name, id, data0, addr, len)

static bool pid_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/*
 * ADD_DEV found id taken. A device of ours whose server is gone (dead, or
 * live with a dead server) is deleted; anything else stays and is an error.
 */
static int clear_stale(struct ublk_front *f, int id)
{
	struct ublksrv_ctrl_dev_info info;
	char path[32];
	int ret, fd;

	/* /dev/ublkcN takes one opener: busy means a server holds it (even
	 * one still starting or stopping), and it is not ours to delete. */
	snprintf(path, sizeof(path), "/dev/ublkc%d", id);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && errno == EBUSY) {
		fprintf(stderr, "uzram serve: /dev/ublkc%d is held by another server\n", id);
		return -EBUSY;
	}
	if (fd >= 0)
		close(fd);
	memset(&info, 0, sizeof(info));
	ret = CTRL(f, GET_DEV_INFO, (uint32_t)id, 0, &info, sizeof(info));
	if (ret)
		return ret == -ENODEV ? 0 : ret;
	if (info.ublksrv_flags != UZRAM_MARK) {
		fprintf(stderr, "uzram serve: ublk device %d exists and is not uzram's "
			"(its server sets ublksrv_flags %#" PRIx64 ")\n", id,
			(uint64_t)info.ublksrv_flags);
		return -EEXIST;
	}
	if (info.state == UBLK_S_DEV_LIVE && pid_alive(info.ublksrv_pid)) {
		fprintf(stderr, "uzram serve: /dev/ublkb%d is served by process %d\n", id,
			info.ublksrv_pid);
		return -EBUSY;
	}
	fprintf(stderr, "uzram serve: ublk device %d was left by process %d, which is gone: "
		"deleting it\n", id, info.ublksrv_pid);
	if (info.state == UBLK_S_DEV_LIVE)
		CTRL(f, STOP_DEV, (uint32_t)id, 0, NULL, 0);
	ret = CTRL(f, DEL_DEV, (uint32_t)id, 0, NULL, 0);
	return ret == -ENODEV ? 0 : ret;
}

/* Every device a dead uzram server left (ublkcN without a live server),
 * deleted at start: with no server they only hold an id. */
static void clear_stale_all(struct ublk_front *f)
{
	DIR *d = opendir("/sys/class/ublk-char");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		struct ublksrv_ctrl_dev_info info;
		char *end;
		long id;

		if (strncmp(e->d_name, "ublkc", 5))
			continue;
		id = strtol(e->d_name + 5, &end, 10);
		if (*end || id < 0 || id > INT32_MAX)
			continue;
		memset(&info, 0, sizeof(info));
		if (CTRL(f, GET_DEV_INFO, (uint32_t)id, 0, &info, sizeof(info)) == 0 &&
		    info.ublksrv_flags == UZRAM_MARK &&
		    !(info.state == UBLK_S_DEV_LIVE && pid_alive(info.ublksrv_pid)))
			clear_stale(f, (int)id);
	}
	closedir(d);
}

/* ---- devices ---- */

static int dev_add(struct ublk_dev *dev)
{
	struct ublk_front *f = dev->f;
	struct ublksrv_ctrl_dev_info info;
	int ret;

	for (int attempt = 0;; attempt++) {
		memset(&info, 0, sizeof(info));
		info.nr_hw_queues = (uint16_t)dev->nr_queues;
		info.queue_depth = (uint16_t)dev->depth;
		info.max_io_buf_bytes = f->features & UBLK_F_USER_COPY ? UCOPY_BUF_SIZE : BUF_SIZE;
		info.dev_id = (uint32_t)dev->id;
		info.flags = (f->encoded ? UBLK_F_CMD_IOCTL_ENCODE : 0) |
			     (f->features & UBLK_F_USER_COPY);
		info.ublksrv_flags = UZRAM_MARK;
		ret = CTRL(f, ADD_DEV, (uint32_t)dev->id, 0, &info, sizeof(info));
		if (ret != -EEXIST || attempt)
			break;
		ret = clear_stale(f, dev->id);
		if (ret)
			return ret;
	}
	if (ret)
		return ret;
	dev->added = true;
	/* What the kernel granted: queues clamped to its CPUs, the buffer
	 * size rounded to pages. */
	dev->nr_queues = info.nr_hw_queues;
	dev->buf_size = info.max_io_buf_bytes;
	dev->user_copy = info.flags & UBLK_F_USER_COPY;
	if (!dev->nr_queues || dev->buf_size < (1u << BLOCK_SHIFT))
		return -EINVAL;
	return 0;
}

static int dev_params(struct ublk_dev *dev)
{
	struct ublk_params p;

	memset(&p, 0, sizeof(p));
	p.len = sizeof(p);
	p.types = UBLK_PARAM_TYPE_BASIC | UBLK_PARAM_TYPE_DISCARD;
	/* zram's queue: 4096-byte blocks, not rotational, no volatile cache
	 * (so no FLUSH is sent: written is as stored as it gets). */
	p.basic.attrs = dev->f->o.read_only ? UBLK_ATTR_READ_ONLY : 0;
	p.basic.logical_bs_shift = BLOCK_SHIFT;
	p.basic.physical_bs_shift = BLOCK_SHIFT;
	p.basic.io_min_shift = BLOCK_SHIFT;
	p.basic.io_opt_shift = BLOCK_SHIFT;
	p.basic.max_sectors = dev->buf_size >> 9;
	p.basic.dev_sectors = dev->size >> 9;
	/* Discard and write-zeroes of any size, in whole pages as zram's. */
	p.discard.discard_granularity = 1u << BLOCK_SHIFT;
	p.discard.max_discard_sectors = UINT32_MAX & ~7u;
	p.discard.max_write_zeroes_sectors = UINT32_MAX & ~7u;
	p.discard.max_discard_segments = 1;
	return CTRL(dev->f, SET_PARAMS, (uint32_t)dev->id, 0, &p, sizeof(p));
}

/* /dev/ublkcN: devtmpfs makes it as ADD_DEV returns, but udev may hold it
 * a moment (EBUSY: one opener at a time). */
static int dev_open_char(struct ublk_dev *dev)
{
	char path[32];

	snprintf(path, sizeof(path), "/dev/ublkc%d", dev->id);
	for (int i = 0; i < 100; i++) {
		dev->cfd = open(path, O_RDWR | O_CLOEXEC);
		if (dev->cfd >= 0)
			return 0;
		if (errno != ENOENT && errno != EBUSY)
			break;
		usleep(10000);
	}
	return -errno;
}

/* Descriptors mapped and buffers made resident before any request. */
static int queue_setup(struct ublk_queue *q)
{
	struct ublk_dev *dev = q->dev;
	long page = dev->f->page;
	size_t desc_len = (size_t)dev->depth * sizeof(struct ublksrv_io_desc);
	void *p;

	q->descs_len = (desc_len + (size_t)page - 1) / (size_t)page * (size_t)page;
	p = mmap(NULL, q->descs_len, PROT_READ, MAP_SHARED | MAP_POPULATE, dev->cfd,
		 (off_t)(UBLKSRV_CMD_BUF_OFFSET + q->qid * UBLK_DESC_STRIDE((size_t)page)));
	if (p == MAP_FAILED)
		return -errno;
	q->descs = p;
	q->bufs_len = (dev->user_copy ? 1 : (size_t)dev->depth) * dev->buf_size;
	p = mmap(NULL, q->bufs_len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	q->bufs = p;
	/* MAP_POPULATE faults a private writable mapping in for writing:
	 * every page is one of its own, which the kernel pins for its copies
	 * without allocating; locked too when the process locked all. */
	madvise(q->bufs, q->bufs_len, MADV_NOHUGEPAGE);
	q->stop_fd = eventfd(0, EFD_CLOEXEC);
	return q->stop_fd < 0 ? -errno : 0;
}

static void queues_stop(struct ublk_dev *dev)
{
	for (unsigned int i = 0; i < dev->nr_queues; i++) {
		struct ublk_queue *q = &dev->q[i];
		uint64_t one = 1;

		if (q->thread_made) {
			if (write(q->stop_fd, &one, sizeof(one)) < 0) {
				/* an eventfd takes it unless it overflows */
			}
			pthread_join(q->thread, NULL);
			q->thread_made = false;
		}
	}
}

static void dev_free(struct ublk_dev *dev)
{
	for (unsigned int i = 0; i < dev->nr_queues; i++) {
		struct ublk_queue *q = &dev->q[i];

		if (q->descs)
			munmap((void *)q->descs, q->descs_len);
		if (q->bufs)
			munmap(q->bufs, q->bufs_len);
		if (q->stop_fd >= 0)
			close(q->stop_fd);
	}
	if (dev->cfd >= 0)
		close(dev->cfd);
	pthread_mutex_destroy(&dev->ready_lock);
	pthread_cond_destroy(&dev->ready_cond);
	uzram_close(dev->zdev);
	free(dev);
}

/* Stop (draining in-flight requests), end the queues, delete. */
static void dev_destroy(struct ublk_dev *dev)
{
	struct ublk_front *f = dev->f;
	int ret;

	if (dev->started) {
		ret = CTRL(f, STOP_DEV, (uint32_t)dev->id, 0, NULL, 0);
		if (ret)
			fprintf(stderr, "uzram serve: ublkb%d: STOP_DEV: %s\n", dev->id,
				strerror(-ret));
	}
	queues_stop(dev);
	/* DEL_DEV waits for the last reference to ublkcN: ours goes first. */
	if (dev->cfd >= 0) {
		for (unsigned int i = 0; i < dev->nr_queues; i++) {
			if (dev->q[i].descs)
				munmap((void *)dev->q[i].descs, dev->q[i].descs_len);
			dev->q[i].descs = NULL;
		}
		close(dev->cfd);
		dev->cfd = -1;
	}
	if (dev->added) {
		ret = CTRL(f, DEL_DEV, (uint32_t)dev->id, 0, NULL, 0);
		if (ret && ret != -ENODEV)
			fprintf(stderr, "uzram serve: ublk device %d: DEL_DEV: %s\n", dev->id,
				strerror(-ret));
	}
	dev_free(dev);
}

static int dev_start_queues(struct ublk_dev *dev)
{
	pthread_attr_t attr;
	int ret = 0;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, QUEUE_STACK);
	for (unsigned int i = 0; i < dev->nr_queues && !ret; i++) {
		ret = -pthread_create(&dev->q[i].thread, &attr, queue_main, &dev->q[i]);
		if (!ret)
			dev->q[i].thread_made = true;
	}
	pthread_attr_destroy(&attr);
	/* Every queue fetching (or failed) before START_DEV, which would
	 * otherwise wait for a queue that never comes. */
	pthread_mutex_lock(&dev->ready_lock);
	for (unsigned int made = 0; made < dev->nr_queues; made++)
		if (!dev->q[made].thread_made)
			dev->failed++;
	while (dev->ready + dev->failed < dev->nr_queues)
		pthread_cond_wait(&dev->ready_cond, &dev->ready_lock);
	if (!ret && dev->failed)
		ret = dev->ready_err;
	pthread_mutex_unlock(&dev->ready_lock);
	return ret;
}

/* Make /dev/ublkbN for zram device id of size bytes; f->lock held. */
static int dev_create(struct ublk_front *f, int id, uint64_t size, const char **step)
{
	unsigned int queues = f->o.queues, depth = f->o.depth ? f->o.depth : DEFAULT_DEPTH;
	struct ublk_dev *dev;
	int ret;

	if (!queues) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		queues = n > 0 ? (unsigned int)n : 1;
	}
	if (queues > MAX_QUEUES)
		queues = MAX_QUEUES;
	if (depth > UBLK_MAX_QUEUE_DEPTH)
		depth = UBLK_MAX_QUEUE_DEPTH;
	dev = calloc(1, sizeof(*dev) + queues * sizeof(dev->q[0]));
	if (!dev)
		return -ENOMEM;
	dev->f = f;
	dev->id = id;
	dev->cfd = -1;
	dev->size = size;
	dev->nr_queues = queues;
	dev->depth = depth;
	pthread_mutex_init(&dev->ready_lock, NULL);
	pthread_cond_init(&dev->ready_cond, NULL);
	for (unsigned int i = 0; i < queues; i++) {
		dev->q[i].dev = dev;
		dev->q[i].qid = i;
		dev->q[i].stop_fd = -1;
	}
	*step = "open";
	ret = uzram_open_releasable(f->z, id, &dev->zdev);
	if (ret) {
		dev_free(dev);
		return ret;
	}
	/* A reset may have come between the disksize store and this open;
	 * from now on one has to ask us (on_release waits for f->lock). */
	dev->size = uzram_dev_size(dev->zdev);
	if (!dev->size) {
		dev_free(dev);
		return -ENODEV;
	}
	*step = "ADD_DEV";
	ret = dev_add(dev);
	if (!ret) {
		*step = "SET_PARAMS";
		ret = dev_params(dev);
	}
	if (!ret) {
		*step = "opening /dev/ublkcN";
		ret = dev_open_char(dev);
	}
	for (unsigned int i = 0; i < dev->nr_queues && !ret; i++) {
		*step = "queue set-up";
		ret = queue_setup(&dev->q[i]);
	}
	if (!ret) {
		*step = "queue threads";
		ret = dev_start_queues(dev);
	}
	if (!ret) {
		*step = "START_DEV";
		ret = CTRL(f, START_DEV, (uint32_t)id, (uint64_t)getpid(), NULL, 0);
		dev->started = ret == 0;
	}
	if (ret) {
		dev_destroy(dev);
		return ret;
	}
	dev->next = f->devs;
	f->devs = dev;
	return 0;
}

/* ---- is /dev/ublkbN open? ---- */

/* Does a descriptor in dir (a /proc/PID/fd) name the device node? By the
 * link's text: following it would stat files of every kind, our own FUSE
 * tree's among them, from the thread that may be serving that tree. */
static bool fd_dir_holds(const char *dir, const char *node)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool found = false;

	if (!d)
		return false;
	while (!found && (e = readdir(d))) {
		char path[600], target[64];
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			found = !strcmp(target, node);
		}
	}
	closedir(d);
	return found;
}

/*
 * The kernel's zram refuses reset while its disk is open (disk_openers);
 * ublk does not tell its server, so look: an exclusive open fails while it
 * is mounted, swapped on or claimed by a holder, and any process's open
 * descriptor shows in /proc/PID/fd.
 */
static bool dev_in_use(struct ublk_dev *dev)
{
	char path[64];
	struct stat st;
	DIR *proc;
	struct dirent *e;
	bool busy = false;
	int fd;

	snprintf(path, sizeof(path), "/dev/ublkb%d", dev->id);
	if (stat(path, &st) || !S_ISBLK(st.st_mode))
		return false;
	fd = open(path, O_RDONLY | O_EXCL | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return errno == EBUSY;
	close(fd);
	proc = opendir("/proc");
	if (!proc)
		return false;
	while (!busy && (e = readdir(proc))) {
		char fds[300];

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(fds, sizeof(fds), "/proc/%s/fd", e->d_name);
		busy = fd_dir_holds(fds, path);
	}
	closedir(proc);
	return busy;
}

/* ---- the registry's observer ---- */

static struct ublk_dev **find_dev(struct ublk_front *f, int id)
{
	struct ublk_dev **p = &f->devs;

	while (*p && (*p)->id != id)
		p = &(*p)->next;
	return p;
}

static void on_initialised(void *arg, int id, uint64_t size)
{
	struct ublk_front *f = arg;
	const char *step = "";
	int ret = 0;

	pthread_mutex_lock(&f->lock);
	if (!*find_dev(f, id))
		ret = dev_create(f, id, size, &step);
	pthread_mutex_unlock(&f->lock);
	if (ret)
		fprintf(stderr, "uzram serve: zram%d: no /dev/ublkb%d: %s: %s\n", id, id, step,
			strerror(-ret));
}

static int on_release(void *arg, int id)
{
	struct ublk_front *f = arg;
	struct ublk_dev **p, *dev;
	int ret = 0;

	pthread_mutex_lock(&f->lock);
	p = find_dev(f, id);
	dev = *p;
	if (dev && dev_in_use(dev)) {
		ret = -EBUSY;
	} else if (dev) {
		*p = dev->next;
		dev_destroy(dev);
	}
	pthread_mutex_unlock(&f->lock);
	return ret;
}

/* ---- the front end ---- */

static int probe(struct ublk_front *f, char *msg, size_t msg_size)
{
	struct io_uring_params p;
	uint64_t features = 0;
	int ret;

	f->ctrl_fd = open("/dev/ublk-control", O_RDWR | O_CLOEXEC);
	if (f->ctrl_fd < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			snprintf(msg, msg_size, "/dev/ublk-control does not exist: the kernel's "
				 "ublk driver is not loaded (modprobe ublk_drv; Linux 6.0 or "
				 "later with CONFIG_BLK_DEV_UBLK)");
		else
			snprintf(msg, msg_size, "/dev/ublk-control: %s%s", strerror(-ret),
				 ret == -EACCES || ret == -EPERM ? " (ublk devices need root)" : "");
		return ret;
	}
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SQE128;
	ret = io_uring_queue_init_params(4, &f->ctrl, &p);
	if (ret) {
		snprintf(msg, msg_size, "io_uring with 128-byte entries: %s (ublk needs Linux 6.0 "
			 "or later)", strerror(-ret));
		return ret;
	}
	f->ctrl_ring = true;
	f->encoded = true;
	ret = f->o.legacy_opcodes ? -EOPNOTSUPP :
		CTRL(f, GET_FEATURES, (uint32_t)-1, 0, &features, UBLK_FEATURES_LEN);
	if (ret == 0) {
		f->features = features;
	} else {
		/* Before 6.5 there is no GET_FEATURES; before 6.4 only the
		 * legacy numbers, which every 6.x with
		 * CONFIG_BLKDEV_UBLK_LEGACY_OPCODES takes; before 6.3 (and
		 * 6.1.y before its backport) I/O commands need 128-byte
		 * entries too, which later kernels accept as well. */
		f->encoded = false;
		f->sqe128 = true;
		f->features = 0;
	}
	snprintf(f->describe, sizeof(f->describe), "%s opcodes, %s", f->encoded ?
		 "ioctl-encoded" : "legacy", f->features ? "" : "no GET_FEATURES");
	if (f->features)
		snprintf(f->describe + strlen(f->describe), sizeof(f->describe) - strlen(f->describe),
			 "features %#" PRIx64, f->features);
	return 0;
}

int ublk_front_start(struct uzram *z, const struct ublk_opts *o,
		     struct ublk_front **out, char *msg, size_t msg_size)
{
	struct uzram_observer obs;
	struct ublk_front *f;
	int *ids = NULL;
	long n;
	int ret;

	*out = NULL;
	f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(msg, msg_size, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	f->z = z;
	f->o = *o;
	f->ctrl_fd = -1;
	f->page = sysconf(_SC_PAGESIZE);
	pthread_mutex_init(&f->ctrl_lock, NULL);
	pthread_mutex_init(&f->lock, NULL);
	ret = probe(f, msg, msg_size);
	if (ret) {
		ublk_front_stop(f);
		return ret;
	}
	clear_stale_all(f);
	obs.initialised = on_initialised;
	obs.release = on_release;
	obs.arg = f;
	uzram_set_observer(z, &obs);
	/* The devices initialised before we watched. */
	n = uzram_list_all(z, &ids);
	for (long i = 0; i < n; i++) {
		struct uzram_stats st;
		const char *step = "";

		if (uzram_stats(z, ids[i], &st) || !st.initialised)
			continue;
		pthread_mutex_lock(&f->lock);
		ret = *find_dev(f, ids[i]) ? 0 : dev_create(f, ids[i], st.disksize, &step);
		pthread_mutex_unlock(&f->lock);
		if (ret) {
			snprintf(msg, msg_size, "zram%d: /dev/ublkb%d: %s: %s", ids[i], ids[i],
				 step, strerror(-ret));
			free(ids);
			ublk_front_stop(f);
			return ret;
		}
	}
	free(ids);
	*out = f;
	return 0;
}

void ublk_front_stop(struct ublk_front *f)
{
	if (!f)
		return;
	uzram_set_observer(f->z, NULL);
	pthread_mutex_lock(&f->lock);
	while (f->devs) {
		struct ublk_dev *dev = f->devs;

		f->devs = dev->next;
		if (dev_in_use(dev))
			fprintf(stderr, "uzram serve: /dev/ublkb%d is still in use (mounted, swap "
				"or open): its I/O fails from now on\n", dev->id);
		dev_destroy(dev);
	}
	pthread_mutex_unlock(&f->lock);
	if (f->ctrl_ring)
		io_uring_queue_exit(&f->ctrl);
	if (f->ctrl_fd >= 0)
		close(f->ctrl_fd);
	pthread_mutex_destroy(&f->lock);
	pthread_mutex_destroy(&f->ctrl_lock);
	free(f);
}

const char *ublk_front_describe(const struct ublk_front *f)
{
	return f->describe;
}
#endif /* HAVE_LIBURING */
