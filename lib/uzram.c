/*
 * uzram.c - the public API: the registry of devices (the kernel's
 * zram-control), device references and open handles, and the thin wrappers
 * from include/uzram.h onto the device (zram_drv.c, zram_attr.c). The
 * registry's path policy (util/path_policy.h) is handed to every device it
 * creates: the device checks paths against it, never calls back up here.
 *
 * Lifetime. The registry maps ids to devices under its mutex. Every API call
 * that names a device by id takes a reference for its duration; an open
 * handle holds one reference and counts as an opener. hot_remove and reset
 * refuse a device with openers (-EBUSY) and claim it while they work; the
 * memory goes when the last reference does.
 *
 * Images (docs/image.md): a save takes a reference and leaves the rest to
 * the device (zram/image.c); a restore also claims the device, as a reset
 * does, so that nobody opens it meanwhile. The file variants name paths
 * through the registry's path policy, and replace a saved file whole.
 *
 * The observer (a front end that mirrors devices, like the ublk block
 * devices) hears of every successful disksize store or restore, and is asked to close
 * its releasable handles before a reset or removal that nothing else keeps
 * from proceeding; it may refuse (its block device is in use: -EBUSY).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file.h"
#include "util/parse.h"
#include "util/path_policy.h"
#include "util/reason.h"
#include "uzram.h"
#include "zram/zram_drv.h"

struct uzram {
	pthread_mutex_t lock;
	struct zram **devs;	/* index = id; NULL = free id */
	size_t nr_slots;
	struct path_policy paths;	/* devices hold a pointer to it */
	uint64_t reserve;		/* for devices made from now on, under lock */
	struct uzram_observer observer;	/* under lock */
	unsigned int observer_calls;	/* calls in progress, under lock */
	pthread_cond_t observer_idle;	/* observer_calls fell to 0 */
};

struct uzram_dev {
	struct zram *zram;
	bool releasable;
};

static void zram_get(struct zram *zram)
{
	atomic_fetch_add(&zram->refs, 1);
}

static void zram_put(struct zram *zram)
{
	if (atomic_fetch_sub(&zram->refs, 1) == 1)
		zram_destroy(zram);
}

/* A reference to device id, or NULL. */
static struct zram *lookup(struct uzram *z, int id)
{
	struct zram *zram = NULL;

	if (id < 0)
		return NULL;
	pthread_mutex_lock(&z->lock);
	if ((size_t)id < z->nr_slots && z->devs[id]) {
		zram = z->devs[id];
		zram_get(zram);
	}
	pthread_mutex_unlock(&z->lock);
	return zram;
}

int uzram_hot_add(struct uzram *z)
{
	struct zram *zram;
	size_t id;

	pthread_mutex_lock(&z->lock);
	for (id = 0; id < z->nr_slots && z->devs[id]; id++)
		;
	if (id == z->nr_slots) {
		size_t n = z->nr_slots ? z->nr_slots * 2 : 4;
		struct zram **devs = id < INT32_MAX ?
			realloc(z->devs, n * sizeof(*devs)) : NULL;
		if (!devs) {
			pthread_mutex_unlock(&z->lock);
			return -ENOMEM;
		}
		memset(devs + z->nr_slots, 0, (n - z->nr_slots) * sizeof(*devs));
		z->devs = devs;
		z->nr_slots = n;
	}
	zram = zram_create((int)id, &z->paths);
	if (!zram) {
		pthread_mutex_unlock(&z->lock);
		return -ENOMEM;
	}
	zram->reserve = z->reserve;
	z->devs[id] = zram;
	pthread_mutex_unlock(&z->lock);
	return (int)id;
}

/*
 * The observer, for one call made without the lock: observer_put when it
 * returns. uzram_set_observer waits for the calls in progress, so that the
 * front end can free what arg points to once it has removed itself.
 */
static struct uzram_observer observer_get(struct uzram *z)
{
	struct uzram_observer o;

	pthread_mutex_lock(&z->lock);
	o = z->observer;
	z->observer_calls++;
	pthread_mutex_unlock(&z->lock);
	return o;
}

static void observer_put(struct uzram *z)
{
	pthread_mutex_lock(&z->lock);
	if (--z->observer_calls == 0)
		pthread_cond_broadcast(&z->observer_idle);
	pthread_mutex_unlock(&z->lock);
}

