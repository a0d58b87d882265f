/*
 * test_attr.c - every attribute's accepted and rejected inputs, with the
 * exact output and error of each (docs/attributes.md), and the
 * registry's hot_add / hot_remove rules.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "devutil.h"

#define ALGS "lzo-rle lzo lz4 lz4hc zstd deflate 842 "

static void expect_show(struct uzram *z, int id, const char *attr, const char *want)
{
	const char *got = show(z, id, attr);
	CHECK(!strcmp(got, want), "%s: got '%s', want '%s'", attr, got, want);
}

#define EXPECT_STORE(z, id, attr, val, err)					\
	do {									\
		int r_ = store(z, id, attr, val);				\
		CHECK(r_ == (err), "store '%s' > %s: got %d (%s), want %d",	\
		      val, attr, r_, r_ ? strerror(-r_) : "ok", err);		\
	} while (0)

static void test_registry(void)
{
	struct uzram *z;
	struct uzram_dev *d;
	int ids[8];

	REQUIRE(uzram_new(&z, 1) == 0, "new");
	CHECK_EQ(uzram_list(z, ids, 8), 1);
	CHECK_EQ(ids[0], 0);
	CHECK_EQ(uzram_hot_add(z), 1);
	CHECK_EQ(uzram_hot_add(z), 2);
	CHECK_EQ(uzram_hot_remove(z, 1), 0);
	CHECK(!uzram_exists(z, 1), "1 removed");
	CHECK_EQ(uzram_hot_add(z), 1);		/* the lowest free id again */
	CHECK_EQ(uzram_hot_remove(z, -1), -EINVAL);
	CHECK_EQ(uzram_hot_remove(z, 7), -ENODEV);
	CHECK_EQ(uzram_hot_remove(z, 3), -ENODEV);
	CHECK_EQ(uzram_open(z, 2, &d), 0);
	CHECK_EQ(uzram_hot_remove(z, 2), -EBUSY);
	CHECK_EQ(store(z, 2, "reset", "1"), -EBUSY);	/* open: reset refused too */
	uzram_close(d);
	CHECK_EQ(uzram_hot_remove(z, 2), 0);
	CHECK_EQ(uzram_hot_remove(z, 2), -ENODEV);
	CHECK_EQ(uzram_hot_remove(z, 0), 0);	/* device 0 is like any other */
	CHECK_EQ(uzram_list(z, ids, 8), 1);
	CHECK_EQ(ids[0], 1);
	CHECK_EQ(uzram_hot_add(z), 0);
	int *all;
	CHECK_EQ(uzram_list_all(z, &all), 2);	/* the same ids, allocated */
	CHECK(all && all[0] == 0 && all[1] == 1, "list_all ids");
	free(all);
	CHECK_EQ(uzram_open(z, 5, &d), -ENODEV);
	CHECK(!strcmp(show(z, 9, "disksize"), "ERR 19"), "no device: ENODEV");
	uzram_free(z);
}

static void test_initial(struct uzram *z)
{
	expect_show(z, 0, "disksize", "0\n");
	expect_show(z, 0, "initstate", "0\n");
	expect_show(z, 0, "comp_algorithm", "[lzo-rle] lzo lz4 lz4hc zstd deflate 842 \n");
	expect_show(z, 0, "mm_stat",
		    "       0        0        0        0        0        0        0        0        0\n");
	expect_show(z, 0, "io_stat", "       0        0 0        0\n");
	expect_show(z, 0, "debug_stat", "version: 1\n0        0\n");
	expect_show(z, 0, "recomp_algorithm", "");
	expect_show(z, 0, "block_state", "ERR 22");	/* EINVAL uninitialised */
	/* modes: write-only cannot be read, read-only cannot be written */
	expect_show(z, 0, "reset", "ERR 13");
	expect_show(z, 0, "algorithm_params", "ERR 13");
	EXPECT_STORE(z, 0, "initstate", "1", -EACCES);
	EXPECT_STORE(z, 0, "mm_stat", "1", -EACCES);
	EXPECT_STORE(z, 0, "nosuch", "1", -ENOENT);
	expect_show(z, 0, "nosuch", "ERR 2");

	const struct uzram_attr_info *a = uzram_attr_find("hot_add");
	CHECK(a == NULL, "hot_add is not a device attribute");
	CHECK_EQ(uzram_attr_find("disksize")->mode, 0644);
	CHECK_EQ(uzram_attr_find("initstate")->mode, 0444);
	CHECK_EQ(uzram_attr_find("reset")->mode, 0200);
	CHECK_EQ(uzram_attr_find("mm_stat")->mode, 0444);
	CHECK_EQ(uzram_attr_find("algorithm_params")->mode, 0200);
	CHECK_EQ(uzram_attr_find("comp_algorithm")->mode, 0644);
	CHECK_EQ(uzram_attr_find("block_state")->mode, 0400);
	/* the kernel's order of zram's group */
	CHECK(!strcmp(uzram_attr_at(0)->name, "disksize"), "first is disksize");
	CHECK(!strcmp(uzram_attr_at(1)->name, "initstate"), "then initstate");
	CHECK(!strcmp(uzram_attr_at(7)->name, "comp_algorithm"), "comp_algorithm 8th");
}

