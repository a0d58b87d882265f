/*
 * devutil.h - helpers for tests that drive devices through the public API.
 */
#ifndef UZRAM_TEST_DEVUTIL_H
#define UZRAM_TEST_DEVUTIL_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "uzram.h"

/* Store a string into an attribute of device id; 0 or -errno. */
static inline int store(struct uzram *z, int id, const char *attr, const char *val)
{
	return uzram_attr_store(z, id, attr, val, strlen(val));
}

/* Show an attribute into a static buffer; on error "ERR <errno>". */
static inline const char *show(struct uzram *z, int id, const char *attr)
{
	static char buf[8192];
	long n = uzram_attr_show(z, id, attr, buf, sizeof(buf));

	if (n < 0)
		snprintf(buf, sizeof(buf), "ERR %ld", -n);
	return buf;
}

/* The nine mm_stat fields. */
struct mm {
	uint64_t orig, compr, used, limit, max, same, compacted, huge, huge_since;
};

static inline struct mm mm_stat(struct uzram *z, int id)
{
	struct mm m;

	memset(&m, 0xff, sizeof(m));
	sscanf(show(z, id, "mm_stat"),
	       "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
	       " %" SCNu64 " %" SCNu64 " %" SCNu64,
	       &m.orig, &m.compr, &m.used, &m.limit, &m.max, &m.same, &m.compacted,
	       &m.huge, &m.huge_since);
	return m;
}

/* Fill a page with pseudo-random bytes (incompressible). */
static inline void fill_random(uint8_t *p, size_t n, uint64_t *state)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = check_rand(state);
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

/* A compressible page: text-like bytes seeded by k. */
static inline void fill_text(uint8_t *p, size_t n, unsigned int k)
{
	static const char words[] = "the quick brown fox jumps over the lazy dog zram page ";
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)words[(i + k * 7) % (sizeof(words) - 1)];
	p[0] = (uint8_t)k;
	p[n - 1] = (uint8_t)(k >> 8);
}

/* len bytes of content of several kinds, 512 at a time: zeros, a repeated
 * word, random bytes, text; so every store path of a device is taken. */
static inline void make_data(uint8_t *buf, size_t len, uint64_t *rs)
{
	for (size_t off = 0; off < len; off += 512) {
		unsigned int kind = check_rand(rs) % 5;
		uint64_t w = check_rand(rs);
		switch (kind) {
		case 0:
			memset(buf + off, 0, 512);
			break;
		case 1:
			for (int i = 0; i < 512; i += 8)
				memcpy(buf + off + i, &w, 8);
			break;
		case 2:
			fill_random(buf + off, 512, rs);
			break;
		default:
			fill_text(buf + off, 512, (unsigned int)w);
			break;
		}
	}
}

#endif /* UZRAM_TEST_DEVUTIL_H */
