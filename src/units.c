/*
 * units.c - sizes as people read them (units.h), shared by the commands:
 * zramctl's human format (lib/strutils.c of util-linux 2.38:
 * size_to_human_string with SIZE_SUFFIX_1LETTER): powers of 1024, one
 * decimal rounded half up, no ".0" ("4.1M", "512K", "0B"); and the sizes
 * `uzram serve` takes (--size, --reserve, --device size=), strictly.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "units.h"

void human_size(uint64_t bytes, char *buf, size_t size)
{
	static const char letters[] = "BKMGTPE";
	int shift, exp;
	unsigned int dec;
	uint64_t frac;

	for (shift = 10; shift <= 60; shift += 10)
		if (bytes < (1ull << shift))
			break;
	exp = shift - 10;
	dec = exp ? (unsigned int)(bytes >> exp) : (unsigned int)bytes;
	frac = exp ? bytes & ((1ull << exp) - 1) : 0;
	if (frac) {
		if (frac >= UINT64_MAX / 1000)
			frac = ((frac / 1024) * 1000) / (1ull << (exp - 10));
		else
			frac = (frac * 1000) / (1ull << exp);
		frac = ((frac + 50) / 100) * 10;	/* one digit, 4/5 rounding */
		if (frac == 100) {
			dec++;
			frac = 0;
		}
	}
	if (frac)
		snprintf(buf, size, "%u.%" PRIu64 "%c", dec, frac / 10, letters[exp / 10]);
	else
		snprintf(buf, size, "%u%c", dec, letters[exp / 10]);
}

/* A size as disksize takes it, but strict: digits and one K/M/G/T/P/E. */
bool valid_size(const char *s)
{
	size_t n = strspn(s, "0123456789");

	return n > 0 && (!s[n] || (strchr("KkMmGgTtPpEe", s[n]) && !s[n + 1]));
}

/* SIZE as valid_size takes it, in bytes (the K..E suffixes are powers of
 * 1024, as memparse's); 0 on overflow. */
uint64_t size_bytes(const char *s)
{
	static const char units[] = "KMGTPE";
	char *end;
	uint64_t v = strtoull(s, &end, 10);
	const char *u = *end ? strchr(units, *end & ~0x20) : NULL;

	if (v == UINT64_MAX)	/* strtoull's overflow, or UZRAM_RESERVE_MEM_LIMIT */
		return 0;
	for (int shift = u ? 10 * (int)(u - units + 1) : 0; shift > 0; shift -= 10) {
		if (v > UINT64_MAX >> 10)
			return 0;
		v <<= 10;
	}
	return v == UINT64_MAX ? 0 : v;
}
