/*
 * image_speed.c - how fast a device is saved to an image and restored
 * (uzram_save_file, uzram_restore_file; docs/image.md), in GB/s of
 * orig_data_size: the cost is copying compressed bytes, not compressing.
 *
 *   build/default/bench/image_speed [--size SIZE_MIB] [--dir DIR]
 *                                   [--algorithm ALG] [--repeat N] PAGEFILE...
 *
 * zram0 (disksize SIZE_MIB, default 1024) is filled with the pages of the
 * page files (`uzram dump` output), in order, again from the first when
 * they run out. Then, REPEAT times (default 3): zram0 is saved to
 * DIR/uzram-image-speed.img (default /dev/shm: the page cache, no disk),
 * and zram1 is restored from it, each timed. Every page of zram1 is then
 * compared with zram0's, and mm_stat's orig_data_size, compr_data_size,
 * same_pages and huge_pages with zram0's. Prints the best of each; GB =
 * 10^9 bytes. Exit status 1 if a page or a figure differs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "uzram.h"

#define PAGE	UZRAM_PAGE_SIZE

struct pages {
	const uint8_t **file;	/* each page file, mapped */
	size_t *npages;
	int nfiles;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int die(const char *what, int err)
{
	const char *why = uzram_store_reason();

	fprintf(stderr, "image_speed: %s: %s%s%s%s\n", what, strerror(err),
		why ? " (" : "", why ? why : "", why ? ")" : "");
	return 1;
}

static int map_files(struct pages *p, char **paths, int n)
{
	p->file = calloc((size_t)n, sizeof(*p->file));
	p->npages = calloc((size_t)n, sizeof(*p->npages));
	p->nfiles = n;
	for (int i = 0; i < n; i++) {
		int fd = open(paths[i], O_RDONLY);
		struct stat st;

		if (fd < 0 || fstat(fd, &st) || st.st_size < PAGE)
			return die(paths[i], fd < 0 ? errno : EINVAL);
		p->npages[i] = (size_t)st.st_size / PAGE;
		p->file[i] = mmap(NULL, p->npages[i] * PAGE, PROT_READ, MAP_PRIVATE, fd, 0);
		close(fd);
		if (p->file[i] == MAP_FAILED)
			return die(paths[i], errno);
	}
	return 0;
}

/* Write nr pages to zram0, 256 at a time, cycling through the files. */
static int fill(struct uzram *z, const struct pages *p, uint64_t nr)
{
	struct uzram_dev *d;
	uint64_t done = 0;
	int f = 0, ret = uzram_open(z, 0, &d);
	size_t at = 0;

	while (!ret && done < nr) {
		size_t n = p->npages[f] - at;

		if (n > 256)
			n = 256;
		if (n > nr - done)
			n = (size_t)(nr - done);
		ret = uzram_write(d, p->file[f] + at * PAGE, done * PAGE, n * PAGE);
		done += n;
		at += n;
		if (at == p->npages[f]) {
			at = 0;
			f = (f + 1) % p->nfiles;
		}
	}
	uzram_close(d);
	return ret ? die("filling zram0", -ret) : 0;
}

/* Pages of zram1 that differ from zram0's. */
static uint64_t compare(struct uzram *z, uint64_t nr)
{
	static uint8_t a[1 << 20], b[1 << 20];
	struct uzram_dev *d0, *d1;
	uint64_t bad = 0;

	if (uzram_open(z, 0, &d0) || uzram_open(z, 1, &d1))
		return nr;
	for (uint64_t i = 0; i < nr; i += sizeof(a) / PAGE) {
		size_t len = sizeof(a);

		if ((nr - i) * PAGE < len)
			len = (size_t)(nr - i) * PAGE;
		if (uzram_read(d0, a, i * PAGE, len) || uzram_read(d1, b, i * PAGE, len)) {
			bad += len / PAGE;
			continue;
		}
		for (size_t k = 0; k < len; k += PAGE)
			bad += memcmp(a + k, b + k, PAGE) != 0;
	}
	uzram_close(d0);
	uzram_close(d1);
	return bad;
}

struct times {
	double save, restore;
	uint64_t image;
};

