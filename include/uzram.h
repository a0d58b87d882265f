/*
 * uzram.h - libuzram: Linux zram in userspace.
 *
 * A registry (struct uzram) holds devices zram0, zram1, ... exactly as the
 * kernel's zram-control does: hot_add gives the lowest free id, hot_remove
 * refuses a device that is open. Each device is configured and observed
 * through the kernel's sysfs attributes, by name, with the kernel's formats
 * and errors (uzram_attr_show / uzram_attr_store), and holds data through
 * byte-addressed block I/O on an opened handle (uzram_open / uzram_read ...).
 *
 * Conventions: every function returns 0 (or a count) on success and -errno
 * on failure; nothing prints or exits. All functions are thread-safe. I/O
 * takes no device-wide lock; an open handle keeps the device from being
 * reset or removed (-EBUSY), as an open /dev/zramN does.
 *
 *	struct uzram *z;
 *	struct uzram_dev *d;
 *	uzram_new(&z, 1);			// zram0, uninitialised
 *	uzram_attr_store(z, 0, "comp_algorithm", "zstd", 4);
 *	uzram_attr_store(z, 0, "disksize", "1G", 2);
 *	uzram_open(z, 0, &d);
 *	uzram_write(d, buf, 0, 4096);
 *	...
 *	uzram_close(d);
 *	uzram_free(z);
 */
#ifndef UZRAM_H
#define UZRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UZRAM_VERSION "0.1.0"

#define UZRAM_PAGE_SIZE		4096u
#define UZRAM_SECTOR_SIZE	512u
#define UZRAM_MAX_COMPS		4	/* primary + 3 recompression priorities */

struct uzram;
struct uzram_dev;

/* ---- the registry (zram-control) ---- */

/* A registry with num_devices uninitialised devices (ids 0..n-1). */
int uzram_new(struct uzram **out, unsigned int num_devices);
/* Removes every device (open handles must be closed first). */
void uzram_free(struct uzram *z);
/* hot_add: a new uninitialised device; returns its id (lowest free). */
int uzram_hot_add(struct uzram *z);
/* hot_remove: 0, -EINVAL (id < 0), -ENODEV, -EBUSY (open). */
int uzram_hot_remove(struct uzram *z, int id);
/* The ids of existing devices, ascending; returns how many exist. */
size_t uzram_list(struct uzram *z, int *ids, size_t max);
/* The same, all of them, in a malloc'd array (*ids, even when there are
 * none; free it): how many, or -ENOMEM. */
long uzram_list_all(struct uzram *z, int **ids);
bool uzram_exists(struct uzram *z, int id);
/*
 * The id named by the len bytes at name: "zramN", N in canonical decimal
 * (no sign, no leading zero) up to INT_MAX; -EINVAL for anything else.
 * Every front end (NBD exports, the control socket, the FUSE tree, ctl)
 * names devices this way.
 */
int uzram_name_id(const char *name, size_t len);

/*
 * The zram-control class attributes, as files: "hot_add" (show: creates a
 * device, prints "%d\n" with its id) and "hot_remove" (store: a decimal id,
 * kstrtoint rules). Returns as uzram_attr_show / uzram_attr_store; -ENOENT
 * for other names, -EACCES for the wrong direction.
 */
long uzram_control_show(struct uzram *z, const char *name, char *buf,
			size_t size);
int uzram_control_store(struct uzram *z, const char *name, const char *buf,
			size_t len);

/*
 * Paths: backing_dev and algorithm_params' dict= name files that the
 * process opens. A server that takes attribute stores from other users
 * restricts them: after this call only paths that resolve (symlinks
 * followed) to a file inside one of the directories are accepted; others
 * fail with -EPERM. An empty list refuses every path. Without the call,
 * every path is accepted (the library's default, for programs that embed
 * it). Returns 0, -ENOENT (a directory does not exist), -ENOTDIR (one is
 * not a directory) or -ENOMEM; on error the previous list stays.
 */
int uzram_set_path_allowlist(struct uzram *z, const char *const *dirs,
			     size_t n);

/* ---- attributes (/sys/block/zramN/...) ---- */

/*
 * Names are those of the files in /sys/block/zramN: zram's attributes, then
 * the block layer's (stat, size, dev, ro, ...) and its queue directory's as
 * "queue/NAME" (docs/attributes.md).
 */