/*
 * Before a reset or removal: if the only openers left are releasable
 * handles, ask the observer to close them. -EBUSY when other openers remain
 * or the observer refuses; 0 otherwise (the caller still checks openers:
 * someone may open the device in between, as with the kernel's zram).
 */
static int release_for(struct uzram *z, struct zram *zram)
{
	struct uzram_observer o;
	unsigned int others, releasable;
	int ret = 0;

	pthread_mutex_lock(&zram->open_lock);
	others = zram->openers - zram->releasable;
	releasable = zram->releasable;
	if (zram->claim)
		others++;
	pthread_mutex_unlock(&zram->open_lock);
	if (others)
		return uz_refuse(-EBUSY, "device is open");
	if (!releasable)
		return 0;
	o = observer_get(z);
	if (o.release)
		ret = o.release(o.arg, zram->id);
	observer_put(z);
	return ret == -EBUSY ? uz_refuse(ret, "its block device is open") : ret;
}

/* A reset or removal failed after release_for let the observer close its
 * handles: if the device is still initialised, the observer takes it back. */
static void release_undo(struct uzram *z, struct zram *zram, int id)
{
	struct uzram_observer o = observer_get(z);
	uint64_t size = atomic_load_explicit(&zram->disksize, memory_order_acquire);

	if (o.initialised && size)
		o.initialised(o.arg, id, size);
	observer_put(z);
}

int uzram_hot_remove(struct uzram *z, int id)
{
	struct zram *zram;
	int ret;

	if (id < 0)
		return -EINVAL;
	zram = lookup(z, id);
	if (!zram)
		return -ENODEV;
	ret = release_for(z, zram);
	zram_put(zram);
	if (ret)
		return ret;
	pthread_mutex_lock(&z->lock);
	if ((size_t)id >= z->nr_slots || !z->devs[id]) {
		pthread_mutex_unlock(&z->lock);
		return -ENODEV;
	}
	zram = z->devs[id];
	pthread_mutex_lock(&zram->open_lock);
	if (zram->openers || zram->claim) {
		pthread_mutex_unlock(&zram->open_lock);
		zram_get(zram);
		pthread_mutex_unlock(&z->lock);
		release_undo(z, zram, id);
		zram_put(zram);
		return uz_refuse(-EBUSY, "device is open");
	}
	zram->claim = true;
	pthread_mutex_unlock(&zram->open_lock);
	z->devs[id] = NULL;
	pthread_mutex_unlock(&z->lock);

	pthread_rwlock_wrlock(&zram->dev_lock);
	zram_reset_device(zram);
	pthread_rwlock_unlock(&zram->dev_lock);
	zram_put(zram);
	return 0;
}

long uzram_control_show(struct uzram *z, const char *name, char *buf,
			size_t size)
{
	int id;

	if (!strcmp(name, "hot_remove"))
		return -EACCES;
	if (strcmp(name, "hot_add"))
		return -ENOENT;
	id = uzram_hot_add(z);
	if (id < 0)
		return id;
	return snprintf(buf, size, "%d\n", id);
}

/* hot_remove's store, for uzram_control_store. */
static int control_store(struct uzram *z, const char *name, const char *buf,
			 size_t len)
{
	char *tmp;
	int id, ret;

	if (!strcmp(name, "hot_add"))
		return -EACCES;
	if (strcmp(name, "hot_remove"))
		return -ENOENT;
	if (len > UZRAM_PAGE_SIZE)
		return -E2BIG;
	tmp = strndup(buf, len);
	if (!tmp)
		return -ENOMEM;
	ret = kstrtoint(tmp, 10, &id);
	free(tmp);
	if (ret)
		return ret;
	return uzram_hot_remove(z, id);
}

int uzram_control_store(struct uzram *z, const char *name, const char *buf,
			size_t len)
{
	int ret;

	uz_reason_clear();
	ret = control_store(z, name, buf, len);
	if (!ret)
		uz_reason_clear();
	return ret;
}

const char *uzram_store_reason(void)
{
	return uz_reason();
}

int uzram_new(struct uzram **out, unsigned int num_devices)
{
	struct uzram *z = calloc(1, sizeof(*z));

	*out = NULL;
	if (!z)
		return -ENOMEM;
	pthread_mutex_init(&z->lock, NULL);
	pthread_cond_init(&z->observer_idle, NULL);
	path_policy_init(&z->paths);
	for (unsigned int i = 0; i < num_devices; i++) {
		int ret = uzram_hot_add(z);
		if (ret < 0) {
			uzram_free(z);
			return ret;
		}
	}
	*out = z;
	return 0;
}

