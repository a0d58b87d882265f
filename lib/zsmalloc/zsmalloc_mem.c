/*
 * zsmalloc_mem.c - where zsmalloc's memory comes from and goes back to.
 *
 * zspage memory: for each page count k (1..8) the pool maps segments of
 * about ZS_SEG_SIZE bytes of address space (MAP_NORESERVE, so nothing is
 * committed until touched) and carves them into slots of k pages, one slot
 * per zspage. A segment is one mapping, so a pool needs few of them whatever
 * its size (vm.max_map_count). When a zspage is released its slot is cleared
 * with MADV_DONTNEED, which hands the pages back to the kernel at once (the
 * process's RSS drops); a segment whose slots are all free is unmapped unless
 * it is the last one of its page count.
 *
 * Between the two sits a small cache of released zspages, still mapped, like
 * the kernel's per-CPU lists of free pages: a pool whose classes breathe
 * (a zspage empties, a moment later one is needed again) would otherwise pay
 * a madvise and a page fault per page each time - and with several threads
 * each madvise is also a TLB shootdown on every other CPU (an IPI), which
 * cost two threads a fifth of their rate. The zspage has left its class and
 * zs_get_total_pages when it enters the cache; the cache of each shard in
 * use holds at most 1/64 of the pool's pages (512..2048 pages: 2..8 MiB),
 * shrinks with the pool, and zs_compact empties it, so RSS keeps following
 * the pool's pages. The cache is kept per shard because a zspage handed
 * from one thread's shard to another's carries its lines in the first
 * CPU's cache: with one shared cache, two threads in different shards ran
 * at 0.66-0.97 of two private pools (zsmalloc_bench's control), with a
 * cache per shard at 0.86-0.99.
 *
 * Fresh slots are prefaulted ZS_PREFAULT bytes at a time
 * (MADV_POPULATE_WRITE): a fill of a new device takes one madvise per 16
 * pages instead of a fault per page, which was a tenth of a write's time.
 * At most ZS_PREFAULT per page count is faulted ahead of use; zs_compact
 * gives it back.
 *
 * zspage descriptors live in a table of 256-entry chunks that are never
 * freed while the pool exists, so a reader holding a stale location can
 * still lock the descriptor it names and find out that the object moved.
 *
 * The handle table (object locations) grows in 1024-entry chunks; classes
 * take fresh slots from it in batches and keep their own free lists.
 *
 * The reserve (zs_create_pool_reserve, for a device that backs swap): the
 * pool's memory is one mapping taken at creation - populated and locked -
 * cut into chunks of ZS_RES_CHUNK_PAGES pages, each with a bitmap of its
 * pages. A zspage of k pages takes the first run of k free pages in a chunk,
 * searching from the chunk that served the last one; a freed zspage's pages
 * go back to their chunk's bitmap, free again for a zspage of any size (no
 * segments of one page count: pages freed by huge objects serve a later
 * 3-page zspage). Pages are never discarded or faulted, and descriptor and
 * handle-table chunks are made in advance, so taking a zspage costs no
 * system call and cannot wait for the kernel to reclaim memory - which,
 * when the device is swap, would wait for this very process. A reserve
 * pool keeps no cache of released zspages: their pages go back to the
 * bitmap at once. When no run is left the allocation fails (-ENOMEM).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/fault.h"
#include "zsmalloc_internal.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#define ZS_PREFAULT (64u << 10)

struct zs_segment {
	char *base;
	size_t len;
	struct zs_segment *prev, *next;	/* in avail or full of its seglist */
	bool avail;
	unsigned int pages;		/* per slot */
	unsigned int nslots;
	unsigned int nfree;
	size_t fresh;			/* bytes from base ever handed out */
	size_t populated;		/* bytes from base prefaulted (>= fresh) */
	uint16_t stack[];		/* free slots, [0, nfree) */
};

#define ZS_RES_WORDS	(ZS_RES_CHUNK_PAGES / 64)

struct zs_chunk {
	uint64_t used[ZS_RES_WORDS];	/* bit i: page i is in a zspage */
	unsigned int nfree;		/* pages not in one */
};

struct zs_reserve {
	char *base;
	size_t len;
	unsigned long nchunks;
	unsigned long cursor;		/* the chunk the last zspage came from */
	struct zs_chunk *chunks;
};

