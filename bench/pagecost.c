/*
 * pagecost.c - what a fresh page of anonymous memory costs this machine,
 * obtained the way zsmalloc obtains it (zsmalloc_mem.c): an anonymous
 * MAP_NORESERVE mapping faulted in with MADV_POPULATE_WRITE, a batch at a
 * time.
 *
 *   build/default/bench/pagecost [--mib N] [--batch KIB] [--reps N]
 *
 * Maps N MiB (default 256), populates it in batches of KIB KiB (default 64,
 * zsmalloc's ZS_PREFAULT), unmaps it; REPS times (default 5). Prints each
 * run's microseconds per 4 KiB page, then the best. The first run often
 * costs more: on a virtual machine its pages may also have to come from
 * the host. The kernel's zsmalloc takes its pages from the page allocator
 * without zeroing, charging or LRU, so this is a cost the kernel's zram does
 * not pay; bench/run uses the best figure to bound what a uzram write can
 * reach (the compressor plus this, per stored page).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t mib = 256, batch_kib = 64;
	int reps = 5;
	double best = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--mib") && i + 1 < argc)
			mib = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			batch_kib = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
			reps = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: pagecost [--mib N] [--batch KIB] [--reps N]\n");
			return 2;
		}
	}
	if (!mib || !batch_kib || batch_kib % 4 || reps < 1) {
		fprintf(stderr, "pagecost: --mib and --reps >= 1, --batch a multiple of 4\n");
		return 2;
	}

	size_t len = mib << 20, batch = batch_kib << 10, pages = len / 4096;

	printf("fresh anonymous memory, MADV_POPULATE_WRITE in %zu KiB batches, %zu MiB:", batch_kib, mib);
	for (int r = 0; r < reps; r++) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		double t;

		if (p == MAP_FAILED) {
			perror("pagecost: mmap");
			return 1;
		}
		t = now();
		for (size_t off = 0; off < len; off += batch) {
			size_t n = len - off < batch ? len - off : batch;

			if (madvise(p + off, n, MADV_POPULATE_WRITE)) {
				perror("pagecost: madvise(MADV_POPULATE_WRITE)");
				return 1;
			}
		}
		t = (now() - t) / (double)pages * 1e6;
		munmap(p, len);
		printf(" %.3f", t);
		if (!best || t < best)
			best = t;
	}
	printf(" us/page\nbest %.3f us per 4 KiB page\n", best);
	return 0;
}
