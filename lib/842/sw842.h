/*
 * sw842.h - the 842 compression format (IBM's, as the kernel's lib/842
 * software implementation writes and reads it), written for uzram.
 */
#ifndef UZRAM_SW842_H
#define UZRAM_SW842_H

#include <stddef.h>
#include <stdint.h>

/* Work memory of the compressor (hash tables of the three index fifos). */
size_t uz_sw842_wrkmem_size(void);

/*
 * Compress in[0..ilen) into out. On entry *olen is the capacity of out, on
 * return the bytes written. Returns 0, -ENOSPC when out is too small, or
 * -EINVAL for bad arguments.
 */
int uz_sw842_compress(const uint8_t *in, size_t ilen, uint8_t *out,
		      size_t *olen, void *wrkmem);

/*
 * Decompress. On entry *olen is the capacity of out; on return the bytes
 * produced. Returns 0, -EINVAL for a malformed stream or a CRC mismatch, or
 * -ENOSPC when the output would not fit. Never reads or writes out of bounds.
 */
int uz_sw842_decompress(const uint8_t *in, size_t ilen, uint8_t *out,
			size_t *olen);

#endif /* UZRAM_SW842_H */