void uzram_free(struct uzram *z)
{
	if (!z)
		return;
	for (size_t id = 0; id < z->nr_slots; id++)
		if (z->devs[id])
			zram_put(z->devs[id]);
	free(z->devs);
	path_policy_destroy(&z->paths);
	pthread_cond_destroy(&z->observer_idle);
	pthread_mutex_destroy(&z->lock);
	free(z);
}

int uzram_set_path_allowlist(struct uzram *z, const char *const *dirs, size_t n)
{
	return path_policy_set(&z->paths, dirs, n);
}

int uzram_name_id(const char *name, size_t len)
{
	long long id = 0;

	if (len < 5 || memcmp(name, "zram", 4) || (name[4] == '0' && len > 5))
		return -EINVAL;
	for (size_t i = 4; i < len; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -EINVAL;
		id = id * 10 + (name[i] - '0');
		if (id > INT_MAX)
			return -EINVAL;
	}
	return (int)id;
}

/* Existing ids into ids[0, max); returns how many exist (z->lock held). */
static size_t list_locked(struct uzram *z, int *ids, size_t max)
{
	size_t n = 0;

	for (size_t id = 0; id < z->nr_slots; id++) {
		if (!z->devs[id])
			continue;
		if (n < max)
			ids[n] = (int)id;
		n++;
	}
	return n;
}

size_t uzram_list(struct uzram *z, int *ids, size_t max)
{
	size_t n;

	pthread_mutex_lock(&z->lock);
	n = list_locked(z, ids, max);
	pthread_mutex_unlock(&z->lock);
	return n;
}

long uzram_list_all(struct uzram *z, int **ids)
{
	size_t n = 0;

	pthread_mutex_lock(&z->lock);
	*ids = malloc((z->nr_slots ? z->nr_slots : 1) * sizeof(**ids));
	if (*ids)
		n = list_locked(z, *ids, z->nr_slots);
	pthread_mutex_unlock(&z->lock);
	return *ids ? (long)n : -ENOMEM;
}

bool uzram_exists(struct uzram *z, int id)
{
	struct zram *zram = lookup(z, id);

	if (zram)
		zram_put(zram);
	return zram != NULL;
}

size_t uzram_attr_count(void)
{
	return zram_attr_count();
}

const struct uzram_attr_info *uzram_attr_at(size_t i)
{
	return zram_attr_info(i);
}

const struct uzram_attr_info *uzram_attr_find(const char *name)
{
	return zram_attr_info_find(name);
}

long uzram_attr_show(struct uzram *z, int id, const char *name, char *buf,
		     size_t size)
{
	struct zram *zram = lookup(z, id);
	long ret;

	if (!zram)
		return -ENODEV;
	ret = zram_attr_show(zram, name, buf, size);
	zram_put(zram);
	return ret;
}

/* A store to reset that would reset (kstrtou16, not 0): worth a release. */
static bool resets(const char *buf, size_t len)
{
	char tmp[32];
	uint16_t v;

	if (len >= sizeof(tmp))
		return false;
	memcpy(tmp, buf, len);
	tmp[len] = '\0';
	return kstrtou16(tmp, 10, &v) == 0 && v;
}

/* The store, for uzram_attr_store: the facade's part around the device's. */
static int attr_store(struct uzram *z, int id, const char *name,
		      const char *buf, size_t len)
{
	struct zram *zram = lookup(z, id);
	bool reset = !strcmp(name, "reset") && resets(buf, len);
	int ret;

	if (!zram)
		return -ENODEV;
	if (reset) {
		ret = release_for(z, zram);
		if (ret) {
			zram_put(zram);
			return ret;
		}
	}
	ret = zram_attr_store(zram, name, buf, len);
	if (reset && ret) {
		release_undo(z, zram, id);
	} else if (!ret && !strcmp(name, "disksize")) {
		struct uzram_observer o = observer_get(z);

		if (o.initialised)
			o.initialised(o.arg, id, atomic_load(&zram->disksize));
		observer_put(z);
	}
	zram_put(zram);
	return ret;
}

int uzram_attr_store(struct uzram *z, int id, const char *name,
		     const char *buf, size_t len)
{
	int ret;

	uz_reason_clear();
	ret = attr_store(z, id, name, buf, len);
	if (!ret)
		uz_reason_clear();
	return ret;
}

/* ---- images ---- */

