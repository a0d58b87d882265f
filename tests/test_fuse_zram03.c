/*
 * test_fuse_zram03.c - LTP's zram03 (testcases/kernel/device-drivers/zram/
 * zram03.c) against the FUSE tree of a real `uzram serve --mount`, twice:
 * once through mmap of DIR/zramN/disk itself, once through mmap of a
 * `losetup --direct-io=on` loop device on it, as zram03 maps /dev/zramN.
 *
 *	hot_add -> disksize 512 MiB -> mmap MAP_SHARED, memset 'a' over all
 *	but the last byte, '\0' there -> munmap, close -> mm_stat and stat
 *	(orig_data_size 512 MiB, same_pages 131071: every page but the last,
 *	which is compressed; the stat file counts writes) -> mmap MAP_PRIVATE
 *	read-only and verify every byte -> reset (all statistics 0) -> hot_remove
 *
 * Beside it, what a C program sees of disk: SEEK_DATA/SEEK_HOLE over
 * unwritten pages, O_DIRECT pread/pwrite, fallocate's unsupported modes.
 * The server is started by this test and stopped by its PID (SIGTERM); it
 * must exit 0 and leave nothing mounted. Needs root and /dev/fuse.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define SIZE		(512ul << 20)
#define FUSE_MAGIC	0x65735546

static char dir[64], mnt[128], ctl[128], nbd[128];
static pid_t server = -1;
static char loopdev[64];

static void cleanup(void)
{
	char cmd[256];
	int status;

	if (loopdev[0]) {
		snprintf(cmd, sizeof(cmd), "losetup -d %s", loopdev);
		if (system(cmd))
			fprintf(stderr, "cleanup: %s failed\n", cmd);
		loopdev[0] = '\0';
	}
	if (server > 0) {
		kill(server, SIGTERM);
		if (waitpid(server, &status, 0) == server) {
			CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "uzram serve exited with status 0x%x, expected 0", status);
		}
		server = -1;
	}
	if (mnt[0]) {
		struct statfs sf;

		CHECK(statfs(mnt, &sf) == 0 && sf.f_type != FUSE_MAGIC,
		      "%s still mounted after the server stopped", mnt);
		rmdir(mnt);
		mnt[0] = '\0';
	}
	if (dir[0]) {
		unlink(ctl);
		unlink(nbd);
		rmdir(dir);
		dir[0] = '\0';
	}
}

static void on_signal(int sig)
{
	if (server > 0)
		kill(server, SIGTERM);
	_exit(1);
}

static void start_server(const char *uzram)
{
	struct statfs sf;
	struct stat st;

	snprintf(dir, sizeof(dir), "/tmp/uzram-test.XXXXXX");
	REQUIRE(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	snprintf(mnt, sizeof(mnt), "%s/mnt", dir);
	snprintf(ctl, sizeof(ctl), "%s/control.sock", dir);
	snprintf(nbd, sizeof(nbd), "%s/nbd.sock", dir);
	REQUIRE(mkdir(mnt, 0755) == 0, "mkdir %s: %s", mnt, strerror(errno));
	server = fork();
	REQUIRE(server >= 0, "fork: %s", strerror(errno));
	if (server == 0) {
		execl(uzram, uzram, "serve", "--mount", mnt, "--control", ctl, "--socket", nbd,
		      "--size", "0", (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", uzram, strerror(errno));
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		int status;

		if (statfs(mnt, &sf) == 0 && sf.f_type == FUSE_MAGIC && stat(ctl, &st) == 0)
			return;
		if (waitpid(server, &status, WNOHANG) == server) {
			server = -1;
			REQUIRE(0, "uzram serve exited at start (status 0x%x)", status);
		}
		usleep(50000);
	}
	REQUIRE(0, "uzram serve: no FUSE tree at %s after 10 s", mnt);
}

static int read_attr(const char *dev, const char *attr, char *buf, size_t size)
{
	char path[256];
	int fd, n;

	snprintf(path, sizeof(path), "%s/%s/%s", mnt, dev, attr);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	n = (int)read(fd, buf, size - 1);
	if (n < 0)
		n = -errno;
	else
		buf[n] = '\0';
	close(fd);
	return n;
}

static int write_attr(const char *dev, const char *attr, const char *val)
{
	char path[256];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s/%s", mnt, dev, attr);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

struct mm {
	uint64_t orig, compr, used, limit, max, same, compacted, huge, huge_since;
};

static struct mm mm_stat(const char *dev)
{
	char buf[256];
	struct mm m;

	memset(&m, 0xff, sizeof(m));
	if (read_attr(dev, "mm_stat", buf, sizeof(buf)) > 0)
		sscanf(buf, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
		       " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
		       &m.orig, &m.compr, &m.used, &m.limit, &m.max, &m.same,
		       &m.compacted, &m.huge, &m.huge_since);
	return m;
}

/* zram03's dump_info, checked: after the fill, or zeros after the reset. */
static void dump_info(const char *dev, bool filled)
{
	char buf[512];
	uint64_t rd = 0, wr = 0;
	struct mm m = mm_stat(dev);

	read_attr(dev, "initstate", buf, sizeof(buf));
	CHECK_EQ(atoi(buf), filled ? 1 : 0);
	read_attr(dev, "disksize", buf, sizeof(buf));
	CHECK_EQ(strtoull(buf, NULL, 10), filled ? SIZE : 0);
	printf("%s: orig_data_size %" PRIu64 " compr_data_size %" PRIu64
	       " mem_used_total %" PRIu64 " same_pages %" PRIu64 "\n",
	       dev, m.orig, m.compr, m.used, m.same);
	read_attr(dev, "stat", buf, sizeof(buf));
	sscanf(buf, "%" SCNu64 " %*s %*s %*s %" SCNu64, &rd, &wr);
	printf("%s: stat: reads %" PRIu64 " writes %" PRIu64 "\n", dev, rd, wr);
	if (filled) {
		CHECK(m.orig == SIZE, "orig_data_size %" PRIu64 ", expected %lu", m.orig, SIZE);
		CHECK(m.same == SIZE / 4096 - 1, "same_pages %" PRIu64 ", expected %lu",
		      m.same, SIZE / 4096 - 1);
		CHECK(m.compr > 0 && m.compr < 4096,
		      "compr_data_size %" PRIu64 ": one compressed page expected", m.compr);
		CHECK(m.used > 0 && m.used <= 64 * 4096, "mem_used_total %" PRIu64, m.used);
		CHECK_EQ(m.huge, 0);
		CHECK(wr > 0, "the stat file counts no write");
	} else {
		CHECK(m.orig == 0 && m.compr == 0 && m.used == 0 && m.same == 0 && m.huge == 0,
		      "statistics after reset: %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64,
		      m.orig, m.compr, m.used, m.same);
		CHECK(rd == 0 && wr == 0, "stat after reset: %" PRIu64 " %" PRIu64, rd, wr);
	}
}