static void test_disksize(struct uzram *z)
{
	static const struct { const char *in; const char *out; } ok[] = {
		{ "1", "4096\n" },		/* rounded up to PAGE_SIZE */
		{ "4096", "4096\n" },
		{ "4097", "8192\n" },
		{ "64k", "65536\n" },
		{ "0x1000", "4096\n" },
		{ "010", "4096\n" },		/* octal 8, rounded */
		{ "1G", "1073741824\n" },
		{ "1Gxyz", "1073741824\n" },	/* trailing text ignored */
		{ "2M\n", "2097152\n" },
		{ "100G", "107374182400\n" },	/* 25 M slots: a lazily mapped table */
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		EXPECT_STORE(z, 0, "disksize", ok[i].in, 0);
		expect_show(z, 0, "disksize", ok[i].out);
		expect_show(z, 0, "initstate", "1\n");
		EXPECT_STORE(z, 0, "disksize", "1M", -EBUSY);
		EXPECT_STORE(z, 0, "reset", "1", 0);
		expect_show(z, 0, "disksize", "0\n");
		expect_show(z, 0, "initstate", "0\n");
	}
	EXPECT_STORE(z, 0, "disksize", "0", -EINVAL);
	EXPECT_STORE(z, 0, "disksize", "", -EINVAL);
	EXPECT_STORE(z, 0, "disksize", "abc", -EINVAL);
	EXPECT_STORE(z, 0, "disksize", "-1", -EINVAL);
	EXPECT_STORE(z, 0, "disksize", "k", -EINVAL);
	expect_show(z, 0, "initstate", "0\n");
}

static void test_comp_algorithm(struct uzram *z)
{
	char name[200];

	EXPECT_STORE(z, 0, "comp_algorithm", "lz4", 0);
	expect_show(z, 0, "comp_algorithm", "lzo-rle lzo [lz4] lz4hc zstd deflate 842 \n");
	EXPECT_STORE(z, 0, "comp_algorithm", "zstd\n", 0);
	expect_show(z, 0, "comp_algorithm", "lzo-rle lzo lz4 lz4hc [zstd] deflate 842 \n");
	/* one newline is stripped, and the lookup ignores one more (sysfs_streq) */
	EXPECT_STORE(z, 0, "comp_algorithm", "zstd\n\n", 0);
	EXPECT_STORE(z, 0, "comp_algorithm", "zstd\n\n\n", -EINVAL);
	EXPECT_STORE(z, 0, "comp_algorithm", "zst", -EINVAL);
	EXPECT_STORE(z, 0, "comp_algorithm", "", -EINVAL);
	EXPECT_STORE(z, 0, "comp_algorithm", " lz4", -EINVAL);
	memset(name, 'a', 127);
	name[127] = 0;
	EXPECT_STORE(z, 0, "comp_algorithm", name, -EINVAL);
	name[127] = 'a';
	name[128] = 0;
	EXPECT_STORE(z, 0, "comp_algorithm", name, -E2BIG);
	for (size_t i = 0; i < uzram_algorithm_count(); i++)
		EXPECT_STORE(z, 0, "comp_algorithm", uzram_algorithm_name(i), 0);
	expect_show(z, 0, "comp_algorithm", "lzo-rle lzo lz4 lz4hc zstd deflate [842] \n");
	EXPECT_STORE(z, 0, "comp_algorithm", "lz4", 0);
	EXPECT_STORE(z, 0, "disksize", "1M", 0);
	EXPECT_STORE(z, 0, "comp_algorithm", "zstd", -EBUSY);
	EXPECT_STORE(z, 0, "comp_algorithm", "nope", -EINVAL);	/* checked first */
	expect_show(z, 0, "comp_algorithm", "lzo-rle lzo [lz4] lz4hc zstd deflate 842 \n");
	EXPECT_STORE(z, 0, "reset", "1", 0);
	/* reset restores the default */
	expect_show(z, 0, "comp_algorithm", "[lzo-rle] lzo lz4 lz4hc zstd deflate 842 \n");
}