int uzram_save(struct uzram *z, int id, int fd)
{
	struct zram *zram = lookup(z, id);
	int ret;

	uz_reason_clear();
	if (!zram)
		return -ENODEV;
	ret = zram_image_save(zram, fd);
	zram_put(zram);
	if (!ret)
		uz_reason_clear();
	return ret;
}

int uzram_save_file(struct uzram *z, int id, const char *path)
{
	char tmp[320];
	const char *name;
	int dirfd, fd, ret;

	if (!uzram_exists(z, id))
		return -ENODEV;
	uz_reason_clear();
	dirfd = path_policy_open_parent(&z->paths, path, &name);
	if (dirfd < 0)
		return dirfd;
	fd = file_replace_begin(dirfd, name, tmp, sizeof(tmp));
	ret = fd < 0 ? fd : uzram_save(z, id, fd);
	if (fd >= 0 && ret)
		file_replace_abort(dirfd, fd, tmp);
	else if (fd >= 0)
		ret = file_replace_commit(dirfd, fd, tmp, name);
	close(dirfd);
	return ret;
}

/* Claim an unopened device, as a reset does: -EBUSY when it is open. */
static int claim(struct zram *zram)
{
	int ret = 0;

	pthread_mutex_lock(&zram->open_lock);
	if (zram->openers || zram->claim)
		ret = uz_refuse(-EBUSY, "device is open");
	else
		zram->claim = true;
	pthread_mutex_unlock(&zram->open_lock);
	return ret;
}

static void unclaim(struct zram *zram)
{
	pthread_mutex_lock(&zram->open_lock);
	zram->claim = false;
	pthread_mutex_unlock(&zram->open_lock);
}

/* The restore, for uzram_restore and uzram_restore_file. */
static int restore_fd(struct uzram *z, int id, int fd)
{
	struct zram *zram = lookup(z, id);
	struct uzram_observer o;
	int ret;

	if (!zram)
		return -ENODEV;
	ret = claim(zram);
	if (!ret) {
		ret = zram_image_restore(zram, fd);
		unclaim(zram);
	}
	if (!ret) {
		o = observer_get(z);
		if (o.initialised)
			o.initialised(o.arg, id, atomic_load(&zram->disksize));
		observer_put(z);
	}
	zram_put(zram);
	return ret;
}

int uzram_restore(struct uzram *z, int id, int fd)
{
	int ret;

	uz_reason_clear();
	ret = restore_fd(z, id, fd);
	if (!ret)
		uz_reason_clear();
	return ret;
}

int uzram_restore_file(struct uzram *z, int id, const char *path)
{
	struct stat st;
	int fd, ret;

	uz_reason_clear();
	if (!uzram_exists(z, id))
		return -ENODEV;
	fd = path_policy_open(&z->paths, path, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st))
		ret = -errno;
	else if (S_ISDIR(st.st_mode))
		ret = -EISDIR;
	else if (!S_ISREG(st.st_mode))
		ret = uz_refuse(-EINVAL, "not a regular file");
	else
		ret = restore_fd(z, id, fd);
	close(fd);
	if (!ret)
		uz_reason_clear();
	return ret;
}

void uzram_set_reserve(struct uzram *z, uint64_t bytes)
{
	pthread_mutex_lock(&z->lock);
	z->reserve = bytes;
	for (size_t id = 0; id < z->nr_slots; id++)
		if (z->devs[id])
			__atomic_store_n(&z->devs[id]->reserve, bytes, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&z->lock);
}

void uzram_set_observer(struct uzram *z, const struct uzram_observer *o)
{
	pthread_mutex_lock(&z->lock);
	if (o)
		z->observer = *o;
	else
		memset(&z->observer, 0, sizeof(z->observer));
	/* Calls of the old observer still running finish first. */
	while (z->observer_calls)
		pthread_cond_wait(&z->observer_idle, &z->lock);
	pthread_mutex_unlock(&z->lock);
}

long uzram_block_state(struct uzram *z, int id, uint64_t *pos, char *buf,
		       size_t size)
{
	struct zram *zram = lookup(z, id);
	long ret;

	if (!zram)
		return -ENODEV;
	ret = zram_block_state_show(zram, pos, buf, size);
	zram_put(zram);
	return ret;
}

int uzram_stats(struct uzram *z, int id, struct uzram_stats *st)
{
	struct zram *zram = lookup(z, id);

	if (!zram)
		return -ENODEV;
	zram_fill_stats(zram, st);
	zram_put(zram);
	return 0;
}

