/*
 * check.h - the tiny harness every C test uses.
 *
 *   CHECK(cond, fmt, ...)     count a check; on failure print file:line and the message
 *   CHECK_EQ(a, b)            integers; prints both values on failure
 *   SKIP(fmt, ...)            print "SKIP: reason" and exit 77 (counted as skipped)
 *   return check_summary();   prints "name: N checks, N failed", exit status 0/1
 *
 * Randomised tests take their seed from UZRAM_SEED when set and always print
 * the seed they used, so a failure can be replayed.
 */
#ifndef UZRAM_TEST_CHECK_H
#define UZRAM_TEST_CHECK_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Atomic: a test's threads may check while the main thread checks too. */
static _Atomic unsigned long check_count, check_failed;

#define CHECK(cond, ...)							\
	do {									\
		check_count++;							\
		if (!(cond)) {							\
			check_failed++;						\
			fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__,	\
				__LINE__, #cond);				\
			fprintf(stderr, __VA_ARGS__);				\
			fputc('\n', stderr);					\
		}								\
	} while (0)

#define CHECK_EQ(a, b)								\
	do {									\
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);	\
		CHECK(check_a_ == check_b_, "%s = %lld, %s = %lld", #a,	\
		      check_a_, #b, check_b_);					\
	} while (0)

/* Stop the test at the first failure of a precondition the rest relies on. */
#define REQUIRE(cond, ...)							\
	do {									\
		bool require_ok_ = (cond);					\
		CHECK(require_ok_, __VA_ARGS__);				\
		if (!require_ok_) {						\
			fprintf(stderr, "aborting test: precondition failed\n");\
			exit(1);						\
		}								\
	} while (0)

#define SKIP(...)								\
	do {									\
		printf("SKIP: ");						\
		printf(__VA_ARGS__);						\
		printf("\n");							\
		exit(77);							\
	} while (0)

static inline int check_summary_named(const char *name)
{
	unsigned long count = check_count, failed = check_failed;

	printf("%s: %lu checks, %lu failed\n", name, count, failed);
	return failed ? 1 : 0;
}
#define check_summary() check_summary_named(__FILE__)

/* The seed of a randomised test: UZRAM_SEED, or the clock; printed. */
static inline uint64_t check_seed(void)
{
	const char *s = getenv("UZRAM_SEED");
	uint64_t seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)clock() << 20);
	printf("seed: UZRAM_SEED=%" PRIu64 "\n", seed);
	fflush(stdout);
	return seed;
}

/* Long suites (make test) set UZRAM_LONG=1. */
static inline int check_long(void)
{
	const char *s = getenv("UZRAM_LONG");
	return s && *s == '1';
}

/* splitmix64: the tests' deterministic random numbers. */
static inline uint64_t check_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

#endif /* UZRAM_TEST_CHECK_H */
