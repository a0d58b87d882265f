/*
 * parse.c - kstrto*, kstrtobool, sysfs_streq, memparse and next_arg with the
 * kernel's semantics (lib/kstrtox.c, lib/cmdline.c, lib/string.c), written
 * from their documented behaviour.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>

#include "parse.h"

/* Base auto-detection as _parse_integer_fixup_radix. */
static const char *fixup_radix(const char *s, unsigned int *base)
{
	if (*base == 0) {
		if (s[0] == '0') {
			if (tolower((unsigned char)s[1]) == 'x' &&
			    isxdigit((unsigned char)s[2]))
				*base = 16;
			else
				*base = 8;
		} else {
			*base = 10;
		}
	}
	if (*base == 16 && s[0] == '0' && tolower((unsigned char)s[1]) == 'x')
		s += 2;
	return s;
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return 99;
}

/*
 * Parse digits; returns the count parsed (0 = none) and sets *overflow.
 * The kernel's _parse_integer keeps going after an overflow to consume all
 * digits, then reports -ERANGE.
 */
static size_t parse_integer(const char *s, unsigned int base,
			    unsigned long long *p, bool *overflow)
{
	unsigned long long res = 0;
	size_t n = 0;

	*overflow = false;
	for (;; n++) {
		int v = digit_value(s[n]);
		if ((unsigned int)v >= base)
			break;
		if (res > (ULLONG_MAX - (unsigned int)v) / base)
			*overflow = true;
		res = res * base + (unsigned int)v;
	}
	*p = res;
	return n;
}

static int kstrtoull_core(const char *s, unsigned int base,
			  unsigned long long *res)
{
	unsigned long long v;
	bool overflow;
	size_t n;

	s = fixup_radix(s, &base);
	n = parse_integer(s, base, &v, &overflow);
	if (n == 0)
		return -EINVAL;
	if (overflow)
		return -ERANGE;
	s += n;
	if (*s == '\n')
		s++;
	if (*s)
		return -EINVAL;
	*res = v;
	return 0;
}

int kstrtoull(const char *s, unsigned int base, unsigned long long *res)
{
	if (s[0] == '+')
		s++;
	return kstrtoull_core(s, base, res);
}

int kstrtoll(const char *s, unsigned int base, long long *res)
{
	unsigned long long tmp;
	int rv;

	if (s[0] == '-') {
		rv = kstrtoull_core(s + 1, base, &tmp);
		if (rv < 0)
			return rv;
		if ((long long)-tmp > 0)
			return -ERANGE;
		*res = (long long)-tmp;
	} else {
		rv = kstrtoull(s, base, &tmp);
		if (rv < 0)
			return rv;
		if ((long long)tmp < 0)
			return -ERANGE;
		*res = (long long)tmp;
	}
	return 0;
}

int kstrtoul(const char *s, unsigned int base, unsigned long *res)
{
	unsigned long long tmp;
	int rv = kstrtoull(s, base, &tmp);

	if (rv < 0)
		return rv;
	if (tmp > ULONG_MAX)
		return -ERANGE;
	*res = (unsigned long)tmp;
	return 0;
}

int kstrtouint(const char *s, unsigned int base, unsigned int *res)
{
	unsigned long long tmp;
	int rv = kstrtoull(s, base, &tmp);

	if (rv < 0)
		return rv;
	if (tmp > UINT_MAX)
		return -ERANGE;
	*res = (unsigned int)tmp;
	return 0;
}

int kstrtoint(const char *s, unsigned int base, int *res)
{
	long long tmp;
	int rv = kstrtoll(s, base, &tmp);

	if (rv < 0)
		return rv;
	if (tmp < INT_MIN || tmp > INT_MAX)
		return -ERANGE;
	*res = (int)tmp;
	return 0;
}

int kstrtou16(const char *s, unsigned int base, uint16_t *res)
{
	unsigned long long tmp;
	int rv = kstrtoull(s, base, &tmp);

	if (rv < 0)
		return rv;
	if (tmp > UINT16_MAX)
		return -ERANGE;
	*res = (uint16_t)tmp;
	return 0;
}

int kstrtobool(const char *s, bool *res)
{
	if (!s)
		return -EINVAL;
	switch (s[0]) {
	case 'e': case 'E': case 'y': case 'Y': case 't': case 'T': case '1':
		*res = true;
		return 0;
	case 'd': case 'D': case 'n': case 'N': case 'f': case 'F': case '0':
		*res = false;
		return 0;
	case 'o': case 'O':
		switch (s[1]) {
		case 'n': case 'N':
			*res = true;
			return 0;
		case 'f': case 'F':
			*res = false;
			return 0;
		default:
			break;
		}
		break;
	default:
		break;
	}
	return -EINVAL;
}

bool sysfs_streq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	if (*a == *b)
		return true;
	if (*a == '\n' && a[1] == '\0' && *b == '\0')
		return true;
	if (*b == '\n' && b[1] == '\0' && *a == '\0')
		return true;
	return false;
}

/* simple_strtoull: base 0 auto-detection, no overflow check, no sign. */
static unsigned long long simple_strtoull(const char *cp, char **endp)
{
	unsigned int base = 0;
	unsigned long long v;
	bool overflow;

	cp = fixup_radix(cp, &base);
	cp += parse_integer(cp, base, &v, &overflow);
	if (endp)
		*endp = (char *)cp;
	return v;
}

unsigned long long memparse(const char *ptr, char **retptr)
{
	char *endptr;
	unsigned long long ret;

	ret = simple_strtoull(ptr, &endptr);	/* "-5": nothing parsed, 0 */
	switch (*endptr) {
	case 'E': case 'e':
		ret <<= 10;
		/* fall through */
	case 'P': case 'p':
		ret <<= 10;
		/* fall through */
	case 'T': case 't':
		ret <<= 10;
		/* fall through */
	case 'G': case 'g':
		ret <<= 10;
		/* fall through */
	case 'M': case 'm':
		ret <<= 10;
		/* fall through */
	case 'K': case 'k':
		ret <<= 10;
		endptr++;
		/* fall through */
	default:
		break;
	}
	if (retptr)
		*retptr = endptr;
	return ret;
}

char *skip_spaces(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return (char *)s;
}

/*
 * One token runs to the first whitespace outside double quotes. Its first
 * '=' (not at position 0) splits name from value. A quote opening the token
 * or the value is dropped, and so is a quote closing the token.
 */
char *next_arg(char *args, char **param, char **val)
{
	bool quoted = false, in_quote = false;
	char *eq = NULL, *end;

	if (*args == '"') {
		args++;
		quoted = in_quote = true;
	}
	for (end = args; *end; end++) {
		if (!in_quote && isspace((unsigned char)*end))
			break;
		if (!eq && end != args && *end == '=')
			eq = end;
		if (*end == '"')
			in_quote = !in_quote;
	}
	bool closing_quote = end > args && end[-1] == '"';
	char *rest = *end ? end + 1 : end;

	*end = '\0';
	*param = args;
	*val = NULL;
	if (eq) {
		*eq = '\0';
		*val = eq + 1;
		if (**val == '"') {
			(*val)++;
			if (closing_quote)
				end[-1] = '\0';
		}
	}
	if (quoted && closing_quote)
		end[-1] = '\0';
	return skip_spaces(rest);
}