struct uzram_attr_info {
	const char *name;
	unsigned int mode;	/* 0444, 0200, 0644 (0400 for block_state) */
};

/*
 * The major number the dev attribute shows ("MAJOR:ID\n"). The kernel's zram
 * major is dynamic; a block major is below 512 (include/linux/blkdev.h:
 * BLKDEV_MAJOR_MAX) and an anonymous device's is 0, so this one names no
 * block device and matches no mount.
 */
#define UZRAM_DEV_MAJOR	512

/* The attribute table in the kernel's order. */
size_t uzram_attr_count(void);
const struct uzram_attr_info *uzram_attr_at(size_t i);
const struct uzram_attr_info *uzram_attr_find(const char *name);

/*
 * Show an attribute into buf (NUL-terminated when it fits); returns the
 * length, -ENODEV (no such device), -ENOENT (no such attribute), -EACCES
 * (write-only), or the attribute's error (e.g. block_state on an
 * uninitialised device: -EINVAL). The kernel's sysfs buffer is one page.
 */
long uzram_attr_show(struct uzram *z, int id, const char *name, char *buf,
		     size_t size);
/*
 * Store buf[0..len) into an attribute, as a write(2) to sysfs. Returns 0 or
 * -errno: the attribute's error, -ENODEV, -ENOENT, -EACCES (read-only).
 */
int uzram_attr_store(struct uzram *z, int id, const char *name,
		     const char *buf, size_t len);
/*
 * Why the calling thread's last uzram_attr_store or uzram_control_store
 * failed, in a few words, where the errno alone does not say: the kernel's
 * own log text where its zram logs one (lower-cased, e.g. "cannot change
 * disksize for initialized device", "can't change algorithm for initialized
 * device"), else uzram's ("no such algorithm", "path outside the allowed
 * directories", "device is open"). NULL after a store that succeeded or
 * whose errno says all. A static string; like dlerror(3), per thread, and
 * replaced by the next store. The errno returned is the same either way.
 * The image calls below (uzram_save ... uzram_restore_file) set it too:
 * what is wrong with an image ("image truncated", "image slot chunk
 * checksum mismatch", "not a uzram image (bad magic)", ...).
 */
const char *uzram_store_reason(void);

/*
 * block_state, paged: formats lines for slots from *pos on into buf, as the
 * kernel's seekable debugfs file; *pos advances past the slots written.
 * Returns the bytes written (0 at the end) or -errno.
 */
long uzram_block_state(struct uzram *z, int id, uint64_t *pos, char *buf,
		       size_t size);

/*
 * The statistics, each once, file by file in the order of their columns
 * (Documentation/admin-guide/blockdev/zram.rst): struct uzram_stats has a
 * uint64_t of each, in this order. C(field, counter, unit): a count the
 * device keeps in its counter `counter`, in units of `unit` bytes (1: the
 * count itself); V(field): a value read from elsewhere (the pool, mem_limit).
 */
#define UZRAM_STATS(C, V)						\
	/* mm_stat */							\
	C(orig_data_size,	pages_stored,	 UZRAM_PAGE_SIZE) /* bytes */ \
	C(compr_data_size,	compr_data_size, 1)		/* bytes */ \
	V(mem_used_total)					/* bytes */ \
	V(mem_limit)						/* bytes */ \
	C(mem_used_max,		max_used_pages,	 UZRAM_PAGE_SIZE) /* bytes */ \
	C(same_pages,		same_pages,	 1)			\
	V(pages_compacted)						\
	C(huge_pages,		huge_pages,	 1)			\
	C(huge_pages_since,	huge_pages_since, 1)			\
	/* io_stat */							\
	C(failed_reads,		failed_reads,	 1)			\
	C(failed_writes,	failed_writes,	 1)			\
	C(notify_free,		notify_free,	 1)	/* freed by discard */ \
	/* debug_stat */						\
	C(miss_free,		miss_free,	 1)			\
	/* bd_stat, 4 KiB units */					\
	C(bd_count,		bd_count,	 1)			\
	C(bd_reads,		bd_reads,	 1)			\
	C(bd_writes,		bd_writes,	 1)			\
	/* the block layer's stat file */				\
	C(read_ios,		read_ios,	 1)			\
	C(read_sectors,		read_sectors,	 1)			\
	C(write_ios,		write_ios,	 1)			\
	C(write_sectors,	write_sectors,	 1)			\
	C(discard_ios,		discard_ios,	 1)			\
	C(discard_sectors,	discard_sectors, 1)			\
	/* pool memory taken at init (uzram_set_reserve), bytes; 0 = none */ \
	V(reserve_bytes)

