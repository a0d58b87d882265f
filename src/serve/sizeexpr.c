/*
 * sizeexpr.c - zram-generator.conf(5)'s size arithmetic (sizeexpr.h), by
 * recursive descent, one function per level of precedence:
 *
 *	sum     = product { ("+" | "-") product }
 *	product = unary { ("*" | "/" | "%") unary }
 *	unary   = ("+" | "-") unary | power
 *	power   = primary [ "^" unary ]
 *	primary = number | "ram" | ("min" | "max") "(" sum { "," sum } ")" | "(" sum ")"
 *
 * Values are doubles, as zram-generator's are; nesting is bounded so that
 * no file can exhaust the stack.
 */
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sizeexpr.h"

#define MAX_DEPTH	64

struct expr {
	const char *s, *p;	/* the whole text, the next character */
	double ram;
	int depth;
	const char *err;	/* the first error; then p stays where it was */
};

static int sum(struct expr *e, double *v);
static int unary(struct expr *e, double *v);

static int fail(struct expr *e, const char *msg)
{
	if (!e->err)
		e->err = msg;
	return -1;
}

static void skip_blanks(struct expr *e)
{
	while (isspace((unsigned char)*e->p))
		e->p++;
}

/* The next token is c: take it. */
static bool take(struct expr *e, char c)
{
	skip_blanks(e);
	if (*e->p != c)
		return false;
	e->p++;
	return true;
}

/* The next token is the word w (not the start of a longer name): take it. */
static bool take_word(struct expr *e, const char *w)
{
	size_t n = strlen(w);

	skip_blanks(e);
	if (strncmp(e->p, w, n) || isalnum((unsigned char)e->p[n]) || e->p[n] == '_')
		return false;
	e->p += n;
	return true;
}

/* Digits, optionally a '.' and more digits (at least one digit in all). */
static int number(struct expr *e, double *v)
{
	size_t n = strspn(e->p, "0123456789");

	if (e->p[n] == '.')
		n += 1 + strspn(e->p + n + 1, "0123456789");
	if (n == 0 || (n == 1 && *e->p == '.'))
		return fail(e, "expected a number, ram, min(, max( or (");
	*v = strtod(e->p, NULL);	/* stops where the scan did */
	e->p += n;
	return 0;
}

/* min( or max( has been taken: its arguments and the ')'. */
static int min_max(struct expr *e, bool is_max, double *v)
{
	double a;

	if (sum(e, v))
		return -1;
	while (take(e, ',')) {
		if (sum(e, &a))
			return -1;
		*v = is_max ? fmax(*v, a) : fmin(*v, a);
	}
	return take(e, ')') ? 0 : fail(e, "expected ',' or ')'");
}

static int primary(struct expr *e, double *v)
{
	if (take(e, '(')) {
		if (sum(e, v))
			return -1;
		return take(e, ')') ? 0 : fail(e, "expected ')'");
	}
	if (take_word(e, "ram")) {
		*v = e->ram;
		return 0;
	}
	bool is_max = take_word(e, "max");

	if (is_max || take_word(e, "min"))
		return take(e, '(') ? min_max(e, is_max, v) : fail(e, "expected '('");
	if (isalpha((unsigned char)*e->p))
		return fail(e, "unknown name (ram, min() and max() are known)");
	return number(e, v);
}

static int power(struct expr *e, double *v)
{
	double exp;

	if (primary(e, v))
		return -1;
	if (!take(e, '^'))
		return 0;
	if (unary(e, &exp))
		return -1;
	*v = pow(*v, exp);
	return 0;
}

static int unary(struct expr *e, double *v)
{
	int ret;

	if (++e->depth > MAX_DEPTH)
		return fail(e, "nested too deeply");
	if (take(e, '-')) {
		ret = unary(e, v);
		*v = -*v;
	} else if (take(e, '+')) {
		ret = unary(e, v);
	} else {
		ret = power(e, v);
	}
	e->depth--;
	return ret;
}

/* a OP b for * / %; division by zero is an error, not infinity. */
static int product_step(struct expr *e, char op, double *a, double b)
{
	if (op != '*' && b == 0)
		return fail(e, "division by zero");
	*a = op == '*' ? *a * b : op == '/' ? *a / b : fmod(*a, b);
	return 0;
}

static int product(struct expr *e, double *v)
{
	double b;

	if (unary(e, v))
		return -1;
	for (;;) {
		char op;
		const char *at;

		skip_blanks(e);
		op = *e->p;
		if (op != '*' && op != '/' && op != '%')
			return 0;
		e->p++;
		skip_blanks(e);
		at = e->p;	/* the divisor, where a zero is reported */
		if (unary(e, &b))
			return -1;
		if (product_step(e, op, v, b)) {
			e->p = at;
			return -1;
		}
	}
}

static int sum(struct expr *e, double *v)
{
	double b;

	if (product(e, v))
		return -1;
	for (;;) {
		bool minus = take(e, '-');

		if (!minus && !take(e, '+'))
			return 0;
		if (product(e, &b))
			return -1;
		*v = minus ? *v - b : *v + b;
	}
}

int sizeexpr_eval(const char *s, double ram_mib, double *out, const char **err,
		  size_t *pos)
{
	struct expr e = { .s = s, .p = s, .ram = ram_mib };

	if (sum(&e, out) == 0) {
		skip_blanks(&e);
		if (*e.p)
			fail(&e, "expected an operator or the end");
		else if (!isfinite(*out))
			fail(&e, "the result is too large");
	}
	*err = e.err;
	*pos = (size_t)(e.p - s);
	return e.err ? -1 : 0;
}