static void test_reset(struct uzram *z)
{
	EXPECT_STORE(z, 0, "reset", "1", 0);		/* uninitialised: harmless */
	EXPECT_STORE(z, 0, "reset", "1\n", 0);
	EXPECT_STORE(z, 0, "reset", "+1", 0);
	EXPECT_STORE(z, 0, "reset", "65535", 0);
	EXPECT_STORE(z, 0, "reset", "0", -EINVAL);
	EXPECT_STORE(z, 0, "reset", "abc", -EINVAL);
	EXPECT_STORE(z, 0, "reset", "", -EINVAL);
	EXPECT_STORE(z, 0, "reset", "1 ", -EINVAL);
	EXPECT_STORE(z, 0, "reset", "65536", -ERANGE);
	EXPECT_STORE(z, 0, "reset", "-1", -EINVAL);
}

static void test_compact_limits_idle(struct uzram *z)
{
	EXPECT_STORE(z, 0, "compact", "1", -EINVAL);	/* uninitialised */
	EXPECT_STORE(z, 0, "idle", "all", -EINVAL);
	EXPECT_STORE(z, 0, "idle", "bogus", -EINVAL);
	EXPECT_STORE(z, 0, "mem_used_max", "0", 0);	/* uninitialised: a no-op */
	EXPECT_STORE(z, 0, "mem_used_max", "1", -EINVAL);
	EXPECT_STORE(z, 0, "mem_used_max", "0\n", 0);
	EXPECT_STORE(z, 0, "mem_used_max", "00", 0);
	EXPECT_STORE(z, 0, "mem_used_max", "x", -EINVAL);
	EXPECT_STORE(z, 0, "mem_used_max", "", -EINVAL);

	EXPECT_STORE(z, 0, "mem_limit", "", -EINVAL);
	EXPECT_STORE(z, 0, "mem_limit", "abc", -EINVAL);
	EXPECT_STORE(z, 0, "mem_limit", "-5", -EINVAL);
	EXPECT_STORE(z, 0, "mem_limit", "1M", 0);	/* before init */
	CHECK_EQ(mm_stat(z, 0).limit, 1 << 20);
	EXPECT_STORE(z, 0, "mem_limit", "1", 0);	/* rounded up to a page */
	CHECK_EQ(mm_stat(z, 0).limit, 4096);
	EXPECT_STORE(z, 0, "mem_limit", "2Kfoo", 0);
	CHECK_EQ(mm_stat(z, 0).limit, 4096);
	EXPECT_STORE(z, 0, "mem_limit", "0", 0);
	CHECK_EQ(mm_stat(z, 0).limit, 0);

	EXPECT_STORE(z, 0, "disksize", "4M", 0);
	EXPECT_STORE(z, 0, "compact", "", 0);		/* any content */
	EXPECT_STORE(z, 0, "compact", "whatever", 0);
	EXPECT_STORE(z, 0, "mem_limit", "3M", 0);	/* after init too */
	CHECK_EQ(mm_stat(z, 0).limit, 3 << 20);
	EXPECT_STORE(z, 0, "idle", "all", 0);
	EXPECT_STORE(z, 0, "idle", "all\n", 0);
	EXPECT_STORE(z, 0, "idle", "0", 0);
	EXPECT_STORE(z, 0, "idle", "0x10", 0);
	EXPECT_STORE(z, 0, "idle", "4294967295", 0);
	EXPECT_STORE(z, 0, "idle", "4294967296", -EINVAL);
	EXPECT_STORE(z, 0, "idle", "-1", -EINVAL);
	EXPECT_STORE(z, 0, "idle", "al", -EINVAL);
	expect_show(z, 0, "block_state", "");		/* nothing allocated */
	EXPECT_STORE(z, 0, "reset", "1", 0);
	CHECK_EQ(mm_stat(z, 0).limit, 0);		/* reset clears mem_limit */
}