/* zram03's write_device / verify_device over path. */
static void fill_and_verify(const char *path, const char *dev)
{
	uint64_t bad = 0;
	char *s;
	int fd;

	fd = open(path, O_RDWR);
	REQUIRE(fd >= 0, "open %s: %s", path, strerror(errno));
	s = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	REQUIRE(s != MAP_FAILED, "mmap %s: %s", path, strerror(errno));
	memset(s, 'a', SIZE - 1);
	s[SIZE - 1] = '\0';
	CHECK(munmap(s, SIZE) == 0, "munmap: %s", strerror(errno));
	CHECK(fsync(fd) == 0, "fsync %s: %s", path, strerror(errno));
	close(fd);

	dump_info(dev, true);

	fd = open(path, O_RDONLY);
	REQUIRE(fd >= 0, "open %s: %s", path, strerror(errno));
	s = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
	REQUIRE(s != MAP_FAILED, "mmap %s: %s", path, strerror(errno));
	for (size_t i = 0; i < SIZE - 1; i++)
		bad += s[i] != 'a';
	CHECK(bad == 0, "%" PRIu64 " bytes are not 'a'", bad);
	CHECK(s[SIZE - 1] == '\0', "the last byte is not '\\0'");
	munmap(s, SIZE);
	close(fd);
}

static int hot_add(void)
{
	char buf[32];
	int n = read_attr("zram-control", "hot_add", buf, sizeof(buf));

	REQUIRE(n > 0, "hot_add: %s", strerror(-n));
	return atoi(buf);
}

static void reset_and_remove(const char *dev, int id)
{
	char num[16];
	int ret = -EBUSY;

	/* a detached loop device lets go of its file a little later */
	for (int i = 0; i < 100 && ret == -EBUSY; i++) {
		ret = write_attr(dev, "reset", "1");
		if (ret == -EBUSY)
			usleep(50000);
	}
	CHECK(ret == 0, "%s: reset: %s", dev, strerror(-ret));
	dump_info(dev, false);
	snprintf(num, sizeof(num), "%d", id);
	ret = write_attr("zram-control", "hot_remove", num);
	CHECK(ret == 0, "hot_remove %d: %s", id, strerror(-ret));
}