int zs_mem_init(struct zs_pool *pool)
{
	pool->ht_dir_len = (size_t)1 << ZS_HT_DIR_SHIFT;
	pool->zd_dir_len = (size_t)1 << ZS_ZD_DIR_SHIFT;
	pool->ht_dir = calloc(pool->ht_dir_len, sizeof(*pool->ht_dir));
	pool->zd_dir = calloc(pool->zd_dir_len, sizeof(*pool->zd_dir));
	if (!pool->ht_dir || !pool->zd_dir) {
		free(pool->ht_dir);
		free(pool->zd_dir);
		return -ENOMEM;
	}
	pthread_mutex_init(&pool->ht_lock, NULL);
	pthread_mutex_init(&pool->mem_lock, NULL);
	for (unsigned int sh = 0; sh < ZS_SHARDS; sh++)
		pthread_mutex_init(&pool->cache[sh].lock, NULL);
	atomic_init(&pool->ht_next, 0);
	return 0;
}

static void seg_free_list(struct zs_segment *seg)
{
	while (seg) {
		struct zs_segment *next = seg->next;

		munmap(seg->base, seg->len);
		free(seg);
		seg = next;
	}
}

static void reserve_free(struct zs_reserve *r)
{
	if (!r)
		return;
	free(r->chunks);
	if (r->base)
		munmap(r->base, r->len);
	free(r);
}

void zs_mem_destroy(struct zs_pool *pool)
{
	for (unsigned int k = 1; k <= ZS_CHAIN_SIZE; k++) {
		seg_free_list(pool->segs[k].avail);
		seg_free_list(pool->segs[k].full);
	}
	reserve_free(pool->reserve);
	pool->reserve = NULL;
	for (size_t i = 0; i < pool->ht_dir_len; i++)
		free(pool->ht_dir[i]);
	for (size_t i = 0; i < pool->zd_dir_len; i++)
		free(pool->zd_dir[i]);
	free(pool->ht_dir);
	free(pool->zd_dir);
	pthread_mutex_destroy(&pool->ht_lock);
	pthread_mutex_destroy(&pool->mem_lock);
	for (unsigned int sh = 0; sh < ZS_SHARDS; sh++)
		pthread_mutex_destroy(&pool->cache[sh].lock);
}

