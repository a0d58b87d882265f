/*
 * sizeexpr.h - the arithmetic of zram-generator.conf(5)'s zram-size and
 * zram-resident-limit (sizeexpr.c): a size in MiB as a function of ram, the
 * machine's MemTotal in MiB.
 *
 * The subset uzram reads: decimal numbers (with a fraction), the variable
 * ram, + - * / % ^ (^ is a power, right-associative, above the unary signs;
 * then * / %; then + -), parentheses, and min() and max() of one or more
 * arguments separated by commas. Whitespace anywhere between tokens.
 * zram-generator's evaluator (fasteval) knows more (e, pi, SI suffixes,
 * log, round, trigonometry, set! variables); those are errors here.
 */
#ifndef UZRAM_SIZEEXPR_H
#define UZRAM_SIZEEXPR_H

#include <stddef.h>

/*
 * Evaluate s with ram = ram_mib. Returns 0 and the value in *out, or -1
 * with *err a static message ("expected a number, ram, min(, max( or (",
 * "division by zero", ...) and *pos the offset in s where it went wrong.
 */
int sizeexpr_eval(const char *s, double ram_mib, double *out, const char **err,
		  size_t *pos);

#endif /* UZRAM_SIZEEXPR_H */