/* What else a C program sees of the disk file. */
static void disk_extras(const char *path)
{
	uint8_t *buf;
	off_t off;
	int fd = open(path, O_RDWR | O_DIRECT);

	REQUIRE(fd >= 0, "open %s O_DIRECT: %s", path, strerror(errno));
	REQUIRE(posix_memalign((void **)&buf, 4096, 65536) == 0, "posix_memalign");
	/* nothing written yet: all hole */
	errno = 0;
	CHECK(lseek(fd, 0, SEEK_DATA) == -1 && errno == ENXIO, "SEEK_DATA on an empty disk: %s",
	      strerror(errno));
	CHECK_EQ(lseek(fd, 4096, SEEK_HOLE), 4096);
	memset(buf, 'z', 65536);
	CHECK_EQ(pwrite(fd, buf, 65536, 1 << 20), 65536);
	CHECK_EQ(pwrite(fd, buf, 4096, 3 << 20), 4096);
	CHECK_EQ(lseek(fd, 0, SEEK_DATA), 1 << 20);
	CHECK_EQ(lseek(fd, 1 << 20, SEEK_HOLE), (1 << 20) + 65536);
	CHECK_EQ(lseek(fd, (1 << 20) + 65536, SEEK_DATA), 3 << 20);
	off = lseek(fd, (3 << 20) + 4096, SEEK_HOLE);
	CHECK_EQ(off, (3 << 20) + 4096);
	memset(buf, 0, 65536);
	CHECK_EQ(pread(fd, buf, 65536, 1 << 20), 65536);
	CHECK(buf[0] == 'z' && buf[65535] == 'z', "O_DIRECT read-back");
	/* a discarded range is a hole again */
	CHECK(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 1 << 20, 65536) == 0,
	      "punch: %s", strerror(errno));
	CHECK_EQ(lseek(fd, 0, SEEK_DATA), 3 << 20);
	errno = 0;
	CHECK(fallocate(fd, FALLOC_FL_COLLAPSE_RANGE, 0, 4096) == -1 && errno == EOPNOTSUPP,
	      "collapse range: %s", strerror(errno));
	free(buf);
	close(fd);
}

int main(void)
{
	const char *uzram = getenv("UZRAM");
	char path[256], dev[32], cmd[512], size[32];
	FILE *p;
	int id, ret;

	if (geteuid() != 0)
		SKIP("needs root (FUSE mount, losetup)");
	if (access("/dev/fuse", F_OK))
		SKIP("no /dev/fuse");
	if (!uzram)
		SKIP("UZRAM (the uzram binary) is not set");
	atexit(cleanup);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	start_server(uzram);
	snprintf(size, sizeof(size), "%lu", SIZE);

	/* 1. through mmap of the disk file */
	id = hot_add();
	CHECK_EQ(id, 1);
	snprintf(dev, sizeof(dev), "zram%d", id);
	ret = write_attr(dev, "disksize", size);
	REQUIRE(ret == 0, "disksize: %s", strerror(-ret));
	snprintf(path, sizeof(path), "%s/%s/disk", mnt, dev);
	fill_and_verify(path, dev);
	reset_and_remove(dev, id);

	/* 2. through mmap of a loop device on it, as zram03 maps /dev/zramN */
	id = hot_add();
	snprintf(dev, sizeof(dev), "zram%d", id);
	ret = write_attr(dev, "disksize", size);
	REQUIRE(ret == 0, "disksize: %s", strerror(-ret));
	snprintf(path, sizeof(path), "%s/%s/disk", mnt, dev);
	snprintf(cmd, sizeof(cmd), "losetup --direct-io=on --show -f %s", path);
	p = popen(cmd, "r");
	REQUIRE(p && fgets(loopdev, sizeof(loopdev), p), "%s failed", cmd);
	pclose(p);
	loopdev[strcspn(loopdev, "\n")] = '\0';
	printf("%s on %s\n", loopdev, path);
	fill_and_verify(loopdev, dev);
	snprintf(cmd, sizeof(cmd), "losetup -d %s", loopdev);
	CHECK(system(cmd) == 0, "%s failed", cmd);
	loopdev[0] = '\0';
	reset_and_remove(dev, id);

	/* 3. the rest of the file interface */
	id = hot_add();
	snprintf(dev, sizeof(dev), "zram%d", id);
	ret = write_attr(dev, "disksize", "16M");
	REQUIRE(ret == 0, "disksize: %s", strerror(-ret));
	snprintf(path, sizeof(path), "%s/%s/disk", mnt, dev);
	disk_extras(path);
	reset_and_remove(dev, id);

	cleanup();
	return check_summary();
}
