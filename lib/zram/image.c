/*
 * image.c - a device saved to a file, and restored from one (docs/image.md).
 * The kernel's zram has no counterpart: it loses its contents with the
 * machine, or hands them to swap.
 *
 * Layout. An image is a header (magic, version, page size, disksize,
 * mem_limit, the algorithm and its parameters at each priority, the
 * dictionaries' bytes; its own CRC32), chunks of slot records in index
 * order (each with the CRC32 of its head and records), and a trailer (the
 * counts of records, same-filled and huge pages, compressed bytes, and a
 * CRC32 over the header's, every chunk's and its own fields). A record is
 * one stored slot as the pool holds it: the compressed object's bytes as
 * they are (no recompression), the same-filled word, or the huge page;
 * with its flags (IDLE, INCOMPRESSIBLE, the algorithm's priority) and the
 * age of its last access. A slot written back is read from the backing
 * store and recorded as it lies there: compressed bytes under
 * compressed_writeback, else the whole page as a huge one.
 *
 * Locking. A save runs under dev_lock (read), as the stat shows do:
 * the configuration stays, writeback and recompression wait, and I/O goes
 * on. Each slot is copied under its slot lock, as a read copies it, so each
 * page of the image is that page at one moment; different pages are
 * copied at different moments (a device written meanwhile is not saved as
 * of one instant). A restore runs under dev_lock (write) on an
 * uninitialised device the facade has claimed (no opener, none can come):
 * it builds the table, the pool and the streams as a disksize store does
 * (zram_setup_device), installs each chunk once its CRC matched, and
 * publishes disksize only once the trailer has; on any error the device is
 * reset, so nobody ever sees a device half restored.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "util/reason.h"
#include "zram_drv.h"

#define IMG_MAGIC	"UZRAMIMG"
#define IMG_VERSION	1u
#define IMG_HEAD	240u		/* the header without dictionaries */
#define IMG_ALG_NAME	32u
#define IMG_DICT_MAX	(64u << 20)
#define OFF_VERSION	8
#define OFF_HSIZE	12
#define OFF_PAGE	16
#define OFF_FLAGS	20
#define OFF_DISKSIZE	24
#define OFF_MEMLIMIT	32
#define OFF_ALGS	40		/* 4 names of 32 bytes */
#define OFF_PARAMS	168		/* 4 x (level, winbits, dict size, 0) */
#define OFF_HCRC	232

#define CHUNK_MAGIC	0x544f4c53u	/* "SLOT" */
#define TRAILER_MAGIC	0x444e4555u	/* "UEND" */
#define CHUNK_HEAD	16u
#define CHUNK_PAYLOAD	(1u << 20)	/* what a save writes */
#define CHUNK_MAX	(4u << 20)	/* what a restore takes */
#define TRAILER_SIZE	56u
#define REC_HEAD	16u

#define REC_SAME	(1u << 0)
#define REC_HUGE	(1u << 1)
#define REC_IDLE	(1u << 2)
#define REC_INCOMPRESSIBLE (1u << 3)
#define REC_PRIO_SHIFT	4
#define REC_KNOWN	0x3fu
#define AGE_NONE	UINT32_MAX	/* never accessed: ac_time 0 */

/* What the records add up to, checked against the trailer. */
struct img_counts {
	uint64_t records, same, huge, compr, chunks;
};

/* zlib's crc32, which gives its initial value for a NULL buf. */
static uint32_t crc(uint32_t c, const void *buf, size_t len)
{
	return len ? (uint32_t)crc32(c, buf, (uInt)len) : c;
}

/* The file's checksum goes over the header's and each chunk's CRC. */
static uint32_t crc_of_crc(uint32_t c, uint32_t part)
{
	uint8_t b[4];

	uz_put_le32(b, part);
	return crc(c, b, sizeof(b));
}

/* ======== save ======== */

