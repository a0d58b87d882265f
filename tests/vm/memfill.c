/*
 * memfill.c - memory pressure with verification, for the VM swap tests.
 *
 *   memfill --mib N [--data compressible|random] [--passes P] [--seed S]
 *           [--dump FILE]
 *
 * Maps N MiB of anonymous memory, fills every 8-byte word with a value
 * computed from (seed, word index), then reads everything back P times
 * (default 2) and counts the words that differ from the recomputed value.
 * In a VM with less RAM than N MiB this drives the pages through swap and
 * back, so a swap device that loses or mixes up pages shows as mismatches.
 *
 * Data:
 *   random        every word a hash of its index: incompressible.
 *   compressible  each 4 KiB page: 3136 bytes repeating a 32-byte pattern
 *                 drawn from the page's index, then 960 bytes of hash words -
 *                 about 4:1 with lzo-rle or lz4, never a same-filled page.
 *                 (The pattern comes first: after incompressible bytes, the
 *                 LZO and LZ4 match finders skip ahead in growing steps and
 *                 would miss much of a short-period pattern.)
 *
 * --dump FILE writes the filled memory to FILE (a page file for `uzram bench`
 * or `uzram analyze`) before the passes.
 *
 * Progress goes to stderr every 64 MiB; the last line on stdout is
 *   memfill: N MiB DATA passes=P mismatches=M fill=X.Xs verify=Y.Ys
 * Exit: 0 when no word differed, 1 on mismatches or a failed dump, 2 on bad
 * usage, 3 when the memory cannot be mapped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE_WORDS	512u		/* 8-byte words in a 4 KiB page */
#define RANDOM_WORDS	120u		/* the incompressible last 960 bytes */
#define PATTERN_WORDS	4u		/* the 32-byte repeated pattern */
#define PROGRESS_WORDS	((64ull << 20) / 8)
#define MAX_REPORTED	10

enum data_kind { DATA_COMPRESSIBLE, DATA_RANDOM };

struct fill {
	enum data_kind kind;
	uint64_t key_word;		/* stream of the per-word hashes */
	uint64_t key_pattern;		/* stream of the per-page patterns */
};

/* splitmix64's finalizer: a bijective 64-bit mix. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static inline uint64_t word_value(const struct fill *f, uint64_t idx)
{
	uint64_t w = idx % PAGE_WORDS;

	if (f->kind == DATA_RANDOM || w >= PAGE_WORDS - RANDOM_WORDS)
		return mix64(f->key_word + idx * 0x9e3779b97f4a7c15ull);
	return mix64(f->key_pattern +
		     ((idx / PAGE_WORDS) * PATTERN_WORDS + w % PATTERN_WORDS) *
		     0x9e3779b97f4a7c15ull);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: memfill --mib N [--data compressible|random] "
		"[--passes P] [--seed S] [--dump FILE]\n");
	exit(2);
}

static uint64_t parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	if (!s)
		usage();
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		fprintf(stderr, "memfill: bad %s: %s\n", opt, s);
		usage();
	}
	return v;
}

static int dump(const char *path, const void *buf, size_t len)
{
	const char *p = buf;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0) {
		fprintf(stderr, "memfill: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "memfill: write %s: %s\n", path,
				n < 0 ? strerror(errno) : "short write");
			close(fd);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	if (close(fd)) {
		fprintf(stderr, "memfill: close %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct fill f = { .kind = DATA_COMPRESSIBLE };
	uint64_t mib = 0, passes = 2, seed = 1, nwords, mismatches = 0;
	const char *dump_path = NULL;
	double t0, fill_s, verify_s;
	uint64_t *mem;
	size_t len;
	int ret = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--mib")) {
			mib = parse_u64(a, v, 1, 1ull << 30);
		} else if (!strcmp(a, "--passes")) {
			passes = parse_u64(a, v, 0, 1000000);
		} else if (!strcmp(a, "--seed")) {
			seed = parse_u64(a, v, 0, UINT64_MAX);
		} else if (!strcmp(a, "--data")) {
			if (v && !strcmp(v, "compressible"))
				f.kind = DATA_COMPRESSIBLE;
			else if (v && !strcmp(v, "random"))
				f.kind = DATA_RANDOM;
			else
				usage();
		} else if (!strcmp(a, "--dump")) {
			if (!v)
				usage();
			dump_path = v;
		} else {
			usage();
		}
		i++;
	}
	if (!mib)
		usage();

	f.key_word = mix64(seed ^ 0x6d656d66696c6c31ull);
	f.key_pattern = mix64(seed ^ 0x7061747465726e32ull);
	len = (size_t)(mib << 20);
	nwords = len / 8;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "memfill: mmap %" PRIu64 " MiB: %s\n", mib, strerror(errno));
		return 3;
	}

	t0 = now();
	for (uint64_t i = 0; i < nwords; i++) {
		mem[i] = word_value(&f, i);
		if ((i + 1) % PROGRESS_WORDS == 0)
			fprintf(stderr, "memfill: filled %" PRIu64 "/%" PRIu64 " MiB (%.1fs)\n",
				(i + 1) * 8 >> 20, mib, now() - t0);
	}
	fill_s = now() - t0;

	if (dump_path && dump(dump_path, mem, len))
		ret = 1;

	t0 = now();
	for (uint64_t p = 1; p <= passes; p++) {
		uint64_t bad = 0;

		for (uint64_t i = 0; i < nwords; i++) {
			uint64_t want = word_value(&f, i);

			if (mem[i] != want) {
				if (mismatches + bad < MAX_REPORTED)
					fprintf(stderr, "memfill: pass %" PRIu64 ": word %" PRIu64
						" (page %" PRIu64 " +%" PRIu64 "): %016" PRIx64
						", want %016" PRIx64 "\n", p, i, i / PAGE_WORDS,
						(i % PAGE_WORDS) * 8, mem[i], want);
				bad++;
			}
			if ((i + 1) % PROGRESS_WORDS == 0)
				fprintf(stderr, "memfill: pass %" PRIu64 ": %" PRIu64 "/%" PRIu64
					" MiB (%.1fs)\n", p, (i + 1) * 8 >> 20, mib, now() - t0);
		}
		mismatches += bad;
	}
	verify_s = now() - t0;

	printf("memfill: %" PRIu64 " MiB %s passes=%" PRIu64 " mismatches=%" PRIu64
	       " fill=%.1fs verify=%.1fs\n", mib,
	       f.kind == DATA_RANDOM ? "random" : "compressible", passes, mismatches,
	       fill_s, verify_s);
	munmap(mem, len);
	return mismatches ? 1 : ret;
}
