/*
 * test_sizeexpr.c - sizeexpr_eval (src/serve/sizeexpr.c), the arithmetic of
 * zram-generator.conf's zram-size: precedence, functions, the examples of
 * zram-generator.conf(5), and errors with the place they were found.
 */
#include <math.h>
#include <string.h>

#include "check.h"
#include "../src/serve/sizeexpr.h"

/* s evaluates to want with ram = ram_mib. */
static void ok(const char *s, double ram_mib, double want)
{
	const char *err = NULL;
	size_t pos = 0;
	double v = -12345;
	int ret = sizeexpr_eval(s, ram_mib, &v, &err, &pos);

	CHECK(ret == 0 && fabs(v - want) < 1e-9, "'%s' (ram %g): %d, %g, %s at %zu; want %g",
	      s, ram_mib, ret, v, err ? err : "-", pos, want);
}

/* s is refused with a message containing msg, found at offset at. */
static void bad(const char *s, const char *msg, size_t at)
{
	const char *err = NULL;
	size_t pos = 0;
	double v = 0;
	int ret = sizeexpr_eval(s, 1024, &v, &err, &pos);

	CHECK(ret == -1 && err && strstr(err, msg) && pos == at,
	      "'%s': %d, '%s' at %zu; want '%s' at %zu", s, ret, err ? err : "-", pos, msg, at);
}

int main(void)
{
	/* numbers, ram, the operators and their precedence */
	ok("4096", 0, 4096);
	ok(" 0.5 ", 0, 0.5);
	ok("ram", 7977, 7977);
	ok("ram / 2", 7977, 3988.5);
	ok("1 + 2 * 3", 0, 7);
	ok("(1 + 2) * 3", 0, 9);
	ok("10 - 4 - 3", 0, 3);
	ok("64 / 4 / 2", 0, 8);
	ok("7 % 4", 0, 3);
	ok("2 ^ 3 ^ 2", 0, 512);		/* right-associative */
	ok("-2 ^ 2", 0, -4);			/* ^ above the sign */
	ok("2 ^ -1", 0, 0.5);
	ok("--3", 0, 3);
	ok("+3", 0, 3);
	ok("ram*3/4", 1000, 750);
	/* min and max, nested, with one or more arguments */
	ok("min(ram / 2, 4096)", 2048, 1024);	/* zram-generator's default */
	ok("min(ram / 2, 4096)", 65536, 4096);
	ok("max(1)", 0, 1);
	ok("max(1, 5, 3)", 0, 5);
	ok("min ( 3 , max(1, 2) )", 0, 2);
	/* zram-generator.conf(5)'s example: 1:1 to 4G, then 1:2, at most 32G */
	ok("min(min(ram, 4096) + max(ram - 4096, 0) / 2, 32 * 1024)", 2048, 2048);
	ok("min(min(ram, 4096) + max(ram - 4096, 0) / 2, 32 * 1024)", 12288, 8192);
	ok("min(min(ram, 4096) + max(ram - 4096, 0) / 2, 32 * 1024)", 131072, 32768);

	/* errors and where they are */
	bad("", "expected a number", 0);
	bad("ram /", "expected a number", 5);
	bad("ram / 0", "division by zero", 6);
	bad("5 % (1 - 1)", "division by zero", 4);
	bad("(1 + 2", "expected ')'", 6);
	bad("min(1, 2", "expected ',' or ')'", 8);
	bad("min 1", "expected '('", 4);
	bad("ram2", "unknown name", 0);
	bad("log(ram)", "unknown name", 0);
	bad("2 ram", "expected an operator or the end", 2);
	bad("4k", "expected an operator or the end", 1);	/* no SI suffixes */
	bad("1e5", "expected an operator or the end", 1);
	bad(".", "expected a number", 0);
	bad("10 ^ 400", "too large", 8);
	{
		char deep[200];

		memset(deep, '(', 100);
		strcpy(deep + 100, "1");
		bad(deep, "nested too deeply", 64);
	}
	return check_summary();
}
