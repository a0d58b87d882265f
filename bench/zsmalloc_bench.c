/*
 * zsmalloc_bench.c - what zsmalloc costs in memory and time.
 *
 *   build/default/bench/zsmalloc_bench [--seconds S] [--reps N]
 *       [--population N] [--threads 1|2] [--repeat N] [--no-speed] [--classes]
 *       [PAGEFILE...]
 *
 * Memory, per page file (concatenated 4096-byte pages of real process
 * memory; default: the .pages files of /work/pages): every page is compressed with LZ4
 * as zram would (same-filled pages are skipped: zram stores them without
 * allocating; sizes >= huge_class_size are stored as 4096-byte huge objects)
 * and the sizes go to zs_malloc in order, the compressed bytes written. It
 * prints the payload, zs_get_total_pages * 4096 and their ratio (target <=
 * 1.03), then frees a random half, compacts, and prints the ratio to the
 * live payload (target <= 1.05), pages_compacted and the process's anonymous
 * RSS growth against the pool's pages (target within 5%). Then all the files
 * in one pool, and all of them --repeat times (default 4: a device of some
 * 550 MiB of payload, the size of the kernel's own measurement), because the
 * last, partly filled zspage of each of the ~115 classes used is a fixed
 * cost of about 1 MiB that weighs on small pools; the "if every zspage were
 * full" line shows the cost per object without it.
 *
 * Speed: N live objects per thread; one operation frees a random one,
 * allocates a new one of a size drawn from the page files' distribution (or
 * uniform 200..3600) and writes it: malloc + write + free. One thread, then
 * two threads on the same pool (target >= 10 M ops/s and >= 1.7x). Each
 * figure is the median and best of --reps runs of --seconds each. A control
 * runs the two threads with a pool each: on a shared host the rate two
 * CPUs give moves with the neighbours' load, and the control shows how much
 * of a low two-thread figure is the machine rather than the pool. N is 1024
 * (about 1.3 MiB per thread: the objects stay in cache, the allocator's own
 * cost shows), then 16384 for the page-file sizes (about 20 MiB: bound by
 * memory traffic).
 * Each speed thread is pinned to a CPU of its own (the first ones the
 * process may use), so "one core" is one core: left to the scheduler, a
 * lone thread hopped between the two vCPUs of the test machine and its
 * median moved between 8.3 and 10.1 M ops/s from run to run, against
 * 10.5-10.6 pinned.
 */
#define _GNU_SOURCE	/* pthread_setaffinity_np */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lz4.h>

#include "zsmalloc/zsmalloc.h"

#define PAGE	4096

static double seconds = 1.0;
static int reps = 5;
static size_t population;	/* 0: 1024, then 16384 for the page files */
static int only_threads;	/* --threads N: run only that count */
static int repeat = 4;		/* --repeat N: the combined run feeds the files N times */

static uint32_t *dist;		/* object sizes seen in the page files */
static size_t dist_n, dist_cap;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A uniform index below n from 32 random bits by a multiply, not a
 * division: the loop's two 64-bit divisions were most of the 8.7% of the
 * samples that perf put in the harness rather than in the allocator. */