/* A typed snapshot of everything the stat attributes show. */
struct uzram_stats {
	bool initialised;
	uint64_t disksize;
	char algorithm[32];		/* the primary algorithm */
	unsigned int streams;		/* compression streams */
#define UZRAM_STATS_COUNTER(field, counter, unit)	uint64_t field;
#define UZRAM_STATS_VALUE(field)			uint64_t field;
	UZRAM_STATS(UZRAM_STATS_COUNTER, UZRAM_STATS_VALUE)
#undef UZRAM_STATS_COUNTER
#undef UZRAM_STATS_VALUE
};
int uzram_stats(struct uzram *z, int id, struct uzram_stats *st);

/* ---- images: a device saved to a file and restored (docs/image.md) ---- */

/*
 * Write device id's image to fd (from its current offset, sequentially: a
 * pipe will do): disksize, mem_limit, the algorithm and its parameters at
 * each priority (dictionaries included), and every stored slot as the pool
 * holds it - compressed objects as they are, same-filled words, huge pages,
 * the IDLE and INCOMPRESSIBLE flags, the algorithm's priority and the age
 * of the last access - in chunks with CRC32s, then a trailer with counts
 * and a checksum. Slots written back are read from the backing store into
 * the image. The device keeps serving meanwhile; each page is saved as it
 * was at one moment under its slot lock, not the device as of one instant
 * (quiesce it for that). Returns 0, -ENODEV, -EINVAL (not initialised),
 * -EIO (a written-back page could not be read: the backing device is
 * gone), -EFBIG (a dictionary over 64 MiB), or write(2)'s error.
 */
int uzram_save(struct uzram *z, int id, int fd);
/*
 * The same into the file at path, replaced whole: written to a temporary
 * file beside it (".NAME.XXXXXXXX.tmp", mode 0600), fsynced, renamed over
 * path, and the directory fsynced; a crash never leaves half an image under
 * path. The directory is subject to uzram_set_path_allowlist (-EPERM
 * outside it). Also -EISDIR (path names a directory) and open's errors.
 */
int uzram_save_file(struct uzram *z, int id, const char *path);
/*
 * Restore device id, which must exist, be uninitialised (reset) and not be
 * open, from the image read from fd: the whole image is read and checked
 * (every checksum, every record, the trailer's counts, nothing after it)
 * while the device stays uninitialised to every other caller; it becomes
 * initialised (the observer hears of it) only when all of it checked out.
 * Objects are installed as they were saved, without recompression or
 * decompression. Returns 0, or -errno and the device is left reset
 * (untouched if the header was refused; as after a reset store otherwise,
 * backing_dev included): -ENODEV, -EBUSY (initialised, or open), -EINVAL
 * (not an image, truncated, malformed, an algorithm this build lacks),
 * -ENOTSUP (another image version), -EBADMSG (a checksum does not match),
 * -ENOMEM, read(2)'s error. uzram_store_reason() names what is wrong.
 */
int uzram_restore(struct uzram *z, int id, int fd);
/* The same from the regular file at path, opened as the path allow-list
 * allows (-EPERM outside it; -EISDIR a directory, -EINVAL another file
 * that is not a regular one). */
int uzram_restore_file(struct uzram *z, int id, const char *path);

/* ---- swap safety: memory taken up front ---- */

#define UZRAM_RESERVE_MEM_LIMIT	UINT64_MAX

/*
 * Every device initialised after this call (disksize) takes its pool's
 * memory at once: bytes of it (at most disksize), or, with
 * UZRAM_RESERVE_MEM_LIMIT, the device's mem_limit when one is set (none: no
 * reserve). The memory is mapped, written and locked (mlock), and so is the
 * slot table, so that no write maps or faults memory in: a write that does
 * not fit fails with -ENOMEM and counts in failed_writes, as the kernel's
 * zram write fails when zs_malloc finds no page. This is what a device that
 * backs swap needs (docs/swap.md). 0 turns it off for later devices. With a
 * reserve, the disksize store fails with -ENOMEM when the memory cannot be
 * had or locked (over RLIMIT_MEMLOCK without CAP_IPC_LOCK), or with mlock's
 * other errors (-EPERM, -EAGAIN).
 */
