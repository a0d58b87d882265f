/*
 * units.h - sizes as people read them, in zramctl's format (units.c).
 */
#ifndef UZRAM_UNITS_H
#define UZRAM_UNITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* bytes as zramctl prints a size: "0B", "512K", "4.1M", "1.5G". */
void human_size(uint64_t bytes, char *buf, size_t size);

/* A size as disksize takes it, but strict: digits and at most one of
 * K/M/G/T/P/E (either case), nothing else. */
bool valid_size(const char *s);
/* A valid_size() size in bytes (the suffixes are powers of 1024, as
 * memparse's); 0 on overflow. */
uint64_t size_bytes(const char *s);

#endif /* UZRAM_UNITS_H */