static void test_algorithm_params(struct uzram *z)
{
	char path[] = "/tmp/uzram-dict-XXXXXX";
	int fd;

	EXPECT_STORE(z, 0, "algorithm_params", "level", -EINVAL);
	EXPECT_STORE(z, 0, "algorithm_params", "level=", -EINVAL);
	EXPECT_STORE(z, 0, "algorithm_params", "level=abc", -EINVAL);
	EXPECT_STORE(z, 0, "algorithm_params", "level=99999999999", -ERANGE);
	EXPECT_STORE(z, 0, "algorithm_params", "priority=4", -EINVAL);
	EXPECT_STORE(z, 0, "algorithm_params", "priority=-1", -EINVAL);
	EXPECT_STORE(z, 0, "algorithm_params", "priority=1", 0);	/* clears priority 1 params */
	EXPECT_STORE(z, 0, "algorithm_params", "algo=zstd", -EINVAL);	/* not configured */
	EXPECT_STORE(z, 0, "algorithm_params", "algo=lzo-rle priority=1", -EINVAL);
	EXPECT_STORE(z, 0, "algorithm_params", "foo=bar", 0);	/* unknown keys ignored */
	EXPECT_STORE(z, 0, "algorithm_params", "", 0);
	EXPECT_STORE(z, 0, "algorithm_params", "dict=/nonexistent/dict", -EINVAL);

	/* lzo takes no level: disksize fails, and the default stays usable */
	EXPECT_STORE(z, 0, "algorithm_params", "algo=lzo-rle level=3", 0);
	EXPECT_STORE(z, 0, "disksize", "1M", -EOPNOTSUPP);
	expect_show(z, 0, "initstate", "0\n");
	expect_show(z, 0, "comp_algorithm", "[lzo-rle] lzo lz4 lz4hc zstd deflate 842 \n");
	EXPECT_STORE(z, 0, "disksize", "1M", 0);	/* params were cleared */
	EXPECT_STORE(z, 0, "algorithm_params", "level=1", -EBUSY);	/* after init */
	EXPECT_STORE(z, 0, "reset", "1", 0);

	EXPECT_STORE(z, 0, "comp_algorithm", "lz4", 0);
	EXPECT_STORE(z, 0, "algorithm_params", "level=0", 0);
	EXPECT_STORE(z, 0, "disksize", "1M", -EINVAL);	/* lz4 acceleration >= 1 */
	EXPECT_STORE(z, 0, "comp_algorithm", "lz4", 0);
	EXPECT_STORE(z, 0, "algorithm_params", "algo=lz4 level=5", 0);
	EXPECT_STORE(z, 0, "disksize", "1M", 0);
	EXPECT_STORE(z, 0, "reset", "1", 0);

	EXPECT_STORE(z, 0, "comp_algorithm", "lz4hc", 0);
	EXPECT_STORE(z, 0, "algorithm_params", "level=17", 0);
	EXPECT_STORE(z, 0, "disksize", "1M", -EINVAL);
	EXPECT_STORE(z, 0, "comp_algorithm", "zstd", 0);
	EXPECT_STORE(z, 0, "algorithm_params", "priority=0 level=19", 0);
	EXPECT_STORE(z, 0, "disksize", "1M", 0);
	EXPECT_STORE(z, 0, "reset", "1", 0);

	EXPECT_STORE(z, 0, "comp_algorithm", "deflate", 0);
	EXPECT_STORE(z, 0, "algorithm_params", "deflate.winbits=-15 level=9", 0);
	EXPECT_STORE(z, 0, "disksize", "1M", 0);
	EXPECT_STORE(z, 0, "reset", "1", 0);
	EXPECT_STORE(z, 0, "comp_algorithm", "deflate", 0);
	EXPECT_STORE(z, 0, "algorithm_params", "deflate.winbits=99", 0);
	EXPECT_STORE(z, 0, "disksize", "1M", -EINVAL);

	/* a dictionary: read at store time; lz4 refuses one over 64 KiB */
	fd = mkstemp(path);
	REQUIRE(fd >= 0, "mkstemp");
	static uint8_t dict[70000];
	uint64_t seed = 1;
	for (size_t i = 0; i < sizeof(dict); i++)
		dict[i] = (uint8_t)("abcdefgh"[check_rand(&seed) % 8]);
	REQUIRE(write(fd, dict, sizeof(dict)) == (ssize_t)sizeof(dict), "write dict");
	close(fd);
	char arg[128];
	snprintf(arg, sizeof(arg), "dict=%s", path);
	EXPECT_STORE(z, 0, "comp_algorithm", "lz4", 0);
	EXPECT_STORE(z, 0, "algorithm_params", arg, 0);
	EXPECT_STORE(z, 0, "disksize", "1M", -EINVAL);
	EXPECT_STORE(z, 0, "comp_algorithm", "zstd", 0);
	snprintf(arg, sizeof(arg), "algo=zstd dict=\"%s\"", path);
	EXPECT_STORE(z, 0, "algorithm_params", arg, 0);
	EXPECT_STORE(z, 0, "disksize", "1M", 0);
	EXPECT_STORE(z, 0, "reset", "1", 0);
	truncate(path, 60000);
	EXPECT_STORE(z, 0, "comp_algorithm", "lz4", 0);
	snprintf(arg, sizeof(arg), "dict=%s", path);
	EXPECT_STORE(z, 0, "algorithm_params", arg, 0);
	EXPECT_STORE(z, 0, "disksize", "1M", 0);
	EXPECT_STORE(z, 0, "reset", "1", 0);

	/* A FIFO as the dictionary is refused at once (issue 20): the store
	 * never waits for a writer while it holds the device lock. */
	unlink(path);
	REQUIRE(mkfifo(path, 0600) == 0, "mkfifo");
	alarm(20);	/* a hang fails the test instead of stalling it */
	EXPECT_STORE(z, 0, "algorithm_params", arg, -EINVAL);
	alarm(0);
	CHECK(!strcmp(show(z, 0, "disksize"), "0\n"), "the device answers after it");
	unlink(path);
}

