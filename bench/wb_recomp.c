/*
 * wb_recomp.c - writeback and recompression on a page file: what they save
 * and how fast they go (issue 7's figures).
 *
 *   build/default/bench/wb_recomp [--dir DIR] [--json] PAGEFILE
 *
 * 1. A device (lz4) is filled with the pages; `idle all`; `writeback idle`
 *    to a backing file in DIR (default /tmp): mem_used_total before and
 *    after, and the writeback's MB/s (of pages written); then every page is
 *    read back from the backing file (MB/s) and compared.
 * 2. A device with lz4 and zstd as its recompression algorithm is filled;
 *    `recompress`: compr_data_size and mem_used_total before and after, and
 *    the recompression's MB/s (of the pages it took). Read back, compared.
 * MB = 10^6 bytes. Exit status 1 if any page read back differs.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "uzram.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int st(struct uzram *z, const char *attr, const char *val)
{
	int ret = uzram_attr_store(z, 0, attr, val, strlen(val));

	if (ret)
		fprintf(stderr, "wb_recomp: %s=%s: %s\n", attr, val, strerror(-ret));
	return ret;
}

static int fill(struct uzram_dev *d, const uint8_t *data, size_t len)
{
	for (size_t off = 0; off < len; off += 1u << 20) {
		size_t n = len - off < (1u << 20) ? len - off : 1u << 20;
		int ret = uzram_write(d, data + off, off, n);
		if (ret)
			return ret;
	}
	return 0;
}

static long verify(struct uzram_dev *d, const uint8_t *data, size_t len, double *secs)
{
	static uint8_t buf[1 << 20];
	long bad = 0;
	double t = now(), spent = 0;

	for (size_t off = 0; off < len; off += sizeof(buf)) {
		size_t n = len - off < sizeof(buf) ? len - off : sizeof(buf);
		double t0 = now();
		if (uzram_read(d, buf, off, n))
			return -1;
		spent += now() - t0;
		bad += memcmp(buf, data + off, n) != 0;
	}
	(void)t;
	*secs = spent;
	return bad;
}

int main(int argc, char **argv)
{
	const char *dir = "/tmp", *file = NULL;
	bool json = false;
	struct uzram_stats s0, s1;
	char size[32], path[4200];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dir") && i + 1 < argc)
			dir = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			json = true;
		else
			file = argv[i];
	}
	if (!file) {
		fprintf(stderr, "usage: wb_recomp [--dir DIR] [--json] PAGEFILE\n");
		return 2;
	}
	FILE *f = fopen(file, "rb");
	if (!f) {
		perror(file);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	size_t len = (size_t)ftell(f) / 4096 * 4096;
	fseek(f, 0, SEEK_SET);
	uint8_t *data = malloc(len);
	if (!data || fread(data, 1, len, f) != len) {
		fprintf(stderr, "wb_recomp: %s: read failed\n", file);
		return 1;
	}
	fclose(f);
	snprintf(size, sizeof(size), "%zu", len);

	/* 1. writeback */
	snprintf(path, sizeof(path), "%s/uzram-wb-XXXXXX", dir);
	int fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, (off_t)len) != 0) {
		fprintf(stderr, "wb_recomp: backing file in %s: %s\n", dir, strerror(errno));
		return 1;
	}
	close(fd);
	struct uzram *z;
	struct uzram_dev *d;
	if (uzram_new(&z, 1) || st(z, "comp_algorithm", "lz4") || st(z, "backing_dev", path) ||
	    st(z, "disksize", size) || uzram_open(z, 0, &d) || fill(d, data, len))
		return 1;
	uzram_stats(z, 0, &s0);
	double t = now();
	if (st(z, "idle", "all") || st(z, "writeback", "idle"))
		return 1;
	double wb_secs = now() - t;
	uzram_stats(z, 0, &s1);
	double rd_secs;
	long bad_wb = verify(d, data, len, &rd_secs);
	uint64_t wb_pages = s1.bd_writes;
	uzram_close(d);
	uzram_free(z);
	unlink(path);

	/* 2. recompression */
	struct uzram_stats r0, r1;
	if (uzram_new(&z, 1) || st(z, "comp_algorithm", "lz4") ||
	    st(z, "recomp_algorithm", "algo=zstd") || st(z, "disksize", size) ||
	    uzram_open(z, 0, &d) || fill(d, data, len))
		return 1;
	uzram_stats(z, 0, &r0);
	t = now();
	if (st(z, "recompress", ""))
		return 1;
	double rc_secs = now() - t;
	uzram_stats(z, 0, &r1);
	double rc_rd;
	long bad_rc = verify(d, data, len, &rc_rd);
	uzram_close(d);
	uzram_free(z);

	double saved = r0.compr_data_size ?
		1.0 - (double)r1.compr_data_size / (double)r0.compr_data_size : 0;
	if (json) {
		printf("{\"pages\": %zu, \"mem_used_before_writeback\": %" PRIu64
		       ", \"mem_used_after_writeback\": %" PRIu64 ", \"written_back\": %" PRIu64
		       ", \"writeback_mbps\": %.1f, \"backing_read_mbps\": %.1f"
		       ", \"compr_before_recompress\": %" PRIu64 ", \"compr_after_recompress\": %" PRIu64
		       ", \"mem_used_before_recompress\": %" PRIu64 ", \"mem_used_after_recompress\": %" PRIu64
		       ", \"recompress_saving\": %.4f, \"recompress_mbps\": %.1f, \"verified\": %s}\n",
		       len / 4096, s0.mem_used_total, s1.mem_used_total, wb_pages,
		       wb_pages * 4096.0 / wb_secs / 1e6, len / rd_secs / 1e6,
		       r0.compr_data_size, r1.compr_data_size, r0.mem_used_total, r1.mem_used_total,
		       saved, len / rc_secs / 1e6, bad_wb || bad_rc ? "false" : "true");
	} else {
		printf("%s: %zu pages\n", file, len / 4096);
		printf("writeback   mem_used_total %.1f MB -> %.1f MB (%.1f%%), %" PRIu64
		       " pages at %.1f MB/s; read back from the file at %.1f MB/s%s\n",
		       s0.mem_used_total / 1e6, s1.mem_used_total / 1e6,
		       100.0 * s1.mem_used_total / s0.mem_used_total, wb_pages,
		       wb_pages * 4096.0 / wb_secs / 1e6, len / rd_secs / 1e6,
		       bad_wb ? ", MISMATCH" : ", verified");
		printf("recompress  lz4 -> zstd: compr_data_size %.1f MB -> %.1f MB (saved %.1f%%), "
		       "mem_used_total %.1f MB -> %.1f MB, %.1f MB/s%s\n",
		       r0.compr_data_size / 1e6, r1.compr_data_size / 1e6, 100 * saved,
		       r0.mem_used_total / 1e6, r1.mem_used_total / 1e6, len / rc_secs / 1e6,
		       bad_rc ? ", MISMATCH" : ", verified");
	}
	free(data);
	return bad_wb || bad_rc ? 1 : 0;
}