static size_t below(uint64_t r32, size_t n)
{
	return (size_t)(((r32 & 0xffffffffu) * (uint64_t)n) >> 32);
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Resident anonymous memory of the process, bytes (RssAnon). */
static long rss_anon(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

static bool same_filled(const uint8_t *page)
{
	uint64_t first, w;

	memcpy(&first, page, 8);
	for (size_t i = 8; i < PAGE; i += 8) {
		memcpy(&w, page + i, 8);
		if (w != first)
			return false;
	}
	return true;
}

/* Room for n more sizes, touched now so RSS growth measures the pool only. */
static int dist_reserve(size_t n)
{
	if (dist_n + n > dist_cap) {
		uint32_t *d = realloc(dist, (dist_n + n) * sizeof(*dist));

		if (!d)
			return -1;
		dist = d;
		dist_cap = dist_n + n;
	}
	memset(dist + dist_n, 0, n * sizeof(*dist));
	return 0;
}

static void dist_add(uint32_t size)
{
	if (dist_n == dist_cap) {
		dist_cap = dist_cap ? 2 * dist_cap : 65536;
		dist = realloc(dist, dist_cap * sizeof(*dist));
		if (!dist) {
			perror("realloc");
			exit(1);
		}
	}
	dist[dist_n++] = size;
}

struct pagefile {
	const char *path;
	const uint8_t *pages;
	size_t nr;
};

static int pagefile_open(struct pagefile *f, const char *path)
{
	int fd = open(path, O_RDONLY);
	struct stat st;

	f->path = path;
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	f->nr = (size_t)st.st_size / PAGE;
	f->pages = f->nr ? mmap(NULL, f->nr * PAGE, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	close(fd);
	if (!f->nr || f->pages == MAP_FAILED) {
		fprintf(stderr, "%s: no pages\n", path);
		return -1;
	}
	return 0;
}

/*
 * Pages the live objects would take if every zspage were full: the cost per
 * object that does not depend on how many objects the pool holds (the last,
 * partly used zspage of each class is a fixed cost of about 1 MiB).
 */
static double full_zspage_bytes(struct zs_pool *pool)
{
	struct zs_class_stat rows[255];
	size_t n = zs_class_stats(pool, rows, 255);
	double bytes = 0;

	for (size_t i = 0; i < n; i++)
		bytes += (double)rows[i].obj_used / rows[i].objs_per_zspage *
			 rows[i].pages_per_zspage * PAGE;
	return bytes;
}

/* Fill one pool with the pages of files (each times times), then free half. */
static void bench_memory(const struct pagefile *files, int nfiles, int times,
			 const char *label, bool classes, bool record)
{
	size_t nr = 0;

	for (int i = 0; i < nfiles; i++)
		nr += files[i].nr * (size_t)times;

	unsigned long *h = calloc(nr, sizeof(*h));
	uint32_t *size = calloc(nr, sizeof(*size));
	char cbuf[LZ4_COMPRESSBOUND(PAGE)];
	struct zs_pool *pool = zs_create_pool(label);
	size_t same = 0, huge = 0, stored = 0, n = 0;
	unsigned long long payload = 0;

	if (!h || !size || !pool) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	memset(h, 0, nr * sizeof(*h));		/* touch them before measuring */
	memset(size, 0, nr * sizeof(*size));
	if (record && dist_reserve(nr)) {	/* the harness's memory, not the pool's */
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	size_t huge_size = zs_huge_class_size(pool);
	long rss0 = rss_anon();
	double t0 = now();

	for (int r = 0; r < times; r++) {
		for (int f = 0; f < nfiles; f++) {
			for (size_t i = 0; i < files[f].nr; i++, n++) {
				const uint8_t *page = files[f].pages + i * PAGE;
				const void *data = cbuf;
				int clen;

				if (same_filled(page)) {
					same++;
					continue;
				}
				clen = LZ4_compress_default((const char *)page, cbuf, PAGE,
							    sizeof(cbuf));
				if (clen <= 0 || (size_t)clen >= huge_size) {
					clen = PAGE;
					data = page;
					huge++;
				}
				h[n] = zs_malloc(pool, (size_t)clen);
				if (ZS_IS_ERR(h[n])) {
					fprintf(stderr, "zs_malloc(%d): %s\n", clen,
						strerror(-ZS_ERR(h[n])));
					exit(1);
				}
				zs_obj_write(pool, h[n], data, (size_t)clen);
				size[n] = (uint32_t)clen;
				payload += (unsigned long long)clen;
				stored++;
				if (record)
					dist_add((uint32_t)clen);
			}
		}
	}
	double fill_s = now() - t0;
	long rss1 = rss_anon();
	double total = (double)zs_get_total_pages(pool) * PAGE;

	printf("\n== %s: %zu pages, %zu same-filled, %zu huge, %zu stored (lz4)\n",
	       label, nr, same, huge, stored);
	printf("  sequential fill     payload %10.2f MiB   total_pages %10.2f MiB   ratio %.4f  (target <= 1.03)\n",
	       payload / 1048576.0, total / 1048576.0, total / (double)payload);
	printf("                      if every zspage were full: ratio %.4f (the per-object cost)\n",
	       full_zspage_bytes(pool) / (double)payload);
	printf("                      RSS growth %8.2f MiB   RSS/total %.4f  (target 0.95..1.05)   [fill %.2fs incl. lz4]\n",
	       (rss1 - rss0) / 1048576.0, (double)(rss1 - rss0) / total, fill_s);
	if (classes) {
		static char buf[64 * 1024];
		if (zs_format_classes(pool, buf, sizeof(buf)) > 0)
			fputs(buf, stdout);
	}

	uint64_t rng = 12345;
	unsigned long long live = 0;
	for (size_t i = 0; i < nr; i++) {
		if (!h[i])
			continue;
		if (rnd(&rng) & 1) {
			zs_free(pool, h[i]);
			h[i] = 0;
		} else {
			live += size[i];
		}
	}
	double before = (double)zs_get_total_pages(pool) * PAGE;
	t0 = now();
	unsigned long freed = zs_compact(pool);
	double compact_s = now() - t0;
	struct zs_pool_stats ps;
	zs_pool_stats(pool, &ps);
	double after = (double)zs_get_total_pages(pool) * PAGE;
	long rss2 = rss_anon();

	printf("  free half + compact live %10.2f MiB   total_pages %10.2f MiB   ratio %.4f  (target <= 1.05)\n",
	       live / 1048576.0, after / 1048576.0, after / (double)live);
	printf("                      before compaction %.2f MiB (ratio %.4f); compaction freed %lu pages in %.3fs, pages_compacted %lu\n",
	       before / 1048576.0, before / (double)live, freed, compact_s, ps.pages_compacted);
	printf("                      if every zspage were full: ratio %.4f\n",
	       full_zspage_bytes(pool) / (double)live);
	printf("                      RSS growth %8.2f MiB   RSS/total %.4f  (target 0.95..1.05)\n",
	       (rss2 - rss0) / 1048576.0, (double)(rss2 - rss0) / after);
	if (zs_validate(pool))
		printf("  VALIDATION FAILED\n");

	for (size_t i = 0; i < nr; i++)
		zs_free(pool, h[i]);
	long rss3 = rss_anon();
	printf("  free all            total_pages %lu, RSS above start %.2f MiB\n",
	       zs_get_total_pages(pool), (rss3 - rss0) / 1048576.0);
	zs_destroy_pool(pool);
	free(h);
	free(size);
}

/* ---- speed ---- */

struct speed_thread {
	pthread_t tid;
	int pin_cpu;		/* pinned there; -1: not pinned */
	struct zs_pool *pool;
	const uint32_t *sizes;
	size_t nsizes;
	uint64_t seed;
	pthread_barrier_t *start;
	unsigned long long ops;
	double secs;
};

static uint8_t src_data[PAGE];

static void *speed_worker(void *arg)
{
	struct speed_thread *t = arg;
	unsigned long *h = malloc(population * sizeof(*h));
	uint64_t rng = t->seed;
	unsigned long long ops = 0;

	if (t->pin_cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(t->pin_cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	for (size_t i = 0; i < population; i++) {
		size_t size = t->sizes[rnd(&rng) % t->nsizes];

		h[i] = zs_malloc_write(t->pool, src_data, size);
	}
	pthread_barrier_wait(t->start);
	double t0 = now(), t1;
	do {
		for (int i = 0; i < 4096; i++) {
			uint64_t r = rnd(&rng);
			size_t slot = below(r, population);
			size_t size = t->sizes[below(r >> 32, t->nsizes)];

			zs_free(t->pool, h[slot]);
			h[slot] = zs_malloc_write(t->pool, src_data, size);
		}
		ops += 4096;
		t1 = now();
	} while (t1 - t0 < seconds);
	t->ops = ops;
	t->secs = t1 - t0;
	for (size_t i = 0; i < population; i++)
		zs_free(t->pool, h[i]);
	free(h);
	return NULL;
}

/*
 * Aggregate ops/s (wall clock) of nthreads, pinned, on one pool or
 * (own_pools, the control) on a pool each.
 */
static double speed_run(int nthreads, const uint32_t *sizes, size_t nsizes, int rep,
			bool own_pools)
{
	struct zs_pool *pool[2] = { zs_create_pool("speed"), NULL };
	struct speed_thread t[2];
	pthread_barrier_t start;
	double rate = 0;
	cpu_set_t allowed;
	int cpus[2] = { -1, -1 }, ncpu = 0;

	if (!sched_getaffinity(0, sizeof(allowed), &allowed))
		for (int c = 0; c < CPU_SETSIZE && ncpu < nthreads; c++)
			if (CPU_ISSET(c, &allowed))
				cpus[ncpu++] = c;
	if (ncpu < nthreads)
		cpus[0] = cpus[1] = -1;	/* fewer CPUs than threads: let them float */
	pool[1] = own_pools ? zs_create_pool("speed2") : pool[0];
	pthread_barrier_init(&start, NULL, (unsigned int)nthreads);
	for (int i = 0; i < nthreads; i++) {
		t[i] = (struct speed_thread){ .pool = pool[i], .sizes = sizes, .nsizes = nsizes,
					      .seed = (uint64_t)rep * 1000 + (uint64_t)i + 1,
					      .start = &start, .pin_cpu = cpus[i] };
		pthread_create(&t[i].tid, NULL, speed_worker, &t[i]);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(t[i].tid, NULL);
		rate += (double)t[i].ops / t[i].secs;
	}
	pthread_barrier_destroy(&start);
	if (pool[1] != pool[0])
		zs_destroy_pool(pool[1]);
	zs_destroy_pool(pool[0]);
	return rate;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void bench_speed(const char *label, const uint32_t *sizes, size_t nsizes)
{
	double one[64], two[64], apart[64];
	double avg = 0;

	for (size_t i = 0; i < nsizes; i++)
		avg += sizes[i];
	avg /= (double)nsizes;
	/* Interleave so all three see the same machine load. */
	for (int r = 0; r < reps; r++) {
		one[r] = only_threads == 2 ? 1 : speed_run(1, sizes, nsizes, r, false);
		two[r] = only_threads == 1 ? 1 : speed_run(2, sizes, nsizes, r, false);
		apart[r] = only_threads == 1 ? 1 : speed_run(2, sizes, nsizes, r, true);
	}
	qsort(one, (size_t)reps, sizeof(double), cmp_double);
	qsort(two, (size_t)reps, sizeof(double), cmp_double);
	qsort(apart, (size_t)reps, sizeof(double), cmp_double);
	printf("\n== speed, %s (mean size %.0f B), %zu live objects per thread, malloc+write+free\n",
	       label, avg, population);
	printf("  1 thread   median %6.2f M ops/s   best %6.2f M ops/s   (target >= 10)\n",
	       one[reps / 2] / 1e6, one[reps - 1] / 1e6);
	printf("  2 threads  median %6.2f M ops/s   best %6.2f M ops/s   scaling median %.2fx best %.2fx (target >= 1.7x)\n",
	       two[reps / 2] / 1e6, two[reps - 1] / 1e6, two[reps / 2] / one[reps / 2],
	       two[reps - 1] / one[reps - 1]);
	/*
	 * The control: the same two threads, each with a pool of its own, so
	 * they share nothing of the allocator. What it gives over one thread
	 * is what the machine gives two threads at that moment; one pool
	 * against it is what sharing the pool costs.
	 */
	printf("  control: 2 threads, a pool each: median %6.2f M ops/s (%.2fx one thread); one pool / a pool each %.2f\n",
	       apart[reps / 2] / 1e6, apart[reps / 2] / one[reps / 2],
	       two[reps / 2] / apart[reps / 2]);
}

int main(int argc, char **argv)
{
	static const char *defaults[] = {
		"/work/pages/python.pages", "/work/pages/node.pages", "/work/pages/cc1.pages",
	};
	const char *files[16];
	int nfiles = 0;
	bool speed = true, classes = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--population") && i + 1 < argc)
			population = (size_t)atol(argv[++i]);
		else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
			repeat = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			only_threads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--no-speed"))
			speed = false;
		else if (!strcmp(argv[i], "--classes"))
			classes = true;
		else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: %s [--seconds S] [--reps N] [--population N] "
				"[--threads 1|2] [--repeat N] [--no-speed] [--classes] [PAGEFILE...]\n", argv[0]);
			return 2;
		} else if (nfiles < 16)
			files[nfiles++] = argv[i];
	}
	if (reps < 1 || reps > 64)
		reps = 5;
	if (!nfiles)
		for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
			if (!access(defaults[i], R_OK))
				files[nfiles++] = defaults[i];

	struct pagefile pf[16];
	int npf = 0;
	for (int i = 0; i < nfiles; i++)
		if (!pagefile_open(&pf[npf], files[i]))
			npf++;
	for (int i = 0; i < npf; i++)
		bench_memory(&pf[i], 1, 1, pf[i].path, classes, true);
	if (npf > 1)
		bench_memory(pf, npf, 1, "all page files in one pool", classes, false);
	if (npf && repeat > 1) {
		char label[64];

		snprintf(label, sizeof(label), "all page files x %d in one pool", repeat);
		bench_memory(pf, npf, repeat, label, classes, false);
	}
	for (int i = 0; i < npf; i++)
		munmap((void *)pf[i].pages, pf[i].nr * PAGE);

	if (!speed)
		return 0;
	for (size_t i = 0; i < PAGE; i++)
		src_data[i] = (uint8_t)(i * 131 + 7);
	size_t pops[2] = { population ? population : 1024, population ? 0 : 16384 };
	if (dist_n) {
		/* 4096 quantiles of the distribution: a small table stays in cache. */
		static uint32_t q[4096];

		qsort(dist, dist_n, sizeof(*dist), cmp_u32);
		for (size_t i = 0; i < 4096; i++)
			q[i] = dist[(i * dist_n + dist_n / 2) / 4096];
		for (int i = 0; i < 2 && pops[i]; i++) {
			population = pops[i];
			bench_speed("sizes of the page files", q, 4096);
		}
	}
	uint32_t uni[3401];
	for (uint32_t i = 0; i < 3401; i++)
		uni[i] = 200 + i;
	population = pops[0];
	bench_speed("uniform 200..3600 B", uni, 3401);
	free(dist);
	return 0;
}
