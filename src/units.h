/*
 * units.h - sizes as people read them, in zramctl's format (units.c).
 */
#ifndef UZRAM_UNITS_H
#define UZRAM_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* bytes as zramctl prints a size: "0B", "512K", "4.1M", "1.5G". */
void human_size(uint64_t bytes, char *buf, size_t size);

#endif /* UZRAM_UNITS_H */