struct img_writer {
	int fd;
	uint8_t *chunk;		/* CHUNK_HEAD + CHUNK_PAYLOAD */
	uint32_t len, nrec;	/* the chunk's payload so far */
	uint32_t file_crc;
	uint32_t now;		/* zram_now() at the start */
	uint8_t *bounce;	/* a page aligned for O_DIRECT backing reads */
	struct img_counts n;
};

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The fixed part of the header (dictionaries follow it). */
static void header_fill(struct zram *zram, uint8_t *h)
{
	memset(h, 0, IMG_HEAD);
	memcpy(h, IMG_MAGIC, 8);
	uz_put_le32(h + OFF_VERSION, IMG_VERSION);
	uz_put_le32(h + OFF_PAGE, UZ_PAGE_SIZE);
	uz_put_le64(h + OFF_DISKSIZE, atomic_load(&zram->disksize));
	uz_put_le64(h + OFF_MEMLIMIT, atomic_load(&zram->limit_pages) << UZ_PAGE_SHIFT);
	uint32_t size = IMG_HEAD;
	for (int prio = 0; prio < ZRAM_MAX_COMPS; prio++) {
		const struct zcomp_params *p = &zram->params[prio];
		uint8_t *q = h + OFF_PARAMS + 16 * prio;

		if (!zram->comps[prio])
			continue;
		memcpy(h + OFF_ALGS + IMG_ALG_NAME * prio, zram->comp_algs[prio],
		       UZ_MIN(strlen(zram->comp_algs[prio]), IMG_ALG_NAME - 1));
		uz_put_le32(q, (uint32_t)p->level);
		uz_put_le32(q + 4, (uint32_t)p->deflate_winbits);
		uz_put_le32(q + 8, (uint32_t)p->dict_sz);
		size += (uint32_t)p->dict_sz;
	}
	uz_put_le32(h + OFF_HSIZE, size);
}

static int save_header(struct zram *zram, struct img_writer *w)
{
	uint8_t h[IMG_HEAD];
	uint32_t c;
	int ret;

	for (int prio = 0; prio < ZRAM_MAX_COMPS; prio++)
		if (zram->comps[prio] && zram->params[prio].dict_sz > IMG_DICT_MAX)
			return uz_refuse(-EFBIG, "a dictionary larger than an image takes (64 MiB)");
	header_fill(zram, h);
	c = crc(0, h, OFF_HCRC);
	for (int prio = 0; prio < ZRAM_MAX_COMPS; prio++)
		if (zram->comps[prio])
			c = crc(c, zram->params[prio].dict, zram->params[prio].dict_sz);
	uz_put_le32(h + OFF_HCRC, c);
	w->file_crc = crc_of_crc(0, c);
	ret = write_all(w->fd, h, IMG_HEAD);
	for (int prio = 0; prio < ZRAM_MAX_COMPS && !ret; prio++)
		if (zram->comps[prio] && zram->params[prio].dict_sz)
			ret = write_all(w->fd, zram->params[prio].dict,
					zram->params[prio].dict_sz);
	return ret;
}

/* Write the chunk gathered so far, if any. */
static int chunk_flush(struct img_writer *w)
{
	uint32_t c;

	if (!w->nrec)
		return 0;
	uz_put_le32(w->chunk, CHUNK_MAGIC);
	uz_put_le32(w->chunk + 4, w->nrec);
	uz_put_le32(w->chunk + 8, w->len);
	c = crc(0, w->chunk, 12);
	c = crc(c, w->chunk + CHUNK_HEAD, w->len);
	uz_put_le32(w->chunk + 12, c);
	w->file_crc = crc_of_crc(w->file_crc, c);
	w->n.chunks++;
	w->nrec = 0;
	c = CHUNK_HEAD + w->len;
	w->len = 0;
	return write_all(w->fd, w->chunk, c);
}

/*
 * A slot on the backing store (locked), as it lies there: the compressed
 * bytes under compressed_writeback, else the whole page, recorded huge.
 * The record's payload size, or -errno.
 */
static int rec_from_bdev(struct zram *zram, uint32_t index, uint8_t *rec,
			 uint8_t *bounce, uint32_t *rflags)
{
	unsigned int size = zram_get_obj_size(zram, index);
	bool raw = !zram->compressed_wb || zram_test_flag(zram, index, ZRAM_HUGE);

	if (zram_bdev_read_block(zram, zram->table[index].handle, bounce))
		return uz_refuse(-EIO, "a written-back page could not be read from the "
				 "backing device");
	if (raw) {
		*rflags |= REC_HUGE;
		size = UZ_PAGE_SIZE;
	} else {
		*rflags |= zram_get_priority(zram, index) << REC_PRIO_SHIFT;
	}
	memcpy(rec + REC_HEAD, bounce, size);
	return (int)size;
}

