/*
 * parse.h - the kernel's parsing helpers, with the kernel's semantics, so
 * every attribute accepts and rejects exactly what sysfs does (the kernel's
 * lib/kstrtox.c, lib/cmdline.c: memparse(), next_arg(), and lib/string.c:
 * sysfs_streq(), skip_spaces()).
 */
#ifndef UZRAM_PARSE_H
#define UZRAM_PARSE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * kstrto*: the whole string is one number in base (0 = auto: 0x hex, 0
 * octal), an optional leading '+' ('-' for signed types), exactly one
 * optional trailing '\n'. Returns 0, -EINVAL or -ERANGE.
 */
int kstrtoull(const char *s, unsigned int base, unsigned long long *res);
int kstrtoll(const char *s, unsigned int base, long long *res);
int kstrtoul(const char *s, unsigned int base, unsigned long *res);
int kstrtouint(const char *s, unsigned int base, unsigned int *res);
int kstrtoint(const char *s, unsigned int base, int *res);
int kstrtou16(const char *s, unsigned int base, uint16_t *res);
/* y/Y/1/t/T/e/E, n/N/0/f/F/d/D, on/off (case-insensitive). */
int kstrtobool(const char *s, bool *res);

/* Equal apart from one trailing newline on either side. */
bool sysfs_streq(const char *a, const char *b);

/*
 * memparse: a number (base 0, as simple_strtoull: no overflow check) and an
 * optional K/M/G/T/P/E suffix, each a factor of 1024. *retptr is set past
 * the parsed text; a leading '-' parses as 0 with nothing consumed.
 */
unsigned long long memparse(const char *ptr, char **retptr);

/*
 * next_arg: split the next whitespace-separated "param[=value]" token off
 * args (modified in place). Double-quoted values have their quotes removed;
 * *val is NULL when there is no '='. Returns the rest of args.
 */
char *next_arg(char *args, char **param, char **val);
/* Skip leading whitespace. */
char *skip_spaces(const char *s);

#endif /* UZRAM_PARSE_H */