static int open_handle(struct uzram *z, int id, bool releasable,
		       struct uzram_dev **out)
{
	struct zram *zram = lookup(z, id);
	struct uzram_dev *d;

	*out = NULL;
	if (!zram)
		return -ENODEV;
	d = malloc(sizeof(*d));
	if (!d) {
		zram_put(zram);
		return -ENOMEM;
	}
	pthread_mutex_lock(&zram->open_lock);
	if (zram->claim) {
		pthread_mutex_unlock(&zram->open_lock);
		zram_put(zram);
		free(d);
		return -EBUSY;
	}
	zram->openers++;
	zram->releasable += releasable;
	pthread_mutex_unlock(&zram->open_lock);
	d->zram = zram;
	d->releasable = releasable;
	*out = d;
	return 0;
}

int uzram_open(struct uzram *z, int id, struct uzram_dev **out)
{
	return open_handle(z, id, false, out);
}

int uzram_open_releasable(struct uzram *z, int id, struct uzram_dev **out)
{
	return open_handle(z, id, true, out);
}

void uzram_close(struct uzram_dev *d)
{
	struct zram *zram;

	if (!d)
		return;
	zram = d->zram;
	pthread_mutex_lock(&zram->open_lock);
	zram->openers--;
	zram->releasable -= d->releasable;
	pthread_mutex_unlock(&zram->open_lock);
	zram_put(zram);
	free(d);
}

uint64_t uzram_dev_size(const struct uzram_dev *d)
{
	return atomic_load_explicit(&d->zram->disksize, memory_order_acquire);
}

int uzram_read(struct uzram_dev *d, void *buf, uint64_t offset, size_t len)
{
	return zram_io_read(d->zram, buf, offset, len);
}

int uzram_write(struct uzram_dev *d, const void *buf, uint64_t offset,
		size_t len)
{
	return zram_io_write(d->zram, buf, offset, len);
}

bool uzram_write_refused(struct uzram_dev *d)
{
	return zram_write_refused(d->zram);
}

int uzram_discard(struct uzram_dev *d, uint64_t offset, uint64_t len)
{
	return zram_io_discard(d->zram, offset, len);
}

int uzram_write_zeroes(struct uzram_dev *d, uint64_t offset, uint64_t len)
{
	return zram_io_write_zeroes(d->zram, offset, len);
}

int uzram_flush(struct uzram_dev *d)
{
	return 0;	/* RAM: everything acknowledged is already visible */
}

int uzram_page_state(struct uzram_dev *d, uint64_t offset)
{
	return zram_io_page_state(d->zram, offset);
}

size_t uzram_algorithm_count(void)
{
	return zcomp_nr_backends();
}

const char *uzram_algorithm_name(size_t i)
{
	const struct zcomp_ops *ops = zcomp_backend(i);

	return ops ? ops->name : NULL;
}

struct uzram_codec {
	struct zcomp *comp;
	struct zcomp_params params;
};

int uzram_codec_new(const char *algorithm, struct uzram_codec **out)
{
	struct uzram_codec *c = calloc(1, sizeof(*c));
	int ret;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	zcomp_params_init(&c->params);
	ret = zcomp_create(&c->comp, algorithm, &c->params, 1);
	if (ret) {
		free(c);
		return ret;
	}
	*out = c;
	return 0;
}

void uzram_codec_free(struct uzram_codec *c)
{
	if (!c)
		return;
	zcomp_destroy(c->comp);
	free(c);
}

int uzram_codec_compress(struct uzram_codec *c, const void *page, void *out,
			 size_t *out_len)
{
	struct zcomp_strm *zstrm = zcomp_stream_get(c->comp);
	unsigned int n;
	int ret = zcomp_compress(c->comp, zstrm, page, &n);

	if (!ret) {
		memcpy(out, zstrm->buffer, n);
		*out_len = n;
	}
	zcomp_stream_put(zstrm);
	return ret;
}

int uzram_codec_decompress(struct uzram_codec *c, const void *in, size_t len,
			   void *page)
{
	struct zcomp_strm *zstrm = zcomp_stream_get(c->comp);
	int ret = len > 2 * UZ_PAGE_SIZE ? -EINVAL :
		  zcomp_decompress(c->comp, zstrm, in, (unsigned int)len, page);

	zcomp_stream_put(zstrm);
	return ret;
}