/* A slot in memory (locked): the object's bytes or the fill word. */
static int rec_from_pool(struct zram *zram, uint32_t index, uint8_t *rec,
			 uint32_t *rflags)
{
	unsigned long handle = zram->table[index].handle;
	unsigned int size = zram_get_obj_size(zram, index);
	const void *src;

	if (zram_test_flag(zram, index, ZRAM_SAME)) {
		*rflags |= REC_SAME;
		uz_put_le64(rec + REC_HEAD, handle);
		return 8;
	}
	if (zram_test_flag(zram, index, ZRAM_HUGE))
		*rflags |= REC_HUGE;
	else
		*rflags |= zram_get_priority(zram, index) << REC_PRIO_SHIFT;
	src = zs_obj_read_begin(zram->mem_pool, handle, NULL);
	memcpy(rec + REC_HEAD, src, size);
	zs_obj_read_end(zram->mem_pool, handle, src);
	return (int)size;
}

/* Slot index (locked) as a record at rec: its length, 0 when the slot is
 * empty, or -errno. */
static int rec_fill(struct zram *zram, struct img_writer *w, uint32_t index,
		    uint8_t *rec)
{
	uint32_t ac = zram->table[index].ac_time, rflags = 0;
	int size;

	if (!zram_slot_allocated(zram, index))
		return 0;
	if (zram_test_flag(zram, index, ZRAM_IDLE))
		rflags |= REC_IDLE;
	if (zram_test_flag(zram, index, ZRAM_INCOMPRESSIBLE))
		rflags |= REC_INCOMPRESSIBLE;
	if (zram_test_flag(zram, index, ZRAM_WB))
		size = rec_from_bdev(zram, index, rec, w->bounce, &rflags);
	else
		size = rec_from_pool(zram, index, rec, &rflags);
	if (size < 0)
		return size;
	uz_put_le32(rec, index);
	uz_put_le32(rec + 4, rflags);
	uz_put_le32(rec + 8, !ac ? AGE_NONE : w->now > ac ? w->now - ac : 0);
	uz_put_le32(rec + 12, (uint32_t)size);
	w->n.records++;
	w->n.same += !!(rflags & REC_SAME);
	w->n.huge += !!(rflags & REC_HUGE);
	w->n.compr += rflags & REC_SAME ? 0 : (uint64_t)size;
	return (int)REC_HEAD + size;
}

/*
 * Every stored slot into chunks. A slot seen unlocked and empty in one load
 * of its flags is empty at that moment: skipped without taking its lock.
 */
static int save_slots(struct zram *zram, struct img_writer *w)
{
	const uint32_t lock = 1u << ZRAM_ENTRY_LOCK;
	int ret = 0;

	for (uint64_t i = 0; i < zram->nr_pages && ret >= 0; i++) {
		uint32_t index = (uint32_t)i;
		uint32_t f = atomic_load_explicit(&zram->table[index].flags,
						  memory_order_relaxed);

		if (!(f & lock) && !(f & ZRAM_SIZE_MASK) &&
		    !(f & ((1u << ZRAM_SAME) | (1u << ZRAM_WB))))
			continue;
		if (w->len + REC_HEAD + UZ_PAGE_SIZE > CHUNK_PAYLOAD)
			ret = chunk_flush(w);
		if (ret < 0)
			break;
		zram_slot_lock(zram, index);
		ret = rec_fill(zram, w, index, w->chunk + CHUNK_HEAD + w->len);
		zram_slot_unlock(zram, index);
		if (ret > 0) {
			w->len += (uint32_t)ret;
			w->nrec++;
		}
	}
	return ret < 0 ? ret : chunk_flush(w);
}

