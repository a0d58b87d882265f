/*
 * units.c - sizes as people read them (units.h), shared by the commands:
 * zramctl's human format (lib/strutils.c of util-linux 2.38:
 * size_to_human_string with SIZE_SUFFIX_1LETTER): powers of 1024, one
 * decimal rounded half up, no ".0" ("4.1M", "512K", "0B").
 */
#include <inttypes.h>
#include <stdio.h>

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
