/*
 * dump.c - `uzram dump --pid PID OUT`: the resident private anonymous pages
 * of a live process, as a page file (4096-byte pages, concatenated).
 *
 * This is what zram holds on a real machine: anonymous memory pushed out by
 * swap. Mappings come from /proc/PID/maps (private, readable, no backing
 * file: the heap, the stack, anonymous and [anon:...] regions), residency
 * from /proc/PID/pagemap (present, not a file or shared-anonymous page), the
 * bytes from /proc/PID/mem.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"

#define PM_PRESENT	(1ull << 63)
#define PM_SWAPPED	(1ull << 62)
#define PM_FILE_SHARED	(1ull << 61)
#define DUMP_PAGE	4096u

static bool anonymous_private(const char *perms, const char *path)
{
	if (perms[0] != 'r' || perms[3] != 'p')
		return false;
	if (!*path)
		return true;
	return !strcmp(path, "[heap]") || !strcmp(path, "[stack]") ||
	       !strncmp(path, "[anon:", 6);
}

/* Copy the resident pages of [start, end) to out, through buf (512 pages);
 * returns pages or -errno. */
static long dump_range(int pagemap, int mem, FILE *out, uint8_t *buf,
		       uint64_t start, uint64_t end)
{
	uint64_t pm[512];
	long pages = 0;

	for (uint64_t a = start; a < end;) {
		size_t n = (size_t)UZ_MIN((end - a) / DUMP_PAGE, 512);
		ssize_t r = pread(pagemap, pm, n * 8, (off_t)(a / DUMP_PAGE * 8));

		if (r != (ssize_t)(n * 8))
			return -EIO;
		for (size_t i = 0; i < n;) {
			size_t j = i;
			while (j < n && (pm[j] & PM_PRESENT) &&
			       !(pm[j] & (PM_SWAPPED | PM_FILE_SHARED)))
				j++;
			if (j > i) {
				size_t len = (j - i) * DUMP_PAGE;
				ssize_t got = pread(mem, buf, len,
						    (off_t)(a + i * DUMP_PAGE));
				/* A page can vanish meanwhile: keep what came. */
				if (got > 0) {
					size_t whole = (size_t)got / DUMP_PAGE * DUMP_PAGE;
					if (fwrite(buf, 1, whole, out) != whole)
						return -EIO;
					pages += (long)(whole / DUMP_PAGE);
				}
				i = j;
			} else {
				i++;
			}
		}
		a += n * DUMP_PAGE;
	}
	return pages;
}

/* Write the resident anonymous pages of pid to path; returns pages or -errno. */
long dump_process(int pid, const char *path)
{
	char fname[64], line[4096];
	int pagemap, mem;
	FILE *maps, *out;
	uint8_t *buf;
	long total = 0;

	snprintf(fname, sizeof(fname), "/proc/%d/maps", pid);
	maps = fopen(fname, "re");
	if (!maps)
		return -errno;
	snprintf(fname, sizeof(fname), "/proc/%d/pagemap", pid);
	pagemap = open(fname, O_RDONLY | O_CLOEXEC);
	snprintf(fname, sizeof(fname), "/proc/%d/mem", pid);
	mem = open(fname, O_RDONLY | O_CLOEXEC);
	out = strcmp(path, "-") ? fopen(path, "we") : stdout;
	/* On the heap, not static: 2 MiB of bss would be part of every
	 * uzram process, a locked `serve --mlock` too. */
	buf = malloc(512 * DUMP_PAGE);
	if (pagemap < 0 || mem < 0 || !out || !buf) {
		int err = buf ? errno : ENOMEM;
		free(buf);
		fclose(maps);
		if (pagemap >= 0)
			close(pagemap);
		if (mem >= 0)
			close(mem);
		if (out && out != stdout)
			fclose(out);
		return -err;
	}
	while (fgets(line, sizeof(line), maps)) {
		uint64_t start, end;
		char perms[8] = "", pathname[4096] = "";

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %*s %*s %*s %4095[^\n]",
			   &start, &end, perms, pathname) < 3)
			continue;
		char *p = pathname;
		while (*p == ' ')
			p++;
		if (!anonymous_private(perms, p))
			continue;
		long n = dump_range(pagemap, mem, out, buf, start, end);
		if (n < 0) {
			total = n;
			break;
		}
		total += n;
	}
	free(buf);
	fclose(maps);
	close(pagemap);
	close(mem);
	if (out != stdout && fclose(out) != 0 && total >= 0)
		total = -EIO;
	return total;
}

int cmd_dump(int argc, char **argv)
{
	const char *out = NULL;
	long pid = -1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pid") && i + 1 < argc) {
			pid = strtol(argv[++i], NULL, 10);
		} else if (!strncmp(argv[i], "--pid=", 6)) {
			pid = strtol(argv[i] + 6, NULL, 10);
		} else if (argv[i][0] != '-' || !strcmp(argv[i], "-")) {
			out = argv[i];
		} else {
			fprintf(stderr, "uzram dump: unknown option '%s'\n", argv[i]);
			return 2;
		}
	}
	if (pid <= 0 || !out) {
		fprintf(stderr, "usage: uzram dump --pid PID OUT\n");
		return 2;
	}
	long pages = dump_process((int)pid, out);
	if (pages < 0) {
		fprintf(stderr, "uzram dump: process %ld: %s\n", pid, strerror((int)-pages));
		return 1;
	}
	fprintf(stderr, "uzram dump: %ld pages (%.1f MiB) from process %ld to %s\n",
		pages, pages * 4096.0 / (1 << 20), pid, out);
	return 0;
}