static int save_trailer(struct img_writer *w)
{
	uint8_t t[TRAILER_SIZE] = { 0 };

	uz_put_le32(t, TRAILER_MAGIC);
	uz_put_le64(t + 8, w->n.records);
	uz_put_le64(t + 16, w->n.chunks);
	uz_put_le64(t + 24, w->n.same);
	uz_put_le64(t + 32, w->n.huge);
	uz_put_le64(t + 40, w->n.compr);
	uz_put_le32(t + 48, crc(w->file_crc, t, 48));
	return write_all(w->fd, t, sizeof(t));
}

int zram_image_save(struct zram *zram, int fd)
{
	struct img_writer w = { .fd = fd, .now = zram_now() };
	int ret;

	w.chunk = malloc(CHUNK_HEAD + CHUNK_PAYLOAD);
	w.bounce = uz_aligned_alloc(UZ_PAGE_SIZE, UZ_PAGE_SIZE);
	if (!w.chunk || !w.bounce) {
		free(w.chunk);
		free(w.bounce);
		return -ENOMEM;
	}
	pthread_rwlock_rdlock(&zram->dev_lock);
	if (!init_done(zram))
		ret = uz_refuse(-EINVAL, "device is not initialized");
	else
		ret = save_header(zram, &w);
	if (!ret)
		ret = save_slots(zram, &w);
	if (!ret)
		ret = save_trailer(&w);
	pthread_rwlock_unlock(&zram->dev_lock);
	free(w.chunk);
	free(w.bounce);
	return ret;
}

/* ======== restore ======== */

struct img_reader {
	int fd;
	uint8_t *buf;		/* a chunk: CHUNK_HEAD + its payload */
	size_t cap;
	uint32_t file_crc;
	uint32_t now;
	int64_t last;		/* the last index installed */
	struct img_counts n;
};

/* The header, checked, before anything of the device changes. */
struct img_header {
	uint64_t disksize, mem_limit;
	const char *algs[ZRAM_MAX_COMPS];	/* backend names; NULL: none */
	struct zcomp_params params[ZRAM_MAX_COMPS];
};

/* Exactly len bytes: 0, -EINVAL at the end of the file, or -errno. */
static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return uz_refuse(-EINVAL, "image truncated");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void header_release(struct img_header *h)
{
	for (int prio = 0; prio < ZRAM_MAX_COMPS; prio++)
		zcomp_params_release(&h->params[prio]);
}

/* The dictionaries' sizes, bounded, and the header's size they make. */
static int header_dict_sizes(struct img_header *hd, const uint8_t *h)
{
	uint64_t total = IMG_HEAD;

	for (int prio = 0; prio < ZRAM_MAX_COMPS; prio++) {
		uint32_t dict_sz = uz_get_le32(h + OFF_PARAMS + 16 * prio + 8);

		if (dict_sz > IMG_DICT_MAX)
			return uz_refuse(-EINVAL, "corrupt image header (a dictionary over 64 MiB)");
		hd->params[prio].dict_sz = dict_sz;
		total += dict_sz;
	}
	if (uz_get_le32(h + OFF_HSIZE) != total)
		return uz_refuse(-EINVAL, "corrupt image header (its size)");
	return 0;
}

/* Priority prio's algorithm and parameters from h, checksummed. */
static int header_prio(struct img_header *hd, const uint8_t *h, int prio)
{
	const char *name = (const char *)h + OFF_ALGS + IMG_ALG_NAME * prio;
	const uint8_t *q = h + OFF_PARAMS + 16 * prio;
	const struct zcomp_ops *ops;

	if (!memchr(name, '\0', IMG_ALG_NAME) || uz_get_le32(q + 12))
		return uz_refuse(-EINVAL, "corrupt image header");
	if (!*name)
		return hd->params[prio].dict_sz ?
			uz_refuse(-EINVAL, "corrupt image header") : 0;
	ops = zcomp_lookup(name);
	if (!ops)
		return uz_refuse(-EINVAL, "image names an algorithm this build lacks");
	hd->algs[prio] = ops->name;
	hd->params[prio].level = (int32_t)uz_get_le32(q);
	hd->params[prio].deflate_winbits = (int32_t)uz_get_le32(q + 4);
	return 0;
}

