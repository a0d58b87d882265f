/*
 * test_image.c - a device saved to an image and restored (docs/image.md;
 * uzram_save, uzram_restore and their _file variants): a device with
 * same-filled, huge, compressed, recompressed (priority 1), idle and
 * incompressible-flagged slots round-trips with every page identical,
 * mm_stat's orig, compr, same and huge equal and block_state's flags equal;
 * written-back slots (compressed writeback off and on) come back into
 * memory; every region of an image corrupted, and truncations at many
 * offsets, are refused with the error that names them and the device stays
 * reset; other versions, foreign files and trailing bytes are refused; a
 * restore onto an initialised or open device is -EBUSY; a save whose
 * backing file vanished fails with -EIO and leaves no file; the file
 * variants replace a file whole and follow the path allow-list; a save
 * while a writer runs gives each page as one of its written versions.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "devutil.h"

#define PAGE	4096
#define NPAGES	256		/* disksize 1M */

static char dir[] = "/tmp/uzram-img-XXXXXX";
static struct uzram *z;

/* Page k of version v: text (compressible) mostly, random every 5th,
 * same-filled every 7th (zeros every 14th). */
static void page_kv(uint8_t *p, unsigned int k, unsigned int v)
{
	uint64_t s = k * 7919ull + v * 104729ull;

	if (k % 14 == 0)
		memset(p, 0, PAGE);
	else if (k % 7 == 0)
		memset(p, 'a' + (int)v % 26, PAGE);
	else if (k % 5 == 0)
		fill_random(p, PAGE, &s);
	else
		fill_text(p, PAGE, k + 1000 * v);
}

static void write_pages(int id, unsigned int n)
{
	struct uzram_dev *d;
	uint8_t p[PAGE];

	REQUIRE(uzram_open(z, id, &d) == 0, "open zram%d", id);
	for (unsigned int k = 0; k < n; k++) {
		page_kv(p, k, 0);
		REQUIRE(uzram_write(d, p, (uint64_t)k * PAGE, PAGE) == 0, "write %u", k);
	}
	uzram_close(d);
}

/* Pages of zram a and zram b that differ (or fail to read). */
static unsigned int compare_devices(int a, int b)
{
	struct uzram_dev *da, *db;
	uint8_t pa[PAGE], pb[PAGE];
	unsigned int bad = 0;

	REQUIRE(uzram_open(z, a, &da) == 0 && uzram_open(z, b, &db) == 0, "open");
	for (unsigned int k = 0; k < NPAGES; k++)
		if (uzram_read(da, pa, (uint64_t)k * PAGE, PAGE) ||
		    uzram_read(db, pb, (uint64_t)k * PAGE, PAGE) || memcmp(pa, pb, PAGE))
			bad++;
	uzram_close(da);
	uzram_close(db);
	return bad;
}