static void test_recomp_algorithm(struct uzram *z)
{
	EXPECT_STORE(z, 0, "recomp_algorithm", "algo=zstd", 0);
	expect_show(z, 0, "recomp_algorithm", "#1: lzo-rle lzo lz4 lz4hc [zstd] deflate 842 \n");
	EXPECT_STORE(z, 0, "recomp_algorithm", "algo=lz4 priority=3", 0);
	expect_show(z, 0, "recomp_algorithm",
		    "#1: lzo-rle lzo lz4 lz4hc [zstd] deflate 842 \n"
		    "#3: lzo-rle lzo [lz4] lz4hc zstd deflate 842 \n");
	EXPECT_STORE(z, 0, "recomp_algorithm", "priority=1", -EINVAL);	/* no algo */
	EXPECT_STORE(z, 0, "recomp_algorithm", "algo=zstd priority=0", -EINVAL);
	EXPECT_STORE(z, 0, "recomp_algorithm", "algo=zstd priority=4", -EINVAL);
	EXPECT_STORE(z, 0, "recomp_algorithm", "algo", -EINVAL);
	EXPECT_STORE(z, 0, "recomp_algorithm", "algo=nope", -EINVAL);
	EXPECT_STORE(z, 0, "recomp_algorithm", "algo=zstd priority=x", -EINVAL);
	/* params by algorithm name now find priority 1 */
	EXPECT_STORE(z, 0, "algorithm_params", "algo=zstd level=9", 0);
	EXPECT_STORE(z, 0, "algorithm_params", "algo=lz4 priority=3 level=2", 0);
	EXPECT_STORE(z, 0, "algorithm_params", "algo=lz4 priority=1", -EINVAL);
	EXPECT_STORE(z, 0, "disksize", "1M", 0);
	EXPECT_STORE(z, 0, "recomp_algorithm", "algo=zstd", -EBUSY);
	EXPECT_STORE(z, 0, "reset", "1", 0);
	expect_show(z, 0, "recomp_algorithm", "");	/* reset clears secondaries */
}