/* The fixed fields that say whether this is an image we read. */
static int header_check(const uint8_t *h)
{
	if (memcmp(h, IMG_MAGIC, 8))
		return uz_refuse(-EINVAL, "not a uzram image (bad magic)");
	if (uz_get_le32(h + OFF_VERSION) != IMG_VERSION)
		return uz_refuse(-ENOTSUP, "image version not supported (this build "
				 "reads version 1)");
	return 0;
}

/* The dictionaries after the fixed part, into hd; *c goes on over them. */
static int header_dicts(struct img_reader *r, struct img_header *hd, uint32_t *c)
{
	for (int prio = 0; prio < ZRAM_MAX_COMPS; prio++) {
		struct zcomp_params *p = &hd->params[prio];
		int ret;

		if (!p->dict_sz)
			continue;
		p->dict = malloc(p->dict_sz);
		if (!p->dict)
			return -ENOMEM;
		ret = read_full(r->fd, p->dict, p->dict_sz);
		if (ret)
			return ret;
		*c = crc(*c, p->dict, p->dict_sz);
	}
	return 0;
}

/* The geometry the header gives: page size, flags, disksize. */
static int header_geometry(struct img_header *hd, const uint8_t *h)
{
	if (uz_get_le32(h + OFF_PAGE) != UZ_PAGE_SIZE)
		return uz_refuse(-EINVAL, "image page size is not 4096");
	if (uz_get_le32(h + OFF_FLAGS) || uz_get_le32(h + OFF_HCRC + 4))
		return uz_refuse(-EINVAL, "corrupt image header");
	hd->disksize = uz_get_le64(h + OFF_DISKSIZE);
	hd->mem_limit = uz_get_le64(h + OFF_MEMLIMIT);
	if (!hd->disksize || hd->disksize & (UZ_PAGE_SIZE - 1) ||
	    hd->disksize >> UZ_PAGE_SHIFT > UINT32_MAX)
		return uz_refuse(-EINVAL, "image disksize out of range");
	if (hd->mem_limit & (UZ_PAGE_SIZE - 1))
		return uz_refuse(-EINVAL, "corrupt image header");
	return hd->algs[0] ? 0 : uz_refuse(-EINVAL, "image has no primary algorithm");
}

/* Magic and version first (another version may be laid out otherwise),
 * then the checksum, then what the fields say. */
static int read_header(struct img_reader *r, struct img_header *hd)
{
	uint8_t h[IMG_HEAD];
	uint32_t c;
	int ret = read_full(r->fd, h, IMG_HEAD);

	if (!ret)
		ret = header_check(h);
	if (!ret)
		ret = header_dict_sizes(hd, h);
	c = crc(0, h, OFF_HCRC);
	if (!ret)
		ret = header_dicts(r, hd, &c);
	if (!ret && c != uz_get_le32(h + OFF_HCRC))
		ret = uz_refuse(-EBADMSG, "image header checksum mismatch");
	for (int prio = 0; prio < ZRAM_MAX_COMPS && !ret; prio++)
		ret = header_prio(hd, h, prio);
	if (!ret)
		ret = header_geometry(hd, h);
	r->file_crc = crc_of_crc(0, c);
	return ret;
}

/* The header's algorithms, parameters and limit become the device's
 * (which takes the dictionaries). */
static void header_apply(struct zram *zram, struct img_header *hd)
{
	for (int prio = 0; prio < ZRAM_MAX_COMPS; prio++) {
		zcomp_params_release(&zram->params[prio]);
		zram->params[prio] = hd->params[prio];
		zcomp_params_init(&hd->params[prio]);
		zram_comp_algorithm_set(zram, (unsigned int)prio, hd->algs[prio]);
	}
	atomic_store(&zram->limit_pages, hd->mem_limit >> UZ_PAGE_SHIFT);
}

