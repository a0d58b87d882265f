/*
 * fault.h - fault injection for the write and read paths, in test builds
 * only (docs/internals.md §9.2).
 *
 * A site is a place where the kernel's zram can see a failure it does not
 * cause itself: zs_malloc() in zram_write_page() and recompress_slot(), the
 * compressor, and the backing device's bios (zram_writeback_slots()'s
 * writes, read_from_bdev()'s reads). Built with -DUZRAM_FAULT_INJECT (the
 * Makefile's $(BUILD)/fault library, which only tests/test_faults links),
 * every Nth call of a site fails; built without it, uz_fault() is the
 * constant false and the sites cost nothing.
 */
#ifndef UZRAM_UTIL_FAULT_H
#define UZRAM_UTIL_FAULT_H

#include <stdbool.h>
#include <stdint.h>

enum uz_fault_site {
	UZ_FAULT_POOL_ALLOC,		/* zs_malloc: -ENOMEM */
	UZ_FAULT_ZSPAGE,		/* a new zspage's memory: none */
	UZ_FAULT_COMPRESS,		/* zcomp_compress: -EINVAL */
	UZ_FAULT_BD_WRITE,		/* a backing write: -EIO */
	UZ_FAULT_BD_WRITE_SHORT,	/* a backing write: half a page */
	UZ_FAULT_BD_READ,		/* a backing read: -EIO */
	UZ_FAULT_BD_READ_SHORT,		/* a backing read: half a page */
	UZ_FAULT_NR
};

/* What a site did since the last uz_fault_configure(). */
struct uz_fault_count {
	uint64_t calls;
	uint64_t injected;
};

/*
 * Only in a build with UZRAM_FAULT_INJECT (the library of $(BUILD)/fault):
 *
 * uz_fault_configure(spec): "site=N,..." (names as uz_fault_name(): N = 0
 * never fails), every site not named never fails; NULL takes the spec from
 * the environment variable UZRAM_FAULTS. Counts start again from 0.
 * 0, or -EINVAL (unknown name, bad number: nothing changes).
 * uz_fault_thread_injected(): faults injected so far in the calling thread,
 * so a caller can tell which failures came from its own calls.
 */
int uz_fault_configure(const char *spec);
const char *uz_fault_name(enum uz_fault_site site);
struct uz_fault_count uz_fault_count(enum uz_fault_site site);
uint64_t uz_fault_thread_injected(void);

#ifdef UZRAM_FAULT_INJECT
/* Count a call of site; true when this one is to fail. */
bool uz_fault(enum uz_fault_site site);
#else
static inline bool uz_fault(enum uz_fault_site site)
{
	return false;
}
#endif

#endif /* UZRAM_UTIL_FAULT_H */