int zs_ht_ensure(struct zs_pool *pool, uint64_t slot)
{
	size_t c = slot >> ZS_HT_CHUNK_SHIFT;
	int ret = 0;

	if (unlikely(c >= pool->ht_dir_len))
		return -ENOMEM;
	if (likely(__atomic_load_n(&pool->ht_dir[c], __ATOMIC_ACQUIRE)))
		return 0;
	pthread_mutex_lock(&pool->ht_lock);
	if (!pool->ht_dir[c]) {
		/* Cache-line aligned, so each class's batch of ZS_HT_BATCH
		 * entries (written on every malloc) shares no line with
		 * another class's (calloc gave 16-byte alignment). */
		size_t len = ((size_t)1 << ZS_HT_CHUNK_SHIFT) * sizeof(_Atomic uint64_t);
		_Atomic uint64_t *chunk = aligned_alloc(64, len);

		if (chunk) {
			memset(chunk, 0, len);
			__atomic_store_n(&pool->ht_dir[c], chunk, __ATOMIC_RELEASE);
		} else {
			ret = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&pool->ht_lock);
	return ret;
}

/* Segment lists: doubly linked, the segment remembers which list. */
static void seg_link(struct zs_seglist *list, struct zs_segment *seg, bool avail)
{
	struct zs_segment **head = avail ? &list->avail : &list->full;

	seg->avail = avail;
	seg->prev = NULL;
	seg->next = *head;
	if (*head)
		(*head)->prev = seg;
	*head = seg;
}

static void seg_unlink(struct zs_seglist *list, struct zs_segment *seg)
{
	struct zs_segment **head = seg->avail ? &list->avail : &list->full;

	if (seg->prev)
		seg->prev->next = seg->next;
	else
		*head = seg->next;
	if (seg->next)
		seg->next->prev = seg->prev;
}

static struct zs_segment *seg_new(struct zs_seglist *list, unsigned int pages)
{
	size_t slot_len = (size_t)pages * UZ_PAGE_SIZE;
	unsigned int nslots = (unsigned int)(ZS_SEG_SIZE / slot_len);
	struct zs_segment *seg;

	seg = malloc(sizeof(*seg) + nslots * sizeof(seg->stack[0]));
	if (!seg)
		return NULL;
	seg->len = nslots * slot_len;
	seg->base = mmap(NULL, seg->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (seg->base == MAP_FAILED) {
		free(seg);
		return NULL;
	}
	seg->pages = pages;
	seg->fresh = 0;
	seg->populated = 0;
	seg->nslots = nslots;
	seg->nfree = nslots;
	/* Hand out the lowest slots first. */
	for (unsigned int i = 0; i < nslots; i++)
		seg->stack[i] = (uint16_t)(nslots - 1 - i);
	seg_link(list, seg, true);
	list->nr++;
	return seg;
}

/* Make sure descriptor chunk c exists (mem_lock held, or the pool unshared). */
static int zd_chunk_ensure(struct zs_pool *pool, size_t c)
{
	size_t n = (size_t)1 << ZS_ZD_CHUNK_SHIFT;
	struct zspage *chunk;

	if (pool->zd_dir[c])
		return 0;
	chunk = aligned_alloc(64, n * sizeof(*chunk));
	if (!chunk)
		return -ENOMEM;
	memset(chunk, 0, n * sizeof(*chunk));
	for (size_t i = 0; i < n; i++) {
		atomic_init(&chunk[i].lock, 0);
		chunk[i].id = (uint32_t)((c << ZS_ZD_CHUNK_SHIFT) + i);
		chunk[i].class_idx = 0xff;
	}
	__atomic_store_n(&pool->zd_dir[c], chunk, __ATOMIC_RELEASE);
	return 0;
}

static struct zspage *zd_get(struct zs_pool *pool)
{
	struct zspage *zspage = pool->zd_free;

	if (zspage) {
		pool->zd_free = zspage->next;
		return zspage;
	}
	if (pool->zd_next >= pool->zd_dir_len << ZS_ZD_CHUNK_SHIFT)
		return NULL;
	uint32_t id = pool->zd_next;
	/* With a reserve every chunk exists already: no allocation here. */
	if (zd_chunk_ensure(pool, id >> ZS_ZD_CHUNK_SHIFT))
		return NULL;
	pool->zd_next++;
	return zspage_by_id(pool, id);
}

/* Put a descriptor back on the free list (mem_lock held). */
static void zd_put(struct zs_pool *pool, struct zspage *zspage)
{
	zspage->next = pool->zd_free;
	pool->zd_free = zspage;
}

int zs_mem_reserve(struct zs_pool *pool, size_t bytes, uint64_t max_objects)
{
	size_t chunk_len = (size_t)ZS_RES_CHUNK_PAGES * UZ_PAGE_SIZE;
	unsigned long nchunks = (unsigned long)((bytes + chunk_len - 1) / chunk_len);
	uint64_t pages = (uint64_t)nchunks * ZS_RES_CHUNK_PAGES;
	uint64_t handles = max_objects + (uint64_t)ZS_HT_BATCH * ZS_SIZE_CLASSES * ZS_SHARDS;
	struct zs_reserve *r;
	int ret = -ENOMEM;

	/* Every zspage has a page at least: descriptors for pages zspages. */
	if (pages > ZS_ZD_MAX)
		return -EINVAL;
	handles = UZ_MIN(handles, (uint64_t)ZS_HT_MAX);
	/*
	 * Directories sized to the reserve (the defaults, 2 MiB each, would
	 * be resident in a process that locked its memory): descriptors for
	 * the reserve's pages, handle-table room for 64 times the entries
	 * made now (classes keep their freed entries, so a pool whose objects
	 * move between classes takes more over time). Nothing is allocated
	 * from the pool yet.
	 */
	size_t zd_len = (size_t)((pages + ((uint64_t)1 << ZS_ZD_CHUNK_SHIFT) - 1) >> ZS_ZD_CHUNK_SHIFT);
	size_t ht_len = (size_t)UZ_MIN(64 * ((handles >> ZS_HT_CHUNK_SHIFT) + 1),
				       (uint64_t)1 << ZS_HT_DIR_SHIFT);
	_Atomic uint64_t **ht_dir = calloc(ht_len, sizeof(*ht_dir));
	struct zspage **zd_dir = calloc(zd_len, sizeof(*zd_dir));

	if (!ht_dir || !zd_dir) {
		free(ht_dir);
		free(zd_dir);
		return -ENOMEM;
	}
	free(pool->ht_dir);
	free(pool->zd_dir);
	pool->ht_dir = ht_dir;
	pool->ht_dir_len = ht_len;
	pool->zd_dir = zd_dir;
	pool->zd_dir_len = zd_len;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pool->reserve = r;	/* zs_mem_destroy frees what was made */
	r->len = (size_t)nchunks * chunk_len;
	r->base = mmap(NULL, r->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->base == MAP_FAILED) {
		r->base = NULL;
		return -ENOMEM;
	}
	/* Locked: mlock faults every page in for writing (a private
	 * writable mapping gets pages of its own, not the zero page), and no
	 * reclaim takes them afterwards. */
	if (mlock(r->base, r->len))
		return -errno;
	r->chunks = calloc(nchunks, sizeof(*r->chunks));
	if (!r->chunks)
		return -ENOMEM;
	r->nchunks = nchunks;
	for (unsigned long i = 0; i < nchunks; i++)
		r->chunks[i].nfree = ZS_RES_CHUNK_PAGES;
	for (size_t c = 0; c <= (pages - 1) >> ZS_ZD_CHUNK_SHIFT; c++)
		if ((ret = zd_chunk_ensure(pool, c)))
			return ret;
	for (uint64_t slot = 0; slot < handles; slot += (uint64_t)1 << ZS_HT_CHUNK_SHIFT)
		if ((ret = zs_ht_ensure(pool, slot)))
			return ret;
	return 0;
}

/* The first run of k free pages in chunk ch, or -1. */
static int chunk_run(const struct zs_chunk *ch, unsigned int k)
{
	unsigned int run = 0;

	for (unsigned int i = 0; i < ZS_RES_CHUNK_PAGES; i++) {
		if (!(i & 63) && ch->used[i >> 6] == ~0ull) {
			run = 0;
			i += 63;
			continue;
		}
		run = ch->used[i >> 6] & (1ull << (i & 63)) ? 0 : run + 1;
		if (run == k)
			return (int)(i + 1 - k);
	}
	return -1;
}

/* k contiguous pages of the reserve (mem_lock held): a page index, or -1. */
static long reserve_take(struct zs_reserve *r, unsigned int k)
{
	for (unsigned long n = 0; n < r->nchunks; n++) {
		unsigned long c = (r->cursor + n) % r->nchunks;
		struct zs_chunk *ch = &r->chunks[c];
		int p;

		if (ch->nfree < k || (p = chunk_run(ch, k)) < 0)
			continue;
		for (unsigned int i = (unsigned int)p; i < (unsigned int)p + k; i++)
			ch->used[i >> 6] |= 1ull << (i & 63);
		ch->nfree -= k;
		r->cursor = c;
		return (long)(c * ZS_RES_CHUNK_PAGES + (unsigned int)p);
	}
	return -1;
}

static void reserve_put(struct zs_reserve *r, long page, unsigned int k)
{
	struct zs_chunk *ch = &r->chunks[page / ZS_RES_CHUNK_PAGES];
	unsigned int p = (unsigned int)(page % ZS_RES_CHUNK_PAGES);

	for (unsigned int i = p; i < p + k; i++)
		ch->used[i >> 6] &= ~(1ull << (i & 63));
	ch->nfree += k;
}

bool zs_reserve_full(struct zs_pool *pool)
{
	return atomic_load_explicit(&pool->reserve_full, memory_order_relaxed);
}

unsigned long zs_reserve_pages(struct zs_pool *pool)
{
	return pool->reserve ? pool->reserve->nchunks * ZS_RES_CHUNK_PAGES : 0;
}

/* Drop the pages of [addr, addr + len) from the process. */
static void pages_discard(char *addr, size_t len)
{
	static size_t host_page;
	size_t hp = __atomic_load_n(&host_page, __ATOMIC_RELAXED);

	if (!hp) {
		long v = sysconf(_SC_PAGESIZE);

		hp = v > 0 ? (size_t)v : UZ_PAGE_SIZE;
		__atomic_store_n(&host_page, hp, __ATOMIC_RELAXED);
	}
	if (hp != UZ_PAGE_SIZE) {
		/* Larger host pages: only those wholly inside the range. */
		uintptr_t start = ((uintptr_t)addr + hp - 1) & ~(uintptr_t)(hp - 1);
		uintptr_t end = ((uintptr_t)addr + len) & ~(uintptr_t)(hp - 1);

		if (end <= start)
			return;
		addr = (char *)start;
		len = end - start;
	}
	madvise(addr, len, MADV_DONTNEED);
}

/* A released zspage of this many pages from shard sh's cache, or NULL. */
static struct zspage *cache_get(struct zs_pool *pool, unsigned int sh, unsigned int pages)
{
	struct zspage *zspage;

	pthread_mutex_lock(&pool->cache[sh].lock);
	zspage = pool->cache[sh].list[pages];
	if (zspage) {
		pool->cache[sh].list[pages] = zspage->next;
		pool->cache[sh].pages -= pages;
	}
	pthread_mutex_unlock(&pool->cache[sh].lock);
	return zspage;
}

/* Pages for zspage from the reserve (mem_lock held): 0 or -ENOMEM. */
static int reserve_attach(struct zs_reserve *r, struct zspage *zspage, unsigned int pages)
{
	long page = reserve_take(r, pages);

	if (page < 0)
		return -ENOMEM;
	zspage->base = r->base + (size_t)page * UZ_PAGE_SIZE;
	zspage->seg = NULL;
	return 0;
}

/*
 * A segment slot for zspage (mem_lock held): 0 or -ENOMEM. *pop_len: bytes
 * at zspage->base the caller prefaults once the lock is dropped.
 */
static int seg_attach(struct zs_seglist *list, struct zspage *zspage, unsigned int pages,
		      size_t *pop_len)
{
	struct zs_segment *seg = list->avail;
	size_t off, len = (size_t)pages * UZ_PAGE_SIZE;
	uint16_t slot;

	if (!seg && !(seg = seg_new(list, pages)))
		return -ENOMEM;
	slot = seg->stack[--seg->nfree];
	if (!seg->nfree) {
		seg_unlink(list, seg);
		seg_link(list, seg, false);
	}
	/*
	 * Slots never used before are handed out in address order: fault
	 * their pages in ZS_PREFAULT batches, one madvise instead of a page
	 * fault per page (unlocked: a racing toucher only faults first).
	 */
	off = (size_t)slot * len;
	if (off >= seg->populated) {
		*pop_len = UZ_MIN(UZ_MAX(len, (size_t)ZS_PREFAULT), seg->len - off);
		seg->populated = off + *pop_len;
	}
	seg->fresh = UZ_MAX(seg->fresh, off + len);
	zspage->base = seg->base + off;
	zspage->seg = seg;
	zspage->slot = slot;
	return 0;
}

/* A descriptor with memory not from the cache (a system call at most). */
static struct zspage *zspage_map(struct zs_pool *pool, unsigned int pages)
{
	struct zspage *zspage;
	size_t pop_len = 0;
	int ret = -ENOMEM;

	/* Test builds: the system has no memory for a new zspage (the
	 * kernel's alloc_zspage() returning NULL). */
	if (unlikely(uz_fault(UZ_FAULT_ZSPAGE)))
		return NULL;
	pthread_mutex_lock(&pool->mem_lock);
	zspage = zd_get(pool);
	if (zspage) {
		if (pool->reserve)
			ret = reserve_attach(pool->reserve, zspage, pages);
		else
			ret = seg_attach(&pool->segs[pages], zspage, pages, &pop_len);
		if (ret)
			zd_put(pool, zspage);
	}
	pthread_mutex_unlock(&pool->mem_lock);
	if (ret)
		return NULL;
	if (pop_len)
		madvise(zspage->base, pop_len, MADV_POPULATE_WRITE);
	return zspage;
}

struct zspage *zs_zspage_create(struct zs_pool *pool, unsigned int pages, unsigned int shard)
{
	unsigned long seq = pool->reserve ? atomic_load(&pool->reserve_seq) : 0;
	struct zspage *zspage;

	/* Recently released: memory still there, no fault, no syscall. */
	zspage = cache_get(pool, shard, pages);
	if (!zspage)
		zspage = zspage_map(pool, pages);
	if (zspage) {
		zspage->shard = (uint8_t)shard;
		zspage->pages = (uint8_t)pages;
	} else if (pool->reserve) {
		/* Used up. A free made after our search could not see the
		 * flag set yet: if one came, clear it again (zs_room). */
		atomic_store(&pool->reserve_full, true);
		if (atomic_load(&pool->reserve_seq) != seq)
			atomic_store(&pool->reserve_full, false);
	}
	return zspage;
}

/* Return a zspage's pages to the OS (or the reserve), its slot and
 * descriptor to the pool. */
static void zspage_free(struct zs_pool *pool, struct zspage *zspage)
{
	struct zs_segment *seg = zspage->seg, *unmap = NULL;
	struct zs_seglist *list;

	if (pool->reserve) {	/* the pages stay, for the next zspage */
		pthread_mutex_lock(&pool->mem_lock);
		reserve_put(pool->reserve, (zspage->base - pool->reserve->base) / UZ_PAGE_SIZE,
			    zspage->pages);
		zspage->base = NULL;
		zd_put(pool, zspage);
		pthread_mutex_unlock(&pool->mem_lock);
		return;
	}
	list = &pool->segs[seg->pages];
	/* Before the slot can be reused: the next owner expects nothing of it. */
	pages_discard(zspage->base, (size_t)seg->pages * UZ_PAGE_SIZE);

	pthread_mutex_lock(&pool->mem_lock);
	seg->stack[seg->nfree++] = zspage->slot;
	if (!seg->avail) {
		seg_unlink(list, seg);
		seg_link(list, seg, true);
	}
	if (seg->nfree == seg->nslots && list->nr > 1) {
		seg_unlink(list, seg);
		list->nr--;
		unmap = seg;
	}
	zspage->base = NULL;
	zspage->seg = NULL;
	zd_put(pool, zspage);
	pthread_mutex_unlock(&pool->mem_lock);

	if (unmap) {
		munmap(unmap->base, unmap->len);
		free(unmap);
	}
}

static unsigned long cache_limit(struct zs_pool *pool)
{
	unsigned long limit = zs_pool_pages(pool) / ZS_CACHE_SHARE;

	return UZ_MIN(UZ_MAX(limit, (unsigned long)ZS_CACHE_MIN), (unsigned long)ZS_CACHE_MAX);
}

/*
 * Take shard sh's cached zspages out until at most keep pages remain, onto
 * *out (the shard's cache lock held).
 */
static void cache_take(struct zs_pool *pool, unsigned int sh, unsigned long keep,
		       struct zspage **out)
{
	struct zspage **list = pool->cache[sh].list;

	for (unsigned int k = ZS_CHAIN_SIZE; k >= 1 && pool->cache[sh].pages > keep; k--) {
		while (list[k] && pool->cache[sh].pages > keep) {
			struct zspage *zspage = list[k];

			list[k] = zspage->next;
			pool->cache[sh].pages -= k;
			zspage->next = *out;
			*out = zspage;
		}
	}
}

static void free_list(struct zs_pool *pool, struct zspage *zspage)
{
	while (zspage) {
		struct zspage *next = zspage->next;

		zspage_free(pool, zspage);
		zspage = next;
	}
}

void zs_zspage_release(struct zs_pool *pool, struct zspage *zspage)
{
	unsigned int pages = zspage->pages, sh = zspage->shard;
	unsigned long limit;
	struct zspage *trim = NULL;

	zspage->class_idx = 0xff;
	if (pool->reserve) {
		/* No cache: the pages go back to the bitmap at once, free
		 * for a zspage of any size (and compaction's releases too). */
		zspage_free(pool, zspage);
		zs_room(pool);
		return;
	}
	limit = cache_limit(pool);
	pthread_mutex_lock(&pool->cache[sh].lock);
	if (pool->cache[sh].pages + pages <= limit) {
		zspage->next = pool->cache[sh].list[pages];
		pool->cache[sh].list[pages] = zspage;
		pool->cache[sh].pages += pages;
		pthread_mutex_unlock(&pool->cache[sh].lock);
		return;
	}
	/* The pool shrank: the cache shrinks with it. */
	cache_take(pool, sh, limit, &trim);
	pthread_mutex_unlock(&pool->cache[sh].lock);
	zspage_free(pool, zspage);
	free_list(pool, trim);
}

void zs_cache_flush(struct zs_pool *pool)
{
	struct zspage *all = NULL;

	pthread_mutex_lock(&pool->mem_lock);
	/* Prefaulted, never handed out: back to the OS too (under the lock,
	 * or a slot given out meanwhile could lose what was written to it). */
	for (unsigned int k = 1; k <= ZS_CHAIN_SIZE; k++)
		for (struct zs_segment *seg = pool->segs[k].avail; seg; seg = seg->next)
			if (seg->populated > seg->fresh) {
				pages_discard(seg->base + seg->fresh, seg->populated - seg->fresh);
				seg->populated = seg->fresh;
			}
	pthread_mutex_unlock(&pool->mem_lock);
	for (unsigned int sh = 0; sh < ZS_SHARDS; sh++) {
		pthread_mutex_lock(&pool->cache[sh].lock);
		cache_take(pool, sh, 0, &all);
		pthread_mutex_unlock(&pool->cache[sh].lock);
	}
	free_list(pool, all);
}