/* A record's head: its flags and size agree, its index is new and inside. */
static int rec_check(struct zram *zram, struct img_reader *r, uint32_t index,
		     uint32_t rf, uint32_t size)
{
	unsigned int prio = (rf >> REC_PRIO_SHIFT) & ZRAM_COMP_PRIORITY_MASK;

	if ((int64_t)index <= r->last || index >= zram->nr_pages)
		return uz_refuse(-EINVAL, "image slot records out of order or past disksize");
	if (rf & ~REC_KNOWN)
		return uz_refuse(-EINVAL, "image slot record has unknown flags");
	if (rf & REC_SAME)
		return size == 8 && !(rf & REC_HUGE) && !prio ? 0 :
			uz_refuse(-EINVAL, "image same-filled record malformed");
	if (rf & REC_HUGE)
		return size == UZ_PAGE_SIZE && !prio ? 0 :
			uz_refuse(-EINVAL, "image huge record malformed");
	if (!size || size >= UZ_PAGE_SIZE)
		return uz_refuse(-EINVAL, "image compressed record size out of range");
	return zram->comps[prio] ? 0 :
		uz_refuse(-EINVAL, "image record uses an algorithm priority the header lacks");
}

/*
 * Install one record into its slot. Nobody else can reach the slot: the
 * device is claimed and not yet initialised, so no lock is taken.
 */
static int rec_install(struct zram *zram, struct img_reader *r, const uint8_t *rec)
{
	uint32_t index = uz_get_le32(rec), rf = uz_get_le32(rec + 4);
	uint32_t age = uz_get_le32(rec + 8), size = uz_get_le32(rec + 12);
	uint32_t prio = (rf >> REC_PRIO_SHIFT) & ZRAM_COMP_PRIORITY_MASK;
	unsigned long handle;
	uint32_t extra = 0;

	if (rf & REC_SAME) {
		zram_slot_replace(zram, index, (unsigned long)uz_get_le64(rec + REC_HEAD),
				  0, 1u << ZRAM_SAME);
	} else {
		handle = zs_malloc_write(zram->mem_pool, rec + REC_HEAD, size);
		if (ZS_IS_ERR(handle))
			return uz_refuse(ZS_ERR(handle), "no memory for the pool");
		zram_slot_replace(zram, index, handle, rf & REC_HUGE ? UZ_PAGE_SIZE : size,
				  rf & REC_HUGE ? 1u << ZRAM_HUGE :
				  prio << ZRAM_COMP_PRIORITY_BIT1);
	}
	if (rf & REC_IDLE)
		extra |= 1u << ZRAM_IDLE;
	if (rf & REC_INCOMPRESSIBLE)
		extra |= 1u << ZRAM_INCOMPRESSIBLE;
	zram_update_flags(zram, index, 0, extra);
	zram->table[index].ac_time = age == AGE_NONE ? 0 :
		r->now > age ? r->now - age : 1;
	r->last = index;
	return 0;
}

/* The records of a chunk whose CRC matched: checked, then installed. */
static int install_chunk(struct zram *zram, struct img_reader *r, uint32_t nrec,
			 uint32_t len)
{
	const uint8_t *p = r->buf + CHUNK_HEAD;
	size_t pos = 0;
	int ret = 0;

	for (uint32_t i = 0; i < nrec && !ret; i++) {
		uint32_t rf, size;

		if (len - pos < REC_HEAD)
			return uz_refuse(-EINVAL, "image chunk shorter than its records");
		rf = uz_get_le32(p + pos + 4);
		size = uz_get_le32(p + pos + 12);
		if (size > len - pos - REC_HEAD)
			return uz_refuse(-EINVAL, "image chunk shorter than its records");
		ret = rec_check(zram, r, uz_get_le32(p + pos), rf, size);
		if (!ret)
			ret = rec_install(zram, r, p + pos);
		r->n.records++;
		r->n.same += !!(rf & REC_SAME);
		r->n.huge += !!(rf & REC_HUGE);
		r->n.compr += rf & REC_SAME ? 0 : size;
		pos += REC_HEAD + size;
	}
	if (!ret && pos != len)
		ret = uz_refuse(-EINVAL, "image chunk longer than its records");
	return ret;
}