/* The path allow-list a server sets for backing_dev and dict=. */
static _Atomic bool swapping;

/* Swap the names in/sub (a real directory) and in/alt (a symlink to out)
 * over and over, atomically (RENAME_EXCHANGE). */
static void *swapper(void *arg)
{
	const char *in = arg;
	char a[400], b[400];

	snprintf(a, sizeof(a), "%s/sub", in);
	snprintf(b, sizeof(b), "%s/alt", in);
	while (swapping)
		renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE);
	return NULL;
}

/* Does this process hold a descriptor of the file at path? */
static bool holds(const char *path)
{
	struct stat want, st;
	char fdp[64];

	if (stat(path, &want))
		return false;
	for (int fd = 3; fd < 1024; fd++) {
		snprintf(fdp, sizeof(fdp), "/proc/self/fd/%d", fd);
		if (!stat(fdp, &st) && st.st_ino == want.st_ino && st.st_dev == want.st_dev)
			return true;
	}
	return false;
}

/*
 * A component swapped for a symlink between the check and the open (issue
 * 20: check-then-open race) is never followed out of the allowed directory:
 * the store opens relative to it with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS), so it gets the file inside, or -EPERM / -ENOENT.
 */
static void test_path_race(struct uzram *z, const char *in, const char *out)
{
	char sub[320], path[340], target[340];
	pthread_t t;
	int breaches = 0, opened = 0;

	snprintf(sub, sizeof(sub), "%s/sub", in);
	REQUIRE(mkdir(sub, 0700) == 0, "mkdir sub");
	snprintf(path, sizeof(path), "%s/store", sub);
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	REQUIRE(fd >= 0 && ftruncate(fd, 1 << 20) == 0, "inner backing file");
	close(fd);
	snprintf(target, sizeof(target), "%s/alt", in);
	REQUIRE(symlink(out, target) == 0, "symlink alt");
	snprintf(target, sizeof(target), "%s/store", out);
	swapping = true;
	REQUIRE(pthread_create(&t, NULL, swapper, (void *)in) == 0, "thread");
	for (int i = 0; i < 3000 && !breaches; i++) {
		int r = store(z, 0, "backing_dev", path);
		if (r == 0) {
			opened++;
			breaches += holds(target);
		}
	}
	swapping = false;
	pthread_join(t, NULL);
	CHECK(breaches == 0, "backing_dev followed a swapped-in symlink out of the allowed directory");
	CHECK(opened > 0, "the inner file was never opened (%d)", opened);
}

static void test_path_policy(void)
{
	char base[] = "/tmp/uzram-policy-XXXXXX", in[300], out[300], file[400], link[400], arg[500];
	struct uzram *z;

	REQUIRE(mkdtemp(base), "mkdtemp");
	snprintf(in, sizeof(in), "%s/in", base);
	snprintf(out, sizeof(out), "%s/out", base);
	mkdir(in, 0700);
	mkdir(out, 0700);
	REQUIRE(uzram_new(&z, 1) == 0, "new");
	const char *dirs[] = { in };
	CHECK_EQ(uzram_set_path_allowlist(z, (const char *const[]){ "/nonexistent/dir" }, 1), -ENOENT);
	CHECK_EQ(uzram_set_path_allowlist(z, (const char *const[]){ "/proc/self/status" }, 1), -ENOTDIR);
	CHECK_EQ(uzram_set_path_allowlist(z, dirs, 1), 0);
	for (int k = 0; k < 2; k++) {
		snprintf(file, sizeof(file), "%s/store", k ? out : in);
		int fd = open(file, O_RDWR | O_CREAT, 0600);
		REQUIRE(fd >= 0 && ftruncate(fd, 1 << 20) == 0, "backing file");
		close(fd);
	}
	snprintf(file, sizeof(file), "%s/store", out);
	CHECK_EQ(store(z, 0, "backing_dev", file), -EPERM);
	snprintf(link, sizeof(link), "%s/sneaky", in);
	CHECK(symlink(file, link) == 0, "symlink");
	CHECK_EQ(store(z, 0, "backing_dev", link), -EPERM);	/* resolved first */
	snprintf(arg, sizeof(arg), "%s/../out/store", in);
	CHECK_EQ(store(z, 0, "backing_dev", arg), -EPERM);
	snprintf(arg, sizeof(arg), "%s/nope", in);
	CHECK_EQ(store(z, 0, "backing_dev", arg), -ENOENT);
	snprintf(file, sizeof(file), "%s/store", in);
	CHECK_EQ(store(z, 0, "backing_dev", file), 0);
	snprintf(arg, sizeof(arg), "dict=%s/store", out);
	CHECK_EQ(store(z, 0, "algorithm_params", arg), -EPERM);
	snprintf(arg, sizeof(arg), "dict=%s", link);
	CHECK_EQ(store(z, 0, "algorithm_params", arg), -EPERM);
	snprintf(arg, sizeof(arg), "algo=lzo-rle dict=%s/store", in);
	CHECK_EQ(store(z, 0, "algorithm_params", arg), 0);
	test_path_race(z, in, out);
	/* an empty list refuses every path */
	CHECK_EQ(uzram_set_path_allowlist(z, NULL, 0), 0);
	CHECK_EQ(store(z, 0, "backing_dev", file), -EPERM);
	uzram_free(z);
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	CHECK(system(cmd) == 0, "cleanup");
}

