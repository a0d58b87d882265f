/*
 * test_parse.c - the kernel's parsing helpers (lib/kstrtox.c, lib/cmdline.c,
 * lib/string.c): what
 * each accepts, what it returns, and the errors of everything else.
 */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "util/parse.h"

static void test_kstrtoull(void)
{
	unsigned long long v = 0;

	CHECK_EQ(kstrtoull("0", 10, &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(kstrtoull("18446744073709551615", 10, &v), 0);
	CHECK(v == 18446744073709551615ull, "max u64");
	CHECK_EQ(kstrtoull("18446744073709551616", 10, &v), -ERANGE);
	CHECK_EQ(kstrtoull("99999999999999999999999", 10, &v), -ERANGE);
	CHECK_EQ(kstrtoull("+5", 10, &v), 0);
	CHECK_EQ(v, 5);
	CHECK_EQ(kstrtoull("-5", 10, &v), -EINVAL);
	CHECK_EQ(kstrtoull("5\n", 10, &v), 0);	/* one trailing newline */
	CHECK_EQ(kstrtoull("5\n\n", 10, &v), -EINVAL);
	CHECK_EQ(kstrtoull("5 ", 10, &v), -EINVAL);
	CHECK_EQ(kstrtoull(" 5", 10, &v), -EINVAL);
	CHECK_EQ(kstrtoull("", 10, &v), -EINVAL);
	CHECK_EQ(kstrtoull("\n", 10, &v), -EINVAL);
	CHECK_EQ(kstrtoull("5k", 10, &v), -EINVAL);
	CHECK_EQ(kstrtoull("0x10", 0, &v), 0);
	CHECK_EQ(v, 16);
	CHECK_EQ(kstrtoull("010", 0, &v), 0);
	CHECK_EQ(v, 8);
	CHECK_EQ(kstrtoull("010", 10, &v), 0);
	CHECK_EQ(v, 10);
	CHECK_EQ(kstrtoull("0x10", 10, &v), -EINVAL);
	CHECK_EQ(kstrtoull("ff", 16, &v), 0);
	CHECK_EQ(v, 255);
	CHECK_EQ(kstrtoull("0xff", 16, &v), 0);
	CHECK_EQ(v, 255);
	CHECK_EQ(kstrtoull("09", 0, &v), -EINVAL);	/* octal */
	CHECK_EQ(kstrtoull("0x", 0, &v), -EINVAL);
}

static void test_signed_and_narrow(void)
{
	int i;
	unsigned int u;
	uint16_t h;
	unsigned long ul;
	long long ll;

	CHECK_EQ(kstrtoint("-1", 10, &i), 0);
	CHECK_EQ(i, -1);
	CHECK_EQ(kstrtoint("2147483647", 10, &i), 0);
	CHECK_EQ(kstrtoint("2147483648", 10, &i), -ERANGE);
	CHECK_EQ(kstrtoint("-2147483648", 10, &i), 0);
	CHECK_EQ(i, -2147483648LL);
	CHECK_EQ(kstrtoint("-2147483649", 10, &i), -ERANGE);
	CHECK_EQ(kstrtoint("--1", 10, &i), -EINVAL);
	CHECK_EQ(kstrtoint("+-1", 10, &i), -EINVAL);
	CHECK_EQ(kstrtoll("-9223372036854775808", 10, &ll), 0);
	CHECK_EQ(kstrtoll("9223372036854775808", 10, &ll), -ERANGE);
	CHECK_EQ(kstrtouint("4294967295", 10, &u), 0);
	CHECK_EQ(kstrtouint("4294967296", 10, &u), -ERANGE);
	CHECK_EQ(kstrtouint("-1", 10, &u), -EINVAL);
	CHECK_EQ(kstrtou16("65535", 10, &h), 0);
	CHECK_EQ(h, 65535);
	CHECK_EQ(kstrtou16("65536", 10, &h), -ERANGE);
	CHECK_EQ(kstrtou16("1\n", 10, &h), 0);
	CHECK_EQ(kstrtoul("0", 10, &ul), 0);
	CHECK_EQ(kstrtoul("0 ", 10, &ul), -EINVAL);
}

static void test_kstrtobool(void)
{
	const char *yes[] = { "y", "Y", "1", "t", "T", "e", "E", "on", "On", "oN", "yes", "1\n", "true" };
	const char *no[] = { "n", "N", "0", "f", "F", "d", "D", "off", "OFF", "no", "0\n", "false" };
	const char *bad[] = { "", "o", "ox", "2", "x", " 1" };
	bool b;

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		b = false;
		CHECK(kstrtobool(yes[i], &b) == 0 && b, "'%s' is true", yes[i]);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		b = true;
		CHECK(kstrtobool(no[i], &b) == 0 && !b, "'%s' is false", no[i]);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK(kstrtobool(bad[i], &b) == -EINVAL, "'%s' is refused", bad[i]);
}

static void test_memparse(void)
{
	char *end;
	const char *s;

	CHECK(memparse("1G", &end) == 1ull << 30 && *end == 0, "1G");
	CHECK(memparse("1g", NULL) == 1ull << 30, "1g");
	CHECK(memparse("64k", NULL) == 64 << 10, "64k");
	CHECK(memparse("3M", NULL) == 3ull << 20, "3M");
	CHECK(memparse("2T", NULL) == 2ull << 40, "2T");
	CHECK(memparse("1P", NULL) == 1ull << 50, "1P");
	CHECK(memparse("1E", NULL) == 1ull << 60, "1E");
	CHECK(memparse("0x1000", NULL) == 4096, "hex");
	CHECK(memparse("010", NULL) == 8, "octal");
	CHECK(memparse("4096", NULL) == 4096, "plain");
	s = "1Gxyz";
	CHECK(memparse(s, &end) == 1ull << 30 && end == s + 2, "trailing ignored");
	s = "-5";
	CHECK(memparse(s, &end) == 0 && end == s, "leading minus parses as 0");
	s = "abc";
	CHECK(memparse(s, &end) == 0 && end == s, "nothing parsed");
	s = "5\n";
	CHECK(memparse(s, &end) == 5 && *end == '\n', "newline left");
	s = "1K\n";
	CHECK(memparse(s, &end) == 1024 && *end == '\n', "suffix then newline");
}

static void test_sysfs_streq(void)
{
	CHECK(sysfs_streq("lz4", "lz4"), "equal");
	CHECK(sysfs_streq("lz4\n", "lz4"), "newline left");
	CHECK(sysfs_streq("lz4", "lz4\n"), "newline right");
	CHECK(!sysfs_streq("lz4\n\n", "lz4"), "two newlines");
	CHECK(!sysfs_streq("lz4 ", "lz4"), "space");
	CHECK(!sysfs_streq("lz", "lz4"), "prefix");
	CHECK(!sysfs_streq("lz4hc", "lz4"), "longer");
	CHECK(sysfs_streq("", ""), "empty");
	CHECK(sysfs_streq("\n", ""), "newline only");
}

static void test_next_arg(void)
{
	char buf[128], *args, *p, *v;

	strcpy(buf, "algo=zstd level=8 priority=1\n");
	args = skip_spaces(buf);
	args = next_arg(args, &p, &v);
	CHECK(!strcmp(p, "algo") && v && !strcmp(v, "zstd"), "algo=zstd");
	args = next_arg(args, &p, &v);
	CHECK(!strcmp(p, "level") && v && !strcmp(v, "8"), "level=8");
	args = next_arg(args, &p, &v);
	CHECK(!strcmp(p, "priority") && v && !strcmp(v, "1"), "priority=1 (newline is whitespace)");
	CHECK(*args == '\0', "all consumed");

	strcpy(buf, "idle");
	args = next_arg(buf, &p, &v);
	CHECK(!strcmp(p, "idle") && v == NULL && *args == 0, "valueless");

	strcpy(buf, "dict=\"/tmp/a b\" x=");
	args = next_arg(buf, &p, &v);
	CHECK(!strcmp(p, "dict") && v && !strcmp(v, "/tmp/a b"), "quoted value: '%s'", v ? v : "(null)");
	args = next_arg(args, &p, &v);
	CHECK(!strcmp(p, "x") && v && *v == '\0', "empty value");

	strcpy(buf, "\"key=val\"");
	args = next_arg(buf, &p, &v);
	CHECK(!strcmp(p, "key") && v && !strcmp(v, "val"), "quoted token: %s=%s", p, v ? v : "(null)");

	strcpy(buf, "=5");
	args = next_arg(buf, &p, &v);
	CHECK(!strcmp(p, "=5") && v == NULL, "'=' first is not a separator");

	strcpy(buf, "a=b=c   d");
	args = next_arg(buf, &p, &v);
	CHECK(!strcmp(p, "a") && !strcmp(v, "b=c"), "first '=' splits");
	CHECK(!strcmp(args, "d"), "whitespace skipped: '%s'", args);
}

int main(void)
{
	test_kstrtoull();
	test_signed_and_narrow();
	test_kstrtobool();
	test_memparse();
	test_sysfs_streq();
	test_next_arg();
	return check_summary();
}