/* One save of zram0 and one restore into zram1 (reset first). */
static int round_trip(struct uzram *z, const char *path, struct times *t)
{
	struct stat st;
	double t0;
	int ret;

	uzram_attr_store(z, 1, "reset", "1", 1);
	t0 = now();
	ret = uzram_save_file(z, 0, path);
	t->save = now() - t0;
	if (ret)
		return die("save", -ret);
	if (stat(path, &st))
		return die(path, errno);
	t->image = (uint64_t)st.st_size;
	t0 = now();
	ret = uzram_restore_file(z, 1, path);
	t->restore = now() - t0;
	return ret ? die("restore", -ret) : 0;
}

static int stats_match(struct uzram *z, struct uzram_stats *a)
{
	struct uzram_stats b;

	uzram_stats(z, 0, a);
	uzram_stats(z, 1, &b);
	return a->orig_data_size == b.orig_data_size &&
	       a->compr_data_size == b.compr_data_size &&
	       a->same_pages == b.same_pages && a->huge_pages == b.huge_pages;
}

static int run(struct uzram *z, const struct pages *p, uint64_t nr,
	       const char *path, int repeat)
{
	struct times best = { 1e9, 1e9, 0 }, t;
	struct uzram_stats st;
	uint64_t bad;
	int ok;

	if (fill(z, p, nr))
		return 1;
	for (int i = 0; i < repeat; i++) {
		if (round_trip(z, path, &t))
			return 1;
		best.save = t.save < best.save ? t.save : best.save;
		best.restore = t.restore < best.restore ? t.restore : best.restore;
		best.image = t.image;
	}
	bad = compare(z, nr);
	ok = stats_match(z, &st);
	unlink(path);
	printf("device: %" PRIu64 " pages, orig_data_size %" PRIu64 " B, compr_data_size %"
	       PRIu64 " B, same_pages %" PRIu64 ", huge_pages %" PRIu64 ", %s\n", nr,
	       st.orig_data_size, st.compr_data_size, st.same_pages, st.huge_pages,
	       st.algorithm);
	printf("image: %" PRIu64 " B in %s\n", best.image, path);
	printf("save:    %.3f s  %.2f GB/s of orig_data_size (best of %d)\n", best.save,
	       (double)st.orig_data_size / best.save / 1e9, repeat);
	printf("restore: %.3f s  %.2f GB/s of orig_data_size (best of %d)\n", best.restore,
	       (double)st.orig_data_size / best.restore / 1e9, repeat);
	printf("pages differing after restore: %" PRIu64 "; mm_stat (orig, compr, same, "
	       "huge) %s\n", bad, ok ? "equal" : "DIFFERENT");
	return bad || !ok;
}

int main(int argc, char **argv)
{
	const char *dir = "/dev/shm", *alg = "lzo-rle";
	unsigned long size_mib = 1024;
	int repeat = 3, i, ret;
	char path[4200], size[32];
	struct pages p;
	struct uzram *z;

	for (i = 1; i + 1 < argc && argv[i][0] == '-'; i += 2) {
		if (!strcmp(argv[i], "--size"))
			size_mib = strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--dir"))
			dir = argv[i + 1];
		else if (!strcmp(argv[i], "--algorithm"))
			alg = argv[i + 1];
		else if (!strcmp(argv[i], "--repeat"))
			repeat = atoi(argv[i + 1]);
		else
			break;
	}
	if (i >= argc || !size_mib || repeat < 1) {
		fprintf(stderr, "usage: image_speed [--size MIB] [--dir DIR] [--algorithm ALG] "
			"[--repeat N] PAGEFILE...\n");
		return 2;
	}
	if (map_files(&p, argv + i, argc - i) || uzram_new(&z, 2))
		return 1;
	snprintf(size, sizeof(size), "%luM", size_mib);
	snprintf(path, sizeof(path), "%s/uzram-image-speed.img", dir);
	ret = uzram_attr_store(z, 0, "comp_algorithm", alg, strlen(alg));
	if (!ret)
		ret = uzram_attr_store(z, 0, "disksize", size, strlen(size));
	if (ret)
		return die(alg, -ret);
	ret = run(z, &p, (uint64_t)size_mib << 8, path, repeat);
	uzram_free(z);
	return ret;
}