void uzram_set_reserve(struct uzram *z, uint64_t bytes);

/* ---- observers: front ends that mirror devices (the ublk block devices) ---- */

struct uzram_observer {
	/* Device id was initialised (a disksize store succeeded); called
	 * after the store, in the storing thread, with no lock held. */
	void (*initialised)(void *arg, int id, uint64_t disksize);
	/*
	 * reset or hot_remove of id is about to proceed and the only handles
	 * still open on it are releasable ones (uzram_open_releasable): close
	 * them and return 0, or return -EBUSY (they are in use) and the
	 * reset or removal fails with -EBUSY, the device untouched. Called in
	 * the storing thread with no lock held.
	 */
	int (*release)(void *arg, int id);
	void *arg;
};
/* One observer per registry; NULL removes it. Returns once the calls of the
 * observer it replaces have returned (do not call it from one of them). */
void uzram_set_observer(struct uzram *z, const struct uzram_observer *o);

/* ---- block I/O ---- */

/* Open a device for I/O: -ENODEV, -EBUSY (being reset or removed). */
int uzram_open(struct uzram *z, int id, struct uzram_dev **out);
/* The same, for the observer: reset and hot_remove ask it to close this
 * handle (uzram_observer.release) instead of failing with -EBUSY. */
int uzram_open_releasable(struct uzram *z, int id, struct uzram_dev **out);
void uzram_close(struct uzram_dev *d);
/* disksize in bytes (0 while uninitialised). */
uint64_t uzram_dev_size(const struct uzram_dev *d);

/*
 * I/O at 512-byte granularity: offset and len are multiples of 512 and the
 * range lies within disksize, else -EINVAL. A write that does not cover a
 * whole page is a read-modify-write of that page. Errors: -ENOMEM (mem_limit
 * or out of memory; nothing stored before is lost), -EIO.
 */
int uzram_read(struct uzram_dev *d, void *buf, uint64_t offset, size_t len);
int uzram_write(struct uzram_dev *d, const void *buf, uint64_t offset,
		size_t len);
/*
 * The device's reserve (uzram_set_reserve) is used up and nothing has been
 * freed since: any write but of same-filled pages would fail with -ENOMEM.
 * Then this counts a failed write and returns true, so that a front end can
 * refuse a write without receiving its data (docs/swap.md: under memory
 * pressure the kernel retries failed swap writes, and each should cost as
 * little as can be). False otherwise, and always without a reserve.
 */
bool uzram_write_refused(struct uzram_dev *d);
/* Discard: frees the whole pages inside the range; partial pages untouched. */
int uzram_discard(struct uzram_dev *d, uint64_t offset, uint64_t len);
/* Write-zeroes: the whole range reads as zeros afterwards. */
int uzram_write_zeroes(struct uzram_dev *d, uint64_t offset, uint64_t len);
int uzram_flush(struct uzram_dev *d);

enum uzram_page_state {
	UZRAM_PAGE_UNWRITTEN,	/* never written, discarded or freed: a hole */
	UZRAM_PAGE_ZERO,	/* stored, reads as zeros */
	UZRAM_PAGE_DATA,
};
/* State of the page holding byte offset (for NBD block status). */
int uzram_page_state(struct uzram_dev *d, uint64_t offset);

/* ---- algorithms ---- */

/* The algorithms this build offers, in the kernel's order. */
size_t uzram_algorithm_count(void);
const char *uzram_algorithm_name(size_t i);

/*
 * One algorithm's page codec on its own, with default parameters, as a
 * device uses it (for tools that size a device: uzram analyze). Not
 * thread-safe: one codec per thread.
 */
struct uzram_codec;
int uzram_codec_new(const char *algorithm, struct uzram_codec **out);
void uzram_codec_free(struct uzram_codec *c);
/* Compress one 4096-byte page; out holds 8192 bytes. 0 or -errno. */
int uzram_codec_compress(struct uzram_codec *c, const void *page, void *out,
			 size_t *out_len);
/* Decompress into one page: exactly 4096 bytes, else -EINVAL. */
int uzram_codec_decompress(struct uzram_codec *c, const void *in, size_t len,
			   void *page);

#ifdef __cplusplus
}
#endif

#endif /* UZRAM_H */