/* block_state without the access times: "index flags" lines. */
static char *flags_of(int id)
{
	static char buf[2][1 << 16];
	static int which;
	char *out = buf[which ^= 1], raw[1 << 16], *save = NULL;
	uint64_t pos = 0;
	long n = uzram_block_state(z, id, &pos, raw, sizeof(raw) - 1);
	size_t len = 0;

	out[0] = '\0';
	if (n < 0)
		return out;
	raw[n] = '\0';
	for (char *l = strtok_r(raw, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		unsigned long idx;
		char t[32], f[16];

		if (sscanf(l, "%lu %31s %15s", &idx, t, f) == 3)
			len += (size_t)snprintf(out + len, sizeof(buf[0]) - len, "%lu %s\n", idx, f);
	}
	return out;
}

/* An image of device id in memory (*len bytes; free it). */
static uint8_t *save_bytes(int id, size_t *len)
{
	int fd = memfd_create("image", MFD_CLOEXEC);
	struct stat st;
	uint8_t *buf;
	int ret;

	REQUIRE(fd >= 0, "memfd");
	ret = uzram_save(z, id, fd);
	REQUIRE(ret == 0, "save zram%d: %s (%s)", id, strerror(-ret),
		uzram_store_reason() ? uzram_store_reason() : "");
	REQUIRE(fstat(fd, &st) == 0 && st.st_size > 0, "image size");
	*len = (size_t)st.st_size;
	buf = malloc(*len);
	REQUIRE(buf && pread(fd, buf, *len, 0) == (ssize_t)*len, "read image");
	close(fd);
	return buf;
}

static int restore_bytes(int id, const uint8_t *buf, size_t len)
{
	int fd = memfd_create("image", MFD_CLOEXEC), ret;

	REQUIRE(fd >= 0 && write(fd, buf, len) == (ssize_t)len, "memfd");
	lseek(fd, 0, SEEK_SET);
	ret = uzram_restore(z, id, fd);
	close(fd);
	return ret;
}

static bool is_reset(int id)
{
	return !strcmp(show(z, id, "initstate"), "0\n") &&
	       !strcmp(show(z, id, "disksize"), "0\n");
}

static bool reason_is(const char *want)
{
	const char *r = uzram_store_reason();

	return r && strstr(r, want);
}

/* zram0: lz4 with zstd at priority 1 (level 5), every kind of slot. */
static void make_source(const char *backing, bool compressed_wb)
{
	REQUIRE(uzram_new(&z, 2) == 0, "new");
	REQUIRE(store(z, 0, "comp_algorithm", "lz4") == 0, "alg");
	REQUIRE(store(z, 0, "recomp_algorithm", "algo=zstd priority=1") == 0, "recomp");
	REQUIRE(store(z, 0, "algorithm_params", "priority=1 level=5") == 0, "params");
	if (backing)
		REQUIRE(store(z, 0, "backing_dev", backing) == 0, "backing_dev");
	if (compressed_wb)
		REQUIRE(store(z, 0, "compressed_writeback", "1") == 0, "cwb");
	REQUIRE(store(z, 0, "mem_limit", "64M") == 0, "mem_limit");
	REQUIRE(store(z, 0, "disksize", "1M") == 0, "disksize");
	write_pages(0, NPAGES - 16);	/* the last 16 pages stay empty */
	REQUIRE(store(z, 0, "recompress", "type=huge priority=1") == 0, "recompress huge");
	REQUIRE(store(z, 0, "idle", "all") == 0, "idle");
	REQUIRE(store(z, 0, "recompress", "type=idle priority=1") == 0, "recompress");
	REQUIRE(store(z, 0, "idle", "all") == 0, "idle");
}

static void test_round_trip(void)
{
	struct mm a, b;
	size_t len;
	uint8_t *img;
	char *fa;

	make_source(NULL, false);
	a = mm_stat(z, 0);
	fa = strdup(flags_of(0));
	CHECK(strstr(fa, " ..hi.n") && strstr(fa, " s.....") && strstr(fa, " ...ir."),
	      "the source has every kind of slot:\n%s", fa);
	img = save_bytes(0, &len);
	CHECK_EQ(restore_bytes(1, img, len), 0);
	b = mm_stat(z, 1);
	CHECK(a.orig == b.orig && a.compr == b.compr && a.same == b.same &&
	      a.huge == b.huge && a.limit == b.limit,
	      "mm_stat: %s vs %s", show(z, 0, "mm_stat"), show(z, 1, "mm_stat"));
	CHECK(!strcmp(fa, flags_of(1)), "block_state flags:\n%s\nvs\n%s", fa, flags_of(1));
	CHECK_EQ(compare_devices(0, 1), 0);
	CHECK(!strcmp(show(z, 1, "comp_algorithm"), show(z, 0, "comp_algorithm")), "alg");
	CHECK(!strcmp(show(z, 1, "recomp_algorithm"), show(z, 0, "recomp_algorithm")), "recomp");
	CHECK(!strcmp(show(z, 1, "disksize"), "1048576\n"), "disksize");
	/* restored idle pages stay idle until read; the device is usable */
	CHECK_EQ(store(z, 1, "recompress", "type=idle priority=1"), 0);
	CHECK_EQ(compare_devices(0, 1), 0);
	/* onto an initialised device, onto an open one */
	CHECK_EQ(restore_bytes(1, img, len), -EBUSY);
	CHECK(reason_is("reset it first"), "reason: %s", uzram_store_reason());
	struct uzram_dev *d;
	REQUIRE(store(z, 1, "reset", "1") == 0 && uzram_open(z, 1, &d) == 0, "reset, open");
	CHECK_EQ(restore_bytes(1, img, len), -EBUSY);
	CHECK(is_reset(1), "an open device stays reset");
	uzram_close(d);
	CHECK_EQ(restore_bytes(1, img, len), 0);
	CHECK_EQ(restore_bytes(5, img, len), -ENODEV);
	CHECK_EQ(uzram_save(z, 5, 1), -ENODEV);
	REQUIRE(store(z, 1, "reset", "1") == 0, "reset");
	CHECK_EQ(uzram_save(z, 1, 1), -EINVAL);	/* uninitialised */
	free(fa);
	free(img);
	uzram_free(z);
}

/* A byte of img flipped at off: refused with err (0: any), device reset. */
static void corrupt_at(const uint8_t *img, size_t len, size_t off, int err,
		       const char *why)
{
	uint8_t *bad = malloc(len);
	int ret;

	memcpy(bad, img, len);
	bad[off] ^= 0x20;
	ret = restore_bytes(1, bad, len);
	CHECK(ret != 0 && (!err || ret == err) && (!why || reason_is(why)),
	      "byte %zu flipped: %d (%s), want %d (%s)", off, ret,
	      uzram_store_reason() ? uzram_store_reason() : "", err, why ? why : "");
	CHECK(is_reset(1), "byte %zu flipped: zram1 stays reset", off);
	free(bad);
}

static void test_corruption(void)
{
	size_t len, dlen;
	uint8_t *img;

	make_source(NULL, false);
	img = save_bytes(0, &len);
	/* the header: magic, version, then any field (checksum) */
	for (size_t off = 0; off < 8; off++)
		corrupt_at(img, len, off, -EINVAL, "bad magic");
	corrupt_at(img, len, 8, -ENOTSUP, "version");
	for (size_t off = 12; off < 240; off++)
		corrupt_at(img, len, off, 0, NULL);
	corrupt_at(img, len, 24, -EBADMSG, "header checksum");	/* disksize */
	corrupt_at(img, len, 40, -EBADMSG, "header checksum");	/* the algorithm */
	/* the first chunk's head and records, then every 257th byte */
	for (size_t off = 240; off < len - 56; off += off < 400 ? 1 : 257)
		corrupt_at(img, len, off, 0, NULL);
	corrupt_at(img, len, 240 + 16 + 100, -EBADMSG, "slot chunk checksum");
	for (size_t off = len - 56; off < len; off++)
		corrupt_at(img, len, off, 0, NULL);
	corrupt_at(img, len, len - 56 + 8, -EBADMSG, "trailer checksum");
	/* truncations */
	for (dlen = 0; dlen < len; dlen += dlen < 300 ? 1 : 1021) {
		int ret = restore_bytes(1, img, dlen);

		CHECK(ret == -EINVAL && reason_is("truncated"), "%zu of %zu bytes: %d (%s)",
		      dlen, len, ret, uzram_store_reason() ? uzram_store_reason() : "");
		CHECK(is_reset(1), "truncated: zram1 stays reset");
	}
	CHECK(restore_bytes(1, img, len - 1) == -EINVAL && reason_is("truncated"), "len-1");
	/* trailing bytes, another version, a foreign file */
	uint8_t *more = calloc(1, len + 1);
	memcpy(more, img, len);
	CHECK(restore_bytes(1, more, len + 1) == -EINVAL && reason_is("after the image"),
	      "trailing byte");
	memcpy(more, img, len);
	more[8] = 2;
	CHECK(restore_bytes(1, more, len) == -ENOTSUP && reason_is("version"), "version 2");
	memset(more, 0, len);
	CHECK(restore_bytes(1, more, len) == -EINVAL && reason_is("not a uzram image"),
	      "zeros");
	CHECK(is_reset(1), "zram1 stays reset");
	/* after all that, the real image still restores */
	CHECK_EQ(restore_bytes(1, img, len), 0);
	CHECK_EQ(compare_devices(0, 1), 0);
	free(more);
	free(img);
	uzram_free(z);
}

/* Slots whose block_state flags hold every one of want. */
static unsigned int count_flags(int id, const char *want)
{
	char *f = flags_of(id), *save = NULL;
	unsigned int n = 0;

	for (char *l = strtok_r(f, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		const char *fl = strchr(l, ' ');
		bool all = fl != NULL;

		for (const char *w = want; *w && all; w++)
			all = strchr(fl, *w) != NULL;
		n += all;
	}
	return n;
}

static void make_file(const char *path, off_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	REQUIRE(fd >= 0 && ftruncate(fd, size) == 0, "create %s", path);
	close(fd);
}

/* Slots written back come back into memory, as they lay on the backing
 * store; once the backing file is gone, a save fails and leaves no file. */
static void test_writeback(bool compressed)
{
	char bfile[300], out[300];
	struct mm a, b;
	size_t len;
	uint8_t *img;

	snprintf(bfile, sizeof(bfile), "%s/backing", dir);
	snprintf(out, sizeof(out), "%s/wb.img", dir);
	make_file(bfile, 1 << 20);
	make_source(bfile, compressed);
	REQUIRE(store(z, 0, "writeback", "page_indexes=0-99") == 0, "writeback");
	unsigned int wb = count_flags(0, "w"), wb_huge = count_flags(0, "wh");
	CHECK(wb == 85 && wb_huge == 17, "written back: %u, %u of them huge", wb, wb_huge);
	a = mm_stat(z, 0);
	img = save_bytes(0, &len);
	CHECK_EQ(restore_bytes(1, img, len), 0);
	b = mm_stat(z, 1);
	CHECK(a.orig == b.orig && a.same == b.same && b.compr > a.compr,
	      "mm_stat: %s vs %s", show(z, 0, "mm_stat"), show(z, 1, "mm_stat"));
	CHECK(b.huge == a.huge + (compressed ? wb_huge : wb),
	      "huge %" PRIu64 " -> %" PRIu64, a.huge, b.huge);
	CHECK(!strchr(flags_of(1), 'w'), "nothing written back after a restore");
	CHECK_EQ(compare_devices(0, 1), 0);
	/* the backing file vanishes (truncated under the device) */
	REQUIRE(truncate(bfile, 0) == 0, "truncate");
	CHECK_EQ(uzram_save_file(z, 0, out), -EIO);
	CHECK(reason_is("backing device"), "reason: %s", uzram_store_reason());
	CHECK(access(out, F_OK) != 0, "no file after a failed save");
	free(img);
	uzram_free(z);
	unlink(bfile);
}

/* No file in dir but the ones named (temporary files are gone). */
static unsigned int files_in_dir(void)
{
	char cmd[400];
	FILE *f;
	unsigned int n = 0;

	snprintf(cmd, sizeof(cmd), "ls -A %s", dir);
	f = popen(cmd, "r");
	while (f && fgets(cmd, sizeof(cmd), f))
		n++;
	if (f)
		pclose(f);
	return n;
}

static void test_files(void)
{
	char img[300], sub[300], outside[300];
	const char *allow[1] = { sub };
	uint8_t old[4] = "old!", got[4];

	snprintf(img, sizeof(img), "%s/dev.img", dir);
	snprintf(sub, sizeof(sub), "%s/allowed", dir);
	snprintf(outside, sizeof(outside), "%s/outside.img", dir);
	REQUIRE(mkdir(sub, 0700) == 0, "mkdir");
	make_source(NULL, false);
	int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0 && write(fd, old, 4) == 4, "old file");
	close(fd);
	/* a failed save leaves the old file as it was, and no other */
	CHECK_EQ(uzram_save_file(z, 1, img), -EINVAL);
	fd = open(img, O_RDONLY);
	CHECK(fd >= 0 && read(fd, got, 4) == 4 && !memcmp(got, old, 4), "old file kept");
	close(fd);
	CHECK_EQ(files_in_dir(), 2);
	CHECK_EQ(uzram_save_file(z, 0, img), 0);
	CHECK_EQ(files_in_dir(), 2);
	CHECK_EQ(uzram_restore_file(z, 1, img), 0);
	CHECK_EQ(compare_devices(0, 1), 0);
	CHECK_EQ(uzram_save_file(z, 0, dir), -EISDIR);
	CHECK_EQ(uzram_restore_file(z, 1, dir), -EISDIR);
	CHECK_EQ(uzram_restore_file(z, 1, "/dev/null"), -EINVAL);
	/* the allow-list */
	REQUIRE(uzram_set_path_allowlist(z, allow, 1) == 0, "allow-list");
	CHECK_EQ(uzram_save_file(z, 0, outside), -EPERM);
	CHECK(access(outside, F_OK) != 0, "nothing made outside");
	REQUIRE(store(z, 1, "reset", "1") == 0, "reset");
	CHECK_EQ(uzram_restore_file(z, 1, img), -EPERM);
	snprintf(img, sizeof(img), "%s/allowed/dev.img", dir);
	CHECK_EQ(uzram_save_file(z, 0, img), 0);
	CHECK_EQ(uzram_restore_file(z, 1, img), 0);
	CHECK_EQ(compare_devices(0, 1), 0);
	unlink(img);
	snprintf(img, sizeof(img), "%s/dev.img", dir);
	unlink(img);
	rmdir(sub);
	uzram_free(z);
}

static atomic_bool writer_stop;

/* Rewrites every page with rising versions until told to stop. */
static void *writer(void *arg)
{
	struct uzram_dev *d;
	uint8_t p[PAGE];

	if (uzram_open(z, 0, &d))
		return NULL;
	for (unsigned int v = 1; !atomic_load(&writer_stop) && v < 1000; v++)
		for (unsigned int k = 0; k < NPAGES; k++) {
			page_kv(p, k, v);
			uzram_write(d, p, (uint64_t)k * PAGE, PAGE);
		}
	uzram_close(d);
	return NULL;
}

/* Page k of zram1 is one of the versions the writer wrote. */
static bool some_version(const uint8_t *got, unsigned int k)
{
	uint8_t p[PAGE];

	for (unsigned int v = 0; v < 1000; v++) {
		page_kv(p, k, v);
		if (!memcmp(p, got, PAGE))
			return true;
	}
	return false;
}

static void test_concurrent(void)
{
	struct uzram_dev *d;
	pthread_t t;
	uint8_t p[PAGE];
	unsigned int bad = 0;
	size_t len;
	uint8_t *img;

	make_source(NULL, false);
	atomic_store(&writer_stop, false);
	REQUIRE(pthread_create(&t, NULL, writer, NULL) == 0, "thread");
	usleep(20000);
	for (int round = 0; round < 5; round++) {
		img = save_bytes(0, &len);
		CHECK_EQ(restore_bytes(1, img, len), 0);
		REQUIRE(uzram_open(z, 1, &d) == 0, "open");
		for (unsigned int k = 0; k < NPAGES - 16; k++)
			bad += uzram_read(d, p, (uint64_t)k * PAGE, PAGE) || !some_version(p, k);
		uzram_close(d);
		REQUIRE(store(z, 1, "reset", "1") == 0, "reset");
		free(img);
	}
	atomic_store(&writer_stop, true);
	pthread_join(t, NULL);
	CHECK_EQ(bad, 0);
	uzram_free(z);
}

int main(void)
{
	REQUIRE(mkdtemp(dir), "mkdtemp");
	test_round_trip();
	test_corruption();
	test_writeback(false);
	test_writeback(true);
	test_files();
	test_concurrent();
	rmdir(dir);
	return check_summary();
}