/* A store refused for errno err with the reason why (NULL: none). */
static void expect_reason(struct uzram *z, int id, const char *attr, const char *val,
			  int err, const char *why)
{
	int ret = store(z, id, attr, val);
	const char *got = uzram_store_reason();

	CHECK(ret == err, "store '%s' > zram%d/%s: %d, want %d", val, id, attr, ret, err);
	CHECK(why ? got && !strcmp(got, why) : !got, "store '%s' > %s: reason '%s', want '%s'",
	      val, attr, got ? got : "(null)", why ? why : "(null)");
}

static void *other_thread_reason(void *arg)
{
	struct uzram *z = arg;
	const char *before = uzram_store_reason();

	/* a refusal of its own, seen here only */
	store(z, 1, "comp_algorithm", "bogus");
	CHECK(uzram_store_reason() && !strcmp(uzram_store_reason(), "no such algorithm"),
	      "another thread's own reason");
	return (void *)before;
}

/* uzram_store_reason: why a store was refused, the kernel's words where its
 * zram logs some (drivers/block/zram/zram_drv.c), per thread. */
static void test_reasons(void)
{
	char base[] = "/tmp/uzram-reason-XXXXXX", file[300], cmd[400];
	struct uzram_dev *d;
	struct uzram *z;
	pthread_t t;
	void *seen;

	REQUIRE(mkdtemp(base), "mkdtemp");
	snprintf(file, sizeof(file), "%s/store", base);
	REQUIRE(uzram_new(&z, 2) == 0, "new");
	expect_reason(z, 0, "comp_algorithm", "bogus", -EINVAL, "no such algorithm");
	expect_reason(z, 0, "comp_algorithm", "lz4", 0, NULL);	/* success clears it */
	expect_reason(z, 0, "disksize", "0", -EINVAL, "not a size above 0");
	expect_reason(z, 0, "disksize", "16M", 0, NULL);
	expect_reason(z, 0, "disksize", "32M", -EBUSY,
		      "cannot change disksize for initialized device");
	expect_reason(z, 0, "comp_algorithm", "zstd", -EBUSY,
		      "can't change algorithm for initialized device");
	expect_reason(z, 0, "backing_dev", file, -EBUSY,
		      "can't setup backing device for initialized device");
	expect_reason(z, 0, "writeback", "idle", -ENODEV, "no backing_dev set");
	expect_reason(z, 1, "compact", "1", -EINVAL, "device is not initialized");
	/* errnos that say it all: no reason, nor the last one */
	expect_reason(z, 0, "initstate", "1", -EACCES, NULL);
	expect_reason(z, 7, "disksize", "16M", -ENODEV, NULL);
	expect_reason(z, 0, "nosuch", "1", -ENOENT, NULL);
	/* open devices */
	REQUIRE(uzram_open(z, 0, &d) == 0, "open");
	expect_reason(z, 0, "reset", "1", -EBUSY, "device is open");
	CHECK_EQ(uzram_control_store(z, "hot_remove", "0", 1), -EBUSY);
	CHECK(uzram_store_reason() && !strcmp(uzram_store_reason(), "device is open"),
	      "hot_remove of an open device: '%s'", uzram_store_reason());
	uzram_close(d);
	/* the path allow-list */
	REQUIRE(uzram_set_path_allowlist(z, (const char *const[]){ "/proc" }, 1) == 0, "allow-list");
	close(open(file, O_RDWR | O_CREAT, 0600));
	expect_reason(z, 1, "backing_dev", file, -EPERM, "path outside the allowed directories");
	/* per thread: another thread sees none of this one's, and keeps its own */
	REQUIRE(pthread_create(&t, NULL, other_thread_reason, z) == 0, "thread");
	pthread_join(t, &seen);
	CHECK(seen == NULL, "another thread saw this one's reason '%s'", (const char *)seen);
	CHECK(uzram_store_reason() && !strcmp(uzram_store_reason(),
					      "path outside the allowed directories"),
	      "this thread's reason changed by another's store");
	CHECK_EQ(uzram_control_store(z, "hot_remove", "1", 1), 0);
	CHECK(uzram_store_reason() == NULL, "a reason after hot_remove succeeded");
	uzram_free(z);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	CHECK(system(cmd) == 0, "cleanup");
}

