/*
 * ctl_format.c - util-linux's number formats, as zramctl prints and reads
 * them (lib/strutils.c of util-linux 2.38: size_to_human_string with
 * SIZE_SUFFIX_1LETTER, and parse_size).
 *
 * Human sizes are units.c's (human_size). Sizes read: a base-0 number (0x..., 0...), then an
 * optional fraction and a suffix K, M, G, T, P, E, Z or Y (either case):
 * "K" and "KiB" are 1024, "KB" is 1000; a fraction needs a suffix.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static int scale(uintmax_t *x, unsigned int base, int power)
{
	while (power--) {
		if (*x > UINTMAX_MAX / base)
			return -ERANGE;
		*x *= base;
	}
	return 0;
}

/* A strtoumax of s (base 0) that must read something. */
static int number(const char *s, uintmax_t *v, char **end)
{
	errno = 0;
	*v = strtoumax(s, end, 0);
	if (*end == s || (errno && (*v == UINTMAX_MAX || *v == 0)))
		return errno ? -errno : -EINVAL;
	return 0;
}

/* ".DIGITS" at *p: the digits after the leading zeros in *frac, the zeros
 * added to *zeros; *p moves past them. A fraction ending the string is
 * refused (it needs a suffix). */
static int parse_fraction(const char **p, uintmax_t *frac, int *zeros)
{
	const char *s = *p + 1;
	char *end;
	int ret;

	for (; *s == '0'; s++)
		(*zeros)++;
	end = (char *)s;
	if (isdigit((unsigned char)*s)) {
		ret = number(s, frac, &end);
		if (ret)
			return ret;
	}
	if (*frac && !*end)
		return -EINVAL;
	*p = end;
	return 0;
}

/* K..Y or k..y: the power of the base; 0 for anything else. */
static int suffix_power(char ch)
{
	static const char upper[] = "KMGTPEZY", lower[] = "kmgtpezy";
	const char *sp;

	if (!ch)
		return 0;
	sp = strchr(upper, ch);
	if (sp)
		return (int)(sp - upper) + 1;
	sp = strchr(lower, ch);
	return sp ? (int)(sp - lower) + 1 : 0;
}

/* What the fraction's digits add, each digit on its own as util-linux
 * does it. */
static uintmax_t fraction_bytes(uintmax_t frac, int zeros, unsigned int base, int pwr)
{
	uintmax_t frac_div = 10, frac_poz = 1, frac_base = 1, add = 0;

	scale(&frac_base, base, pwr);
	while (frac_div < frac)
		frac_div *= 10;
	for (int i = 0; i < zeros; i++)
		frac_div *= 10;
	do {
		unsigned int seg = (unsigned int)(frac % 10);
		uintmax_t seg_div = frac_div / frac_poz;

		frac /= 10;
		frac_poz *= 10;
		if (seg && seg_div / seg)
			add += frac_base / (seg_div / seg);
	} while (frac);
	return add;
}

/*
 * The suffix at p (after the number): its base in *base, fractions read on
 * the way; p is left at the suffix letter. (util-linux reads past the end
 * of "1.0"; the answer there is -EINVAL either way, given here at once.)
 */
static int parse_suffix(const char **p, unsigned int *base, uintmax_t *frac, int *zeros)
{
	const char *s = *p;
	int ret;

	for (;;) {
		if (!*s)
			return -EINVAL;
		if (s[1] == 'i' && (s[2] == 'B' || s[2] == 'b') && !s[3]) {
			*base = 1024;
			break;
		}
		if ((s[1] == 'B' || s[1] == 'b') && !s[2]) {
			*base = 1000;
			break;
		}
		if (!s[1])
			break;
		if (*frac || *s != '.')
			return -EINVAL;
		ret = parse_fraction(&s, frac, zeros);
		if (ret)
			return ret;
	}
	*p = s;
	return 0;
}

int ctl_parse_size(const char *str, uintmax_t *res)
{
	const char *p = str;
	char *end;
	uintmax_t x, frac = 0;
	unsigned int base = 1024;
	int pwr, zeros = 0, ret;

	*res = 0;
	if (!str || !*str)
		return -EINVAL;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '-')
		return -EINVAL;
	ret = number(str, &x, &end);
	if (ret)
		return ret;
	if (!*end) {
		*res = x;
		return 0;
	}
	p = end;
	ret = parse_suffix(&p, &base, &frac, &zeros);
	if (ret)
		return ret;
	pwr = suffix_power(*p);
	if (!pwr)
		return -EINVAL;
	ret = scale(&x, base, pwr);
	if (ret)
		return ret;
	if (frac)
		x += fraction_bytes(frac, zeros, base, pwr);
	*res = x;
	return 0;
}
