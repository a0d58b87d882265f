/*
 * common.h - small definitions shared by every file of the engine.
 *
 * uzram models a machine with 4 KiB pages, whatever the host's page size:
 * slot geometry, zsmalloc classes and huge_class_size follow the kernel's
 * values for PAGE_SIZE 4096 on a 64-bit little-endian machine.
 */
#ifndef UZRAM_COMMON_H
#define UZRAM_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define UZ_PAGE_SHIFT	12
#define UZ_PAGE_SIZE	(1u << UZ_PAGE_SHIFT)
#define UZ_SECTOR_SHIFT	9
#define UZ_SECTOR_SIZE	(1u << UZ_SECTOR_SHIFT)

#define likely(x)	__builtin_expect(!!(x), 1)
#define unlikely(x)	__builtin_expect(!!(x), 0)

#define UZ_MIN(a, b)	((a) < (b) ? (a) : (b))
#define UZ_MAX(a, b)	((a) > (b) ? (a) : (b))
#define UZ_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define UZ_DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define UZ_PAGE_ALIGN(x) (((x) + UZ_PAGE_SIZE - 1) & ~(uint64_t)(UZ_PAGE_SIZE - 1))

/* A spinning thread's hint to the CPU. */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* aligned_alloc with the size rounded up to the alignment, as C11 asks. */
static inline void *uz_aligned_alloc(size_t align, size_t size)
{
	return aligned_alloc(align, (size + align - 1) & ~(align - 1));
}

/* Unaligned little-endian loads and stores; compile to plain moves on x86-64. */
static inline uint16_t uz_get_le16(const void *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint32_t uz_get_le32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t uz_get_le64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline void uz_put_le16(void *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

static inline void uz_put_le32(void *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static inline void uz_put_le64(void *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

#endif /* UZRAM_COMMON_H */
