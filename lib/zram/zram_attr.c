/*
 * zram_attr.c - the attributes of /sys/block/zramN: one table of names,
 * modes, show and store functions, with the kernel's output formats, parsing
 * and errors (the kernel's attribute group in drivers/block/zram/zram_drv.c;
 * docs/attributes.md). The library API, the control
 * socket, the FUSE tree and `uzram ctl` all go through this table.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/file.h"
#include "util/parse.h"
#include "util/reason.h"
#include "zram_drv.h"

struct zram_attr {
	struct uzram_attr_info info;
	long (*show)(struct zram *zram, char *buf, size_t size);
	/* buf is a NUL-terminated copy of what was written. */
	int (*store)(struct zram *zram, char *buf, size_t len);
	/* a file whose text never changes: shown as it is, without show */
	const char *text;
};

#define RD(z)	pthread_rwlock_rdlock(&(z)->dev_lock)
#define WR(z)	pthread_rwlock_wrlock(&(z)->dev_lock)
#define UNLOCK(z) pthread_rwlock_unlock(&(z)->dev_lock)

static long emit(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static long emit(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

/* ---- disksize, initstate, reset ---- */

static long disksize_show(struct zram *zram, char *buf, size_t size)
{
	return emit(buf, size, "%" PRIu64 "\n", atomic_load(&zram->disksize));
}

static int disksize_store(struct zram *zram, char *buf, size_t len)
{
	uint64_t disksize = memparse(buf, NULL);
	int ret;

	if (!disksize)
		return uz_refuse(-EINVAL, "not a size above 0");
	WR(zram);
	if (init_done(zram)) {
		UNLOCK(zram);
		/* the kernel's disksize_store() */
		return uz_refuse(-EBUSY, "cannot change disksize for initialized device");
	}
	ret = zram_init_device(zram, UZ_PAGE_ALIGN(disksize));
	UNLOCK(zram);
	return ret;
}

static long initstate_show(struct zram *zram, char *buf, size_t size)
{
	unsigned int val;

	RD(zram);
	val = init_done(zram);
	UNLOCK(zram);
	return emit(buf, size, "%u\n", val);
}

static int reset_store(struct zram *zram, char *buf, size_t len)
{
	uint16_t do_reset;
	int ret = kstrtou16(buf, 10, &do_reset);

	if (ret)
		return ret;
	if (!do_reset)
		return -EINVAL;
	pthread_mutex_lock(&zram->open_lock);
	if (zram->openers || zram->claim) {
		pthread_mutex_unlock(&zram->open_lock);
		return uz_refuse(-EBUSY, "device is open");
	}
	zram->claim = true;
	pthread_mutex_unlock(&zram->open_lock);

	WR(zram);
	zram_reset_device(zram);
	UNLOCK(zram);

	pthread_mutex_lock(&zram->open_lock);
	zram->claim = false;
	pthread_mutex_unlock(&zram->open_lock);
	return 0;
}

/* ---- compact, mem_limit, mem_used_max, idle ---- */

static int compact_store(struct zram *zram, char *buf, size_t len)
{
	RD(zram);
	if (!init_done(zram)) {
		UNLOCK(zram);
		return uz_refuse(-EINVAL, "device is not initialized");
	}
	zs_compact(zram->mem_pool);
	UNLOCK(zram);
	return 0;
}

static int mem_limit_store(struct zram *zram, char *buf, size_t len)
{
	char *tmp;
	uint64_t limit = memparse(buf, &tmp);

	if (buf == tmp)	/* no chars parsed, invalid input */
		return -EINVAL;
	WR(zram);
	atomic_store(&zram->limit_pages, UZ_PAGE_ALIGN(limit) >> UZ_PAGE_SHIFT);
	UNLOCK(zram);
	return 0;
}

static int mem_used_max_store(struct zram *zram, char *buf, size_t len)
{
	unsigned long val;
	int err = kstrtoul(buf, 10, &val);

	if (err || val != 0)
		return -EINVAL;
	RD(zram);
	if (init_done(zram))
		atomic_store(&zram->stats.max_used_pages,
			     zs_get_total_pages(zram->mem_pool));
	UNLOCK(zram);
	return 0;
}

/*
 * Mark allocated slots idle: every one (cutoff 0), or those not accessed
 * since cutoff - and clear IDLE on the others (the kernel's mark_idle()).
 */
static void mark_idle(struct zram *zram, int64_t cutoff)
{
	for (uint64_t index = 0; index < zram->nr_pages; index++) {
		uint32_t i = (uint32_t)index;

		zram_slot_lock(zram, i);
		if (!zram_slot_allocated(zram, i) ||
		    zram_test_flag(zram, i, ZRAM_WB) ||
		    zram_test_flag(zram, i, ZRAM_SAME)) {
			zram_slot_unlock(zram, i);
			continue;
		}
		if (cutoff == 0 || (int64_t)zram->table[i].ac_time < cutoff)
			zram_set_flag(zram, i, ZRAM_IDLE);
		else
			zram_clear_flag(zram, i, ZRAM_IDLE);
		zram_slot_unlock(zram, i);
	}
}

static int idle_store(struct zram *zram, char *buf, size_t len)
{
	int64_t cutoff = 0;	/* 0: every slot */

	if (!sysfs_streq(buf, "all")) {
		unsigned int age_sec;

		if (kstrtouint(buf, 0, &age_sec))
			return -EINVAL;
		cutoff = (int64_t)zram_now() - (int64_t)age_sec;
		if (cutoff < 0)
			cutoff = INT64_MIN;	/* older than boot: none idle */
	}
	RD(zram);
	if (!init_done(zram)) {
		UNLOCK(zram);
		return uz_refuse(-EINVAL, "device is not initialized");
	}
	mark_idle(zram, cutoff);
	UNLOCK(zram);
	return 0;
}

/* ---- algorithms ---- */

static long comp_algorithm_show(struct zram *zram, char *buf, size_t size)
{
	long n;

	RD(zram);
	n = (long)zcomp_available_show(zram->comp_algs[ZRAM_PRIMARY_COMP], buf,
				       size);
	UNLOCK(zram);
	return n;
}

static int comp_algorithm_store_prio(struct zram *zram, unsigned int prio,
				     const char *buf)
{
	const struct zcomp_ops *ops;
	char name[ZRAM_MAX_ALGO_NAME_SZ];
	size_t sz = strlen(buf);

	if (sz >= ZRAM_MAX_ALGO_NAME_SZ)
		return uz_refuse(-E2BIG, "algorithm name too long");
	memcpy(name, buf, sz + 1);
	if (sz > 0 && name[sz - 1] == '\n')	/* ignore trailing newline */
		name[sz - 1] = '\0';
	ops = zcomp_lookup(name);
	if (!ops)
		return uz_refuse(-EINVAL, "no such algorithm");
	WR(zram);
	if (init_done(zram)) {
		UNLOCK(zram);
		/* the kernel's __comp_algorithm_store() */
		return uz_refuse(-EBUSY, "can't change algorithm for initialized device");
	}
	zram_comp_algorithm_set(zram, prio, ops->name);
	UNLOCK(zram);
	return 0;
}

static int comp_algorithm_store(struct zram *zram, char *buf, size_t len)
{
	return comp_algorithm_store_prio(zram, ZRAM_PRIMARY_COMP, buf);
}

/* algorithm_params (the kernel's algorithm_params_store()): priority= algo=
 * level= dict= deflate.winbits= */
static int algorithm_params_store(struct zram *zram, char *buf, size_t len)
{
	int prio = ZRAM_MAX_COMPS, level = ZCOMP_PARAM_NOT_SET;
	int winbits = ZCOMP_PARAM_NOT_SET;
	char *args = skip_spaces(buf), *param, *val;
	char *algo = NULL, *dict_path = NULL;
	bool prio_given = false;
	int ret;

	while (*args) {
		args = next_arg(args, &param, &val);
		if (!val || !*val)
			return -EINVAL;
		if (!strcmp(param, "priority")) {
			ret = kstrtoint(val, 10, &prio);
			if (ret)
				return ret;
			prio_given = true;
		} else if (!strcmp(param, "level")) {
			ret = kstrtoint(val, 10, &level);
			if (ret)
				return ret;
		} else if (!strcmp(param, "algo")) {
			algo = val;
		} else if (!strcmp(param, "dict")) {
			dict_path = val;
		} else if (!strcmp(param, "deflate.winbits")) {
			ret = kstrtoint(val, 10, &winbits);
			if (ret)
				return ret;
		}
		/* unknown keys are ignored */
	}

	WR(zram);
	if (init_done(zram)) {
		ret = uz_refuse(-EBUSY, "can't change algorithm parameters for initialized device");
		goto out;
	}
	prio = zram_select_priority(zram, algo, prio_given, prio, ZRAM_PRIMARY_COMP);
	if (prio < 0) {
		ret = uz_refuse(prio, "no such priority, or no such algorithm at it");
		goto out;
	}

	struct zcomp_params *p = &zram->params[prio];
	zcomp_params_release(p);
	if (dict_path) {
		int fd = path_policy_open(zram->paths, dict_path,
					  O_RDONLY | O_NONBLOCK);

		ret = fd;
		if (ret == -EPERM)
			goto out;	/* refused by the server's policy */
		if (fd >= 0) {	/* any regular file up to 2 GiB */
			ret = read_whole_fd(fd, INT32_MAX, 0, &p->dict, &p->dict_sz);
			close(fd);
		}
		if (ret) {
			ret = uz_refuse(-EINVAL, "dict= is not a readable regular file");
			goto out;
		}
	}
	p->level = level;
	p->deflate_winbits = winbits;
	ret = 0;
out:
	UNLOCK(zram);
	return ret;
}

static long recomp_algorithm_show(struct zram *zram, char *buf, size_t size)
{
	size_t len = 0;

	RD(zram);
	for (int prio = ZRAM_SECONDARY_COMP; prio < ZRAM_MAX_COMPS; prio++) {
		if (!zram->comp_algs[prio])
			continue;
		len += (size_t)snprintf(buf + UZ_MIN(len, size),
					size - UZ_MIN(len, size), "#%d: ", prio);
		len += zcomp_available_show(zram->comp_algs[prio],
					    buf + UZ_MIN(len, size),
					    size - UZ_MIN(len, size));
	}
	UNLOCK(zram);
	return (long)len;
}

static int recomp_algorithm_store(struct zram *zram, char *buf, size_t len)
{
	int prio = ZRAM_SECONDARY_COMP;
	char *args = skip_spaces(buf), *param, *val, *alg = NULL;
	int ret;

	while (*args) {
		args = next_arg(args, &param, &val);
		if (!val || !*val)
			return -EINVAL;
		if (!strcmp(param, "algo")) {
			alg = val;
		} else if (!strcmp(param, "priority")) {
			ret = kstrtoint(val, 10, &prio);
			if (ret)
				return ret;
		}
	}
	if (!alg)
		return uz_refuse(-EINVAL, "no algo= given");
	if (prio < ZRAM_SECONDARY_COMP || prio >= ZRAM_MAX_COMPS)
		return uz_refuse(-EINVAL, "priority out of range (1 to 3)");
	return comp_algorithm_store_prio(zram, (unsigned int)prio, alg);
}

/* ---- statistics (Documentation/admin-guide/blockdev/zram.rst) ---- */

/* An atomic load of a counter: relaxed, as each is a count on its own. */
static uint64_t stat_read(_Atomic uint64_t *counter)
{
	return atomic_load_explicit(counter, memory_order_relaxed);
}

/* Every counter of UZRAM_STATS into s, in bytes where its unit says so. */
static void read_counters(struct zram *zram, struct uzram_stats *s)
{
#define READ_COUNTER(field, counter, unit) \
	s->field = stat_read(&zram->stats.counter) * (unit);
#define SKIP_VALUE(field)
	UZRAM_STATS(READ_COUNTER, SKIP_VALUE)
#undef READ_COUNTER
#undef SKIP_VALUE
}

void zram_fill_stats(struct zram *zram, struct uzram_stats *s)
{
	struct zs_pool_stats pool_stats = { 0 };

	memset(s, 0, sizeof(*s));
	RD(zram);
	s->initialised = init_done(zram);
	s->disksize = atomic_load(&zram->disksize);
	snprintf(s->algorithm, sizeof(s->algorithm), "%s",
		 zram->comp_algs[ZRAM_PRIMARY_COMP] ? zram->comp_algs[ZRAM_PRIMARY_COMP] : "");
	if (s->initialised) {
		s->mem_used_total = (uint64_t)zs_get_total_pages(zram->mem_pool)
				    << UZ_PAGE_SHIFT;
		zs_pool_stats(zram->mem_pool, &pool_stats);
		s->streams = zram->comps[ZRAM_PRIMARY_COMP]->nr_streams;
		s->reserve_bytes = (uint64_t)zs_reserve_pages(zram->mem_pool) << UZ_PAGE_SHIFT;
	}
	s->mem_limit = atomic_load(&zram->limit_pages) << UZ_PAGE_SHIFT;
	s->pages_compacted = pool_stats.pages_compacted;
	read_counters(zram, s);
	UNLOCK(zram);
}

/* The counters, read under dev_lock as the kernel's stat shows do. */
static void read_counters_locked(struct zram *zram, struct uzram_stats *s)
{
	RD(zram);
	read_counters(zram, s);
	UNLOCK(zram);
}

static long io_stat_show(struct zram *zram, char *buf, size_t size)
{
	struct uzram_stats s;

	read_counters_locked(zram, &s);
	return emit(buf, size, "%8" PRIu64 " %8" PRIu64 " 0 %8" PRIu64 "\n",
		    s.failed_reads, s.failed_writes, s.notify_free);
}

static long mm_stat_show(struct zram *zram, char *buf, size_t size)
{
	struct uzram_stats s;

	zram_fill_stats(zram, &s);
	return emit(buf, size,
		    "%8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRId64
		    " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n",
		    s.orig_data_size, s.compr_data_size, s.mem_used_total,
		    s.mem_limit, (int64_t)s.mem_used_max, s.same_pages,
		    s.pages_compacted, s.huge_pages, s.huge_pages_since);
}

static long debug_stat_show(struct zram *zram, char *buf, size_t size)
{
	struct uzram_stats s;

	read_counters_locked(zram, &s);
	return emit(buf, size, "version: %d\n0 %8" PRIu64 "\n", 1, s.miss_free);
}

static long bd_stat_show(struct zram *zram, char *buf, size_t size)
{
	struct uzram_stats s;

	read_counters_locked(zram, &s);
	return emit(buf, size, "%8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n",
		    s.bd_count, s.bd_reads, s.bd_writes);
}

/* /sys/block/zramN/stat: the block layer's 17 fields. As the kernel's zram,
 * reads and writes are accounted and discards are not; times and queue
 * depth are 0. */
static long stat_show(struct zram *zram, char *buf, size_t size)
{
	struct uzram_stats s;

	read_counters(zram, &s);
	return emit(buf, size,
		    "%8" PRIu64 " %8u %8" PRIu64 " %8u %8" PRIu64 " %8u %8" PRIu64
		    " %8u %8u %8u %8u %8" PRIu64 " %8u %8" PRIu64 " %8u %8u %8u\n",
		    s.read_ios, 0, s.read_sectors, 0, s.write_ios, 0, s.write_sectors,
		    0, 0, 0, 0, (uint64_t)0, 0, (uint64_t)0, 0, 0, 0);
}

/* /sys/block/zramN/size: the capacity in 512-byte sectors, which the
 * kernel's disksize_store() sets (set_capacity_and_notify) and zram_reset_device()
 * zeroes [block/genhd.c: part_size_show()]. */
static long size_show(struct zram *zram, char *buf, size_t size)
{
	return emit(buf, size, "%" PRIu64 "\n",
		    atomic_load(&zram->disksize) >> UZ_SECTOR_SHIFT);
}

/* /sys/block/zramN/dev: "MAJOR:MINOR" [block/genhd.c: disk_devt(),
 * drivers/base/core.c: dev_show()]. The minor is the id, as zram_add()'s
 * first_minor; the major is UZRAM_DEV_MAJOR, which names no block device. */
static long dev_show(struct zram *zram, char *buf, size_t size)
{
	return emit(buf, size, "%u:%d\n", UZRAM_DEV_MAJOR, zram->id);
}

/* ---- block_state (the kernel's read_block_state(), in debugfs) ---- */

long zram_block_state_show(struct zram *zram, uint64_t *pos, char *buf,
			   size_t size)
{
	size_t written = 0;
	uint64_t index;

	RD(zram);
	if (!init_done(zram)) {
		UNLOCK(zram);
		return -EINVAL;
	}
	for (index = *pos; index < zram->nr_pages; index++) {
		uint32_t i = (uint32_t)index;
		char line[64];
		int n;

		zram_slot_lock(zram, i);
		if (!zram_slot_allocated(zram, i)) {
			zram_slot_unlock(zram, i);
			continue;
		}
		n = snprintf(line, sizeof(line), "%12zd %12u.%06d %c%c%c%c%c%c\n",
			     (ssize_t)index, zram->table[i].ac_time, 0,
			     zram_test_flag(zram, i, ZRAM_SAME) ? 's' : '.',
			     zram_test_flag(zram, i, ZRAM_WB) ? 'w' : '.',
			     zram_test_flag(zram, i, ZRAM_HUGE) ? 'h' : '.',
			     zram_test_flag(zram, i, ZRAM_IDLE) ? 'i' : '.',
			     zram_get_priority(zram, i) ? 'r' : '.',
			     zram_test_flag(zram, i, ZRAM_INCOMPRESSIBLE) ? 'n' : '.');
		zram_slot_unlock(zram, i);
		if (written + (size_t)n > size)
			break;	/* the line does not fit: stop at this slot */
		memcpy(buf + written, line, (size_t)n);
		written += (size_t)n;
	}
	*pos = index;
	UNLOCK(zram);
	return (long)written;
}

static long block_state_show(struct zram *zram, char *buf, size_t size)
{
	uint64_t pos = 0;
	long n = zram_block_state_show(zram, &pos, buf, size ? size - 1 : 0);

	if (n >= 0 && size)
		buf[n] = '\0';
	return n;
}

/* ---- the table ---- */

#define RO	0444
#define WO	0200
#define RW	0644
#define FIXED(name, text)	{ { name, RO }, NULL, NULL, text }

static const struct zram_attr zram_attrs[] = {
	{ { "disksize", RW }, disksize_show, disksize_store, NULL },
	{ { "initstate", RO }, initstate_show, NULL, NULL },
	{ { "reset", WO }, NULL, reset_store, NULL },
	{ { "compact", WO }, NULL, compact_store, NULL },
	{ { "mem_limit", WO }, NULL, mem_limit_store, NULL },
	{ { "mem_used_max", WO }, NULL, mem_used_max_store, NULL },
	{ { "idle", WO }, NULL, idle_store, NULL },
	{ { "comp_algorithm", RW }, comp_algorithm_show, comp_algorithm_store, NULL },
	{ { "bd_stat", RO }, bd_stat_show, NULL, NULL },
	{ { "backing_dev", RW }, zram_backing_dev_show, zram_backing_dev_store, NULL },
	{ { "writeback", WO }, NULL, zram_writeback_store, NULL },
	{ { "writeback_limit", RW }, zram_writeback_limit_show, zram_writeback_limit_store, NULL },
	{ { "writeback_limit_enable", RW }, zram_writeback_limit_enable_show,
	  zram_writeback_limit_enable_store, NULL },
	{ { "writeback_batch_size", RW }, zram_writeback_batch_size_show,
	  zram_writeback_batch_size_store, NULL },
	{ { "compressed_writeback", RW }, zram_compressed_writeback_show,
	  zram_compressed_writeback_store, NULL },
	{ { "io_stat", RO }, io_stat_show, NULL, NULL },
	{ { "mm_stat", RO }, mm_stat_show, NULL, NULL },
	{ { "debug_stat", RO }, debug_stat_show, NULL, NULL },
	{ { "recomp_algorithm", RW }, recomp_algorithm_show, recomp_algorithm_store, NULL },
	{ { "recompress", WO }, NULL, zram_recompress_store, NULL },
	{ { "algorithm_params", WO }, NULL, algorithm_params_store, NULL },
	/* not zram's group, but beside it in the device's directory */
	{ { "stat", RO }, stat_show, NULL, NULL },
	{ { "block_state", 0400 }, block_state_show, NULL, NULL },
	/*
	 * The block layer's files of a disk [block/genhd.c: disk_attrs]: a zram
	 * disk has no partitions, is never read-only or removable (zram_add()
	 * sets neither) and its partition 0 starts at 0.
	 */
	{ { "size", RO }, size_show, NULL, NULL },
	{ { "dev", RO }, dev_show, NULL, NULL },
	FIXED("ro", "0\n"),
	FIXED("removable", "0\n"),
	FIXED("alignment_offset", "0\n"),
	FIXED("discard_alignment", "0\n"),
	/*
	 * queue/ [block/blk-sysfs.c: queue_attrs], with what zram_add()'s
	 * queue_limits give once blk_validate_limits() (block/blk-settings.c)
	 * has filled in the rest; docs/attributes.md says which is which. uzram
	 * has no request queue: these never change, and a store is refused
	 * (0444) where the kernel's sysfs takes one.
	 */
	FIXED("queue/add_random", "0\n"),
	FIXED("queue/dax", "0\n"),
	FIXED("queue/discard_granularity", "4096\n"),
	FIXED("queue/discard_max_bytes", "2199023255040\n"),
	FIXED("queue/discard_max_hw_bytes", "2199023255040\n"),
	FIXED("queue/discard_zeroes_data", "0\n"),
	FIXED("queue/hw_sector_size", "4096\n"),
	FIXED("queue/logical_block_size", "4096\n"),
	FIXED("queue/max_discard_segments", "1\n"),
	FIXED("queue/max_hw_sectors_kb", "124\n"),
	FIXED("queue/max_sectors_kb", "124\n"),
	FIXED("queue/max_segment_size", "65536\n"),
	FIXED("queue/max_segments", "128\n"),
	FIXED("queue/minimum_io_size", "4096\n"),
	FIXED("queue/nomerges", "0\n"),
	FIXED("queue/optimal_io_size", "4096\n"),
	FIXED("queue/physical_block_size", "4096\n"),
	FIXED("queue/read_ahead_kb", "128\n"),
	FIXED("queue/rotational", "0\n"),
	FIXED("queue/stable_writes", "1\n"),
	FIXED("queue/write_cache", "write through\n"),
	FIXED("queue/write_same_max_bytes", "0\n"),
	FIXED("queue/write_zeroes_max_bytes", "2199023255040\n"),
	FIXED("queue/zoned", "none\n"),
};

size_t zram_attr_count(void)
{
	return UZ_ARRAY_SIZE(zram_attrs);
}

const struct uzram_attr_info *zram_attr_info(size_t i)
{
	return i < UZ_ARRAY_SIZE(zram_attrs) ? &zram_attrs[i].info : NULL;
}

static const struct zram_attr *attr_find(const char *name)
{
	for (size_t i = 0; i < UZ_ARRAY_SIZE(zram_attrs); i++)
		if (!strcmp(zram_attrs[i].info.name, name))
			return &zram_attrs[i];
	return NULL;
}

const struct uzram_attr_info *zram_attr_info_find(const char *name)
{
	const struct zram_attr *a = attr_find(name);

	return a ? &a->info : NULL;
}

long zram_attr_show(struct zram *zram, const char *name, char *buf,
		    size_t size)
{
	const struct zram_attr *a = attr_find(name);

	if (!a)
		return -ENOENT;
	if (a->text)
		return emit(buf, size, "%s", a->text);
	if (!a->show)
		return -EACCES;
	long n = a->show(zram, buf, size);
	if (n >= 0 && (size_t)n < size)
		buf[n] = '\0';
	return n;
}

/* As sysfs: at most one page is written at once, and the store sees a
 * NUL-terminated copy. */
int zram_attr_store(struct zram *zram, const char *name, const char *buf,
		    size_t len)
{
	const struct zram_attr *a = attr_find(name);
	char *copy;
	int ret;

	if (!a)
		return -ENOENT;
	if (!a->store)
		return -EACCES;
	if (len > UZ_PAGE_SIZE)
		return -E2BIG;
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, buf, len);
	copy[len] = '\0';
	ret = a->store(zram, copy, len);
	free(copy);
	return ret;
}