/* Device names as every front end reads them (uzram_name_id). */
static void test_names(void)
{
	static const struct { const char *s; int id; } t[] = {
		{ "zram0", 0 }, { "zram7", 7 }, { "zram1024", 1024 },
		{ "zram2147483647", 2147483647 }, { "zram2147483648", -EINVAL },
		{ "zram", -EINVAL }, { "zram01", -EINVAL }, { "zram-1", -EINVAL },
		{ "zram+1", -EINVAL }, { "zram1x", -EINVAL }, { "Zram1", -EINVAL },
		{ "zram 1", -EINVAL }, { "", -EINVAL }, { "/dev/zram0", -EINVAL },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CHECK(uzram_name_id(t[i].s, strlen(t[i].s)) == t[i].id, "name '%s'", t[i].s);
	CHECK_EQ(uzram_name_id("zram12", 5), 1);	/* only len bytes count */
}

/* The block layer's files beside the attributes: size follows disksize,
 * dev names the id, queue/ is fixed text, and none of them takes a store. */
static void test_block_files(struct uzram *z)
{
	static const char *const ro[] = {
		"size", "dev", "ro", "removable", "queue/logical_block_size",
		"queue/rotational", "queue/write_cache",
	};

	expect_show(z, 0, "size", "0\n");
	expect_show(z, 0, "dev", "512:0\n");
	expect_show(z, 0, "ro", "0\n");
	expect_show(z, 0, "queue/logical_block_size", "4096\n");
	expect_show(z, 0, "queue/discard_max_bytes", "2199023255040\n");
	expect_show(z, 0, "queue/write_cache", "write through\n");
	expect_show(z, 0, "queue/zoned", "none\n");
	CHECK(uzram_attr_find("queue/nope") == NULL, "no queue/nope");
	CHECK(uzram_attr_find("rotational") == NULL, "rotational is queue/'s");
	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		CHECK_EQ(uzram_attr_find(ro[i])->mode, 0444);
		EXPECT_STORE(z, 0, ro[i], "1", -EACCES);
	}
	EXPECT_STORE(z, 0, "disksize", "1M", 0);
	expect_show(z, 0, "size", "2048\n");
	EXPECT_STORE(z, 0, "disksize", "1M", -EBUSY);
	expect_show(z, 0, "size", "2048\n");
	EXPECT_STORE(z, 0, "reset", "1", 0);
	expect_show(z, 0, "size", "0\n");
}

int main(void)
{
	struct uzram *z;

	test_registry();
	test_names();
	test_path_policy();
	test_reasons();
	REQUIRE(uzram_new(&z, 1) == 0, "new");
	test_initial(z);
	test_disksize(z);
	test_comp_algorithm(z);
	test_reset(z);
	test_compact_limits_idle(z);
	test_algorithm_params(z);
	test_recomp_algorithm(z);
	test_block_files(z);
	uzram_free(z);
	return check_summary();
}