/* A chunk whose head (16 bytes) is in r->buf: its payload, checked. */
static int read_chunk(struct zram *zram, struct img_reader *r)
{
	uint32_t nrec = uz_get_le32(r->buf + 4), len = uz_get_le32(r->buf + 8), c;
	int ret;

	if (len > CHUNK_MAX || !nrec)
		return uz_refuse(-EINVAL, "corrupt image: a chunk's head is malformed");
	if (CHUNK_HEAD + (size_t)len > r->cap) {
		uint8_t *b = realloc(r->buf, CHUNK_HEAD + (size_t)len);

		if (!b)
			return -ENOMEM;
		r->buf = b;
		r->cap = CHUNK_HEAD + (size_t)len;
	}
	ret = read_full(r->fd, r->buf + CHUNK_HEAD, len);
	if (ret)
		return ret;
	c = crc(crc(0, r->buf, 12), r->buf + CHUNK_HEAD, len);
	if (c != uz_get_le32(r->buf + 12))
		return uz_refuse(-EBADMSG, "image slot chunk checksum mismatch");
	r->file_crc = crc_of_crc(r->file_crc, c);
	r->n.chunks++;
	return install_chunk(zram, r, nrec, len);
}

/* The trailer, whose first 16 bytes are in r->buf; then the end of file. */
static int read_trailer(struct img_reader *r)
{
	uint8_t t[TRAILER_SIZE], extra;
	int ret;

	memcpy(t, r->buf, CHUNK_HEAD);
	ret = read_full(r->fd, t + CHUNK_HEAD, TRAILER_SIZE - CHUNK_HEAD);
	if (ret)
		return ret;
	if (crc(r->file_crc, t, 48) != uz_get_le32(t + 48))
		return uz_refuse(-EBADMSG, "image trailer checksum mismatch");
	if (uz_get_le32(t + 4) || uz_get_le32(t + 52) ||
	    uz_get_le64(t + 8) != r->n.records || uz_get_le64(t + 16) != r->n.chunks ||
	    uz_get_le64(t + 24) != r->n.same || uz_get_le64(t + 32) != r->n.huge ||
	    uz_get_le64(t + 40) != r->n.compr)
		return uz_refuse(-EINVAL, "image trailer does not match its records");
	do
		ret = (int)read(r->fd, &extra, 1);
	while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return -errno;
	return ret ? uz_refuse(-EINVAL, "bytes after the image's trailer") : 0;
}

static int read_chunks(struct zram *zram, struct img_reader *r)
{
	for (;;) {
		int ret = read_full(r->fd, r->buf, CHUNK_HEAD);
		uint32_t magic = uz_get_le32(r->buf);

		if (ret)
			return ret;
		if (magic == TRAILER_MAGIC)
			return read_trailer(r);
		if (magic != CHUNK_MAGIC)
			return uz_refuse(-EINVAL, "corrupt image: neither a chunk nor the trailer");
		ret = read_chunk(zram, r);
		if (ret)
			return ret;
	}
}

/* Under dev_lock (write), the device uninitialised: header, set-up, slots. */
static int restore_locked(struct zram *zram, struct img_reader *r)
{
	struct img_header hd;
	int ret;

	memset(&hd, 0, sizeof(hd));
	for (int prio = 0; prio < ZRAM_MAX_COMPS; prio++)
		zcomp_params_init(&hd.params[prio]);
	ret = read_header(r, &hd);
	if (ret) {
		header_release(&hd);
		return ret;	/* the device is as it was */
	}
	header_apply(zram, &hd);
	ret = zram_setup_device(zram, hd.disksize);
	if (ret == -EINVAL)
		ret = uz_refuse(ret, "image's algorithm parameters refused");
	if (!ret)
		ret = read_chunks(zram, r);
	if (ret) {
		zram_reset_device(zram);
		return ret;
	}
	atomic_store(&zram->stats.max_used_pages, zs_get_total_pages(zram->mem_pool));
	atomic_store_explicit(&zram->disksize, hd.disksize, memory_order_release);
	return 0;
}

int zram_image_restore(struct zram *zram, int fd)
{
	struct img_reader r = { .fd = fd, .now = zram_now(), .last = -1 };
	int ret;

	r.cap = CHUNK_HEAD + CHUNK_PAYLOAD;
	r.buf = malloc(r.cap);
	if (!r.buf)
		return -ENOMEM;
	pthread_rwlock_wrlock(&zram->dev_lock);
	if (init_done(zram))
		ret = uz_refuse(-EBUSY, "device is initialized: reset it first");
	else
		ret = restore_locked(zram, &r);
	pthread_rwlock_unlock(&zram->dev_lock);
	free(r.buf);
	return ret;
}
